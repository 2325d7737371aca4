/**
 * The kubelet's config file (KubeletConfiguration, kubelet.config.k8s.io/v1beta1) and its unit.
 *
 * Everything the config file can express goes there; the unit keeps only the per-host flags that
 * have no config field (`--node-ip`, `--hostname-override`) and the two file paths.
 */
import { BINARIES, CONTAINERD_FILES, K8S_FILES, K8S_PKI, SYSTEM_FILES } from "./paths";
import { flagArgs, renderServiceUnit } from "./systemd";
import { requireAbsolutePath, requireCidr, requireInt, requireIpv4, requireToken } from "./text";
import { TLS_CIPHER_SUITES } from "./tls";
import { toYaml } from "./yaml";

/** Events a kubelet sends a second after a burst (eventRecordQPS, eventBurst); the apiservers' per-user limit matches it. */
export const KUBELET_EVENT_RATE = { qps: 50, burst: 100 } as const;

export interface KubeletConfigParams {
    /** The cluster DNS service address (CoreDNS), written into every pod's resolv.conf. */
    clusterDns: string;
    /** e.g. `cluster.local`. */
    clusterDomain: string;
    /** This node's static pod CIDR; the CNI config and the other nodes' routes use the same one. */
    podCidr: string;
    /**
     * Default `cgroupfs`. Must match containerd's `SystemdCgroup` (`systemd` ⇔ true). `systemd` is
     * the better choice on a host booted by systemd with cgroup v2; `cgroupfs` works everywhere,
     * including systemd-nspawn containers on cgroup v1.
     */
    cgroupDriver?: "cgroupfs" | "systemd";
    /**
     * Default `true` (the kubelet's own default since 1.35): refuse to start on cgroup v1. Set
     * `false` on hosts that only have cgroup v1 (the lab's nspawn machines); Kubernetes warns that
     * cgroup v1 support is in maintenance and will be removed.
     */
    failCgroupV1?: boolean;
    /**
     * resolv.conf the pods with `dnsPolicy: Default` (CoreDNS itself) inherit. Default
     * `/etc/resolv.conf`; use `/run/systemd/resolve/resolv.conf` where systemd-resolved's stub
     * (127.0.0.53) is in /etc/resolv.conf, since a pod cannot reach the host's loopback.
     */
    resolvConf?: string;
    /**
     * Default `true`: the kubelet refuses to run with swap on. The Node component turns swap off,
     * so this is a safety net. Set `false` where swap cannot be turned off (a container that sees
     * the host's swap); the kubelet then runs with swap unused by pods (`NoSwap`).
     */
    failSwapOn?: boolean;
    /** Default `true`: pull one image at a time; `false` lets big pulls overlap. */
    serializeImagePulls?: boolean;
    /**
     * Default `true` (kubelet default). `false` inside containers whose root filesystem the kubelet
     * cannot measure (systemd-nspawn, rootless): ephemeral-storage limits are then not enforced.
     */
    localStorageCapacityIsolation?: boolean;
    /** Default `false` (kubelet default): memcg threshold notifications need a writable memory cgroup. */
    kernelMemcgNotification?: boolean;
    /**
     * Default `true` (kubelet default): QoS cgroups (`kubepods/burstable`...). In a container that
     * cannot create top-level cgroups set `false` together with `enforceNodeAllocatable: []`.
     */
    cgroupsPerQOS?: boolean;
    /** Default `["pods"]` (kubelet default); `[]` turns off Node Allocatable enforcement. */
    enforceNodeAllocatable?: readonly string[];
    /** Cgroup under which the pods run, e.g. `/kubelet` in containers. Default: kubelet's own (the root). */
    cgroupRoot?: string;
    /**
     * Hard eviction thresholds. Default: the kubelet's (nodefs 10%, imagefs 15%, memory 100Mi).
     * In containers sharing a small disk, `{"nodefs.available": "0%", ...}` keeps pods from being evicted.
     */
    evictionHard?: Readonly<Record<string, string>>;
    /**
     * Default `true` (CIS 4.2.6): the kubelet refuses to start when a kernel tunable it relies on
     * differs from what it expects, instead of changing it; the Node component's OS step sets them
     * on workers (`renderSysctlConf`). `false` inside containers, whose kernel tunables belong to
     * the container's host and are read-only.
     */
    protectKernelDefaults?: boolean;
    /** Most processes one pod may run (CIS 4.2.13). Default 4096. */
    podPidsLimit?: number;
}

/**
 * `/etc/kubernetes/kubelet-config.yaml`. The kubelet serves its API only with TLS and client
 * certificates from the cluster CA (anonymous off, read-only port off); every other request is
 * authenticated with a TokenReview and authorized with a SubjectAccessReview against the apiserver
 * (`Webhook`), so RBAC decides who may read logs or exec. Certificates are the static files from
 * the cluster PKI (no bootstrap, no rotation).
 */
