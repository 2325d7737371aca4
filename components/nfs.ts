import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { NfsStorageConfig } from "./config";
import { ControlPlane } from "./controlplane";
import { Node } from "./node";
import * as render from "./render";

/** What the StorageClass over the export needs from the rest of the cluster. */
export interface NfsStorageArgs {
    /** Applies the provisioner and the StorageClass from its first host. */
    controlPlane: ControlPlane;
    /** `host:port` of the DockerImageMirror, which serves the provisioner's image. */
    mirrorEndpoint: pulumi.Input<string>;
    /** The provisioner image's digest (from the DockerImageMirror); by tag only when not given. */
    provisionerDigest?: pulumi.Input<string>;
    /** What must exist first: the workers' Node objects, so the provisioner can be scheduled. */
    dependsOn?: pulumi.Resource[];
}

/**
 * The export and its StorageClass. A validated `k8s-ha:nfs` (a NfsConfig) is one. Each setting
 * only reaches the host's exports file, the StorageClass's manifests and the steps' environment,
 * so each may be another resource's output (an export path another program hands out, say).
 */
export interface NfsServerSettings {
    /** The directory exported, an absolute path. Required (the stack config's default is `/srv/nfs/k8s`). */
    path: pulumi.Input<string>;
    /** Who may mount it: IPv4 addresses or CIDRs, at least one. Required (the stack config's default: the workers' addresses). */
    clients: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * The StorageClass's settings, used only with NfsServerArgs' `storage`. Required; the stack
     * config fills in each default (see NfsStorageConfig: class `nfs`, the default class, `Delete`
     * with `archive`, `nfsvers=4.2,hard`, mode `0777`, any worker).
     */
    storage: pulumi.Input<NfsStorageConfig>;
}

export interface NfsServerArgs {
    /** The export's path and clients, and the StorageClass's settings. */
    settings: NfsServerSettings;
    /** The NFS server's Node. */
    node: Node;
    /** When given, dynamic provisioning: the provisioner and the StorageClass `settings.storage` describes. Default: none, the export only. */
    storage?: NfsStorageArgs;
    /**
     * Pulumi `protect` on the export's step, so that no update or destroy deletes the data. Default true.
     * Plain: a resource option, which the engine needs when the step is registered.
     */
    protectData?: boolean;
}

/**
 * nfs-kernel-server exporting one directory to its clients only (the workers by default; root_squash, sync), and,
 * with `storage`, a StorageClass whose volumes are directories of the export, made by k8s-ha's
 * own provisioner.
 */
export class NfsServer extends pulumi.ComponentResource {
    /** `server:path`, for a PersistentVolume or a mount. */
    readonly export: pulumi.Output<string>;
    /** The step that exports the directory. */
    readonly command: command.remote.Command;
    /** The step that applies the provisioner and the StorageClass, when `storage` was given. */
    readonly storageClass?: command.remote.Command;

    constructor(name: string, args: NfsServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:NfsServer", name, {}, opts);
        const { node } = args;
        const nfs = args.settings;
        const path = pulumi.output(nfs.path);
        const exportsFile = pulumi.output({ path, clients: nfs.clients }).apply(({ path, clients }) => render.renderExports([{ path, clients }]));
        const cmd = (this.command = node.runner.run(
            "nfs",
            {
                script: "nfs",
                env: { NFS_PATH: path },
                files: [
                    {
                        path: render.NFS_FILES.exports,
                        mode: "0644",
                        // exportfs -ra: the export table is read again; mounts stay.
                        reloads: ["nfs-server"],
                        content: exportsFile,
                    },
                ],
            },
            // The export's data: protected unless the stack says otherwise (k8s-ha:protectData).
            { parent: this, protect: args.protectData ?? true },
        ));
        const server = node.runner.host.address;
        const exportSpec = path.apply((p) => `${server}:${p}`);
        // From the command's id, not its stdout: it resolves only once the command has run (so users
        // of the value wait for it), and an update keeps the id, so a preview of one still knows
        // the value, which never changes, instead of showing everything built from it as unknown.
        this.export = pulumi.output({ ran: cmd.id, exportSpec }).apply(({ exportSpec }) => exportSpec);
        if (args.storage) {
            const s = pulumi.output(nfs.storage);
            const files = pulumi
                .output({ mirror: args.storage.mirrorEndpoint, digest: args.storage.provisionerDigest, path, s })
                .apply(({ mirror, digest, path, s }) => {
                    const params: render.NfsStorageParams = {
                        server,
                        path,
                        image: render.nfsProvisionerImage(mirror, digest),
                        storageClass: s.storageClass,
                        defaultClass: s.defaultClass,
                        reclaimPolicy: s.reclaimPolicy,
                        onDelete: s.onDelete,
                        mountOptions: s.mountOptions,
                        directoryMode: s.directoryMode,
                        nodeSelector: s.provisionerNodeSelector,
                    };
                    return [
                        { path: render.K8S_FILES.nfsProvisioner, mode: "0644", content: render.renderNfsProvisioner(params) },
                        { path: render.K8S_FILES.nfsStorageClass, mode: "0644", content: render.renderNfsStorageClass(params) },
                    ];
                });
            this.storageClass = args.storage.controlPlane.runAsInstaller(
                "nfs-storage",
                { script: "storage", env: { STORAGE_CLASS: s.apply((x) => x.storageClass), NFS_EXPORT: exportSpec }, files },
                this,
                [cmd, ...(args.storage.dependsOn ?? [])],
            );
        }
        this.registerOutputs({ export: this.export });
    }
}
