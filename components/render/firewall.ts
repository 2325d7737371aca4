/**
 * The host firewall: one nftables table, `inet k8s_ha`, with an input allow-list made from the
 * host's roles (`/etc/k8s-ha/firewall.nft`, loaded by `k8s-ha-firewall.service`).
 *
 * The input hook is an allow-list. On workers a forward chain drops what pods send to the NFS
 * server's ports and a preloaded mirror's push port (podGuard); every other forwarded packet (pods
 * to pods, services, NodePorts DNATed to pods) and everything the host sends are left alone. The
 * table is k8s-ha's own: kube-proxy's rules, Docker's or the operator's live in other tables and
 * are never flushed.
 */
import { HAPROXY_STATS } from "./haproxy";
import { FIREWALL_FILES, SYSTEM_BINARIES } from "./paths";
import { renderServiceUnit } from "./systemd";
import { compareStrings, isIpv4, joinLines, requireCidr, requireInt, requireToken } from "./text";


/** Who may reach a port: `any`, or IPv4 addresses and CIDRs. */
export type FirewallSources = "any" | readonly string[];

export interface FirewallRule {
    /** Why the port is open; it becomes the rule's comment (letters, digits, spaces and `-,.()/:`). */
    comment: string;
    protocol: "tcp" | "udp" | "vrrp";
    /** A port or a range `low-high` (tcp and udp). */
    ports?: string;
    from: FirewallSources;
    /** IPv4 addresses or CIDRs refused within `from` (the cluster's own hosts on an operator-only port). Default: none. */
    except?: readonly string[];
}

export interface FirewallParams {
    /** The host's name, in the file's header. */
    host: string;
    /** The SSH port the host is reached on. */
    sshPort: number;
    /** Who may connect to SSH (IPv4 and IPv6 `any` when `any`). */
    sshFrom: FirewallSources;
    rules: readonly FirewallRule[];
    /** Workers only: what the host's pods may not reach. Default: no forward chain. */
    podGuard?: PodGuard;
}

/** A destination pods may not reach, whatever its own firewall says. */
export interface PodBlock {
    /** Why; it becomes the rule's comment (FIREWALL_COMMENT_RE). */
    comment: string;
    /** The destination host's IPv4 address. */
    address: string;
    /** Whether the address is this host's own: then pods reach it through the input hook, not forward. */
    local: boolean;
    protocols: readonly ("tcp" | "udp")[];
    ports: readonly number[];
}

/**
 * Pods' traffic leaves a worker masqueraded to the worker's address, which the NFS export and the
 * mirror's push port admit. It is matched before that, on the forward hook (the pod's own source
 * address; after kube-proxy's DNAT, so a Service pointing at the host is caught too), and dropped:
 * a drop in any base chain is final, whatever kube-proxy's chains accept.
 */
export interface PodGuard {
    /** The cluster's pod CIDR (every worker's pod CIDR is inside it). */
    podCidr: string;
    blocks: readonly PodBlock[];
}

const SOURCE_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(\/([0-9]|[12]\d|3[0-2]))?$/;
/** What a rule's comment may hold: nothing nft would need escaped inside its quotes. */
export const FIREWALL_COMMENT_RE = /^[A-Za-z0-9 ,.()/:-]+$/;

function ports(r: FirewallRule): string {
    const p = r.ports ?? "";
    const m = /^(\d+)(-(\d+))?$/.exec(p);
    if (!m) throw new Error(`firewall: rule "${r.comment}" needs ports as N or N-M, got "${p}"`);
    const low = Number(m[1]);
    const high = m[3] === undefined ? low : Number(m[3]);
    requireInt(low, 1, 65535, `firewall: port of "${r.comment}"`);
    requireInt(high, low, 65535, `firewall: port range end of "${r.comment}"`);
    return low === high ? String(low) : `${low}-${high}`;
}

/** `ip saddr { a, b }`, sorted and without repeats, or nothing for `any`. */
function sources(from: FirewallSources, what: string): string {
    if (from === "any") return "";
    if (from.length === 0) throw new Error(`firewall: ${what} has no sources; leave the rule out instead`);
    for (const s of from) {
        if (!SOURCE_RE.test(s)) throw new Error(`firewall: ${what}: "${s}" is not an IPv4 address or CIDR`);
    }
    const list = [...new Set(from)].sort(compareStrings);
    return `ip saddr { ${list.join(", ")} } `;
}

