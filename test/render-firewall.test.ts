/**
 * The host firewall: which host opens what to whom (from the lab topology), checked by nft itself
 * (`nft -c`, which parses the rules and has the kernel check them without loading them), and the
 * validation of the stack's firewall settings.
 */
import * as fs from "fs";
import { firewallParams } from "../components/node";
import type { ClusterConfig } from "../components/config";
import { FIREWALL_FILES, renderFirewall, renderFirewallUnit, type FirewallParams, type FirewallRule } from "../components/render";
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

describe("nft checks the rendered rules", () => {
    test("nft -c accepts every lab host's rules, and the unit passes systemd-analyze verify", () => {
        const dir = tempDir("firewall");
        try {
            for (const h of cluster.hosts) {
                const file = writeUnder(dir, `/${h.name}.nft`, fileOf(h.name));
                const r = run(tool("nft"), ["-c", "-f", file]);
                expect({ host: h.name, stderr: r.stderr, status: r.status }).toEqual({ host: h.name, stderr: "", status: 0 });
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
