import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { DEFAULTS } from "../components/config";
import {
    fetchText,
    fingerprint,
    InitError,
    InitIo,
    InitOptions,
    keyFromKeyscan,
    neededFiles,
    parseArgs,
    parseHostsFile,
    pinsFromFile,
    probeSsh,
    renderStackFile,
    runInit,
    scanHost,
    stackValues,
    sumFor,
    validateStackText,
} from "../components/init";

/** `npm run init` (components/init.ts): the stack file it writes, and every bad input refused in one line. */

const HOSTS = `# a comment line
lb1 192.0.2.11 lb
lb2 192.0.2.12 lb
cp1 192.0.2.21 etcd,control-plane
cp2 192.0.2.22 etcd,control-plane
cp3 192.0.2.23 etcd,control-plane   # trailing comment
w1  192.0.2.31 worker port=2222
w2  192.0.2.32 worker,nfs user=admin
mirror 192.0.2.41 mirror
`;

/** A key like ssh-keyscan's, made from fixed bytes so that each host's differs. */
const keyOf = (address: string) => `ssh-ed25519 ${Buffer.concat([Buffer.from("\0\0\0\x0bssh-ed25519\0\0\0\x20", "latin1"), Buffer.alloc(32, address)]).toString("base64")}`;

/** The sums of every file the default versions need, keyed by pin: fixed, distinct hex. */
const SUMS: Record<string, string> = Object.fromEntries(neededFiles({}, undefined, false).map((f, i) => [f.pinKey, i.toString(16).padStart(2, "0").repeat(32)]));

let dir: string;
beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-init-"));
    fs.writeFileSync(path.join(dir, "hosts.txt"), HOSTS);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Stand-in I/O: every host answers with its key, the upstream sums files give SUMS; calls are counted. */
function io(over: Partial<InitIo> = {}): InitIo & { lines: string[]; scans: string[]; fetches: string[] } {
    const lines: string[] = [];
    const scans: string[] = [];
    const fetches: string[] = [];
    const byUrl = new Map<string, string>();
    for (const f of neededFiles({}, undefined, false)) {
        const base = f.path.slice(f.path.lastIndexOf("/") + 1);
        const line = f.sumsUrl.endsWith(".sha256") ? SUMS[f.pinKey] : `${SUMS[f.pinKey]}  ${base}\n`;
        byUrl.set(f.sumsUrl, (byUrl.get(f.sumsUrl) ?? "") + line);
    }
    return {
        root: dir,
        from: dir,
        scan: async (address, port) => {
            scans.push(`${address}:${port}`);
            return { key: keyOf(address) };
        },
        fetchText: async (url) => {
            fetches.push(url);
            const text = byUrl.get(url);
            if (text === undefined) throw new Error("HTTP 404");
            return text;
        },
        out: (l) => lines.push(l),
        now: () => new Date("2026-12-08T00:00:00Z"),
        ...over,
        lines,
        scans,
        fetches,
    };
}

function options(...extra: string[]): InitOptions {
    const o = parseArgs(["--stack", "prod", "--hosts", "hosts.txt", "--vip", "192.0.2.10", "--mirror-upstream", "https://registry.example.com", ...extra]);
    if (o === "help") throw new Error("help");
    return o;
}

/** The refusal of a run, as the lines printed. */
async function refusal(run: Promise<unknown>): Promise<string[]> {
    try {
        await run;
    } catch (e) {
        if (e instanceof InitError) return e.lines;
        throw e;
    }
    throw new Error("init did not refuse");
}

