#!/usr/bin/env bash
# EtcdBackup, on each etcd member: the timer of the scheduled snapshots, whose service runs the
# snapshot script (scripts/host/files/etcd-snapshot.sh; only the member that leads etcd takes one),
# with the stack's passphrase and signing key, the SSH key that may only hand a snapshot to the
# backup host's store script, and that host's pinned key. The first run takes a snapshot at once on
# every member, so a mistake (the SSH key, the firewall, a key) fails the up instead of the first
# night's snapshot; so does a run that changed the keys, the settings or the script. A delete stops
# the timer and removes the keys; the snapshots stay on the backup host.
# Files (stdin): the passphrase, the signing and SSH keys, known_hosts, the settings, the script,
# the service and the timer, as components/etcdbackup.ts sends them.
# Environment: SNAPSHOT_ENV, SNAPSHOT_SCRIPT (the settings and the script the service runs).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

UNIT=k8s-ha-etcd-snapshot

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
    install_bundle || true
    service_apply "$UNIT.timer" "$(restart_of "$UNIT.timer")"
    if [[ $(restart_of "$UNIT.service") == yes ]]; then
        info "taking a snapshot now, to check the keys and the way to the backup host"
        # shellcheck disable=SC1090 # the settings this step installed (NAME=value lines)
        (set -a && source "$SNAPSHOT_ENV" && set +a && NOW=yes bash "$SNAPSHOT_SCRIPT") ||
            fatal "the snapshot failed (see above); the timer keeps its schedule"
    fi
    info "etcd snapshots scheduled: $(systemctl show -P TimersCalendar "$UNIT.timer" | sed 's/.*OnCalendar=\([^;]*\).*/\1/' | xargs); next $(systemctl show -P NextElapseUSecRealtime "$UNIT.timer"); the leader takes each"
}

delete() {
    local f
    if systemctl list-unit-files "$UNIT.timer" --no-legend 2>/dev/null | grep -q .; then
        systemctl disable --now -q "$UNIT.timer" 2>/dev/null || true
        info "stopped $UNIT.timer"
    fi
    rm -f "$STATE_DIR/started/$UNIT.timer"
    service_remove "$UNIT"
    remove_owned
    for f in "${OWNED_FILES[@]}"; do rmdir "$(dirname "$f")" 2>/dev/null || true; done
    rmdir "$HA_ETC_DIR" 2>/dev/null || true
    info "scheduled etcd snapshots stopped on this member; its keys are removed; the snapshots stay on the backup host"
}

run_verb "${1:-}"
