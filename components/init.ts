/**
 * `npm run init`: a stack config (Pulumi.<stack>.yaml) from a list of hosts, in one command. Each
 * host's ed25519 key is read with ssh-keyscan and shown as a fingerprint to be checked out of band;
 * the release files' sha256 pins come from the checksum files published beside them (under the
 * stack's download bases) or from a file; the config is written only when the program's own
 * validation (validate.ts) passes on the very text written. The SSH private key never enters the
 * file: init prints the one `pulumi config set --secret` command that stores it.
 *
 * The parsing and rendering are pure functions (tests call them); `runInit` does the I/O through
 * an `InitIo` that tests can replace piece by piece.
 */
import { execFile } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as readline from "readline/promises";
import { parse, stringify } from "yaml";
import { DEFAULTS, Downloads, RawConfig, ROLES } from "./config";
import { cidrContains, formatCidr, parseIpv4 } from "./net";
import { planOf, stackKeys } from "./plan";
import { ConfigError, validateConfig } from "./validate";

export const USAGE = `usage: npm run init -- --stack NAME --hosts FILE --vip ADDRESS [options]
  --stack NAME            the stack whose Pulumi.NAME.yaml is written
  --hosts FILE            one host a line: NAME ADDRESS ROLE[,ROLE...] [port=N] [user=NAME]
                          (roles: ${ROLES.join(", ")}; '#' starts a comment)
  --vip ADDRESS           the API's virtual IP: a free address in the node network
  --node-network CIDR     the hosts' network (default: the /24 that holds every host)
  --mirror-upstream URL   the registry the image mirror pulls through
  --ssh-user NAME         SSH login user of every host (default root; others need password-less sudo)
  --ssh-port N            SSH port of every host (default 22)
  --ssh-key FILE          the SSH private key, for the printed 'pulumi config set --secret' command
  --download-mirror URL   the release files from URL/<upstream host and path> (like the lab's server)
  --checksums-from FILE   the pins from FILE (sha256sum lines, or 'artifact@version: sha256' lines)
                          instead of the checksum files beside the release files
  --version KEY=VERSION   a version other than the default (kubernetes, etcd, containerd, runc, cni, ...)
  --allow-http            accept http:// download and mirror URLs (a network you trust)
  --timeout SECONDS       how long each host gets to answer ssh-keyscan (default 5)
  --yes                   the fingerprints printed were checked out of band: do not ask
  --force                 replace an existing Pulumi.NAME.yaml`;

/** What the operator runs on a host's console to see its key's fingerprint (Debian's sshd keeps the key there). */
export const HOST_KEY_CHECK = "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub";

/** A line of the hosts file. */
export interface InitHost {
    name: string;
    address: string;
    roles: string[];
    port?: number;
    user?: string;
    /** Its line in the hosts file (1-based), for messages. */
    line: number;
}

export interface InitOptions {
    stack?: string;
    hostsFile?: string;
    vip?: string;
    nodeNetwork?: string;
    mirrorUpstream?: string;
    sshUser?: string;
    sshPort?: number;
    sshKey?: string;
    downloadMirror?: string;
    checksumsFrom?: string;
    versions: Record<string, string>;
    allowHttp: boolean;
    timeoutSeconds: number;
    yes: boolean;
    force: boolean;
}

/** A refusal of init: its message is one line (or one line per problem) naming the input and the fix. */
export class InitError extends Error {
    constructor(readonly lines: string[]) {
        super(lines.join("\n"));
        this.name = "InitError";
    }
}

const fail = (...lines: string[]): never => {
    throw new InitError(lines);
};

