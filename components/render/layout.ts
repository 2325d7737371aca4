/**
 * The host layout for bash: paths.ts's paths and unit names, and the ports the host scripts talk
 * to, as readonly variables that the runner puts at the head of the host library (hostLib), so
 * that scripts/host spells none of them (test/layout.test.ts). The same text on every host and in
 * every stack: nothing here comes from settings, so the library's hash stays one per release.
 */
import { APISERVER_PORT } from "./controlplane";
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT } from "./etcd";
import { FIREWALL_PORTS } from "./firewall";
import {
    BIN_DIR,
    BINARIES,
    CNI_BIN_DIR,
    CNI_CONF_DIR,
    CNI_CONFLIST_PATH,
    CNI_DIRS,
    CONTAINERD_FILES,
    CSR_APPROVER_FILES,
    ETCD_BACKUP_FILES,
    ETCD_FILES,
    ETCD_SNAPSHOT_FILES,
    FIREWALL_FILES,
    HA_DIRS,
    K8S_FILES,
    K8S_PKI,
    KUBELET_FILES,
    LB_FILES,
    NFS_FILES,
    OS_FILES,
    PEM_BASES,
    REGISTRY_FILES,
    RUNC_PATH,
    SYSTEM_BINARIES,
    SYSTEM_FILES,
    SYSTEMD_DIR,
    UNITS,
} from "./paths";

/** Ports the daemons listen on by their own defaults, which the host scripts' health checks ask. */
export const DAEMON_PORTS = {
    /** kube-controller-manager's and kube-scheduler's --secure-port defaults (/healthz). */
    kubeControllerManager: 10257,
    kubeScheduler: 10259,
    /** The kubelet's healthz (--healthz-port default, on 127.0.0.1). */
    kubeletHealthz: 10248,
} as const;

/** The ports a host script may need: the program's own and the daemons' defaults. */
export const HOST_PORTS = {
    apiserver: APISERVER_PORT,
    etcdClient: ETCD_CLIENT_PORT,
    etcdPeer: ETCD_PEER_PORT,
    kubelet: Number(FIREWALL_PORTS.kubelet),
    ...DAEMON_PORTS,
} as const;

/** Each group of the layout and the prefix of its variables' names (`K8S_PKI.caCert` is `K8S_PKI_CA_CERT`). */
const GROUPS: readonly (readonly [string, Readonly<Record<string, string | number>>])[] = [
    ["HA", HA_DIRS],
    ["SYSTEM", SYSTEM_FILES],
    ["SYSTEM_BIN", SYSTEM_BINARIES],
    ["BIN", BINARIES],
    ["CNI", CNI_DIRS],
    ["K8S_PKI", K8S_PKI],
    ["PEM", PEM_BASES],
    ["K8S", K8S_FILES],
    ["KUBELET", KUBELET_FILES],
    ["ETCD", ETCD_FILES],
    ["CONTAINERD", CONTAINERD_FILES],
    ["LB", LB_FILES],
    ["REGISTRY", REGISTRY_FILES],
    ["OS", OS_FILES],
    ["UNIT", UNITS],
    ["FIREWALL", FIREWALL_FILES],
    ["NFS", NFS_FILES],
    ["CSR_APPROVER", CSR_APPROVER_FILES],
    ["ETCD_BACKUP", ETCD_BACKUP_FILES],
    ["ETCD_SNAPSHOT", ETCD_SNAPSHOT_FILES],
    ["PORT", HOST_PORTS],
];

/** paths.ts's single constants, by the name they have there. */
const SINGLES: Readonly<Record<string, string>> = { SYSTEMD_DIR, BIN_DIR, RUNC_PATH, CNI_BIN_DIR, CNI_CONF_DIR, CNI_CONFLIST_PATH };

/** `caCert` → `CA_CERT`. */
function snake(key: string): string {
    return key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Every variable of the layout, by name, in the order of the generated file. */
export function hostLayout(): Map<string, string> {
    const vars = new Map<string, string>();
    const add = (name: string, value: string | number) => {
        if (vars.has(name)) throw new Error(`host layout: ${name} is defined twice`);
        const text = String(value);
        if (!/^[A-Za-z0-9._/@:-]+$/.test(text)) throw new Error(`host layout: ${name}=${JSON.stringify(text)} needs quoting`);
        vars.set(name, text);
    };
    for (const [name, value] of Object.entries(SINGLES)) add(name, value);
    for (const [prefix, group] of GROUPS) for (const [key, value] of Object.entries(group)) add(`${prefix}_${snake(key)}`, value);
    return vars;
}

/**
 * The layout as bash: one `readonly NAME=VALUE` line per variable. Values are plain words (checked
 * above), so no quoting is needed and the text is the same wherever it is rendered.
 */
export function renderHostLayout(): string {
    return [...hostLayout()].map(([name, value]) => `readonly ${name}=${value}`).join("\n") + "\n";
}
