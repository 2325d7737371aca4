/**
 * The fixed file layout on every host, the one place that names a host path: the renderers put
 * these paths into flags and config files, and the components send files to them (a host script
 * installs whatever its bundle holds, wherever the bundle says). test/layout.test.ts checks that
 * no other module of components/ writes a host path of its own.
 */

export const SYSTEMD_DIR = "/etc/systemd/system";

/** `/etc/systemd/system/<name>.service`. */
export function unitPath(name: string): string {
    return `${SYSTEMD_DIR}/${name}.service`;
}

/** `/etc/systemd/system/<name>.timer`. */
export function timerPath(name: string): string {
    return `${SYSTEMD_DIR}/${name}.timer`;
}

/** `/etc/systemd/system/<name>.service.d/k8s-ha.conf`: the drop-in k8s-ha adds to a packaged unit. */
export function dropInPath(name: string): string {
    return `${SYSTEMD_DIR}/${name}.service.d/k8s-ha.conf`;
}

/** The operating system's own programs that units and scripts k8s-ha renders call. */
export const SYSTEM_BINARIES = {
    ip: "/usr/sbin/ip",
    modprobe: "/usr/sbin/modprobe",
    nft: "/usr/sbin/nft",
    /** Debian's docker-registry package. */
    dockerRegistry: "/usr/bin/docker-registry",
    /** The login shell of the system users k8s-ha adds (etcd). */
    nologin: "/usr/sbin/nologin",
} as const;

/** The operating system's files that k8s-ha's configs point at. */
export const SYSTEM_FILES = {
    resolvConf: "/etc/resolv.conf",
    /** Debian's chrony drift file. */
    chronyDrift: "/var/lib/chrony/chrony.drift",
    /** What os.sh sets and edits: the host's name, its hosts table (k8s-ha's block) and its swap entries. */
    hostname: "/etc/hostname",
    hosts: "/etc/hosts",
    fstab: "/etc/fstab",
} as const;

/**
 * k8s-ha's own folders on every host: the steps' records, the installed host library and saved
 * scripts, the run-time locks and staging, settings, and the checked downloads. prologue.sh and
 * run-saved.sh spell the library folder themselves (they run before the library is sourced).
 */
export const HA_DIRS = {
    stateDir: "/var/lib/k8s-ha",
    libDir: "/usr/local/lib/k8s-ha",
    runDir: "/run/k8s-ha",
    etcDir: "/etc/k8s-ha",
    downloadDir: "/var/cache/k8s-ha",
} as const;

export const BIN_DIR = "/usr/local/bin";
export const RUNC_PATH = "/usr/local/sbin/runc";
export const CNI_BIN_DIR = "/opt/cni/bin";
export const CNI_CONF_DIR = "/etc/cni/net.d";
export const CNI_CONFLIST_PATH = "/etc/cni/net.d/10-k8s-ha.conflist";
/** The trees the CNI plugins and their config live in, and the plugins' state (removed with the runtime). */
export const CNI_DIRS = {
    opt: "/opt/cni",
    etc: "/etc/cni",
    state: "/var/lib/cni",
} as const;

/** Binaries under `BIN_DIR`. */
export const BINARIES = {
    etcd: `${BIN_DIR}/etcd`,
    etcdctl: `${BIN_DIR}/etcdctl`,
    etcdutl: `${BIN_DIR}/etcdutl`,
    kubeApiserver: `${BIN_DIR}/kube-apiserver`,
    kubeControllerManager: `${BIN_DIR}/kube-controller-manager`,
    kubeScheduler: `${BIN_DIR}/kube-scheduler`,
    kubelet: `${BIN_DIR}/kubelet`,
    kubeProxy: `${BIN_DIR}/kube-proxy`,
    containerd: `${BIN_DIR}/containerd`,
    containerdShim: `${BIN_DIR}/containerd-shim-runc-v2`,
    ctr: `${BIN_DIR}/ctr`,
    kubectl: `${BIN_DIR}/kubectl`,
} as const;

const PKI = "/etc/kubernetes/pki";

