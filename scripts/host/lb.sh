#!/usr/bin/env bash
# LoadBalancerPair, on each lb host: HAProxy in front of every apiserver and Keepalived holding the VIP.
# Files (stdin): HAProxy's and keepalived's configs (each checked by its daemon first), keepalived's
# check script and its unit drop-in, as components/loadbalancer.ts sends them, with what a change
# to each reloads or restarts.
# Environment: K8SHA_VIP, K8SHA_INTERFACE, K8SHA_PEER (the other lb host), K8SHA_API_PORT.
# The two lb steps run one after the other. A changed HAProxy or keepalived config is reloaded, not
# restarted: HAProxy's master hands its listening sockets to the new workers and the old ones finish
# their connections; keepalived re-reads its config and keeps its VRRP state, so the VIP stays. Only
# a changed keepalived unit restarts keepalived; on the host that holds the VIP, the VIP is handed to
# the peer first (once the peer's HAProxy answers), so the VIP holder is never the host whose
# daemons restart. A change of VRRP version (v2 and v3 ignore each other's adverts) takes three
# phases so the two versions never run at once: the stage stops the non-holder's keepalived, the
# finish reloads the holder's, and the join (K8SHA_LB_PHASE=join) starts the non-holder's again.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

check_haproxy() { haproxy -c -q -f "$1"; }
# keepalived checks the script it names at its live path, so the script is installed first (the
# bundle comes sorted by path: check-haproxy.sh before keepalived.conf).
check_keepalived() { keepalived -t -f "$1"; }

# Where the VIP holder keeps what it still has to apply once its peer is done (the finish phase).
DEFERRED=$STATE_DIR/lb-deferred
# Where a host whose keepalived the stage stopped for a change of VRRP version says so, for the
# join phase: "OLD NEW".
JOIN=$STATE_DIR/lb-join

create() {
    case ${K8SHA_LB_PHASE:-stage} in
        finish) finish; return 0 ;;
        join) join; return 0 ;;
    esac
    read_bundle
    # socat talks to HAProxy's admin socket (show stat, disable server) for operators and checks.
    apt_install haproxy keepalived socat
    mkdir -p "$LB_HAPROXY_RUN_DIR"
    local conf version_before version_after
    conf=$(keepalived_config)
    version_before=$(vrrp_version_of "$conf")
    install_bundle || true
    version_after=$(vrrp_version_of "$conf")
    local haproxy keepalived restart_keepalived
    haproxy=$(reload_of haproxy)
    keepalived=$(reload_of keepalived)
    restart_keepalived=$(restart_of keepalived)
    if [[ $PENDING_AT_START == yes ]]; then
        info "an earlier run of this step was interrupted: reloading haproxy and keepalived"
        haproxy=yes keepalived=yes
    fi
    # A change for the VIP holder waits for the finish phase, after its peer applied its own.
    if [[ $haproxy$keepalived$restart_keepalived == *yes* ]] && holds_vip && peer_haproxy_answers; then
        printf '%s %s %s\n' "$haproxy" "$keepalived" "$restart_keepalived" >"$DEFERRED"
        track_unit haproxy keepalived
        info "holds the VIP: its reload waits until the peer has applied its change"
        date +%s%N
        return 0
    fi
    rm -f "$DEFERRED"
    # VRRPv2 and v3 drop each other's adverts: were both to run, each would hold the VIP. So the
    # host that does not hold it stops its keepalived here, the holder (alone) reloads in the
    # finish phase, and this one starts again in the join phase.
    if [[ $version_before != none && $version_before != "$version_after" ]] && systemctl is-active -q keepalived && ! holds_vip && vip_answers; then
        apply_haproxy "$haproxy"
        info "VRRP version $version_before -> $version_after: stopping keepalived until the VIP holder ($K8SHA_PEER) runs version $version_after (the join phase)"
        track_unit keepalived
        printf '%s %s\n' "$version_before" "$version_after" >"$JOIN"
        systemctl stop keepalived
        date +%s%N
        return 0
    fi
    apply "$haproxy" "$keepalived" "$restart_keepalived"
    date +%s%N
}

# join: starts the keepalived that the stage stopped for a change of VRRP version, now that the
# VIP holder runs the new version (its finish phase ran before this one).
join() {
    if [[ ! -f $JOIN ]]; then
        info "nothing to join"
        return 0
    fi
    local before after
    read -r before after <"$JOIN"
    info "starting keepalived with VRRP version $after (stopped by the stage, was $before); $K8SHA_PEER holds the VIP"
    systemctl start keepalived
    wait_until 30 "keepalived to run" systemctl is-active -q keepalived
    rm -f "$JOIN"
    info "load balancer ready ($(holds_vip && echo "holds the VIP" || echo "standby"))"
    UNITS=()
}

# keepalived_config: the bundle's keepalived config (the file its daemon checks).
keepalived_config() {
    local p
    for p in "${BUNDLE[@]}"; do
        if [[ ${BUNDLE_CHECK[$p]:-} == keepalived ]]; then
            echo "$p"
            return 0
        fi
    done
    fatal "the bundle has no keepalived config"
}

