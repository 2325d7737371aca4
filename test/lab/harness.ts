/**
 * Host-script integration on the lab, WITHOUT the Pulumi engine.
 *
 * The real engine cannot run on these machines (issue 3: the Go module proxy refuses the Node.js
 * language host and the command, tls and random provider modules). This harness proves the other
 * half on real hosts: it builds the real program (`buildCluster`) under Pulumi's mocks, and the
 * mocks do the providers' work for real, in the order the SDK registers resources:
 *   - command:remote:Command: runs `create` over SSH (pinned host keys) with the stdin bundle;
 *   - tls: real ECDSA P-256 keys (node:crypto) and certificates signed with openssl;
 *   - random: bytes from node:crypto.
 * Then `destroy` runs every recorded `delete` in reverse order. It is a test of the host scripts
 * and rendered configs, not of the engine: no state, no diff, no preview.
 *
 *   node test/lab/harness.js up|down   (compiled by scripts/hosts-test.sh)
 */
import { execFileSync, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { RawConfig } from "../../components/config";
import { validateConfig } from "../../components/validate";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const LAB = path.join(ROOT, ".tools", "lab");
const STATE = path.join(ROOT, ".e2e", "hosts-state.json");
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

interface Connection {
    host: string;
    port: number;
    user: string;
}
interface Recorded {
    name: string;
    connection: Connection;
    delete?: string;
}

function plain<T>(v: unknown): T {
    if (typeof v === "object" && v !== null && SECRET_SIG in v) return (v as unknown as { value: T }).value;
    return v as T;
}

function log(msg: string): void {
    process.stderr.write(`hosts-test: ${msg}\n`);
}

/** Runs a command on a host over SSH with the lab key and pinned host keys. */
function ssh(conn: Connection, command: string, stdin: string, name: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(
            "ssh",
            [
                "-i", path.join(LAB, "id_ed25519"),
                "-o", `UserKnownHostsFile=${path.join(LAB, "known_hosts")}`,
                "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes",
                "-o", "ConnectTimeout=10",
                "-p", String(conn.port),
                `${conn.user}@${conn.host}`,
                command,
            ],
            { stdio: ["pipe", "pipe", "pipe"] },
        );
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => {
            err += d;
            for (const line of String(d).split("\n")) if (line.trim()) log(`${name}: ${line}`);
        });
        child.on("close", (code) => {
            if (code === 0) resolve(out);
            else reject(new Error(`${name} on ${conn.host} failed (exit ${code}): ${err.split("\n").slice(-5).join(" | ")}`));
        });
        child.stdin.end(stdin);
    });
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "k8sha-hosts-"));
let counter = 0;
function tmpFile(content: string): string {
    const p = path.join(tmp, `f${counter++}`);
    fs.writeFileSync(p, content, { mode: 0o600 });
    return p;
}

interface Subject {
    commonName?: string;
    organization?: string;
}
function subj(s: Subject | undefined): string {
    let out = `/CN=${s?.commonName ?? "k8s-ha"}`;
    if (s?.organization) out += `/O=${s.organization}`;
    return out;
}

function openssl(args: string[]): string {
    return execFileSync("openssl", args, { encoding: "utf8" });
}

/** Real keys and certificates for the tls resource types. */
const tlsState = {
    privateKey(): Record<string, string> {
        const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
        return {
            privateKeyPem: privateKey.export({ type: "sec1", format: "pem" }).toString(),
            publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
        };
    },
    selfSigned(inputs: Record<string, unknown>): Record<string, string> {
        const key = tmpFile(String(inputs.privateKeyPem));
        const cert = openssl([
            "req", "-x509", "-new", "-key", key, "-subj", subj(inputs.subject as Subject), "-days", "3650",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        ]);
        return { certPem: cert };
    },
    certRequest(inputs: Record<string, unknown>): Record<string, string> {
        const key = tmpFile(String(inputs.privateKeyPem));
        const sans = [
            ...((inputs.dnsNames as string[] | undefined) ?? []).map((d) => `DNS:${d}`),
            ...((inputs.ipAddresses as string[] | undefined) ?? []).map((i) => `IP:${i}`),
        ];
        const args = ["req", "-new", "-key", key, "-subj", subj(inputs.subject as Subject)];
        if (sans.length) args.push("-addext", `subjectAltName=${sans.join(",")}`);
        return { certRequestPem: openssl(args) };
    },
    locallySigned(inputs: Record<string, unknown>): Record<string, string> {
        const csr = tmpFile(String(inputs.certRequestPem));
        const caCert = tmpFile(String(inputs.caCertPem));
        const caKey = tmpFile(String(inputs.caPrivateKeyPem));
        const uses = (inputs.allowedUses as string[]) ?? [];
        const eku = [uses.includes("server_auth") ? "serverAuth" : "", uses.includes("client_auth") ? "clientAuth" : ""].filter(Boolean);
        const ext = tmpFile(
            `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n` +
                (eku.length ? `extendedKeyUsage=${eku.join(",")}\n` : ""),
        );
        const cert = openssl([
            "x509", "-req", "-in", csr, "-CA", caCert, "-CAkey", caKey, "-CAcreateserial", "-days", "365",
            "-copy_extensions", "copy", "-extfile", ext,
        ]);
        return { certPem: cert };
    },
};

const created: Recorded[] = [];

/**
 * Keys, certificates and random values are kept between runs (keyed by resource name and inputs),
 * as Pulumi state would keep them, so a second `up` sends the same files and must change nothing.
 */