describe("the stack file init writes", () => {
    test("a host a line with its pinned key, every pin, the defaults left out; the program's validation passes on it", async () => {
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path.join(dir, "id")]);
        const fake = io();
        const file = await runInit(options("--yes", "--ssh-key", "id"), fake);
        expect(file).toBe(path.join(dir, "Pulumi.prod.yaml"));
        const text = fs.readFileSync(file, "utf8");
        expect(validateStackText(text, "prod")).toEqual([]);
        const config = (parse(text) as { config: Record<string, unknown> }).config;
        expect(Object.keys(config)).toEqual(["k8s-ha:nodeNetwork", "k8s-ha:vip", "k8s-ha:hosts", "k8s-ha:mirror", "k8s-ha:checksums"]);
        expect(config["k8s-ha:nodeNetwork"]).toBe("192.0.2.0/24");
        expect(config["k8s-ha:vip"]).toBe("192.0.2.10");
        const hosts = config["k8s-ha:hosts"] as Record<string, Record<string, unknown>>;
        expect(Object.keys(hosts)).toEqual(["lb1", "lb2", "cp1", "cp2", "cp3", "w1", "w2", "mirror"]);
        expect(hosts.w1).toEqual({ address: "192.0.2.31", roles: ["worker"], port: 2222, hostKey: keyOf("192.0.2.31") });
        expect(hosts.w2).toEqual({ address: "192.0.2.32", roles: ["worker", "nfs"], user: "admin", hostKey: keyOf("192.0.2.32") });
        expect(config["k8s-ha:checksums"]).toEqual(SUMS);
        // One scan per host (at its own port), each sums file fetched once (etcd's SHA256SUMS is one file).
        expect(fake.scans).toEqual(["192.0.2.11:22", "192.0.2.12:22", "192.0.2.21:22", "192.0.2.22:22", "192.0.2.23:22", "192.0.2.31:2222", "192.0.2.32:22", "192.0.2.41:22"]);
        expect(new Set(fake.fetches).size).toBe(fake.fetches.length);
        expect(fake.fetches).toContain(`https://dl.k8s.io/release/v${DEFAULTS.versions.kubernetes}/bin/linux/amd64/kubelet.sha256`);
        // Each fingerprint is shown; the key itself goes through the one command printed, never the file.
        expect(fake.lines.join("\n")).toContain(`192.0.2.31:2222`);
        expect(fake.lines.join("\n")).toContain(fingerprint(keyOf("192.0.2.31")));
        expect(fake.lines).toContain(`  pulumi config set --secret --stack prod k8s-ha:sshPrivateKey < ${path.join(dir, "id")}`);
        expect(text).not.toContain("sshPrivateKey:");
        expect(text).not.toContain(fs.readFileSync(path.join(dir, "id"), "utf8").split("\n")[1]);
    });

    test("the options: ssh user and port, a download mirror laid out like upstream, versions, plain http", async () => {
        const mirror = "http://10.213.0.1:8080";
        const fake = io({ fetchText: async (url) => io().fetchText(url.replace(`${mirror}/`, "https://")) });
        fs.writeFileSync(path.join(dir, "hosts.txt"), HOSTS.replace(" port=2222", ""));
        const file = await runInit(options("--yes", "--ssh-user", "admin", "--ssh-port=2200", "--download-mirror", mirror, "--allow-http", "--node-network", "192.0.0.0/22"), fake);
        const config = (parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> }).config;
        expect(config["k8s-ha:sshUser"]).toBe("admin");
        expect(config["k8s-ha:sshPort"]).toBe(2200);
        expect(config["k8s-ha:nodeNetwork"]).toBe("192.0.0.0/22");
        expect(config["k8s-ha:allowHttpDownloads"]).toBe(true);
        expect((config["k8s-ha:downloads"] as Record<string, string>).kubernetes).toBe(`${mirror}/dl.k8s.io/release`);
        expect((config["k8s-ha:downloads"] as Record<string, string>).cni).toBe(`${mirror}/github.com/containernetworking/plugins/releases/download`);
        expect(fake.scans.every((s) => s.endsWith(":2200"))).toBe(true);
        expect(fake.lines).toContain(
            `init: the pins come from ${mirror}, not from the vendors' sites: a mirror that serves a changed file can serve its sum too. Compare them with the vendors' checksum files, or pin from a file you verified (--checksums-from)`,
        );
        expect(validateStackText(fs.readFileSync(file, "utf8"), "prod")).toEqual([]);
    });

    test("pins from a file (sha256sum lines or artifact@version lines) instead of the network", async () => {
        const needed = neededFiles({}, undefined, false);
        const lines = needed.map((f, i) => (i % 2 === 0 ? `${SUMS[f.pinKey]}  ./www/${f.path}` : `${f.pinKey}: "${SUMS[f.pinKey]}"`));
        fs.writeFileSync(path.join(dir, "sums.txt"), `k8s-ha:checksums:\n${lines.join("\n")}\n`);
        const fake = io();
        const file = await runInit(options("--yes", "--checksums-from", "sums.txt"), fake);
        expect(fake.fetches).toEqual([]);
        expect((parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> }).config["k8s-ha:checksums"]).toEqual(SUMS);
    });

    test("an existing stack file with config is kept without --force; replaced with it, its secrets provider and SSH key kept", async () => {
        const target = path.join(dir, "Pulumi.prod.yaml");
        const old = 'encryptionsalt: v1:salt=\nconfig:\n  k8s-ha:vip: 10.0.0.1\n  aws:region: x\n  k8s-ha:sshPrivateKey:\n    secure: v1:abc==\n';
        fs.writeFileSync(target, old);
        expect(await refusal(runInit(options("--yes"), io()))).toEqual([
            `init: ${target} exists and sets 2 config keys (k8s-ha:vip, aws:region); nothing written. Give --force to replace its config (its secrets provider and SSH key are kept), or pick another --stack`,
        ]);
        expect(fs.readFileSync(target, "utf8")).toBe(old);
        await runInit(options("--yes", "--force"), io());
        const text = fs.readFileSync(target, "utf8");
        expect(validateStackText(text, "prod")).toEqual([]);
        const doc = parse(text) as { encryptionsalt: string; config: Record<string, unknown> };
        expect(doc.encryptionsalt).toBe("v1:salt=");
        expect(doc.config["k8s-ha:sshPrivateKey"]).toEqual({ secure: "v1:abc==" });
        expect(doc.config["k8s-ha:vip"]).toBe("192.0.2.10");
        expect(doc.config["aws:region"]).toBeUndefined();
    });

    test("the file pulumi stack init left (a secrets provider, no config) is filled in without --force", async () => {
        const target = path.join(dir, "Pulumi.prod.yaml");
        fs.writeFileSync(target, "secretsprovider: awskms://alias/k8s-ha\nencryptedkey: ZmFrZQ==\n");
        await runInit(options("--yes"), io());
        const doc = parse(fs.readFileSync(target, "utf8")) as Record<string, unknown>;
        expect(doc.secretsprovider).toBe("awskms://alias/k8s-ha");
        expect(doc.encryptedkey).toBe("ZmFrZQ==");
        expect(Object.keys(doc.config as object)).toContain("k8s-ha:hosts");
    });

    test("the fingerprints must be confirmed: --yes, or yes at the prompt; otherwise nothing is written", async () => {
        const target = path.join(dir, "Pulumi.prod.yaml");
        expect(await refusal(runInit(options(), io()))).toEqual([
            "init: the fingerprints above are not confirmed; check each on its host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then run again with --yes",
        ]);
        expect(await refusal(runInit(options(), io({ ask: async () => "no" })))).toEqual(["init: the fingerprints were not confirmed; nothing written"]);
        expect(fs.existsSync(target)).toBe(false);
        await runInit(options(), io({ ask: async () => "yes" }));
        expect(fs.existsSync(target)).toBe(true);
    });

    test("a value left out is asked for on a terminal, and refused naming its flag without one", async () => {
        const o = parseArgs(["--stack", "prod", "--hosts", "hosts.txt", "--yes"]) as InitOptions;
        const answers = ["192.0.2.10", "https://registry.example.com"];
        const fake = io({ ask: async () => answers.shift() ?? "" });
        await runInit(o, fake);
        expect(answers).toEqual([]);
        expect(await refusal(runInit({ ...o, force: true }, io()))).toEqual([
            "init: no VIP: give --vip ADDRESS, a free address in 192.0.2.0/24 that no host has (the API's virtual IP)",
        ]);
    });
});

