import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
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

/**
 * drain.sh and node-object.sh against a stand-in kubectl that keeps one node's annotations in a
 * file and logs every other call: a node marked with the fingerprint of what it runs is not drained
 * when the step runs again for another reason (a new host library re-runs every step).
 */
describe("the drain step and the node's fingerprint mark", () => {
    const run = (script: string, dir: string, inputs: string) =>
        spawnSync("bash", [path.join(__dirname, "..", "scripts", "host", script), "create"], {
            encoding: "utf8",
            env: {
                ...process.env,
                PATH: `${dir}:${process.env.PATH}`,
                K8SHA_KUBECONFIG: path.join(dir, "kubeconfig"),
                K8SHA_STATE_DIR: path.join(dir, "state"),
                K8SHA_RUN_DIR: path.join(dir, "run"),
                K8SHA_HOST: "cp1",
                K8SHA_STEP: script.replace(/\.sh$/, "-w1"),
                NODE_NAME: "w1",
                K8SHA_RESTART_INPUTS: inputs,
            },
        });

    test("marked by node-object with what it runs; drained only when that changes", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-drain-"));
        try {
            fs.writeFileSync(path.join(dir, "kubeconfig"), "stand-in\n");
            // get node -o jsonpath=...restart-inputs prints the mark; annotate ...restart-inputs=X sets it;
            // Ready is True; every call is logged.
            fs.writeFileSync(
                path.join(dir, "kubectl"),
                [
                    "#!/bin/bash",
                    `echo "$*" >> "${dir}/calls"`,
                    'case "$*" in',
                    `  *restart-inputs}*) cat "${dir}/mark" 2>/dev/null ;;`,
                    `  *"type==\\"Ready\\""*) echo True ;;`,
                    `  "annotate node w1 --overwrite k8s-ha.io/restart-inputs="*) echo "\${5#k8s-ha.io/restart-inputs=}" > "${dir}/mark" ;;`,
                    "  *) : ;;",
                    "esac",
                ].join("\n") + "\n",
                { mode: 0o755 },
            );
            const calls = () => (fs.existsSync(path.join(dir, "calls")) ? fs.readFileSync(path.join(dir, "calls"), "utf8") : "");
            // Not marked yet (a node made before the mark existed): drained.
            const first = run("drain.sh", dir, "fp-1");
            expect(first.status).toBe(0);
            expect(calls()).toContain("cordon w1");
            const marked = run("node-object.sh", dir, "fp-1");
            expect(marked.status).toBe(0);
            expect(fs.readFileSync(path.join(dir, "mark"), "utf8").trim()).toBe("fp-1");
            // The same fingerprint again: nothing drained.
            fs.rmSync(path.join(dir, "calls"));
            const again = run("drain.sh", dir, "fp-1");
            expect(again.status).toBe(0);
            expect(again.stderr).toContain("k8s-ha[cp1]: w1 already runs what this change brings: nothing to drain");
            expect(calls()).not.toContain("cordon");
            // A new fingerprint: drained.
            expect(run("drain.sh", dir, "fp-2").status).toBe(0);
            expect(calls()).toContain("cordon w1");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
