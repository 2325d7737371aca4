#!/usr/bin/env bash
# Sourced by the scripts that need what the program knows of a stack (scripts/artifacts.sh, the
# lab's scripts), so that none of them restates it: load_plan STACK_FILE [KEY=VERSION...] sets
# PLAN to components/plan.ts's JSON (the versions, downloads and release files, the hosts and the
# VIP), compiling the program into bin/ first when its sources are newer; plan_lines JS prints
# what the JavaScript expression JS (of p, the plan) gives, one item a line.
# shellcheck disable=SC2034 # PLAN is for the scripts that source this file

PLAN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PLAN=

load_plan() {
    local js=$PLAN_ROOT/bin/components/plan.js file=$1
    shift
    if [[ ! -f $js || -n $(find "$PLAN_ROOT/components" -name '*.ts' -newer "$js" -print -quit) ]]; then
        echo "plan: compiling the program (components/plan.ts makes the plan of the stack)" >&2
        (cd "$PLAN_ROOT" && npx tsc -p . --outDir bin) >&2 || {
            echo "plan: the program does not compile; see above" >&2
            return 1
        }
    fi
    [[ -f $file ]] || file=/dev/null
    PLAN=$(node "$js" "$file" "$@")
}

plan_lines() {
    node -e 'const p = JSON.parse(require("fs").readFileSync(0, "utf8")); const v = eval(process.argv[1]); for (const l of [].concat(v)) console.log(l);' "$1" <<<"$PLAN"
}
