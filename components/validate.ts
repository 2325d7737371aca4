import {
    ADDON_IMAGE_KEYS,
    AddonImageKey,
    CertificateLifetime,
    CertificateSettings,
    ClusterConfig,
    DEFAULTS,
    Downloads,
    EtcdSettings,
    LoadBalancerSettings,
    KubeletSettings,
    EtcdBackupSettings,
    FirewallAllow,
    FirewallConfig,
    HostConfig,
    ImageDigests,
    MirrorConfig,
    NFS_FORBIDDEN_ROOTS,
    NFS_FORBIDDEN_TREES,
    NFS_MOUNT_OPTIONS,
    NfsConfig,
    NfsStorageConfig,
    RawConfig,
    Role,
    ROLES,
    Versions,
    SecretsEncryptionSettings,
    SecretsEncryptionState,
} from "./config";
import { CA_VALIDITY_DAYS, certificateNames, DEFAULT_LIFETIME } from "./certificates";
import { DIGEST_RE, FIREWALL_COMMENT_RE } from "./render";
import { allArtifacts, ARTIFACT_NAMES, ArtifactName, artifactVersion, artifactVersionKey, pinKey } from "./urls";
import { unsupportedVersions, upgradeProblems } from "./versions";
import { Cidr, cidrContains, cidrsOverlap, formatCidr, lastAddress, nthAddress, parseCidr, parseIpv4 } from "./net";

/** Every problem found in a stack config, each naming the field and the fix. */
export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(
            `k8s-ha: the stack config has ${problems.length} problem${problems.length === 1 ? "" : "s"}; ` +
                `no host was touched. Fix them with 'pulumi config set' or in Pulumi.<stack>.yaml:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const VERSION_RE = /^\d+\.\d+\.\d+$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
const URL_RE = /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;
const REGISTRY_RE = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?$/;
const HOSTKEY_RE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+$/;
/** A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters. */
const LABEL_KEY_RE = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/;
/** user:password@ in a URL: credentials that would end up in state, logs and host files. */
const URL_CREDENTIALS_RE = /^https?:\/\/[^/?#]*@/;

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Collects problems instead of throwing, so that one run reports all of them.
 * Each reader returns a usable value (the default) even when the input is wrong.
 */
class Checker {
    readonly problems: string[] = [];

    problem(field: string, message: string): void {
        this.problems.push(`${field}: ${message}`);
    }

    string(field: string, value: unknown, fallback?: string): string {
        if (value === undefined || value === null || value === "") {
            if (fallback !== undefined) return fallback;
            this.problem(field, "is missing; set it to a string");
            return "";
        }
        if (typeof value !== "string") {
            this.problem(field, `must be a string, got ${JSON.stringify(value)}`);
            return fallback ?? "";
        }
        return value.trim();
    }

    integer(field: string, value: unknown, fallback: number, min: number, max: number): number {
        if (value === undefined || value === null || value === "") return fallback;
        const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
        if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
            this.problem(field, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
            return fallback;
        }
        return n;
    }

    boolean(field: string, value: unknown, fallback: boolean): boolean {
        if (value === undefined || value === null || value === "") return fallback;
        // Pulumi config gives `true` from YAML, and "true" from `pulumi config set`.
        if (value === true || value === "true") return true;
        if (value === false || value === "false") return false;
        this.problem(field, `must be true or false, got ${JSON.stringify(value)}`);
        return fallback;
    }

    address(field: string, value: unknown): string {
        const text = this.string(field, value);
        if (text && parseIpv4(text) === undefined) {
            this.problem(field, `'${text}' is not an IPv4 address; write it as four numbers 0-255, like 10.0.0.5`);
        }
        return text;
    }

    cidr(field: string, value: unknown, fallback?: string): { text: string; cidr?: Cidr } {
        const text = this.string(field, value, fallback);
        if (!text) return { text };
        const cidr = parseCidr(text);
        if (!cidr) {
            this.problem(
                field,
                `'${text}' is not an IPv4 CIDR with zero host bits; write it like 10.244.0.0/16`,
            );
        }
        return { text, cidr };
    }

    stringList(field: string, value: unknown, fallback: readonly string[]): string[] {
        if (value === undefined || value === null) return [...fallback];
        if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
            this.problem(field, `must be a list of strings, got ${JSON.stringify(value)}`);
            return [...fallback];
        }
        return value.map((v: string) => v.trim());
    }

    /**
     * Kubernetes labels (or a node selector): keys `[prefix/]name`, values of at most 63 characters.
     * Keys under kubernetes.io or k8s.io are refused: a kubelet may not set most of them.
     */
    labels(field: string, value: unknown): Record<string, string> {
        const r = this.record(field, value);
        const out: Record<string, string> = {};
        for (const key of Object.keys(r).sort()) {
            const v = r[key];
            const text = typeof v === "boolean" || typeof v === "number" ? String(v) : v;
            if (!LABEL_KEY_RE.test(key) || key.length > 317) {
                this.problem(`${field}.${key}`, "is not a label key; write it like example.com/disk or disk (letters, digits, '-', '_', '.'; at most 63 after the '/')");
            } else if (/(^|\.)(kubernetes\.io|k8s\.io)\//.test(key)) {
                this.problem(`${field}.${key}`, "is in the kubernetes.io or k8s.io namespace, which kubelets may not set for themselves; use a prefix of your own, like k8s-ha.io/ or example.com/");
            } else if (typeof text !== "string" || !LABEL_VALUE_RE.test(text)) {
                this.problem(`${field}.${key}`, `${JSON.stringify(v)} is not a label value; use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`);
            } else {
                out[key] = text;
            }
        }
        return out;
    }

    /** A non-empty list of IPv4 addresses and CIDRs (who may connect to something). */
    sources(field: string, value: unknown): string[] {
        const list = this.stringList(field, value, []);
        if (Array.isArray(value) && list.length === 0) this.problem(field, "is empty; give at least one IPv4 address or CIDR");
        for (const s of list) {
            if (parseIpv4(s) === undefined && parseCidr(s) === undefined) {
                this.problem(field, `'${s}' is neither an IPv4 address nor a CIDR with zero host bits; write it like 10.0.0.5 or 10.0.0.0/24`);
            }
        }
        return list;
    }

    record(field: string, value: unknown): Record<string, unknown> {
        if (value === undefined || value === null) return {};
        if (!isRecord(value)) {
            this.problem(field, `must be an object, got ${JSON.stringify(value)}`);
            return {};
        }
        return value;
    }

    /** An http(s) URL; plain http only when `allowHttp` (the stack's allowHttpDownloads). */
    url(field: string, value: unknown, fallback: string, allowHttp = false): string {
        const text = this.string(field, value, fallback).replace(/\/+$/, "");
        if (URL_CREDENTIALS_RE.test(text)) {
            // Never echo the URL: it holds a password.
            this.problem(field, "has a user or password in it, which would be stored in plain text in the state, the logs and the hosts' files; give a URL without credentials");
        } else if (!URL_RE.test(text)) {
            this.problem(field, `'${text}' is not an http(s) URL; write it like https://mirror.example.com/path`);
        } else if (text.startsWith("http://") && !allowHttp) {
            this.problem(
                field,
                `'${text}' is plain http, which lets anyone on the path change what the hosts install; use https, or set k8s-ha:allowHttpDownloads: true for a mirror on a network you trust`,
            );
        }
        return text;
    }
}

