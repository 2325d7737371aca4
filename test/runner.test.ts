import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BundleFile, encodeBundle, fileManifest, fileTags, hostLib, hostScript, manifestLine, savedScriptRunner, pemFiles, scriptCommand, shellQuote } from "../components/runner";
import { HostConfig } from "../components/config";
import { hostLibFile } from "./host-sandbox";

const host: HostConfig = { name: "w1", address: "10.0.0.31", user: "root", port: 22, roles: ["worker"] };

describe("the host runner", () => {
    test("bundles are sorted by path, so the same files give the same stdin", () => {
        const a = encodeBundle([
            { path: "/etc/b", mode: "0644", content: "b" },
            { path: "/etc/a", mode: "0600", content: "secret" },
        ]);
        const b = encodeBundle([
            { path: "/etc/a", mode: "0600", content: "secret" },
            { path: "/etc/b", mode: "0644", content: "b" },
        ]);
        expect(a).toBe(b);
        expect(a).toBe(`file 0600 /etc/a ${Buffer.from("secret").toString("base64")}\nfile 0644 /etc/b Yg==\n`);
    });

    test("bundles refuse unsafe paths, bad modes and duplicates", () => {
        expect(() => encodeBundle([{ path: "/etc/a b", mode: "0644", content: "" }])).toThrow('bundle: unsafe path "/etc/a b"');
        expect(() => encodeBundle([{ path: "etc/a", mode: "0644", content: "" }])).toThrow('bundle: unsafe path "etc/a"');
        expect(() => encodeBundle([{ path: "/etc/a", mode: "644", content: "" }])).toThrow("bundle: bad mode 644 for /etc/a");
        expect(() =>
            encodeBundle([
                { path: "/etc/a", mode: "0644", content: "" },
                { path: "/etc/a", mode: "0644", content: "" },
            ]),
        ).toThrow("bundle: /etc/a appears twice");
    });

    test("the preview manifest: a hash for files without secrets, `secret` for the rest, `changes` for content known after apply", async () => {
        const sha = crypto.createHash("sha256").update("abc", "utf8").digest("hex");
        expect(manifestLine("/etc/a", "0644", "abc", false)).toBe(`: file /etc/a 0644 sha256:${sha}`);
        expect(manifestLine("/etc/a.key", "0600", "abc", true)).toBe(": file /etc/a.key 0600 secret");
        expect(manifestLine("/etc/a.crt", "0644", undefined, false)).toBe(": file /etc/a.crt 0644 changes");
        const lines = await new Promise<string[]>((resolve) =>
            fileManifest(
                [
                    { path: "/etc/z.service", mode: "0600", content: "unit", public: true },
                    { path: "/etc/b.key", mode: "0600", content: pulumi.secret("KEY") },
                    { path: "/etc/b.crt", mode: "0644", content: pulumi.output("abc") },
                ],
                true,
            ).apply(resolve),
        );
        expect(lines).toEqual([
            `: file /etc/b.crt 0644 sha256:${sha}`,
            ": file /etc/b.key 0600 secret",
            `: file /etc/z.service 0600 sha256:${crypto.createHash("sha256").update("unit").digest("hex")}`,
        ]);
        // A content known only after apply (a preview of a new certificate): the line says `changes`.
        const unknownContent = pulumi.output(pulumi.unknown as unknown as string);
        const previewLines = await new Promise<string[]>((resolve) => fileManifest([{ path: "/etc/c.crt", mode: "0644", content: unknownContent }], true).apply(resolve));
        expect(previewLines).toEqual([": file /etc/c.crt 0644 changes"]);
        // In a step without secrets every file gets its hash, whatever its mode.
        const plainStep = await new Promise<string[]>((resolve) => fileManifest([{ path: "/etc/k", mode: "0600", content: "abc" }], false).apply(resolve));
        expect(plainStep).toEqual([`: file /etc/k 0600 sha256:${sha}`]);
    });

    test("pemFiles gives the key 0600 and the certificate 0644", () => {
        expect(pemFiles("/etc/x/server", "C", "K")).toEqual([
            { path: "/etc/x/server.crt", mode: "0644", content: "C" },
            { path: "/etc/x/server.key", mode: "0600", content: "K" },
        ]);
    });

    test("shellQuote survives a round trip through a real shell", () => {
        for (const s of ["plain", "it's", "$(rm -rf /)", "a\nb", "'\"`\\"]) {
            expect(execFileSync("bash", ["-c", `printf %s ${shellQuote(s)}`], { encoding: "utf8" })).toBe(s);
        }
    });

    test("the command runs the script with the prologue in place of lib.sh, settings as env, the verb last", () => {
        const script = hostScript("os");
        expect(script).toContain('source "$k8sha_lib"');
        expect(script).not.toContain("read_bundle()");
        expect(script).not.toContain('source "$(dirname');
        // The prologue's comments stay in its file, out of every command.
        expect(script).not.toContain("# The first lines of every host script");
        const cmd = scriptCommand(host, "os", script, "create", { K8SHA_ADDRESS: "10.0.0.31" });
        expect(cmd.startsWith("env K8SHA_HOST='w1' K8SHA_STEP='os' 'K8SHA_ADDRESS=10.0.0.31' timeout --kill-after=30 1800 bash -c '")).toBe(true);
        expect(cmd.endsWith(" k8s-ha-create create")).toBe(true);
        expect(scriptCommand({ ...host, user: "admin" }, "os", "true", "delete", {})).toBe(
            "sudo -n env K8SHA_HOST='w1' K8SHA_STEP='os'  timeout --kill-after=30 1800 bash -c 'true' k8s-ha-delete delete",
        );
        expect(() => scriptCommand(host, "os", "true", "create", { "bad name": "x" })).toThrow("bad environment name bad name");
    });

    test("every host script as sent, and the library, parse as bash and carry no comment lines", () => {
        const dir = path.resolve(__dirname, "../scripts/host");
        const names = fs.readdirSync(dir).filter((f) => f.endsWith(".sh") && !["lib.sh", "prologue.sh", "run-saved.sh"].includes(f));
        expect(names.length).toBeGreaterThan(10);
        for (const text of [...names.map((f) => hostScript(f.replace(/\.sh$/, ""))), hostLib().text, savedScriptRunner()]) {
            expect(text.split("\n").filter((l) => /^\s*#/.test(l))).toEqual([]);
            const parsed = spawnSync("bash", ["-n"], { input: text, encoding: "utf8" });
            expect(parsed.stderr).toBe("");
            expect(parsed.status).toBe(0);
        }
        // What the files say stays in the files: os.sh with its prologue is a third shorter as sent.
        const files = fs.readFileSync(path.join(dir, "os.sh"), "utf8") + fs.readFileSync(path.join(dir, "prologue.sh"), "utf8");
        expect(hostScript("os").length).toBeLessThan(files.length * 0.75);
    });

    test("the library is installed once by its hash, checked, and sourced by every later script", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-lib-"));
        const lib = hostLib();
        const run = (env: Record<string, string>, input: string) =>
            spawnSync("bash", ["-c", hostScript("nfs"), "k8s-ha", "explode"], {
                input,
                env: { ...process.env, K8SHA_LIB_DIR: `${dir}/lib`, K8SHA_STATE_DIR: `${dir}/state`, K8SHA_HOST: "h1", K8SHA_LIB: lib.sha256, ...env },
                encoding: "utf8",
            });
        try {
            expect(lib.sha256).toBe(crypto.createHash("sha256").update(lib.text).digest("hex"));
            expect(lib.text).toContain("read_bundle() {");
            // Not installed yet: the script says so and which step installs it.
            const missing = run({}, "");
            expect(missing.status).toBe(1);
            expect(missing.stderr).toContain(`k8s-ha[h1]: error: ${dir}/lib/lib-${lib.sha256}.sh is missing (the facts step installs it)`);
            // A library cut short on the way is refused, and nothing is left of it.
            const cut = run({ K8SHA_LIB_INSTALL: "yes" }, lib.text.slice(0, 1000));
            expect(cut.stderr).toContain(`does not have the sha256 ${lib.sha256}`);
            expect(fs.readdirSync(`${dir}/lib`)).toEqual([]);
            // Installed: the library's own functions run (here, its refusal of an unknown verb).
            const installed = run({ K8SHA_LIB_INSTALL: "yes" }, lib.text);
            expect(installed.stderr).toContain("k8s-ha[h1]: error: usage: create|delete (got 'explode')");
            expect(fs.readdirSync(`${dir}/lib`)).toEqual([`lib-${lib.sha256}.sh`]);
            expect(fs.statSync(`${dir}/lib/lib-${lib.sha256}.sh`).mode & 0o777).toBe(0o644);
            expect(fs.readFileSync(`${dir}/lib/lib-${lib.sha256}.sh`, "utf8")).toBe(lib.text);
            // A later script sources it without stdin.
            expect(run({}, "").stderr).toContain("usage: create|delete (got 'explode')");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("the facts step installs the library and keeps its script; its delete runs that copy and removes both", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-saved-"));
        const lib = hostLib();
        const script = hostScript("facts");
        const sha = crypto.createHash("sha256").update(script).digest("hex");
        const env = { K8SHA_ADDRESS: "127.0.0.1", K8SHA_LIB: lib.sha256, K8SHA_SCRIPT: sha };
        const run = (cmd: string, input: string) =>
            spawnSync("bash", ["-c", cmd], { input, env: { ...process.env, K8SHA_LIB_DIR: `${dir}/lib`, K8SHA_STATE_DIR: `${dir}/state` }, encoding: "utf8" });
        const local = { ...host, name: "h1" };
        try {
            const created = run(scriptCommand(local, "facts", script, "create", { ...env, K8SHA_LIB_INSTALL: "yes" }), lib.text);
            expect(created.stderr).toBe("");
            expect(JSON.parse(created.stdout)).toMatchObject({ interface: "lo", prefix: 8 });
            expect(fs.readFileSync(`${dir}/lib/steps/${sha}.sh`, "utf8")).toBe(script);
            // The delete's text is the same few lines for every step: the script travels once.
            const del = scriptCommand(local, "facts", savedScriptRunner(), "delete", env);
            expect(del.length).toBeLessThan(900);
            const deleted = run(del, "");
            expect(deleted.stderr).toContain("k8s-ha[h1]: host library removed");
            expect(deleted.status).toBe(0);
            expect(fs.existsSync(`${dir}/lib`)).toBe(false);
            // Run again with its copy gone, it says what is missing and what to do.
            const again = run(del, "");
            expect(again.status).toBe(1);
            expect(again.stderr).toContain(`k8s-ha[h1]: error: ${dir}/lib/steps/${sha}.sh is missing (the step's create saves it)`);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("a step interrupted after changing a file is marked pending until a create finishes", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-pending-"));
        try {
            // A step that installs one file and then dies (like a run killed before its restart).
            const step = (dies: boolean) =>
                [
                    `source ${JSON.stringify(hostLibFile(dir))}`,
                    `create() { read_bundle; install_file ${dir}/etc/app.conf || true; echo "pending at start: $PENDING_AT_START" >&2; ${dies ? "exit 9" : "true"}; }`,
                    `delete() { :; }`,
                    `run_verb "$1"`,
                ].join("\n");
            const run = (dies: boolean, content: string) =>
                spawnSync("bash", ["-c", step(dies), "k8s-ha", "create"], {
                    input: encodeBundle([{ path: `${dir}/etc/app.conf`, mode: "0644", content }]),
                    env: { ...process.env, K8SHA_STATE_DIR: `${dir}/state`, K8SHA_STEP: "app", K8SHA_HOST: "h1" },
                    encoding: "utf8",
                });
            const marker = `${dir}/state/pending/app`;
            const first = run(true, "v1");
            expect(first.status).toBe(9);
            expect(first.stderr).toContain("pending at start: no");
            expect(fs.existsSync(marker)).toBe(true);
            // The next run finds the file current but the mark still there (so it would restart the
            // step's daemons), and clears the mark when it finishes.
            const second = run(false, "v1");
            expect(second.status).toBe(0);
            expect(second.stderr).toContain("pending at start: yes");
            expect(fs.existsSync(marker)).toBe(false);
            // A run that changes nothing leaves no mark.
            expect(run(false, "v1").status).toBe(0);
            expect(fs.existsSync(marker)).toBe(false);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
    test("the generic install: each file's restarts, reloads and check come from the bundle; files dropped from it go; a delete removes what the step installed", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-bundle-"));
        try {
            const lib = JSON.stringify(hostLibFile(dir));
            const step = [
                `source ${lib}`,
                // A check that refuses any file holding the word "bad".
                `check_words() { ! grep -q bad "$1"; }`,
                `create() { read_bundle; install_bundle || true; echo "app=$(restart_of app) side=$(restart_of side) lb=$(reload_of lb) pw=$(cat "$(staged ${dir}/secret/pw)")" >&2; }`,
                `delete() { remove_owned; }`,
                `run_verb "$1"`,
            ].join("\n");
            const run = (verb: string, files: BundleFile[]) =>
                spawnSync("bash", ["-c", step, "k8s-ha", verb], {
                    input: encodeBundle(files),
                    env: { ...process.env, K8SHA_STATE_DIR: `${dir}/state`, K8SHA_RUN_DIR: `${dir}/run`, K8SHA_STEP: "app", K8SHA_HOST: "h1" },
                    encoding: "utf8",
                });
            const pw: BundleFile = { path: `${dir}/secret/pw`, mode: "0600", content: "s3cret", stageOnly: true };
            const files = (conf: string, extra: BundleFile[] = []): BundleFile[] => [
                { path: `${dir}/etc/app.conf`, mode: "0644", content: conf, restarts: ["app", "side"], check: "words" },
                { path: `${dir}/etc/lb.cfg`, mode: "0644", content: "lb", reloads: ["lb"] },
                pw,
                ...extra,
            ];
            const first = run("create", files("v1", [{ path: `${dir}/etc/old.conf`, mode: "0600", content: "old" }]));
            expect(first.stderr).toContain("app=yes side=yes lb=yes pw=s3cret");
            expect(first.status).toBe(0);
            // The staged-only file is never installed.
            expect(fs.existsSync(`${dir}/secret/pw`)).toBe(false);
            expect(fs.statSync(`${dir}/etc/old.conf`).mode & 0o777).toBe(0o600);
            // Nothing changed: nothing restarts.
            expect(run("create", files("v1", [{ path: `${dir}/etc/old.conf`, mode: "0600", content: "old" }])).stderr).toContain("app=no side=no lb=no");
            // A changed file restarts its own units only; the file the bundle no longer has goes.
            const second = run("create", files("v2"));
            expect(second.stderr).toContain("app=yes side=yes lb=no");
            expect(second.stderr).toContain(`k8s-ha[h1]: ${dir}/etc/old.conf is no longer part of step app`);
            expect(fs.existsSync(`${dir}/etc/old.conf`)).toBe(false);
            expect(fs.readFileSync(`${dir}/state/owned/app`, "utf8")).toBe(`${dir}/etc/app.conf\n${dir}/etc/lb.cfg\n`);
            // A file that fails its check stops the step before it replaces the live one.
            const refused = run("create", files("bad"));
            expect(refused.status).toBe(1);
            expect(refused.stderr).toContain(`${dir}/etc/app.conf failed its check (check_words)`);
            expect(fs.readFileSync(`${dir}/etc/app.conf`, "utf8")).toBe("v2");
            // The delete removes what the step installed, and its list.
            const del = run("delete", []);
            expect(del.status).toBe(0);
            expect(fs.existsSync(`${dir}/etc/app.conf`)).toBe(false);
            expect(fs.existsSync(`${dir}/etc/lb.cfg`)).toBe(false);
            expect(fs.existsSync(`${dir}/state/owned`)).toBe(false);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("a file's tags: units, reloads, its check, staged only; bad names refused", () => {
        expect(fileTags({ path: "/a" })).toBe("");
        expect(fileTags({ path: "/a", restarts: ["x", "x", "y"], reloads: ["z"], check: "nft", stageOnly: true })).toBe(" restarts=x,y reloads=z check=nft stage-only");
        expect(() => fileTags({ path: "/a", restarts: ["x y"] })).toThrow('bundle: bad unit name "x y" for /a');
        expect(() => fileTags({ path: "/a", check: "rm -rf" })).toThrow('bundle: bad check name "rm -rf" for /a');
        expect(encodeBundle([{ path: "/a", mode: "0644", content: "x", restarts: ["u"] }])).toBe("file 0644 /a eA== restarts=u\n");
        expect(manifestLine("/a", "0644", undefined, false, fileTags({ path: "/a", reloads: ["lb"] }))).toBe(": file /a 0644 changes reloads=lb");
    });
});
