# shellcheck shell=bash
# The main e2e suite (sourced by scripts/e2e.sh main): one cluster from bare hosts through the
# switch from the last landed commit, the users' checks, the faults and the change drills, to its
# destroy. The lab is up and the artifacts are built and pinned.
# shellcheck disable=SC2016 # the node -e programs are JavaScript in single quotes on purpose
# shellcheck disable=SC2153 # ADDR and the lab's other names come from scripts/lab/hosts-lib.sh (sourced by e2e.sh)

# 1-2. From bare hosts to a cluster that passes the users' checks. The first up runs the program of
# the last commit that landed on main before this work (K8S_HA_E2E_BASE): users' clusters were
# built by it. This commit's program then takes over the same state: its preview creates, replaces
# and deletes nothing but what this commit adds or retires on purpose (SWITCH_PLAN), and its up
# restarts only the daemons this commit must restart (SWITCH_RESTARTS) and removes those it retires
# (SWITCH_GONE); every other daemon on every host keeps its process.
BASE=${K8S_HA_E2E_BASE:-c6aedac}
# c6aedac is stop 35, landed. Since then:
# - Issue 31: keepalived moves to VRRPv3 (sub-second adverts, no password): the pair's
#   RandomPassword api-vrrp-auth goes, each lb host gets a join step (new), the lb host without the
#   VIP stops its keepalived in its stage and starts it in its join (a new process), and the holder
#   reloads in its finish (same process): which of the two restarts depends on where the VIP is, so
#   keepalived is in SWITCH_MAY_RESTART.
# - The break-glass certificate is re-issued with a new key (its validity, a year there, is now
#   adminCredential.breakGlassValidityHours, 72 h: an up renews one that ends later than that):
#   cp1's control-plane step rewrites that one file, restarting nothing. The firewall steps apply
#   their rules with one nft -f instead of a restart; they and the add-ons step run again (their
#   scripts changed) and change nothing.
# - The NFS host's export becomes subtree_check (its step rewrites the exports file and runs
#   exportfs -ra), and the NFS provisioner runs in its node's network (cp1-nfs-storage updates, its
#   pod is recreated): no host daemon restarts.
# - The generated layout is part of the host library, so every step whose command names the
#   library's hash re-runs once, with the same files: nothing changes, nothing restarts.
SWITCH_PLAN="create=*-lb-join;delete=api-vrrp-auth;replace=control-plane-admin-key,control-plane-admin-csr,control-plane-admin-cert"
SWITCH_RESTARTS=""
SWITCH_GONE=""
# The leader scheduler exits when its local apiserver is away past the lease's renew deadline
# ("Leaderelection lost"), and systemd starts it again: a restart of the apiservers may restart it.
SWITCH_MAY_RESTART=kube-scheduler,keepalived
BASE_DIR=$E2E/base
rm -rf "$BASE_DIR"
git worktree prune
pulumi_base() { (cd "$BASE_DIR" && K8S_HA_LAB_SYNC=0 bash scripts/pulumi.sh "$@"); }
# The process ID of each daemon k8s-ha runs, on every host of the cluster (0: not there).
DAEMONS="etcd kube-apiserver kube-controller-manager kube-scheduler k8s-ha-csr-approver containerd kubelet kube-proxy haproxy keepalived docker-registry nfs-server k8s-ha-firewall"
daemon_pids() {
    local h
    for h in lb1 lb2 cp1 cp2 cp3 w1 w2 w4 mirror nfs; do
        # shellcheck disable=SC2086 # one argument per unit
        on "$h" "systemctl show -p Id -p MainPID $DAEMONS" 2>/dev/null | paste -sd' ' | sed "s/^/$h /"
    done
}
t_bare=$(now_ms)
if git worktree add -q --detach "$BASE_DIR" "$BASE" >"$LOGS/base-worktree.log" 2>&1; then
    ln -s "$ROOT/node_modules" "$BASE_DIR/node_modules"
    ln -s "$ROOT/.tools" "$BASE_DIR/.tools"
    step "pulumi up on bare hosts (the program of $BASE)" "" up.log pulumi_base up --yes --suppress-progress
else
    record "pulumi up on bare hosts (the program of $BASE)" failed 0 "" "git worktree add $BASE: $(tail -n 3 "$LOGS/base-worktree.log")"
fi
daemon_pids >"$E2E/pids-before-switch"
plan_check "this commit's program on the state of $BASE: nothing created, replaced or deleted but what it must" "" switch "$SWITCH_PLAN"
step "up with this commit's program on the state of $BASE" "" up-switch.log pulumi_ up --yes --suppress-progress
daemon_pids >"$E2E/pids-after-switch"
drained="workers drained: $(grep -o 'k8s-ha\[cp1\]: [a-z0-9]* drained: [0-9]* pods evicted' "$LOGS/up-switch.log" | sort -u | sed 's/k8s-ha\[cp1\]: //' | paste -sd, || true)"
if verdict=$(node bin/test/e2e/pids.js "$E2E/pids-before-switch" "$E2E/pids-after-switch" "$SWITCH_RESTARTS" "$SWITCH_GONE" "$SWITCH_MAY_RESTART" 2>&1); then
    record "the switch restarted only what it must" passed 0 "" "$verdict; $drained"
else
    record "the switch restarted only what it must" failed 0 "" "$verdict; $drained"
