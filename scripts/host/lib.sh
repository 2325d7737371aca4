#!/usr/bin/env bash
# Shared functions of the k8s-ha host scripts. On a host it is installed once, by the facts step,
# and each script Pulumi runs sources it from there (prologue.sh replaces the `source` line); run
# locally, a script sources it from its folder.
# Conventions: every message names the host; files arrive on stdin (secrets never appear in the
# command text); a file is replaced only when its content changes, and only then is its service
# restarted.
set -Eeuo pipefail
umask 022
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

K8SHA_HOST=${K8SHA_HOST:-$(hostname)}
STAGE=""
CHANGED=()
# What this run of the step manages, written to $STATE_DIR/installed/<step> when create succeeds
# (record_installed): each file's sha256 and mode, and each unit that must run. scripts/drift.sh
# compares hosts with these records.
INSTALLED=()
UNITS=()

# Messages go to stderr: stdout is kept for data a script reports back (facts).
info() { printf 'k8s-ha[%s]: %s\n' "$K8SHA_HOST" "$*" >&2; }
warn() { printf 'k8s-ha[%s]: warning: %s\n' "$K8SHA_HOST" "$*" >&2; }
fatal() {
    printf 'k8s-ha[%s]: error: %s\n' "$K8SHA_HOST" "$*" >&2
    exit 1
}
on_error() { printf 'k8s-ha[%s]: error: command failed at line %s: %s\n' "$K8SHA_HOST" "$1" "$2" >&2; }
trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR

cleanup_stage() { if [[ -n $STAGE ]]; then rm -rf "$STAGE"; fi; }
trap cleanup_stage EXIT

STATE_DIR=${K8SHA_STATE_DIR:-$HA_STATE_DIR}
# The installed library and the steps' saved scripts (see prologue.sh), and the staging area.
LIB_DIR=${K8SHA_LIB_DIR:-$HA_LIB_DIR}
RUN_DIR=${K8SHA_RUN_DIR:-$HA_RUN_DIR}

# One run of a step at a time on a host: a second run of the same step (another stack or a person
# pointed at this host) waits for the first, up to 10 minutes, instead of interleaving with it.
if [[ -n ${K8SHA_STEP:-} ]]; then
    (umask 077 && mkdir -p "$RUN_DIR/locks")
    exec 8>"$RUN_DIR/locks/$K8SHA_STEP"
    flock -w 600 8 || fatal "another run of step $K8SHA_STEP still holds this host's lock after 10 minutes"
fi

# Every download and package operation has a time limit, so a dead mirror fails the step instead
# of hanging it (a later -m/--max-time in the arguments wins for quick checks).
curl() { command curl --connect-timeout 10 --max-time 900 "$@"; }
apt_get() { timeout --kill-after=30 1200 apt-get -o Acquire::http::Timeout=30 -o Acquire::Retries=2 "$@"; }

# A run interrupted between installing a file and restarting its daemon would leave the old daemon
# running, and the next run would find the files current and restart nothing. So every run of a
# step marks it pending before it changes anything, and clears the mark only when `create` has
# finished (its daemons restarted and healthy). A run that finds the mark restarts every daemon it
# manages. K8SHA_STEP names the step (the runner sets it; the script's name when run by hand).
PENDING=$STATE_DIR/pending/${K8SHA_STEP:-$(basename "$0" .sh)}
PENDING_AT_START=no
if [[ -f $PENDING ]]; then PENDING_AT_START=yes; fi

mark_pending() {
    [[ -f $PENDING ]] && return 0
    mkdir -p "$(dirname "$PENDING")"
    touch "$PENDING"
}

clear_pending() {
    rm -f "$PENDING"
    rmdir "$STATE_DIR/pending" 2>/dev/null || true
}

# fault_point NAME: a place where a run can be made to stop, as a killed run would, for the e2e
# suite's drills: when the file /run/k8s-ha/faults/<step>-NAME exists (root's, gone at reboot), the
# step removes it and fails here. Used between installing files and restarting their daemons.
fault_point() {
    local f=$HA_RUN_DIR/faults/${K8SHA_STEP:-$(basename "$0" .sh)}-$1
    if [[ -f $f ]]; then
        rm -f "$f"
        fatal "stopped at $1, as a killed run would ($f)"
    fi
}