function ruleLine(r: FirewallRule): string {
    if (!FIREWALL_COMMENT_RE.test(r.comment)) throw new Error(`firewall: comment "${r.comment}" has characters nft would need quoted`);
    const except = r.except && r.except.length > 0 ? sources(r.except, `rule "${r.comment}" (except)`).replace(/^ip saddr /, "ip saddr != ") : "";
    const src = `${sources(r.from, `rule "${r.comment}"`)}${except}`;
    const comment = `comment "${r.comment}"`;
    if (r.protocol === "vrrp") {
        if (r.ports !== undefined) throw new Error(`firewall: rule "${r.comment}": VRRP has no ports`);
        return `${src}ip protocol vrrp accept ${comment}`;
    }
    return `${src}${r.protocol} dport ${ports(r)} accept ${comment}`;
}

/** The SSH rule every host's table opens first: `sshFrom` on `sshPort`. */
function sshRule(p: FirewallParams): FirewallRule {
    return { comment: "ssh", protocol: "tcp", ports: String(p.sshPort), from: p.sshFrom };
}

/** The match of a block's protocols and ports (`tcp dport 5001`, `meta l4proto { tcp, udp } th dport { 111, 2049 }`). */
function blockMatch(b: PodBlock): string {
    if (!FIREWALL_COMMENT_RE.test(b.comment)) throw new Error(`firewall: comment "${b.comment}" has characters nft would need quoted`);
    if (!isIpv4(b.address)) throw new Error(`firewall: pod block "${b.comment}": "${b.address}" is not an IPv4 address`);
    const protocols = [...new Set(b.protocols)].sort(compareStrings);
    const ports = [...new Set(b.ports)].sort((x, y) => x - y);
    if (protocols.length === 0 || ports.length === 0) throw new Error(`firewall: pod block "${b.comment}" needs protocols and ports`);
    for (const port of ports) requireInt(port, 1, 65535, `firewall: port of pod block "${b.comment}"`);
    const set = (xs: readonly (string | number)[]) => (xs.length === 1 ? String(xs[0]) : `{ ${xs.join(", ")} }`);
    return protocols.length === 1 ? `${protocols[0]} dport ${set(ports)}` : `meta l4proto ${set(protocols)} th dport ${set(ports)}`;
}

/** The drops of the forward chain (every block) and of the input chain (the host's own services). */
function podGuardLines(g: PodGuard): { forward: string[]; input: string[] } {
    requireCidr(g.podCidr, "firewall podCidr");
    const from = `ip saddr ${g.podCidr}`;
    const forward = g.blocks.filter((b) => !b.local).map((b) => `${from} ip daddr ${b.address} ${blockMatch(b)} drop comment "${b.comment}"`);
    // Any destination address: a pod reaches its host on the host's address and on the bridge's.
    const input = g.blocks.filter((b) => b.local).map((b) => `${from} ${blockMatch(b)} drop comment "${b.comment}"`);
    return { forward, input };
}

/**
 * The nft script. It replaces the whole table in one transaction (create it empty, delete it,
 * define it), so a reload never leaves the host open or shut, and established connections (the
 * SSH session applying it) survive. What no rule allows is rejected, not silently dropped: a
 * refused client is told at once (TCP reset, ICMP administratively prohibited).
 */
export function renderFirewall(p: FirewallParams): string {
    requireToken(p.host, "firewall host");
    requireInt(p.sshPort, 1, 65535, "firewall sshPort");
    const ssh = sshRule(p);
    // A rule open to `any` matches IPv4 and IPv6 alike (the table is `inet`); one with sources,
    // IPv4 only (the allow-lists are IPv4, as the cluster is).
    const rules = [ssh, ...p.rules].map(ruleLine);
    const guard = p.podGuard ? podGuardLines(p.podGuard) : { forward: [], input: [] };
    const body = [
        // First, before the established connections: a pod's connection open before the reload ends too.
        ...guard.input,
        'iif "lo" accept',
        "ct state established,related accept",
        "ct state invalid drop",
        'meta l4proto icmp accept comment "ping, path MTU, unreachable"',
        'meta l4proto ipv6-icmp accept comment "neighbour discovery"',
        'udp sport 67 udp dport 68 accept comment "DHCP replies"',
        ...rules,
        "meta l4proto tcp reject with tcp reset",
        "reject with icmpx admin-prohibited",
    ];
    return joinLines([
        `#!${SYSTEM_BINARIES.nft} -f`,
        `# Rendered by k8s-ha for ${p.host}: what may reach this host. Changes here are overwritten.`,
        "table inet k8s_ha",
        "delete table inet k8s_ha",
        "table inet k8s_ha {",
        "    chain input {",
        "        type filter hook input priority filter; policy drop;",
        ...body.map((l) => `        ${l}`),
        "    }",
        ...(guard.forward.length > 0
            ? [
                  "    chain forward {",
                  // Accept: only the drops below are this table's business; kube-proxy's and the CNI's chains decide the rest.
                  "        type filter hook forward priority filter; policy accept;",
                  ...guard.forward.map((l) => `        ${l}`),
                  "    }",
              ]
            : []),
        "}",
    ]);
}

