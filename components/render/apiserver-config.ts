/**
 * The config files the control plane reads besides its flags: secrets encryption at rest, the
 * audit policy, the structured authentication config, and the scheduler's component config.
 */
import { KUBELET_EVENT_RATE } from "./kubelet";
import { K8S_FILES } from "./paths";
import { requireInt } from "./text";
import { toYaml } from "./yaml";

/** One key of the EncryptionConfiguration: its name (stored with each value) and its secret. */
export interface EncryptionKey {
    /** Letters, digits, `_` or `-`; stored with each value it encrypts, so it never changes. */
    name: string;
    /** Base64 of exactly 32 random bytes. Secret: the rendered file is secret too. */
    secret: string;
}

export interface EncryptionConfigParams {
    /**
     * The keys, the one that encrypts new writes first; every listed key decrypts. A key that
     * encrypted stored values must stay listed until they are rewritten with another (rotation:
     * README, Operating the cluster).
     */
    keys: readonly EncryptionKey[];
    /**
     * Default `secretbox` (XSalsa20-Poly1305): authenticated, fast, no nonce-reuse concern with a
     * static key. `aescbc` is accepted for compatibility but Kubernetes calls it weak (padding oracle).
     */
    provider?: "secretbox" | "aescbc";
    /** Resources encrypted. Default `["secrets"]`. */
    resources?: readonly string[];
}

/**
 * `/etc/kubernetes/encryption-config.yaml` (EncryptionConfiguration, apiserver.config.k8s.io/v1).
 * `identity` comes last so data written before encryption was enabled is still readable; all new
 * writes use the first key of the first provider.
 */
export function renderEncryptionConfig(p: EncryptionConfigParams): string {
    if (p.keys.length === 0) throw new Error("encryption config: no key");
    const names = new Set<string>();
    for (const k of p.keys) {
        if (!/^[A-Za-z0-9_-]+$/.test(k.name)) {
            throw new Error(`encryption config: key name "${k.name}" must be letters, digits, "_" or "-"`);
        }
        if (names.has(k.name)) throw new Error(`encryption config: key name "${k.name}" appears twice`);
        names.add(k.name);
        // The key is a secret: the messages below never include it.
        if (!/^[A-Za-z0-9+/]+={0,2}$/.test(k.secret) || k.secret.length % 4 !== 0 || Buffer.from(k.secret, "base64").length !== 32) {
            throw new Error(`encryption config: key ${k.name} must be the base64 encoding of exactly 32 bytes`);
        }
    }
    const provider = p.provider ?? "secretbox";
    return toYaml({
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "EncryptionConfiguration",
        resources: [
            {
                resources: [...(p.resources ?? ["secrets"])],
                providers: [{ [provider]: { keys: p.keys.map((k) => ({ name: k.name, secret: k.secret })) } }, { identity: {} }],
            },
        ],
    });
}

/**
 * `/etc/kubernetes/audit-policy.yaml` (Policy, audit.k8s.io/v1).
 *
 * Everything is logged at `Metadata` level: who did what to which object, never a request or
 * response body, so Secret values, tokens and kubeconfigs do not end up in the audit log. The
 * health endpoints are not logged at all: HAProxy probes `/readyz` on every apiserver every second
 * from both LB hosts, which would otherwise be most of the log. `RequestReceived` is omitted since
 * every request also has a later stage.
 */
export function renderAuditPolicy(): string {
    return toYaml({
        apiVersion: "audit.k8s.io/v1",
        kind: "Policy",
        omitStages: ["RequestReceived"],
        rules: [
            { level: "None", nonResourceURLs: ["/healthz*", "/livez*", "/readyz*"] },
            { level: "Metadata" },
        ],
    });
}

export interface AuthenticationConfigParams {
    /** Paths anonymous requests may reach. Default `/livez`, `/readyz`, `/healthz` (HAProxy's probe needs `/readyz`). */
    anonymousPaths?: readonly string[];
    /**
     * Default `apiserver.config.k8s.io/v1`: structured authentication config and the `anonymous`
     * section are GA since Kubernetes 1.34, so v1.35 reads v1 (v1beta1 is still served).
     */
    apiVersion?: "apiserver.config.k8s.io/v1" | "apiserver.config.k8s.io/v1beta1";
}

/**
 * `/etc/kubernetes/authentication-config.yaml` (AuthenticationConfiguration), passed with
 * `--authentication-config`. Anonymous requests are authenticated (as `system:anonymous`) only on
 * the listed paths and rejected with 401 everywhere else, even if RBAC were to grant
 * `system:anonymous` something. The apiserver must then not get `--anonymous-auth` at all: it
 * refuses to start with both. Client certificates and service-account tokens are configured by
 * flags and keep working; there are no JWT issuers.
 */
export function renderAuthenticationConfig(p: AuthenticationConfigParams = {}): string {
    const paths = p.anonymousPaths ?? ["/livez", "/readyz", "/healthz"];
    for (const path of paths) {
        if (!/^\/[A-Za-z0-9/_.-]*$/.test(path)) {
            throw new Error(`authentication config: anonymous path "${path}" must be an absolute URL path`);
        }
    }
    return toYaml({
        apiVersion: p.apiVersion ?? "apiserver.config.k8s.io/v1",
        kind: "AuthenticationConfiguration",
        anonymous: {
            enabled: paths.length > 0,
            conditions: paths.length > 0 ? paths.map((path) => ({ path })) : undefined,
        },
    });
}