export function renderKubeletConfig(p: KubeletConfigParams): string {
    requireIpv4(p.clusterDns, "kubelet clusterDns");
    requireCidr(p.podCidr, "kubelet podCidr");
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(p.clusterDomain)) {
        throw new Error(`kubelet: clusterDomain "${p.clusterDomain}" is not a DNS domain`);
    }
    const podPidsLimit = p.podPidsLimit ?? 4096;
    requireInt(podPidsLimit, 64, 4194304, "kubelet podPidsLimit");
    const resolvConf = p.resolvConf ?? SYSTEM_FILES.resolvConf;
    requireAbsolutePath(resolvConf, "kubelet resolvConf");
    if (p.cgroupRoot !== undefined) {
        requireAbsolutePath(p.cgroupRoot, "kubelet cgroupRoot");
    }
    const evictionHard = p.evictionHard
        ? Object.fromEntries(
              Object.keys(p.evictionHard)
                  .sort()
                  .map((k) => [k, p.evictionHard?.[k] ?? ""]),
          )
        : undefined;
    return toYaml({
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        authentication: {
            anonymous: { enabled: false },
            webhook: { enabled: true },
            x509: { clientCAFile: K8S_PKI.caCert },
        },
        authorization: { mode: "Webhook" },
        readOnlyPort: 0,
        // The serving certificate is the stack's, for the node's own name and address, from the
        // kubelet serving CA (no CSR to approve: review-security-2 H1); `up` renews it.
        serverTLSBootstrap: false,
        tlsCertFile: K8S_PKI.kubeletServingCert,
        tlsPrivateKeyFile: K8S_PKI.kubeletServingKey,
        // The client certificate in kubelet.kubeconfig (the stack's) is where the kubelet starts
        // from: it keeps it in its certificate store and requests its next one from the cluster
        // before it expires (approved by the controller-manager for the node's own name).
        rotateCertificates: true,
        clusterDNS: [p.clusterDns],
        clusterDomain: p.clusterDomain,
        podCIDR: p.podCidr,
        resolvConf,
        containerRuntimeEndpoint: `unix://${CONTAINERD_FILES.socket}`,
        cgroupDriver: p.cgroupDriver ?? "cgroupfs",
        cgroupRoot: p.cgroupRoot,
        cgroupsPerQOS: p.cgroupsPerQOS ?? true,
        enforceNodeAllocatable: [...(p.enforceNodeAllocatable ?? ["pods"])],
        failCgroupV1: p.failCgroupV1 ?? true,
        failSwapOn: p.failSwapOn ?? true,
        protectKernelDefaults: p.protectKernelDefaults ?? true,
        // Every container gets the runtime's default seccomp profile unless it asks otherwise.
        seccompDefault: true,
        podPidsLimit,
        tlsMinVersion: "VersionTLS12",
        tlsCipherSuites: [...TLS_CIPHER_SUITES],
        // The kubelet's own defaults, stated (CIS 4.2.8): events are rate-limited, never unlimited (0).
        eventRecordQPS: KUBELET_EVENT_RATE.qps,
        eventBurst: KUBELET_EVENT_RATE.burst,
        serializeImagePulls: p.serializeImagePulls ?? true,
        localStorageCapacityIsolation: p.localStorageCapacityIsolation ?? true,
        kernelMemcgNotification: p.kernelMemcgNotification ?? false,
        evictionHard,
    });
}

export interface KubeletUnitParams {
    /** The node name (`--hostname-override`): the host name, which the kubelet's certificate names (`system:node:<name>`). */
    nodeName: string;
    /** `--node-ip`: the address other hosts reach this node at (the node's InternalIP). */
    nodeIp: string;
    /** `--node-labels`: labels the kubelet registers its Node with. Default: none (no flag). */
    nodeLabels?: Readonly<Record<string, string>>;
}

/** The kubelet flags, sorted by name. */
export function kubeletFlags(p: KubeletUnitParams): string[] {
    requireToken(p.nodeName, "kubelet nodeName");
    requireIpv4(p.nodeIp, "kubelet nodeIp");
    return flagArgs({
        config: K8S_FILES.kubeletConfig,
        kubeconfig: K8S_FILES.kubeletKubeconfig,
        "hostname-override": p.nodeName,
        "node-ip": p.nodeIp,
        "node-labels": nodeLabelsFlag(p.nodeLabels),
    });
}

/** `k=v,k=v` sorted by key, or undefined for no labels. Keys and values must be label-safe (no `,` or `=`). */
function nodeLabelsFlag(labels: Readonly<Record<string, string>> | undefined): string | undefined {
    const keys = Object.keys(labels ?? {}).sort();
    if (keys.length === 0) return undefined;
    return keys
        .map((k) => {
            const v = labels?.[k] ?? "";
            if (!/^([a-z0-9.-]+\/)?[A-Za-z0-9_.-]+$/.test(k) || !/^[A-Za-z0-9_.-]*$/.test(v)) {
                throw new Error(`kubelet: node label ${JSON.stringify(k)}=${JSON.stringify(v)} is not a label`);
            }
            return `${k}=${v}`;
        })
        .join(",");
}

/** `/etc/systemd/system/kubelet.service`; it needs containerd running. */
export function renderKubeletUnit(p: KubeletUnitParams): string {
    return renderServiceUnit({
        description: "Kubernetes kubelet (k8s-ha)",
        documentation: ["https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/"],
        wants: ["network-online.target"],
        requires: ["containerd.service"],
        after: ["network-online.target", "containerd.service"],
        type: "simple",
        execStart: [{ path: BINARIES.kubelet, args: kubeletFlags(p) }],
        restart: "always",
        restartSec: 5,
    });
}
