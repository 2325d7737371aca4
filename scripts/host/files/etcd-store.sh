#!/usr/bin/env bash
# The backup host's side of k8s-ha's etcd snapshots (installed by the EtcdBackup step, run as root).
# Every file lives in DIR, root's own 0700 folder outside every export: DIR or its parent as a
# symlink, or owned by anyone but root, is refused, and so is a kept file that is a symlink or not
# root's. A new file is written under a name mktemp makes inside DIR, then renamed into place.
#   store.sh receive ENV_FILE         the forced command of the etcd members' SSH key (settings HOST,
#                                     DIR, KEEP, VERIFY_KEY from ENV_FILE): reads a line `NAME SHA256
#                                     SIGNATURE`, then the encrypted snapshot, from stdin; keeps it as
#                                     NAME when its sha256 is SHA256 and SIGNATURE (base64, Ed25519
#                                     over `NAME SHA256`) verifies with VERIFY_KEY; adds the line to
#                                     the manifest and keeps the newest KEEP scheduled snapshots
#   store.sh init HOST DIR            makes DIR (and its parent) if missing, then checks them
#   store.sh list HOST DIR            `DATE TIME BYTES NAME` of each snapshot kept
#   store.sh manifest HOST DIR        the manifest (nothing when there is none yet)
#   store.sh send HOST DIR NAME       a kept snapshot, on stdout
#   store.sh put HOST DIR NAME SHA256 keeps stdin as NAME (a member delete's snapshot, as the
#                                     member saved it) when its sha256 is SHA256
set -Eeuo pipefail
umask 077
export LC_ALL=C
verb=${1:-}
HOST=$(hostname)
say() { printf 'k8s-ha[%s]: %s\n' "$HOST" "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
SCHEDULED='^scheduled-[0-9]{8}T[0-9]{6}Z-[a-z0-9][a-z0-9.-]*\.db\.enc$'
MEMBER_COPY='^[a-z0-9][a-z0-9.-]*-[0-9]{8}T[0-9]{6}Z(-copy)?\.db$'

# owned_by_root PATH WHAT: PATH is not a symlink and root owns it.
owned_by_root() {
    local owner
    [[ ! -L $1 ]] || die "$1 is a symlink: refused (the $2 must be root's own)"
    owner=$(stat -c %u "$1")
    [[ $owner == 0 ]] || die "$1 is owned by uid $owner, not root: refused (the $2 must be root's own)"
}

# private_dir DIR [make]: DIR is root's 0700 folder and its parent root's, not writable by others.
private_dir() {
    local dir=$1 parent
    parent=$(dirname "$dir")
    if [[ ${2:-} == make && ! -e $parent && ! -L $parent ]]; then install -d -m 0755 -o root -g root "$parent"; fi
    [[ -d $parent ]] || die "$parent does not exist"
    owned_by_root "$parent" "backup folder's parent"
    (($(stat -c '0%a' "$parent") & 8#022)) && die "$parent is writable by others than root: refused"
    if [[ ${2:-} == make && ! -e $dir && ! -L $dir ]]; then mkdir -m 0700 "$dir"; fi
    [[ -e $dir || -L $dir ]] || die "$dir does not exist"
    owned_by_root "$dir" "backup folder"
    [[ -d $dir ]] || die "$dir is not a folder"
    if [[ $(stat -c %a "$dir") != 700 ]]; then
        chmod 0700 "$dir"
        say "warning: $dir was mode $(stat -c %a "$dir"); now 0700"
    fi
}

# kept_file PATH: a regular file of root's, not a symlink.
kept_file() {
    owned_by_root "$1" "snapshot"
    [[ -f $1 ]] || die "$1 is not a regular file: refused"
}

# load_settings ENV_FILE: HOST, DIR, KEEP, VERIFY_KEY from the step's settings (NAME=value lines).
load_settings() {
    local k v
    [[ -f $1 ]] || die "no settings file $1"
    while IFS='=' read -r k v; do
        case $k in HOST | DIR | KEEP | VERIFY_KEY) printf -v "$k" '%s' "$v" ;; esac
    done <"$1"
    [[ -n ${DIR:-} && -n ${VERIFY_KEY:-} && ${KEEP:-} =~ ^[0-9]+$ && $KEEP -ge 1 ]] || die "DIR, VERIFY_KEY and KEEP must be set in $1"
}

# write_manifest: the manifest holds a line for each scheduled snapshot kept, and no other.
write_manifest() {
    local tmp n s g
    tmp=$(mktemp "$DIR/.manifest.XXXXXX")
    if [[ -f $DIR/manifest || -L $DIR/manifest ]]; then
        kept_file "$DIR/manifest"
        while read -r n s g; do
            if [[ $n =~ $SCHEDULED && -f $DIR/$n && ! -L $DIR/$n ]]; then printf '%s %s %s\n' "$n" "$s" "$g"; fi
        done <"$DIR/manifest" >"$tmp"
    fi
    if (($# > 0)); then printf '%s\n' "$*" >>"$tmp"; fi
    chmod 0600 "$tmp"
    mv -fT "$tmp" "$DIR/manifest"
}

work=""
receive() {
    local name sha sig got n
    load_settings "$1"
    private_dir "$DIR"
    exec 9>"$DIR/.lock"
    flock -w 300 9 || die "another snapshot is still being received after 5 minutes"
    IFS=' ' read -r name sha sig || die "no header line (NAME SHA256 SIGNATURE) on stdin"
    [[ $name =~ $SCHEDULED ]] || die "$name is not a scheduled snapshot's name: refused"
    [[ $sha =~ ^[0-9a-f]{64}$ && $sig =~ ^[A-Za-z0-9+/]+=*$ ]] || die "the header of $name is not SHA256 SIGNATURE: refused"
    [[ ! -e $DIR/$name && ! -L $DIR/$name ]] || die "$DIR/$name is kept already: refused"
    work=$(mktemp -d "$DIR/.incoming.XXXXXX")
    trap 'rm -rf "${work:?}"' EXIT
    cat >"$work/data"
    got=$(sha256sum "$work/data" | cut -d' ' -f1)
    [[ $got == "$sha" ]] || die "$name arrived with sha256 $got, not $sha as its header says: refused"
    printf '%s %s' "$name" "$sha" >"$work/signed"
    base64 -d <<<"$sig" >"$work/signature" 2>/dev/null || die "the signature of $name is not base64: refused"
    openssl pkeyutl -verify -pubin -inkey "$VERIFY_KEY" -rawin -in "$work/signed" -sigfile "$work/signature" >/dev/null 2>&1 ||
        die "the signature of $name does not verify with $VERIFY_KEY: refused"
    chmod 0600 "$work/data"
    mv -fT "$work/data" "$DIR/$name"
    # The newest KEEP scheduled snapshots stay (their names sort by time).
    mapfile -t old < <(find "$DIR" -maxdepth 1 -type f -name 'scheduled-*.db.enc' -printf '%f\n' | sort -r | tail -n +"$((KEEP + 1))")
    for n in "${old[@]}"; do
        rm -f "${DIR:?}/$n"
        say "removed the snapshot $n (the newest $KEEP are kept)"
    done
    write_manifest "$name $sha $sig"
    say "kept $DIR/$name ($(stat -c %s "$DIR/$name") bytes, sha256 $sha, signature verified)"
}

case $verb in
receive)
    receive "${2:-}"
    ;;
init | list | manifest | send | put)
    HOST=${2:-} DIR=${3:-}
    [[ -n $HOST && $DIR == /* ]] || die "usage: store.sh $verb HOST DIR ..."
    case $verb in
    init) private_dir "$DIR" make ;;
    list)
        private_dir "$DIR"
        find "$DIR" -maxdepth 1 -type f \( -name 'scheduled-*.db.enc' -o -name '*.db' \) -printf '%TY-%Tm-%Td %TH:%TM %s %f\n' | sort -k4
        ;;
    manifest)
        private_dir "$DIR"
        if [[ -e $DIR/manifest || -L $DIR/manifest ]]; then
            kept_file "$DIR/manifest"
            cat "$DIR/manifest"
        fi
        ;;
    send)
        name=${4:-}
        [[ $name =~ $SCHEDULED || $name =~ $MEMBER_COPY ]] || die "$name is not the name of a snapshot"
        private_dir "$DIR"
        [[ -e $DIR/$name || -L $DIR/$name ]] || die "no snapshot $name in $DIR"
        kept_file "$DIR/$name"
        cat "$DIR/$name"
        ;;
    put)
        name=${4:-} sha=${5:-}
        [[ $name =~ $MEMBER_COPY && $sha =~ ^[0-9a-f]{64}$ ]] || die "usage: store.sh put HOST DIR NAME SHA256 (NAME a member's snapshot, <host>-<time>.db)"
        private_dir "$DIR" make
        tmp=$(mktemp "$DIR/.incoming.XXXXXX")
        trap 'rm -f "$tmp"' EXIT
        cat >"$tmp"
        got=$(sha256sum "$tmp" | cut -d' ' -f1)
        [[ $got == "$sha" ]] || die "$name arrived with sha256 $got, not $sha: refused"
        chmod 0600 "$tmp"
        mv -fT "$tmp" "$DIR/$name"
        say "kept $DIR/$name ($(stat -c %s "$DIR/$name") bytes, sha256 $sha)"
        ;;
    esac
    ;;
*) die "usage: store.sh receive ENV_FILE | init|list|manifest HOST DIR | send HOST DIR NAME | put HOST DIR NAME SHA256" ;;
esac
