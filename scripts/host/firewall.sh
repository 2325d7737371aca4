#!/usr/bin/env bash
# Node, on every host after the OS step: the host firewall, an nftables table of k8s-ha's own
# (inet k8s_ha) that lets in only what the host's roles serve, and only from the hosts that use it.
# Other tables (kube-proxy's, the operator's) are never touched; Debian's nftables.service, whose
# config flushes every table, is left as it is.
# Files (stdin): the rules (checked by nft before they replace the live ones) and the unit that
# loads them, as components/node.ts sends them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# check_nft FILE: the rules parse and would load (checked without applying them).
check_nft() { nft -c -f "$1"; }

loaded() { nft list table inet k8s_ha >/dev/null 2>&1; }

create() {
    read_bundle
    apt_install nftables
    install_bundle || true
    local reload
    reload=$(restart_of k8s-ha-firewall)
    if ! systemctl is-enabled -q k8s-ha-firewall 2>/dev/null; then systemctl enable -q k8s-ha-firewall; fi
    if [[ $PENDING_AT_START == yes ]] || ! loaded; then reload=yes; fi
    if [[ $reload == yes ]]; then
        # Loading replaces the table in one transaction; established connections (this SSH session) stay.
        systemctl restart k8s-ha-firewall
        local p openings=0
        for p in "${BUNDLE[@]}"; do
            if [[ ${BUNDLE_CHECK[$p]:-} == nft ]]; then openings=$(grep -c ' accept comment ' "$p" || true); fi
        done
        info "firewall rules loaded: $openings openings"
    fi
    loaded || fatal "the firewall table inet k8s_ha is not loaded; see journalctl -u k8s-ha-firewall"
}

delete() {
    service_remove k8s-ha-firewall
    if command -v nft >/dev/null && loaded; then nft delete table inet k8s_ha; fi
    remove_owned
    apt_purge nftables
    info "firewall removed"
}

run_verb "${1:-}"
