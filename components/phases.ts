/**
 * Host phases as data: what a step sends to its host, as pure functions of plain values (no
 * Pulumi resources, no Outputs), so that tests can check every file of every host directly. Each
 * file carries its path (from render/paths.ts), mode, content, and what a change to it restarts or
 * reloads; the host script installs whatever the bundle holds (lib.sh install_bundle).
 */
import { CertificateSettings, ClusterConfig, EtcdSettings, HostConfig, hostsWithRole } from "./config";
import { BundleFile, FileRole, pemFiles, withRestarts } from "./runner";
import * as render from "./render";

/** What a host's facts step reported (node.ts parseFacts). */
export interface PhaseFacts {
    /** `systemd-detect-virt -c`: "none" on a real host or VM. */
    container: string;
    cgroup: "v1" | "v2";
}

/**
 * Kubelet settings for a node that is itself a container (the lab's nspawn machines): no ephemeral
 * storage accounting on an overlay root, no memcg notifications, and no node-allocatable
 * enforcement, which would need cgroup controls a container is not given.
 */
export const CONTAINER_KUBELET: Partial<render.KubeletConfigParams> = {
    protectKernelDefaults: false,
    localStorageCapacityIsolation: false,
    kernelMemcgNotification: false,
    enforceNodeAllocatable: [],
};

/** What a worker's steps need of the cluster besides the host itself. */
export interface WorkerSettings {
    /** Every worker of the cluster: a worker routes to the others' pod CIDRs. */
    workers: HostConfig[];
    /** The image mirror's port, and the registries containerd sends through it. */
    mirror: { port: number; registries: readonly string[] };
    /** The pause image's version, pinned in containerd's config. */
    pauseVersion: string;
    /** The containerd version (from 2.3 its config has version 4). */
    containerdVersion: string;
    /** The cluster DNS service's address and the cluster domain, for the kubelet. */
    clusterDns: string;
    clusterDomain: string;
    /** The cluster's pod CIDR, for kube-proxy. */
    clusterPodCidr: string;
    /** The most processes one pod may run. */
    podPidsLimit: number;
}

/** A worker's settings from the validated cluster config. */
export function workerSettings(cluster: ClusterConfig): WorkerSettings {
    return {
        workers: hostsWithRole(cluster, "worker"),
        mirror: { port: cluster.mirror.port, registries: cluster.mirror.registries },
        pauseVersion: cluster.versions.pause,
        containerdVersion: cluster.versions.containerd,
        clusterDns: cluster.dnsServiceIp,
        clusterDomain: cluster.clusterDomain,
        clusterPodCidr: cluster.podCidr,
        podPidsLimit: cluster.kubelet.podPidsLimit,
    };
}

export interface RuntimePhaseInput {
    host: HostConfig;
    settings: WorkerSettings;
    /** The pause image's digest, as the mirror served it (or the stack pins it). */
    pauseDigest: string;
    /** `host:port` of the image mirror. */
    mirrorEndpoint: string;
    /** The cluster CA certificate (PEM), which signed the mirror's certificate. */
    caCert: string;
    facts: PhaseFacts;
}

/**
 * A worker's runtime step: containerd's config (checked by containerd), its registry hosts through
 * the mirror, its unit, the CNI config for the worker's pod CIDR, and the routes to the other
 * workers' pod networks.
 */
export function runtimePhase(p: RuntimePhaseInput): BundleFile[] {
    const { host, settings } = p;
    const podCidr = host.podCidr as string;
    const others = settings.workers.filter((h) => h.name !== host.name);
    const containerdUnit = [render.UNITS.containerd];
    const caFile = render.K8S_PKI.caCert;
    const mirrorHost = p.mirrorEndpoint.split(":")[0];
    return [
        { path: caFile, mode: "0644", content: p.caCert },
        {
            path: render.CONTAINERD_FILES.config,
            mode: "0644",
            restarts: containerdUnit,
            check: "containerd_config",
            content: render.renderContainerdConfig({
                pauseVersion: settings.pauseVersion,
                pauseDigest: p.pauseDigest,
                systemdCgroup: false,
                // A container cannot lower oom scores (no CAP_SYS_RESOURCE).
                restrictOomScoreAdj: p.facts.container !== "none",
                containerdVersion: settings.containerdVersion,
            }),
        },
        ...settings.mirror.registries.map((registry) => ({
            path: render.containerdHostsTomlPath(registry),
            mode: "0644",
            content: render.renderContainerdHostsToml({ registry, mirrorHost, mirrorPort: settings.mirror.port, caFile }),
        })),
        {
            path: render.containerdHostsTomlPath(`${mirrorHost}:${settings.mirror.port}`),
            mode: "0644",
            content: render.renderContainerdMirrorHostsToml({ mirrorHost, mirrorPort: settings.mirror.port, caFile }),
        },
        {
            path: render.unitPath(render.UNITS.containerd),
            mode: "0600",
            restarts: containerdUnit,
            content: render.renderContainerdUnit(p.facts.container !== "none" ? { oomScoreAdjust: 0 } : {}),
        },
        { path: render.unitPath(render.UNITS.podRoutes), mode: "0600", content: render.renderPodRoutesUnit({ routes: others.map((o) => ({ podCidr: o.podCidr as string, via: o.address })) }) },
        { path: render.CNI_CONFLIST_PATH, mode: "0600", content: render.renderCniConflist({ podCidr }) },
        {
            path: render.OS_FILES.podRoutes,
            mode: "0644",
            content: others.map((o) => `${o.podCidr} ${o.address}\n`).join(""),
        },
    ];
}