/** What the firewall rules need to know of the cluster: plain values, no Pulumi. */
export interface FirewallTopology {
    hosts: readonly { name: string; address: string; roles: readonly string[] }[];
    /** The cluster's pod CIDR: the sources the workers' pod guard matches. */
    podCidr: string;
    apiPort: number;
    mirrorPort: number;
    /** A preloaded mirror's push endpoint and who may reach it. */
    mirrorPush?: { port: number; from: readonly string[]; except?: readonly string[] };
    /** Who may mount the NFS export. */
    nfsClients: readonly string[];
    /**
     * On the NFS server, with scheduled etcd snapshots: its SSH port, which the etcd members send
     * their snapshots to, and their addresses. Default: no such opening.
     */
    etcdSnapshots?: { sshPort: number; from: readonly string[] };
    /** Operator-given openings, each for the hosts of some roles (all when `roles` is empty). */
    allow: readonly (FirewallRule & { roles: readonly string[] })[];
}

/** Ports the kubelet, the API and NodePorts use. */
export const FIREWALL_PORTS = {
    etcd: "2379-2380",
    etcdClient: "2379",
    kubelet: "10250",
    nodePorts: "30000-32767",
    nfs: "2049",
} as const;

/**
 * The openings of one host, from its roles: etcd (client and peer) only from etcd and control-plane
 * hosts; the NFS server's SSH port from the etcd members, which send it their snapshots; the kubelet only from control-plane hosts (the apiserver's exec, logs and port-forward);
 * the API from anywhere (it authenticates every request); VRRP only from the other lb host, and
 * HAProxy's stats only from control-plane hosts (their steps wait there for their apiserver); the
 * registry only from workers (the nodes that pull); NFS only from the export's clients; NodePorts
 * from anywhere.
 */
export function firewallRules(host: string, t: FirewallTopology): FirewallRule[] {
    const me = t.hosts.find((h) => h.name === host);
    if (!me) throw new Error(`firewall: no host ${host}`);
    const has = (role: string) => me.roles.includes(role);
    const addressesOf = (...roles: string[]) => t.hosts.filter((h) => roles.some((r) => h.roles.includes(r))).map((h) => h.address);
    const rules: FirewallRule[] = [];
    if (has("etcd")) {
        const members = addressesOf("etcd", "control-plane");
        rules.push({ comment: "etcd clients and peers", protocol: "tcp", ports: FIREWALL_PORTS.etcd, from: members });
    }
    if (has("control-plane") || has("lb")) {
        rules.push({ comment: "Kubernetes API", protocol: "tcp", ports: String(t.apiPort), from: "any" });
    }
    if (has("lb")) {
        const peers = t.hosts.filter((h) => h.name !== host && h.roles.includes("lb")).map((h) => h.address);
        if (peers.length > 0) rules.push({ comment: "VRRP from the other lb host", protocol: "vrrp", from: peers });
        const cps = addressesOf("control-plane");
        if (cps.length > 0) rules.push({ comment: "HAProxy stats, for the control-plane roll", protocol: "tcp", ports: String(HAPROXY_STATS.port), from: cps });
    }
    if (has("worker")) {
        const cps = addressesOf("control-plane");
        if (cps.length > 0) rules.push({ comment: "kubelet, from the apiservers", protocol: "tcp", ports: FIREWALL_PORTS.kubelet, from: cps });
        rules.push({ comment: "NodePorts", protocol: "tcp", ports: FIREWALL_PORTS.nodePorts, from: "any" });
        rules.push({ comment: "NodePorts", protocol: "udp", ports: FIREWALL_PORTS.nodePorts, from: "any" });
    }
    if (has("mirror")) {
        const workers = addressesOf("worker");
        if (workers.length > 0) rules.push({ comment: "image mirror, for the nodes", protocol: "tcp", ports: String(t.mirrorPort), from: workers });
        if (t.mirrorPush && t.mirrorPush.from.length > 0) {
            const except = t.mirrorPush.except ?? [];
            rules.push({ comment: "image mirror pushes (with credentials)", protocol: "tcp", ports: String(t.mirrorPush.port), from: t.mirrorPush.from, ...(except.length > 0 ? { except } : {}) });
        }
    }
    if (has("nfs") && t.nfsClients.length > 0) {
        rules.push({ comment: "NFSv4, for the export clients", protocol: "tcp", ports: FIREWALL_PORTS.nfs, from: t.nfsClients });
    }
    if (has("nfs") && t.etcdSnapshots && t.etcdSnapshots.from.length > 0) {
        rules.push({ comment: "SSH from the etcd members, for their encrypted snapshots", protocol: "tcp", ports: String(t.etcdSnapshots.sshPort), from: t.etcdSnapshots.from });
    }
    for (const a of t.allow) {
        if (a.roles.length === 0 || a.roles.some(has)) rules.push({ comment: a.comment, protocol: a.protocol, ports: a.ports, from: a.from });
    }
    return rules;
}

