#!/usr/bin/env bash
# EtcdMember: etcd as a systemd service with TLS for clients and peers (its own CA), running as
# the etcd system user, which owns its data directory and keys.
# Files (stdin): the etcd CA, the member's server, peer and health-check client certificates and
# keys, and its unit, as components/etcd.ts sends them (each restarts etcd).
# A running member restarts only under the cluster-wide roll lock, one member at a time (rolling_restart).
# Environment: ETCD_URL, ETCD_SHA256 (its pinned sha256, k8s-ha:checksums), ETCD_VERSION, ETCD_ENDPOINTS
# (every member's client URL).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The health-check client's TLS flags, for every etcdctl the step runs.
ETCD_CLIENT_TLS=(--cacert="$ETCD_CA_CERT" --cert="$ETCD_HEALTHCHECK_CLIENT_CERT"
    --key="$ETCD_HEALTHCHECK_CLIENT_KEY")

etcdctl_local() { "$BIN_ETCDCTL" --endpoints="https://127.0.0.1:$PORT_ETCD_CLIENT" "${ETCD_CLIENT_TLS[@]}" --command-timeout=3s "$@"; }

# etcdctl_all ARGS...: etcdctl against every member (ETCD_ENDPOINTS), with the health-check client.
etcdctl_all() { "$BIN_ETCDCTL" --endpoints="$ETCD_ENDPOINTS" "${ETCD_CLIENT_TLS[@]}" --command-timeout=3s "$@"; }

# cluster_healthy: every member answers healthy (members that are down or still joining do not).
cluster_healthy() {
    local n
    n=$(etcdctl_all endpoint health 2>&1 | grep -c "is healthy" || true)
    ((n == $(tr ',' '\n' <<<"$ETCD_ENDPOINTS" | grep -c .)))
}

LOCK_PID=""
LOCK_OUT=""
# release_roll_lock: ends the lock's etcdctl (its session then revokes the lock at once); also on
# any exit, so a failed step never leaves the lock held for the other members.
release_roll_lock() {
    if [[ -n $LOCK_PID ]]; then
        kill -TERM "$LOCK_PID" 2>/dev/null || true
        wait "$LOCK_PID" 2>/dev/null || true
        LOCK_PID=""
    fi
    if [[ -n $LOCK_OUT ]]; then rm -f "$LOCK_OUT" "$LOCK_OUT.err"; fi
}

