/**
 * The host firewall: which host opens what to whom (from the lab topology), checked by nft itself
 * (`nft -c`, which parses the rules and has the kernel check them without loading them), and the
 * validation of the stack's firewall settings.
 */
import * as fs from "fs";
import { firewallParams } from "../components/node";
import type { ClusterConfig } from "../components/config";
import * as path from "path";
import {
    FIREWALL_FILES,
    firewallPodGuard,
    firewallRules,
    renderFirewall,
    renderFirewallUnit,
    type FirewallParams,
    type FirewallRule,
    type FirewallTopology,
} from "../components/render";
import { validateConfig } from "../components/validate";
import { labConfig, problemsOf } from "./fixtures";
import { cleanup, run, tempDir, tool, writeUnder } from "./render-support";

const cluster = validateConfig(labConfig());
function paramsOf(host: string, c: ClusterConfig = cluster): FirewallParams {
    const h = c.hosts.find((x) => x.name === host);
    if (!h) throw new Error(`no host ${host}`);
    return firewallParams(h, c);
}
const rulesOf = (host: string): readonly FirewallRule[] => paramsOf(host).rules;
const fileOf = (host: string): string => renderFirewall(paramsOf(host));

describe("host firewall rules per role", () => {
    test("etcd and control-plane host: etcd only from etcd and control-plane hosts (the NFS server's scheduled snapshots are taken on the members), the API from anywhere", () => {
        expect(rulesOf("cp1")).toEqual([
            { comment: "etcd clients and peers", protocol: "tcp", ports: "2379-2380", from: ["10.213.0.21", "10.213.0.22", "10.213.0.23"] },
            { comment: "Kubernetes API", protocol: "tcp", ports: "6443", from: "any" },
        ]);
        // With SSH narrowed, the NFS server lets the members in for their snapshots; not without scheduled snapshots.
        const narrowed = validateConfig({ ...labConfig(), firewall: { sshFrom: ["10.213.0.1"] } });
        expect(paramsOf("nfs", narrowed).rules).toContainEqual({ comment: "SSH from the etcd members, for their encrypted snapshots", protocol: "tcp", ports: "22", from: ["10.213.0.21", "10.213.0.22", "10.213.0.23"] });
        const off = validateConfig({ ...labConfig(), firewall: { sshFrom: ["10.213.0.1"] }, etcdBackup: { schedule: "off" } });
        expect(paramsOf("nfs", off).rules.map((r) => r.comment)).not.toContain("SSH from the etcd members, for their encrypted snapshots");
        expect(rulesOf("nfs").map((r) => r.comment)).not.toContain("SSH from the etcd members, for their encrypted snapshots");
    });

    test("worker: the kubelet only from control-plane hosts, NodePorts from anywhere, nothing else", () => {
        expect(rulesOf("w1")).toEqual([
            { comment: "kubelet, from the apiservers", protocol: "tcp", ports: "10250", from: ["10.213.0.21", "10.213.0.22", "10.213.0.23"] },
            { comment: "NodePorts", protocol: "tcp", ports: "30000-32767", from: "any" },
            { comment: "NodePorts", protocol: "udp", ports: "30000-32767", from: "any" },
        ]);
    });

    test("lb host: the API, VRRP only from the other lb host, HAProxy's stats only from the control-plane hosts", () => {
        expect(rulesOf("lb1")).toEqual([
            { comment: "Kubernetes API", protocol: "tcp", ports: "6443", from: "any" },
            { comment: "VRRP from the other lb host", protocol: "vrrp", from: ["10.213.0.12"] },
            { comment: "HAProxy stats, for the control-plane roll", protocol: "tcp", ports: "8404", from: ["10.213.0.21", "10.213.0.22", "10.213.0.23"] },
        ]);
        expect(fileOf("lb1")).toContain('        ip saddr { 10.213.0.21, 10.213.0.22, 10.213.0.23 } tcp dport 8404 accept comment "HAProxy stats, for the control-plane roll"\n');
        // No other host opens it.
        for (const h of cluster.hosts.filter((x) => !x.roles.includes("lb"))) expect(rulesOf(h.name).map((r) => r.ports)).not.toContain("8404");
        expect(rulesOf("lb2")[1].from).toEqual(["10.213.0.11"]);
    });

    test("mirror only for the workers; NFS only for the export's clients (the workers by default)", () => {
        expect(rulesOf("mirror")).toEqual([{ comment: "image mirror, for the nodes", protocol: "tcp", ports: "5000", from: ["10.213.0.31", "10.213.0.32"] }]);
        expect(rulesOf("nfs")).toEqual([{ comment: "NFSv4, for the export clients", protocol: "tcp", ports: "2049", from: ["10.213.0.31", "10.213.0.32"] }]);
    });

    test("the file: SSH, then the openings, and everything else rejected", () => {
        expect(fileOf("mirror")).toBe(
            [
                "#!/usr/sbin/nft -f",
                "# Rendered by k8s-ha for mirror: what may reach this host. Changes here are overwritten.",
                "table inet k8s_ha",
                "delete table inet k8s_ha",
                "table inet k8s_ha {",
                "    chain input {",
                "        type filter hook input priority filter; policy drop;",
                '        iif "lo" accept',
                "        ct state established,related accept",
                "        ct state invalid drop",
                '        meta l4proto icmp accept comment "ping, path MTU, unreachable"',
                '        meta l4proto ipv6-icmp accept comment "neighbour discovery"',
                '        udp sport 67 udp dport 68 accept comment "DHCP replies"',
                '        ip saddr { 10.213.0.0/24 } tcp dport 22 accept comment "ssh"',
                '        ip saddr { 10.213.0.31, 10.213.0.32 } tcp dport 5000 accept comment "image mirror, for the nodes"',
                "        meta l4proto tcp reject with tcp reset",
                "        reject with icmpx admin-prohibited",
                "    }",
                "}",
                "",
            ].join("\n"),
        );
    });

    test("operator openings go to the roles they name; sshFrom narrows SSH to IPv4 sources", () => {
        const raw = labConfig();
        raw.firewall = {
            sshFrom: ["10.213.0.1", "192.168.7.0/24"],
            allow: [{ ports: 9100, from: ["10.213.0.60"], roles: ["worker"], comment: "node exporter" }],
        };
        const c = validateConfig(raw);
        const w1 = renderFirewall(paramsOf("w1", c));
        expect(w1).toContain('ip saddr { 10.213.0.1, 192.168.7.0/24 } tcp dport 22 accept comment "ssh"');
        expect(w1).toContain('ip saddr { 10.213.0.60 } tcp dport 9100 accept comment "node exporter"');
        expect(w1).not.toContain('\n        tcp dport 22 accept comment "ssh"');
        const cp1 = renderFirewall(paramsOf("cp1", c));
        expect(cp1).not.toContain("9100");
    });

    test("renderer refuses what nft would misread", () => {
        const base = { host: "h1", sshPort: 22, sshFrom: "any" as const };
        expect(() => renderFirewall({ ...base, rules: [{ comment: "x", protocol: "tcp", ports: "70000", from: "any" }] })).toThrow(/port of "x"/);
        expect(() => renderFirewall({ ...base, rules: [{ comment: 'say "hi"', protocol: "tcp", ports: "80", from: "any" }] })).toThrow(/quoted/);
        expect(() => renderFirewall({ ...base, rules: [{ comment: "x", protocol: "tcp", ports: "80", from: ["10.0.0.0/33"] }] })).toThrow(/not an IPv4 address or CIDR/);
        expect(() => renderFirewall({ ...base, rules: [{ comment: "x", protocol: "tcp", ports: "80", from: [] }] })).toThrow(/no sources/);
    });
});

