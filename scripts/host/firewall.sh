#!/usr/bin/env bash
# Node, on every host after the OS step: the host firewall, an nftables table of k8s-ha's own
# (inet k8s_ha) that lets in only what the host's roles serve, and only from the hosts that use it.
# Other tables (kube-proxy's, the operator's) are never touched; Debian's nftables.service, whose
# config flushes every table, is left as it is.
# Files (stdin): the rules (checked by nft before they replace the live ones) and the unit that
# loads them, as components/node.ts sends them.
# Environment: K8SHA_FIREWALL_TCP (who may reach each TCP port the rules open), K8SHA_SSH_CLIENT
# (sshd's SSH_CLIENT of the step's own connection: address, port, server port).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# check_nft FILE: the rules parse and would load (checked without applying them).
check_nft() { nft -c -f "$1"; }

loaded() { nft list table inet k8s_ha >/dev/null 2>&1; }

# ipv4_number ADDRESS: the dotted IPv4 address as one number; fails on anything else.
ipv4_number() {
    [[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
    local i n=0 o
    for i in 1 2 3 4; do
        o=$((10#${BASH_REMATCH[i]}))
        ((o <= 255)) || return 1
        n=$((n * 256 + o))
    done
    echo "$n"
}

# in_sources ADDRESS LIST: the IPv4 ADDRESS is one of LIST's addresses or CIDRs (comma-separated).
in_sources() {
    local a s base bits n
    a=$(ipv4_number "$1") || return 1
    local IFS=,
    for s in $2; do
        bits=32
        if [[ $s == */* ]]; then bits=${s#*/}; fi
        base=$(ipv4_number "${s%/*}") || continue
        n=$((bits == 0 ? 0 : (0xffffffff << (32 - bits)) & 0xffffffff))
        if (((a & n) == (base & n))); then return 0; fi
    done
    return 1
}

# firewall_admits OPENINGS ADDRESS PORT: a TCP connection from ADDRESS to PORT passes the rules.
# OPENINGS is K8SHA_FIREWALL_TCP (render/firewall.ts firewallTcpOpenings): `PORTS=SOURCES[!EXCEPT]`.
firewall_admits() {
    local entry ports rest from except low high client=${2#::ffff:} port=$3
    case $client in 127.* | ::1) return 0 ;; esac
    for entry in $1; do
        ports=${entry%%=*} rest=${entry#*=}
        from=${rest%%!*} except=""
        if [[ $rest == *!* ]]; then except=${rest#*!}; fi
        low=${ports%-*} high=${ports#*-}
        ((port >= low && port <= high)) || continue
        if [[ $from == any ]]; then return 0; fi
        in_sources "$client" "$from" || continue
        if [[ -n $except ]] && in_sources "$client" "$except"; then continue; fi
        return 0
    done
    return 1
}

# guard_ssh_client: refuses rules that would shut out the SSH client this step runs over (the
# Pulumi machine, or the jump host it comes through): every later step needs a new connection.
guard_ssh_client() {
    local client _ port
    read -r client _ port <<<"${K8SHA_SSH_CLIENT:-}"
    if [[ -z ${client:-} || ! ${port:-} =~ ^[0-9]+$ ]]; then
        warn "no SSH client address (K8SHA_SSH_CLIENT is '${K8SHA_SSH_CLIENT:-}'); the rules are loaded without checking that they admit it"
        return 0
    fi
    firewall_admits "${K8SHA_FIREWALL_TCP:-}" "$client" "$port" ||
        fatal "the new firewall rules would refuse SSH from $client (port $port), the machine this step runs from, and every later step with it; the rules were not loaded. Add $client (or its network) to k8s-ha:firewall.sshFrom, which defaults to k8s-ha:nodeNetwork, and run up again"
}

# apply_rules FILE: loads the rules in one nft transaction, the same load the unit runs at boot. The
# file creates, deletes and re-defines the table (render/firewall.ts renderFirewall), so the host is
# never without it; a restart of the unit would not do: its stop deletes the table before its start
# loads the new one, and for that instant the host is unfiltered.
apply_rules() { nft -f "$1"; }

create() {
    read_bundle
    guard_ssh_client
    apt_install nftables
    install_bundle || true
    local p rules="" openings=0 reload
    for p in "${BUNDLE[@]}"; do
        if [[ ${BUNDLE_CHECK[$p]:-} == nft ]]; then rules=$p; fi
    done
    [[ -n $rules ]] || fatal "the bundle has no nft rules file"
    reload=$(reload_of k8s-ha-firewall)
    if ! systemctl is-enabled -q k8s-ha-firewall 2>/dev/null; then systemctl enable -q k8s-ha-firewall; fi
    if [[ $PENDING_AT_START == yes ]] || ! loaded; then reload=yes; fi
    if [[ $reload == yes ]]; then
        # Established connections (this SSH session) stay.
        apply_rules "$rules"
        openings=$(grep -c ' accept comment ' "$rules" || true)
        info "firewall rules loaded: $openings openings"
    fi
    # Started, never restarted: a start loads the same file (one transaction again) and marks the unit active for the boots to come.
    if ! systemctl is-active -q k8s-ha-firewall; then systemctl start k8s-ha-firewall; fi
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
