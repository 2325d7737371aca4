#!/usr/bin/env bash
# The whole lab run, as CI does it: a fresh lab, the artifacts, the cluster built by the host
# scripts (npm run test:hosts), the users' checks, a second run that must change nothing, the
# fault drills, the teardown and the clean-host check, then the lab removed.
# Timings and every check go to .e2e/report.json. Exits non-zero on any failure.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CACHE=${K8S_HA_CACHE:-/var/cache/k8s-ha}
export PATH=$CACHE/node/node_modules/node/bin:$PATH
mkdir -p .e2e
rm -f .e2e/report.json .e2e/hosts-state.json .e2e/hosts-values.json
say() { printf 'lab-suite: %s\n' "$*" >&2; }
declare -A T
timed() {
    local name=$1 t0
    shift
    t0=$(date +%s%3N)
    "$@"
    T[$name]=$(awk -v a="$t0" -v b="$(date +%s%3N)" 'BEGIN{printf "%.1f", (b-a)/1000}')
    say "$name took ${T[$name]} s"
}
finish() {
    local rc=$?
    say "removing the lab"
    bash scripts/lab.sh down >/dev/null 2>&1 || say "lab down failed"
    exit "$rc"
}
trap finish EXIT

say "fresh lab"
bash scripts/lab.sh down >/dev/null 2>&1 || true
timed lab_up bash scripts/lab.sh up --install-deps
timed artifacts bash scripts/artifacts.sh
bash scripts/artifacts.sh check
timed cluster_up bash scripts/hosts-test.sh up
bash scripts/hosts-check.sh
timed noop_up bash scripts/hosts-test.sh up 2>.e2e/noop-up.log
changes=$(grep -cE 'updated|restarting|installed|downloaded|starting' .e2e/noop-up.log || true)
say "second run: $changes changes"
bash scripts/hosts-faults.sh
timed cluster_down bash scripts/hosts-test.sh down
bash scripts/hosts-check.sh clean
node -e '
const fs = require("fs");
const r = JSON.parse(fs.readFileSync(".e2e/report.json", "utf8"));
r.timings_seconds = JSON.parse(process.argv[1]);
r.noop_up_changes = Number(process.argv[2]);
r.commit = process.argv[3];
fs.writeFileSync(".e2e/report.json", JSON.stringify(r, null, 2));
' "{\"lab_up\":${T[lab_up]},\"artifacts\":${T[artifacts]},\"cluster_up\":${T[cluster_up]},\"noop_up\":${T[noop_up]},\"cluster_down\":${T[cluster_down]}}" "$changes" "$(git rev-parse --short HEAD)"
if ((changes != 0)); then
    say "the second run changed something:"
    grep -E 'updated|restarting|installed|downloaded|starting' .e2e/noop-up.log >&2
    exit 1
fi
say "all passed"