/** The lab with a preloaded mirror (push port 5001 from the node network). */
const preloaded = validateConfig({ ...labConfig(), mirror: { mode: "preloaded" } });
/** The lab with w1 as the NFS server too (the nfs host left out). */
function nfsOnWorker(): ClusterConfig {
    const raw = labConfig();
    const hosts = raw.hosts as Record<string, { roles: string[] }>;
    delete hosts.nfs;
    hosts.w1.roles = ["worker", "nfs"];
    return validateConfig(raw);
}

describe("pod guard: what pods may not reach", () => {
    const nfsBlock = { comment: "NFS on nfs, not from pods", address: "10.213.0.51", local: false, protocols: ["tcp", "udp"], ports: [111, 2049] };

    test("every worker drops its pods' packets to the NFS server's NFS and rpcbind ports, and nothing else; other hosts have no forward chain", () => {
        for (const w of ["w1", "w2"]) expect(paramsOf(w).podGuard).toEqual({ podCidr: "10.244.0.0/16", blocks: [nfsBlock] });
        expect(fileOf("w1")).toContain(
            [
                "    chain forward {",
                "        type filter hook forward priority filter; policy accept;",
                '        ip saddr 10.244.0.0/16 ip daddr 10.213.0.51 meta l4proto { tcp, udp } th dport { 111, 2049 } drop comment "NFS on nfs, not from pods"',
                "    }",
                "}",
            ].join("\n"),
        );
        for (const h of cluster.hosts.filter((x) => !x.roles.includes("worker"))) {
            expect(paramsOf(h.name).podGuard).toBeUndefined();
            expect(fileOf(h.name)).not.toContain("forward");
        }
        // The input chain of a worker is as before.
        expect(fileOf("w1")).not.toContain("10.244.0.0/16 meta");
    });

    test("a preloaded mirror's push port too (a proxy mirror has none)", () => {
        expect(paramsOf("w2", preloaded).podGuard?.blocks).toEqual([
            nfsBlock,
            { comment: "image mirror pushes on mirror, not from pods", address: "10.213.0.41", local: false, protocols: ["tcp"], ports: [5001] },
        ]);
        expect(renderFirewall(paramsOf("w2", preloaded))).toContain('        ip saddr 10.244.0.0/16 ip daddr 10.213.0.41 tcp dport 5001 drop comment "image mirror pushes on mirror, not from pods"\n');
        expect(paramsOf("mirror", preloaded).podGuard).toBeUndefined();
    });

    test("a worker that is the NFS server: its pods reach it through the input hook, where the drop comes first, for any of its addresses", () => {
        const c = nfsOnWorker();
        const w1 = renderFirewall(paramsOf("w1", c));
        const input = w1.split("\n").filter((l) => l.startsWith("        "));
        expect(input[1]).toBe('        ip saddr 10.244.0.0/16 meta l4proto { tcp, udp } th dport { 111, 2049 } drop comment "NFS on w1, not from pods"');
        expect(input[2]).toBe('        iif "lo" accept');
        expect(w1).not.toContain("chain forward");
        // w2's pods go through w2's forward hook to w1.
        expect(renderFirewall(paramsOf("w2", c))).toContain('ip saddr 10.244.0.0/16 ip daddr 10.213.0.31 meta l4proto { tcp, udp } th dport { 111, 2049 } drop comment "NFS on w1, not from pods"');
    });

    test("the renderer refuses a bad pod guard", () => {
        const base = { host: "h1", sshPort: 22, sshFrom: "any" as const, rules: [] };
        const block = { comment: "x", address: "10.0.0.1", local: false, protocols: ["tcp" as const], ports: [2049] };
        expect(() => renderFirewall({ ...base, podGuard: { podCidr: "10.244.0.0", blocks: [block] } })).toThrow(/not an IPv4 CIDR/);
        expect(() => renderFirewall({ ...base, podGuard: { podCidr: "10.244.0.0/16", blocks: [{ ...block, address: "10.0.0.0/8" }] } })).toThrow(/not an IPv4 address/);
        expect(() => renderFirewall({ ...base, podGuard: { podCidr: "10.244.0.0/16", blocks: [{ ...block, ports: [] }] } })).toThrow(/needs protocols and ports/);
        expect(() => renderFirewall({ ...base, podGuard: { podCidr: "10.244.0.0/16", blocks: [{ ...block, ports: [0] }] } })).toThrow(/port of pod block "x"/);
        expect(() => renderFirewall({ ...base, podGuard: { podCidr: "10.244.0.0/16", blocks: [{ ...block, comment: 'a "b"' }] } })).toThrow(/quoted/);
    });
});

