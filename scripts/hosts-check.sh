#!/usr/bin/env bash
# Checks a cluster that `pulumi up` built on the lab, as its users would, and writes
# .e2e/report.json (every check with its result and evidence). Exits non-zero if any check fails.
#   bash scripts/hosts-check.sh              checks of the running cluster
#   bash scripts/hosts-check.sh mirror-push  the preloaded mirror's push endpoint (mirror.mode preloaded)
#   bash scripts/hosts-check.sh clean        after `pulumi destroy`: nothing k8s-ha installed is left
#                                            (on the hosts in CLEAN_HOSTS, default all of the dev stack's)
# CHECKS=PREFIX runs only the checks whose names start with it (by hand, e.g. CHECKS=7 for storage).
# The last line says "P passed, F failed, R of T run" (T: the checks of that kind).
# Each c_* runs through `check`, with errexit; remote commands are single-quoted on purpose.
# shellcheck disable=SC2317,SC2016
set -Eeuo pipefail
# shellcheck source=scripts/lab/hosts-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lab/hosts-lib.sh"
# shellcheck source=scripts/lab/check-runner.sh
source "$(dirname "${BASH_SOURCE[0]}")/lab/check-runner.sh"
REPORT=$CHECK_E2E/report.json
RESULTS=""
CHECK_OUT=""
CHECKS_RC=0

