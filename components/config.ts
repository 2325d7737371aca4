/**
 * The stack configuration of k8s-ha, as one typed object.
 *
 * `readStackConfig` (in `stack.ts`) turns the raw Pulumi config into a `RawConfig`; `validateConfig`
 * (in `validate.ts`) checks all of it at once and returns a `ClusterConfig` with every default
 * filled in. Nothing here talks to Pulumi, so the tests call it directly.
 */
import type { configSchema, ParsedConfig } from "./schema";

/** The fixed set of roles a host can have. */
export const ROLES = ["etcd", "control-plane", "worker", "lb", "nfs", "mirror"] as const;
export type Role = (typeof ROLES)[number];

/**
 * The config as it comes from Pulumi, before validation: every key the schema declares
 * (components/schema.ts, with each key's type, form and default), any of them missing or wrong,
 * and what the program adds (`RawAdditions`). Validation refuses any other key.
 */
export type RawConfig = { [K in keyof ReturnType<typeof configSchema>["shape"]]?: unknown } & RawAdditions;

/** What the program adds to the stack config for validation: none of it is config. */
export interface RawAdditions {
    /** Set when the private key is present; the key itself never enters validation messages. */
    sshPrivateKeyPresent: boolean;
    /**
     * The etcd members' client URLs after the stack's last update (its `etcdEndpoints` output; not
     * config), so that validation can refuse a membership change the cluster cannot take.
     */
    previousEtcdEndpoints?: string[];
    /**
     * The versions the cluster runs: the stack's `versions` output after its last update (not
     * config), so that validation can refuse an upgrade path Kubernetes does not support.
     */
    previousVersions?: Partial<Versions>;
    /** The encryption keys the running apiservers have, from the stack's `secretsEncryption` output. */
    previousSecretsEncryption?: SecretsEncryptionState;
    /** The generation of the `kubeconfig` output's identity after the last update (its `adminCredential` output). */
    previousAdminGeneration?: number;
    /** The stack's name (not config): `protectData` defaults to on for every stack but `dev`. */
    stackName?: string;
    /**
     * The keys the stack sets in the `k8s-ha:` namespace (readStackConfig lists them), so that
     * validation can refuse a key the program would never read, such as a typo.
     */
    stackKeys?: string[];
}

/** The names of `RawAdditions` (the type makes the compiler hold the list to the interface). */
export const RAW_ADDITIONS = Object.keys({
    sshPrivateKeyPresent: true,
    previousEtcdEndpoints: true,
    previousVersions: true,
    previousSecretsEncryption: true,
    previousAdminGeneration: true,
    stackName: true,
    stackKeys: true,
} satisfies Record<keyof RawAdditions, true>);

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
    /** Set for workers only: the labels the kubelet registers its Node with (sorted by key). */
    labels?: Record<string, string>;
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

/**
 * Base URLs laid out like the upstream release sites, so an internal mirror can stand in. Only the
 * files are fetched: their sha256 sums are pinned in the stack (`k8s-ha:checksums`).
 */
export interface Downloads {
    /** Holds `v<version>/bin/linux/amd64/<binary>`. */
    kubernetes: string;
    /** Holds `v<version>/etcd-v<version>-linux-amd64.tar.gz`. */
    etcd: string;
    /** Holds `v<version>/containerd-<version>-linux-amd64.tar.gz`. */
    containerd: string;
    /** Holds `v<version>/runc.amd64`. */
    runc: string;
    /** Holds `v<version>/cni-plugins-linux-amd64-v<version>.tgz`. */
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
    /**
     * Preloaded mode only: the port of the registry's push endpoint (TLS, a user and password from
     * the stack), while `port` serves pulls read-only. Default `port + 1`.
     */
    pushPort: number;
    /** Preloaded mode only: who may reach the push endpoint, IPv4 addresses or CIDRs. Default: `nodeNetwork`, less `pushExcept`. */
    pushFrom: string[];
    /** The addresses refused the push endpoint within `pushFrom`: the cluster's hosts when `pushFrom` is the default, else none. */
    pushExcept: string[];
    /** Preloaded mode only: the push password's generation; a change makes a new password. Default: none (the first password). */
    pushPasswordGeneration?: number;
}

/** The NFS mount options a StorageClass may carry (nfs(5)); a value, when allowed, after `=`. */
export const NFS_MOUNT_OPTIONS: Readonly<Record<string, RegExp | null>> = {
    nfsvers: /^(3|4|4\.0|4\.1|4\.2)$/,
    vers: /^(3|4|4\.0|4\.1|4\.2)$/,
    hard: null,
    soft: null,
    softerr: null,
    timeo: /^\d{1,6}$/,
    retrans: /^\d{1,3}$/,
    rsize: /^\d{4,8}$/,
    wsize: /^\d{4,8}$/,
    proto: /^(tcp|rdma)$/,
    port: /^\d{1,5}$/,
    nconnect: /^([1-9]|1[0-6])$/,
    sec: /^(sys|krb5|krb5i|krb5p)$/,
    actimeo: /^\d{1,5}$/,
    acregmin: /^\d{1,5}$/,
    acregmax: /^\d{1,5}$/,
    acdirmin: /^\d{1,5}$/,
    acdirmax: /^\d{1,5}$/,
    lookupcache: /^(all|none|pos|positive)$/,
    local_lock: /^(none|all|flock|posix)$/,
    noac: null,
    noatime: null,
    nodiratime: null,
    relatime: null,
    nosuid: null,
    nodev: null,
    noexec: null,
    noresvport: null,
    nocto: null,
};

