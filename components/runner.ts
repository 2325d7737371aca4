import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { HostConfig } from "./config";
import { renderHostLayout } from "./render/layout";

/**
 * What a host step is told about one of its files besides its content: the data that decides what
 * the generic install (`install_bundle` in scripts/host/lib.sh) does with it. The host scripts name
 * no file a phase sends: a new file is one entry in its component's list.
 */
export interface FileRole {
    /** Octal mode, like "0644" or "0600". */
    mode: string;
    /**
     * In a step whose files hold secrets, the files not readable by all (0600, 0640) are taken as
     * secret, and the preview shows no hash of them; `public` says this one holds no secret (a unit).
     */
    public?: boolean;
    /** The systemd units a change to this file restarts (the step's hook restarts them, in its order). */
    restarts?: readonly string[];
    /** The units a change to this file reloads instead (HAProxy, keepalived: connections stay). */
    reloads?: readonly string[];
    /** The check the staged file must pass before it replaces the live one: the script's `check_NAME`. */
    check?: string;
    /** Staged for a hook of the script to read or install itself, never installed by the generic step. */
    stageOnly?: boolean;
}

/** A file a host script installs: content arrives on stdin, never in the command text. */
export interface BundleFile extends FileRole {
    path: string;
    content: string;
}

/** A file whose content may still be an Output: its path and mode are known at preview. */
export interface FileInput extends FileRole {
    path: string;
    content: pulumi.Input<string>;
}

/** The `restarts=… reloads=… check=… stage-only` words of a file's bundle line and preview line ("" without either). */
export function fileTags(f: { path: string; restarts?: readonly string[]; reloads?: readonly string[]; check?: string; stageOnly?: boolean }): string {
    const tags: string[] = [];
    for (const [tag, units] of [["restarts", f.restarts], ["reloads", f.reloads]] as const) {
        if (!units || units.length === 0) continue;
        for (const u of units) if (!/^[A-Za-z0-9@._-]+$/.test(u)) throw new Error(`bundle: bad unit name ${JSON.stringify(u)} for ${f.path}`);
        tags.push(`${tag}=${[...new Set(units)].join(",")}`);
    }
    if (f.check !== undefined) {
        if (!/^[a-z][a-z0-9_]*$/.test(f.check)) throw new Error(`bundle: bad check name ${JSON.stringify(f.check)} for ${f.path}`);
        tags.push(`check=${f.check}`);
    }
    if (f.stageOnly) tags.push("stage-only");
    return tags.length > 0 ? ` ${tags.join(" ")}` : "";
}

/**
 * A certificate and its key as `<base>.crt` (0644) and `<base>.key` (0600), whatever the contents
 * are: strings (a BundleFile), Inputs (a FileInput), or a phase's own type.
 */
export function pemFiles<C>(base: string, cert: C, key: C): { path: string; mode: string; content: C }[] {
    return [
        { path: `${base}.crt`, mode: "0644", content: cert },
        { path: `${base}.key`, mode: "0600", content: key },
    ];
}

/** The files, each restarting these units when it changes. */
export function withRestarts<T extends FileRole>(files: T[], restarts: readonly string[]): T[] {
    return files.map((f) => ({ ...f, restarts }));
}

/**
 * Encodes files for a host script's stdin: one line per file, `file MODE PATH BASE64`.
 * Sorted by path so that the same files always give the same bytes (no spurious diff).
 */
export function encodeBundle(files: BundleFile[]): string {
    const sorted = [...files].sort((a, b) => a.path.localeCompare(b.path));
    const seen = new Set<string>();
    const lines = sorted.map((f) => {
        if (!/^\/[A-Za-z0-9._/@+:-]+$/.test(f.path)) throw new Error(`bundle: unsafe path ${JSON.stringify(f.path)}`);
        if (!/^0[0-7]{3}$/.test(f.mode)) throw new Error(`bundle: bad mode ${f.mode} for ${f.path}`);
        if (seen.has(f.path)) throw new Error(`bundle: ${f.path} appears twice`);
        seen.add(f.path);
        return `file ${f.mode} ${f.path} ${Buffer.from(f.content, "utf8").toString("base64")}${fileTags(f)}`;
    });
    return lines.join("\n") + "\n";
}

/** Quotes a string for a POSIX shell. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** scripts/host, found from this file whether it runs from components/ or compiled under bin/. */
function scriptDir(): string {
    for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
        const candidate = path.join(dir, "scripts", "host");
        if (fs.existsSync(path.join(candidate, "lib.sh"))) return candidate;
    }
    throw new Error(`scripts/host not found above ${__dirname}`);
}
const SOURCE_LINE = /^source "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\.sh"$/m;