/** The command line, `--flag VALUE` or `--flag=VALUE`. */
export function parseArgs(argv: readonly string[]): InitOptions | "help" {
    const o: InitOptions = { versions: {}, allowHttp: false, timeoutSeconds: 5, yes: false, force: false };
    const text: Record<string, Exclude<keyof InitOptions, "versions" | "allowHttp" | "timeoutSeconds" | "yes" | "force" | "sshPort">> = {
        "--stack": "stack",
        "--hosts": "hostsFile",
        "--vip": "vip",
        "--node-network": "nodeNetwork",
        "--mirror-upstream": "mirrorUpstream",
        "--ssh-user": "sshUser",
        "--ssh-key": "sshKey",
        "--download-mirror": "downloadMirror",
        "--checksums-from": "checksumsFrom",
    };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "-h" || arg === "--help") return "help";
        if (arg === "--yes" || arg === "-y") o.yes = true;
        else if (arg === "--force") o.force = true;
        else if (arg === "--allow-http") o.allowHttp = true;
        else {
            const eq = arg.indexOf("=");
            const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
            const known = flag in text || flag === "--ssh-port" || flag === "--timeout" || flag === "--version";
            if (!known) fail(`init: unknown argument '${arg}'; see npm run init -- --help`);
            let value: string;
            if (eq > 0 && arg.startsWith("--")) value = arg.slice(eq + 1);
            else if (i + 1 < argv.length) value = argv[++i];
            else return fail(`init: ${flag} needs a value; see npm run init -- --help`);
            if (value === "") fail(`init: ${flag} is empty; give it a value`);
            if (flag === "--ssh-port" || flag === "--timeout") {
                const n = Number(value);
                if (!/^\d+$/.test(value) || n < 1 || n > (flag === "--ssh-port" ? 65535 : 600)) {
                    fail(`init: ${flag} '${value}' is not a whole number from 1 to ${flag === "--ssh-port" ? 65535 : 600}`);
                }
                if (flag === "--ssh-port") o.sshPort = n;
                else o.timeoutSeconds = n;
            } else if (flag === "--version") {
                const m = /^([a-z]+)=v?(.+)$/.exec(value);
                if (!m || !(m[1] in DEFAULTS.versions)) fail(`init: --version '${value}' is not KEY=VERSION with KEY one of: ${Object.keys(DEFAULTS.versions).join(", ")}`);
                o.versions[(m as RegExpExecArray)[1]] = (m as RegExpExecArray)[2];
            } else {
                o[text[flag]] = value;
            }
        }
    }
    return o;
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The hosts file: `NAME ADDRESS ROLE[,ROLE...] [port=N] [user=NAME]` a line. Only what YAML would
 * hide or lose is checked here (the form of a line, a name given twice); roles, addresses, networks
 * and counts are the program's validation's to judge, on the config written.
 */
export function parseHostsFile(text: string, file: string): InitHost[] {
    const hosts: InitHost[] = [];
    const like = "write NAME ADDRESS ROLE[,ROLE...] [port=N] [user=NAME], like: cp1 192.0.2.21 etcd,control-plane";
    text.split("\n").forEach((raw, i) => {
        const line = i + 1;
        const fields = raw.replace(/#.*/, "").trim().split(/\s+/).filter((f) => f !== "");
        if (fields.length === 0) return;
        const at = `init: ${file}:${line}:`;
        if (fields.length < 3) fail(`${at} '${fields.join(" ")}' has ${fields.length === 1 ? "no address and no roles" : "no roles"}; ${like}`);
        const [name, address, roles, ...rest] = fields;
        if (!NAME_RE.test(name)) fail(`${at} '${name}' is not a host name; use lower-case letters, digits and '-', at most 63, like cp1`);
        const host: InitHost = { name, address, roles: roles.split(",").filter((r) => r !== ""), line };
        for (const option of rest) {
            const m = /^(port|user)=(.+)$/.exec(option);
            if (!m) fail(`${at} '${option}' is not port=N or user=NAME; ${like}`);
            const [, key, value] = m as RegExpExecArray;
            if (key === "port") {
                if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) fail(`${at} port '${value}' is not a port from 1 to 65535`);
                host.port = Number(value);
            } else {
                host.user = value;
            }
        }
        const twice = hosts.find((h) => h.name === name);
        if (twice) fail(`${at} ${name} is also the name on line ${twice.line}; give every host its own name`);
        hosts.push(host);
    });
    if (hosts.length === 0) fail(`init: ${file} lists no hosts; ${like}`);
    return hosts;
}

/** The /24 that holds every host, when there is one: the default node network. */
export function defaultNodeNetwork(hosts: readonly InitHost[]): string | undefined {
    const first = parseIpv4(hosts[0]?.address ?? "");
    if (first === undefined) return undefined;
    const cidr = { base: (first & 0xffffff00) >>> 0, prefix: 24 };
    return hosts.every((h) => {
        const a = parseIpv4(h.address);
        return a !== undefined && cidrContains(cidr, a);
    })
        ? formatCidr(cidr)
        : undefined;
}

/** The download bases under a mirror laid out like upstream (`<mirror>/dl.k8s.io/release`, as the lab's server). */
export function mirrorDownloads(mirror: string): Downloads {
    const base = mirror.replace(/\/+$/, "");
    const out = {} as Downloads;
    for (const [key, url] of Object.entries(DEFAULTS.downloads) as [keyof Downloads, string][]) out[key] = `${base}/${url.replace(/^https?:\/\//, "")}`;
    return out;
}

