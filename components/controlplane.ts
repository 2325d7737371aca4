import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import * as command from "@pulumi/command";
import { adminCertName, BREAK_GLASS_NONE, breakGlassLifetime } from "./certificates";
import { CertificateSettings, ClusterConfig, hostsWithRole, SecretsEncryptionState, Versions } from "./config";
import { Node } from "./node";
import { BundleFile, FileInput, HostRunner, RunArgs } from "./runner";
import { controlPlanePhase } from "./phases";
import { Pki } from "./pki";
import * as render from "./render";
import { binaryUrl, pinEnv } from "./urls";
import { parseIpv4 } from "./net";

/**
 * What the control plane needs of the cluster's config (a validated ClusterConfig has all of it):
 * the hosts (control-plane, etcd and worker roles), the service and pod networks, the cluster
 * domain, extra apiserver names, the encryption key generations, the certificates' validity (the
 * kubelet serving certificates' too) and the Kubernetes and CoreDNS versions.
 */
export type ControlPlaneSettings = Pick<
    ClusterConfig,
    "hosts" | "clusterDomain" | "kubernetesServiceIp" | "dnsServiceIp" | "serviceCidr" | "podCidr" | "apiServerExtraSans" | "secretsEncryption" | "adminCredential"
> & { certificates: Pick<CertificateSettings, "validityDays">; versions: Pick<Versions, "kubernetes" | "coredns"> };

/** The control plane's binaries: the folder they come from and each one's pinned sha256, as the step's environment. */
export interface ControlPlaneRelease {
    /** The folder of the Kubernetes binaries (`…/v<version>/bin/linux/amd64`). */
    url: string;
    /** `KUBE_APISERVER_SHA256`, `KUBE_CONTROLLER_MANAGER_SHA256`, `KUBE_SCHEDULER_SHA256`, `KUBECTL_SHA256`. */
    pins: Record<string, string>;
}

