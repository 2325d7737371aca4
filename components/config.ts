/**
 * The stack configuration of k8s-ha, as one typed object.
 *
 * `readConfig` (in `stack.ts`) turns the raw Pulumi config into a `RawConfig`; `validateConfig`
 * (in `validate.ts`) checks all of it at once and returns a `ClusterConfig` with every default
 * filled in. Nothing here talks to Pulumi, so the tests call it directly.
 */

/** The fixed set of roles a host can have. */
export const ROLES = ["etcd", "control-plane", "worker", "lb", "nfs", "mirror"] as const;
export type Role = (typeof ROLES)[number];

/** One host as the user writes it in `k8s-ha:hosts`. */
export interface RawHost {
    /** IPv4 address the host is reached at over SSH and that the cluster uses. */
    address?: unknown;
    /** SSH login user. Default: `k8s-ha:sshUser`, else `root`. A non-root user needs password-less sudo. */
    user?: unknown;
    /** SSH port. Default: `k8s-ha:sshPort`, else 22. */
    port?: unknown;
    /** Roles from `ROLES`. */
    roles?: unknown;
    /** Pinned SSH host key (`ssh-ed25519 AAAA...`). Required unless `allowUnpinnedHostKeys`. */
    hostKey?: unknown;
    /** Pod CIDR of a worker. Default: derived from the host's last address octet inside `podCidr`. */
    podCidr?: unknown;
    /** VRRP priority of an lb host. Default: 150 for the first lb host by name, 100 for the second. */
    vrrpPriority?: unknown;
}

/** The config as it comes from Pulumi, before validation: every field may be missing or wrong. */
export interface RawConfig {
    hosts?: unknown;
    sshUser?: unknown;
    sshPort?: unknown;
    /** Set when the private key is present; the key itself never enters validation messages. */
    sshPrivateKeyPresent: boolean;
    vip?: unknown;
    apiPort?: unknown;
    vrrpRouterId?: unknown;
    nodeNetwork?: unknown;
    podCidr?: unknown;
    serviceCidr?: unknown;
    clusterDomain?: unknown;
    versions?: unknown;
    downloads?: unknown;
    mirror?: unknown;
    nfs?: unknown;
    apiServerExtraSans?: unknown;
    ntpServers?: unknown;
    /** Accept hosts without a pinned `hostKey` (their keys are then not checked). For throwaway labs. */
    allowUnpinnedHostKeys?: unknown;
    /** Accept `http://` download and upstream URLs. For labs and mirrors on a trusted network. */
    allowHttpDownloads?: unknown;
}

export interface HostConfig {
    name: string;
    address: string;
    user: string;
    port: number;
    roles: Role[];
    hostKey?: string;
    /** Set for workers only. */
    podCidr?: string;
    /** Set for lb hosts only. */
    vrrpPriority?: number;
}

export interface Versions {
    kubernetes: string;
    etcd: string;
    containerd: string;
    runc: string;
    cni: string;
    coredns: string;
    pause: string;
}

/** Base URLs laid out like the upstream release sites, so an internal mirror can stand in. */
export interface Downloads {
    /** Holds `v<version>/bin/linux/amd64/<binary>` and `<binary>.sha256`. */
    kubernetes: string;
    /** Holds `v<version>/etcd-v<version>-linux-amd64.tar.gz` and `v<version>/SHA256SUMS`. */
    etcd: string;
    /** Holds `v<version>/containerd-<version>-linux-amd64.tar.gz` and `.sha256sum`. */
    containerd: string;
    /** Holds `v<version>/runc.amd64` and `v<version>/runc.sha256sum`. */
    runc: string;
    /** Holds `v<version>/cni-plugins-linux-amd64-v<version>.tgz` and `.sha256`. */
    cni: string;
}

export interface MirrorConfig {
    /** Port the registry listens on (TLS). */
    port: number;
    /** `proxy`: pull-through cache of `upstream`; `preloaded`: serves only what was pushed into it. */
    mode: "proxy" | "preloaded";
    /** Registry the cache pulls from (proxy mode). */
    upstream?: string;
    /** Upstream registry host names that every node's containerd sends through the mirror. */
    registries: string[];
}

export interface NfsConfig {
    /** Directory exported. */
    path: string;
    /** Network allowed to mount it. Default: `nodeNetwork`. */
    allowedCidr: string;
}

export interface ClusterConfig {
    hosts: HostConfig[];
    vip: string;
    apiPort: number;
    vrrpRouterId: number;
    nodeNetwork: string;
    podCidr: string;
    serviceCidr: string;
    clusterDomain: string;
    /** First address of the service CIDR: the `kubernetes` service. */
    kubernetesServiceIp: string;
    /** Tenth address of the service CIDR: CoreDNS. */
    dnsServiceIp: string;
    versions: Versions;
    downloads: Downloads;
    mirror: MirrorConfig;
    nfs: NfsConfig;
    apiServerExtraSans: string[];
    ntpServers: string[];
}

export const DEFAULTS = {
    sshUser: "root",
    sshPort: 22,
    apiPort: 6443,
    vrrpRouterId: 51,
    podCidr: "10.244.0.0/16",
    serviceCidr: "10.96.0.0/12",
    clusterDomain: "cluster.local",
    versions: {
        kubernetes: "1.35.4",
        etcd: "3.6.16",
        containerd: "2.2.9",
        runc: "1.3.6",
        cni: "1.10.0",
        coredns: "1.14.7",
        pause: "3.10.1",
    } satisfies Versions,
    downloads: {
        kubernetes: "https://dl.k8s.io/release",
        etcd: "https://github.com/etcd-io/etcd/releases/download",
        containerd: "https://github.com/containerd/containerd/releases/download",
        runc: "https://github.com/opencontainers/runc/releases/download",
        cni: "https://github.com/containernetworking/plugins/releases/download",
    } satisfies Downloads,
    mirror: {
        port: 5000,
        mode: "proxy",
        registries: ["registry.k8s.io", "docker.io"],
    },
    nfsPath: "/srv/nfs/k8s",
} as const;

export function hostsWithRole(config: ClusterConfig, role: Role): HostConfig[] {
    return config.hosts.filter((h) => h.roles.includes(role));
}
