#!/usr/bin/env bash
# Shared by the lab checks (scripts/hosts-check.sh, scripts/hosts-faults.sh): where things are,
# and `on HOST CMD...`, which runs a command on a lab host with the lab key and its pinned host key.
# shellcheck disable=SC2034 # the variables are used by the scripts that source this file
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
CACHE=${K8S_HA_CACHE:-/var/cache/k8s-ha}
# The dev stack's hosts, VIP and Kubernetes version as the program reads Pulumi.dev.yaml
# (scripts/plan.sh), and w3, the lab's spare machine (scripts/lab.sh).
# shellcheck source=scripts/plan.sh
source "$ROOT/scripts/plan.sh"
# K8SHA_LAB_PLAN: the plan as JSON, given instead (the unit tests of the checks give a small one).
if [[ -n ${K8SHA_LAB_PLAN:-} ]]; then PLAN=$K8SHA_LAB_PLAN; else load_plan "$ROOT/Pulumi.dev.yaml" || exit 1; fi
K8S_VERSION=$(plan_lines 'p.versions.kubernetes')
KUBECTL=$CACHE/artifacts/build/kubernetes-$K8S_VERSION/kubectl
export KUBECONFIG=$ROOT/.e2e/admin.kubeconfig
VIP=$(plan_lines 'p.vip')
declare -A ADDR=([w3]=10.213.0.33)
while read -r plan_host plan_addr; do ADDR[$plan_host]=$plan_addr; done < <(plan_lines 'p.hosts.map((h) => h.name + " " + h.address)')
unset plan_host plan_addr

# ssh exits 255 when it could not run CMD at all: that is said with the host's name.
on() {
    local host=$1 rc=0
    shift
    ssh -i .tools/lab/id_ed25519 -o UserKnownHostsFile=.tools/lab/known_hosts -o StrictHostKeyChecking=yes \
        -o BatchMode=yes -o ConnectTimeout=10 "root@${ADDR[$host]}" "$@" || rc=$?
    if ((rc == 255)); then echo "$host (${ADDR[$host]}): unreachable over SSH" >&2; fi
    return "$rc"
}

now_ms() { date +%s%3N; }

PROBE_LOG=$ROOT/.e2e/probe.log
PROBE_PID=""
PROBE_DEADLINE=${K8S_HA_PROBE_DEADLINE:-5}
# start_probe [client]: a request through the VIP every 100 ms (at most 10 minutes), "ms ok|fail"
# per line in PROBE_LOG. Default: anonymous GET /readyz (is a ready apiserver behind the VIP?),
# which fails when no ready apiserver answers within 0.5 s.
# client: GET /api/v1/namespaces/default as the admin (.e2e/probe-client.{crt,key}), what a user's
# request sees, which also holds while a stopping apiserver still serves with /readyz failing.
# Its lines are "ms ok|fail HTTP-STATUS CURL-EXIT SECONDS". A request fails when curl reports an
# error (a refused, reset or cut connection, a TLS error: exit status beside it) or an HTTP status
# other than 200, or when no answer came within PROBE_DEADLINE seconds (5: a client's patience, as
# kubectl and client-go wait far longer by default; exit 28). A slow answer inside the deadline is
# not a failure: probe_latency reports it (p50, p99, max, and how many took over a second).
start_probe() {
    local kind=${1:-readyz}
    mkdir -p "$(dirname "$PROBE_LOG")"
    : >"$PROBE_LOG"
    (
        for ((i = 0; i < 6000; i++)); do
            if [[ $kind == client ]]; then
                # curl's exit status and the request's time beside the HTTP status (000: none).
                rc=0
                out=$(curl -sk -m "$PROBE_DEADLINE" -o /dev/null -w '%{http_code} %{time_total}' --cert .e2e/probe-client.crt \
                    --key .e2e/probe-client.key "https://$VIP:6443/api/v1/namespaces/default" 2>/dev/null) || rc=$?
                read -r code secs <<<"$out"
                if [[ $rc == 0 && $code == 200 ]]; then s="ok $code 0 $secs"; else s="fail ${code:-000} $rc ${secs:-?}"; fi
            elif [[ $(curl -sk -m 0.5 "https://$VIP:6443/readyz" 2>/dev/null) == ok ]]; then s=ok; else s=fail; fi
            printf '%s %s\n' "$(now_ms)" "$s" >>"$PROBE_LOG"
            sleep 0.1
        done
    ) &
    PROBE_PID=$!
}
stop_probe() {
    [[ -n $PROBE_PID ]] || return 0
    kill "$PROBE_PID" 2>/dev/null || true
    wait "$PROBE_PID" 2>/dev/null || true
    PROBE_PID=""
}
# outage_after MS: seconds from MS until the API answered again after its last failure
# (0 when nothing failed), and the number of failed probes.
outage_after() {
    awk -v t0="$1" '$1 >= t0 { if ($2 == "fail") { failed++; last_fail = $1; recovered = 0 } else if (failed && !recovered) { recovered = $1 } }
        END { if (!failed) printf "0.0 0\n"; else if (recovered) printf "%.1f %d\n", (recovered - t0) / 1000, failed; else printf "never %d\n", failed }' "$PROBE_LOG"
}
# probe_failures: when each failed probe was sent (UTC, ms), its HTTP status (000: none) and, for
# the client probe, curl's exit status (7 refused, 28 no answer within the deadline, 35 TLS, 52
# empty reply, 56 connection cut) and its time; the first five, for the records.
probe_failures() {
    local ms code rc secs
    awk '$2 == "fail" { print $1, ($3 == "" ? "-" : $3), ($4 == "" ? "-" : $4), ($5 == "" ? "-" : $5) }' "$PROBE_LOG" | head -n 5 |
        while read -r ms code rc secs; do
            printf '%s HTTP %s curl %s after %s s; ' "$(date -u -d "@$((ms / 1000)).$(printf '%03d' $((ms % 1000)))" +%T.%3N)" "$code" "$rc" "$secs"
        done
}
# probe_latency: the client probe's answered requests' time: "p50 P s, p99 P s, max M s (at
# HH:MM:SS.mmm), N over 1 s".
probe_latency() {
    awk '$2 == "ok" && $5 != "" { print $5, $1 }' "$PROBE_LOG" | sort -n | awk '
        { t[NR] = $1; at[NR] = $2 } $1 > 1 { slow++ }
        END {
            if (!NR) { print "no answered request"; exit }
            p50 = t[int((NR - 1) * 0.50) + 1]; p99 = t[int((NR - 1) * 0.99) + 1]
            printf "p50 %.3f s, p99 %.3f s, max %.3f s (at %s), %d over 1 s\n", p50, p99, t[NR], strftime("%H:%M:%S", int(at[NR] / 1000), 1), slow
        }'
}
# probe_counts: "OK FAILED" over the whole probe log.
probe_counts() { awk '$2 == "ok" { ok++ } $2 == "fail" { f++ } END { printf "%d %d\n", ok, f }' "$PROBE_LOG"; }
