#!/usr/bin/env bash
# etcd's snapshots, from the Pulumi machine (npm run etcd-backup -- VERB):
#   list                  the snapshots on the backup host (the stack output etcdBackup) and those
#                         each member's delete saved on its own host
#   snapshot              takes a scheduled snapshot now (before a risky change, say): each member's
#                         snapshot service runs, and the one that leads etcd takes it
#   restore NAME [--yes]  restores every member from one snapshot: NAME is a file of the backup
#                         folder (as `list` shows it), HOST:PATH of a member's own, or a path on this
#                         machine (k8s-ha:etcdBackup.target local). A scheduled one
#                         (scheduled-*.db.enc) is checked first, here: its line in the backup host's
#                         manifest must verify with the stack's key and give its sha256, else it is
#                         refused; then it is decrypted with the stack's passphrase (the secret
#                         output etcdBackupPassphrase). It is restored on every member
#                         into a new folder first (nothing stops if that fails); then the apiservers
#                         and etcd stop, each member's data moves aside (kept in
#                         /var/backups/k8s-ha/etcd/before-restore-TIME), the restored data takes its
#                         place as a new cluster (a new token), etcd starts on every member at once,
#                         then the apiservers, the controller-managers and the schedulers. Every
#                         write after the snapshot is lost, so without --yes it only says what it
#                         would do.
# The hosts and keys come from the stack's config (scripts/stack-hosts.sh; --stack NAME or
# K8S_HA_STACK picks the stack); only the stack's own scripts run on the hosts.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { printf 'etcd-backup: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
usage="usage: etcd-backup.sh [--stack NAME] list | snapshot | restore NAME [--yes]"
# --stack NAME (or K8S_HA_STACK) picks the stack, on the backend scripts/pulumi.sh picks.
# shellcheck source=scripts/stack-hosts.sh
source scripts/stack-hosts.sh
stack_options "$usage" "$@"
set -- "${STACK_REST[@]}"
verb=${1:-}
case $verb in
list | snapshot | restore) ;;
*) die "$usage" ;;
esac
shift