# rolling_restart: restarts this member only while every other one is healthy, holding a lock in
# etcd itself (k8s-ha/etcd-roll) so that members changed in the same run restart one at a time,
# and releases it once the whole cluster is healthy again: quorum is never lost to a change.
# take_roll_lock WHAT: waits for the lock in etcd itself (k8s-ha/etcd-roll) that lets one member
# at a time restart or leave.
take_roll_lock() {
    local key
    LOCK_OUT=$(mktemp)
    trap 'release_roll_lock; cleanup_stage' EXIT
    # etcdctl itself in the background (so that LOCK_PID is its own), without the step's flock
    # descriptor; its session talks to every member, so it lives on while this one restarts.
    "$BIN_ETCDCTL" --endpoints="$ETCD_ENDPOINTS" "${ETCD_CLIENT_TLS[@]}" \
        lock --ttl=30 k8s-ha/etcd-roll >"$LOCK_OUT" 2>"$LOCK_OUT.err" 8>&- &
    LOCK_PID=$!
    wait_until 300 "the etcd roll lock (another member is $1)" test -s "$LOCK_OUT"
    key=$(head -n 1 "$LOCK_OUT")
    [[ $key == k8s-ha/etcd-roll/* ]] || fatal "the etcd roll lock: $(cat "$LOCK_OUT" "$LOCK_OUT.err")"
}

rolling_restart() {
    take_roll_lock restarting
    # Checked with the lock held: the member that held it before may have just restarted.
    wait_until 180 "every etcd member to be healthy before $K8SHA_HOST restarts (a restart now could lose quorum)" cluster_healthy
    info "restarting etcd at $(date -u +%T.%3N) (roll lock held)"
    systemctl restart --no-block etcd
    sleep 1
    wait_until 180 "etcd on $K8SHA_HOST to serve again after its restart" etcdctl_local endpoint health
    wait_until 180 "every etcd member to be healthy after $K8SHA_HOST restarted" cluster_healthy
    release_roll_lock
    info "etcd restarted; every member healthy; roll lock released at $(date -u +%T.%3N)"
}

install_etcd_binaries() {
    local archive tmp f restart=1
    archive=$HA_DOWNLOAD_DIR/$(basename "$ETCD_URL")
    fetch_verified "$ETCD_URL" "$ETCD_SHA256" "$archive" || true
    tmp=$(mktemp -d)
    tar -xzf "$archive" -C "$tmp"
    for f in etcd etcdctl etcdutl; do
        [[ -f $tmp/etcd-v$ETCD_VERSION-linux-amd64/$f ]] || fatal "$ETCD_URL has no etcd-v$ETCD_VERSION-linux-amd64/$f"
        if install_binary "$tmp/etcd-v$ETCD_VERSION-linux-amd64/$f" "$BIN_DIR/$f"; then restart=0; fi
    done
    rm -rf "$tmp"
    return "$restart"
}

# ensure_etcd_user: the system user etcd runs as, recorded when k8s-ha created it (delete removes it then).
ensure_etcd_user() {
    id -u etcd >/dev/null 2>&1 && return 0
    useradd --system --user-group --home-dir "$ETCD_DATA_DIR" --no-create-home --shell "$SYSTEM_BIN_NOLOGIN" etcd
    mkdir -p "$STATE_DIR/users"
    touch "$STATE_DIR/users/etcd"
    info "created the system user etcd"
}

# own_etcd_files: etcd's data directory (0700) and its two keys (0600) belong to etcd; the health
# check's key stays root's. A data directory of an earlier root-run etcd is handed over whole.
own_etcd_files() {
    install -d -m 0700 -o etcd -g etcd "$ETCD_DATA_DIR"
    if [[ -n $(find "$ETCD_DATA_DIR" ! -user etcd -print -quit) ]]; then
        chown -R etcd:etcd "$ETCD_DATA_DIR"
        info "handed $ETCD_DATA_DIR over to the etcd user"
    fi
    chown etcd:etcd "$ETCD_SERVER_KEY" "$ETCD_PEER_KEY"
    chmod 0600 "$ETCD_SERVER_KEY" "$ETCD_PEER_KEY"
}

create() {
    read_bundle
    ensure_etcd_user
    local restart=no
    if install_etcd_binaries; then restart=yes; fi
    install_bundle || true
    if [[ $(restart_of etcd) == yes ]]; then restart=yes; fi
    own_etcd_files
    # A new member waits for its peers to form the cluster; do not block on it here.
    systemctl enable -q etcd
    track_unit etcd
    if [[ $restart != yes && $PENDING_AT_START == yes ]]; then
        restart=yes
        info "an earlier run of this step was interrupted: restarting etcd"
    fi
    if [[ $restart == yes ]] && systemctl is-active -q etcd && etcdctl_local endpoint health >/dev/null 2>&1; then
        rolling_restart
    elif [[ $restart == yes ]]; then
        # Not serving (first start, or down anyway): nothing to keep up, and a new cluster's
        # members must start together.
        systemctl restart --no-block etcd
    elif ! systemctl is-active -q etcd; then
        systemctl start --no-block etcd
    fi
    wait_until 180 "etcd to report healthy (are the other members up?)" etcdctl_local endpoint health
    info "etcd member healthy"
}

# Where a delete keeps the snapshot it takes: outside etcd's data directory, kept by the delete.
BACKUP_DIR=$ETCD_BACKUP_STORE_DIR

# snapshot_before_delete: saves the member's data before the delete removes it, and says where. A
# running member gives a consistent snapshot (etcdctl snapshot save, checked by etcdutl); a stopped
# one, a copy of its bolt file (restore that with --skip-hash-check).
snapshot_before_delete() {
    local file
    [[ -d $ETCD_DATA_DIR/member ]] || return 0
    file=$BACKUP_DIR/$K8SHA_HOST-$(date -u +%Y%m%dT%H%M%SZ).db
    mkdir -p "$BACKUP_DIR"
    chmod 0700 "$BACKUP_DIR"
    if systemctl is-active -q etcd && etcdctl_local --command-timeout=120s snapshot save "$file.part" >/dev/null 2>&1 &&
        "$BIN_ETCDUTL" snapshot status "$file.part" >/dev/null 2>&1; then
        mv "$file.part" "$file"
    elif [[ -f $ETCD_DATA_DIR/member/snap/db ]]; then
        rm -f "$file.part"
        file=${file%.db}-copy.db
        cp "$ETCD_DATA_DIR/member/snap/db" "$file"
    else
        rm -f "$file.part"
        fatal "could not save a snapshot of etcd's data, so it is kept: $ETCD_DATA_DIR is still on this host"
    fi
    chmod 0600 "$file"
    info "saved etcd's data before removing the member: $file ($(stat -c %s "$file") bytes, sha256 $(sha256sum "$file" | cut -c1-64))"
}

# leave_cluster: a member that is not the last one leaves with `member remove` before its data goes,
# so the others never wait for it; members leaving in the same run (a destroy, a shrink) take the
# roll lock, so they leave one at a time. etcd refuses a removal that would leave too few started
# members for a quorum (strict reconfiguration check); then the delete stops here, with the data
# in place.
leave_cluster() {
    local list id out n others after
    systemctl is-active -q etcd || return 0
    if ! etcdctl_local endpoint health >/dev/null 2>&1; then
        fatal "etcd on $K8SHA_HOST does not serve, so it cannot leave its cluster with member remove; bring the cluster back to health, or stop etcd here (systemctl stop etcd) to delete the member without leaving (then remove it from a healthy member: etcdctl member remove); etcd's data is still on this host"
    fi
    list=$(etcdctl_local member list 2>&1) || fatal "cannot list the etcd members ($list); etcd's data is still on this host"
    if (($(grep -c . <<<"$list") > 1)); then
        # Through every member's URL, this one's included: the others may have left meanwhile.
        take_roll_lock leaving
        list=$(etcdctl_local member list 2>&1) || fatal "cannot list the etcd members ($list); etcd's data is still on this host"
    fi
    id=$(awk -F', ' -v me="$K8SHA_HOST" '$3 == me { print $1 }' <<<"$list")
    n=$(grep -c . <<<"$list" || true)
    if [[ -z $id || $n -le 1 ]]; then
        release_roll_lock
        info "the last etcd member: no other member to leave"
        return 0
    fi
    # Asked of the other members: a member that removes itself stops serving as it applies the
    # removal, and its own answer can be lost ("error reading from server: EOF", CI 24's second
    # destroy). After an error, the others' member list says whether the removal went through.
    others=$(awk -F', ' -v me="$K8SHA_HOST" '$3 != me { print $5 }' <<<"$list" | paste -sd, -)
    if ! out=$("$BIN_ETCDCTL" --endpoints="$others" "${ETCD_CLIENT_TLS[@]}" --command-timeout=30s member remove "$id" 2>&1); then
        sleep 2
        if after=$("$BIN_ETCDCTL" --endpoints="$others" "${ETCD_CLIENT_TLS[@]}" --command-timeout=10s member list 2>&1) &&
            ! awk -F', ' '{ print $1 }' <<<"$after" | grep -qx "$id"; then
            info "member remove answered '${out//$'\n'/ }', but the other members no longer list $id"
        else
            fatal "cannot leave the etcd cluster of $n members without losing its quorum ($out); bring the other members back to health, or remove fewer at once; etcd's data is still on this host"
        fi
    fi
    release_roll_lock
    info "left the etcd cluster (member $id removed; $((n - 1)) left)"
}

delete() {
    snapshot_before_delete
    leave_cluster
    service_remove etcd
    remove_paths "$BIN_ETCD" "$BIN_ETCDCTL" "$BIN_ETCDUTL" "$ETCD_DIR" "$ETCD_DATA_DIR" \
        "$HA_DOWNLOAD_DIR/$(basename "$ETCD_URL")"
    if [[ -f $STATE_DIR/users/etcd ]]; then
        userdel etcd 2>/dev/null || true
        rm -f "$STATE_DIR/users/etcd"
        rmdir "$STATE_DIR/users" 2>/dev/null || true
        info "removed the system user etcd"
    fi
    info "etcd member removed"
}

run_verb "${1:-}"
