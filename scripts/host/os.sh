#!/usr/bin/env bash
# Node, phase 1, on every host: prepares the operating system (the facts come from facts.sh).
# Files (stdin): /etc/k8s-ha/hosts (the managed /etc/hosts block), /etc/sysctl.d/90-k8s-ha.conf,
# /etc/modules-load.d/k8s-ha.conf, /etc/chrony/chrony.conf.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOSTS_BEGIN="# BEGIN k8s-ha"
HOSTS_END="# END k8s-ha"

in_container() { systemd-detect-virt -cq 2>/dev/null; }

set_hostname() {
    if [[ $(hostname) != "$K8SHA_HOST" ]]; then
        hostnamectl set-hostname "$K8SHA_HOST" 2>/dev/null || {
            printf '%s\n' "$K8SHA_HOST" >"$SYSTEM_HOSTNAME"
            hostname "$K8SHA_HOST"
        }
        info "hostname set"
    fi
}

# write_hosts_block: replaces the k8s-ha block of /etc/hosts with the staged one.
write_hosts_block() {
    local block=$1 tmp
    tmp=$(mktemp)
    awk -v b="$HOSTS_BEGIN" -v e="$HOSTS_END" '$0==b{skip=1;next} $0==e{skip=0;next} !skip' "$SYSTEM_HOSTS" >"$tmp"
    if [[ -n $block ]]; then
        { printf '%s\n' "$HOSTS_BEGIN"; cat "$block"; printf '%s\n' "$HOSTS_END"; } >>"$tmp"
    fi
    if ! cmp -s "$tmp" "$SYSTEM_HOSTS"; then
        cat "$tmp" >"$SYSTEM_HOSTS"
        info "updated $SYSTEM_HOSTS"
    fi
    rm -f "$tmp"
}

disable_swap() {
    if [[ -n $(swapon --show --noheadings 2>/dev/null) ]]; then
        swapoff -a
        info "swap off"
    fi
    if grep -qE '^[^#].*[[:space:]]swap[[:space:]]' "$SYSTEM_FSTAB" 2>/dev/null; then
        sed -i -E 's/^([^#].*[[:space:]]swap[[:space:]].*)$/# k8s-ha: \1/' "$SYSTEM_FSTAB"
        info "swap disabled in $SYSTEM_FSTAB"
    fi
}

# module_present NAME: loaded, or built in. A built-in module without parameters has no
# /sys/module entry, so overlay and br_netfilter are also recognised by what they provide.
module_present() {
    [[ -d /sys/module/$1 ]] && return 0
    case $1 in
    overlay) grep -qw overlay /proc/filesystems ;;
    br_netfilter) [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] ;;
    *) return 1 ;;
    esac
}

# load_modules: loads what is missing (containers have no /lib/modules to load from).
load_modules() {
    local m
    while read -r m; do
        [[ -z $m || $m == \#* ]] && continue
        module_present "$m" && continue
        modprobe "$m" 2>/dev/null || fatal "kernel module $m is neither loaded nor loadable; install it or build it in"
        info "loaded module $m"
    done <"$OS_MODULES"
}

apply_sysctls() {
    if ! sysctl -q -p "$OS_SYSCTL" >/dev/null 2>"$STAGE/sysctl.err"; then
        if in_container; then
            warn "some sysctls are read-only in this container: $(tr '\n' ' ' <"$STAGE/sysctl.err")"
        else
            fatal "sysctl failed: $(cat "$STAGE/sysctl.err")"
        fi
    fi
}

# setup_time_sync: a container shares its host's kernel clock, so chrony runs only on real hosts.
setup_time_sync() {
    if in_container; then
        info "in a container: the clock is the container host's; chrony not needed"
        return 0
    fi
    apt_install chrony
    # A chrony the host had before keeps its own config for when k8s-ha goes (delete puts it back).
    if [[ ! -f $STATE_DIR/packages/chrony && -f $OS_CHRONY && ! -f $STATE_DIR/chrony.conf.orig ]]; then
        cp -p "$OS_CHRONY" "$STATE_DIR/chrony.conf.orig"
    fi
    if install_file "$OS_CHRONY"; then service_apply chrony yes; else service_apply chrony no; fi
}

# restore_time_sync: purges a chrony k8s-ha installed, or gives a chrony the host had its config back.
restore_time_sync() {
    if [[ -f $STATE_DIR/packages/chrony ]]; then
        service_remove chrony
        apt_purge chrony
    elif [[ -f $STATE_DIR/chrony.conf.orig ]]; then
        install -m 0644 -o root -g root "$STATE_DIR/chrony.conf.orig" "$OS_CHRONY"
        rm -f "$STATE_DIR/chrony.conf.orig"
        if systemctl is-active -q chrony; then systemctl restart chrony; fi
        info "restored the host's $OS_CHRONY"
    fi
    service_release chrony
}

create() {
    read_bundle
    mkdir -p "$STATE_DIR" "$HA_ETC_DIR"
    set_hostname
    install_bundle || true
    write_hosts_block "$OS_HOSTS_BLOCK"
    disable_swap
    load_modules
    apply_sysctls
    setup_time_sync
}

delete() {
    write_hosts_block ""
    restore_time_sync
    remove_owned
    remove_paths "$HA_ETC_DIR"
    if [[ -d $STATE_DIR ]] && [[ -z $(find "$STATE_DIR" -type f -print -quit) ]]; then
        remove_paths "$STATE_DIR"
    fi
    info "operating system settings of k8s-ha removed"
}

run_verb "${1:-}"
