import { restartFingerprint } from "../components/node";
import { BundleFile, encodeBundle } from "../components/runner";
import { HostSandbox } from "./host-sandbox";

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
 * kubectl as the drain and Node-object steps see it, its state in $SANDBOX/k8s: `lease` (the
 * workers' roll lock: holder and creation time), `frees-after` (how many more of this worker's
 * tries the lease's holder keeps it for), `mark` (the node's restart-inputs annotation),
 * `cordoned-by`, `drain-fails` (what a drain that does not finish prints). Every call is logged.
 */
function kubectlStandIn(sb: HostSandbox): void {
    sb.write("kubeconfig", "stand-in\n");
    sb.standIn(
        "kubectl",
        `k=$SANDBOX/k8s
mkdir -p "$k"
case "$*" in
"get --raw=/readyz") echo ok ;;
"auth can-i get nodes")
    # $SANDBOX/k8s/unbound: how many more asks the installer's binding is still missing for.
    n=$(cat "$k/unbound" 2>/dev/null || echo 0)
    if ((n > 0)); then echo $((n - 1)) >"$k/unbound"; echo no; exit 1; fi
    log "  as: $(cat "$KUBECONFIG")"; echo yes ;;
"get node w1") echo "w1   Ready    <none>   3d    v1.35.4" ;;
*"restart-inputs}") cat "$k/mark" 2>/dev/null ;;
*"cordoned-by}") cat "$k/cordoned-by" 2>/dev/null ;;
*'type=="Ready"'*) echo True ;;
"create -f -")
    holder=$(sed -n 's/.*"holderIdentity":"\\([^"]*\\)".*/\\1/p')
    if [[ -f $k/lease ]]; then
        n=$(cat "$k/frees-after" 2>/dev/null || echo -1)
        if ((n != 0)); then
            echo $((n - 1)) >"$k/frees-after"
            echo 'Error from server (AlreadyExists): leases.coordination.k8s.io "k8s-ha-worker-roll" already exists'
            exit 1
        fi
    fi
    echo "$holder $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$k/lease"
    ;;
"-n kube-system get lease k8s-ha-worker-roll -o jsonpath={.spec.holderIdentity}")
    [[ -f $k/lease ]] || { echo 'Error from server (NotFound): leases.coordination.k8s.io "k8s-ha-worker-roll" not found'; exit 1; }
    read -r holder _ <"$k/lease"; printf %s "$holder" ;;
"-n kube-system get lease k8s-ha-worker-roll -o jsonpath={.metadata.creationTimestamp}")
    [[ -f $k/lease ]] || exit 1
    read -r _ created <"$k/lease"; printf %s "$created" ;;
"-n kube-system delete lease k8s-ha-worker-roll --ignore-not-found") rm -f "$k/lease" ;;
"annotate node w1 --overwrite k8s-ha.io/restart-inputs="*) echo "\${5#k8s-ha.io/restart-inputs=}" >"$k/mark" ;;
"annotate node w1 --overwrite k8s-ha.io/cordoned-by=k8s-ha") echo k8s-ha >"$k/cordoned-by" ;;
"annotate node w1 k8s-ha.io/cordoned-by-") rm -f "$k/cordoned-by" ;;
"cordon w1" | "uncordon w1") echo "node/w1 \${1}ed" ;;
"drain w1 "*)
    if [[ -f $k/drain-fails ]]; then cat "$k/drain-fails"; exit 1; fi
    printf '%s\\n' "evicting pod default/web-1" "pod/web-1 evicted" "node/w1 drained" ;;
*) echo "kubectl stand-in: unexpected $*"; exit 2 ;;
esac`,
    );
}

/**
 * drain.sh and node-object.sh against that kubectl: a node marked with the fingerprint of what it
 * runs is not drained when the step runs again for another reason (a new host library re-runs
 * every step); one worker at a time holds the roll lock, from its drain until its Node-object step
 * finds it Ready again; a drain that does not finish gives the node back.
 */