/** The shared host library (`scripts/host/lib.sh`) and its sha256, under which hosts keep it. */
export interface HostLib {
    text: string;
    sha256: string;
}

let cachedLib: HostLib | undefined;
/** The generated layout (render/layout.ts) and then lib.sh: one file, one hash, so a new path re-runs every step. */
export function hostLib(): HostLib {
    if (!cachedLib) {
        const text = renderHostLayout() + withoutCommentLines(fs.readFileSync(path.join(scriptDir(), "lib.sh"), "utf8"));
        cachedLib = { text, sha256: crypto.createHash("sha256").update(text).digest("hex") };
    }
    return cachedLib;
}

/**
 * The text of a host script as a command runs it: its `source .../lib.sh` line becomes the prologue
 * (`scripts/host/prologue.sh`), which sources the library installed on the host by its hash (and,
 * in the facts step, installs it from stdin first).
 */
export function hostScript(name: string): string {
    const dir = scriptDir();
    const prologue = fs.readFileSync(path.join(dir, "prologue.sh"), "utf8");
    const body = fs.readFileSync(path.join(dir, `${name}.sh`), "utf8");
    if (!SOURCE_LINE.test(body)) throw new Error(`scripts/host/${name}.sh does not source lib.sh`);
    return withoutCommentLines(body.replace(SOURCE_LINE, () => prologue));
}

/**
 * A host script without its comment lines (and blank lines): the comments stay in the files, in
 * git, and would otherwise be a fifth of every command's text, of the state, and of what the
 * engine logs for each resource. The scripts keep comments on lines of their own (no heredocs),
 * which `npm test` checks by parsing each result with `bash -n`.
 */
