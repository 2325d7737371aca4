/**
 * Every YAML file k8s-ha renders for Kubernetes, decoded strictly into the real Kubernetes v1.35
 * Go types (k8s.io/kubelet, kube-proxy, kube-scheduler, apiserver, client-go, api at v0.35.4; the
 * EventRateLimit configuration from k8s.io/kubernetes v1.35.4) by the small program in
 * test/render-schema, which also runs the add-ons' ValidatingAdmissionPolicy on sample pods. No Kubernetes binary can check these files without
 * running a cluster; strict decoding catches what would otherwise only show on a host: a
 * misspelled or misplaced field, a value of the wrong type, an apiVersion/kind that v1.35 does
 * not know. The program is built once with `go build` (modules from the Go module cache, or the
 * Go module proxy the first time).
 */
import * as path from "path";
import {
    inlineNfsMessage,
    renderAddons,
    renderAdmissionConfig,
    renderAuditPolicy,
    renderAuthenticationConfig,
    renderEncryptionConfig,
    renderKubeconfig,
    renderKubeletConfig,
    renderKubeProxyConfig,
    renderNfsProvisioner,
    renderNfsStorageClass,
    renderSchedulerConfig,
} from "../components/render";
import { NFS_STORAGE } from "./fixtures";
import { cleanup, run, tempDir, tool, writeUnder } from "./render-support";

const PEM_CERT = "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
const PEM_KEY = "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n";

/** One file per renderer, with its optional settings switched on so every field is decoded. */
const FILES: Record<string, string> = {
    "kubelet-config.yaml": renderKubeletConfig({
        clusterDns: "10.96.0.10",
        clusterDomain: "cluster.local",
        podCidr: "10.244.31.0/24",
        cgroupDriver: "cgroupfs",
        failCgroupV1: false,
        failSwapOn: false,
        resolvConf: "/etc/resolv.conf",
        localStorageCapacityIsolation: false,
        kernelMemcgNotification: false,
        cgroupsPerQOS: false,
        enforceNodeAllocatable: [],
        cgroupRoot: "/kubelet",
        evictionHard: { "nodefs.available": "0%", "imagefs.available": "0%" },
    }),
    "kube-proxy-config.yaml": renderKubeProxyConfig({ clusterCidr: "10.244.0.0/16", hostnameOverride: "w1", conntrack: { maxPerCore: 0, min: 0 } }),
    "scheduler-config.yaml": renderSchedulerConfig(),
    "authentication-config.yaml": renderAuthenticationConfig(),
    "admission-config.yaml": renderAdmissionConfig(),
    "encryption-config.yaml": renderEncryptionConfig({ keys: [{ name: "key1", secret: Buffer.alloc(32, 1).toString("base64") }] }),
    "audit-policy.yaml": renderAuditPolicy(),
    "admin.kubeconfig": renderKubeconfig({ server: "https://10.213.0.10:6443", caCertPem: PEM_CERT, userName: "admin", clientCertPem: PEM_CERT, clientKeyPem: PEM_KEY }),
    "addons.yaml": renderAddons({
        clusterDomain: "cluster.local",
        dnsServiceIp: "10.96.0.10",
        corednsVersion: "1.12.4",
        kubeProxyConfig: renderKubeProxyConfig({ clusterCidr: "10.244.0.0/16" }),
        nfsStorageClass: "nfs",
    }),
    "nfs-provisioner.yaml": renderNfsProvisioner(NFS_STORAGE),
    "nfs-storageclass.yaml": renderNfsStorageClass(NFS_STORAGE),
};

