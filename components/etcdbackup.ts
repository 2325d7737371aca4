import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ClusterConfig } from "./config";
import { EtcdMember } from "./etcd";
import { Node } from "./node";
import { Pki } from "./pki";
import { FileInput, hostFile, pemFiles, withRestarts } from "./runner";
import * as render from "./render";

/**
 * The schedule, the count kept, the folder and the endpoints only reach the host's files and its
 * step's environment, so each may be another resource's output.
 */
export interface EtcdBackupArgs {
    /** A systemd calendar expression: when the timer takes a snapshot (`hourly`, `*-*-* 02:00:00`). Required (no default). */
    schedule: pulumi.Input<string>;
    /** How many scheduled snapshots the folder keeps, newest first. Required (`k8s-ha:etcdBackup.keep` defaults to 48). */
    keep: pulumi.Input<number>;
    /** The folder on the backup host the snapshots go to (under the NFS export: etcdBackupDir). */
    dir: pulumi.Input<string>;
    /**
     * The etcd release its etcdctl and etcdutl come from, with its pinned sha256 (k8s-ha:checksums).
     * Plain: pins are the stack's own facts, checked against the versions by validateConfig.
     */
    etcdRelease: { url: string; sha256: string; version: string };
    /** The members' client URLs, tried in order (the EtcdMembers' `clientUrl`s may be passed as they are). */
    endpoints: pulumi.Input<pulumi.Input<string>[]>;
    /** The host that takes the snapshots and keeps them: the NFS server. */
    node: Node;
    /** The etcd CA, which issues the snapshot client's certificate. */
    etcdPki: Pki;
    /** The members: the first snapshot, taken at once, waits for the cluster. */
    members: EtcdMember[];
    /** What must exist first on the backup host (the NFS export the snapshots go under). Default: nothing more. */
    dependsOn?: pulumi.Resource[];
}

/** Where the scheduled snapshots go: a folder of the NFS export, on the NFS server. */
export function etcdBackupDir(cluster: ClusterConfig): string {
    return `${cluster.nfs.path}/${render.ETCD_BACKUP_FILES.exportSubdir}`;
}

/**
 * Scheduled etcd snapshots (`k8s-ha:etcdBackup.schedule`): a systemd timer on the NFS server takes
 * a snapshot of the cluster through etcd's client port, with a client certificate of its own,
 * checks it and keeps the newest `keep`. `npm run etcd-backup -- list` lists them and
 * `npm run etcd-backup -- restore NAME` restores every member from one.
 */
export class EtcdBackup extends pulumi.ComponentResource {
    readonly command: command.remote.Command;
    /** `host:folder` of the snapshots, once the first one was taken. */
    readonly location: pulumi.Output<string>;
    /** The timer's calendar expression, as given. */
    readonly schedule: pulumi.Output<string>;
    /** How many scheduled snapshots the folder keeps, as given. */
    readonly keep: pulumi.Output<number>;

    constructor(name: string, args: EtcdBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:EtcdBackup", name, {}, opts);
        const { node, etcdPki } = args;
        const host = node.runner.host;
        this.schedule = pulumi.output(args.schedule);
        this.keep = pulumi.output(args.keep);
        const dir = pulumi.output(args.dir);
        const params = pulumi
            .output({ endpoints: args.endpoints, dir, keep: this.keep, schedule: this.schedule })
            .apply(({ endpoints, dir, keep, schedule }): render.EtcdBackupParams => ({ host: host.name, endpoints, dir, keep, schedule }));
        const client = etcdPki.issue(`${host.name}-etcd-backup-client`, { commonName: "k8s-ha-etcd-backup", client: true }, this);
        const f = render.ETCD_BACKUP_FILES;
        // A changed credential, setting or script takes a snapshot at once (etcd-backup.sh runs the
        // service), so a mistake fails the up; a changed timer restarts the timer, after its check.
        const snapshotNow = [`${f.unit}.service`];
        const files: FileInput[] = [
            { path: f.caCert, mode: "0644", content: etcdPki.caCert, restarts: snapshotNow },
            ...withRestarts(pemFiles<pulumi.Input<string>>(f.clientCert.replace(/\.crt$/, ""), client.cert, client.key), snapshotNow),
            { path: f.env, mode: "0644", content: params.apply(render.renderEtcdBackupEnv), public: true, restarts: snapshotNow },
            { path: f.script, mode: "0755", content: hostFile("etcd-snapshot.sh"), public: true, restarts: snapshotNow },
            { path: render.ETCD_BACKUP_UNITS.service, mode: "0600", content: render.renderEtcdBackupService(), public: true },
            { path: render.ETCD_BACKUP_UNITS.timer, mode: "0600", content: params.apply(render.renderEtcdBackupTimer), public: true, restarts: [`${f.unit}.timer`], check: "calendar" },
        ];
        const etcd = args.etcdRelease;
        this.command = node.runner.run(
            "etcd-backup",
            {
                script: "etcd-backup",
                env: { ETCD_URL: etcd.url, ETCD_SHA256: etcd.sha256, ETCD_VERSION: etcd.version, BACKUP_DIR: dir },
                files,
                secret: true,
            },
            { parent: this, after: [...args.members.map((m) => m.command), ...(args.dependsOn ?? [])] },
        );
        this.location = pulumi.output({ ran: this.command.id, dir }).apply(({ dir }) => `${host.address}:${dir}`);
        this.registerOutputs({ location: this.location });
    }
}
