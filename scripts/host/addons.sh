#!/usr/bin/env bash
# ControlPlane add-ons, from the first control-plane host: CoreDNS and the cluster RBAC that k8s-ha
# needs, applied through the API endpoint (the VIP) as the installer (K8SHA_KUBECONFIG, the installers'
# group). The add-ons hold the installer's own ClusterRoleBinding: while it is missing
# (a new cluster, or the first up after a release without it) this step, and no other, applies them
# with the break-glass kubeconfig (K8SHA_BREAK_GLASS_KUBECONFIG, system:masters), then goes on as
# the installer. Both kubeconfigs are installed by this host's control-plane step; the break-glass
# one is sent to this step, staged only, when another host keeps it or none does.
# Files (stdin): the add-ons (K8SHA_ADDONS), and the objects earlier releases applied and the
# bindings of revoked admin generations (K8SHA_ADDONS_RETIRED), which every run deletes.
# Environment: K8SHA_KUBECONFIG, K8SHA_BREAK_GLASS_KUBECONFIG, K8SHA_ADDONS, K8SHA_ADDONS_RETIRED.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${K8SHA_KUBECONFIG:?K8SHA_KUBECONFIG is not set}" "${K8SHA_BREAK_GLASS_KUBECONFIG:?K8SHA_BREAK_GLASS_KUBECONFIG is not set}"
: "${K8SHA_ADDONS:?K8SHA_ADDONS is not set}" "${K8SHA_ADDONS_RETIRED:?K8SHA_ADDONS_RETIRED is not set}"
KUBECONFIG=$K8SHA_KUBECONFIG
export KUBECONFIG

# installer_bound: whether the installer's identity may do anything (its binding to cluster-admin exists).
installer_bound() { [[ $(KUBECONFIG=$K8SHA_KUBECONFIG kubectl auth can-i '*' '*' --all-namespaces 2>/dev/null) == yes ]]; }

create() {
    read_bundle
    install_bundle || true
    wait_until 180 "the API to answer through the VIP" kubectl get --raw=/readyz
    local as=$K8SHA_KUBECONFIG glass=$K8SHA_BREAK_GLASS_KUBECONFIG
    # Kept on another host, or on none (k8s-ha:adminCredential.breakGlassHost): this run's staged copy, gone when it ends.
    if [[ -n ${BUNDLE_STAGE_ONLY[$glass]:-} ]]; then glass=$(staged "$glass"); fi
    if ! installer_bound; then
        [[ -f $glass ]] || fatal "the installer's identity is not bound yet and $glass is missing: run the control-plane step of this host again (k8s-ha:repair)"
        info "the installer's binding is missing (a new cluster, or the first up of a release that has it): applying the add-ons with the break-glass kubeconfig, this once"
        as=$glass
    fi
    KUBECONFIG=$as kubectl apply --server-side --force-conflicts --field-manager=k8s-ha -f "$K8SHA_ADDONS" >&2
    wait_until 60 "the installer's identity to be bound to cluster-admin" installer_bound
    local object
    while read -r object; do
        [[ -n $object ]] || continue
        kubectl delete --ignore-not-found "$object" >&2
    done <"$K8SHA_ADDONS_RETIRED"
    info "add-ons applied"
}

delete() {
    # The add-ons hold the installer's binding: their delete goes as break-glass, when still there,
    # so that it does not lose its rights half-way.
    if [[ -f $K8SHA_BREAK_GLASS_KUBECONFIG ]]; then KUBECONFIG=$K8SHA_BREAK_GLASS_KUBECONFIG; fi
    if [[ -f $K8SHA_ADDONS ]] && timeout 20 kubectl get --raw=/readyz >/dev/null 2>&1; then
        timeout 60 kubectl delete --ignore-not-found --wait=false -f "$K8SHA_ADDONS" >&2 || warn "could not delete add-ons"
    fi
    remove_paths "$(dirname "$K8SHA_ADDONS")"
    info "add-ons removed"
}

run_verb "${1:-}"
