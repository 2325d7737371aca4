/**
 * Scheduled etcd snapshots. On each etcd member, a timer whose service runs the snapshot script
 * (scripts/host/files/etcd-snapshot.sh): the member that leads etcd saves a snapshot with its own
 * health-check client over 127.0.0.1, encrypts it with the stack's passphrase, signs its sha256 and
 * sends it over SSH to the backup host (the NFS server). There the SSH key can only run the store
 * script (scripts/host/files/etcd-store.sh), which checks the signature, keeps the file in a
 * root-only folder outside every export, adds it to the manifest and keeps the newest KEEP.
 */
import { ETCD_BACKUP_FILES, ETCD_FILES, ETCD_SNAPSHOT_FILES, PEM_BASES, BINARIES, timerPath, unitPath } from "./paths";
import { etcdClientUrl } from "./etcd";
import { renderServiceUnit, renderTimerUnit } from "./systemd";
import { joinLines } from "./text";

/**
 * How a snapshot is encrypted: `openssl enc -CIPHER -pbkdf2 -md DIGEST -iter ITERATIONS -salt`
 * with the stack's passphrase. CBC itself is not authenticated: the signature over the encrypted
 * file's sha256 is (encrypt-then-sign), and a restore checks it before it decrypts.
 */
export const ETCD_SNAPSHOT_ENCRYPTION = { cipher: "aes-256-cbc", digest: "sha256", iterations: 200_000 } as const;

/** A scheduled snapshot's name: `scheduled-<UTC time>-<member>.db.enc`, so names sort by time. */
export const ETCD_SNAPSHOT_NAME = /^scheduled-[0-9]{8}T[0-9]{6}Z-[a-z0-9][a-z0-9.-]*\.db\.enc$/;

export interface EtcdSnapshotParams {
    /** The member's name, for its messages and the snapshots' names. */
    host: string;
    /** The backup host: its name (for messages), the SSH user the member logs in as, its address and port. */
    store: { name: string; user: string; address: string; port: number };
    /** Whether the backup host's key is pinned (the member's known_hosts); not, with k8s-ha:allowUnpinnedHostKeys. */
    storeKeyPinned: boolean;
    /** A systemd calendar expression. */
    schedule: string;
    /** How many scheduled snapshots the backup host keeps (for the timer's description). */
    keep: number;
}

export interface EtcdBackupStoreParams {
    /** The backup host's name, for its messages. */
    host: string;
    /** How many scheduled snapshots to keep, newest first. */
    keep: number;
}

function envFile(values: [string, string][]): string {
    for (const [name, value] of values) {
        if (!/^[A-Za-z0-9._/:,@+=-]+$/.test(value)) throw new Error(`etcd backup: ${name} ${JSON.stringify(value)} has characters an environment file would mangle`);
    }
    return joinLines(["# Rendered by k8s-ha. Changes here are overwritten.", ...values.map(([n, v]) => `${n}=${v}`)]);
}

function checkKeep(keep: number): void {
    if (!Number.isInteger(keep) || keep < 1) throw new Error(`etcd backup: keep must be a whole number of at least 1, got ${keep}`);
}

/** A member's snapshot settings (systemd's EnvironmentFile syntax): every path and tool the script uses. */
export function renderEtcdSnapshotEnv(p: EtcdSnapshotParams): string {
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(p.host)) throw new Error(`etcd backup: the member's name ${JSON.stringify(p.host)} cannot be part of a snapshot's name`);
    const e = ETCD_SNAPSHOT_ENCRYPTION;
    return envFile([
        ["HOST", p.host],
        ["ETCDCTL", BINARIES.etcdctl],
        ["ETCDUTL", BINARIES.etcdutl],
        ["ETCD_ENDPOINT", etcdClientUrl("127.0.0.1")],
        ["ETCD_CACERT", ETCD_FILES.caCert],
        ["ETCD_CERT", `${PEM_BASES.etcdHealthcheckClient}.crt`],
        ["ETCD_KEY", `${PEM_BASES.etcdHealthcheckClient}.key`],
        ["WORK_DIR", ETCD_BACKUP_FILES.storeDir],
        ["CIPHER", e.cipher],
        ["KDF_DIGEST", e.digest],
        ["KDF_ITER", String(e.iterations)],
        ["ENCRYPTION_KEY", ETCD_SNAPSHOT_FILES.encryptionKey],
        ["SIGNING_KEY", ETCD_SNAPSHOT_FILES.signingKey],
        ["SSH_KEY", ETCD_SNAPSHOT_FILES.sshKey],
        ["KNOWN_HOSTS", ETCD_SNAPSHOT_FILES.knownHosts],
        ["HOST_KEY_CHECK", p.storeKeyPinned ? "yes" : "no"],
        ["STORE_HOST", p.store.name],
        ["STORE", `${p.store.user}@${p.store.address}`],
        ["STORE_PORT", String(p.store.port)],
    ]);
}

