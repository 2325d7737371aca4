import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ClusterConfig, HostConfig, hostsWithRole } from "./config";
import { BundleFile, HostRunner, mayHoldSecrets } from "./runner";
import { IssuedCert, Pki } from "./pki";
import * as render from "./render";
import { binaryUrl, pinEnv, pinnedArtifact, sha256EnvName } from "./urls";
import { kubeletPhase, runtimePhase, WorkerSettings } from "./phases";
import { cidrContains, parseCidr, parseIpv4 } from "./net";

/** What a host reports about itself after OS preparation. */
export interface HostFacts {
    /** The interface that holds the host's configured address. */
    interface: string;
    prefix: number;
    cgroup: "v1" | "v2";
    /** `systemd-detect-virt -c`: "none" on a real host or VM, else the container manager. */
    container: string;
}

/** Parses the facts line (the last line of stdout) of the facts step. */
export function parseFacts(stdout: string): HostFacts {
    const last = stdout.trim().split("\n").pop() ?? "";
    const facts = JSON.parse(last) as HostFacts;
    if (!facts.interface) throw new Error(`no interface in facts: ${last}`);
    return facts;
}

/** Whether every address is among the sources (`any`, or one of its addresses and CIDRs). */
export function admitsAll(from: "any" | readonly string[], addresses: readonly string[]): boolean {
    if (from === "any") return true;
    const cidrs = from.map((s) => parseCidr(s.includes("/") ? s : `${s}/32`));
    return addresses.every((a) => {
        const n = parseIpv4(a);
        return n !== undefined && cidrs.some((c) => c !== undefined && cidrContains(c, n));
    });
}

/** The host firewall's rules for one host, from the cluster's topology and the stack's openings. */
export function firewallParams(host: HostConfig, cluster: ClusterConfig): render.FirewallParams {
    const nfsHost = hostsWithRole(cluster, "nfs")[0];
    const members = hostsWithRole(cluster, "etcd").map((h) => h.address);
    const topology: render.FirewallTopology = {
        hosts: cluster.hosts,
        podCidr: cluster.podCidr,
        apiPort: cluster.apiPort,
        mirrorPort: cluster.mirror.port,
        mirrorPush: cluster.mirror.mode === "preloaded" ? { port: cluster.mirror.pushPort, from: cluster.mirror.pushFrom, except: cluster.mirror.pushExcept } : undefined,
        nfsClients: cluster.nfs.clients,
        // SSH from the members, unless sshFrom already admits them all (no change to the rules then).
        etcdSnapshots:
            cluster.etcdBackup.schedule && nfsHost && !admitsAll(cluster.firewall.sshFrom, members) ? { sshPort: nfsHost.port, from: members } : undefined,
        allow: cluster.firewall.allow.map((a) => ({ comment: a.comment, protocol: a.protocol, ports: a.ports, from: a.from, roles: a.roles })),
    };
    const podGuard = render.firewallPodGuard(host.name, topology);
    return { host: host.name, sshPort: host.port, sshFrom: cluster.firewall.sshFrom, rules: render.firewallRules(host.name, topology), ...(podGuard ? { podGuard } : {}) };
}

export interface NodeArgs {
    /**
     * The host. Plain: it names every step of the host (`<host>-facts`, `<host>-os`, …) and holds
     * the SSH connection's address, port, user and pinned key.
     */
    host: HostConfig;
    /** The SSH private key for the host (secret). */
    sshPrivateKey: pulumi.Input<string>;
    /** The cluster's hosts, for the managed block of /etc/hosts (render/os.ts hostsBlockEntries). Default: this host alone. */
    hosts?: HostConfig[];
    /** chrony's servers (host names or addresses). Default: none, the distribution's pool. */
    ntpServers?: pulumi.Input<pulumi.Input<string>[]>;
    /** The host firewall's rules (firewallParams). Default: no firewall step. Plain: it decides whether that step exists. */
    firewall?: render.FirewallParams;
    /**
     * `HOST/STEP` → a stamp: the steps to re-run once to repair drift (`k8s-ha:repair`). Default: none.
     * Plain: the runner reads it when it makes each step.
     */
    repair?: Record<string, string>;
}

