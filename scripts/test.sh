#!/usr/bin/env bash
# The test command (npm test): type check, lint (ESLint and shellcheck), the provisioner's Go
# tests and the unit tests (jest, with ARGS). Needs no hosts; uses Node 22+ (from .tools/env.sh
# when present).
# The five steps are independent, so they run at once, each into its own log; each step's output
# is printed whole when it ends, and any step failing fails the command (all are waited for).
# Caches in .cache/ (git-ignored; remove it for a cold run): tsc's build info, ESLint's cache,
# and the digest of the scripts shellcheck last found clean.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [[ -f .tools/env.sh ]]; then
    # shellcheck source=/dev/null
    source .tools/env.sh
fi
# Node 24 from scripts/setup.sh, when the toolchain has not written env.sh.
NODE_BIN=${K8S_HA_CACHE:-/var/cache/k8s-ha}/node/node_modules/node/bin
if [[ -x $NODE_BIN/node ]]; then export PATH=$NODE_BIN:$PATH; fi
major=$(node -p 'process.versions.node.split(".")[0]')
((major >= 22)) || { echo "test: Node $(node --version) is too old; run: npm run toolchain (installs Node 24)" >&2; exit 1; }
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
CACHE=$ROOT/.cache/test
mkdir -p "$CACHE"

step_typescript() { npx tsc --noEmit -p . --incremental --tsBuildInfoFile "$CACHE/tsconfig.tsbuildinfo"; }
step_eslint() { npx eslint --cache --cache-strategy content --cache-location "$CACHE/eslint/" .; }
step_shellcheck() { SHELLCHECK_CACHE=$CACHE/shellcheck.sha256 bash scripts/shellcheck.sh; }
step_go() { (cd scripts/artifacts/nfs-provisioner && GOFLAGS='' go vet ./... && GOFLAGS='' go test ./...); }
step_jest() { npx jest --ci "$@"; }

LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
STEPS=(typescript eslint shellcheck go jest)
declare -A PID=()
start=$SECONDS
for s in "${STEPS[@]}"; do
    if [[ $s == jest ]]; then step_jest "$@" >"$LOGS/$s" 2>&1 & else "step_$s" >"$LOGS/$s" 2>&1 & fi
    PID[$s]=$!
done
failed=()
# Each step's output as it ends (wait -n), then its verdict.
left=("${STEPS[@]}")
while ((${#left[@]} > 0)); do
    done_pid=""
    rc=0
    wait -n -p done_pid "${PID[@]}" || rc=$?
    for s in "${left[@]}"; do
        if [[ ${PID[$s]} == "$done_pid" ]]; then
            echo "test: $s ($((SECONDS - start)) s)"
            cat "$LOGS/$s"
            if ((rc != 0)); then
                failed+=("$s")
                echo "test: $s FAILED (exit $rc)"
            fi
            unset "PID[$s]"
            mapfile -t left < <(printf '%s\n' "${left[@]}" | grep -vx "$s")
            break
        fi
    done
done
if ((${#failed[@]} > 0)); then
    echo "test: failed: ${failed[*]} ($((SECONDS - start)) s)" >&2
    exit 1
fi
echo "test: typescript, eslint, shellcheck, go and jest passed ($((SECONDS - start)) s)"
