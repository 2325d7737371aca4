import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * scripts/toolchain.sh against fake mirrors: what a bad mirror gets, before anything is installed.
 * The fake tarballs are never unpacked: every check here fails before that.
 */
const ROOT = path.resolve(__dirname, "..");
/** The folder of this Node's package (…/node_modules/node), whose bin/node runs these tests. */
const NODE_PACKAGE = path.resolve(process.execPath, "../..");
const temps: string[] = [];
afterAll(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function pluginVersion(name: string): string {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", "@pulumi", name, "package.json"), "utf8"));
    return pkg.pulumi.version;
}

function makeMirror(files: Record<string, string>, sums: Record<string, string> = {}): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-mirror-"));
    temps.push(dir);
    const lines: string[] = [];
    for (const [rel, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), content);
        lines.push(`${sums[rel] ?? crypto.createHash("sha256").update(content).digest("hex")}  ${rel}`);
    }
    fs.writeFileSync(path.join(dir, "SHA256SUMS"), lines.join("\n") + "\n");
    return dir;
}

function runToolchain(mirror: string): { status: number; stderr: string; cache: string } {
    // A cache of its own, with this Node (22+) where the script looks for it, so nothing is fetched.
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-cache-"));
    fs.mkdirSync(path.join(cache, "node", "node_modules"), { recursive: true });
    fs.symlinkSync(NODE_PACKAGE, path.join(cache, "node", "node_modules", "node"));
    temps.push(cache);
    const envFile = path.join(ROOT, ".tools", "env.sh");
    const before = fs.existsSync(envFile) ? fs.readFileSync(envFile, "utf8") : undefined;
    const r = spawnSync("bash", [path.join(ROOT, "scripts", "toolchain.sh")], {
        env: { ...process.env, K8S_HA_CACHE: cache, K8S_HA_PULUMI_MIRROR: mirror },
        encoding: "utf8",
        timeout: 60_000,
    });
    const after = fs.existsSync(envFile) ? fs.readFileSync(envFile, "utf8") : undefined;
    expect(after).toBe(before); // a failed run never rewrites the environment file
    return { status: r.status ?? -1, stderr: r.stderr, cache };
}

const sdk = "releases/sdk/pulumi-v3.259.0-linux-x64.tar.gz";
const plugin = (name: string, v = pluginVersion(name)) => `releases/plugins/pulumi-resource-${name}-v${v}-linux-amd64.tar.gz`;

describe("toolchain.sh refuses a bad mirror before installing anything", () => {
    test("a checksum mismatch names the file and both sums", () => {
        const wrong = "0".repeat(64);
        const mirror = makeMirror(
            { [sdk]: "cli", [plugin("command")]: "command", [plugin("tls")]: "tls", [plugin("random")]: "random" },
            { [plugin("tls")]: wrong },
        );
        const r = runToolchain(mirror);
        const got = crypto.createHash("sha256").update("tls").digest("hex");
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`checksum mismatch for ${plugin("tls")}: SHA256SUMS says ${wrong}, the file has ${got}; nothing was installed`);
        expect(fs.readdirSync(path.join(r.cache, "toolchain")).filter((f) => !f.startsWith("."))).toEqual([]);
    });

    test("a plugin version the SDK asks for and the mirror lacks names both versions", () => {
        const mirror = makeMirror({ [sdk]: "cli", [plugin("command")]: "c", [plugin("tls", "5.0.0")]: "t", [plugin("random")]: "r" });
        const r = runToolchain(mirror);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`the npm SDK @pulumi/tls asks for plugin tls v${pluginVersion("tls")}, but the mirror has v5.0.0`);
    });

    test("a mirror without a CLI says so", () => {
        const r = runToolchain(makeMirror({ [plugin("command")]: "c" }));
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("has no releases/sdk/pulumi-v*-linux-x64.tar.gz in SHA256SUMS");
    });
});

describe("toolchain.sh's Go for the artifacts build", () => {
    const script = fs.readFileSync(path.join(ROOT, "scripts", "toolchain.sh"), "utf8");
    const pinned = /^readonly GO_VERSION=(\S+)$/m.exec(script)?.[1];

    test("the Go it installs is the newest that scripts/artifacts/*/go.mod asks for", () => {
        const dir = path.join(ROOT, "scripts", "artifacts");
        const wanted = fs
            .readdirSync(dir)
            .map((d) => path.join(dir, d, "go.mod"))
            .filter((f) => fs.existsSync(f))
            .map((f) => /^go (\S+)$/m.exec(fs.readFileSync(f, "utf8"))?.[1] ?? "0")
            .map((v) => v.split(".").map(Number))
            .sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] ?? 0) - (b[2] ?? 0))
            .pop();
        expect(wanted).toBeDefined();
        expect(pinned).toBe(wanted?.join("."));
    });

    test("a zip that does not match the pinned sha256 installs nothing, and leaves no download", () => {
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-cache-"));
        temps.push(cache);
        const proxy = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-goproxy-"));
        temps.push(proxy);
        const zip = path.join(proxy, "golang.org", "toolchain", "@v", `v0.0.1-go${pinned}.linux-amd64.zip`);
        fs.mkdirSync(path.dirname(zip), { recursive: true });
        fs.writeFileSync(zip, "not Go's release");
        // This machine's own go is hidden: go_bin_dir finds none.
        const r = spawnSync("bash", ["-c", `source "$1"; go_bin_dir() { return 1; }; install_go`, "bash", path.join(ROOT, "scripts", "toolchain.sh")], {
            env: { ...process.env, K8S_HA_CACHE: cache, GOPROXY: `off,file://${proxy}|direct` },
            encoding: "utf8",
            timeout: 60_000,
        });
        expect(r.status).toBe(1);
        const got = crypto.createHash("sha256").update("not Go's release").digest("hex");
        expect(r.stderr).toContain(`toolchain: error: checksum mismatch for file://${zip}: want `);
        expect(r.stderr).toContain(`the file has ${got}; nothing was installed`);
        expect(fs.readdirSync(path.join(cache, "go"))).toEqual([]);
    });
});
