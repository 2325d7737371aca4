import { validateConfig } from "../components/validate";
import { DEFAULTS, RawConfig, Versions } from "../components/config";
import { pinnedArtifact } from "../components/urls";
import { COMPONENTS, SUPPORTED_VERSIONS } from "../components/versions";
import { fakeChecksums, fakeSha256, hostsOf, labConfig, problemsOf } from "./fixtures";

describe("validateConfig", () => {
    test("accepts the lab config and fills defaults", () => {
        const c = validateConfig(labConfig());
        expect(c.hosts.map((h) => h.name)).toEqual(["cp1", "cp2", "cp3", "lb1", "lb2", "mirror", "nfs", "w1", "w2"]);
        expect(c.apiPort).toBe(6443);
        expect(c.kubernetesServiceIp).toBe("10.96.0.1");
        expect(c.dnsServiceIp).toBe("10.96.0.10");
        expect(c.hosts.find((h) => h.name === "w1")?.podCidr).toBe("10.244.31.0/24");
        expect(c.hosts.find((h) => h.name === "w2")?.podCidr).toBe("10.244.32.0/24");
        expect(c.hosts.find((h) => h.name === "lb1")?.vrrpPriority).toBe(150);
        expect(c.hosts.find((h) => h.name === "lb2")?.vrrpPriority).toBe(100);
        expect(c.nfs).toEqual({
            path: "/srv/nfs/k8s",
            clients: ["10.213.0.31", "10.213.0.32"],
            storage: {
                storageClass: "nfs",
                defaultClass: true,
                reclaimPolicy: "Delete",
                onDelete: "archive",
                mountOptions: ["nfsvers=4.2", "hard"],
                directoryMode: "0777",
                provisionerNodeSelector: {},
            },
        });
        expect(c.hosts[0].user).toBe("root");
    });

    test("reports every problem at once, each naming the field", () => {
        const raw = labConfig();
        const hosts = hostsOf(raw);
        hosts.cp3.roles = ["control-plane"]; // two etcd members
        hosts.lb2.roles = ["worker"]; // one lb
        hosts.w2.address = "10.213.0.31"; // duplicate
        hosts.w1.roles = ["worker", "gpu"];
        raw.vip = "10.214.0.10";
        raw.podCidr = "10.213.0.0/16";
        raw.vrrpRouterId = 300;
        raw.sshPrivateKeyPresent = false;
        raw.versions = { kubernetes: "1.35" };
        expect(problemsOf(raw)).toEqual([
            // First what the schema finds, field by field; then the checks across fields.
            `k8s-ha:hosts.w1.roles: unknown role "gpu"; use one of: etcd, control-plane, worker, lb, nfs, mirror`,
            "k8s-ha:vrrpRouterId: must be a whole number from 1 to 255, got 300",
            "k8s-ha:versions.kubernetes: '1.35' is not a version; write MAJOR.MINOR.PATCH, like 1.35.4",
            "k8s-ha:hosts: 2 hosts have the etcd role; etcd needs an odd number (1, 3 or 5) to keep quorum",
            "k8s-ha:hosts: 1 hosts have the lb role; the load-balancer pair needs exactly two",
            "k8s-ha:hosts.w2.address: 10.213.0.31 is also the address of w1; give every host its own address",
            "k8s-ha:sshPrivateKey: is missing; set it as a secret: pulumi config set --secret k8s-ha:sshPrivateKey < ~/.ssh/id_ed25519",
            "k8s-ha:podCidr: 10.213.0.0/16 overlaps k8s-ha:nodeNetwork 10.213.0.0/24; choose ranges that do not overlap",
            "k8s-ha:vip: 10.214.0.10 is outside the lb hosts' subnet 10.213.0.0/24; VRRP can only move an address within it",
            "k8s-ha:hosts.w2.podCidr: 10.213.31.0/24 is also the pod CIDR of w1; give each worker its own",
        ]);
    });

    test("the error message lists the problems and says no host was touched", () => {
        const raw = labConfig();
        raw.vip = "10.213.0.21";
        expect(() => validateConfig(raw)).toThrow(
            "k8s-ha: the stack config has 1 problem; no host was touched. Fix them with 'pulumi config set' or in Pulumi.<stack>.yaml:\n" +
                "  - k8s-ha:vip: 10.213.0.21 is the address of host cp1; the VIP must be a free address in the lb hosts' subnet",
        );
    });

    test.each([
        ["malformed address", (r: RawConfig) => (hostsOf(r).w1.address = "10.213.0.300"), "k8s-ha:hosts.w1.address: '10.213.0.300' is not an IPv4 address; write it as four numbers 0-255, like 10.0.0.5"],
        ["malformed CIDR", (r: RawConfig) => (r.serviceCidr = "10.96.0.1/12"), "k8s-ha:serviceCidr: '10.96.0.1/12' is not an IPv4 CIDR with zero host bits; write it like 10.244.0.0/16"],
        ["zero etcd members", (r: RawConfig) => { for (const h of ["cp1", "cp2", "cp3"]) hostsOf(r)[h].roles = ["control-plane"]; }, "k8s-ha:hosts: 0 hosts have the etcd role; etcd needs an odd number (1, 3 or 5) to keep quorum"],
        ["three lb hosts", (r: RawConfig) => (hostsOf(r).w2.roles = ["worker", "lb"]), "k8s-ha:hosts: 3 hosts have the lb role; the load-balancer pair needs exactly two"],
        ["missing roles", (r: RawConfig) => delete hostsOf(r).nfs.roles, "k8s-ha:hosts.nfs.roles: is missing; give a list from: etcd, control-plane, worker, lb, nfs, mirror"],
        ["router id zero", (r: RawConfig) => (r.vrrpRouterId = 0), "k8s-ha:vrrpRouterId: must be a whole number from 1 to 255, got 0"],
        ["service overlaps pods", (r: RawConfig) => (r.serviceCidr = "10.244.128.0/17"), "k8s-ha:serviceCidr: 10.244.128.0/17 overlaps k8s-ha:podCidr 10.244.0.0/16; choose ranges that do not overlap"],
        ["VIP is the broadcast address", (r: RawConfig) => (r.vip = "10.213.0.255"), "k8s-ha:vip: 10.213.0.255 is the network or broadcast address of 10.213.0.0/24; pick a free host address"],
        ["bad host key", (r: RawConfig) => (hostsOf(r).w1.hostKey = "AAAA"), "k8s-ha:hosts.w1.hostKey: is not an SSH public host key; give one line like 'ssh-ed25519 AAAA...' (from ssh-keyscan)"],
        ["bad host name", (r: RawConfig) => { hostsOf(r).W_1 = hostsOf(r).w1; delete hostsOf(r).w1; }, "k8s-ha:hosts.W_1: the host name must be lower-case letters, digits and '-', at most 63, like cp1"],
        ["lb and control-plane on one host", (r: RawConfig) => (hostsOf(r).lb1.roles = ["lb", "control-plane"]), "k8s-ha:hosts.lb1.roles: has both lb and control-plane, whose HAProxy and kube-apiserver would both bind apiPort on it; put the load balancers on hosts of their own"],
        ["overlapping worker pod CIDRs", (r: RawConfig) => { hostsOf(r).w1.podCidr = "10.244.0.0/23"; hostsOf(r).w2.podCidr = "10.244.1.0/24"; }, "k8s-ha:hosts.w2.podCidr: 10.244.1.0/24 overlaps 10.244.0.0/23, the pod CIDR of w1; give each worker a range of its own"],
        ["an etcd election timeout under 5 heartbeats", (r: RawConfig) => (r.etcd = { heartbeatIntervalMs: 300 }), "k8s-ha:etcd.electionTimeoutMs: 1000 ms is less than 5 heartbeats of 300 ms; members would start elections on every late heartbeat. Give at least 1500"],
        ["an etcd quota over etcd's limit", (r: RawConfig) => (r.etcd = { quotaBackendBytes: 9e9 }), "k8s-ha:etcd.quotaBackendBytes: must be a whole number from 16777216 to 8589934592, got 9000000000"],
        ["an unknown etcd setting", (r: RawConfig) => (r.etcd = { dataDir: "/srv" }), "k8s-ha:etcd.dataDir: is not an etcd setting; use one of: quotaBackendBytes, heartbeatIntervalMs, electionTimeoutMs, snapshotCount"],
        ["an image digest that is not one", (r: RawConfig) => (r.imageDigests = { coredns: "sha256:abc" }), 'k8s-ha:imageDigests.coredns: "sha256:abc" is not a digest; write it as sha256: and 64 lower-case hex digits (crane digest IMAGE prints it)'],
        ["a digest for an image k8s-ha does not deploy", (r: RawConfig) => (r.imageDigests = { kubeProxy: `sha256:${"a".repeat(64)}` }), "k8s-ha:imageDigests.kubeProxy: is not an add-on image; use some of: coredns, nfsProvisioner, pause"],
        ["push settings on a pull-through mirror", (r: RawConfig) => (r.mirror = { upstream: "http://10.213.0.1:5000", pushPort: 5001 }), "k8s-ha:mirror.pushPort: is for a preloaded mirror; a pull-through cache takes no pushes. Leave it out, or set mirror.mode: preloaded"],
        ["push port equal to the pull port", (r: RawConfig) => (r.mirror = { mode: "preloaded", pushPort: 5000 }), "k8s-ha:mirror.pushPort: is the same as mirror.port 5000; pushes need a port of their own, like 5001"],
        ["unknown mirror setting", (r: RawConfig) => (r.mirror = { upstream: "http://10.213.0.1:5000", auth: "none" }), "k8s-ha:mirror.auth: is not a mirror setting; use one of: port, mode, upstream, registries, pushPort, pushPasswordGeneration, pushFrom"],
        ["a password generation on a pull-through mirror", (r: RawConfig) => (r.mirror = { upstream: "http://10.213.0.1:5000", pushPasswordGeneration: 2 }), "k8s-ha:mirror.pushPasswordGeneration: is for a preloaded mirror; a pull-through cache takes no pushes. Leave it out, or set mirror.mode: preloaded"],
        ["proxy mirror without upstream", (r: RawConfig) => (r.mirror = {}), "k8s-ha:mirror.upstream: is missing; proxy mode needs the registry to pull from, like https://registry.example.com"],
        ["bad download URL", (r: RawConfig) => (r.downloads = { etcd: "ftp://x" }), "k8s-ha:downloads.etcd: 'ftp://x' is not an http(s) URL; write it like https://mirror.example.com/path"],
        ["host outside node network", (r: RawConfig) => (hostsOf(r).w2.address = "10.9.0.32"), "k8s-ha:hosts.w2.address: 10.9.0.32 is outside k8s-ha:nodeNetwork 10.213.0.0/24; widen nodeNetwork or fix the address"],
        ["no hosts", (r: RawConfig) => (r.hosts = {}), "k8s-ha:hosts: is missing or empty; give an object of hosts keyed by name, each with address and roles"],
        ["a host without a pinned key", (r: RawConfig) => delete hostsOf(r).w1.hostKey, "k8s-ha:hosts.w1.hostKey: is missing: without it any machine answering on the address gets the cluster's keys; pin it with the 'ssh-ed25519 AAAA...' part of: ssh-keyscan -t ed25519 10.213.0.31 (checked out of band), or set k8s-ha:allowUnpinnedHostKeys: true for a throwaway lab"],
        ["an ssh-rsa host key", (r: RawConfig) => (hostsOf(r).w1.hostKey = "ssh-rsa AAAAB3NzaC1yc2E"), "k8s-ha:hosts.w1.hostKey: is an ssh-rsa key, which the SSH client would have to verify with SHA-1 signatures that OpenSSH 8.8 and later refuse; pin the host's ed25519 key instead: ssh-keyscan -t ed25519 10.213.0.31"],
        ["plain http without allowHttpDownloads", (r: RawConfig) => { r.allowHttpDownloads = undefined; r.downloads = { etcd: "http://mirror.lan/etcd" }; }, "k8s-ha:downloads.etcd: 'http://mirror.lan/etcd' is plain http, which lets anyone on the path change what the hosts install; use https, or set k8s-ha:allowHttpDownloads: true for a mirror on a network you trust"],
        ["credentials in a URL, without echoing them", (r: RawConfig) => (r.downloads = { cni: "https://bob:hunter2@mirror.lan/cni" }), "k8s-ha:downloads.cni: has a user or password in it, which would be stored in plain text in the state, the logs and the hosts' files; give a URL without credentials"],
        ["a flag that is not a boolean", (r: RawConfig) => (r.allowHttpDownloads = "yes"), 'k8s-ha:allowHttpDownloads: must be true or false, got "yes"'],
    ])("rejects %s", (_name, breakIt, message) => {
        const raw = labConfig();
        breakIt(raw);
        expect(problemsOf(raw)).toContain(message);
    });

    test("etcd backups go to the NFS server when there is one, else to a folder of the stack on the Pulumi machine", () => {
        expect(validateConfig({ ...labConfig(), stackName: "prod" }).etcdBackup).toEqual({ target: "nfs", localDir: "backups/prod/etcd", schedule: "hourly", keep: 48 });
        const noNfs = labConfig();
        delete hostsOf(noNfs).nfs;
        expect(validateConfig({ ...noNfs, stackName: "prod" }).etcdBackup).toMatchObject({ target: "local", schedule: undefined });
        expect(problemsOf({ ...noNfs, etcdBackup: { target: "nfs" } })).toEqual(["k8s-ha:etcdBackup.target: is nfs, but no host has the nfs role; use local, or add an NFS server"]);
        expect(problemsOf({ ...labConfig(), etcdBackup: { target: "s3", localDir: "../x", into: 1 } })).toEqual([
            'k8s-ha:etcdBackup.target: must be nfs or local, got "s3"',
            `k8s-ha:etcdBackup.localDir: "../x" must be a path of letters, digits and ._/@+- without '..'`,
            "k8s-ha:etcdBackup.into: is not an etcd backup setting; use one of: target, localDir, schedule, keep",
        ]);
    });

    test("scheduled etcd snapshots: a systemd calendar expression or off, a count to keep, and only where the NFS server keeps them", () => {
        const backup = (etcdBackup: unknown) => validateConfig({ ...labConfig(), etcdBackup }).etcdBackup;
        expect(backup({ schedule: "*-*-* 02:30", keep: "7" })).toMatchObject({ schedule: "*-*-* 02:30", keep: 7 });
        expect(backup({ schedule: "off" }).schedule).toBeUndefined();
        expect(problemsOf({ ...labConfig(), etcdBackup: { schedule: "hourly; rm -rf /", keep: 0 } })).toEqual([
            "k8s-ha:etcdBackup.keep: must be a whole number from 1 to 10000, got 0",
            'k8s-ha:etcdBackup.schedule: "hourly; rm -rf /" is not a systemd calendar expression (like hourly, daily, *:0/15 or *-*-* 02:30), or off',
        ]);
        expect(problemsOf({ ...labConfig(), etcdBackup: { target: "local", schedule: "daily" } })).toEqual([
            "k8s-ha:etcdBackup.schedule: scheduled snapshots are kept on the NFS server: with target local there is no host to keep them; use target nfs, or schedule off",
        ]);
        // An override of the NFS server's former etcd client certificate says why it went.
        expect(problemsOf({ ...labConfig(), certificates: { overrides: { "nfs-etcd-backup-client": { validityDays: 90 } } } })).toEqual([
            "k8s-ha:certificates.overrides.nfs-etcd-backup-client: is no longer issued: the etcd members take the scheduled snapshots with their own credential, and the NFS server holds none; remove this override",
        ]);
    });

    test("upgrades: Kubernetes one minor at a time and never back to an older minor, etcd never back to an older minor; the message names the next versions", () => {
        const at = (kubernetes: string, etcd = "3.6.16") => ({ ...labConfig(), versions: { ...(labConfig().versions as object), kubernetes, etcd } });
        const running = { kubernetes: "1.34.4", etcd: "3.6.15" };
        // (The checksums of the other versions' files are another check's business.)
        const versionProblems = (raw: Parameters<typeof problemsOf>[0]) => problemsOf(raw).filter((p) => p.startsWith("k8s-ha:versions."));
        expect(versionProblems({ ...at("1.35.4"), previousVersions: running })).toEqual([]);
        expect(versionProblems({ ...at("1.34.2"), previousVersions: running })).toEqual([]);
        expect(versionProblems({ ...at("1.36.3"), previousVersions: running })).toEqual([
            "k8s-ha:versions.kubernetes: 1.36.3 skips 1.35 (the cluster runs 1.34.4): Kubernetes upgrades one minor at a time; from 1.34.4 the cluster can go to: 1.34.0 – 1.34.4, 1.35.4",
        ]);
        expect(versionProblems({ ...at("1.34.4", "3.6.13"), previousVersions: { kubernetes: "1.35.4", etcd: "3.7.0" } })).toEqual([
            "k8s-ha:versions.kubernetes: 1.34.4 would take the running cluster back from 1.35.4 to an older minor, which Kubernetes does not support; from 1.35.4 the cluster can go to: 1.35.4, 1.36.1, 1.36.3",
            "k8s-ha:versions.etcd: etcd 3.6.13 would take the running members back from 3.7.0 to an older minor, which needs etcd's own downgrade procedure; keep 3.7.x",
        ]);
        // A new stack, or one whose last update predates the versions output, has nothing to compare.
        expect(versionProblems({ ...at("1.36.3"), previousVersions: undefined })).toEqual([]);
    });

    test("containerd upgrades one minor at a time and never back to an older minor; the message names the releases allowed next", () => {
        const at = (containerd: string) => ({ ...labConfig(), versions: { ...(labConfig().versions as object), containerd } });
        const versionProblems = (raw: Parameters<typeof problemsOf>[0]) => problemsOf(raw).filter((p) => p.startsWith("k8s-ha:versions.containerd"));
        const running = { kubernetes: "1.35.4", etcd: "3.6.16", containerd: "2.2.9" };
        expect(versionProblems({ ...at("2.3.7"), previousVersions: running })).toEqual([]);
        expect(versionProblems({ ...at("2.2.9"), previousVersions: running })).toEqual([]);
        expect(versionProblems({ ...at("2.2.9"), previousVersions: { ...running, containerd: "2.3.7" } })).toEqual([
            "k8s-ha:versions.containerd: containerd 2.2.9 would take the workers back from 2.3.7 to an older minor, which containerd does not support; from 2.3.7 the workers can go to: 2.3.7",
        ]);
        expect(versionProblems({ ...at("2.3.7"), previousVersions: { ...running, containerd: "2.1.5" } })).toEqual([
            "k8s-ha:versions.containerd: containerd 2.3.7 skips 2.2 (the workers run 2.1.5): containerd upgrades one minor at a time; from 2.1.5 the workers can go to: 2.2.9",
        ]);
    });

    test("secrets encryption keys rotate in three updates: a new key read first, then written (every Secret rewritten), then the old one dropped", () => {
        const enc = (secretsEncryption: unknown, previousSecretsEncryption?: { write: number; read: number[]; rewrittenTo?: number }) =>
            problemsOf({ ...labConfig(), secretsEncryption, previousSecretsEncryption });
        expect(validateConfig(labConfig()).secretsEncryption).toEqual({ write: 1, read: [] });
        const start = { write: 1, read: [], rewrittenTo: 1 };
        // 1. The new key, read only.
        expect(enc({ write: 1, read: [2] }, start)).toEqual([]);
        // Written at once, the apiservers that have not restarted yet could not read what the others write.
        expect(enc({ write: 2, read: [1] }, start)).toEqual([
            "k8s-ha:secretsEncryption.write: key 2 is not known to the running apiservers (they write with key 1, and read no other): first run up with write 1, read [2]; then make 2 the write key",
        ]);
        // 2. The new key writes; the old one still reads.
        expect(enc({ write: 2, read: [1] }, { write: 1, read: [2], rewrittenTo: 1 })).toEqual([]);
        // Dropping the old key before the Secrets were rewritten with the new one.
        expect(enc({ write: 2 }, { write: 1, read: [2], rewrittenTo: 1 })).toEqual([
            "k8s-ha:secretsEncryption.read: dropping key 1 would leave the Secrets still encrypted with it unreadable: keep it until an up with write 2 has rewritten every Secret (the stack output secretsEncryption says rewrittenTo 1)",
        ]);
        // 3. Every Secret rewritten with key 2: key 1 may go.
        expect(enc({ write: 2 }, { write: 2, read: [1], rewrittenTo: 2 })).toEqual([]);
        expect(enc({ write: 0, read: [3, 3, 2], key: 1 }, undefined)).toEqual([
            "k8s-ha:secretsEncryption.write: must be a whole number from 1 to 1000, got 0",
            "k8s-ha:secretsEncryption.key: is not a secrets encryption setting; use one of: write, read",
            "k8s-ha:secretsEncryption.read[1]: 3 is listed twice",
        ]);
    });

    test("the kubeconfig output's generation (k8s-ha:adminCredential) may only go up: an earlier one was revoked", () => {
        const gen = (adminCredential: unknown, previousAdminGeneration?: number) => problemsOf({ ...labConfig(), adminCredential, previousAdminGeneration });
        expect(validateConfig(labConfig()).adminCredential).toEqual({ generation: 1, breakGlassHost: "cp1", breakGlassValidityHours: 72 });
        expect(validateConfig({ ...labConfig(), adminCredential: { generation: 3 }, previousAdminGeneration: 2 }).adminCredential).toMatchObject({ generation: 3 });
        expect(gen({ generation: 2 }, 2)).toEqual([]);
        expect(gen({ generation: 5 }, 2)).toEqual([]);
        expect(gen({ generation: 1 }, 2)).toEqual([
            "k8s-ha:adminCredential.generation: 1 is below 2, the generation the cluster runs (stack output adminCredential): generation 2 revoked the earlier ones; keep 2, or set 3 to revoke it too",
        ]);
        // Left out, it is generation 1: a stack that revoked generation 1 must keep the key.
        expect(gen(undefined, 3)).toEqual([
            "k8s-ha:adminCredential.generation: 1 is below 3, the generation the cluster runs (stack output adminCredential): generation 3 revoked the earlier ones; keep 3, or set 4 to revoke it too",
        ]);
        expect(gen({ generation: 0, user: "x" })).toEqual([
            "k8s-ha:adminCredential.generation: must be a whole number from 1 to 1000, got 0",
            "k8s-ha:adminCredential.user: is not an admin credential setting; use one of: generation, breakGlassHost, breakGlassValidityHours",
        ]);
        // The certificate names validation accepts in overrides follow the generation.
        expect(gen({ generation: 2 }).length).toBe(0);
        const overrides = (adminCredential: unknown, name: string) => problemsOf({ ...labConfig(), adminCredential, certificates: { overrides: { [name]: { validityDays: 30 } } } });
        expect(overrides({ generation: 2 }, "control-plane-cluster-admin-g2")).toEqual([]);
        expect(overrides({ generation: 2 }, "control-plane-cluster-admin")[0]).toMatch(/^k8s-ha:certificates.overrides.control-plane-cluster-admin: this cluster has no certificate of that name; use one of: .*control-plane-cluster-admin-g2/);
        expect(overrides(undefined, "control-plane-installer")).toEqual([]);
    });

    test("the break-glass kubeconfig's host (k8s-ha:adminCredential.breakGlassHost): a control-plane host by name, or none; its validity in hours", () => {
        const admin = (adminCredential: unknown) => validateConfig({ ...labConfig(), adminCredential }).adminCredential;
        const problems = (adminCredential: unknown) => problemsOf({ ...labConfig(), adminCredential });
        expect(admin({ breakGlassHost: "cp3" })).toEqual({ generation: 1, breakGlassHost: "cp3", breakGlassValidityHours: 72 });
        expect(admin({ breakGlassHost: "none", breakGlassValidityHours: "8" })).toEqual({ generation: 1, breakGlassHost: undefined, breakGlassValidityHours: 8 });
        expect(problems({ breakGlassHost: "w1" })).toEqual([
            "k8s-ha:adminCredential.breakGlassHost: 'w1' is not a control-plane host: the break-glass kubeconfig is kept on a control-plane host; use one of cp1, cp2, cp3, none (none: on no host, npm run break-glass mints one when needed)",
        ]);
        expect(problems({ breakGlassHost: "cp9" })).toEqual([
            "k8s-ha:adminCredential.breakGlassHost: 'cp9' is no host of this stack: the break-glass kubeconfig is kept on a control-plane host; use one of cp1, cp2, cp3, none (none: on no host, npm run break-glass mints one when needed)",
        ]);
        expect(problems({ breakGlassValidityHours: 1 })).toEqual(["k8s-ha:adminCredential.breakGlassValidityHours: must be a whole number from 2 to 8760, got 1"]);
        // Its validity has a setting of its own: an override of the certificate is refused, naming it.
        expect(problemsOf({ ...labConfig(), certificates: { overrides: { "control-plane-admin": { validityDays: 3 } } } })).toEqual([
            "k8s-ha:certificates.overrides.control-plane-admin: the break-glass credential's validity is k8s-ha:adminCredential.breakGlassValidityHours (in hours, renewed by an up in its second half); set that instead and remove this override",
        ]);
    });

    test("etcd members cannot join the running cluster; members may leave", () => {
        const running = ["https://10.213.0.21:2379", "https://10.213.0.22:2379", "https://10.213.0.23:2379"];
        expect(problemsOf({ ...labConfig(), previousEtcdEndpoints: running })).toEqual([]);
        const grown = labConfig();
        hostsOf(grown).w1.roles = ["worker", "etcd"];
        hostsOf(grown).w2.roles = ["worker", "etcd"];
        expect(problemsOf({ ...grown, previousEtcdEndpoints: running })).toEqual([
            "k8s-ha:hosts: w1, w2 would join the running etcd cluster (10.213.0.21, 10.213.0.22, 10.213.0.23); adding members after the first up is not supported yet: take the etcd role off them",
        ]);
        // The first up: no running cluster to compare with.
        expect(problemsOf({ ...grown, previousEtcdEndpoints: undefined })).toEqual([]);
        const shrunk = labConfig();
        hostsOf(shrunk).cp2.roles = ["control-plane"];
        hostsOf(shrunk).cp3.roles = ["control-plane"];
        expect(problemsOf({ ...shrunk, previousEtcdEndpoints: running })).toEqual([]);
    });

    test("repair requests: HOST/STEP of a host of the stack, with a stamp", () => {
        expect(validateConfig({ ...labConfig(), repair: { "cp2/control-plane": "20261130T094000Z" } }).repair).toEqual({ "cp2/control-plane": "20261130T094000Z" });
        expect(validateConfig(labConfig()).repair).toEqual({});
        expect(problemsOf({ ...labConfig(), repair: { "cp9/control-plane": "x", cp2: "x", "lb1/lb": "a b" } })).toEqual([
            `k8s-ha:repair["cp9/control-plane"]: names no host of the stack; remove it: pulumi config rm --path 'k8s-ha:repair["cp9/control-plane"]'`,
            `k8s-ha:repair["cp2"]: is not HOST/STEP (as scripts/drift.sh --repair writes it); remove it: pulumi config rm --path 'k8s-ha:repair["cp2"]'`,
            `k8s-ha:repair["lb1/lb"]: must be a stamp of 1-40 letters, digits, ':', '.', '_' or '-' (scripts/drift.sh writes the time of its check), got "a b"`,
        ]);
    });

    test("data is protected by default on every stack but dev; the stack may say otherwise", () => {
        const on = (stackName: string | undefined, protectData?: unknown) => validateConfig({ ...labConfig(), stackName, protectData }).protectData;
        expect(on("dev")).toBe(false);
        expect(on("prod")).toBe(true);
        expect(on(undefined)).toBe(true);
        expect(on("prod", false)).toBe(false);
        expect(on("dev", true)).toBe(true);
    });

    test("the load balancer's health-check interval: default 1000 ms, 100 to 10000, no unknown keys", () => {
        expect(validateConfig(labConfig()).loadBalancer).toEqual({ healthCheckIntervalMs: 1000, advertIntervalMs: 100 });
        expect(validateConfig({ ...labConfig(), loadBalancer: { advertIntervalMs: 250 } }).loadBalancer.advertIntervalMs).toBe(250);
        expect(problemsOf({ ...labConfig(), loadBalancer: { advertIntervalMs: 15 } })).toEqual([
            "k8s-ha:loadBalancer.advertIntervalMs: 15 ms is not a whole number of centiseconds (VRRPv3's unit); write 10 or 20",
        ]);
        expect(problemsOf({ ...labConfig(), loadBalancer: { advertIntervalMs: 2000 } })).toEqual(["k8s-ha:loadBalancer.advertIntervalMs: must be a whole number from 10 to 1000, got 2000"]);
        expect(validateConfig({ ...labConfig(), loadBalancer: { healthCheckIntervalMs: 2000 } }).loadBalancer.healthCheckIntervalMs).toBe(2000);
        expect(problemsOf({ ...labConfig(), loadBalancer: { healthCheckIntervalMs: 50, interval: 1 } })).toEqual([
            expect.stringContaining("k8s-ha:loadBalancer.healthCheckIntervalMs:"),
            "k8s-ha:loadBalancer.interval: is not a load balancer setting; use one of: healthCheckIntervalMs, advertIntervalMs",
        ]);
    });

    test("nothing of an lb host takes HAProxy's stats port (8404): not the API, SSH, or a mirror on the same host", () => {
        const taken = "is the port of HAProxy's stats page on the lb hosts (8404), which the control-plane steps read";
        expect(problemsOf({ ...labConfig(), apiPort: 8404 })).toEqual([`k8s-ha:apiPort: ${taken}; choose another, like 6443`]);
        const ssh = labConfig();
        hostsOf(ssh).lb2.port = 8404;
        expect(problemsOf(ssh)).toEqual([`k8s-ha:hosts.lb2.port: SSH port 8404 (k8s-ha:sshPort unless set here) of an lb host ${taken}; choose another, like 22`]);
        // A worker may listen there (its SSH, say); an lb host that is the mirror too may not serve the mirror there.
        const worker = labConfig();
        hostsOf(worker).w1.port = 8404;
        expect(problemsOf(worker)).toEqual([]);
        const mirror = labConfig();
        hostsOf(mirror).lb1.roles = ["lb", "mirror"];
        delete hostsOf(mirror).mirror;
        mirror.mirror = { mode: "preloaded", port: 8404, pushPort: 8405 };
        expect(problemsOf(mirror)).toEqual([`k8s-ha:mirror.port: ${taken}, and lb1 is both; choose another, like 5000`]);
        mirror.mirror = { mode: "preloaded", port: 5000, pushPort: 8404 };
        expect(problemsOf(mirror)).toEqual([`k8s-ha:mirror.pushPort: ${taken}, and lb1 is both; choose another, like 5001`]);
    });

    test("unpinned host keys and plain http pass only when the stack says so", () => {
        const raw = labConfig();
        for (const h of Object.values(hostsOf(raw))) delete h.hostKey;
        raw.allowUnpinnedHostKeys = "true";
        raw.allowHttpDownloads = true;
        expect(problemsOf(raw)).toEqual([]);
        raw.allowHttpDownloads = false;
        expect(problemsOf(raw)).toEqual([
            "k8s-ha:mirror.upstream: 'http://10.213.0.1:5000' is plain http, which lets anyone on the path change what the hosts install; use https, or set k8s-ha:allowHttpDownloads: true for a mirror on a network you trust",
        ]);
    });

    test("no problem message repeats a password given in a URL", () => {
        const raw = labConfig();
        raw.mirror = { upstream: "https://bob:hunter2@registry.lan" };
        expect(problemsOf(raw).join("\n")).not.toContain("hunter2");
    });

    test("an explicit worker pod CIDR wins and must sit inside podCidr", () => {
        const raw = labConfig();
        hostsOf(raw).w1.podCidr = "10.244.200.0/24";
        expect(validateConfig(raw).hosts.find((h) => h.name === "w1")?.podCidr).toBe("10.244.200.0/24");
        hostsOf(raw).w1.podCidr = "10.250.0.0/24";
        expect(problemsOf(raw)).toEqual(["k8s-ha:hosts.w1.podCidr: 10.250.0.0/24 is outside k8s-ha:podCidr 10.244.0.0/16; pick a range inside it"]);
    });

    test("adding a host changes no other host's derived values", () => {
        const before = validateConfig(labConfig());
        const raw = labConfig();
        hostsOf(raw).w0 = { address: "10.213.0.30", roles: ["worker"], hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIW0" };
        const after = validateConfig(raw);
        for (const h of before.hosts) expect(after.hosts.find((a) => a.name === h.name)).toEqual(h);
    });
});

describe("pinned checksums (k8s-ha:checksums)", () => {
    const pinsOf = (raw: RawConfig) => raw.checksums as Record<string, string>;

    test("every file the versions need must be pinned: one problem per missing pin, each saying how to get it", () => {
        const raw = labConfig();
        raw.checksums = undefined;
        const problems = problemsOf(raw);
        expect(problems.map((p) => p.split(": ")[0])).toEqual([
            "k8s-ha:checksums.kube-apiserver@1.35.4", "k8s-ha:checksums.kube-controller-manager@1.35.4", "k8s-ha:checksums.kube-scheduler@1.35.4",
            "k8s-ha:checksums.kubectl@1.35.4", "k8s-ha:checksums.kubelet@1.35.4", "k8s-ha:checksums.kube-proxy@1.35.4",
            "k8s-ha:checksums.etcd@3.6.16", "k8s-ha:checksums.containerd@2.2.9", "k8s-ha:checksums.runc@1.3.6", "k8s-ha:checksums.cni@1.10.0",
        ]);
        expect(problems.every((p) => p.includes(": is missing: the hosts install "))).toBe(true);
        expect(problems).toContain(
            "k8s-ha:checksums.kubelet@1.35.4: is missing: the hosts install https://dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet only when its sha256 is pinned here. " +
                "Take the sum from kubelet.sha256, the checksum file the vendor publishes beside it (fetched from the vendor's own release site, with its signature checked where the vendor signs it), " +
                "or run sha256sum on a copy you verified; then: pulumi config set --path 'k8s-ha:checksums[\"kubelet@1.35.4\"]' SHA256",
        );
        expect(problems).toContain(
            "k8s-ha:checksums.etcd@3.6.16: is missing: the hosts install https://github.com/etcd-io/etcd/releases/download/v3.6.16/etcd-v3.6.16-linux-amd64.tar.gz only when its sha256 is pinned here. " +
                "Take the sum from SHA256SUMS, the checksum file the vendor publishes beside it (fetched from the vendor's own release site, with its signature checked where the vendor signs it), " +
                "or run sha256sum on a copy you verified; then: pulumi config set --path 'k8s-ha:checksums[\"etcd@3.6.16\"]' SHA256",
        );
        // The URL is the stack's own download (a mirror), not upstream's.
        raw.downloads = { runc: "https://files.example.internal/runc" };
        expect(problemsOf(raw).find((p) => p.startsWith("k8s-ha:checksums.runc@1.3.6:"))).toContain("install https://files.example.internal/runc/v1.3.6/runc.amd64 only when");
    });

    test.each([
        ["upper-case hex", "A".repeat(64)],
        ["too short", "abc123"],
        ["a digest prefix", `sha256:${"a".repeat(64)}`],
        ["a number", 12345],
    ])("a pin that is not 64 lower-case hex digits is refused: %s", (_name, value) => {
        const raw = labConfig();
        pinsOf(raw)["runc@1.3.6"] = value as string;
        expect(problemsOf(raw)).toEqual([
            `k8s-ha:checksums.runc@1.3.6: ${JSON.stringify(value)} is not a sha256; write the file's sha256 as 64 lower-case hex digits (the first field of sha256sum's output), in quotes`,
        ]);
    });

    test("unknown keys are refused, naming the keys the stack needs", () => {
        const raw = labConfig();
        pinsOf(raw)["kubelett@1.35.4"] = fakeSha256("typo");
        pinsOf(raw).kubelet = fakeSha256("no version");
        pinsOf(raw)["kubelet@v1.35.4"] = fakeSha256("v");
        const needed = "kube-apiserver@1.35.4, kube-controller-manager@1.35.4, kube-scheduler@1.35.4, kubectl@1.35.4, kubelet@1.35.4, kube-proxy@1.35.4, etcd@3.6.16, containerd@2.2.9, runc@1.3.6, cni@1.10.0";
        const artifacts = "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet, kube-proxy, etcd, containerd, runc, cni";
        expect(problemsOf(raw)).toEqual([
            `k8s-ha:checksums.kubelet: is not a file k8s-ha downloads; a pin's key is ARTIFACT@VERSION with ARTIFACT one of: ${artifacts}; this stack needs: ${needed}`,
            "k8s-ha:checksums.kubelet@v1.35.4: 'v1.35.4' after the @ is not a version; write MAJOR.MINOR.PATCH without a v, like kubelet@1.35.4",
            `k8s-ha:checksums.kubelett@1.35.4: is not a file k8s-ha downloads; a pin's key is ARTIFACT@VERSION with ARTIFACT one of: ${artifacts}; this stack needs: ${needed}`,
        ]);
    });

    test("pins of other versions may stay (pinned ahead of an upgrade); the configured version's pin is the one used", () => {
        const raw = labConfig();
        pinsOf(raw)["kubelet@1.36.3"] = fakeSha256("kubelet@1.36.3");
        pinsOf(raw)["etcd@3.6.13"] = fakeSha256("etcd@3.6.13");
        const c = validateConfig(raw);
        expect(c.checksums["kubelet@1.36.3"]).toBe(fakeSha256("kubelet@1.36.3"));
        expect(pinnedArtifact(c, "kubelet")).toEqual({
            name: "kubelet",
            version: "1.35.4",
            pinKey: "kubelet@1.35.4",
            url: "https://dl.k8s.io/release/v1.35.4/bin/linux/amd64/kubelet",
            vendorSums: "kubelet.sha256",
            sha256: fakeSha256("kubelet@1.35.4"),
        });
        // The upgrade: the new version's pins are there, the old ones may go or stay.
        raw.versions = { kubernetes: "1.36.3", etcd: "3.6.13" };
        expect(problemsOf(raw).map((p) => p.split(": ")[0])).toEqual([
            "k8s-ha:checksums.kube-apiserver@1.36.3", "k8s-ha:checksums.kube-controller-manager@1.36.3", "k8s-ha:checksums.kube-scheduler@1.36.3",
            "k8s-ha:checksums.kubectl@1.36.3", "k8s-ha:checksums.kube-proxy@1.36.3",
        ]);
    });
});

describe("supported versions (components/versions.ts)", () => {
    test.each([
        ["a Kubernetes minor outside the table", { kubernetes: "1.33.4" }, "k8s-ha:versions.kubernetes: Kubernetes 1.33.4 is not supported; use one of: 1.34.0 – 1.34.4, 1.35.4, 1.36.1, 1.36.3 (README, Supported versions)"],
        ["a patch release outside the table", { kubernetes: "1.36.2" }, "k8s-ha:versions.kubernetes: Kubernetes 1.36.2 is not supported; use one of: 1.34.0 – 1.34.4, 1.35.4, 1.36.1, 1.36.3 (README, Supported versions)"],
        ["etcd below the minor's range", { etcd: "3.6.12" }, "k8s-ha:versions.etcd: etcd 3.6.12 is not supported with Kubernetes 1.35; use 3.6.13 – 3.6.16 (README, Supported versions)"],
        ["containerd 1.x", { containerd: "1.7.28" }, "k8s-ha:versions.containerd: containerd 1.7.28 is not supported with Kubernetes 1.35; use one of: 2.2.9, 2.3.7 (README, Supported versions)"],
        ["another pause", { pause: "3.9.0" }, "k8s-ha:versions.pause: pause 3.9.0 is not supported with Kubernetes 1.35; use 3.10.1 (README, Supported versions)"],
        ["a component beside an unsupported minor", { kubernetes: "1.30.0", coredns: "1.11.3" }, "k8s-ha:versions.coredns: CoreDNS 1.11.3 is not supported with any Kubernetes release; use 1.14.7 (README, Supported versions)"],
    ])("refuses %s, naming the supported ones", (_name, versions, message) => {
        const raw = labConfig();
        raw.versions = versions;
        expect(problemsOf(raw)).toContain(message);
    });

    test("an unsupported or malformed version needs no pins yet; the version is the problem", () => {
        const raw = labConfig();
        raw.checksums = {};
        raw.versions = { kubernetes: "1.37.0", etcd: "3.6", containerd: "1.7.28" };
        expect(problemsOf(raw)).toEqual([
            "k8s-ha:versions.etcd: '3.6' is not a version; write MAJOR.MINOR.PATCH, like 3.6.16",
            "k8s-ha:versions.kubernetes: Kubernetes 1.37.0 is not supported; use one of: 1.34.0 – 1.34.4, 1.35.4, 1.36.1, 1.36.3 (README, Supported versions)",
            "k8s-ha:versions.containerd: containerd 1.7.28 is not supported with any Kubernetes release; use one of: 2.2.9, 2.3.7 (README, Supported versions)",
            expect.stringMatching(/^k8s-ha:checksums\.runc@1\.3\.6: is missing/),
            expect.stringMatching(/^k8s-ha:checksums\.cni@1\.10\.0: is missing/),
        ]);
    });

    test("every release in the table validates with each end of its components' ranges, given its pins", () => {
        const ends = (set: readonly (string | readonly [string, string])[]) => set.flatMap((e) => (typeof e === "string" ? [e] : [...e]));
        let checked = 0;
        for (const row of SUPPORTED_VERSIONS) {
            for (const kubernetes of ends(row.kubernetes)) {
                for (const pick of [0, -1]) {
                    const versions = { ...DEFAULTS.versions, kubernetes } as Versions;
                    for (const c of COMPONENTS) versions[c] = ends(row.components[c]).at(pick) as string;
                    const raw = labConfig();
                    raw.versions = versions;
                    raw.checksums = fakeChecksums(versions);
                    expect([kubernetes, problemsOf(raw)]).toEqual([kubernetes, []]);
                    checked++;
                }
            }
        }
        expect(checked).toBeGreaterThanOrEqual(10);
    });
});
