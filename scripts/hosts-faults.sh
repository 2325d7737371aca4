#!/usr/bin/env bash
# Fault drills on a cluster that `pulumi up` built on the lab (issue 7, items 1-5; 6: the NFS server).
# Each fault is injected on the lab and undone; a probe hits https://VIP:6443/readyz every 100 ms.
# Results (measured times beside the goals) go to .e2e/report.json under "faults".
# Exits non-zero when a drill misses its goal or stops at a failed command. DRILLS="d_nfs_down ..."
# runs only those (by hand); the last line says "P passed, F failed, R of T run".
# Each d_* runs through run_drill, with errexit; remote commands are single-quoted on purpose.
# shellcheck disable=SC2317,SC2016
set -Eeuo pipefail
# shellcheck source=scripts/lab/hosts-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lab/hosts-lib.sh"
# shellcheck source=scripts/lab/check-runner.sh
source "$(dirname "${BASH_SOURCE[0]}")/lab/check-runner.sh"
RESULTS=""
# Where record writes: RESULTS, or the file of the drill running.
RECORD_FILE=""
say() { printf 'faults: %s\n' "$*" >&2; }

vip_holders() {
    local h n=""
    for h in lb1 lb2; do
        on "$h" "ip -o -4 addr show | grep -q ' $VIP/'" 2>/dev/null && n+="$h "
    done
    printf '%s' "${n% }"
}
wait_single_holder() {
    local i h
    for ((i = 0; i < 300; i++)); do
        h=$(vip_holders)
        [[ -n $h && $h != *" "* ]] && { printf '%s' "$h"; return 0; }
        sleep 0.2
    done
    return 1
}

# record NAME STATUS MEASURED GOAL: a drill's one record.
record() {
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RECORD_FILE"
    say "$(printf '%-52s %-7s measured %-28s goal %s' "$1" "$2" "$3" "$4")"
}

