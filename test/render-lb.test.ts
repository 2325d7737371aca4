/**
 * haproxy.cfg, keepalived.conf, the HAProxy check script and the keepalived drop-in, each checked
 * by the real program: `haproxy -c`, `keepalived -t`, shellcheck plus a run of the script against
 * a real listener, and `systemd-analyze verify`.
 */
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as net from "net";
import * as path from "path";
import {
    advertIntervalSeconds,
    haproxyStatsUrl,
    renderHaproxyCheckScript,
    renderHaproxyConfig,
    renderKeepalivedConfig,
    renderKeepalivedDropIn,
    type HaproxyParams,
    type KeepalivedParams,
} from "../components/render";
import { cleanup, run, systemdRoot, systemdVerify, tempDir, tool, writeUnder } from "./render-support";
import { HostSandbox } from "./host-sandbox";

const BACKENDS = [
    { name: "cp2", address: "10.213.0.22" },
    { name: "cp1", address: "10.213.0.21" },
    { name: "cp3", address: "10.213.0.23" },
];

const HAPROXY: HaproxyParams = { apiPort: 6443, backends: BACKENDS };

describe("renderHaproxyConfig", () => {
    const cfg = renderHaproxyConfig(HAPROXY);
    let dir: string;
    beforeAll(() => {
        dir = tempDir("haproxy");
    });
    afterAll(() => cleanup(dir));

    test("TCP frontend on every address, servers sorted by name, fast /readyz checks over TLS", () => {
        const lines = cfg.split("\n");
        expect(lines).toContain("    mode tcp");
        expect(lines).toContain("    bind *:6443");
        expect(lines).toContain("    option httpchk");
        // Down when unready for any reason but its own shutdown; drained (NOLB) while stopping.
        const checks = lines.filter((l) => l.startsWith("    http-check "));
        expect(checks).toEqual([
            "    http-check connect default",
            "    http-check send meth GET uri /readyz?exclude=shutdown",
            "    http-check expect status 200",
            "    http-check connect default",
            "    http-check send meth GET uri /readyz",
            "    http-check expect status 200 error-status L7OKC",
        ]);
        expect(lines).toContain("    default-server check check-ssl verify none inter 1s fall 2 rise 2 on-marked-down shutdown-sessions");
        expect(lines).toContain("    stats socket /run/haproxy/admin.sock mode 660 level admin");
        expect(lines.filter((l) => l.startsWith("    server "))).toEqual([
            "    server cp1 10.213.0.21:6443",
            "    server cp2 10.213.0.22:6443",
            "    server cp3 10.213.0.23:6443",
        ]);
    });

    test("a read-only stats page of the apiservers' backend on every address, for the apiservers' hosts alone", () => {
        const stats = cfg.slice(cfg.indexOf("frontend stats"));
        expect(stats.split("\n")).toEqual([
            "frontend stats",
            "    mode http",
            "    bind *:8404",
            "    timeout client 10s",
            "    timeout http-request 5s",
            "    acl apiserver_hosts src 10.213.0.21 10.213.0.22 10.213.0.23",
            "    http-request deny unless apiserver_hosts",
            "    http-request set-log-level silent",
            "    stats enable",
            "    stats uri /stats",
            "    stats scope kube-apiserver",
            "    stats hide-version",
            "",
        ]);
        // Reading only: HAProxy's page takes actions (a server to maintenance) only with `stats admin`.
        expect(cfg).not.toMatch(/stats admin|stats auth/);
        expect(haproxyStatsUrl("10.213.0.11")).toBe("http://10.213.0.11:8404/stats;csv");
        expect(() => renderHaproxyConfig({ ...HAPROXY, apiPort: 8404 })).toThrow("haproxy apiPort: 8404 is the stats page's port");
    });

    test("the order of the backends does not change the bytes", () => {
        expect(renderHaproxyConfig({ apiPort: 6443, backends: [...BACKENDS].reverse() })).toBe(cfg);
    });

    test("haproxy -c accepts it", () => {
        const file = writeUnder(dir, "/haproxy.cfg", cfg);
        const r = run(tool("haproxy"), ["-c", "-f", file]);
        expect(r.stdout + r.stderr).toMatch(/Configuration file is valid/);
        expect(r.stdout + r.stderr).not.toMatch(/WARNING|ALERT/);
        expect(r.status).toBe(0);
    });

    test("haproxy -c accepts the variant that verifies the apiservers against a CA", () => {
        const ca = writeUnder(dir, "/ca.crt", selfSignedCa(dir));
        const withCa = renderHaproxyConfig({ ...HAPROXY, healthCheckCaFile: ca });
        expect(withCa).toContain(`check-ssl verify required ca-file ${ca} inter 1s`);
        const file = writeUnder(dir, "/haproxy-ca.cfg", withCa);
        const r = run(tool("haproxy"), ["-c", "-f", file]);
        expect(r.stdout + r.stderr).not.toMatch(/WARNING|ALERT/);
        expect(r.status).toBe(0);
    });

    test("the health-check interval: whole seconds as before, else milliseconds; haproxy -c accepts both", () => {
        expect(renderHaproxyConfig({ ...HAPROXY, checkIntervalMs: 2000 })).toContain("check-ssl verify none inter 2s fall 2");
        const ms = renderHaproxyConfig({ ...HAPROXY, checkIntervalMs: 1500 });
        expect(ms).toContain("check-ssl verify none inter 1500ms fall 2");
        const r = run(tool("haproxy"), ["-c", "-f", writeUnder(dir, "/haproxy-ms.cfg", ms)]);
        expect(r.status).toBe(0);
        expect(() => renderHaproxyConfig({ ...HAPROXY, checkIntervalMs: 50 })).toThrow("haproxy checkIntervalMs");
    });

    test("haproxy -c rejects a broken file (the checker really checks)", () => {
        const file = writeUnder(dir, "/broken.cfg", cfg.replace("inter 1s", "intre 1s"));
        expect(run(tool("haproxy"), ["-c", "-f", file]).status).not.toBe(0);
    });

    test("bad input is refused with the field named", () => {
        expect(() => renderHaproxyConfig({ apiPort: 6443, backends: [] })).toThrow("haproxy: backends is empty");
        expect(() => renderHaproxyConfig({ apiPort: 70000, backends: BACKENDS })).toThrow("haproxy apiPort: 70000 is not an integer in 1-65535");
        expect(() => renderHaproxyConfig({ apiPort: 6443, backends: [...BACKENDS, { name: "cp1", address: "10.0.0.9" }] })).toThrow(
            'haproxy backend name: "cp1" occurs more than once',
        );
    });
});