describe("nft checks the rendered rules", () => {
    test("nft -c accepts every lab host's rules, and the unit passes systemd-analyze verify", () => {
        const dir = tempDir("firewall");
        try {
            for (const [variant, c] of [["lab", cluster], ["preloaded", preloaded], ["nfs-on-worker", nfsOnWorker()]] as const) {
                for (const h of c.hosts) {
                    const file = writeUnder(dir, `/${variant}-${h.name}.nft`, renderFirewall(paramsOf(h.name, c)));
                    const r = run(tool("nft"), ["-c", "-f", file]);
                    expect({ variant, host: h.name, stderr: r.stderr, status: r.status }).toEqual({ variant, host: h.name, stderr: "", status: 0 });
                }
            }
            const unit = renderFirewallUnit();
            expect(unit).toContain(`ExecStart=/usr/sbin/nft -f ${FIREWALL_FILES.rules}`);
            expect(unit).toContain("DefaultDependencies=no");
            const unitFile = writeUnder(dir, "/k8s-ha-firewall.service", unit);
            const v = run(tool("systemd-analyze"), ["verify", "--man=no", unitFile]);
            expect(v.stderr.split("\n").filter((l) => l.includes("k8s-ha-firewall"))).toEqual([]);
        } finally {
            cleanup(dir);
        }
    });

    test("nft -c rejects a broken file (the checker really checks)", () => {
        const dir = tempDir("firewall");
        try {
            const broken = writeUnder(dir, "/broken.nft", fileOf("cp1").replace("tcp dport 2379-2380", "tcp dport 2379-"));
            expect(run(tool("nft"), ["-c", "-f", broken]).status).not.toBe(0);
            expect(fs.existsSync(broken)).toBe(true);
        } finally {
            cleanup(dir);
        }
    });
});

