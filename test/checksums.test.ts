import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULTS, Downloads } from "../components/config";
import { renderHostLayout } from "../components/render/layout";
import { allArtifacts, ARTIFACT_NAMES, sha256EnvName } from "../components/urls";
import { validateConfig } from "../components/validate";
import { fakeSha256, labConfig } from "./fixtures";
import { hostLibFile } from "./host-sandbox";

const ROOT = path.resolve(__dirname, "..");
/** The host library with its layout, written once for these tests (hostLibFile). */
const LIB = hostLibFile(fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-lib-")));
afterAll(() => fs.rmSync(path.dirname(LIB), { recursive: true, force: true }));
const sha256 = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");

/** Runs bash with the host library sourced, as host h1, state in `dir`. */
function withLib(dir: string, script: string): { status: number | null; stderr: string } {
    const r = spawnSync("bash", ["-c", `source ${JSON.stringify(LIB)}\n${script}`], {
        env: { ...process.env, K8SHA_HOST: "h1", K8SHA_STATE_DIR: `${dir}/state`, K8SHA_RUN_DIR: `${dir}/run` },
        encoding: "utf8",
    });
    return { status: r.status, stderr: r.stderr };
}

describe("fetch_verified URL SHA256 DEST: the hosts check each download against its pin", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-fetch-"));
        fs.mkdirSync(`${dir}/origin`);
        fs.writeFileSync(`${dir}/origin/kubelet`, "the kubelet binary");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const url = () => `file://${dir}/origin/kubelet`;
    // As the scripts call it: in a condition (its 1, "kept", is not a failure).
    const fetch = (pin: string) => withLib(dir, `if fetch_verified ${url()} '${pin}' ${dir}/cache/kubelet; then echo "rc 0" >&2; else echo "rc 1" >&2; fi`);

    test("a file with the pinned sum is installed once, and a copy with that sum is kept", () => {
        const pin = sha256("the kubelet binary");
        const first = fetch(pin);
        expect(first.stderr).toBe(`k8s-ha[h1]: downloaded ${url()} (sha256 ${pin}, as pinned)\nrc 0\n`);
        expect(fs.readFileSync(`${dir}/cache/kubelet`, "utf8")).toBe("the kubelet binary");
        // The origin may be gone: the kept copy is checked against the pin, not downloaded again.
        fs.rmSync(`${dir}/origin/kubelet`);
        expect(fetch(pin).stderr).toBe("rc 1\n");
    });

    test("an origin that changes the file and its checksum file together is refused, naming the host and both sums", () => {
        const pin = sha256("the kubelet binary");
        fs.writeFileSync(`${dir}/origin/kubelet`, "a changed kubelet");
        fs.writeFileSync(`${dir}/origin/kubelet.sha256`, sha256("a changed kubelet"));
        const r = fetch(pin);
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(
            `k8s-ha[h1]: error: checksum mismatch for ${url()}: the stack pins ${pin} (k8s-ha:checksums), the download has ${sha256("a changed kubelet")}; ` +
                "nothing was installed. Check the file against its vendor's checksum before changing the pin\n",
        );
        expect(fs.readdirSync(`${dir}/cache`)).toEqual([]);
    });

    test("a changed pin replaces a kept copy that no longer matches it", () => {
        fetch(sha256("the kubelet binary"));
        fs.writeFileSync(`${dir}/origin/kubelet`, "kubelet, next patch");
        expect(fetch(sha256("kubelet, next patch")).stderr).toContain("rc 0");
        expect(fs.readFileSync(`${dir}/cache/kubelet`, "utf8")).toBe("kubelet, next patch");
    });

    test.each([["missing", ""], ["malformed", "sha256:abc"]])("a %s pin stops the step before any download", (_name, pin) => {
        fs.rmSync(`${dir}/origin/kubelet`);
        const r = fetch(pin);
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(`k8s-ha[h1]: error: no pinned sha256 for ${url()} (got '${pin}'); pin it in k8s-ha:checksums\n`);
    });
});

