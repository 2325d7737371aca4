import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { firewallParams } from "../components/node";
import { apiServerFlags, BREAK_GLASS_USER, controllerManagerFlags, INSTALLER_USER, K8S_FILES, POD_BLOCKED_NFS_PORTS, renderFirewall, renderKeepalivedConfig, TERMINATED_POD_GC_THRESHOLD } from "../components/render";
import { validateConfig } from "../components/validate";
import { labConfig } from "./fixtures";
import { run, tool } from "./render-support";

// The lab checks' runner (scripts/lab/check-runner.sh) under scripts/hosts-check.sh and
// scripts/hosts-faults.sh, and some of their real checks, with stand-in ssh and kubectl: nothing
// leaves this machine. The scripts are sourced (they then only define their functions) or run.

const REPO = path.resolve(__dirname, "..");
const K8S = "1.35.0";
const HOSTS: [string, string][] = [
    ["lb1", "10.213.0.11"],
    ["lb2", "10.213.0.12"],
    ["cp1", "10.213.0.21"],
    ["cp2", "10.213.0.22"],
    ["cp3", "10.213.0.23"],
    ["w1", "10.213.0.31"],
    ["w2", "10.213.0.32"],
    ["w4", "10.213.0.34"],
    ["mirror", "10.213.0.41"],
    ["nfs", "10.213.0.51"],
];
const ADDR = Object.fromEntries(HOSTS);
const PLAN = JSON.stringify({ versions: { kubernetes: K8S }, vip: "10.213.0.10", hosts: HOSTS.map(([name, address]) => ({ name, address })) });

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
}

/** A temporary folder with stand-in ssh (answers from remote.sh; a host in down/ is unreachable) and kubectl. */
class LabSandbox {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-checks-"));

    constructor() {
        fs.mkdirSync(this.path("bin"));
        fs.mkdirSync(this.path("down"));
        fs.mkdirSync(this.path("e2e"));
        this.standIn(
            "bin/ssh",
            [
                'for a; do case $a in root@*) addr=${a#root@} ;; esac; done',
                'cmd=${!#}',
                'if [[ -e $SANDBOX/down/$addr ]]; then echo "ssh: connect to host $addr port 22: Connection refused" >&2; exit 255; fi',
                'source "$SANDBOX/remote.sh"',
            ].join("\n"),
        );
        this.remote("exit 0");
        this.kubectl("exit 0");
    }

    path(...parts: string[]): string {
        return path.join(this.dir, ...parts);
    }

