#!/usr/bin/env bash
# Node, on every host after the OS step: the host firewall, an nftables table of k8s-ha's own
# (inet k8s_ha) that lets in only what the host's roles serve, and only from the hosts that use it.
# Other tables (kube-proxy's, the operator's) are never touched; Debian's nftables.service, whose
# config flushes every table, is left as it is.
# Files (stdin): /etc/k8s-ha/firewall.nft, /etc/systemd/system/k8s-ha-firewall.service.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RULES=/etc/k8s-ha/firewall.nft

# nft_check FILE: the rules parse and would load (checked without applying them).
nft_check() { nft -c -f "$1"; }

loaded() { nft list table inet k8s_ha >/dev/null 2>&1; }

create() {
    read_bundle
    apt_install nftables
    local reload=no
    if install_file "$RULES" nft_check; then reload=yes; fi
    if install_file /etc/systemd/system/k8s-ha-firewall.service; then reload=yes; fi
    reload_units_if_changed
    if ! systemctl is-enabled -q k8s-ha-firewall 2>/dev/null; then systemctl enable -q k8s-ha-firewall; fi
    if [[ $PENDING_AT_START == yes ]] || ! loaded; then reload=yes; fi
    if [[ $reload == yes ]]; then
        # Loading replaces the table in one transaction; established connections (this SSH session) stay.
        systemctl restart k8s-ha-firewall
        info "firewall rules loaded: $(grep -c ' accept comment ' "$RULES") openings"
    fi
    loaded || fatal "the firewall table inet k8s_ha is not loaded; see journalctl -u k8s-ha-firewall"
}

delete() {
    service_remove k8s-ha-firewall
    if command -v nft >/dev/null && loaded; then nft delete table inet k8s_ha; fi
    remove_paths "$RULES"
    apt_purge nftables
    info "firewall removed"
}

run_verb "${1:-}"
