#!/usr/bin/env bash
# Node, on every host, before anything else: reports the facts the program renders with, as one JSON
# line on stdout: the interface holding the host's configured address, its prefix length, the cgroup
# version and the container manager (none on a real host or VM). It changes nothing on the host, and
# it is a step of its own so that a change to other steps (the /etc/hosts block when a host joins)
# never makes the facts unknown in a preview. It is also the step that installs the host library
# (see prologue.sh), so every other step on the host depends on it, and its delete, the last on
# the host, removes the library's folder.
# Environment: K8SHA_ADDRESS (this host's address).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create() {
    local iface prefix cgroup container
    read -r iface prefix < <(ip -o -4 addr show | awk -v a="$K8SHA_ADDRESS" '{split($4,p,"/"); if (p[1]==a) {print $2, p[2]; exit}}')
    [[ -n ${iface:-} ]] || fatal "no interface has the configured address $K8SHA_ADDRESS; fix k8s-ha:hosts.$K8SHA_HOST.address"
    if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then cgroup=v2; else cgroup=v1; fi
    container=$(systemd-detect-virt -c 2>/dev/null || true)
    printf '{"interface":"%s","prefix":%s,"cgroup":"%s","container":"%s"}\n' "$iface" "$prefix" "$cgroup" "${container:-none}"
}

# Every other step of this host is gone by now (they depend on this one).
delete() {
    rm -rf "$LIB_DIR" "$RUN_DIR"
    info "host library removed"
}

run_verb "${1:-}"