/**
 * The rendered health checks run by a real HAProxy against two fake apiservers over TLS (Node's
 * https, a self-signed key): what each /readyz state makes of a server and of its open sessions.
 * - ready: both /readyz requests answer 200;
 * - stopping: /readyz fails only its shutdown check (a restart's --shutdown-delay-duration), so
 *   /readyz?exclude=shutdown answers 200 and /readyz 500;
 * - unready: both fail (etcd lost, a starting apiserver).
 */
describe("renderHaproxyConfig under a real HAProxy: drain before down", () => {
    type ApiState = "ready" | "stopping" | "unready";
    const state: Record<string, ApiState> = { a: "ready", b: "ready" };
    let dir: string;
    let haproxy: ChildProcess | undefined;
    const servers: https.Server[] = [];
    const clients: net.Socket[] = [];
    let socket = "";
    let frontend = 0;

    /** `show stat` on HAProxy's socket: each server's status and its current and total sessions. */
    async function stats(): Promise<Record<string, { status: string; scur: number; stot: number }>> {
        const text = await new Promise<string>((resolve, reject) => {
            let out = "";
            const c = net.connect(socket, () => c.write("show stat\n"));
            c.on("data", (d) => (out += d.toString()));
            c.on("end", () => resolve(out));
            c.on("error", reject);
        });
        const rows: Record<string, { status: string; scur: number; stot: number }> = {};
        for (const line of text.split("\n")) {
            const f = line.split(",");
            if (f[0] === "kube-apiserver" && (f[1] === "a" || f[1] === "b")) rows[f[1]] = { status: f[17], scur: Number(f[4]), stot: Number(f[7]) };
        }
        return rows;
    }
    async function until(what: string, ok: (s: Awaited<ReturnType<typeof stats>>) => boolean): Promise<Awaited<ReturnType<typeof stats>>> {
        let last: Awaited<ReturnType<typeof stats>> = {};
        for (let i = 0; i < 100; i++) {
            try {
                last = await stats();
                if (ok(last)) return last;
            } catch {
                // the socket is not there yet
            }
            await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`${what}: HAProxy says ${JSON.stringify(last)}`);
    }
    /** A TCP session through the frontend (HAProxy connects it to a server at once). */
    async function session(): Promise<net.Socket> {
        const c = net.connect(frontend, "127.0.0.1");
        await new Promise<void>((resolve, reject) => c.once("connect", () => resolve()).once("error", reject));
        c.on("error", () => undefined);
        clients.push(c);
        return c;
    }

    beforeAll(async () => {
        dir = tempDir("haproxy-drain");
        const key = path.join(dir, "api.key");
        const crt = path.join(dir, "api.crt");
        expect(run(tool("openssl"), ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=fake-apiserver"]).status).toBe(0);
        const backends: { name: string; address: string; port: number }[] = [];
        for (const name of ["a", "b"]) {
            const srv = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(crt) }, (req, res) => {
                const st = state[name];
                const ok = req.url === "/readyz?exclude=shutdown" ? st !== "unready" : req.url === "/readyz" ? st === "ready" : true;
                res.writeHead(ok ? 200 : 500).end(ok ? "ok" : "failed");
            });
            await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", () => resolve()));
            servers.push(srv);
            backends.push({ name, address: "127.0.0.1", port: (srv.address() as net.AddressInfo).port });
        }
        frontend = await freePort();
        socket = path.join(dir, "admin.sock");
        const cfg = renderHaproxyConfig({ apiPort: frontend, backends, checkIntervalMs: 100, statsSocket: socket })
            // No syslog socket here: HAProxy's log goes nowhere instead. Loopback only.
            .replace("    log /dev/log local0 notice\n", "")
            .replace(`bind *:${frontend}`, `bind 127.0.0.1:${frontend}`)
            .replace("bind *:8404", `bind 127.0.0.1:${await freePort()}`);
        haproxy = spawn(tool("haproxy"), ["-db", "-f", writeUnder(dir, "/haproxy.cfg", cfg)], { stdio: "ignore" });
    });
    afterAll(async () => {
        for (const c of clients) c.destroy();
        if (haproxy && haproxy.exitCode === null) {
            const exited = new Promise((r) => haproxy?.once("exit", r));
            haproxy.kill("SIGKILL");
            await exited;
        }
        await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
        cleanup(dir);
    });

    test("ready: both up", async () => {
        await until("both servers UP", (s) => s.a?.status === "UP" && s.b?.status === "UP");
    });

    test("stopping: no new sessions, those open kept; unready: down, its sessions cut; ready again: up", async () => {
        // Two sessions: round robin puts one on each server.
        await session();
        await session();
        const before = await until("a session on each server", (s) => s.a.scur >= 1 && s.b.scur >= 1);
        state.a = "stopping";
        const drained = await until("a drained (NOLB)", (s) => s.a.status === "NOLB");
        expect(drained.a.scur).toBe(before.a.scur);
        for (let i = 0; i < 6; i++) await session();
        const after = await until("six new sessions on b", (s) => s.b.stot >= before.b.stot + 6);
        expect(after.a.stot).toBe(before.a.stot);
        expect(after.a.scur).toBe(before.a.scur);
        state.a = "unready";
        const down = await until("a DOWN", (s) => s.a.status === "DOWN");
        expect(down.a.scur).toBe(0);
        state.a = "ready";
        await until("a UP again", (s) => s.a.status === "UP");
    });
});

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    return port;
}

