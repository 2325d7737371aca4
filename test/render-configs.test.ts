/**
 * Config files: each is parsed (YAML with js-yaml, TOML with Python's tomllib, JSON) and compared
 * with the exact structure expected, and handed to the real program where one can check it
 * without running a cluster: docker-registry, exportfs, chronyd -p, and, once scripts/artifacts.sh
 * has built them, containerd config dump, kube-proxy and kube-scheduler --write-config-to, and the
 * CNI plugins themselves in a throwaway network namespace.
 */
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { SUPPORTED_VERSIONS } from "../components/versions";
import {
    renderAuditPolicy,
    renderAdmissionConfig,
    renderAuthenticationConfig,
    renderChronyConf,
    renderCniConflist,
    renderContainerdConfig,
    containerdConfigVersion,
    renderContainerdHostsToml,
    renderEncryptionConfig,
    renderExports,
    renderHostsBlock,
    hostsBlockEntries,
    renderKubeconfig,
    stackKubeconfigName,
    renderKubeletConfig,
    renderKubeProxyConfig,
    renderModulesLoad,
    renderRegistryConfig,
    renderRegistryPushUnit,
    REGISTRY_PUSH,
    renderSchedulerConfig,
    renderSysctlConf,
    replaceHostsBlock,
    containerdHostsTomlPath,
    HOSTS_BLOCK_BEGIN,
    HOSTS_BLOCK_END,
    EVENT_RATE_LIMITS,
    KUBELET_EVENT_RATE,
} from "../components/render";
import { artifact, cleanup, parseToml, run, tempDir, testWhenBuilt, tool, writeUnder } from "./render-support";

/** The containerd releases of the supported-versions table. */
const CONTAINERD_RELEASES = [...new Set(SUPPORTED_VERSIONS.flatMap((r) => r.components.containerd.flat()))].sort();

const K8S_VERSION = "1.35.4";
/** The pause digest the containerd configs name (any sha256 will do for the renderer). */
const PAUSE_DIGEST = `sha256:${"cd".repeat(32)}`;

/**
 * Runs `<component> --config <file> --write-config-to <out>`: kube-proxy and kube-scheduler load
 * the file, default and validate it, write it back out and exit without serving anything. A
 * strict-decoding complaint (unknown field) is only logged by kube-proxy, so the log is checked too.
 */
function writeConfigTo(binary: string, config: string, dir: string): ReturnType<typeof run> {
    const file = writeUnder(dir, "/component-config.yaml", config);
    return run(binary, ["--config", file, "--write-config-to", `${dir}/written.yaml`]);
}

const ENCRYPTION_KEY = Buffer.alloc(32, 7).toString("base64");

describe("kubelet config", () => {
    const base = { clusterDns: "10.96.0.10", clusterDomain: "cluster.local", podCidr: "10.244.31.0/24" };

    test("secure defaults: no anonymous, webhook authn/authz, client CA, no read-only port", () => {
        expect(yaml.load(renderKubeletConfig(base))).toEqual({
            apiVersion: "kubelet.config.k8s.io/v1beta1",
            kind: "KubeletConfiguration",
            authentication: {
                anonymous: { enabled: false },
                webhook: { enabled: true },
                x509: { clientCAFile: "/etc/kubernetes/pki/ca.crt" },
            },
            authorization: { mode: "Webhook" },
            readOnlyPort: 0,
            rotateCertificates: true,
            serverTLSBootstrap: false,
            tlsCertFile: "/etc/kubernetes/pki/kubelet-serving.crt",
            tlsPrivateKeyFile: "/etc/kubernetes/pki/kubelet-serving.key",
            clusterDNS: ["10.96.0.10"],
            clusterDomain: "cluster.local",
            podCIDR: "10.244.31.0/24",
            resolvConf: "/etc/resolv.conf",
            containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock",
            cgroupDriver: "cgroupfs",
            cgroupsPerQOS: true,
            enforceNodeAllocatable: ["pods"],
            failCgroupV1: true,
            failSwapOn: true,
            protectKernelDefaults: true,
            seccompDefault: true,
            podPidsLimit: 4096,
            tlsMinVersion: "VersionTLS12",
            tlsCipherSuites: [
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            ],
            eventRecordQPS: 50,
            eventBurst: 100,
            serializeImagePulls: true,
            localStorageCapacityIsolation: true,
            kernelMemcgNotification: false,
        });
    });

    test("the container (systemd-nspawn) settings are parameters", () => {
        const doc = yaml.load(
            renderKubeletConfig({
                ...base,
                cgroupDriver: "systemd",
                failCgroupV1: false,
                failSwapOn: false,
                resolvConf: "/run/systemd/resolve/resolv.conf",
                localStorageCapacityIsolation: false,
                kernelMemcgNotification: false,
                cgroupsPerQOS: false,
                enforceNodeAllocatable: [],
                cgroupRoot: "/kubelet",
                evictionHard: { "nodefs.available": "0%", "imagefs.available": "0%" },
                protectKernelDefaults: false,
                podPidsLimit: 1024,
            }),
        ) as Record<string, unknown>;
        expect(doc).toMatchObject({
            protectKernelDefaults: false,
            podPidsLimit: 1024,
            cgroupDriver: "systemd",
            failCgroupV1: false,
            failSwapOn: false,
            resolvConf: "/run/systemd/resolve/resolv.conf",
            localStorageCapacityIsolation: false,
            cgroupsPerQOS: false,
            enforceNodeAllocatable: [],
            cgroupRoot: "/kubelet",
        });
        // Sorted keys, so the same map always gives the same bytes.
        expect(Object.keys(doc.evictionHard as object)).toEqual(["imagefs.available", "nodefs.available"]);
    });

    test("bad input is refused", () => {
        expect(() => renderKubeletConfig({ ...base, podCidr: "10.244.31.0" })).toThrow('kubelet podCidr: "10.244.31.0" is not an IPv4 CIDR (a.b.c.d/n)');
        expect(() => renderKubeletConfig({ ...base, clusterDomain: "Cluster_Local" })).toThrow(/is not a DNS domain/);
        expect(() => renderKubeletConfig({ ...base, podPidsLimit: 10 })).toThrow(/kubelet podPidsLimit/);
    });
});

