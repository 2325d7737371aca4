#!/usr/bin/env bash
# Checks a scheduled etcd snapshot as scripts/etcd-backup.sh fetched it from the backup host, then
# decrypts it: the manifest must have a line `NAME SHA256 SIGNATURE` whose signature verifies with
# the stack's public key (the stack output etcdBackup.verifyKey) and whose SHA256 is the encrypted
# file's; only then is it decrypted, with the stack's passphrase (on stdin, never an argument).
# A mismatch is refused, naming the host and the file.
#   etcd-snapshot-open.sh FROM NAME ENCRYPTED MANIFEST VERIFY_KEY CIPHER DIGEST ITERATIONS OUT
# FROM is where the file came from (host:folder), for the messages.
set -Eeuo pipefail
umask 077
export LC_ALL=C
say() { printf 'etcd-backup: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
(($# == 9)) || die "usage: etcd-snapshot-open.sh FROM NAME ENCRYPTED MANIFEST VERIFY_KEY CIPHER DIGEST ITERATIONS OUT"
from=$1 name=$2 enc=$3 manifest=$4 verify=$5 cipher=$6 digest=$7 iter=$8 out=$9
work=$(mktemp -d "${TMPDIR:-/tmp}/k8s-ha-snapshot-open.XXXXXX")
trap 'rm -rf "$work"' EXIT
line=$(awk -v n="$name" '$1 == n' "$manifest")
[[ -n $line ]] || die "$from/$name is not in the manifest there: refused (no signed sha256 to check it against)"
(($(grep -c . <<<"$line") == 1)) || die "$from/$name is in the manifest more than once: refused"
read -r _ want sig <<<"$line"
printf '%s %s' "$name" "$want" >"$work/signed"
base64 -d <<<"$sig" >"$work/signature" 2>/dev/null || die "the manifest's signature of $from/$name is not base64: refused"
openssl pkeyutl -verify -pubin -inkey "$verify" -rawin -in "$work/signed" -sigfile "$work/signature" >/dev/null 2>&1 ||
    die "the manifest's line for $from/$name does not verify with the stack's key (etcdBackup.verifyKey): refused"
got=$(sha256sum "$enc" | cut -d' ' -f1)
[[ $got == "$want" ]] || die "$from/$name has sha256 $got, but the signed manifest says $want: refused (it was changed or damaged there)"
openssl enc -d "-$cipher" -pbkdf2 -md "$digest" -iter "$iter" -pass stdin -in "$enc" -out "$out" 2>"$work/err" ||
    { rm -f "$out"; die "$from/$name does not decrypt with the stack's passphrase: $(tail -n 1 "$work/err")"; }
say "$from/$name: signature and sha256 $want checked, decrypted"