fi
plan_check "after the switch: no changes" "" noop
kubeconfig_from_stack
check_rc=0
bash scripts/hosts-check.sh 2>"$LOGS/hosts-check.log" || check_rc=$?
counted "$LOGS/hosts-check.log" 49 || check_rc=1
T=$(awk -v a="$t_bare" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
if ((check_rc == 0)); then
    record "bare hosts to all checks passing" passed "$T" "<= 120 s" "$(grep -c ' passed ' "$LOGS/hosts-check.log") checks passed"
else
    record "bare hosts to all checks passing" failed "$T" "<= 120 s" "$(grep -E '^check: .* failed ' "$LOGS/hosts-check.log" | head -5); want 45 of 45 run: $(tail -n 1 "$LOGS/hosts-check.log")"
fi

# 3. Nothing to do on a second run.
plan_check "preview of the dev stack: no changes" "<= 10 s" noop
# Every certificate's expiry, from the stack output, against the apiserver's certificate as served.
if certs=$(pulumi_ stack output certificates --json 2>&1) &&
    summary=$(node -e '
const c = JSON.parse(require("fs").readFileSync(0, "utf8"));
const all = Object.entries(c).flatMap(([ca, m]) => Object.entries(m).map(([n, t]) => [`${ca}/${n}`, t]));
if (all.length < 20 || all.some(([, t]) => Number.isNaN(Date.parse(t)))) throw new Error(`bad output: ${JSON.stringify(c)}`);
all.sort((a, b) => Date.parse(a[1]) - Date.parse(b[1]));
console.log(`${all.length} certificates; the first to expire: ${all[0][0]} ${all[0][1]}; apiserver ${c.cluster["control-plane-apiserver"]}`);
' <<<"$certs" 2>&1); then
    served=$(echo | openssl s_client -connect 10.213.0.21:6443 2>/dev/null | openssl x509 -noout -enddate 2>/dev/null | cut -d= -f2)
    record "stack output certificates: every expiry" passed 0 "" "$summary; served by cp1: $served"
else
    record "stack output certificates: every expiry" failed 0 "" "${summary:-$certs}"
fi
# 3a. Kubelet serving certificates: each worker serves the stack's certificate for its own name and
# address, from the kubelet serving CA. No approver runs: a node's requests for serving certificates
# (any names, any shape) stay unapproved and unsigned. If an admin approves one by mistake, the
# controller-manager signs it with the kubelet serving CA, which nothing but the apiserver's kubelet
# client trusts: the cluster CA (the API, the mirror, every kubeconfig) does not verify it.
serving=""
serving_ok=yes
for w in w1 w2 w4; do
    addr=${ADDR[$w]}
    got=$(on cp1 "echo | openssl s_client -connect $addr:10250 2>/dev/null | openssl x509 -noout -subject -issuer -ext subjectAltName -nameopt RFC2253 2>/dev/null" | tr -s ' \n' ' ')
    [[ $got == *"subject=CN=system:node:$w,O=system:nodes"*"issuer=CN=k8s-ha kubelet serving CA,O=k8s-ha"*"DNS:$w, IP Address:$addr"* && $got != *"IP Address:$addr,"* ]] || serving_ok=no
    serving+="$w: ${got:-nothing served}; "
done
# Requests made with w1's own credential (its kubelet.kubeconfig, kept private under .e2e/ for this
# drill alone), each a shape the old approver was asked to refuse; and w2's subject, which the
# apiserver refuses to take from w1 at all.
forged_ok=yes
forged=""
w1conf=$E2E/w1-kubelet.kubeconfig
(umask 077 && on w1 "cat /etc/kubernetes/kubelet.kubeconfig" >"$w1conf")
long=$(printf 'a%.0s' $(seq 1 250))
forged_cases=("extra-address w1 DNS:w1,IP:10.213.0.31,IP:10.213.0.99" "w2-names w1 DNS:w2,IP:10.213.0.32" "wildcard w1 DNS:*.w1,IP:10.213.0.31"
    "ipv6 w1 DNS:w1,IP:fd00::31" "no-sans w1 -" "long-name w1 DNS:$long.w1" "w2-subject w2 DNS:w2,IP:10.213.0.32")
created=()
for case in "${forged_cases[@]}"; do
    read -r what cn sans <<<"$case"
    ext=()
    [[ $sans == - ]] || ext=(-addext "subjectAltName=$sans")
    req=$(openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj "/O=system:nodes/CN=system:node:$cn" "${ext[@]}" 2>/dev/null | base64 -w0)
    if out=$(printf 'apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata: {name: e2e-%s}\nspec:\n  request: %s\n  signerName: kubernetes.io/kubelet-serving\n  usages: [digital signature, key encipherment, server auth]\n' "$what" "$req" |
        "$KUBECTL" --kubeconfig "$w1conf" create -f - 2>&1); then
        created+=("$what")
    elif [[ $what == w2-subject && $out == *"can only create a node CSR with CN=system:node:w1"* ]]; then
        forged+="$what: refused by the apiserver (NodeRestriction); "
    elif [[ $what == w2-subject || $what == w2-names ]]; then
        forged_ok=no
        forged+="$what: ${out:0:200}; "
    else
        # Refused at creation is never signed either; the reason is recorded.
        forged+="$what: refused by the apiserver: ${out:0:120}; "
    fi
done
# Long enough for any approver to have answered (the old one polled every 2 s).
sleep 20
for what in "${created[@]}"; do
    state=$("$KUBECTL" get csr "e2e-$what" -o go-template='{{range .status.conditions}}{{.type}} {{end}}{{if .status.certificate}}issued{{end}}' 2>&1 || true)
    [[ -z $state ]] || forged_ok=no
    forged+="$what: ${state:-pending, unsigned after 20 s}; "
done
# The mistake: an admin approves w2-names; it is signed by the kubelet serving CA, not the cluster CA.
mistake="not signed"
if [[ " ${created[*]} " == *" w2-names "* ]] && "$KUBECTL" certificate approve e2e-w2-names >/dev/null 2>&1; then
    for _ in $(seq 1 20); do
        "$KUBECTL" get csr e2e-w2-names -o jsonpath='{.status.certificate}' 2>/dev/null | base64 -d >"$E2E/mistake.crt" 2>/dev/null || true
        [[ -s $E2E/mistake.crt ]] && break
        sleep 1
    done
    "$KUBECTL" config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$E2E/cluster-ca.crt"
    issuer=$(openssl x509 -noout -issuer -nameopt RFC2253 -in "$E2E/mistake.crt" 2>&1)
    if openssl verify -CAfile "$E2E/cluster-ca.crt" "$E2E/mistake.crt" >/dev/null 2>&1; then trusted="the cluster CA verifies it"; else trusted="the cluster CA does not verify it"; fi
    mistake="$issuer; $trusted"
fi
[[ $mistake == "issuer=CN=k8s-ha kubelet serving CA,O=k8s-ha; the cluster CA does not verify it" ]] || forged_ok=no
forged+="approved by an admin: $mistake; "
for what in "${created[@]}"; do "$KUBECTL" delete csr "e2e-$what" --ignore-not-found >/dev/null 2>&1 || true; done
rm -f "$E2E/mistake.crt" "$E2E/cluster-ca.crt"
# The kubelets' own renewal of their client certificates (rotateCertificates): each keeps the
# stack's certificate in its store, and a request like the one w1's kubelet makes when it renews
# (signer kube-apiserver-client-kubelet, its own name) is approved and signed by the controller-manager.
stores=$(for w in w1 w2 w4; do on "$w" "openssl x509 -noout -subject -nameopt RFC2253 -in /var/lib/kubelet/pki/kubelet-client-current.pem 2>/dev/null" | sed "s/^/$w /"; done | paste -sd, || true)
[[ $(grep -o 'subject=CN=system:node:' <<<"$stores" | wc -l) == 3 ]] || forged_ok=no
req=$(openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj "/O=system:nodes/CN=system:node:w1" 2>/dev/null | base64 -w0)
renewal="not created"
if printf 'apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata: {name: e2e-client-renewal}\nspec:\n  request: %s\n  signerName: kubernetes.io/kube-apiserver-client-kubelet\n  usages: [digital signature, key encipherment, client auth]\n' "$req" |
    "$KUBECTL" --kubeconfig "$w1conf" create -f - >/dev/null 2>&1; then
    for _ in $(seq 1 20); do
        renewal=$("$KUBECTL" get csr e2e-client-renewal -o go-template='{{range .status.conditions}}{{.type}} {{end}}{{if .status.certificate}}issued{{end}}' 2>/dev/null || true)
        [[ $renewal == *issued* ]] && break
        sleep 1
    done
fi
[[ $renewal == "Approved issued" ]] || forged_ok=no
forged+="stores: ${stores:-none}; a client renewal request from w1: ${renewal:-no verdict in 20 s}; "
"$KUBECTL" delete csr e2e-client-renewal --ignore-not-found >/dev/null 2>&1 || true
rm -f "$w1conf"
if [[ $serving_ok == yes && $forged_ok == yes ]]; then
    record "kubelet serving certificates from the kubelet serving CA; forged requests never signed; a mistaken approval not trusted as the cluster; client renewal approved" passed 0 "" "${serving}${forged}"
else
    record "kubelet serving certificates from the kubelet serving CA; forged requests never signed; a mistaken approval not trusted as the cluster; client renewal approved" failed 0 "" "${serving}${forged}"
fi
# The preview was just shown: the no-op up skips its own (a plain `up` adds one, about 4 s).
step "no-op up (--skip-preview --expect-no-changes)" "<= 5 s" up-noop.log pulumi_ up --yes --skip-preview --expect-no-changes --suppress-progress

# 3b. A wrong pinned host key (w1 pinned to lb1's key) stops the update at once, naming the host and
# both keys, before any host is touched; the next preview finds nothing changed.
pulumi_ config set --path 'k8s-ha:hosts.w1.hostKey' "$(node -p 'require("./.tools/lab/hostkeys.json").lb1')" >/dev/null
if timed up-wrong-hostkey.log pulumi_ up --yes --skip-preview --suppress-progress; then
    record "wrong host key: the up stops at once" failed "$T" "<= 30 s" "the up passed"
elif grep -q 'w1 (10.213.0.31:22): the host key is not the pinned one. Expected ssh-ed25519 ' "$LOGS/up-wrong-hostkey.log" &&
    grep -q "got $(node -p 'require("./.tools/lab/hostkeys.json").w1')" "$LOGS/up-wrong-hostkey.log"; then
    record "wrong host key: the up stops at once" passed "$T" "<= 30 s" "$(grep -o 'w1 (10.213.0.31:22): the host key is not the pinned one. Expected [^ ]* [^ ]\{0,12\}' "$LOGS/up-wrong-hostkey.log" | head -1)… got w1's own key; log .e2e/logs/up-wrong-hostkey.log"
else
    record "wrong host key: the up stops at once" failed "$T" "<= 30 s" "$(tail -n 5 "$LOGS/up-wrong-hostkey.log")"
fi
sync_lab_keys
plan_check "after the wrong host key: no changes" "" noop

# 4. Faults.
run_checks "fault drills" faults.log 7 bash scripts/hosts-faults.sh

# 5a. Add the spare worker w3.
pulumi_ config set --path 'k8s-ha:hosts.w3.address' 10.213.0.33 >/dev/null
pulumi_ config set --path 'k8s-ha:hosts.w3.roles[0]' worker >/dev/null
sync_lab_keys
plan_check "preview of add worker: only w3 and its followers" "" add-worker w3
step "add worker w3 (up)" "<= 60 s" up-add-worker.log pulumi_ up --yes --suppress-progress
if out=$("$KUBECTL" get node w3 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>&1) && [[ $out == True ]]; then
    record "w3 is a Ready node" passed 0 "" "Ready=$out"
else
    record "w3 is a Ready node" failed 0 "" "$out"
fi

# 5b. Remove it again.
pulumi_ config rm --path 'k8s-ha:hosts.w3' >/dev/null
plan_check "preview of remove worker: only w3 and its followers" "" remove-worker w3
step "remove worker w3 (up)" "" up-remove-worker.log pulumi_ up --yes --suppress-progress
if out=$("$KUBECTL" get node w3 2>&1); then
    record "w3 left the API" failed 0 "" "$out"
else
    record "w3 left the API" passed 0 "" "$out"
fi
run_checks "w3 left clean" clean-w3.log 1 env CLEAN_HOSTS=w3 REPORT_SECTION=clean_w3 bash scripts/hosts-check.sh clean

# 5c. The mirror preloaded (offline clusters): the nodes pull read-only, and a push needs the
# stack's credentials (imageMirrorPush); then back to a pull-through cache, which takes no pushes.
pulumi_ config set --path 'k8s-ha:mirror.mode' preloaded >/dev/null
pulumi_ config rm --path 'k8s-ha:mirror.upstream' >/dev/null
step "mirror to preloaded mode (up)" "" up-mirror-preloaded.log pulumi_ up --yes --suppress-progress
# Kept (private) for the secret scan below: the password's resource is gone by then.
PUSH_PASSWORD_FILE=$E2E/push-password
(umask 077 && pulumi_ stack output imageMirrorPush --show-secrets --json | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).password)' >"$PUSH_PASSWORD_FILE")
run_checks "preloaded mirror: pushes need credentials, the nodes' endpoint is read-only" mirror-push.log 5 bash scripts/hosts-check.sh mirror-push
pulumi_ config set --path 'k8s-ha:mirror.mode' proxy >/dev/null
pulumi_ config set --path 'k8s-ha:mirror.upstream' http://10.213.0.1:5000 >/dev/null
step "mirror back to a pull-through cache (up)" "" up-mirror-proxy.log pulumi_ up --yes --suppress-progress
if out=$(on mirror 'systemctl is-active k8s-ha-registry-push; ls /etc/docker/registry' 2>&1) && [[ $out != *active* || $out == *inactive* ]] && [[ $out != *htpasswd* ]]; then
    record "push endpoint and credentials gone from the mirror" passed 0 "" "${out//$'\n'/ }"
else
    record "push endpoint and credentials gone from the mirror" failed 0 "" "$out"
fi

# etcdctl on cp1 against its own member, with the health-check client (the etcd drills below).
ETCDCTL_CP1='etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key'
# 5d. An etcd setting on every member, rolled one member at a time (the roll lock in etcd), under
# a write every 100 ms to etcd from cp1 (through every member's URL) and the API probe.
ETCD_WRITES=$E2E/etcd-writes.log
pulumi_ config set --path 'k8s-ha:etcd.quotaBackendBytes' 4294967296 >/dev/null
# Each write's time is logged. A write is retried while 10 s have not passed, as the apiserver's
# etcd client retries an Unavailable error (a restarting member, a leader change); it counts as
# failed only when it has not gone through within those 10 s, and its last error is logged. The
# slowest write and the writes that needed a retry are reported. The loop ends by itself after
# 300 s, and is stopped on cp1 when the drill is over.
on cp1 'end=$((SECONDS + 300)); i=0; while ((SECONDS < end)); do i=$((i + 1)); t0=$(date +%s%3N); tries=0; s=fail; err=""; while :; do tries=$((tries + 1)); left=$((10000 - ($(date +%s%3N) - t0))); ((left > 100)) || break; if e=$(etcdctl --endpoints=https://10.213.0.21:2379,https://10.213.0.22:2379,https://10.213.0.23:2379 --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key --command-timeout="${left}ms" put k8s-ha-drill/write "$i" 2>&1 >/dev/null); then s=ok; break; fi; err=$e; sleep 0.2; done; echo "$t0 $(($(date +%s%3N) - t0)) $s $tries ${err//$'"'"'\n'"'"'/ }"; sleep 0.1; done' >"$ETCD_WRITES" 2>&1 &
writes_pid=$!
start_probe client
sleep 2
step "etcd setting on every member (up)" "" up-etcd-roll.log pulumi_ up --yes --suppress-progress || true
sleep 2
stop_probe
on cp1 'pkill -f "put k8s-ha-drill/write"' >/dev/null 2>&1 || true
kill "$writes_pid" 2>/dev/null || true
wait "$writes_pid" 2>/dev/null || true
wok=$(awk '$3 == "ok"' "$ETCD_WRITES" | grep -c . || true)
wbad=$(awk '$3 == "fail"' "$ETCD_WRITES" | grep -c . || true)
wretried=$(awk '$3 == "ok" && $4 > 1' "$ETCD_WRITES" | grep -c . || true)
wslow=$(awk '$3 == "ok" && $2 > m { m = $2 } END { printf "%.1f", m / 1000 }' "$ETCD_WRITES")
werr=$(awk '$3 == "fail" || $4 > 1 { $1 = $2 = $3 = $4 = ""; print }' "$ETCD_WRITES" | sed 's/^ *//' | sort | uniq -c | head -3 | paste -sd';')
if ((wbad == 0 && wok > 0)); then
    record "etcd writes during the etcd roll" passed 0 "0 failed" "$wok ok, $wbad failed, $wretried went through on a retry (${werr:-none}); the slowest took $wslow s"
else
    record "etcd writes during the etcd roll" failed 0 "0 failed" "$wok ok, $wbad failed, $wretried went through on a retry; errors: ${werr}; the slowest took $wslow s"
fi
probe_record "client requests through the VIP during the etcd roll"
# One member at a time: each member's restart (lock taken) and release, from the engine's log.
roll=$(awk 'match($0, /k8s-ha\[cp[0-9]\]: restarting etcd at [0-9:.]+/) { split(substr($0, RSTART, RLENGTH), a, /[][ ]/); h = a[2]; if (!(h in s)) s[h] = a[length(a)] }
    match($0, /k8s-ha\[cp[0-9]\]: etcd restarted; every member healthy; roll lock released at [0-9:.]+/) { split(substr($0, RSTART, RLENGTH), a, /[][ ]/); h = a[2]; if (!(h in e)) e[h] = a[length(a)] }
    END { for (h in s) print s[h], e[h], h }' "$LOGS/up-etcd-roll.log" | sort)
overlap=$(awk 'NR > 1 && $1 < prev_end { print "overlap: " $3 " started " $1 " before " prev " released at " prev_end } { prev = $3; prev_end = $2 }' <<<"$roll")
flags=$(for h in cp1 cp2 cp3; do on "$h" 'ps -o args= -C etcd' | grep -c 'quota-backend-bytes=4294967296' || true; done | awk '{ n += $1 } END { print n + 0 }')
if [[ $(wc -l <<<"$roll") == 3 && -z $overlap && $flags == 3 ]]; then
    record "etcd members restarted one at a time" passed 0 "" "$(paste -sd';' <<<"$roll"); 3 of 3 run the new setting"
else
    record "etcd members restarted one at a time" failed 0 "" "${roll//$'\n'/;} ${overlap} flags on ${flags} of 3"
fi
on cp1 "$ETCDCTL_CP1 del k8s-ha-drill/write" >/dev/null 2>&1 || true

# 5e. A new name in the apiserver certificate, rolled one control-plane host at a time.
pulumi_ config set --path 'k8s-ha:apiServerExtraSans[0]' api.k8s-ha.test >/dev/null
plan_check "preview of apiServerExtraSans: apiserver cert and control plane only" "" api-sans
since=$(date -u '+%F %T')
start_probe client
sleep 1
step "apiServerExtraSans change (up)" "" up-api-sans.log pulumi_ up --yes --suppress-progress || true
sleep 2
stop_probe
probe_record "client requests through the VIP during the roll"
# Drain before down: as each apiserver stopped, both lb hosts' HAProxy stopped sending it new
# connections (its /readyz failing only the shutdown check) before taking it down.
events=$(lb_events "$since")
missing=$(drained_before_down "$events" cp1 cp2 cp3)
if [[ -z $missing && -n $events ]]; then
    record "apiservers drained on both lb hosts before they went down" passed 0 "" "HAProxy: $events"
else
    record "apiservers drained on both lb hosts before they went down" failed 0 "" "${missing:-no HAProxy events}; HAProxy: ${events:-none}"
fi
# One host at a time: each control-plane host's step and its time, as the engine logged them (the
# steps are chained, so the engine's total is their sum).
order=$(grep -oE '^[0-9:]+ .*cp[0-9]+-control-plane updated \([0-9.]+s\)' "$LOGS/up-api-sans.log" |
    sed -E 's/^[0-9:]+ .*(cp[0-9]+)-control-plane updated \(([0-9.]+s)\)/\1 \2/' | uniq | paste -sd, || true)
sans=$(for a in 10.213.0.21 10.213.0.22 10.213.0.23; do
    on cp1 "echo | openssl s_client -connect $a:6443 2>/dev/null | openssl x509 -noout -ext subjectAltName 2>/dev/null" | grep -c 'api.k8s-ha.test' || true
done | awk '{ n += $1 } END { print n + 0 }')
if [[ $sans == 3 ]]; then
    record "every apiserver serves the new SAN" passed 0 "" "3 of 3; rolled ${order:-?}"
else
    record "every apiserver serves the new SAN" failed 0 "" "${sans:-0} of 3"
fi

# 5f. A load balancer setting on both lb hosts (HAProxy's health-check interval), one host at a
# time, HAProxy reloaded (its master process stays), the VIP left where it is, under the client probe.
lb_state() { for h in lb1 lb2; do printf '%s:%s:%s ' "$h" "$(on "$h" 'systemctl show -p MainPID --value haproxy')" "$(on "$h" "ip -o addr show | grep -qF ' $VIP/' && echo vip || echo standby")"; done; }
lb_before=$(lb_state)
pulumi_ config set --path 'k8s-ha:loadBalancer.healthCheckIntervalMs' 2000 >/dev/null
plan_check "preview of the LB setting: both lb steps, haproxy.cfg only" "" lb-setting
start_probe client
sleep 1
step "LB setting on both lb hosts (up)" "" up-lb-roll.log pulumi_ up --yes --suppress-progress || true
sleep 2
stop_probe
lb_after=$(lb_state)
probe_record "client requests through the VIP during the LB roll"
# The standby reloads HAProxy first; the VIP holder defers its reload to the finish phase, after
# the standby is ready again: "S reloading; S ready (standby); H reloading; H ready (holds the VIP)".
lb_order=$(grep -oE 'k8s-ha\[lb[12]\]: (reloading haproxy|load balancer ready \([A-Za-z ]+\))' "$LOGS/up-lb-roll.log" | uniq | paste -sd';' || true)
# "A reloading;A ready;B reloading;B ready" with A and B the two lb hosts.
one_at_a_time=$(awk -F';' '{ split($0, e, ";"); for (i = 1; i <= 4; i++) { h[i] = substr(e[i], 8, 3) }
    print (NF == 4 && e[1] ~ /reloading/ && e[2] ~ /ready \(standby\)/ && e[3] ~ /reloading/ && e[4] ~ /ready \(holds the VIP\)/ && h[1] == h[2] && h[3] == h[4] && h[1] != h[3]) ? "yes" : "no" }' <<<"$lb_order")
deferred=$(grep -oE 'k8s-ha\[lb[12]\]: holds the VIP: its reload waits' "$LOGS/up-lb-roll.log" | sort -u | wc -l)
inter=$(for h in lb1 lb2; do on "$h" 'grep -c "inter 2s" /etc/haproxy/haproxy.cfg'; done | paste -sd' ')
if [[ $lb_before == "$lb_after" && $inter == "1 1" && $one_at_a_time == yes && $deferred == 1 ]]; then
    record "LB hosts reloaded one at a time, the VIP holder last; PIDs and VIP kept" passed 0 "" "before ${lb_before}after ${lb_after}; ${lb_order}"
else
    record "LB hosts reloaded one at a time, the VIP holder last; PIDs and VIP kept" failed 0 "" "before ${lb_before}after ${lb_after}; inter 2s in ${inter}; holder deferred: ${deferred}; ${lb_order}"
fi

# 5g. A run stopped between installing a file and reloading its daemon (the fault point in the
# standby lb host's step, as a killed run would stop), then the next `up` finishes the job: the
# pending mark makes it reload HAProxy although the file on disk is current already.
sb=$(for h in lb1 lb2; do on "$h" "ip -o addr show | grep -qF ' $VIP/'" || echo "$h"; done | head -1)
haproxy_worker() { on "$sb" 'pgrep -P "$(systemctl show -p MainPID --value haproxy)" -x haproxy | sort | paste -sd,'; }
worker_before=$(haproxy_worker)
on "$sb" 'mkdir -p /run/k8s-ha/faults && touch /run/k8s-ha/faults/lb-before-restart'
pulumi_ config set --path 'k8s-ha:loadBalancer.healthCheckIntervalMs' 3000 >/dev/null
if timed up-stopped.log pulumi_ up --yes --skip-preview --suppress-progress; then stopped=no; else stopped=yes; fi
mid=$(on "$sb" 'echo "file:$(grep -c "inter 3s" /etc/haproxy/haproxy.cfg) pending:$(ls /var/lib/k8s-ha/pending 2>/dev/null | paste -sd,)"')
worker_mid=$(haproxy_worker)
step "up after the stopped run (pending reload)" "" up-after-stop.log pulumi_ up --yes --suppress-progress || true
worker_after=$(haproxy_worker)
pending_after=$(on "$sb" 'ls /var/lib/k8s-ha/pending 2>/dev/null | paste -sd,')
if [[ $stopped == yes && $mid == "file:1 pending:lb" && $worker_mid == "$worker_before" && $worker_after != "$worker_before" && -z $pending_after ]] &&
    grep -q "k8s-ha\\[$sb\\]: an earlier run of this step was interrupted: reloading haproxy" "$LOGS/up-after-stop.log"; then
    record "stopped between install and reload: the next up reloads" passed 0 "" "$sb: stopped run: new file on disk, pending mark, worker $worker_mid kept; next up: pending reload, worker $worker_after, mark cleared"
else
    record "stopped between install and reload: the next up reloads" failed 0 "" "stopped=$stopped; $mid; workers $worker_before -> $worker_mid -> $worker_after; pending after: ${pending_after:-none}"
fi

# 5h. Drift: cp2's scheduler config edited by hand and keepalived stopped on the standby lb host.
# `npm run drift -- --repair` names both and asks for their steps; the preview plans those two
# steps only; `up` puts the file back and starts keepalived; a second check finds nothing.
standby=$(for h in lb1 lb2; do on "$h" "ip -o addr show | grep -qF ' $VIP/'" || echo "$h"; done | head -1)
on cp2 'echo "# edited by hand" >>/etc/kubernetes/scheduler-config.yaml'
on "$standby" 'systemctl stop keepalived'
drift_rc=0
timed drift.log bash scripts/drift.sh --repair || drift_rc=$?
found=$(grep -oE 'drift: [a-z0-9]+ [a-z0-9-]+: .*' "$LOGS/drift.log" | sed 's/^drift: //' | paste -sd';' || true)
if ((drift_rc == 3)) && [[ $found == "cp2 control-plane: file /etc/kubernetes/scheduler-config.yaml edited;$standby lb: unit keepalived inactive" ]]; then
    record "drift reported: host, step, file or unit" passed "$T" "" "$found"
else
    record "drift reported: host, step, file or unit" failed "$T" "" "rc $drift_rc: $found $(tail -n 3 "$LOGS/drift.log")"
fi
plan_check "preview of the repair: the two drifted steps only" "" repair "cp2-control-plane,$standby-lb"
step "repair (up)" "" up-repair.log pulumi_ up --yes --suppress-progress || true
drift_rc=0
timed drift-after.log bash scripts/drift.sh || drift_rc=$?
edited=$(on cp2 'grep -c "edited by hand" /etc/kubernetes/scheduler-config.yaml' || true)
if ((drift_rc == 0)) && [[ $edited == 0 ]] && on "$standby" 'systemctl is-active -q keepalived'; then
    record "drift repaired by up; a second check finds none" passed "$T" "" "$(tail -n 1 "$LOGS/drift-after.log"); cp2's scheduler config restored, keepalived running on $standby"
else
    record "drift repaired by up; a second check finds none" failed "$T" "" "rc $drift_rc, hand edit lines $edited; $(tail -n 3 "$LOGS/drift-after.log")"
fi

# 5i. A kubelet setting on every worker (podPidsLimit), which restarts every kubelet: each worker
# is cordoned and drained first (one at a time: the roll lock), and uncordoned once Ready again,
# under the client probe, with a workload of 3 replicas and a PodDisruptionBudget of 2 whose
# available replicas are sampled every second.
workload_up
pulumi_ config set --path 'k8s-ha:kubelet.podPidsLimit' 8192 >/dev/null
start_probe client
sleep 1
step "kubelet setting on every worker (up)" "" up-worker-roll.log pulumi_ up --yes --suppress-progress || true
sleep 2
stop_probe
workload_sampler_stop
probe_record "client requests through the VIP during the worker roll"
# Each worker's drain (lock taken) and uncordon, from the engine's log: none may overlap.
wroll=$(awk 'match($0, /k8s-ha\[cp1\]: draining w[0-9] at [0-9:.]+/) { split(substr($0, RSTART, RLENGTH), a, " "); if (!(a[3] in s)) s[a[3]] = a[5] }
    match($0, /k8s-ha\[cp1\]: uncordoned w[0-9] at [0-9:.]+/) { split(substr($0, RSTART, RLENGTH), a, " "); if (!(a[3] in e)) e[a[3]] = a[5] }
    END { for (h in s) print s[h], e[h], h }' "$LOGS/up-worker-roll.log" | sort)
woverlap=$(awk 'NR > 1 && $1 < prev_end { print "overlap: " $3 " drained at " $1 " before " prev " was uncordoned at " prev_end } { prev = $3; prev_end = $2 }' <<<"$wroll")
min_avail=$(workload_min_available)
unsched=$("$KUBECTL" get nodes -o jsonpath='{range .items[?(@.spec.unschedulable)]}{.metadata.name} {end}' 2>&1)
lease=$("$KUBECTL" -n kube-system get lease k8s-ha-worker-roll -o name 2>/dev/null || true)
pids=$(for h in w1 w2 w4; do on "$h" 'grep -c "^podPidsLimit: 8192" /etc/kubernetes/kubelet-config.yaml'; done | paste -sd' ')
now_avail=$("$KUBECTL" get deployment roll-probe -o jsonpath='{.status.availableReplicas}' 2>&1)
if [[ $(wc -l <<<"$wroll") == 3 && -z $woverlap && -z $unsched && -z $lease && $pids == "1 1 1" && $min_avail -ge 2 && $now_avail == 3 ]]; then
    record "workers drained one at a time; PDB kept" passed 0 "" "$(paste -sd';' <<<"$wroll"); fewest available replicas $min_avail of 3 (PDB 2), 3 after; all schedulable, lock released; 3 of 3 kubelets run the new setting"
else
    record "workers drained one at a time; PDB kept" failed 0 "" "${wroll//$'\n'/;} ${woverlap} min available ${min_avail}, now ${now_avail}; unschedulable: ${unsched:-none}; lease: ${lease:-none}; setting on ${pids}"
fi
"$KUBECTL" delete deployment/roll-probe pdb/roll-probe --ignore-not-found >/dev/null 2>&1 || true

# 5j. etcd backup and restore (issue 26, H2/M2): the snapshot timer on every member and nothing of
# the old taker left on nfs; 100 keys and a ConfigMap, a snapshot taken now (by the leader,
# encrypted and signed, kept on nfs outside the export), which a worker cannot reach over NFS and
# beside which a planted symlink is refused; every member's data wiped, a restore that checks the
# signed manifest and decrypts: the keys and the ConfigMap are back, what was written after the
# snapshot is not, and the apiservers serve again.
STORE_DIR=/var/backups/k8s-ha/etcd
timers="" timers_on=0
for h in cp1 cp2 cp3; do
    t=$(on "$h" 'systemctl is-active k8s-ha-etcd-snapshot.timer; systemctl show -P NextElapseUSecRealtime k8s-ha-etcd-snapshot.timer' 2>&1 | paste -sd' ')
    timers+="$h: $t; "
    if [[ $t == active* ]]; then timers_on=$((timers_on + 1)); fi
done
# The NFS server takes no snapshot any more: no timer, no etcd client certificate, no etcd tools.
nfs_old=$(on nfs 'systemctl is-active k8s-ha-etcd-backup.timer; for p in /etc/k8s-ha/etcd-backup/client.crt /etc/k8s-ha/etcd-backup/client.key /etc/k8s-ha/etcd-backup/ca.crt /usr/local/lib/k8s-ha/etcd-backup/bin /etc/systemd/system/k8s-ha-etcd-backup.timer; do [ ! -e $p ] || echo "$p left"; done' 2>&1 | paste -sd' ')
if ((timers_on == 3)) && [[ $nfs_old == inactive ]]; then
    record "scheduled etcd snapshots: the timer on every member, none on nfs" passed 0 "" "${timers}nfs: timer $nfs_old, no etcd credential or tool left"
else
    record "scheduled etcd snapshots: the timer on every member, none on nfs" failed 0 "" "${timers}nfs: $nfs_old"
fi
on cp1 "for i in \$(seq -w 1 100); do $ETCDCTL_CP1 put k8s-ha-drill/key-\$i value-\$i >/dev/null || exit 1; done" >/dev/null 2>&1 || say "could not write the drill's keys"
"$KUBECTL" create configmap restore-drill --from-literal=written=before-the-snapshot >/dev/null 2>&1 || true
if timed etcd-snapshot.log bash scripts/etcd-backup.sh snapshot && snap=$(grep -oE 'scheduled-[0-9]{8}T[0-9]{6}Z-[a-z0-9.-]+\.db\.enc' "$LOGS/etcd-snapshot.log" | tail -n 1) && [[ -n $snap ]]; then
    record "etcd snapshot now (npm run etcd-backup -- snapshot)" passed "$T" "" "$(grep -o 'saved a snapshot.*' "$LOGS/etcd-snapshot.log" | tail -n 1)"
else
    record "etcd snapshot now (npm run etcd-backup -- snapshot)" failed "$T" "" "$(tail -n 3 "$LOGS/etcd-snapshot.log")"
    snap=scheduled-00000000T000000Z-missing.db.enc
fi
# On nfs: root's own 0700 folder, the file root's 0600 and encrypted (openssl's "Salted__" header,
# not a bolt database), one line of the manifest.
kept=$(on nfs "stat -c '%U %a' $STORE_DIR $STORE_DIR/$snap | paste -sd' '; head -c 8 $STORE_DIR/$snap; echo; grep -c '^$snap ' $STORE_DIR/manifest" 2>&1 | paste -sd' ')
if [[ $kept == "root 700 root 600 Salted__ 1" ]]; then
    record "the snapshot on nfs: root's own, encrypted, in the signed manifest" passed 0 "" "$STORE_DIR ($kept)"
else
    record "the snapshot on nfs: root's own, encrypted, in the signed manifest" failed 0 "" "$STORE_DIR/$snap: $kept (want: root 700 root 600 Salted__ 1)"
fi
# A worker that mounts the export (w4, root squashed) finds no snapshot there, and the NFS server
# refuses to mount the backup folder itself: it is outside every export.
# shellcheck disable=SC2016 # expands on w4
w4_nfs=$(on w4 'd=$(mktemp -d) && if mount -t nfs4 -o ro 10.213.0.51:/srv/nfs/k8s "$d"; then echo "export: $(find "$d" -name "scheduled-*.db.enc" 2>/dev/null | wc -l) snapshots"; umount "$d"; else echo "export: not mounted"; fi; if timeout 30 mount -t nfs4 -o ro 10.213.0.51:'"$STORE_DIR"' "$d" 2>/dev/null; then echo "store: mounted, $(ls "$d" 2>&1 | wc -l) entries"; umount "$d"; else echo "store: refused"; fi; rmdir "$d"' 2>&1 | paste -sd';')
if [[ $w4_nfs == "export: 0 snapshots;store: refused" ]]; then
    record "a worker cannot reach the snapshots over NFS" passed 0 "" "from w4: $w4_nfs"
else
    record "a worker cannot reach the snapshots over NFS" failed 0 "" "from w4: $w4_nfs"
fi
# A symlink planted in the backup folder (to a file of root's) is refused by the store script that
# serves a restore, from the Pulumi machine; the drill removes it again.
PLANTED=scheduled-20000101T000000Z-planted.db.enc
planted_rc=0
on nfs "ln -sfn /etc/shadow $STORE_DIR/$PLANTED" >/dev/null 2>&1 || planted_rc=$?
timed etcd-planted.log bash scripts/etcd-backup.sh restore "$PLANTED" || planted_rc=$((planted_rc + 100 + $?))
on nfs "rm -f $STORE_DIR/$PLANTED; [ ! -e $STORE_DIR/$PLANTED ] && [ ! -L $STORE_DIR/$PLANTED ]" >/dev/null 2>&1 || planted_rc=$((planted_rc + 1000))
refusal=$(grep -o "$STORE_DIR/$PLANTED is a symlink: refused.*" "$LOGS/etcd-planted.log" | head -n 1)
if ((planted_rc == 101)) && [[ -n $refusal ]] && ! grep -q 'root:' "$LOGS/etcd-planted.log"; then
    record "a symlink planted in the backup folder is refused" passed 0 "" "restore $PLANTED: $refusal; the symlink removed"
else
    record "a symlink planted in the backup folder is refused" failed 0 "" "status $planted_rc (want 101: planted, the restore refused, removed); $(tail -n 2 "$LOGS/etcd-planted.log" | cut -c1-300)"
fi
timed etcd-list.log bash scripts/etcd-backup.sh list || true
# Written after the snapshot: the restore must not bring these back.
on cp1 "$ETCDCTL_CP1 put k8s-ha-drill/after-the-snapshot x" >/dev/null 2>&1 || true
"$KUBECTL" create configmap restore-drill-after --from-literal=written=after-the-snapshot >/dev/null 2>&1 || true
t_wipe=$(now_ms)
for h in cp1 cp2 cp3; do on "$h" 'systemctl stop etcd && rm -rf /var/lib/etcd/member' & done
wait
down=$(curl -sk -m 5 "https://10.213.0.10:6443/readyz" 2>&1 || true)
if timed etcd-restore.log bash scripts/etcd-backup.sh restore "$snap" --yes; then
    restore_s=$T
    keys=$(on cp1 "$ETCDCTL_CP1 get --prefix k8s-ha-drill/key- --count-only -w fields" 2>&1 | awk -F' : ' '/"Count"/ { print $2 }')
    after=$(on cp1 "$ETCDCTL_CP1 get k8s-ha-drill/after-the-snapshot --print-value-only" 2>&1)
    cm=$("$KUBECTL" get configmap restore-drill -o jsonpath='{.data.written}' 2>&1)
    cm_after=$("$KUBECTL" get configmap restore-drill-after -o name 2>&1 || true)
    ready=$(for h in 10.213.0.21 10.213.0.22 10.213.0.23 10.213.0.10; do curl -sk -m 5 "https://$h:6443/readyz" || echo no; echo; done | paste -sd' ')
    back=$(awk -v a="$t_wipe" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
    # The restore checked the manifest's signature and the file's sha256 before it decrypted.
    opened=$(grep -o "nfs:$STORE_DIR/$snap: signature and sha256 [0-9a-f]* checked, decrypted" "$LOGS/etcd-restore.log" | tail -n 1)
    if [[ $keys == 100 && -z $after && $cm == before-the-snapshot && $cm_after == *NotFound* && $ready == "ok ok ok ok" && -n $opened ]]; then
        record "etcd restored from the snapshot on every member" passed "$restore_s" "" "$opened; 100 keys and the ConfigMap back, the writes after the snapshot gone; apiservers ready (cp1 cp2 cp3 VIP: $ready); API down ${back} s from the wipe (while wiped: ${down:-no answer}); $(grep -o 'restored .* in [0-9]* s' "$LOGS/etcd-restore.log" | tail -n 1)"
    else
        record "etcd restored from the snapshot on every member" failed "$restore_s" "" "keys $keys, after '$after', configmap '$cm', after-configmap '$cm_after', readyz $ready, checked: ${opened:-no signature and sha256 check in the log}"
    fi
else
    record "etcd restored from the snapshot on every member" failed "$T" "" "$(tail -n 5 "$LOGS/etcd-restore.log")"
fi
if out=$("$KUBECTL" wait --for=condition=Ready node --all --timeout=120s 2>&1); then
    record "nodes Ready after the restore" passed 0 "" "$(wc -l <<<"$out") nodes"
else
    record "nodes Ready after the restore" failed 0 "" "$out"
fi
plan_check "preview after the restore: no changes" "" noop
"$KUBECTL" delete configmap restore-drill --ignore-not-found >/dev/null 2>&1 || true
on cp1 "$ETCDCTL_CP1 del --prefix k8s-ha-drill/" >/dev/null 2>&1 || true

# 5k. Secrets encryption key rotation, in the three updates it takes: key 2 added for reading, then
# key 2 writing (every Secret rewritten with it) with key 1 still reading, then key 1 dropped. A
# Secret is read back after each, its stored value's key named from etcd, under the client probe.
"$KUBECTL" create secret generic rotation-probe --from-literal=value=kept-through-the-rotation >/dev/null 2>&1 || true
stored_key() { on cp1 "$ETCDCTL_CP1 get /registry/secrets/default/rotation-probe --print-value-only" 2>/dev/null | head -c 30 | tr -dc 'a-z0-9:' | cut -d: -f5; }
rotation=""
rot_ok=yes
start_probe client
for phase in "1 2" "2 1" "2 -"; do
    read -r w r <<<"$phase"
    pulumi_ config set --path 'k8s-ha:secretsEncryption.write' "$w" >/dev/null
    if [[ $r == - ]]; then
        pulumi_ config rm --path 'k8s-ha:secretsEncryption.read' >/dev/null
    else
        pulumi_ config set --path 'k8s-ha:secretsEncryption.read[0]' "$r" >/dev/null
    fi
    step "secrets encryption: write key $w, read ${r/-/none} (up)" "" "up-rotate-$w-$r.log" pulumi_ up --yes --skip-preview --suppress-progress || rot_ok=no
    value=$("$KUBECTL" get secret rotation-probe -o jsonpath='{.data.value}' 2>&1 | base64 -d 2>&1)
    [[ $value == kept-through-the-rotation ]] || rot_ok=no
    rotation+="write $w read ${r/-/none}: read back '${value}', stored with $(stored_key); "
done
stop_probe
read -r ok bad <<<"$(probe_counts)"
rewrote=$(grep -o 'rewrote [0-9]* Secrets: each is stored encrypted with key2' "$LOGS/up-rotate-2-1.log" | head -n 1)
if [[ $rot_ok == yes && $(stored_key) == key2 && -n $rewrote ]] && ((bad == 0 && ok > 0)); then
    record "secrets encryption key rotated; the Secret readable at every step" passed 0 "0 failed" "${rotation}${rewrote}; $ok requests through the VIP, $bad failed; latency $(probe_latency)"
else
    record "secrets encryption key rotated; the Secret readable at every step" failed 0 "0 failed" "${rotation} rewrite: ${rewrote:-none}; $ok ok, $bad failed: $(probe_failures)"
fi
"$KUBECTL" delete secret rotation-probe --ignore-not-found >/dev/null 2>&1 || true

# 5l. Certificate lifetimes and renewal. Two certificates get a validity of 2 days, renewed 1 day
# before they expire: cp2's etcd peer certificate (one member) and the controller-manager's (every
# control-plane host, one at a time). The up re-issues those two alone. Then the program's clock is
# moved 36 h on (libfaketime under the Pulumi program; the engine, the tls provider and the hosts
# keep the real time), past their renewal point and far from everyone else's: the preview replaces
# those two alone and the up rolls them out under the client probe; the next preview, on the real
# clock, changes nothing.
RENEW=cp2-etcd-peer,control-plane-controller-manager
for c in ${RENEW//,/ }; do
    pulumi_ config set --path "k8s-ha:certificates.overrides.$c.validityDays" 2 >/dev/null
    pulumi_ config set --path "k8s-ha:certificates.overrides.$c.renewBeforeDays" 1 >/dev/null
done
plan_check "preview of a 2-day validity for two certificates: those two replaced" "" renew "$RENEW"
step "certificates with a 2-day validity (up)" "" up-cert-short.log pulumi_ up --yes --skip-preview --suppress-progress || true
expiries() { pulumi_ stack output certificates --json 2>/dev/null | node -e 'const c = JSON.parse(require("fs").readFileSync(0, "utf8")); for (const [ca, m] of Object.entries(c)) for (const [n, t] of Object.entries(m)) console.log(`${ca}/${n} ${t}`);' | sort; }
before=$(expiries)
plan_check "the 2-day certificates a day before their renewal point: no changes" "" noop
# The Pulumi program (and whatever else pulumi_ starts that reads the clock through the C library) 36 h on.
faked() { env FAKETIME=+36h FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$(dpkg -L libfaketime | grep -m1 '/libfaketime.so.1$')" "$@"; }
# 36 h on, the break-glass certificate (72 h, renewed in its last 36 h, issued earlier in this run)
# is past its renewal point too.
REKEY=$RENEW,control-plane-admin
PULUMI_WRAP=faked plan_check "preview 36 h later: the two and the break-glass one past their renewal point replaced with new keys, nothing else" "" rekey "$REKEY"
start_probe client
sleep 1
PULUMI_WRAP=faked step "36 h later: up renews the three certificates" "" up-cert-renew.log pulumi_ up --yes --skip-preview --suppress-progress || true
sleep 2
stop_probe
read -r ok bad <<<"$(probe_counts)"
after=$(expiries)
changed=$(diff <(echo "$before") <(echo "$after") | grep '^>' | cut -d' ' -f2 | sed 's|^[a-z]*/||' | sort | paste -sd, || true)
peer_served=$(on cp1 "echo | openssl s_client -connect 10.213.0.22:2380 2>/dev/null | openssl x509 -noout -enddate" 2>/dev/null | cut -d= -f2)
peer_output=$(grep '^etcd/cp2-etcd-peer ' <<<"$after" | cut -d' ' -f2)
order=$(grep -oE '^[0-9:]+ .*(cp[0-9]+-control-plane|cp2-etcd) updated \([0-9.]+s\)' "$LOGS/up-cert-renew.log" | sed -E 's/^[0-9:]+ .*(cp[0-9]+-(control-plane|etcd)) updated \(([0-9.]+s)\)/\1 \3/' | uniq | paste -sd, || true)
if [[ $changed == "$(tr , '\n' <<<"$REKEY" | sort | paste -sd,)" && -n $peer_served && $(date -ud "$peer_served" +%s) == $(date -ud "$peer_output" +%s) ]] && ((bad == 0 && ok > 0)); then
    record "renewal: only the certificates past their renewal point renewed, 0 failed requests" passed 0 "0 failed" "renewed: $changed; cp2 serves a peer certificate to $peer_served; steps: ${order:-?}; $ok requests through the VIP, $bad failed; latency $(probe_latency)"
else
    record "renewal: only the certificates past their renewal point renewed, 0 failed requests" failed 0 "0 failed" "renewed: ${changed:-none} (want $REKEY); cp2 serves ${peer_served:-nothing}, output ${peer_output:-none}; $ok ok, $bad failed: $(probe_failures); latency $(probe_latency)"
fi
plan_check "after the renewal, on the real clock: no changes" "" noop

# 5n. Revoking the kubeconfig output in one up (issue 26 M3; README: Revoking the kubeconfig
# output): adminCredential.generation 2 issues a new identity in k8s-ha:cluster-admins-g2 and deletes
# generation 1's binding; the old kubeconfig is then refused by RBAC, the new one is an admin, the
# next preview plans nothing, and going back to generation 1 is refused before any host is touched.
old_admin=$E2E/old-admin.kubeconfig
(umask 077 && cp "$KUBECONFIG" "$old_admin")
pulumi_ config set --path 'k8s-ha:adminCredential.generation' 2 >/dev/null
step "revoke the kubeconfig output: adminCredential.generation 2 (up)" "" up-revoke.log pulumi_ up --yes --skip-preview --suppress-progress || true
kubeconfig_from_stack
old_says=$("$KUBECTL" --kubeconfig "$old_admin" get nodes 2>&1) && old_rc=0 || old_rc=$?
new_groups=$("$KUBECTL" auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}' 2>&1) || true
new_nodes=$("$KUBECTL" get nodes -o name 2>&1 | wc -l)
rm -f "$old_admin"
if ((old_rc != 0)) && [[ $old_says == *"forbidden"* && $new_groups == "k8s-ha-admin-g2 "*'"k8s-ha:cluster-admins-g2"'* ]] && ((new_nodes >= 3)); then
    record "revoked kubeconfig refused, the new one an admin" passed 0 "" "old: $(tail -n 1 <<<"$old_says"); new: $new_groups, $new_nodes nodes"
else
    record "revoked kubeconfig refused, the new one an admin" failed 0 "" "old (exit $old_rc): $(tail -n 1 <<<"$old_says"); new: $new_groups, $new_nodes nodes"
fi
plan_check "after the revocation: no changes" "" noop
pulumi_ config set --path 'k8s-ha:adminCredential.generation' 1 >/dev/null
refused_preview "going back to a revoked kubeconfig generation is refused" preview-generation-back.log 'k8s-ha:adminCredential.generation: 1 is below 2[^;]*'
pulumi_ config set --path 'k8s-ha:adminCredential.generation' 2 >/dev/null

# 6. Destroy, and nothing of k8s-ha is left on any host (the secret scan is the run's last check).
keep_export cluster
step "pulumi destroy" "<= 60 s" destroy.log pulumi_ destroy --yes --suppress-progress
run_checks "clean hosts after destroy" clean.log 1 bash scripts/hosts-check.sh clean
# Guarded etcd data: each member saved a snapshot before its data went, and all but the last left
# the cluster with `member remove` first; the snapshots (checked by etcdutl as they were taken) stay.
saved=$(grep -c "saved etcd's data before removing the member: /var/backups/k8s-ha/etcd/" "$LOGS/destroy.log" || true)
# ... and each snapshot was copied off its host to the NFS server's root-only backup folder
# (k8s-ha:etcdBackup; outside the export), checked there by the store script.
copied=$(grep -oE "k8s-ha\[cp[0-9]\]: copied etcd's snapshot off the host: 10\.213\.0\.51:$STORE_DIR/cp[0-9]-[0-9TZ]+\.db" "$LOGS/destroy.log" | sort -u | wc -l)
on_nfs=$(on nfs "find $STORE_DIR -maxdepth 1 -type f -user root -perm 0600 -name 'cp[0-9]-*.db' | wc -l" || true)
left=$(grep -cE "left the etcd cluster \(member [0-9a-f]+ removed" "$LOGS/destroy.log" || true)
status=$(on cp1 'stat -c "%n %s bytes %U %a" /var/backups/k8s-ha/etcd/*.db | tail -1' 2>&1 || true)
if ((saved == 3 && left >= 2 && copied == 3 && on_nfs >= 3)); then
    record "destroy: etcd snapshots first, members leave first" passed 0 "" "$saved snapshots saved, $left members removed before their data, $copied copied to the NFS server ($on_nfs there); cp1's: $status"
else
    record "destroy: etcd snapshots first, members leave first" failed 0 "" "$saved snapshots saved, $left members removed, $copied copied ($on_nfs on nfs); $(grep -E 'etcd|snapshot' "$LOGS/destroy.log" | tail -3)"
fi


# 7. The team backend's lock (README: Team backends), on the PostgreSQL that held this run's state:
# two stacks in one backend with their own config and secrets, and two ups of one stack at once, the
# second refused by the lock, the first completing, nothing lost (test/backend/postgres-lock.sh,
# with a throwaway program in a table of its own: the lab's cluster is gone by now).
if timed backend-lock.log bash test/backend/postgres-lock.sh; then
    record "team backend: two stacks, two ups at once, the second refused by the lock" passed "$T" "" "$(grep -c 'backend-proof: passed' "$LOGS/backend-lock.log") checks passed; $(grep -o 'the second up is refused by the lock: exit [0-9]* after [0-9.]* s' "$LOGS/backend-lock.log")"
else
    record "team backend: two stacks, two ups at once, the second refused by the lock" failed "$T" "" "$(grep -E 'FAILED|error' "$LOGS/backend-lock.log" | head -n 5)"
fi