describe("kube-proxy config", () => {
    test("iptables mode, cluster CIDR, kubeconfig, conntrack left alone by default", () => {
        expect(yaml.load(renderKubeProxyConfig({ clusterCidr: "10.244.0.0/16", hostnameOverride: "w1" }))).toEqual({
            apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
            kind: "KubeProxyConfiguration",
            clientConnection: { kubeconfig: "/etc/kubernetes/kube-proxy.kubeconfig" },
            mode: "iptables",
            clusterCIDR: "10.244.0.0/16",
            hostnameOverride: "w1",
            conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
        });
    });

    test("conntrack settings are parameters and checked", () => {
        const doc = yaml.load(
            renderKubeProxyConfig({ clusterCidr: "10.244.0.0/16", conntrack: { maxPerCore: 32768, min: 131072, tcpEstablishedTimeout: "24h0m0s", tcpCloseWaitTimeout: "1h0m0s" } }),
        ) as { conntrack: unknown; hostnameOverride?: string };
        expect(doc.conntrack).toEqual({ maxPerCore: 32768, min: 131072, tcpEstablishedTimeout: "24h0m0s", tcpCloseWaitTimeout: "1h0m0s" });
        expect(doc.hostnameOverride).toBeUndefined();
        expect(() => renderKubeProxyConfig({ clusterCidr: "10.244.0.0/16", conntrack: { tcpEstablishedTimeout: "24 hours" } })).toThrow(/is not a Go duration/);
    });
});

const kubeProxy = artifact("kubernetes", "kube-proxy", K8S_VERSION);
testWhenBuilt(kubeProxy)(
    kubeProxy ? `kube-proxy ${K8S_VERSION} loads and validates its config (--write-config-to)` : "kube-proxy loads its config (skipped: Kubernetes not built under $K8S_HA_CACHE/artifacts/build)",
    () => {
        const dir = tempDir("kube-proxy");
        try {
            const r = writeConfigTo(kubeProxy ?? "", renderKubeProxyConfig({ clusterCidr: "10.244.0.0/16", hostnameOverride: "w1" }), dir);
            expect(r.stderr).toMatch(/Wrote configuration/);
            expect(r.stderr).not.toMatch(/strict decoding|failed validate|command failed/);
            expect(r.status).toBe(0);
            const bad = writeConfigTo(kubeProxy ?? "", renderKubeProxyConfig({ clusterCidr: "10.244.0.0/16" }).replace("mode: iptables", "mode: ipvsx"), dir);
            expect(bad.stderr).toMatch(/failed validate/);
        } finally {
            cleanup(dir);
        }
    },
);

describe("kubeconfig", () => {
    const ca = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
    const cert = "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
    const key = "-----BEGIN EC PRIVATE KEY-----\nS0VZ\n-----END EC PRIVATE KEY-----\n";
    const params = { server: "https://10.213.0.10:6443", caCertPem: ca, userName: "system:node:w1", clientCertPem: cert, clientKeyPem: key };

    test("certificates embedded as base64, one context that is current", () => {
        const b64 = (s: string): string => Buffer.from(s).toString("base64");
        expect(yaml.load(renderKubeconfig(params))).toEqual({
            apiVersion: "v1",
            kind: "Config",
            clusters: [{ name: "kubernetes", cluster: { server: "https://10.213.0.10:6443", "certificate-authority-data": b64(ca) } }],
            users: [{ name: "system:node:w1", user: { "client-certificate-data": b64(cert), "client-key-data": b64(key) } }],
            contexts: [{ name: "system:node:w1@kubernetes", context: { cluster: "kubernetes", user: "system:node:w1" } }],
            "current-context": "system:node:w1@kubernetes",
            preferences: {},
        });
    });

    test("a stack's output: cluster, user and context all k8s-ha-<stack>, so that stacks merge in one file", () => {
        const name = stackKubeconfigName("prod");
        expect(name).toBe("k8s-ha-prod");
        const doc = yaml.load(renderKubeconfig({ ...params, userName: name, clusterName: name, contextName: name })) as Record<string, unknown>;
        expect([doc.clusters, doc.users, doc.contexts, doc["current-context"]]).toEqual([
            [{ name, cluster: expect.any(Object) }],
            [{ name, user: expect.any(Object) }],
            [{ name, context: { cluster: name, user: name } }],
            name,
        ]);
        expect(() => stackKubeconfigName("a b")).toThrow('kubeconfig name of the stack: "k8s-ha-a b" must be letters');
        expect(() => renderKubeconfig({ ...params, contextName: "a b" })).toThrow('kubeconfig: contextName "a b" must be letters, digits or ":._@-"');
    });

    test("a PEM without its final newline gives the same bytes", () => {
        expect(renderKubeconfig({ ...params, clientKeyPem: key.trimEnd() })).toBe(renderKubeconfig(params));
    });

    test("bad input is refused without echoing the key", () => {
        let message = "";
        try {
            renderKubeconfig({ ...params, clientKeyPem: "not a key but secret" });
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message).toBe('kubeconfig: clientKeyPem is not a PEM "PRIVATE KEY" block');
        expect(() => renderKubeconfig({ ...params, server: "10.213.0.10:6443" })).toThrow(/must be an https URL/);
    });
});

