#!/usr/bin/env bash
# The end-to-end suites: the real Pulumi engine against the lab, as a user runs it.
#   bash scripts/e2e.sh [main|long]
# main (npm run test:e2e, what CI runs after npm test), one cluster through its life:
#   1. a fresh lab, the artifacts, `pulumi up` of the last landed commit's program on bare hosts,
#      then this commit's program on the same state (the switch);
#   2. the users' checks (scripts/hosts-check.sh);
#   3. `pulumi preview --expect-no-changes`, a no-op `pulumi up`, the kubelet serving certificates
#      and forged requests, a wrong pinned host key;
#   4. the fault drills (scripts/hosts-faults.sh);
#   5. the change drills: add the spare worker w3 and remove it, the mirror preloaded and back, an
#      etcd setting rolled under a write probe, apiServerExtraSans, an LB setting and a kubelet
#      setting rolled under a client probe through the VIP, a run stopped before its reload, drift
#      and repair, etcd snapshot and restore, the secrets encryption key rotation, certificate
#      renewal, the kubeconfig output revoked;
#   6. `pulumi destroy` and the clean-host check; then the team backend's lock on the PostgreSQL
#      that held the state (test/backend/postgres-lock.sh).
# long (npm run test:e2e:long, run before resolving what it covers; not in CI, for time):
#   8. an interrupted first `up` on bare hosts (the engine killed at a random point), the `up` that
#      converges after it, and its destroy;
#   9. upgrades: a cluster at Kubernetes 1.34.4 and etcd 3.6.15 (its release files built here),
#      a skipped minor refused, 1.35.4 then 1.36.3 under the client probe and a PodDisruptionBudget,
#      containerd 2.2.9 to 2.3.7 on every worker; destroy.
# Both end with the same checks over the whole run: the lab forwarded nothing, the tracked
# Pulumi.dev.yaml was not edited, every check the suite names ran, and last the secret scan of every
# log, every state export and the backend's files for every secret value of every cluster built.
# Every check and timing goes to .e2e/report.json; the engine's output to .e2e/logs/. The stack's
# state is a table of its own in the PostgreSQL backend on loopback (scripts/backend.sh), new for
# each run (K8S_HA_E2E_BACKEND=file: a folder, .e2e/state). Exits non-zero on any failure.
# Settings: K8S_HA_E2E_KEEP_LAB=1 leaves the lab (and whatever a failed step left on it) running at
# the end; K8S_HA_E2E_FRESH_LAB=0 keeps a running lab instead of making it anew (its hosts must be bare).
# The node -e programs are JavaScript in single quotes on purpose.
# shellcheck disable=SC2016
set -Eeuo pipefail
SUITE=${1:-main}
[[ $SUITE == main || $SUITE == long ]] || {
    echo "e2e: unknown suite '$SUITE': the suites are main (npm run test:e2e) and long (npm run test:e2e:long)" >&2
    exit 2
}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
E2E=$ROOT/.e2e
LOGS=$E2E/logs
RESULTS=$E2E/engine.tsv

say() { printf 'e2e: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
[[ -f .tools/env.sh ]] || die "no toolchain: run bash scripts/setup.sh (or npm run toolchain)"
# shellcheck source=/dev/null
source .tools/env.sh
# shellcheck source=scripts/lab/hosts-lib.sh
source scripts/lab/hosts-lib.sh

# The run's own effective stack config (the tracked Pulumi.dev.yaml plus the lab's keys and the
# drills' edits; scripts/pulumi.sh): the working tree is never edited.
export K8S_HA_STACK_CONFIG=$E2E/Pulumi.dev.yaml
rm -rf "$E2E"
mkdir -p "$E2E" "$LOGS"
: >"$RESULTS"
failed=0

# The run's own backend: a table of its own in the PostgreSQL team backend on loopback
# (scripts/backend.sh, Debian's PostgreSQL; README: Team backends), as a team keeps its stacks, with
# the dev stack made there and the lab's passphrase; K8S_HA_E2E_BACKEND=file keeps the state in a
# folder, .e2e/state. The table goes when the run ends (K8S_HA_E2E_KEEP_LAB=1 keeps it too).
E2E_BACKEND=${K8S_HA_E2E_BACKEND:-postgres}
E2E_TABLE=""
case $E2E_BACKEND in
    file)
        export PULUMI_BACKEND_URL=file://$E2E/state
        mkdir -p "$E2E/state"
        ;;
    postgres)
        bash scripts/backend.sh postgres up >"$LOGS/backend.log" 2>&1 || die "no PostgreSQL backend: $(tail -n 3 "$LOGS/backend.log")"
        eval "$(bash scripts/backend.sh postgres env)"
        export PGHOST=127.0.0.1 PGPORT=${K8S_HA_PG_PORT:-5433} PGUSER=pulumi PGDATABASE=pulumi
        # Tables a killed run left behind (only these runs make e2e_ tables).
        for t in $(psql -X -At -c "select tablename from pg_tables where schemaname = 'public' and tablename like 'e2e\_%'"); do
            psql -X -q -c "drop table $t" || die "cannot drop the earlier run's table $t"
        done
        E2E_TABLE=e2e_$(date +%s)_$$
        export PULUMI_BACKEND_URL="$PULUMI_BACKEND_URL&table=$E2E_TABLE"
        [[ -s .tools/passphrase ]] || (umask 077 && head -c 32 /dev/urandom | base64 >.tools/passphrase)
        export PULUMI_CONFIG_PASSPHRASE_FILE=$ROOT/.tools/passphrase
        K8S_HA_LAB_SYNC=0 bash scripts/pulumi.sh stack init dev --secrets-provider passphrase >"$LOGS/stack-init.log" 2>&1 ||
            die "cannot make the dev stack in the backend: $(tail -n 3 "$LOGS/stack-init.log")"
        ;;
    *) die "K8S_HA_E2E_BACKEND is '$E2E_BACKEND'; it is postgres (the default) or file" ;;