# keep_script_for_delete: on create, saves the running script (the text `bash -c` got) as
# K8SHA_LIB_DIR/steps/<sha256>.sh, checked against K8SHA_SCRIPT. The step's delete command runs
# that copy (run-saved.sh) instead of carrying the script a second time.
keep_script_for_delete() {
    [[ -n ${K8SHA_SCRIPT:-} && -n ${BASH_EXECUTION_STRING:-} ]] || return 0
    local dir=$LIB_DIR/steps tmp
    if [[ -f $dir/$K8SHA_SCRIPT.sh && $(sha256sum <"$dir/$K8SHA_SCRIPT.sh" | cut -d' ' -f1) == "$K8SHA_SCRIPT" ]]; then
        return 0
    fi
    mkdir -p "$dir"
    tmp=$(mktemp "$dir/.step.XXXXXX")
    printf '%s' "$BASH_EXECUTION_STRING" >"$tmp"
    if [[ $(sha256sum <"$tmp" | cut -d' ' -f1) != "$K8SHA_SCRIPT" ]]; then
        rm -f "$tmp"
        fatal "this step's script does not have the sha256 $K8SHA_SCRIPT it was sent with"
    fi
    chmod 0644 "$tmp"
    mv -f "$tmp" "$dir/$K8SHA_SCRIPT.sh"
}

# The bundle's files in the order they came, and what the program says about each (its phase's
# data, components/runner.ts BundleFile): the units a change to it restarts, and the check it must
# pass before it replaces the live file (a function of the script, check_NAME).
BUNDLE=()
declare -A BUNDLE_RESTARTS=() BUNDLE_RELOADS=() BUNDLE_CHECK=() BUNDLE_STAGE_ONLY=() RESTART=() RELOAD=()

# read_bundle: reads `file MODE PATH BASE64 [restarts=UNIT,...] [reloads=UNIT,...] [check=NAME]
# [stage-only]` lines (stage-only: staged for a hook to read, never installed) into
# a private staging folder under /run, from stdin (a tmpfs: keys staged there never reach a disk, and a run
# killed before its EXIT trap leaves them only until the next boot; /tmp is on disk on Debian 12).
read_bundle() {
    (umask 077 && mkdir -p "$RUN_DIR")
    STAGE=$(mktemp -d "$RUN_DIR/stage.XXXXXX")
    chmod 0700 "$STAGE"
    local kind mode path data tags tag
    while read -r kind mode path data tags; do
        [[ -z ${kind:-} ]] && continue
        [[ $kind == file ]] || fatal "unexpected bundle line kind '$kind'"
        mkdir -p "$STAGE$(dirname "$path")"
        printf '%s' "$data" | base64 -d >"$STAGE$path"
        chmod "$mode" "$STAGE$path"
        BUNDLE+=("$path")
        for tag in ${tags:-}; do
            case $tag in
            restarts=*) BUNDLE_RESTARTS[$path]=${tag#restarts=} ;;
            reloads=*) BUNDLE_RELOADS[$path]=${tag#reloads=} ;;
            check=*) BUNDLE_CHECK[$path]=${tag#check=} ;;
            stage-only) BUNDLE_STAGE_ONLY[$path]=1 ;;
            *) fatal "unexpected bundle tag '$tag' for $path" ;;
            esac
        done
    done
}

# The files a step's creates installed from their bundles, one path a line: what its delete
# removes (remove_owned) and what a later create removes once the program stops sending it.
OWNED=$STATE_DIR/owned/${K8SHA_STEP:-$(basename "$0" .sh)}

# own PATH: adds PATH to this step's owned files, before the file is put in place.
own() {
    [[ -f $OWNED ]] && grep -qxF -- "$1" "$OWNED" && return 0
    (umask 077 && mkdir -p "$(dirname "$OWNED")")
    printf '%s\n' "$1" >>"$OWNED"
}

