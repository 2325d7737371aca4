import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { DEFAULTS, HostConfig } from "./config";
import { Node } from "./node";
import * as render from "./render";
import { parseIpv4 } from "./net";
import { lbPhase } from "./phases";

/** One apiserver behind the pair: HAProxy sends to `address:6443`. */
export interface LoadBalancerBackend {
    /** The server's name in haproxy.cfg (a token: letters, digits, `.`, `_`, `-`). */
    name: pulumi.Input<string>;
    /** Its IPv4 address. */
    address: pulumi.Input<string>;
}

/**
 * Every setting but `hosts` only reaches the hosts' files and the steps' environment, so each may
 * be another resource's output (a VIP another provider allocates, say); the pair renders its files
 * once they are known.
 */
export interface LoadBalancerPairArgs {
    /**
     * The two lb hosts and their Nodes. The one with the higher `vrrpPriority` (default 100) holds the VIP.
     * Plain values: the hosts name the pair's steps (`<host>-lb`, `<host>-lb-finish`, `<host>-lb-join`) and decide
     * their order, which the preview must know.
     */
    hosts: { host: HostConfig; node: Node }[];
    /** The apiservers HAProxy sends to, each on port 6443. */
    backends: pulumi.Input<pulumi.Input<LoadBalancerBackend>[]>;
    /** The virtual IP the pair holds: a free address in the hosts' network. */
    vip: pulumi.Input<string>;
    /**
     * The port of the endpoint `https://vip:apiPort`. Default 6443. The lb hosts' firewall (a
     * Node's `firewall`, from firewallParams) opens the port it is given: the same one.
     */
    apiPort?: pulumi.Input<number>;
    /** The VRRP virtual router id, 1-255, unique on the network. Default 51. */
    vrrpRouterId?: pulumi.Input<number>;
    /** How often HAProxy checks each apiserver's `/readyz`. Default 1000 ms. */
    healthCheckIntervalMs?: pulumi.Input<number>;
    /** keepalived's VRRPv3 advertisement interval. Default 100 ms. */
    advertIntervalMs?: pulumi.Input<number>;
}

/**
 * HAProxy on two hosts in front of every apiserver, and Keepalived VRRP (unicast) holding the VIP
 * on one of them. The VIP moves when a host, its HAProxy or its Keepalived dies.
 */
export class LoadBalancerPair extends pulumi.ComponentResource {
    /** The cluster's API endpoint, `https://VIP:port`. */
    readonly endpoint: pulumi.Output<string>;
    /** Where the pair's HAProxies show their view of the apiservers: each ControlPlane step waits there for its apiserver. */
    readonly apiserverPool: pulumi.Output<render.ApiserverPool>;
    readonly commands: command.remote.Command[];