describe("bad input: one line naming it and the fix, before any host is asked", () => {
    const bad = async (hosts: string, ...extra: string[]) => {
        fs.writeFileSync(path.join(dir, "hosts.txt"), hosts);
        const fake = io();
        const lines = await refusal(runInit(options("--yes", ...extra), fake));
        expect(fake.scans).toEqual([]);
        expect(fs.existsSync(path.join(dir, "Pulumi.prod.yaml"))).toBe(false);
        return lines;
    };

    test("a duplicate address", async () => {
        expect(await bad(HOSTS.replace("192.0.2.22", "192.0.2.21"))).toEqual(["init: hosts.txt:5 (cp2): k8s-ha:hosts.cp2.address: 192.0.2.21 is also the address of cp1; give every host its own address"]);
    });

    test("a VIP outside the node network, or a host's", async () => {
        expect(await bad(HOSTS, "--vip", "198.51.100.10")).toEqual(["init: k8s-ha:vip: 198.51.100.10 is outside the lb hosts' subnet 192.0.2.0/24; VRRP can only move an address within it (--vip)"]);
        expect(await bad(HOSTS, "--vip", "192.0.2.21")).toEqual(["init: k8s-ha:vip: 192.0.2.21 is the address of host cp1; the VIP must be a free address in the lb hosts' subnet (--vip)"]);
    });

    test("a host outside the node network given", async () => {
        expect(await bad(HOSTS, "--node-network", "192.0.2.0/27")).toEqual([
            "init: hosts.txt:9 (mirror): k8s-ha:hosts.mirror.address: 192.0.2.41 is outside k8s-ha:nodeNetwork 192.0.2.0/27; widen nodeNetwork or fix the address",
            "init: hosts.txt:8 (w2): k8s-ha:hosts.w2.address: 192.0.2.32 is outside k8s-ha:nodeNetwork 192.0.2.0/27; widen nodeNetwork or fix the address",
        ]);
    });

    test("hosts in no one /24 and no --node-network", async () => {
        expect(await bad(HOSTS.replace("192.0.2.41", "192.0.3.41"))).toEqual([
            "init: the hosts are not in one /24: give --node-network CIDR, the network that holds every host and the VIP",
        ]);
    });

    test("an unknown role", async () => {
        expect(await bad(HOSTS.replace("etcd,control-plane   #", "etc,control-plane #"))).toEqual([
            'init: hosts.txt:6 (cp3): k8s-ha:hosts.cp3.roles: unknown role "etc"; use one of: etcd, control-plane, worker, lb, nfs, mirror',
            "init: k8s-ha:hosts: 2 hosts have the etcd role; etcd needs an odd number (1, 3 or 5) to keep quorum",
        ]);
    });

    test("role counts the cluster needs: one lb host", async () => {
        expect(await bad(HOSTS.replace("lb2 192.0.2.12 lb\n", ""))).toEqual(["init: k8s-ha:hosts: 1 hosts have the lb role; the load-balancer pair needs exactly two"]);
    });

    test("the hosts file's own form: a line without roles, a name twice, a bad option, no hosts, no file", async () => {
        expect(await bad("cp1 192.0.2.21\n")).toEqual([
            "init: hosts.txt:1: 'cp1 192.0.2.21' has no roles; write NAME ADDRESS ROLE[,ROLE...] [port=N] [user=NAME], like: cp1 192.0.2.21 etcd,control-plane",
        ]);
        expect(await bad(`${HOSTS}cp1 192.0.2.24 worker\n`)).toEqual(["init: hosts.txt:10: cp1 is also the name on line 4; give every host its own name"]);
        expect(await bad("w1 192.0.2.31 worker port=ssh\n")).toEqual(["init: hosts.txt:1: port 'ssh' is not a port from 1 to 65535"]);
        expect(await bad("# nothing\n")).toEqual([
            "init: hosts.txt lists no hosts; write NAME ADDRESS ROLE[,ROLE...] [port=N] [user=NAME], like: cp1 192.0.2.21 etcd,control-plane",
        ]);
        expect(await refusal(runInit(options("--yes", "--hosts", "none.txt"), io()))).toEqual([
            `init: cannot read the hosts file ${path.join(dir, "none.txt")} (ENOENT); give --hosts FILE`,
        ]);
    });

    test("plain http downloads without --allow-http; an SSH key that is not a private key", async () => {
        const lines = await bad(HOSTS, "--download-mirror", "http://10.0.0.1:8080");
        expect(lines).toHaveLength(5);
        expect(lines[0]).toBe(
            "init: k8s-ha:downloads.kubernetes: 'http://10.0.0.1:8080/dl.k8s.io/release' is plain http, which lets anyone on the path change what the hosts install; use https, or set k8s-ha:allowHttpDownloads: true for a mirror on a network you trust (--download-mirror)",
        );
        fs.writeFileSync(path.join(dir, "id.pub"), keyOf("x"));
        expect(await bad(HOSTS, "--ssh-key", "id.pub")).toEqual([
            `init: ${path.join(dir, "id.pub")} is not a private key (no -----BEGIN ... PRIVATE KEY----- line); give --ssh-key the private key, not the .pub`,
        ]);
    });

    test("unknown and incomplete arguments", () => {
        expect(() => parseArgs(["--hostz", "x"])).toThrow("init: unknown argument '--hostz'; see npm run init -- --help");
        expect(() => parseArgs(["--vip"])).toThrow("init: --vip needs a value");
        expect(() => parseArgs(["--version", "kubernetes"])).toThrow("init: --version 'kubernetes' is not KEY=VERSION");
        expect(() => parseArgs(["--ssh-port", "0"])).toThrow("init: --ssh-port '0' is not a whole number from 1 to 65535");
        expect(parseArgs(["--help"])).toBe("help");
    });
});