/** The cluster PKI on control-plane and worker hosts. `caKey` exists on control-plane hosts only. */
export const K8S_PKI = {
    dir: PKI,
    caCert: `${PKI}/ca.crt`,
    caKey: `${PKI}/ca.key`,
    apiserverCert: `${PKI}/apiserver.crt`,
    apiserverKey: `${PKI}/apiserver.key`,
    apiserverKubeletClientCert: `${PKI}/apiserver-kubelet-client.crt`,
    apiserverKubeletClientKey: `${PKI}/apiserver-kubelet-client.key`,
    apiserverEtcdClientCert: `${PKI}/apiserver-etcd-client.crt`,
    apiserverEtcdClientKey: `${PKI}/apiserver-etcd-client.key`,
    /** The etcd CA certificate, for the apiserver to verify etcd's server certificates. */
    etcdCaCert: `${PKI}/etcd-ca.crt`,
    serviceAccountKey: `${PKI}/sa.key`,
    serviceAccountPub: `${PKI}/sa.pub`,
    kubeletCert: `${PKI}/kubelet.crt`,
    kubeletKey: `${PKI}/kubelet.key`,
    /** A worker's serving certificate (its own name and address), from the kubelet serving CA. */
    kubeletServingCert: `${PKI}/kubelet-serving.crt`,
    kubeletServingKey: `${PKI}/kubelet-serving.key`,
    /**
     * The kubelet serving CA: the apiserver verifies the kubelets with it, and the controller-manager
     * signs with it what the CSR API approves for signer kubelet-serving (nothing, unless an admin does).
     */
    kubeletCaCert: `${PKI}/kubelet-ca.crt`,
    kubeletCaKey: `${PKI}/kubelet-ca.key`,
} as const;

/** `<base>` of a certificate and key sent as `<base>.crt` and `<base>.key` (runner.ts pemFiles). */
export const PEM_BASES = {
    apiserver: `${PKI}/apiserver`,
    apiserverKubeletClient: `${PKI}/apiserver-kubelet-client`,
    apiserverEtcdClient: `${PKI}/apiserver-etcd-client`,
    kubelet: `${PKI}/kubelet`,
    kubeletServing: `${PKI}/kubelet-serving`,
    etcdServer: "/etc/etcd/pki/server",
    etcdPeer: "/etc/etcd/pki/peer",
    etcdHealthcheckClient: "/etc/etcd/pki/healthcheck-client",
} as const;

/** Kubeconfigs and the component config files under /etc/kubernetes. */
export const K8S_FILES = {
    dir: "/etc/kubernetes",
    /** The kubelet's static pod folder (empty: k8s-ha runs the control plane as systemd units). */
    manifestsDir: "/etc/kubernetes/manifests",
    /** The audit log's folder (0700). */
    logDir: "/var/log/kubernetes",
    /** The system:masters credential, on the break-glass host only (README, The break-glass credential). */
    breakGlassKubeconfig: "/etc/kubernetes/break-glass.kubeconfig",
    /** The installer's identity (group k8s-ha:installers), which its steps on the first control-plane host use. */
    installerKubeconfig: "/etc/kubernetes/installer.kubeconfig",
    controllerManagerKubeconfig: "/etc/kubernetes/controller-manager.kubeconfig",
    schedulerKubeconfig: "/etc/kubernetes/scheduler.kubeconfig",
    kubeletKubeconfig: "/etc/kubernetes/kubelet.kubeconfig",
    kubeProxyKubeconfig: "/etc/kubernetes/kube-proxy.kubeconfig",
    encryptionConfig: "/etc/kubernetes/encryption-config.yaml",
    auditPolicy: "/etc/kubernetes/audit-policy.yaml",
    authenticationConfig: "/etc/kubernetes/authentication-config.yaml",
    admissionConfig: "/etc/kubernetes/admission-config.yaml",
    schedulerConfig: "/etc/kubernetes/scheduler-config.yaml",
    kubeletConfig: "/etc/kubernetes/kubelet-config.yaml",
    kubeProxyConfig: "/etc/kubernetes/kube-proxy-config.yaml",
    auditLog: "/var/log/kubernetes/audit.log",
    /** The cluster add-ons (CoreDNS, RBAC), applied from the first control-plane host. */
    addons: "/etc/kubernetes/addons/k8s-ha.yaml",
    /** Objects the add-ons step deletes (render/addons.ts RETIRED_ADDON_OBJECTS). */
    addonsRetired: "/etc/kubernetes/addons/retired",
    nfsProvisioner: "/etc/kubernetes/addons/nfs-provisioner.yaml",
    nfsStorageClass: "/etc/kubernetes/addons/nfs-storageclass.yaml",
} as const;