/**
 * The pod guard under real nftables: test/netns/pod-forward.sh builds a worker in a user and network
 * namespace of its own (pod 198.18.0.2, node network 192.0.2.0/24, the CNI's masquerade and a
 * kube-proxy-like table that accepts every forwarded packet and DNATs two Services), loads the
 * rendered file, and has the pod connect. w1 is the worker and a preloaded mirror; nfs is 192.0.2.51.
 */
describe("pod guard in a network namespace", () => {
    const topology: FirewallTopology = {
        hosts: [
            { name: "w1", address: "192.0.2.31", roles: ["worker", "mirror"] },
            { name: "nfs", address: "192.0.2.51", roles: ["nfs"] },
        ],
        podCidr: "198.18.0.0/16",
        apiPort: 6443,
        mirrorPort: 5000,
        // Open to the pod CIDR on purpose: the guard must win over an input accept.
        mirrorPush: { port: 5001, from: ["192.0.2.0/24", "198.18.0.0/16"] },
        nfsClients: ["192.0.2.31"],
        allow: [],
    };
    const targets = ["192.0.2.51:2049", "192.0.2.51:111", "10.96.0.10:2049", "198.18.0.1:5001", "192.0.2.51:80", "192.0.2.60:2049", "10.96.0.11:80", "198.18.0.1:22"];

    function podConnects(podGuard: boolean): string[] {
        const dir = tempDir("podguard");
        try {
            const guard = podGuard ? firewallPodGuard("w1", topology) : undefined;
            const params: FirewallParams = { host: "w1", sshPort: 22, sshFrom: "any", rules: firewallRules("w1", topology), ...(guard ? { podGuard: guard } : {}) };
            const file = writeUnder(dir, "/w1.nft", renderFirewall(params));
            const r = run(tool("unshare"), ["--user", "--map-root-user", "--net", "--mount", "bash", path.join(__dirname, "netns", "pod-forward.sh"), file, ...targets]);
            expect({ stderr: r.stderr, status: r.status }).toEqual({ stderr: "", status: 0 });
            return r.stdout.trim().split("\n");
        } finally {
            cleanup(dir);
        }
    }

    test("the pod's packets to the NFS ports (directly or through a Service) and to the local push port are dropped; the rest passes, masqueraded", () => {
        expect(podConnects(true)).toEqual([
            "192.0.2.51:2049 timeout",
            "192.0.2.51:111 timeout",
            "10.96.0.10:2049 timeout",
            "198.18.0.1:5001 timeout",
            "192.0.2.51:80 connected",
            "192.0.2.60:2049 connected",
            "10.96.0.11:80 connected",
            "198.18.0.1:22 connected",
            // The forwarded connections arrived with the worker's address, the local ones with the pod's.
            "seen-from 192.0.2.31",
            "seen-from 198.18.0.2",
        ]);
    }, 60_000);

    test("without the guard the same namespace lets every one through (the test can tell)", () => {
        expect(podConnects(false)).toEqual([...targets.map((t) => `${t} connected`), "seen-from 192.0.2.31", "seen-from 198.18.0.2"]);
    }, 60_000);
});

