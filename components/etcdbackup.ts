import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { ClusterConfig } from "./config";
import { EtcdMember } from "./etcd";
import { Node } from "./node";
import { FileInput, hostFile, knownHostsLine } from "./runner";
import * as render from "./render";

/** The schedule and the count kept only reach the hosts' files, so each may be another resource's output. */
export interface EtcdBackupArgs {
    /** A systemd calendar expression: when the members' timers fire (`hourly`, `*-*-* 02:00:00`). Required (no default). */
    schedule: pulumi.Input<string>;
    /** How many scheduled snapshots the backup host keeps, newest first. Required (`k8s-ha:etcdBackup.keep` defaults to 48). */
    keep: pulumi.Input<number>;
    /** The host that keeps the snapshots (the NFS server): it holds no etcd credential and never the passphrase. */
    store: Node;
    /**
     * The etcd members, each with its Node: each runs the timer, and the leader takes the snapshot.
     * Plain: each member is a step of its own (`<host>-etcd-snapshots`).
     */
    members: { node: Node; member: EtcdMember }[];
    /** What must exist first on the backup host (the NFS export). Default: nothing more. */
    dependsOn?: pulumi.Resource[];
    /** Where earlier releases kept the snapshots (legacyEtcdBackupDir): the step says what is still there, and never reads or removes it. Default: none. */
    legacyDir?: pulumi.Input<string>;
}

/** Where releases before this one kept the scheduled snapshots: a folder of the NFS export, read and written no more. */
export function legacyEtcdBackupDir(cluster: ClusterConfig): string {
    return `${cluster.nfs.path}/${render.ETCD_BACKUP_FILES.legacyExportSubdir}`;
}

/**
 * Scheduled etcd snapshots (`k8s-ha:etcdBackup.schedule`). A timer on each etcd member; the member
 * that leads etcd saves a snapshot with its own health-check client (no etcd credential leaves the
 * members), encrypts it with the stack's passphrase (a RandomPassword, secret in the state and on
 * the members only), signs the encrypted file's sha256 with the stack's Ed25519 key and sends it
 * over SSH to the backup host. There the members' SSH key can only run the store script, which
 * checks the signature and keeps the file in a root-only folder outside every export
 * (`render.ETCD_BACKUP_FILES.storeDir`), in the signed manifest, and the newest `keep`.
 * `npm run etcd-backup -- list | snapshot | restore NAME` from the Pulumi machine.
 */
export class EtcdBackup extends pulumi.ComponentResource {
    /** The backup host's step. */
    readonly command: command.remote.Command;
    /** Each member's step, by host name. */
    readonly snapshots: Record<string, command.remote.Command>;
    /** `address:folder` of the snapshots on the backup host, once its step ran. */
    readonly location: pulumi.Output<string>;
    /** The timer's calendar expression, as given. */
    readonly schedule: pulumi.Output<string>;
    /** How many scheduled snapshots the backup host keeps, as given. */
    readonly keep: pulumi.Output<number>;
    /** The public key (PEM) the manifest's signatures verify with: a restore checks each snapshot against it. */
    readonly verifyKey: pulumi.Output<string>;
    /** The passphrase the snapshots are encrypted with (secret): without it no snapshot can be restored. */
    readonly passphrase: pulumi.Output<string>;

