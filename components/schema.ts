/**
 * The stack config's schema, declared once with zod: every key, its type, its form, its default and
 * the message a wrong value gets. `validate.ts` parses with it and then runs the checks that need
 * more than one field (topology, overlaps, upgrade paths, pins), and test/config-reference.test.ts
 * holds the README's table to its keys.
 *
 * The schema is built in two modes from the one declaration below: `strict` reports every wrong
 * value; `lenient` gives each wrong value its fallback (the default, or an empty value), so that the
 * checks across fields still run in the same pass and one run names every problem.
 */
import { z } from "zod";
import { ADDON_IMAGE_KEYS, DEFAULTS, NFS_FORBIDDEN_ROOTS, NFS_FORBIDDEN_TREES, NFS_MOUNT_OPTIONS, ROLES, Role } from "./config";
import { ADVERT_INTERVAL_MS, advertIntervalStepProblem, DIGEST_RE, FIREWALL_COMMENT_RE, HEALTH_CHECK_INTERVAL_MS } from "./render";
import { parseCidr, parseIpv4 } from "./net";
import { BREAK_GLASS_VALIDITY_HOURS, CA_VALIDITY_DAYS } from "./certificates";

export const VERSION_RE = /^\d+\.\d+\.\d+$/;
const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const URL_RE = /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;
const REGISTRY_RE = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?$/;
const HOSTKEY_RE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+$/;
/** A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters. */
const LABEL_KEY_RE = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/;
/** user:password@ in a URL: credentials that would end up in state, logs and host files. */
const URL_CREDENTIALS_RE = /^https?:\/\/[^/?#]*@/;

export type SchemaMode = "strict" | "lenient";

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Pulumi gives "" or null for a key set to nothing: the same as leaving it out. */
function blank(value: unknown): unknown {
    return value === null || value === "" ? undefined : value;
}

const show = (value: unknown) => JSON.stringify(value);

/** A check whose message names the value: `message(v)` is the problem, or undefined when v is fine. */
function check<T>(message: (value: T) => string | undefined) {
    return (value: T, ctx: z.RefinementCtx) => {
        const m = message(value);
        if (m !== undefined) ctx.addIssue({ code: "custom", message: m, input: value });
    };
}

/**
 * The leaf and section builders of one mode. In `lenient` mode every leaf falls back instead of
 * failing, and a section that is not an object reads as `{}`.
 */
function builders(mode: SchemaMode) {
    const lenient = mode === "lenient";
    /** In lenient mode, `value` (or what it makes of the wrong input) stands in for a wrong value. */
    const fallback = <S extends z.ZodType>(schema: S, value: z.output<S> | ((input: unknown) => z.output<S>)) =>
        lenient ? schema.catch((ctx) => (typeof value === "function" ? (value as (input: unknown) => z.output<S>)(ctx.input) : value)) : schema;

    /** A trimmed string; required unless it has a default. */
    const rawText = z.string({ error: (iss) => (iss.input === undefined ? "is missing; set it to a string" : `must be a string, got ${show(iss.input)}`) }).transform((s) => s.trim());
    const text = (dflt?: string) => z.preprocess(blank, dflt === undefined ? rawText : rawText.default(dflt));
    /** Optional: absent stays undefined. */
    const optionalText = () => z.preprocess(blank, rawText.optional());

    const integer = (min: number, max: number) => z.number({ error: (iss) => `must be a whole number from ${min} to ${max}, got ${show(iss.input)}` }).int().min(min).max(max);
    // The default (or optional) goes inside the preprocess, like every builder's: outside, it sees
    // "" rather than the undefined it reads as, and the number fails on undefined.
    const wholeNumber = <S extends z.ZodType>(schema: S) =>
        z.preprocess((v) => {
            const b = blank(v);
            return typeof b === "string" && /^\d+$/.test(b) ? Number(b) : b;
        }, schema);
    const int = (min: number, max: number, dflt: number) => fallback(wholeNumber(integer(min, max).default(dflt)), dflt);
    const optionalInt = (min: number, max: number) => fallback(wholeNumber(integer(min, max).optional()), undefined);
    /** A whole number from min to max that `problem` also accepts (its message, or undefined). */
    const intWhere = (min: number, max: number, dflt: number, problem: (n: number) => string | undefined) =>
        fallback(wholeNumber(integer(min, max).default(dflt)).superRefine(check(problem)), dflt);

    // Pulumi config gives `true` from YAML, and "true" from `pulumi config set`.
    const boolean = (v: unknown) => (v === "true" ? true : v === "false" ? false : blank(v));
    const booleanOf = z.boolean({ error: (iss) => `must be true or false, got ${show(iss.input)}` });
    const bool = (dflt: boolean) => fallback(z.preprocess(boolean, booleanOf.default(dflt)), dflt);
    const optionalBool = () => fallback(z.preprocess(boolean, booleanOf.optional()), undefined);

    const ipv4Message = (t: string) => (t && parseIpv4(t) === undefined ? `'${t}' is not an IPv4 address; write it as four numbers 0-255, like 10.0.0.5` : undefined);
    const cidrMessage = (t: string) => (t && !parseCidr(t) ? `'${t}' is not an IPv4 CIDR with zero host bits; write it like 10.244.0.0/16` : undefined);
    const address = () => fallback(text().superRefine(check(ipv4Message)), "");
    const cidr = (dflt?: string) => fallback(text(dflt).superRefine(check(cidrMessage)), dflt ?? "");
    const optionalCidr = () => fallback(optionalText().superRefine(check((t: string | undefined) => (t === undefined ? undefined : cidrMessage(t)))), undefined);

    const stringsOf = z
        .array(z.string({ error: (iss) => `${show(iss.input)} is not a string; write every item of the list as a string` }), { error: (iss) => `must be a list of strings, got ${show(iss.input)}` })
        .transform((l) => l.map((s) => s.trim()));
    /** A list whose every item passes `each` (its problem, or undefined). */
    const listOf = (dflt: readonly string[], each: (item: string) => string | undefined = () => undefined) =>
        fallback(
            z.preprocess((v) => (v === null ? undefined : v), stringsOf.default([...dflt])).superRefine((l, ctx) => {
                for (const item of l) {
                    const m = each(item);
                    if (m !== undefined) ctx.addIssue({ code: "custom", message: m, input: item });
                }
            }),
            [...dflt],
        );

    /** A non-empty list of IPv4 addresses and CIDRs (who may connect to something). */
    const sourcesOf = stringsOf.superRefine((l, ctx) => {
        if (l.length === 0) ctx.addIssue({ code: "custom", message: "is empty; give at least one IPv4 address or CIDR", input: l });
        for (const s of l) {
            if (parseIpv4(s) === undefined && parseCidr(s) === undefined) {
                ctx.addIssue({ code: "custom", message: `'${s}' is neither an IPv4 address nor a CIDR with zero host bits; write it like 10.0.0.5 or 10.0.0.0/24`, input: s });
            }
        }
    });
    const optionalSources = () =>
        fallback(z.preprocess((v) => (v === null ? undefined : v), sourcesOf.optional()), (input) =>
            Array.isArray(input) ? input.filter((s): s is string => typeof s === "string").map((s) => s.trim()) : undefined,
        );

    /** An http(s) URL without credentials, trailing slashes dropped (plain http is a check across fields). */
    const urlOf = rawText.transform((s) => s.replace(/\/+$/, "")).superRefine(
        check((t: string) =>
            URL_CREDENTIALS_RE.test(t)
                ? // Never echo the URL: it holds a password.
                  "has a user or password in it, which would be stored in plain text in the state, the logs and the hosts' files; give a URL without credentials"
                : !URL_RE.test(t)
                  ? `'${t}' is not an http(s) URL; write it like https://mirror.example.com/path`
                  : undefined,
        ),
    );
    const url = (dflt: string) => fallback(z.preprocess(blank, urlOf.default(dflt.replace(/\/+$/, ""))), dflt);
    const optionalUrl = () => fallback(z.preprocess(blank, urlOf.optional()), undefined);

    /** One of `values`; `message` names the wrong one. Give it a default or make it optional inside `z.preprocess(blank, …)`. */
    const oneOf = <const T extends readonly [string, ...string[]]>(values: T, message: (v: string) => string) =>
        z.enum(values, { error: (iss) => (typeof iss.input === "string" ? message(iss.input) : `must be a string, got ${show(iss.input)}`) });
    const choice = <const T extends readonly [string, ...string[]]>(values: T, dflt: T[number], message: (v: string) => string) =>
        fallback(z.preprocess(blank, oneOf(values, message).default(dflt)), dflt);

    /**
     * Kubernetes labels (or a node selector): keys `[prefix/]name`, values of at most 63 characters.
     * Keys under kubernetes.io or k8s.io are refused: a kubelet may not set most of them. Sorted by key.
     */
    const labels = () =>
        fallback(
            z
                .preprocess((v) => (v === null ? undefined : v), z.record(z.string(), z.unknown(), { error: (iss) => `must be an object, got ${show(iss.input)}` }).default({}))
                .transform((r, ctx) => {
                    const out: Record<string, string> = {};
                    for (const key of Object.keys(r).sort()) {
                        const v = r[key];
                        const t = typeof v === "boolean" || typeof v === "number" ? String(v) : v;
                        const problem = (message: string) => ctx.issues.push({ code: "custom", message, input: v, path: [key] });
                        if (!LABEL_KEY_RE.test(key) || key.length > 317) {
                            problem("is not a label key; write it like example.com/disk or disk (letters, digits, '-', '_', '.'; at most 63 after the '/')");
                        } else if (/(^|\.)(kubernetes\.io|k8s\.io)\//.test(key)) {
                            problem("is in the kubernetes.io or k8s.io namespace, which kubelets may not set for themselves; use a prefix of your own, like k8s-ha.io/ or example.com/");
                        } else if (typeof t !== "string" || !LABEL_VALUE_RE.test(t)) {
                            problem(`${show(v)} is not a label value; use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`);
                        } else {
                            out[key] = t;
                        }
                    }
                    return out;
                }),
            {},
        );

    /**
     * An object of known keys; `refusal` begins the message for any other key (`is not a mirror
     * setting; use one of`), which ends with the known keys. Absent reads as `{}`, so that its keys'
     * defaults fill it.
     */
    const section = <S extends z.ZodRawShape>(refusal: string, shape: S) => {
        const keys = Object.keys(shape).join(", ");
        const strictObject = z.strictObject(shape, {
            error: (iss) => (iss.code === "unrecognized_keys" ? `${refusal}: ${keys}` : `must be an object, got ${show(iss.input)}`),
        });
        if (lenient) return z.preprocess((v) => (isRecord(v) ? v : {}), z.object(shape));
        return z.preprocess((v) => (v === null ? undefined : v), strictObject.prefault({} as z.input<typeof strictObject>));
    };
    /** A record of free keys (names the user chooses), each value read by `value`. */
    const recordOf = <V extends z.ZodType>(value: V) =>
        z.preprocess(
            (v) => (v === null || (lenient && !isRecord(v)) ? undefined : v),
            z.record(z.string(), value, { error: (iss) => `must be an object, got ${show(iss.input)}` }).default({}),
        );

    return { fallback, rawText, text, optionalText, int, optionalInt, intWhere, bool, optionalBool, address, cidr, optionalCidr, listOf, optionalSources, url, optionalUrl, choice, oneOf, labels, section, recordOf, sourcesOf };
}

/** The NFS export's path: absolute, plain, and neither a system tree nor a root that exports too much. */
function nfsPathProblem(path: string): string | undefined {
    if (!/^\/[A-Za-z0-9._/-]*$/.test(path) || path.split("/").some((p) => p === "." || p === "..") || path.includes("//")) {
        return `'${path}' is not an absolute directory path; write it like /srv/nfs/k8s`;
    }
    if ((NFS_FORBIDDEN_ROOTS as readonly string[]).includes(path)) {
        return `'${path}' would export far more than the cluster's volumes; give a directory of its own, like /srv/nfs/k8s`;
    }
    const tree = NFS_FORBIDDEN_TREES.find((t) => path === t || path.startsWith(`${t}/`));
    return tree ? `'${path}' is ${path === tree ? "" : "inside "}${tree}, which belongs to the system or the cluster; give a directory of its own, like /srv/nfs/k8s` : undefined;
}

/** The problems of a list of NFS mount options (nfs(5)): unknown, without their value, repeated, hard with soft. */
function mountOptionProblems(options: string[]): string[] {
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const o of options) {
        const [name, ...rest] = o.split("=");
        const value = rest.length > 0 ? rest.join("=") : undefined;
        const rule = Object.prototype.hasOwnProperty.call(NFS_MOUNT_OPTIONS, name) ? NFS_MOUNT_OPTIONS[name] : undefined;
        if (rule === undefined) {
            problems.push(`'${o}' is not an NFS mount option k8s-ha knows; use some of: ${Object.keys(NFS_MOUNT_OPTIONS).join(", ")}`);
        } else if (rule === null ? value !== undefined : value === undefined || !rule.test(value)) {
            problems.push(rule === null ? `'${o}' takes no value; write it as ${name}` : `'${o}' has no valid value; write it like ${name}=${name === "nfsvers" || name === "vers" ? "4.2" : "…"} (nfs(5))`);
        } else if (seen.has(name === "vers" ? "nfsvers" : name)) {
            problems.push(`'${o}' repeats ${name}; give it once`);
        }
        seen.add(name === "vers" ? "nfsvers" : name);
    }
    if (seen.has("hard") && seen.has("soft")) problems.push("has both hard and soft; keep hard (soft mounts can lose writes when the server is slow)");
    return problems;
}