# install_bundle: installs every file of the bundle (but those only staged, for a hook), each after its check, notes the units a changed file restarts or reloads
# (restart_of, reload_of), and reloads systemd when a unit changed. Returns 0 when any file changed.
install_bundle() {
    local p any=1 unit units
    for p in "${BUNDLE[@]}"; do
        [[ -n ${BUNDLE_STAGE_ONLY[$p]:-} ]] && continue
        own "$p"
        if install_file "$p" ${BUNDLE_CHECK[$p]:+"check_${BUNDLE_CHECK[$p]}"}; then
            any=0
            IFS=, read -r -a units <<<"${BUNDLE_RESTARTS[$p]:-}"
            for unit in "${units[@]}"; do RESTART[$unit]=yes; done
            IFS=, read -r -a units <<<"${BUNDLE_RELOADS[$p]:-}"
            for unit in "${units[@]}"; do RELOAD[$unit]=yes; done
        fi
    done
    reload_units_if_changed
    return "$any"
}

# prune_owned: after a create that read a bundle, removes the files this step installed before and
# the bundle no longer has (a registry mirror dropped, the push endpoint of a mirror no longer
# preloaded). It runs after the script's own create, so a hook that stops a unit still finds it.
prune_owned() {
    [[ -n $STAGE && -f $OWNED ]] || return 0
    local keep=() old
    while read -r old; do
        [[ -z $old ]] && continue
        if [[ " ${BUNDLE[*]} " == *" $old "* ]]; then
            keep+=("$old")
        else
            info "$old is no longer part of step ${K8SHA_STEP:-$(basename "$0" .sh)}"
            # A unit of k8s-ha's own that goes is stopped and disabled first.
            if [[ $old =~ ^"$SYSTEMD_DIR"/([^/]+)\.(service|timer)$ ]]; then
                systemctl disable --now -q "${BASH_REMATCH[1]}.${BASH_REMATCH[2]}" 2>/dev/null || true
                rm -f "$STATE_DIR/started/${BASH_REMATCH[1]}"
                CHANGED+=("$old")
            fi
            remove_paths "$old"
        fi
    done <"$OWNED"
    printf '%s\n' "${keep[@]}" >"$OWNED.tmp"
    mv -f "$OWNED.tmp" "$OWNED"
    reload_units_if_changed
}

# restart_of UNIT: yes when a file this run changed restarts UNIT (its restarts in the bundle), else no.
restart_of() { if [[ -n ${RESTART[$1]:-} ]]; then echo yes; else echo no; fi; }
# reload_of UNIT: yes when a file this run changed reloads UNIT, else no.
reload_of() { if [[ -n ${RELOAD[$1]:-} ]]; then echo yes; else echo no; fi; }

# forget_owned: a delete reads its step's list into OWNED_FILES and drops the list first (like
# the drift record: the os step's delete removes the state folder only when it is empty).
OWNED_FILES=()
forget_owned() {
    if [[ -f $OWNED ]]; then mapfile -t OWNED_FILES < <(grep . "$OWNED" || true); fi
    rm -f "$OWNED"
    rmdir "$(dirname "$OWNED")" 2>/dev/null || true
}

