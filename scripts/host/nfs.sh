#!/usr/bin/env bash
# NfsServer: nfs-kernel-server exporting one directory to the node network only.
# Files (stdin): the export table, as components/nfs.ts sends it.
# Environment: NFS_PATH.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create() {
    read_bundle
    [[ -d /sys/module/nfsd || -f /proc/fs/nfsd/versions ]] || modprobe nfsd 2>/dev/null ||
        fatal "this kernel has no NFS server (nfsd); the nfs role needs a host with a full kernel, not a container"
    apt_install nfs-kernel-server
    if [[ ! -d $NFS_PATH ]]; then
        install -d -m 0755 -o nobody -g nogroup "$NFS_PATH"
        info "created $NFS_PATH"
    fi
    mkdir -p "$NFS_EXPORTS_DIR"
    install_bundle || true
    if [[ $(reload_of nfs-server) == yes ]]; then exportfs -ra; fi
    service_apply nfs-server no
    exportfs -v | grep -q "^$NFS_PATH" || exportfs -ra
    info "exporting $NFS_PATH"
}

delete() {
    remove_owned
    if command -v exportfs >/dev/null; then exportfs -ra || true; fi
    # The directory may hold users' data: it goes only when empty.
    if [[ -d ${NFS_PATH:-} ]]; then
        if rmdir "$NFS_PATH" 2>/dev/null; then info "removed $NFS_PATH"; else warn "$NFS_PATH is not empty; kept"; fi
    fi
    if [[ -f $STATE_DIR/packages/nfs-kernel-server ]]; then
        systemctl disable --now -q nfs-server 2>/dev/null || true
        rm -f "$STATE_DIR/started/nfs-server"
        apt_purge nfs-kernel-server
    fi
    service_release nfs-server
    info "NFS export removed"
}

run_verb "${1:-}"