# record NAME STATUS EVIDENCE
record() {
    local evidence=${3//$'\n'/ }
    printf '%s\t%s\t%s\n' "$1" "$2" "$evidence" >>"$RESULTS"
    printf 'check: %-58s %s  %s\n' "$1" "$2" "${evidence:0:150}" >&2
}
# check NAME FUNC: passes when FUNC and every command in it succeed (check-runner's isolated); its
# output is the evidence.
check() {
    isolated "$CHECK_OUT" "" "$2"
    if ((ISOLATED_RC == 0)); then record "$1" passed "$(<"$CHECK_OUT")"; else record "$1" failed "$(<"$CHECK_OUT")"; fi
}
# run_checks SECTION SETUP NAME FUNC [NAME FUNC...]: the checks CHECKS selects, in order, after
# SETUP (a function, or ""; when it fails, each selected check is recorded failed, not run), then
# the report's SECTION; CHECKS_RC is 1 when one failed. A filter that selects none ends the script.
# Called plainly (never in a condition or a && or || list, where isolated would refuse to run).
run_checks() {
    local section=$1 setup=$2 total selected=()
    shift 2
    total=$(($# / 2))
    while (($# > 0)); do
        if [[ $1 == "${CHECKS:-}"* ]]; then selected+=("$1" "$2"); fi
        shift 2
    done
    if ((${#selected[@]} == 0)); then
        echo "hosts-check $section: CHECKS=${CHECKS:-} selects none of its $total checks" >&2
        exit 2
    fi
    set -- "${selected[@]}"
    if [[ -n $setup ]]; then
        isolated "$CHECK_OUT" "" "$setup"
        if ((ISOLATED_RC != 0)); then
            local why
            why="not run: $setup failed: $(tail -n 3 "$CHECK_OUT")"
            while (($# > 0)); do
                record "$1" failed "$why"
                shift 2
            done
        fi
    fi
    while (($# > 0)); do
        check "$1" "$2"
        shift 2
    done
    write_report "$section" "$total" "$((${#selected[@]} / 2))"
}
# etcdctl_on HOST ENDPOINTS ARGS...: etcdctl on HOST with the health-check client certificate.
etcdctl_on() {
    local host=$1 endpoints=$2
    shift 2
    on "$host" etcdctl --endpoints="$endpoints" --cacert=/etc/etcd/pki/ca.crt \
        --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key "$@"
}

# render_fact JS: what the JavaScript expression JS gives of r, the program's render module (bin/,
# compiled by hosts-lib's load_plan), one item a line; so a check states no value of the program's.
render_fact() {
    node -e 'const r = require(process.argv[1]); const v = eval(process.argv[2]); if (v === undefined) process.exit(1); for (const l of [].concat(v)) console.log(l);' \
        "$ROOT/bin/components/render" "$1"
}
# running_flag HOST UNIT FLAG: the --FLAG=... argument of UNIT's running main process on HOST, from
# /proc (what runs, not what the unit file says); fails when the unit runs no process or lacks it.
running_flag() {
    on "$1" 'pid=$(systemctl show -p MainPID --value '"$2"') && [ "$pid" -gt 0 ] && tr "\0" "\n" </proc/"$pid"/cmdline | grep -E "^--'"$3"'="'
}

# --- 1. API through the VIP -------------------------------------------------------------------
c_server() { [[ $("$KUBECTL" config view -o jsonpath='{.clusters[0].cluster.server}') == "https://$VIP:6443" ]] && echo "server https://$VIP:6443"; }
c_nodes_ready() {
    local out
    out=$("$KUBECTL" get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}')
    echo "$out"
    [[ $out == *"w1=True"* && $out == *"w2=True"* && $out == *"w4=True"* && $out != *"=False"* && $out != *"=Unknown"* ]]
}

# --- 2. Workloads -----------------------------------------------------------------------------
c_pods() {
    "$KUBECTL" delete pod -l app=k8sha-check --ignore-not-found --wait=true >/dev/null
    local node
    for node in w1 w2; do
        "$KUBECTL" run "check-$node" --image=docker.io/library/busybox:1.35.0 --labels=app=k8sha-check \
            --overrides="{\"spec\":{\"nodeName\":\"$node\"}}" --restart=Never -- sleep 600 >/dev/null
    done
    "$KUBECTL" wait --for=condition=Ready pod -l app=k8sha-check --timeout=120s
}
# The answer (after the Name line) must be the kubernetes Service's address, exactly: the
# resolver's own 10.96.0.10 starts with the same characters.
c_dns() {
    local out
    # busybox's nslookup exits 1 when one of its queries (AAAA) has no answer: the A answer decides.
    out=$("$KUBECTL" exec check-w1 -- nslookup kubernetes.default.svc.cluster.local 2>&1) || true
    echo "$out"
    awk '/^Name:/ { named = 1 } named && $1 == "Address:" && $2 == "10.96.0.1" { found = 1 } END { exit !found }' <<<"$out" &&
        ! awk '/^Name:/ { named = 1 } named && $1 == "Address:" { print $2 }' <<<"$out" | grep -qv '^10\.96\.0\.1$'
}
c_cross_node() {
    local ip
    ip=$("$KUBECTL" get pod check-w2 -o jsonpath='{.status.podIP}')
    "$KUBECTL" exec check-w1 -- ping -c 2 -W 2 "$ip"
}
# The mirror keeps what it served under the name the nodes asked for: busybox, which c_pods pulled.
c_mirror_pulled() {
    local repos
    repos=$(on mirror 'ls /var/lib/docker-registry/docker/registry/v2/repositories/docker.io/library/')
    echo "on mirror, docker.io/library/: $(tr '\n' ' ' <<<"$repos")"
    grep -qx busybox <<<"$repos"
}

# --- 3. etcd ----------------------------------------------------------------------------------
c_etcd_health() {
    local out
    # etcdctl exits 1 when a member is unhealthy: the count decides, and the output shows which
    # (an unreachable cp1 counts none).
    out=$(etcdctl_on cp1 https://10.213.0.21:2379,https://10.213.0.22:2379,https://10.213.0.23:2379 endpoint health 2>&1) || true
    echo "$out"
    [[ $(grep -c "is healthy" <<<"$out") == 3 ]]
}
# Each answers from cp1 (an unreachable cp1 fails the check); what curl got is the verdict: the TLS
# port answers plain HTTP with 400 or drops it, and ends a handshake without a client certificate.
c_etcd_plain_refused() {
    local out
    out=$(on cp1 'curl -s -m 5 -o /dev/null -w "%{http_code}" http://10.213.0.21:2379/health; echo " curl exit $?"') || { echo "cp1 unreachable"; return 1; }
    echo "plain HTTP to etcd: HTTP $out"
    [[ $out == "400 curl exit 0" || $out =~ ^000\ curl\ exit\ (52|56)$ ]]
}
# Without a client certificate etcd ends the connection (TLS 1.3: after the handshake, so curl
# reports 35, 55 or 56); the same request with the health-check certificate answers 200, so the
# refusal is the certificate's.
c_etcd_nocert_refused() {
    local out with
    out=$(on cp1 'curl -s -m 5 -o /dev/null -w "%{http_code}" --cacert /etc/etcd/pki/ca.crt https://10.213.0.21:2379/health; echo " curl exit $?"') || { echo "cp1 unreachable"; return 1; }
    with=$(on cp1 'curl -s -m 5 -o /dev/null -w "%{http_code}" --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/healthcheck-client.crt --key /etc/etcd/pki/healthcheck-client.key https://10.213.0.21:2379/health; echo " curl exit $?"') || { echo "cp1 unreachable"; return 1; }
    echo "without a client certificate: HTTP $out; with the health-check certificate: HTTP $with"
    [[ $out =~ ^000\ curl\ exit\ (35|55|56)$ && $with == "200 curl exit 0" ]]
}

# --- 4. API and kubelet security ---------------------------------------------------------------
c_anonymous_api() { [[ $(curl -sk -o /dev/null -w '%{http_code}' "https://$VIP:6443/api") == 401 ]] && echo "GET /api anonymous: 401"; }
c_readyz() { [[ $(curl -sk "https://$VIP:6443/readyz") == ok ]] && echo "GET /readyz anonymous: ok"; }
c_external_ips_refused() {
    local out
    if out=$(printf '%s\n' '{"apiVersion":"v1","kind":"Service","metadata":{"name":"k8sha-external-ip","namespace":"default"},' \
        '"spec":{"ports":[{"port":80}],"externalIPs":["10.213.0.99"]}}' | "$KUBECTL" create --dry-run=server -f - 2>&1); then
        echo "accepted: $out"
        return 1
    fi
    echo "$out"
    [[ $out == *"external IPs is denied"* ]]
}
c_secret_encrypted() {
    "$KUBECTL" -n default create secret generic k8sha-check --from-literal=planted=PLANTED-SECRET-VALUE --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
    local value
    # Read once, whole (no head to cut the pipe): a failed read fails the check, not the grep.
    value=$(etcdctl_on cp1 https://127.0.0.1:2379 get /registry/secrets/default/k8sha-check --print-value-only | tr -c '[:print:]' '.')
    echo "stored value on cp1's etcd (${#value} bytes) starts: ${value:0:40}"
    [[ $value == k8s:enc:* && $value != *PLANTED-SECRET-VALUE* ]]
}
# A read of a Secret is in an apiserver's audit log, with who read it (metadata only: never the value).
c_audit_secret_read() {
    "$KUBECTL" -n default get secret k8sha-check -o name >/dev/null || return 1
    local h line
    sleep 2 # the audit log is written in batches
    for h in cp1 cp2 cp3; do
        # The remote pipeline ends in tail (status 0 with no line): only an unreachable host fails here.
        line=$(on "$h" 'grep "\"resource\":\"secrets\"" /var/log/kubernetes/audit.log | grep "\"name\":\"k8sha-check\"" | grep "\"verb\":\"get\"" | tail -n 1')
        if [[ -n $line ]]; then
            python3 -c 'import json, sys; e = json.loads(sys.argv[1]); print("%s: %s %s/%s by %s, level %s, response %s" % (sys.argv[2], e["verb"], e["objectRef"]["namespace"], e["objectRef"]["name"], e["user"]["username"], e["level"], e["responseStatus"]["code"]))' "$line" "$h"
            [[ $line != *PLANTED-SECRET-VALUE* ]] || { echo "$h: the audit log holds the secret's value"; return 1; }
            return 0
        fi
    done
    echo "no apiserver logged the read"
    return 1
}
c_privileged_refused() {
    local out
    if out=$(printf '%s\n' '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"k8sha-privileged","namespace":"default"},' \
        '"spec":{"containers":[{"name":"c","image":"docker.io/library/busybox:1.35.0","securityContext":{"privileged":true}}]}}' |
        "$KUBECTL" create --dry-run=server -f - 2>&1); then
        echo "accepted: $out"
        return 1
    fi
    echo "$out"
    [[ $out == *'violates PodSecurity "baseline:latest"'* ]]
}
# CIS 1.3.1: every controller-manager runs with the program's --terminated-pod-gc-threshold.
c_terminated_pod_gc() {
    local h want got bad=0
    want=$(render_fact 'r.TERMINATED_POD_GC_THRESHOLD') || { echo "the program's TERMINATED_POD_GC_THRESHOLD is unreadable"; return 1; }
    for h in cp1 cp2 cp3; do
        got=$(running_flag "$h" kube-controller-manager terminated-pod-gc-threshold) || { echo "$h: no --terminated-pod-gc-threshold read (kube-controller-manager not running, the flag absent, or $h unreachable)"; bad=1; continue; }
        echo "$h: $got"
        [[ $got == "--terminated-pod-gc-threshold=$want" ]] || bad=1
    done
    ((bad == 0))
}
# CIS 1.2.9: every apiserver runs the EventRateLimit admission plugin.
c_event_rate_limit_enabled() {
    local h got bad=0
    for h in cp1 cp2 cp3; do
        got=$(running_flag "$h" kube-apiserver enable-admission-plugins) || { echo "$h: no --enable-admission-plugins read (kube-apiserver not running, the flag absent, or $h unreachable)"; bad=1; continue; }
        echo "$h: $got"
        [[ ,${got#*=}, == *,EventRateLimit,* ]] || bad=1
    done
    ((bad == 0))
}
# CIS 1.2.9, the effect: a burst of Events from one user to one apiserver (each counts its own) is
# cut at the per-user limit with 429. EventRateLimit ignores dry runs, so the Events are real; they
# go with the check. The admin's certificate is copied from the kubeconfig into a private folder.
c_event_rate_limit_burst() {
    local dir n=400 ep=${ADDR[cp1]}:6443 user qps burst i t0 ms codes created refused other named most rc=0
    if ! user=$("$KUBECTL" auth whoami -o jsonpath='{.status.userInfo.username}') || [[ -z $user ]]; then
        echo "kubectl auth whoami failed"
        return 1
    fi
    if ! qps=$(render_fact 'r.EVENT_RATE_LIMITS.find((l) => l.type === "User").qps') || ! burst=$(render_fact 'r.EVENT_RATE_LIMITS.find((l) => l.type === "User").burst'); then
        echo "the program's User event limit is unreadable"
        return 1
    fi
    dir=$(mktemp -d) || return 1
    chmod 0700 "$dir" || return 1
    if ! "$KUBECTL" config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$dir/client.crt" ||
        ! "$KUBECTL" config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$dir/client.key" ||
        ! "$KUBECTL" config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$dir/ca.crt" ||
        [[ ! -s $dir/client.crt || ! -s $dir/client.key || ! -s $dir/ca.crt ]]; then
        echo "no client certificate and CA in $KUBECONFIG"
        rm -rf "$dir"
        return 1
    fi
    printf '%s' '{"apiVersion":"v1","kind":"Event","metadata":{"generateName":"k8sha-check-","namespace":"default","labels":{"app":"k8sha-check"}},' \
        '"involvedObject":{"apiVersion":"v1","kind":"Namespace","name":"default"},"reason":"K8shaEventRateLimitCheck",' \
        '"message":"hosts-check: one of a burst of Events","type":"Normal","source":{"component":"k8sha-check"}}' >"$dir/event.json"
    for ((i = 0; i < n; i++)); do printf 'url = "https://%s/api/v1/namespaces/default/events"\noutput = "%s/r%d"\n' "$ep" "$dir" "$i"; done >"$dir/requests"
    t0=$(now_ms)
    # 20 requests in flight (one HTTP/2 connection): far faster than the bucket refills.
    codes=$(curl --no-progress-meter --http2 --parallel --parallel-max 20 --cacert "$dir/ca.crt" --cert "$dir/client.crt" --key "$dir/client.key" \
        -H 'Content-Type: application/json' --data-binary "@$dir/event.json" -w '%{http_code}\n' -K "$dir/requests" 2>"$dir/curl.err") || rc=$?
    ms=$(($(now_ms) - t0))
    created=$(grep -c '^201$' <<<"$codes" || true)
    refused=$(grep -c '^429$' <<<"$codes" || true)
    other=$((n - created - refused))
    # grep -l exits 1 when no answer names the limit: that is a count of 0.
    named=$({ grep -l "limit reached on type User for key $user" "$dir"/r* 2>/dev/null || true; } | wc -l)
    # The bucket holds burst Events and refills at qps a second: no more can have been created.
    most=$((burst + qps * (ms + 999) / 1000))
    echo "$n Events POSTed as $user to $ep in $ms ms: $created created, $refused refused with 429 ($named naming the User limit), $other other (curl exit $rc$( [[ -s $dir/curl.err ]] && echo ": $(head -n 2 "$dir/curl.err")")); the limit lets at most $burst + $qps/s = $most through"
    "$KUBECTL" -n default delete events -l app=k8sha-check --ignore-not-found >/dev/null || { echo "could not delete the check's Events"; rc=1; }
    rm -rf "$dir"
    ((rc == 0 && other == 0 && refused > 0 && named == refused && created >= burst && created <= most))
}
# 1.2.11 is not met on purpose (README): what AlwaysPullImages guards, the kubelets guard themselves.
# The policy is defaulted only with KubeletEnsureSecretPulledImages on, so seeing it shows the gate.
c_kubelet_pull_credentials() {
    local n policy bad=0
    for n in w1 w2 w4; do
        policy=$(kubelet_setting "$n" imagePullCredentialsVerificationPolicy None) || { echo "$n: its kubelet's configz is unreadable"; return 1; }
        echo "$n: imagePullCredentialsVerificationPolicy=$policy"
        [[ $policy == NeverVerifyPreloadedImages ]] || bad=1
    done
    ((bad == 0))
}
# kubelet_setting NODE FIELD DEFAULT: one field of NODE's running kubelet configuration (configz
# through the API), DEFAULT when the kubelet leaves it out.
kubelet_setting() {
    "$KUBECTL" get --raw "/api/v1/nodes/$1/proxy/configz" | python3 -c 'import json, sys; print(json.load(sys.stdin)["kubeletconfig"].get(sys.argv[1], sys.argv[2]))' "$2" "$3"
}
# Each worker's running kubelet configuration, as the kubelet reports it (configz through the API).
c_kubelet_hardening() {
    local n summary bad=0
    for n in w1 w2 w4; do
        summary=$("$KUBECTL" get --raw "/api/v1/nodes/$n/proxy/configz" | python3 -c '
import json, sys
c = json.load(sys.stdin)["kubeletconfig"]
print("seccompDefault=%s podPidsLimit=%s tlsMinVersion=%s tlsCipherSuites=%d protectKernelDefaults=%s eventRecordQPS=%s" % (
    c.get("seccompDefault"), c.get("podPidsLimit"), c.get("tlsMinVersion"), len(c.get("tlsCipherSuites") or []),
    c.get("protectKernelDefaults"), c.get("eventRecordQPS")))') || { echo "$n: its kubelet's configz is unreadable"; return 1; }
        echo "$n: $summary"
        [[ $summary == "seccompDefault=True podPidsLimit=4096 tlsMinVersion=VersionTLS12 tlsCipherSuites=6 "* ]] || bad=1
        [[ $summary == *" eventRecordQPS=50" ]] || bad=1
        # Only the VM worker owns its kernel tunables; the nspawn workers share this machine's.
        if [[ $n == w4 ]]; then [[ $summary == *"protectKernelDefaults=True "* ]] || bad=1; fi
    done
    ((bad == 0))
}
# tls_refuses_11 ENDPOINT: a TLS 1.1 handshake fails with the server's protocol-version answer. Not
# "no protocols available": that is the client unable to offer TLS 1.1, the server never asked.
tls_refuses_11() {
    local out
    out=$(openssl s_client -connect "$1" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null 2>&1) && { echo "$1 accepted TLS 1.1"; return 1; }
    grep -qiE "alert protocol version|unsupported protocol" <<<"$out" || { echo "$1: not a protocol-version refusal: $(tail -n 3 <<<"$out")"; return 1; }
    echo "$1 refused TLS 1.1"
}
c_tls_min_12() {
    local ep
    # The apiserver from here; etcd and the kubelet from cp1, the only kind of host their firewall lets in.
    tls_refuses_11 "$VIP:6443" || return 1
    for ep in 10.213.0.21:2379 10.213.0.21:2380 10.213.0.34:10250; do
        on cp1 "$(declare -f tls_refuses_11); tls_refuses_11 $ep" || return 1
    done
    # The same client reaches the apiserver and a kubelet with TLS 1.2 (etcd wants a client certificate).
    # The handshake's report is read whole (grep -q in a pipe could cut openssl's output short).
    local out
    out=$(openssl s_client -connect "$VIP:6443" -tls1_2 </dev/null 2>&1) || true
    grep -q "Protocol *: TLSv1.2" <<<"$out" || { echo "$VIP:6443 refused TLS 1.2 too: $(tail -n 2 <<<"$out")"; return 1; }
    echo "$VIP:6443 accepted TLS 1.2"
    out=$(on cp1 'openssl s_client -connect 10.213.0.34:10250 -tls1_2 </dev/null 2>&1; true')
    grep -q "Protocol *: TLSv1.2" <<<"$out" || { echo "10.213.0.34:10250 refused TLS 1.2 too (from cp1): $(tail -n 2 <<<"$out")"; return 1; }
    echo "10.213.0.34:10250 accepted TLS 1.2 (from cp1)"
}
c_kubelet_anonymous() { [[ $(on cp1 "curl -sk -o /dev/null -w '%{http_code}' https://10.213.0.31:10250/pods") == 401 ]] && echo "kubelet /pods anonymous, from cp1: 401"; }
# The kubelets' own setting (the firewall refuses 10255 from other hosts whatever it says), and
# nothing listening there on the worker itself.
c_readonly_port() {
    local n port out bad=0
    for n in w1 w2 w4; do
        port=$(kubelet_setting "$n" readOnlyPort 0) || { echo "$n: no configz"; return 1; }
        out=$(on "$n" 'curl -s -m 3 -o /dev/null http://127.0.0.1:10255/pods; echo "curl exit $?"') || { echo "$n unreachable"; return 1; }
        echo "$n: readOnlyPort=$port; 127.0.0.1:10255 from $n: $out"
        [[ $port == 0 && $out == "curl exit 7" ]] || bad=1
    done
    ((bad == 0))
}

# tcp_probe ADDRESS PORT: "open", "refused" or "timeout", connecting from where it runs (bash's /dev/tcp).
tcp_probe() {
    local err
    if err=$(timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>&1); then echo open; elif [[ $err == *refused* ]]; then echo refused; else echo timeout; fi
}
# expect_tcp FROM ADDRESS:PORT WANT: FROM is "lab" (10.213.0.1, not a node) or a host name. A probe
# that could not run (FROM unreachable) is no answer, so a "refused" is the target's.
expect_tcp() {
    local from=$1 ep=$2 want=$3 got t0
    t0=$(now_ms)
    if [[ $from == lab ]]; then
        got=$(tcp_probe "${ep%:*}" "${ep#*:}")
    elif ! got=$(on "$from" "$(declare -f tcp_probe); tcp_probe ${ep%:*} ${ep#*:}"); then
        got="not probed ($from unreachable)"
    fi
    echo "from $from to $ep: $got in $(($(now_ms) - t0)) ms (want $want)"
    [[ $got == "$want" ]]
}
# --- 4. Host firewall: each port answers only the hosts that use it ---------------------------
c_firewall_refuses_outsider() {
    local ep bad=0
    # etcd client and peer, a worker's kubelet (nspawn and VM), the registry, NFS.
    for ep in 10.213.0.21:2379 10.213.0.22:2380 10.213.0.31:10250 10.213.0.34:10250 10.213.0.41:5000 10.213.0.51:2049; do
        expect_tcp lab "$ep" refused || bad=1
    done
    # What a registry push and an NFS mount from here get.
    local code
    code=$(curl -sk -o /dev/null -w '%{http_code}' -X POST "https://10.213.0.41:5000/v2/k8sha/probe/blobs/uploads/" 2>&1 || true)
    echo "registry push (POST /v2/.../blobs/uploads/) from 10.213.0.1: HTTP ${code:-none}"
    [[ $code == 000 ]] || bad=1
    if ! command -v nfs-ls >/dev/null && ! apt-get install -y -qq libnfs-utils >/dev/null; then
        echo "lab: nfs-ls is missing and libnfs-utils did not install"
        return 1
    fi
    # nfs-ls must have run (126/127: it could not) and been turned away; what it said is the evidence.
    local nfs_rc=0 nfs_out
    nfs_out=$(nfs-ls nfs://10.213.0.51/srv/nfs/k8s 2>&1) || nfs_rc=$?
    if ((nfs_rc == 0)); then
        echo "nfs-ls from 10.213.0.1 listed the export"
        bad=1
    elif ((nfs_rc == 126 || nfs_rc == 127)); then
        echo "lab: nfs-ls could not run (exit $nfs_rc): $(head -n 1 <<<"$nfs_out")"
        bad=1
    else
        echo "nfs-ls from 10.213.0.1: refused (exit $nfs_rc: $(head -n 1 <<<"$nfs_out"))"
    fi
    # SSH answers the Pulumi machine (10.213.0.1, inside nodeNetwork: firewall.sshFrom's default);
    # c_firewall_ssh_node_network checks that it answers no one else. The API stays open to everyone.
    expect_tcp lab 10.213.0.31:22 open || bad=1
    expect_tcp lab "$VIP:6443" open || bad=1
    ((bad == 0))
}
# SSH from the node network only (firewall.sshFrom's default, and what the lab's stack leaves it
# at): on every host, the live input chain's one rule for port 22 names 10.213.0.0/24 as its
# source. A rule without a source would let in any address, IPv6 included. The lab has no address
# outside the node network to probe from, so the loaded rules are read instead.
c_firewall_ssh_node_network() {
    local h chain ssh bad=0
    for h in lb1 lb2 cp1 cp2 cp3 w1 w2 w4 mirror nfs; do
        chain=$(on "$h" 'nft list chain inet k8s_ha input') || { echo "$h: the firewall's input chain not read"; bad=1; continue; }
        # grep exits 1 when no line is left: the lines found decide.
        ssh=$(sed -E 's/^[[:space:]]+//' <<<"$chain" | grep -E '(^| )tcp dport (22|\{[^}]*[ {]22[,} ][^}]*\}) ' || true)
        echo "$h: SSH: ${ssh//$'\n'/; }"
        if ! grep -q 'policy drop;' <<<"$chain"; then
            echo "$h: the input chain's policy is not drop"
            bad=1
        fi
        [[ $ssh == 'ip saddr 10.213.0.0/24 tcp dport 22 accept comment "ssh"' ]] || bad=1
    done
    ((bad == 0))
}
c_firewall_admits_users() {
    local bad=0
    expect_tcp cp1 10.213.0.22:2379 open || bad=1
    expect_tcp cp2 10.213.0.23:2380 open || bad=1
    expect_tcp cp1 10.213.0.31:10250 open || bad=1
    expect_tcp w1 10.213.0.41:5000 open || bad=1
    expect_tcp w4 10.213.0.51:2049 open || bad=1
    # Nodes are not etcd clients, and one kubelet does not talk to another.
    expect_tcp w1 10.213.0.21:2379 refused || bad=1
    # Nor is the NFS server since the members take the snapshots (issue 26, M2).
    expect_tcp nfs 10.213.0.21:2379 refused || bad=1
    expect_tcp w1 10.213.0.32:10250 refused || bad=1
    expect_tcp lb1 10.213.0.41:5000 refused || bad=1
    ((bad == 0))
}
c_registry_push_from_node() {
    local code
    # A pull-through mirror takes no pushes at all, from anyone.
    code=$(on w1 "curl -s --cacert /etc/kubernetes/pki/ca.crt -o /dev/null -w '%{http_code}' -X POST https://10.213.0.41:5000/v2/k8sha/probe/blobs/uploads/" || true)
    echo "registry push (POST /v2/.../blobs/uploads/) from w1: HTTP $code"
    [[ $code =~ ^(401|403|405)$ ]]
}
c_admin_group() {
    local groups
    groups=$("$KUBECTL" auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}')
    echo "the kubeconfig output is: $groups; can-i '*' '*': $("$KUBECTL" auth can-i '*' '*')"
    [[ $groups == *'"k8s-ha:cluster-admins"'* && $groups != *system:masters* && $("$KUBECTL" auth can-i '*' '*') == yes ]]
}
# break_glass_setting: "HOST HOURS", where the break-glass kubeconfig is kept (a control-plane host,
# or none) and its validity in hours, from the stack output adminCredential; fails without them.
break_glass_setting() {
    bash scripts/pulumi.sh stack output adminCredential --json 2>/dev/null | admin_credential_fields
}
# admin_credential_fields: reads the adminCredential output (JSON) on stdin, prints "HOST HOURS".
admin_credential_fields() {
    node -e 'const a = JSON.parse(require("fs").readFileSync(0, "utf8")) ?? {};
const ok = typeof a.breakGlassHost === "string" && /^[a-z0-9-]+$/.test(a.breakGlassHost) && Number.isInteger(a.breakGlassValidityHours);
if (!ok) process.exit(1);
console.log(`${a.breakGlassHost} ${a.breakGlassValidityHours}`);'
}
# The installer's kubeconfig is on cp1 only, the break-glass one on the host adminCredential names
# only (none: on no host) (README, The break-glass credential), each root's and 0600; no
# control-plane host keeps the admin.kubeconfig of earlier releases.
c_break_glass_one_host() {
    local bg inst h out want setting where
    if ! bg=$(render_fact 'r.K8S_FILES.breakGlassKubeconfig') || ! inst=$(render_fact 'r.K8S_FILES.installerKubeconfig'); then
        echo "the program's kubeconfig paths are unreadable"
        return 1
    fi
    setting=$(break_glass_setting) || { echo "the stack output adminCredential names no breakGlassHost"; return 1; }
    where=${setting%% *}
    echo "break-glass host: $where"
    for h in cp1 cp2 cp3; do
        out=$(on "$h" "for f in $bg $inst /etc/kubernetes/admin.kubeconfig; do stat -c '%n %U %a' \$f 2>/dev/null || echo \"\$f absent\"; done") || { echo "$h unreachable"; return 1; }
        if [[ $h == "$where" ]]; then want="$bg root 600"; else want="$bg absent"; fi
        if [[ $h == cp1 ]]; then want+=$'\n'"$inst root 600"; else want+=$'\n'"$inst absent"; fi
        want+=$'\n'"/etc/kubernetes/admin.kubeconfig absent"
        echo "$h: $(paste -sd, <<<"$out")"
        [[ $out == "$want" ]] || { echo "$h: want $(paste -sd, <<<"$want")"; return 1; }
    done
    if [[ $where != none ]]; then
        on "$where" "grep -q 'name: $(render_fact 'r.BREAK_GLASS_USER')\$' $bg" || { echo "$where: $bg is not the break-glass user's"; return 1; }
    fi
}
# validity_verdict NOT_BEFORE NOT_AFTER HOURS: the certificate's dates (as openssl prints them) span
# HOURS, within a minute, and it has not expired.
validity_verdict() {
    local from to span want=$(($3 * 3600)) now
    if ! from=$(date -u -d "$1" +%s) || ! to=$(date -u -d "$2" +%s); then
        echo "unreadable dates '$1', '$2'"
        return 1
    fi
    span=$((to - from)) now=$(date -u +%s)
    echo "valid $((span / 3600)) h $((span % 3600 / 60)) min ($1 to $2), the setting $3 h"
    ((span >= want - 60 && span <= want + 60)) || { echo "want $3 h"; return 1; }
    ((to > now)) || { echo "expired"; return 1; }
}
# The break-glass certificate (in the kubeconfig on its host) is valid for the hours adminCredential
# sets (breakGlassValidityHours), in system:masters; with none, there is nothing on a host to check.
c_break_glass_validity() {
    local bg setting where hours dates
    bg=$(render_fact 'r.K8S_FILES.breakGlassKubeconfig') || { echo "the program's kubeconfig path is unreadable"; return 1; }
    setting=$(break_glass_setting) || { echo "the stack output adminCredential names no breakGlassHost"; return 1; }
    where=${setting%% *} hours=${setting#* }
    if [[ $where == none ]]; then
        echo "breakGlassHost none: no host keeps it"
        return 0
    fi
    dates=$(on "$where" "grep -m1 'client-certificate-data:' $bg | awk '{print \$2}' | base64 -d | openssl x509 -noout -subject -startdate -enddate") || { echo "$where: no certificate in $bg"; return 1; }
    echo "$where: $(paste -sd, <<<"$dates")"
    if ! grep -q 'O *= *system:masters' <<<"$dates" || ! grep -q "CN *= *$(render_fact 'r.BREAK_GLASS_USER')\$" <<<"$dates"; then
        echo "$where: not the break-glass user in system:masters"
        return 1
    fi
    validity_verdict "$(sed -n 's/^notBefore=//p' <<<"$dates")" "$(sed -n 's/^notAfter=//p' <<<"$dates")" "$hours"
}
# break_glass_audit_verdict INSTALLER BREAK_GLASS: reads "TIMESTAMP USER KIND" lines (RFC 3339,
# any order; KIND ssar for a SelfSubjectAccessReview, which any user may make, else req) of the two
# users' audit events. Passes when the installer made a request of its own (not a
# SelfSubjectAccessReview: its steps ask whether they are bound yet) and the break-glass user none
# after the installer's first: the add-ons step goes as break-glass only while the installer is
# unbound, so its bootstrap, and the steps of an earlier release, come before.
break_glass_audit_verdict() {
    local installer=$1 bg=$2 first="" ts user kind n_before=0 late=""
    while read -r ts user kind; do
        [[ -n $ts ]] || continue
        if [[ -z $first ]]; then
            if [[ $user == "$installer" && $kind == req ]]; then first=$ts; elif [[ $user == "$bg" ]]; then n_before=$((n_before + 1)); fi
        elif [[ $user == "$bg" ]]; then
            late="${late:+$late }$ts"
        fi
    done < <(sort)
    [[ -n $first ]] || { echo "no request of $installer in the audit logs (but SelfSubjectAccessReviews); $bg made $n_before"; return 1; }
    echo "$bg: $n_before requests before $installer's first ($first), ${late:-none} after"
    [[ -z $late ]]
}
# audit_kinds: the audit log lines on stdin (JSON, one event a line) as "TIME USER KIND", one per
# completed request: KIND is nonresource (discovery: /api, /apis, /version), ssar (a
# SelfSubjectAccessReview, kubectl auth can-i), denied (4xx/5xx) or req (a request RBAC let through).
audit_kinds() {
    node -e '
        const lines = require("fs").readFileSync(0, "utf8").split("\n");
        for (const l of lines) {
            let e;
            try { e = JSON.parse(l); } catch { continue; }
            if (e.stage !== "ResponseComplete") continue;
            const r = e.objectRef?.resource;
            const code = e.responseStatus?.code ?? 0;
            const kind = !r ? "nonresource" : r === "selfsubjectaccessreviews" ? "ssar" : code >= 400 ? "denied" : "req";
            console.log(`${e.requestReceivedTimestamp} ${e.user?.username} ${kind}`);
        }'
}
# The installer's steps no longer go as break-glass: in the apiservers' audit logs, once the
# installer made its first request that RBAC let through (its binding exists from then on), the
# break-glass user made none. Before it, the installer only asks (discovery, can-i, denied
# requests), and the add-ons step applies the binding as break-glass (a new cluster, or the first up
# after a release without it). A person using the break-glass kubeconfig on cp1 after an up fails
# this check too: the e2e suite never does.
c_installer_not_break_glass() {
    local installer bg log h
    if ! installer=$(render_fact 'r.INSTALLER_USER') || ! bg=$(render_fact 'r.BREAK_GLASS_USER') || ! log=$(render_fact 'r.K8S_FILES.auditLog'); then
        echo "the program's user names are unreadable"
        return 1
    fi
    for h in cp1 cp2 cp3; do
        on "$h" "test -r $log && { grep -hE '\"username\":\"($installer|$bg)\"' $log || true; }" | audit_kinds || { echo "$h: the audit log is unreadable"; return 1; }
    done | break_glass_audit_verdict "$installer" "$bg"
}
c_addons_by_digest() {
    local out
    out=$("$KUBECTL" -n kube-system get deploy -o jsonpath='{range .items[*]}{.metadata.name}={.spec.template.spec.containers[0].image} {end}')
    echo "$out"
    # Every kube-system Deployment (CoreDNS, the NFS provisioner) names its image with a digest.
    [[ -n $out ]] && ! grep -qvE '@sha256:[0-9a-f]{64}$' < <(tr ' ' '\n' <<<"${out% }")
}
# pause_facts (runs on a worker): the sandbox image its containerd config names (as containerd reads
# it), how many seconds after that file was last written containerd became active (negative: it
# runs an older config), and whether containerd's store holds that image pinned (kept from GC).
pause_facts() {
    local ref started written store
    ref=$(containerd --config /etc/containerd/config.toml config dump | grep -E '^[[:space:]]*sandbox = ' | grep -oE "registry\.k8s\.io/pause[^\"' ]*" || true)
    started=$(date -d "$(systemctl show -p ActiveEnterTimestamp --value containerd)" +%s)
    written=$(stat -c %Y /etc/containerd/config.toml)
    store=$(ctr -n k8s.io images ls | awk -v r="$ref" '$1 == r { print ($0 ~ /io\.cri-containerd\.pinned=pinned/ ? "pinned" : "not pinned"); exit }')
    echo "sandbox ${ref:-none}; started $((started - written)) s after the config was written; in the store: ${store:-absent}"
}
# The sandbox (pause) image by digest: every worker's running containerd pins
# registry.k8s.io/pause@sha256:…, the same digest on all, and holds that image pinned.
c_pause_by_digest() {
    local n out digests="" bad=0
    for n in w1 w2 w4; do
        out=$(on "$n" "$(declare -f pause_facts); pause_facts") || { echo "$n: not read"; bad=1; continue; }
        echo "$n: $out"
        [[ $out =~ ^sandbox\ registry\.k8s\.io/pause@(sha256:[0-9a-f]{64})\;\ started\ [0-9]+\ s\ after\ the\ config\ was\ written\;\ in\ the\ store:\ pinned$ ]] || { bad=1; continue; }
        digests+="${BASH_REMATCH[1]}"$'\n'
    done
    if [[ $(sort -u <<<"${digests%$'\n'}" | wc -l) != 1 ]]; then
        echo "the workers name different digests (or none)"
        bad=1
    fi
    ((bad == 0))
}
c_etcd_user() {
    local h out bad=0
    for h in cp1 cp2 cp3; do
        out=$(on "$h" 'echo "process: $(ps -o user= -C etcd | sort -u | tr "\n" " ")data: $(stat -c "%U %a" /var/lib/etcd) keys: $(stat -c "%n %U %a" /etc/etcd/pki/server.key /etc/etcd/pki/peer.key | tr "\n" " ")"') || {
            echo "$h: not read"
            bad=1
            continue
        }
        echo "$h: $out"
        [[ $out == "process: etcd data: etcd 700 keys: /etc/etcd/pki/server.key etcd 600 /etc/etcd/pki/peer.key etcd 600 " ]] || bad=1
    done
    ((bad == 0))
}
c_key_modes() {
    local bad=""
    local h
    local keys=0 out
    for h in cp1 cp2 cp3 w1 w2 mirror; do
        # The keys each host has, and those open to others; an unreachable host fails the check.
        out=$(on "$h" 'find /etc/kubernetes /etc/etcd /etc/docker/registry -name "*.key" 2>/dev/null | wc -l; find /etc/kubernetes /etc/etcd /etc/docker/registry -name "*.key" \( -perm /077 \) ! -path "*/registry/tls/*" -printf "%p %m\n" 2>/dev/null; find /etc/docker/registry/tls -name "*.key" -perm /007 -printf "%p %m\n" 2>/dev/null; true') || { echo "$h unreachable"; return 1; }
        [[ $(head -n 1 <<<"$out") -gt 0 ]] || { echo "$h: no private key found"; return 1; }
        keys=$((keys + $(head -n 1 <<<"$out")))
        bad+=$(tail -n +2 <<<"$out")
    done
    echo "$keys private keys on 6 hosts"
    echo "${bad:-every private key is 0600 (registry key 0640, group docker-registry)}"
    [[ -z $bad ]]
}

# --- 5. Load balancers ------------------------------------------------------------------------
c_haproxy_up() {
    local h stat out
    for h in lb1 lb2; do
        # An unreachable host or a silent admin socket fails the check (the remote status is socat's).
        stat=$(on "$h" 'echo "show stat" | socat stdio /run/haproxy/admin.sock') || { echo "$h: no HAProxy stats"; return 1; }
        # grep -v exits 1 when no server line is left: the count of UP decides.
        out=$(awk -F, '$1=="apiservers" || $1 ~ /kube/ {print $2"="$18}' <<<"$stat" | grep -v BACKEND | grep -v FRONTEND || true)
        echo "$h: $out"
        [[ $(grep -c "=UP" <<<"$out") == 3 ]] || return 1
    done
}
c_one_vip() {
    local n=0 h addrs
    for h in lb1 lb2; do
        # Read, then looked at here: an unreachable lb host fails the check instead of holding nothing.
        addrs=$(on "$h" 'ip -o -4 addr show') || { echo "$h: addresses not read"; return 1; }
        if grep -q " $VIP/" <<<"$addrs"; then
            echo "$h holds $VIP"
            n=$((n + 1))
        else
            echo "$h does not hold $VIP"
        fi
    done
    ((n == 1))
}
# VRRP from the other lb host only (what protects the VIP; VRRPv3 has no authentication). In each
# lb host's live ruleset (policy drop) the one rule that accepts VRRP names the peer alone, and
# every other accept is for a TCP or UDP port, ICMP, loopback or a tracked connection; keepalived
# runs VRRPv3 with the same advert interval on both hosts and takes adverts from its unicast peer
# only (check_unicast_src).
c_vrrp_peer_only() {
    local h peer chain rules vrrp other conf want advert="" bad=0
    for h in lb1 lb2; do
        if [[ $h == lb1 ]]; then peer=${ADDR[lb2]}; else peer=${ADDR[lb1]}; fi
        chain=$(on "$h" 'nft list chain inet k8s_ha input') || { echo "$h: the firewall's input chain not read"; bad=1; continue; }
        rules=$(sed -E 's/^[[:space:]]+//' <<<"$chain")
        # grep exits 1 when no line is left: the lines found decide.
        vrrp=$(grep -E '(^| )(vrrp|112)( |$)' <<<"$rules" || true)
        other=$(grep -E '(^| )accept( |$)' <<<"$rules" | grep -vE '^iif "lo" accept$|^ct state established,related accept$|(^| )(tcp|udp) [ds]port |^meta l4proto (icmp|ipv6-icmp) accept |(^| )(vrrp|112)( |$)' || true)
        echo "$h: VRRP rule: ${vrrp:-none}${other:+; other accepts: $other}"
        if ! grep -q '^type filter hook input priority filter; policy drop;$' <<<"$rules"; then
            echo "$h: the input chain's policy is not drop"
            bad=1
        fi
        [[ $vrrp == "ip saddr $peer ip protocol vrrp accept"* && $vrrp != *$'\n'* && -z $other ]] || bad=1
        conf=$(on "$h" 'grep -xE "[[:space:]]*(vrrp_version [0-9]+|advert_int [0-9.]+|check_unicast_src|[0-9.]+)" /etc/keepalived/keepalived.conf') || { echo "$h: keepalived.conf not read, or none of its VRRP lines"; bad=1; continue; }
        conf=$(sed -E 's/^[[:space:]]+//' <<<"$conf")
        echo "$h: keepalived: ${conf//$'\n'/, }"
        want="^vrrp_version 3"$'\n'"(advert_int [0-9.]+)"$'\n'"check_unicast_src"$'\n'"${peer//./\\.}\$"
        [[ $conf =~ $want ]] || { echo "$h: not VRRPv3 with check_unicast_src and the peer $peer alone"; bad=1; continue; }
        if [[ -n $advert && ${BASH_REMATCH[1]} != "$advert" ]]; then echo "$h: ${BASH_REMATCH[1]}, the other lb host $advert"; bad=1; fi
        advert=${BASH_REMATCH[1]}
    done
    ((bad == 0))
}

# --- 6. NFS -----------------------------------------------------------------------------------
c_nfs_root_squash() {
    # Mounted as root on w4 (a client of the export): root's file belongs to nobody on the server.
    on w4 'd=$(mktemp -d) && mount -t nfs4 10.213.0.51:/srv/nfs/k8s "$d" && { echo squash >"$d/root-squash-probe"; rc=$?; umount "$d"; rmdir "$d"; exit $rc; }' || return 1
    local owner
    owner=$(on nfs 'stat -c %U /srv/nfs/k8s/root-squash-probe; rm -f /srv/nfs/k8s/root-squash-probe')
    echo "a file written by root on w4 is owned by: $owner"
    [[ $owner == nobody ]]
}
c_nfs_exports() {
    local out
    out=$(on nfs 'exportfs -v')
    echo "$out"
    # One entry per worker, root squashed, and nothing wider; every handle checked to lie in the
    # export (exportfs -v says no_subtree_check otherwise).
    [[ $(grep -cE "^[[:space:]]*(/srv/nfs/k8s)?[[:space:]]*10\.213\.0\.3[124]\(.*root_squash" <<<"$out") == 3 ]] && ! grep -q "/24" <<<"$out" && ! grep -q no_subtree_check <<<"$out"
}

# inline_nfs_pod NAMESPACE: a pod that mounts the whole export inline (nfs:), as JSON.
inline_nfs_pod() {
    printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"k8sha-inline-nfs","namespace":"%s"},"spec":{"containers":[%s],"volumes":[%s]}}' "$1" \
        '{"name":"c","image":"docker.io/library/busybox:1.35.0","command":["sleep","60"],"volumeMounts":[{"name":"export","mountPath":"/export"}]}' \
        "{\"name\":\"export\",\"nfs\":{\"server\":\"${ADDR[nfs]}\",\"path\":\"$NFS_EXPORT_DIR\"}}"
}
# Review-security-2 M1: the add-ons' ValidatingAdmissionPolicy refuses it in default (server-side dry run)...
c_inline_nfs_refused() {
    local policy message out
    if ! policy=$(render_fact 'r.INLINE_NFS_POLICY') || ! message=$(render_fact 'r.inlineNfsMessage("nfs")'); then
        echo "the program's policy name or message is unreadable"
        return 1
    fi
    if out=$(inline_nfs_pod default | "$KUBECTL" create --dry-run=server -f - 2>&1); then
        echo "accepted: $out"
        return 1
    fi
    echo "$out"
    [[ $out == *"ValidatingAdmissionPolicy '$policy' with binding '$policy' denied request: $message"* ]]
}
# ...and admits it in kube-system, where the NFS provisioner mounts the export that way.
c_inline_nfs_kube_system() { inline_nfs_pod kube-system | "$KUBECTL" create --dry-run=server -f - 2>&1; }

# POD_TCP_PROBE: what a probe pod runs (busybox sh, ADDRESS:PORT arguments), one "ADDRESS:PORT
# open|timeout|closed" line each. nc connects in the background; 3 s later the pod's own socket table
# says where that connection is: SYN_SENT (02) is a SYN nobody answered (dropped), any other state a
# connection made; none left, nc gave up on it (refused, or unreachable). nc's exit status is not
# used: busybox builds differ in what -w does, and an open connection never ends by itself.
POD_TCP_PROBE=$(
    cat <<'EOF'
for t in "$@"; do
    a=${t%:*}
    p=${t##*:}
    sleep 6 | nc "$a" "$p" >/dev/null 2>&1 &
    want=$(echo "$a" | awk -F. '{ printf "%02X%02X%02X%02X", $4, $3, $2, $1 }'):$(printf '%04X' "$p")
    # Each second for 3 s: established (01) once is open, even if the peer then closes the idle
    # connection (CoreDNS does after 2 s); gone before that is closed (refused); still sending
    # SYNs (02) after 3 s is a timeout (dropped).
    verdict=""
    for i in 1 2 3; do
        sleep 1
        st=$(awk -v r="$want" '$3 == r { print $4; exit }' /proc/net/tcp)
        case $st in
        02) verdict=timeout ;;
        "") verdict=closed && break ;;
        *) verdict=open && break ;;
        esac
    done
    kill $! 2>/dev/null
    echo "$t $verdict"
done
EOF
)
# probe_pod NAME NODE TARGET...: runs POD_TCP_PROBE on the targets in a pod on NODE (default
# namespace, restricted profile) and prints its lines once it Succeeded.
probe_pod() {
    local name=$1 node=$2 script args
    shift 2
    script=$(node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' "$POD_TCP_PROBE")
    args=$(printf ',"%s"' "$@")
    "$KUBECTL" delete pod "$name" --ignore-not-found --wait=true >/dev/null
    "$KUBECTL" apply -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$name","labels":{"app":"k8sha-check"}},
 "spec":{"nodeName":"$node","restartPolicy":"Never",
  "securityContext":{"runAsUser":1000,"runAsGroup":1000,"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
  "containers":[{"name":"c","image":"docker.io/library/busybox:1.35.0","command":["sh","-c",$script,"probe"$args],
   "securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}
EOF
    wait_phase pod "$name" Succeeded 120 >/dev/null || return 1
    "$KUBECTL" logs "$name"
    "$KUBECTL" delete pod "$name" --wait=false >/dev/null || echo "note: pod $name not deleted"
}
# expect_probes WANT... < LINES: every "TARGET WANT" line is in LINES (one TARGET=WANT a word).
expect_probes() {
    local lines want bad=0
    lines=$(cat)
    echo "$lines" | paste -sd ';' -
    for want in "$@"; do
        if ! grep -qxF "${want%=*} ${want##*=}" <<<"$lines"; then
            echo "want ${want%=*} ${want##*=}"
            bad=1
        fi
    done
    ((bad == 0))
}
# Issue 26 M1: the export trusts AUTH_SYS from the workers' addresses, which pods' traffic leaves
# with; each worker's firewall drops its pods' packets to the NFS server's ports (a timeout: the
# server's own firewall would refuse 111 and accept 2049). The same pods still reach the NFS host's
# SSH, the API and CoreDNS through their Services, and the mirror (controls: the probe can pass).
c_pods_nfs_dropped() {
    local ports api dns node p wants out bad=0
    if ! ports=$(render_fact 'r.POD_BLOCKED_NFS_PORTS'); then
        echo "the program's POD_BLOCKED_NFS_PORTS is unreadable"
        return 1
    fi
    api=$("$KUBECTL" -n default get svc kubernetes -o jsonpath='{.spec.clusterIP}:{.spec.ports[?(@.name=="https")].port}')
    dns=$("$KUBECTL" -n kube-system get svc kube-dns -o jsonpath='{.spec.clusterIP}:{.spec.ports[?(@.name=="dns-tcp")].port}')
    wants=("${ADDR[nfs]}:22=open" "$api=open" "$dns=open" "${ADDR[mirror]}:5000=open")
    for p in $ports; do wants+=("${ADDR[nfs]}:$p=timeout"); done
    # A container worker (nspawn) and the VM.
    for node in w1 w4; do
        echo -n "from a pod on $node: "
        if ! out=$(probe_pod "check-podnet-$node" "$node" "${wants[@]%=*}"); then
            echo "the probe pod did not run: $out"
            bad=1
            continue
        fi
        expect_probes "${wants[@]}" <<<"$out" || bad=1
    done
    ((bad == 0))
}

# --- 7. NFS storage: PVCs of the default StorageClass, used by pods on w4 (a VM that can mount NFS) --
NFS_EXPORT_DIR=/srv/nfs/k8s
STORAGE_FIGURES=$CHECK_E2E/storage.tsv

# pvc NAME ACCESS-MODE: a 1Gi claim of the default StorageClass (no storageClassName).
pvc() {
    "$KUBECTL" apply -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"$1","labels":{"app":"k8sha-check"}},
 "spec":{"accessModes":["$2"],"resources":{"requests":{"storage":"1Gi"}}}}
EOF
}
# volume_pod NAME CLAIM CMD: a pod on w4 as user 1000:1000 running CMD with the claim at /data.
volume_pod() {
    "$KUBECTL" apply -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$1","labels":{"app":"k8sha-check"}},
 "spec":{"nodeSelector":{"k8s-ha.io/nfs-client":"true"},"restartPolicy":"Never",
  "securityContext":{"runAsUser":1000,"runAsGroup":1000,"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
  "containers":[{"name":"c","image":"docker.io/library/busybox:1.35.0","command":["sh","-c","$3"],
   "securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}},
   "volumeMounts":[{"name":"v","mountPath":"/data"}]}],
  "volumes":[{"name":"v","persistentVolumeClaim":{"claimName":"$2"}}]}}
EOF
}
seconds_since() { awk -v ms=$(($(now_ms) - $1)) 'BEGIN { printf "%.1f", ms / 1000 }'; }
# wait_phase KIND NAME PHASE SECONDS: waits for .status.phase, prints the seconds it took.
wait_phase() {
    local start phase=""
    start=$(now_ms)
    while (($(now_ms) - start < $4 * 1000)); do
        phase=$("$KUBECTL" get "$1" "$2" -o jsonpath='{.status.phase}' 2>/dev/null || true)
        if [[ $phase == "$3" ]]; then
            seconds_since "$start"
            return 0
        fi
        [[ $phase == Failed ]] && break
        sleep 0.2
    done
    echo "$1/$2 is ${phase:-absent}, not $3, after $4 s" >&2
    "$KUBECTL" describe "$1" "$2" 2>&1 | tail -n 15 >&2
    return 1
}
# volume_dir CLAIM: the claim's directory name on the export (from its PV).
volume_dir() {
    local pv
    pv=$("$KUBECTL" get pvc "$1" -o jsonpath='{.spec.volumeName}')
    basename "$("$KUBECTL" get pv "$pv" -o jsonpath='{.spec.nfs.path}')"
}
figure() { printf '%s\t%s\n' "$1" "$2" >>"$STORAGE_FIGURES"; }

c_storage_class() {
    local out
    out=$("$KUBECTL" get storageclass nfs -o jsonpath='{.provisioner} default={.metadata.annotations.storageclass\.kubernetes\.io/is-default-class} reclaim={.reclaimPolicy} options={.mountOptions}')
    echo "$out; provisioner pod: $("$KUBECTL" -n kube-system get pods -l app.kubernetes.io/name=nfs-provisioner -o jsonpath='{.items[0].spec.nodeName} {.items[0].status.phase} user={.items[0].spec.securityContext.runAsUser}')"
    [[ $out == "k8s-ha.io/nfs default=true reclaim=Delete"* ]]
}
c_pvc_bound() {
    "$KUBECTL" delete pod,pvc -l app=k8sha-check --ignore-not-found --wait=true >/dev/null
    : >"$STORAGE_FIGURES"
    local t mode name pv
    for mode in ReadWriteMany ReadWriteOnce; do
        name=check-${mode,,}
        pvc "$name" "$mode"
        t=$(wait_phase pvc "$name" Bound 60) || return 1
        figure "pvc_bound_seconds_$mode" "$t"
        pv=$("$KUBECTL" get pvc "$name" -o jsonpath='{.spec.volumeName}')
        echo "PVC $name ($mode) Bound in $t s to $pv at $("$KUBECTL" get pv "$pv" -o jsonpath='{.spec.nfs.server}:{.spec.nfs.path} mountOptions={.spec.mountOptions}')"
    done
}
# A claim is found by name in the pod's own namespace only: a pod in another namespace naming
# default's Bound claim is never scheduled, so it never mounts the volume.
c_claim_other_namespace() {
    local ns=k8sha-check-other phase message rc=0
    if ! phase=$("$KUBECTL" -n default get pvc check-readwritemany -o jsonpath='{.status.phase}') || [[ $phase != Bound ]]; then
        echo "default/check-readwritemany is ${phase:-absent}, not Bound"
        return 1
    fi
    "$KUBECTL" create namespace "$ns" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null || return 1
    "$KUBECTL" -n "$ns" apply -f - >/dev/null <<EOF || rc=1
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"check-foreign-claim"},
 "spec":{"restartPolicy":"Never","securityContext":{"runAsUser":1000,"runAsGroup":1000,"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
  "containers":[{"name":"c","image":"docker.io/library/busybox:1.35.0","command":["cat","/data/hello"],
   "securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}},"volumeMounts":[{"name":"v","mountPath":"/data"}]}],
  "volumes":[{"name":"v","persistentVolumeClaim":{"claimName":"check-readwritemany"}}]}}
EOF
    if ((rc == 0)); then
        "$KUBECTL" -n "$ns" wait --for=condition=PodScheduled=False pod/check-foreign-claim --timeout=30s >/dev/null || rc=1
        message=$("$KUBECTL" -n "$ns" get pod check-foreign-claim -o jsonpath='{.status.phase} {.spec.nodeName}: {.status.conditions[?(@.type=="PodScheduled")].message}') || rc=1
        echo "a pod in $ns naming default's Bound claim check-readwritemany: $message"
        [[ $message == "Pending : "*'persistentvolumeclaim "check-readwritemany" not found'* ]] || rc=1
    fi
    "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null || { echo "could not delete namespace $ns"; rc=1; }
    ((rc == 0))
}
c_pvc_write() {
    local t dir owner content
    volume_pod check-writer check-readwritemany "id -u > /data/hello && echo k8s-ha-was-here >> /data/hello && grep ' /data ' /proc/mounts"
    t=$(wait_phase pod check-writer Succeeded 240) || return 1
    figure pod_write_seconds "$t"
    dir=$(volume_dir check-readwritemany)
    owner=$(on nfs "stat -c %u:%g $NFS_EXPORT_DIR/$dir/hello")
    content=$(on nfs "cat $NFS_EXPORT_DIR/$dir/hello" | tr '\n' ' ')
    echo "writer pod Succeeded $t s after creation; its mount: $("$KUBECTL" logs check-writer | tr '\n' ' '); on nfs: $NFS_EXPORT_DIR/$dir/hello owned $owner: $content"
    [[ $owner == 1000:1000 && $content == "1000 k8s-ha-was-here " ]]
}
c_pvc_read() {
    local t out
    volume_pod check-reader check-readwritemany 'cat /data/hello'
    t=$(wait_phase pod check-reader Succeeded 240) || return 1
    figure pod_read_seconds "$t"
    out=$("$KUBECTL" logs check-reader | tr '\n' ' ')
    echo "a second pod read, $t s after creation: $out"
    [[ $out == "1000 k8s-ha-was-here " ]]
}
c_pvc_reclaim() {
    local dirs=() claim pv left archived start
    for claim in check-readwritemany check-readwriteonce; do dirs+=("$(volume_dir "$claim")"); done
    pv=$("$KUBECTL" get pvc check-readwritemany -o jsonpath='{.spec.volumeName}')
    "$KUBECTL" delete pod -l app=k8sha-check --wait=true >/dev/null
    "$KUBECTL" delete pvc -l app=k8sha-check --wait=true >/dev/null
    start=$(now_ms)
    while "$KUBECTL" get pv "$pv" >/dev/null 2>&1; do
        (($(now_ms) - start < 60000)) || { echo "PV $pv still there 60 s after its claim was deleted"; return 1; }
        sleep 0.2
    done
    figure pv_deleted_seconds "$(seconds_since "$start")"
    left=$(on nfs "cd $NFS_EXPORT_DIR && for d in ${dirs[*]}; do [ -e \$d ] && echo \$d; done; true")
    archived=$(on nfs "cd $NFS_EXPORT_DIR && ls -d archived-* 2>/dev/null | tr '\n' ' '")
    echo "reclaim Delete + onDelete archive: PV $pv gone; left in place: ${left:-none}; archived: $archived"
    # The drill's own archives go, so the export is as the cluster found it.
    on nfs "cd $NFS_EXPORT_DIR && rm -rf archived-default-check-*"
    [[ -z $left && $archived == *"archived-default-check-readwritemany-"* && $archived == *"archived-default-check-readwriteonce-"* ]]
}

# --- 9. Clean hosts after down ----------------------------------------------------------------
c_clean() {
    local h left="" out
    # The lab's NFS VM image ships nfs-kernel-server and chrony installed and enabled (the lab put them
    # there, not the program), and the program leaves what it did not install as it found it: both are
    # therefore expected to run on nfs, and only there. Kept on purpose, so not looked at: the etcd
    # snapshots in /var/backups/k8s-ha/etcd (the members' deletes' on each member; on nfs the
    # scheduled ones, their manifest and the members' copies) and the export's data. The etcd
    # members' line in the SSH user's authorized_keys (root's on the lab) must be gone.
    for h in ${CLEAN_HOSTS:-lb1 lb2 cp1 cp2 cp3 w1 w2 w4 mirror nfs}; do
        local units="etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy containerd haproxy keepalived docker-registry k8s-ha-registry-push k8s-ha-firewall k8s-ha-etcd-backup.timer k8s-ha-etcd-snapshot.timer k8s-ha-csr-approver"
        # The VMs ship chrony too (a real host keeps its clock); the nspawn machines have none.
        [[ $h == nfs ]] || units+=" nfs-server"
        [[ $h == nfs || $h == w4 ]] || units+=" chrony"
        # nfs-common and rpcbind are the program's on the nspawn workers; the VMs' image ships them.
        [[ $h == nfs || $h == w4 ]] || units+=" rpcbind"
        out=$(on "$h" 'for u in '"$units"'; do systemctl is-active -q $u && echo "'"$h"': $u running"; done; for p in /etc/kubernetes /etc/etcd /var/lib/etcd /etc/containerd /opt/cni /var/lib/kubelet /usr/local/bin/kubelet /usr/local/bin/etcd /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf /etc/docker/registry/config.yml /etc/docker/registry/push.yml /etc/docker/registry/htpasswd /etc/exports.d/k8s-ha.exports /etc/k8s-ha /etc/sysctl.d/90-k8s-ha.conf /var/lib/k8s-ha /usr/local/lib/k8s-ha /run/k8s-ha /etc/systemd/system/k8s-ha-etcd-snapshot.service /etc/systemd/system/k8s-ha-etcd-snapshot.timer /etc/systemd/system/k8s-ha-etcd-backup.timer; do [ -e $p ] && echo "'"$h"': $p left"; done; grep -qs " k8s-ha-etcd-backup[[:space:]]*$" ~/.ssh/authorized_keys && echo "'"$h"': the etcd members'"'"' authorized_keys line left"; grep -q "BEGIN k8s-ha" /etc/hosts && echo "'"$h"': hosts block left"; id etcd >/dev/null 2>&1 && echo "'"$h"': user etcd left"; command -v nft >/dev/null && nft list table inet k8s_ha >/dev/null 2>&1 && echo "'"$h"': firewall table left"; [ -e /etc/systemd/system/k8s-ha-firewall.service ] && echo "'"$h"': firewall unit left"; echo k8sha-listed') || {
            left+="$h: not looked at (unreachable)"$'\n'
            continue
        }
        # The mark is the listing's last line: a host where it stopped short is not clean.
        if [[ $(tail -n 1 <<<"$out") != k8sha-listed ]]; then
            left+="$h: the listing stopped short"$'\n'
            continue
        fi
        out=$(sed '$d' <<<"$out")
        if [[ -n $out ]]; then left+=$out$'\n'; fi
    done
    echo "${left:-no k8s-ha service running and no k8s-ha file left on any host}"
    [[ -z $left ]]
}

# --- 8. A preloaded mirror (bash scripts/hosts-check.sh mirror-push, with mirror.mode preloaded) ---
# crane as scripts/artifacts.sh builds it (K8S_HA_CRANE_VERSION picks the folder).
CRANE=${K8S_HA_CRANE:-$CACHE/artifacts/build/crane-${K8S_HA_CRANE_VERSION:-0.22.1}/crane}
PUSH_DIR=""
# push_setup: the push endpoint's credentials (from the stack output, into a private folder for
# crane's login, never on a command line) and the cluster CA crane verifies the mirror with.
# PUSH_DIR is made by main (this runs in a subshell of its own).
push_setup() {
    chmod 0700 "$PUSH_DIR"
    bash scripts/pulumi.sh stack output imageMirrorPush --show-secrets --json >"$PUSH_DIR/push.json" 2>/dev/null
    on mirror 'cat /etc/docker/registry/tls/ca.crt' >"$PUSH_DIR/ca.crt"
    # The image pushed: the lab registry's busybox, saved as a tarball.
    "$CRANE" pull --insecure "10.213.0.1:5000/docker.io/library/busybox:1.35.0" "$PUSH_DIR/busybox.tar" >/dev/null
}
push_cleanup() { if [[ -n $PUSH_DIR ]]; then rm -rf "$PUSH_DIR"; fi; }
json_field() { node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]]))' "$1" "$2"; }
# crane_as DOCKER_CONFIG ARGS...: crane with that login folder, verifying TLS against the cluster CA.
crane_as() {
    local cfg=$1
    shift
    DOCKER_CONFIG=$cfg SSL_CERT_FILE=$PUSH_DIR/ca.crt "$CRANE" "$@"
}
c_push_anonymous_refused() {
    local out endpoint
    endpoint=$(json_field "$PUSH_DIR/push.json" endpoint)
    mkdir -p "$PUSH_DIR/anonymous"
    if out=$(crane_as "$PUSH_DIR/anonymous" push "$PUSH_DIR/busybox.tar" "$endpoint/docker.io/library/busybox:pushed-anonymous" 2>&1); then
        echo "a push without credentials to $endpoint succeeded"
        return 1
    fi
    echo "a push without credentials to $endpoint: $(grep -oE 'UNAUTHORIZED[^;]*|401[^;]*' <<<"$out" | head -n 1)"
    grep -qE 'UNAUTHORIZED|401' <<<"$out"
}
c_push_with_credentials() {
    local endpoint user t0
    endpoint=$(json_field "$PUSH_DIR/push.json" endpoint)
    user=$(json_field "$PUSH_DIR/push.json" username)
    mkdir -p "$PUSH_DIR/login"
    local out
    # Every step decides: a failed login or push fails the check (not only the last command).
    if ! out=$(json_field "$PUSH_DIR/push.json" password | crane_as "$PUSH_DIR/login" auth login "$endpoint" -u "$user" --password-stdin 2>&1); then
        echo "login to $endpoint as $user failed: $(tail -n 2 <<<"$out")"
        return 1
    fi
    t0=$(now_ms)
    if ! out=$(crane_as "$PUSH_DIR/login" push "$PUSH_DIR/busybox.tar" "$endpoint/docker.io/library/busybox:pushed-e2e" 2>&1); then
        echo "the push to $endpoint as $user failed: $(tail -n 2 <<<"$out")"
        return 1
    fi
    echo "pushed docker.io/library/busybox:pushed-e2e to $endpoint as $user in $(($(now_ms) - t0)) ms: $(tail -n 1 <<<"$out")"
}
c_pull_endpoint_read_only() {
    local code
    code=$(on w1 "curl -s --cacert /etc/kubernetes/pki/ca.crt -o /dev/null -w '%{http_code}' -X POST https://10.213.0.41:5000/v2/docker.io/library/busybox/blobs/uploads/" || true)
    echo "a push to the nodes' endpoint (10.213.0.41:5000) from w1: HTTP $code"
    [[ $code =~ ^(401|403|405|503)$ ]]
}
# Issue 26 M5: pushFrom defaults to the node network, which pods' traffic leaves with; each worker's
# firewall drops its pods' packets to the push port (a timeout), and the nodes' pull port answers them.
c_pod_push_dropped() {
    local endpoint out
    endpoint=$(json_field "$PUSH_DIR/push.json" endpoint)
    out=$(probe_pod check-podnet-push w1 "$endpoint" "${endpoint%:*}:5000") || { echo "the probe pod did not run: $out"; return 1; }
    echo -n "from a pod on w1: "
    expect_probes "$endpoint=timeout" "${endpoint%:*}:5000=open" <<<"$out"
}
c_pod_runs_pushed_image() {
    "$KUBECTL" delete pod k8sha-pushed --ignore-not-found --wait=true >/dev/null
    # Restricted Pod Security: no warnings in the evidence. The tag exists only in the mirror.
    "$KUBECTL" run k8sha-pushed --image=docker.io/library/busybox:pushed-e2e --restart=Never --overrides='{"spec":{"nodeName":"w1",
        "securityContext":{"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}},
        "containers":[{"name":"k8sha-pushed","image":"docker.io/library/busybox:pushed-e2e","command":["sh","-c","echo pulled-from-the-preloaded-mirror"],
        "securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}' >/dev/null || return 1
    "$KUBECTL" wait --for=jsonpath='{.status.phase}'=Succeeded pod/k8sha-pushed --timeout=120s >/dev/null || { echo "pod k8sha-pushed did not succeed in 120 s"; return 1; }
    local out
    out=$("$KUBECTL" logs k8sha-pushed) || return 1
    # A pod left behind is said, and decides nothing (the next run deletes it first).
    "$KUBECTL" delete pod k8sha-pushed --wait=false >/dev/null || echo "note: pod k8sha-pushed not deleted"
    echo "$out"
    [[ $out == pulled-from-the-preloaded-mirror ]]
}

# write_report SECTION TOTAL SELECTED: the section of .e2e/report.json and the closing line; CHECKS_RC
# is 1 when a check failed or fewer than SELECTED were recorded.
write_report() {
    local counts passed failed run line
    counts=$(node -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean);
const checks = lines.map((l) => { const [name, status, evidence] = l.split("\t"); return { name, status, evidence }; });
const prev = fs.existsSync(process.argv[2]) ? JSON.parse(fs.readFileSync(process.argv[2], "utf8")) : {};
const passed = checks.filter((c) => c.status === "passed").length;
const failed = checks.length - passed;
const report = { ...prev, [process.argv[3]]: { at: new Date().toISOString(), checks, passed, failed,
  run: checks.length, total: Number(process.argv[4]), filter: process.env.CHECKS || undefined } };
fs.writeFileSync(process.argv[2], JSON.stringify(report, null, 2));
console.log(`${passed} ${failed} ${checks.length}`);
' "$RESULTS" "$REPORT" "$1" "$2")
    read -r passed failed run <<<"$counts"
    if ((run != $3)); then echo "hosts-check $1: $3 checks selected, $run recorded" >&2; fi
    # On stdout and as the log's (stderr's) last line.
    line=$(closing_line "hosts-check $1" "$passed" "$failed" "$run" "$2" "${CHECKS:+CHECKS=$CHECKS}")
    echo "$line"
    echo "$line" >&2
    if ((failed != 0 || run != $3)); then CHECKS_RC=1; fi
}

# The checks of each kind, as NAME FUNC pairs, in the order they run.
MIRROR_PUSH_CHECKS=(
    "8 a push without credentials is refused" c_push_anonymous_refused
    "8 a push with the stack's credentials (imageMirrorPush) succeeds" c_push_with_credentials
    "8 the nodes' endpoint is read-only" c_pull_endpoint_read_only
    "8 a pod on w1 runs the pushed image through the mirror" c_pod_runs_pushed_image
    "8 a pod's packets to the push endpoint are dropped; the nodes' endpoint answers it" c_pod_push_dropped
)
CLEAN_CHECKS=(
    "9 no service running and no file left on ${CLEAN_HOSTS:-any host}" c_clean
)
CLUSTER_CHECKS=(
    "1 kubeconfig server is https://VIP:6443" c_server
    "1 every node Ready through the VIP" c_nodes_ready
    "2 pods (busybox via the mirror) run on w1 and w2" c_pods
    "2 the mirror cached the image it served" c_mirror_pulled
    "2 CoreDNS resolves kubernetes.default from a pod" c_dns
    "2 a pod on w1 reaches a pod on w2" c_cross_node
    "3 etcd: 3 members healthy over TLS with client certs" c_etcd_health
    "3 etcd refuses plain HTTP" c_etcd_plain_refused
    "3 etcd refuses a client without a certificate" c_etcd_nocert_refused
    "4 anonymous GET /api is refused" c_anonymous_api
    "4 anonymous GET /readyz answers" c_readyz
    "4 secrets are encrypted in etcd (k8s:enc:)" c_secret_encrypted
    "4 a Service with externalIPs is refused (DenyServiceExternalIPs)" c_external_ips_refused
    "4 the audit log records a Secret read (who, what, not the value)" c_audit_secret_read
    "4 a privileged pod in default is refused (PodSecurity baseline)" c_privileged_refused
    "4 every controller-manager runs --terminated-pod-gc-threshold (CIS 1.3.1)" c_terminated_pod_gc
    "4 every apiserver runs the EventRateLimit admission plugin (CIS 1.2.9)" c_event_rate_limit_enabled
    "4 a burst of Events from one user is cut at the per-user limit with 429 (EventRateLimit)" c_event_rate_limit_burst
    "4 kubelets re-check pull credentials for images pulled with a secret (not AlwaysPullImages)" c_kubelet_pull_credentials
    "4 kubelets: seccompDefault, podPidsLimit, TLS 1.2+, event limits; protectKernelDefaults on the VM" c_kubelet_hardening
    "4 apiserver, etcd (client, peer) and kubelet refuse TLS 1.1" c_tls_min_12
    "4 kubelet refuses anonymous requests" c_kubelet_anonymous
    "4 kubelet read-only port is closed" c_readonly_port
    "4 firewall: from 10.213.0.1 (not a node) etcd, kubelets, the registry and NFS are refused" c_firewall_refuses_outsider
    "4 firewall: the same ports answer the hosts that use them, and only those" c_firewall_admits_users
    "4 firewall: SSH only from the node network (firewall.sshFrom's default) on every host" c_firewall_ssh_node_network
    "4 the mirror refuses a push from a node" c_registry_push_from_node
    "4 private keys are not readable by others" c_key_modes
    "4 the kubeconfig output is a cluster-admins group member, not system:masters" c_admin_group
    "4 the break-glass kubeconfig is on the host adminCredential names only, the installer's on cp1 only (root, 0600)" c_break_glass_one_host
    "4 the break-glass certificate is valid for adminCredential's breakGlassValidityHours, in system:masters" c_break_glass_validity
    "4 the installer's steps go as k8s-ha-installer: no break-glass request after the installer's first (audit log)" c_installer_not_break_glass
    "4 the add-ons' images are named by digest" c_addons_by_digest
    "4 every worker's containerd pins the sandbox (pause) image by digest" c_pause_by_digest
    "4 etcd runs as the etcd user, owning its 0700 data directory and its keys" c_etcd_user
    "5 HAProxy on both lb hosts lists every apiserver UP" c_haproxy_up
    "5 exactly one lb host holds the VIP" c_one_vip
    "5 VRRP reaches each lb host from the other only (firewall, check_unicast_src)" c_vrrp_peer_only
    "6 NFS squashes root (a file written as root on w4)" c_nfs_root_squash
    "6 NFS exports only to the workers" c_nfs_exports
    "6 a pod with an inline nfs volume in default is refused (ValidatingAdmissionPolicy)" c_inline_nfs_refused
    "6 the same pod in kube-system is admitted (server dry run)" c_inline_nfs_kube_system
    "6 pods' packets to the NFS server's ports are dropped; the API, CoreDNS, the mirror and the host's SSH answer them" c_pods_nfs_dropped
    "7 the default StorageClass is k8s-ha's NFS provisioner's" c_storage_class
    "7 PVCs (ReadWriteMany, ReadWriteOnce) are Bound" c_pvc_bound
    "7 a pod in another namespace naming default's claim is never scheduled (claims are namespaced)" c_claim_other_namespace
    "7 a pod on w4 writes to its volume; the file is on the export, owned by the pod's user" c_pvc_write
    "7 a second pod reads the file" c_pvc_read
    "7 deleting the PVCs deletes the PVs and archives their directories" c_pvc_reclaim
)

main() {
    mkdir -p "$CHECK_E2E"
    RESULTS=$(mktemp)
    CHECK_OUT=$(mktemp)
    trap 'rm -f "$RESULTS" "$CHECK_OUT"; push_cleanup' EXIT
    local node_bin=$CACHE/node/node_modules/node/bin
    if [[ -x $node_bin/node ]]; then export PATH=$node_bin:$PATH; fi
    case ${1:-} in
    mirror-push)
        PUSH_DIR=$(mktemp -d)
        run_checks mirror_push push_setup "${MIRROR_PUSH_CHECKS[@]}"
        ;;
    clean)
        run_checks "${REPORT_SECTION:-clean}" "" "${CLEAN_CHECKS[@]}"
        ;;
    "")
        run_checks cluster "" "${CLUSTER_CHECKS[@]}"
        # What a check that stopped half-way may have left (each removes its own when it gets that far).
        "$KUBECTL" delete pod -l app=k8sha-check --ignore-not-found --wait=false >/dev/null 2>&1 || true
        "$KUBECTL" -n default delete secret k8sha-check --ignore-not-found >/dev/null 2>&1 || true
        "$KUBECTL" -n default delete events -l app=k8sha-check --ignore-not-found >/dev/null 2>&1 || true
        "$KUBECTL" delete namespace k8sha-check-other --ignore-not-found --wait=false >/dev/null 2>&1 || true
        ;;
    *)
        echo "usage: bash scripts/hosts-check.sh [mirror-push|clean]" >&2
        exit 2
        ;;
    esac
    exit "$CHECKS_RC"
}

# Sourced (the unit tests), it only defines the checks.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
