import * as pulumi from "@pulumi/pulumi";
import { CertificatesState, ClusterConfig, RawConfig, SecretsEncryptionState, Versions } from "./config";
import { validateConfig } from "./validate";

export interface StackConfig {
    cluster: ClusterConfig;
    /** The SSH private key, secret. */
    sshPrivateKey: pulumi.Output<string>;
    /** The certificates of the stack's last update, which decide what an `up` renews. */
    previousCertificates?: CertificatesState;
    /** The program's clock when it started (ms since the epoch; default: now). */
    now?: number;
}

/**
 * A value of the stack config as the program reads it: Pulumi hands every value over as text, which is
 * JSON for numbers, booleans, lists and objects; a text that is not JSON stays text (a key set to
 * nothing gives ""), so that a wrong value reaches validation with every other problem.
 */
export function jsonValue(text: string | undefined): unknown {
    if (text === undefined) return undefined;
    try {
        return JSON.parse(text) as unknown;
    } catch {
        return text;
    }
}

/** A value of a string key: its text, but a list or an object stays one, which validation then refuses. */
export function textValue(text: string | undefined): unknown {
    const value = jsonValue(text);
    return typeof value === "object" && value !== null ? value : text;
}

/**
 * The keys set in one namespace of the stack's config. The engine hands the program all of the
 * stack's config (with Pulumi.yaml's defaults), other namespaces' (`aws:region`) too.
 */
export function keysSet(namespace: string, all: Record<string, string> = pulumi.runtime.allConfig()): string[] {
    const prefix = `${namespace}:`;
    return Object.keys(all)
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length))
        .sort();
}

/**
 * Reads the `k8s-ha:` namespace into a RawConfig and validates all of it before any resource exists,
 * with the keys the stack sets (a key the program does not read is refused). Values are read as
 * `textValue` or `jsonValue` say; the private key stays a secret Output and only its presence
 * reaches validation.
 */
export function readStackConfig(config = new pulumi.Config("k8s-ha"), previous: PreviousRun = {}): StackConfig {
    const sshPrivateKey = config.getSecret("sshPrivateKey");
    const text = (key: string) => textValue(config.get(key));
    const json = (key: string) => jsonValue(config.get(key));
    const raw: RawConfig = {
        hosts: json("hosts"),
        sshUser: text("sshUser"),
        sshPort: json("sshPort"),
        sshPrivateKeyPresent: sshPrivateKey !== undefined,
        vip: text("vip"),
        apiPort: json("apiPort"),
        vrrpRouterId: json("vrrpRouterId"),
        nodeNetwork: text("nodeNetwork"),
        podCidr: text("podCidr"),
        serviceCidr: text("serviceCidr"),
        clusterDomain: text("clusterDomain"),
        versions: json("versions"),
        downloads: json("downloads"),
        checksums: json("checksums"),
        mirror: json("mirror"),
        nfs: json("nfs"),
        firewall: json("firewall"),
        imageDigests: json("imageDigests"),
        etcd: json("etcd"),
        loadBalancer: json("loadBalancer"),
        kubelet: json("kubelet"),
        etcdBackup: json("etcdBackup"),
        secretsEncryption: json("secretsEncryption"),
        adminCredential: json("adminCredential"),
        certificates: json("certificates"),
        apiServerExtraSans: json("apiServerExtraSans"),
        ntpServers: json("ntpServers"),
        allowUnpinnedHostKeys: json("allowUnpinnedHostKeys"),
        allowHttpDownloads: json("allowHttpDownloads"),
        protectData: json("protectData"),
        repair: json("repair"),
        stackName: pulumi.getStack(),
        stackKeys: keysSet(config.name),
        previousEtcdEndpoints: previous.etcdEndpoints,
        previousVersions: previous.versions,
        previousSecretsEncryption: previous.secretsEncryption,
        previousAdminGeneration: previous.adminGeneration,
    };
    const cluster = validateConfig(raw);
    return { cluster, sshPrivateKey: pulumi.secret(sshPrivateKey ?? ""), previousCertificates: previous.certificates, now: Date.now() };
}

/** What the stack's last update left running, from its own outputs. */
export interface PreviousRun {
    /** The etcd members' client URLs (`etcdEndpoints`). */
    etcdEndpoints?: string[];
    /** The versions (`versions`). */
    versions?: Partial<Versions>;
    /** The encryption keys of the apiservers (`secretsEncryption`). */
    secretsEncryption?: SecretsEncryptionState;
    /** The certificates' expiries and renewal triggers (`certificates`, `certificateRenewals`). */
    certificates?: CertificatesState;
    /** The generation of the `kubeconfig` output's identity (`adminCredential`). */
    adminGeneration?: number;
}

/**
 * What the stack's last update left running: its own `etcdEndpoints` and `versions` outputs, read
 * through a StackReference to itself (empty before the first update).
 */
export async function previousRun(): Promise<PreviousRun> {
    const self = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`);
    const [endpoints, versions, encryption, certificates, renewals, admin] = await Promise.all(
        ["etcdEndpoints", "versions", "secretsEncryption", "certificates", "certificateRenewals", "adminCredential"].map((name) => self.getOutputDetails(name)),
    );
    const e = endpoints.value;
    const v = versions.value;
    return {
        etcdEndpoints: Array.isArray(e) ? e.filter((x): x is string => typeof x === "string") : undefined,
        versions:
            typeof v === "object" && v !== null
                ? (Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === "string")) as Partial<Versions>)
                : undefined,
        secretsEncryption: secretsEncryptionState(encryption.value),
        certificates: certificatesState(certificates.value, renewals.value),
        adminGeneration: adminGeneration(admin.value),
    };
}

/** The generation of the stack output `adminCredential` (absent before this program wrote it: generation 1). */
export function adminGeneration(v: unknown): number | undefined {
    if (typeof v !== "object" || v === null) return undefined;
    const g = (v as Record<string, unknown>).generation;
    return typeof g === "number" && Number.isInteger(g) && g >= 1 ? g : undefined;
}

/** A `{ca: {name: string}}` stack output, its other entries left out. */
function byCa(v: unknown): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    if (typeof v !== "object" || v === null) return out;
    for (const [ca, names] of Object.entries(v)) {
        if (typeof names !== "object" || names === null) continue;
        out[ca] = Object.fromEntries(Object.entries(names).filter((e): e is [string, string] => typeof e[1] === "string"));
    }
    return out;
}

/** The outputs `certificates` and `certificateRenewals`, when the last update wrote the first. */
function certificatesState(expiries: unknown, renewals: unknown): CertificatesState | undefined {
    if (typeof expiries !== "object" || expiries === null) return undefined;
    return { expiries: byCa(expiries), renewals: byCa(renewals) };
}

/** The stack output `secretsEncryption`, when it has the shape this program writes. */
function secretsEncryptionState(v: unknown): SecretsEncryptionState | undefined {
    if (typeof v !== "object" || v === null) return undefined;
    const o = v as Record<string, unknown>;
    const gen = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x >= 1;
    if (!gen(o.write) || !Array.isArray(o.read) || !o.read.every(gen)) return undefined;
    return { write: o.write, read: o.read, rewrittenTo: gen(o.rewrittenTo) ? o.rewrittenTo : undefined };
}