/** The oneshot service that takes one snapshot (on the leader); low priority, so etcd's own work comes first. */
export function renderEtcdSnapshotService(): string {
    return renderServiceUnit({
        description: "k8s-ha: an encrypted snapshot of etcd, sent to the backup host",
        after: ["network-online.target", "etcd.service"],
        wants: ["network-online.target"],
        type: "oneshot",
        execStart: [{ path: "/bin/bash", args: [ETCD_SNAPSHOT_FILES.script] }],
        extra: [
            ["EnvironmentFile", ETCD_SNAPSHOT_FILES.env],
            ["Nice", "10"],
            ["IOSchedulingClass", "idle"],
            ["TimeoutStartSec", "900"],
        ],
    });
}

/** Every member's timer fires; the script of the member that leads etcd then takes the snapshot. */
export function renderEtcdSnapshotTimer(p: Pick<EtcdSnapshotParams, "schedule" | "keep">): string {
    checkKeep(p.keep);
    return renderTimerUnit({
        description: `k8s-ha: etcd snapshots (${p.schedule}, the leader's; the newest ${p.keep} kept on the backup host)`,
        onCalendar: p.schedule,
        persistent: true,
        randomizedDelaySec: 60,
    });
}

/** The backup host's settings, read by the store script (its SSH key's forced command gives no other). */
export function renderEtcdBackupStoreEnv(p: EtcdBackupStoreParams): string {
    checkKeep(p.keep);
    return envFile([
        ["HOST", p.host],
        ["DIR", ETCD_BACKUP_FILES.storeDir],
        ["KEEP", String(p.keep)],
        ["VERIFY_KEY", ETCD_BACKUP_FILES.verifyKey],
    ]);
}

/**
 * The authorized_keys line of the members' SSH key on the backup host: from the members' addresses
 * only, no pty or forwarding (`restrict`), and whatever the client asks, only the store script's
 * `receive`, as root (through `sudo -n` for another SSH user, as every step of the host runs).
 */
export function renderEtcdBackupAuthorizedKey(p: { publicKey: string; from: readonly string[]; user: string }): string {
    const [type, key] = p.publicKey.trim().split(/\s+/);
    if (type !== "ssh-ed25519" || !/^[A-Za-z0-9+/=]+$/.test(key ?? "")) throw new Error(`etcd backup: the members' SSH key is not an ssh-ed25519 public key: ${JSON.stringify(p.publicKey)}`);
    if (p.from.length === 0) throw new Error("etcd backup: no member address to accept the SSH key from");
    for (const a of p.from) if (!/^[0-9.]+$/.test(a)) throw new Error(`etcd backup: ${JSON.stringify(a)} is not an IPv4 address`);
    const sudo = p.user === "root" ? "" : "sudo -n ";
    const command = `${sudo}/bin/bash ${ETCD_BACKUP_FILES.storeScript} receive ${ETCD_BACKUP_FILES.env}`;
    return `from="${p.from.join(",")}",restrict,command="${command}" ${type} ${key} ${ETCD_BACKUP_FILES.authorizedKeyComment}\n`;
}

/** The paths of a member's snapshot service and timer. */
export const ETCD_SNAPSHOT_UNITS = {
    service: unitPath(ETCD_SNAPSHOT_FILES.unit),
    timer: timerPath(ETCD_SNAPSHOT_FILES.unit),
} as const;