/**
 * Re-applying the rules never opens the host, even for an instant: test/netns/firewall-reload.sh
 * has a client connect to a port the rules refuse, in a tight loop, while the host re-applies them
 * 50 times, with firewall.sh's own apply_rules (one nft transaction), or as a unit restart did
 * (delete the table, then load it: two).
 */
describe("re-applying the rules in a network namespace", () => {
    function reapply(mode: "step" | "split"): string[] {
        const dir = tempDir("reload");
        try {
            const file = writeUnder(dir, "/h1.nft", renderFirewall({ host: "h1", sshPort: 22, sshFrom: ["192.0.2.0/24"], rules: [] }));
            const r = run(tool("unshare"), ["--user", "--map-root-user", "--net", "--mount", "bash", path.join(__dirname, "netns", "firewall-reload.sh"), file, mode, "50"]);
            expect({ stderr: r.stderr, status: r.status }).toEqual({ stderr: "", status: 0 });
            return r.stdout.trim().split("\n");
        } finally {
            cleanup(dir);
        }
    }
    const refused = (lines: string[]) => Number(/ refused (\d+) /.exec(lines[2] ?? "")?.[1] ?? 0);

    test("firewall.sh's apply_rules (one nft -f): not one of the connections to a refused port gets through", () => {
        const lines = reapply("step");
        expect(lines.slice(0, 2)).toEqual(["ssh connected", "applied 50"]);
        expect(lines[2]).toMatch(/^8080 connected 0 refused \d+ timeout \d+$/);
        // Enough attempts that a gap would have been seen (the split case below).
        expect(refused(lines)).toBeGreaterThan(100);
    }, 60_000);

    test("delete then load in two nft calls (a unit restart's stop and start): some get through (the test can tell)", () => {
        const lines = reapply("split");
        expect(lines.slice(0, 2)).toEqual(["ssh connected", "applied 50"]);
        expect(lines[2]).toMatch(/^8080 connected [1-9]\d* refused \d+ timeout \d+$/);
    }, 60_000);
});

