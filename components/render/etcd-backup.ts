/**
 * The scheduled etcd snapshot on the backup host (the NFS server): a oneshot service that runs the
 * snapshot script (scripts/host/files/etcd-snapshot.sh) with its settings from an environment file,
 * and the timer that starts it.
 */
import { ETCD_BACKUP_FILES, timerPath, unitPath } from "./paths";
import { renderServiceUnit, renderTimerUnit } from "./systemd";
import { joinLines } from "./text";

export interface EtcdBackupParams {
    /** The backup host's name, for its messages. */
    host: string;
    /** Every member's client URL; a snapshot comes from the first that gives one. */
    endpoints: readonly string[];
    /** Where the snapshots go (on the backup host). */
    dir: string;
    /** How many scheduled snapshots to keep. */
    keep: number;
    /** A systemd calendar expression. */
    schedule: string;
}

/** The snapshot service's settings (systemd's EnvironmentFile syntax: one `NAME=value` a line). */
export function renderEtcdBackupEnv(p: EtcdBackupParams): string {
    const values: [string, string][] = [
        ["HOST", p.host],
        ["ENDPOINTS", p.endpoints.join(",")],
        ["DIR", p.dir],
        ["KEEP", String(p.keep)],
    ];
    for (const [name, value] of values) {
        if (!/^[A-Za-z0-9._/:,@+-]+$/.test(value)) throw new Error(`etcd backup: ${name} ${JSON.stringify(value)} has characters an environment file would mangle`);
    }
    if (!Number.isInteger(p.keep) || p.keep < 1) throw new Error(`etcd backup: keep must be a whole number of at least 1, got ${p.keep}`);
    return joinLines(["# Rendered by k8s-ha. Changes here are overwritten.", ...values.map(([n, v]) => `${n}=${v}`)]);
}

/** The oneshot service that takes one snapshot; low priority, so the host's own work comes first. */
export function renderEtcdBackupService(): string {
    return renderServiceUnit({
        description: "k8s-ha: a snapshot of etcd",
        after: ["network-online.target"],
        wants: ["network-online.target"],
        type: "oneshot",
        execStart: [{ path: "/bin/bash", args: [ETCD_BACKUP_FILES.script] }],
        extra: [
            ["EnvironmentFile", ETCD_BACKUP_FILES.env],
            ["Nice", "10"],
            ["IOSchedulingClass", "idle"],
            ["TimeoutStartSec", "600"],
        ],
    });
}

export function renderEtcdBackupTimer(p: Pick<EtcdBackupParams, "schedule" | "keep">): string {
    return renderTimerUnit({
        description: `k8s-ha: etcd snapshots (${p.schedule}, the newest ${p.keep} kept)`,
        onCalendar: p.schedule,
        persistent: true,
        randomizedDelaySec: 60,
    });
}

/** The paths of the service and the timer. */
export const ETCD_BACKUP_UNITS = {
    service: unitPath(ETCD_BACKUP_FILES.unit),
    timer: timerPath(ETCD_BACKUP_FILES.unit),
} as const;
