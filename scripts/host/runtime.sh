#!/usr/bin/env bash
# Node, phase 2, on workers: containerd, runc and the CNI plugins, pulling through the image mirror,
# plus the routes to the other workers' pod networks.
# Files (stdin): containerd's config (checked by containerd before it goes live), its registry
# hosts, unit and CA, the CNI config, and the pod routes (lines "CIDR VIA" in /etc/k8s-ha/pod-routes,
# with the unit that adds them at boot), as components/node.ts sends them.
# Environment: CONTAINERD_URL, RUNC_URL, CNI_URL, and each file's pinned sha256 (k8s-ha:checksums):
# CONTAINERD_SHA256, RUNC_SHA256, CNI_SHA256.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOWNLOADS=$HA_DOWNLOAD_DIR
ROUTE_PROTO=90 # marks the routes k8s-ha owns, so stale ones can be found and removed

# What was installed, as the URLs it came from, their pinned sums, and the size and time of each
# binary in place. A run whose URLs, pins and binaries match it skips downloading, verifying and
# unpacking the archives again: the step re-runs whenever another worker comes or goes (pod routes),
# and on an emulated host that work took most of a minute. A changed pin verifies the files again.
STAMP=$STATE_DIR/runtime-binaries
binaries_stamp() {
    printf '%s\n' "$CONTAINERD_URL" "$CONTAINERD_SHA256" "$RUNC_URL" "$RUNC_SHA256" "$CNI_URL" "$CNI_SHA256"
    stat -c '%n %s %Y' "$BIN_CONTAINERD" "$BIN_CONTAINERD_SHIM" "$BIN_CTR" \
        "$RUNC_PATH" "$CNI_BIN_DIR"/* 2>&1
}

install_runtime_binaries() {
    local restart=no tmp f
    if [[ -f $STAMP ]] && [[ $(binaries_stamp) == "$(cat "$STAMP")" ]]; then
        return 1
    fi
    tmp=$(mktemp -d)
    fetch_verified "$CONTAINERD_URL" "$CONTAINERD_SHA256" "$DOWNLOADS/$(basename "$CONTAINERD_URL")" || true
    tar -xzf "$DOWNLOADS/$(basename "$CONTAINERD_URL")" -C "$tmp"
    for f in containerd containerd-shim-runc-v2 ctr; do
        [[ -f $tmp/bin/$f ]] || fatal "$CONTAINERD_URL has no bin/$f"
        if install_binary "$tmp/bin/$f" "$BIN_DIR/$f"; then restart=yes; fi
    done
    fetch_verified "$RUNC_URL" "$RUNC_SHA256" "$DOWNLOADS/$(basename "$RUNC_URL")" || true
    if install_binary "$DOWNLOADS/$(basename "$RUNC_URL")" "$RUNC_PATH"; then restart=yes; fi
    fetch_verified "$CNI_URL" "$CNI_SHA256" "$DOWNLOADS/$(basename "$CNI_URL")" || true
    mkdir -p "$tmp/cni" "$CNI_BIN_DIR"
    tar -xzf "$DOWNLOADS/$(basename "$CNI_URL")" -C "$tmp/cni"
    for f in "$tmp"/cni/*; do
        [[ -f $f ]] && { install_binary "$f" "$CNI_BIN_DIR/$(basename "$f")" || true; }
    done
    rm -rf "$tmp"
    mkdir -p "$STATE_DIR"
    binaries_stamp >"$STAMP"
    [[ $restart == yes ]]
}

check_containerd_config() { "$BIN_CONTAINERD" --config "$1" config dump; }

apply_pod_routes() {
    local want=() cidr via current
    while read -r cidr via; do
        [[ -z ${cidr:-} ]] && continue
        want+=("$cidr")
        current=$(ip -4 route show "$cidr" proto "$ROUTE_PROTO" 2>/dev/null)
        if [[ $current != *"via $via "* ]]; then
            ip route replace "$cidr" via "$via" proto "$ROUTE_PROTO"
            info "route $cidr via $via"
        fi
    done <"$OS_POD_ROUTES"
    while read -r cidr _; do
        [[ -z ${cidr:-} ]] && continue
        if [[ " ${want[*]} " != *" $cidr "* ]]; then
            ip route del "$cidr" proto "$ROUTE_PROTO"
            info "removed stale route $cidr"
        fi
    done < <(ip -4 route show proto "$ROUTE_PROTO")
}

create() {
    read_bundle
    # nfs-common (with rpcbind, named so both are ours to purge): mount.nfs for NFS volumes.
    apt_install iptables conntrack ethtool socat nfs-common rpcbind
    local restart=no
    if install_runtime_binaries; then restart=yes; fi
    install_bundle || true
    if [[ $(restart_of containerd) == yes ]]; then restart=yes; fi
    systemctl enable -q k8s-ha-pod-routes.service
    apply_pod_routes
    service_apply containerd "$restart"
    wait_until 60 "containerd to answer" "$BIN_CTR" version
    info "container runtime ready"
}

# stop_containers: kills every task so their mounts can be released before removal.
stop_containers() {
    [[ -x $BIN_CTR ]] && systemctl is-active -q containerd || return 0
    local ns task
    for ns in $(ctr namespaces list -q 2>/dev/null); do
        for task in $(ctr -n "$ns" tasks list -q 2>/dev/null); do
            ctr -n "$ns" tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
        done
    done
}

# unmount_under DIR: unmounts what is mounted below DIR (not DIR itself, which may be a disk).
unmount_under() {
    local dir=$1 m
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r)
}

delete() {
    stop_containers
    service_remove containerd k8s-ha-pod-routes
    while read -r cidr _; do
        if [[ -n ${cidr:-} ]]; then ip route del "$cidr" proto "$ROUTE_PROTO" 2>/dev/null || true; fi
    done < <(ip -4 route show proto "$ROUTE_PROTO" 2>/dev/null)
    unmount_under "$CONTAINERD_STATE"
    unmount_under "$CONTAINERD_ROOT"
    ip link del cni0 2>/dev/null || true
    remove_paths "$BIN_CONTAINERD" "$BIN_CONTAINERD_SHIM" "$BIN_CTR" \
        "$RUNC_PATH" "$CNI_OPT" "$CNI_ETC" "$CONTAINERD_DIR" "$CONTAINERD_ROOT" "$CONTAINERD_STATE" \
        "$CNI_STATE" "$OS_POD_ROUTES" "$DOWNLOADS" "$STAMP"
    apt_purge iptables conntrack ethtool socat nfs-common rpcbind
    info "container runtime removed"
}

run_verb "${1:-}"