/** The ed25519 key in ssh-keyscan's output (`HOST ssh-ed25519 AAAA...`), as `ssh-ed25519 AAAA...`. */
export function keyFromKeyscan(stdout: string): string | undefined {
    for (const line of stdout.split("\n")) {
        const f = line.trim().split(/\s+/);
        if (f[0]?.startsWith("#") || f.length < 3) continue;
        if (f[1] === "ssh-ed25519" && /^[A-Za-z0-9+/]+=*$/.test(f[2])) return `${f[1]} ${f[2]}`;
    }
    return undefined;
}

/** The key's fingerprint as `ssh-keygen -lf` prints it: SHA256 and the unpadded base64 of the key blob's sha256. */
export function fingerprint(key: string): string {
    const blob = Buffer.from(key.trim().split(/\s+/)[1] ?? "", "base64");
    return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

const SHA256_RE = /^[0-9a-fA-F]{64}$/;

/**
 * The sha256 a vendor's checksum file gives for `file`: a file of bare hex (dl.k8s.io's
 * `<file>.sha256`), or sha256sum lines (`HEX  NAME` or `HEX *NAME`) of which one names it.
 */
export function sumFor(text: string, file: string): string | undefined {
    const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    if (lines.length === 1 && SHA256_RE.test(lines[0])) return lines[0].toLowerCase();
    for (const l of lines) {
        const [hex, name] = l.split(/\s+/);
        if (hex && name && SHA256_RE.test(hex) && name.replace(/^\*/, "").replace(/^\.\//, "") === file) return hex.toLowerCase();
    }
    return undefined;
}

/** A release file the stack needs: its pin's key, its URL and the URL of the checksum file beside it. */
export interface NeededFile {
    pinKey: string;
    /** Relative to its download base, as upstream lays it out. */
    path: string;
    url: string;
    sumsUrl: string;
}

/** Every release file the versions need, with their URLs under the download bases (plan.ts's list). */
export function neededFiles(versions: Record<string, string>, downloads: Downloads | undefined, allowHttp: boolean): NeededFile[] {
    let plan;
    try {
        plan = planOf({ versions, downloads, allowHttpDownloads: allowHttp });
    } catch (e) {
        if (e instanceof ConfigError) return fail(...e.problems.map((p) => `init: ${withFlag(p)}`));
        throw e;
    }
    return plan.artifacts.map((a) => ({ pinKey: a.pinKey, path: a.path, url: `${plan.downloads[a.base]}/${a.path}`, sumsUrl: `${plan.downloads[a.base]}/${a.sums}` }));
}

/**
 * The pins from an operator's file: `artifact@version: sha256` lines (as `scripts/artifacts.sh
 * pins` prints them, quoted or not), or sha256sum lines whose name is the file's path as upstream
 * lays it out, or ends with it, or is its base name when that is not ambiguous.
 */
export function pinsFromFile(text: string, file: string, needed: readonly NeededFile[]): Record<string, string> {
    const byKey = new Map<string, string>();
    const sums: { hex: string; name: string }[] = [];
    for (const raw of text.split("\n")) {
        const l = raw.replace(/#.*/, "").trim();
        const pin = /^([a-z-]+@[0-9][0-9.]*):\s*"?([0-9a-fA-F]{64})"?$/.exec(l);
        if (pin) byKey.set(pin[1], pin[2].toLowerCase());
        const sum = /^([0-9a-fA-F]{64})\s+\*?(?:\.\/)?(\S+)$/.exec(l);
        if (sum) sums.push({ hex: sum[1].toLowerCase(), name: sum[2] });
    }
    const out: Record<string, string> = {};
    const missing: string[] = [];
    for (const f of needed) {
        const given = byKey.get(f.pinKey);
        if (given) {
            out[f.pinKey] = given;
            continue;
        }
        const byPath = sums.filter((s) => s.name === f.path || s.name.endsWith(`/${f.path}`));
        const base = f.path.slice(f.path.lastIndexOf("/") + 1);
        const byBase = sums.filter((s) => s.name.slice(s.name.lastIndexOf("/") + 1) === base);
        const found = byPath.length > 0 ? byPath : byBase;
        const distinct = [...new Set(found.map((s) => s.hex))];
        if (distinct.length > 1) fail(`init: ${file} has ${distinct.length} different sums for ${base}; name the file by its path (${f.path}) or write '${f.pinKey}: SHA256'`);
        if (distinct.length === 1) out[f.pinKey] = distinct[0];
        else missing.push(f.pinKey);
    }
    if (missing.length > 0) {
        fail(`init: ${file} has no sha256 for ${missing.join(", ")}; add a line 'ARTIFACT@VERSION: SHA256' for each (or sha256sum output of the files)`);
    }
    return out;
}

/** The flag that sets a config field, for a validation problem about it. */
const FLAGS: [string, string][] = [
    ["k8s-ha:vip", "--vip"],
    ["k8s-ha:nodeNetwork", "--node-network"],
    ["k8s-ha:mirror.upstream", "--mirror-upstream"],
    ["k8s-ha:sshUser", "--ssh-user"],
    ["k8s-ha:sshPort", "--ssh-port"],
    ["k8s-ha:downloads", "--download-mirror"],
    ["k8s-ha:versions", "--version"],
    ["k8s-ha:allowHttpDownloads", "--allow-http"],
];

/** A validation problem with the flag that sets its field, and the hosts file's line for a host's. */
function withFlag(problem: string, hosts: readonly InitHost[] = [], file = ""): string {
    const host = /^k8s-ha:hosts\.([a-z0-9-]+)[.:]/.exec(problem);
    const h = host ? hosts.find((x) => x.name === host[1]) : undefined;
    if (h) return `${file}:${h.line} (${h.name}): ${problem}`;
    const flag = FLAGS.find(([field]) => problem.startsWith(`${field}:`) || problem.startsWith(`${field}.`));
    return flag ? `${problem} (${flag[1]})` : problem;
}

/** What init puts in the stack file, before the host keys and pins are known. */
export interface StackDraft {
    nodeNetwork: string;
    vip: string;
    sshUser?: string;
    sshPort?: number;
    hosts: InitHost[];
    versions: Record<string, string>;
    downloads?: Downloads;
    allowHttp: boolean;
    mirrorUpstream?: string;
}

/** The `k8s-ha:` keys of the draft (without the prefix), with the host keys and pins when known. */
export function stackValues(d: StackDraft, hostKeys: Record<string, string> = {}, checksums?: Record<string, string>): Record<string, unknown> {
    const hosts: Record<string, Record<string, unknown>> = {};
    for (const h of d.hosts) {
        hosts[h.name] = {
            address: h.address,
            roles: h.roles,
            ...(h.port !== undefined ? { port: h.port } : {}),
            ...(h.user !== undefined ? { user: h.user } : {}),
            ...(hostKeys[h.name] !== undefined ? { hostKey: hostKeys[h.name] } : {}),
        };
    }
    return {
        nodeNetwork: d.nodeNetwork,
        vip: d.vip,
        ...(d.sshUser !== undefined ? { sshUser: d.sshUser } : {}),
        ...(d.sshPort !== undefined ? { sshPort: d.sshPort } : {}),
        hosts,
        ...(Object.keys(d.versions).length > 0 ? { versions: d.versions } : {}),
        ...(d.downloads ? { downloads: d.downloads } : {}),
        ...(d.allowHttp ? { allowHttpDownloads: true } : {}),
        ...(d.mirrorUpstream !== undefined ? { mirror: { upstream: d.mirrorUpstream } } : {}),
        ...(checksums ? { checksums } : {}),
    };
}

/** A YAML scalar: plain when YAML reads it back as the same string, else JSON's double quotes (valid YAML). */
function scalar(v: unknown): string {
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    const s = String(v);
    return /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/.test(s) && parse(s) === s ? s : JSON.stringify(s);
}

/**
 * What init keeps of an existing stack file: what `pulumi stack init` and `pulumi config set --secret`
 * put there (the secrets provider's `encryptionsalt` or `secretsprovider` and `encryptedkey`; the SSH
 * key, encrypted), so that the stack's secrets stay readable. A file that sets any other config is
 * replaced only with `--force`.
 */
export interface KeptEntries {
    /** Top-level keys other than `config`, as they were. */
    top?: Record<string, unknown>;
    /** Config entries kept as they were (`k8s-ha:sshPrivateKey`). */
    config?: Record<string, unknown>;
}

const KEPT_CONFIG = "k8s-ha:sshPrivateKey";

/** The entries of an existing stack file that init keeps; refuses one with other config unless `force`. */
export function existingStackFile(target: string, force: boolean): KeptEntries {
    if (!fs.existsSync(target)) return {};
    let doc: unknown;
    try {
        doc = parse(fs.readFileSync(target, "utf8"));
    } catch (e) {
        return fail(`init: ${target} is not YAML (${e instanceof Error ? e.message.split("\n")[0] : String(e)}); fix or remove it`);
    }
    const top: Record<string, unknown> = typeof doc === "object" && doc !== null && !Array.isArray(doc) ? { ...(doc as Record<string, unknown>) } : {};
    const config = typeof top.config === "object" && top.config !== null ? (top.config as Record<string, unknown>) : {};
    delete top.config;
    const others = Object.keys(config).filter((k) => k !== KEPT_CONFIG);
    if (others.length > 0 && !force) {
        fail(`init: ${target} exists and sets ${others.length} config key${others.length === 1 ? "" : "s"} (${others.slice(0, 3).join(", ")}${others.length > 3 ? ", ..." : ""}); nothing written. Give --force to replace its config (its secrets provider and SSH key are kept), or pick another --stack`);
    }
    return { top, config: KEPT_CONFIG in config ? { [KEPT_CONFIG]: config[KEPT_CONFIG] } : {} };
}

/** Pulumi.<stack>.yaml for these values: a host a line, like Pulumi.dev.yaml, `kept` as it was, and `header` as comments. */
export function renderStackFile(values: Record<string, unknown>, kept: KeptEntries, header: readonly string[]): string {
    const out = header.map((l) => `# ${l}`.trimEnd());
    for (const [key, value] of Object.entries(kept.top ?? {})) out.push(stringify({ [key]: value }).trimEnd());
    out.push("config:");
    for (const [key, value] of Object.entries(values)) {
        if (key === "hosts") {
            out.push("  k8s-ha:hosts:");
            for (const [name, h] of Object.entries(value as Record<string, Record<string, unknown>>)) {
                const fields = Object.entries(h).map(([k, v]) => `${k}: ${Array.isArray(v) ? `[${v.map(scalar).join(", ")}]` : scalar(v)}`);
                out.push(`    ${name}: {${fields.join(", ")}}`);
            }
        } else if (typeof value === "object" && value !== null) {
            out.push(`  k8s-ha:${key}:`);
            for (const [k, v] of Object.entries(value)) out.push(`    ${k}: ${key === "checksums" ? JSON.stringify(v) : scalar(v)}`);
        } else {
            out.push(`  k8s-ha:${key}: ${scalar(value)}`);
        }
    }
    for (const [key, value] of Object.entries(kept.config ?? {})) out.push(stringify({ [key]: value }).trimEnd().replace(/^/gm, "  "));
    return `${out.join("\n")}\n`;
}

/**
 * The program's own validation of a stack file's text, as `pulumi preview` would run it with the
 * SSH key set: its problems, none when the config passes.
 */
export function validateStackText(text: string, stack: string, extra: Partial<RawConfig> = {}): string[] {
    // The SSH key is the stack's secret, which validation sees only as present.
    const keys = Object.fromEntries(Object.entries(stackKeys(text)).filter(([k]) => k !== "sshPrivateKey"));
    const raw: RawConfig = { ...keys, ...extra, sshPrivateKeyPresent: true, stackName: stack, stackKeys: Object.keys({ ...keys, ...extra }) };
    try {
        validateConfig(raw);
        return [];
    } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
    }
}

/** What ssh-keyscan found at a host, or why it found nothing. */
export type ScanResult = { key: string } | { problem: string };

/** The I/O of init; tests replace parts of it. */
export interface InitIo {
    /** Where Pulumi.yaml is: the stack file goes beside it. */
    root: string;
    /** Where relative paths of the command line start (npm's INIT_CWD). */
    from: string;
    scan(address: string, port: number, timeoutSeconds: number): Promise<ScanResult>;
    fetchText(url: string): Promise<string>;
    /** Asks a question on the terminal; undefined when there is none (not a TTY). */
    ask?(question: string): Promise<string>;
    out(line: string): void;
    now(): Date;
}

/** What a TCP connection to the SSH port shows when ssh-keyscan got no ed25519 key. */
export function probeSsh(address: string, port: number, timeoutSeconds: number): Promise<string> {
    const where = `${address}:${port}`;
    return new Promise((resolve) => {
        let banner = "";
        const socket = net.connect({ host: address, port });
        const done = (why: string) => {
            socket.destroy();
            clearTimeout(timer);
            resolve(why);
        };
        const timer = setTimeout(
            () =>
                done(
                    banner === "" && !socket.connecting
                        ? `something listens on ${where} but sends no SSH greeting; give the host's SSH port with port=N in the hosts file (or --ssh-port)`
                        : `no answer from ${where} within ${timeoutSeconds} s; check the address, that the host is up and that this machine reaches it (a firewall?)`,
                ),
            timeoutSeconds * 1000,
        );
        socket.on("data", (d: Buffer) => {
            banner += d.toString("latin1");
            if (banner.includes("\n")) {
                done(
                    banner.startsWith("SSH-")
                        ? `sshd on ${where} (${banner.split("\n")[0].trim()}) offers no ed25519 host key; make one there (ssh-keygen -A, then restart sshd) or enable its ed25519 HostKey line in sshd_config`
                        : `something on ${where} answers, but not SSH; give the host's SSH port with port=N in the hosts file (or --ssh-port)`,
                );
            }
        });
        socket.on("error", (e: NodeJS.ErrnoException) =>
            done(
                e.code === "ECONNREFUSED"
                    ? `nothing listens on ${where} (connection refused): is sshd installed and running there, and is ${port} its port (port=N in the hosts file, or --ssh-port)?`
                    : `cannot reach ${where} (${e.code ?? e.message}); check the address and that this machine reaches it`,
            ),
        );
    });
}

/** ssh-keyscan of one host's ed25519 key; when it finds none, a TCP probe says why. */
export function scanHost(address: string, port: number, timeoutSeconds: number): Promise<ScanResult> {
    return new Promise((resolve) => {
        execFile("ssh-keyscan", ["-T", String(timeoutSeconds), "-t", "ed25519", "-p", String(port), address], { timeout: (timeoutSeconds + 5) * 1000 }, (error, stdout) => {
            if (error && (error as NodeJS.ErrnoException).code === "ENOENT") {
                resolve({ problem: "ssh-keyscan is not on PATH; install it (Debian: apt-get install openssh-client)" });
                return;
            }
            const key = keyFromKeyscan(String(stdout));
            if (key) resolve({ key });
            else void probeSsh(address, port, timeoutSeconds).then((problem) => resolve({ problem: `ssh-keyscan got no ed25519 key: ${problem}` }));
        });
    });
}

export async function fetchText(url: string): Promise<string> {
    const response = await fetch(url, { signal: AbortSignal.timeout(30_000), redirect: "follow" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.text();
}

/** A value from the command line, else asked for on the terminal, else an error that names the flag. */
async function need(io: InitIo, value: string | undefined, question: string, missing: string): Promise<string> {
    if (value !== undefined) return value;
    const answer = io.ask ? (await io.ask(`${question}: `)).trim() : "";
    if (answer === "") fail(`init: ${missing}`);
    return answer;
}

/** Runs init: returns the path of the stack file written. Throws InitError on bad input. */
export async function runInit(o: InitOptions, io: InitIo): Promise<string> {
    const stack = await need(io, o.stack, "Stack name (e.g. prod)", "no stack: give --stack NAME (the stack whose Pulumi.NAME.yaml is written)");
    if (!/^[A-Za-z0-9_.-]+$/.test(stack)) fail(`init: '${stack}' is not a stack name; use letters, digits, '-', '_' and '.'`);
    const target = path.join(io.root, `Pulumi.${stack}.yaml`);
    const kept = existingStackFile(target, o.force);

    const hostsFile = path.resolve(io.from, await need(io, o.hostsFile, "Hosts file (NAME ADDRESS ROLES a line)", "no hosts: give --hosts FILE, one host a line: NAME ADDRESS ROLE[,ROLE...]"));
    let hostsText: string;
    try {
        hostsText = fs.readFileSync(hostsFile, "utf8");
    } catch (e) {
        return fail(`init: cannot read the hosts file ${hostsFile} (${(e as NodeJS.ErrnoException).code ?? String(e)}); give --hosts FILE`);
    }
    const shown = path.relative(io.from, hostsFile) || hostsFile;
    const hosts = parseHostsFile(hostsText, shown);

    let nodeNetwork = o.nodeNetwork;
    if (nodeNetwork === undefined) {
        const guess = defaultNodeNetwork(hosts);
        if (guess) {
            nodeNetwork = guess;
            io.out(`init: node network ${guess}, the /24 that holds every host (--node-network to choose another)`);
        } else {
            nodeNetwork = await need(io, undefined, "Node network (CIDR holding every host)", "the hosts are not in one /24: give --node-network CIDR, the network that holds every host and the VIP");
        }
    }
    const vip = await need(io, o.vip, `VIP (a free address in ${nodeNetwork})`, `no VIP: give --vip ADDRESS, a free address in ${nodeNetwork} that no host has (the API's virtual IP)`);
    const mirrorUpstream = await need(
        io,
        o.mirrorUpstream,
        "Registry the image mirror pulls through (URL)",
        "no image mirror upstream: give --mirror-upstream URL, the registry the mirror host pulls images through (README, Requirements)",
    );
    const draft: StackDraft = {
        nodeNetwork,
        vip,
        sshUser: o.sshUser,
        sshPort: o.sshPort,
        hosts,
        versions: o.versions,
        downloads: o.downloadMirror !== undefined ? mirrorDownloads(o.downloadMirror) : undefined,
        allowHttp: o.allowHttp,
        mirrorUpstream,
    };

    // The program's validation on all but the host keys and pins, before any host or URL is asked.
    const early = validateStackText(renderStackFile(stackValues(draft), {}, []), stack, { allowUnpinnedHostKeys: true }).filter(
        (p) => !/^k8s-ha:checksums\.[^:]*: is missing/.test(p),
    );
    if (early.length > 0) fail(...early.map((p) => `init: ${withFlag(p, hosts, shown)}`));

    let keyFile: string | undefined;
    if (o.sshKey !== undefined) {
        keyFile = path.resolve(io.from, o.sshKey);
        let head = "";
        try {
            head = fs.readFileSync(keyFile, "utf8").slice(0, 200);
        } catch (e) {
            fail(`init: cannot read the SSH key ${keyFile} (${(e as NodeJS.ErrnoException).code ?? String(e)}); give --ssh-key FILE, the private key that logs in to every host`);
        }
        if (!/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(head)) fail(`init: ${keyFile} is not a private key (no -----BEGIN ... PRIVATE KEY----- line); give --ssh-key the private key, not the .pub`);
    }

    // The host keys and the pins, all asked at once; every failure is reported.
    const needed = neededFiles(o.versions, draft.downloads, o.allowHttp);
    const sshPort = o.sshPort ?? DEFAULTS.sshPort;
    const scans = Promise.all(hosts.map(async (h) => ({ h, port: h.port ?? sshPort, result: await io.scan(h.address, h.port ?? sshPort, o.timeoutSeconds) })));
    let pinsFrom: string;
    let pins: Promise<{ checksums: Record<string, string>; problems: string[] }>;
    if (o.checksumsFrom !== undefined) {
        const file = path.resolve(io.from, o.checksumsFrom);
        let text = "";
        try {
            text = fs.readFileSync(file, "utf8");
        } catch (e) {
            fail(`init: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)}); give --checksums-from FILE`);
        }
        pinsFrom = `the file ${path.basename(file)}`;
        pins = Promise.resolve({ checksums: pinsFromFile(text, path.relative(io.from, file) || file, needed), problems: [] });
    } else {
        pinsFrom = draft.downloads ? `the checksum files under ${o.downloadMirror}` : "the checksum files the vendors publish beside the release files";
        pins = (async () => {
            const texts = new Map<string, Promise<string>>();
            const checksums: Record<string, string> = {};
            const problems: string[] = [];
            for (const f of needed) {
                if (!texts.has(f.sumsUrl)) texts.set(f.sumsUrl, io.fetchText(f.sumsUrl));
                try {
                    const sum = sumFor(await (texts.get(f.sumsUrl) as Promise<string>), f.path.slice(f.path.lastIndexOf("/") + 1));
                    if (sum) checksums[f.pinKey] = sum;
                    else problems.push(`init: ${f.sumsUrl} names no sha256 for ${f.path.slice(f.path.lastIndexOf("/") + 1)} (${f.pinKey}); check the versions, or pin from a file: --checksums-from FILE`);
                } catch (e) {
                    problems.push(
                        `init: cannot read ${f.sumsUrl} (${e instanceof Error ? e.message : String(e)}) for ${f.pinKey}; check --download-mirror and --version, or pin from a file: --checksums-from FILE`,
                    );
                }
            }
            return { checksums, problems: [...new Set(problems)] };
        })();
    }
    const [scanned, pinned] = await Promise.all([scans, pins]);
    const problems = [
        ...scanned.flatMap(({ h, result }) => ("problem" in result ? [`init: ${shown}:${h.line} (${h.name}, ${h.address}): ${result.problem}`] : [])),
        ...pinned.problems,
    ];
    if (problems.length > 0) fail(...problems);

    if (o.checksumsFrom === undefined && draft.downloads) {
        io.out(
            `init: the pins come from ${o.downloadMirror}, not from the vendors' sites: a mirror that serves a changed file can serve its sum too. Compare them with the vendors' checksum files, or pin from a file you verified (--checksums-from)`,
        );
    }
    const hostKeys: Record<string, string> = {};
    io.out(`init: the hosts' ed25519 keys, as ssh-keyscan read them:`);
    const width = Math.max(...hosts.map((h) => h.name.length));
    for (const { h, port, result } of scanned) {
        if ("key" in result) hostKeys[h.name] = result.key;
        io.out(`  ${h.name.padEnd(width)}  ${`${h.address}:${port}`.padEnd(21)}  256 ${fingerprint(hostKeys[h.name])} (ED25519)`);
    }
    io.out(`init: check each against the host itself, out of band (its console): ${HOST_KEY_CHECK}`);
    if (!o.yes) {
        const answer = io.ask ? (await io.ask("Type yes when every fingerprint above matches its host's: ")).trim().toLowerCase() : "";
        if (answer !== "yes") {
            fail(
                io.ask
                    ? "init: the fingerprints were not confirmed; nothing written"
                    : `init: the fingerprints above are not confirmed; check each on its host (${HOST_KEY_CHECK}), then run again with --yes`,
            );
        }
    }

    const when = io.now().toISOString().replace(/\.\d+Z$/, "Z");
    const text = renderStackFile(stackValues(draft, hostKeys, pinned.checksums), kept, [
        `Written by npm run init at ${when} from ${path.basename(hostsFile)}; edit it as any stack file.`,
        `The hosts' keys were confirmed by their fingerprints ${o.yes ? "(--yes)" : "at the prompt"}; the release-file pins come from ${pinsFrom}.`,
        "The SSH private key is not here: it is a secret of the stack (pulumi config set --secret k8s-ha:sshPrivateKey).",
    ]);
    const finalProblems = validateStackText(text, stack);
    if (finalProblems.length > 0) fail(...finalProblems.map((p) => `init: ${withFlag(p, hosts, shown)}`));

    // Beside the target, so that the move into place is a rename; an old file is replaced only now.
    const tmp = `${target}.init-${process.pid}`;
    fs.writeFileSync(tmp, text, { mode: 0o644 });
    fs.renameSync(tmp, target);
    const rel = path.relative(io.from, target).startsWith("..") ? target : path.relative(io.from, target);
    io.out(`init: wrote ${rel} (${hosts.length} hosts, ${Object.keys(pinned.checksums).length} pins); the program's validation passes on it`);
    io.out("init: next, with the backend that keeps the stack's state (pulumi login ...; README, On your own hosts):");
    io.out(`  pulumi stack init ${stack}              # when the stack does not exist yet`);
    io.out(`  pulumi config set --secret --stack ${stack} k8s-ha:sshPrivateKey < ${keyFile ?? "PATH/TO/PRIVATE/KEY"}`);
    io.out(`  npm run preview -- --stack ${stack}`);
    return target;
}

/** The real I/O: ssh-keyscan, fetch, the terminal. */
export function defaultIo(root: string): InitIo {
    const tty = process.stdin.isTTY === true;
    return {
        root,
        from: process.env.INIT_CWD ?? process.cwd(),
        scan: scanHost,
        fetchText,
        ask: tty
            ? async (question) => {
                  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
                  try {
                      return await rl.question(question);
                  } finally {
                      rl.close();
                  }
              }
            : undefined,
        out: (line) => process.stdout.write(`${line}\n`),
        now: () => new Date(),
    };
}

if (require.main === module) {
    const root = path.resolve(__dirname, "..", "..");
    (async () => {
        const options = parseArgs(process.argv.slice(2));
        if (options === "help") {
            process.stdout.write(`${USAGE}\n`);
            return;
        }
        await runInit(options, defaultIo(root));
    })().catch((e: unknown) => {
        process.stderr.write(`${e instanceof InitError ? e.message : `init: ${e instanceof Error ? e.stack ?? e.message : String(e)}`}\n`);
        process.exitCode = 1;
    });
}