describe("bad answers from the network: every one named, nothing written", () => {
    test("a host whose scan finds nothing and a sums file that is not there", async () => {
        const fake = io({
            scan: async (address) => (address === "192.0.2.22" ? { problem: "ssh-keyscan got no ed25519 key: no answer" } : { key: keyOf(address) }),
            fetchText: async (url) => (url.includes("/runc/") ? Promise.reject(new Error("HTTP 404")) : io().fetchText(url)),
        });
        expect(await refusal(runInit(options("--yes"), fake))).toEqual([
            "init: hosts.txt:5 (cp2, 192.0.2.22): ssh-keyscan got no ed25519 key: no answer",
            `init: cannot read https://github.com/opencontainers/runc/releases/download/v${DEFAULTS.versions.runc}/runc.sha256sum (HTTP 404) for runc@${DEFAULTS.versions.runc}; check --download-mirror and --version, or pin from a file: --checksums-from FILE`,
        ]);
        expect(fs.existsSync(path.join(dir, "Pulumi.prod.yaml"))).toBe(false);
    });

    test("what the program's validation refuses in the config as written (a malformed key) is not written", async () => {
        const fake = io({ scan: async (address) => ({ key: address === "192.0.2.41" ? "ssh-ed25519 not-base64!" : keyOf(address) }) });
        expect(await refusal(runInit(options("--yes"), fake))).toEqual([
            "init: hosts.txt:9 (mirror): k8s-ha:hosts.mirror.hostKey: is not an SSH public host key; give one line like 'ssh-ed25519 AAAA...' (from ssh-keyscan)",
            "init: hosts.txt:9 (mirror): k8s-ha:hosts.mirror.hostKey: is missing: without it any machine answering on the address gets the cluster's keys; pin it with the 'ssh-ed25519 AAAA...' part of: ssh-keyscan -t ed25519 192.0.2.41 (checked out of band), or set k8s-ha:allowUnpinnedHostKeys: true for a throwaway lab",
        ]);
        expect(fs.existsSync(path.join(dir, "Pulumi.prod.yaml"))).toBe(false);
    });

    test("a pins file without every pin", () => {
        const needed = neededFiles({}, undefined, false);
        expect(() => pinsFromFile(`kubelet@${DEFAULTS.versions.kubernetes}: ${"a".repeat(64)}\n`, "sums.txt", needed)).toThrow(
            `init: sums.txt has no sha256 for kube-apiserver@${DEFAULTS.versions.kubernetes}, kube-controller-manager@`,
        );
        const twice = `${"a".repeat(64)}  v1/kubelet\n${"b".repeat(64)}  v2/kubelet\n`;
        expect(() => pinsFromFile(twice, "sums.txt", needed)).toThrow("init: sums.txt has 2 different sums for kubelet; name the file by its path");
    });
});