describe("the runtime step's stamp", () => {
    /** runtime.sh's binaries_stamp, run on its own with the given environment. */
    const stamp = (env: Record<string, string>) => {
        const fn = /^binaries_stamp\(\) \{\n[\s\S]*?\n\}$/m.exec(fs.readFileSync(path.join(ROOT, "scripts/host/runtime.sh"), "utf8"))?.[0];
        expect(fn).toBeDefined();
        return spawnSync("bash", ["-c", `${renderHostLayout()}${fn}\nbinaries_stamp`], { env: { ...process.env, ...env }, encoding: "utf8" }).stdout;
    };
    const env = {
        CONTAINERD_URL: "http://m/containerd.tar.gz", CONTAINERD_SHA256: "a".repeat(64),
        RUNC_URL: "http://m/runc.amd64", RUNC_SHA256: "b".repeat(64),
        CNI_URL: "http://m/cni.tgz", CNI_SHA256: "c".repeat(64),
    };

    test("holds the pins, so a changed pin verifies the files again", () => {
        expect(stamp(env)).toBe(stamp(env));
        for (const key of ["CONTAINERD_SHA256", "RUNC_SHA256", "CNI_SHA256"]) {
            expect([key, stamp({ ...env, [key]: "d".repeat(64) }) === stamp(env)]).toEqual([key, false]);
        }
    });
});

describe("scripts/artifacts.sh pins: the lab's pins, from the sum files on this disk", () => {
    test("reads each file's sum from the checksum file beside it, in the layouts components/urls.ts downloads", () => {
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-pins-"));
        try {
            // A www/ tree as upstream lays it out: the downloads' bases without their scheme.
            const www = `${cache}/artifacts/www`;
            const bases = Object.fromEntries(Object.entries(DEFAULTS.downloads).map(([k, v]) => [k, `${www}/${v.replace(/^https:\/\//, "")}`])) as unknown as Downloads;
            const want: Record<string, string> = {};
            for (const a of allArtifacts(bases, DEFAULTS.versions)) {
                const file = path.basename(a.url);
                const sum = fakeSha256(a.pinKey);
                fs.mkdirSync(path.dirname(a.url), { recursive: true });
                // Upstream's formats: bare hex beside a Kubernetes binary, "<hex>  <name>" lines
                // elsewhere; etcd's SHA256SUMS lists other architectures first.
                const text = a.vendorSums.endsWith(".sha256") && a.name.startsWith("kube")
                    ? sum
                    : `${a.name === "etcd" ? `${"0".repeat(64)}  ${file.replace("amd64", "arm64")}\n` : ""}${sum}  ${file}\n`;
                fs.writeFileSync(`${path.dirname(a.url)}/${a.vendorSums}`, text);
                if (a.name !== "cni") want[a.pinKey] = sum;
            }
            // A file without its sum file is named, and left out.
            const cniSums = allArtifacts(bases, DEFAULTS.versions).find((a) => a.name === "cni");
            fs.rmSync(`${path.dirname(cniSums?.url ?? "")}/${cniSums?.vendorSums}`);
            const r = spawnSync("bash", [path.join(ROOT, "scripts/artifacts.sh"), "pins"], {
                env: { ...process.env, K8S_HA_CACHE: cache, K8S_HA_STACK_FILE: "/nonexistent" },
                encoding: "utf8",
            });
            expect(r.status).toBe(0);
            expect(r.stdout.split("\n")[0]).toBe("k8s-ha:checksums:");
            const got = Object.fromEntries([...r.stdout.matchAll(/^ {2}([a-z0-9.@-]+): "([0-9a-f]{64})"$/gm)].map((m) => [m[1], m[2]]));
            expect(got).toEqual(want);
            expect(r.stderr).toContain(`pins: no sum file under ${www} names a sha256 for cni@1.10.0`);
        } finally {
            fs.rmSync(cache, { recursive: true, force: true });
        }
    });
});

const pem = (label: string) => `-----BEGIN ${label}-----\n${Buffer.from(label).toString("base64")}\n-----END ${label}-----\n`;