function readHosts(c: Checker, raw: RawConfig, allowUnpinned: boolean): HostConfig[] {
    if (!isRecord(raw.hosts) || Object.keys(raw.hosts).length === 0) {
        c.problem(
            "k8s-ha:hosts",
            "is missing or empty; give an object of hosts keyed by name, each with address and roles",
        );
        return [];
    }
    const defaultUser = c.string("k8s-ha:sshUser", raw.sshUser, DEFAULTS.sshUser);
    const defaultPort = c.integer("k8s-ha:sshPort", raw.sshPort, DEFAULTS.sshPort, 1, 65535);
    const hosts: HostConfig[] = [];
    for (const name of Object.keys(raw.hosts).sort()) {
        const field = `k8s-ha:hosts.${name}`;
        if (!NAME_RE.test(name)) {
            c.problem(field, "the host name must be lower-case letters, digits and '-', at most 63, like cp1");
        }
        const h = c.record(field, raw.hosts[name]);
        const address = c.address(`${field}.address`, h.address);
        const user = c.string(`${field}.user`, h.user, defaultUser);
        const port = c.integer(`${field}.port`, h.port, defaultPort, 1, 65535);
        const roles: Role[] = [];
        if (!Array.isArray(h.roles) || h.roles.length === 0) {
            c.problem(`${field}.roles`, `is missing; give a list from: ${ROLES.join(", ")}`);
        } else {
            for (const role of h.roles) {
                if (typeof role === "string" && (ROLES as readonly string[]).includes(role)) {
                    if (!roles.includes(role as Role)) roles.push(role as Role);
                } else {
                    c.problem(`${field}.roles`, `unknown role ${JSON.stringify(role)}; use one of: ${ROLES.join(", ")}`);
                }
            }
        }
        let hostKey: string | undefined;
        const keyscan = `ssh-keyscan -t ed25519 ${typeof h.address === "string" ? h.address : "ADDRESS"}`;
        if (h.hostKey !== undefined && h.hostKey !== "") {
            hostKey = c.string(`${field}.hostKey`, h.hostKey);
            if (hostKey && !HOSTKEY_RE.test(hostKey)) {
                c.problem(
                    `${field}.hostKey`,
                    "is not an SSH public host key; give one line like 'ssh-ed25519 AAAA...' (from ssh-keyscan)",
                );
            } else if (hostKey?.startsWith("ssh-rsa ")) {
                c.problem(
                    `${field}.hostKey`,
                    `is an ssh-rsa key, which the SSH client would have to verify with SHA-1 signatures that OpenSSH 8.8 and later refuse; pin the host's ed25519 key instead: ${keyscan}`,
                );
            }
        } else if (!allowUnpinned) {
            c.problem(
                `${field}.hostKey`,
                `is missing: without it any machine answering on the address gets the cluster's keys; pin it with the 'ssh-ed25519 AAAA...' part of: ${keyscan} (checked out of band), or set k8s-ha:allowUnpinnedHostKeys: true for a throwaway lab`,
            );
        }
        const host: HostConfig = { name, address, user, port, roles };
        if (hostKey) host.hostKey = hostKey;
        if (h.podCidr !== undefined) {
            if (!roles.includes("worker")) {
                c.problem(`${field}.podCidr`, "is set on a host without the worker role; remove it");
            }
            host.podCidr = c.cidr(`${field}.podCidr`, h.podCidr).text;
        }
        if (h.vrrpPriority !== undefined) {
            if (!roles.includes("lb")) {
                c.problem(`${field}.vrrpPriority`, "is set on a host without the lb role; remove it");
            }
            host.vrrpPriority = c.integer(`${field}.vrrpPriority`, h.vrrpPriority, 100, 1, 254);
        }
        if (h.labels !== undefined) {
            if (!roles.includes("worker")) {
                c.problem(`${field}.labels`, "is set on a host without the worker role (only workers run a kubelet); remove it");
            }
            const labels = c.labels(`${field}.labels`, h.labels);
            if (Object.keys(labels).length > 0) host.labels = labels;
        }
        hosts.push(host);
    }
    return hosts;
}

/**
 * The versions, each checked for its form and against the supported-versions table (versions.ts).
 * `usable` holds the keys that passed both: only their files need pins.
 */
function readVersions(c: Checker, raw: unknown, running?: Partial<Versions>): { versions: Versions; usable: Set<keyof Versions> } {
    const r = c.record("k8s-ha:versions", raw);
    const known = Object.keys(DEFAULTS.versions);
    for (const key of Object.keys(r)) {
        if (!known.includes(key)) c.problem(`k8s-ha:versions.${key}`, `is not a known version; use one of: ${known.join(", ")}`);
    }
    const usable = new Set<keyof Versions>();
    const read = (key: keyof Versions): string => {
        const text = c.string(`k8s-ha:versions.${key}`, r[key], DEFAULTS.versions[key]).replace(/^v/, "");
        if (!VERSION_RE.test(text)) {
            c.problem(`k8s-ha:versions.${key}`, `'${text}' is not a version; write MAJOR.MINOR.PATCH, like ${DEFAULTS.versions[key]}`);
        } else {
            usable.add(key);
        }
        return text;
    };
    const versions: Versions = {
        kubernetes: read("kubernetes"),
        etcd: read("etcd"),
        containerd: read("containerd"),
        runc: read("runc"),
        cni: read("cni"),
        coredns: read("coredns"),
        pause: read("pause"),
    };
    for (const [key, message] of unsupportedVersions(versions, usable)) {
        c.problem(`k8s-ha:versions.${key}`, message);
        usable.delete(key);
    }
    for (const [key, message] of upgradeProblems(running, versions, usable)) {
        c.problem(`k8s-ha:versions.${key}`, message);
        usable.delete(key);
    }
    return { versions, usable };
}

/**
 * The pinned sha256 of every release file (`k8s-ha:checksums`, keyed `<artifact>@<version>`): each
 * file the stack's versions need must have one (the hosts take no checksum from the download's
 * origin); pins for other versions of the same files may stay (pinned ahead of an upgrade). Files of
 * versions that are malformed or unsupported need none yet: they are reported under k8s-ha:versions.
 */
