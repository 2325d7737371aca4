#!/usr/bin/env bash
# Run on each etcd member by scripts/etcd-backup.sh restore (over SSH, on stdin; not installed):
#   etcd-restore.sh HOST prepare SNAPSHOT STAMP   restores SNAPSHOT into a new folder beside the
#                                                 data (etcd may run meanwhile) as a new cluster of
#                                                 the members the member's unit names (its --name,
#                                                 --initial-cluster, peer URL), with the token
#                                                 k8s-ha-etcd-restored-STAMP; revisions are bumped
#                                                 and marked compacted, so the API's watchers relist
#   etcd-restore.sh HOST swap STAMP               etcd stopped: moves the member's data aside (to
#                                                 /var/backups/k8s-ha/etcd/before-restore-STAMP) and
#                                                 the prepared data in its place
#   etcd-restore.sh HOST discard STAMP            removes a prepared folder that was not swapped in
#   etcd-restore.sh HOST healthy                  etcd on this member answers healthy
set -Eeuo pipefail
export LC_ALL=C
HOST=$1
verb=$2
shift 2
say() { printf 'k8s-ha[%s]: %s\n' "$HOST" "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
# K8SHA_ETCD_UNIT: another unit to read the member's flags from (test/etcd-backup-files.test.ts).
UNIT=${K8SHA_ETCD_UNIT:-/etc/systemd/system/etcd.service}
TLS=(--cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key)
flag() { grep -oE -- "--$1=[^ \\\\\"]+" "$UNIT" | head -n 1 | cut -d= -f2-; }
data=$(flag data-dir)
[[ -n $data ]] || die "$UNIT names no --data-dir: is this an etcd member of k8s-ha?"

case $verb in
prepare)
    snapshot=$1 stamp=$2
    [[ -f $snapshot ]] || die "no snapshot $snapshot on this host"
    name=$(flag name) cluster=$(flag initial-cluster) peer=$(flag initial-advertise-peer-urls)
    [[ -n $name && -n $cluster && -n $peer ]] || die "$UNIT does not name this member's --name, --initial-cluster and --initial-advertise-peer-urls"
    skip=()
    # A copy of a stopped member's bolt file (…-copy.db) has no snapshot hash.
    [[ $snapshot != *-copy.db ]] || skip=(--skip-hash-check)
    new=$data.restore-$stamp
    rm -rf "$new"
    if ! out=$(/usr/local/bin/etcdutl snapshot restore "$snapshot" --name "$name" --initial-cluster "$cluster" \
        --initial-cluster-token "k8s-ha-etcd-restored-$stamp" --initial-advertise-peer-urls "$peer" \
        --data-dir "$new" --bump-revision 1000000000 --mark-compacted "${skip[@]}" 2>&1); then
        rm -rf "$new"
        die "etcdutl could not restore $(basename "$snapshot"): $(tail -n 2 <<<"$out"); nothing was changed"
    fi
    chown -R etcd:etcd "$new"
    chmod 0700 "$new"
    say "prepared $(basename "$snapshot") as member $name of a new cluster ($cluster)"
    ;;
swap)
    stamp=$1
    new=$data.restore-$stamp
    [[ -d $new/member ]] || die "nothing prepared in $new"
    ! systemctl is-active -q etcd || die "etcd still runs; it must be stopped first"
    if [[ -d $data/member ]]; then
        aside=/var/backups/k8s-ha/etcd/before-restore-$stamp
        mkdir -p "$aside"
        chmod 0700 "$aside"
        mv "$data/member" "$aside/member"
        say "moved the member's data aside: $aside"
    fi
    install -d -m 0700 -o etcd -g etcd "$data"
    mv "$new/member" "$data/member"
    rmdir "$new"
    say "the restored data is in place"
    ;;
discard)
    rm -rf "$data.restore-$1"
    ;;
healthy)
    /usr/local/bin/etcdctl --endpoints=https://127.0.0.1:2379 "${TLS[@]}" --command-timeout=3s endpoint health >/dev/null 2>&1
    ;;
*) die "usage: etcd-restore.sh HOST prepare SNAPSHOT STAMP | swap STAMP | discard STAMP | healthy" ;;
esac