const VALUES = path.join(ROOT, ".e2e", "hosts-values.json");
const values: Record<string, Record<string, unknown>> = fs.existsSync(VALUES) ? JSON.parse(fs.readFileSync(VALUES, "utf8")) : {};
function remembered(name: string, inputs: Record<string, unknown>, make: () => Record<string, unknown>): Record<string, unknown> {
    const key = `${name}:${crypto.createHash("sha256").update(JSON.stringify(inputs)).digest("hex")}`;
    if (!values[key]) {
        values[key] = make();
        fs.writeFileSync(VALUES, JSON.stringify(values), { mode: 0o600 });
    }
    return values[key];
}

function setMocks(): void {
    pulumi.runtime.setMocks(
        {
            async newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string; state: Record<string, unknown> }> {
                const inputs = Object.fromEntries(Object.entries(args.inputs).map(([k, v]) => [k, plain<unknown>(v)]));
                const state: Record<string, unknown> = { ...inputs };
                switch (args.type) {
                    case "command:remote:Command": {
                        const connection = plain<Connection>(inputs.connection);
                        const started = Date.now();
                        log(`${args.name}: create on ${connection.host}`);
                        state.stdout = await ssh(connection, String(inputs.create), String(inputs.stdin ?? ""), args.name);
                        log(`${args.name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
                        created.push({ name: args.name, connection, delete: inputs.delete as string | undefined });
                        fs.writeFileSync(STATE, JSON.stringify(created, null, 1));
                        break;
                    }
                    case "tls:index/privateKey:PrivateKey":
                        Object.assign(state, remembered(args.name, inputs, () => tlsState.privateKey()));
                        break;
                    case "tls:index/selfSignedCert:SelfSignedCert":
                        Object.assign(state, remembered(args.name, inputs, () => tlsState.selfSigned(inputs)));
                        break;
                    case "tls:index/certRequest:CertRequest":
                        Object.assign(state, remembered(args.name, inputs, () => tlsState.certRequest(inputs)));
                        break;
                    case "tls:index/locallySignedCert:LocallySignedCert":
                        Object.assign(state, remembered(args.name, inputs, () => tlsState.locallySigned(inputs)));
                        break;
                    case "random:index/randomPassword:RandomPassword": {
                        const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
                        const length = Number(inputs.length);
                        Object.assign(state, remembered(args.name, inputs, () => ({ result: Array.from(crypto.randomBytes(length), (b) => alphabet[b % alphabet.length]).join("") })));
                        break;
                    }
                    case "random:index/randomBytes:RandomBytes":
                        Object.assign(state, remembered(args.name, inputs, () => ({ base64: crypto.randomBytes(Number(inputs.length)).toString("base64") })));
                        break;
                }
                return { id: `${args.name}-id`, state };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                return args.inputs;
            },
        },
        "k8s-ha",
        "hosts-test",
        false,
    );
}

/** The dev stack's config, with the lab's key and host keys, as the program would read it. */
function labRawConfig(): RawConfig {
    const doc = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    const c: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc.config)) c[k.replace(/^k8s-ha:/, "")] = v;
    const hostKeys = JSON.parse(fs.readFileSync(path.join(LAB, "hostkeys.json"), "utf8")) as Record<string, string>;
    const hosts = c.hosts as Record<string, Record<string, unknown>>;
    for (const [name, key] of Object.entries(hostKeys)) if (hosts[name]) hosts[name].hostKey = key;
    return { ...c, sshPrivateKeyPresent: true } as RawConfig;
}

function value<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply(resolve));
}

async function up(): Promise<void> {
    setMocks();
    const cluster = validateConfig(labRawConfig());
    const { buildCluster } = await import("../../components/cluster");
    const started = Date.now();
    const c = buildCluster({ cluster, sshPrivateKey: pulumi.secret(fs.readFileSync(path.join(LAB, "id_ed25519"), "utf8")) });
    const kubeconfig = await value(c.controlPlane.adminKubeconfig);
    await Promise.all(Object.values(c.nodes).map((n) => (n.kubelet ? value(n.kubelet.stdout) : Promise.resolve(""))));
    if (c.nfs) await value(c.nfs.export);
    fs.writeFileSync(path.join(ROOT, ".e2e", "admin.kubeconfig"), kubeconfig, { mode: 0o600 });
    log(`up finished in ${((Date.now() - started) / 1000).toFixed(0)} s; kubeconfig in .e2e/admin.kubeconfig`);
}

async function down(): Promise<void> {
    const recorded = JSON.parse(fs.readFileSync(STATE, "utf8")) as Recorded[];
    const started = Date.now();
    for (const r of [...recorded].reverse()) {
        if (!r.delete) continue;
        log(`${r.name}: delete on ${r.connection.host}`);
        try {
            await ssh(r.connection, r.delete, "", r.name);
        } catch (e) {
            log(`${r.name}: delete failed: ${(e as Error).message}`);
            process.exitCode = 1;
        }
    }
    fs.rmSync(STATE);
    fs.rmSync(VALUES, { force: true });
    log(`down finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

async function main(): Promise<void> {
    fs.mkdirSync(path.join(ROOT, ".e2e"), { recursive: true });
    const verb = process.argv[2];
    try {
        if (verb === "up") await up();
        else if (verb === "down") await down();
        else throw new Error("usage: harness up|down");
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

main().catch((e: Error) => {
    log(`error: ${e.message}`);
    process.exit(1);
});
