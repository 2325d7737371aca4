#!/usr/bin/env bash
# ControlPlane, per worker, from the first control-plane host as the installer: `create` waits
# until the worker's Node is Ready in the API, then, if drain.sh cordoned it for this change,
# uncordons it and releases the workers' roll lock; `delete` (the worker leaves the stack, or
# destroy) cordons and drains it, then deletes its Node object, so the node leaves the API before
# its kubelet stops. Environment: NODE_NAME (the worker's node name), K8SHA_RESTART_INPUTS (its
# fingerprint: a change re-runs this step after the worker's), K8SHA_KUBECONFIG (the installer's).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBECONFIG=${K8SHA_KUBECONFIG:?K8SHA_KUBECONFIG is not set}
export KUBECONFIG
: "${NODE_NAME:?NODE_NAME is not set}"

node_ready() {
    [[ $(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

LOCK=k8s-ha-worker-roll

create() {
    wait_until 180 "node $NODE_NAME to be Ready" node_ready
    if [[ $(kubectl get node "$NODE_NAME" -o jsonpath='{.metadata.annotations.k8s-ha\.io/cordoned-by}' 2>/dev/null) == k8s-ha ]]; then
        kubectl uncordon "$NODE_NAME" >/dev/null
        kubectl annotate node "$NODE_NAME" k8s-ha.io/cordoned-by- >/dev/null
        info "uncordoned $NODE_NAME at $(date +%H:%M:%S.%3N)"
    fi
    if [[ $(kubectl -n kube-system get lease "$LOCK" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true) == "$NODE_NAME" ]]; then
        kubectl -n kube-system delete lease "$LOCK" --ignore-not-found >/dev/null
        info "released the workers' roll lock"
    fi
    if [[ -n ${K8SHA_RESTART_INPUTS:-} ]]; then
        kubectl annotate node "$NODE_NAME" --overwrite "k8s-ha.io/restart-inputs=$K8SHA_RESTART_INPUTS" >/dev/null
    fi
    info "node $NODE_NAME is Ready"
}

delete() {
    if [[ ! -f $KUBECONFIG ]] || ! timeout 20 kubectl get --raw=/readyz >/dev/null 2>&1; then
        warn "the API does not answer: node $NODE_NAME was not drained or deleted"
        return 0
    fi
    if ! kubectl get node "$NODE_NAME" >/dev/null 2>&1; then
        info "node $NODE_NAME is not in the API"
        return 0
    fi
    kubectl cordon "$NODE_NAME" >&2
    # Evictions respect PodDisruptionBudgets; past the timeout the node is deleted all the same and
    # the pod garbage collector removes what was left on it.
    timeout 150 kubectl drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force \
        --grace-period=30 --timeout=120s >&2 || warn "drain of $NODE_NAME did not finish; deleting the node anyway"
    kubectl delete node "$NODE_NAME" --ignore-not-found --timeout=60s >&2
    info "node $NODE_NAME drained and deleted from the API"
}

run_verb "${1:-}"