    private standIn(rel: string, body: string): void {
        fs.mkdirSync(path.dirname(this.path(rel)), { recursive: true });
        fs.writeFileSync(this.path(rel), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
    }

    /** What a host answers: bash with $addr (the host's address) and $cmd (the remote command). */
    remote(body: string): void {
        fs.writeFileSync(this.path("remote.sh"), body + "\n");
    }

    /** The kubectl the checks run ($KUBECTL): bash with the arguments in "$@". */
    kubectl(body: string): void {
        this.standIn(`cache/artifacts/build/kubernetes-${K8S}/kubectl`, body);
    }

    down(host: string): void {
        fs.writeFileSync(this.path("down", ADDR[host]), "");
    }

    private env(extra: Record<string, string>): NodeJS.ProcessEnv {
        const inherited = Object.entries(process.env).filter(([k]) => !k.startsWith("K8SHA_") && !["CHECKS", "DRILLS", "CLEAN_HOSTS", "BASH_ENV"].includes(k));
        return {
            ...Object.fromEntries(inherited),
            PATH: `${this.path("bin")}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
            SANDBOX: this.dir,
            K8SHA_LAB_PLAN: PLAN,
            K8SHA_E2E_DIR: this.path("e2e"),
            K8S_HA_CACHE: this.path("cache"),
            ...extra,
        };
    }

    /** bash SCRIPT ARGS, run as e2e.sh runs it. */
    run(script: string, args: string[], env: Record<string, string> = {}): Run {
        const r = spawnSync("bash", [path.join(REPO, "scripts", script), ...args], { cwd: REPO, encoding: "utf8", env: this.env(env), timeout: 30000 });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    /** The records of `check NAME FUNC` for each pair, with SCRIPT's functions sourced and BODY defining more. */
    checks(pairs: [string, string][], body = "", env: Record<string, string> = {}): { name: string; status: string; evidence: string }[] {
        const calls = pairs.map(([name, fn]) => `check '${name}' ${fn}`).join("\n");
        const script = ['source scripts/hosts-check.sh', 'RESULTS=$(mktemp)', 'CHECK_OUT=$(mktemp)', body, calls, 'cat "$RESULTS"'].join("\n");
        const r = spawnSync("bash", ["-c", script], { cwd: REPO, encoding: "utf8", env: this.env(env), timeout: 30000 });
        if (r.status !== 0) throw new Error(`bash exited ${r.status}: ${r.stderr}`);
        return r.stdout
            .split("\n")
            .filter((l) => l !== "")
            .map((l) => {
                const [name, status, evidence] = l.split("\t");
                return { name, status, evidence };
            });
    }

    /** What BODY prints with SCRIPT's functions and variables sourced. */
    sourced(script: string, body: string): string {
        const r = spawnSync("bash", ["-c", [`source scripts/${script}`, body].join("\n")], { cwd: REPO, encoding: "utf8", env: this.env({}), timeout: 30000 });
        if (r.status !== 0) throw new Error(`bash exited ${r.status}: ${r.stderr}`);
        return r.stdout;
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

let lab: LabSandbox;
beforeEach(() => {
    lab = new LabSandbox();
});
afterEach(() => lab.remove());

describe("every command of a check counts", () => {
    test("a check whose middle command fails is failed though its last command succeeds, and the failed command is named", () => {
        const [mid, ok] = lab.checks(
            [
                ["middle fails", "c_mid"],
                ["all succeed", "c_ok"],
            ],
            ['c_mid() { echo first; false; echo "last command ok"; }', 'c_ok() { echo first; true; echo "last command ok"; }'].join("\n"),
        );
        expect(mid.status).toBe("failed");
        // environment:4: line 4 of the bash -c script, where c_mid is defined.
        expect(mid.evidence).toBe("first (failed at environment:4: false (exit 1))");
        expect(ok).toEqual({ name: "all succeed", status: "passed", evidence: "first last command ok" });
    });

    test("c_pods fails when one pod is not created, though the wait at its end succeeds", () => {
        lab.kubectl('[[ $1 == run && $2 == check-w2 ]] && { echo "Error: pods \\"check-w2\\" already exists" >&2; exit 1; }; exit 0');
        const [pods] = lab.checks([["2 pods", "c_pods"]]);
        expect(pods.status).toBe("failed");
        expect(pods.evidence).toContain('pods "check-w2" already exists');
        lab.kubectl("exit 0");
        expect(lab.checks([["2 pods", "c_pods"]])[0].status).toBe("passed");
    });

    test("a runner called where bash ignores errexit refuses to run the check", () => {
        const r = spawnSync(
            "bash",
            ["-c", ['source scripts/hosts-check.sh', 'RESULTS=$(mktemp)', 'CHECK_OUT=$(mktemp)', "c_ok() { false; echo ok; }", "if check ok c_ok; then :; fi", 'cat "$RESULTS"'].join("\n")],
            { cwd: REPO, encoding: "utf8", env: { ...process.env, PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, K8SHA_LAB_PLAN: PLAN, K8S_HA_CACHE: lab.path("cache") } },
        );
        expect(r.stdout).toBe("ok\tfailed\tcheck-runner: errexit is ignored here (isolated called from a condition, a && or || list or after !): c_ok\n");
    });
});

describe("a host that cannot be reached fails the check", () => {
    test("c_clean: an unreachable host is not clean", () => {
        lab.remote("echo k8sha-listed");
        const all = "cp1 w1 w2";
        expect(lab.checks([["9 clean", "c_clean"]], "", { CLEAN_HOSTS: all })[0]).toEqual({
            name: "9 clean",
            status: "passed",
            evidence: "no k8s-ha service running and no k8s-ha file left on any host",
        });
        lab.down("w2");
        const [clean] = lab.checks([["9 clean", "c_clean"]], "", { CLEAN_HOSTS: all });
        expect(clean.status).toBe("failed");
        expect(clean.evidence).toContain("w2 (10.213.0.32): unreachable over SSH");
        expect(clean.evidence).toContain("w2: not looked at (unreachable)");
    });

    test("c_clean: a listing that stopped short is not clean", () => {
        lab.remote('[[ $addr == 10.213.0.31 ]] && exit 0; echo k8sha-listed');
        const [clean] = lab.checks([["9 clean", "c_clean"]], "", { CLEAN_HOSTS: "cp1 w1" });
        expect(clean.status).toBe("failed");
        expect(clean.evidence).toContain("w1: the listing stopped short");
    });

    test("c_one_vip: lb1 holding the VIP with lb2 unreachable is not 'exactly one'", () => {
        lab.remote('[[ $addr == 10.213.0.11 ]] && echo "2: eth0    inet 10.213.0.10/24 scope global eth0"; echo "2: eth0    inet $addr/24 scope global eth0"');
        expect(lab.checks([["5 one vip", "c_one_vip"]])[0]).toEqual({
            name: "5 one vip",
            status: "passed",
            evidence: "lb1 holds 10.213.0.10 lb2 does not hold 10.213.0.10",
        });
        lab.down("lb2");
        const [vip] = lab.checks([["5 one vip", "c_one_vip"]]);
        expect(vip.status).toBe("failed");
        expect(vip.evidence).toContain("lb2 (10.213.0.12): unreachable over SSH");
    });
});

describe("a 'must be refused' check fails when it could not ask", () => {
    test("c_etcd_plain_refused: refused by etcd passes; SSH to cp1 down or curl missing on cp1 fails", () => {
        lab.remote('echo "400 curl exit 0"');
        expect(lab.checks([["3 plain", "c_etcd_plain_refused"]])[0].status).toBe("passed");
        lab.remote('echo "000 curl exit 127"');
        expect(lab.checks([["3 plain", "c_etcd_plain_refused"]])[0].status).toBe("failed");
        lab.remote('echo "400 curl exit 0"');
        lab.down("cp1");
        const [plain] = lab.checks([["3 plain", "c_etcd_plain_refused"]]);
        expect(plain.status).toBe("failed");
        expect(plain.evidence).toContain("cp1 (10.213.0.21): unreachable over SSH");
    });

    test("c_firewall_admits_users: a port 'refused' from w1 is not refused when w1 cannot be reached", () => {
        // What each probe finds from its host (the probe's own function is sent first, then its call).
        lab.remote(
            [
                'case "$addr ${cmd##*tcp_probe }" in',
                '"10.213.0.31 10.213.0.21 2379" | "10.213.0.51 10.213.0.21 2379" | "10.213.0.31 10.213.0.32 10250" | "10.213.0.11 10.213.0.41 5000") echo refused ;;',
                "*) echo open ;;",
                "esac",
            ].join("\n"),
        );
        expect(lab.checks([["4 admits", "c_firewall_admits_users"]])[0].status).toBe("passed");
        lab.down("w1");
        const [admits] = lab.checks([["4 admits", "c_firewall_admits_users"]]);
        expect(admits.status).toBe("failed");
        expect(admits.evidence).toContain("from w1 to 10.213.0.21:2379: not probed (w1 unreachable)");
        expect(admits.evidence).toContain("from w1 to 10.213.0.32:10250: not probed (w1 unreachable)");
        expect(admits.evidence).toContain("from lb1 to 10.213.0.41:5000: refused");
    });

    test("c_firewall_admits_users: etcd's client port open to the NFS server fails the check (issue 26, M2)", () => {
        lab.remote(['case "$addr ${cmd##*tcp_probe }" in', '"10.213.0.31 10.213.0.21 2379" | "10.213.0.31 10.213.0.32 10250" | "10.213.0.11 10.213.0.41 5000") echo refused ;;', "*) echo open ;;", "esac"].join("\n"));
        const [admits] = lab.checks([["4 admits", "c_firewall_admits_users"]]);
        expect(admits.status).toBe("failed");
        expect(admits.evidence).toContain("from nfs to 10.213.0.21:2379: open");
    });
});

describe("the CIS and VRRP checks read what runs, and fail when it differs", () => {
    /** `remote` for one flag of a running unit: running_flag's grep over FLAGS, per host address. */
    function runningFlags(flags: Record<string, readonly string[]>): string {
        return [
            '[[ $cmd =~ \\^--([a-z-]+)= ]] || exit 1',
            'case $addr in',
            ...Object.entries(flags).map(([addr, list]) => `${addr}) printf '%s\\n' ${list.map((f) => `'${f}'`).join(" ")} | grep -E "^--\${BASH_REMATCH[1]}=" ;;`),
            "*) exit 1 ;;",
            "esac",
        ].join("\n");
    }
    const cps = ["10.213.0.21", "10.213.0.22", "10.213.0.23"];
    const cm = controllerManagerFlags({ podCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12" });
    const api = apiServerFlags({ advertiseAddress: "10.213.0.21", etcdMembers: [{ name: "cp1", address: "10.213.0.21" }], serviceCidr: "10.96.0.0/12", serviceAccountIssuer: "https://10.213.0.10:6443" });
    // render_fact reads the compiled program (bin/, built by the e2e); here the value comes from the source.
    const renderFact = `render_fact() { [[ $1 == r.TERMINATED_POD_GC_THRESHOLD ]] && echo ${TERMINATED_POD_GC_THRESHOLD}; }`;

    test("c_terminated_pod_gc: every controller-manager runs the program's threshold; one without it, another value or a host down fails", () => {
        expect(cm).toContain(`--terminated-pod-gc-threshold=${TERMINATED_POD_GC_THRESHOLD}`);
        lab.remote(runningFlags(Object.fromEntries(cps.map((a) => [a, cm]))));
        expect(lab.checks([["4 gc", "c_terminated_pod_gc"]], renderFact)[0]).toEqual({
            name: "4 gc",
            status: "passed",
            evidence: cps.map((_, i) => `cp${i + 1}: --terminated-pod-gc-threshold=1000`).join(" "),
        });
        const without = cm.filter((f) => !f.startsWith("--terminated-pod-gc-threshold="));
        lab.remote(runningFlags({ [cps[0]]: cm, [cps[1]]: without, [cps[2]]: cm }));
        const [absent] = lab.checks([["4 gc", "c_terminated_pod_gc"]], renderFact);
        expect(absent.status).toBe("failed");
        expect(absent.evidence).toContain("cp2: no --terminated-pod-gc-threshold read");
        lab.remote(runningFlags({ [cps[0]]: cm, [cps[1]]: cm, [cps[2]]: [...without, "--terminated-pod-gc-threshold=12500"] }));
        expect(lab.checks([["4 gc", "c_terminated_pod_gc"]], renderFact)[0].status).toBe("failed");
        lab.remote(runningFlags(Object.fromEntries(cps.map((a) => [a, cm]))));
        lab.down("cp3");
        expect(lab.checks([["4 gc", "c_terminated_pod_gc"]], renderFact)[0].status).toBe("failed");
    });

    test("c_event_rate_limit_enabled: every apiserver's plugins include EventRateLimit; one without it fails", () => {
        const plugins = api.find((f) => f.startsWith("--enable-admission-plugins="));
        expect(plugins?.split("=")[1].split(",")).toContain("EventRateLimit");
        lab.remote(runningFlags(Object.fromEntries(cps.map((a) => [a, api]))));
        expect(lab.checks([["4 erl", "c_event_rate_limit_enabled"]])[0].status).toBe("passed");
        const others = api.map((f) => (f === plugins ? "--enable-admission-plugins=NodeRestriction,EventRateLimitX" : f));
        lab.remote(runningFlags({ [cps[0]]: api, [cps[1]]: others, [cps[2]]: api }));
        const [missing] = lab.checks([["4 erl", "c_event_rate_limit_enabled"]]);
        expect(missing.status).toBe("failed");
        expect(missing.evidence).toContain("cp2: --enable-admission-plugins=NodeRestriction,EventRateLimitX");
    });

    describe("c_pause_by_digest", () => {
        const D = `sha256:${"0a".repeat(32)}`;
        interface Worker {
            sandbox: string;
            /** containerd's ActiveEnterTimestamp, and the config's mtime (epoch seconds). */
            started: string;
            written: number;
            /** `ctr -n k8s.io images ls` */
            images: string;
        }
        const good = (): Worker => ({
            sandbox: `registry.k8s.io/pause@${D}`,
            started: "Tue 2026-12-08 00:30:05 UTC",
            written: Date.UTC(2026, 11, 8, 0, 30, 0) / 1000,
            images: `REF TYPE DIGEST SIZE PLATFORMS LABELS\nregistry.k8s.io/pause:3.10.1 application/vnd.oci.image.index.v1+json ${D} 300.0 KiB linux/amd64 io.cri-containerd.image=managed,io.cri-containerd.pinned=pinned\nregistry.k8s.io/pause@${D} application/vnd.oci.image.index.v1+json ${D} 300.0 KiB linux/amd64 io.cri-containerd.image=managed,io.cri-containerd.pinned=pinned\n`,
        });
        /** Each worker's stand-in containerd, systemctl, stat and ctr (pause_facts runs with them), as CHANGE makes them. */
        function workers(change: (name: string, w: Worker) => Worker = (_, w) => w): void {
            for (const name of ["w1", "w2", "w4"]) {
                const w = change(name, good());
                const bin = lab.path("hostbin", ADDR[name]);
                fs.mkdirSync(bin, { recursive: true });
                const stand = (tool: string, body: string) => fs.writeFileSync(path.join(bin, tool), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
                stand("containerd", `printf '%s\\n' 'version = 3' '[plugins]' "  [plugins.'io.containerd.cri.v1.images'.pinned_images]" "    sandbox = '${w.sandbox}'"`);
                stand("systemctl", `echo '${w.started}'`);
                stand("stat", `echo ${w.written}`);
                stand("ctr", `printf '%s' '${w.images}'`);
            }
            lab.remote('PATH=$SANDBOX/hostbin/$addr:$PATH; eval "$cmd"');
        }
        const check = () => lab.checks([["4 pause", "c_pause_by_digest"]])[0];

        test("passes when every worker's containerd runs a config that pins the same digest, and holds it pinned", () => {
            workers();
            expect(check()).toEqual({
                name: "4 pause",
                status: "passed",
                evidence: ["w1", "w2", "w4"].map((n) => `${n}: sandbox registry.k8s.io/pause@${D}; started 5 s after the config was written; in the store: pinned`).join(" "),
            });
        });

        test("fails by tag, with containerd older than its config, unpinned, absent from the store, or digests that differ", () => {
            workers((n, w) => (n === "w2" ? { ...w, sandbox: "registry.k8s.io/pause:3.10.1" } : w));
            expect(check().evidence).toContain("w2: sandbox registry.k8s.io/pause:3.10.1;");
            expect(check().status).toBe("failed");
            workers((n, w) => (n === "w4" ? { ...w, started: "Tue 2026-12-08 00:29:00 UTC" } : w));
            const stale = check();
            expect(stale.status).toBe("failed");
            expect(stale.evidence).toContain("w4: sandbox registry.k8s.io/pause@" + D + "; started -60 s after the config was written");
            workers((n, w) => (n === "w1" ? { ...w, images: w.images.replace(/io\.cri-containerd\.pinned=pinned\n$/, "\n") } : w));
            expect(check()).toMatchObject({ status: "failed", evidence: expect.stringContaining("w1: sandbox registry.k8s.io/pause@" + D + "; started 5 s after the config was written; in the store: not pinned") });
            workers((n, w) => (n === "w1" ? { ...w, images: "REF TYPE DIGEST SIZE PLATFORMS LABELS\n" } : w));
            expect(check()).toMatchObject({ status: "failed", evidence: expect.stringContaining("in the store: absent") });
            const other = `sha256:${"0b".repeat(32)}`;
            workers((n, w) => (n === "w2" ? { ...w, sandbox: `registry.k8s.io/pause@${other}`, images: w.images.split(D).join(other) } : w));
            expect(check()).toMatchObject({ status: "failed", evidence: expect.stringContaining("the workers name different digests (or none)") });
        });
    });

    describe("c_firewall_ssh_node_network", () => {
        const cluster = validateConfig(labConfig());
        /** Each host's live chain (the program's rules loaded in a network namespace of its own, as CHANGE makes them). */
        function chains(change: (name: string, chain: string) => string = (_, c) => c, c = cluster): void {
            for (const name of ["lb1", "lb2", "cp1", "cp2", "cp3", "w1", "w2", "w4", "mirror", "nfs"]) {
                // w4 is not in the tests' lab config: it has a worker's rules.
                const h = c.hosts.find((x) => x.name === (name === "w4" ? "w2" : name));
                if (!h) throw new Error(`no ${name} in the lab config`);
                const file = lab.path(`${name}.nft`);
                fs.writeFileSync(file, renderFirewall(firewallParams(h, c)));
                const r = run(tool("unshare"), ["--net", "sh", "-c", 'nft -f "$1" && nft list chain inet k8s_ha input', "sh", file]);
                if (r.status !== 0) throw new Error(`nft: ${r.stderr}`);
                fs.mkdirSync(lab.path("hosts", ADDR[name]), { recursive: true });
                fs.writeFileSync(lab.path("hosts", ADDR[name], "chain"), change(name, r.stdout));
            }
            lab.remote(['f=$SANDBOX/hosts/$addr', "case $cmd in", '"nft list chain inet k8s_ha input") cat "$f/chain" ;;', "*) exit 1 ;;", "esac"].join("\n"));
        }
        const check = () => lab.checks([["4 ssh", "c_firewall_ssh_node_network"]])[0];

        test("passes on the program's rules (sshFrom left to its default)", () => {
            chains();
            const r = check();
            expect(r.status).toBe("passed");
            expect(r.evidence).toContain('nfs: SSH: ip saddr 10.213.0.0/24 tcp dport 22 accept comment "ssh"');
        });

        test("fails with SSH open to any (the old default), or a second rule that opens it, or a host not read", () => {
            chains(undefined, validateConfig({ ...labConfig(), firewall: { sshFrom: "any" } }));
            const any = check();
            expect(any.status).toBe("failed");
            expect(any.evidence).toContain('cp1: SSH: tcp dport 22 accept comment "ssh"');
            chains((name, chain) => (name === "w1" ? chain.replace(/^(\s*)(tcp dport 30000-32767 .*)$/m, '$1$2\n$1tcp dport { 22, 2222 } accept comment "x"') : chain));
            const second = check();
            expect(second.status).toBe("failed");
            expect(second.evidence).toContain('w1: SSH: ip saddr 10.213.0.0/24 tcp dport 22 accept comment "ssh"; tcp dport { 22, 2222 } accept comment "x"');
            chains((name, chain) => (name === "mirror" ? "" : chain));
            expect(check().status).toBe("failed");
        });
    });

    describe("c_vrrp_peer_only", () => {
        const cluster = validateConfig(labConfig());
        const lbs = ["lb1", "lb2"].map((name) => {
            const h = cluster.hosts.find((x) => x.name === name);
            if (!h) throw new Error(`no ${name} in the lab config`);
            return h;
        });
        /** What nft lists once the program's rules for HOST are loaded (in a network namespace of its own). */
        function liveChain(host: (typeof lbs)[number]): string {
            const file = lab.path(`${host.name}.nft`);
            fs.writeFileSync(file, renderFirewall(firewallParams(host, cluster)));
            const r = run(tool("unshare"), ["--net", "sh", "-c", 'nft -f "$1" && nft list chain inet k8s_ha input', "sh", file]);
            if (r.status !== 0) throw new Error(`nft: ${r.stderr}`);
            return r.stdout;
        }
        /** Each lb host's live chain and keepalived.conf (the program's, or as CHANGE makes them). */
        function hosts(change: (name: string, chain: string, conf: string) => [string, string] = (_, c, k) => [c, k]): void {
            for (const [i, h] of lbs.entries()) {
                const peer = lbs[1 - i].address;
                const conf = renderKeepalivedConfig({ hostName: h.name, interface: "eth0", virtualRouterId: 51, priority: 150 - 50 * i, vip: cluster.vip, vipPrefixLength: 24, unicastSrcIp: h.address, unicastPeers: [peer], advertIntervalMs: 100 });
                const [chain, keepalived] = change(h.name, liveChain(h), conf);
                fs.mkdirSync(lab.path("hosts", h.address), { recursive: true });
                fs.writeFileSync(lab.path("hosts", h.address, "chain"), chain);
                fs.writeFileSync(lab.path("hosts", h.address, "keepalived.conf"), keepalived);
            }
            lab.remote(
                [
                    "f=$SANDBOX/hosts/$addr",
                    "case $cmd in",
                    '"nft list chain inet k8s_ha input") cat "$f/chain" ;;',
                    '*/etc/keepalived/keepalived.conf) eval "${cmd%/etc/keepalived/keepalived.conf}$f/keepalived.conf" ;;',
                    "*) exit 1 ;;",
                    "esac",
                ].join("\n"),
            );
        }
        const check = (): { name: string; status: string; evidence: string } => lab.checks([["5 vrrp", "c_vrrp_peer_only"]])[0];

        test("passes on the program's rules and keepalived.conf", () => {
            hosts();
            const r = check();
            expect(r).toEqual({
                name: "5 vrrp",
                status: "passed",
                evidence:
                    'lb1: VRRP rule: ip saddr 10.213.0.12 ip protocol vrrp accept comment "VRRP from the other lb host" lb1: keepalived: vrrp_version 3, advert_int 0.1, check_unicast_src, 10.213.0.12 ' +
                    'lb2: VRRP rule: ip saddr 10.213.0.11 ip protocol vrrp accept comment "VRRP from the other lb host" lb2: keepalived: vrrp_version 3, advert_int 0.1, check_unicast_src, 10.213.0.11',
            });
        });

        test("fails on VRRPv2, or on two advert intervals", () => {
            hosts((name, chain, conf) => [chain, name === "lb1" ? conf.replace(/^\s*vrrp_version 3\n/m, "") : conf]);
            const v2 = check();
            expect(v2.status).toBe("failed");
            expect(v2.evidence).toContain("lb1: not VRRPv3 with check_unicast_src and the peer 10.213.0.12 alone");
            hosts((name, chain, conf) => [chain, name === "lb2" ? conf.replace("advert_int 0.1", "advert_int 1") : conf]);
            const split = check();
            expect(split.status).toBe("failed");
            expect(split.evidence).toContain("lb2: advert_int 1, the other lb host advert_int 0.1");
        });

        test("fails when VRRP is accepted from anyone, or another rule accepts all from a network", () => {
            hosts((name, chain, conf) => [name === "lb2" ? chain.replace("ip saddr 10.213.0.11 ip protocol vrrp", "ip protocol vrrp") : chain, conf]);
            const [open] = [check()];
            expect(open.status).toBe("failed");
            expect(open.evidence).toContain('lb2: VRRP rule: ip protocol vrrp accept comment "VRRP from the other lb host"');
            hosts((name, chain, conf) => [name === "lb1" ? chain.replace(/^(\s*)(tcp dport 6443 .*)$/m, "$1$2\n$1ip saddr 10.213.0.0/24 accept") : chain, conf]);
            const wide = check();
            expect(wide.status).toBe("failed");
            expect(wide.evidence).toContain("other accepts: ip saddr 10.213.0.0/24 accept");
        });

        test("fails when the chain's policy accepts, keepalived lacks check_unicast_src, or an lb host is down", () => {
            hosts((name, chain, conf) => [name === "lb1" ? chain.replace("policy drop;", "policy accept;") : chain, conf]);
            const policy = check();
            expect(policy.status).toBe("failed");
            expect(policy.evidence).toContain("lb1: the input chain's policy is not drop");
            hosts((name, chain, conf) => [chain, name === "lb2" ? conf.replace(/^\s*check_unicast_src\n/m, "") : conf]);
            const unchecked = check();
            expect(unchecked.status).toBe("failed");
            expect(unchecked.evidence).toContain("lb2: keepalived: vrrp_version 3, advert_int 0.1, 10.213.0.11");
            hosts();
            lab.down("lb2");
            const down = check();
            expect(down.status).toBe("failed");
            expect(down.evidence).toContain("lb2 (10.213.0.12): unreachable over SSH");
        });
    });
});

describe("pods' packets to the NFS server (issue 26 M1)", () => {
    test("POD_TCP_PROBE, run by busybox in a network namespace: a dropped SYN is a timeout, a listener open, a closed port closed", () => {
        const script = lab.sourced("hosts-check.sh", 'printf %s "$POD_TCP_PROBE"');
        const body = [
            "set -e",
            "ip link set lo up",
            // 127.0.0.2 is this namespace's too: its SYNs dropped, as the workers' forward chain drops a pod's.
            "printf 'table inet t {\\n chain o {\\n type filter hook output priority 0;\\n ip daddr 127.0.0.2 tcp dport 2049 drop\\n }\\n}\\n' | nft -f -",
            `"$2" -c 'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", 2049)); s.listen(); time.sleep(30)' &`,
            "l1=$!",
            // A listener that closes each connection after 1.5 s idle, as CoreDNS does (after 2 s) on TCP 53.
            `"$2" -c 'import socket, time\ns = socket.socket(); s.bind(("127.0.0.1", 5353)); s.listen()\nwhile True:\n    c, _ = s.accept(); time.sleep(1.5); c.close()' &`,
            "l2=$!",
            "sleep 0.5",
            '"$3" sh -c "$1" probe 127.0.0.2:2049 127.0.0.1:2049 127.0.0.1:1 127.0.0.1:5353',
            "kill $l1 $l2",
        ].join("\n");
        const r = run(tool("unshare"), ["--user", "--map-root-user", "--net", "bash", "-c", body, "bash", script, tool("python3"), tool("busybox")]);
        expect({ stdout: r.stdout, stderr: r.stderr }).toEqual({ stdout: "127.0.0.2:2049 timeout\n127.0.0.1:2049 open\n127.0.0.1:1 closed\n127.0.0.1:5353 open\n", stderr: "" });
    }, 30_000);

    /** kubectl for c_pods_nfs_dropped: the two Services, every pod Succeeded, each pod's log from logs-NAME, applied pods kept. */
    function probeKubectl(): void {
        lab.kubectl(
            [
                'case "$*" in',
                '*"get svc kubernetes "*) printf %s 10.96.0.1:443 ;;',
                '*"get svc kube-dns "*) printf %s 10.96.0.10:53 ;;',
                'apply*) n=$(ls "$SANDBOX" | grep -c "^applied-" || true); cat >"$SANDBOX/applied-$n.json" ;;',
                '*"get pod "*) printf %s Succeeded ;;',
                'logs*) cat "$SANDBOX/logs-$2" ;;',
                "esac",
            ].join("\n"),
        );
    }
    const renderFact = `render_fact() { [[ $1 == r.POD_BLOCKED_NFS_PORTS ]] && printf '%s\\n' ${POD_BLOCKED_NFS_PORTS.join(" ")}; }`;
    const good = ["10.213.0.51:22 open", "10.96.0.1:443 open", "10.96.0.10:53 open", "10.213.0.41:5000 open", "10.213.0.51:111 timeout", "10.213.0.51:2049 timeout"];
    function logs(w1: string[], w4: string[]): void {
        fs.writeFileSync(lab.path("logs-check-podnet-w1"), w1.join("\n") + "\n");
        fs.writeFileSync(lab.path("logs-check-podnet-w4"), w4.join("\n") + "\n");
    }

    test("c_pods_nfs_dropped: passes when both pods time out on the NFS ports and reach the rest; the pods are restricted pods on w1 and w4 probing exactly those", () => {
        probeKubectl();
        logs(good, good);
        const [r] = lab.checks([["6 podnet", "c_pods_nfs_dropped"]], renderFact);
        expect(r.status).toBe("passed");
        expect(r.evidence).toContain(`from a pod on w4: ${good.join(";")}`);
        const pods = [0, 1].map((i) => JSON.parse(fs.readFileSync(lab.path(`applied-${i}.json`), "utf8")));
        expect(pods.map((p) => p.spec.nodeName)).toEqual(["w1", "w4"]);
        const c = pods[0].spec.containers[0];
        expect(c.image).toBe("docker.io/library/busybox:1.35.0");
        expect(c.command.slice(3)).toEqual(["probe", ...good.map((l) => l.split(" ")[0])]);
        expect(c.command[2]).toBe(lab.sourced("hosts-check.sh", 'printf %s "$POD_TCP_PROBE"'));
        expect([pods[0].spec.securityContext.runAsNonRoot, c.securityContext.capabilities.drop]).toEqual([true, ["ALL"]]);
    });

    test("c_pods_nfs_dropped: fails when a pod reaches 2049, is refused on 111 (the server's firewall, not the guard), or a control does not answer", () => {
        probeKubectl();
        const reached = good.map((l) => (l === "10.213.0.51:2049 timeout" ? "10.213.0.51:2049 open" : l));
        logs(good, reached);
        const [open] = lab.checks([["6 podnet", "c_pods_nfs_dropped"]], renderFact);
        expect(open.status).toBe("failed");
        expect(open.evidence).toContain("want 10.213.0.51:2049 timeout");
        logs(good.map((l) => (l === "10.213.0.51:111 timeout" ? "10.213.0.51:111 closed" : l)), good);
        expect(lab.checks([["6 podnet", "c_pods_nfs_dropped"]], renderFact)[0].status).toBe("failed");
        logs(good, good.map((l) => (l === "10.96.0.1:443 open" ? "10.96.0.1:443 timeout" : l)));
        expect(lab.checks([["6 podnet", "c_pods_nfs_dropped"]], renderFact)[0].status).toBe("failed");
        // A pod whose log is empty (it did not run its probes) fails too.
        logs(good, []);
        expect(lab.checks([["6 podnet", "c_pods_nfs_dropped"]], renderFact)[0].status).toBe("failed");
    });
});

describe("pods' packets to a preloaded mirror's push endpoint (issue 26 M5)", () => {
    test("c_pod_push_dropped: passes when the push endpoint times out and the pull port answers; fails when the push port answers", () => {
        lab.kubectl(['case "$*" in', '*"get pod "*) printf %s Succeeded ;;', 'logs*) cat "$SANDBOX/logs-$2" ;;', "apply*) cat >\"$SANDBOX/applied.json\" ;;", "esac"].join("\n"));
        const body = 'PUSH_DIR=$SANDBOX; printf \'{"endpoint":"10.213.0.41:5001","username":"k8s-ha-push"}\' >"$PUSH_DIR/push.json"';
        fs.writeFileSync(lab.path("logs-check-podnet-push"), "10.213.0.41:5001 timeout\n10.213.0.41:5000 open\n");
        const [ok] = lab.checks([["8 push", "c_pod_push_dropped"]], body);
        expect(ok).toEqual({ name: "8 push", status: "passed", evidence: "from a pod on w1: 10.213.0.41:5001 timeout;10.213.0.41:5000 open" });
        expect(JSON.parse(fs.readFileSync(lab.path("applied.json"), "utf8")).spec.containers[0].command.slice(3)).toEqual(["probe", "10.213.0.41:5001", "10.213.0.41:5000"]);
        fs.writeFileSync(lab.path("logs-check-podnet-push"), "10.213.0.41:5001 open\n10.213.0.41:5000 open\n");
        expect(lab.checks([["8 push", "c_pod_push_dropped"]], body)[0].status).toBe("failed");
    });
});

describe("the count of checks and drills", () => {
    const closing = (r: Run) => r.stderr.trim().split("\n").pop();

    test("hosts-check: the closing line counts what ran of what exists, on stdout and as the log's last line", () => {
        lab.remote("echo k8sha-listed");
        const clean = lab.run("hosts-check.sh", ["clean"], { CLEAN_HOSTS: "cp1 w1" });
        expect([clean.status, clean.stdout]).toEqual([0, "hosts-check clean: 1 passed, 0 failed, 1 of 1 run\n"]);
        expect(closing(clean)).toBe("hosts-check clean: 1 passed, 0 failed, 1 of 1 run");
        const report = JSON.parse(fs.readFileSync(lab.path("e2e/report.json"), "utf8"));
        expect(report.clean).toMatchObject({ passed: 1, failed: 0, run: 1, total: 1 });

        lab.kubectl('[[ $1 == config ]] && echo https://10.213.0.10:6443; [[ $1 == get ]] && echo "w1=True w2=True w4=True "; exit 0');
        const some = lab.run("hosts-check.sh", [], { CHECKS: "1" });
        expect([some.status, some.stdout]).toEqual([0, "hosts-check cluster (CHECKS=1): 2 passed, 0 failed, 2 of 49 run\n"]);
    });

    test("hosts-check: a filter that selects nothing is an error; a failed check fails the run", () => {
        const none = lab.run("hosts-check.sh", ["clean"], { CHECKS: "nothing" });
        expect([none.status, none.stdout, closing(none)]).toEqual([2, "", "hosts-check clean: CHECKS=nothing selects none of its 1 checks"]);
        lab.down("w1");
        lab.remote("echo k8sha-listed");
        const failed = lab.run("hosts-check.sh", ["clean"], { CLEAN_HOSTS: "cp1 w1" });
        expect([failed.status, failed.stdout]).toEqual([1, "hosts-check clean: 0 passed, 1 failed, 1 of 1 run\n"]);
    });

    test("hosts-faults: a filter that selects nothing is an error", () => {
        const none = lab.run("hosts-faults.sh", [], { DRILLS: "d_nothing" });
        expect(none.status).toBe(2);
        expect(closing(none)).toBe("faults: DRILLS=d_nothing selects none of the 7 drills (d_haproxy a d_haproxy b d_keepalived d_apiserver d_etcd d_lb_host d_nfs_down)");
    });

    test("hosts-faults: a drill that stops at a failed command is recorded failed and repaired; one record per drill", () => {
        lab.down("cp1");
        // Drills in a file of their own, so that the runner can show a failed line of it.
        fs.writeFileSync(
            lab.path("drills.sh"),
            [
                'd_fine() { record "fine drill" passed "1.0 s" "<= 2 s"; }',
                "d_stops() {",
                '    on_abort "echo repaired >&2"',
                '    on cp1 "systemctl stop etcd"',
                '    record "never reached" passed "" ""',
                "}",
                'd_after() { record "after drill" passed "1.0 s" "<= 2 s"; on cp1 "systemctl start etcd"; }',
                "DRILL_LIST=(d_fine d_stops d_after)",
                "",
            ].join("\n"),
        );
        const script = ["source scripts/hosts-faults.sh", 'source "$SANDBOX/drills.sh"', "main"].join("\n");
        const r = spawnSync("bash", ["-c", script], { cwd: REPO, encoding: "utf8", env: { ...process.env, PATH: `${lab.path("bin")}:${path.dirname(process.execPath)}:/usr/bin:/bin`, SANDBOX: lab.dir, K8SHA_LAB_PLAN: PLAN, K8SHA_E2E_DIR: lab.path("e2e"), K8S_HA_CACHE: lab.path("cache") } });
        expect([r.status, r.stdout]).toEqual([1, "hosts-faults: 1 passed, 2 failed, 3 of 3 run\n"]);
        expect(r.stderr).toContain("faults: repairing after the failed drill: echo repaired >&2\nrepaired\n");
        const drills = JSON.parse(fs.readFileSync(lab.path("e2e/report.json"), "utf8")).faults.drills;
        expect(drills.map((d: { name: string; status: string }) => [d.name, d.status])).toEqual([
            ["fine drill", "passed"],
            ["d_stops", "failed"],
            ["after drill", "failed"],
        ]);
        expect(drills[1].measured).toBe('the drill (d_stops) stopped with exit 255 after 0 records: (failed at drills.sh:4: on cp1 "systemctl stop etcd" (exit 255))');
    });
});

describe("the break-glass and installer credentials (issue 26 M3)", () => {
    // render_fact reads the compiled program (bin/, built by the e2e); here the values come from the source.
    const facts: Record<string, string> = {
        "r.K8S_FILES.breakGlassKubeconfig": K8S_FILES.breakGlassKubeconfig,
        "r.K8S_FILES.installerKubeconfig": K8S_FILES.installerKubeconfig,
        "r.K8S_FILES.auditLog": K8S_FILES.auditLog,
        "r.INSTALLER_USER": INSTALLER_USER,
        "r.BREAK_GLASS_USER": BREAK_GLASS_USER,
    };
    const renderFact = `render_fact() { case $1 in ${Object.entries(facts).map(([k, v]) => `'${k}') echo '${v}' ;;`).join(" ")} *) return 1 ;; esac; }`;

    /** The stack output adminCredential as break_glass_setting gives it. */
    const setting = (host: string, hours = 72) => `${renderFact}\nbreak_glass_setting() { echo '${host} ${hours}'; }`;
    const layout = (where: Record<string, string[]>, glassHost = "10.213.0.21") =>
        [
            'case $cmd in',
            `"grep -q 'name: ${BREAK_GLASS_USER}\\$' ${K8S_FILES.breakGlassKubeconfig}") [[ $addr == ${glassHost} ]] ;;`,
            '"for f in "*)',
            '  for f in $(sed -E "s/^for f in ([^;]*); do.*/\\1/" <<<"$cmd"); do',
            ...Object.entries(where).map(([addr, files]) => `    if [[ $addr == ${addr} ]]; then case " ${files.join(" ")} " in *" $f "*) echo "$f root 600" ;; *) echo "$f absent" ;; esac; fi`),
            "  done ;;",
            "*) exit 1 ;;",
            "esac",
        ].join("\n");
    const [bg, inst] = [K8S_FILES.breakGlassKubeconfig, K8S_FILES.installerKubeconfig];

    test("c_break_glass_one_host: by default both kubeconfigs on cp1 (root, 0600), neither on cp2 and cp3, no admin.kubeconfig anywhere", () => {
        lab.remote(layout({ "10.213.0.21": [bg, inst], "10.213.0.22": [], "10.213.0.23": [] }));
        const [ok] = lab.checks([["4 bg", "c_break_glass_one_host"]], setting("cp1"));
        expect(ok.status).toBe("passed");
        expect(ok.evidence).toContain(`break-glass host: cp1 cp1: ${bg} root 600,${inst} root 600,/etc/kubernetes/admin.kubeconfig absent`);
        // Still on cp2 (an up that did not remove it), or the old file left on cp3: failed.
        lab.remote(layout({ "10.213.0.21": [bg, inst], "10.213.0.22": [bg], "10.213.0.23": [] }));
        const [left] = lab.checks([["4 bg", "c_break_glass_one_host"]], setting("cp1"));
        expect(left.status).toBe("failed");
        expect(left.evidence).toContain(`cp2: want ${bg} absent`);
        lab.remote(layout({ "10.213.0.21": [bg, inst], "10.213.0.22": [], "10.213.0.23": ["/etc/kubernetes/admin.kubeconfig"] }));
        expect(lab.checks([["4 bg", "c_break_glass_one_host"]], setting("cp1"))[0].status).toBe("failed");
        lab.remote(layout({ "10.213.0.21": [inst], "10.213.0.22": [], "10.213.0.23": [] }));
        expect(lab.checks([["4 bg", "c_break_glass_one_host"]], setting("cp1"))[0].status).toBe("failed");
    });

    test("c_break_glass_one_host follows breakGlassHost: on cp2 (the installer's still on cp1), or on none; no setting in the output: failed", () => {
        lab.remote(layout({ "10.213.0.21": [inst], "10.213.0.22": [bg], "10.213.0.23": [] }, "10.213.0.22"));
        expect(lab.checks([["4 bg", "c_break_glass_one_host"]], setting("cp2"))[0].status).toBe("passed");
        // The file left on cp1 after a move: failed, naming cp1.
        lab.remote(layout({ "10.213.0.21": [bg, inst], "10.213.0.22": [bg], "10.213.0.23": [] }, "10.213.0.22"));
        const [left] = lab.checks([["4 bg", "c_break_glass_one_host"]], setting("cp2"));
        expect([left.status, left.evidence]).toEqual(["failed", expect.stringContaining(`cp1: want ${bg} absent`)]);
        lab.remote(layout({ "10.213.0.21": [inst], "10.213.0.22": [], "10.213.0.23": [] }, "none"));
        expect(lab.checks([["4 bg", "c_break_glass_one_host"]], setting("none"))[0].status).toBe("passed");
        expect(lab.checks([["4 bg", "c_break_glass_one_host"]], setting("cp1"))[0].status).toBe("failed");
        const [unset] = lab.checks([["4 bg", "c_break_glass_one_host"]], `${renderFact}\nbreak_glass_setting() { return 1; }`);
        expect([unset.status, unset.evidence]).toEqual(["failed", "the stack output adminCredential names no breakGlassHost"]);
    });

    test("admin_credential_fields reads the stack output adminCredential; an output without the fields (an earlier release's) fails", () => {
        const fields = (json: string) => lab.sourced("hosts-check.sh", `admin_credential_fields <<<'${json}' || echo "rc=$?"`).trim();
        expect(fields('{"generation":1,"breakGlassHost":"cp2","breakGlassValidityHours":12}')).toBe("cp2 12");
        expect(fields('{"generation":1,"breakGlassHost":"none","breakGlassValidityHours":72}')).toBe("none 72");
        expect(fields('{"generation":1}')).toBe("rc=1");
        expect(fields('{"breakGlassHost":"cp1; rm -rf /","breakGlassValidityHours":72}')).toBe("rc=1");
    });

    test("c_break_glass_validity: the certificate on the break-glass host spans the hours set, in system:masters; none: nothing on a host", () => {
        const dates = (from: string, to: string, subject = `O = system:masters, CN = ${BREAK_GLASS_USER}`) =>
            lab.remote(`[[ $addr == 10.213.0.22 && $cmd == *client-certificate-data* ]] && printf 'subject=%s\\nnotBefore=%s\\nnotAfter=%s\\n' '${subject}' '${from}' '${to}'`);
        const now = Date.now();
        const openssl = (ms: number) => new Date(ms).toUTCString().replace(/^\w+, (\d+) (\w+) (\d+) ([\d:]+) GMT$/, "$2 $1 $4 $3 GMT");
        dates(openssl(now - 3_600_000), openssl(now + 11 * 3_600_000));
        const [ok] = lab.checks([["4 bgv", "c_break_glass_validity"]], setting("cp2", 12));
        expect([ok.status, ok.evidence]).toEqual(["passed", expect.stringContaining("valid 12 h 0 min")]);
        // A year-long one (an earlier release's, not renewed): failed, naming the setting.
        dates(openssl(now - 3_600_000), openssl(now + 365 * 24 * 3_600_000));
        const [long] = lab.checks([["4 bgv", "c_break_glass_validity"]], setting("cp2", 12));
        expect([long.status, long.evidence]).toEqual(["failed", expect.stringContaining("want 12 h")]);
        // Expired, or not system:masters: failed.
        dates(openssl(now - 13 * 3_600_000), openssl(now - 3_600_000));
        expect(lab.checks([["4 bgv", "c_break_glass_validity"]], setting("cp2", 12))[0].evidence).toContain("expired");
        dates(openssl(now - 3_600_000), openssl(now + 11 * 3_600_000), `O = k8s-ha:cluster-admins, CN = ${BREAK_GLASS_USER}`);
        expect(lab.checks([["4 bgv", "c_break_glass_validity"]], setting("cp2", 12))[0].status).toBe("failed");
        const [none] = lab.checks([["4 bgv", "c_break_glass_validity"]], setting("none"));
        expect([none.status, none.evidence]).toEqual(["passed", "breakGlassHost none: no host keeps it"]);
    });

    describe("c_installer_not_break_glass", () => {
        const i = INSTALLER_USER;
        const bg = BREAK_GLASS_USER;
        type Kind = "req" | "ssar" | "denied" | "nonresource" | "started";
        /** One audit event's line: a request RBAC let through, a can-i, a denied one, discovery, or a ResponseStarted stage. */
        const ev = (ts: string, user: string, kind: Kind): string =>
            JSON.stringify({
                kind: "Event",
                apiVersion: "audit.k8s.io/v1",
                level: "Metadata",
                stage: kind === "started" ? "ResponseStarted" : "ResponseComplete",
                verb: kind === "ssar" ? "create" : "get",
                user: { username: user, groups: ["system:authenticated"] },
                ...(kind === "nonresource" ? {} : { objectRef: { resource: kind === "ssar" ? "selfsubjectaccessreviews" : "nodes", apiVersion: "v1" } }),
                responseStatus: { metadata: {}, code: kind === "denied" ? 403 : kind === "ssar" ? 201 : 200 },
                requestReceivedTimestamp: ts,
            });
        // Each cp host answers the grep over its audit log with these lines.
        const audit = (byHost: Record<string, string[]>) =>
            [
                "case $cmd in",
                `"test -r ${K8S_FILES.auditLog} && "*)`,
                ...Object.entries(byHost).map(([addr, lines]) => `  if [[ $addr == ${addr} ]]; then printf '%s\\n' ${lines.map((l) => `'${l}'`).join(" ")}; fi`),
                "  ;;",
                "*) exit 1 ;;",
                "esac",
            ].join("\n");
        const check = () => lab.checks([["4 audit", "c_installer_not_break_glass"]], renderFact)[0];

        test("break-glass before the installer's first request RBAC let through (an earlier release; the bootstrap while the installer only asked: discovery, can-i, denied): passed, with the count", () => {
            lab.remote(
                audit({
                    "10.213.0.21": [ev("2026-12-08T10:00:00.1Z", bg, "req"), ev("2026-12-08T10:30:00.5Z", i, "ssar"), ev("2026-12-08T10:34:01.0Z", bg, "req"), ev("2026-12-08T10:35:00Z", i, "req")],
                    "10.213.0.22": [ev("2026-12-08T10:05:00Z", bg, "req"), ev("2026-12-08T10:30:01Z", i, "nonresource"), ev("2026-12-08T10:30:02Z", i, "denied"), ev("2026-12-08T10:34:02Z", bg, "req")],
                    "10.213.0.23": [ev("2026-12-08T11:00:00Z", i, "req"), ev("2026-12-08T10:34:03Z", bg, "started")],
                }),
            );
            expect(check()).toEqual({ name: "4 audit", status: "passed", evidence: `${bg}: 4 requests before ${i}'s first (2026-12-08T10:35:00Z), none after` });
        });

        test("break-glass after the installer's first request (an installer step that still uses it): failed, naming when", () => {
            lab.remote(audit({ "10.213.0.21": [ev("2026-12-08T10:30:00Z", i, "req")], "10.213.0.22": [ev("2026-12-08T10:30:05Z", bg, "req")], "10.213.0.23": [] }));
            const r = check();
            expect(r.status).toBe("failed");
            expect(r.evidence).toContain("2026-12-08T10:30:05Z after");
        });

        test("the installer's discovery and denied requests are no anchor: break-glass after them but before its first request let through passes", () => {
            lab.remote(
                audit({
                    "10.213.0.21": [ev("2026-12-08T10:30:00Z", i, "nonresource"), ev("2026-12-08T10:30:01Z", i, "denied"), ev("2026-12-08T10:30:05Z", bg, "req"), ev("2026-12-08T10:30:09Z", i, "req")],
                    "10.213.0.22": [],
                    "10.213.0.23": [],
                }),
            );
            expect(check()).toMatchObject({ status: "passed", evidence: `${bg}: 1 requests before ${i}'s first (2026-12-08T10:30:09Z), none after` });
        });

        test("no request of the installer but can-i, discovery and denied ones (its steps still go as break-glass): failed", () => {
            lab.remote(
                audit({
                    "10.213.0.21": [ev("2026-12-08T10:30:00Z", bg, "req"), ev("2026-12-08T10:31:00Z", i, "ssar"), ev("2026-12-08T10:31:01Z", i, "nonresource"), ev("2026-12-08T10:31:02Z", i, "denied")],
                    "10.213.0.22": [],
                    "10.213.0.23": [],
                }),
            );
            expect(check()).toMatchObject({ status: "failed", evidence: expect.stringMatching(new RegExp(`^no request of ${i} in the audit logs`)) });
        });

        test("the remote command and audit_kinds read a real audit event's line", () => {
            const event = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"x","stage":"ResponseComplete","requestURI":"/api/v1/nodes/w1","verb":"get","user":{"username":"${i}","groups":["k8s-ha:installers","system:authenticated"]},"sourceIPs":["10.213.0.21"],"userAgent":"kubectl/v1.35.4","objectRef":{"resource":"nodes","name":"w1","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-12-08T10:30:00.123456Z","stageTimestamp":"2026-12-08T10:30:00.125000Z","annotations":{"authorization.k8s.io/decision":"allow"}}`;
            // The remote command the check sends, run here on a file with those lines.
            const file = lab.path("audit.log");
            const ssar = event.replace('"resource":"nodes","name":"w1"', '"resource":"selfsubjectaccessreviews"').replace("2026-12-08T10:30:00.123456Z", "2026-12-08T10:29:00Z");
            const late = event.replace(`"username":"${i}"`, `"username":"${bg}"`).replace("2026-12-08T10:30:00.123456Z", "2026-12-08T10:31:00Z");
            fs.writeFileSync(file, `${ssar}\n${event}\n{"user":{"username":"system:kube-scheduler"},"requestReceivedTimestamp":"2026-12-08T10:30:01Z"}\n`);
            lab.remote(`log=${K8S_FILES.auditLog}; case $cmd in "test -r "*) eval "\${cmd//"$log"/${file}}" ;; *) exit 1 ;; esac`);
            const r = check();
            // Each cp host answers with the same log: the installer's first request is the get, not the review.
            expect(r.evidence).toBe(`${bg}: 0 requests before ${i}'s first (2026-12-08T10:30:00.123456Z), none after`);
            expect(r.status).toBe("passed");
            fs.appendFileSync(file, `${late}\n`);
            expect(check()).toMatchObject({ status: "failed", evidence: expect.stringContaining("2026-12-08T10:31:00Z 2026-12-08T10:31:00Z 2026-12-08T10:31:00Z after") });
        });
    });
});
