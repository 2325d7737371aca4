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
 * Reads the `k8s-ha:` namespace into a RawConfig and validates all of it before any resource exists.
 * Object-valued keys are read as plain JSON; the private key stays a secret Output and only its presence
 * reaches validation.
 */
export function readStackConfig(config = new pulumi.Config("k8s-ha"), previous: PreviousRun = {}): StackConfig {
    const sshPrivateKey = config.getSecret("sshPrivateKey");
    const raw: RawConfig = {
        hosts: config.getObject<unknown>("hosts"),
        sshUser: config.get("sshUser"),
        sshPort: config.getObject<unknown>("sshPort"),
        sshPrivateKeyPresent: sshPrivateKey !== undefined,
        vip: config.get("vip"),
        apiPort: config.getObject<unknown>("apiPort"),
        vrrpRouterId: config.getObject<unknown>("vrrpRouterId"),
        nodeNetwork: config.get("nodeNetwork"),
        podCidr: config.get("podCidr"),
        serviceCidr: config.get("serviceCidr"),
        clusterDomain: config.get("clusterDomain"),
        versions: config.getObject<unknown>("versions"),
        downloads: config.getObject<unknown>("downloads"),
        checksums: config.getObject<unknown>("checksums"),
        mirror: config.getObject<unknown>("mirror"),
        nfs: config.getObject<unknown>("nfs"),
        firewall: config.getObject<unknown>("firewall"),
        imageDigests: config.getObject<unknown>("imageDigests"),
        etcd: config.getObject<unknown>("etcd"),
        loadBalancer: config.getObject<unknown>("loadBalancer"),
        kubelet: config.getObject<unknown>("kubelet"),
        etcdBackup: config.getObject<unknown>("etcdBackup"),
        secretsEncryption: config.getObject<unknown>("secretsEncryption"),
        certificates: config.getObject<unknown>("certificates"),
        apiServerExtraSans: config.getObject<unknown>("apiServerExtraSans"),
        ntpServers: config.getObject<unknown>("ntpServers"),
        allowUnpinnedHostKeys: config.getObject<unknown>("allowUnpinnedHostKeys"),
        allowHttpDownloads: config.getObject<unknown>("allowHttpDownloads"),
        protectData: config.getObject<unknown>("protectData"),
        repair: config.getObject<unknown>("repair"),
        stackName: pulumi.getStack(),
        previousEtcdEndpoints: previous.etcdEndpoints,
        previousVersions: previous.versions,
        previousSecretsEncryption: previous.secretsEncryption,
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
}

/**
 * What the stack's last update left running: its own `etcdEndpoints` and `versions` outputs, read
 * through a StackReference to itself (empty before the first update).
 */
export async function previousRun(): Promise<PreviousRun> {
    const self = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`);
    const [endpoints, versions, encryption, certificates, renewals] = await Promise.all(
        ["etcdEndpoints", "versions", "secretsEncryption", "certificates", "certificateRenewals"].map((name) => self.getOutputDetails(name)),
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
    };
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