describe("the pieces", () => {
    test("the checksum files as the vendors lay them out", () => {
        const a = "a".repeat(64);
        expect(sumFor(`${a}\n`, "kubelet")).toBe(a);
        expect(sumFor(`${"b".repeat(64)}  etcd-v3.6.16-darwin-arm64.zip\n${a}  etcd-v3.6.16-linux-amd64.tar.gz\n`, "etcd-v3.6.16-linux-amd64.tar.gz")).toBe(a);
        expect(sumFor(`${"b".repeat(64)} *runc.arm64\n${a} *runc.amd64\n`, "runc.amd64")).toBe(a);
        expect(sumFor(`${a}  other.tgz\n`, "cni.tgz")).toBeUndefined();
        expect(sumFor("<html>404</html>", "kubelet")).toBeUndefined();
    });

    test("ssh-keyscan's output and the fingerprint ssh-keygen -lf prints", () => {
        const keyFile = path.join(dir, "hostkey");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile]);
        const pub = fs.readFileSync(`${keyFile}.pub`, "utf8").trim();
        const key = pub.split(" ").slice(0, 2).join(" ");
        const printed = execFileSync("ssh-keygen", ["-lf", `${keyFile}.pub`], { encoding: "utf8" }).split(" ")[1];
        expect(fingerprint(key)).toBe(printed);
        expect(keyFromKeyscan(`# 10.0.0.1:22 SSH-2.0-OpenSSH_9.2\n[10.0.0.1]:2222 ${key}\n`)).toBe(key);
        expect(keyFromKeyscan("[10.0.0.1]:2222 ssh-rsa AAAAB3NzaC1yc2E\n")).toBeUndefined();
    });

    test("the file renders values YAML reads back as they were", () => {
        const values = stackValues(
            { nodeNetwork: "10.0.0.0/24", vip: "10.0.0.10", hosts: parseHostsFile("yes 10.0.0.11 lb\n", "h"), versions: { kubernetes: "1.35.4" }, allowHttp: true, sshUser: "on" },
            { yes: keyOf("x") },
        );
        const text = renderStackFile(values, {}, ["a header"]);
        expect(text.startsWith("# a header\nconfig:\n")).toBe(true);
        const back = (parse(text) as { config: Record<string, unknown> }).config;
        expect(Object.fromEntries(Object.entries(back).map(([k, v]) => [k.replace("k8s-ha:", ""), v]))).toEqual(values);
    });
});