export interface WorkloadArgs {
    /** The cluster CA: it issues the kubelet's certificate, and every kubeconfig trusts it. */
    pki: Pki;
    /** The kubelet serving CA: it issues what the kubelet serves on its port. */
    kubeletPki: Pki;
    /** The API endpoint, `https://VIP:port`, from the LoadBalancerPair. */
    endpoint: pulumi.Input<string>;
    /** `host:port` of the DockerImageMirror. */
    mirrorEndpoint: pulumi.Input<string>;
    /** The pause image's digest (DockerImageMirror.digest): containerd's sandbox image. */
    pauseDigest: pulumi.Input<string>;
    /**
     * kube-proxy's client certificate (`system:kube-proxy`), one for all workers: every kube-proxy
     * has the same identity and rights, so a certificate per host would add three resources per
     * worker and no separation.
     */
    kubeProxyCert: IssuedCert;
    /** Resources the kubelet must wait for (the control plane). */
    after?: pulumi.Resource[];
    /**
     * The step that cordons and drains this worker (from a control-plane host) before a change to
     * what its runtime and kubelet run reaches it, given a fingerprint of those inputs; the runtime
     * step waits for it.
     */
    drainBefore?: (restartInputs: pulumi.Output<string>) => pulumi.Resource;
}

const ROUTE_FILES: string[] = [render.unitPath(render.UNITS.podRoutes), render.OS_FILES.podRoutes];

/**
 * A fingerprint of what a worker's daemons run: the steps' settings and every file without
 * secrets, except the pod routes (they change whenever a worker joins or leaves, and restart
 * nothing). It hashes no secret content.
 */
export function restartFingerprint(env: Record<string, string>[], plainFiles: BundleFile[], secretStepFiles: BundleFile[]): string {
    const h = crypto.createHash("sha256");
    for (const e of env) for (const k of Object.keys(e).sort()) h.update(`env ${k}=${e[k]}\n`);
    // In the kubelet's step (it holds keys), only the files marked public or readable by all count.
    const files = [...plainFiles, ...secretStepFiles.filter((f) => !mayHoldSecrets(f, true))];
    for (const f of files.sort((a, b) => a.path.localeCompare(b.path))) {
        if (ROUTE_FILES.includes(f.path)) continue;
        h.update(`file ${f.path} ${f.mode} ${crypto.createHash("sha256").update(f.content).digest("hex")}\n`);
    }
    return h.digest("hex");
}

/**
 * A host of the cluster. Its constructor waits for SSH and prepares the OS (every host); a worker's
 * runtime, kubelet and kube-proxy are its child Worker's.
 */
export class Node extends pulumi.ComponentResource {
    readonly runner: HostRunner;
    /** The OS preparation step: every later step of the host runs after it (the runner sees to it). */
    readonly prepared: command.remote.Command;
    readonly facts: pulumi.Output<HostFacts>;

