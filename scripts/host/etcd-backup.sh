#!/usr/bin/env bash
# EtcdBackup, on the backup host (the NFS server): keeps the scheduled etcd snapshots the members
# send it, encrypted and signed, in SNAPSHOT_DIR (root's own 0700 folder, outside every export). It
# installs the store script, the settings and the public key the signatures verify with, makes
# SNAPSHOT_DIR, and keeps one line in SSH_USER's authorized_keys: the members' key, which may only run
# the store script's receive, from the members' addresses. This host holds no etcd credential and
# never the passphrase. What releases that took the snapshots here left (the etcd client
# certificate, etcdctl and etcdutl, the timer) is removed; their snapshots in LEGACY_DIR (inside
# the export) are neither read nor removed: the step says they are there. A delete removes the
# authorized_keys line and the files; the snapshots stay.
# Files (stdin): the settings, the verify key, the store script and the authorized_keys line, as
# components/etcdbackup.ts sends them.
# Environment: SNAPSHOT_DIR, AUTHORIZED_KEY (the file of the line), KEY_COMMENT (the comment that ends
# it), SSH_USER, LIB (the folder of the store script, STORE_SCRIPT), LEGACY_UNIT, LEGACY_DIR (may be empty).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# authorized_keys_of USER: the user's authorized_keys, refused when it or its folder is a symlink.
authorized_keys_of() {
    local home
    home=$(getent passwd "$1" | cut -d: -f6)
    [[ -n $home && -d $home ]] || fatal "the SSH user $1 has no home folder here"
    [[ ! -L $home/.ssh && ! -L $home/.ssh/authorized_keys ]] || fatal "$home/.ssh or its authorized_keys is a symlink: refused"
    printf '%s/.ssh/authorized_keys' "$home"
}

# set_authorized_key USER [LINE]: USER's authorized_keys holds LINE as its only line ending in
# KEY_COMMENT (none without LINE); every other line stays as it is. Rewritten only on change.
set_authorized_key() {
    local user=$1 line=${2:-} file dir tmp
    file=$(authorized_keys_of "$user")
    dir=$(dirname "$file")
    if [[ ! -d $dir ]]; then
        [[ -n $line ]] || return 0
        install -d -m 0700 -o "$user" -g "$(id -gn "$user")" "$dir"
    fi
    tmp=$(mktemp "$dir/.authorized_keys.k8s-ha.XXXXXX")
    if [[ -f $file ]]; then grep -v -- " $KEY_COMMENT\$" "$file" >"$tmp" || true; fi
    if [[ -n $line ]]; then printf '%s\n' "$line" >>"$tmp"; fi
    if [[ -f $file ]] && cmp -s "$tmp" "$file"; then
        rm -f "$tmp"
        return 0
    fi
    if [[ ! -f $file && -z $line ]]; then
        rm -f "$tmp"
        return 0
    fi
    chown "$user:$(id -gn "$user")" "$tmp"
    chmod 0600 "$tmp"
    mv -fT "$tmp" "$file"
    if [[ -n $line ]]; then info "$file: the etcd members' key may run the snapshot store's receive, and nothing else"; else info "$file: removed the etcd members' key"; fi
}

# retire_snapshot_taker: what releases that took the snapshots on this host installed besides its
# bundle's files (prune_owned removes those, and stops their timer): etcdctl and etcdutl.
retire_snapshot_taker() {
    if [[ -d $LIB/bin ]]; then
        remove_paths "$LIB/bin"
        info "this host no longer takes etcd snapshots (the members do): its etcd tools are removed"
    fi
    rm -f "$STATE_DIR/started/$LEGACY_UNIT.timer"
}

# report_legacy: earlier releases' snapshots under the export stay where they are, said on each run.
report_legacy() {
    local n
    [[ -n ${LEGACY_DIR:-} && -d $LEGACY_DIR && ! -L $LEGACY_DIR ]] || return 0
    n=$(find "$LEGACY_DIR" -maxdepth 1 -type f -name '*.db' | wc -l)
    ((n > 0)) || return 0
    warn "$n etcd snapshots of an earlier release are still in $LEGACY_DIR, inside the NFS export; k8s-ha no longer writes, reads or removes them: check and move or delete them yourself (README, etcd backups)"
}

create() {
    read_bundle
    install_bundle || true
    bash "$STORE_SCRIPT" init "$K8SHA_HOST" "$SNAPSHOT_DIR"
    set_authorized_key "$SSH_USER" "$(cat "$AUTHORIZED_KEY")"
    retire_snapshot_taker
    report_legacy
    info "etcd snapshots from the members are kept in $SNAPSHOT_DIR (root only)"
}

delete() {
    if getent passwd "$SSH_USER" >/dev/null; then set_authorized_key "$SSH_USER"; fi
    remove_owned
    remove_paths "$LIB" "$(dirname "$AUTHORIZED_KEY")"
    rmdir /etc/k8s-ha 2>/dev/null || true
    info "the backup host no longer receives etcd snapshots; those kept stay in $SNAPSHOT_DIR"
}

run_verb "${1:-}"
