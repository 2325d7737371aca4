#!/usr/bin/env bash
# EtcdBackup: scheduled snapshots of etcd on the backup host (the NFS server). etcdctl and etcdutl
# (from the pinned etcd release, beside the snapshot script, not on PATH: the host may be an etcd
# member too), a client certificate of the etcd CA, and a systemd timer whose service runs the
# snapshot script. The first run takes a snapshot at once, so a mistake (firewall, certificate)
# fails the up instead of the first night's snapshot. A delete stops the timer; the snapshots stay.
# Files (stdin): the etcd CA, the client certificate and key, the settings, the snapshot script and
# the service and timer, as components/etcdbackup.ts sends them, with what a change to each restarts.
# Environment: ETCD_URL, ETCD_SHA256 (pinned, k8s-ha:checksums), ETCD_VERSION, BACKUP_DIR.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LIB=/usr/local/lib/k8s-ha/etcd-backup
UNIT=k8s-ha-etcd-backup

# check_calendar TIMER_FILE: systemd understands the timer's OnCalendar expression.
check_calendar() {
    local expr
    expr=$(sed -n 's/^OnCalendar=//p' "$1")
    systemd-analyze calendar "$expr" >/dev/null || {
        echo "OnCalendar=$expr is not a calendar expression systemd knows (k8s-ha:etcdBackup.schedule)"
        return 1
    }
}

create() {
    read_bundle
    local archive tmp f
    archive=/var/cache/k8s-ha/$(basename "$ETCD_URL")
    fetch_verified "$ETCD_URL" "$ETCD_SHA256" "$archive" || true
    tmp=$(mktemp -d)
    tar -xzf "$archive" -C "$tmp"
    mkdir -p "$LIB/bin"
    for f in etcdctl etcdutl; do
        [[ -f $tmp/etcd-v$ETCD_VERSION-linux-amd64/$f ]] || fatal "$ETCD_URL has no etcd-v$ETCD_VERSION-linux-amd64/$f"
        install_binary "$tmp/etcd-v$ETCD_VERSION-linux-amd64/$f" "$LIB/bin/$f" || true
    done
    rm -rf "$tmp"
    install_bundle || true
    service_apply "$UNIT.timer" "$(restart_of "$UNIT.timer")"
    if [[ -z $(find "$BACKUP_DIR" -maxdepth 1 -name 'scheduled-*.db' -print -quit 2>/dev/null) ]] ||
        [[ $(restart_of "$UNIT.service") == yes ]] || changed "$LIB/bin/"; then
        info "taking a snapshot now, to check the settings"
        systemctl start "$UNIT.service" || fatal "the snapshot failed: $(journalctl -u "$UNIT.service" -n 3 -o cat --no-pager 2>&1 | paste -sd' ')"
        journalctl -u "$UNIT.service" -n 10 -o cat --no-pager 2>/dev/null | grep 'saved a snapshot' | tail -n 1 >&2 || true
    fi
    info "etcd snapshots scheduled: $(systemctl show -P TimersCalendar "$UNIT.timer" | sed 's/.*OnCalendar=\([^;]*\).*/\1/' | xargs); next $(systemctl show -P NextElapseUSecRealtime "$UNIT.timer"); in $BACKUP_DIR"
}

delete() {
    if systemctl list-unit-files "$UNIT.timer" --no-legend 2>/dev/null | grep -q .; then
        systemctl disable --now -q "$UNIT.timer" 2>/dev/null || true
        info "stopped $UNIT.timer"
    fi
    rm -f "$STATE_DIR/started/$UNIT.timer"
    service_remove "$UNIT"
    remove_owned
    remove_paths /etc/k8s-ha/etcd-backup "$LIB"
    rmdir /etc/k8s-ha 2>/dev/null || true
    info "scheduled etcd snapshots stopped; the snapshots stay in ${BACKUP_DIR:-the export}"
}

run_verb "${1:-}"