    constructor(name: string, args: NodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:Node", name, {}, opts);
        const { host } = args;
        this.runner = new HostRunner(host, args.sshPrivateKey, args.repair ?? {});
        // Facts are a step of their own: the OS step changes whenever the host list does (the
        // /etc/hosts block), and the facts must stay known in that preview, or everything rendered
        // from them (keepalived, kubelet) would show as changing.
        // It also installs the host library, so it is the host's first step and its last to go.
        const facts = this.runner.run("facts", { script: "facts", env: { K8SHA_ADDRESS: host.address }, installsLib: true }, { parent: this });
        const os = this.runner.run(
            "os",
            {
                script: "os",
                files: [
                    { path: render.OS_FILES.hostsBlock, mode: "0644", content: render.renderHostsBlock(render.hostsBlockEntries(host.name, args.hosts ?? [host])) },
                    { path: render.OS_FILES.sysctl, mode: "0644", content: render.renderSysctlConf({ kubeletKernelDefaults: host.roles.includes("worker") }) },
                    { path: render.OS_FILES.modules, mode: "0644", content: render.renderModulesLoad() },
                    // Installed by os.sh's chrony hook, on hosts with a clock of their own only.
                    {
                        path: render.OS_FILES.chrony,
                        mode: "0644",
                        content: pulumi.output(args.ntpServers ?? []).apply((servers) => render.renderChronyConf({ servers })),
                        stageOnly: true,
                    },
                ],
            },
            { parent: this },
        );
        // The firewall is in place before any daemon of the host is installed: every later step
        // depends on it (`prepared`).
        this.prepared = args.firewall
            ? this.runner.run(
                  "firewall",
                  {
                      script: "firewall",
                      env: { K8SHA_FIREWALL_TCP: render.firewallTcpOpenings(args.firewall) },
                      sshClient: true,
                      files: [
                          // Reloaded by one `nft -f` of the rules (firewall.sh apply_rules), never by restarting the unit.
                          { path: render.FIREWALL_FILES.rules, mode: "0600", content: render.renderFirewall(args.firewall), check: "nft", reloads: [render.UNITS.firewall] },
                          { path: render.FIREWALL_FILES.unit, mode: "0600", content: render.renderFirewallUnit() },
                      ],
                  },
                  { parent: this, after: [os] },
              )
            : os;
        this.runner.ready(this.prepared);
        this.facts = facts.stdout.apply(parseFacts);
        this.registerOutputs({ facts: this.facts });
    }
}

export interface WorkerArgs extends WorkloadArgs {
    /** The worker host's Node: its runner and facts. */
    node: Node;
    /** The worker host (with the `worker` role and its pod CIDR). Plain: it names the worker's steps and its kubelet's certificate. */
    host: HostConfig;
    /**
     * What the worker's steps need of the cluster (phases.ts workerSettings). Plain: the validated
     * config's part, the same for every worker (the other workers give its pod routes, each
     * registry a hosts.toml of its own).
     */
    settings: WorkerSettings;
    /** The release files it runs, each with its pinned sha256 (k8s-ha:checksums). */
    release: WorkerRelease;
}

/** A worker's release files: URLs and pinned sha256 sums, never a checksum from their origin. */
export interface WorkerRelease {
    /** The containerd release archive. */
    containerd: { url: string; sha256: string };
    /** The runc binary. */
    runc: { url: string; sha256: string };
    /** The CNI plugins' archive. */
    cni: { url: string; sha256: string };
    /** The folder of the Kubernetes binaries, and the kubelet's and kube-proxy's pins. */
    kubernetes: { url: string; kubeletSha256: string; kubeProxySha256: string };
}

/** A worker's release files from the validated cluster config. */
export function workerRelease(cluster: ClusterConfig): WorkerRelease {
    const pins = pinEnv(cluster, ["kubelet", "kube-proxy"]);
    return {
        containerd: pinnedArtifact(cluster, "containerd"),
        runc: pinnedArtifact(cluster, "runc"),
        cni: pinnedArtifact(cluster, "cni"),
        kubernetes: { url: binaryUrl(cluster.downloads, cluster.versions.kubernetes), kubeletSha256: pins[sha256EnvName("kubelet")], kubeProxySha256: pins[sha256EnvName("kube-proxy")] },
    };
}

/**
 * A worker's workloads side, a child of its Node: containerd, runc and the CNI plugins, then
 * kubelet and kube-proxy, once the endpoint and the image mirror exist. Its two steps were
 * children of the Node itself before this component existed; their aliases keep existing stacks'
 * steps as they are.
 */
export class Worker extends pulumi.ComponentResource {
    readonly runtime: command.remote.Command;
    readonly kubelet: command.remote.Command;
    /** The fingerprint of what its runtime and kubelet run (see restartFingerprint). */
    readonly restartInputs: pulumi.Output<string>;