# vrrp_version_of FILE: the VRRP version the config sets (keepalived's default 2), or none
# when there is no such file yet.
vrrp_version_of() {
    [[ -f $1 ]] || { echo none; return 0; }
    awk '$1 == "vrrp_version" { v = $2 } END { print v ? v : 2 }' "$1"
}

# finish: applies what the stage phase deferred on the VIP holder, now that the peer is done.
finish() {
    local haproxy keepalived restart_keepalived
    if [[ ! -f $DEFERRED ]]; then
        info "nothing deferred"
        return 0
    fi
    read -r haproxy keepalived restart_keepalived <"$DEFERRED"
    info "the peer is done: applying this host's change (the VIP holder, last)"
    apply "$haproxy" "$keepalived" "$restart_keepalived"
    rm -f "$DEFERRED"
    # The stage step's record has these units; this step (which has no delete) keeps none.
    UNITS=()
}

# apply HAPROXY KEEPALIVED RESTART_KEEPALIVED: reloads (or starts) HAProxy and keepalived, or
# restarts keepalived after handing the VIP over.
apply() {
    local haproxy=$1 keepalived=$2 restart_keepalived=$3
    apply_haproxy "$haproxy"
    if [[ $restart_keepalived == yes ]] && systemctl is-active -q keepalived; then
        hand_off_vip
        info "restarting keepalived (its unit changed)"
        track_unit keepalived
        systemctl restart keepalived
    else
        reload_or_start keepalived "$keepalived"
    fi
    wait_until 30 "keepalived to run" systemctl is-active -q keepalived
    info "load balancer ready ($(holds_vip && echo "holds the VIP" || echo "standby"))"
}

# apply_haproxy CHANGED: reloads (or starts) HAProxy and waits for it to listen.
apply_haproxy() {
    fault_point before-restart
    reload_or_start haproxy "$1"
    wait_until 30 "haproxy to listen on port $K8SHA_API_PORT" haproxy_listens
}

haproxy_listens() { ss -Hltn "sport = :$K8SHA_API_PORT" | grep -q .; }
# vip_held: the VIP as the interface holds it (ADDRESS/PREFIX: keepalived adds it with the
# network's prefix), or nothing; nothing too when there is no such interface.
vip_held() { ip -o -4 addr show dev "$K8SHA_INTERFACE" 2>/dev/null | awk -v vip="$K8SHA_VIP" '{ split($4, a, "/") } a[1] == vip { print $4 }'; }
holds_vip() { [[ -n $(vip_held) ]]; }
# shellcheck disable=SC2016 # $0 and $1 are the inner shell's
peer_haproxy_answers() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$K8SHA_PEER" "$K8SHA_API_PORT"; }
# vip_answers: the API port answers on the VIP (from a host that does not hold it: on the peer).
# shellcheck disable=SC2016 # $0 and $1 are the inner shell's
vip_answers() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$K8SHA_VIP" "$K8SHA_API_PORT"; }

# reload_or_start UNIT CHANGED: a running unit reloads when its config changed; a stopped one starts.
reload_or_start() {
    local unit=$1 changed=$2
    if systemctl is-active -q "$unit"; then
        track_unit "$unit"
        if [[ $changed == yes ]]; then
            info "reloading $unit (its config changed; connections and the VIP stay)"
            systemctl reload "$unit"
        fi
        systemctl is-enabled -q "$unit" 2>/dev/null || systemctl enable -q "$unit" 2>/dev/null || true
    else
        service_apply "$unit" "$changed"
    fi
}

# hand_off_vip: on the VIP holder, stops keepalived so the peer takes the VIP at once (keepalived
# sends a priority-0 advert as it stops), after checking that the peer's HAProxy answers.
hand_off_vip() {
    holds_vip || return 0
    wait_until 60 "the peer's HAProxy ($K8SHA_PEER:$K8SHA_API_PORT) to answer before handing it the VIP" peer_haproxy_answers
    info "handing the VIP to $K8SHA_PEER before restarting keepalived"
    systemctl stop keepalived
    wait_until 10 "the VIP to leave this host" bash -c "! ip -o addr show dev '$K8SHA_INTERFACE' | grep -qF ' $K8SHA_VIP/'"
}

delete() {
    service_remove keepalived
    systemctl disable --now -q haproxy 2>/dev/null || true
    rm -f "$STATE_DIR/started/haproxy" "$DEFERRED" "$JOIN"
    # A keepalived that was killed leaves the VIP behind: removed as the interface lists it.
    if [[ -n ${K8SHA_INTERFACE:-} ]]; then
        local held
        held=$(vip_held) || held=""
        if [[ -n $held ]]; then
            ip addr del "$held" dev "$K8SHA_INTERFACE"
            info "removed the VIP $held from $K8SHA_INTERFACE"
        fi
    fi
    remove_owned
    apt_purge keepalived haproxy socat
    info "load balancer removed"
}

run_verb "${1:-}"