describe("strict decoding into the Kubernetes v1.35 types", () => {
    let dir: string;
    let checker: string;
    beforeAll(() => {
        dir = tempDir("schema");
        checker = path.join(dir, "render-schema");
        // GOFLAGS cleared so a developer's -mod=vendor or similar does not change the build.
        const r = run(tool("go"), ["build", "-o", checker, "."], { cwd: path.join(__dirname, "render-schema"), env: { ...process.env, GOFLAGS: "" } });
        if (r.status !== 0) {
            throw new Error(`go build of test/render-schema failed:\n${r.stderr}`);
        }
    }, 600_000);
    afterAll(() => cleanup(dir));

    test.each(Object.keys(FILES).map((f) => [f]))("%s", (name) => {
        const file = writeUnder(dir, `/${name}`, FILES[name]);
        const r = run(checker, [file]);
        expect(r.stdout).not.toMatch(/FAIL/);
        expect(r.status).toBe(0);
        const documents = FILES[name].split(/^---$/m).filter((d) => d.trim() !== "").length;
        expect(r.stdout.trim().split("\n")).toHaveLength(documents);
    });

    test("the checker really checks: a misspelled field, a wrong type and an unknown kind fail", () => {
        const bad = {
            "typo.yaml": FILES["kubelet-config.yaml"].replace("readOnlyPort:", "readOnlyPorts:"),
            "type.yaml": FILES["kube-proxy-config.yaml"].replace("maxPerCore: 0", 'maxPerCore: "zero"'),
            "kind.yaml": FILES["authentication-config.yaml"].replace("kind: AuthenticationConfiguration", "kind: AuthenticationConfig"),
            // Inside the plugins' inline configurations, which the outer type keeps raw.
            "nested.yaml": FILES["admission-config.yaml"].replace("enforce-version:", "enforce-versions:"),
            "limits.yaml": FILES["admission-config.yaml"].replace("burst: 500", "bursts: 500"),
            "plugin-version.yaml": FILES["admission-config.yaml"].replace("eventratelimit.admission.k8s.io/v1alpha1", "eventratelimit.admission.k8s.io/v1"),
            "policy.yaml": FILES["addons.yaml"].replace("validationActions:", "validationAction:"),
        };
        for (const [name, text] of Object.entries(bad)) {
            const r = run(checker, [writeUnder(dir, `/${name}`, text)]);
            expect(r.stdout).toMatch(/^FAIL /m);
            expect(r.status).toBe(1);
        }
    });

    // The add-ons' ValidatingAdmissionPolicy run by the apiserver's own CEL environment and
    // validator (the checker's -policy mode) on pods with and without volumes, in default, a
    // tenant's namespace and kube-system.
    test("inline nfs volumes: refused outside kube-system on CREATE and UPDATE; pods without volumes or nfs admitted", () => {
        const pod = (name: string, namespace: string, volumes?: object[]): string =>
            JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace }, spec: { containers: [{ name: "c", image: "busybox" }], volumes } });
        const nfs = { name: "export", nfs: { server: "10.213.0.51", path: "/srv/nfs/k8s" } };
        const others = [{ name: "config", configMap: { name: "x" } }, { name: "scratch", emptyDir: {} }, { name: "data", persistentVolumeClaim: { claimName: "data" } }];
        const pods: Record<string, string> = {
            "no-volumes.json": pod("no-volumes", "default"),
            "other-volumes.json": pod("other-volumes", "team-a", others),
            "nfs-default.json": pod("nfs-default", "default", [...others, nfs]),
            "nfs-tenant.json": pod("nfs-tenant", "team-a", [nfs]),
            "nfs-kube-system.json": pod("nfs-kube-system", "kube-system", [nfs]),
        };
        const files = Object.entries(pods).map(([name, text]) => writeUnder(dir, `/pods/${name}`, text));
        const r = run(checker, ["-policy", writeUnder(dir, "/policy/addons.yaml", FILES["addons.yaml"]), ...files]);
        expect(r.stderr).toBe("");
        const denied = `denied (Forbidden): ${inlineNfsMessage("nfs")}`;
        const verdicts: [string, string, string][] = [
            ["no-volumes.json", "default", "admitted"],
            ["other-volumes.json", "team-a", "admitted"],
            ["nfs-default.json", "default", denied],
            ["nfs-tenant.json", "team-a", denied],
            ["nfs-kube-system.json", "kube-system", "not matched"],
        ];
        expect(r.stdout.trim().split("\n")).toEqual(
            verdicts.flatMap(([file, ns, verdict]) => ["CREATE", "UPDATE"].map((op) => `${path.join(dir, "pods", file)} ${ns} ${op} k8s-ha-no-inline-nfs: ${verdict}`)),
        );
        expect(r.status).toBe(0);
    });
});