describe("apiserver config files", () => {
    test("encryption: secretbox with the key, identity last", () => {
        expect(yaml.load(renderEncryptionConfig({ keys: [{ name: "key1", secret: ENCRYPTION_KEY }] }))).toEqual({
            apiVersion: "apiserver.config.k8s.io/v1",
            kind: "EncryptionConfiguration",
            resources: [{ resources: ["secrets"], providers: [{ secretbox: { keys: [{ name: "key1", secret: ENCRYPTION_KEY }] } }, { identity: {} }] }],
        });
        const aescbc = yaml.load(renderEncryptionConfig({ keys: [{ name: "key1", secret: ENCRYPTION_KEY }], provider: "aescbc" })) as { resources: { providers: object[] }[] };
        expect(Object.keys(aescbc.resources[0].providers[0])).toEqual(["aescbc"]);
    });

    test("encryption: a key that is not 32 bytes is refused without echoing it", () => {
        const short = Buffer.alloc(16, 1).toString("base64");
        let message = "";
        try {
            renderEncryptionConfig({ keys: [{ name: "key2", secret: short }] });
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message).toBe("encryption config: key key2 must be the base64 encoding of exactly 32 bytes");
        expect(() => renderEncryptionConfig({ keys: [{ name: "key1", secret: "not base64!" }] })).toThrow(/exactly 32 bytes/);
    });

    test("encryption: several keys, the writing one first, each name once", () => {
        const other = Buffer.alloc(32, 7).toString("base64");
        const two = yaml.load(renderEncryptionConfig({ keys: [{ name: "key2", secret: other }, { name: "key1", secret: ENCRYPTION_KEY }] })) as {
            resources: { providers: { secretbox?: { keys: { name: string }[] } }[] }[];
        };
        expect(two.resources[0].providers[0].secretbox?.keys.map((k) => k.name)).toEqual(["key2", "key1"]);
        expect(() => renderEncryptionConfig({ keys: [] })).toThrow("no key");
        expect(() => renderEncryptionConfig({ keys: [{ name: "key1", secret: other }, { name: "key1", secret: ENCRYPTION_KEY }] })).toThrow('key name "key1" appears twice');
    });

    test("audit: metadata only, health probes not logged", () => {
        expect(yaml.load(renderAuditPolicy())).toEqual({
            apiVersion: "audit.k8s.io/v1",
            kind: "Policy",
            omitStages: ["RequestReceived"],
            rules: [{ level: "None", nonResourceURLs: ["/healthz*", "/livez*", "/readyz*"] }, { level: "Metadata" }],
        });
        expect(renderAuditPolicy()).not.toMatch(/Request(Response)?\b(?!Received)/);
    });

    test("authentication: anonymous only on the health endpoints", () => {
        expect(yaml.load(renderAuthenticationConfig())).toEqual({
            apiVersion: "apiserver.config.k8s.io/v1",
            kind: "AuthenticationConfiguration",
            anonymous: { enabled: true, conditions: [{ path: "/livez" }, { path: "/readyz" }, { path: "/healthz" }] },
        });
        expect(yaml.load(renderAuthenticationConfig({ anonymousPaths: [] }))).toEqual({
            apiVersion: "apiserver.config.k8s.io/v1",
            kind: "AuthenticationConfiguration",
            anonymous: { enabled: false },
        });
    });

    test("admission: PodSecurity enforces baseline, audits and warns restricted, exempts kube-system only", () => {
        expect(yaml.load(renderAdmissionConfig())).toEqual({
            apiVersion: "apiserver.config.k8s.io/v1",
            kind: "AdmissionConfiguration",
            plugins: [
                {
                    name: "PodSecurity",
                    configuration: {
                        apiVersion: "pod-security.admission.config.k8s.io/v1",
                        kind: "PodSecurityConfiguration",
                        defaults: {
                            enforce: "baseline",
                            "enforce-version": "latest",
                            audit: "restricted",
                            "audit-version": "latest",
                            warn: "restricted",
                            "warn-version": "latest",
                        },
                        exemptions: { usernames: [], runtimeClasses: [], namespaces: ["kube-system"] },
                    },
                },
                {
                    name: "EventRateLimit",
                    configuration: {
                        apiVersion: "eventratelimit.admission.k8s.io/v1alpha1",
                        kind: "Configuration",
                        limits: [
                            { type: "Namespace", qps: 50, burst: 500 },
                            { type: "User", qps: 50, burst: 100 },
                        ],
                    },
                },
            ],
        });
        expect(() => renderAdmissionConfig({ exemptNamespaces: ["Kube_System"] })).toThrow('admission config: exempt namespace "Kube_System" is not a namespace name');
    });

    test("admission: EventRateLimit (CIS 1.2.9) per user at the kubelets' own event rate; its limits checked", () => {
        const user = EVENT_RATE_LIMITS.find((l) => l.type === "User");
        expect(user).toEqual({ type: "User", qps: KUBELET_EVENT_RATE.qps, burst: KUBELET_EVENT_RATE.burst });
        const kubelet = yaml.load(renderKubeletConfig({ clusterDns: "10.96.0.10", clusterDomain: "cluster.local", podCidr: "10.244.31.0/24" })) as Record<string, unknown>;
        expect([kubelet.eventRecordQPS, kubelet.eventBurst]).toEqual([50, 100]);
        const custom = yaml.load(renderAdmissionConfig({ eventRateLimits: [{ type: "SourceAndObject", qps: 5, burst: 20, cacheSize: 1000 }] })) as {
            plugins: { name: string; configuration: { limits: unknown[] } }[];
        };
        expect(custom.plugins[1].configuration.limits).toEqual([{ type: "SourceAndObject", qps: 5, burst: 20, cacheSize: 1000 }]);
        expect(() => renderAdmissionConfig({ eventRateLimits: [] })).toThrow("admission config: eventRateLimits is empty; the EventRateLimit plugin needs at least one limit");
        expect(() => renderAdmissionConfig({ eventRateLimits: [{ type: "User", qps: 0, burst: 10 }] })).toThrow("admission config: EventRateLimit User qps: 0 is not an integer in 1-100000");
        expect(() => renderAdmissionConfig({ eventRateLimits: [{ type: "User", qps: 1, burst: 1.5 }] })).toThrow("admission config: EventRateLimit User burst: 1.5 is not an integer in 1-1000000");
        expect(() =>
            renderAdmissionConfig({
                eventRateLimits: [
                    { type: "User", qps: 1, burst: 2 },
                    { type: "User", qps: 3, burst: 4 },
                ],
            }),
        ).toThrow("admission config: two EventRateLimit limits of type User; keep one");
    });

    test("scheduler: kubeconfig, leader election, no profiling", () => {
        expect(yaml.load(renderSchedulerConfig())).toEqual({
            apiVersion: "kubescheduler.config.k8s.io/v1",
            kind: "KubeSchedulerConfiguration",
            clientConnection: { kubeconfig: "/etc/kubernetes/scheduler.kubeconfig" },
            leaderElection: { leaderElect: true },
            enableProfiling: false,
            enableContentionProfiling: false,
        });
    });
});