function readChecksums(c: Checker, raw: unknown, downloads: Downloads, versions: Versions, usable: Set<keyof Versions>): Record<string, string> {
    const r = c.record("k8s-ha:checksums", raw);
    const needed = allArtifacts(downloads, versions).filter((a) => usable.has(artifactVersionKey(a.name)));
    const out: Record<string, string> = {};
    for (const key of Object.keys(r).sort()) {
        const field = `k8s-ha:checksums.${key}`;
        const at = key.lastIndexOf("@");
        const name = key.slice(0, Math.max(at, 0));
        const version = key.slice(at + 1);
        const value = r[key];
        if (at < 0 || !(ARTIFACT_NAMES as readonly string[]).includes(name)) {
            c.problem(
                field,
                `is not a file k8s-ha downloads; a pin's key is ARTIFACT@VERSION with ARTIFACT one of: ${ARTIFACT_NAMES.join(", ")}` +
                    (needed.length > 0 ? `; this stack needs: ${needed.map((a) => a.pinKey).join(", ")}` : ""),
            );
        } else if (!VERSION_RE.test(version)) {
            const like = pinKey(name as ArtifactName, artifactVersion(name as ArtifactName, versions));
            c.problem(field, `'${version}' after the @ is not a version; write MAJOR.MINOR.PATCH without a v, like ${like}`);
        } else if (typeof value !== "string" || !SHA256_RE.test(value)) {
            c.problem(field, `${JSON.stringify(value)} is not a sha256; write the file's sha256 as 64 lower-case hex digits (the first field of sha256sum's output), in quotes`);
        } else {
            out[key] = value;
        }
    }
    for (const a of needed) {
        if (r[a.pinKey] !== undefined) continue;
        c.problem(
            `k8s-ha:checksums.${a.pinKey}`,
            `is missing: the hosts install ${a.url} only when its sha256 is pinned here. Take the sum from ${a.vendorSums}, the checksum file the vendor publishes beside it ` +
                `(fetched from the vendor's own release site, with its signature checked where the vendor signs it), or run sha256sum on a copy you verified; ` +
                `then: pulumi config set --path 'k8s-ha:checksums["${a.pinKey}"]' SHA256`,
        );
    }
    return out;
}

function readDownloads(c: Checker, raw: unknown, allowHttp: boolean): Downloads {
    const r = c.record("k8s-ha:downloads", raw);
    const known = Object.keys(DEFAULTS.downloads);
    for (const key of Object.keys(r)) {
        if (!known.includes(key)) c.problem(`k8s-ha:downloads.${key}`, `is not a known download; use one of: ${known.join(", ")}`);
    }
    const read = (key: keyof Downloads): string => c.url(`k8s-ha:downloads.${key}`, r[key], DEFAULTS.downloads[key], allowHttp);
    return {
        kubernetes: read("kubernetes"),
        etcd: read("etcd"),
        containerd: read("containerd"),
        runc: read("runc"),
        cni: read("cni"),
    };
}

/**
 * The versions and downloads of a stack as validation reads them (defaults filled in), for the
 * tools that build and check the release files (scripts/artifacts.sh through components/plan.ts),
 * without the rest of the config, which they do not need. Throws a ConfigError naming every problem.
 */
export function readReleaseSettings(raw: Pick<RawConfig, "versions" | "downloads" | "allowHttpDownloads">): { versions: Versions; downloads: Downloads } {
    const c = new Checker();
    const allowHttp = c.boolean("k8s-ha:allowHttpDownloads", raw.allowHttpDownloads, false);
    const { versions } = readVersions(c, raw.versions);
    const downloads = readDownloads(c, raw.downloads, allowHttp);
    if (c.problems.length > 0) throw new ConfigError(c.problems);
    return { versions, downloads };
}

const MIRROR_KEYS = ["port", "mode", "upstream", "registries", "pushPort", "pushFrom"];

function readMirror(c: Checker, raw: unknown, allowHttp: boolean, nodeNetwork: string): MirrorConfig {
    const r = c.record("k8s-ha:mirror", raw);
    for (const key of Object.keys(r)) {
        if (!MIRROR_KEYS.includes(key)) c.problem(`k8s-ha:mirror.${key}`, `is not a mirror setting; use one of: ${MIRROR_KEYS.join(", ")}`);
    }
    const port = c.integer("k8s-ha:mirror.port", r.port, DEFAULTS.mirror.port, 1, 65535);
    const pushPort = c.integer("k8s-ha:mirror.pushPort", r.pushPort, port < 65535 ? port + 1 : port - 1, 1, 65535);
    if (pushPort === port) c.problem("k8s-ha:mirror.pushPort", `is the same as mirror.port ${port}; pushes need a port of their own, like ${port + 1}`);
    const pushFrom = r.pushFrom === undefined ? (nodeNetwork ? [nodeNetwork] : []) : c.sources("k8s-ha:mirror.pushFrom", r.pushFrom);
    const mode = c.string("k8s-ha:mirror.mode", r.mode, DEFAULTS.mirror.mode);
    if (mode !== "proxy" && mode !== "preloaded") {
        c.problem("k8s-ha:mirror.mode", `'${mode}' is not a mode; use 'proxy' (pull-through cache) or 'preloaded'`);
    }
    const mirror: MirrorConfig = {
        port,
        mode: mode === "preloaded" ? "preloaded" : "proxy",
        registries: c.stringList("k8s-ha:mirror.registries", r.registries, DEFAULTS.mirror.registries),
        pushPort,
        pushFrom,
    };
    if (mode === "proxy") {
        for (const key of ["pushPort", "pushFrom"]) {
            if (r[key] !== undefined) c.problem(`k8s-ha:mirror.${key}`, "is for a preloaded mirror; a pull-through cache takes no pushes. Leave it out, or set mirror.mode: preloaded");
        }
    }
    for (const registry of mirror.registries) {
        if (!REGISTRY_RE.test(registry)) {
            c.problem("k8s-ha:mirror.registries", `'${registry}' is not a registry host name; write it like registry.k8s.io`);
        }
    }
    if (mirror.mode === "proxy") {
        if (r.upstream === undefined) {
            c.problem("k8s-ha:mirror.upstream", "is missing; proxy mode needs the registry to pull from, like https://registry.example.com");
        } else {
            mirror.upstream = c.url("k8s-ha:mirror.upstream", r.upstream, "", allowHttp);
        }
    }
    return mirror;
}

const NFS_KEYS = ["path", "clients", "allowedCidr", "storageClass", "defaultClass", "reclaimPolicy", "onDelete", "mountOptions", "directoryMode", "provisionerNodeSelector"];

