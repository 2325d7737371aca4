/**
 * The systemd units and their flags. Every unit goes through `systemd-analyze verify` in a
 * throwaway root (see `systemdRoot`), which parses it exactly as systemd would and checks that
 * each Exec path exists there. This container does not run systemd as PID 1, and verify does
 * not need it: `--root` points it at the temp tree only.
 *
 * When scripts/artifacts.sh has built the real binaries, each daemon is also started with the
 * rendered flags plus `--version`: flags are parsed before the version is printed, so an unknown
 * or mistyped flag, or a value of the wrong type, makes it fail. Without that build these checks
 * are skipped (their names say so).
 */
import {
    apiServerFlags,
    BINARIES,
    controllerManagerFlags,
    etcdFlags,
    etcdInitialCluster,
    kubeletFlags,
    renderApiServerUnit,
    renderContainerdUnit,
    renderControllerManagerUnit,
    renderEtcdUnit,
    renderKubeletUnit,
    renderKubeProxyUnit,
    renderPodRoutesUnit,
    renderEtcdBackupAuthorizedKey,
    renderEtcdBackupStoreEnv,
    renderEtcdSnapshotEnv,
    renderEtcdSnapshotService,
    renderEtcdSnapshotTimer,
    renderSchedulerUnit,
    renderServiceUnit,
    schedulerFlags,
    quoteArg,
    flagArgs,
    type ApiServerUnitParams,
    type EtcdUnitParams,
} from "../components/render";
import { artifact, cleanup, run, systemdRoot, systemdVerify, testWhenBuilt, writeUnder } from "./render-support";

const MEMBERS = [
    { name: "cp3", address: "10.213.0.23" },
    { name: "cp1", address: "10.213.0.21" },
    { name: "cp2", address: "10.213.0.22" },
];

const ETCD: EtcdUnitParams = { name: "cp1", address: "10.213.0.21", members: MEMBERS, clusterToken: "k8s-ha-dev" };

const APISERVER: ApiServerUnitParams = {
    advertiseAddress: "10.213.0.21",
    etcdMembers: MEMBERS,
    serviceCidr: "10.96.0.0/12",
    serviceAccountIssuer: "https://10.213.0.10:6443",
};

