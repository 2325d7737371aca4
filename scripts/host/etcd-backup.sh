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
shopt -s extglob

# Whose authorized_keys holds the line, so that a change of SSH user takes it out of the old one's.
KEY_USER_RECORD=$STATE_DIR/etcd-backup/ssh-user

# authorized_keys_of USER: the user's authorized_keys. Refused when its folder or the file is a
# symlink (an edit would land where it points) or not a folder and a regular file.
authorized_keys_of() {
    local home
    home=$(getent passwd "$1" | cut -d: -f6) || true
    [[ -n $home && -d $home ]] || fatal "the SSH user $1 has no home folder here"
    [[ ! -L $home/.ssh ]] || fatal "$home/.ssh is a symlink: refused (k8s-ha edits authorized_keys only in the user's own folder)"
    [[ ! -e $home/.ssh || -d $home/.ssh ]] || fatal "$home/.ssh is not a folder: refused"
    [[ ! -L $home/.ssh/authorized_keys ]] || fatal "$home/.ssh/authorized_keys is a symlink: refused (k8s-ha edits no file it points to)"
    [[ ! -e $home/.ssh/authorized_keys || -f $home/.ssh/authorized_keys ]] || fatal "$home/.ssh/authorized_keys is not a regular file: refused"
    printf '%s/.ssh/authorized_keys' "$home"
}

# is_backup_key LINE: LINE (without its end of line) is a key line of this step's, one whose last
# word is KEY_COMMENT; a comment line (#) never is.
is_backup_key() {
    [[ $1 != *([[:blank:]])#* && $1 == *[[:blank:]]"$KEY_COMMENT" ]]
}

# set_authorized_key USER [LINE]: USER's authorized_keys holds LINE as its only line of this step's
# (none without LINE). The installer itself logs in through this file, so every other line stays
# byte for byte (CRLF ends, comments, a last line without a newline), LINE takes the place of the
# step's earlier line (or comes last), and the file is replaced at once: written beside it under a
# mktemp name with its owner and mode, its size checked, synced, then renamed over it and the
# folder synced. Untouched when nothing changes; never made just to hold nothing.
set_authorized_key() {
    local user=$1 line=${2:-} file dir tmp l body cr eol got placed=no size=0
    local LC_ALL=C
    [[ $line != *$'\n'* && $line != *$'\r'* ]] || fatal "the etcd members' authorized_keys line has a line break in it"
    [[ -z $line ]] || is_backup_key "$line" || fatal "the etcd members' authorized_keys line does not end in $KEY_COMMENT"
    file=$(authorized_keys_of "$user")
    dir=$(dirname "$file")
    if [[ ! -e $file ]]; then
        [[ -n $line ]] || return 0
        if [[ ! -d $dir ]]; then install -d -m 0700 -o "$user" -g "$(id -gn "$user")" "$dir"; fi
    elif [[ $(tr -d '\000' <"$file" | wc -c) != $(wc -c <"$file") ]]; then
        fatal "$file has a NUL byte: refused (k8s-ha would not keep it as it is)"
    fi
    # A temporary file an interrupted run left (sshd never reads it).
    rm -f -- "$dir"/.authorized_keys.k8s-ha.??????
    tmp=$(mktemp "$dir/.authorized_keys.k8s-ha.XXXXXX")
    if [[ -e $file ]]; then
        while :; do
            eol=$'\n'
            if ! IFS= read -r l; then
                [[ -n $l ]] || break
                eol=""
            fi
            body=${l%$'\r'}
            cr=${l:${#body}}
            if is_backup_key "$body"; then
                if [[ -n $line && $placed == no ]]; then
                    printf '%s%s%s' "$line" "$cr" "$eol"
                    size=$((size + ${#line} + ${#cr} + ${#eol}))
                    placed=yes
                fi
            else
                printf '%s%s' "$l" "$eol"
                size=$((size + ${#l} + ${#eol}))
            fi
            [[ -n $eol ]] || break
        done <"$file" >"$tmp"
    fi
    if [[ -n $line && $placed == no ]]; then
        # After a last line without a newline, one newline first: the line must be a line of its own.
        if [[ -s $tmp && -n $(tail -c 1 "$tmp") ]]; then
            printf '\n' >>"$tmp"
            size=$((size + 1))
        fi
        printf '%s\n' "$line" >>"$tmp"
        size=$((size + ${#line} + 1))
    fi
    if [[ -e $file ]] && cmp -s "$tmp" "$file"; then
        rm -f -- "$tmp"
        return 0
    fi
    got=$(stat -c %s "$tmp")
    if [[ $got != "$size" ]]; then
        rm -f -- "$tmp"
        fatal "$file: its new copy came out $got bytes long, not $size: the file is left as it was"
    fi
    if [[ -e $file ]]; then
        chown --reference="$file" -- "$tmp"
        chmod --reference="$file" -- "$tmp"
    else
        chown "$user:$(id -gn "$user")" -- "$tmp"
        chmod 0600 -- "$tmp"
    fi
    sync -- "$tmp"
    mv -fT -- "$tmp" "$file"
    sync -- "$dir"
    if [[ -n $line ]]; then info "$file: the etcd members' key may run the snapshot store's receive, and nothing else"; else info "$file: removed the etcd members' key"; fi
}

# keep_authorized_key USER LINE: set_authorized_key, and the line taken out of the authorized_keys of
# the user that held it before (the stack's SSH user changed), as recorded in KEY_USER_RECORD.
keep_authorized_key() {
    local user=$1 line=$2 before=""
    if [[ -f $KEY_USER_RECORD ]]; then before=$(cat "$KEY_USER_RECORD"); fi
    if [[ -n $before && $before != "$user" ]] && getent passwd "$before" >/dev/null; then set_authorized_key "$before"; fi
    set_authorized_key "$user" "$line"
    mkdir -p "$(dirname "$KEY_USER_RECORD")"
    printf '%s\n' "$user" >"$KEY_USER_RECORD"
}

# drop_authorized_key: the line out of the SSH user's authorized_keys, and of the recorded one's.
drop_authorized_key() {
    local u before=""
    if [[ -f $KEY_USER_RECORD ]]; then before=$(cat "$KEY_USER_RECORD"); fi
    for u in "$SSH_USER" ${before:+"$before"}; do
        if getent passwd "$u" >/dev/null; then set_authorized_key "$u"; fi
    done
    rm -f -- "$KEY_USER_RECORD"
    rmdir "$(dirname "$KEY_USER_RECORD")" 2>/dev/null || true
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
    keep_authorized_key "$SSH_USER" "$(cat "$AUTHORIZED_KEY")"
    retire_snapshot_taker
    report_legacy
    info "etcd snapshots from the members are kept in $SNAPSHOT_DIR (root only)"
}

delete() {
    drop_authorized_key
    remove_owned
    remove_paths "$LIB" "$(dirname "$AUTHORIZED_KEY")"
    rmdir "$HA_ETC_DIR" 2>/dev/null || true
    info "the backup host no longer receives etcd snapshots; those kept stay in $SNAPSHOT_DIR"
}

run_verb "${1:-}"