DRILL_REPAIRS=()
# on_abort CMD: CMD (bash, eval'ed) puts back what the drill is about to break, should the drill
# stop at a failed command before it does so itself, so that the next drills find the lab whole.
on_abort() { DRILL_REPAIRS+=("$1"); }
# drill_finally STATUS: in the drill's subshell as it exits (isolated's FINALLY): the probe stops
# and, when the drill failed, its repairs run.
drill_finally() {
    local r
    stop_probe
    if (($1 != 0)); then
        for r in "${DRILL_REPAIRS[@]}"; do
            say "repairing after the failed drill: $r"
            eval "$r" || say "the repair failed: $r"
        done
    fi
}
# run_drill D_FUNC [ARG]: one drill through check-runner's isolated. Always one record: the drill's
# own when it ran to its end; else that record failed, or one named after the drill, with the
# failed command. Its messages go to stderr after it.
run_drill() {
    local rec out lines=() name="" measured="" goal="" why
    rec=$(mktemp)
    out=$(mktemp)
    RECORD_FILE=$rec
    isolated "$out" drill_finally "$@"
    RECORD_FILE=$RESULTS
    cat "$out" >&2
    mapfile -t lines <"$rec"
    if ((ISOLATED_RC == 0 && ${#lines[@]} == 1)); then
        cat "$rec" >>"$RESULTS"
    else
        if ((${#lines[@]} > 0)); then IFS=$'\t' read -r name _ measured goal <<<"${lines[0]}"; fi
        # The failed command isolated named (the repairs may have said more after it).
        why=$(grep -E '^\(failed at ' "$out" | tail -n 1 || true)
        record "${name:-$*}" failed "${measured:+$measured; }the drill ($*) stopped with exit $ISOLATED_RC after ${#lines[@]} records: ${why:-$(tail -n 1 "$out")}" "${goal:-its goal}"
    fi
    rm -f "$rec" "$out"
}

# 2. HAProxy killed on the VIP holder. 2a: systemd restarts it at once. 2b: it stays dead (its unit
# masked first, like a crash loop), so keepalived's check must move the VIP.
d_haproxy() {
    local mode=$1 holder t0 out secs name goal="<= 10 s"
    holder=$(wait_single_holder)
    name="2$mode HAProxy killed (kill -9) on the VIP holder ($holder)"
    on_abort "haproxy_back $holder"
    [[ $mode == b ]] && { name+=", kept down"; on "$holder" 'systemctl mask --runtime -q haproxy'; }
    start_probe readyz
    sleep 1
    t0=$(now_ms)
    on "$holder" 'pkill -9 -x haproxy'
    sleep 12
    stop_probe
    read -r secs _ <<<"$(outage_after "$t0")"
    out="API back after ${secs} s; VIP on $(vip_holders)"
    if [[ $secs != never ]] && awk -v s="$secs" 'BEGIN{exit !(s <= 10)}'; then record "$name" passed "$out" "$goal"; else record "$name" failed "$out" "$goal"; fi
    haproxy_back "$holder"
}
# haproxy_back HOST: HAProxy unmasked and running on HOST.
haproxy_back() { on "$1" 'systemctl unmask --runtime -q haproxy; systemctl is-active -q haproxy || systemctl start haproxy'; }

# 3. keepalived killed on the VIP holder: within 10 s exactly one host holds the VIP.
d_keepalived() {
    local holder t0 t1 holders i restarted=no
    holder=$(wait_single_holder)
    on_abort "on $holder 'systemctl is-active -q keepalived || systemctl start keepalived'"
    t0=$(now_ms)
    on "$holder" 'pkill -9 -x keepalived'
    for ((i = 0; i < 100; i++)); do
        sleep 0.1
        holders=$(vip_holders)
        # is-active exits 3 while keepalived is down (and ssh 255 if the holder is unreachable): not yet.
        if [[ -n $holders && $holders != *" "* ]] && [[ $(on "$holder" 'systemctl is-active keepalived' || true) == active ]]; then
            restarted=yes
            break
        fi
    done
    t1=$(now_ms)
    holders=$(vip_holders)
    local out
    out="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/1000}') s to one holder ($holders), keepalived restarted on $holder: $restarted"
    if [[ -n $holders && $holders != *" "* && $restarted == yes ]] && ((t1 - t0 <= 10000)); then record "3 keepalived killed on the VIP holder ($holder)" passed "$out" "one holder within 10 s"; else record "3 keepalived killed on the VIP holder ($holder)" failed "$out" "one holder within 10 s"; fi
}

# 1. The VIP holder's machine dies (its nspawn process is killed, like a power cut).
d_lb_host() {
    local holder t0 secs out pid
    holder=$(wait_single_holder)
    pid=$(<"$CACHE/lab/run/machines/$holder/pid")
    start_probe readyz
    sleep 1
    t0=$(now_ms)
    on_abort "bash scripts/lab.sh up >/dev/null 2>&1"
    # The machine's own PID 1 (nspawn's child) takes every process of the machine with it.
    kill -9 $(pgrep -P "$pid") "$pid"
    sleep 10
    stop_probe
    read -r secs _ <<<"$(outage_after "$t0")"
    out="API back after ${secs} s; VIP now on $(vip_holders)"
    if [[ $secs != never ]] && awk -v s="$secs" 'BEGIN{exit !(s <= 5)}'; then record "1 lb host $holder dies" passed "$out" "<= 5 s"; else record "1 lb host $holder dies" failed "$out" "<= 5 s"; fi
    say "repairing the lab (lab.sh up restarts $holder)"
    bash scripts/lab.sh up >/dev/null 2>&1
    wait_single_holder >/dev/null
}

# 4. An apiserver dies: HAProxy stops sending to it; no request through the VIP fails after 10 s.
d_apiserver() {
    local t0 fails=0 i
    on_abort "on cp1 'systemctl start kube-apiserver'"
    on cp1 'systemctl stop kube-apiserver'
    t0=$(now_ms)
    sleep 10
    for ((i = 0; i < 50; i++)); do
        "$KUBECTL" get --raw=/readyz --request-timeout=3s >/dev/null 2>&1 || fails=$((fails + 1))
    done
    local out="$fails of 50 API requests failed 10 s after kube-apiserver stopped on cp1"
    on cp1 'systemctl start kube-apiserver'
    if ((fails == 0)); then record "4 an apiserver dies" passed "$out" "0 failures after 10 s"; else record "4 an apiserver dies" failed "$out" "0 failures after 10 s"; fi
}

# 5. One etcd member stops: writes keep succeeding; after restart 3/3 healthy within 60 s.
d_etcd() {
    local ok=0 i t0 t1 healthy
    on_abort "on cp3 'systemctl start --no-block etcd'"
    on cp3 'systemctl stop etcd'
    for ((i = 0; i < 20; i++)); do
        "$KUBECTL" -n default create configmap "k8sha-fault-$i" --from-literal=i="$i" >/dev/null 2>&1 && ok=$((ok + 1))
    done
    t0=$(now_ms)
    on cp3 'systemctl start --no-block etcd'
    for ((i = 0; i < 600; i++)); do
        healthy=$(on cp1 'etcdctl --endpoints=https://10.213.0.21:2379,https://10.213.0.22:2379,https://10.213.0.23:2379 --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key endpoint health 2>&1 | grep -c "is healthy"' || true)
        [[ $healthy == 3 ]] && break
        sleep 0.1
    done
    t1=$(now_ms)
    for ((i = 0; i < 20; i++)); do "$KUBECTL" -n default delete configmap "k8sha-fault-$i" --ignore-not-found >/dev/null 2>&1 || true; done
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/1000}')
    local out="$ok of 20 writes succeeded with cp3's etcd stopped; 3/3 healthy ${secs} s after restart"
    if ((ok == 20)) && [[ $healthy == 3 ]] && ((t1 - t0 <= 60000)); then record "5 one etcd member stops" passed "$out" "all writes; 3/3 within 60 s"; else record "5 one etcd member stops" failed "$out" "all writes; 3/3 within 60 s"; fi
}

# 6. The NFS server stops for 20 s under a pod appending to its volume twice a second, and a second
# pod starts while it is down. Hard mounts: the writer blocks and then goes on, nothing written is
# lost; the second pod gets an event naming the server and the export, and starts once it is back.
nfs_pod() {
    "$KUBECTL" apply -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$1","labels":{"app":"k8sha-drill"}},
 "spec":{"nodeSelector":{"k8s-ha.io/nfs-client":"true"},"restartPolicy":"Never","terminationGracePeriodSeconds":1,
  "securityContext":{"runAsUser":1000,"runAsGroup":1000,"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
  "containers":[{"name":"c","image":"docker.io/library/busybox:1.35.0","command":["sh","-c","$2"],
   "securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}},
   "volumeMounts":[{"name":"v","mountPath":"/data"}]}],
  "volumes":[{"name":"v","persistentVolumeClaim":{"claimName":"drill-nfs"}}]}}
EOF
}
d_nfs_down() {
    local name="6 NFS server down for 20 s under a writing pod" goal="no line lost; a pod started meanwhile is told why it waits and runs once the server is back"
    "$KUBECTL" delete pod,pvc -l app=k8sha-drill --ignore-not-found --wait=true >/dev/null
    "$KUBECTL" apply -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"drill-nfs","labels":{"app":"k8sha-drill"}},
 "spec":{"accessModes":["ReadWriteMany"],"resources":{"requests":{"storage":"1Gi"}}}}
EOF
    nfs_pod drill-writer 'i=0; while [ ! -e /data/stop ]; do i=$((i+1)); echo $i >> /data/log; sleep 0.5; done; echo $i > /data/last'
    if ! "$KUBECTL" wait --for=condition=Ready pod/drill-writer --timeout=180s >/dev/null; then
        record "$name" failed "the writer pod did not start: $("$KUBECTL" get pod drill-writer -o jsonpath='{.status.phase}')" "$goal"
        return 0
    fi
    sleep 3
    # The control: a pod that started while the server answered was told nothing (a provisioner that
    # cannot reach the server would warn every Pending pod, whatever the server's state).
    local told_early
    told_early=$("$KUBECTL" get events --field-selector involvedObject.name=drill-writer,reason=NFSServerUnreachable -o jsonpath='{.items[*].message}') || told_early="(events not read)"
    local t0 t_back t_started="" waiting events
    t0=$(now_ms)
    on_abort "on nfs 'systemctl start nfs-server'"
    on_abort "\"\$KUBECTL\" delete pod,pvc -l app=k8sha-drill --ignore-not-found --wait=false >/dev/null"
    on nfs 'systemctl stop nfs-server'
    nfs_pod drill-late 'tail -n 1 /data/log'
    sleep 20
    waiting=$("$KUBECTL" get pod drill-late -o jsonpath='{.status.phase}/{.status.containerStatuses[0].state.waiting.reason}')
    on nfs 'systemctl start nfs-server'
    t_back=$(now_ms)
    for ((i = 0; i < 600; i++)); do
        [[ $("$KUBECTL" get pod drill-late -o jsonpath='{.status.phase}') == Succeeded ]] && { t_started=$(now_ms); break; }
        sleep 0.2
    done
    events=$("$KUBECTL" get events --field-selector involvedObject.name=drill-late -o jsonpath='{range .items[*]}{.reason}{" "}{end}')
    local told
    # kubectl fails on .items[0] of an empty list: no such event, which the verdict names.
    told=$("$KUBECTL" get events --field-selector involvedObject.name=drill-late,reason=NFSServerUnreachable -o jsonpath='{.items[0].message}' 2>/dev/null) || true
    sleep 3
    # The writer stops itself when /data/stop appears, and records its last number.
    nfs_pod drill-stop 'touch /data/stop'
    local last lines gaps dir
    "$KUBECTL" wait --for=jsonpath='{.status.phase}'=Succeeded pod/drill-writer --timeout=60s >/dev/null || true
    dir=$(basename "$("$KUBECTL" get pv "$("$KUBECTL" get pvc drill-nfs -o jsonpath='{.spec.volumeName}')" -o jsonpath='{.spec.nfs.path}')")
    last=$(on nfs "cat /srv/nfs/k8s/$dir/last" 2>/dev/null || echo "?")
    lines=$(on nfs "wc -l < /srv/nfs/k8s/$dir/log")
    gaps=$(on nfs "awk 'NR != \$1 { n++ } END { print n + 0 }' /srv/nfs/k8s/$dir/log")
    "$KUBECTL" delete pod,pvc -l app=k8sha-drill --wait=true >/dev/null
    on nfs "rm -rf /srv/nfs/k8s/archived-default-drill-nfs-*"
    local back="never"
    [[ -n $t_started ]] && back="$(awk -v a="$t_back" -v b="$t_started" 'BEGIN{printf "%.1f", (b-a)/1000}') s"
    local out="server stopped 20 s; writer wrote $lines lines, last $last, $gaps out of order or missing; the pod started during the outage was ${waiting:-?} and Succeeded $back after the server was back (its events: $events; ${told:-no NFSServerUnreachable event}); the writer, started while the server answered: ${told_early:-no NFSServerUnreachable event}"
    if [[ $last == "$lines" && $gaps == 0 && -n $t_started && $told == *"10.213.0.51"*"/srv/nfs/k8s/"* && -z $told_early ]]; then record "$name" passed "$out" "$goal"; else record "$name" failed "$out" "$goal"; fi
}

# write_report TOTAL SELECTED: the report's "faults" section and the closing line; fails when a
# drill failed or fewer than SELECTED were recorded.
write_report() {
    local node_bin=$CACHE/node/node_modules/node/bin counts passed failed run line
    counts=$(PATH=$node_bin:$PATH node -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean);
const drills = lines.map((l) => { const [name, status, measured, goal] = l.split("\t"); return { name, status, measured, goal }; });
const prev = fs.existsSync(process.argv[2]) ? JSON.parse(fs.readFileSync(process.argv[2], "utf8")) : {};
const passed = drills.filter((d) => d.status === "passed").length;
prev.faults = { at: new Date().toISOString(), drills, passed, failed: drills.length - passed, run: drills.length,
  total: Number(process.argv[3]), filter: process.env.DRILLS || undefined };
fs.writeFileSync(process.argv[2], JSON.stringify(prev, null, 2));
console.log(`${passed} ${drills.length - passed} ${drills.length}`);
' "$RESULTS" "$CHECK_E2E/report.json" "$1")
    read -r passed failed run <<<"$counts"
    if ((run != $2)); then say "$2 drills selected, $run recorded"; fi
    # On stdout and as the log's (stderr's) last line.
    line=$(closing_line hosts-faults "$passed" "$failed" "$run" "$1" "${DRILLS:+DRILLS=$DRILLS}")
    echo "$line"
    echo "$line" >&2
    ((failed == 0 && run == $2))
}

# The drills, in the order they run: a d_* function and its argument.
DRILL_LIST=("d_haproxy a" "d_haproxy b" d_keepalived d_apiserver d_etcd d_lb_host d_nfs_down)

# DRILLS="d_nfs_down ..." selects drills by function name (d_haproxy: both); none selected is an error.
main() {
    local d words selected=()
    for d in "${DRILL_LIST[@]}"; do
        if [[ -z ${DRILLS:-} || " $DRILLS " == *" ${d%% *} "* ]]; then selected+=("$d"); fi
    done
    if ((${#selected[@]} == 0)); then
        say "DRILLS=${DRILLS:-} selects none of the ${#DRILL_LIST[@]} drills (${DRILL_LIST[*]})"
        exit 2
    fi
    mkdir -p "$CHECK_E2E"
    RESULTS=$(mktemp)
    RECORD_FILE=$RESULTS
    trap 'stop_probe; rm -f "$RESULTS"' EXIT
    for d in "${selected[@]}"; do
        read -ra words <<<"$d"
        run_drill "${words[@]}"
    done
    write_report "${#DRILL_LIST[@]}" "${#selected[@]}"
}

# Sourced (the unit tests), it only defines the drills.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