/** etcd's own PKI (a CA separate from the cluster CA) and data directory. */
export const ETCD_FILES = {
    dir: "/etc/etcd",
    caCert: "/etc/etcd/pki/ca.crt",
    serverCert: "/etc/etcd/pki/server.crt",
    serverKey: "/etc/etcd/pki/server.key",
    peerCert: "/etc/etcd/pki/peer.crt",
    peerKey: "/etc/etcd/pki/peer.key",
    /** The client the host's own checks and snapshots use (PEM_BASES.etcdHealthcheckClient). */
    healthcheckClientCert: "/etc/etcd/pki/healthcheck-client.crt",
    healthcheckClientKey: "/etc/etcd/pki/healthcheck-client.key",
    dataDir: "/var/lib/etcd",
} as const;

export const CONTAINERD_FILES = {
    dir: "/etc/containerd",
    config: "/etc/containerd/config.toml",
    root: "/var/lib/containerd",
    state: "/run/containerd",
    certsDir: "/etc/containerd/certs.d",
    socket: "/run/containerd/containerd.sock",
} as const;

/** `/etc/containerd/certs.d/<registry>/hosts.toml`: where containerd looks up a registry's hosts. */
export function containerdHostsTomlPath(registry: string): string {
    return `${CONTAINERD_FILES.certsDir}/${registry}/hosts.toml`;
}

export const LB_FILES = {
    haproxyConfig: "/etc/haproxy/haproxy.cfg",
    haproxyStatsSocket: "/run/haproxy/admin.sock",
    haproxyRunDir: "/run/haproxy",
    keepalivedConfig: "/etc/keepalived/keepalived.conf",
    keepalivedCheckScript: "/etc/keepalived/check-haproxy.sh",
    keepalivedDropIn: dropInPath("keepalived"),
} as const;

export const REGISTRY_FILES = {
    config: "/etc/docker/registry/config.yml",
    tlsCert: "/etc/docker/registry/tls/registry.crt",
    tlsKey: "/etc/docker/registry/tls/registry.key",
    tlsDir: "/etc/docker/registry/tls",
    /** The push endpoint's config and its user's htpasswd entry (preloaded mode). */
    pushConfig: "/etc/docker/registry/push.yml",
    pushHtpasswd: "/etc/docker/registry/htpasswd",
    /** The cluster CA, for clients of the registry on this host. */
    tlsCa: "/etc/docker/registry/tls/ca.crt",
    storageDir: "/var/lib/docker-registry",
} as const;

/** The operating-system settings every host gets (Node's os step). */
export const OS_FILES = {
    /** The hosts block os.sh writes into /etc/hosts. */
    hostsBlock: "/etc/k8s-ha/hosts",
    sysctl: "/etc/sysctl.d/90-k8s-ha.conf",
    modules: "/etc/modules-load.d/k8s-ha.conf",
    chrony: "/etc/chrony/chrony.conf",
    /** `CIDR VIA` per other worker: the routes to their pod networks (runtime.sh). */
    podRoutes: "/etc/k8s-ha/pod-routes",
} as const;

/** The systemd units k8s-ha runs or configures, by unit name. */
export const UNITS = {
    kubeApiserver: "kube-apiserver",
    kubeControllerManager: "kube-controller-manager",
    kubeScheduler: "kube-scheduler",
    kubelet: "kubelet",
    kubeProxy: "kube-proxy",
    containerd: "containerd",
    podRoutes: "k8s-ha-pod-routes",
    etcd: "etcd",
    haproxy: "haproxy",
    keepalived: "keepalived",
    registry: "docker-registry",
    firewall: "k8s-ha-firewall",
} as const;