esac
# backend_rows: each row of the run's table, its key and then the file it holds (decoded: the
# backend keeps each file as JSON {"data": base64}), for the secret scan.
backend_rows() {
    psql -X -At -v ON_ERROR_STOP=1 -c "select key || E'\n' || coalesce(convert_from(decode(data->>'data', 'base64'), 'UTF8'), data::text) from $E2E_TABLE order by key"
}

# Where the suite itself stopped, when a command outside any check failed (errexit).
ERR_AT=""
trap 'ERR_AT="${BASH_SOURCE[0]#"$ROOT"/}:$LINENO: $BASH_COMMAND"' ERR
finish() {
    local rc=$?
    if ((rc != 0)); then
        # A record only a stopped run has (so named through a variable: no run expects it).
        local stopped="the suite ran to its end"
        record "$stopped" failed 0 "" "stopped with exit $rc${ERR_AT:+ after a failed command at $ERR_AT}"
    fi
    stop_probe
    rm -f "$E2E/probe-client.key" "$E2E"/revealed-*.json "$E2E/push-password" "$E2E/w1-kubelet.kubeconfig"
    write_report || true
    if [[ -n $E2E_TABLE && ${K8S_HA_E2E_KEEP_LAB:-0} != 1 ]]; then
        psql -X -q -c "drop table if exists $E2E_TABLE" >/dev/null 2>&1 || say "could not drop the backend table $E2E_TABLE"
    fi
    if [[ ${K8S_HA_E2E_KEEP_LAB:-0} != 1 ]]; then
        say "removing the lab"
        bash scripts/lab.sh down >/dev/null 2>&1 || say "lab down failed"
    fi
    ((rc == 0 && failed == 0)) || say "FAILED (see .e2e/report.json and .e2e/logs/)"
    exit $((rc != 0 ? rc : failed))
}
trap finish EXIT

