/**
 * The components as a library: a setting that is another resource's output (unknown while the
 * component is built) reaches the host step's files and environment once it resolves, rendered by
 * the same pure functions.
 */
import * as pulumi from "@pulumi/pulumi";
import { validateConfig } from "../components/validate";
import { labConfig } from "./fixtures";
import { mockEngine, Recorded } from "./mocks";

const resources: Recorded[] = [];

// Mocks are set before the modules under test are imported (they are required inside the tests).
mockEngine(resources, (args, state) => {
    if (args.type === "command:remote:Command") {
        state.stdout = args.name.endsWith("-facts") ? '{"interface":"host0","prefix":24,"cgroup":"v2","container":"none"}' : "";
    }
    if (args.type === "tls:index/privateKey:PrivateKey") Object.assign(state, { privateKeyPem: `KEY OF ${args.name}`, publicKeyPem: `PUBLIC KEY OF ${args.name}`, privateKeyOpenssh: `KEY OF ${args.name}`, publicKeyOpenssh: "ssh-ed25519 AAAA" });
    if (args.type.includes("Cert:")) {
        state.certPem = `CERT OF ${args.name}`;
        state.validityEndTime = "2027-11-30T12:00:00Z";
    }
    if (args.type === "tls:index/certRequest:CertRequest") state.certRequestPem = `CSR OF ${args.name}`;
    if (args.type === "random:index/randomPassword:RandomPassword") state.result = "vrrpPass";
});

/** An Output that stays unresolved until the test resolves it: another resource's output, as seen at construction. */
function later<T>(): { output: pulumi.Output<pulumi.Unwrap<T>>; resolve: (v: T) => void } {
    let resolve: (v: T) => void = () => undefined;
    const promise = new Promise<T>((r) => (resolve = r));
    return { output: pulumi.output(promise), resolve };
}

function value<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply(resolve));
}

async function settle(): Promise<void> {
    await new Promise((r) => setTimeout(r, 200));
}

/** The plain value of a serialized input, secret or not. */
function plain(v: unknown): unknown {
    return typeof v === "object" && v !== null && "value" in v ? (v as { value: unknown }).value : v;
}

/** A host step as the engine got it: its command text and the files of its stdin bundle, path → content. */
function step(name: string): { create: string; files: Record<string, string> } {
    const r = resources.find((x) => x.type === "command:remote:Command" && x.name === name);
    if (!r) throw new Error(`no step ${name}`);
    const files: Record<string, string> = {};
    for (const line of String(plain(r.inputs.stdin)).trim().split("\n")) {
        const [, , path, data] = line.split(" ");
        files[path] = Buffer.from(data ?? "", "base64").toString("utf8");
    }
    return { create: String(r.inputs.create), files };
}

const registered = (name: string) => resources.some((r) => r.name === name);