/**
 * The NFS server's ports pods may not reach, TCP and UDP: NFS 2049 and rpcbind 111. Not the whole
 * host: it may hold other roles whose ports pods use (the API, the mirror's pull port, NodePorts),
 * and its own allow-list refuses the rest. 111 though that list refuses it: an operator opening
 * (`firewall.allow`) may let NFSv3's rpcbind in.
 */
export const POD_BLOCKED_NFS_PORTS: readonly number[] = [111, 2049];

/**
 * A worker's pod guard: its pods may not reach the NFS servers' ports (the export trusts AUTH_SYS
 * from the workers' addresses, which pods' traffic leaves with) nor a preloaded mirror's push port
 * (`pushFrom` defaults to the node network). Undefined on a host without the worker role.
 */
export function firewallPodGuard(host: string, t: FirewallTopology): PodGuard | undefined {
    const me = t.hosts.find((h) => h.name === host);
    if (!me) throw new Error(`firewall: no host ${host}`);
    if (!me.roles.includes("worker")) return undefined;
    const blocks: PodBlock[] = [];
    for (const h of t.hosts.filter((x) => x.roles.includes("nfs"))) {
        blocks.push({ comment: `NFS on ${h.name}, not from pods`, address: h.address, local: h.name === host, protocols: ["tcp", "udp"], ports: POD_BLOCKED_NFS_PORTS });
    }
    if (t.mirrorPush) {
        for (const h of t.hosts.filter((x) => x.roles.includes("mirror"))) {
            blocks.push({ comment: `image mirror pushes on ${h.name}, not from pods`, address: h.address, local: h.name === host, protocols: ["tcp"], ports: [t.mirrorPush.port] });
        }
    }
    return blocks.length > 0 ? { podCidr: t.podCidr, blocks } : undefined;
}

/**
 * Who may open a TCP connection to each port the rules open, as the firewall step's guard reads it
 * (`K8SHA_FIREWALL_TCP`): `PORTS=SOURCE,SOURCE[!EXCEPT,EXCEPT]` entries separated by spaces, `any`
 * for every source (IPv6 included). The guard refuses to load rules that would shut out the SSH
 * client the step runs over.
 */
export function firewallTcpOpenings(p: FirewallParams): string {
    const ssh = sshRule(p);
    return [ssh, ...p.rules]
        .filter((r) => r.protocol === "tcp")
        .map((r) => {
            const from = r.from === "any" ? "any" : [...r.from].join(",");
            const except = r.except && r.except.length > 0 ? `!${r.except.join(",")}` : "";
            return `${ports(r)}=${from}${except}`;
        })
        .join(" ");
}

/**
 * `k8s-ha-firewall.service`: loads the rules at boot before the network comes up (so no daemon is
 * reachable unfiltered), reloads them atomically, and removes the table when stopped.
 */
export function renderFirewallUnit(): string {
    const load = { path: SYSTEM_BINARIES.nft, args: ["-f", FIREWALL_FILES.rules] };
    return renderServiceUnit({
        description: "Host firewall of k8s-ha (nftables table inet k8s_ha)",
        wants: ["network-pre.target"],
        // Like Debian's own nftables.service: early, without the default ordering after basic.target.
        before: ["network-pre.target"],
        defaultDependencies: false,
        type: "oneshot",
        remainAfterExit: true,
        execStart: [load],
        execReload: [load],
        execStop: [{ path: SYSTEM_BINARIES.nft, args: ["delete", "table", "inet", "k8s_ha"], ignoreFailure: true }],
    });
}
