/**
 * Keepalived VRRP for the API VIP on the two LB hosts, its HAProxy check script, and the drop-in
 * that makes the packaged keepalived.service restart fast and never leave a stale VIP behind.
 *
 * Design: both instances start as BACKUP with `nopreempt`; the priorities only decide who wins
 * the first election. The check script has no `weight`, so when the local HAProxy dies the
 * instance goes to FAULT: it drops the VIP and stops advertising, and the peer takes over within
 * about three advert intervals whatever the priorities. Weights would not work with `nopreempt`
 * (a lowered master keeps the VIP because the backup may not preempt) and, without `nopreempt`, a
 * recovered host would take the VIP back, breaking connections a second time. With `nopreempt`
 * the VIP stays where it is until that host fails.
 */
import { LB_FILES, SYSTEM_BINARIES } from "./paths";
import { renderDropIn } from "./systemd";
import { isIpv4, joinLines, requireAbsolutePath, requireInt, requireIpv4, requireToken, requireUnique } from "./text";

export interface KeepalivedParams {
    /** This host's name (`router_id`, shown in logs). */
    hostName: string;
    /** The interface that carries the node network and gets the VIP, e.g. `eth0`. */
    interface: string;
    /** VRRP router id, 1-255; unique per VRRP group on the network segment. */
    virtualRouterId: number;
    /** 1-254 (255 is reserved for the owner of the address); the higher one wins the first election. */
    priority: number;
    vip: string;
    /** Prefix length of the node network, so the VIP gets the network's mask. */
    vipPrefixLength: number;
    /** This host's address: the source of the unicast adverts. */
    unicastSrcIp: string;
    /** The other LB host(s). Unicast, since multicast is often filtered between VMs and containers. */
    unicastPeers: readonly string[];
    /**
     * The advertisement interval in milliseconds, 10-1000 in steps of 10 (VRRPv3 counts in
     * centiseconds). The backup takes the VIP after about three intervals without an advert.
     */
    advertIntervalMs: number;
    /** Default `/etc/keepalived/check-haproxy.sh`. */
    checkScriptPath?: string;
}

/** `/etc/keepalived/keepalived.conf`. */
export function renderKeepalivedConfig(p: KeepalivedParams): string {
    requireToken(p.hostName, "keepalived hostName");
    requireToken(p.interface, "keepalived interface");
    requireInt(p.virtualRouterId, 1, 255, "keepalived virtualRouterId");
    requireInt(p.priority, 1, 254, "keepalived priority");
    requireIpv4(p.vip, "keepalived vip");
    requireInt(p.vipPrefixLength, 1, 32, "keepalived vipPrefixLength");
    requireIpv4(p.unicastSrcIp, "keepalived unicastSrcIp");
    if (p.unicastPeers.length === 0) {
        throw new Error("keepalived: unicastPeers is empty");
    }
    for (const peer of p.unicastPeers) {
        requireIpv4(peer, "keepalived unicastPeers");
        if (peer === p.unicastSrcIp || peer === p.vip) {
            throw new Error(`keepalived: unicast peer ${peer} is this host's own address or the VIP`);
        }
    }
    requireUnique(p.unicastPeers, "keepalived unicastPeers");
    if (p.vip === p.unicastSrcIp) {
        throw new Error("keepalived: vip equals unicastSrcIp");
    }
    requireAdvertIntervalMs(p.advertIntervalMs, "keepalived advertIntervalMs");
    const script = p.checkScriptPath ?? LB_FILES.keepalivedCheckScript;
    requireAbsolutePath(script, "keepalived checkScriptPath");
    const peers = [...p.unicastPeers].sort(compareIpv4);
    return joinLines([
        "# Rendered by k8s-ha. Changes here are overwritten.",
        "global_defs {",
        `    router_id ${p.hostName}`,
        // Scripts run as root but only if no one else can write them or their directories.
        "    enable_script_security",
        "    script_user root",
        // VRRPv3 (RFC 5798): intervals in centiseconds, so a failover can take well under a
        // second. It has no authentication; adverts count only from the peer's address (below).
        "    vrrp_version 3",
        "}",
        "",
        "vrrp_script chk_haproxy {",
        `    script "${script}"`,
        "    interval 1",
        "    timeout 1",
        "    fall 2",
        "    rise 2",
        "}",
        "",
        "vrrp_instance k8s_api {",
        "    state BACKUP",
        "    nopreempt",
        `    interface ${p.interface}`,
        `    virtual_router_id ${p.virtualRouterId}`,
        `    priority ${p.priority}`,
        `    advert_int ${advertIntervalSeconds(p.advertIntervalMs)}`,
        `    unicast_src_ip ${p.unicastSrcIp}`,
        // Adverts count only from the listed peers' addresses, whatever their VRID and password.
        "    check_unicast_src",
        "    unicast_peer {",
        ...peers.map((a) => `        ${a}`),
        "    }",
        "    virtual_ipaddress {",
        `        ${p.vip}/${p.vipPrefixLength} dev ${p.interface}`,
        "    }",
        "    track_script {",
        "        chk_haproxy",
        "    }",
        "}",
    ]);
}