/** Host directories an NFS export must not be, nor lie under (the OS's and the cluster's own). */
export const NFS_FORBIDDEN_TREES = [
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/dev", "/proc", "/sys", "/run",
    "/root", "/var/run", "/var/log", "/var/cache", "/var/spool", "/var/lib/kubelet", "/var/lib/etcd",
    "/var/lib/containerd", "/var/lib/k8s-ha", "/var/lib/nfs", "/var/lib/dpkg", "/var/lib/apt", "/var/lib/docker-registry",
] as const;

/** Host directories that would export far more than the cluster's volumes: refused themselves, fine below. */
export const NFS_FORBIDDEN_ROOTS = ["/", "/srv", "/var", "/var/lib", "/home", "/mnt", "/media", "/opt", "/tmp", "/var/tmp", "/export"] as const;

/** The StorageClass over the NFS export and the provisioner behind it. */
export interface NfsStorageConfig {
    /** StorageClass name. Default `nfs`. */
    storageClass: string;
    /** Whether it is the cluster's default StorageClass. Default `true`. */
    defaultClass: boolean;
    /** What a released volume gets: `Delete` (default; see `onDelete`) or `Retain` (kept with its data). */
    reclaimPolicy: "Delete" | "Retain";
    /** With `reclaimPolicy: Delete`, what happens to the volume's directory: `archive` (renamed, default) or `delete`. */
    onDelete: "archive" | "delete";
    /** Mount options of every volume. Default `nfsvers=4.2`, `hard`. */
    mountOptions: string[];
    /** Mode of each volume's directory, octal. Default `0777` (pods run as any user; NFS has no fsGroup). */
    directoryMode: string;
    /** Node labels the provisioner's pod must run on (it mounts the export). Default: none, any worker. */
    provisionerNodeSelector: Record<string, string>;
}

export interface NfsConfig {
    /** Directory exported. */
    path: string;
    /**
     * Who may mount it: IPv4 addresses or CIDRs (`allowedCidr` in the stack config gives one
     * network). Default: the workers' addresses, the only hosts whose pods mount volumes.
     */
    clients: string[];
    /** Dynamic provisioning on the export. */
    storage: NfsStorageConfig;
}

/** etcd settings a stack may tune (see `EtcdTuning` in render/etcd.ts): the type the schema gives. */
export type EtcdSettings = ParsedConfig["etcd"];

/** Load balancer settings a stack may tune (`k8s-ha:loadBalancer`): the type the schema gives. */
export type LoadBalancerSettings = ParsedConfig["loadBalancer"];

/**
 * The keys that encrypt Secrets at rest (`k8s-ha:secretsEncryption`), by generation: generation 1 is
 * the key every cluster starts with; a rotation adds another (README, Operating the cluster).
 */
export interface SecretsEncryptionSettings {
    /** The generation that encrypts new writes (default 1). */
    write: number;
    /** Further generations the apiservers can decrypt with (default none). */
    read: number[];
}

/** What an update left running: the settings, and the generation every Secret was rewritten with. */
export interface SecretsEncryptionState extends SecretsEncryptionSettings {
    /** The write generation of the last update whose rewrite of every Secret finished. */
    rewrittenTo?: number;
}

/** How long a certificate is valid and when an `up` renews it, in days. */
export interface CertificateLifetime {
    /** Validity of a certificate issued now. */
    validityDays: number;
    /** The first `up` this many days or fewer before a certificate expires renews it. */
    renewBeforeDays: number;
}

/**
 * The lifetime of the certificates the cluster's CAs issue (`k8s-ha:certificates`; the CAs' own is
 * ten years): one for all, and any certificate's own by its name in the stack output `certificates`.
 */
export interface CertificateSettings extends CertificateLifetime {
    /** By certificate name (like `cp2-etcd-peer`): a lifetime of its own. */
    overrides: Record<string, CertificateLifetime>;
}

/** What the stack's last update issued, by CA (`cluster`, `etcd`) and certificate name. */
export interface CertificatesState {
    /** When each certificate expires (RFC 3339). */
    expiries: Record<string, Record<string, string>>;
    /** For a certificate an `up` renewed: the expiry of the one it replaced (its replacement trigger). */
    renewals: Record<string, Record<string, string>>;
}

