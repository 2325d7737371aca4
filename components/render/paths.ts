/**
 * The fixed file layout on every host. The renderers put these paths into flags and config files;
 * the host scripts install files at the same paths. Change a path only together with the scripts.
 */

export const BIN_DIR = "/usr/local/bin";
export const RUNC_PATH = "/usr/local/sbin/runc";
export const CNI_BIN_DIR = "/opt/cni/bin";
export const CNI_CONF_DIR = "/etc/cni/net.d";
export const CNI_CONFLIST_PATH = "/etc/cni/net.d/10-k8s-ha.conflist";

/** Binaries under `BIN_DIR`. */
export const BINARIES = {
    etcd: `${BIN_DIR}/etcd`,
    etcdctl: `${BIN_DIR}/etcdctl`,
    kubeApiserver: `${BIN_DIR}/kube-apiserver`,
    kubeControllerManager: `${BIN_DIR}/kube-controller-manager`,
    kubeScheduler: `${BIN_DIR}/kube-scheduler`,
    kubelet: `${BIN_DIR}/kubelet`,
    kubeProxy: `${BIN_DIR}/kube-proxy`,
    containerd: `${BIN_DIR}/containerd`,
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
} as const;

/** Kubeconfigs and the component config files under /etc/kubernetes. */
export const K8S_FILES = {
    adminKubeconfig: "/etc/kubernetes/admin.kubeconfig",
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
} as const;

/** etcd's own PKI (a CA separate from the cluster CA) and data directory. */
export const ETCD_FILES = {
    caCert: "/etc/etcd/pki/ca.crt",
    serverCert: "/etc/etcd/pki/server.crt",
    serverKey: "/etc/etcd/pki/server.key",
    peerCert: "/etc/etcd/pki/peer.crt",
    peerKey: "/etc/etcd/pki/peer.key",
    dataDir: "/var/lib/etcd",
} as const;

export const CONTAINERD_FILES = {
    config: "/etc/containerd/config.toml",
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
    keepalivedConfig: "/etc/keepalived/keepalived.conf",
    keepalivedCheckScript: "/etc/keepalived/check-haproxy.sh",
} as const;

export const REGISTRY_FILES = {
    config: "/etc/docker/registry/config.yml",
    tlsCert: "/etc/docker/registry/tls/registry.crt",
    tlsKey: "/etc/docker/registry/tls/registry.key",
    storageDir: "/var/lib/docker-registry",
} as const;

export const NFS_FILES = {
    exports: "/etc/exports.d/k8s-ha.exports",
} as const;

/** etcd's snapshots: a member's own (taken before its delete) and the scheduled ones on the backup host. */
/** The kubelet serving certificates' approver on each control-plane host (csr-approver.sh). */
export const CSR_APPROVER_FILES = {
    kubeconfig: "/etc/k8s-ha/csr-approver/kubeconfig",
    /** `NAME ADDRESS` per node: the names and addresses a node's serving certificate may have. */
    nodes: "/etc/k8s-ha/csr-approver/nodes",
    script: "/usr/local/lib/k8s-ha/csr-approver/approve.sh",
    unit: "k8s-ha-csr-approver",
} as const;

export const ETCD_BACKUP_FILES = {
    /** On each member: the snapshot a delete takes before the data goes. */
    memberDir: "/var/backups/k8s-ha/etcd",
    /** Under the NFS export: the scheduled snapshots and the copies of the members' own. */
    exportSubdir: "k8s-ha-backups/etcd",
    caCert: "/etc/k8s-ha/etcd-backup/ca.crt",
    clientCert: "/etc/k8s-ha/etcd-backup/client.crt",
    clientKey: "/etc/k8s-ha/etcd-backup/client.key",
    env: "/etc/k8s-ha/etcd-backup.env",
    /** The snapshot script the timer's service runs, and etcdctl and etcdutl beside it. */
    libDir: "/usr/local/lib/k8s-ha/etcd-backup",
    script: "/usr/local/lib/k8s-ha/etcd-backup/snapshot.sh",
    unit: "k8s-ha-etcd-backup",
} as const;

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
