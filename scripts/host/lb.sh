#!/usr/bin/env bash
# LoadBalancerPair, on each lb host: HAProxy in front of every apiserver and Keepalived holding the VIP.
# Files (stdin): /etc/haproxy/haproxy.cfg, /etc/keepalived/keepalived.conf, /etc/keepalived/check-haproxy.sh,
# /etc/systemd/system/keepalived.service.d/k8s-ha.conf.
# Environment: K8SHA_VIP, K8SHA_INTERFACE.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

check_haproxy() { haproxy -c -q -f "$1"; }
# keepalived checks the script it names at its live path, so the script is installed first.
check_keepalived() { keepalived -t -f "$1"; }

create() {
    read_bundle
    # socat talks to HAProxy's admin socket (show stat, disable server) for operators and checks.
    apt_install haproxy keepalived socat
    mkdir -p /run/haproxy
    local haproxy=no keepalived=no
    if install_file /etc/haproxy/haproxy.cfg check_haproxy; then haproxy=yes; fi
    if install_file /etc/keepalived/check-haproxy.sh; then keepalived=yes; fi
    if install_file /etc/keepalived/keepalived.conf check_keepalived; then keepalived=yes; fi
    if install_file /etc/systemd/system/keepalived.service.d/k8s-ha.conf; then keepalived=yes; fi
    reload_units_if_changed
    service_apply haproxy "$haproxy"
    service_apply keepalived "$keepalived"
    wait_until 30 "haproxy to listen" systemctl is-active -q haproxy
    info "load balancer ready"
}

delete() {
    service_remove keepalived
    systemctl disable --now -q haproxy 2>/dev/null || true
    rm -f "$STATE_DIR/started/haproxy"
    if [[ -n ${K8SHA_INTERFACE:-} ]]; then
        ip addr del "$K8SHA_VIP/32" dev "$K8SHA_INTERFACE" 2>/dev/null || true
    fi
    remove_paths /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf /etc/keepalived/check-haproxy.sh
    apt_purge keepalived haproxy socat
    info "load balancer removed"
}

run_verb "${1:-}"