    constructor(name: string, args: EtcdBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:EtcdBackup", name, {}, opts);
        const storeHost = args.store.runner.host;
        this.schedule = pulumi.output(args.schedule);
        this.keep = pulumi.output(args.keep);
        // Not RandomBytes: its ID is the value itself, and IDs are never secret in state.
        const passphrase = new random.RandomPassword(`${name}-passphrase`, { length: 64, special: false }, { parent: this });
        this.passphrase = pulumi.secret(passphrase.result);
        const signing = new tls.PrivateKey(`${name}-signing-key`, { algorithm: "ED25519" }, { parent: this });
        this.verifyKey = signing.publicKeyPem;
        // A key of the members' own to log in to the backup host with, never the stack's SSH key.
        const ssh = new tls.PrivateKey(`${name}-ssh-key`, { algorithm: "ED25519" }, { parent: this });
        const f = render.ETCD_BACKUP_FILES;
        const memberAddresses = args.members.map((m) => m.node.runner.host.address);
        const storeFiles: FileInput[] = [
            { path: f.env, mode: "0644", content: this.keep.apply((keep) => render.renderEtcdBackupStoreEnv({ host: storeHost.name, keep })), public: true },
            { path: f.verifyKey, mode: "0644", content: signing.publicKeyPem, public: true },
            { path: f.storeScript, mode: "0755", content: hostFile("etcd-store.sh"), public: true },
            {
                path: f.authorizedKey,
                mode: "0644",
                content: ssh.publicKeyOpenssh.apply((publicKey) => render.renderEtcdBackupAuthorizedKey({ publicKey, from: memberAddresses, user: storeHost.user })),
                public: true,
            },
        ];
        this.command = args.store.runner.run(
            "etcd-backup",
            {
                script: "etcd-backup",
                env: {
                    SNAPSHOT_DIR: f.storeDir,
                    AUTHORIZED_KEY: f.authorizedKey,
                    KEY_COMMENT: f.authorizedKeyComment,
                    SSH_USER: storeHost.user,
                    LIB: f.libDir,
                    STORE_SCRIPT: f.storeScript,
                    LEGACY_UNIT: f.legacyUnit,
                    LEGACY_DIR: args.legacyDir ?? "",
                },
                files: storeFiles,
            },
            { parent: this, after: args.dependsOn ?? [] },
        );
        const s = render.ETCD_SNAPSHOT_FILES;
        // A changed key, setting or script takes a snapshot at once (etcd-snapshots.sh), so a
        // mistake fails the up; a changed timer restarts the timer, after its check.
        const snapshotNow = [`${s.unit}.service`];
        this.snapshots = {};
        for (const { node, member } of args.members) {
            const host = node.runner.host;
            const params = pulumi.output({ schedule: this.schedule, keep: this.keep }).apply(
                ({ schedule, keep }): render.EtcdSnapshotParams => ({
                    host: host.name,
                    store: { name: storeHost.name, user: storeHost.user, address: storeHost.address, port: storeHost.port },
                    storeKeyPinned: storeHost.hostKey !== undefined,
                    schedule,
                    keep,
                }),
            );
            const files: FileInput[] = [
                { path: s.encryptionKey, mode: "0600", content: this.passphrase, restarts: snapshotNow },
                { path: s.signingKey, mode: "0600", content: signing.privateKeyPem, restarts: snapshotNow },
                { path: s.sshKey, mode: "0600", content: ssh.privateKeyOpenssh, restarts: snapshotNow },
                { path: s.knownHosts, mode: "0644", content: storeHost.hostKey ? `${knownHostsLine(storeHost)}\n` : "", public: true, restarts: snapshotNow },
                { path: s.env, mode: "0644", content: params.apply(render.renderEtcdSnapshotEnv), public: true, restarts: snapshotNow },
                { path: s.script, mode: "0755", content: hostFile("etcd-snapshot.sh"), public: true, restarts: snapshotNow },
                { path: render.ETCD_SNAPSHOT_UNITS.service, mode: "0600", content: render.renderEtcdSnapshotService(), public: true },
                { path: render.ETCD_SNAPSHOT_UNITS.timer, mode: "0600", content: params.apply(render.renderEtcdSnapshotTimer), public: true, restarts: [`${s.unit}.timer`], check: "calendar" },
            ];
            this.snapshots[host.name] = node.runner.run(
                "etcd-snapshots",
                { script: "etcd-snapshots", env: { SNAPSHOT_ENV: s.env, SNAPSHOT_SCRIPT: s.script, WORK_DIR: f.storeDir }, files, secret: true },
                // The backup host receives the first snapshot; the member serves it.
                { parent: this, after: [this.command, member.command] },
            );
        }
        this.location = pulumi.output({ ran: this.command.id }).apply(() => `${storeHost.address}:${f.storeDir}`);
        this.registerOutputs({ location: this.location });
    }
}
