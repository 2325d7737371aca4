/**
 * Operating-system files every host gets: the managed block of /etc/hosts, the sysctls and
 * kernel modules Kubernetes networking needs, chrony's config, and the static routes to the
 * other nodes' pod networks.
 */
import { SYSTEM_BINARIES, SYSTEM_FILES } from "./paths";
import { renderServiceUnit, type UnitCommand } from "./systemd";
import { byName, compareStrings, joinLines, requireAbsolutePath, requireCidr, requireInt, requireIpv4, requireToken, requireUnique } from "./text";

export const HOSTS_BLOCK_BEGIN = "# BEGIN k8s-ha managed hosts";
export const HOSTS_BLOCK_END = "# END k8s-ha managed hosts";

export interface HostEntry {
    name: string;
    address: string;
}

/**
 * The /etc/hosts block between the markers, one `address name` line per host sorted by name, so
 * hosts resolve the cluster's names without DNS. Ends with a newline.
 */
/**
 * The hosts a host's /etc/hosts block names: every host with a role besides worker (control
 * planes, etcd members, load balancers, the mirror, the NFS server) and the host itself. Nothing
 * reaches a worker by its name: pods by their routes, the apiserver by the kubelet's InternalIP
 * (`--node-ip`, preferred over Hostname). Leaving the other workers out keeps every block the same
 * size as the cluster grows (with 1,000 hosts, 1,000 blocks of 1,000 lines were the largest part
 * of a preview's memory), and a worker joins or leaves without a change to any other host's OS step.
 */
export function hostsBlockEntries<T extends HostEntry & { roles: readonly string[] }>(self: string, hosts: readonly T[]): T[] {
    return hosts.filter((h) => h.name === self || h.roles.some((r) => r !== "worker"));
}

export function renderHostsBlock(hosts: readonly HostEntry[]): string {
    for (const h of hosts) {
        requireToken(h.name, "hosts name");
        requireIpv4(h.address, `hosts "${h.name}" address`);
    }
    requireUnique(
        hosts.map((h) => h.name),
        "hosts name",
    );
    return joinLines([HOSTS_BLOCK_BEGIN, ...byName(hosts).map((h) => `${h.address} ${h.name}`), HOSTS_BLOCK_END]);
}

/**
 * Puts `block` into an /etc/hosts text: replaces the lines from the begin marker to the end
 * marker if present, else appends it. Everything outside the markers is kept byte for byte, so a
 * second run with the same block returns the same text.
 */
export function replaceHostsBlock(existing: string, block: string): string {
    const lines = existing.split("\n");
    const begin = lines.indexOf(HOSTS_BLOCK_BEGIN);
    const end = begin >= 0 ? lines.indexOf(HOSTS_BLOCK_END, begin) : -1;
    const blockLines = block.replace(/\n$/, "").split("\n");
    if (begin >= 0 && end > begin) {
        return [...lines.slice(0, begin), ...blockLines, ...lines.slice(end + 1)].join("\n");
    }
    const base = existing === "" || existing.endsWith("\n") ? existing : existing + "\n";
    return base + block;
}

/**
 * `/etc/sysctl.d/99-k8s-ha.conf`: forwarding on (nodes route pod traffic), and bridged traffic
 * through iptables so kube-proxy's rules see pod-to-service traffic on the CNI bridge. The
 * bridge keys exist only once `br_netfilter` is loaded (see `renderModulesLoad`).
 */
export function renderSysctlConf(p: { kubeletKernelDefaults?: boolean } = {}): string {
    return joinLines([
        "# Rendered by k8s-ha. Changes here are overwritten.",
        "net.ipv4.ip_forward = 1",
        "net.bridge.bridge-nf-call-iptables = 1",
        "net.bridge.bridge-nf-call-ip6tables = 1",
        ...(p.kubeletKernelDefaults ? Object.entries(KUBELET_KERNEL_DEFAULTS).map(([k, v]) => `${k} = ${v}`) : []),
    ]);
}

/**
 * The kernel tunables the kubelet expects (it would set them itself; with
 * `protectKernelDefaults: true` it refuses to start unless they already hold): memory
 * overcommit for pods' accounting, a reboot 10 s after a panic, a panic on an oops, and room for
 * the session keyrings every container gets. Set on workers by the OS step.
 */
export const KUBELET_KERNEL_DEFAULTS: Readonly<Record<string, number>> = {
    "vm.overcommit_memory": 1,
    "vm.panic_on_oom": 0,
    "kernel.panic": 10,
    "kernel.panic_on_oops": 1,
    "kernel.keys.root_maxkeys": 1000000,
    "kernel.keys.root_maxbytes": 25000000,
};

/** `/etc/modules-load.d/k8s-ha.conf`: `overlay` for containerd's snapshotter, `br_netfilter` for the sysctls above. */
export function renderModulesLoad(): string {
    return joinLines(["# Rendered by k8s-ha. Changes here are overwritten.", "overlay", "br_netfilter"]);
}

