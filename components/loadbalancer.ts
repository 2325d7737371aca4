import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as command from "@pulumi/command";
import { ClusterConfig, hostsWithRole } from "./config";
import { Node } from "./node";
import * as render from "./render";
import { parseIpv4 } from "./net";
import { BundleFile } from "./runner";

export interface LoadBalancerPairArgs {
    cluster: ClusterConfig;
    /** The Nodes of the two lb hosts, keyed by host name. */
    nodes: Record<string, Node>;
}

/**
 * HAProxy on two hosts in front of every apiserver, and Keepalived VRRP (unicast) holding the VIP
 * on one of them. The VIP moves when a host, its HAProxy or its Keepalived dies.
 */
export class LoadBalancerPair extends pulumi.ComponentResource {
    /** The cluster's API endpoint, `https://VIP:port`. */
    readonly endpoint: pulumi.Output<string>;
    readonly commands: command.remote.Command[];

    constructor(name: string, args: LoadBalancerPairArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:LoadBalancerPair", name, {}, opts);
        const { cluster } = args;
        // One host at a time (stage steps in a fixed order); the host that holds the VIP defers its
        // change to the finish phase, so the VIP holder changes last whichever host it is; lb.sh
        // hands the VIP over before it restarts keepalived on it.
        const lbs = [...hostsWithRole(cluster, "lb")].sort((a, b) => (a.vrrpPriority ?? 100) - (b.vrrpPriority ?? 100) || (parseIpv4(a.address) ?? 0) - (parseIpv4(b.address) ?? 0));
        const apiservers = hostsWithRole(cluster, "control-plane").map((h) => ({ name: h.name, address: h.address, port: render.APISERVER_PORT }));
        // VRRP's simple authentication takes at most 8 characters.
        const authPass = new random.RandomPassword(`${name}-vrrp-auth`, { length: 8, special: false }, { parent: this });
        const haproxyCfg = render.renderHaproxyConfig({ apiPort: cluster.apiPort, backends: apiservers, checkIntervalMs: cluster.loadBalancer.healthCheckIntervalMs });
        let previous: command.remote.Command | undefined;
        this.commands = lbs.map((host) => {
            const node = args.nodes[host.name];
            const peer = lbs.find((h) => h.name !== host.name);
            if (!node || !peer) throw new pulumi.ResourceError(`lb host ${host.name} has no Node or no peer`, this);
            // A changed config reloads its daemon (connections and the VIP stay); only a changed
            // keepalived drop-in restarts keepalived (lb.sh hands the VIP over first).
            const lb = render.LB_FILES;
            const u = render.UNITS;
            const files = pulumi.output({ facts: node.facts, pass: authPass.result }).apply(({ facts, pass }): BundleFile[] => [
                { path: lb.haproxyConfig, mode: "0644", content: haproxyCfg, reloads: [u.haproxy], check: "haproxy" },
                { path: lb.keepalivedCheckScript, mode: "0755", content: render.renderHaproxyCheckScript({ apiPort: cluster.apiPort }), reloads: [u.keepalived] },
                {
                    path: lb.keepalivedConfig,
                    mode: "0600",
                    reloads: [u.keepalived],
                    // keepalived checks the script it names at its live path: that one sorts first.
                    check: "keepalived",
                    content: render.renderKeepalivedConfig({
                        hostName: host.name,
                        virtualRouterId: cluster.vrrpRouterId,
                        interface: facts.interface,
                        priority: host.vrrpPriority ?? 100,
                        unicastSrcIp: host.address,
                        unicastPeers: [peer.address],
                        vip: cluster.vip,
                        vipPrefixLength: facts.prefix,
                        authPass: pass,
                    }),
                },
                {
                    path: lb.keepalivedDropIn,
                    mode: "0600",
                    restarts: [u.keepalived],
                    content: render.renderKeepalivedDropIn({ vip: cluster.vip, vipPrefixLength: facts.prefix, interface: facts.interface }),
                },
            ]);
            previous = node.runner.run(
                "lb",
                {
                    script: "lb",
                    env: { K8SHA_VIP: cluster.vip, K8SHA_INTERFACE: node.facts.interface, K8SHA_PEER: peer.address, K8SHA_API_PORT: String(cluster.apiPort) },
                    files,
                    secret: true,
                },
                { parent: this, after: previous ? [previous] : [] },
            );
            return previous;
        });
        // The finish phase, after both hosts' stage steps: the host that held the VIP during the
        // stage (it deferred its change) applies it now, last. Each stage step prints a new token
        // whenever it runs, so the finish steps run after every stage run, and only then.
        const stages = this.commands;
        const finishes = lbs.map((host) => {
            const node = args.nodes[host.name];
            const peer = lbs.find((h) => h.name !== host.name);
            const stage = stages[lbs.indexOf(host)];
            if (!node || !peer || !stage) throw new pulumi.ResourceError(`lb host ${host.name} has no Node, peer or stage step`, this);
            return node.runner.run(
                "lb-finish",
                {
                    script: "lb",
                    env: {
                        K8SHA_LB_PHASE: "finish",
                        K8SHA_LB_STAGE: stage.stdout.apply((out) => out.trim()),
                        K8SHA_VIP: cluster.vip,
                        K8SHA_INTERFACE: node.facts.interface,
                        K8SHA_PEER: peer.address,
                        K8SHA_API_PORT: String(cluster.apiPort),
                    },
                    withDelete: false,
                },
                { parent: this, after: stages },
            );
        });
        this.commands = [...stages, ...finishes];
        // From the commands' ids, not its stdout: it resolves only once the commands have run (so users
        // of the value wait for it), and an update keeps an id, so a preview of one still knows
        // the value, which never changes, instead of showing everything built from it as unknown.
        this.endpoint = pulumi.all(this.commands.map((c) => c.id)).apply(() => `https://${cluster.vip}:${cluster.apiPort}`);
        this.registerOutputs({ endpoint: this.endpoint });
    }
}