const CONTROLLER_MANAGER = { podCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12" };
const KUBELET = { nodeName: "w1", nodeIp: "10.213.0.31" };
const ROUTES = {
    routes: [
        { podCidr: "10.244.32.0/24", via: "10.213.0.32" },
        { podCidr: "10.244.31.0/24", via: "10.213.0.31" },
    ],
    selfAddress: "10.213.0.31",
};

/** Every unit k8s-ha writes, by file name. */
const UNITS: Record<string, string> = {
    "etcd.service": renderEtcdUnit(ETCD),
    "kube-apiserver.service": renderApiServerUnit(APISERVER),
    "kube-controller-manager.service": renderControllerManagerUnit(CONTROLLER_MANAGER),
    "kube-scheduler.service": renderSchedulerUnit(),
    "kubelet.service": renderKubeletUnit(KUBELET),
    "kube-proxy.service": renderKubeProxyUnit(),
    "containerd.service": renderContainerdUnit(),
    "k8s-ha-pod-routes.service": renderPodRoutesUnit(ROUTES),
};

/** The executables of the fixed host layout, plus the system tools the units call. */
const EXECUTABLES = [...Object.values(BINARIES), "/usr/sbin/modprobe", "/usr/sbin/ip", "/bin/true", "/bin/bash"];

const SNAPSHOT = { host: "cp1", store: { name: "nfs", user: "root", address: "10.213.0.51", port: 22 }, storeKeyPinned: true, keep: 48, schedule: "*-*-* 02:30" };

describe("systemd-analyze verify", () => {
    let root: string;
    beforeAll(() => {
        root = systemdRoot(EXECUTABLES);
        for (const [name, text] of Object.entries(UNITS)) {
            writeUnder(root, `/etc/systemd/system/${name}`, text);
        }
    });
    afterAll(() => cleanup(root));

    test.each(Object.keys(UNITS).map((n) => [n]))("%s is accepted without a warning", (name) => {
        const r = systemdVerify(root, [name]);
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
    });

    test("a pod-routes unit without routes (single node) is still a valid oneshot", () => {
        writeUnder(root, "/etc/systemd/system/k8s-ha-empty-routes.service", renderPodRoutesUnit({ routes: [] }));
        const r = systemdVerify(root, ["k8s-ha-empty-routes.service"]);
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
    });

    test("the scheduled etcd snapshot: a oneshot service and its timer on each member, accepted without a warning", () => {
        writeUnder(root, "/etc/systemd/system/k8s-ha-etcd-snapshot.service", renderEtcdSnapshotService());
        writeUnder(root, "/etc/systemd/system/k8s-ha-etcd-snapshot.timer", renderEtcdSnapshotTimer(SNAPSHOT));
        const r = systemdVerify(root, ["k8s-ha-etcd-snapshot.timer", "k8s-ha-etcd-snapshot.service"]);
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(renderEtcdSnapshotTimer(SNAPSHOT)).toContain("\n[Timer]\nOnCalendar=*-*-* 02:30\nPersistent=yes\nRandomizedDelaySec=60\n\n[Install]\nWantedBy=timers.target\n");
        expect(renderEtcdSnapshotService()).toContain("EnvironmentFile=/etc/k8s-ha/etcd-snapshot.env\n");
        expect(renderEtcdSnapshotService()).toContain("ExecStart=/bin/bash /usr/local/lib/k8s-ha/etcd-snapshot/snapshot.sh\n");
        // The member's own client over 127.0.0.1; the keys by path only; the backup host by address.
        expect(renderEtcdSnapshotEnv(SNAPSHOT)).toBe(
            [
                "# Rendered by k8s-ha. Changes here are overwritten.",
                "HOST=cp1",
                "ETCDCTL=/usr/local/bin/etcdctl",
                "ETCDUTL=/usr/local/bin/etcdutl",
                "ETCD_ENDPOINT=https://127.0.0.1:2379",
                "ETCD_CACERT=/etc/etcd/pki/ca.crt",
                "ETCD_CERT=/etc/etcd/pki/healthcheck-client.crt",
                "ETCD_KEY=/etc/etcd/pki/healthcheck-client.key",
                "WORK_DIR=/var/backups/k8s-ha/etcd",
                "CIPHER=aes-256-cbc",
                "KDF_DIGEST=sha256",
                "KDF_ITER=200000",
                "ENCRYPTION_KEY=/etc/k8s-ha/etcd-snapshot/encryption.key",
                "SIGNING_KEY=/etc/k8s-ha/etcd-snapshot/signing.key",
                "SSH_KEY=/etc/k8s-ha/etcd-snapshot/ssh.key",
                "KNOWN_HOSTS=/etc/k8s-ha/etcd-snapshot/known_hosts",
                "HOST_KEY_CHECK=yes",
                "STORE_HOST=nfs",
                "STORE=root@10.213.0.51",
                "STORE_PORT=22",
                "",
            ].join("\n"),
        );
        expect(renderEtcdBackupStoreEnv({ host: "nfs", keep: 48 })).toBe(
            "# Rendered by k8s-ha. Changes here are overwritten.\nHOST=nfs\nDIR=/var/backups/k8s-ha/etcd\nKEEP=48\nVERIFY_KEY=/etc/k8s-ha/etcd-backup/verify.pem\n",
        );
        expect(() => renderEtcdSnapshotEnv({ ...SNAPSHOT, store: { ...SNAPSHOT.store, user: "a b" } })).toThrow('etcd backup: STORE "a b@10.213.0.51" has characters an environment file would mangle');
        expect(() => renderEtcdSnapshotTimer({ ...SNAPSHOT, schedule: "daily\nExecStart=/bin/sh" })).toThrow("control character");
        expect(() => renderEtcdBackupStoreEnv({ host: "nfs", keep: 0 })).toThrow("keep must be a whole number of at least 1, got 0");
    });

    test("the members' key on the backup host: from their addresses only, restricted, forced to the store's receive (through sudo for another user)", () => {
        const publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMembers\n";
        const from = ["10.213.0.21", "10.213.0.22"];
        expect(renderEtcdBackupAuthorizedKey({ publicKey, from, user: "root" })).toBe(
            'from="10.213.0.21,10.213.0.22",restrict,command="/bin/bash /usr/local/lib/k8s-ha/etcd-backup/store.sh receive /etc/k8s-ha/etcd-backup.env" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMembers k8s-ha-etcd-backup\n',
        );
        expect(renderEtcdBackupAuthorizedKey({ publicKey, from, user: "debian" })).toContain(',command="sudo -n /bin/bash /usr/local/lib/k8s-ha/etcd-backup/store.sh receive ');
        expect(() => renderEtcdBackupAuthorizedKey({ publicKey: "ssh-rsa AAAA", from, user: "root" })).toThrow("not an ssh-ed25519 public key");
        expect(() => renderEtcdBackupAuthorizedKey({ publicKey, from: ['1.2.3.4",command="sh'], user: "root" })).toThrow("is not an IPv4 address");
    });

    test("verify really checks: an unknown key and a binary outside the layout are reported", () => {
        writeUnder(root, "/etc/systemd/system/k8s-ha-broken.service", UNITS["kube-proxy.service"].replace("RestartSec=", "RestartSecond="));
        expect(systemdVerify(root, ["k8s-ha-broken.service"]).stderr).toMatch(/Unknown key 'RestartSecond'/);
        writeUnder(root, "/etc/systemd/system/k8s-ha-broken2.service", UNITS["kube-proxy.service"].replace("/usr/local/bin/kube-proxy", "/usr/bin/kube-proxy"));
        const r = systemdVerify(root, ["k8s-ha-broken2.service"]);
        expect(r.stderr).toMatch(/Command \/usr\/bin\/kube-proxy is not executable/);
        expect(r.status).not.toBe(0);
    });
});

describe("unit contents", () => {
    test("every unit restarts on its own and is enabled for multi-user.target", () => {
        for (const [name, text] of Object.entries(UNITS)) {
            if (name === "k8s-ha-pod-routes.service") {
                expect(text).toContain("Type=oneshot\nRemainAfterExit=yes");
            } else {
                expect(text).toMatch(/\nRestart=always\nRestartSec=\d+\n/);
            }
            expect(text).toContain("\n[Install]\nWantedBy=multi-user.target\n");
        }
    });

    test("rendering is deterministic: member order does not matter", () => {
        expect(renderEtcdUnit({ ...ETCD, members: [...MEMBERS].reverse() })).toBe(UNITS["etcd.service"]);
        expect(renderApiServerUnit({ ...APISERVER, etcdMembers: [...MEMBERS].reverse() })).toBe(UNITS["kube-apiserver.service"]);
    });

    test("containerd: delegated cgroups, only the daemon killed on restart, no limits", () => {
        const u = UNITS["containerd.service"];
        for (const line of [
            "Type=notify",
            "ExecStartPre=-/usr/sbin/modprobe overlay",
            "ExecStart=/usr/local/bin/containerd",
            "Delegate=yes",
            "KillMode=process",
            "LimitNOFILE=infinity",
            "LimitNPROC=infinity",
            "LimitCORE=infinity",
            "TasksMax=infinity",
            "OOMScoreAdjust=-999",
        ]) {
            expect(u.split("\n")).toContain(line);
        }
        expect(renderContainerdUnit({ oomScoreAdjust: 0 })).not.toContain("OOMScoreAdjust");
    });

    test("pod routes: one replace per other node, sorted, removed on stop, none via itself", () => {
        const u = UNITS["k8s-ha-pod-routes.service"];
        expect(u).toContain("ExecStart=/usr/sbin/ip route replace 10.244.32.0/24 via 10.213.0.32\n");
        expect(u).toContain("ExecStop=-/usr/sbin/ip route del 10.244.32.0/24 via 10.213.0.32\n");
        expect(u).not.toContain("10.213.0.31");
    });
});

describe("etcd flags", () => {
    const flags = etcdFlags(ETCD);

    test("the initial cluster lists every member by name, sorted", () => {
        expect(etcdInitialCluster(MEMBERS)).toBe("cp1=https://10.213.0.21:2380,cp2=https://10.213.0.22:2380,cp3=https://10.213.0.23:2380");
    });

    test("TLS everywhere with client and peer certificate auth, no auto-TLS", () => {
        expect(flags).toEqual([
            "--advertise-client-urls=https://10.213.0.21:2379",
            "--auto-tls=false",
            "--cert-file=/etc/etcd/pki/server.crt",
            "--cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "--client-cert-auth=true",
            "--data-dir=/var/lib/etcd",
            "--initial-advertise-peer-urls=https://10.213.0.21:2380",
            "--initial-cluster=cp1=https://10.213.0.21:2380,cp2=https://10.213.0.22:2380,cp3=https://10.213.0.23:2380",
            "--initial-cluster-state=new",
            "--initial-cluster-token=k8s-ha-dev",
            "--key-file=/etc/etcd/pki/server.key",
            "--listen-client-urls=https://10.213.0.21:2379,https://127.0.0.1:2379",
            "--listen-metrics-urls=http://127.0.0.1:2381",
            "--listen-peer-urls=https://10.213.0.21:2380",
            "--name=cp1",
            "--peer-auto-tls=false",
            "--peer-cert-file=/etc/etcd/pki/peer.crt",
            "--peer-client-cert-auth=true",
            "--peer-key-file=/etc/etcd/pki/peer.key",
            "--peer-trusted-ca-file=/etc/etcd/pki/ca.crt",
            "--tls-min-version=TLS1.2",
            "--trusted-ca-file=/etc/etcd/pki/ca.crt",
        ]);
        expect(UNITS["etcd.service"]).toContain("Type=notify\n");
        // Tuning appears only when the stack gives it; etcd's defaults otherwise.
        expect(flags.some((f) => /quota|heartbeat|election|snapshot-count/.test(f))).toBe(false);
        expect(etcdFlags({ ...ETCD, tuning: { quotaBackendBytes: 4294967296, heartbeatIntervalMs: 250, electionTimeoutMs: 2500, snapshotCount: 50000 } })).toEqual(
            expect.arrayContaining(["--quota-backend-bytes=4294967296", "--heartbeat-interval=250", "--election-timeout=2500", "--snapshot-count=50000"]),
        );
        // Its own user, not root (CIS 1.1.12); the host script creates it and hands it the data directory.
        expect(UNITS["etcd.service"]).toContain("User=etcd\nGroup=etcd\n");
    });

    test("a member that is not in the member list is refused", () => {
        expect(() => etcdFlags({ ...ETCD, name: "cp9" })).toThrow('etcd: member "cp9" is not in members (cp1, cp2, cp3)');
        expect(() => etcdFlags({ ...ETCD, address: "10.213.0.99" })).toThrow('etcd: member "cp1" has address 10.213.0.21 in members but 10.213.0.99 was given');
        expect(() => etcdFlags({ ...ETCD, members: [...MEMBERS, { name: "cp1", address: "10.213.0.29" }] })).toThrow('etcd member name: "cp1" occurs more than once');
    });
});

describe("control-plane flags", () => {
    test("kube-apiserver", () => {
        expect(apiServerFlags(APISERVER)).toEqual([
            "--admission-control-config-file=/etc/kubernetes/admission-config.yaml",
            "--advertise-address=10.213.0.21",
            "--allow-privileged=true",
            "--audit-log-maxage=30",
            "--audit-log-maxbackup=10",
            "--audit-log-maxsize=100",
            "--audit-log-path=/var/log/kubernetes/audit.log",
            "--audit-policy-file=/etc/kubernetes/audit-policy.yaml",
            "--authentication-config=/etc/kubernetes/authentication-config.yaml",
            "--authorization-mode=Node,RBAC",
            "--client-ca-file=/etc/kubernetes/pki/ca.crt",
            "--enable-admission-plugins=NodeRestriction,DenyServiceExternalIPs,EventRateLimit",
            "--encryption-provider-config=/etc/kubernetes/encryption-config.yaml",
            "--etcd-cafile=/etc/kubernetes/pki/etcd-ca.crt",
            "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
            "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key",
            "--etcd-servers=https://10.213.0.21:2379,https://10.213.0.22:2379,https://10.213.0.23:2379",
            "--kubelet-certificate-authority=/etc/kubernetes/pki/kubelet-ca.crt",
            "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
            "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            "--profiling=false",
            "--secure-port=6443",
            "--service-account-extend-token-expiration=false",
            "--service-account-issuer=https://10.213.0.10:6443",
            "--service-account-key-file=/etc/kubernetes/pki/sa.pub",
            "--service-account-signing-key-file=/etc/kubernetes/pki/sa.key",
            "--service-cluster-ip-range=10.96.0.0/12",
            "--shutdown-delay-duration=5s",
            "--shutdown-send-retry-after=true",
            "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
            "--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "--tls-min-version=VersionTLS12",
            "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
        ]);
    });

    test("kube-apiserver never gets --anonymous-auth next to --authentication-config", () => {
        expect(UNITS["kube-apiserver.service"]).not.toContain("anonymous-auth");
        expect(() => apiServerFlags({ ...APISERVER, extraFlags: { "anonymous-auth": false } })).toThrow(/--anonymous-auth cannot be combined/);
    });

    test("kube-apiserver refuses an issuer that is not the https endpoint", () => {
        expect(() => apiServerFlags({ ...APISERVER, serviceAccountIssuer: "10.213.0.10:6443" })).toThrow(/serviceAccountIssuer "10.213.0.10:6443" must be an https URL/);
    });

    test("kube-controller-manager", () => {
        expect(controllerManagerFlags(CONTROLLER_MANAGER)).toEqual([
            "--allocate-node-cidrs=false",
            "--authentication-kubeconfig=/etc/kubernetes/controller-manager.kubeconfig",
            "--authorization-kubeconfig=/etc/kubernetes/controller-manager.kubeconfig",
            "--bind-address=127.0.0.1",
            "--cluster-cidr=10.244.0.0/16",
            "--cluster-name=kubernetes",
            "--cluster-signing-kubelet-client-cert-file=/etc/kubernetes/pki/ca.crt",
            "--cluster-signing-kubelet-client-key-file=/etc/kubernetes/pki/ca.key",
            "--cluster-signing-kubelet-serving-cert-file=/etc/kubernetes/pki/kubelet-ca.crt",
            "--cluster-signing-kubelet-serving-key-file=/etc/kubernetes/pki/kubelet-ca.key",
            "--kubeconfig=/etc/kubernetes/controller-manager.kubeconfig",
            "--leader-elect=true",
            "--profiling=false",
            "--root-ca-file=/etc/kubernetes/pki/ca.crt",
            "--service-account-private-key-file=/etc/kubernetes/pki/sa.key",
            "--service-cluster-ip-range=10.96.0.0/12",
            "--terminated-pod-gc-threshold=1000",
            "--use-service-account-credentials=true",
        ]);
    });

    test("kube-scheduler: config file, localhost only", () => {
        expect(schedulerFlags()).toEqual([
            "--authentication-kubeconfig=/etc/kubernetes/scheduler.kubeconfig",
            "--authorization-kubeconfig=/etc/kubernetes/scheduler.kubeconfig",
            "--bind-address=127.0.0.1",
            "--config=/etc/kubernetes/scheduler-config.yaml",
        ]);
    });

    test("kubelet: config file, kubeconfig, node name and IP", () => {
        expect(kubeletFlags(KUBELET)).toEqual([
            "--config=/etc/kubernetes/kubelet-config.yaml",
            "--hostname-override=w1",
            "--kubeconfig=/etc/kubernetes/kubelet.kubeconfig",
            "--node-ip=10.213.0.31",
        ]);
        expect(UNITS["kubelet.service"]).toContain("Requires=containerd.service\nAfter=network-online.target containerd.service\n");
    });
});

describe("systemd quoting", () => {
    test("specifiers, variables, spaces and quotes are escaped", () => {
        expect(quoteArg("--x=50%")).toBe("--x=50%%");
        expect(quoteArg("$HOME")).toBe("$$HOME");
        expect(quoteArg("a b")).toBe('"a b"');
        expect(quoteArg('say "hi"\\')).toBe('"say \\"hi\\"\\\\"');
        expect(quoteArg("")).toBe('""');
        expect(() => quoteArg("a\nb")).toThrow(/control character/);
    });

    test("flags are sorted by name and undefined ones left out", () => {
        expect(flagArgs({ b: 1, a: true, c: undefined, d: ["x", "y"] })).toEqual(["--a=true", "--b=1", "--d=x,y"]);
        expect(() => flagArgs({ "--bad": 1 })).toThrow(/flag name "--bad"/);
    });

    test("systemd-analyze verify accepts an argument that needs quoting", () => {
        const root = systemdRoot(["/usr/local/bin/tool"]);
        try {
            writeUnder(
                root,
                "/etc/systemd/system/k8s-ha-quoting.service",
                renderServiceUnit({ description: "quoting", type: "simple", execStart: [{ path: "/usr/local/bin/tool", args: ["a b", "50%", "$X", 'q"'] }] }),
            );
            const r = systemdVerify(root, ["k8s-ha-quoting.service"]);
            expect(r.stdout + r.stderr).toBe("");
        } finally {
            cleanup(root);
        }
    });

    test("several ExecStart lines only for oneshot units", () => {
        expect(() => renderServiceUnit({ description: "x", type: "simple", execStart: [{ path: "/bin/true" }, { path: "/bin/true" }] })).toThrow(/only a oneshot unit/);
    });
});

/**
 * Runs `<binary> <flags> --version`. Kubernetes components and etcd parse every flag before they
 * act on `--version`, so this exits 0 only when all flag names and value types are valid for the
 * built version.
 */
function flagsAccepted(binary: string, flags: readonly string[]): void {
    const r = run(binary, [...flags, "--version"]);
    expect(r.stderr).not.toMatch(/unknown flag|invalid argument|flag provided but not defined/);
    expect(r.status).toBe(0);
}

const K8S_VERSION = "1.35.4";
const kubeBinary = (name: string): string | undefined => artifact("kubernetes", name, K8S_VERSION);

describe("flags accepted by the real binaries (from scripts/artifacts.sh)", () => {
    const cases: [string, string | undefined, string[]][] = [
        ["kube-apiserver", kubeBinary("kube-apiserver"), apiServerFlags(APISERVER)],
        ["kube-controller-manager", kubeBinary("kube-controller-manager"), controllerManagerFlags(CONTROLLER_MANAGER)],
        ["kube-scheduler", kubeBinary("kube-scheduler"), schedulerFlags()],
        ["kubelet", kubeBinary("kubelet"), kubeletFlags(KUBELET)],
        ["kube-proxy", kubeBinary("kube-proxy"), ["--config=/etc/kubernetes/kube-proxy-config.yaml"]],
        ["etcd", artifact("etcd", "etcd"), etcdFlags(ETCD)],
    ];
    for (const [name, binary, flags] of cases) {
        const title = binary ? `${name} ${binary}` : `${name} (skipped: not built under $K8S_HA_CACHE/artifacts/build)`;
        testWhenBuilt(binary)(title, () => flagsAccepted(binary ?? "", flags));
    }
});