const kubeScheduler = artifact("kubernetes", "kube-scheduler", K8S_VERSION);
testWhenBuilt(kubeScheduler)(
    kubeScheduler ? `kube-scheduler ${K8S_VERSION} loads its config (--write-config-to)` : "kube-scheduler loads its config (skipped: Kubernetes not built under $K8S_HA_CACHE/artifacts/build)",
    () => {
        const dir = tempDir("kube-scheduler");
        try {
            // The scheduler builds its client from clientConnection.kubeconfig before writing, so
            // that kubeconfig must parse: a throwaway self-signed certificate serves as CA and client.
            const key = `${dir}/client.key`;
            const crt = `${dir}/client.crt`;
            const ssl = run(tool("openssl"), ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=system:kube-scheduler"]);
            expect(ssl.status).toBe(0);
            const pem = fs.readFileSync(crt, "utf8");
            const kubeconfig = writeUnder(
                dir,
                "/scheduler.kubeconfig",
                renderKubeconfig({ server: "https://127.0.0.1:6443", caCertPem: pem, userName: "system:kube-scheduler", clientCertPem: pem, clientKeyPem: fs.readFileSync(key, "utf8") }),
            );
            const r = writeConfigTo(kubeScheduler ?? "", renderSchedulerConfig({ kubeconfig }), dir);
            expect(r.stderr).toMatch(/Wrote configuration/);
            expect(r.stderr).not.toMatch(/strict decoding|command failed/);
            expect(r.status).toBe(0);
            const bad = writeConfigTo(kubeScheduler ?? "", renderSchedulerConfig({ kubeconfig }).replace("enableProfiling", "enableProfilng"), dir);
            // klog quotes the error, so the inner quotes come escaped.
            expect(bad.stderr).toMatch(/strict decoding error: unknown field \\?"enableProfilng\\?"/);
            expect(bad.status).not.toBe(0);
        } finally {
            cleanup(dir);
        }
    },
);

describe("containerd", () => {
    const config = renderContainerdConfig({ pauseVersion: "3.10.1", pauseDigest: PAUSE_DIGEST, systemdCgroup: false });
    const images = "io.containerd.cri.v1.images";
    const runtime = "io.containerd.cri.v1.runtime";

    test("config version 3 for containerd 2.2 and earlier, 4 from 2.3 (which migrates a 3 with a warning at every start)", () => {
        expect([undefined, "2.2.9", "2.0.0", "2.3.0", "2.3.7", "3.0.1"].map(containerdConfigVersion)).toEqual([3, 3, 3, 4, 4, 4]);
        expect(renderContainerdConfig({ pauseVersion: "3.10.1", pauseDigest: PAUSE_DIGEST, systemdCgroup: false, containerdVersion: "2.3.7" })).toContain("\nversion = 4\n");
        expect(() => containerdConfigVersion("2.3")).toThrow(/not MAJOR.MINOR.PATCH/);
    });

    test("config.toml parses as TOML with the CRI settings in the version 3 plugin sections", () => {
        expect(parseToml(config)).toEqual({
            version: 3,
            root: "/var/lib/containerd",
            state: "/run/containerd",
            grpc: { address: "/run/containerd/containerd.sock" },
            plugins: {
                [images]: {
                    snapshotter: "overlayfs",
                    pinned_images: { sandbox: `registry.k8s.io/pause@${PAUSE_DIGEST}` },
                    registry: { config_path: "/etc/containerd/certs.d" },
                },
                [runtime]: {
                    containerd: {
                        default_runtime_name: "runc",
                        runtimes: { runc: { runtime_type: "io.containerd.runc.v2", options: { BinaryName: "/usr/local/sbin/runc", SystemdCgroup: false } } },
                    },
                    cni: { bin_dirs: ["/opt/cni/bin"], conf_dir: "/etc/cni/net.d" },
                },
            },
        });
        expect(config).not.toContain("restrict_oom_score_adj");
        expect(renderContainerdConfig({ pauseVersion: "3.10.1", pauseDigest: PAUSE_DIGEST, systemdCgroup: false, restrictOomScoreAdj: true })).toContain(
            "[plugins.'io.containerd.cri.v1.runtime']\n  restrict_oom_score_adj = true\n",
        );
        expect((parseToml(renderContainerdConfig({ pauseVersion: "3.10.1", pauseDigest: PAUSE_DIGEST, systemdCgroup: true })) as { plugins: Record<string, { containerd: { runtimes: { runc: { options: { SystemdCgroup: boolean } } } } }> }).plugins[runtime].containerd.runtimes.runc.options.SystemdCgroup).toBe(true);
    });

    test("hosts.toml sends pulls to the mirror under /v2/<registry>, pull+resolve only, cluster CA", () => {
        const hosts = renderContainerdHostsToml({ registry: "registry.k8s.io", mirrorHost: "10.213.0.41", mirrorPort: 5000 });
        expect(parseToml(hosts)).toEqual({
            server: "https://registry.k8s.io",
            host: {
                "https://10.213.0.41:5000/v2/registry.k8s.io": {
                    capabilities: ["pull", "resolve"],
                    override_path: true,
                    ca: "/etc/kubernetes/pki/ca.crt",
                },
            },
        });
        const docker = parseToml(renderContainerdHostsToml({ registry: "docker.io", mirrorHost: "10.213.0.41", mirrorPort: 5000 })) as { server: string; host: object };
        expect(docker.server).toBe("https://registry-1.docker.io");
        expect(Object.keys(docker.host)).toEqual(["https://10.213.0.41:5000/v2/docker.io"]);
        expect(containerdHostsTomlPath("docker.io")).toBe("/etc/containerd/certs.d/docker.io/hosts.toml");
    });

    // Each supported containerd release that is built here, with the config version it reads.
    for (const containerdVersion of CONTAINERD_RELEASES) {
    const containerd = artifact("containerd", "containerd", containerdVersion);
    testWhenBuilt(containerd)(
        containerd
            ? `containerd config dump (${containerd}) loads it without a warning and every section is a real plugin's`
            : `containerd ${containerdVersion} config dump (skipped: not built under $K8S_HA_CACHE/artifacts/build)`,
        () => {
            const dir = tempDir("containerd");
            try {
                // A pause image that is not containerd's default, to see our value land.
                const file = writeUnder(dir, "/config.toml", renderContainerdConfig({ pauseVersion: "9.9.9", pauseDigest: PAUSE_DIGEST, systemdCgroup: true, restrictOomScoreAdj: true, containerdVersion }));
                const r = run(containerd ?? "", ["--config", file, "config", "dump"]);
                expect(r.stderr).toBe("");
                expect(r.status).toBe(0);
                type Section = Record<string, unknown>;
                const dump = parseToml(r.stdout) as { plugins: Record<string, Section> };
                const img = dump.plugins[images] as { pinned_images: Section; registry: Section; max_concurrent_downloads?: number };
                expect(img.pinned_images.sandbox).toBe(`registry.k8s.io/pause@${PAUSE_DIGEST}`);
                expect(img.registry.config_path).toBe("/etc/containerd/certs.d");
                // Defaults merged in: the section belongs to a registered plugin, not a stray table.
                expect(img.max_concurrent_downloads).toBeDefined();
                const rt = dump.plugins[runtime] as { containerd: { runtimes: { runc: { options: Section } } }; cni: Section; enable_selinux?: boolean; restrict_oom_score_adj?: boolean };
                expect(rt.restrict_oom_score_adj).toBe(true);
                expect(rt.containerd.runtimes.runc.options).toMatchObject({ BinaryName: "/usr/local/sbin/runc", SystemdCgroup: true });
                expect(rt.cni).toMatchObject({ bin_dirs: ["/opt/cni/bin"], conf_dir: "/etc/cni/net.d" });
                expect(rt.enable_selinux).toBeDefined();
                // The checker really checks: an unknown key is reported.
                const bad = writeUnder(dir, "/bad.toml", renderContainerdConfig({ pauseVersion: "9.9.9", pauseDigest: PAUSE_DIGEST, systemdCgroup: true, containerdVersion }).replace("  conf_dir", "  conf_dirs"));
                expect(run(containerd ?? "", ["--config", bad, "config", "dump"]).stderr).toMatch(/unknown key/i);
            } finally {
                cleanup(dir);
            }
        },
    );
    }
});

/**
 * Runs the conflist's plugins as a runtime would (ADD in order with the previous result, then
 * DEL in reverse). Written to the temp dir and run with node inside the namespaces set up below.
 */
const CNI_RUNNER = `
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const [conflistFile, cniDir] = process.argv.slice(2);
const conflist = JSON.parse(fs.readFileSync(conflistFile, "utf8"));
const env = { ...process.env, CNI_CONTAINERID: "k8sha-render-test", CNI_NETNS: "/run/netns/k8sha-test", CNI_IFNAME: "eth0", CNI_PATH: cniDir };
function call(command, plugin, prevResult) {
    const conf = { cniVersion: conflist.cniVersion, name: conflist.name, ...plugin };
    if (prevResult !== undefined) conf.prevResult = prevResult;
    const r = spawnSync(path.join(cniDir, plugin.type), [], { input: JSON.stringify(conf), env: { ...env, CNI_COMMAND: command }, encoding: "utf8" });
    if (r.status !== 0) {
        process.stderr.write(command + " " + plugin.type + " failed (" + r.status + "): " + r.stdout + r.stderr + "\\n");
        process.exit(1);
    }
    return r.stdout.trim() === "" ? undefined : JSON.parse(r.stdout);
}
let result;
for (const plugin of conflist.plugins) result = call("ADD", plugin, result);
for (const plugin of [...conflist.plugins].reverse()) call("DEL", plugin, result);
process.stdout.write(JSON.stringify(result));
`;

describe("CNI conflist", () => {
    const conflist = renderCniConflist({ podCidr: "10.244.31.0/24" });

    test("bridge with host-local IPAM on the pod CIDR and a default route, then portmap", () => {
        expect(JSON.parse(conflist)).toEqual({
            cniVersion: "1.0.0",
            name: "k8s-ha",
            plugins: [
                {
                    type: "bridge",
                    bridge: "cni0",
                    isGateway: true,
                    ipMasq: true,
                    hairpinMode: true,
                    ipam: { type: "host-local", ranges: [[{ subnet: "10.244.31.0/24" }]], routes: [{ dst: "0.0.0.0/0" }] },
                },
                { type: "portmap", capabilities: { portMappings: true } },
            ],
        });
        expect(() => renderCniConflist({ podCidr: "10.244.31.0/24", bridge: "a-very-long-bridge-name" })).toThrow(/longer than the 15 characters/);
    });

    const bridge = artifact("cni", "bridge");
    testWhenBuilt(bridge)(
        bridge
            ? `the CNI plugins (${path.dirname(bridge)}) set up a pod with it, in a throwaway network namespace`
            : "the CNI plugins set up a pod with it (skipped: CNI plugins not built under $K8S_HA_CACHE/artifacts/build)",
        () => {
            const dir = tempDir("cni");
            try {
                const file = writeUnder(dir, "/10-k8s-ha.conflist", conflist);
                const runner = writeUnder(dir, "/run-cni.js", CNI_RUNNER);
                // A network and mount namespace of our own: the bridge, veths and iptables rules
                // live and die in it; tmpfs over /var/lib (host-local's allocations) and /run/netns
                // stay inside it too. Nothing is left on the machine when the command ends.
                const script = [
                    "set -eu",
                    "mount -t tmpfs k8sha-test /var/lib",
                    "mkdir -p /run/netns && mount -t tmpfs k8sha-test /run/netns",
                    "ip link set lo up",
                    "ip netns add k8sha-test",
                    'exec "$1" "$2" "$3" "$4"',
                ].join("\n");
                const r = run(tool("unshare"), ["--net", "--mount", "sh", "-c", script, "sh", process.execPath, runner, file, path.dirname(bridge ?? "")]);
                expect(r.stderr).toBe("");
                expect(r.status).toBe(0);
                const result = JSON.parse(r.stdout) as { cniVersion: string; ips: { address: string; gateway: string }[]; routes: { dst: string }[] };
                expect(result.cniVersion).toBe("1.0.0");
                expect(result.ips).toEqual([expect.objectContaining({ address: "10.244.31.2/24", gateway: "10.244.31.1" })]);
                expect(result.routes).toEqual([{ dst: "0.0.0.0/0" }]);
            } finally {
                cleanup(dir);
            }
        },
    );
});

describe("registry config", () => {
    test("proxy mode: TLS, filesystem storage, delete disabled, health, remote URL", () => {
        expect(yaml.load(renderRegistryConfig({ port: 5000, mode: "proxy", upstream: "http://10.213.0.1:5000" }))).toEqual({
            version: "0.1",
            log: { level: "info", formatter: "text" },
            storage: { filesystem: { rootdirectory: "/var/lib/docker-registry" }, delete: { enabled: false }, cache: { blobdescriptor: "inmemory" } },
            http: {
                addr: ":5000",
                tls: { certificate: "/etc/docker/registry/tls/registry.crt", key: "/etc/docker/registry/tls/registry.key" },
                headers: { "X-Content-Type-Options": ["nosniff"] },
            },
            health: { storagedriver: { enabled: true, interval: "10s", threshold: 3 } },
            proxy: { remoteurl: "http://10.213.0.1:5000" },
        });
    });

    test("preloaded mode has no proxy section; the upstream belongs to proxy mode only", () => {
        expect(yaml.load(renderRegistryConfig({ port: 5000, mode: "preloaded" }))).not.toHaveProperty("proxy");
        expect(() => renderRegistryConfig({ port: 5000, mode: "proxy" })).toThrow("registry: proxy mode needs upstream as an http(s) URL, got undefined");
        expect(() => renderRegistryConfig({ port: 5000, mode: "preloaded", upstream: "http://x" })).toThrow(/only used in proxy mode/);
    });

    test("preloaded: the nodes' endpoint is read-only and without credentials; the push endpoint needs htpasswd users", () => {
        const pull = yaml.load(renderRegistryConfig({ port: 5000, mode: "preloaded", readOnly: true })) as { storage: object; auth?: object };
        expect(pull.storage).toEqual({
            filesystem: { rootdirectory: "/var/lib/docker-registry" },
            delete: { enabled: false },
            cache: { blobdescriptor: "inmemory" },
            maintenance: { uploadpurging: { enabled: false }, readonly: { enabled: true } },
        });
        expect(pull).not.toHaveProperty("auth");
        const push = yaml.load(renderRegistryConfig({ port: 5001, mode: "preloaded", htpasswdFile: REGISTRY_PUSH.htpasswd })) as { storage: object; auth: object; http: { addr: string } };
        expect(push.auth).toEqual({ htpasswd: { realm: "k8s-ha image mirror (push)", path: "/etc/docker/registry/htpasswd" } });
        expect(push.storage).not.toHaveProperty("maintenance");
        expect(push.http.addr).toBe(":5001");
        expect(() => renderRegistryConfig({ port: 5000, mode: "proxy", upstream: "http://x", readOnly: true })).toThrow(/takes no pushes/);
        expect(() => renderRegistryConfig({ port: 5000, mode: "preloaded", readOnly: true, htpasswdFile: "/x" })).toThrow(/push endpoint only/);
        expect(renderRegistryPushUnit()).toContain("ExecStart=/usr/bin/docker-registry serve /etc/docker/registry/push.yml\n");
        expect(renderRegistryPushUnit()).toContain("User=docker-registry\n");
    });

    test.each([["proxy"], ["preloaded, read-only"], ["preloaded, push"]] as const)("docker-registry (Debian's distribution) parses the %s config", (variant) => {
        // `garbage-collect --dry-run` parses the whole config and opens the storage, then exits:
        // nothing listens. Storage points at a temp dir laid out like an empty registry.
        const dir = tempDir("registry");
        try {
            fs.mkdirSync(path.join(dir, "docker/registry/v2/repositories"), { recursive: true });
            fs.mkdirSync(path.join(dir, "docker/registry/v2/blobs"), { recursive: true });
            const mode = variant === "proxy" ? "proxy" : "preloaded";
            const cfg = renderRegistryConfig({
                port: 5000,
                mode,
                upstream: mode === "proxy" ? "http://10.213.0.1:5000" : undefined,
                storageDir: dir,
                readOnly: variant === "preloaded, read-only" || undefined,
                htpasswdFile: variant === "preloaded, push" ? path.join(dir, "htpasswd") : undefined,
            });
            const file = writeUnder(dir, "/config.yml", cfg);
            const r = run(tool("docker-registry"), ["garbage-collect", "--dry-run", file]);
            expect(r.stderr).toBe("");
            expect(r.status).toBe(0);
            const broken = writeUnder(dir, "/broken.yml", cfg.replace('version: "0.1"', 'version: "0.2"'));
            expect(run(tool("docker-registry"), ["garbage-collect", "--dry-run", broken]).status).not.toBe(0);
        } finally {
            cleanup(dir);
        }
    });
});

describe("NFS exports", () => {
    test("one line per export with the safe defaults, sorted by path", () => {
        expect(
            renderExports([
                { path: "/srv/nfs/k8s", clients: ["10.213.0.32", "10.213.0.31", "10.213.0.31"] },
                { path: "/srv/a", clients: ["10.0.0.0/8"], options: ["ro", "sync"] },
            ]),
        ).toBe(
            "# Rendered by k8s-ha. Changes here are overwritten.\n/srv/a 10.0.0.0/8(ro,sync)\n" +
                "/srv/nfs/k8s 10.213.0.31(rw,sync,root_squash,subtree_check) 10.213.0.32(rw,sync,root_squash,subtree_check)\n",
        );
        expect(() => renderExports([{ path: "/srv/with space", clients: ["10.0.0.0/8"] }])).toThrow(/absolute path without whitespace/);
        expect(() => renderExports([{ path: "/srv/x", clients: ["10.0.0.0/8"], options: ["rw", "bad option"] }])).toThrow(/not an exports\(5\) option/);
        expect(() => renderExports([{ path: "/srv/x", clients: [] }])).toThrow(/has no clients/);
        expect(() => renderExports([{ path: "/srv/x", clients: ["10.0.0.300"] }])).toThrow(/not an IPv4 CIDR/);
    });

    test("exportfs reads it and exports what it says", () => {
        // exportfs has no check-only mode. In a mount namespace of our own, the rendered file is
        // bind-mounted over /etc/exports (same syntax as /etc/exports.d/*.exports) and a temp dir
        // over /var/lib/nfs, so `exportfs -ra` parses it and writes its export table into the
        // temp dir only. No nfsd runs here, so nothing is exported to anyone.
        const dir = tempDir("exports");
        try {
            const exported = path.join(dir, "share");
            fs.mkdirSync(exported);
            fs.mkdirSync(path.join(dir, "state"));
            const file = writeUnder(dir, "/k8s-ha.exports", renderExports([{ path: exported, clients: ["10.213.0.31", "10.213.0.0/24"] }]));
            const exportfs = (f: string): ReturnType<typeof run> =>
                run(tool("unshare"), ["--mount", "sh", "-c", 'mount --bind "$1" /etc/exports && mount --bind "$2" /var/lib/nfs && "$3" -ra && cat /var/lib/nfs/etab', "sh", f, path.join(dir, "state"), tool("exportfs")]);
            const r = exportfs(file);
            expect(r.stderr).toBe("");
            expect(r.status).toBe(0);
            expect(r.stdout).toMatch(new RegExp(`^${exported}\\t10\\.213\\.0\\.0/24\\(rw,sync,.*root_squash,.*subtree_check`, "m"));
            expect(r.stdout).toMatch(new RegExp(`^${exported}\\t10\\.213\\.0\\.31\\(rw,sync,.*root_squash,.*subtree_check`, "m"));
            // The handle of every request is checked to lie in the export (exportfs writes "no_subtree_check" otherwise).
            expect(r.stdout).not.toContain("no_subtree_check");
            const broken = writeUnder(dir, "/broken.exports", fs.readFileSync(file, "utf8").replace("root_squash", "root_squish"));
            expect(exportfs(broken).stderr).toMatch(/unknown keyword "root_squish"/);
        } finally {
            cleanup(dir);
        }
    });
});

describe("OS files", () => {
    const hosts = [
        { name: "w1", address: "10.213.0.31" },
        { name: "cp1", address: "10.213.0.21" },
        { name: "lb1", address: "10.213.0.11" },
    ];

    test("/etc/hosts block: markers, sorted by name", () => {
        expect(renderHostsBlock(hosts)).toBe(`${HOSTS_BLOCK_BEGIN}\n10.213.0.21 cp1\n10.213.0.11 lb1\n10.213.0.31 w1\n${HOSTS_BLOCK_END}\n`);
        expect(renderHostsBlock([...hosts].reverse())).toBe(renderHostsBlock(hosts));
    });

    test("/etc/hosts block of a host: the hosts with a role besides worker, and itself", () => {
        const cluster = [
            { name: "cp1", address: "10.213.0.21", roles: ["etcd", "control-plane"] },
            { name: "lb1", address: "10.213.0.11", roles: ["lb"] },
            { name: "w1", address: "10.213.0.31", roles: ["worker"] },
            { name: "w2", address: "10.213.0.32", roles: ["worker"] },
            { name: "hybrid", address: "10.213.0.40", roles: ["worker", "mirror"] },
        ];
        const names = (self: string) => hostsBlockEntries(self, cluster).map((h) => h.name);
        expect(names("w1")).toEqual(["cp1", "lb1", "w1", "hybrid"]);
        expect(names("cp1")).toEqual(["cp1", "lb1", "hybrid"]);
        // A worker's arrival changes no other host's block.
        const more = [...cluster, { name: "w3", address: "10.213.0.33", roles: ["worker"] }];
        for (const self of ["cp1", "lb1", "w1", "w2", "hybrid"]) {
            expect(renderHostsBlock(hostsBlockEntries(self, more))).toBe(renderHostsBlock(hostsBlockEntries(self, cluster)));
        }
    });

    test("/etc/hosts block: appended once, then replaced in place, the rest kept", () => {
        const original = "127.0.0.1 localhost\n::1 localhost\n";
        const once = replaceHostsBlock(original, renderHostsBlock(hosts));
        expect(once).toBe(original + renderHostsBlock(hosts));
        expect(replaceHostsBlock(once, renderHostsBlock(hosts))).toBe(once);
        const changed = replaceHostsBlock(once + "10.0.0.1 other\n", renderHostsBlock(hosts.slice(0, 1)));
        expect(changed).toBe(`${original}${HOSTS_BLOCK_BEGIN}\n10.213.0.31 w1\n${HOSTS_BLOCK_END}\n10.0.0.1 other\n`);
        expect(replaceHostsBlock("no newline", renderHostsBlock(hosts))).toBe("no newline\n" + renderHostsBlock(hosts));
    });

    test("sysctl and modules-load", () => {
        expect(renderSysctlConf().split("\n").slice(1)).toEqual(["net.ipv4.ip_forward = 1", "net.bridge.bridge-nf-call-iptables = 1", "net.bridge.bridge-nf-call-ip6tables = 1", ""]);
        // Workers also get the tunables a kubelet with protectKernelDefaults expects.
        expect(renderSysctlConf({ kubeletKernelDefaults: true }).split("\n").slice(4)).toEqual([
            "vm.overcommit_memory = 1",
            "vm.panic_on_oom = 0",
            "kernel.panic = 10",
            "kernel.panic_on_oops = 1",
            "kernel.keys.root_maxkeys = 1000000",
            "kernel.keys.root_maxbytes = 25000000",
            "",
        ]);
        expect(renderModulesLoad().split("\n").slice(1)).toEqual(["overlay", "br_netfilter", ""]);
    });

    test("chrony: servers in iburst, optional allow and local stratum; nothing invented for an empty list", () => {
        expect(renderChronyConf({ servers: ["10.213.0.1", "pool.ntp.org"] }).split("\n").slice(1)).toEqual([
            "server 10.213.0.1 iburst",
            "server pool.ntp.org iburst",
            "driftfile /var/lib/chrony/chrony.drift",
            "makestep 1 3",
            "rtcsync",
            "",
        ]);
        const empty = renderChronyConf({ servers: [] });
        expect(empty).not.toMatch(/^(server|pool|local)/m);
        expect(renderChronyConf({ servers: [], allow: ["10.213.0.0/24"], localStratum: 10 })).toMatch(/\nallow 10\.213\.0\.0\/24\nlocal stratum 10\n$/);
        expect(() => renderChronyConf({ servers: ["bad host"] })).toThrow(/is not a host name or address/);
    });

    test.each([
        ["servers", { servers: ["10.213.0.1", "pool.ntp.org"] }],
        ["no servers", { servers: [] }],
        ["local server", { servers: [], allow: ["10.213.0.0/24"], localStratum: 10 }],
    ])("chronyd -p parses the config with %s", (_name, params) => {
        // `chronyd -p` prints the parsed configuration and exits without touching the clock.
        const dir = tempDir("chrony");
        try {
            const file = writeUnder(dir, "/chrony.conf", renderChronyConf(params));
            const r = run(tool("chronyd"), ["-p", "-f", file]);
            expect(r.stderr).toBe("");
            expect(r.status).toBe(0);
            const broken = writeUnder(dir, "/broken.conf", renderChronyConf(params).replace("makestep", "makesteps"));
            expect(run(tool("chronyd"), ["-p", "-f", broken]).status).not.toBe(0);
        } finally {
            cleanup(dir);
        }
    });
});