describe("the drain step, the workers' roll lock and the node's fingerprint mark", () => {
    let sb: HostSandbox;
    // The drain step gets the installer's kubeconfig in its bundle, staged only (its control-plane
    // step may not have installed it yet); the Node-object step reads the installed one.
    const installer: BundleFile = { path: "/etc/kubernetes/installer.kubeconfig", mode: "0600", content: "INSTALLER\n", stageOnly: true };
    const run = (script: "drain" | "node-object", inputs = "fp-1", env: Record<string, string> = {}) =>
        script === "drain"
            ? sb.step(script, "create", { env: { K8SHA_KUBECONFIG: installer.path, NODE_NAME: "w1", K8SHA_RESTART_INPUTS: inputs, ...env }, input: encodeBundle([installer]) })
            : sb.step(script, "create", { env: { K8SHA_KUBECONFIG: sb.path("kubeconfig"), NODE_NAME: "w1", K8SHA_RESTART_INPUTS: inputs, ...env } });
    const lease = () => (sb.exists("k8s/lease") ? sb.read("k8s/lease").split(" ")[0] : undefined);
    const iso = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    const HOLDER = "kubectl -n kube-system get lease k8s-ha-worker-roll -o jsonpath={.spec.holderIdentity}";
    const CREATED = "kubectl -n kube-system get lease k8s-ha-worker-roll -o jsonpath={.metadata.creationTimestamp}";
    const DELETE = "kubectl -n kube-system delete lease k8s-ha-worker-roll --ignore-not-found";
    const BEFORE = ["kubectl get --raw=/readyz", "kubectl auth can-i get nodes", "  as: INSTALLER", "kubectl get node w1", "kubectl get node w1 -o jsonpath={.metadata.annotations.k8s-ha\\.io/restart-inputs}"];
    const DRAIN = ["kubectl cordon w1", "kubectl annotate node w1 --overwrite k8s-ha.io/cordoned-by=k8s-ha", "kubectl drain w1 --ignore-daemonsets --delete-emptydir-data --grace-period=30 --timeout=300s"];

    beforeEach(() => {
        sb = new HostSandbox("cp1");
        kubectlStandIn(sb);
    });
    afterEach(() => sb.remove());

    test("as the installer, with its staged kubeconfig; on an existing cluster it waits for the installer's binding, and installs no file", () => {
        sb.write("k8s/unbound", "3\n");
        const r = run("drain");
        expect(r.status).toBe(0);
        expect(sb.calls().filter((c) => c === "kubectl auth can-i get nodes")).toHaveLength(4);
        expect(sb.calls()).toContain("  as: INSTALLER");
        expect(sb.exists("etc/kubernetes/installer.kubeconfig")).toBe(false);
    });

    test("marked by node-object with what it runs; drained only when that changes", () => {
        // Not marked yet (a node made before the mark existed): drained.
        expect(run("drain").status).toBe(0);
        expect(sb.calls()).toContain("kubectl cordon w1");
        const marked = run("node-object");
        expect(marked.status).toBe(0);
        expect(sb.read("k8s/mark").trim()).toBe("fp-1");
        // The same fingerprint again: nothing drained.
        sb.clearCalls();
        const again = run("drain");
        expect(again.status).toBe(0);
        expect(again.stderr).toContain("k8s-ha[cp1]: w1 already runs what this change brings: nothing to drain");
        expect(sb.calls()).toEqual(BEFORE);
        // A new fingerprint: drained.
        expect(run("drain", "fp-2").status).toBe(0);
        expect(sb.calls()).toContain("kubectl cordon w1");
    });

    test("a drain that finishes keeps the lock until the Node-object step finds the node Ready; that step uncordons it and releases the lock", () => {
        const drained = run("drain");
        expect(drained.stderr).toContain("k8s-ha[cp1]: w1 drained: 1 pods evicted");
        expect(drained.status).toBe(0);
        expect(sb.calls()).toEqual([...BEFORE, "kubectl create -f -", ...DRAIN]);
        expect([lease(), sb.read("k8s/cordoned-by").trim()]).toEqual(["w1", "k8s-ha"]);
        expect(sb.list("run").filter((f) => f.startsWith("drain-"))).toEqual([]);
        sb.clearCalls();
        const ready = run("node-object");
        expect(ready.stderr).toContain("k8s-ha[cp1]: released the workers' roll lock");
        expect(ready.status).toBe(0);
        expect(sb.calls()).toEqual([
            'kubectl get node w1 -o jsonpath={.status.conditions[?(@.type=="Ready")].status}',
            "kubectl get node w1 -o jsonpath={.metadata.annotations.k8s-ha\\.io/cordoned-by}",
            "kubectl uncordon w1",
            "kubectl annotate node w1 k8s-ha.io/cordoned-by-",
            HOLDER,
            DELETE,
            "kubectl annotate node w1 --overwrite k8s-ha.io/restart-inputs=fp-1",
        ]);
        expect([lease(), sb.exists("k8s/cordoned-by")]).toEqual([undefined, false]);
    });

    test("the Node-object step leaves another worker's lock alone", () => {
        sb.write("k8s/lease", `w2 ${iso(60)}\n`);
        expect(run("node-object").status).toBe(0);
        expect(sb.calls()).toContain(HOLDER);
        expect(sb.calls()).not.toContain(DELETE);
        expect(lease()).toBe("w2");
    });

    test("a lock another worker took recently is waited for, never taken over", () => {
        sb.write("k8s/lease", `w2 ${iso(600)}\n`);
        sb.write("k8s/frees-after", "2\n");
        const r = run("drain");
        expect(r.stderr).toContain("k8s-ha[cp1]: waiting for the workers' roll lock (held by w2)");
        expect(r.status).toBe(0);
        expect(sb.calls()).toEqual([...BEFORE, "kubectl create -f -", HOLDER, CREATED, "kubectl create -f -", HOLDER, CREATED, "kubectl create -f -", ...DRAIN]);
        expect(lease()).toBe("w1");
    });

    test("a lock left over from a run that died (older than an hour) is taken over", () => {
        sb.write("k8s/lease", `w2 ${iso(7200)}\n`);
        const r = run("drain");
        expect(r.stderr).toMatch(/k8s-ha\[cp1\]: warning: the workers' roll lock of w2 is 720[0-9]s old: taking it over/);
        expect(r.status).toBe(0);
        expect(sb.calls()).toEqual([...BEFORE, "kubectl create -f -", HOLDER, CREATED, DELETE, "kubectl create -f -", ...DRAIN]);
        expect(lease()).toBe("w1");
    });

    test("a lock this worker holds already (an earlier run that stopped after its drain) is kept", () => {
        sb.write("k8s/lease", `w1 ${iso(600)}\n`);
        const r = run("drain");
        expect(r.stderr).toContain("k8s-ha[cp1]: the workers' roll lock is w1's already (an earlier run)");
        expect(r.status).toBe(0);
        expect(sb.calls()).toEqual([...BEFORE, "kubectl create -f -", HOLDER, ...DRAIN]);
    });

    test("a drain that does not finish in time uncordons the node, releases the lock and fails naming the node", () => {
        const last = 'error: unable to drain node "w1" due to error: global timeout reached: 5m0s, continuing command...';
        sb.write("k8s/drain-fails", `evicting pod default/web-1\nerror when evicting pods/"web-1" -n "default" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.\n${last}\n`);
        const r = run("drain");
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(
            `k8s-ha[cp1]: error: the drain of w1 did not finish within 300s (${last}); a PodDisruptionBudget that allows no eviction? w1 is uncordoned and nothing on it restarted`,
        );
        expect(sb.calls()).toEqual([...BEFORE, "kubectl create -f -", ...DRAIN, "kubectl uncordon w1", "kubectl annotate node w1 k8s-ha.io/cordoned-by-", HOLDER, DELETE]);
        expect([lease(), sb.exists("k8s/cordoned-by")]).toEqual([undefined, false]);
    });
});