function readNfs(c: Checker, raw: unknown, hosts: HostConfig[]): NfsConfig {
    const r = c.record("k8s-ha:nfs", raw);
    for (const key of Object.keys(r)) {
        if (!NFS_KEYS.includes(key)) c.problem(`k8s-ha:nfs.${key}`, `is not an NFS setting; use one of: ${NFS_KEYS.join(", ")}`);
    }
    const path = c.string("k8s-ha:nfs.path", r.path, DEFAULTS.nfsPath).replace(/(.)\/+$/, "$1");
    if (!/^\/[A-Za-z0-9._/-]*$/.test(path) || path.split("/").some((p) => p === "." || p === "..") || path.includes("//")) {
        c.problem("k8s-ha:nfs.path", `'${path}' is not an absolute directory path; write it like /srv/nfs/k8s`);
    } else if ((NFS_FORBIDDEN_ROOTS as readonly string[]).includes(path)) {
        c.problem("k8s-ha:nfs.path", `'${path}' would export far more than the cluster's volumes; give a directory of its own, like /srv/nfs/k8s`);
    } else {
        const tree = NFS_FORBIDDEN_TREES.find((t) => path === t || path.startsWith(`${t}/`));
        if (tree) {
            c.problem("k8s-ha:nfs.path", `'${path}' is ${path === tree ? "" : "inside "}${tree}, which belongs to the system or the cluster; give a directory of its own, like /srv/nfs/k8s`);
        }
    }
    const workers = hosts.filter((h) => h.roles.includes("worker"));
    let clients: string[];
    if (r.allowedCidr !== undefined && r.clients !== undefined) {
        c.problem("k8s-ha:nfs.allowedCidr", "is given together with nfs.clients; keep one (clients takes a list of addresses and CIDRs)");
    }
    if (r.allowedCidr !== undefined) {
        clients = [c.cidr("k8s-ha:nfs.allowedCidr", r.allowedCidr).text];
    } else if (r.clients !== undefined) {
        clients = c.sources("k8s-ha:nfs.clients", r.clients);
    } else {
        clients = workers.map((w) => w.address);
    }
    const field = r.allowedCidr !== undefined ? "k8s-ha:nfs.allowedCidr" : "k8s-ha:nfs.clients";
    const parsed = clients.map((t) => ({ text: t, cidr: parseCidr(t.includes("/") ? t : `${t}/32`) }));
    for (const p of parsed) {
        if (p.cidr && p.cidr.prefix < 8) {
            c.problem(field, `'${p.text}' lets nearly any address mount the volumes; leave it out (default: the workers' addresses) or give the node network, like 10.0.0.0/24`);
        }
    }
    if (parsed.every((p) => p.cidr && p.cidr.prefix >= 8)) {
        for (const w of workers) {
            const a = parseIpv4(w.address);
            if (a !== undefined && !parsed.some((p) => p.cidr && cidrContains(p.cidr, a))) {
                c.problem(field, `${clients.map((t) => `'${t}'`).join(", ")} leaves out worker ${w.name} (${w.address}), whose pods could not mount their volumes; add it or leave the setting out (default: the workers' addresses)`);
            }
        }
    }
    const d = DEFAULTS.nfsStorage;
    const storageClass = c.string("k8s-ha:nfs.storageClass", r.storageClass, d.storageClass);
    if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(storageClass)) {
        c.problem("k8s-ha:nfs.storageClass", `'${storageClass}' is not a StorageClass name; use lower-case letters, digits, '-' and '.', like nfs`);
    }
    const reclaimPolicy = c.string("k8s-ha:nfs.reclaimPolicy", r.reclaimPolicy, d.reclaimPolicy);
    if (reclaimPolicy !== "Delete" && reclaimPolicy !== "Retain") {
        c.problem("k8s-ha:nfs.reclaimPolicy", `'${reclaimPolicy}' is not a reclaim policy; use Delete (the volume's directory then goes as onDelete says) or Retain (kept with its data)`);
    }
    const onDelete = c.string("k8s-ha:nfs.onDelete", r.onDelete, d.onDelete);
    if (onDelete !== "archive" && onDelete !== "delete") {
        c.problem("k8s-ha:nfs.onDelete", `'${onDelete}' is not a choice; use archive (the directory is renamed archived-...) or delete (removed with its files)`);
    }
    const mountOptions = c.stringList("k8s-ha:nfs.mountOptions", r.mountOptions, d.mountOptions);
    const seen = new Set<string>();
    for (const o of mountOptions) {
        const [name, ...rest] = o.split("=");
        const value = rest.length > 0 ? rest.join("=") : undefined;
        const rule = Object.prototype.hasOwnProperty.call(NFS_MOUNT_OPTIONS, name) ? NFS_MOUNT_OPTIONS[name] : undefined;
        if (rule === undefined) {
            c.problem("k8s-ha:nfs.mountOptions", `'${o}' is not an NFS mount option k8s-ha knows; use some of: ${Object.keys(NFS_MOUNT_OPTIONS).join(", ")}`);
        } else if (rule === null ? value !== undefined : value === undefined || !rule.test(value)) {
            c.problem("k8s-ha:nfs.mountOptions", rule === null ? `'${o}' takes no value; write it as ${name}` : `'${o}' has no valid value; write it like ${name}=${name === "nfsvers" || name === "vers" ? "4.2" : "…"} (nfs(5))`);
        } else if (seen.has(name === "vers" ? "nfsvers" : name)) {
            c.problem("k8s-ha:nfs.mountOptions", `'${o}' repeats ${name}; give it once`);
        }
        seen.add(name === "vers" ? "nfsvers" : name);
    }
    if (seen.has("hard") && seen.has("soft")) {
        c.problem("k8s-ha:nfs.mountOptions", "has both hard and soft; keep hard (soft mounts can lose writes when the server is slow)");
    }
    const directoryMode = c.string("k8s-ha:nfs.directoryMode", r.directoryMode, d.directoryMode);
    if (!/^0?[0-7]{3,4}$/.test(directoryMode)) {
        c.problem("k8s-ha:nfs.directoryMode", `'${directoryMode}' is not an octal mode; write it like 0777 or 2775`);
    }
    const storage: NfsStorageConfig = {
        storageClass,
        defaultClass: c.boolean("k8s-ha:nfs.defaultClass", r.defaultClass, d.defaultClass),
        reclaimPolicy: reclaimPolicy === "Retain" ? "Retain" : "Delete",
        onDelete: onDelete === "delete" ? "delete" : "archive",
        mountOptions,
        directoryMode: directoryMode.padStart(4, "0"),
        provisionerNodeSelector: c.labels("k8s-ha:nfs.provisionerNodeSelector", r.provisionerNodeSelector),
    };
    return { path, clients, storage };
}

const ETCD_KEYS = ["quotaBackendBytes", "heartbeatIntervalMs", "electionTimeoutMs", "snapshotCount"];

