import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ClusterConfig, EtcdSettings, HostConfig, hostsWithRole } from "./config";
import { Node } from "./node";
import { Pki } from "./pki";
import { hostFile, knownHostsLine, localScript, shellQuote } from "./runner";
import { etcdPhase } from "./phases";
import * as render from "./render";

export interface EtcdMemberArgs {
    /**
     * The member's host. Plain: it names the member's steps and certificates (`<host>-etcd`, …)
     * and its address is in the certificates' names.
     */
    host: HostConfig;
    /** The host's Node: its runner. */
    node: Node;
    /** The etcd CA, separate from the cluster CA. */
    pki: Pki;
    /**
     * Every member's name and address: the initial cluster (this one among them). Plain, like the
     * hosts they are: every member must be given the same list.
     */
    members: { name: string; address: string }[];
    /** etcd's tuning (`k8s-ha:etcd`). Default: etcd's own defaults for what is not set. */
    tuning?: EtcdSettings;
    /** The etcd release the member runs, with its pinned sha256 (k8s-ha:checksums). */
    release: { url: string; sha256: string; version: string };
    /**
     * Where the snapshot a delete saves goes, off the host: to the NFS server's root-only backup folder, or to a
     * folder on the Pulumi machine. `to` and the NFS host stay plain (they decide whose host keys
     * the copy pins); the folder may be another resource's output.
     */
    snapshotCopy: { to: "nfs"; host: HostConfig; dir: pulumi.Input<string> } | { to: "local"; dir: pulumi.Input<string> };
    /** The SSH key, for copying that snapshot (from the Pulumi machine). */
    sshPrivateKey: pulumi.Input<string>;
    /**
     * Pulumi `protect` on the member's step, so that no update or destroy deletes its data. Default true.
     * Plain: a resource option, which the engine needs when the step is registered.
     */
    protectData?: boolean;
}

/** Every etcd host's name and address: the initial cluster. */
export function etcdHosts(cluster: ClusterConfig): { name: string; address: string }[] {
    return hostsWithRole(cluster, "etcd").map((h) => ({ name: h.name, address: h.address }));
}

/** One member of the TLS etcd cluster: client and peer certificate authentication, no auto-TLS. */
export class EtcdMember extends pulumi.ComponentResource {
    /** `https://address:2379`, once the member is healthy. */
    readonly clientUrl: pulumi.Output<string>;
    readonly command: command.remote.Command;

    constructor(name: string, args: EtcdMemberArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:EtcdMember", name, {}, opts);
        const { host, pki, members } = args;
        const names = { dnsNames: [host.name, "localhost"], ipAddresses: [host.address, "127.0.0.1"] };
        const server = pki.issue(`${host.name}-etcd-server`, { commonName: host.name, ...names, server: true, client: true }, this);
        const peer = pki.issue(`${host.name}-etcd-peer`, { commonName: host.name, ...names, server: true, client: true }, this);
        const health = pki.issue(`${host.name}-etcd-healthcheck`, { commonName: "etcd-healthcheck-client", client: true }, this);
        const files = pulumi
            .output({ ca: pki.caCert, sc: server.cert, sk: server.key, pc: peer.cert, pk: peer.key, hc: health.cert, hk: health.key })
            .apply(({ ca, sc, sk, pc, pk, hc, hk }) =>
                etcdPhase({
                    host,
                    members,
                    tuning: args.tuning ?? {},
                    caCert: ca,
                    server: { cert: sc, key: sk },
                    peer: { cert: pc, key: pk },
                    healthcheck: { cert: hc, key: hk },
                }),
            );
        // Deleted after the member's own step (which depends on it): copies the snapshot that the
        // member's delete saved on its host off the host, to k8s-ha:etcdBackup's target.
        const dest = args.snapshotCopy;
        const toHosts = dest.to === "nfs" ? [host, dest.host] : [host];
        const copy = new command.local.Command(
            `${host.name}-etcd-snapshot-copy`,
            {
                delete: `bash -c ${shellQuote(localScript("etcd-snapshot-copy"))} k8s-ha-snapshot-copy`,
                stdin: pulumi.secret(args.sshPrivateKey),
                environment: {
                    K8SHA_HOST: host.name,
                    SRC: `${host.user} ${host.address} ${host.port}`,
                    COPY_TO: dest.to,
                    DEST: dest.to === "nfs" ? `${dest.host.user} ${dest.host.address} ${dest.host.port}` : "",
                    DEST_DIR: dest.dir,
                    // The NFS server's store script, which writes into its root-only folder (refusing symlinks).
                    ...(dest.to === "nfs" ? { DEST_HOST: dest.host.name, STORE_SCRIPT: Buffer.from(hostFile("etcd-store.sh")).toString("base64") } : {}),
                    KNOWN_HOSTS: toHosts.filter((h) => h.hostKey).map(knownHostsLine).join("\n"),
                    // Hosts without a pinned key (k8s-ha:allowUnpinnedHostKeys) are not checked.
                    UNPINNED: toHosts.some((h) => !h.hostKey) ? "yes" : "no",
                },
            },
            { parent: this, additionalSecretOutputs: ["stdin"] },
        );
        const urls = args.release;
        this.command = args.node.runner.run(
            "etcd",
            {
                script: "etcd",
                env: {
                    ETCD_URL: urls.url,
                    ETCD_SHA256: urls.sha256,
                    ETCD_VERSION: urls.version,
                    // Every member's client URL: a restart waits for the whole cluster's health and
                    // takes the cluster-wide roll lock, so members restart one at a time.
                    ETCD_ENDPOINTS: members.map((m) => render.etcdClientUrl(m.address)).join(","),
                },
                files,
                secret: true,
            },
            // The member's data: protected unless the stack says otherwise (k8s-ha:protectData).
            { parent: this, after: [copy], protect: args.protectData ?? true },
        );
        // From the command's id, not its stdout: it resolves only once the command has run (so users
        // of the value wait for it), and an update keeps the id, so a preview of one still knows
        // the value, which never changes, instead of showing everything built from it as unknown.
        this.clientUrl = this.command.id.apply(() => render.etcdClientUrl(host.address));
        this.registerOutputs({ clientUrl: this.clientUrl });
    }
}
