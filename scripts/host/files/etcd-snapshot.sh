#!/usr/bin/env bash
# k8s-ha's scheduled etcd snapshot, on the backup host (the NFS server): k8s-ha-etcd-backup.service
# runs it when its timer fires (or by hand: systemctl start k8s-ha-etcd-backup). It saves one
# snapshot of the cluster from the first member that gives one, checks it with etcdutl, names it
# by the time (UTC), and keeps the newest KEEP scheduled snapshots in DIR; the snapshots a member's
# delete copied there stay. Settings (from /etc/k8s-ha/etcd-backup.env): HOST, ENDPOINTS (every
# member's client URL), DIR, KEEP. Client TLS: /etc/k8s-ha/etcd-backup/{ca.crt,client.crt,client.key}.
set -Eeuo pipefail
umask 077
export LC_ALL=C
HOST=${HOST:-$(hostname)}
say() { printf 'k8s-ha[%s]: %s\n' "$HOST" "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
BIN=/usr/local/lib/k8s-ha/etcd-backup/bin
PKI=/etc/k8s-ha/etcd-backup
[[ -n ${ENDPOINTS:-} && -n ${DIR:-} && ${KEEP:-} =~ ^[0-9]+$ && $KEEP -ge 1 ]] || die "ENDPOINTS, DIR and KEEP must be set (/etc/k8s-ha/etcd-backup.env)"
mkdir -p "$DIR"
chmod 0700 "$DIR"
file=$DIR/scheduled-$(date -u +%Y%m%dT%H%M%SZ).db
trap 'rm -f "$file.part"' EXIT
from=""
IFS=, read -r -a endpoints <<<"$ENDPOINTS"
for ep in "${endpoints[@]}"; do
    if out=$("$BIN/etcdctl" --endpoints="$ep" --cacert="$PKI/ca.crt" --cert="$PKI/client.crt" --key="$PKI/client.key" \
        --dial-timeout=5s --command-timeout=300s snapshot save "$file.part" 2>&1) &&
        out=$("$BIN/etcdutl" snapshot status "$file.part" -w simple 2>&1); then
        from=$ep
        break
    fi
    say "warning: no snapshot from $ep: $(tail -n 1 <<<"$out")"
    rm -f "$file.part"
done
[[ -n $from ]] || die "no etcd member gave a snapshot (tried $ENDPOINTS); the last snapshots stay in $DIR"
chmod 0600 "$file.part"
mv -f "$file.part" "$file"
# etcdutl's status: hash, revision, total keys, total size.
read -r _ revision keys _ < <(tail -n 1 <<<"${out//,/ }")
say "saved a snapshot of etcd from $from: $file ($(stat -c %s "$file") bytes, revision $revision, $keys keys, sha256 $(sha256sum "$file" | cut -c1-64))"
# The newest KEEP scheduled snapshots stay (their names sort by time).
mapfile -t old < <(find "$DIR" -maxdepth 1 -name 'scheduled-*.db' -printf '%f\n' | sort -r | tail -n +"$((KEEP + 1))")
for f in "${old[@]}"; do
    rm -f "${DIR:?}/$f"
    say "removed the snapshot $f (the newest $KEEP are kept)"
done
