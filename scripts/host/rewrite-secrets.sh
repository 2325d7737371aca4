#!/usr/bin/env bash
# ControlPlane, from the first control-plane host once every apiserver runs the current
# encryption config: reads every Secret and writes it back, so that each is stored encrypted with
# the write key (WRITE_KEY, a name of k8s-ha:secretsEncryption's keys). Runs again whenever the
# write key changes; the keys not in use any more can then go. A write that loses a race with
# another writer (a conflict) is already encrypted with the write key: the other writer used it.
# It goes as the installer (K8SHA_KUBECONFIG, installed by this host's control-plane step) and
# installs nothing, so it has nothing to undo (no delete).
# Environment: WRITE_KEY, K8SHA_KUBECONFIG.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create() {
    KUBECONFIG=${K8SHA_KUBECONFIG:?K8SHA_KUBECONFIG is not set}
    export KUBECONFIG
    wait_until 180 "the API to answer through the VIP" kubectl get --raw=/readyz
    local list n out
    list=$(mktemp "$RUN_DIR/secrets.XXXXXX")
    kubectl get secrets --all-namespaces -o json >"$list"
    n=$(kubectl get secrets --all-namespaces --no-headers 2>/dev/null | grep -c . || true)
    if ! out=$(kubectl replace -f "$list" 2>&1); then
        # Conflicts only: a Secret changed since the list was read was written with the write key.
        # Anything else (a refusal, no connection, no output at all) is a failure.
        if ! grep -q 'the object has been modified' <<<"$out" || grep -vE ' replaced$|the object has been modified|^Warning: ' <<<"$out" | grep -q .; then
            rm -f "$list"
            fatal "could not rewrite every Secret: $(grep -vE ' replaced$|^Warning: ' <<<"$out" | head -n 3 | paste -sd' ')"
        fi
    fi
    rm -f "$list"
    info "rewrote $n Secrets: each is stored encrypted with $WRITE_KEY"
}

delete() { :; }

run_verb "${1:-}"