# record NAME STATUS SECONDS GOAL EVIDENCE
record() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5//$'\n'/ }" >>"$RESULTS"
    # A failure's evidence in full (CI keeps only what the run prints), a pass's first 160 characters.
    local evidence=${5:0:160}
    [[ $2 == passed ]] || evidence=${5:0:4000}
    say "$(printf '%-46s %-7s %7s s  goal %-10s %s' "$1" "$2" "$3" "$4" "$evidence")"
    [[ $2 == passed ]] || failed=1
}
T=0
# timed LOG CMD...: runs CMD with its output in .e2e/logs/LOG (each line of a .log stamped with the
# time of day, so a slow step can be found); T is its time in seconds.
timed() {
    local log=$LOGS/$1 t0 rc=0
    shift
    t0=$(now_ms)
    if [[ $log == *.log ]]; then
        "$@" 2>&1 | awk '{ print strftime("%H:%M:%S"), $0; fflush() }' >"$log" || rc=$?
    else
        "$@" >"$log" 2>&1 || rc=$?
    fi
    T=$(awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
    return "$rc"
}
# counted LOG N: the checking script's closing line (the log's last) says N run of N, all passed
# ("P passed, F failed, R of T run"): a check missing from its list, or skipped, fails the record.
counted() {
    local last
    last=$(tail -n 1 "$1")
    [[ $last =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ of\ ([0-9]+)\ run$ ]] &&
        ((BASH_REMATCH[1] == $2 && BASH_REMATCH[2] == 0 && BASH_REMATCH[3] == $2 && BASH_REMATCH[4] == $2))
}
# run_checks NAME LOG N CMD...: a checking script (hosts-check, hosts-faults) that must run and pass
# its N checks, with its messages in .e2e/logs/LOG; the record's evidence is its closing line, or
# the lines of what failed.
run_checks() {
    local name=$1 log=$LOGS/$2 n=$3
    shift 3
    if "$@" 2>"$log" && counted "$log" "$n"; then
        record "$name" passed 0 "" "$(tail -n 1 "$log")"
    else
        record "$name" failed 0 "" "$(grep -E 'failed' "$log" | head -3); want $n of $n run: $(tail -n 1 "$log")"
    fi
}
# pulumi_ ARGS: pulumi on the dev stack. The lab's keys are copied into the stack config only by
# sync_lab_keys, so that the timed steps time the engine alone.
# PULUMI_WRAP: a command to run it under (drill 5l's moved clock).
pulumi_() { ${PULUMI_WRAP:-env} K8S_HA_LAB_SYNC=0 bash scripts/pulumi.sh "$@"; }
sync_lab_keys() { bash scripts/pulumi.sh stack >/dev/null; }
# step NAME GOAL LOG CMD...: a timed engine step that must succeed.
step() {
    local name=$1 goal=$2 log=$3
    shift 3
    if timed "$log" "$@"; then
        local engine
        engine=$(grep -E '^[0-9:]+ +([-+~] )?[0-9]+ (created|unchanged|updated|deleted|replaced|changes\.)|Duration: ' "$LOGS/$log" | cut -d' ' -f2- | sed 's/^ *//' | paste -sd';' || true)
        record "$name" passed "$T" "$goal" "${engine:+engine: $engine (the wall time adds starting the CLI and compiling the program); }log .e2e/logs/$log"
    else
        # The engine's errors first (which resource, what it said), then the summary.
        record "$name" failed "$T" "$goal" "$(sed -n '/Diagnostics:/,/Resources:/p' "$LOGS/$log" | grep -vE '^[0-9:]+ *$' | head -n 40; tail -n 5 "$LOGS/$log")"
        return 1
    fi
}
# plan_check NAME GOAL DRILL [ARG]: the preview of a change does only what the drill allows.
plan_check() {
    local name=$1 goal=$2 drill=$3 arg=${4:-} out
    if timed "preview-$drill.json" pulumi_ preview --json --suppress-progress; then
        if out=$(node bin/test/e2e/plan.js "$drill" "$arg" <"$LOGS/preview-$drill.json" 2>&1); then
            record "$name" passed "$T" "$goal" "$out"
        else
            record "$name" failed "$T" "$goal" "$out"
        fi
    else
        record "$name" failed "$T" "$goal" "$(tail -n 5 "$LOGS/preview-$drill.json")"
    fi
}
# refused_preview NAME LOG PATTERN: a preview that validation must stop with a message matching PATTERN.
refused_preview() {
    local name=$1 log=$2 pattern=$3 msg
    if timed "$log" pulumi_ preview --suppress-progress; then
        record "$name" failed "$T" "" "the preview passed"
    elif msg=$(grep -o "$pattern" "$LOGS/$log" | head -n 1) && [[ -n $msg ]]; then
        record "$name" passed "$T" "" "$msg"
    else
        record "$name" failed "$T" "" "$(tail -n 5 "$LOGS/$log")"
    fi
}
# probe_record NAME: the client probe's requests (start_probe client) as a record that passes only
# when some were answered and none failed: the counts, the latency, and the first failures.
probe_record() {
    local name=$1 ok bad
    read -r ok bad <<<"$(probe_counts)"
    if ((bad == 0 && ok > 0)); then
        record "$name" passed 0 "0 failed" "$ok ok, $bad failed; latency $(probe_latency)"
    else
        record "$name" failed 0 "0 failed" "$ok ok, $bad failed: $(probe_failures); latency $(probe_latency)"
    fi
}
# lb_events SINCE: HAProxy's view of the apiservers on each lb host since SINCE (UTC, `date -u
# '+%F %T'`): "lb1 13:59:20 cp1 stopping, lb1 13:59:23 cp1 DOWN, ..." (stopping: drained, no new
# connections; DOWN: out, its connections cut; UP: back), to set beside the probe's failures.
lb_events() {
    local h
    for h in lb1 lb2; do
        on "$h" "journalctl -u haproxy --since '$1 UTC' -o short-iso --no-pager 2>/dev/null" |
            sed -nE "s/^[0-9-]+T([0-9:]+).* Server [^/]+\/([a-z0-9]+) is (stopping|DOWN|UP).*/$h \1 \2 \3/p" | awk '!seen[$0]++'
    done | paste -sd, || true
}
# drained_before_down EVENTS HOSTS...: each of HOSTS (apiservers) was drained ("stopping") on both
# lb hosts before HAProxy took it down, in lb_events' EVENTS; prints what is missing, else nothing.
drained_before_down() {
    local events=$1 lb cp
    shift
    for lb in lb1 lb2; do
        for cp in "$@"; do
            tr ',' '\n' <<<"$events" | awk -v lb="$lb" -v cp="$cp" '
                $1 == lb && $3 == cp && $4 == "stopping" && !down { drained = 1 }
                $1 == lb && $3 == cp && $4 == "DOWN" { down = 1; if (!drained) early = 1 }
                END {
                    if (early) printf "%s took %s down before draining it; ", lb, cp
                    else if (!drained) printf "%s never drained %s; ", lb, cp
                }'
        done
    done
}
# workload_up: a Deployment of 3 (spread over the workers) with a PodDisruptionBudget of 2, and a
# sampler of its available replicas every second (workload_sampler_stop, workload_min_available).
workload_up() {
    "$KUBECTL" apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: roll-probe, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: roll-probe}}
  template:
    metadata: {labels: {app: roll-probe}}
    spec:
      terminationGracePeriodSeconds: 5
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: roll-probe}}}
      securityContext: {runAsNonRoot: true, runAsUser: 65535, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: pause
          image: registry.k8s.io/pause:3.10.1
          securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: roll-probe, namespace: default}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: roll-probe}}