function readEtcd(c: Checker, raw: unknown): EtcdSettings {
    const r = c.record("k8s-ha:etcd", raw);
    for (const key of Object.keys(r)) {
        if (!ETCD_KEYS.includes(key)) c.problem(`k8s-ha:etcd.${key}`, `is not an etcd setting; use one of: ${ETCD_KEYS.join(", ")}`);
    }
    const out: EtcdSettings = {};
    const read = (key: keyof EtcdSettings, min: number, max: number) => {
        if (r[key] !== undefined) out[key] = c.integer(`k8s-ha:etcd.${key}`, r[key], min, min, max);
    };
    // etcd refuses a quota over 8 GiB as unsafe; below 16 MiB it would raise NOSPACE at once.
    read("quotaBackendBytes", 16 * 1024 * 1024, 8 * 1024 * 1024 * 1024);
    read("heartbeatIntervalMs", 10, 5000);
    read("electionTimeoutMs", 50, 50000);
    read("snapshotCount", 1000, 10_000_000);
    const heartbeat = out.heartbeatIntervalMs ?? 100;
    const election = out.electionTimeoutMs ?? 1000;
    if (election < 5 * heartbeat) {
        c.problem("k8s-ha:etcd.electionTimeoutMs", `${election} ms is less than 5 heartbeats of ${heartbeat} ms; members would start elections on every late heartbeat. Give at least ${5 * heartbeat}`);
    }
    return out;
}

/** `k8s-ha:repair`: `HOST/STEP` → a stamp, for hosts of the stack. */
function readRepair(c: Checker, raw: unknown, hosts: HostConfig[]): Record<string, string> {
    const r = c.record("k8s-ha:repair", raw);
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(r)) {
        const field = `k8s-ha:repair["${key}"]`;
        const m = /^([a-z0-9][a-z0-9-]*)\/([a-z0-9][a-z0-9-]*)$/.exec(key);
        if (!m) {
            c.problem(field, "is not HOST/STEP (as scripts/drift.sh --repair writes it); remove it: pulumi config rm --path 'k8s-ha:repair[\"" + key + "\"]'");
        } else if (!hosts.some((h) => h.name === m[1])) {
            c.problem(field, `names no host of the stack; remove it: pulumi config rm --path 'k8s-ha:repair["${key}"]'`);
        } else if (typeof value !== "string" || !/^[0-9A-Za-z:._-]{1,40}$/.test(value)) {
            c.problem(field, `must be a stamp of 1-40 letters, digits, ':', '.', '_' or '-' (scripts/drift.sh writes the time of its check), got ${JSON.stringify(value)}`);
        } else {
            out[key] = value;
        }
    }
    return out;
}

const ETCD_BACKUP_KEYS = ["target", "localDir", "schedule", "keep"];

function readEtcdBackup(c: Checker, raw: unknown, hasNfs: boolean, stackName: string | undefined): EtcdBackupSettings {
    const r = c.record("k8s-ha:etcdBackup", raw);
    for (const key of Object.keys(r)) {
        if (!ETCD_BACKUP_KEYS.includes(key)) c.problem(`k8s-ha:etcdBackup.${key}`, `is not an etcd backup setting; use one of: ${ETCD_BACKUP_KEYS.join(", ")}`);
    }
    const fallback = hasNfs ? "nfs" : "local";
    let target: "nfs" | "local" = fallback;
    if (r.target !== undefined) {
        if (r.target === "nfs" || r.target === "local") target = r.target;
        else c.problem("k8s-ha:etcdBackup.target", `must be nfs or local, got ${JSON.stringify(r.target)}`);
    }
    if (target === "nfs" && !hasNfs) c.problem("k8s-ha:etcdBackup.target", "is nfs, but no host has the nfs role; use local, or add an NFS server");
    const localDir = r.localDir === undefined ? `backups/${stackName ?? "stack"}/etcd` : c.string("k8s-ha:etcdBackup.localDir", r.localDir);
    if (!/^[A-Za-z0-9._/@+-]+$/.test(localDir) || localDir.split("/").includes("..")) {
        c.problem("k8s-ha:etcdBackup.localDir", `${JSON.stringify(localDir)} must be a path of letters, digits and ._/@+- without '..'`);
    }
    // Scheduled snapshots run on the NFS server, which keeps them; the Pulumi machine runs no timer.
    let schedule: string | undefined = target === "nfs" ? "hourly" : undefined;
    if (r.schedule !== undefined) {
        const s = c.string("k8s-ha:etcdBackup.schedule", r.schedule).trim();
        if (s === "off") schedule = undefined;
        else if (target !== "nfs") {
            c.problem("k8s-ha:etcdBackup.schedule", "scheduled snapshots run on the NFS server and stay there: with target local there is no host to keep them; use target nfs, or schedule off");
        } else if (!/^[A-Za-z0-9*:/,.~ -]{1,64}$/.test(s)) {
            c.problem("k8s-ha:etcdBackup.schedule", `${JSON.stringify(s)} is not a systemd calendar expression (like hourly, daily, *:0/15 or *-*-* 02:30), or off`);
        } else schedule = s;
    }
    const keep = c.integer("k8s-ha:etcdBackup.keep", r.keep, 48, 1, 10000);
    return { target, localDir, schedule, keep };
}

const SECRETS_ENCRYPTION_KEYS = ["write", "read"];

/**
 * The encryption keys by generation, and the rotation rules against what the apiservers run
 * (`running`, the stack's last `secretsEncryption` output): a new write key must already be known
 * to every apiserver (a read key of the last update), and a key may go only once every Secret was
 * rewritten with the write key.
 */
function readSecretsEncryption(c: Checker, raw: unknown, running: SecretsEncryptionState | undefined): SecretsEncryptionSettings {
    const f = "k8s-ha:secretsEncryption";
    const r = c.record(f, raw);
    for (const key of Object.keys(r)) {
        if (!SECRETS_ENCRYPTION_KEYS.includes(key)) c.problem(`${f}.${key}`, `is not a secrets encryption setting; use one of: ${SECRETS_ENCRYPTION_KEYS.join(", ")}`);
    }
    const write = c.integer(`${f}.write`, r.write, 1, 1, 1000);
    const read: number[] = [];
    if (r.read !== undefined) {
        if (!Array.isArray(r.read)) c.problem(`${f}.read`, `must be a list of key generations, like [1], got ${JSON.stringify(r.read)}`);
        else {
            r.read.forEach((g, i) => {
                const n = c.integer(`${f}.read[${i}]`, g, 0, 1, 1000);
                if (n === 0) return;
                if (n === write) c.problem(`${f}.read[${i}]`, `${n} is the write key; list only the other keys the apiservers must still decrypt with`);
                else if (read.includes(n)) c.problem(`${f}.read[${i}]`, `${n} is listed twice`);
                else read.push(n);
            });
        }
    }
    if (running) {
        const known = [running.write, ...running.read];
        if (write !== running.write && !running.read.includes(write)) {
            c.problem(
                `${f}.write`,
                `key ${write} is not known to the running apiservers (they write with key ${running.write}, and read ${running.read.length ? running.read.join(", ") : "no other"}): first run up with write ${running.write}, read [${[...new Set([...running.read, write])].join(", ")}]; then make ${write} the write key`,
            );
        }
        const dropped = known.filter((g) => g !== write && !read.includes(g));
        const allRewritten = running.write === write && running.rewrittenTo === write;
        for (const g of dropped) {
            if (!allRewritten) {
                c.problem(
                    `${f}.read`,
                    `dropping key ${g} would leave the Secrets still encrypted with it unreadable: keep it until an up with write ${write} has rewritten every Secret (the stack output secretsEncryption says rewrittenTo ${running.rewrittenTo ?? "none"})`,
                );
            }
        }
    }
    return { write, read };
}

