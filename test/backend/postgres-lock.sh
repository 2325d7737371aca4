#!/usr/bin/env bash
# The team backend, proven on loopback (npm run test:backend): the PostgreSQL of scripts/backend.sh
# as Pulumi's postgres:// backend, with the throwaway program test/backend/program (no hosts):
#   1. two stacks in the one backend, each with its own config, config secret and passphrase;
#   2. two `pulumi up` of one stack at once: the second is refused by the stack's lock and the first
#      completes; a preview during that update is not refused (only up, refresh, destroy and import
#      take the lock);
#   3. `pulumi stack export` before and after: every resource kept, the step replaced alone, one
#      more update in the history, no lock left.
# A run has a table of its own in the backend's database (dropped at the end), a PULUMI_HOME of its
# own (nobody's login or selected stack changes) and a copy of the program in a temporary folder.
# Needs root the first time (scripts/backend.sh postgres up installs and starts PostgreSQL).
# Settings: K8S_HA_BACKEND_KEEP=1 keeps the table and the work folder; K8S_HA_PG_PORT as backend.sh.
# shellcheck disable=SC2016 # the node -e programs are JavaScript in single quotes
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
say() { printf 'backend-proof: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
failed=0
# verdict NAME OK EVIDENCE: one line per check; OK is 0 for a pass.
verdict() {
    if [[ $2 == 0 ]]; then say "passed  $1: $3"; else
        say "FAILED  $1: $3"
        failed=1
    fi
}
now_ms() { date +%s%3N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

[[ -f .tools/env.sh ]] || die "no toolchain: npm run toolchain"
# shellcheck source=/dev/null
source .tools/env.sh
PLUGINS=${PULUMI_HOME:-$HOME/.pulumi}/plugins
bash scripts/backend.sh postgres up 2>/dev/null || bash scripts/backend.sh postgres status || die "no PostgreSQL backend (run as root: bash scripts/backend.sh postgres up)"
eval "$(bash scripts/backend.sh postgres env)"
TABLE=proof_$(date +%s)_$$
export PULUMI_BACKEND_URL="$PULUMI_BACKEND_URL&table=$TABLE"
export PGHOST=127.0.0.1 PGPORT=${K8S_HA_PG_PORT:-5433} PGUSER=pulumi PGDATABASE=pulumi
# sql: the statement on stdin, through the backend's own role (the password from PGPASSFILE).
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -f -; }
locks() { sql <<<"select count(*) from $TABLE where key like '%.pulumi/locks/%'"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/k8s-ha-backend-proof.XXXXXX")
chmod 0700 "$WORK"
# shellcheck disable=SC2317 # run by the trap
cleanup() {
    if [[ ${K8S_HA_BACKEND_KEEP:-0} == 1 ]]; then
        say "kept the table $TABLE and $WORK"
        return
    fi
    sql <<<"drop table if exists $TABLE" >/dev/null 2>&1 || say "could not drop the table $TABLE"
    rm -rf "$WORK"
}
trap cleanup EXIT
export PULUMI_HOME=$WORK/home
mkdir -p "$PULUMI_HOME"
ln -s "$PLUGINS" "$PULUMI_HOME/plugins"
cp -r test/backend/program "$WORK/program"
ln -s "$ROOT/node_modules" "$WORK/program/node_modules"

# Each stack's passphrase and secret: made here, never printed.
declare -A PASS TOKEN
for s in alpha beta; do
    PASS[$s]=$(head -c 18 /dev/urandom | base64)
    TOKEN[$s]=token-$s-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
done
# on STACK ARGS...: pulumi on the stack, with its passphrase.
on() {
    local s=$1
    shift
    (cd "$WORK/program" && PULUMI_CONFIG_PASSPHRASE=${PASS[$s]} pulumi --non-interactive "$@" --stack "$s")
}

say "backend $PULUMI_BACKEND_URL (the password in PGPASSFILE)"
# 1. Two stacks, their own config and secrets.
t0=$(now_ms)
for s in alpha beta; do
    (cd "$WORK/program" && PULUMI_CONFIG_PASSPHRASE=${PASS[$s]} pulumi --non-interactive stack init "$s" --secrets-provider passphrase) >"$WORK/init-$s.log" 2>&1
    on "$s" config set greeting "hello from $s" >/dev/null
    on "$s" config set --secret token "${TOKEN[$s]}" >/dev/null
    on "$s" up --yes --skip-preview --suppress-progress >"$WORK/up-$s.log" 2>&1 || { tail -n 20 "$WORK/up-$s.log" >&2; die "the first up of $s failed"; }
done
verdict "two stacks, each made and updated" 0 "alpha and beta in $(secs "$t0" "$(now_ms)") s"
stacks=$(cd "$WORK/program" && pulumi --non-interactive stack ls --json | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).map((s) => `${s.name}(${s.resourceCount})`).join(" "))')
rows=$(sql <<<"select string_agg(key, ' ' order by key) from $TABLE where key like '%.pulumi/stacks/%' and key not like '%.bak'")
verdict "both in the one backend" "$([[ $stacks == "alpha(6) beta(6)" && $rows == *alpha.json*beta.json* ]] && echo 0 || echo 1)" "stack ls: $stacks (the stack, two providers, three resources each); rows: $rows"
ga=$(on alpha stack output greeting) gb=$(on beta stack output greeting)
verdict "config per stack" "$([[ $ga == "hello from alpha" && $gb == "hello from beta" ]] && echo 0 || echo 1)" "greeting: alpha '$ga', beta '$gb'"
ta=$(on alpha config get token) tb=$(on beta config get token)
verdict "secrets per stack" "$([[ $ta == "${TOKEN[alpha]}" && $tb == "${TOKEN[beta]}" ]] && echo 0 || echo 1)" "each stack's token reads back with its own passphrase"
wrong=$(cd "$WORK/program" && PULUMI_CONFIG_PASSPHRASE=${PASS[alpha]} pulumi --non-interactive config get token --stack beta 2>&1) && wrong_rc=0 || wrong_rc=$?
verdict "a stack's passphrase does not open another's secret" "$([[ $wrong_rc != 0 && $wrong != *"${TOKEN[beta]}"* ]] && echo 0 || echo 1)" "beta's token with alpha's passphrase: $(tail -n 1 <<<"$wrong")"
generated=$(on alpha stack output generated --show-secrets)
# rows_holding TEXT: how many of the table's rows hold TEXT. The backend keeps each file as JSON
# {"data": "<base64 of the file>"}: the search reads the decoded file, not the base64 (in which no
# plain text is ever found).
rows_holding() { sql <<<"select count(*) from $TABLE where position('$1' in coalesce(convert_from(decode(data->>'data', 'base64'), 'UTF8'), data::text)) > 0"; }
plain=0
for v in "${TOKEN[alpha]}" "${TOKEN[beta]}" "$generated"; do
    plain=$((plain + $(rows_holding "$v")))
done
# The same search finds what the rows hold in plain: alpha's greeting, a config value that is no secret.
control=$(rows_holding "hello from alpha")
in_files=$(cat "$WORK/program"/Pulumi.*.yaml | grep -c -F -e "${TOKEN[alpha]}" -e "${TOKEN[beta]}" || true)
verdict "no secret in plain text" "$((plain + in_files + (control == 0)))" "rows holding a token or the generated password: $plain (rows holding alpha's greeting, no secret: $control); stack config files holding a token: $in_files"

# 2. Two ups of alpha at once.
on alpha stack export >"$WORK/before.json"
history_before=$(on alpha stack history --json | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).length')
on alpha config set round 1 >/dev/null
on alpha config set sleepSeconds 12 >/dev/null
t_first=$(now_ms)
(
    rc=0
    on alpha up --yes --skip-preview --suppress-progress >"$WORK/first.log" 2>&1 || rc=$?
    echo "$rc $(now_ms)" >"$WORK/first.done"
) &
first=$!
for ((i = 0; i < 600; i++)); do
    [[ $(locks) -ge 1 || -f $WORK/first.done ]] && break
    sleep 0.1
done
t_locked=$(now_ms)
[[ $(locks) -ge 1 ]] || { cat "$WORK/first.log" >&2; die "the first up never took the lock"; }
second_rc=0
on alpha up --yes --skip-preview --suppress-progress >"$WORK/second.log" 2>&1 || second_rc=$?
t_second=$(now_ms)
first_running_at_second=$([[ -f $WORK/first.done ]] && echo no || echo yes)
preview_rc=0
on alpha preview --suppress-progress >"$WORK/preview.log" 2>&1 || preview_rc=$?
t_preview=$(now_ms)
first_running_at_preview=$([[ -f $WORK/first.done ]] && echo no || echo yes)
wait "$first"
read -r first_rc t_first_end <"$WORK/first.done"
refusal=$(grep -m1 -A1 'currently locked' "$WORK/second.log" | sed 's/^ *//' | paste -sd' ' || true)
verdict "the second up is refused by the lock" "$([[ $second_rc != 0 && -n $refusal && $first_running_at_second == yes ]] && echo 0 || echo 1)" \
    "exit $second_rc after $(secs "$t_locked" "$t_second") s, the first still running: $first_running_at_second; it said: ${refusal:-$(tail -n 3 "$WORK/second.log" | paste -sd' ')}"
verdict "the first up completes" "$first_rc" "exit $first_rc in $(secs "$t_first" "$t_first_end") s (lock row seen $(secs "$t_first" "$t_locked") s after its start); $(grep -E '^ +([-+~]+)?[0-9]+ (created|replaced|updated|deleted|unchanged)|Duration' "$WORK/first.log" | sed 's/^ *//' | paste -sd';')"
verdict "a preview during the update is not refused (no lock)" "$([[ $preview_rc == 0 && $first_running_at_preview == yes ]] && echo 0 || echo 1)" \
    "preview exit $preview_rc in $(secs "$t_second" "$t_preview") s, the first still running at its end: $first_running_at_preview"

# 3. The state before and after.
on alpha stack export >"$WORK/after.json"
history_after=$(on alpha stack history --json | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).length')
left=$(locks)
diff=$(node -e '
const fs = require("fs");
const read = (f) => new Map(JSON.parse(fs.readFileSync(f, "utf8")).deployment.resources.map((r) => [r.urn.split("::").pop(), r]));
const [before, after] = [read(process.argv[1]), read(process.argv[2])];
const lost = [...before.keys()].filter((k) => !after.has(k)), added = [...after.keys()].filter((k) => !before.has(k));
const changed = [...before.keys()].filter((k) => after.has(k) && before.get(k).id !== after.get(k).id);
const out = (k, m) => m.get(k)?.outputs?.stdout ?? "";
console.log(JSON.stringify({ resources: [before.size, after.size], lost, added, newId: changed, stepStdout: [out("step", before), out("step", after)] }));
' "$WORK/before.json" "$WORK/after.json")
ok=$(node -e 'const d = JSON.parse(process.argv[1]); process.stdout.write(d.lost.length === 0 && d.added.length === 0 && d.newId.join() === "step" && d.stepStdout[1] === "round 1" ? "0" : "1")' "$diff")
verdict "nothing lost: stack export before and after" "$ok" "$diff"
verdict "one update recorded, no lock left" "$([[ $history_after == $((history_before + 1)) && $left == 0 ]] && echo 0 || echo 1)" "history $history_before -> $history_after; lock rows now $left"

if ((failed == 0)); then say "all passed"; else say "FAILED (K8S_HA_BACKEND_KEEP=1 keeps the logs)"; fi
exit "$failed"