interface Recorded {
    name: string;
    inputs: Record<string, unknown>;
}
const commands: Recorded[] = [];

pulumi.runtime.setMocks(
    {
        newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
            if (args.type === "command:remote:Command") commands.push({ name: args.name, inputs: args.inputs });
            const state: Record<string, unknown> = { ...args.inputs };
            if (args.type === "command:remote:Command") {
                state.stdout = args.name.endsWith("-facts")
                    ? '{"interface":"host0","prefix":24,"cgroup":"v2","container":"none"}'
                    : args.name.includes("-digest-")
                      ? `sha256:${sha256(args.name)}\n`
                      : "";
            }
            if (args.type.endsWith("PrivateKey")) Object.assign(state, { privateKeyPem: pem("EC PRIVATE KEY"), publicKeyPem: pem("PUBLIC KEY"), privateKeyOpenssh: pem("OPENSSH PRIVATE KEY"), publicKeyOpenssh: "ssh-ed25519 AAAA" });
            if (args.type.endsWith("Cert")) state.certPem = pem("CERTIFICATE");
            if (args.type.endsWith("CertRequest")) state.certRequestPem = pem("CERTIFICATE REQUEST");
            if (args.type.endsWith("RandomPassword")) state.result = "password";
            return { id: `${args.name}-id`, state };
        },
        call: (args: pulumi.runtime.MockCallArgs) => args.inputs,
    },
    "k8s-ha",
    "test",
    false,
);

describe("each download step gets its files' pins from the stack config", () => {
    const cluster = validateConfig(labConfig());
    beforeAll(async () => {
        const { buildCluster } = await import("../components/cluster");
        const built = buildCluster({ cluster, sshPrivateKey: pulumi.secret("KEY") });
        await new Promise((resolve) => built.controlPlane.adminKubeconfig.apply(resolve));
        await new Promise((r) => setTimeout(r, 200));
    });
    const create = (name: string) => {
        const c = commands.find((r) => r.name === name);
        if (!c) throw new Error(`no command ${name}`);
        const v = c.inputs.create as unknown;
        return String(typeof v === "object" && v !== null && "value" in v ? (v as { value: unknown }).value : v);
    };
    /** The step's script, as it is sent, for every step that downloads. */
    const steps: [string, string][] = [["w1-runtime", "runtime"], ["w1-kubelet", "kubelet"], ["cp1-control-plane", "controlplane"], ["cp1-etcd", "etcd"]];

    test("every pin variable a script reads is set by its step, to the stack's pin; no checksum URL is", () => {
        const set: string[] = [];
        for (const [step, script] of steps) {
            const text = fs.readFileSync(path.join(ROOT, `scripts/host/${script}.sh`), "utf8");
            const read = [...new Set([...text.matchAll(/\$\{?([A-Z][A-Z0-9_]*_SHA256)\b/g)].map((m) => m[1]))];
            expect([script, read.length > 0]).toEqual([script, true]);
            for (const name of read) {
                const artifact = ARTIFACT_NAMES.find((a) => sha256EnvName(a) === name);
                expect([script, name, artifact !== undefined]).toEqual([script, name, true]);
                const version = artifact === "etcd" || artifact === "containerd" || artifact === "runc" || artifact === "cni" ? cluster.versions[artifact] : cluster.versions.kubernetes;
                expect(create(step)).toContain(`'${name}=${fakeSha256(`${artifact}@${version}`)}'`);
                set.push(name);
            }
            expect(create(step)).not.toMatch(/SUM_URL|\.sha256'/);
        }
        // Between them the steps download every file the stack pins.
        expect(set.sort()).toEqual(ARTIFACT_NAMES.map(sha256EnvName).sort());
    });

    test("no host script fetches a checksum file", () => {
        const dir = path.join(ROOT, "scripts/host");
        for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".sh"))) {
            const text = fs.readFileSync(path.join(dir, f), "utf8");
            expect([f, /SUM_?URL|sumurl|SHA256SUMS|\.sha256sum|\/\$name\.sha256/i.test(text)]).toEqual([f, false]);
        }
    });
});