const LIFETIME_KEYS = ["validityDays", "renewBeforeDays"];

/** One lifetime (`k8s-ha:certificates` or one of its overrides), `fallback` filling what it leaves out. */
function readLifetime(c: Checker, f: string, r: Record<string, unknown>, fallback: CertificateLifetime): CertificateLifetime {
    const validityDays = c.integer(`${f}.validityDays`, r.validityDays, fallback.validityDays, 1, CA_VALIDITY_DAYS);
    const renewBeforeDays = c.integer(`${f}.renewBeforeDays`, r.renewBeforeDays, Math.min(fallback.renewBeforeDays, validityDays - 1), 0, CA_VALIDITY_DAYS);
    if (renewBeforeDays >= validityDays) {
        c.problem(`${f}.renewBeforeDays`, `${renewBeforeDays} is not less than validityDays ${validityDays}: every up would renew the certificate; make it smaller`);
    }
    return { validityDays, renewBeforeDays };
}

/**
 * Certificate lifetimes: the stack's, and overrides by the names of the certificates this cluster has
 * (the stack output `certificates`).
 */
function readCertificates(c: Checker, raw: unknown, hosts: HostConfig[], etcdBackupScheduled: boolean): CertificateSettings {
    const f = "k8s-ha:certificates";
    const r = c.record(f, raw);
    for (const key of Object.keys(r)) {
        if (![...LIFETIME_KEYS, "overrides"].includes(key)) c.problem(`${f}.${key}`, `is not a certificate setting; use one of: ${[...LIFETIME_KEYS, "overrides"].join(", ")}`);
    }
    const base = readLifetime(c, f, r, DEFAULT_LIFETIME);
    const names = certificateNames(hosts, etcdBackupScheduled);
    const known = [...names.cluster, ...names.etcd].sort();
    const overrides: Record<string, CertificateLifetime> = {};
    for (const [name, value] of Object.entries(c.record(`${f}.overrides`, r.overrides))) {
        const o = c.record(`${f}.overrides.${name}`, value);
        for (const key of Object.keys(o)) {
            if (!LIFETIME_KEYS.includes(key)) c.problem(`${f}.overrides.${name}.${key}`, `is not a certificate setting; use one of: ${LIFETIME_KEYS.join(", ")}`);
        }
        if (!known.includes(name)) {
            c.problem(`${f}.overrides.${name}`, `this cluster has no certificate of that name; use one of: ${known.join(", ")}`);
            continue;
        }
        overrides[name] = readLifetime(c, `${f}.overrides.${name}`, o, base);
    }
    return { ...base, overrides };
}

const KUBELET_KEYS = ["podPidsLimit"];

function readKubelet(c: Checker, raw: unknown): KubeletSettings {
    const r = c.record("k8s-ha:kubelet", raw);
    for (const key of Object.keys(r)) {
        if (!KUBELET_KEYS.includes(key)) c.problem(`k8s-ha:kubelet.${key}`, `is not a kubelet setting; use one of: ${KUBELET_KEYS.join(", ")}`);
    }
    return { podPidsLimit: c.integer("k8s-ha:kubelet.podPidsLimit", r.podPidsLimit, 4096, 64, 4194304) };
}

const LB_KEYS = ["healthCheckIntervalMs"];

function readLoadBalancer(c: Checker, raw: unknown): LoadBalancerSettings {
    const r = c.record("k8s-ha:loadBalancer", raw);
    for (const key of Object.keys(r)) {
        if (!LB_KEYS.includes(key)) c.problem(`k8s-ha:loadBalancer.${key}`, `is not a load balancer setting; use one of: ${LB_KEYS.join(", ")}`);
    }
    // Below 100 ms the checks would load the apiservers; above 10 s a dead one keeps getting requests.
    return { healthCheckIntervalMs: c.integer("k8s-ha:loadBalancer.healthCheckIntervalMs", r.healthCheckIntervalMs, DEFAULTS.loadBalancer.healthCheckIntervalMs, 100, 10_000) };
}

const FIREWALL_KEYS = ["enabled", "sshFrom", "allow"];
const FIREWALL_ALLOW_KEYS = ["ports", "protocol", "from", "roles", "comment"];

function readFirewall(c: Checker, raw: unknown, nfs: NfsConfig): FirewallConfig {
    const r = c.record("k8s-ha:firewall", raw);
    for (const key of Object.keys(r)) {
        if (!FIREWALL_KEYS.includes(key)) c.problem(`k8s-ha:firewall.${key}`, `is not a firewall setting; use one of: ${FIREWALL_KEYS.join(", ")}`);
    }
    const enabled = c.boolean("k8s-ha:firewall.enabled", r.enabled, true);
    const sshFrom = r.sshFrom === undefined || r.sshFrom === "any" ? "any" : c.sources("k8s-ha:firewall.sshFrom", r.sshFrom);
    const allow: FirewallAllow[] = [];
    if (r.allow !== undefined && !Array.isArray(r.allow)) {
        c.problem("k8s-ha:firewall.allow", `must be a list of openings like {ports: "9100", protocol: tcp, from: [10.0.0.0/24], roles: [worker], comment: node exporter}, got ${JSON.stringify(r.allow)}`);
    }
    (Array.isArray(r.allow) ? r.allow : []).forEach((item: unknown, i: number) => {
        const f = `k8s-ha:firewall.allow[${i}]`;
        const a = c.record(f, item);
        for (const key of Object.keys(a)) {
            if (!FIREWALL_ALLOW_KEYS.includes(key)) c.problem(`${f}.${key}`, `is not a setting of an opening; use some of: ${FIREWALL_ALLOW_KEYS.join(", ")}`);
        }
        const ports = c.string(`${f}.ports`, typeof a.ports === "number" ? String(a.ports) : a.ports);
        const m = /^(\d{1,5})(-(\d{1,5}))?$/.exec(ports);
        if (ports && (!m || Number(m[1]) < 1 || Number(m[1]) > 65535 || (m[3] !== undefined && (Number(m[3]) <= Number(m[1]) || Number(m[3]) > 65535)))) {
            c.problem(`${f}.ports`, `'${ports}' is not a port or a range; write it like 9100 or 30000-32767`);
        }
        const protocol = c.string(`${f}.protocol`, a.protocol, "tcp");
        if (protocol !== "tcp" && protocol !== "udp") c.problem(`${f}.protocol`, `'${protocol}' is not tcp or udp`);
        const from = a.from === undefined ? (c.problem(`${f}.from`, "is missing; give the IPv4 addresses or CIDRs allowed in"), []) : c.sources(`${f}.from`, a.from);
        const roles = c.stringList(`${f}.roles`, a.roles, []);
        for (const role of roles) {
            if (!(ROLES as readonly string[]).includes(role)) c.problem(`${f}.roles`, `'${role}' is not a role; use some of: ${ROLES.join(", ")}`);
        }
        const comment = c.string(`${f}.comment`, a.comment, `opened by the stack config (${i})`);
        if (!FIREWALL_COMMENT_RE.test(comment)) c.problem(`${f}.comment`, `'${comment}' may have only letters, digits, spaces and ,.()/:-`);
        allow.push({ ports, protocol: protocol === "udp" ? "udp" : "tcp", from, roles: roles as Role[], comment });
    });
    if (enabled) {
        for (const o of nfs.storage.mountOptions) {
            if (/^(nfs)?vers=3$/.test(o)) {
                c.problem("k8s-ha:nfs.mountOptions", `'${o}' needs rpcbind and mountd, which the host firewall does not open (it opens NFSv4's port 2049 only); use nfsvers=4.2, or turn the firewall off with k8s-ha:firewall.enabled: false`);
            }
        }
    }
    return { enabled, sshFrom, allow };
}