# remove_owned: a delete removes the files its step's creates installed (see OWNED).
remove_owned() {
    if ((${#OWNED_FILES[@]} > 0)); then remove_paths "${OWNED_FILES[@]}"; fi
}

# staged PATH: the staged copy of PATH.
staged() { printf '%s%s' "$STAGE" "$1"; }

# install_file PATH [CHECK...]: moves the staged PATH into place when it differs from the live one.
# CHECK, when given, runs with the staged file's path appended and must succeed first.
# Returns 0 when the file changed, 1 when it was already current.
install_file() {
    local path=$1
    shift
    local src
    src=$(staged "$path")
    [[ -f $src ]] || fatal "bundle has no $path"
    local mode
    mode=$(stat -c %a "$src")
    INSTALLED+=("$(sha256sum <"$src" | cut -d' ' -f1) $mode $path")
    if [[ -f $path ]] && cmp -s "$src" "$path" && [[ $(stat -c %a "$path") == "$mode" ]]; then
        return 1
    fi
    if (($# > 0)); then
        "$@" "$src" >/dev/null 2>"$STAGE/check.err" || fatal "$path failed its check ($*): $(cat "$STAGE/check.err")"
    fi
    mark_pending
    mkdir -p "$(dirname "$path")"
    local tmp="$path.k8s-ha.tmp"
    install -m "$mode" -o root -g root "$src" "$tmp"
    mv -f "$tmp" "$path"
    CHANGED+=("$path")
    info "updated $path"
    return 0
}

# install_files PATH...: install_file for each; returns 0 when any changed.
install_files() {
    local any=1 p
    for p in "$@"; do
        if install_file "$p"; then any=0; fi
    done
    return "$any"
}

# changed PATH...: whether any of these files changed in this run.
changed() {
    local p c
    for p in "$@"; do
        for c in "${CHANGED[@]}"; do [[ $c == "$p"* ]] && return 0; done
    done
    return 1
}

# remove_paths PATH...: removes files or folders, tolerating what is already gone. A folder that
# is a mount point (a dedicated disk for /var/lib/containerd, say) is emptied and kept.
remove_paths() {
    local p
    for p in "$@"; do
        if [[ -d $p ]] && mountpoint -q "$p"; then
            find "$p" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
            info "emptied $p (a mount point)"
        elif [[ -e $p || -L $p ]]; then
            rm -rf -- "$p"
            info "removed $p"
        fi
    done
}

# apt_install PKG...: installs the packages that are missing and records them as ours, so that a
# delete purges only what k8s-ha installed.
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    info "installing ${missing[*]}"
    mark_pending
    # Recorded as ours before the install, so that a run killed during it still purges them.
    mkdir -p "$STATE_DIR/packages"
    for p in "${missing[@]}"; do touch "$STATE_DIR/packages/$p"; done
    local i
    for i in 1 2 3; do
        # A dpkg run killed half-way (an interrupted earlier run) is finished first.
        dpkg --configure -a >/dev/null 2>&1 || true
        if apt_get update -qq && apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
            return 0
        fi
        warn "apt-get failed (try $i of 3); retrying"
        sleep 5
    done
    for p in "${missing[@]}"; do rm -f "$STATE_DIR/packages/$p"; done
    fatal "could not install ${missing[*]}; check this host's apt sources and network"
}

# apt_purge PKG...: purges those of the packages that k8s-ha installed; others stay.
apt_purge() {
    local present=() p
    for p in "$@"; do
        [[ -f $STATE_DIR/packages/$p ]] || continue
        rm -f "$STATE_DIR/packages/$p"
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" && present+=("$p")
    done
    ((${#present[@]} == 0)) && return 0
    info "purging ${present[*]}"
    apt_get purge -y -qq "${present[@]}" >/dev/null
}

# fetch_verified URL SHA256 DEST: downloads URL to DEST and checks it against SHA256, the sum the
# stack pins for that file (k8s-ha:checksums, handed to the step in its environment). No checksum
# is ever fetched from the download's origin: an origin that could change the file could change
# its checksum file too. An already-present DEST with that sum is kept (returns 1).
fetch_verified() {
    local url=$1 want=$2 dest=$3 got
    [[ $want =~ ^[0-9a-f]{64}$ ]] || fatal "no pinned sha256 for $url (got '$want'); pin it in k8s-ha:checksums"
    if [[ -f $dest ]] && [[ $(sha256sum "$dest" | cut -d' ' -f1) == "$want" ]]; then
        return 1
    fi
    mkdir -p "$(dirname "$dest")"
    curl -fsSL --retry 3 --retry-connrefused -o "$dest.part" "$url" || { rm -f "$dest.part"; fatal "cannot download $url"; }
    got=$(sha256sum "$dest.part" | cut -d' ' -f1)
    if [[ $got != "$want" ]]; then
        rm -f "$dest.part"
        fatal "checksum mismatch for $url: the stack pins $want (k8s-ha:checksums), the download has $got; nothing was installed. Check the file against its vendor's checksum before changing the pin"
    fi
    mv -f "$dest.part" "$dest"
    info "downloaded $url (sha256 $want, as pinned)"
    return 0
}

# install_binary SRC DEST: installs an executable when it differs.
install_binary() {
    local src=$1 dest=$2
    if [[ -f $dest ]] && cmp -s "$src" "$dest"; then return 1; fi
    mark_pending
    install -m 0755 -o root -g root "$src" "$dest.k8s-ha.tmp"
    mv -f "$dest.k8s-ha.tmp" "$dest"
    CHANGED+=("$dest")
    info "installed $dest"
    return 0
}

# service_apply UNIT RESTART: enables UNIT; restarts it when RESTART is yes (or an earlier run of this
# step was interrupted: see PENDING), else starts it if stopped.
# A unit that was neither enabled nor running before is recorded, so service_release can undo it.
service_apply() {
    local unit=$1 restart=$2
    if ! systemctl is-enabled -q "$unit" 2>/dev/null && ! systemctl is-active -q "$unit"; then
        mkdir -p "$STATE_DIR/started"
        touch "$STATE_DIR/started/$unit"
    fi
    # Only when needed: enabling a unit that has a SysV script too runs systemd-sysv-install, 5 s
    # on an emulated VM (the lab's w4) even when the unit is enabled already.
    if ! systemctl is-enabled -q "$unit" 2>/dev/null; then
        systemctl enable -q "$unit" 2>/dev/null || true
    fi
    track_unit "$unit"
    fault_point before-restart
    if [[ $restart != yes && $PENDING_AT_START == yes ]]; then
        restart=yes
        info "an earlier run of this step was interrupted: restarting $unit"
    fi
    if [[ $restart == yes ]]; then
        info "restarting $unit"
        systemctl restart "$unit"
    elif ! systemctl is-active -q "$unit"; then
        info "starting $unit"
        systemctl start "$unit"
    fi
}

# track_unit UNIT...: units this step keeps running (for the drift record).
track_unit() { UNITS+=("$@"); }

# record_installed: the record of what this step manages (see INSTALLED), replaced atomically.
record_installed() {
    local step=${K8SHA_STEP:-$(basename "$0" .sh)} f u
    [[ ${#INSTALLED[@]} -gt 0 || ${#UNITS[@]} -gt 0 ]] || return 0
    (umask 077 && mkdir -p "$STATE_DIR/installed")
    {
        for f in "${INSTALLED[@]}"; do printf 'file %s\n' "$f"; done
        for u in "${UNITS[@]}"; do printf 'unit %s\n' "$u"; done
    } >"$STATE_DIR/installed/$step.tmp"
    mv -f "$STATE_DIR/installed/$step.tmp" "$STATE_DIR/installed/$step"
}

# forget_installed: a delete drops its step's record.
forget_installed() {
    rm -f "$STATE_DIR/installed/${K8SHA_STEP:-$(basename "$0" .sh)}"
    rmdir "$STATE_DIR/installed" 2>/dev/null || true
}

# service_release UNIT: stops and disables a unit of the system's that k8s-ha started (service_apply).
service_release() {
    if [[ -f $STATE_DIR/started/$1 ]]; then
        systemctl disable --now -q "$1" 2>/dev/null || true
        rm -f "$STATE_DIR/started/$1"
        rmdir "$STATE_DIR/started" 2>/dev/null || true
        info "stopped $1"
    fi
}

# service_remove UNIT...: stops, disables and forgets units; tolerates missing ones.
service_remove() {
    local u
    for u in "$@"; do
        if systemctl list-unit-files "$u.service" --no-legend 2>/dev/null | grep -q .; then
            systemctl disable --now -q "$u" 2>/dev/null || true
            info "stopped $u"
        fi
        remove_paths "$SYSTEMD_DIR/$u.service" "$SYSTEMD_DIR/$u.service.d"
        rm -f "$STATE_DIR/started/$u"
    done
    rmdir "$STATE_DIR/started" 2>/dev/null || true
    systemctl daemon-reload
}

# reload_units_if_changed: daemon-reload when a unit file changed in this run.
reload_units_if_changed() {
    if changed "$SYSTEMD_DIR/"; then systemctl daemon-reload; fi
}

# wait_until SECONDS DESCRIPTION CMD...: polls CMD once a second until it succeeds.
wait_until() {
    local seconds=$1 what=$2
    shift 2
    local i
    for ((i = 0; i < seconds; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    fatal "timed out after ${seconds}s waiting for $what"
}

# run_verb VERB: calls the script's create or delete function, then reads whatever is left of stdin:
# a step that exits without reading it (facts, delete) would otherwise close the session while the
# provider is still writing, and the provider reports that as "EOF" (seen on the lab).
run_verb() {
    case "${1:-}" in
    create)
        create
        prune_owned
        record_installed
        clear_pending
        ;;
    delete)
        # The record goes first: the os step's delete removes the state folder only when empty.
        forget_installed
        forget_owned
        delete
        clear_pending
        ;;
    *) fatal "usage: create|delete (got '${1:-}')" ;;
    esac
    cat >/dev/null 2>&1 || true
}