/** The kubelet's and kube-proxy's working folders and the pods' logs (removed with the worker). */
export const KUBELET_FILES = {
    dir: "/var/lib/kubelet",
    /** The serving certificates the kubelet made itself, which kubelet.sh removes (it is given its own). */
    pkiDir: "/var/lib/kubelet/pki",
    kubeProxyDir: "/var/lib/kube-proxy",
    podLogs: "/var/log/pods",
    containerLogs: "/var/log/containers",
} as const;

/** Where the firewall's rules live on a host, and the unit that loads them. */
export const FIREWALL_FILES = {
    rules: "/etc/k8s-ha/firewall.nft",
    unit: unitPath(UNITS.firewall),
} as const;

export const NFS_FILES = {
    exportsDir: "/etc/exports.d",
    exports: "/etc/exports.d/k8s-ha.exports",
} as const;

/** Where the kubelet serving certificates' approver was, on control-plane hosts of earlier releases: controlplane.sh removes it. */
export const CSR_APPROVER_FILES = {
    dir: "/etc/k8s-ha/csr-approver",
    libDir: "/usr/local/lib/k8s-ha/csr-approver",
    kubeconfig: "/etc/k8s-ha/csr-approver/kubeconfig",
    /** `NAME ADDRESS` per node: the names and addresses a node's serving certificate may have. */
    nodes: "/etc/k8s-ha/csr-approver/nodes",
    script: "/usr/local/lib/k8s-ha/csr-approver/approve.sh",
    unit: "k8s-ha-csr-approver",
} as const;

/**
 * etcd's snapshots. Every copy k8s-ha keeps is in `storeDir` (root:root 0700, outside every export,
 * never a symlink): on each member the snapshot its delete takes, and on the backup host (the NFS
 * server) the scheduled snapshots the members send it, encrypted and signed, with their manifest.
 */
export const ETCD_BACKUP_FILES = {
    /** On each member, the snapshots its delete takes; on the backup host, everything it keeps. */
    storeDir: "/var/backups/k8s-ha/etcd",
    /** On the backup host: `NAME SHA256 SIGNATURE` per scheduled snapshot kept, in `storeDir`. */
    manifest: "/var/backups/k8s-ha/etcd/manifest",
    /** Where releases before the members took the snapshots kept them, under the NFS export: read and written no more. */
    legacyExportSubdir: "k8s-ha-backups/etcd",
    /** The backup host's settings (HOST, DIR, KEEP) and the public key the snapshots' signatures verify with. */
    env: "/etc/k8s-ha/etcd-backup.env",
    verifyKey: "/etc/k8s-ha/etcd-backup/verify.pem",
    /** The backup host's side: receives a member's snapshot (the forced command of its SSH key), lists and sends them. */
    libDir: "/usr/local/lib/k8s-ha/etcd-backup",
    storeScript: "/usr/local/lib/k8s-ha/etcd-backup/store.sh",
    /** The line the step keeps in its SSH user's authorized_keys (a member's key may log in with it), ending in `authorizedKeyComment`. */
    authorizedKey: "/etc/k8s-ha/etcd-backup/authorized_key",
    authorizedKeyComment: "k8s-ha-etcd-backup",
    /** The timer and service of releases that took the snapshots on the backup host: pruned. */
    legacyUnit: "k8s-ha-etcd-backup",
} as const;

/** On each etcd member: what its scheduled snapshot needs (the member's own etcdctl and health-check client). */
export const ETCD_SNAPSHOT_FILES = {
    env: "/etc/k8s-ha/etcd-snapshot.env",
    /** The stack's encryption passphrase (openssl enc -pass file:), the signing key, the SSH key to the backup host and its host key. */
    encryptionKey: "/etc/k8s-ha/etcd-snapshot/encryption.key",
    signingKey: "/etc/k8s-ha/etcd-snapshot/signing.key",
    sshKey: "/etc/k8s-ha/etcd-snapshot/ssh.key",
    knownHosts: "/etc/k8s-ha/etcd-snapshot/known_hosts",
    script: "/usr/local/lib/k8s-ha/etcd-snapshot/snapshot.sh",
    unit: "k8s-ha-etcd-snapshot",
} as const;
