import * as fs from "fs";
import * as path from "path";
import { planOf, stackKeys } from "../components/plan";
import { ConfigError } from "../components/validate";
import { DEFAULTS } from "../components/config";

/** components/plan.ts: what the bash tools read of a stack instead of restating the program. */
describe("the plan of a stack", () => {
    const dev = stackKeys(fs.readFileSync(path.join(__dirname, "..", "Pulumi.dev.yaml"), "utf8"));

    test("the dev stack: its versions and downloads, every release file below its base, its hosts and VIP", () => {
        const p = planOf(dev);
        expect(p.versions).toEqual(DEFAULTS.versions);
        expect(p.downloadsGiven).toEqual(["cni", "containerd", "etcd", "kubernetes", "runc"]);
        expect(p.artifacts).toHaveLength(10);
        expect(p.artifacts.find((a) => a.name === "kubelet")).toEqual({
            name: "kubelet",
            base: "kubernetes",
            pinKey: `kubelet@${DEFAULTS.versions.kubernetes}`,
            path: `v${DEFAULTS.versions.kubernetes}/bin/linux/amd64/kubelet`,
            sums: `v${DEFAULTS.versions.kubernetes}/bin/linux/amd64/kubelet.sha256`,
        });
        expect(p.artifacts.find((a) => a.name === "etcd")?.sums).toBe(`v${DEFAULTS.versions.etcd}/SHA256SUMS`);
        // The lab serves each file at its upstream host and path: the default base without its scheme.
        expect(p.upstream.kubernetes).toBe("https://dl.k8s.io/release");
        expect(p.hosts.map((h) => h.name)).toEqual(["cp1", "cp2", "cp3", "lb1", "lb2", "mirror", "nfs", "w1", "w2", "w4"]);
        expect(p.vip).toBe("10.213.0.10");
    });

    test("a tool's version override moves the files with it; a bad one is refused, naming the key", () => {
        const p = planOf(dev, { containerd: "2.3.7" });
        expect(p.versions.containerd).toBe("2.3.7");
        expect(p.artifacts.find((a) => a.name === "containerd")?.path).toBe("v2.3.7/containerd-2.3.7-linux-amd64.tar.gz");
        expect(p.versionsGiven).toContain("containerd");
        expect(() => planOf(dev, { etcd: "three" })).toThrow(ConfigError);
        expect(() => planOf(dev, { etcd: "three" })).toThrow("k8s-ha:versions.etcd: 'three' is not a version");
    });

    test("an empty stack file: the program's defaults; the pins a stack file gives", () => {
        expect(planOf(stackKeys("")).downloads).toEqual(DEFAULTS.downloads);
        const pinned = stackKeys('config:\n  k8s-ha:checksums:\n    "kubelet@1.35.4": "abc"\n  other:key: 1\n');
        expect(planOf(pinned).checksums).toEqual({ "kubelet@1.35.4": "abc" });
    });
});