export function withoutCommentLines(script: string): string {
    return (
        script
            .split("\n")
            .filter((line) => !/^\s*(#|$)/.test(line))
            .join("\n") + "\n"
    );
}

/** A script of `scripts/` that runs on the Pulumi machine (a local Command), without its comments. */
export function localScript(name: string): string {
    return withoutCommentLines(fs.readFileSync(path.join(path.dirname(scriptDir()), `${name}.sh`), "utf8"));
}

/** A file of `scripts/host/files/` that a step installs on a host as it is (a script a unit runs). */
export function hostFile(name: string): string {
    return fs.readFileSync(path.join(scriptDir(), "files", name), "utf8");
}

/** A known_hosts line for a host's pinned key (`ADDRESS TYPE KEY`, `[ADDRESS]:PORT …` off port 22). */
export function knownHostsLine(host: HostConfig): string {
    const [type, key] = (host.hostKey ?? "").trim().split(/\s+/);
    return `${host.port === 22 ? host.address : `[${host.address}]:${host.port}`} ${type} ${key}`;
}

/** The text of every delete command (`scripts/host/run-saved.sh`, without its comments). */
export function savedScriptRunner(): string {
    return withoutCommentLines(fs.readFileSync(path.join(scriptDir(), "run-saved.sh"), "utf8")).trim();
}

/**
 * The command line that runs a host script: environment values (never secrets) as `env` arguments,
 * with the host's and the step's names, the script itself as `bash -c`, the verb (create or delete)
 * as its first argument.
 */
export function scriptCommand(
    host: HostConfig,
    step: string,
    script: string,
    verb: "create" | "delete",
    env: Record<string, string>,
    sshClient = false,
): string {
    const sudo = host.user === "root" ? "" : "sudo -n ";
    // sudo drops SSH_CLIENT; the login shell expands it before sudo runs (an address, never a secret).
    const client = sshClient ? `K8SHA_SSH_CLIENT="$SSH_CLIENT" ` : "";
    const vars = Object.keys(env)
        .sort()
        .map((k) => {
            if (!/^[A-Z][A-Z0-9_]*$/.test(k)) throw new Error(`bad environment name ${k}`);
            return shellQuote(`${k}=${env[k]}`);
        });
    // Every step has a time limit on the host, so a hung step fails instead of holding the run forever.
    return `${sudo}env ${client}K8SHA_HOST=${shellQuote(host.name)} K8SHA_STEP=${shellQuote(step)} ${vars.join(" ")} timeout --kill-after=30 ${STEP_TIMEOUT_SECONDS} bash -c ${shellQuote(script)} k8s-ha-${verb} ${verb}`;
}

/** The longest a step may run on its host (30 minutes), its waits for the cluster included. */
export const STEP_TIMEOUT_SECONDS = 1800;

export interface RunArgs {
    /** Name of the host script in scripts/host, without `.sh`. */
    script: string;
    /** Non-secret settings for the script, passed as environment. */
    env?: Record<string, pulumi.Input<string>>;
    /**
     * Files to install; may hold secrets. A list of files (each content an Input) lets the preview
     * name each file that changes, even one whose content is known only after apply.
     */
    files?: pulumi.Input<BundleFile[]> | FileInput[];
    /** Whether the files hold secrets: stdin is then stored as a secret. Scripts never print file contents. */
    secret?: boolean;
    /** Changing any of these replaces the command (delete, then create). */
    triggers?: pulumi.Input<unknown>[];
    /** Run `delete` when the resource goes away. Default true. */
    withDelete?: boolean;
    /**
     * This step installs the host library from its stdin (instead of files): the host's first step.
     * Every later step of the runner depends on it.
     */
    installsLib?: boolean;
    /** The create is told the address of the SSH client it runs over (`K8SHA_SSH_CLIENT`, as sshd's `SSH_CLIENT`). */
    sshClient?: boolean;
}

/**
 * Whether a file of a step may hold secrets: only in a step whose files hold secrets, and then
 * unless it is marked public or its mode gives read to all. The preview and the drain fingerprint
 * show no hash of such a file.
 */
export function mayHoldSecrets(f: { mode: string; public?: boolean }, secretStep: boolean): boolean {
    return secretStep && !f.public && (parseInt(f.mode, 8) & 0o004) === 0;
}

/**
 * The line of the preview manifest for one file: `: file PATH MODE sha256:HEX` for a file without
 * secrets, `: file PATH MODE secret` for one with, and `: file PATH MODE changes` when its
 * content is known only after apply (a new certificate, say); then the units a change restarts and
 * its check (`fileTags`). A no-op `:` line in the command's text, so `pulumi preview --diff` names
 * what changes on which host, and what it restarts.
 */
export function manifestLine(path: string, mode: string, content: string | undefined, secret: boolean, tags = ""): string {
    if (content === undefined) return `: file ${path} ${mode} changes${tags}`;
    if (secret) return `: file ${path} ${mode} secret${tags}`;
    return `: file ${path} ${mode} sha256:${crypto.createHash("sha256").update(content, "utf8").digest("hex")}${tags}`;
}

/** `o.apply(f)` that also runs during a preview when `o` is unknown, giving `f` undefined then. */
function applyEvenUnknown<T, U>(o: pulumi.Output<T>, f: (v: T | undefined) => U): pulumi.Output<U> {
    // The SDK's apply takes a second, untyped argument, runWithUnknowns (it passes pulumi.unknown).
    const apply = o.apply as unknown as (fn: (v: T) => U, runWithUnknowns: boolean) => pulumi.Output<U>;
    return apply.call(o, (v: T) => f(pulumi.isUnknown(v) ? undefined : v), true);
}

/**
 * The preview manifest of a step's files, sorted by path: never secret itself (it holds no secret
 * content), so the command's text stays readable in the preview and the state.
 */
export function fileManifest(files: pulumi.Input<BundleFile[]> | FileInput[], secretStep: boolean): pulumi.Output<string[]> {
    if (Array.isArray(files)) {
        const sorted = [...(files as FileInput[])].sort((a, b) => a.path.localeCompare(b.path));
        const lines = sorted.map((f) => {
            const secret = mayHoldSecrets(f, secretStep);
            return pulumi.unsecret(applyEvenUnknown(pulumi.output(f.content), (c) => manifestLine(f.path, f.mode, c, secret, fileTags(f))));
        });
        return pulumi.all(lines);
    }
    return pulumi.unsecret(
        applyEvenUnknown(pulumi.output(files), (list) =>
            list === undefined
                ? [": files changes"]
                : [...list].sort((a, b) => a.path.localeCompare(b.path)).map((f) => manifestLine(f.path, f.mode, f.content, mayHoldSecrets(f, secretStep), fileTags(f))),
        ),
    );
}

/** The files as the bundle on stdin takes them, once every content is known. */
function resolvedFiles(files: pulumi.Input<BundleFile[]> | FileInput[]): pulumi.Output<BundleFile[]> {
    if (!Array.isArray(files)) return pulumi.output(files) as pulumi.Output<BundleFile[]>;
    return pulumi.all((files as FileInput[]).map((f) => pulumi.output(f.content).apply((content): BundleFile => ({ ...f, content }))));
}

/** Where a step sits and what it waits for besides what its runner adds (the library, the host's readiness). */
export interface StepOptions {
    /** The component the step belongs to (its parent in the preview tree and the URN). */
    parent: pulumi.Resource;
    /** Steps of this or other hosts it runs after. */
    after?: pulumi.Resource[];
    protect?: boolean;
    /** The step's former names or parents (`aliases`), so that existing stacks keep it. */
    aliases?: pulumi.Input<pulumi.Alias>[];
}

/**
 * Owns the SSH connection to one host and names every command `<host>-<step>`, parented to the
 * component that asks, so the preview tree reads like the system. It also owns the order every
 * step of a host keeps: after the step that installed the host library, and, once the host is
 * prepared (`ready`), after that; components name only the order of their own steps.
 * No step is `deletedWith` its component or host: a step's delete is what cleans its host (and
 * what leaves an etcd cluster, or drains a node), so it must run even when everything goes at once.
 */
export class HostRunner {
    readonly connection: command.types.input.remote.ConnectionArgs;

    constructor(
        readonly host: HostConfig,
        privateKey: pulumi.Input<string>,
        /** `HOST/STEP` → stamp: the steps to re-run once to repair drift (`k8s-ha:repair`). */
        private readonly repair: Record<string, string> = {},
    ) {
        this.connection = {
            host: host.address,
            port: host.port,
            user: host.user,
            privateKey,
            hostKey: host.hostKey,
            dialErrorLimit: 30,
            perDialTimeout: 10,
        };
    }

    /** The step that installed the host library, which every other step depends on. */
    private libStep?: command.remote.Command;
    /** The step that prepared the host (its OS and firewall), which every later step depends on. */
    private readyStep?: pulumi.Resource;

    /** From now on, every step of this host runs after `step` (Node calls it once the host is prepared). */
    ready(step: pulumi.Resource): void {
        if (this.readyStep) throw new Error(`${this.host.name}: the host was made ready twice`);
        this.readyStep = step;
    }

    run(step: string, args: RunArgs, opts: StepOptions): command.remote.Command {
        const lib = hostLib();
        if (args.installsLib) {
            if (this.libStep) throw new Error(`${this.host.name}: the host library is installed twice (${step})`);
            if (args.files !== undefined || args.secret) throw new Error(`${this.host.name}-${step}: a step that installs the library reads it on stdin, and takes no files`);
        } else if (!this.libStep) {
            throw new Error(`${this.host.name}-${step}: runs before the step that installs the host library`);
        }
        const script = hostScript(args.script);
        const scriptSha = crypto.createHash("sha256").update(script).digest("hex");
        // A repair request (scripts/drift.sh --repair) changes the step's text, so the next up re-runs it.
        const repairStamp = this.repair[`${this.host.name}/${step}`];
        const env = pulumi
            .output(args.env ?? {})
            .apply((e) => ({ ...e, K8SHA_LIB: lib.sha256, K8SHA_SCRIPT: scriptSha, ...(repairStamp ? { K8SHA_REPAIR: repairStamp } : {}) }));
        const manifest = args.installsLib ? pulumi.output<string[]>([]) : fileManifest(args.files ?? [], args.secret === true);
        const create = pulumi
            .all([env, manifest])
            .apply(([e, m]) => [...m, scriptCommand(this.host, step, script, "create", args.installsLib ? { ...e, K8SHA_LIB_INSTALL: "yes" } : e, args.sshClient === true)].join("\n"));
        // The delete runs the copy of the script its create saved on the host (by its hash), with
        // the same settings and library version; it never installs the library.
        const del = env.apply((e) => scriptCommand(this.host, step, savedScriptRunner(), "delete", e));
        const files = resolvedFiles(args.files ?? []);
        const stdin = args.installsLib ? pulumi.output(lib.text) : files.apply((f) => encodeBundle(f));
        const cmd = new command.remote.Command(
            `${this.host.name}-${step}`,
            {
                connection: this.connection,
                create,
                delete: args.withDelete === false ? undefined : del,
                stdin: args.secret ? pulumi.secret(stdin) : stdin,
                triggers: args.triggers,
            },
            {
                parent: opts.parent,
                protect: opts.protect,
                aliases: opts.aliases,
                dependsOn: [...new Set([...(opts.after ?? []), ...(this.libStep ? [this.libStep] : []), ...(this.readyStep ? [this.readyStep] : [])])],
                // A replacement must not let the old delete undo the new create on the same host.
                deleteBeforeReplace: true,
                additionalSecretOutputs: args.secret ? ["stdin"] : [],
            },
        );
        if (args.installsLib) this.libStep = cmd;
        return cmd;
    }
}
