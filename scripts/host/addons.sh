#!/usr/bin/env bash
# ControlPlane add-ons, from one control-plane host: CoreDNS and the cluster RBAC that k8s-ha needs,
# applied through the API endpoint (the VIP) with the admin kubeconfig.
# Files (stdin): /etc/kubernetes/admin.kubeconfig, /etc/kubernetes/addons/k8s-ha.yaml, and
# /etc/kubernetes/addons/retired (objects earlier releases applied, deleted here).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBECONFIG=/etc/kubernetes/admin.kubeconfig
export KUBECONFIG

create() {
    read_bundle
    install_bundle || true
    wait_until 180 "the API to answer through the VIP" kubectl get --raw=/readyz
    kubectl apply --server-side --force-conflicts --field-manager=k8s-ha -f /etc/kubernetes/addons/k8s-ha.yaml >&2
    local object
    while read -r object; do
        [[ -n $object ]] || continue
        kubectl delete --ignore-not-found "$object" >&2
    done </etc/kubernetes/addons/retired
    info "add-ons applied"
}

delete() {
    if [[ -f /etc/kubernetes/addons/k8s-ha.yaml ]] && timeout 20 kubectl get --raw=/readyz >/dev/null 2>&1; then
        timeout 60 kubectl delete --ignore-not-found --wait=false -f /etc/kubernetes/addons/k8s-ha.yaml >&2 || warn "could not delete add-ons"
    fi
    remove_paths /etc/kubernetes/addons
    info "add-ons removed"
}

run_verb "${1:-}"
