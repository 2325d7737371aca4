#!/usr/bin/env bash
# Host-script integration on the lab without the Pulumi engine (see test/lab/harness.ts):
#   bash scripts/hosts-test.sh up | down
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
NODE_BIN=${K8S_HA_CACHE:-/var/cache/k8s-ha}/node/node_modules/node/bin
if [[ -x $NODE_BIN/node ]]; then export PATH=$NODE_BIN:$PATH; fi
[[ -f .tools/lab/id_ed25519 ]] || { echo "hosts-test: no lab; run: npm run lab -- up" >&2; exit 1; }
npx tsc -p . --outDir bin
exec node bin/test/lab/harness.js "$@"
