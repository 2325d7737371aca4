#!/usr/bin/env bash
# Runs on the Pulumi machine (a local Command's delete, after the etcd member's own delete saved a
# snapshot on its host): copies the member's newest snapshot off the host, to the NFS server's
# root-only backup folder outside the export (k8s-ha:etcdBackup.target nfs; written by the store
# script, which refuses a folder that is a symlink or not root's) or to a folder on this machine
# (local), checks its sha256 there, and says where. The SSH key arrives on stdin and lives in a private temporary folder until
# exit; the hosts' keys are the pinned ones. A failed copy fails the delete, so a later destroy
# tries again; the snapshot stays on the member's host meanwhile.
# Environment: K8SHA_HOST, SRC ("user address port"), COPY_TO (nfs|local), DEST ("user address
# port", nfs), DEST_HOST (its name), DEST_DIR, STORE_SCRIPT (nfs: scripts/host/files/etcd-store.sh in base64, carried in
# the command's state, so a destroy years later still has it), KNOWN_HOSTS (known_hosts lines of both hosts), UNPINNED (yes: a host has no
# pinned key, k8s-ha:allowUnpinnedHostKeys, and keys are not checked).
set -Eeuo pipefail
say() { printf 'k8s-ha[%s]: %s\n' "$K8SHA_HOST" "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/k8s-ha-snapshot.XXXXXX")
chmod 0700 "$WORK"
trap 'rm -rf "$WORK"' EXIT
(umask 077 && cat >"$WORK/key")
[[ -s $WORK/key ]] || die "no SSH key on stdin"
# ssh reads a key only with its final newline, which a stack config value may lack.
if [[ -n $(tail -c 1 "$WORK/key") ]]; then printf '\n' >>"$WORK/key"; fi
printf '%s\n' "$KNOWN_HOSTS" >"$WORK/known_hosts"

# on USER ADDRESS PORT COMMAND: runs COMMAND there (as root), with the pinned host key.
on() {
    local user=$1 address=$2 port=$3 sudo=""
    shift 3
    [[ $user == root ]] || sudo="sudo -n "
    local strict=yes
    [[ ${UNPINNED:-no} != yes ]] || strict=no
    ssh -i "$WORK/key" -o BatchMode=yes -o StrictHostKeyChecking="$strict" -o UserKnownHostsFile="$WORK/known_hosts" \
        -o ConnectTimeout=10 -p "$port" "$user@$address" "$sudo$*"
}

read -r src_user src_address src_port <<<"$SRC"
latest=$(on "$src_user" "$src_address" "$src_port" "ls -t /var/backups/k8s-ha/etcd/$K8SHA_HOST-*.db 2>/dev/null | head -n 1") ||
    die "cannot reach $src_address to copy etcd's snapshot off it"
if [[ -z $latest ]]; then
    say "no etcd snapshot on the host to copy off it"
    exit 0
fi
name=$(basename "$latest")
on "$src_user" "$src_address" "$src_port" "cat '$latest'" >"$WORK/$name" || die "cannot read $latest on $src_address"
sum=$(sha256sum "$WORK/$name" | cut -d' ' -f1)
size=$(stat -c %s "$WORK/$name")
case $COPY_TO in
nfs)
    read -r dest_user dest_address dest_port <<<"$DEST"
    [[ $name =~ ^[a-z0-9][a-z0-9.-]*-[0-9]{8}T[0-9]{6}Z(-copy)?\.db$ && $DEST_DIR =~ ^/[A-Za-z0-9._/-]+$ && $STORE_SCRIPT =~ ^[A-Za-z0-9+/=]+$ ]] ||
        die "cannot copy $name to $DEST_DIR: an unexpected name or folder"
    # shellcheck disable=SC2016 # expands on the host
    on "$dest_user" "$dest_address" "$dest_port" "bash -c \"\$(echo $STORE_SCRIPT | base64 -d)\" store put $DEST_HOST $DEST_DIR $name $sum" <"$WORK/$name" ||
        die "cannot write the snapshot to $dest_address:$DEST_DIR; it is still on the host: $latest"
    where="$dest_address:$DEST_DIR/$name"
    ;;
local)
    mkdir -p "$DEST_DIR"
    chmod 0700 "$DEST_DIR"
    install -m 0600 "$WORK/$name" "$DEST_DIR/$name"
    where="$(cd "$DEST_DIR" && pwd)/$name (on the Pulumi machine)"
    ;;
*) die "COPY_TO is $COPY_TO, not nfs or local" ;;
esac
say "copied etcd's snapshot off the host: $where ($size bytes, sha256 $sum)"
