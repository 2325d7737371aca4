#!/usr/bin/env bash
# Node, phase 3, on workers: kubelet and kube-proxy with certificates from the cluster PKI.
# Files (stdin): the kubelet's and kube-proxy's certificates, kubeconfigs, configs and units, as
# components/node.ts sends them, each with the unit a change to it restarts.
# Environment: K8S_URL (base of .../bin/linux/amd64), and each binary's pinned sha256 (k8s-ha:checksums):
# KUBELET_SHA256, KUBE_PROXY_SHA256.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# install_k8s_binary NAME SHA256: downloads the binary, checked against its pin, and installs it.
install_k8s_binary() {
    local name=$1 sha256=$2
    fetch_verified "$K8S_URL/$name" "$sha256" "$HA_DOWNLOAD_DIR/$name" || true
    install_binary "$HA_DOWNLOAD_DIR/$name" "$BIN_DIR/$name"
}

create() {
    read_bundle
    mkdir -p "$KUBELET_DIR" "$KUBELET_KUBE_PROXY_DIR" "$K8S_MANIFESTS_DIR"
    local kubelet=no proxy=no
    if install_k8s_binary kubelet "${KUBELET_SHA256:-}"; then kubelet=yes; fi
    if install_k8s_binary kube-proxy "${KUBE_PROXY_SHA256:-}"; then proxy=yes; fi
    install_bundle || true
    if [[ $(restart_of kubelet) == yes ]]; then kubelet=yes; fi
    if [[ $(restart_of kube-proxy) == yes ]]; then proxy=yes; fi
    local since
    since=$(date -u +%s)
    service_apply kubelet "$kubelet"
    service_apply kube-proxy "$proxy"
    # What the kubelet requested and served before the stack issued its serving certificate (earlier
    # releases): a key no step sends any more.
    rm -f "$KUBELET_PKI_DIR"/kubelet-server-*.pem
    wait_until 60 "kubelet to become healthy" curl -fsS "http://127.0.0.1:$PORT_KUBELET_HEALTHZ/healthz"
    # A restarted kubelet answers healthz before its node is Ready again (the runtime and pod
    # lifecycle checks come after), and the Node object still shows the old kubelet's Ready: so the
    # step waits for a Ready reported after the restart. Nothing else waits for it on an update.
    if [[ $kubelet == yes || $PENDING_AT_START == yes ]]; then
        wait_until 180 "node $K8SHA_HOST to report Ready after the kubelet (re)started" node_ready_since "$since"
    fi
    info "kubelet and kube-proxy running"
}

# node_ready_since EPOCH: this node's Ready condition is True, reported at or after EPOCH. Asks the
# apiserver with the kubelet's own credentials (the Node authorizer lets a node read itself).
node_ready_since() {
    local server node ready heartbeat
    server=$(awk '$1 == "server:" {print $2; exit}' "$K8S_KUBELET_KUBECONFIG")
    node=$(curl -fsS -m 5 --cacert "$K8S_PKI_CA_CERT" --cert "$K8S_PKI_KUBELET_CERT" \
        --key "$K8S_PKI_KUBELET_KEY" "$server/api/v1/nodes/$K8SHA_HOST") || return 1
    # The apiserver indents its JSON; without the blanks, NodeCondition's fields come in its struct's
    # order: type, status, lastHeartbeatTime, ...
    node=$(tr -d ' \t\n' <<<"$node")
    ready=$(grep -o '"type":"Ready","status":"[A-Za-z]*","lastHeartbeatTime":"[^"]*"' <<<"$node") || return 1
    [[ $ready == *'"status":"True"'* ]] || return 1
    heartbeat=${ready##*\"lastHeartbeatTime\":\"}
    heartbeat=${heartbeat%\"}
    (($(date -u -d "$heartbeat" +%s) >= $1))
}

delete() {
    service_remove kubelet kube-proxy
    # kube-proxy's rules would keep steering traffic to services of a cluster that is gone.
    local table chain
    for table in filter nat mangle; do
        for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^KUBE-/ {print $2}'); do
            iptables -t "$table" -F "$chain" 2>/dev/null || true
        done
        iptables -t "$table" -S 2>/dev/null | awk '$1=="-A" && $0 ~ /KUBE-/' | sed 's/^-A/-D/' |
            while read -r rule; do
                # shellcheck disable=SC2086 # the rule is split into iptables arguments on purpose
                iptables -t "$table" $rule 2>/dev/null || true
            done
        for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^KUBE-/ {print $2}'); do
            iptables -t "$table" -X "$chain" 2>/dev/null || true
        done
    done
    while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(awk -v dir="$KUBELET_DIR/" 'index($2, dir) == 1 {print $2}' /proc/mounts | sort -r)
    remove_owned
    remove_paths "$BIN_KUBELET" "$BIN_KUBE_PROXY" "$KUBELET_DIR" "$KUBELET_KUBE_PROXY_DIR" \
        "$K8S_MANIFESTS_DIR" "$KUBELET_POD_LOGS" "$KUBELET_CONTAINER_LOGS" \
        "$HA_DOWNLOAD_DIR/kubelet" "$HA_DOWNLOAD_DIR/kube-proxy"
    if [[ -d $K8S_DIR ]] && [[ -z $(find "$K8S_DIR" -type f -not -path '*/pki/ca.crt' -print -quit) ]]; then
        remove_paths "$K8S_DIR"
    fi
    info "kubelet and kube-proxy removed"
}

run_verb "${1:-}"
