#!/usr/bin/env bash
# ControlPlane, per worker, from one control-plane host with the admin kubeconfig: `create` waits
# until the worker's Node is Ready in the API; `delete` (the worker leaves the stack, or destroy)
# cordons and drains it, then deletes its Node object, so the node leaves the API before its
# kubelet stops. Environment: NODE_NAME (the worker's node name).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBECONFIG=/etc/kubernetes/admin.kubeconfig
export KUBECONFIG
: "${NODE_NAME:?NODE_NAME is not set}"

node_ready() {
    [[ $(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

create() {
    wait_until 180 "node $NODE_NAME to be Ready" node_ready
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
