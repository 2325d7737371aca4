#!/usr/bin/env bash
# ControlPlane, on each control-plane host: kube-apiserver, kube-controller-manager and kube-scheduler
# as systemd services. Each service restarts only when one of its own files changed. The kubelet
# serving certificates' approver of earlier releases goes with its files (prune_owned).
# Files (stdin): the PKI, kubeconfigs, configs and units components/controlplane.ts sends, each with
# the units a change to it restarts.
# Environment: K8S_URL (base of .../bin/linux/amd64), and each binary's pinned sha256 (k8s-ha:checksums):
# KUBE_APISERVER_SHA256, KUBE_CONTROLLER_MANAGER_SHA256,
# KUBE_SCHEDULER_SHA256, KUBECTL_SHA256.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

# install_k8s_binary NAME SHA256: downloads the binary, checked against its pin, and installs it.
install_k8s_binary() {
    local name=$1 sha256=$2
    fetch_verified "$K8S_URL/$name" "$sha256" "/var/cache/k8s-ha/$name" || true
    install_binary "/var/cache/k8s-ha/$name" "/usr/local/bin/$name"
}

apiserver_ready() { [[ $(curl -fsSk https://127.0.0.1:6443/readyz) == ok ]]; }

create() {
    read_bundle
    mkdir -p /var/log/kubernetes
    chmod 0700 /var/log/kubernetes
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
    wait_until 180 "kube-apiserver to be ready on https://127.0.0.1:6443/readyz" apiserver_ready
    # After a restart, give the load balancers' checks (2 passes, 1 s apart) time to send traffic here
    # again before the next control-plane host restarts its apiserver.
    if [[ $apiserver == yes ]]; then sleep 3; fi
    service_apply kube-controller-manager "$controller"
    service_apply kube-scheduler "$scheduler"
    wait_until 60 "kube-controller-manager to be healthy" curl -fsSk https://127.0.0.1:10257/healthz
    wait_until 60 "kube-scheduler to be healthy" curl -fsSk https://127.0.0.1:10259/healthz
    info "control plane ready"
}

delete() {
    service_remove k8s-ha-csr-approver kube-scheduler kube-controller-manager kube-apiserver
    local b
    for b in "${BINARIES[@]}"; do remove_paths "/usr/local/bin/$b" "/var/cache/k8s-ha/$b"; done
    remove_owned
    remove_paths /var/log/kubernetes /etc/k8s-ha/csr-approver /usr/local/lib/k8s-ha/csr-approver
    if [[ -d /etc/kubernetes ]] && [[ -z $(find /etc/kubernetes -type f -print -quit) ]]; then
        remove_paths /etc/kubernetes
    fi
    info "control plane removed"
}

run_verb "${1:-}"