/** Where etcd snapshots go off their hosts (`k8s-ha:etcdBackup`). */
export interface EtcdBackupSettings {
    /** `nfs`: the NFS server, in a root-only folder outside its export (the default when there is one); `local`: a folder on the Pulumi machine. */
    target: "nfs" | "local";
    /** For `local`: the folder, relative to the project (default `backups/<stack>/etcd`). */
    localDir: string;
    /**
     * When the etcd members' leader takes a snapshot for the NFS server (a systemd calendar expression; default
     * `hourly`); undefined when off (`off`, and always with target `local`: no host to keep them).
     */
    schedule?: string;
    /** How many scheduled snapshots the NFS server keeps (default 48). */
    keep: number;
}

/** Kubelet settings a stack may tune (`k8s-ha:kubelet`): the type the schema gives. */
export type KubeletSettings = ParsedConfig["kubelet"];

/** The add-on images whose digests a stack may pin. */
/** The images named by digest: the add-ons' and containerd's sandbox image (`pause`). */
export const ADDON_IMAGE_KEYS = ["coredns", "nfsProvisioner", "pause"] as const;
export type AddonImageKey = (typeof ADDON_IMAGE_KEYS)[number];
export type ImageDigests = Partial<Record<AddonImageKey, string>>;

/** An opening of the host firewall that the operator adds (monitoring agents, say). */
export interface FirewallAllow {
    /** A port or a range `low-high`. */
    ports: string;
    protocol: "tcp" | "udp";
    /** IPv4 addresses or CIDRs allowed in. */
    from: string[];
    /** The roles whose hosts get the opening; empty: every host. */
    roles: Role[];
    /** Why; shown in the rules on the host. */
    comment: string;
}

/** The host firewall (nftables, an input allow-list per role). */
export interface FirewallConfig {
    /** Default `true`. */
    enabled: boolean;
    /**
     * Who may reach SSH: IPv4 addresses and CIDRs (the Pulumi machine must be among them; the
     * firewall step refuses rules that would shut out its own SSH client), or `any`. Default: `nodeNetwork`.
     */
    sshFrom: "any" | string[];
    /** Extra openings. Default: none. */
    allow: FirewallAllow[];
}

/** `k8s-ha:adminCredential`: the `kubeconfig` output's identity and the break-glass credential. */
export interface AdminCredentialSettings {
    /** Generation N is the group `adminGroup(N)`, the only one bound to cluster-admin; the earlier generations' bindings go. */
    generation: number;
    /** The control-plane host that keeps the break-glass kubeconfig; `undefined`: none does (`none`). */
    breakGlassHost: string | undefined;
    /** The break-glass certificate's validity, in hours; an up renews it in its second half. */
    breakGlassValidityHours: number;
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
    /**
     * The pinned sha256 of each release file, keyed `<artifact>@<version>` (`kubelet@1.35.4`; see
     * `ARTIFACT_NAMES` in urls.ts): every file the versions need, and any pins for other versions.
     */
    checksums: Record<string, string>;
    mirror: MirrorConfig;
    nfs: NfsConfig;
    firewall: FirewallConfig;
    /**
     * Digests the stack pins for the add-ons' images (`sha256:…`). Unpinned, each is the digest the
     * mirror served when its version was first deployed, kept in the state.
     */
    imageDigests: ImageDigests;
    /** etcd tuning (`k8s-ha:etcd`); empty: etcd's defaults. */
    etcd: EtcdSettings;
    loadBalancer: LoadBalancerSettings;
    kubelet: KubeletSettings;
    etcdBackup: EtcdBackupSettings;
    secretsEncryption: SecretsEncryptionSettings;
    /**
     * The identity of the `kubeconfig` output (`k8s-ha:adminCredential`): generation N is the group
     * `adminGroup(N)`, the only one bound to cluster-admin; the earlier generations' bindings go.
     */
    adminCredential: AdminCredentialSettings;
    certificates: CertificateSettings;
    apiServerExtraSans: string[];
    ntpServers: string[];
    /**
     * Pulumi `protect` on the etcd members and the NFS export (their data): a destroy or a removal
     * stops with "protected" until `k8s-ha:protectData` is set to false.
     */
    protectData: boolean;
    /**
     * Steps to re-run to repair drift, `HOST/STEP` → the time of the check that found it
     * (`k8s-ha:repair`, set by scripts/drift.sh --repair); the step gets it as K8SHA_REPAIR.
     */
    repair: Record<string, string>;
}

export const DEFAULTS = {
    sshUser: "root",
    sshPort: 22,
    apiPort: 6443,
    vrrpRouterId: 51,
    loadBalancer: { healthCheckIntervalMs: 1000, advertIntervalMs: 100 },
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
    nfsStorage: {
        storageClass: "nfs",
        defaultClass: true,
        reclaimPolicy: "Delete",
        onDelete: "archive",
        mountOptions: ["nfsvers=4.2", "hard"],
        directoryMode: "0777",
    },
} as const;

export function hostsWithRole(config: Pick<ClusterConfig, "hosts">, role: Role): HostConfig[] {
    return config.hosts.filter((h) => h.roles.includes(role));
}
