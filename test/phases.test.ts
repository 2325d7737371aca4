import { controlPlanePhase, etcdPhase, kubeletPhase, lbPhase, runtimePhase, workerSettings } from "../components/phases";
import { hostsWithRole } from "../components/config";
import { BundleFile, fileTags } from "../components/runner";
import { validateConfig } from "../components/validate";
import { labConfig } from "./fixtures";

/** Host phases as data (components/phases.ts), checked for every host of the lab's cluster with plain values. */
const cluster = validateConfig(labConfig());
/** A PEM block whose body names what it stands for. */
const pem = (label: string, name: string) => `-----BEGIN ${label}-----\n${Buffer.from(name).toString("base64")}\n-----END ${label}-----\n`;
const pair = (name: string) => ({ cert: pem("CERTIFICATE", name), key: pem("EC PRIVATE KEY", name) });
const CA = pem("CERTIFICATE", "CA");
const facts = { container: "systemd-nspawn", cgroup: "v1" as const };
const PAUSE_DIGEST = `sha256:${"ef".repeat(32)}`;
const byPath = (files: BundleFile[]) => Object.fromEntries(files.map((f) => [f.path, f]));

/** The mode every file of a phase must have, by what it is. */
function expectedMode(path: string): string {
    if (/\.(key|kubeconfig)$|\/kubeconfig$|\.service$|\/k8s-ha\.conf$|kubelet-config\.yaml$|encryption-config\.yaml$|keepalived\.conf$|10-k8s-ha\.conflist$/.test(path)) return "0600";
    if (/(check-haproxy|approve)\.sh$/.test(path)) return "0755";
    return "0644";
}

