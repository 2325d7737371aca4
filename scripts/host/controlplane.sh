#!/usr/bin/env bash
# ControlPlane, on each control-plane host: kube-apiserver, kube-controller-manager and kube-scheduler
# as systemd services. Each service restarts only when one of its own files changed. The kubelet
# serving certificates' approver of earlier releases goes with its files (prune_owned).
# Files (stdin): the PKI, kubeconfigs, configs and units components/controlplane.ts sends, each with
# the units a change to it restarts.
# Environment: K8S_URL (base of .../bin/linux/amd64), and each binary's pinned sha256 (k8s-ha:checksums):
# KUBE_APISERVER_SHA256, KUBE_CONTROLLER_MANAGER_SHA256,
# KUBE_SCHEDULER_SHA256, KUBECTL_SHA256; with a load-balancer pair in front (render/haproxy.ts
# apiserverPoolEnv): K8SHA_LB_STATS (NAME=URL of each lb host's HAProxy stats, as CSV),
# K8SHA_LB_BACKEND and K8SHA_LB_SERVER (this apiserver's backend and server there) and
# K8SHA_LB_WAIT_SECONDS.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

# install_k8s_binary NAME SHA256: downloads the binary, checked against its pin, and installs it.
install_k8s_binary() {
    local name=$1 sha256=$2
    fetch_verified "$K8S_URL/$name" "$sha256" "$HA_DOWNLOAD_DIR/$name" || true
    install_binary "$HA_DOWNLOAD_DIR/$name" "$BIN_DIR/$name"
}

apiserver_ready() { [[ $(curl -fsSk "https://127.0.0.1:$PORT_APISERVER/readyz") == ok ]]; }

# lb_server_state URL: prints this apiserver's state in the HAProxy stats at URL (UP, DOWN, NOLB,
# MAINT, "UP 1/2" while a change is under way, or "absent"); fails with curl's error when the stats
# do not answer. Columns are found by their names in the CSV's header.
lb_server_state() {
    local csv
    csv=$(curl -fsS --noproxy '*' --connect-timeout 2 --max-time 5 "$1" 2>&1) || {
        printf '%s' "${csv:-no answer}"
        return 1
    }
    awk -F, -v px="$K8SHA_LB_BACKEND" -v sv="$K8SHA_LB_SERVER" '
        NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["pxname"] == px && $col["svname"] == sv && $col["type"] == 2 { state = $col["status"] }
        END { print (state == "" ? "absent" : state) }' <<<"$csv"
}

# wait_in_lb_pools: waits until the HAProxy of every lb host has this apiserver UP, so that the next
# control-plane host restarts its own only once this one takes requests again (HAProxy needs `rise`
# checks, one check interval apart, to take a server back). Each lb host is polled once a second,
# at most K8SHA_LB_WAIT_SECONDS times and for no longer than that.
wait_in_lb_pools() {
    if [[ -z ${K8SHA_LB_STATS:-} ]]; then
        # No load-balancer pair in front of the apiservers (a ControlPlane without one): nothing to
        # wait for beyond this apiserver's own /readyz.
        return 0
    fi
    local limit=${K8SHA_LB_WAIT_SECONDS:-} backend=${K8SHA_LB_BACKEND:-} server=${K8SHA_LB_SERVER:-} entry lb url state polls=0 ok
    [[ $limit =~ ^[1-9][0-9]*$ && -n $backend && -n $server ]] || fatal "K8SHA_LB_STATS is set without K8SHA_LB_WAIT_SECONDS (a number), K8SHA_LB_BACKEND and K8SHA_LB_SERVER"
    local end=$((SECONDS + limit))
    for entry in $K8SHA_LB_STATS; do
        lb=${entry%%=*} url=${entry#*=}
        while :; do
            if state=$(lb_server_state "$url"); then ok=yes; else ok=no; fi
            [[ $ok == yes && $state == UP ]] && break
            polls=$((polls + 1))
            if ((polls >= limit || SECONDS >= end)); then
                [[ $ok == yes ]] || fatal "could not read lb host $lb's HAProxy stats ($url) within ${limit}s, to see server $server of backend $backend UP: $state"
                [[ $state != absent ]] || fatal "lb host $lb's HAProxy has no server $server in backend $backend (after ${limit}s)"
                fatal "lb host $lb's HAProxy still reports server $server of backend $backend as $state after ${limit}s, not UP; can $lb reach this apiserver's /readyz?"
            fi
            sleep 1
        done
        info "lb host $lb's HAProxy has server $server of backend $backend UP"
    done
}

create() {
    read_bundle
    mkdir -p "$K8S_LOG_DIR"
    chmod 0700 "$K8S_LOG_DIR"
    local apiserver=no controller=no scheduler=no
    if install_k8s_binary kube-apiserver "${KUBE_APISERVER_SHA256:-}"; then apiserver=yes; fi
    if install_k8s_binary kube-controller-manager "${KUBE_CONTROLLER_MANAGER_SHA256:-}"; then controller=yes; fi
    if install_k8s_binary kube-scheduler "${KUBE_SCHEDULER_SHA256:-}"; then scheduler=yes; fi
    install_k8s_binary kubectl "${KUBECTL_SHA256:-}" || true
    install_bundle || true
    [[ $(restart_of kube-apiserver) == yes ]] && apiserver=yes
    [[ $(restart_of kube-controller-manager) == yes ]] && controller=yes
    [[ $(restart_of kube-scheduler) == yes ]] && scheduler=yes
    service_apply kube-apiserver "$apiserver"
    wait_until 180 "kube-apiserver to be ready on https://127.0.0.1:$PORT_APISERVER/readyz" apiserver_ready
    # Ready here is not yet in the load balancers' pool: the next control-plane host's step (which
    # runs after this one) restarts its apiserver only once the lb hosts send here again.
    wait_in_lb_pools
    service_apply kube-controller-manager "$controller"
    service_apply kube-scheduler "$scheduler"
    wait_until 60 "kube-controller-manager to be healthy" curl -fsSk "https://127.0.0.1:$PORT_KUBE_CONTROLLER_MANAGER/healthz"
    wait_until 60 "kube-scheduler to be healthy" curl -fsSk "https://127.0.0.1:$PORT_KUBE_SCHEDULER/healthz"
    info "control plane ready"
}

delete() {
    service_remove k8s-ha-csr-approver kube-scheduler kube-controller-manager kube-apiserver
    local b
    for b in "${BINARIES[@]}"; do remove_paths "$BIN_DIR/$b" "$HA_DOWNLOAD_DIR/$b"; done
    remove_owned
    remove_paths "$K8S_LOG_DIR" "$CSR_APPROVER_DIR" "$CSR_APPROVER_LIB_DIR"
    if [[ -d $K8S_DIR ]] && [[ -z $(find "$K8S_DIR" -type f -print -quit) ]]; then
        remove_paths "$K8S_DIR"
    fi
    info "control plane removed"
}

run_verb "${1:-}"
