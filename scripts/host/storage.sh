#!/usr/bin/env bash
# NfsServer's StorageClass and provisioner, from the first control-plane host as the installer:
# applies the provisioner (ServiceAccount, RBAC, Deployment), waits until it runs, then the
# StorageClass. A StorageClass cannot change in place, so a changed one is replaced; the volumes
# already made keep their own settings.
# Files (stdin): /etc/kubernetes/addons/nfs-provisioner.yaml, /etc/kubernetes/addons/nfs-storageclass.yaml.
# Environment: STORAGE_CLASS (its name), NFS_EXPORT (server:path, for messages), K8SHA_KUBECONFIG
# (the installer's).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBECONFIG=${K8SHA_KUBECONFIG:?K8SHA_KUBECONFIG is not set}
export KUBECONFIG
PROVISIONER=$K8S_NFS_PROVISIONER
CLASS=$K8S_NFS_STORAGE_CLASS

kubectl_apply() { kubectl apply --server-side --force-conflicts --field-manager=k8s-ha -f "$1" >&2; }

# The provisioner's pods and their recent events, when it does not come up.
explain_provisioner() {
    kubectl -n kube-system get pods -l app.kubernetes.io/name=nfs-provisioner -o wide >&2 || true
    kubectl -n kube-system get events --field-selector involvedObject.kind=Pod \
        -o custom-columns=REASON:.reason,OBJECT:.involvedObject.name,MESSAGE:.message 2>/dev/null |
        grep -E 'nfs-provisioner|REASON' | tail -n 10 >&2 || true
}

class_name_in() { awk '/^  name: / { print $2; exit }' "$1" 2>/dev/null; }

create() {
    read_bundle
    local old_class=""
    [[ -f $CLASS ]] && old_class=$(class_name_in "$CLASS")
    install_bundle || true
    wait_until 180 "the API to answer through the VIP" kubectl get --raw=/readyz
    kubectl_apply "$PROVISIONER"
    if ! kubectl -n kube-system rollout status deployment/nfs-provisioner --timeout=300s >&2; then
        explain_provisioner
        fatal "the NFS provisioner did not start within 300 s (it mounts $NFS_EXPORT; its pods and events are above)"
    fi
    if [[ -n $old_class && $old_class != "$STORAGE_CLASS" ]]; then
        kubectl delete storageclass "$old_class" --ignore-not-found >&2
        info "removed StorageClass $old_class (renamed to $STORAGE_CLASS; its volumes keep working)"
    fi
    local err
    if ! err=$(kubectl_apply "$CLASS" 2>&1); then
        if grep -qiE 'forbidden|immutable' <<<"$err"; then
            kubectl replace --force -f "$CLASS" >&2
            info "replaced StorageClass $STORAGE_CLASS (its settings cannot change in place; existing volumes keep theirs)"
        else
            printf '%s\n' "$err" >&2
            fatal "could not apply StorageClass $STORAGE_CLASS"
        fi
    fi
    local defaults
    defaults=$(kubectl get storageclass -o jsonpath='{range .items[?(@.metadata.annotations.storageclass\.kubernetes\.io/is-default-class=="true")]}{.metadata.name} {end}')
    if [[ $(wc -w <<<"$defaults") -gt 1 ]]; then
        warn "more than one default StorageClass: $defaults; claims without a class get the newest"
    fi
    info "StorageClass $STORAGE_CLASS ready on $NFS_EXPORT"
}

delete() {
    if [[ -f $PROVISIONER ]] && timeout 20 kubectl get --raw=/readyz >/dev/null 2>&1; then
        local volumes
        volumes=$(timeout 30 kubectl get pv -o jsonpath='{range .items[?(@.spec.storageClassName=="'"${STORAGE_CLASS:-}"'")]}{.metadata.name} {end}' 2>/dev/null || true)
        [[ -z $volumes ]] || warn "volumes of StorageClass ${STORAGE_CLASS:-} stay, with their data on the export: $volumes"
        if [[ -f $CLASS ]]; then timeout 60 kubectl delete --ignore-not-found --wait=false -f "$CLASS" >&2 || warn "could not delete the StorageClass"; fi
        timeout 120 kubectl delete --ignore-not-found -f "$PROVISIONER" >&2 || warn "could not delete the NFS provisioner"
    fi
    remove_paths "$PROVISIONER" "$CLASS"
    info "NFS StorageClass and provisioner removed"
}

run_verb "${1:-}"
