import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig } from "./config";
import { Node } from "./node";
import * as render from "./render";

export interface NfsServerArgs {
    cluster: ClusterConfig;
    node: Node;
}

/** nfs-kernel-server exporting one directory to the node network only (root_squash, sync). */
export class NfsServer extends pulumi.ComponentResource {
    /** `server:path`, for a PersistentVolume or a mount. */
    readonly export: pulumi.Output<string>;

    constructor(name: string, args: NfsServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:NfsServer", name, {}, opts);
        const { cluster, node } = args;
        const cmd = node.runner.run(
            "nfs",
            {
                script: "nfs",
                env: { NFS_PATH: cluster.nfs.path },
                files: [
                    {
                        path: "/etc/exports.d/k8s-ha.exports",
                        mode: "0644",
                        content: render.renderExports([{ path: cluster.nfs.path, allowedCidr: cluster.nfs.allowedCidr }]),
                    },
                ],
            },
            { parent: this, dependsOn: [node.prepared] },
        );
        this.export = cmd.stdout.apply(() => `${node.runner.host.address}:${cluster.nfs.path}`);
        this.registerOutputs({ export: this.export });
    }
}