/** An object with one entry per key, each made by `make`. */
function byKey<K extends string, V>(keys: readonly K[], make: (key: K) => V): Record<K, V> {
    const out = {} as Record<K, V>;
    for (const k of keys) out[k] = make(k);
    return out;
}

/** The whole `k8s-ha:` namespace (keys as `RawConfig` names them). */
export function configSchema(mode: SchemaMode) {
    const b = builders(mode);
    /** A certificate lifetime in days, the stack's or one certificate's (validate.ts fills in what is left out). */
    const lifetime = {
        validityDays: b.optionalInt(1, CA_VALIDITY_DAYS),
        renewBeforeDays: b.optionalInt(0, CA_VALIDITY_DAYS),
    };
    const versions = byKey(Object.keys(DEFAULTS.versions) as (keyof typeof DEFAULTS.versions)[], (key) =>
            b.fallback(
                b
                    .text(DEFAULTS.versions[key])
                    .transform((s) => s.replace(/^v/, ""))
                    .superRefine(check((t: string) => (VERSION_RE.test(t) ? undefined : `'${t}' is not a version; write MAJOR.MINOR.PATCH, like ${DEFAULTS.versions[key]}`))),
                // A malformed version stays as written: no pins are asked for its files.
                (input) => (typeof input === "string" ? input.trim().replace(/^v/, "") : DEFAULTS.versions[key]),
            ),
    );
    const downloads = byKey(Object.keys(DEFAULTS.downloads) as (keyof typeof DEFAULTS.downloads)[], (key) => b.url(DEFAULTS.downloads[key]));
    const rolesOf = z
        .array(z.unknown(), { error: () => `is missing; give a list from: ${ROLES.join(", ")}` })
        .superRefine((l, ctx) => {
            if (l.length === 0) ctx.addIssue({ code: "custom", message: `is missing; give a list from: ${ROLES.join(", ")}`, input: l });
            for (const role of l) {
                if (typeof role !== "string" || !(ROLES as readonly string[]).includes(role)) {
                    ctx.addIssue({ code: "custom", message: `unknown role ${show(role)}; use one of: ${ROLES.join(", ")}`, input: role });
                }
            }
        })
        .transform((l) => [...new Set(l.filter((r): r is Role => typeof r === "string" && (ROLES as readonly string[]).includes(r)))]);
    const host = b.section("is not a host setting; use one of", {
        /** IPv4 address the host is reached at over SSH and that the cluster uses. */
        address: b.address(),
        /** SSH login user. Default: `k8s-ha:sshUser`. A non-root user needs password-less sudo. */
        user: b.optionalText(),
        /** SSH port. Default: `k8s-ha:sshPort`. */
        port: b.optionalInt(1, 65535),
        /** Roles from `ROLES`. */
        // The known roles of a list that has unknown ones still count for the checks across fields.
        roles: b.fallback(rolesOf, (input) => (Array.isArray(input) ? [...new Set(input.filter((r): r is Role => typeof r === "string" && (ROLES as readonly string[]).includes(r)))] : [])),
        /** Pinned SSH host key (`ssh-ed25519 AAAA...`). Required unless `allowUnpinnedHostKeys`. */
        hostKey: b.fallback(
            b.optionalText().superRefine(
                check((k: string | undefined) => (k !== undefined && !HOSTKEY_RE.test(k) ? "is not an SSH public host key; give one line like 'ssh-ed25519 AAAA...' (from ssh-keyscan)" : undefined)),
            ),
            undefined,
        ),
        /** Pod CIDR of a worker. Default: derived from the host's last address octet inside `podCidr`. */
        podCidr: b.optionalCidr(),
        /** VRRP priority of an lb host. Default: 150 for the first lb host by name, 100 for the second. */
        vrrpPriority: b.optionalInt(1, 254),
        /** Node labels of a worker (`--node-labels`). Default: none. */
        labels: b.fallback(b.labels().optional(), undefined),
    });
    // A name that is not a DNS label: the record's message below.
    const hostName = z.string().regex(NAME_RE);
    const sources = b.optionalSources;
    return z.object({
        hosts: b.fallback(
            z.preprocess(
                (v) => (v === null ? undefined : v),
                z.record(mode === "lenient" ? z.string() : hostName, host, {
                    error: (iss) =>
                        iss.code === "invalid_key" ? "the host name must be lower-case letters, digits and '-', at most 63, like cp1" : "is missing or empty; give an object of hosts keyed by name, each with address and roles",
                }),
            ),
            {},
        ),
        sshUser: b.fallback(b.text(DEFAULTS.sshUser), DEFAULTS.sshUser),
        sshPort: b.int(1, 65535, DEFAULTS.sshPort),
        vip: b.address(),
        apiPort: b.int(1, 65535, DEFAULTS.apiPort),
        vrrpRouterId: b.int(1, 255, DEFAULTS.vrrpRouterId),
        nodeNetwork: b.cidr(),
        podCidr: b.cidr(DEFAULTS.podCidr),
        serviceCidr: b.cidr(DEFAULTS.serviceCidr),
        clusterDomain: b.fallback(
            b.text(DEFAULTS.clusterDomain).superRefine(
                check((d: string) => (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(d) ? undefined : `'${d}' is not a DNS domain; write it like cluster.local`)),
            ),
            DEFAULTS.clusterDomain,
        ),
        versions: b.section("is not a known version; use one of", versions),
        downloads: b.section("is not a known download; use one of", downloads),
        /** Keyed `<artifact>@<version>`; what is needed depends on the versions (validate.ts). */
        checksums: b.recordOf(z.unknown()),
        mirror: b.section("is not a mirror setting; use one of", {
            port: b.int(1, 65535, DEFAULTS.mirror.port),
            mode: b.choice(["proxy", "preloaded"], DEFAULTS.mirror.mode, (m) => `'${m}' is not a mode; use 'proxy' (pull-through cache) or 'preloaded'`),
            upstream: b.optionalUrl(),
            registries: b.listOf(DEFAULTS.mirror.registries, (r) => (REGISTRY_RE.test(r) ? undefined : `'${r}' is not a registry host name; write it like registry.k8s.io`)),
            pushPort: b.optionalInt(1, 65535),
            /** Preloaded: any change (set, changed, removed) makes a new push password. */
            pushPasswordGeneration: b.optionalInt(1, 1_000_000),
            pushFrom: sources(),
        }),
        nfs: b.section("is not an NFS setting; use one of", {
            path: b.fallback(
                b
                    .text(DEFAULTS.nfsPath)
                    .transform((p) => p.replace(/(.)\/+$/, "$1"))
                    .superRefine(check(nfsPathProblem)),
                DEFAULTS.nfsPath,
            ),
            clients: sources(),
            allowedCidr: b.optionalCidr(),
            storageClass: b.fallback(
                b
                    .text(DEFAULTS.nfsStorage.storageClass)
                    .superRefine(check((s: string) => (/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(s) ? undefined : `'${s}' is not a StorageClass name; use lower-case letters, digits, '-' and '.', like nfs`))),
                DEFAULTS.nfsStorage.storageClass,
            ),
            defaultClass: b.bool(DEFAULTS.nfsStorage.defaultClass),
            reclaimPolicy: b.choice(["Delete", "Retain"], DEFAULTS.nfsStorage.reclaimPolicy, (p) => `'${p}' is not a reclaim policy; use Delete (the volume's directory then goes as onDelete says) or Retain (kept with its data)`),
            onDelete: b.choice(["archive", "delete"], DEFAULTS.nfsStorage.onDelete, (o) => `'${o}' is not a choice; use archive (the directory is renamed archived-...) or delete (removed with its files)`),
            mountOptions: b.fallback(
                b.listOf(DEFAULTS.nfsStorage.mountOptions).superRefine((l, ctx) => {
                    for (const m of mountOptionProblems(l)) ctx.addIssue({ code: "custom", message: m, input: l });
                }),
                [...DEFAULTS.nfsStorage.mountOptions],
            ),
            directoryMode: b.fallback(
                b
                    .text(DEFAULTS.nfsStorage.directoryMode)
                    .superRefine(check((m: string) => (/^0?[0-7]{3,4}$/.test(m) ? undefined : `'${m}' is not an octal mode; write it like 0777 or 2775`)))
                    .transform((m) => m.padStart(4, "0")),
                DEFAULTS.nfsStorage.directoryMode,
            ),
            provisionerNodeSelector: b.labels(),
        }),
        firewall: b.section("is not a firewall setting; use one of", {
            enabled: b.bool(true),
            /** Unset: the node network (validate.ts readFirewall). */
            sshFrom: b.fallback(
                z.preprocess(
                    (v) => (v === null ? undefined : v),
                    z.union([z.literal("any"), b.sourcesOf], { error: (iss) => `must be any, or a list of IPv4 addresses and CIDRs, got ${show(iss.input)}` }).optional(),
                ),
                undefined,
            ),
            allow: b.fallback(
                z
                    .array(
                        b.section("is not a setting of an opening; use some of", {
                            ports: b.fallback(
                                z.preprocess((v) => (typeof v === "number" ? String(v) : blank(v)), b.rawText).superRefine(check(portsProblem)),
                                "",
                            ),
                            protocol: b.choice(["tcp", "udp"], "tcp", (p) => `'${p}' is not tcp or udp`),
                            from: b.fallback(
                                z.preprocess(
                                    (v) => (v === null ? undefined : v),
                                    z.unknown().superRefine(check((v: unknown) => (v === undefined ? "is missing; give the IPv4 addresses or CIDRs allowed in" : undefined))).pipe(b.sourcesOf),
                                ),
                                [],
                            ),
                            roles: b.listOf([], (r) => ((ROLES as readonly string[]).includes(r) ? undefined : `'${r}' is not a role; use some of: ${ROLES.join(", ")}`)),
                            comment: b.fallback(
                                b.optionalText().superRefine(check((t: string | undefined) => (t === undefined || FIREWALL_COMMENT_RE.test(t) ? undefined : `'${t}' may have only letters, digits, spaces and ,.()/:-`))),
                                undefined,
                            ),
                        }),
                        {
                            error: (iss) =>
                                `must be a list of openings like {ports: "9100", protocol: tcp, from: [10.0.0.0/24], roles: [worker], comment: node exporter}, got ${show(iss.input)}`,
                        },
                    )
                    .default([]),
                [],
            ),
        }),
        imageDigests: b.section("is not an add-on image; use some of",
            byKey(ADDON_IMAGE_KEYS, () =>
                    b.fallback(
                        z.preprocess(
                            blank,
                            z
                                .string({ error: (iss) => `${show(iss.input)} is not a digest; write it as sha256: and 64 lower-case hex digits (crane digest IMAGE prints it)` })
                                .regex(DIGEST_RE, { error: (iss) => `${show(iss.input)} is not a digest; write it as sha256: and 64 lower-case hex digits (crane digest IMAGE prints it)` })
                                .optional(),
                        ),
                        undefined,
                    ),
            ),
        ),
        etcd: b.section("is not an etcd setting; use one of", {
            /** etcd's --quota-backend-bytes. It refuses over 8 GiB as unsafe; below 16 MiB it would raise NOSPACE at once. */
            quotaBackendBytes: b.optionalInt(16 * 1024 * 1024, 8 * 1024 * 1024 * 1024),
            /** etcd's --heartbeat-interval, ms (etcd's default 100). */
            heartbeatIntervalMs: b.optionalInt(10, 5000),
            /** etcd's --election-timeout, ms (etcd's default 1000; at least 5 heartbeats). */
            electionTimeoutMs: b.optionalInt(50, 50000),
            /** etcd's --snapshot-count. */
            snapshotCount: b.optionalInt(1000, 10_000_000),
        }),
        loadBalancer: b.section("is not a load balancer setting; use one of", {
            /**
             * How often HAProxy checks each apiserver's /readyz, in ms (default 1000). Below 100 ms the
             * checks would load the apiservers; above 10 s a dead one keeps getting requests.
             */
            healthCheckIntervalMs: b.int(HEALTH_CHECK_INTERVAL_MS.min, HEALTH_CHECK_INTERVAL_MS.max, DEFAULTS.loadBalancer.healthCheckIntervalMs),
            /**
             * keepalived's VRRPv3 advertisement interval, ms (default 100): the backup takes the VIP
             * after about three missed adverts. 10-1000 in steps of 10 (VRRPv3 counts centiseconds).
             */
            advertIntervalMs: b.intWhere(ADVERT_INTERVAL_MS.min, ADVERT_INTERVAL_MS.max, DEFAULTS.loadBalancer.advertIntervalMs, advertIntervalStepProblem),
        }),
        kubelet: b.section("is not a kubelet setting; use one of", {
            /** Most processes one pod may run (CIS 4.2.13; default 4096). */
            podPidsLimit: b.int(64, 4194304, 4096),
        }),
        etcdBackup: b.section("is not an etcd backup setting; use one of", {
            target: b.fallback(z.preprocess(blank, b.oneOf(["nfs", "local"], (t) => `must be nfs or local, got ${show(t)}`).optional()), undefined),
            localDir: b.fallback(
                b.optionalText().superRefine(
                    check((d: string | undefined) => (d === undefined || (/^[A-Za-z0-9._/@+-]+$/.test(d) && !d.split("/").includes("..")) ? undefined : `${show(d)} must be a path of letters, digits and ._/@+- without '..'`)),
                ),
                undefined,
            ),
            schedule: b.fallback(b.optionalText(), undefined),
            keep: b.int(1, 10000, 48),
        }),
        secretsEncryption: b.section("is not a secrets encryption setting; use one of", {
            write: b.int(1, 1000, 1),
            read: b.fallback(
                z.preprocess((v) => (v === null ? undefined : v), z.array(b.optionalInt(1, 1000), { error: (iss) => `must be a list of key generations, like [1], got ${show(iss.input)}` }).optional()),
                undefined,
            ),
        }),
        /** The generation of the `kubeconfig` output's identity: raising it revokes the earlier ones. */
        adminCredential: b.section("is not an admin credential setting; use one of", {
            generation: b.int(1, 1000, 1),
            /** The control-plane host that keeps the break-glass kubeconfig, or `none` (default: the first control-plane host by name). */
            breakGlassHost: b.fallback(b.optionalText(), undefined),
            /** How long the break-glass credential is valid, in hours (default 72); an up renews it in its second half. */
            breakGlassValidityHours: b.int(BREAK_GLASS_VALIDITY_HOURS.min, BREAK_GLASS_VALIDITY_HOURS.max, BREAK_GLASS_VALIDITY_HOURS.default),
        }),
        certificates: b.section("is not a certificate setting; use one of", {
            ...lifetime,
            /** By certificate name (the stack output `certificates`): a lifetime of its own. */
            overrides: b.recordOf(b.section("is not a certificate setting; use one of", lifetime)),
        }),
        apiServerExtraSans: b.listOf([], (s) => (parseIpv4(s) !== undefined || /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(s) ? undefined : `'${s}' is neither an IPv4 address nor a DNS name`)),
        ntpServers: b.listOf([]),
        /** Accept hosts without a pinned `hostKey` (their keys are then not checked). For throwaway labs. */
        allowUnpinnedHostKeys: b.bool(false),
        /** Accept `http://` download and upstream URLs. For labs and mirrors on a trusted network. */
        allowHttpDownloads: b.bool(false),
        /** Protect etcd's and the NFS export's data from deletion (default: on, except on the dev stack). */
        protectData: b.optionalBool(),
        /** `HOST/STEP` → a stamp (scripts/drift.sh --repair); checked against the hosts in validate.ts. */
        repair: b.recordOf(z.unknown()),
    });
}

