#!/usr/bin/env bash
# ControlPlane, per worker, from the first control-plane host, before the worker's runtime and
# kubelet steps: when a change to what they run (K8SHA_RESTART_INPUTS, a fingerprint) reaches a
# worker that is a node in the API, takes the workers' roll lock (the Lease k8s-ha-worker-roll in
# kube-system: one worker at a time), cordons the node and drains it. Evictions respect
# PodDisruptionBudgets; a drain that does not finish within DRAIN_TIMEOUT_SECONDS uncordons the
# node, releases the lock and fails, so nothing on the worker restarts. The worker's Node-object
# step (node-object.sh) uncordons it and releases the lock once its kubelet is Ready again.
# A worker not in the API yet (a new one), or a cluster without an API yet, has nothing to drain.
# It goes as the installer, with the kubeconfig K8SHA_KUBECONFIG names as staged from its bundle
# (stage-only: the control-plane step installs it, maybe after this step ran); on the first up of
# a release that brings the installer's binding, it waits for the add-ons step to create it.
# Files (stdin): the installer's kubeconfig. Environment: K8SHA_KUBECONFIG, NODE_NAME,
# K8SHA_RESTART_INPUTS, DRAIN_TIMEOUT_SECONDS.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${K8SHA_KUBECONFIG:?K8SHA_KUBECONFIG is not set}"
: "${NODE_NAME:?NODE_NAME is not set}"
DRAIN_TIMEOUT_SECONDS=${DRAIN_TIMEOUT_SECONDS:-300}
LOCK=k8s-ha-worker-roll
# A lock older than this is left over from a run that died: it is taken over.
LOCK_STALE_SECONDS=3600

lease_json() {
    printf '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"%s","namespace":"kube-system"},"spec":{"holderIdentity":"%s"}}' "$LOCK" "$NODE_NAME"
}

# take_roll_lock: waits (up to 25 minutes) until this worker holds the workers' roll lock.
take_roll_lock() {
    local holder created age i
    for ((i = 0; i < 300; i++)); do
        if lease_json | kubectl create -f - >/dev/null 2>&1; then
            info "took the workers' roll lock for $NODE_NAME"
            return 0
        fi
        holder=$(kubectl -n kube-system get lease "$LOCK" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
        if [[ $holder == "$NODE_NAME" ]]; then
            info "the workers' roll lock is $NODE_NAME's already (an earlier run)"
            return 0
        fi
        created=$(kubectl -n kube-system get lease "$LOCK" -o jsonpath='{.metadata.creationTimestamp}' 2>/dev/null || true)
        if [[ -n $created ]]; then
            age=$(($(date +%s) - $(date -d "$created" +%s)))
            if ((age > LOCK_STALE_SECONDS)); then
                warn "the workers' roll lock of $holder is ${age}s old: taking it over"
                kubectl -n kube-system delete lease "$LOCK" --ignore-not-found >/dev/null 2>&1 || true
                continue
            fi
        fi
        if ((i % 12 == 0)); then info "waiting for the workers' roll lock (held by ${holder:-?})"; fi
        sleep 5
    done
    fatal "the workers' roll lock is still held by ${holder:-?} after 25 minutes; if no run is working on $holder, delete it: kubectl -n kube-system delete lease $LOCK"
}

release_roll_lock() {
    if [[ $(kubectl -n kube-system get lease "$LOCK" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true) == "$NODE_NAME" ]]; then
        kubectl -n kube-system delete lease "$LOCK" --ignore-not-found >/dev/null 2>&1 || true
    fi
}

create() {
    read_bundle
    KUBECONFIG=$(staged "$K8SHA_KUBECONFIG")
    export KUBECONFIG
    if [[ ! -f $KUBECONFIG ]] || ! timeout 20 kubectl get --raw=/readyz >/dev/null 2>&1; then
        info "no API answers yet: nothing to drain on $NODE_NAME"
        return 0
    fi
    wait_until 600 "the installer's identity to be bound (the add-ons step binds it)" kubectl auth can-i get nodes
    if ! kubectl get node "$NODE_NAME" >/dev/null 2>&1; then
        info "$NODE_NAME is not a node yet: nothing to drain"
        return 0
    fi
    # The node-object step marks a node with the fingerprint it last came up with: a run of this
    # step for another reason (a new host library re-runs every step) drains nothing.
    if [[ -n ${K8SHA_RESTART_INPUTS:-} && $(kubectl get node "$NODE_NAME" -o jsonpath='{.metadata.annotations.k8s-ha\.io/restart-inputs}' 2>/dev/null) == "$K8SHA_RESTART_INPUTS" ]]; then
        info "$NODE_NAME already runs what this change brings: nothing to drain"
        return 0
    fi
    take_roll_lock
    kubectl cordon "$NODE_NAME" >/dev/null
    kubectl annotate node "$NODE_NAME" --overwrite k8s-ha.io/cordoned-by=k8s-ha >/dev/null
    info "draining $NODE_NAME at $(date +%H:%M:%S.%3N) (cordoned; roll lock held)"
    if ! timeout $((DRAIN_TIMEOUT_SECONDS + 30)) kubectl drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data \
        --grace-period=30 --timeout="${DRAIN_TIMEOUT_SECONDS}s" >"$RUN_DIR/drain-$NODE_NAME.log" 2>&1; then
        kubectl uncordon "$NODE_NAME" >/dev/null 2>&1 || true
        kubectl annotate node "$NODE_NAME" k8s-ha.io/cordoned-by- >/dev/null 2>&1 || true
        release_roll_lock
        fatal "the drain of $NODE_NAME did not finish within ${DRAIN_TIMEOUT_SECONDS}s ($(tail -n 1 "$RUN_DIR/drain-$NODE_NAME.log")); a PodDisruptionBudget that allows no eviction? $NODE_NAME is uncordoned and nothing on it restarted"
    fi
    info "$NODE_NAME drained: $(grep -c ' evicted$' "$RUN_DIR/drain-$NODE_NAME.log" || true) pods evicted"
    rm -f "$RUN_DIR/drain-$NODE_NAME.log"
}

run_verb "${1:-}"