export interface KubeletPhaseInput {
    host: HostConfig;
    settings: WorkerSettings;
    /** The API endpoint, `https://VIP:port`. */
    endpoint: string;
    caCert: string;
    /** The kubelet's client certificate and key (`system:node:<host>`). */
    kubeletCert: { cert: string; key: string };
    /** The kubelet's serving certificate and key (its name and address), from the kubelet serving CA. */
    servingCert: { cert: string; key: string };
    /** kube-proxy's client certificate and key (`system:kube-proxy`), one for every worker. */
    proxyCert: { cert: string; key: string };
    facts: PhaseFacts;
}

/** A worker's kubelet step: the kubelet's and kube-proxy's certificates, kubeconfigs, configs and units. */
export function kubeletPhase(p: KubeletPhaseInput): BundleFile[] {
    const { host, settings } = p;
    const podCidr = host.podCidr as string;
    const k = render.K8S_FILES;
    const kubeletUnit = [render.UNITS.kubelet];
    const proxyUnit = [render.UNITS.kubeProxy];
    return [
        ...withRestarts(pemFiles(render.PEM_BASES.kubelet, p.kubeletCert.cert, p.kubeletCert.key), kubeletUnit),
        ...withRestarts(pemFiles(render.PEM_BASES.kubeletServing, p.servingCert.cert, p.servingCert.key), kubeletUnit),
        {
            path: k.kubeletKubeconfig,
            mode: "0600",
            restarts: kubeletUnit,
            content: render.renderKubeconfig({ server: p.endpoint, caCertPem: p.caCert, userName: `system:node:${host.name}`, clientCertPem: p.kubeletCert.cert, clientKeyPem: p.kubeletCert.key }),
        },
        {
            path: k.kubeProxyKubeconfig,
            mode: "0600",
            restarts: proxyUnit,
            content: render.renderKubeconfig({ server: p.endpoint, caCertPem: p.caCert, userName: "system:kube-proxy", clientCertPem: p.proxyCert.cert, clientKeyPem: p.proxyCert.key }),
        },
        {
            path: k.kubeletConfig,
            mode: "0600",
            public: true,
            restarts: kubeletUnit,
            content: render.renderKubeletConfig({
                clusterDns: settings.clusterDns,
                clusterDomain: settings.clusterDomain,
                podCidr,
                // A cgroup v1 host (like the lab's) is refused by Kubernetes 1.35 unless allowed here.
                failCgroupV1: p.facts.cgroup === "v2",
                podPidsLimit: settings.podPidsLimit,
                ...(p.facts.container !== "none" ? CONTAINER_KUBELET : {}),
            }),
        },
        {
            path: k.kubeProxyConfig,
            mode: "0644",
            restarts: proxyUnit,
            content: render.renderKubeProxyConfig({
                clusterCidr: settings.clusterPodCidr,
                hostnameOverride: host.name,
                // In a container the conntrack sysctls are read-only: leave them as the host set them.
                ...(p.facts.container !== "none" ? { conntrack: { maxPerCore: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" } } : {}),
            }),
        },
        { path: render.unitPath(render.UNITS.kubelet), mode: "0600", public: true, restarts: kubeletUnit, content: render.renderKubeletUnit({ nodeIp: host.address, nodeName: host.name, nodeLabels: host.labels }) },
        { path: render.unitPath(render.UNITS.kubeProxy), mode: "0600", public: true, restarts: proxyUnit, content: render.renderKubeProxyUnit() },
    ];
}

/** The etcd CA and a member's three certificates (PEM). */
export interface EtcdPhaseInput {
    host: HostConfig;
    /** Every member: the initial cluster. */
    members: { name: string; address: string }[];
    tuning: EtcdSettings;
    caCert: string;
    server: { cert: string; key: string };
    peer: { cert: string; key: string };
    healthcheck: { cert: string; key: string };
}

/** An etcd member's step: its CA, certificates and unit; every file restarts etcd (one member at a time, etcd.sh). */
export function etcdPhase(p: EtcdPhaseInput): BundleFile[] {
    return withRestarts(
        [
            { path: render.ETCD_FILES.caCert, mode: "0644", content: p.caCert },
            ...pemFiles(render.PEM_BASES.etcdServer, p.server.cert, p.server.key),
            ...pemFiles(render.PEM_BASES.etcdPeer, p.peer.cert, p.peer.key),
            ...pemFiles(render.PEM_BASES.etcdHealthcheckClient, p.healthcheck.cert, p.healthcheck.key),
            {
                path: render.unitPath(render.UNITS.etcd),
                mode: "0600",
                content: render.renderEtcdUnit({ name: p.host.name, address: p.host.address, members: p.members, clusterToken: "k8s-ha-etcd", tuning: p.tuning }),
            },
        ],
        [render.UNITS.etcd],
    );
}

export interface LbPhaseInput {
    host: HostConfig;
    /** The other lb host, keepalived's unicast peer. */
    peer: HostConfig;
    vip: string;
    apiPort: number;
    vrrpRouterId: number;
    /** haproxy.cfg, the same on both hosts. */
    haproxyConfig: string;
    /** keepalived's VRRPv3 advertisement interval, ms. */
    advertIntervalMs: number;
    /** The interface that holds the host's address, and its prefix length (the host's facts). */
    interface: string;
    prefix: number;
}

/**
 * An lb host's step. A changed config reloads its daemon (connections and the VIP stay); only a
 * changed keepalived drop-in restarts keepalived (lb.sh hands the VIP over first).
 */
export function lbPhase(p: LbPhaseInput): BundleFile[] {
    const lb = render.LB_FILES;
    const u = render.UNITS;
    return [
        { path: lb.haproxyConfig, mode: "0644", content: p.haproxyConfig, reloads: [u.haproxy], check: "haproxy" },
        { path: lb.keepalivedCheckScript, mode: "0755", content: render.renderHaproxyCheckScript({ apiPort: p.apiPort }), reloads: [u.keepalived] },
        {
            path: lb.keepalivedConfig,
            mode: "0600",
            reloads: [u.keepalived],
            // keepalived checks the script it names at its live path: that one sorts first.
            check: "keepalived",
            content: render.renderKeepalivedConfig({
                hostName: p.host.name,
                virtualRouterId: p.vrrpRouterId,
                interface: p.interface,
                priority: p.host.vrrpPriority ?? 100,
                unicastSrcIp: p.host.address,
                unicastPeers: [p.peer.address],
                vip: p.vip,
                vipPrefixLength: p.prefix,
                advertIntervalMs: p.advertIntervalMs,
            }),
        },
        {
            path: lb.keepalivedDropIn,
            mode: "0600",
            restarts: [u.keepalived],
            content: render.renderKeepalivedDropIn({ vip: p.vip, vipPrefixLength: p.prefix, interface: p.interface }),
        },
    ];
}

/** A file of a phase whose contents may be of another type (Pulumi Inputs in a component, strings in tests). */
export interface PhaseFile<C> extends FileRole {
    path: string;
    content: C | string;
}

/** What a control-plane host's step sends that the program makes elsewhere (certificates, kubeconfigs, the apiserver unit). */
export interface ControlPlaneContents<C> {
    caCert: C;
    caKey: C;
    etcdCaCert: C;
    /** The kubelet serving CA's certificate and key. */
    kubeletCaCert: C;
    kubeletCaKey: C;
    apiserver: { cert: C; key: C };
    kubeletClient: { cert: C; key: C };
    etcdClient: { cert: C; key: C };
    serviceAccountKey: C;
    serviceAccountPub: C;
    encryptionConfig: C;
    controllerManagerKubeconfig: C;
    schedulerKubeconfig: C;
    /**
     * On the installer's host only (the first control-plane host, where the installer's steps run):
     * the installer's own kubeconfig (group k8s-ha:installers). No other host holds it.
     */
    installer?: { installerKubeconfig: C };
    /**
     * On the break-glass host only (`adminCredential.breakGlassHost`, by default the installer's):
     * the system:masters kubeconfig, which only the add-ons step uses and only until the installer's
     * binding exists. No other host holds it.
     */
    breakGlassKubeconfig?: C;
    apiserverUnit: C;
}

/**
 * A control-plane host's step: the PKI, configs, kubeconfigs and units of kube-apiserver,
 * kube-controller-manager and kube-scheduler, each with the daemons a change to it restarts
 * (controlplane.sh restarts those, one host at a time).
 */
export function controlPlanePhase<C>(
    cluster: Pick<ClusterConfig, "podCidr" | "serviceCidr"> & { certificates: Pick<CertificateSettings, "validityDays"> },
    c: ControlPlaneContents<C>,
): PhaseFile<C>[] {
    const pki = render.K8S_PKI;
    const f = render.K8S_FILES;
    const u = render.UNITS;
    const apiserverUnit = [u.kubeApiserver];
    const pem = (base: string, pair: { cert: C; key: C }): PhaseFile<C>[] => withRestarts(pemFiles(base, pair.cert, pair.key), apiserverUnit);
    return [
        // The controller-manager signs with the CA and verifies service-account tokens with sa.key too.
        { path: pki.caCert, mode: "0644", content: c.caCert, restarts: [u.kubeApiserver, u.kubeControllerManager] },
        { path: pki.caKey, mode: "0600", content: c.caKey, restarts: [u.kubeControllerManager] },
        { path: pki.etcdCaCert, mode: "0644", content: c.etcdCaCert, restarts: apiserverUnit },
        { path: pki.kubeletCaCert, mode: "0644", content: c.kubeletCaCert, restarts: [u.kubeApiserver, u.kubeControllerManager] },
        { path: pki.kubeletCaKey, mode: "0600", content: c.kubeletCaKey, restarts: [u.kubeControllerManager] },
        ...pem(render.PEM_BASES.apiserver, c.apiserver),
        ...pem(render.PEM_BASES.apiserverKubeletClient, c.kubeletClient),
        ...pem(render.PEM_BASES.apiserverEtcdClient, c.etcdClient),
        { path: pki.serviceAccountKey, mode: "0600", content: c.serviceAccountKey, restarts: [u.kubeApiserver, u.kubeControllerManager] },
        { path: pki.serviceAccountPub, mode: "0644", content: c.serviceAccountPub, restarts: apiserverUnit },
        { path: f.encryptionConfig, mode: "0600", content: c.encryptionConfig, restarts: apiserverUnit },
        { path: f.auditPolicy, mode: "0644", content: render.renderAuditPolicy(), restarts: apiserverUnit },
        { path: f.authenticationConfig, mode: "0644", content: render.renderAuthenticationConfig(), restarts: apiserverUnit },
        { path: f.admissionConfig, mode: "0644", content: render.renderAdmissionConfig(), restarts: apiserverUnit },
        { path: f.schedulerConfig, mode: "0644", content: render.renderSchedulerConfig(), restarts: [u.kubeScheduler] },
        { path: f.controllerManagerKubeconfig, mode: "0600", content: c.controllerManagerKubeconfig, restarts: [u.kubeControllerManager] },
        { path: f.schedulerKubeconfig, mode: "0600", content: c.schedulerKubeconfig, restarts: [u.kubeScheduler] },
        ...(c.breakGlassKubeconfig !== undefined ? [{ path: f.breakGlassKubeconfig, mode: "0600", content: c.breakGlassKubeconfig }] : []),
        ...(c.installer ? [{ path: f.installerKubeconfig, mode: "0600", content: c.installer.installerKubeconfig }] : []),
        {
            path: render.unitPath(u.kubeControllerManager),
            mode: "0600",
            public: true,
            restarts: [u.kubeControllerManager],
            content: render.renderControllerManagerUnit({
                podCidr: cluster.podCidr,
                serviceCidr: cluster.serviceCidr,
                // The kubelets' renewed client certificates last as long as the stack's certificates.
                signingDurationHours: cluster.certificates.validityDays * 24,
            }),
        },
        { path: render.unitPath(u.kubeScheduler), mode: "0600", public: true, restarts: [u.kubeScheduler], content: render.renderSchedulerUnit() },
        { path: render.unitPath(u.kubeApiserver), mode: "0600", public: true, restarts: apiserverUnit, content: c.apiserverUnit },
    ];
}
