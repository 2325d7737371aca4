/**
 * One validation pass over the whole stack config: the schema (schema.ts) reads every key with its
 * type, form and default; the checks here need more than one field (the hosts' roles, overlapping
 * networks, the pins the versions need, rotations and upgrades against what runs). Every problem of
 * both kinds is reported at once, before any host is touched.
 */
import {
    AdminCredentialSettings,
    ClusterConfig,
    Downloads,
    EtcdBackupSettings,
    FirewallConfig,
    HostConfig,
    ImageDigests,
    MirrorConfig,
    NfsConfig,
    RAW_ADDITIONS,
    RawConfig,
    Role,
    Versions,
    SecretsEncryptionSettings,
    SecretsEncryptionState,
    CertificateLifetime,
    CertificateSettings,
    EtcdSettings,
} from "./config";
import { BREAK_GLASS_CERT, BREAK_GLASS_NONE, certificateNames, DEFAULT_LIFETIME } from "./certificates";
import { allArtifacts, ARTIFACT_NAMES, ArtifactName, artifactVersion, artifactVersionKey, pinKey } from "./urls";
import { unsupportedVersions, upgradeProblems } from "./versions";
import { Cidr, cidrContains, cidrsOverlap, formatCidr, lastAddress, nthAddress, parseCidr, parseIpv4 } from "./net";
import { configKeys, configSchema, parseConfig, ParsedConfig, stackConfigKeys, unknownKeyProblems, VERSION_RE } from "./schema";
import { HAPROXY_STATS } from "./render";

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

const SHA256_RE = /^[0-9a-f]{64}$/;

/** The problems of the checks across fields, each `field: message`. */
class Problems {
    readonly list: string[] = [];

    add(field: string, message: string): void {
        this.list.push(`${field}: ${message}`);
    }
}

/** Plain http lets anyone on the path change what the hosts install: only with allowHttpDownloads. */
function checkHttp(p: Problems, field: string, url: string | undefined, allowHttp: boolean): void {
    if (url?.startsWith("http://") && !allowHttp) {
        p.add(field, `'${url}' is plain http, which lets anyone on the path change what the hosts install; use https, or set k8s-ha:allowHttpDownloads: true for a mirror on a network you trust`);
    }
}

/** The hosts sorted by name, with the SSH defaults filled in and each setting checked against the roles. */
function readHosts(p: Problems, parsed: ParsedConfig, schemaProblems: string[]): HostConfig[] {
    if (Object.keys(parsed.hosts).length === 0) {
        if (!schemaProblems.some((m) => m.startsWith("k8s-ha:hosts: "))) {
            p.add("k8s-ha:hosts", "is missing or empty; give an object of hosts keyed by name, each with address and roles");
        }
        return [];
    }
    const hosts: HostConfig[] = [];
    for (const name of Object.keys(parsed.hosts).sort()) {
        const field = `k8s-ha:hosts.${name}`;
        const h = parsed.hosts[name];
        const host: HostConfig = { name, address: h.address, user: h.user ?? parsed.sshUser, port: h.port ?? parsed.sshPort, roles: h.roles };
        const keyscan = `ssh-keyscan -t ed25519 ${h.address || "ADDRESS"}`;
        if (h.hostKey !== undefined) {
            host.hostKey = h.hostKey;
            if (h.hostKey.startsWith("ssh-rsa ")) {
                p.add(
                    `${field}.hostKey`,
                    `is an ssh-rsa key, which the SSH client would have to verify with SHA-1 signatures that OpenSSH 8.8 and later refuse; pin the host's ed25519 key instead: ${keyscan}`,
                );
            }
        } else if (!parsed.allowUnpinnedHostKeys) {
            p.add(
                `${field}.hostKey`,
                `is missing: without it any machine answering on the address gets the cluster's keys; pin it with the 'ssh-ed25519 AAAA...' part of: ${keyscan} (checked out of band), or set k8s-ha:allowUnpinnedHostKeys: true for a throwaway lab`,
            );
        }
        const own = (key: string, role: Role, why = "") => {
            if (!host.roles.includes(role)) p.add(`${field}.${key}`, `is set on a host without the ${role} role${why}; remove it`);
        };
        if (h.podCidr !== undefined) {
            own("podCidr", "worker");
            host.podCidr = h.podCidr;
        }
        if (h.vrrpPriority !== undefined) {
            own("vrrpPriority", "lb");
            host.vrrpPriority = h.vrrpPriority;
        }
        if (h.labels !== undefined) {
            own("labels", "worker", " (only workers run a kubelet)");
            if (Object.keys(h.labels).length > 0) host.labels = h.labels;
        }
        hosts.push(host);
    }
    return hosts;
}

