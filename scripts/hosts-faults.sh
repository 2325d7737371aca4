#!/usr/bin/env bash
# Fault drills on a cluster that `pulumi up` built on the lab (issue 7, items 1-5; 6: the NFS server).
# Each fault is injected on the lab and undone; a probe hits https://VIP:6443/readyz every 100 ms.
# Results (measured times beside the goals) go to .e2e/report.json under "faults".
# Exits non-zero when a drill misses its goal.
# The d_* drills are called at the end; remote commands are single-quoted on purpose.
# shellcheck disable=SC2317,SC2016
set -Eeuo pipefail
# shellcheck source=scripts/lab/hosts-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lab/hosts-lib.sh"
RESULTS=$(mktemp)
cleanup() {
    stop_probe
    rm -f "$RESULTS"
}
trap cleanup EXIT
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

failed=0
record() {
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"
    say "$(printf '%-52s %-7s measured %-28s goal %s' "$1" "$2" "$3" "$4")"
    [[ $2 == passed ]] || failed=1
}

# 2. HAProxy killed on the VIP holder. 2a: systemd restarts it at once. 2b: it stays dead (its unit
# masked first, like a crash loop), so keepalived's check must move the VIP.
d_haproxy() {
    local mode=$1 holder t0 out secs name goal="<= 10 s"
    holder=$(wait_single_holder)
    name="2$mode HAProxy killed (kill -9) on the VIP holder ($holder)"
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
    on "$holder" 'systemctl unmask --runtime -q haproxy; systemctl is-active -q haproxy || systemctl start haproxy'
}

# 3. keepalived killed on the VIP holder: within 10 s exactly one host holds the VIP.
d_keepalived() {
    local holder t0 t1 holders i
    holder=$(wait_single_holder)
    t0=$(now_ms)
    on "$holder" 'pkill -9 -x keepalived'
    for ((i = 0; i < 100; i++)); do
        sleep 0.1
        holders=$(vip_holders)
        [[ -n $holders && $holders != *" "* ]] && [[ $(on "$holder" 'systemctl is-active keepalived' || true) == active ]] && break
    done
    t1=$(now_ms)
    holders=$(vip_holders)
    local out
    out="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/1000}') s to one holder ($holders), keepalived restarted on $holder"
    if [[ -n $holders && $holders != *" "* ]] && ((t1 - t0 <= 10000)); then record "3 keepalived killed on the VIP holder ($holder)" passed "$out" "one holder within 10 s"; else record "3 keepalived killed on the VIP holder ($holder)" failed "$out" "one holder within 10 s"; fi
}

# 1. The VIP holder's machine dies (its nspawn process is killed, like a power cut).
d_lb_host() {
    local holder t0 secs out pid
    holder=$(wait_single_holder)
    pid=$(<"$CACHE/lab/run/machines/$holder/pid")
    start_probe readyz
    sleep 1
    t0=$(now_ms)
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
    local t0 t_back t_started="" waiting events
    t0=$(now_ms)
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
    told=$("$KUBECTL" get events --field-selector involvedObject.name=drill-late,reason=NFSServerUnreachable -o jsonpath='{.items[0].message}')
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
    local out="server stopped 20 s; writer wrote $lines lines, last $last, $gaps out of order or missing; the pod started during the outage was ${waiting:-?} and Succeeded $back after the server was back (its events: $events; ${told:-no NFSServerUnreachable event})"
    if [[ $last == "$lines" && $gaps == 0 && -n $t_started && $told == *"10.213.0.51"*"/srv/nfs/k8s/"* ]]; then record "$name" passed "$out" "$goal"; else record "$name" failed "$out" "$goal"; fi
}

write_report() {
    local node_bin=$CACHE/node/node_modules/node/bin
    "$node_bin/node" -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean);
const drills = lines.map((l) => { const [name, status, measured, goal] = l.split("\t"); return { name, status, measured, goal }; });
const prev = fs.existsSync(process.argv[2]) ? JSON.parse(fs.readFileSync(process.argv[2], "utf8")) : {};
prev.faults = { at: new Date().toISOString(), drills };
fs.writeFileSync(process.argv[2], JSON.stringify(prev, null, 2));
console.log(`${drills.filter((d) => d.status === "passed").length} passed, ${drills.filter((d) => d.status !== "passed").length} failed`);
' "$RESULTS" "$ROOT/.e2e/report.json"
}

# DRILLS="d_nfs_down ..." runs only those (by hand).
drill() { if [[ -z ${DRILLS:-} || " $DRILLS " == *" $1 "* ]]; then "$@"; fi; }
drill d_haproxy a
drill d_haproxy b
drill d_keepalived
drill d_apiserver
drill d_etcd
drill d_lb_host
drill d_nfs_down
write_report
exit "$failed"
