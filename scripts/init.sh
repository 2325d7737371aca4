#!/usr/bin/env bash
# npm run init: writes Pulumi.<stack>.yaml from a list of hosts (components/init.ts; --help lists
# the options). The program is compiled into bin/ first when its sources are newer. Relative paths
# are taken from the folder npm was run in (INIT_CWD), else the current one.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export INIT_CWD=${INIT_CWD:-$PWD}
cd "$ROOT"
js=bin/components/init.js
if [[ ! -f $js || -n $(find components -name '*.ts' -newer "$js" -print -quit) ]]; then
    echo "init: compiling the program (components/init.ts)" >&2
    npx tsc -p . --outDir bin >&2 || {
        echo "init: the program does not compile; see above" >&2
        exit 1
    }
fi
exec node "$js" "$@"