WORK=$(mktemp -d "${TMPDIR:-/tmp}/k8s-ha-etcd-backup.XXXXXX")
chmod 0700 "$WORK"
trap 'rm -rf "$WORK"' EXIT
stack_hosts_load "$WORK" etcd-backup || exit 1
MEMBER_DIR=/var/backups/k8s-ha/etcd
mapfile -t members < <(hosts_with_role etcd)
mapfile -t cps < <(hosts_with_role control-plane)
((${#members[@]} > 0)) || die "the stack has no etcd member"

SNAPSHOT_UNIT=k8s-ha-etcd-snapshot
STORE=scripts/host/files/etcd-store.sh

# The backup host and folder, the key the manifest's signatures verify with and the encryption, from
# the stack output etcdBackup (empty when the schedule is off).
backup_host="" backup_dir="" encryption=""
if out=$(bash scripts/pulumi.sh stack output etcdBackup --json 2>/dev/null) && [[ $out != null && -n $out ]]; then
    # shellcheck disable=SC2016 # JavaScript, not shell
    location=$(node -e '
const o = JSON.parse(require("fs").readFileSync(0, "utf8"));
require("fs").writeFileSync(process.argv[1], o.verifyKey ?? "");
const e = o.encryption ?? {};
process.stdout.write(`${o.location ?? ""} ${e.cipher ?? ""} ${e.digest ?? ""} ${e.iterations ?? ""}`);
' "$WORK/verify.pem" <<<"$out")
    read -r location encryption_cipher encryption_digest encryption_iter <<<"$location"
    encryption="$encryption_cipher $encryption_digest $encryption_iter"
    backup_dir=${location#*:}
    backup_host=$(awk -v a="${location%%:*}" '$2 == a { print $1 }' "$WORK/hosts")
fi

list() {
    if [[ -n $backup_host ]]; then
        say "snapshots on $backup_host in $backup_dir (scheduled-*.db.enc: encrypted and signed; newest last):"
        on_host "$backup_host" "bash -s -- list $backup_host $backup_dir" <"$STORE" |
            awk -v h="$backup_host" '{ printf "  %s %s %s  %s bytes\n", h, $1 " " $2, $4, $3 }'
    else
        say "no scheduled snapshots: k8s-ha:etcdBackup.schedule is off (or the stack was not updated yet)"
    fi
    local m
    for m in "${members[@]}"; do
        on_host "$m" "find $MEMBER_DIR -maxdepth 1 -name '*.db' -printf '%TY-%Tm-%Td %TH:%TM %s %p\n' 2>/dev/null | sort" |
            awk -v h="$m" '{ printf "  %s %s %s:%s  %s bytes\n", h, $1 " " $2, h, $4, $3 }' || say "cannot reach $m"
    done
}

snapshot() {
    local m saved=""
    [[ -n $backup_host ]] || die "no scheduled snapshots on this stack (k8s-ha:etcdBackup.schedule is off)"
    # Each member's service, one after the other: only the leader's takes one, the others say so.
    for m in "${members[@]}"; do
        # shellcheck disable=SC2016 # expands on the host
        saved+=$(on_host "$m" 'systemctl start '$SNAPSHOT_UNIT'.service; rc=$?; journalctl _SYSTEMD_INVOCATION_ID="$(systemctl show -P InvocationID '$SNAPSHOT_UNIT'.service)" -o cat --no-pager | grep -E "saved a snapshot|error" || true; exit $rc') ||
            say "the snapshot service failed on $m: see journalctl -u $SNAPSHOT_UNIT there"
        [[ $saved != *"saved a snapshot"* ]] || break
    done
    [[ $saved == *"saved a snapshot"* ]] || die "no member took a snapshot: ${saved:-nothing logged}"
    grep 'saved a snapshot' <<<"$saved"
}

# fetch NAME: the snapshot into $WORK/snapshot.db; prints where it came from.
fetch() {
    local name=$1 host path
    if [[ -f $name ]]; then
        install -m 0600 "$name" "$WORK/snapshot.db"
        echo "$(cd "$(dirname "$name")" && pwd)/$(basename "$name") (on this machine)"
        return
    fi
    if [[ $name =~ ^scheduled-.*\.db\.enc$ ]]; then
        [[ -n $backup_host && -n $encryption ]] || die "no backup host on this stack to find $name on"
        on_host "$backup_host" "bash -s -- send $backup_host $backup_dir $name" <"$STORE" >"$WORK/snapshot.enc" 2>"$WORK/fetch.err" ||
            die "cannot read $name on $backup_host: $(tail -n 1 "$WORK/fetch.err")"
        on_host "$backup_host" "bash -s -- manifest $backup_host $backup_dir" <"$STORE" >"$WORK/manifest" 2>"$WORK/fetch.err" ||
            die "cannot read the manifest on $backup_host: $(tail -n 1 "$WORK/fetch.err")"
        read -r cipher digest iter <<<"$encryption"
        bash scripts/pulumi.sh stack output etcdBackupPassphrase --show-secrets 2>/dev/null |
            bash scripts/etcd-snapshot-open.sh "$backup_host:$backup_dir" "$name" "$WORK/snapshot.enc" "$WORK/manifest" "$WORK/verify.pem" "$cipher" "$digest" "$iter" "$WORK/snapshot.db" || exit 1
        rm -f "$WORK/snapshot.enc"
        echo "$backup_host:$backup_dir/$name"
        return
    fi
    [[ $name != *.db.enc ]] || die "$name: an encrypted snapshot is restored by its name on the backup host (scheduled-*.db.enc, see: npm run etcd-backup -- list)"
    if [[ $name == *:/* ]]; then
        host=${name%%:*} path=${name#*:}
    else
        [[ $name =~ ^[A-Za-z0-9._-]+\.db$ ]] || die "$name is not a snapshot's file name (see: npm run etcd-backup -- list), HOST:PATH, or a file on this machine"
        [[ -n $backup_host ]] || die "no backup folder on this stack to find $name in; give HOST:PATH or a file on this machine"
        # A member delete's copy on the backup host, through the store script's checks.
        on_host "$backup_host" "bash -s -- send $backup_host $backup_dir $name" <"$STORE" >"$WORK/snapshot.db" 2>"$WORK/fetch.err" ||
            die "cannot read $name on $backup_host: $(tail -n 1 "$WORK/fetch.err")"
        echo "$backup_host:$backup_dir/$name"
        return
    fi
    [[ $path =~ ^/[A-Za-z0-9._/-]+\.db$ ]] || die "$path is not a path of a .db file"
    on_host "$host" "cat '$path'" >"$WORK/snapshot.db" 2>"$WORK/fetch.err" || die "cannot read $path on $host: $(tail -n 1 "$WORK/fetch.err")"
    echo "$host:$path"
}

# on_members VERB ARGS...: the restore script's VERB on every member at once; fails when any fails.
on_members() {
    local m pids=() failed=0
    for m in "${members[@]}"; do
        on_host "$m" "bash -s -- $m $*" <scripts/host/files/etcd-restore.sh &
        pids+=($!)
    done
    for m in "${pids[@]}"; do wait "$m" || failed=1; done
    return "$failed"
}

# on_each COMMAND HOST...: COMMAND on each host at once; fails when any fails.
on_each() {
    local cmd=$1 h pids=() failed=0
    shift
    for h in "$@"; do
        on_host "$h" "$cmd" &
        pids+=($!)
    done
    for h in "${pids[@]}"; do wait "$h" || failed=1; done
    return "$failed"
}

# wait_for SECONDS WHAT COMMAND...: polls COMMAND once a second.
wait_for() {
    local seconds=$1 what=$2 i
    shift 2
    for ((i = 0; i < seconds; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    die "timed out after ${seconds}s waiting for $what"
}

# An apiserver whose etcd is gone does not finish a graceful stop (the lab's waited 90 s for
# systemd's SIGKILL): after 10 s it is killed; nothing it held is worth keeping in a restore.
STOP_APISERVER="timeout 10 systemctl stop kube-apiserver || { systemctl kill --signal=SIGKILL kube-apiserver; systemctl stop kube-apiserver; }; systemctl reset-failed kube-apiserver 2>/dev/null || true"

restore() {
    local name=${1:-} yes=${2:-} from sum size stamp m t0
    [[ -n $name ]] || die "$usage"
    [[ -z $yes || $yes == --yes ]] || die "$usage"
    from=$(fetch "$name")
    sum=$(sha256sum "$WORK/snapshot.db" | cut -d' ' -f1)
    size=$(stat -c %s "$WORK/snapshot.db")
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    say "snapshot: $from ($size bytes, sha256 $sum)"
    say "members: ${members[*]}; apiservers: ${cps[*]:-none}"
    if [[ $yes != --yes ]]; then
        say "a restore stops the apiservers and etcd, moves each member's data aside ($MEMBER_DIR/before-restore-$stamp), restores this snapshot as a new cluster and starts it all again; every write after the snapshot is lost"
        say "nothing was changed; to go ahead: npm run etcd-backup -- restore $name --yes"
        exit 2
    fi
    t0=$(date +%s)
    for m in "${members[@]}"; do
        got=$(on_host "$m" "install -d -m 0700 $MEMBER_DIR && (umask 077 && cat >$MEMBER_DIR/restore-$stamp.db) && sha256sum $MEMBER_DIR/restore-$stamp.db" <"$WORK/snapshot.db" | cut -d' ' -f1) ||
            die "cannot copy the snapshot to $m; nothing was changed"
        [[ $got == "$sum" ]] || die "the copy on $m has sha256 $got, not $sum; nothing was changed"
    done
    say "copied the snapshot to ${#members[@]} members"
    if ! on_members prepare "$MEMBER_DIR/restore-$stamp.db" "$stamp"; then
        on_members discard "$stamp" || true
        die "the snapshot could not be restored on every member; nothing was stopped or changed"
    fi
    say "stopping the apiservers, then etcd, on every host at once"
    ((${#cps[@]} == 0)) || on_each "$STOP_APISERVER" "${cps[@]}" || die "cannot stop every apiserver; etcd was not touched (start them again: systemctl start kube-apiserver)"
    on_each "systemctl stop etcd" "${members[@]}" || die "cannot stop etcd on every member; the data was not touched (start it again: systemctl start etcd, then kube-apiserver)"
    on_members swap "$stamp" || die "the restored data is not in place on every member (see above); etcd and the apiservers are stopped. Each member's own data is in $MEMBER_DIR/before-restore-$stamp/member"
    on_each "systemctl start --no-block etcd" "${members[@]}" || die "cannot start etcd on every member"
    for m in "${members[@]}"; do
        wait_for 180 "etcd on $m to be healthy" on_host "$m" "bash -s -- $m healthy" <scripts/host/files/etcd-restore.sh
    done
    say "etcd runs the restored data on ${#members[@]} members ($(($(date +%s) - t0)) s)"
    if ((${#cps[@]} > 0)); then
        on_each "systemctl start kube-apiserver && systemctl restart kube-controller-manager kube-scheduler" "${cps[@]}" || die "cannot start the control plane again on every host"
        for m in "${cps[@]}"; do
            # shellcheck disable=SC2016 # expands on the host
            wait_for 180 "kube-apiserver on $m to be ready" on_host "$m" '[ "$(curl -fsSk https://127.0.0.1:6443/readyz)" = ok ]'
        done
        say "the apiservers serve again on ${#cps[@]} hosts"
    fi
    on_each "rm -f $MEMBER_DIR/restore-$stamp.db" "${members[@]}" || true
    say "restored $from on ${#members[@]} members in $(($(date +%s) - t0)) s; the members' former data is in $MEMBER_DIR/before-restore-$stamp on each"
}

case $verb in
list) list ;;
snapshot) snapshot ;;
restore) restore "$@" ;;
*) die "$usage" ;;
esac