function portsProblem(ports: string): string | undefined {
    const m = /^(\d{1,5})(-(\d{1,5}))?$/.exec(ports);
    if (ports && (!m || Number(m[1]) < 1 || Number(m[1]) > 65535 || (m[3] !== undefined && (Number(m[3]) <= Number(m[1]) || Number(m[3]) > 65535)))) {
        return `'${ports}' is not a port or a range; write it like 9100 or 30000-32767`;
    }
    return undefined;
}

const built: Partial<Record<SchemaMode, ReturnType<typeof configSchema>>> = {};

/** The schema of a mode, built once (building it costs far more than a parse). */
function schemaOf(mode: SchemaMode): ReturnType<typeof configSchema> {
    return (built[mode] ??= configSchema(mode));
}

/** The config as the schema reads it: types and defaults, before the checks across fields. */
export type ParsedConfig = z.output<ReturnType<typeof configSchema>>;

/** The top-level keys of the `k8s-ha:` namespace the schema declares (the README's table lists them). */
export function configKeys(): string[] {
    return Object.keys(schemaOf("strict").shape);
}

/** The one key of a stack the schema does not read: the SSH key stays a secret Output, only its presence is validated. */
export const SSH_PRIVATE_KEY = "sshPrivateKey";

/** Every key a stack may set in the `k8s-ha:` namespace: the schema's and the SSH key (Pulumi.yaml declares them). */
export function stackConfigKeys(): string[] {
    return [...configKeys(), SSH_PRIVATE_KEY];
}

