#!/usr/bin/env bash
# The test command (npm test): type check, lint (ESLint and shellcheck), then the unit tests.
# Needs no hosts; uses Node 22+ (from .tools/env.sh when present).
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
echo "test: typescript"
npx tsc --noEmit -p .
echo "test: eslint"
npx eslint .
echo "test: shellcheck"
bash scripts/shellcheck.sh
echo "test: go (the NFS provisioner)"
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
(cd scripts/artifacts/nfs-provisioner && GOFLAGS='' go vet ./... && GOFLAGS='' go test ./...)
echo "test: jest"
npx jest --ci "$@"