describe("firewall settings", () => {
    test("on by default, SSH from the node network, no extra openings; a stack's own sshFrom (any included) is kept as it is", () => {
        expect(cluster.firewall).toEqual({ enabled: true, sshFrom: ["10.213.0.0/24"], allow: [] });
        expect(validateConfig({ ...labConfig(), firewall: { sshFrom: "any" } }).firewall.sshFrom).toBe("any");
        expect(validateConfig({ ...labConfig(), firewall: { sshFrom: ["192.168.7.5"] } }).firewall.sshFrom).toEqual(["192.168.7.5"]);
        // sshFrom: any opens SSH to IPv4 and IPv6 alike, as before.
        expect(renderFirewall(paramsOf("w1", validateConfig({ ...labConfig(), firewall: { sshFrom: "any" } })))).toContain('\n        tcp dport 22 accept comment "ssh"\n');
    });

    test("a preloaded mirror's push port: by default from the node network but the cluster's hosts; a pushFrom given is taken as it is", () => {
        const preloaded = (mirror: Record<string, unknown>) => validateConfig({ ...labConfig(), mirror: { port: 5000, mode: "preloaded", ...mirror } });
        const hosts = ["10.213.0.11", "10.213.0.12", "10.213.0.21", "10.213.0.22", "10.213.0.23", "10.213.0.31", "10.213.0.32", "10.213.0.41", "10.213.0.51"];
        const c = preloaded({});
        expect(c.mirror).toMatchObject({ pushPort: 5001, pushFrom: ["10.213.0.0/24"], pushExcept: hosts });
        expect(paramsOf("mirror", c).rules).toContainEqual({ comment: "image mirror pushes (with credentials)", protocol: "tcp", ports: "5001", from: ["10.213.0.0/24"], except: hosts });
        expect(renderFirewall(paramsOf("mirror", c))).toContain(
            `        ip saddr { 10.213.0.0/24 } ip saddr != { ${[...hosts].sort().join(", ")} } tcp dport 5001 accept comment "image mirror pushes (with credentials)"\n`,
        );
        const given = preloaded({ pushFrom: ["10.213.0.1", "10.213.0.31"] });
        expect(given.mirror.pushExcept).toEqual([]);
        expect(renderFirewall(paramsOf("mirror", given))).toContain('        ip saddr { 10.213.0.1, 10.213.0.31 } tcp dport 5001 accept comment "image mirror pushes (with credentials)"\n');
        // nft takes the exception.
        const dir = tempDir("firewall");
        try {
            const r = run(tool("nft"), ["-c", "-f", writeUnder(dir, "/mirror.nft", renderFirewall(paramsOf("mirror", c)))]);
            expect({ stderr: r.stderr, status: r.status }).toEqual({ stderr: "", status: 0 });
        } finally {
            cleanup(dir);
        }
    });

    test("bad settings are all reported at once", () => {
        const raw = labConfig();
        raw.firewall = {
            enabled: "maybe",
            sshFrom: ["10.213.0.1", "everywhere"],
            allow: [{ ports: "9100-80", protocol: "icmp", roles: ["db"], comment: "a \"quoted\" one", extra: 1 }],
            policy: "accept",
        };
        raw.nfs = { mountOptions: ["nfsvers=3", "hard"] };
        expect(problemsOf(raw)).toEqual([
            'k8s-ha:firewall.enabled: must be true or false, got "maybe"',
            "k8s-ha:firewall.sshFrom: 'everywhere' is neither an IPv4 address nor a CIDR with zero host bits; write it like 10.0.0.5 or 10.0.0.0/24",
            "k8s-ha:firewall.allow[0].ports: '9100-80' is not a port or a range; write it like 9100 or 30000-32767",
            "k8s-ha:firewall.allow[0].protocol: 'icmp' is not tcp or udp",
            "k8s-ha:firewall.allow[0].from: is missing; give the IPv4 addresses or CIDRs allowed in",
            "k8s-ha:firewall.allow[0].roles: 'db' is not a role; use some of: etcd, control-plane, worker, lb, nfs, mirror",
            "k8s-ha:firewall.allow[0].comment: 'a \"quoted\" one' may have only letters, digits, spaces and ,.()/:-",
            "k8s-ha:firewall.allow[0].extra: is not a setting of an opening; use some of: ports, protocol, from, roles, comment",
            "k8s-ha:firewall.policy: is not a firewall setting; use one of: enabled, sshFrom, allow",
            "k8s-ha:nfs.mountOptions: 'nfsvers=3' needs rpcbind and mountd, which the host firewall does not open (it opens NFSv4's port 2049 only); use nfsvers=4.2, or turn the firewall off with k8s-ha:firewall.enabled: false",
        ]);
    });

    test("turned off, NFSv3 is allowed", () => {
        const raw = labConfig();
        raw.firewall = { enabled: false };
        raw.nfs = { mountOptions: ["nfsvers=3", "hard"] };
        expect(problemsOf(raw)).toEqual([]);
    });
});