export interface ChronyParams {
    /** NTP servers or pools, polled in `iburst` mode. Order is kept (it does not affect selection). */
    servers: readonly string[];
    /** Networks allowed to query this host's chronyd as a server, e.g. the node network. Default: none. */
    allow?: readonly string[];
    /**
     * Serve this host's clock at this stratum even when it has no synchronised source (`local
     * stratum N`). For an isolated network: give it to one host, list that host as the others'
     * server and `allow` the node network there.
     */
    localStratum?: number;
    /** Default `/var/lib/chrony/chrony.drift` (Debian's path). */
    driftFile?: string;
}

/**
 * chrony.conf (`/etc/chrony/chrony.conf` on Debian). TLS certificates and VRRP need agreeing
 * clocks. `makestep 1 3` steps a clock that is more than 1 s off during the first three updates
 * (a host booted with a wrong clock is fixed at once, later it only slews); `rtcsync` keeps the
 * hardware clock in step.
 *
 * With no servers and no `localStratum` the file has no time source at all and says so: chronyd
 * then only keeps the drift it knows. `local stratum` is not added by default, because every host
 * claiming to be a time source to the others would make all of them agree on nothing.
 */
export function renderChronyConf(p: ChronyParams): string {
    for (const s of p.servers) {
        if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(s) && !/^[0-9a-fA-F:]+$/.test(s)) {
            throw new Error(`chrony: server "${s}" is not a host name or address`);
        }
    }
    requireUnique(p.servers, "chrony server");
    for (const a of p.allow ?? []) {
        requireCidr(a, "chrony allow");
    }
    if (p.localStratum !== undefined) {
        requireInt(p.localStratum, 1, 15, "chrony localStratum");
    }
    const drift = p.driftFile ?? SYSTEM_FILES.chronyDrift;
    requireAbsolutePath(drift, "chrony driftFile");
    const lines = ["# Rendered by k8s-ha. Changes here are overwritten."];
    if (p.servers.length === 0) {
        lines.push("# No time servers configured (k8s-ha:ntpServers is empty).");
    }
    lines.push(...p.servers.map((s) => `server ${s} iburst`));
    lines.push(`driftfile ${drift}`, "makestep 1 3", "rtcsync");
    lines.push(...(p.allow ?? []).map((a) => `allow ${a}`));
    if (p.localStratum !== undefined) {
        lines.push(`local stratum ${p.localStratum}`);
    }
    return joinLines(lines);
}

export interface PodRoute {
    /** Another node's pod CIDR. */
    podCidr: string;
    /** That node's address. */
    via: string;
}

export interface PodRoutesParams {
    routes: readonly PodRoute[];
    /** This host's address: a route via itself is left out, so every host can get the full list. */
    selfAddress?: string;
    /** Default `/usr/sbin/ip`. */
    ipPath?: string;
}

/**
 * `/etc/systemd/system/k8s-ha-pod-routes.service`: a oneshot that adds a route to each other
 * node's pod CIDR via that node (`ip route replace`, so re-running is harmless) at boot and
 * removes them on stop. All nodes must share one L2 network (the node network), which k8s-ha
 * requires anyway for the VIP. Routes are sorted by pod CIDR.
 */
export function renderPodRoutesUnit(p: PodRoutesParams): string {
    const ip = p.ipPath ?? SYSTEM_BINARIES.ip;
    requireAbsolutePath(ip, "pod routes ipPath");
    if (p.selfAddress !== undefined) {
        requireIpv4(p.selfAddress, "pod routes selfAddress");
    }
    for (const r of p.routes) {
        requireCidr(r.podCidr, "pod route podCidr");
        requireIpv4(r.via, `pod route ${r.podCidr} via`);
    }
    requireUnique(
        p.routes.map((r) => r.podCidr),
        "pod route podCidr",
    );
    const routes = p.routes.filter((r) => r.via !== p.selfAddress).sort((a, b) => compareStrings(a.podCidr, b.podCidr));
    const add: UnitCommand[] = routes.map((r) => ({ path: ip, args: ["route", "replace", r.podCidr, "via", r.via] }));
    const del: UnitCommand[] = routes.map((r) => ({ path: ip, args: ["route", "del", r.podCidr, "via", r.via], ignoreFailure: true }));
    return renderServiceUnit({
        description: "Routes to the other nodes' pod networks (k8s-ha)",
        wants: ["network-online.target"],
        after: ["network-online.target"],
        type: "oneshot",
        remainAfterExit: true,
        // A oneshot needs at least one ExecStart; a single-node cluster has no route to add.
        execStart: add.length > 0 ? add : [{ path: "/bin/true" }],
        execStop: del,
    });
}
