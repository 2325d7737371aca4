#!/usr/bin/env bash
# Sourced by the lab's checks (scripts/hosts-check.sh) and drills (scripts/hosts-faults.sh): runs each
# in a subshell of its own with errexit in effect, so that any failed command in it fails it, and
# keeps the count of what a run defined, selected and recorded.
# shellcheck disable=SC2034 # ISOLATED_RC and CHECK_E2E are for the scripts that source this file

# Where the report goes (the unit tests give a folder of their own).
CHECK_E2E=${K8SHA_E2E_DIR:-$ROOT/.e2e}
ISOLATED_RC=0
# Set in the subshell only: the first failed command of the check running there.
ISOLATED_FAILED=""

# isolated OUT FINALLY CMD...: runs CMD in a background subshell with errexit (inherit_errexit too:
# a command substitution stops at its first failure), its stdout and stderr in the file OUT, and sets
# ISOLATED_RC to its status. When it fails, the last line of OUT names the first failed command
# and its line. FINALLY ("" for none) is a function run in the subshell as it exits, with its status.
# Bash ignores errexit in anything run from an if/while condition, a && or || list or after !,
# subshells and background jobs included (why `if out=$(c_x)` counted only the last command);
# a probe subshell first proves that errexit stops a subshell here, and the command fails if not.
isolated() {
    local out=$1 finally=$2 probe=0
    shift 2
    ISOLATED_RC=0
    (
        set -e
        false
        exit 0
    ) &
    wait $! || probe=$?
    if ((probe == 0)); then
        echo "check-runner: errexit is ignored here (isolated called from a condition, a && or || list or after !): $*" >"$out"
        ISOLATED_RC=70
        return 0
    fi
    (
        set -eE
        shopt -s inherit_errexit
        trap 'isolated_on_err "$?" "$LINENO" "$BASH_COMMAND"' ERR
        trap 'isolated_on_exit "$?" "$finally"' EXIT
        "$@"
    ) >"$out" 2>&1 </dev/null &
    wait $! || ISOLATED_RC=$?
}

# isolated_on_err STATUS LINE COMMAND: notes the first command that failed inside the check. After a
# function's `return N`, bash reports that return at its caller's line: that line of the file is
# shown. Isolated's own line is no news (a check returning 1 on purpose has said why).
isolated_on_err() {
    local cmd=$3 file=${BASH_SOURCE[1]:-}
    if [[ -n $ISOLATED_FAILED || ${FUNCNAME[1]:-} == isolated ]]; then return 0; fi
    if [[ $cmd == return* && -f $file ]]; then
        cmd=$(sed -n "$2{s/^[[:space:]]*//;p}" "$file")
    fi
    ISOLATED_FAILED="${file##*/}:$2: $cmd (exit $1)"
}
# isolated_on_exit STATUS FINALLY: runs FINALLY STATUS, then names the failed command.
isolated_on_exit() {
    if [[ -n $2 ]]; then "$2" "$1" || echo "check-runner: $2 failed" >&2; fi
    if (($1 != 0)) && [[ -n $ISOLATED_FAILED ]]; then printf '(failed at %s)\n' "${ISOLATED_FAILED:0:300}" >&2; fi
}

# closing_line WHAT PASSED FAILED RUN TOTAL [NOTE]: the last line of a run, the same for both scripts
# (e2e.sh reads "P passed, F failed, R of T run" from it).
closing_line() {
    printf '%s%s: %d passed, %d failed, %d of %d run\n' "$1" "${6:+ ($6)}" "$2" "$3" "$4" "$5"
}
