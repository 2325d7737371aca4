import { restartFingerprint } from "../components/node";
import { BundleFile } from "../components/runner";

const runtimeFiles: BundleFile[] = [
    { path: "/etc/containerd/config.toml", mode: "0644", content: "version = 3" },
    { path: "/etc/systemd/system/k8s-ha-pod-routes.service", mode: "0600", content: "routes A" },
    { path: "/etc/k8s-ha/pod-routes", mode: "0644", content: "10.244.31.0/24 10.213.0.31\n" },
];
const kubeletFiles: BundleFile[] = [
    { path: "/etc/kubernetes/kubelet-config.yaml", mode: "0600", public: true, content: "podPidsLimit: 4096" },
    { path: "/etc/kubernetes/pki/kubelet.key", mode: "0600", content: "KEY A" },
    { path: "/etc/kubernetes/pki/kubelet.crt", mode: "0644", content: "CERT A" },
];
const env: Record<string, string>[] = [{ CONTAINERD_URL: "https://x/containerd.tgz" }, { K8S_URL: "https://x/v1.35.4" }];
const fp = (e = env, r = runtimeFiles, k = kubeletFiles) => restartFingerprint(e, r, k);
const replace = (files: BundleFile[], path: string, content: string) => files.map((f) => (f.path === path ? { ...f, content } : f));

describe("a worker's restart fingerprint (what drains it before a change)", () => {
    test("changes with what the daemons run: settings, containerd config, kubelet config, certificate", () => {
        expect(fp([{ CONTAINERD_URL: "https://x/containerd-2.tgz" }, env[1]])).not.toBe(fp());
        expect(fp(env, replace(runtimeFiles, "/etc/containerd/config.toml", "version = 3\n# new"))).not.toBe(fp());
        expect(fp(env, runtimeFiles, replace(kubeletFiles, "/etc/kubernetes/kubelet-config.yaml", "podPidsLimit: 8192"))).not.toBe(fp());
        expect(fp(env, runtimeFiles, replace(kubeletFiles, "/etc/kubernetes/pki/kubelet.crt", "CERT B"))).not.toBe(fp());
    });

    test("stays with the pod routes (a worker joining) and hashes no secret (the kubelet's key)", () => {
        const routes = replace(replace(runtimeFiles, "/etc/k8s-ha/pod-routes", "other\n"), "/etc/systemd/system/k8s-ha-pod-routes.service", "routes B");
        expect(fp(env, routes)).toBe(fp());
        expect(fp(env, runtimeFiles, replace(kubeletFiles, "/etc/kubernetes/pki/kubelet.key", "KEY B"))).toBe(fp());
    });
});