/** The control plane's binaries from the validated cluster config. */
export function controlPlaneRelease(cluster: ClusterConfig): ControlPlaneRelease {
    return { url: binaryUrl(cluster.downloads, cluster.versions.kubernetes), pins: pinEnv(cluster, ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"]) };
}

export interface ControlPlaneArgs {
    /**
     * The part of the validated config the control plane uses (ControlPlaneSettings). Plain: it
     * decides what exists: a step per control-plane host, an encryption key resource per key
     * generation in use, and the certificates' names and validity.
     */
    settings: ControlPlaneSettings;
    /** The binaries' folder and pinned sha256 sums (controlPlaneRelease). */
    release: ControlPlaneRelease;
    /** Nodes keyed by host name; the control-plane hosts must be among them. */
    nodes: Record<string, Node>;
    /** The cluster CA: it issues the apiserver's, the controllers' and the admins' certificates. */
    pki: Pki;
    /** The etcd CA: it issues the apiserver's etcd client certificate. */
    etcdPki: Pki;
    /** The kubelet serving CA: the apiserver verifies the kubelets with it; the controller-manager signs kubelet-serving requests with it. */
    kubeletPki: Pki;
    /** Client URLs of the etcd members, from the EtcdMembers. */
    etcdEndpoints: pulumi.Input<string>[];
    /** The API endpoint `https://VIP:port`, from the LoadBalancerPair. */
    endpoint: pulumi.Input<string>;
    /**
     * The load balancers' view of the apiservers (the LoadBalancerPair's `apiserverPool`): each
     * control-plane step waits until every lb host's HAProxy has its apiserver UP before the next
     * host's step goes. Default: none, for an endpoint without such a pair: each step then waits
     * for its own apiserver's /readyz only.
     */
    apiserverPool?: pulumi.Input<render.ApiserverPool>;
    /** The CoreDNS image's digest (from the DockerImageMirror); by tag only when not given. */
    corednsDigest?: pulumi.Input<string>;
    /** The NFS StorageClass, which the refusal of inline `nfs:` volumes names instead. Default: none (no NFS host). */
    nfsStorageClass?: string;
}

/**
 * The etcd members the apiserver talks to: the etcd hosts whose client URLs the EtcdMembers
 * reported (so the apiserver waits for them), in name order.
 */
export function etcdMembers(cluster: Pick<ClusterConfig, "hosts">, clientUrls: string[]): { name: string; address: string }[] {
    return hostsWithRole(cluster, "etcd")
        .filter((h) => clientUrls.includes(render.etcdClientUrl(h.address)))
        .map((h) => ({ name: h.name, address: h.address }));
}

/** The environment of every installer step: the kubeconfig of the installer's identity (group k8s-ha:installers). */
const INSTALLER_ENV = { K8SHA_KUBECONFIG: render.K8S_FILES.installerKubeconfig } as const;

/** Length of the random alphanumeric secret the encryption key is derived from (about 380 bits). */
export const ENCRYPTION_SECRET_LENGTH = 64;

/** The secretbox key for encryption at rest: the base64 of the SHA-256 of the random secret (32 bytes). */
export function encryptionKeyFrom(secret: string): string {
    return crypto.createHash("sha256").update(secret, "utf8").digest("base64");
}

/** The name a key generation is stored under with each value it encrypts: `key<generation>`. */
export function encryptionKeyName(generation: number): string {
    return `key${generation}`;
}

/** The names and addresses the apiserver certificate must cover. */
export function apiServerSans(cluster: Pick<ClusterConfig, "hosts" | "clusterDomain" | "kubernetesServiceIp" | "apiServerExtraSans">, vip: string): { dnsNames: string[]; ipAddresses: string[] } {
    const domain = cluster.clusterDomain;
    const dns = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", `kubernetes.default.svc.${domain}`, "localhost"];
    const ips = [vip, cluster.kubernetesServiceIp, "127.0.0.1", ...hostsWithRole(cluster, "control-plane").map((h) => h.address)];
    for (const san of cluster.apiServerExtraSans) {
        if (parseIpv4(san) !== undefined) ips.push(san);
        else dns.push(san);
    }
    return { dnsNames: [...new Set(dns)], ipAddresses: [...new Set(ips)] };
}

/**
 * kube-apiserver, kube-controller-manager and kube-scheduler as systemd services on each
 * control-plane host, one host at a time so the API keeps answering through the VIP while a
 * change rolls; then the cluster add-ons (CoreDNS, RBAC) from the first control-plane host.
 */
export class ControlPlane extends pulumi.ComponentResource {
    /**
     * Admin kubeconfig whose server is the LoadBalancerPair's endpoint, for the group of
     * `k8s-ha:adminCredential`'s generation (`k8s-ha:cluster-admins` for generation 1), bound to
     * cluster-admin by the add-ons; its cluster, user and context are all `k8s-ha-<stack>`. Secret.
     */
    readonly adminKubeconfig: pulumi.Output<string>;
    /** The generation of the `adminKubeconfig`'s identity: the earlier ones' bindings are deleted. */
    readonly adminGeneration: number;
    /** Where the break-glass kubeconfig is kept (a control-plane host's name, or `none`) and its validity in hours. */
    readonly breakGlass: { host: string; validityHours: number };
    readonly commands: command.remote.Command[];
    readonly addons: command.remote.Command;
    /** The encryption keys the apiservers run, once every Secret was rewritten with the write key. */
    readonly secretsEncryption: pulumi.Output<SecretsEncryptionState>;
    /** The first control-plane host's runner: the installer's steps run there, with its kubeconfig. */
    private readonly firstRunner: HostRunner;
    /** The installer's kubeconfig (group k8s-ha:installers). Secret; never an output. */
    private readonly installerKubeconfig: pulumi.Output<string>;

    constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:ControlPlane", name, {}, opts);
        const { pki, etcdPki, kubeletPki } = args;
        const cluster = args.settings;
        const endpoint = pulumi.output(args.endpoint);
        const vip = endpoint.apply((e) => new URL(e).hostname);
        const sans = vip.apply((v) => apiServerSans(cluster, v));

        const apiserver = pki.issue(`${name}-apiserver`, {
            commonName: "kube-apiserver",
            dnsNames: sans.dnsNames,
            ipAddresses: sans.ipAddresses,
            server: true,
        }, this);
        const kubeletClient = pki.issue(`${name}-apiserver-kubelet-client`, { commonName: "kube-apiserver-kubelet-client", client: true }, this);
        const etcdClient = etcdPki.issue(`${name}-apiserver-etcd-client`, { commonName: "kube-apiserver-etcd-client", client: true }, this);
        const controller = pki.issue(`${name}-controller-manager`, { commonName: "system:kube-controller-manager", client: true }, this);
        const scheduler = pki.issue(`${name}-scheduler`, { commonName: "system:kube-scheduler", client: true }, this);
        // The break-glass credential: in system:masters, which RBAC cannot restrict or revoke. It is
        // kept on one control-plane host (`adminCredential.breakGlassHost`, root 0600) or none, in no
        // stack output, valid for hours; of the installer's steps only the add-ons step uses it, and
        // only while its binding is missing.
        const breakGlass = pki.issue(
            `${name}-admin`,
            { commonName: render.BREAK_GLASS_USER, organization: "system:masters", client: true },
            this,
            breakGlassLifetime(cluster.adminCredential.breakGlassValidityHours),
        );
        // The installer's own steps: a group the add-ons bind to cluster-admin, which RBAC can see and remove.
        const installer = pki.issue(`${name}-installer`, { commonName: render.INSTALLER_USER, organization: render.INSTALLERS_GROUP, client: true }, this);
        // What people get (the `kubeconfig` output): a group of its generation bound to
        // cluster-admin, so its rights are RBAC's to narrow or revoke (CIS 5.1.1), and a new
        // generation revokes the earlier ones in one up.
        const generation = cluster.adminCredential.generation;
        this.adminGeneration = generation;
        this.breakGlass = { host: cluster.adminCredential.breakGlassHost ?? BREAK_GLASS_NONE, validityHours: cluster.adminCredential.breakGlassValidityHours };
        const admin = pki.issue(adminCertName(generation), { commonName: render.adminUser(generation), organization: render.adminGroup(generation), client: true }, this);
        const saKey = new tls.PrivateKey(`${name}-service-account-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        // Not random.RandomBytes: its resource ID is the value itself, and IDs are never secret in state.
        // RandomPassword's ID is "none" and its result is a secret output.
        // One per key generation in use (k8s-ha:secretsEncryption); generation 1 keeps the name it
        // always had, so existing stacks keep their key.
        const generations = [cluster.secretsEncryption.write, ...cluster.secretsEncryption.read];
        const encryptionKeys = pulumi.secret(
            pulumi.all(
                generations.map((g) =>
                    new random.RandomPassword(g === 1 ? `${name}-encryption-secret` : `${name}-encryption-secret-${g}`, { length: ENCRYPTION_SECRET_LENGTH, special: false }, { parent: this }).result.apply(
                        (secret): render.EncryptionKey => ({ name: encryptionKeyName(g), secret: encryptionKeyFrom(secret) }),
                    ),
                ),
            ),
        );

        const kubeconfig = (server: pulumi.Input<string>, cert: pulumi.Input<string>, key: pulumi.Input<string>, names: { user: string; cluster?: string; context?: string }) =>
            pulumi.secret(
                pulumi.output({ s: server, ca: pki.caCert, c: cert, k: key }).apply(({ s, ca, c, k }) =>
                    render.renderKubeconfig({ server: s, caCertPem: ca, clientCertPem: c, clientKeyPem: k, userName: names.user, clusterName: names.cluster, contextName: names.context }),
                ),
            );
        // One name per stack in what people get, so that several stacks' kubeconfigs merge. The host
        // files keep `kubernetes` and `<user>@kubernetes`: renaming them would change every host's file.
        const people = render.stackKubeconfigName(pulumi.getStack());
        this.adminKubeconfig = kubeconfig(endpoint, admin.cert, admin.key, { user: people, cluster: people, context: people });
        const breakGlassKubeconfig = kubeconfig(endpoint, breakGlass.cert, breakGlass.key, { user: render.BREAK_GLASS_USER });
        const installerKubeconfig = kubeconfig(endpoint, installer.cert, installer.key, { user: render.INSTALLER_USER });
        this.installerKubeconfig = installerKubeconfig;
        const local = `https://127.0.0.1:${render.APISERVER_PORT}`;
        const controllerKubeconfig = kubeconfig(local, controller.cert, controller.key, { user: "system:kube-controller-manager" });
        const schedulerKubeconfig = kubeconfig(local, scheduler.cert, scheduler.key, { user: "system:kube-scheduler" });

        const k8sUrl = args.release.url;
        // The binaries' sha256 sums as the stack pins them (k8s-ha:checksums).
        const k8sPins = args.release.pins;
        const cps = hostsWithRole(cluster, "control-plane");
        const pool = args.apiserverPool === undefined ? undefined : pulumi.output(args.apiserverPool);
        // Not secret, so in the command's environment; without a pool, none (controlplane.sh then waits for its /readyz only).
        const poolEnv = (server: string): Record<string, pulumi.Input<string>> => {
            if (!pool) return {};
            const env = pool.apply((p) => render.apiserverPoolEnv(p, server));
            return Object.fromEntries(render.APISERVER_POOL_ENV_KEYS.map((k) => [k, env[k]]));
        };
        let previous: pulumi.Resource | undefined;
        this.commands = cps.map((host) => {
            const node = args.nodes[host.name];
            if (!node) throw new pulumi.ResourceError(`control-plane host ${host.name} has no Node`, this);
            // File by file (each content an Input), so that a preview names each file that changes, on which host.
            const files: FileInput[] = controlPlanePhase<pulumi.Input<string>>(cluster, {
                caCert: pki.caCert,
                caKey: pki.caKey,
                etcdCaCert: etcdPki.caCert,
                kubeletCaCert: kubeletPki.caCert,
                kubeletCaKey: kubeletPki.caKey,
                apiserver,
                kubeletClient,
                etcdClient,
                serviceAccountKey: saKey.privateKeyPem,
                serviceAccountPub: saKey.publicKeyPem,
                encryptionConfig: encryptionKeys.apply((keys) => render.renderEncryptionConfig({ keys })),
                controllerManagerKubeconfig: controllerKubeconfig,
                schedulerKubeconfig,
                // Only the host the installer's steps run on (the first) holds its kubeconfig; the
                // break-glass host (by default the same) the break-glass one.
                installer: host.name === cps[0].name ? { installerKubeconfig } : undefined,
                breakGlassKubeconfig: host.name === cluster.adminCredential.breakGlassHost ? breakGlassKubeconfig : undefined,
                apiserverUnit: pulumi.output({ ep: endpoint, etcd: pulumi.all(args.etcdEndpoints) }).apply(({ ep, etcd }) =>
                    render.renderApiServerUnit({
                        advertiseAddress: host.address,
                        etcdMembers: etcdMembers(cluster, etcd),
                        serviceCidr: cluster.serviceCidr,
                        serviceAccountIssuer: ep,
                    }),
                ),
            });
            const cmd = node.runner.run(
                "control-plane",
                { script: "controlplane", env: { K8S_URL: k8sUrl, ...k8sPins, ...poolEnv(host.name) }, files, secret: true },
                // One host at a time: a change rolls through the control plane instead of stopping all of it.
                { parent: this, after: previous ? [previous] : [] },
            );
            previous = cmd;
            return cmd;
        });

        const first = args.nodes[cps[0].name];
        // Elsewhere than the installer's host (another host, or none), the add-ons step is sent the
        // break-glass kubeconfig staged only: its run's copy under /run, gone when it ends.
        const glassStaged = cluster.adminCredential.breakGlassHost !== cps[0].name;
        const addonFiles = pulumi.output({ dns: args.corednsDigest, glass: glassStaged ? breakGlassKubeconfig : undefined }).apply(({ dns, glass }): BundleFile[] => [
            ...(glass === undefined ? [] : [{ path: render.K8S_FILES.breakGlassKubeconfig, mode: "0600", content: glass, stageOnly: true }]),
            { path: render.K8S_FILES.addonsRetired, mode: "0644", content: render.renderRetiredAddons(generation) },
            {
                path: render.K8S_FILES.addons,
                mode: "0644",
                content: render.renderAddons({
                    corednsVersion: cluster.versions.coredns,
                    corednsDigest: dns,
                    clusterDomain: cluster.clusterDomain,
                    dnsServiceIp: cluster.dnsServiceIp,
                    nfsStorageClass: args.nfsStorageClass,
                    adminGeneration: generation,
                }),
            },
        ]);
        // The one step that may use the break-glass kubeconfig: it creates the installer's binding,
        // so it falls back to break-glass only while that binding is missing (a new cluster, or the
        // first up after a release without it). Both kubeconfigs are the first host's control-plane
        // step's files by default (else see glassStaged), so this step runs after it.
        this.addons = first.runner.run(
            "addons",
            {
                script: "addons",
                env: {
                    ...INSTALLER_ENV,
                    K8SHA_BREAK_GLASS_KUBECONFIG: render.K8S_FILES.breakGlassKubeconfig,
                    K8SHA_ADDONS: render.K8S_FILES.addons,
                    K8SHA_ADDONS_RETIRED: render.K8S_FILES.addonsRetired,
                },
                files: addonFiles,
                // Only with the break-glass kubeconfig staged: the default's stdin stays as it was.
                ...(glassStaged ? { secret: true } : {}),
            },
            { parent: this, after: this.commands },
        );
        this.firstRunner = first.runner;
        // Once every apiserver writes with the write key: every Secret read and written back, so that
        // each is encrypted with it (and the other keys can go). Again whenever the write key changes.
        const write = encryptionKeyName(cluster.secretsEncryption.write);
        const rewrite = this.runAsInstaller("rewrite-secrets", { script: "rewrite-secrets", env: { WRITE_KEY: write }, withDelete: false }, this, []);
        this.secretsEncryption = rewrite.id.apply(() => ({ ...cluster.secretsEncryption, rewrittenTo: cluster.secretsEncryption.write }));
        this.registerOutputs({ adminKubeconfig: this.adminKubeconfig });
    }

    /**
     * The last step of `up`, after every worker's Node is Ready: waits until the kube-system
     * Deployments (CoreDNS) are Available, so the cluster `up` returns answers DNS.
     */
    waitReady(nodeObjects: pulumi.Resource[]): command.remote.Command {
        return this.firstRunner.run("cluster-ready", { script: "cluster-ready", env: INSTALLER_ENV, withDelete: false }, { parent: this, after: [this.addons, ...nodeObjects] });
    }

    /**
     * A step as the installer on the first control-plane host, after the add-ons (which bind the
     * installer's group), parented to the component that asks (the NfsServer's StorageClass).
     */
    runAsInstaller(step: string, args: RunArgs, parent: pulumi.Resource, dependsOn: pulumi.Resource[]): command.remote.Command {
        return this.firstRunner.run(step, { ...args, env: { ...args.env, ...INSTALLER_ENV } }, { parent, after: [this.addons, ...dependsOn] });
    }

    /**
     * A worker's Node object, from the first control-plane host: `up` waits until the node is Ready;
     * removing the worker (or destroy) drains it and deletes the Node before its kubelet stops.
     */
    admitNode(nodeName: string, kubelet: pulumi.Resource, restartInputs?: pulumi.Input<string>): command.remote.Command {
        return this.firstRunner.run(
            `node-${nodeName}`,
            // With the worker's fingerprint, so that after every change that drained it this step
            // runs again: it uncordons the node and releases the workers' roll lock.
            { script: "node-object", env: { ...INSTALLER_ENV, NODE_NAME: nodeName, ...(restartInputs ? { K8SHA_RESTART_INPUTS: restartInputs } : {}) } },
            { parent: this, after: [kubelet, this.addons] },
        );
    }

    /**
     * Before a change to what a worker's runtime and kubelet run (its fingerprint) reaches it: from
     * the first control-plane host, takes the workers' roll lock, cordons and drains the node (a
     * worker not yet in the API, or a cluster without an API yet, has nothing to drain). It waits
     * only for that host's preparation, so a new cluster's workers install while the control plane
     * comes up.
     */
    drainBefore(nodeName: string, restartInputs: pulumi.Input<string>): command.remote.Command {
        return this.firstRunner.run(
            `drain-${nodeName}`,
            {
                script: "drain",
                env: { ...INSTALLER_ENV, NODE_NAME: nodeName, K8SHA_RESTART_INPUTS: restartInputs, DRAIN_TIMEOUT_SECONDS: "300" },
                // Staged only: this step may run before the control-plane step that installs it (it
                // waits for no more than the host's preparation), and must still see an existing cluster.
                files: this.installerKubeconfig.apply((content): BundleFile[] => [{ path: render.K8S_FILES.installerKubeconfig, mode: "0600", content, stageOnly: true }]),
                secret: true,
                withDelete: false,
            },
            { parent: this },
        );
    }
}