/** The bounds of `advertIntervalMs`: VRRPv3 takes 1-4095 centiseconds; above a second a failover is slower than VRRPv2's default. */
export const ADVERT_INTERVAL_MS = { min: 10, max: 1000, step: 10 } as const;

/** What is wrong with an advert interval in range that is not a whole number of centiseconds (the two nearest to write), or undefined. */
export function advertIntervalStepProblem(ms: number): string | undefined {
    const { min, step } = ADVERT_INTERVAL_MS;
    if (ms % step === 0) return undefined;
    const lower = Math.max(min, Math.floor(ms / step) * step);
    return `${ms} ms is not a whole number of centiseconds (VRRPv3's unit); write ${lower} or ${lower + step}`;
}

/** Refuses an advert interval keepalived would round or refuse, naming what to write instead. */
export function requireAdvertIntervalMs(ms: number, what: string): void {
    requireInt(ms, ADVERT_INTERVAL_MS.min, ADVERT_INTERVAL_MS.max, what);
    const problem = advertIntervalStepProblem(ms);
    if (problem) throw new Error(`${what}: ${problem}`);
}

/** `advert_int`'s value: seconds with up to two decimals (100 ms: `0.1`, 1000 ms: `1`). */
export function advertIntervalSeconds(ms: number): string {
    const cs = Math.round(ms / 10);
    return cs % 100 === 0 ? String(cs / 100) : (cs / 100).toFixed(2).replace(/0$/, "");
}

export interface HaproxyCheckScriptParams {
    /** The port HAProxy's frontend listens on. */
    apiPort: number;
}

/**
 * `/etc/keepalived/check-haproxy.sh` (mode 0755, owned by root). Exits 0 only when a process
 * named `haproxy` runs and something listens on the API port. It reads /proc directly, so it
 * needs nothing beyond a POSIX shell and grep, and it never opens a connection (a connect would
 * be forwarded to an apiserver every second).
 */
export function renderHaproxyCheckScript(p: HaproxyCheckScriptParams): string {
    requireInt(p.apiPort, 1, 65535, "check script apiPort");
    const hexPort = p.apiPort.toString(16).toUpperCase().padStart(4, "0");
    return joinLines([
        "#!/bin/sh",
        "# Rendered by k8s-ha. keepalived runs this every second; a non-zero exit twice in a row",
        "# puts the VRRP instance into FAULT, which releases the VIP to the other LB host.",
        "set -u",
        "",
        "# One grep over every process's name; with -q a match wins over files of processes",
        "# that exited meanwhile.",
        "haproxy_running() {",
        "    grep -qx haproxy /proc/[0-9]*/comm 2>/dev/null",
        "}",
        "",
        `# A socket in state 0A (LISTEN) on local port ${p.apiPort} (0x${hexPort}), IPv4 or IPv6.`,
        "port_listening() {",
        `    grep -qE '^ *[0-9]+: [0-9A-F]+:${hexPort} [0-9A-F]+:[0-9A-F]+ 0A ' /proc/net/tcp /proc/net/tcp6 2>/dev/null`,
        "}",
        "",
        "haproxy_running || exit 1",
        "port_listening || exit 1",
        "exit 0",
    ]);
}

export interface KeepalivedDropInParams {
    vip: string;
    vipPrefixLength: number;
    interface: string;
    /** Default `/usr/sbin/ip`. */
    ipPath?: string;
}

/**
 * `/etc/systemd/system/keepalived.service.d/k8s-ha.conf`.
 *
 * - `Restart=always`, `RestartSec=1`: a crashed or killed keepalived is back within a second.
 * - `KillMode=control-group` (systemd's default, stated because it matters): stopping or a crash
 *   of the parent also ends the VRRP child process, which would otherwise keep advertising.
 * - `ExecStopPost=-ip addr del VIP`: runs after every stop, clean or not. keepalived removes the
 *   VIP itself on a clean stop, but a SIGKILL leaves it on the interface while the peer takes it
 *   over: two hosts answering ARP for the VIP. `-` because the address is usually gone already.
 */
export function renderKeepalivedDropIn(p: KeepalivedDropInParams): string {
    requireIpv4(p.vip, "keepalived drop-in vip");
    requireInt(p.vipPrefixLength, 1, 32, "keepalived drop-in vipPrefixLength");
    requireToken(p.interface, "keepalived drop-in interface");
    const ip = p.ipPath ?? SYSTEM_BINARIES.ip;
    requireAbsolutePath(ip, "keepalived drop-in ipPath");
    return renderDropIn({
        service: [
            ["Restart", "always"],
            ["RestartSec", "1"],
            ["KillMode", "control-group"],
            ["ExecStopPost", `-${ip} addr del ${p.vip}/${p.vipPrefixLength} dev ${p.interface}`],
        ],
    });
}

function compareIpv4(a: string, b: string): number {
    const key = (s: string): number => (isIpv4(s) ? s.split(".").reduce((n, o) => n * 256 + Number(o), 0) : 0);
    return key(a) - key(b);
}