function checkTopology(p: Problems, hosts: HostConfig[], sshKeyPresent: boolean): void {
    const count = (role: Role) => hosts.filter((h) => h.roles.includes(role)).length;
    const etcd = count("etcd");
    if (etcd === 0 || etcd % 2 === 0) {
        p.add("k8s-ha:hosts", `${etcd} hosts have the etcd role; etcd needs an odd number (1, 3 or 5) to keep quorum`);
    }
    if (count("control-plane") === 0) p.add("k8s-ha:hosts", "no host has the control-plane role; give it to at least one");
    if (count("worker") === 0) p.add("k8s-ha:hosts", "no host has the worker role; give it to at least one");
    const lb = count("lb");
    if (lb !== 2) p.add("k8s-ha:hosts", `${lb} hosts have the lb role; the load-balancer pair needs exactly two`);
    for (const role of ["nfs", "mirror"] as const) {
        if (count(role) > 1) p.add("k8s-ha:hosts", `${count(role)} hosts have the ${role} role; give it to at most one`);
    }
    if (count("mirror") === 0) p.add("k8s-ha:hosts", "no host has the mirror role; give it to one host, the nodes pull images through it");
    for (const h of hosts) {
        if (h.roles.includes("lb") && h.roles.includes("control-plane")) {
            p.add(`k8s-ha:hosts.${h.name}.roles`, "has both lb and control-plane, whose HAProxy and kube-apiserver would both bind apiPort on it; put the load balancers on hosts of their own");
        }
    }
    const byAddress = new Map<string, string>();
    for (const h of hosts) {
        const other = byAddress.get(h.address);
        if (h.address && other) p.add(`k8s-ha:hosts.${h.name}.address`, `${h.address} is also the address of ${other}; give every host its own address`);
        byAddress.set(h.address, h.name);
    }
    if (!sshKeyPresent) {
        p.add("k8s-ha:sshPrivateKey", "is missing; set it as a secret: pulumi config set --secret k8s-ha:sshPrivateKey < ~/.ssh/id_ed25519");
    }
}

/**
 * HAProxy listens on the lb hosts on its stats port (HAPROXY_STATS) besides apiPort: nothing else
 * of an lb host (the API frontend, SSH, an image mirror on the same host) may take that port.
 */
function checkLbStatsPort(p: Problems, hosts: HostConfig[], apiPort: number, mirror: MirrorConfig): void {
    const stats = HAPROXY_STATS.port;
    const taken = `is the port of HAProxy's stats page on the lb hosts (${stats}), which the control-plane steps read`;
    if (apiPort === stats) p.add("k8s-ha:apiPort", `${taken}; choose another, like 6443`);
    for (const h of hosts.filter((x) => x.roles.includes("lb"))) {
        if (h.port === stats) p.add(`k8s-ha:hosts.${h.name}.port`, `SSH port ${h.port} (k8s-ha:sshPort unless set here) of an lb host ${taken}; choose another, like 22`);
        if (!h.roles.includes("mirror")) continue;
        if (mirror.port === stats) p.add("k8s-ha:mirror.port", `${taken}, and ${h.name} is both; choose another, like 5000`);
        if (mirror.mode === "preloaded" && mirror.pushPort === stats) p.add("k8s-ha:mirror.pushPort", `${taken}, and ${h.name} is both; choose another, like 5001`);
    }
}

/**
 * A change of etcd membership against the running cluster (its members' URLs after the last
 * update): members cannot join a running cluster yet. Members may leave (a shrink to an odd
 * number): each leaves with `member remove` before its data goes, and etcd refuses a removal that
 * would leave too few started members for a quorum, so the delete stops there instead.
 */
function checkEtcdMembership(p: Problems, hosts: HostConfig[], previous: string[] | undefined): void {
    if (!previous || previous.length === 0) return;
    const before = previous.map((u) => /^https:\/\/([0-9.]+):2379$/.exec(u)?.[1]).filter((a): a is string => a !== undefined);
    const joining = hosts.filter((h) => h.roles.includes("etcd") && !before.includes(h.address));
    if (joining.length > 0) {
        p.add(
            "k8s-ha:hosts",
            `${joining.map((h) => h.name).join(", ")} would join the running etcd cluster (${before.join(", ")}); adding members after the first up is not supported yet: take the etcd role off ${joining.length === 1 ? "it" : "them"}`,
        );
    }
}