/**
 * A change of etcd membership against the running cluster (its members' URLs after the last
 * update): members cannot join a running cluster yet. Members may leave (a shrink to an odd
 * number): each leaves with `member remove` before its data goes, and etcd refuses a removal that
 * would leave too few started members for a quorum, so the delete stops there instead.
 */
function checkEtcdMembership(c: Checker, hosts: HostConfig[], previous: string[] | undefined): void {
    if (!previous || previous.length === 0) return;
    const before = previous.map((u) => /^https:\/\/([0-9.]+):2379$/.exec(u)?.[1]).filter((a): a is string => a !== undefined);
    const now = hosts.filter((h) => h.roles.includes("etcd"));
    const joining = now.filter((h) => !before.includes(h.address));
    if (joining.length > 0) {
        c.problem(
            "k8s-ha:hosts",
            `${joining.map((h) => h.name).join(", ")} would join the running etcd cluster (${before.join(", ")}); adding members after the first up is not supported yet: take the etcd role off ${joining.length === 1 ? "it" : "them"}`,
        );
    }
}

function checkTopology(c: Checker, hosts: HostConfig[], sshKeyPresent: boolean): void {
    const count = (role: Role) => hosts.filter((h) => h.roles.includes(role)).length;
    const etcd = count("etcd");
    if (etcd === 0 || etcd % 2 === 0) {
        c.problem(
            "k8s-ha:hosts",
            `${etcd} hosts have the etcd role; etcd needs an odd number (1, 3 or 5) to keep quorum`,
        );
    }
    if (count("control-plane") === 0) c.problem("k8s-ha:hosts", "no host has the control-plane role; give it to at least one");
    if (count("worker") === 0) c.problem("k8s-ha:hosts", "no host has the worker role; give it to at least one");
    const lb = count("lb");
    if (lb !== 2) {
        c.problem("k8s-ha:hosts", `${lb} hosts have the lb role; the load-balancer pair needs exactly two`);
    }
    for (const role of ["nfs", "mirror"] as const) {
        if (count(role) > 1) c.problem("k8s-ha:hosts", `${count(role)} hosts have the ${role} role; give it to at most one`);
    }
    if (count("mirror") === 0) c.problem("k8s-ha:hosts", "no host has the mirror role; give it to one host, the nodes pull images through it");
    for (const h of hosts) {
        if (h.roles.includes("lb") && h.roles.includes("control-plane")) {
            c.problem(`k8s-ha:hosts.${h.name}.roles`, "has both lb and control-plane, whose HAProxy and kube-apiserver would both bind apiPort on it; put the load balancers on hosts of their own");
        }
    }
    const byAddress = new Map<string, string>();
    for (const h of hosts) {
        const other = byAddress.get(h.address);
        if (h.address && other) {
            c.problem(`k8s-ha:hosts.${h.name}.address`, `${h.address} is also the address of ${other}; give every host its own address`);
        }
        byAddress.set(h.address, h.name);
    }
    if (!sshKeyPresent) {
        c.problem(
            "k8s-ha:sshPrivateKey",
            "is missing; set it as a secret: pulumi config set --secret k8s-ha:sshPrivateKey < ~/.ssh/id_ed25519",
        );
    }
}

/**
 * Validates the whole stack config in one pass and fills in defaults.
 * Throws a ConfigError listing every problem; returns the typed config otherwise.
 */