YAML
    "$KUBECTL" rollout status deployment/roll-probe --timeout=180s >/dev/null 2>&1 || true
    AVAIL_LOG=$E2E/roll-probe-available.log
    : >"$AVAIL_LOG"
    (for ((i = 0; i < 1800; i++)); do
        printf '%s %s\n' "$(now_ms)" "$("$KUBECTL" get deployment roll-probe -o jsonpath='{.status.availableReplicas}' 2>/dev/null || echo '?')" >>"$AVAIL_LOG"
        sleep 1
    done) &
    AVAIL_PID=$!
}
workload_sampler_stop() {
    kill "$AVAIL_PID" 2>/dev/null || true
    wait "$AVAIL_PID" 2>/dev/null || true
}
workload_min_available() { awk '$2 ~ /^[0-9]+$/ { if (min == "" || $2 < min) min = $2 } END { print (min == "" ? "?" : min) }' "$AVAIL_LOG"; }

kubeconfig_from_stack() {
    (umask 077 && pulumi_ stack output kubeconfig --show-secrets >"$KUBECONFIG")
    # The client probe's credentials, from the same kubeconfig.
    (umask 077 && "$KUBECTL" config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$E2E/probe-client.crt" &&
        "$KUBECTL" config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$E2E/probe-client.key")
}

# keep_export LABEL: the state of the cluster about to be destroyed, for the secret scan at the end:
# revealed (private, removed when the run ends) for the values to look for, plain among the logs.
keep_export() {
    (umask 077 && pulumi_ stack export --show-secrets >"$E2E/revealed-$1.json")
    pulumi_ stack export >"$LOGS/export-$1.json"
}

write_report() {
    node -e '
const fs = require("fs");
const [tsv, file, commit, suite] = process.argv.slice(1);
const steps = fs.readFileSync(tsv, "utf8").trim().split("\n").filter(Boolean).map((l) => {
  const [name, status, seconds, goal, evidence] = l.split("\t");
  return { name, status, seconds: Number(seconds), goal, evidence };
});
const prev = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
prev.engine = { suite, at: new Date().toISOString(), commit, steps,
  passed: steps.filter((s) => s.status === "passed").length, failed: steps.filter((s) => s.status !== "passed").length };
fs.writeFileSync(file, JSON.stringify(prev, null, 2));
console.log(`e2e: engine steps: ${prev.engine.passed} passed, ${prev.engine.failed} failed`);
' "$RESULTS" "$E2E/report.json" "$(git rev-parse --short HEAD)" "$SUITE"
}

# 0. The lab leaks nothing: its host forwards no packet for the machines (`lab.sh forwarding`), their
# only way out is the package proxy, which serves Debian's archive and refuses any other site (asked
# for one on the lab host itself: nothing is sent outside the lab), and apt on a machine still
# works through it.
# ------------------------------------------------------------------------------------------------
say "compiling the suite's tools"
npx tsc -p . --outDir bin

if [[ ${K8S_HA_E2E_FRESH_LAB:-1} == 1 ]]; then
    say "a fresh lab"
    bash scripts/lab.sh down >/dev/null 2>&1 || true
fi
step "lab up (11 machines)" "" lab-up.log bash scripts/lab.sh up --install-deps
sync_lab_keys
step "artifacts built and served" "" artifacts.log bash scripts/artifacts.sh
# The pins of the files just built (k8s-ha:checksums), from their sum files on this disk.
sync_lab_keys
step "artifacts checked against their checksums" "" artifacts-check.log bash scripts/artifacts.sh check
fwd_rc=0
fwd=$(bash scripts/lab.sh forwarding 2>&1) || fwd_rc=$?
proxied=$(on lb1 "apt-get -o Dpkg::Use-Pty=0 update 2>&1 | tail -n 1; curl -s -o /dev/null -w '%{http_code}' -x http://10.213.0.1:3142 http://10.213.0.1:8080/debian/dists/bookworm/InRelease" 2>&1 | paste -sd' ' || true)
if ((fwd_rc == 0)) && [[ $proxied == *"Reading package lists"*403 ]]; then
    record "the lab forwards nothing; packages only through its proxy" passed 0 "" "$fwd; lb1: apt update through the proxy ok, another site refused (HTTP ${proxied: -3})"
else
    record "the lab forwards nothing; packages only through its proxy" failed 0 "" "${fwd//$'\n'/; } lb1: ${proxied:-no answer}"
fi

# shellcheck source=scripts/e2e/main.sh
[[ $SUITE != main ]] || source scripts/e2e/main.sh
# shellcheck source=scripts/e2e/long.sh
[[ $SUITE != long ]] || source scripts/e2e/long.sh

# Over the whole run: still no forwarding, and what the machines tried to send out of the lab.
if fwd=$(bash scripts/lab.sh forwarding 2>&1); then
    record "the lab forwarded nothing over the whole run (drops counted)" passed 0 "" "$fwd"
else
    record "the lab forwarded nothing over the whole run (drops counted)" failed 0 "" "${fwd//$'\n'/; }"
fi

if git diff --quiet -- Pulumi.dev.yaml; then
    record "the tracked Pulumi.dev.yaml was not edited" passed 0 "" "git diff --quiet -- Pulumi.dev.yaml"
else
    record "the tracked Pulumi.dev.yaml was not edited" failed 0 "" "$(git diff --stat -- Pulumi.dev.yaml)"
fi

# The backend's state as files, for the secret scan at the end.
if [[ -z $E2E_TABLE ]]; then
    record "the backend's state read for the secret scan" passed 0 "" "the folder backend's files, $E2E/state"
elif backend_rows >"$E2E/backend-rows.txt" 2>"$LOGS/backend-rows.err"; then
    record "the backend's state read for the secret scan" passed 0 "" "$(psql -X -At -c "select count(*) from $E2E_TABLE") rows of the table $E2E_TABLE, decoded: $(wc -c <"$E2E/backend-rows.txt") bytes"
else
    record "the backend's state read for the secret scan" failed 0 "" "$(cat "$LOGS/backend-rows.err")"
fi

# Every check the suite's code names ran and was recorded (a drill skipped by a failed step before
# it, or by a filter, counts as missing).
if out=$(node bin/test/e2e/expected.js scripts/e2e.sh "scripts/e2e/$SUITE.sh" -- "$RESULTS" 2>&1); then
    record "every check the suite names ran" passed 0 "" "$out"
else
    record "every check the suite names ran" failed 0 "" "$out"
fi

# Last: every log, every export and the backend's own files of the whole run, searched for every
# secret value of every cluster the run built (their revealed exports, kept before each destroy),
# the lab's SSH key, the backend's passphrase and the mirror's push password. The files that hold a
# secret on purpose (private, removed at the end) are not searched.
mapfile -t haystacks < <(find "$E2E" -type f ! -name 'revealed-*.json' ! -name push-password ! -name '*.key' ! -name '*.kubeconfig' | sort)
if out=$(node bin/test/e2e/secrets.js "$E2E"/revealed-*.json .tools/lab/id_ed25519 .tools/passphrase ${PUSH_PASSWORD_FILE:+"$PUSH_PASSWORD_FILE"} -- \
    "${haystacks[@]}" "$K8S_HA_STACK_CONFIG" Pulumi.dev.yaml 2>&1); then
    record "no secret value in any state, export or log of the run" passed 0 "" "$out"
else
    record "no secret value in any state, export or log of the run" failed 0 "" "$out"
fi
say "done"