    constructor(name: string, args: LoadBalancerPairArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:LoadBalancerPair", name, {}, opts);
        const vip = pulumi.output(args.vip);
        const apiPort = pulumi.output(args.apiPort ?? DEFAULTS.apiPort);
        const vrrpRouterId = pulumi.output(args.vrrpRouterId ?? DEFAULTS.vrrpRouterId);
        if (args.hosts.length !== 2) throw new pulumi.ResourceError(`a LoadBalancerPair needs two hosts, got ${args.hosts.length}`, this);
        // One host at a time (stage steps in a fixed order); the host that holds the VIP defers its
        // change to the finish phase, so the VIP holder changes last whichever host it is; lb.sh
        // hands the VIP over before it restarts keepalived on it.
        const lbs = args.hosts.map((h) => h.host).sort((a, b) => (a.vrrpPriority ?? 100) - (b.vrrpPriority ?? 100) || (parseIpv4(a.address) ?? 0) - (parseIpv4(b.address) ?? 0));
        const advertIntervalMs = pulumi.output(args.advertIntervalMs ?? DEFAULTS.loadBalancer.advertIntervalMs);
        const haproxyCfg = pulumi
            .output({ apiPort, backends: args.backends, checkIntervalMs: args.healthCheckIntervalMs ?? DEFAULTS.loadBalancer.healthCheckIntervalMs })
            .apply(({ apiPort, backends, checkIntervalMs }) =>
                render.renderHaproxyConfig({ apiPort, backends: backends.map((b) => ({ name: b.name, address: b.address, port: render.APISERVER_PORT })), checkIntervalMs }),
            );
        const apiPortEnv = apiPort.apply(String);
        let previous: command.remote.Command | undefined;
        this.commands = lbs.map((host) => {
            const node = args.hosts.find((h) => h.host.name === host.name)?.node;
            const peer = lbs.find((h) => h.name !== host.name);
            if (!node || !peer) throw new pulumi.ResourceError(`lb host ${host.name} has no Node or no peer`, this);
            const files = pulumi
                .output({ facts: node.facts, vip, apiPort, vrrpRouterId, advertIntervalMs, haproxyConfig: haproxyCfg })
                .apply(({ facts, vip, apiPort, vrrpRouterId, advertIntervalMs, haproxyConfig }) =>
                    lbPhase({ host, peer, vip, apiPort, vrrpRouterId, advertIntervalMs, haproxyConfig, interface: facts.interface, prefix: facts.prefix }),
                );
            previous = node.runner.run(
                "lb",
                {
                    script: "lb",
                    env: { K8SHA_VIP: vip, K8SHA_INTERFACE: node.facts.interface, K8SHA_PEER: peer.address, K8SHA_API_PORT: apiPortEnv },
                    files,
                },
                { parent: this, after: previous ? [previous] : [] },
            );
            return previous;
        });
        // The finish phase, after both hosts' stage steps: the host that held the VIP during the
        // stage (it deferred its change) applies it now, last. Each stage step prints a new token
        // whenever it runs, so the finish steps run after every stage run, and only then.
        const stages = this.commands;
        /** A later phase of lb.sh on each lb host, after `after`; it runs whenever the host's stage step ran. */
        const phase = (name: "finish" | "join", after: command.remote.Command[]) =>
            lbs.map((host) => {
                const node = args.hosts.find((h) => h.host.name === host.name)?.node;
                const peer = lbs.find((h) => h.name !== host.name);
                const stage = stages[lbs.indexOf(host)];
                if (!node || !peer || !stage) throw new pulumi.ResourceError(`lb host ${host.name} has no Node, peer or stage step`, this);
                return node.runner.run(
                    `lb-${name}`,
                    {
                        script: "lb",
                        env: {
                            K8SHA_LB_PHASE: name,
                            K8SHA_LB_STAGE: stage.stdout.apply((out) => out.trim()),
                            K8SHA_VIP: vip,
                            K8SHA_INTERFACE: node.facts.interface,
                            K8SHA_PEER: peer.address,
                            K8SHA_API_PORT: apiPortEnv,
                        },
                        withDelete: false,
                    },
                    { parent: this, after },
                );
            });
        const finishes = phase("finish", stages);
        // The join phase, after both finish steps: a host whose stage stopped its keepalived for a
        // change of VRRP version (adverts of one version are dropped by the other, so the two
        // would both hold the VIP) starts it now, when its peer, the VIP holder, runs the new one.
        const joins = phase("join", finishes);
        this.commands = [...stages, ...finishes, ...joins];
        // The endpoint waits for the stage and finish steps only: the VIP is up and held by then,
        // and a join step new to an existing stack (its id unknown in a preview) must not make
        // the endpoint, and everything built from it, unknown.
        const ready = [...stages, ...finishes];
        // From the commands' ids, not its stdout: it resolves only once the commands have run (so users
        // of the value wait for it), and an update keeps an id, so a preview of one still knows
        // the value, which never changes, instead of showing everything built from it as unknown.
        this.endpoint = pulumi
            .output({ ran: ready.map((c) => c.id), vip, apiPort })
            .apply(({ vip, apiPort }) => `https://${vip}:${apiPort}`);
        this.apiserverPool = pulumi
            .output(ready.map((c) => c.id))
            .apply(() => ({ lbs: lbs.map((h) => ({ name: h.name, address: h.address })) }));
        this.registerOutputs({ endpoint: this.endpoint });
    }
}
