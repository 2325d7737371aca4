#!/usr/bin/env bash
# The mutation sample (issue 27): applies each one-line mutation of scripts/mutation-sample.list to
# a scratch worktree of HEAD (never to this tree), runs the tests there, and says which test caught
# it. Usage: bash scripts/mutation-sample.sh [IDS...]  (every mutation when none is named).
# MODE=npm (default) runs the whole `npm test` (scripts/test.sh); MODE=jest runs jest alone;
# MODE=suites runs the list's expected suites first, and the whole jest only when they pass (a
# failing suite fails `npm test` as well, so a mutation they catch is caught by `npm test`).
# Prints a Markdown table row per mutation; each run's output is kept in OUT (a new folder in /tmp
# unless set). The scratch worktree is removed at the end.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LIST=$ROOT/scripts/mutation-sample.list
MODE=${MODE:-npm}
OUT=${OUT:-$(mktemp -d /tmp/k8s-ha-mutations.XXXXXX)}
mkdir -p "$OUT"
say() { printf 'mutation-sample: %s\n' "$*" >&2; }
[[ $MODE == npm || $MODE == jest || $MODE == suites ]] || { say "MODE must be npm, jest or suites, not $MODE"; exit 2; }

SCRATCH=$(mktemp -d /tmp/k8s-ha-mutation-tree.XXXXXX)
rmdir "$SCRATCH"
git worktree add -q --detach "$SCRATCH" HEAD
trap 'git -C "$ROOT" worktree remove --force "$SCRATCH"' EXIT
# The dependencies and tools of this tree (links, as in every worktree); caches of its own.
for l in node_modules .tools; do if [[ -e $ROOT/$l ]]; then ln -s "$(readlink -f "$ROOT/$l")" "$SCRATCH/$l"; fi; done
say "HEAD $(git rev-parse --short HEAD), scratch tree $SCRATCH, mode $MODE, logs in $OUT"

# caught_by JSON: the failed jest tests of a --json report, "suite › test" joined by " · " (names hold ";").
caught_by() {
    # shellcheck disable=SC2016 # JavaScript, whose template literals are not the shell's.
    node -e '
        const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        const out = [];
        for (const s of r.testResults) {
            const suite = require("path").basename(s.name);
            const failed = s.assertionResults.filter((a) => a.status === "failed");
            if (failed.length === 0 && s.status === "failed") out.push(`${suite} (the suite failed to run)`);
            for (const a of failed) out.push(`${suite} › ${a.fullName}`);
        }
        console.log(out.join(" · "));' "$1"
}

run_one() {
    local id=$1 file=$2 expr=$3 what=$4 suites=$5 log=$OUT/$1 rc=0 changed before after caught steps ran=$MODE
    mkdir -p "$log"
    git -C "$SCRATCH" checkout -q -- .
    sed -E -i "$expr" "$SCRATCH/$file"
    changed=$(git -C "$SCRATCH" diff --numstat -- "$file")
    if [[ $changed != $'1\t1\t'"$file" ]]; then
        say "$id: the expression must change exactly one line of $file (git diff --numstat: '${changed:-nothing}')"
        git -C "$SCRATCH" checkout -q -- .
        return 1
    fi
    before=$(git -C "$SCRATCH" diff -U0 -- "$file" | grep '^-[^-]' | sed 's/^-\s*//')
    after=$(git -C "$SCRATCH" diff -U0 -- "$file" | grep '^+[^+]' | sed 's/^+\s*//')
    git -C "$SCRATCH" diff -- "$file" >"$log/mutation.diff"
    local t0=$SECONDS
    if [[ $MODE == npm ]]; then
        (cd "$SCRATCH" && nice -n 10 bash scripts/test.sh --json --outputFile="$log/jest.json") >"$log/output" 2>&1 || rc=$?
    else
        if [[ $MODE == suites ]]; then
            local tests=()
            IFS=, read -r -a tests <<<"$suites"
            tests=("${tests[@]/#/test/}")
            (cd "$SCRATCH" && nice -n 10 npx jest --ci --json --outputFile="$log/jest.json" "${tests[@]/%/.test.ts}") >"$log/output" 2>&1 || rc=$?
            ran="suites $suites"
        fi
        if [[ $MODE == jest ]] || ((rc == 0)); then
            rc=0
            (cd "$SCRATCH" && nice -n 10 npx jest --ci --json --outputFile="$log/jest.json") >"$log/output" 2>&1 || rc=$?
            ran=jest
        fi
    fi
    git -C "$SCRATCH" checkout -q -- .
    caught=""
    if [[ -s $log/jest.json ]]; then caught=$(caught_by "$log/jest.json"); fi
    # The steps other than jest that failed (npm mode): scripts/test.sh names them.
    steps=$(sed -n 's/^test: \([a-z]*\) FAILED.*/\1/p' "$log/output" | grep -vx jest | paste -sd, - || true)
    if [[ -n $steps ]]; then caught="${caught:+$caught · }step(s) $steps"; fi
    if ((rc == 0)); then
        caught="NOT CAUGHT"
    elif [[ -z $caught ]]; then
        caught="failed (exit $rc) without naming a test: see $log/output"
    fi
    say "$id ($ran, $((SECONDS - t0)) s): $caught"
    # shellcheck disable=SC2016 # Markdown's backquotes.
    printf '| %s | `%s` | `%s` → `%s` | %s | %s | %s |\n' "$id" "$file" "${before//|/\\|}" "${after//|/\\|}" "$what" "$ran" "${caught//|/\\|}"
}

wanted=("$@")
echo "| id | file | line before → after | what it breaks | run | caught by |"
echo "|---|---|---|---|---|---|"
total=0
missed=0
while IFS=$'\t' read -r id file expr what suites; do
    [[ -z $id || $id == \#* ]] && continue
    if ((${#wanted[@]} > 0)) && ! printf '%s\n' "${wanted[@]}" | grep -qx "$id"; then continue; fi
    row=$(run_one "$id" "$file" "$expr" "$what" "$suites" </dev/null)
    printf '%s\n' "$row"
    total=$((total + 1))
    if [[ $row == *"| NOT CAUGHT |" ]]; then missed=$((missed + 1)); fi
done <"$LIST"
say "$((total - missed)) of $total mutations caught"