/**
 * The rendered config run by the real HAProxy, on loopback only (its apiservers at 127.0.0.1 and
 * 127.0.0.2 on a port where nothing listens, so both are DOWN): the stats page answers the
 * apiservers' hosts with CSV that controlplane.sh reads, refuses others (403), and takes no action.
 */
describe("HAProxy's stats page, served by HAProxy", () => {
    let dir: string;
    let haproxy: ChildProcess | undefined;
    let statsUrl = "";

    beforeAll(async () => {
        dir = tempDir("haproxy-run");
        const [apiPort, statsPort, closed] = [await freePort(), await freePort(), await freePort()];
        const cfg = renderHaproxyConfig({
            apiPort,
            backends: [
                { name: "cp1", address: "127.0.0.1", port: closed },
                { name: "cp2", address: "127.0.0.2", port: closed },
            ],
            statsSocket: path.join(dir, "admin.sock"),
            checkIntervalMs: 100,
        })
            // Loopback only, and as whoever runs the test.
            .replace(`bind *:${apiPort}`, `bind 127.0.0.1:${apiPort}`)
            .replace("bind *:8404", `bind 127.0.0.1:${statsPort}`)
            .replace(/^ {4}(user|group) haproxy\n/gm, "");
        const file = writeUnder(dir, "/haproxy.cfg", cfg);
        haproxy = spawn(tool("haproxy"), ["-db", "-f", file], { stdio: "ignore" });
        statsUrl = `http://127.0.0.1:${statsPort}/stats;csv`;
        // Until it answers and its checks have taken both servers down (they start UP until a check fails).
        const down = () => (run("curl", ["-fsS", statsUrl]).stdout.match(/^kube-apiserver,cp\d,([^,]*,){15}DOWN,/gm) ?? []).length === 2;
        for (let i = 0; i < 100 && !down(); i++) await new Promise((r) => setTimeout(r, 100));
    });
    afterAll(() => {
        haproxy?.kill();
        cleanup(dir);
    });

    test("CSV of the apiservers' backend for the apiservers' hosts, 403 for others, no admin actions", () => {
        const csv = run("curl", ["-fsS", statsUrl]);
        expect(csv.status).toBe(0);
        const [header, ...rows] = csv.stdout.trim().split("\n");
        expect(header).toMatch(/^# pxname,svname,.*,status,.*,type,/);
        expect(rows.map((r) => r.split(",").slice(0, 2).join(","))).toEqual(["kube-apiserver,FRONTEND", "kube-apiserver,cp1", "kube-apiserver,cp2", "kube-apiserver,BACKEND"]);
        // 127.0.0.3 is no apiserver's host.
        const other = run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--interface", "127.0.0.3", statsUrl]);
        expect(other.stdout).toBe("403");
        // The page's own form to put a server in maintenance does nothing without `stats admin`.
        run("curl", ["-sS", "-o", "/dev/null", "-d", "s=cp1&action=maint&b=%231", statsUrl.replace(";csv", "")]);
        expect(run("curl", ["-fsS", statsUrl]).stdout).not.toContain("MAINT");
    });

    test("controlplane.sh reads its server's state there: DOWN (nothing listens), and fails naming lb host, backend, server and state", () => {
        const sb = new HostSandbox("cp1");
        try {
            const hooks = `install_k8s_binary() { return 1; }
service_apply() { :; }
apiserver_ready() { true; }
mkdir() { [[ \${*: -1} == /var/log/kubernetes ]] || command mkdir "$@"; }
chmod() { [[ \${*: -1} == /var/log/kubernetes ]] || command chmod "$@"; }`;
            const env = { K8SHA_LB_STATS: `lb1=${statsUrl}`, K8SHA_LB_BACKEND: "kube-apiserver", K8SHA_LB_SERVER: "cp1", K8SHA_LB_WAIT_SECONDS: "2" };
            const r = sb.step("controlplane", "create", { env, hooks });
            expect(r.stderr).toContain("k8s-ha[cp1]: error: lb host lb1's HAProxy still reports server cp1 of backend kube-apiserver as DOWN after 2s, not UP");
            expect(r.status).toBe(1);
        } finally {
            sb.remove();
        }
    });
});

const KEEPALIVED: KeepalivedParams = {
    hostName: "lb1",
    interface: "eth0",
    virtualRouterId: 51,
    priority: 150,
    vip: "10.213.0.10",
    vipPrefixLength: 24,
    unicastSrcIp: "10.213.0.11",
    unicastPeers: ["10.213.0.12"],
    advertIntervalMs: 100,
};

describe("renderKeepalivedConfig", () => {
    const cfg = renderKeepalivedConfig(KEEPALIVED);
    let dir: string;
    beforeAll(() => {
        dir = tempDir("keepalived");
    });
    afterAll(() => cleanup(dir));

    test("VRRPv3 at the interval given, BACKUP + nopreempt, check script without weight (FAULT on failure), unicast, no authentication", () => {
        const lines = cfg.split("\n").map((l) => l.trim());
        for (const expected of [
            "enable_script_security",
            "script_user root",
            'script "/etc/keepalived/check-haproxy.sh"',
            "interval 1",
            "fall 2",
            "rise 2",
            "state BACKUP",
            "nopreempt",
            "interface eth0",
            "virtual_router_id 51",
            "priority 150",
            "vrrp_version 3",
            "advert_int 0.1",
            "unicast_src_ip 10.213.0.11",
            "check_unicast_src",
            "10.213.0.10/24 dev eth0",
            "chk_haproxy",
        ]) {
            expect(lines).toContain(expected);
        }
        expect(cfg).toMatch(/unicast_peer \{\n\s+10\.213\.0\.12\n\s+\}/);
        expect(cfg).not.toMatch(/weight/);
        expect(cfg).not.toMatch(/state MASTER/);
        // VRRPv3 has no authentication; keepalived would refuse the block.
        expect(cfg).not.toMatch(/authentication|auth_type|auth_pass/);
    });

    test("the advert interval in keepalived's seconds, centisecond steps only", () => {
        expect([10, 100, 110, 250, 1000].map(advertIntervalSeconds)).toEqual(["0.01", "0.1", "0.11", "0.25", "1"]);
        expect(renderKeepalivedConfig({ ...KEEPALIVED, advertIntervalMs: 1000 })).toContain("    advert_int 1\n");
        expect(() => renderKeepalivedConfig({ ...KEEPALIVED, advertIntervalMs: 15 })).toThrow("keepalived advertIntervalMs: 15 ms is not a whole number of centiseconds (VRRPv3's unit); write 10 or 20");
        expect(() => renderKeepalivedConfig({ ...KEEPALIVED, advertIntervalMs: 5 })).toThrow("keepalived advertIntervalMs: 5 is not an integer in 10-1000");
        expect(() => renderKeepalivedConfig({ ...KEEPALIVED, advertIntervalMs: 1010 })).toThrow("keepalived advertIntervalMs: 1010 is not an integer in 10-1000");
    });

    /**
     * keepalived -t checks that the interface exists (and is not loopback) and that the check
     * script is executable and writable by root only. So it runs in a network namespace of its
     * own with a veth pair named like the real interface, and the script copy sits in a root-owned
     * temp dir. Nothing is started and the namespace disappears with the command.
     */
    function keepalivedTest(file: string): ReturnType<typeof run> {
        return run(tool("unshare"), [
            "--net",
            "sh",
            "-c",
            'ip link add "$1" type veth peer name k8sha-peer0 && exec "$2" -t -f "$3"',
            "sh",
            KEEPALIVED.interface,
            tool("keepalived"),
            file,
        ]);
    }

    test.each([10, 100, 1000])("keepalived -t accepts it (adverts every %i ms)", (advertIntervalMs) => {
        const script = writeUnder(dir, "/check-haproxy.sh", renderHaproxyCheckScript({ apiPort: 6443 }), 0o755);
        const file = writeUnder(dir, "/keepalived.conf", renderKeepalivedConfig({ ...KEEPALIVED, advertIntervalMs, checkScriptPath: script }));
        const r = keepalivedTest(file);
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
    });

    test("keepalived -t rejects a broken file (the checker really checks)", () => {
        const script = writeUnder(dir, "/check-haproxy.sh", renderHaproxyCheckScript({ apiPort: 6443 }), 0o755);
        const good = renderKeepalivedConfig({ ...KEEPALIVED, checkScriptPath: script });
        const file = writeUnder(dir, "/broken.conf", good.replace("advert_int 0.1", "advert_interval 0.1"));
        expect(keepalivedTest(file).status).not.toBe(0);
    });

    test("peers are sorted, so the same hosts give the same bytes", () => {
        const a = renderKeepalivedConfig({ ...KEEPALIVED, unicastPeers: ["10.213.0.13", "10.213.0.12"] });
        const b = renderKeepalivedConfig({ ...KEEPALIVED, unicastPeers: ["10.213.0.12", "10.213.0.13"] });
        expect(a).toBe(b);
        expect(a.indexOf("10.213.0.12")).toBeLessThan(a.indexOf("10.213.0.13"));
    });

    test("bad input is refused", () => {
        expect(() => renderKeepalivedConfig({ ...KEEPALIVED, virtualRouterId: 0 })).toThrow("keepalived virtualRouterId: 0 is not an integer in 1-255");
        expect(() => renderKeepalivedConfig({ ...KEEPALIVED, priority: 255 })).toThrow("keepalived priority: 255 is not an integer in 1-254");
        expect(() => renderKeepalivedConfig({ ...KEEPALIVED, unicastPeers: [] })).toThrow("keepalived: unicastPeers is empty");
        expect(() => renderKeepalivedConfig({ ...KEEPALIVED, unicastPeers: ["10.213.0.11"] })).toThrow(/own address or the VIP/);
    });
});

describe("renderHaproxyCheckScript", () => {
    let dir: string;
    let fakeHaproxy: ChildProcess | undefined;
    let server: net.Server | undefined;
    beforeAll(() => {
        dir = tempDir("check");
    });
    afterAll(async () => {
        fakeHaproxy?.kill("SIGKILL");
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
        cleanup(dir);
    });

    test("shellcheck finds nothing", () => {
        const file = writeUnder(dir, "/check.sh", renderHaproxyCheckScript({ apiPort: 6443 }), 0o755);
        const r = run(tool("shellcheck"), ["-s", "sh", file]);
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
    });

    test("the port is matched in hex as /proc/net/tcp writes it", () => {
        expect(renderHaproxyCheckScript({ apiPort: 6443 })).toContain(":192B ");
        expect(renderHaproxyCheckScript({ apiPort: 8443 })).toContain(":20FB ");
    });

    test("fails without haproxy, fails with only the port open, passes with both", async () => {
        // A listener on a free port stands for HAProxy's frontend; a copy of `sleep` named
        // `haproxy` stands for the process. Both are stopped in afterAll.
        server = net.createServer();
        await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", () => resolve()));
        const port = (server.address() as net.AddressInfo).port;
        const script = writeUnder(dir, `/check-${port}.sh`, renderHaproxyCheckScript({ apiPort: port }), 0o755);
        const running = fs.readdirSync("/proc").some((pid) => /^\d+$/.test(pid) && readComm(pid) === "haproxy");
        if (!running) {
            expect(run(script, []).status).toBe(1);
        }
        const fake = path.join(dir, "haproxy");
        fs.copyFileSync(fs.realpathSync(tool("sleep")), fake);
        fs.chmodSync(fake, 0o755);
        fakeHaproxy = spawn(fake, ["60"], { stdio: "ignore" });
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(run(script, []).status).toBe(0);
        await new Promise<void>((resolve) => server?.close(() => resolve()));
        server = undefined;
        expect(run(script, []).status).toBe(1);
    });
});

describe("renderKeepalivedDropIn", () => {
    const dropIn = renderKeepalivedDropIn({ vip: "10.213.0.10", vipPrefixLength: 24, interface: "eth0" });

    test("restarts after 1 s and removes the VIP after every stop", () => {
        expect(dropIn.split("\n")).toEqual([
            "# Rendered by k8s-ha. Changes here are overwritten.",
            "[Service]",
            "Restart=always",
            "RestartSec=1",
            "KillMode=control-group",
            "ExecStopPost=-/usr/sbin/ip addr del 10.213.0.10/24 dev eth0",
            "",
        ]);
    });

    test("systemd-analyze verify accepts keepalived.service with the drop-in", () => {
        const keepalivedUnit = "/usr/lib/systemd/system/keepalived.service";
        expect(fs.existsSync(keepalivedUnit)).toBe(true);
        // keepalived.service (from the package) also names /bin/kill.
        const root = systemdRoot(["/usr/sbin/keepalived", "/usr/sbin/ip", "/bin/kill"]);
        try {
            writeUnder(root, "/etc/systemd/system/keepalived.service.d/k8s-ha.conf", dropIn);
            const r = systemdVerify(root, ["keepalived.service"]);
            expect(r.stdout + r.stderr).toBe("");
            expect(r.status).toBe(0);
            // The drop-in is really read: a typo in it is reported.
            writeUnder(root, "/etc/systemd/system/keepalived.service.d/k8s-ha.conf", dropIn.replace("RestartSec", "RestartSecs"));
            expect(systemdVerify(root, ["keepalived.service"]).stderr).toMatch(/Unknown key 'RestartSecs'/);
        } finally {
            cleanup(root);
        }
    });
});

function readComm(pid: string): string {
    try {
        return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
        return "";
    }
}

/** A throwaway self-signed CA certificate (PEM) made with openssl, for haproxy's ca-file. */
function selfSignedCa(dir: string): string {
    const key = path.join(dir, "ca.key");
    const crt = path.join(dir, "ca.pem");
    const r = run(tool("openssl"), ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=test-ca"]);
    expect(r.status).toBe(0);
    return fs.readFileSync(crt, "utf8");
}