export interface AdmissionConfigParams {
    /** Pod Security level enforced in every namespace without its own label. Default `baseline`. */
    enforce?: PodSecurityLevel;
    /** Level whose violations are recorded in the audit log and returned as warnings. Default `restricted`. */
    auditAndWarn?: PodSecurityLevel;
    /** Namespaces exempt from every level. Default `kube-system` only (the cluster's own add-ons). */
    exemptNamespaces?: readonly string[];
    /** The EventRateLimit plugin's limits (CIS 1.2.9). Default `EVENT_RATE_LIMITS`; at least one. */
    eventRateLimits?: readonly EventRateLimit[];
}

export type PodSecurityLevel = "privileged" | "baseline" | "restricted";

/**
 * One limit of the EventRateLimit admission plugin (eventratelimit.admission.k8s.io/v1alpha1): a
 * token bucket of `burst` Events refilled at `qps` a second, one bucket per key of `type`.
 */
export interface EventRateLimit {
    type: "Server" | "Namespace" | "User" | "SourceAndObject";
    qps: number;
    burst: number;
    /** Buckets kept (least recently used dropped, which refills them); the plugin's default is 4096. */
    cacheSize?: number;
}

/**
 * Events the apiservers accept before answering 429 (CIS 1.2.9), each apiserver counting its own.
 * Per namespace, 50 a second after a burst of 500: a rollout of a few hundred pods fits, and one
 * namespace writes at most 180 000 Events through each apiserver in the hour each lives
 * (--event-ttl). Per user, 50 a second after 100: what each kubelet allows itself
 * (KUBELET_EVENT_RATE), so no user writes Events faster than a node; each controller has its own
 * user (--use-service-account-credentials). No Server bucket: one flood would silence everyone.
 */
export const EVENT_RATE_LIMITS: readonly EventRateLimit[] = [
    { type: "Namespace", qps: 50, burst: 500 },
    { type: "User", ...KUBELET_EVENT_RATE },
];

/**
 * `/etc/kubernetes/admission-config.yaml` (AdmissionConfiguration), passed with
 * `--admission-control-config-file`: the PodSecurity admission plugin's cluster defaults. A pod
 * that breaks the `baseline` level (privileged, host namespaces, hostPath, added capabilities...)
 * is refused in any namespace that does not set its own `pod-security.kubernetes.io/enforce`
 * label; one that only breaks `restricted` is admitted with a warning and an audit annotation.
 * Only kube-system, where the cluster's own add-ons run, is exempt. Then the EventRateLimit
 * plugin's limits (the plugin is enabled by `--enable-admission-plugins`).
 */
export function renderAdmissionConfig(p: AdmissionConfigParams = {}): string {
    const enforce = p.enforce ?? "baseline";
    const auditAndWarn = p.auditAndWarn ?? "restricted";
    const exempt = [...(p.exemptNamespaces ?? ["kube-system"])].sort();
    for (const ns of exempt) {
        if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)) {
            throw new Error(`admission config: exempt namespace "${ns}" is not a namespace name`);
        }
    }
    const limits = p.eventRateLimits ?? EVENT_RATE_LIMITS;
    if (limits.length === 0) {
        throw new Error("admission config: eventRateLimits is empty; the EventRateLimit plugin needs at least one limit");
    }
    const seen = new Set<string>();
    for (const l of limits) {
        if (seen.has(l.type)) throw new Error(`admission config: two EventRateLimit limits of type ${l.type}; keep one`);
        seen.add(l.type);
        requireInt(l.qps, 1, 100000, `admission config: EventRateLimit ${l.type} qps`);
        requireInt(l.burst, 1, 1000000, `admission config: EventRateLimit ${l.type} burst`);
        if (l.cacheSize !== undefined) requireInt(l.cacheSize, 1, 1000000, `admission config: EventRateLimit ${l.type} cacheSize`);
    }
    return toYaml({
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "AdmissionConfiguration",
        plugins: [
            {
                name: "PodSecurity",
                configuration: {
                    apiVersion: "pod-security.admission.config.k8s.io/v1",
                    kind: "PodSecurityConfiguration",
                    defaults: {
                        enforce,
                        "enforce-version": "latest",
                        audit: auditAndWarn,
                        "audit-version": "latest",
                        warn: auditAndWarn,
                        "warn-version": "latest",
                    },
                    exemptions: { usernames: [], runtimeClasses: [], namespaces: exempt },
                },
            },
            {
                name: "EventRateLimit",
                configuration: {
                    apiVersion: "eventratelimit.admission.k8s.io/v1alpha1",
                    kind: "Configuration",
                    limits: limits.map((l) => ({ type: l.type, qps: l.qps, burst: l.burst, cacheSize: l.cacheSize })),
                },
            },
        ],
    });
}

export interface SchedulerConfigParams {
    /** Default `/etc/kubernetes/scheduler.kubeconfig`. */
    kubeconfig?: string;
}

/**
 * `/etc/kubernetes/scheduler-config.yaml` (KubeSchedulerConfiguration, kubescheduler.config.k8s.io/v1).
 * Profiling is switched off here, not with `--profiling`: kube-scheduler ignores that deprecated
 * flag when `--config` is given. Leader election lets three schedulers run with one active.
 */
export function renderSchedulerConfig(p: SchedulerConfigParams = {}): string {
    return toYaml({
        apiVersion: "kubescheduler.config.k8s.io/v1",
        kind: "KubeSchedulerConfiguration",
        clientConnection: { kubeconfig: p.kubeconfig ?? K8S_FILES.schedulerKubeconfig },
        leaderElection: { leaderElect: true },
        enableProfiling: false,
        enableContentionProfiling: false,
    });
}