    constructor(name: string, w: WorkerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:Worker", name, {}, { ...opts, parent: w.node });
        const { host, settings, node } = w;
        if (!host.roles.includes("worker")) throw new pulumi.ResourceError(`${host.name} is not a worker`, this);
        const formerly = [{ parent: node }];
        const mirrorFiles = pulumi
            .output({ mirror: w.mirrorEndpoint, ca: w.pki.caCert, facts: node.facts, pauseDigest: w.pauseDigest })
            .apply(({ mirror, ca, facts, pauseDigest }) => runtimePhase({ host, settings, pauseDigest, mirrorEndpoint: mirror, caCert: ca, facts }));
        const { containerd, runc, cni, kubernetes } = w.release;

        const kubeletCert = w.pki.issue(
            `${host.name}-kubelet`,
            {
                commonName: `system:node:${host.name}`,
                organization: "system:nodes",
                // Its client certificate only; the serving one is below, from its own CA.
                client: true,
            },
            // Parented to the Node, as it always was: the certificate keeps its place in existing stacks.
            node,
        );
        // What the kubelet serves on its port: the node's own name and address, from the kubelet
        // serving CA, which the apiserver trusts for kubelets and nothing else does.
        const servingCert = w.kubeletPki.issue(
            `${host.name}-kubelet-serving`,
            { commonName: `system:node:${host.name}`, organization: "system:nodes", dnsNames: [host.name], ipAddresses: [host.address], server: true },
            this,
        );
        const proxyCert = w.kubeProxyCert;
        const files = pulumi
            .output({
                endpoint: w.endpoint,
                ca: w.pki.caCert,
                kcert: kubeletCert.cert,
                kkey: kubeletCert.key,
                scert: servingCert.cert,
                skey: servingCert.key,
                pcert: proxyCert.cert,
                pkey: proxyCert.key,
                facts: node.facts,
            })
            .apply(({ endpoint, ca, kcert, kkey, scert, skey, pcert, pkey, facts }) =>
                kubeletPhase({
                    host,
                    settings,
                    endpoint,
                    caCert: ca,
                    kubeletCert: { cert: kcert, key: kkey },
                    servingCert: { cert: scert, key: skey },
                    proxyCert: { cert: pcert, key: pkey },
                    facts,
                }),
            );
        const runtimeEnv = {
            CONTAINERD_URL: containerd.url,
            CONTAINERD_SHA256: containerd.sha256,
            RUNC_URL: runc.url,
            RUNC_SHA256: runc.sha256,
            CNI_URL: cni.url,
            CNI_SHA256: cni.sha256,
        };
        const kubeletEnv = { K8S_URL: kubernetes.url, [sha256EnvName("kubelet")]: kubernetes.kubeletSha256, [sha256EnvName("kube-proxy")]: kubernetes.kubeProxySha256 };
        // A change to what the worker's daemons run first drains it (one worker at a time), from a
        // control-plane host; its Node-object step uncordons it once the kubelet is Ready again.
        const restartInputs = pulumi.unsecret(
            pulumi.output({ plain: mirrorFiles, kubeletFiles: files }).apply(({ plain, kubeletFiles }) => restartFingerprint([runtimeEnv, kubeletEnv], plain, kubeletFiles)),
        );
        this.restartInputs = restartInputs;
        const drain = w.drainBefore?.(restartInputs);
        this.runtime = node.runner.run("runtime", { script: "runtime", env: runtimeEnv, files: mirrorFiles }, { parent: this, after: drain ? [drain] : [], aliases: formerly });
        this.kubelet = node.runner.run(
            "kubelet",
            {
                script: "kubelet",
                env: kubeletEnv,
                files,
                secret: true,
            },
            { parent: this, after: [this.runtime, ...(w.after ?? [])], aliases: formerly },
        );
        this.registerOutputs({ restartInputs: this.restartInputs });
    }
}