/** Levenshtein distance (letters inserted, deleted or replaced), ignoring case. */
function editDistance(a: string, b: string): number {
    const s = a.toLowerCase();
    const t = b.toLowerCase();
    const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...new Array<number>(t.length).fill(0)]);
    for (let j = 1; j <= t.length; j++) d[0][j] = j;
    for (let i = 1; i <= s.length; i++) {
        for (let j = 1; j <= t.length; j++) {
            const cost = s[i - 1] === t[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
        }
    }
    return d[s.length][t.length];
}

/** The known key nearest to `key`: at most 2 edits away (a quarter of its length for long keys), the first of a tie. */
function nearestKey(key: string, known: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Math.max(2, Math.floor(key.length / 4)) + 1;
    for (const k of known) {
        const d = editDistance(key, k);
        if (d < bestDistance) [best, bestDistance] = [k, d];
    }
    return best;
}

/**
 * A problem for each of `keys` that is not one of `known` (top-level keys of the `k8s-ha:` namespace),
 * with the known key it was likely meant to be. A key like `hosts.w3.address` is a path that was set
 * without `--path`, which Pulumi stores as a key of its own.
 */
export function unknownKeyProblems(keys: readonly string[], known: readonly string[]): string[] {
    return keys
        .filter((key) => !known.includes(key))
        .map((key) => {
            const field = fieldOf([key]);
            const base = /^([A-Za-z]+)[.[]/.exec(key)?.[1];
            if (base !== undefined && known.includes(base)) {
                return `${field}: is not a k8s-ha setting but a path into ${fieldOf([base])}, set without --path; remove it (pulumi config rm '${field}') and set it with: pulumi config set --path '${field}' VALUE`;
            }
            const near = nearestKey(key, known);
            return `${field}: is not a k8s-ha setting; ${near === undefined ? `use one of: ${known.join(", ")}` : `did you mean ${fieldOf([near])}?`}`;
        });
}

/** A zod issue's path as the message names the field: `k8s-ha:hosts.w1.roles`, `k8s-ha:firewall.allow[0].ports`. */
export function fieldOf(path: readonly PropertyKey[]): string {
    let out = "k8s-ha:";
    path.forEach((p, i) => {
        if (typeof p === "number") out += `[${p}]`;
        else out += i === 0 ? String(p) : `.${String(p)}`;
    });
    return out;
}

/**
 * Parses the raw config (or a part of it, given the part's two schemas): every problem the schema
 * finds, as `field: message`, and the typed config with fallbacks for the wrong values (so that the
 * checks across fields can still run).
 */
export function parseConfig(raw: unknown): { problems: string[]; config: ParsedConfig };
export function parseConfig<S extends z.ZodType>(raw: unknown, strict: S, lenient: S): { problems: string[]; config: z.output<S> };
export function parseConfig(raw: unknown, strict: z.ZodType = schemaOf("strict"), lenient: z.ZodType = schemaOf("lenient")): { problems: string[]; config: unknown } {
    const result = strict.safeParse(raw);
    if (result.success) return { problems: [], config: result.data };
    const problems: string[] = [];
    for (const issue of result.error.issues) {
        if (issue.code === "unrecognized_keys") {
            for (const key of issue.keys) problems.push(`${fieldOf([...issue.path, key])}: ${issue.message}`);
        } else {
            problems.push(`${fieldOf(issue.path)}: ${issue.message}`);
        }
    }
    return { problems, config: lenient.parse(raw) };
}
