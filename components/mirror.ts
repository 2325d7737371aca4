import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig } from "./config";
import { Node } from "./node";
import { Pki } from "./pki";
import { BundleFile } from "./runner";
import * as render from "./render";

export interface DockerImageMirrorArgs {
    cluster: ClusterConfig;
    node: Node;
    /** The cluster PKI: every node trusts its CA, so the mirror's certificate comes from it. */
    pki: Pki;
}

/**
 * A Docker distribution registry with TLS, either a pull-through cache of `mirror.upstream` or
 * preloaded. Every Node's containerd sends the registries in `mirror.registries` to it.
 */
export class DockerImageMirror extends pulumi.ComponentResource {
    /** `address:port` of the registry, once it answers. */
    readonly endpoint: pulumi.Output<string>;

    constructor(name: string, args: DockerImageMirrorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:DockerImageMirror", name, {}, opts);
        const { cluster, node, pki } = args;
        const host = node.runner.host;
        const cert = pki.issue(`${host.name}-registry`, { commonName: host.name, dnsNames: [host.name], ipAddresses: [host.address], server: true }, this);
        const files = pulumi.all([pki.caCert, cert.cert, cert.key]).apply(([ca, c, k]): BundleFile[] => [
            { path: "/etc/docker/registry/tls/ca.crt", mode: "0644", content: ca },
            { path: "/etc/docker/registry/tls/registry.crt", mode: "0644", content: c },
            { path: "/etc/docker/registry/tls/registry.key", mode: "0640", content: k },
            {
                path: "/etc/docker/registry/config.yml",
                mode: "0644",
                content: render.renderRegistryConfig({ port: cluster.mirror.port, mode: cluster.mirror.mode, upstream: cluster.mirror.upstream }),
            },
        ]);
        const cmd = node.runner.run(
            "mirror",
            { script: "mirror", env: { MIRROR_ADDRESS: host.address, MIRROR_PORT: String(cluster.mirror.port), MIRROR_MODE: cluster.mirror.mode }, files, secret: true },
            { parent: this, dependsOn: [node.prepared] },
        );
        // From the command's id, not its stdout: it resolves only once the command has run (so users
        // of the value wait for it), and an update keeps the id, so a preview of one still knows
        // the value, which never changes, instead of showing everything built from it as unknown.
        this.endpoint = cmd.id.apply(() => `${host.address}:${cluster.mirror.port}`);
        this.registerOutputs({ endpoint: this.endpoint });
    }
}