export function validateConfig(raw: RawConfig): ClusterConfig {
    const c = new Checker();
    const allowUnpinned = c.boolean("k8s-ha:allowUnpinnedHostKeys", raw.allowUnpinnedHostKeys, false);
    const allowHttp = c.boolean("k8s-ha:allowHttpDownloads", raw.allowHttpDownloads, false);
    const protectData = c.boolean("k8s-ha:protectData", raw.protectData, raw.stackName !== "dev");
    const hosts = readHosts(c, raw, allowUnpinned);
    checkTopology(c, hosts, raw.sshPrivateKeyPresent);
    checkEtcdMembership(c, hosts, raw.previousEtcdEndpoints);

    const vip = c.address("k8s-ha:vip", raw.vip);
    const apiPort = c.integer("k8s-ha:apiPort", raw.apiPort, DEFAULTS.apiPort, 1, 65535);
    const vrrpRouterId = c.integer("k8s-ha:vrrpRouterId", raw.vrrpRouterId, DEFAULTS.vrrpRouterId, 1, 255);
    const nodeNetwork = c.cidr("k8s-ha:nodeNetwork", raw.nodeNetwork);
    const podCidr = c.cidr("k8s-ha:podCidr", raw.podCidr, DEFAULTS.podCidr);
    const serviceCidr = c.cidr("k8s-ha:serviceCidr", raw.serviceCidr, DEFAULTS.serviceCidr);
    const clusterDomain = c.string("k8s-ha:clusterDomain", raw.clusterDomain, DEFAULTS.clusterDomain);
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(clusterDomain)) {
        c.problem("k8s-ha:clusterDomain", `'${clusterDomain}' is not a DNS domain; write it like cluster.local`);
    }

    // Networks must not overlap: a pod or service address that is also a node address is unroutable.
    const nets: [string, Cidr | undefined][] = [
        ["k8s-ha:nodeNetwork", nodeNetwork.cidr],
        ["k8s-ha:podCidr", podCidr.cidr],
        ["k8s-ha:serviceCidr", serviceCidr.cidr],
    ];
    for (let i = 0; i < nets.length; i++) {
        for (let j = i + 1; j < nets.length; j++) {
            const [fa, a] = nets[i];
            const [fb, b] = nets[j];
            if (a && b && cidrsOverlap(a, b)) {
                c.problem(fb, `${formatCidr(b)} overlaps ${fa} ${formatCidr(a)}; choose ranges that do not overlap`);
            }
        }
    }
    if (serviceCidr.cidr && serviceCidr.cidr.prefix > 28) {
        c.problem("k8s-ha:serviceCidr", "is smaller than a /28; CoreDNS takes its tenth address, so give at least a /28");
    }

    const vipNumber = parseIpv4(vip);
    if (nodeNetwork.cidr) {
        for (const h of hosts) {
            const a = parseIpv4(h.address);
            if (a !== undefined && !cidrContains(nodeNetwork.cidr, a)) {
                c.problem(`k8s-ha:hosts.${h.name}.address`, `${h.address} is outside k8s-ha:nodeNetwork ${nodeNetwork.text}; widen nodeNetwork or fix the address`);
            }
        }
        if (vipNumber !== undefined && !cidrContains(nodeNetwork.cidr, vipNumber)) {
            c.problem("k8s-ha:vip", `${vip} is outside the lb hosts' subnet ${nodeNetwork.text}; VRRP can only move an address within it`);
        }
        if (vipNumber !== undefined && (vipNumber === nodeNetwork.cidr.base || vipNumber === lastAddress(nodeNetwork.cidr))) {
            c.problem("k8s-ha:vip", `${vip} is the network or broadcast address of ${nodeNetwork.text}; pick a free host address`);
        }
    }
    const holder = hosts.find((h) => h.address === vip);
    if (vip && holder) {
        c.problem("k8s-ha:vip", `${vip} is the address of host ${holder.name}; the VIP must be a free address in the lb hosts' subnet`);
    }

    // Worker pod CIDRs: explicit, or derived from the last octet so that adding a host renames nothing.
    if (podCidr.cidr) {
        const seen = new Map<string, string>();
        for (const h of hosts) {
            if (!h.roles.includes("worker")) continue;
            if (h.podCidr === undefined) {
                const a = parseIpv4(h.address);
                if (podCidr.cidr.prefix > 16) {
                    c.problem(`k8s-ha:hosts.${h.name}.podCidr`, `is needed because k8s-ha:podCidr ${podCidr.text} is smaller than a /16; give each worker a /24 inside it`);
                } else if (a !== undefined) {
                    h.podCidr = `${nthAddress(podCidr.cidr, (a & 255) * 256)}/24`;
                }
            } else {
                const own = parseCidr(h.podCidr);
                if (own && !(cidrContains(podCidr.cidr, own.base) && own.prefix >= podCidr.cidr.prefix)) {
                    c.problem(`k8s-ha:hosts.${h.name}.podCidr`, `${h.podCidr} is outside k8s-ha:podCidr ${podCidr.text}; pick a range inside it`);
                }
            }
            if (h.podCidr) {
                const other = seen.get(h.podCidr);
                const mine = parseCidr(h.podCidr);
                const overlapping = [...seen].find(([cidr]) => {
                    const theirs = parseCidr(cidr);
                    return cidr !== h.podCidr && mine && theirs && cidrsOverlap(mine, theirs);
                });
                if (other) c.problem(`k8s-ha:hosts.${h.name}.podCidr`, `${h.podCidr} is also the pod CIDR of ${other}; give each worker its own`);
                else if (overlapping) c.problem(`k8s-ha:hosts.${h.name}.podCidr`, `${h.podCidr} overlaps ${overlapping[0]}, the pod CIDR of ${overlapping[1]}; give each worker a range of its own`);
                seen.set(h.podCidr, h.name);
            }
        }
    }

    // VRRP priorities: the first lb host by name is preferred unless priorities are given.
    const lbs = hosts.filter((h) => h.roles.includes("lb"));
    lbs.forEach((h, i) => {
        if (h.vrrpPriority === undefined) h.vrrpPriority = i === 0 ? 150 : 100;
    });
    if (lbs.length === 2 && lbs[0].vrrpPriority === lbs[1].vrrpPriority) {
        c.problem("k8s-ha:hosts", `${lbs[0].name} and ${lbs[1].name} have the same vrrpPriority; give them different ones`);
    }

    const { versions, usable } = readVersions(c, raw.versions, raw.previousVersions);
    const downloads = readDownloads(c, raw.downloads, allowHttp);
    const checksums = readChecksums(c, raw.checksums, downloads, versions, usable);
    const mirror = readMirror(c, raw.mirror, allowHttp, nodeNetwork.cidr ? nodeNetwork.text : "");
    const nfs = readNfs(c, raw.nfs, hosts);
    const firewall = readFirewall(c, raw.firewall, nfs);
    const etcd = readEtcd(c, raw.etcd);
    const loadBalancer = readLoadBalancer(c, raw.loadBalancer);
    const kubelet = readKubelet(c, raw.kubelet);
    const etcdBackup = readEtcdBackup(c, raw.etcdBackup, hosts.some((h) => h.roles.includes("nfs")), raw.stackName);
    const secretsEncryption = readSecretsEncryption(c, raw.secretsEncryption, raw.previousSecretsEncryption);
    const certificates = readCertificates(c, raw.certificates, hosts, etcdBackup.schedule !== undefined);
    const repair = readRepair(c, raw.repair, hosts);
    const imageDigests: ImageDigests = {};
    const digests = c.record("k8s-ha:imageDigests", raw.imageDigests);
    for (const [key, value] of Object.entries(digests)) {
        if (!(ADDON_IMAGE_KEYS as readonly string[]).includes(key)) {
            c.problem(`k8s-ha:imageDigests.${key}`, `is not an add-on image; use some of: ${ADDON_IMAGE_KEYS.join(", ")}`);
        } else if (typeof value !== "string" || !DIGEST_RE.test(value)) {
            c.problem(`k8s-ha:imageDigests.${key}`, `${JSON.stringify(value)} is not a digest; write it as sha256: and 64 lower-case hex digits (crane digest IMAGE prints it)`);
        } else {
            imageDigests[key as AddonImageKey] = value;
        }
    }
    const apiServerExtraSans = c.stringList("k8s-ha:apiServerExtraSans", raw.apiServerExtraSans, []);
    for (const san of apiServerExtraSans) {
        if (parseIpv4(san) === undefined && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(san)) {
            c.problem("k8s-ha:apiServerExtraSans", `'${san}' is neither an IPv4 address nor a DNS name`);
        }
    }
    const ntpServers = c.stringList("k8s-ha:ntpServers", raw.ntpServers, []);

    if (c.problems.length > 0) throw new ConfigError(c.problems);
    const svc = serviceCidr.cidr as Cidr;
    return {
        hosts,
        vip,
        apiPort,
        vrrpRouterId,
        nodeNetwork: nodeNetwork.text,
        podCidr: podCidr.text,
        serviceCidr: serviceCidr.text,
        clusterDomain,
        kubernetesServiceIp: nthAddress(svc, 1),
        dnsServiceIp: nthAddress(svc, 10),
        versions,
        downloads,
        checksums,
        mirror,
        nfs,
        firewall,
        imageDigests,
        etcd,
        loadBalancer,
        kubelet,
        etcdBackup,
        secretsEncryption,
        certificates,
        protectData,
        repair,
        apiServerExtraSans,
        ntpServers,
    };
}