describe("host phases as data", () => {
    const workers = hostsWithRole(cluster, "worker");

    test("every worker: modes, what each file restarts, and its own pod CIDR", () => {
        for (const host of workers) {
            const runtime = byPath(runtimePhase({ host, settings: workerSettings(cluster), pauseDigest: PAUSE_DIGEST, mirrorEndpoint: "10.213.0.41:5000", caCert: CA, facts }));
            const kubelet = byPath(kubeletPhase({ host, settings: workerSettings(cluster), endpoint: "https://10.213.0.10:6443", caCert: CA, kubeletCert: pair(host.name), servingCert: pair(`${host.name}-serving`), proxyCert: pair("proxy"), facts }));
            for (const f of [...Object.values(runtime), ...Object.values(kubelet)]) expect([host.name, f.path, f.mode]).toEqual([host.name, f.path, expectedMode(f.path)]);
            expect(runtime["/etc/containerd/config.toml"]).toMatchObject({ restarts: ["containerd"], check: "containerd_config" });
            // The sandbox image by the digest the mirror served, not by its tag.
            expect(runtime["/etc/containerd/config.toml"].content).toContain(`\n  sandbox = "registry.k8s.io/pause@${PAUSE_DIGEST}"\n`);
            expect(runtime["/etc/cni/net.d/10-k8s-ha.conflist"].content).toContain(`"subnet": "${host.podCidr}"`);
            // The routes go to the other workers' pod networks, never its own.
            const routes = runtime["/etc/k8s-ha/pod-routes"].content;
            expect(routes).not.toContain(host.podCidr);
            expect(routes.trim().split("\n")).toHaveLength(workers.length - 1);
            expect(kubelet["/etc/kubernetes/pki/kubelet.key"]).toMatchObject({ content: pair(host.name).key, restarts: ["kubelet"] });
            expect(kubelet["/etc/kubernetes/pki/kubelet-serving.key"]).toMatchObject({ content: pair(`${host.name}-serving`).key, restarts: ["kubelet"] });
            expect(kubelet["/etc/kubernetes/pki/kubelet-serving.crt"]).toMatchObject({ content: pair(`${host.name}-serving`).cert, restarts: ["kubelet"] });
            expect(kubelet["/etc/kubernetes/kube-proxy-config.yaml"].restarts).toEqual(["kube-proxy"]);
            expect(kubelet["/etc/kubernetes/kubelet-config.yaml"].content).toContain(`podCIDR: "${host.podCidr}"`);
        }
    });

    test("every etcd member: its own certificates, the whole initial cluster, each file restarting etcd", () => {
        const members = hostsWithRole(cluster, "etcd").map((h) => ({ name: h.name, address: h.address }));
        for (const host of hostsWithRole(cluster, "etcd")) {
            const files = etcdPhase({ host, members, tuning: cluster.etcd, caCert: CA, server: pair(`${host.name}-server`), peer: pair(`${host.name}-peer`), healthcheck: pair("hc") });
            for (const f of files) {
                expect([host.name, f.path, f.mode, f.restarts]).toEqual([host.name, f.path, expectedMode(f.path), ["etcd"]]);
            }
            const unit = byPath(files)["/etc/systemd/system/etcd.service"].content;
            for (const m of members) expect(unit).toContain(`${m.name}=https://${m.address}:2380`);
            expect(byPath(files)["/etc/etcd/pki/peer.key"].content).toBe(pair(`${host.name}-peer`).key);
        }
    });

    test("each lb host: configs reload their daemons after their checks, the drop-in restarts keepalived, the peer is the other host", () => {
        const [a, b] = hostsWithRole(cluster, "lb");
        for (const [host, peer] of [[a, b], [b, a]]) {
            const files = byPath(lbPhase({ host, peer, vip: cluster.vip, apiPort: 6443, vrrpRouterId: 51, haproxyConfig: "cfg", advertIntervalMs: 100, interface: "host0", prefix: 24 }));
            for (const f of Object.values(files)) expect([host.name, f.path, f.mode]).toEqual([host.name, f.path, expectedMode(f.path)]);
            expect(files["/etc/haproxy/haproxy.cfg"]).toMatchObject({ reloads: ["haproxy"], check: "haproxy" });
            expect(files["/etc/keepalived/keepalived.conf"]).toMatchObject({ reloads: ["keepalived"], check: "keepalived" });
            expect(files["/etc/systemd/system/keepalived.service.d/k8s-ha.conf"].restarts).toEqual(["keepalived"]);
            expect(files["/etc/keepalived/keepalived.conf"].content).toContain(`unicast_src_ip ${host.address}`);
            expect(files["/etc/keepalived/keepalived.conf"].content).toMatch(new RegExp(`unicast_peer \\{\\s*${peer.address.replace(/\./g, "\\.")}\\s*\\}`));
        }
    });

    test("every control-plane host: modes, the daemons each file restarts", () => {
        const contents = {
            caCert: CA, caKey: pair("ca").key, etcdCaCert: CA, kubeletCaCert: "KCA", kubeletCaKey: pair("kca").key, apiserver: pair("apiserver"), kubeletClient: pair("kc"), etcdClient: pair("ec"),
            serviceAccountKey: pair("sa").key, serviceAccountPub: "PUB", encryptionConfig: "ENC", controllerManagerKubeconfig: "CM", schedulerKubeconfig: "S",
            apiserverUnit: "UNIT",
        };
        const installer = { installerKubeconfig: "INSTALLER" };
        const [first, ...others] = hostsWithRole(cluster, "control-plane");
        expect(others.length).toBeGreaterThan(0);
        for (const host of [first, ...others]) {
            // As controlplane.ts sends them by default: the installer's and the break-glass kubeconfigs to the first host only.
            const list = controlPlanePhase<string>(cluster, host === first ? { ...contents, installer, breakGlassKubeconfig: "BREAK-GLASS" } : contents);
            const files = Object.fromEntries(list.map((f) => [f.path, f]));
            expect(Object.keys(files)).toHaveLength(list.length);
            for (const f of list) expect([host.name, f.path, f.mode]).toEqual([host.name, f.path, expectedMode(f.path)]);
            const restarts = (p: string) => files[p].restarts ?? [];
            expect(restarts("/etc/kubernetes/pki/ca.key")).toEqual(["kube-controller-manager"]);
            expect(restarts("/etc/kubernetes/pki/ca.crt")).toEqual(["kube-apiserver", "kube-controller-manager"]);
            expect(restarts("/etc/kubernetes/pki/apiserver.key")).toEqual(["kube-apiserver"]);
            expect(restarts("/etc/kubernetes/scheduler.kubeconfig")).toEqual(["kube-scheduler"]);
            if (host === first) {
                expect(restarts("/etc/kubernetes/break-glass.kubeconfig")).toEqual([]);
                expect(restarts("/etc/kubernetes/installer.kubeconfig")).toEqual([]);
                expect(files["/etc/kubernetes/break-glass.kubeconfig"]).toMatchObject({ mode: "0600", content: "BREAK-GLASS" });
                expect(files["/etc/kubernetes/installer.kubeconfig"]).toMatchObject({ mode: "0600", content: "INSTALLER" });
            } else {
                expect(Object.keys(files).filter((p) => p.endsWith(".kubeconfig")).sort()).toEqual(["/etc/kubernetes/controller-manager.kubeconfig", "/etc/kubernetes/scheduler.kubeconfig"]);
            }
            // The apiserver verifies kubelets with the kubelet CA; the controller-manager signs kubelet-serving with it.
            expect(restarts("/etc/kubernetes/pki/kubelet-ca.crt")).toEqual(["kube-apiserver", "kube-controller-manager"]);
            expect(restarts("/etc/kubernetes/pki/kubelet-ca.key")).toEqual(["kube-controller-manager"]);
            expect(files["/etc/kubernetes/pki/kubelet-ca.key"]).toMatchObject({ mode: "0600", content: pair("kca").key });
            expect(Object.keys(files).filter((p) => p.includes("csr-approver"))).toEqual([]);
        }
    });

    /**
     * What a change to each file restarts or reloads, and the check it passes first, for every file of
     * every phase and every host: a file the table lacks, a file the phase lacks, a unit more or less
     * all fail. The configs the apiserver reads (encryption, audit, authentication, admission) restart
     * it; the scheduler's config restarts the scheduler; the admin kubeconfig restarts nothing.
     */
    test("every file of every phase: exactly the units a change to it restarts or reloads, and its check", () => {
        const tags = (files: readonly Parameters<typeof fileTags>[0][]) => Object.fromEntries(files.map((f) => [f.path, fileTags(f).trim()]));
        const apiserver = "restarts=kube-apiserver";
        const cm = "restarts=kube-controller-manager";
        const scheduler = "restarts=kube-scheduler";
        const expected = {
            runtime: {
                "/etc/kubernetes/pki/ca.crt": "",
                "/etc/containerd/config.toml": "restarts=containerd check=containerd_config",
                "/etc/containerd/certs.d/registry.k8s.io/hosts.toml": "",
                "/etc/containerd/certs.d/docker.io/hosts.toml": "",
                "/etc/containerd/certs.d/10.213.0.41:5000/hosts.toml": "",
                "/etc/systemd/system/containerd.service": "restarts=containerd",
                "/etc/systemd/system/k8s-ha-pod-routes.service": "",
                "/etc/cni/net.d/10-k8s-ha.conflist": "",
                "/etc/k8s-ha/pod-routes": "",
            },
            kubelet: {
                "/etc/kubernetes/pki/kubelet.crt": "restarts=kubelet",
                "/etc/kubernetes/pki/kubelet.key": "restarts=kubelet",
                "/etc/kubernetes/pki/kubelet-serving.crt": "restarts=kubelet",
                "/etc/kubernetes/pki/kubelet-serving.key": "restarts=kubelet",
                "/etc/kubernetes/kubelet.kubeconfig": "restarts=kubelet",
                "/etc/kubernetes/kube-proxy.kubeconfig": "restarts=kube-proxy",
                "/etc/kubernetes/kubelet-config.yaml": "restarts=kubelet",
                "/etc/kubernetes/kube-proxy-config.yaml": "restarts=kube-proxy",
                "/etc/systemd/system/kubelet.service": "restarts=kubelet",
                "/etc/systemd/system/kube-proxy.service": "restarts=kube-proxy",
            },
            etcd: Object.fromEntries(
                ["ca.crt", "server.crt", "server.key", "peer.crt", "peer.key", "healthcheck-client.crt", "healthcheck-client.key"]
                    .map((f) => [`/etc/etcd/pki/${f}`, "restarts=etcd"])
                    .concat([["/etc/systemd/system/etcd.service", "restarts=etcd"]]),
            ),
            lb: {
                "/etc/haproxy/haproxy.cfg": "reloads=haproxy check=haproxy",
                "/etc/keepalived/check-haproxy.sh": "reloads=keepalived",
                "/etc/keepalived/keepalived.conf": "reloads=keepalived check=keepalived",
                "/etc/systemd/system/keepalived.service.d/k8s-ha.conf": "restarts=keepalived",
            },
            controlPlane: {
                "/etc/kubernetes/pki/ca.crt": "restarts=kube-apiserver,kube-controller-manager",
                "/etc/kubernetes/pki/ca.key": cm,
                "/etc/kubernetes/pki/etcd-ca.crt": apiserver,
                "/etc/kubernetes/pki/kubelet-ca.crt": "restarts=kube-apiserver,kube-controller-manager",
                "/etc/kubernetes/pki/kubelet-ca.key": cm,
                "/etc/kubernetes/pki/apiserver.crt": apiserver,
                "/etc/kubernetes/pki/apiserver.key": apiserver,
                "/etc/kubernetes/pki/apiserver-kubelet-client.crt": apiserver,
                "/etc/kubernetes/pki/apiserver-kubelet-client.key": apiserver,
                "/etc/kubernetes/pki/apiserver-etcd-client.crt": apiserver,
                "/etc/kubernetes/pki/apiserver-etcd-client.key": apiserver,
                "/etc/kubernetes/pki/sa.key": "restarts=kube-apiserver,kube-controller-manager",
                "/etc/kubernetes/pki/sa.pub": apiserver,
                "/etc/kubernetes/encryption-config.yaml": apiserver,
                "/etc/kubernetes/audit-policy.yaml": apiserver,
                "/etc/kubernetes/authentication-config.yaml": apiserver,
                "/etc/kubernetes/admission-config.yaml": apiserver,
                "/etc/kubernetes/scheduler-config.yaml": scheduler,
                "/etc/kubernetes/controller-manager.kubeconfig": cm,
                "/etc/kubernetes/scheduler.kubeconfig": scheduler,
                "/etc/kubernetes/break-glass.kubeconfig": "",
                "/etc/kubernetes/installer.kubeconfig": "",
                "/etc/systemd/system/kube-controller-manager.service": cm,
                "/etc/systemd/system/kube-scheduler.service": scheduler,
                "/etc/systemd/system/kube-apiserver.service": apiserver,
            },
        };
        for (const host of workers) {
            const settings = workerSettings(cluster);
            expect([host.name, tags(runtimePhase({ host, settings, pauseDigest: PAUSE_DIGEST, mirrorEndpoint: "10.213.0.41:5000", caCert: CA, facts }))]).toEqual([host.name, expected.runtime]);
            const kubelet = kubeletPhase({ host, settings, endpoint: "https://10.213.0.10:6443", caCert: CA, kubeletCert: pair(host.name), servingCert: pair(`${host.name}-serving`), proxyCert: pair("proxy"), facts });
            expect([host.name, tags(kubelet)]).toEqual([host.name, expected.kubelet]);
        }
        const members = hostsWithRole(cluster, "etcd").map((h) => ({ name: h.name, address: h.address }));
        for (const host of hostsWithRole(cluster, "etcd")) {
            const files = etcdPhase({ host, members, tuning: cluster.etcd, caCert: CA, server: pair("server"), peer: pair("peer"), healthcheck: pair("hc") });
            expect([host.name, tags(files)]).toEqual([host.name, expected.etcd]);
        }
        const [a, b] = hostsWithRole(cluster, "lb");
        for (const [host, peer] of [[a, b], [b, a]]) {
            const files = lbPhase({ host, peer, vip: cluster.vip, apiPort: 6443, vrrpRouterId: 51, haproxyConfig: "cfg", advertIntervalMs: 100, interface: "host0", prefix: 24 });
            expect([host.name, tags(files)]).toEqual([host.name, expected.lb]);
        }
        const contents = {
            caCert: CA, caKey: pair("ca").key, etcdCaCert: CA, kubeletCaCert: CA, kubeletCaKey: pair("kca").key, apiserver: pair("apiserver"), kubeletClient: pair("kc"),
            etcdClient: pair("ec"), serviceAccountKey: pair("sa").key, serviceAccountPub: "PUB", encryptionConfig: "ENC", controllerManagerKubeconfig: "CM", schedulerKubeconfig: "S",
            installer: { installerKubeconfig: "INST" }, breakGlassKubeconfig: "BG", apiserverUnit: "UNIT",
        };
        // The same files on every control-plane host, and the installer's two kubeconfigs on the first.
        expect(tags(controlPlanePhase<string>(cluster, contents))).toEqual(expected.controlPlane);
        const others = Object.fromEntries(Object.entries(expected.controlPlane).filter(([p]) => !/(break-glass|installer)\.kubeconfig$/.test(p)));
        expect(tags(controlPlanePhase<string>(cluster, { ...contents, installer: undefined, breakGlassKubeconfig: undefined }))).toEqual(others);
        // The break-glass host apart from the installer's (adminCredential.breakGlassHost): each file on its own.
        const only = (re: RegExp) => Object.fromEntries(Object.entries(expected.controlPlane).filter(([p]) => !re.test(p)));
        expect(tags(controlPlanePhase<string>(cluster, { ...contents, breakGlassKubeconfig: undefined }))).toEqual(only(/break-glass\.kubeconfig$/));
        expect(tags(controlPlanePhase<string>(cluster, { ...contents, installer: undefined }))).toEqual(only(/installer\.kubeconfig$/));
    });
});