/**
 * The networks: no overlaps, the hosts and the VIP inside the node network, every worker's pod
 * CIDR (explicit, or derived from the last octet so that adding a host renames nothing) inside the
 * pod CIDR and its own, and the lb hosts' VRRP priorities.
 */
function checkNetworks(p: Problems, parsed: ParsedConfig, hosts: HostConfig[]): void {
    const nodeNetwork = parseCidr(parsed.nodeNetwork);
    const podCidr = parseCidr(parsed.podCidr);
    const serviceCidr = parseCidr(parsed.serviceCidr);
    // A pod or service address that is also a node address is unroutable.
    const nets: [string, Cidr | undefined][] = [
        ["k8s-ha:nodeNetwork", nodeNetwork],
        ["k8s-ha:podCidr", podCidr],
        ["k8s-ha:serviceCidr", serviceCidr],
    ];
    for (let i = 0; i < nets.length; i++) {
        for (let j = i + 1; j < nets.length; j++) {
            const [fa, a] = nets[i];
            const [fb, b] = nets[j];
            if (a && b && cidrsOverlap(a, b)) p.add(fb, `${formatCidr(b)} overlaps ${fa} ${formatCidr(a)}; choose ranges that do not overlap`);
        }
    }
    if (serviceCidr && serviceCidr.prefix > 28) p.add("k8s-ha:serviceCidr", "is smaller than a /28; CoreDNS takes its tenth address, so give at least a /28");

    const vip = parsed.vip;
    const vipNumber = parseIpv4(vip);
    if (nodeNetwork) {
        for (const h of hosts) {
            const a = parseIpv4(h.address);
            if (a !== undefined && !cidrContains(nodeNetwork, a)) {
                p.add(`k8s-ha:hosts.${h.name}.address`, `${h.address} is outside k8s-ha:nodeNetwork ${parsed.nodeNetwork}; widen nodeNetwork or fix the address`);
            }
        }
        if (vipNumber !== undefined && !cidrContains(nodeNetwork, vipNumber)) {
            p.add("k8s-ha:vip", `${vip} is outside the lb hosts' subnet ${parsed.nodeNetwork}; VRRP can only move an address within it`);
        }
        if (vipNumber !== undefined && (vipNumber === nodeNetwork.base || vipNumber === lastAddress(nodeNetwork))) {
            p.add("k8s-ha:vip", `${vip} is the network or broadcast address of ${parsed.nodeNetwork}; pick a free host address`);
        }
    }
    const holder = hosts.find((h) => h.address === vip);
    if (vip && holder) p.add("k8s-ha:vip", `${vip} is the address of host ${holder.name}; the VIP must be a free address in the lb hosts' subnet`);

    if (podCidr) {
        const seen = new Map<string, string>();
        for (const h of hosts) {
            if (!h.roles.includes("worker")) continue;
            if (h.podCidr === undefined) {
                const a = parseIpv4(h.address);
                if (podCidr.prefix > 16) {
                    p.add(`k8s-ha:hosts.${h.name}.podCidr`, `is needed because k8s-ha:podCidr ${parsed.podCidr} is smaller than a /16; give each worker a /24 inside it`);
                } else if (a !== undefined) {
                    h.podCidr = `${nthAddress(podCidr, (a & 255) * 256)}/24`;
                }
            } else {
                const own = parseCidr(h.podCidr);
                if (own && !(cidrContains(podCidr, own.base) && own.prefix >= podCidr.prefix)) {
                    p.add(`k8s-ha:hosts.${h.name}.podCidr`, `${h.podCidr} is outside k8s-ha:podCidr ${parsed.podCidr}; pick a range inside it`);
                }
            }
            if (h.podCidr) {
                const other = seen.get(h.podCidr);
                const mine = parseCidr(h.podCidr);
                const overlapping = [...seen].find(([cidr]) => {
                    const theirs = parseCidr(cidr);
                    return cidr !== h.podCidr && mine && theirs && cidrsOverlap(mine, theirs);
                });
                if (other) p.add(`k8s-ha:hosts.${h.name}.podCidr`, `${h.podCidr} is also the pod CIDR of ${other}; give each worker its own`);
                else if (overlapping) p.add(`k8s-ha:hosts.${h.name}.podCidr`, `${h.podCidr} overlaps ${overlapping[0]}, the pod CIDR of ${overlapping[1]}; give each worker a range of its own`);
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
        p.add("k8s-ha:hosts", `${lbs[0].name} and ${lbs[1].name} have the same vrrpPriority; give them different ones`);
    }
}

/**
 * The versions against the supported-versions table (versions.ts) and the running cluster's.
 * Returns the keys that passed the schema and these checks: only their files need pins.
 */
function checkVersions(p: Problems, versions: Versions, running?: Partial<Versions>): Set<keyof Versions> {
    const usable = new Set((Object.keys(versions) as (keyof Versions)[]).filter((k) => VERSION_RE.test(versions[k])));
    for (const [key, message] of unsupportedVersions(versions, usable)) {
        p.add(`k8s-ha:versions.${key}`, message);
        usable.delete(key);
    }
    for (const [key, message] of upgradeProblems(running, versions, usable)) {
        p.add(`k8s-ha:versions.${key}`, message);
        usable.delete(key);
    }
    return usable;
}

/**
 * The pinned sha256 of every release file (`k8s-ha:checksums`, keyed `<artifact>@<version>`): each
 * file the stack's versions need must have one (the hosts take no checksum from the download's
 * origin); pins for other versions of the same files may stay (pinned ahead of an upgrade). Files of
 * versions that are malformed or unsupported need none yet: they are reported under k8s-ha:versions.
 */
function readChecksums(p: Problems, r: Record<string, unknown>, downloads: Downloads, versions: Versions, usable: Set<keyof Versions>): Record<string, string> {
    const needed = allArtifacts(downloads, versions).filter((a) => usable.has(artifactVersionKey(a.name)));
    const out: Record<string, string> = {};
    for (const key of Object.keys(r).sort()) {
        const field = `k8s-ha:checksums.${key}`;
        const at = key.lastIndexOf("@");
        const name = key.slice(0, Math.max(at, 0));
        const version = key.slice(at + 1);
        const value = r[key];
        if (at < 0 || !(ARTIFACT_NAMES as readonly string[]).includes(name)) {
            p.add(
                field,
                `is not a file k8s-ha downloads; a pin's key is ARTIFACT@VERSION with ARTIFACT one of: ${ARTIFACT_NAMES.join(", ")}` +
                    (needed.length > 0 ? `; this stack needs: ${needed.map((a) => a.pinKey).join(", ")}` : ""),
            );
        } else if (!VERSION_RE.test(version)) {
            const like = pinKey(name as ArtifactName, artifactVersion(name as ArtifactName, versions));
            p.add(field, `'${version}' after the @ is not a version; write MAJOR.MINOR.PATCH without a v, like ${like}`);
        } else if (typeof value !== "string" || !SHA256_RE.test(value)) {
            p.add(field, `${JSON.stringify(value)} is not a sha256; write the file's sha256 as 64 lower-case hex digits (the first field of sha256sum's output), in quotes`);
        } else {
            out[key] = value;
        }
    }
    for (const a of needed) {
        if (r[a.pinKey] !== undefined) continue;
        p.add(
            `k8s-ha:checksums.${a.pinKey}`,
            `is missing: the hosts install ${a.url} only when its sha256 is pinned here. Take the sum from ${a.vendorSums}, the checksum file the vendor publishes beside it ` +
                `(fetched from the vendor's own release site, with its signature checked where the vendor signs it), or run sha256sum on a copy you verified; ` +
                `then: pulumi config set --path 'k8s-ha:checksums["${a.pinKey}"]' SHA256`,
        );
    }
    return out;
}

function checkDownloads(p: Problems, downloads: Downloads, allowHttp: boolean): void {
    for (const key of Object.keys(downloads) as (keyof Downloads)[]) checkHttp(p, `k8s-ha:downloads.${key}`, downloads[key], allowHttp);
}

/**
 * The versions and downloads of a stack as validation reads them (defaults filled in), for the
 * tools that build and check the release files (scripts/artifacts.sh through components/plan.ts),
 * without the rest of the config, which they do not need. Throws a ConfigError naming every problem.
 */
export function readReleaseSettings(raw: Pick<RawConfig, "versions" | "downloads" | "allowHttpDownloads">): { versions: Versions; downloads: Downloads } {
    const schema = configSchema("strict").pick({ versions: true, downloads: true, allowHttpDownloads: true });
    const lenient = configSchema("lenient").pick({ versions: true, downloads: true, allowHttpDownloads: true });
    const { problems, config } = parseConfig(raw, schema, lenient);
    const p = new Problems();
    checkVersions(p, config.versions);
    checkDownloads(p, config.downloads, config.allowHttpDownloads);
    const all = [...problems, ...p.list];
    if (all.length > 0) throw new ConfigError(all);
    return { versions: config.versions, downloads: config.downloads };
}

/** The mirror's settings that depend on each other: the push port and who may push (preloaded), the upstream (proxy). */
function readMirror(p: Problems, m: ParsedConfig["mirror"], allowHttp: boolean, nodeNetwork: string, hosts: HostConfig[]): MirrorConfig {
    const pushPort = m.pushPort ?? (m.port < 65535 ? m.port + 1 : m.port - 1);
    if (pushPort === m.port) p.add("k8s-ha:mirror.pushPort", `is the same as mirror.port ${m.port}; pushes need a port of their own, like ${m.port + 1}`);
    // Unset, pushes come from the operator's side: the node network but the cluster's own hosts (nodes never push).
    const pushFrom = m.pushFrom ?? (nodeNetwork ? [nodeNetwork] : []);
    const pushExcept = m.pushFrom === undefined ? [...new Set(hosts.map((h) => h.address).filter((a) => a !== ""))].sort() : [];
    const mirror: MirrorConfig = { port: m.port, mode: m.mode, registries: m.registries, pushPort, pushFrom, pushExcept };
    if (m.pushPasswordGeneration !== undefined) mirror.pushPasswordGeneration = m.pushPasswordGeneration;
    if (m.mode === "proxy") {
        for (const key of ["pushPort", "pushFrom", "pushPasswordGeneration"] as const) {
            if (m[key] !== undefined) p.add(`k8s-ha:mirror.${key}`, "is for a preloaded mirror; a pull-through cache takes no pushes. Leave it out, or set mirror.mode: preloaded");
        }
        if (m.upstream === undefined) {
            p.add("k8s-ha:mirror.upstream", "is missing; proxy mode needs the registry to pull from, like https://registry.example.com");
        } else {
            checkHttp(p, "k8s-ha:mirror.upstream", m.upstream, allowHttp);
            mirror.upstream = m.upstream;
        }
    }
    return mirror;
}

/** Who may mount the export: the workers by default; a list given must cover every worker and no more than a /8. */
function readNfs(p: Problems, n: ParsedConfig["nfs"], hosts: HostConfig[]): NfsConfig {
    const workers = hosts.filter((h) => h.roles.includes("worker"));
    if (n.allowedCidr !== undefined && n.clients !== undefined) {
        p.add("k8s-ha:nfs.allowedCidr", "is given together with nfs.clients; keep one (clients takes a list of addresses and CIDRs)");
    }
    const clients = n.allowedCidr !== undefined ? [n.allowedCidr] : (n.clients ?? workers.map((w) => w.address));
    const field = n.allowedCidr !== undefined ? "k8s-ha:nfs.allowedCidr" : "k8s-ha:nfs.clients";
    const parsed = clients.map((t) => ({ text: t, cidr: parseCidr(t.includes("/") ? t : `${t}/32`) }));
    for (const c of parsed) {
        if (c.cidr && c.cidr.prefix < 8) {
            p.add(field, `'${c.text}' lets nearly any address mount the volumes; leave it out (default: the workers' addresses) or give the node network, like 10.0.0.0/24`);
        }
    }
    if (parsed.every((c) => c.cidr && c.cidr.prefix >= 8)) {
        for (const w of workers) {
            const a = parseIpv4(w.address);
            if (a !== undefined && !parsed.some((c) => c.cidr && cidrContains(c.cidr, a))) {
                p.add(field, `${clients.map((t) => `'${t}'`).join(", ")} leaves out worker ${w.name} (${w.address}), whose pods could not mount their volumes; add it or leave the setting out (default: the workers' addresses)`);
            }
        }
    }
    const { storageClass, defaultClass, reclaimPolicy, onDelete, mountOptions, directoryMode, provisionerNodeSelector } = n;
    return { path: n.path, clients, storage: { storageClass, defaultClass, reclaimPolicy, onDelete, mountOptions, directoryMode, provisionerNodeSelector } };
}

/** The firewall; SSH from the node network unless the stack says otherwise (`any` or its own list). */
function readFirewall(p: Problems, f: ParsedConfig["firewall"], nfs: NfsConfig, nodeNetwork: string): FirewallConfig {
    if (f.enabled) {
        for (const o of nfs.storage.mountOptions) {
            if (/^(nfs)?vers=3$/.test(o)) {
                p.add("k8s-ha:nfs.mountOptions", `'${o}' needs rpcbind and mountd, which the host firewall does not open (it opens NFSv4's port 2049 only); use nfsvers=4.2, or turn the firewall off with k8s-ha:firewall.enabled: false`);
            }
        }
    }
    return {
        enabled: f.enabled,
        sshFrom: f.sshFrom ?? (nodeNetwork ? [nodeNetwork] : "any"),
        allow: f.allow.map((a, i) => ({ ports: a.ports, protocol: a.protocol, from: a.from ?? [], roles: a.roles as Role[], comment: a.comment ?? `opened by the stack config (${i})` })),
    };
}

function readEtcd(p: Problems, e: ParsedConfig["etcd"]): EtcdSettings {
    const out: EtcdSettings = {};
    for (const key of ["quotaBackendBytes", "heartbeatIntervalMs", "electionTimeoutMs", "snapshotCount"] as const) {
        if (e[key] !== undefined) out[key] = e[key];
    }
    const heartbeat = out.heartbeatIntervalMs ?? 100;
    const election = out.electionTimeoutMs ?? 1000;
    if (election < 5 * heartbeat) {
        p.add("k8s-ha:etcd.electionTimeoutMs", `${election} ms is less than 5 heartbeats of ${heartbeat} ms; members would start elections on every late heartbeat. Give at least ${5 * heartbeat}`);
    }
    return out;
}

/** `k8s-ha:repair`: `HOST/STEP` → a stamp, for hosts of the stack. */
function readRepair(p: Problems, r: Record<string, unknown>, hosts: HostConfig[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(r)) {
        const field = `k8s-ha:repair["${key}"]`;
        const m = /^([a-z0-9][a-z0-9-]*)\/([a-z0-9][a-z0-9-]*)$/.exec(key);
        if (!m) {
            p.add(field, "is not HOST/STEP (as scripts/drift.sh --repair writes it); remove it: pulumi config rm --path 'k8s-ha:repair[\"" + key + "\"]'");
        } else if (!hosts.some((h) => h.name === m[1])) {
            p.add(field, `names no host of the stack; remove it: pulumi config rm --path 'k8s-ha:repair["${key}"]'`);
        } else if (typeof value !== "string" || !/^[0-9A-Za-z:._-]{1,40}$/.test(value)) {
            p.add(field, `must be a stamp of 1-40 letters, digits, ':', '.', '_' or '-' (scripts/drift.sh writes the time of its check), got ${JSON.stringify(value)}`);
        } else {
            out[key] = value;
        }
    }
    return out;
}

function readEtcdBackup(p: Problems, e: ParsedConfig["etcdBackup"], hasNfs: boolean, stackName: string | undefined): EtcdBackupSettings {
    const target = e.target ?? (hasNfs ? "nfs" : "local");
    if (target === "nfs" && !hasNfs) p.add("k8s-ha:etcdBackup.target", "is nfs, but no host has the nfs role; use local, or add an NFS server");
    const localDir = e.localDir ?? `backups/${stackName ?? "stack"}/etcd`;
    // Scheduled snapshots are taken on the members and kept on the NFS server; the Pulumi machine runs no timer.
    let schedule: string | undefined = target === "nfs" ? "hourly" : undefined;
    if (e.schedule !== undefined) {
        const s = e.schedule;
        if (s === "off") schedule = undefined;
        else if (target !== "nfs") {
            p.add("k8s-ha:etcdBackup.schedule", "scheduled snapshots are kept on the NFS server: with target local there is no host to keep them; use target nfs, or schedule off");
        } else if (!/^[A-Za-z0-9*:/,.~ -]{1,64}$/.test(s)) {
            p.add("k8s-ha:etcdBackup.schedule", `${JSON.stringify(s)} is not a systemd calendar expression (like hourly, daily, *:0/15 or *-*-* 02:30), or off`);
        } else schedule = s;
    }
    return { target, localDir, schedule, keep: e.keep };
}

/**
 * The encryption keys by generation, and the rotation rules against what the apiservers run
 * (`running`, the stack's last `secretsEncryption` output): a new write key must already be known
 * to every apiserver (a read key of the last update), and a key may go only once every Secret was
 * rewritten with the write key.
 */
function readSecretsEncryption(p: Problems, s: ParsedConfig["secretsEncryption"], running: SecretsEncryptionState | undefined): SecretsEncryptionSettings {
    const f = "k8s-ha:secretsEncryption";
    const write = s.write;
    const read: number[] = [];
    (s.read ?? []).forEach((n, i) => {
        if (n === undefined) return;
        if (n === write) p.add(`${f}.read[${i}]`, `${n} is the write key; list only the other keys the apiservers must still decrypt with`);
        else if (read.includes(n)) p.add(`${f}.read[${i}]`, `${n} is listed twice`);
        else read.push(n);
    });
    if (running) {
        const known = [running.write, ...running.read];
        if (write !== running.write && !running.read.includes(write)) {
            p.add(
                `${f}.write`,
                `key ${write} is not known to the running apiservers (they write with key ${running.write}, and read ${running.read.length ? running.read.join(", ") : "no other"}): first run up with write ${running.write}, read [${[...new Set([...running.read, write])].join(", ")}]; then make ${write} the write key`,
            );
        }
        const dropped = known.filter((g) => g !== write && !read.includes(g));
        const allRewritten = running.write === write && running.rewrittenTo === write;
        for (const g of dropped) {
            if (!allRewritten) {
                p.add(
                    `${f}.read`,
                    `dropping key ${g} would leave the Secrets still encrypted with it unreadable: keep it until an up with write ${write} has rewritten every Secret (the stack output secretsEncryption says rewrittenTo ${running.rewrittenTo ?? "none"})`,
                );
            }
        }
    }
    return { write, read };
}

/**
 * The generation of the `kubeconfig` output's identity: it may only go up, since an earlier
 * generation's identity was revoked (its binding deleted) and must stay so. The break-glass
 * credential's host: a control-plane host by name, or `none`; by default the first by name.
 */
function readAdminCredential(p: Problems, a: ParsedConfig["adminCredential"], running: number | undefined, hosts: HostConfig[]): AdminCredentialSettings {
    const f = "k8s-ha:adminCredential";
    if (running !== undefined && a.generation < running) {
        p.add(
            `${f}.generation`,
            `${a.generation} is below ${running}, the generation the cluster runs (stack output adminCredential): generation ${running} revoked the earlier ones; keep ${running}, or set ${running + 1} to revoke it too`,
        );
    }
    const cps = hosts.filter((h) => h.roles.includes("control-plane")).map((h) => h.name);
    let breakGlassHost: string | undefined = cps[0];
    if (a.breakGlassHost === BREAK_GLASS_NONE) {
        breakGlassHost = undefined;
    } else if (a.breakGlassHost !== undefined) {
        breakGlassHost = a.breakGlassHost;
        if (!cps.includes(a.breakGlassHost)) {
            const what = hosts.some((h) => h.name === a.breakGlassHost) ? "is not a control-plane host" : "is no host of this stack";
            p.add(
                `${f}.breakGlassHost`,
                `'${a.breakGlassHost}' ${what}: the break-glass kubeconfig is kept on a control-plane host; use one of ${[...cps, BREAK_GLASS_NONE].join(", ")} (${BREAK_GLASS_NONE}: on no host, npm run break-glass mints one when needed)`,
            );
        }
    }
    return { generation: a.generation, breakGlassHost, breakGlassValidityHours: a.breakGlassValidityHours };
}

/** One lifetime (`k8s-ha:certificates` or one of its overrides), `fallback` filling what it leaves out. */
function readLifetime(p: Problems, f: string, r: { validityDays?: number; renewBeforeDays?: number }, fallback: CertificateLifetime): CertificateLifetime {
    const validityDays = r.validityDays ?? fallback.validityDays;
    const renewBeforeDays = r.renewBeforeDays ?? Math.min(fallback.renewBeforeDays, validityDays - 1);
    if (renewBeforeDays >= validityDays) {
        p.add(`${f}.renewBeforeDays`, `${renewBeforeDays} is not less than validityDays ${validityDays}: every up would renew the certificate; make it smaller`);
    }
    return { validityDays, renewBeforeDays };
}

/**
 * Certificate lifetimes: the stack's, and overrides by the names of the certificates this cluster has
 * (the stack output `certificates`).
 */
function readCertificates(p: Problems, c: ParsedConfig["certificates"], hosts: HostConfig[], adminGeneration: number): CertificateSettings {
    const f = "k8s-ha:certificates";
    const base = readLifetime(p, f, c, DEFAULT_LIFETIME);
    const names = certificateNames(hosts, adminGeneration);
    const known = [...names.cluster, ...names.etcd].sort();
    const overrides: Record<string, CertificateLifetime> = {};
    for (const [name, o] of Object.entries(c.overrides)) {
        if (!known.includes(name) && /-etcd-backup-client$/.test(name)) {
            p.add(`${f}.overrides.${name}`, "is no longer issued: the etcd members take the scheduled snapshots with their own credential, and the NFS server holds none; remove this override");
            continue;
        }
        if (name === BREAK_GLASS_CERT) {
            p.add(`${f}.overrides.${name}`, "the break-glass credential's validity is k8s-ha:adminCredential.breakGlassValidityHours (in hours, renewed by an up in its second half); set that instead and remove this override");
            continue;
        }
        if (!known.includes(name)) {
            p.add(`${f}.overrides.${name}`, `this cluster has no certificate of that name; use one of: ${known.filter((n) => n !== BREAK_GLASS_CERT).join(", ")}`);
            continue;
        }
        overrides[name] = readLifetime(p, `${f}.overrides.${name}`, o, base);
    }
    return { ...base, overrides };
}

/**
 * Validates the whole stack config in one pass and fills in defaults.
 * Throws a ConfigError listing every problem; returns the typed config otherwise.
 */
export function validateConfig(raw: RawConfig): ClusterConfig {
    // A key the program never reads: one the stack sets, or one of a library caller's object.
    const unknown = [...unknownKeyProblems(raw.stackKeys ?? [], stackConfigKeys()), ...unknownKeyProblems(Object.keys(raw), [...configKeys(), ...RAW_ADDITIONS])];
    const { problems, config: parsed } = parseConfig(raw);
    const p = new Problems();
    const allowHttp = parsed.allowHttpDownloads;
    const hosts = readHosts(p, parsed, problems);
    checkTopology(p, hosts, raw.sshPrivateKeyPresent);
    checkEtcdMembership(p, hosts, raw.previousEtcdEndpoints);
    checkNetworks(p, parsed, hosts);

    const versions = parsed.versions;
    const usable = checkVersions(p, versions, raw.previousVersions);
    checkDownloads(p, parsed.downloads, allowHttp);
    const checksums = readChecksums(p, parsed.checksums, parsed.downloads, versions, usable);
    const nodeNetwork = parseCidr(parsed.nodeNetwork) ? parsed.nodeNetwork : "";
    const mirror = readMirror(p, parsed.mirror, allowHttp, nodeNetwork, hosts);
    checkLbStatsPort(p, hosts, parsed.apiPort, mirror);
    const nfs = readNfs(p, parsed.nfs, hosts);
    const firewall = readFirewall(p, parsed.firewall, nfs, nodeNetwork);
    const etcd = readEtcd(p, parsed.etcd);
    const etcdBackup = readEtcdBackup(p, parsed.etcdBackup, hosts.some((h) => h.roles.includes("nfs")), raw.stackName);
    const secretsEncryption = readSecretsEncryption(p, parsed.secretsEncryption, raw.previousSecretsEncryption);
    const adminCredential = readAdminCredential(p, parsed.adminCredential, raw.previousAdminGeneration, hosts);
    const certificates = readCertificates(p, parsed.certificates, hosts, adminCredential.generation);
    const repair = readRepair(p, parsed.repair, hosts);
    const imageDigests: ImageDigests = {};
    for (const [key, value] of Object.entries(parsed.imageDigests)) {
        if (value !== undefined) imageDigests[key as keyof ImageDigests] = value;
    }

    const all = [...unknown, ...problems, ...p.list];
    if (all.length > 0) throw new ConfigError(all);
    const svc = parseCidr(parsed.serviceCidr) as Cidr;
    return {
        hosts,
        vip: parsed.vip,
        apiPort: parsed.apiPort,
        vrrpRouterId: parsed.vrrpRouterId,
        nodeNetwork: parsed.nodeNetwork,
        podCidr: parsed.podCidr,
        serviceCidr: parsed.serviceCidr,
        clusterDomain: parsed.clusterDomain,
        kubernetesServiceIp: nthAddress(svc, 1),
        dnsServiceIp: nthAddress(svc, 10),
        versions,
        downloads: parsed.downloads,
        checksums,
        mirror,
        nfs,
        firewall,
        imageDigests,
        etcd,
        loadBalancer: parsed.loadBalancer,
        kubelet: parsed.kubelet,
        etcdBackup,
        secretsEncryption,
        adminCredential,
        certificates,
        protectData: parsed.protectData ?? raw.stackName !== "dev",
        repair,
        apiServerExtraSans: parsed.apiServerExtraSans,
        ntpServers: parsed.ntpServers,
    };
}
