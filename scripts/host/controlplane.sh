#!/usr/bin/env bash
# ControlPlane, on each control-plane host: kube-apiserver, kube-controller-manager and kube-scheduler
# as systemd services. Each service restarts only when one of its own files changed.
# Files (stdin): /etc/kubernetes/pki/*, /etc/kubernetes/*.kubeconfig, /etc/kubernetes/*.yaml,
# /etc/systemd/system/kube-{apiserver,controller-manager,scheduler}.service.
# Environment: K8S_URL (base of .../bin/linux/amd64), and each binary's pinned sha256 (k8s-ha:checksums):
# KUBE_APISERVER_SHA256, KUBE_CONTROLLER_MANAGER_SHA256,
# KUBE_SCHEDULER_SHA256, KUBECTL_SHA256.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APISERVER_FILES=(/etc/kubernetes/pki/ca.crt /etc/kubernetes/pki/apiserver.crt /etc/kubernetes/pki/apiserver.key
    /etc/kubernetes/pki/apiserver-kubelet-client.crt /etc/kubernetes/pki/apiserver-kubelet-client.key
    /etc/kubernetes/pki/apiserver-etcd-client.crt /etc/kubernetes/pki/apiserver-etcd-client.key
    /etc/kubernetes/pki/etcd-ca.crt /etc/kubernetes/pki/sa.pub /etc/kubernetes/pki/sa.key
    /etc/kubernetes/encryption-config.yaml /etc/kubernetes/audit-policy.yaml
    /etc/kubernetes/authentication-config.yaml /etc/kubernetes/admission-config.yaml
    /etc/systemd/system/kube-apiserver.service)
CONTROLLER_FILES=(/etc/kubernetes/pki/ca.key /etc/kubernetes/controller-manager.kubeconfig
    /etc/systemd/system/kube-controller-manager.service)
SCHEDULER_FILES=(/etc/kubernetes/scheduler.kubeconfig /etc/kubernetes/scheduler-config.yaml
    /etc/systemd/system/kube-scheduler.service)
# The kubelet serving certificates' approver (csr-approver.sh): it restarts when one of these changes.
APPROVER_FILES=(/etc/k8s-ha/csr-approver/kubeconfig /etc/k8s-ha/csr-approver/nodes
    /usr/local/lib/k8s-ha/csr-approver/approve.sh /etc/systemd/system/k8s-ha-csr-approver.service)
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
    # sa.key and ca.crt are read by the controller-manager too.
    if install_files "${APISERVER_FILES[@]}"; then apiserver=yes; fi
    if changed /etc/kubernetes/pki/ca.crt /etc/kubernetes/pki/sa.key; then controller=yes; fi
    if install_files "${CONTROLLER_FILES[@]}"; then controller=yes; fi
    if install_files "${SCHEDULER_FILES[@]}"; then scheduler=yes; fi
    install_file /etc/kubernetes/admin.kubeconfig || true
    local approver=no
    if install_files "${APPROVER_FILES[@]}"; then approver=yes; fi
    reload_units_if_changed
    service_apply kube-apiserver "$apiserver"
    wait_until 180 "kube-apiserver to be ready on https://127.0.0.1:6443/readyz" apiserver_ready
    # After a restart, give the load balancers' checks (2 passes, 1 s apart) time to send traffic here
    # again before the next control-plane host restarts its apiserver.
    if [[ $apiserver == yes ]]; then sleep 3; fi
    service_apply kube-controller-manager "$controller"
    service_apply kube-scheduler "$scheduler"
    wait_until 60 "kube-controller-manager to be healthy" curl -fsSk https://127.0.0.1:10257/healthz
    wait_until 60 "kube-scheduler to be healthy" curl -fsSk https://127.0.0.1:10259/healthz
    service_apply k8s-ha-csr-approver "$approver"
    info "control plane ready"
}

delete() {
    service_remove k8s-ha-csr-approver kube-scheduler kube-controller-manager kube-apiserver
    local b
    for b in "${BINARIES[@]}"; do remove_paths "/usr/local/bin/$b" "/var/cache/k8s-ha/$b"; done
    remove_paths "${APISERVER_FILES[@]}" "${CONTROLLER_FILES[@]}" "${SCHEDULER_FILES[@]}" "${APPROVER_FILES[@]}" \
        /etc/kubernetes/admin.kubeconfig /var/log/kubernetes /etc/k8s-ha/csr-approver /usr/local/lib/k8s-ha/csr-approver
    if [[ -d /etc/kubernetes ]] && [[ -z $(find /etc/kubernetes -type f -print -quit) ]]; then
        remove_paths /etc/kubernetes
    fi
    info "control plane removed"
}

run_verb "${1:-}"