describe("ssh-keyscan and the probe against real listeners on loopback", () => {
    const servers: net.Server[] = [];
    afterAll(() => servers.forEach((s) => s.close()));
    /** A loopback TCP server that greets with `greeting` (or says nothing); its port. */
    const listen = (greeting?: string) =>
        new Promise<number>((resolve) => {
            const s = net.createServer((c) => {
                if (greeting !== undefined) c.write(greeting);
                c.on("error", () => undefined);
            });
            servers.push(s);
            s.listen(0, "127.0.0.1", () => resolve((s.address() as net.AddressInfo).port));
        });
    const closedPort = async () => {
        const s = net.createServer();
        await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
        const port = (s.address() as net.AddressInfo).port;
        await new Promise((r) => s.close(r));
        return port;
    };

    test("a host without sshd: connection refused", async () => {
        const port = await closedPort();
        expect(await scanHost("127.0.0.1", port, 2)).toEqual({
            problem: `ssh-keyscan got no ed25519 key: nothing listens on 127.0.0.1:${port} (connection refused): is sshd installed and running there, and is ${port} its port (port=N in the hosts file, or --ssh-port)?`,
        });
    });

    test("an sshd without an ed25519 key, another service, a silent one", async () => {
        const ssh = await listen("SSH-2.0-OpenSSH_9.2p1 stand-in\r\n");
        expect(await probeSsh("127.0.0.1", ssh, 2)).toMatch(/^sshd on 127\.0\.0\.1:\d+ \(SSH-2\.0-OpenSSH_9\.2p1 stand-in\) offers no ed25519 host key; make one there/);
        const web = await listen("HTTP/1.1 400 Bad Request\r\n\r\n");
        expect(await probeSsh("127.0.0.1", web, 2)).toMatch(/^something on 127\.0\.0\.1:\d+ answers, but not SSH/);
        const silent = await listen();
        expect(await probeSsh("127.0.0.1", silent, 1)).toMatch(/^something listens on 127\.0\.0\.1:\d+ but sends no SSH greeting/);
    });

    const SSHD = "/usr/sbin/sshd";
    // Debian's openssh-server, which scripts/setup.sh installs (its daemon not started): no skip.
    test("a real sshd: the key ssh-keyscan reads is its host key", async () => {
        if (!fs.existsSync(SSHD)) throw new Error(`${SSHD} is missing: install openssh-server (bash scripts/setup.sh does)`);
        const keyFile = path.join(dir, "hostkey");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile]);
        const port = await closedPort();
        fs.mkdirSync("/run/sshd", { recursive: true });
        const sshd: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", "/dev/null", "-h", keyFile, "-o", `ListenAddress=127.0.0.1:${port}`, "-o", `PidFile=${path.join(dir, "sshd.pid")}`], { stdio: "ignore" });
        try {
            let result = await scanHost("127.0.0.1", port, 2);
            for (let i = 0; i < 20 && "problem" in result; i++) {
                await new Promise((r) => setTimeout(r, 100));
                result = await scanHost("127.0.0.1", port, 2);
            }
            expect(result).toEqual({ key: fs.readFileSync(`${keyFile}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ") });
        } finally {
            sshd.kill();
        }
    });

    test("fetchText over http: the text, or the status", async () => {
        const server = http.createServer((req, res) => {
            if (req.url === "/v1/kubelet.sha256") res.end("a".repeat(64));
            else {
                res.statusCode = 404;
                res.end("not found");
            }
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
        try {
            expect(await fetchText(`${base}/v1/kubelet.sha256`)).toBe("a".repeat(64));
            await expect(fetchText(`${base}/v1/nothing`)).rejects.toThrow("HTTP 404");
        } finally {
            server.close();
        }
    });
});
