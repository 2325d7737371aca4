#!/usr/bin/env bash
# k8s-ha's scheduled etcd snapshot, on an etcd member: k8s-ha-etcd-snapshot.service runs it when its
# timer fires. Every member's timer fires; only the member that leads etcd goes on (NOW=yes: this
# one anyway, as the EtcdBackup step's check does). It saves a snapshot with the member's own
# health-check client over 127.0.0.1, checks it with etcdutl, encrypts it with the stack's
# passphrase (openssl enc, PBKDF2), signs `NAME SHA256` of the encrypted file with the stack's
# Ed25519 key, and sends both over SSH to the backup host, whose store script checks and keeps it.
# The plaintext exists only in a folder mktemp makes inside WORK_DIR (root's 0700 folder), until
# it is encrypted. Settings (the unit's environment file, components/render/etcd-backup.ts): HOST,
# ETCDCTL, ETCDUTL, ETCD_ENDPOINT, ETCD_CACERT, ETCD_CERT, ETCD_KEY, WORK_DIR, CIPHER, KDF_DIGEST,
# KDF_ITER, ENCRYPTION_KEY, SIGNING_KEY, SSH_KEY, KNOWN_HOSTS, HOST_KEY_CHECK, STORE_HOST, STORE,
# STORE_PORT.
set -Eeuo pipefail
umask 077
export LC_ALL=C
HOST=${HOST:-$(hostname)}
say() { printf 'k8s-ha[%s]: %s\n' "$HOST" "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
for v in ETCDCTL ETCDUTL ETCD_ENDPOINT ETCD_CACERT ETCD_CERT ETCD_KEY WORK_DIR CIPHER KDF_DIGEST KDF_ITER ENCRYPTION_KEY SIGNING_KEY SSH_KEY KNOWN_HOSTS HOST_KEY_CHECK STORE_HOST STORE STORE_PORT; do
    [[ -n ${!v:-} ]] || die "$v is not set (the settings are the unit's environment file)"
done
TLS=(--endpoints="$ETCD_ENDPOINT" --cacert="$ETCD_CACERT" --cert="$ETCD_CERT" --key="$ETCD_KEY")

# The same checks as the backup host's store script: WORK_DIR and its parent are root's, not symlinks.
owned_by_root() {
    local owner
    [[ ! -L $1 ]] || die "$1 is a symlink: refused (the snapshot's folder must be root's own)"
    owner=$(stat -c %u "$1")
    [[ $owner == 0 ]] || die "$1 is owned by uid $owner, not root: refused (the snapshot's folder must be root's own)"
}
parent=$(dirname "$WORK_DIR")
if [[ ! -e $parent && ! -L $parent ]]; then install -d -m 0755 -o root -g root "$parent"; fi
owned_by_root "$parent"
if [[ ! -e $WORK_DIR && ! -L $WORK_DIR ]]; then mkdir -m 0700 "$WORK_DIR"; fi
owned_by_root "$WORK_DIR"
[[ -d $WORK_DIR ]] || die "$WORK_DIR is not a folder"
chmod 0700 "$WORK_DIR"

if [[ ${NOW:-} != yes ]]; then
    status=$("$ETCDCTL" "${TLS[@]}" --command-timeout=10s endpoint status -w json 2>&1) || die "etcd on this member does not answer: $(tail -n 1 <<<"$status")"
    me=$(grep -o '"member_id":[0-9]*' <<<"$status" | head -n 1 | cut -d: -f2)
    leader=$(grep -o '"leader":[0-9]*' <<<"$status" | head -n 1 | cut -d: -f2)
    [[ -n $me && -n $leader ]] || die "cannot tell etcd's leader from its status: $(head -c 300 <<<"$status")"
    if [[ $me != "$leader" ]]; then
        say "not etcd's leader: the leader takes the scheduled snapshot"
        exit 0
    fi
fi

work=$(mktemp -d "$WORK_DIR/.snapshot.XXXXXX")
trap 'rm -rf "$work"' EXIT
name=scheduled-$(date -u +%Y%m%dT%H%M%SZ)-$HOST.db.enc
out=$("$ETCDCTL" "${TLS[@]}" --dial-timeout=5s --command-timeout=600s snapshot save "$work/snapshot.db" 2>&1) ||
    die "etcd gave no snapshot: $(tail -n 1 <<<"$out")"
out=$("$ETCDUTL" snapshot status "$work/snapshot.db" -w simple 2>&1) || die "the snapshot does not check with etcdutl: $(tail -n 1 <<<"$out")"
# etcdutl's status: hash, revision, total keys, total size.
read -r _ revision keys _ < <(tail -n 1 <<<"${out//,/ }")
openssl enc -e "-$CIPHER" -pbkdf2 -md "$KDF_DIGEST" -iter "$KDF_ITER" -salt -pass "file:$ENCRYPTION_KEY" \
    -in "$work/snapshot.db" -out "$work/$name" 2>"$work/err" || die "openssl could not encrypt the snapshot: $(tail -n 1 "$work/err")"
rm -f "$work/snapshot.db"
sha=$(sha256sum "$work/$name" | cut -d' ' -f1)
printf '%s %s' "$name" "$sha" >"$work/signed"
openssl pkeyutl -sign -inkey "$SIGNING_KEY" -rawin -in "$work/signed" -out "$work/signature" 2>"$work/err" ||
    die "openssl could not sign the snapshot: $(tail -n 1 "$work/err")"
strict=yes
[[ $HOST_KEY_CHECK == yes ]] || strict=no
if ! out=$({ printf '%s %s %s\n' "$name" "$sha" "$(base64 -w0 "$work/signature")" && cat "$work/$name"; } |
    ssh -i "$SSH_KEY" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking="$strict" -o UserKnownHostsFile="$KNOWN_HOSTS" \
        -o ConnectTimeout=10 -p "$STORE_PORT" "$STORE" receive 2>&1); then
    die "could not send $name to $STORE_HOST ($STORE): $(tail -n 2 <<<"$out" | paste -sd' ')"
fi
# The backup host's own lines (they name it).
if [[ -n $out ]]; then printf '%s\n' "$out" >&2; fi
say "saved a snapshot of etcd (revision $revision, $keys keys), encrypted and signed, and sent it to $STORE_HOST: $name ($(stat -c %s "$work/$name") bytes, sha256 $sha)"