describe("component settings given as Outputs", () => {
    const cluster = validateConfig(labConfig());
    const host = (name: string) => {
        const h = cluster.hosts.find((x) => x.name === name);
        if (!h) throw new Error(`no host ${name}`);
        return h;
    };
    let lib: typeof import("../components");
    let nodes: Record<string, InstanceType<typeof import("../components").Node>>;

    beforeAll(async () => {
        lib = await import("../components");
        nodes = {};
        for (const name of ["lb1", "lb2", "nfs", "mirror", "cp1"]) nodes[name] = new lib.Node(name, { host: host(name), sshPrivateKey: pulumi.secret("KEY") });
    });

    test("LoadBalancerPair: a VIP, port and backends known only after construction reach keepalived, HAProxy, the steps' environment and the endpoint", async () => {
        const vip = later<string>();
        const apiPort = later<number>();
        const backends = later<{ name: string; address: string }[]>();
        const pair = new lib.LoadBalancerPair("inputs-api", {
            hosts: ["lb1", "lb2"].map((n) => ({ host: host(n), node: nodes[n] })),
            backends: backends.output,
            vip: vip.output,
            apiPort: apiPort.output,
        });
        await settle();
        // Nothing of the pair's steps reached the engine while the VIP was unknown.
        expect(registered("lb1-lb")).toBe(false);
        vip.resolve("10.213.0.99");
        apiPort.resolve(7443);
        backends.resolve([{ name: "cp9", address: "10.213.0.29" }]);
        expect(await value(pair.endpoint)).toBe("https://10.213.0.99:7443");
        await settle();
        for (const name of ["lb1", "lb2"]) {
            const lb = step(`${name}-lb`);
            expect(lb.files["/etc/keepalived/keepalived.conf"]).toContain("10.213.0.99/24 dev host0");
            expect(lb.files["/etc/haproxy/haproxy.cfg"]).toContain("bind *:7443");
            expect(lb.files["/etc/haproxy/haproxy.cfg"]).toContain("server cp9 10.213.0.29:6443");
            expect(lb.create).toContain("'K8SHA_VIP=10.213.0.99'");
            expect(lb.create).toContain("'K8SHA_API_PORT=7443'");
        }
    });

    test("EtcdBackup: a schedule and a count known only after construction reach the members' timers and the backup host's settings", async () => {
        const etcdPki = new lib.Pki("inputs-etcd-pki", { commonName: "inputs etcd CA", lifetimes: cluster.certificates, now: Date.now() });
        const member = new lib.EtcdMember("inputs-cp1-etcd", {
            host: host("cp1"),
            node: nodes.cp1,
            pki: etcdPki,
            members: [{ name: "cp1", address: host("cp1").address }],
            release: { url: "https://example.com/etcd.tar.gz", sha256: "0".repeat(64), version: "3.6.16" },
            snapshotCopy: { to: "local", dir: "backups" },
            sshPrivateKey: pulumi.secret("KEY"),
        });
        const schedule = later<string>();
        const keep = later<number>();
        const backup = new lib.EtcdBackup("inputs-backup", {
            schedule: schedule.output,
            keep: keep.output,
            store: nodes.nfs,
            members: [{ node: nodes.cp1, member }],
        });
        await settle();
        expect(registered("nfs-etcd-backup")).toBe(false);
        expect(registered("cp1-etcd-snapshots")).toBe(false);
        schedule.resolve("*-*-* 03:15");
        keep.resolve(5);
        expect(await value(backup.schedule)).toBe("*-*-* 03:15");
        await value(backup.location);
        await settle();
        expect(step("cp1-etcd-snapshots").files["/etc/systemd/system/k8s-ha-etcd-snapshot.timer"]).toContain("\nOnCalendar=*-*-* 03:15\n");
        const files = step("nfs-etcd-backup").files;
        expect(files["/etc/k8s-ha/etcd-backup.env"]).toContain("KEEP=5\n");
    });

    test("NfsServer: an export path and clients known only after construction reach /etc/exports.d, the environment and the export", async () => {
        const path = later<string>();
        const nfs = new lib.NfsServer("inputs-nfs", {
            settings: { path: path.output, clients: [pulumi.output("10.213.0.31")], storage: validateConfig(labConfig()).nfs.storage },
            node: nodes.nfs,
            protectData: false,
        });
        await settle();
        expect(registered("nfs-nfs")).toBe(false);
        path.resolve("/data/exports/k8s");
        expect(await value(nfs.export)).toBe("10.213.0.51:/data/exports/k8s");
        await settle();
        const s = step("nfs-nfs");
        expect(Object.values(s.files).join("")).toContain("/data/exports/k8s 10.213.0.31(");
        expect(s.create).toContain("'NFS_PATH=/data/exports/k8s'");
    });

    test("DockerImageMirror and Node: a registry port and time servers known only after construction reach their configs", async () => {
        const pki = new lib.Pki("inputs-pki", { commonName: "inputs CA", lifetimes: cluster.certificates, now: Date.now() });
        const port = later<number>();
        const mirror = new lib.DockerImageMirror("inputs-mirror", { settings: { port: port.output, mode: "proxy", upstream: "https://registry.example.com" }, node: nodes.mirror, pki });
        const ntp = later<string[]>();
        const w1 = host("w1");
        new lib.Node("w1", { host: w1, sshPrivateKey: pulumi.secret("KEY"), ntpServers: ntp.output });
        await settle();
        expect(registered("mirror-mirror")).toBe(false);
        expect(registered("w1-os")).toBe(false);
        port.resolve(5443);
        ntp.resolve(["ntp1.example.com"]);
        expect(await value(mirror.endpoint)).toBe("10.213.0.41:5443");
        await settle();
        const m = step("mirror-mirror");
        expect(m.files["/etc/docker/registry/config.yml"]).toContain(":5443");
        expect(m.create).toContain("'MIRROR_PORT=5443'");
        expect(Object.values(step("w1-os").files).join("")).toContain("server ntp1.example.com");
    });
});
