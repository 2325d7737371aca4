import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { validateConfig } from "../components/validate";
import { labConfig } from "./fixtures";
import { mockEngine, Recorded } from "./mocks";

const resources: Recorded[] = [];

/** What each resource depends on, by name, as the engine is told at registration (explicit and through its inputs). */
const dependencies = new Map<string, string[]>();
/** Each resource's parent's URN, and the parents its aliases name (URNs), as registered. */
const parents = new Map<string, string>();
const aliasParents = new Map<string, string[]>();
{
    interface Registration {
        getName(): string;
        getParent(): string;
        getDependenciesList(): string[];
        getAliasesList(): { getSpec(): { getParenturn(): string } | undefined }[];
    }
    type Register = (req: Registration, callback: unknown) => Promise<void>;
    const proto = MockMonitor.prototype as unknown as { registerResource: Register };
    const register = proto.registerResource;
    proto.registerResource = function (this: unknown, req: Registration, callback: unknown) {
        dependencies.set(req.getName(), req.getDependenciesList().map((urn) => urn.split("::").pop() ?? urn));
        parents.set(req.getName(), req.getParent());
        aliasParents.set(req.getName(), req.getAliasesList().map((a) => a.getSpec()?.getParenturn() ?? ""));
        return register.call(this, req, callback);
    };
}

/** A PEM block whose body names the resource, so tests can tell which one landed where. */
function pem(label: string, name: string): string {
    return `-----BEGIN ${label}-----\n${Buffer.from(`${label} OF ${name}`).toString("base64")}\n-----END ${label}-----\n`;
}

// Mocks are set before the module under test is imported (it is required inside the tests).
mockEngine(resources, (args, state) => {
    switch (args.type) {
        case "command:remote:Command":
            state.stdout = args.name.endsWith("-facts")
                ? '{"interface":"host0","prefix":24,"cgroup":"v1","container":"systemd-nspawn"}'
                : args.name.includes("-digest-")
                  ? `sha256:${crypto.createHash("sha256").update(args.name).digest("hex")}\n`
                  : "";
            break;
        case "tls:index/privateKey:PrivateKey":
            state.privateKeyPem = pem("EC PRIVATE KEY", args.name);
            state.publicKeyPem = pem("PUBLIC KEY", args.name);
            state.privateKeyOpenssh = pem("OPENSSH PRIVATE KEY", args.name);
            state.publicKeyOpenssh = `ssh-ed25519 ${Buffer.from(args.name).toString("base64")}\n`;
            break;
        case "tls:index/selfSignedCert:SelfSignedCert":
        case "tls:index/locallySignedCert:LocallySignedCert":
            state.certPem = pem("CERTIFICATE", args.name);
            state.validityEndTime = `2027-11-30T12:00:00Z ${args.name}`;
            break;
        case "tls:index/certRequest:CertRequest":
            state.certRequestPem = pem("CERTIFICATE REQUEST", args.name);
            break;
        case "random:index/randomPassword:RandomPassword":
            state.result = "vrrpPass";
            break;
    }
});

function value<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply(resolve));
}

async function isSecret<T>(o: pulumi.Output<T>): Promise<boolean> {
    return pulumi.isSecret(o);
}

/** Pulumi's marker of a secret value in serialized inputs. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

function isSecretValue(v: unknown): v is { value: unknown } {
    return typeof v === "object" && v !== null && SECRET_SIG in v;
}

/** The plain value of a serialized input, secret or not. */
function plain(v: unknown): unknown {
    return isSecretValue(v) ? v.value : v;
}

/** Decodes a host script's stdin bundle into path → content. */
function bundle(stdin: unknown): Record<string, string> {
    const files: Record<string, string> = {};
    for (const line of String(plain(stdin)).trim().split("\n")) {
        const [, , path, data] = line.split(" ");
        files[path] = Buffer.from(data ?? "", "base64").toString("utf8");
    }
    return files;
}

async function settle(): Promise<void> {
    await new Promise((r) => setTimeout(r, 200));
}

describe("the cluster graph", () => {
    let built: typeof import("../components/cluster");
    let cluster: ReturnType<typeof import("../components/cluster").buildCluster>;

    beforeAll(async () => {
        built = await import("../components/cluster");
        cluster = built.buildCluster({
            // One repair request (scripts/drift.sh --repair), which only its step carries.
            cluster: validateConfig({ ...labConfig(), repair: { "cp2/control-plane": "20261130T094000Z" } }),
            sshPrivateKey: pulumi.secret("SSH-PRIVATE-KEY-SENTINEL"),
        });
        await value(cluster.controlPlane.adminKubeconfig);
        await settle();
    });

    const commands = () => resources.filter((r) => r.type === "command:remote:Command");
    const command = (name: string) => {
        const c = commands().find((r) => r.name === name);
        if (!c) throw new Error(`no command ${name}; have ${commands().map((r) => r.name).join(", ")}`);
        return c;
    };

    test("every host gets its components' commands, named by host", () => {
        const names = commands().map((r) => r.name).sort();
        expect(names).toEqual(
            [
                "cp1-os", "cp2-os", "cp3-os", "lb1-os", "lb2-os", "mirror-os", "nfs-os", "w1-os", "w2-os",
                "cp1-facts", "cp2-facts", "cp3-facts", "lb1-facts", "lb2-facts", "mirror-facts", "nfs-facts", "w1-facts", "w2-facts",
                "cp1-firewall", "cp2-firewall", "cp3-firewall", "lb1-firewall", "lb2-firewall", "mirror-firewall", "nfs-firewall", "w1-firewall", "w2-firewall",
                "cp1-etcd", "cp2-etcd", "cp3-etcd",
                "cp1-control-plane", "cp2-control-plane", "cp3-control-plane", "cp1-addons", "cp1-rewrite-secrets",
                "lb1-lb", "lb2-lb", "lb1-lb-finish", "lb2-lb-finish", "lb1-lb-join", "lb2-lb-join",
                "mirror-mirror", "nfs-nfs", "nfs-etcd-backup", "cp1-etcd-snapshots", "cp2-etcd-snapshots", "cp3-etcd-snapshots",
                "w1-runtime", "w2-runtime", "w1-kubelet", "w2-kubelet", "cp1-node-w1", "cp1-node-w2", "cp1-cluster-ready",
                "cp1-drain-w1", "cp1-drain-w2",
                "cp1-nfs-storage",
                "mirror-digest-coredns", "mirror-digest-nfs-provisioner", "mirror-digest-pause",
            ].sort(),
        );
    });

    test("people get a cluster-admins certificate, the installer's steps one of their own; the system:masters one stays on the first control-plane host", async () => {
        const subject = (name: string) => resources.find((r) => r.name === name && r.type === "tls:index/certRequest:CertRequest")?.inputs.subject;
        expect(subject("control-plane-cluster-admin-csr")).toEqual({ commonName: "k8s-ha-admin", organization: "k8s-ha:cluster-admins" });
        expect(subject("control-plane-admin-csr")).toEqual({ commonName: "k8s-ha-break-glass", organization: "system:masters" });
        expect(subject("control-plane-installer-csr")).toEqual({ commonName: "k8s-ha-installer", organization: "k8s-ha:installers" });
        const output = await value(cluster.controlPlane.adminKubeconfig);
        const cp1 = bundle(command("cp1-control-plane").inputs.stdin);
        const onHost = cp1["/etc/kubernetes/break-glass.kubeconfig"];
        expect(onHost).not.toBe(output);
        // Only the first control-plane host holds the break-glass and installer kubeconfigs; no other step sends either.
        const kubeconfigs = (name: string) => Object.keys(bundle(command(name).inputs.stdin)).filter((p) => /(admin|break-glass|installer)\.kubeconfig$/.test(p));
        expect(kubeconfigs("cp1-control-plane")).toEqual(["/etc/kubernetes/break-glass.kubeconfig", "/etc/kubernetes/installer.kubeconfig"]);
        for (const c of commands().filter((c) => c.name !== "cp1-control-plane" && !/^cp1-drain-/.test(c.name) && c.inputs.stdin !== undefined && String(plain(c.inputs.stdin)).startsWith("file "))) {
            expect([c.name, kubeconfigs(c.name)]).toEqual([c.name, []]);
        }
        // The drain steps stage the installer's (never install it): they may run before cp1's control-plane step.
        expect(plain(command("cp1-drain-w1").inputs.stdin)).toMatch(/^file 0600 \/etc\/kubernetes\/installer\.kubeconfig \S+ stage-only\n$/);
        // Every installer step names the installer's kubeconfig; only the add-ons step the break-glass one too.
        const installerSteps = commands().filter((c) => /^cp1-(addons|drain-.*|node-.*|cluster-ready|rewrite-secrets|nfs-storage)$/.test(c.name));
        expect(installerSteps.map((c) => c.name).sort()).toEqual(["cp1-addons", "cp1-cluster-ready", "cp1-drain-w1", "cp1-drain-w2", "cp1-nfs-storage", "cp1-node-w1", "cp1-node-w2", "cp1-rewrite-secrets"]);
        for (const c of installerSteps) expect([c.name, String(c.inputs.create)]).toEqual([c.name, expect.stringContaining("'K8SHA_KUBECONFIG=/etc/kubernetes/installer.kubeconfig'")]);
        expect(commands().filter((c) => String(c.inputs.create).includes("K8SHA_BREAK_GLASS_KUBECONFIG=")).map((c) => c.name)).toEqual(["cp1-addons"]);
        const installerNames = yaml.load(cp1["/etc/kubernetes/installer.kubeconfig"]) as { users: { name: string }[] };
        expect(installerNames.users.map((u) => u.name)).toEqual(["k8s-ha-installer"]);
        // Names: the output's are the stack's (mocks run the stack "test"), so that stacks merge in one
        // ~/.kube/config; the host's file keeps the names it always had, so no host's file changes.
        const names = (text: string) => {
            const k = yaml.load(text) as { clusters: { name: string }[]; users: { name: string }[]; contexts: { name: string; context: unknown }[]; "current-context": string };
            return [k.clusters.map((c) => c.name), k.users.map((u) => u.name), k.contexts, k["current-context"]];
        };
        expect(names(output)).toEqual([["k8s-ha-test"], ["k8s-ha-test"], [{ name: "k8s-ha-test", context: { cluster: "k8s-ha-test", user: "k8s-ha-test" } }], "k8s-ha-test"]);
        expect(names(onHost)).toEqual([
            ["kubernetes"],
            ["k8s-ha-break-glass"],
            [{ name: "k8s-ha-break-glass@kubernetes", context: { cluster: "kubernetes", user: "k8s-ha-break-glass" } }],
            "k8s-ha-break-glass@kubernetes",
        ]);
        const cpFiles = bundle(command("cp1-control-plane").inputs.stdin);
        for (const [file, user] of [["controller-manager", "system:kube-controller-manager"], ["scheduler", "system:kube-scheduler"]]) {
            expect(names(cpFiles[`/etc/kubernetes/${file}.kubeconfig`])).toEqual([["kubernetes"], [user], [{ name: `${user}@kubernetes`, context: { cluster: "kubernetes", user } }], `${user}@kubernetes`]);
        }
        expect(Object.keys(built.stackOutputs(cluster))).not.toContain("breakGlassKubeconfig");
        // By default (on cp1) the add-ons step is sent neither kubeconfig, on a plain stdin, as before
        // adminCredential.breakGlassHost existed; the certificate lasts 72 hours, renewed in the last 36.
        const addons = command("cp1-addons").inputs.stdin;
        expect(isSecretValue(addons)).toBe(false);
        expect(Object.keys(bundle(addons)).filter((p) => /kubeconfig/.test(p))).toEqual([]);
        const glassCert = resources.find((r) => r.name === "control-plane-admin-cert")?.inputs;
        expect(glassCert).toMatchObject({ validityPeriodHours: 72, earlyRenewalHours: 36 });
    });

    test("the add-ons name their images by the digests the mirror host resolved", () => {
        const digest = (step: string) => `sha256:${crypto.createHash("sha256").update(`mirror-digest-${step}`).digest("hex")}`;
        const addons = bundle(command("cp1-addons").inputs.stdin)["/etc/kubernetes/addons/k8s-ha.yaml"];
        expect(addons).toContain(`image: registry.k8s.io/coredns/coredns:v1.14.7@${digest("coredns")}`);
        const storage = bundle(command("cp1-nfs-storage").inputs.stdin)["/etc/kubernetes/addons/nfs-provisioner.yaml"];
        expect(storage).toContain(`image: "10.213.0.41:5000/k8s-ha/nfs-provisioner:v0.2.0@${digest("nfs-provisioner")}"`);
        expect(command("mirror-digest-coredns").inputs.create).toContain("'IMAGE_PATH=registry.k8s.io/coredns/coredns' 'IMAGE_TAG=v1.14.7'");
        expect(command("mirror-digest-coredns").inputs.delete).toBeUndefined();
    });

    test("every worker's containerd pins the sandbox image by the digest the mirror host resolved", () => {
        const digest = `sha256:${crypto.createHash("sha256").update("mirror-digest-pause").digest("hex")}`;
        for (const w of ["w1", "w2"]) {
            expect(bundle(command(`${w}-runtime`).inputs.stdin)["/etc/containerd/config.toml"]).toContain(`\n  sandbox = "registry.k8s.io/pause@${digest}"\n`);
        }
        expect(command("mirror-digest-pause").inputs.create).toContain("'IMAGE_PATH=registry.k8s.io/pause' 'IMAGE_TAG=3.10.1'");
        expect(command("mirror-digest-pause").inputs.delete).toBeUndefined();
    });

    test("the add-ons' refusal of inline nfs volumes names the stack's StorageClass", () => {
        const addons = bundle(command("cp1-addons").inputs.stdin)["/etc/kubernetes/addons/k8s-ha.yaml"];
        const policy = (yaml.loadAll(addons) as { kind: string; spec: { validations: { message: string }[] } }[]).find((o) => o.kind === "ValidatingAdmissionPolicy");
        expect(policy?.spec.validations.map((v) => v.message)).toEqual([
            "k8s-ha: inline nfs volumes are refused outside kube-system, since one mounts the whole NFS export with every namespace's volumes; " +
                "use a PersistentVolumeClaim of the StorageClass nfs instead",
        ]);
    });

    test("components have the k8s-ha type tokens", () => {
        const types = new Set(resources.map((r) => r.type).filter((t) => t.startsWith("k8s-ha:")));
        expect([...types].sort()).toEqual([
            "k8s-ha:index:ControlPlane", "k8s-ha:index:DockerImageMirror", "k8s-ha:index:EtcdBackup", "k8s-ha:index:EtcdMember",
            "k8s-ha:index:LoadBalancerPair", "k8s-ha:index:NfsServer", "k8s-ha:index:Node", "k8s-ha:index:Pki", "k8s-ha:index:Worker",
        ]);
    });

    test("a worker's runtime and kubelet are its Worker's, with an alias to the Node they were children of; every host step runs after its host is prepared", () => {
        for (const w of ["w1", "w2"]) {
            for (const step of [`${w}-runtime`, `${w}-kubelet`]) {
                expect([step, parents.get(step)?.split("::").pop()]).toEqual([step, `${w}-worker`]);
                expect([step, aliasParents.get(step)?.map((u) => u.split("::").pop())]).toEqual([step, [w]]);
            }
            expect(parents.get(`${w}-worker`)?.split("::").pop()).toBe(w);
            // The kubelet's certificate stays the Node's.
            expect(parents.get(`${w}-kubelet-cert`)?.split("::").pop()).toBe(w);
        }
        for (const c of commands()) {
            const host = c.name.split("-")[0];
            if (/-(facts|os|firewall)$/.test(c.name)) continue;
            expect([c.name, dependencies.get(c.name)]).toEqual([c.name, expect.arrayContaining([`${host}-facts`, `${host}-firewall`])]);
        }
    });

    test("the VIP feeds the endpoint, the apiserver SANs and every kubeconfig", async () => {
        expect(await value(cluster.loadBalancer.endpoint)).toBe("https://10.213.0.10:6443");
        const csr = resources.find((r) => r.name === "control-plane-apiserver-csr");
        expect(csr?.inputs.ipAddresses).toEqual(expect.arrayContaining(["10.213.0.10", "10.96.0.1", "10.213.0.21", "10.213.0.22", "10.213.0.23"]));
        expect(csr?.inputs.dnsNames).toEqual(expect.arrayContaining(["kubernetes.default.svc.cluster.local"]));
        expect(await value(cluster.controlPlane.adminKubeconfig)).toContain("server: https://10.213.0.10:6443");
        for (const w of ["w1", "w2"]) {
            const files = bundle(command(`${w}-kubelet`).inputs.stdin);
            expect(files["/etc/kubernetes/kubelet.kubeconfig"]).toContain("https://10.213.0.10:6443");
            expect(files["/etc/kubernetes/kube-proxy.kubeconfig"]).toContain("https://10.213.0.10:6443");
        }
    });

    test("the etcd members' client URLs feed the apiservers", () => {
        const unit = bundle(command("cp2-control-plane").inputs.stdin)["/etc/systemd/system/kube-apiserver.service"];
        expect(unit).toContain("https://10.213.0.21:2379,https://10.213.0.22:2379,https://10.213.0.23:2379");
        expect(unit).toContain("--advertise-address=10.213.0.22");
    });

    test("etcd members know the whole initial cluster", () => {
        const unit = bundle(command("cp1-etcd").inputs.stdin)["/etc/systemd/system/etcd.service"];
        expect(unit).toContain("cp1=https://10.213.0.21:2380,cp2=https://10.213.0.22:2380,cp3=https://10.213.0.23:2380");
        // A restart takes the roll lock through every member, so members restart one at a time.
        for (const h of ["cp1", "cp2", "cp3"]) {
            expect(command(`${h}-etcd`).inputs.create).toContain("'ETCD_ENDPOINTS=https://10.213.0.21:2379,https://10.213.0.22:2379,https://10.213.0.23:2379'");
        }
    });

    test("keepalived gets the interface from the host's facts, the peer's address and the stack's advert interval", () => {
        const conf = bundle(command("lb1-lb").inputs.stdin)["/etc/keepalived/keepalived.conf"];
        expect(conf).toContain("host0");
        expect(conf).toContain("10.213.0.12");
        expect(conf).toContain("    vrrp_version 3\n");
        expect(conf).toContain("    advert_int 0.1\n");
    });

    test("containerd on workers pulls through the mirror", () => {
        const files = bundle(command("w1-runtime").inputs.stdin);
        expect(files["/etc/containerd/certs.d/registry.k8s.io/hosts.toml"]).toContain("10.213.0.41:5000");
        expect(files["/etc/k8s-ha/pod-routes"]).toBe("10.244.32.0/24 10.213.0.32\n");
        // k8s-ha's own images are pulled from the mirror by its own address, its certificate checked.
        const own = files["/etc/containerd/certs.d/10.213.0.41:5000/hosts.toml"];
        expect(own).toContain('[host."https://10.213.0.41:5000"]');
        expect(own).toContain('ca = "/etc/kubernetes/pki/ca.crt"');
    });

    test("the order of the steps: etcd before the control plane, control-plane hosts one at a time, add-ons before the kubelets", () => {
        /** Whether `from` waits for `to`, directly or through others. */
        const waitsFor = (from: string, to: string, seen = new Set<string>()): boolean => {
            if (seen.has(from)) return false;
            seen.add(from);
            const direct = dependencies.get(from) ?? [];
            return direct.includes(to) || direct.some((d) => waitsFor(d, to, seen));
        };
        const pairs: [string, string][] = [];
        for (const cp of ["cp1", "cp2", "cp3"]) for (const member of ["cp1", "cp2", "cp3"]) pairs.push([`${cp}-control-plane`, `${member}-etcd`]);
        pairs.push(["cp2-control-plane", "cp1-control-plane"], ["cp3-control-plane", "cp2-control-plane"]);
        for (const w of ["w1", "w2"]) pairs.push([`${w}-kubelet`, "cp1-addons"], [`${w}-kubelet`, `${w}-runtime`], [`${w}-runtime`, `cp1-drain-${w}`]);
        expect(pairs.filter(([a, b]) => !waitsFor(a, b))).toEqual([]);
        // One at a time, and none of them waits for a later one.
        expect(dependencies.get("cp2-control-plane")).toContain("cp1-control-plane");
        expect(waitsFor("cp1-control-plane", "cp2-control-plane")).toBe(false);
        expect(waitsFor("cp1-etcd", "cp1-control-plane")).toBe(false);
    });

    test("per-host values: each worker's CNI config, kubelet config and pod routes have its own pod CIDR, and it serves a certificate for its own name and address from the kubelet serving CA", () => {
        const own: Record<string, [string, string]> = { w1: ["10.244.31.0/24", "10.213.0.31"], w2: ["10.244.32.0/24", "10.213.0.32"] };
        for (const [w, [cidr, address]] of Object.entries(own)) {
            const runtime = bundle(command(`${w}-runtime`).inputs.stdin);
            const cni = JSON.parse(runtime["/etc/cni/net.d/10-k8s-ha.conflist"]) as { plugins: { ipam?: { ranges?: { subnet: string }[][] } }[] };
            const subnets = cni.plugins.flatMap((p) => (p.ipam?.ranges ?? []).flat().map((r) => r.subnet));
            expect([w, subnets]).toEqual([w, [cidr]]);
            expect(bundle(command(`${w}-kubelet`).inputs.stdin)["/etc/kubernetes/kubelet-config.yaml"]).toContain(`podCIDR: "${cidr}"`);
            // The other worker's range goes through the other worker, never this one's.
            expect(runtime["/etc/k8s-ha/pod-routes"]).not.toContain(cidr);
            expect(runtime["/etc/k8s-ha/pod-routes"]).not.toContain(address);
        }
        const byName = (type: string, name: string) => resources.find((r) => r.type === type && r.name === name);
        for (const [w, [, address]] of Object.entries(own)) {
            const csr = byName("tls:index/certRequest:CertRequest", `${w}-kubelet-serving-csr`);
            expect([w, csr?.inputs.dnsNames, csr?.inputs.ipAddresses, csr?.inputs.subject]).toEqual([w, [w], [address], { commonName: `system:node:${w}`, organization: "system:nodes" }]);
            const cert = byName("tls:index/locallySignedCert:LocallySignedCert", `${w}-kubelet-serving-cert`);
            expect([w, cert?.inputs.caCertPem, cert?.inputs.allowedUses]).toEqual([w, pem("CERTIFICATE", "kubelet-pki-ca"), ["digital_signature", "key_encipherment", "server_auth"]]);
            expect(bundle(command(`${w}-kubelet`).inputs.stdin)["/etc/kubernetes/pki/kubelet-serving.crt"]).toBe(pem("CERTIFICATE", `${w}-kubelet-serving-cert`));
        }
        // The control plane verifies kubelets with that CA, and no approver is left.
        const cp = bundle(command("cp2-control-plane").inputs.stdin);
        expect(cp["/etc/kubernetes/pki/kubelet-ca.crt"]).toBe(pem("CERTIFICATE", "kubelet-pki-ca"));
        expect(Object.keys(cp).filter((p) => p.includes("approver"))).toEqual([]);
    });

    test("one kube-proxy certificate serves every worker (3 resources, not 3 per worker)", () => {
        const certs = resources.filter((r) => r.type === "tls:index/locallySignedCert:LocallySignedCert" && r.name.includes("kube-proxy"));
        expect(certs.map((r) => r.name)).toEqual(["kube-proxy-cert"]);
        const w1 = bundle(command("w1-kubelet").inputs.stdin)["/etc/kubernetes/kube-proxy.kubeconfig"];
        const w2 = bundle(command("w2-kubelet").inputs.stdin)["/etc/kubernetes/kube-proxy.kubeconfig"];
        expect(w1).toContain(Buffer.from(pem("CERTIFICATE", "kube-proxy-cert")).toString("base64"));
        expect(w1).toBe(w2);
    });

    test("the NFS StorageClass step runs on cp1 as the installer with the export and the mirror's image", () => {
        const step = command("cp1-nfs-storage");
        const files = bundle(step.inputs.stdin);
        expect(Object.keys(files).sort()).toEqual([
            "/etc/kubernetes/addons/nfs-provisioner.yaml",
            "/etc/kubernetes/addons/nfs-storageclass.yaml",
        ]);
        const provisioner = files["/etc/kubernetes/addons/nfs-provisioner.yaml"];
        expect(provisioner).toContain(`image: "10.213.0.41:5000/k8s-ha/nfs-provisioner:v0.2.0@sha256:`);
        expect(provisioner).toContain("--server=10.213.0.51");
        expect(provisioner).toContain("--path=/srv/nfs/k8s");
        expect(files["/etc/kubernetes/addons/nfs-storageclass.yaml"]).toContain("provisioner: k8s-ha.io/nfs");
        expect(String(step.inputs.create)).toContain("NFS_EXPORT=10.213.0.51:/srv/nfs/k8s");
    });

    test("secrets are secret and never in command text", async () => {
        expect(await isSecret(cluster.controlPlane.adminKubeconfig)).toBe(true);
        for (const c of commands()) {
            expect(String(c.inputs.create)).not.toContain("PRIVATE KEY");
            expect(String(c.inputs.create)).not.toContain("-----BEGIN");
            // The SSH key travels only inside the secret connection.
            expect(isSecretValue(c.inputs.connection)).toBe(true);
            expect(String(c.inputs.create)).not.toContain("SSH-PRIVATE-KEY-SENTINEL");
        }
        for (const name of ["cp1-etcd", "cp1-control-plane", "cp1-drain-w1", "w1-kubelet", "mirror-mirror"]) {
            expect(isSecretValue(command(name).inputs.stdin)).toBe(true);
        }
        // The lb hosts' files hold no secret since VRRPv3 (no password).
        expect(isSecretValue(command("lb1-lb").inputs.stdin)).toBe(false);
    });

    test("each step's text lists its files: the sha256 of each one without secrets, the word secret for the rest", () => {
        const sha = (text: string) => crypto.createHash("sha256").update(text, "utf8").digest("hex");
        for (const c of commands()) {
            const create = plain(c.inputs.create);
            // The manifest never makes the command's text secret: a preview can show it.
            expect(isSecretValue(c.inputs.create)).toBe(false);
            // The facts step's stdin is the host library, not files.
            if (c.name.endsWith("-facts")) continue;
            const files = String(plain(c.inputs.stdin)).trim() === "" ? {} : bundle(c.inputs.stdin);
            const lines = String(create).split("\n").filter((l) => l.startsWith(": file "));
            expect(lines.map((l) => l.split(" ")[2])).toEqual(Object.keys(files).sort((a, b) => a.localeCompare(b)));
            for (const line of lines) {
                const [, , filePath, , what] = line.split(" ");
                const secretStep = isSecretValue(c.inputs.stdin);
                if (secretStep && /\.(key|kubeconfig)$|encryption-config|htpasswd|password/.test(filePath)) expect([c.name, filePath, what]).toEqual([c.name, filePath, "secret"]);
                if (what !== "secret") expect([c.name, what]).toEqual([c.name, `sha256:${sha(files[filePath])}`]);
            }
        }
        const cp = String(plain(command("cp2-control-plane").inputs.create));
        expect(cp).toContain(": file /etc/kubernetes/pki/apiserver.crt 0644 sha256:");
        expect(cp).toContain(": file /etc/kubernetes/pki/apiserver.key 0600 secret");
        expect(cp).toMatch(/^: file \/etc\/systemd\/system\/kube-apiserver\.service 0600 sha256:[0-9a-f]{64} restarts=kube-apiserver$/m);
    });

    test("each control-plane step is told where the lb hosts' HAProxies show its server, in its environment, and no file of it changes for that", () => {
        for (const cp of ["cp1", "cp2", "cp3"]) {
            const create = String(plain(command(`${cp}-control-plane`).inputs.create));
            expect(create).toContain("'K8SHA_LB_STATS=lb1=http://10.213.0.11:8404/stats;csv lb2=http://10.213.0.12:8404/stats;csv'");
            expect(create).toContain(`'K8SHA_LB_SERVER=${cp}'`);
            expect(create).toContain("'K8SHA_LB_WAIT_SECONDS=60'");
            expect(create).toContain("'K8SHA_LB_BACKEND=kube-apiserver'");
            expect(Object.values(bundle(command(`${cp}-control-plane`).inputs.stdin)).join("\n")).not.toMatch(/8404|K8SHA_LB/);
        }
        // The lb hosts' HAProxy names the servers as the steps do.
        const cfg = bundle(command("lb1-lb").inputs.stdin)["/etc/haproxy/haproxy.cfg"];
        expect(cfg).toContain("    server cp2 10.213.0.22:6443");
        expect(cfg).toContain("    stats scope kube-apiserver");
    });

    test("the host scripts restart and reload the units their bundles name, and name no file a bundle sends", async () => {
        const { hostScript } = await import("../components/runner");
        const dir = path.resolve(__dirname, "../scripts/host");
        const scripts = fs.readdirSync(dir).filter((f) => f.endsWith(".sh") && !["lib.sh", "prologue.sh", "run-saved.sh"].includes(f));
        const bySha = new Map(scripts.map((f) => [crypto.createHash("sha256").update(hostScript(f.replace(/\.sh$/, ""))).digest("hex"), f]));
        // What each script's steps' bundles tag, over every host of the lab's cluster.
        const tagged = new Map<string, { restarts: Set<string>; reloads: Set<string>; paths: Set<string> }>();
        for (const c of commands()) {
            const sha = /K8SHA_SCRIPT=([0-9a-f]{64})/.exec(String(plain(c.inputs.create)))?.[1];
            const script = sha ? bySha.get(sha) : undefined;
            if (!script || c.name.endsWith("-facts")) continue;
            const t = tagged.get(script) ?? { restarts: new Set<string>(), reloads: new Set<string>(), paths: new Set<string>() };
            tagged.set(script, t);
            for (const line of String(plain(c.inputs.stdin)).trim().split("\n")) {
                const [kind, , filePath, , ...tags] = line.split(" ");
                if (kind !== "file") continue;
                // A staged-only file is a hook's to read or install (os.sh's chrony.conf).
                if (!tags.includes("stage-only")) t.paths.add(filePath);
                for (const tag of tags) {
                    const [k, v] = tag.split("=");
                    if (k === "restarts") v.split(",").forEach((u) => t.restarts.add(u));
                    if (k === "reloads") v.split(",").forEach((u) => t.reloads.add(u));
                }
            }
        }
        // Units only another setting's bundle tags: the push endpoint of a mirror in preloaded mode (the lab's mirror is a proxy).
        const taggedInAnotherMode: Record<string, string[]> = { "mirror.sh": ["k8s-ha-registry-push"] };
        expect(validateConfig(labConfig()).mirror.mode).toBe("proxy");
        expect([...tagged.keys()].sort()).toEqual(expect.arrayContaining(["controlplane.sh", "etcd.sh", "firewall.sh", "kubelet.sh", "lb.sh", "mirror.sh", "nfs.sh", "runtime.sh"]));
        for (const [script, t] of tagged) {
            const text = fs.readFileSync(path.join(dir, script), "utf8");
            // The script's simple settings (UNIT=k8s-ha-etcd-backup), to read "$UNIT.timer".
            const vars = Object.fromEntries([...text.matchAll(/^([A-Z_]+)=([A-Za-z0-9._-]+)$/gm)].map((m) => [m[1], m[2]]));
            const named = (fn: string) =>
                new Set([...text.matchAll(new RegExp(`${fn} "?([^ )"]+)"?\\)`, "g"))].map((m) => m[1].replace(/\$\{?([A-Z_]+)\}?/g, (_, v: string) => vars[v] ?? `$${v}`)));
            // Every unit a bundle tags is one the script acts on, and every unit it asks about is one a file tags,
            // in the lab's build, or in another mode (taggedInAnotherMode).
            const sorted = (units: Iterable<string>) => [...units].sort();
            expect([script, "restarts", sorted([...t.restarts, ...(taggedInAnotherMode[script] ?? [])])]).toEqual([script, "restarts", sorted(named("restart_of"))]);
            expect([script, "reloads", sorted(t.reloads)]).toEqual([script, "reloads", sorted(named("reload_of"))]);
            // No script lists the files its bundle brings: the component's list is the only one.
            const installs = [...text.matchAll(/install_files? ([^|;&]+)/g)].flatMap((m) => m[1].split(/\s+/)).filter((w) => t.paths.has(w));
            expect([script, installs]).toEqual([script, []]);
        }
        // The units a control-plane file restarts, per file: the CA key the controller-manager's alone.
        const cpFiles = String(plain(command("cp1-control-plane").inputs.stdin));
        expect(cpFiles).toMatch(/^file 0600 \/etc\/kubernetes\/pki\/ca\.key \S+ restarts=kube-controller-manager$/m);
        expect(cpFiles).toMatch(/^file 0644 \/etc\/kubernetes\/pki\/ca\.crt \S+ restarts=kube-apiserver,kube-controller-manager$/m);
        expect(cpFiles).toMatch(/^file 0600 \/etc\/kubernetes\/break-glass\.kubeconfig \S+$/m);
        expect(cpFiles).toMatch(/^file 0600 \/etc\/kubernetes\/installer\.kubeconfig \S+$/m);
        expect(String(plain(command("cp2-control-plane").inputs.stdin))).not.toMatch(/kubernetes\/(admin|break-glass|installer)\.kubeconfig/);
    });

    test("a worker's drain step and Node-object step carry the same fingerprint of what it runs; one per worker", () => {
        const fp = (name: string) => /'K8SHA_RESTART_INPUTS=([0-9a-f]{64})'/.exec(String(plain(command(name).inputs.create)))?.[1];
        expect(fp("cp1-drain-w1")).toMatch(/^[0-9a-f]{64}$/);
        expect(fp("cp1-drain-w1")).toBe(fp("cp1-node-w1"));
        expect(fp("cp1-drain-w2")).toBe(fp("cp1-node-w2"));
        expect(fp("cp1-drain-w1")).not.toBe(fp("cp1-drain-w2"));
        // The drain step has no delete: a worker that leaves is drained by its Node-object step.
        expect(command("cp1-drain-w1").inputs.delete).toBeUndefined();
    });

    test("each etcd member has a local command that copies its delete's snapshot to the NFS server, with the SSH key on its secret stdin", () => {
        const copies = resources.filter((r) => r.type === "command:local:Command");
        expect(copies.map((c) => c.name).sort()).toEqual(["cp1-etcd-snapshot-copy", "cp2-etcd-snapshot-copy", "cp3-etcd-snapshot-copy"]);
        const cp2 = copies.find((c) => c.name === "cp2-etcd-snapshot-copy");
        expect(isSecretValue(cp2?.inputs.stdin)).toBe(true);
        expect(plain(cp2?.inputs.stdin)).toBe("SSH-PRIVATE-KEY-SENTINEL");
        expect(cp2?.inputs.create).toBeUndefined();
        expect(String(cp2?.inputs.delete)).toContain("k8s-ha-snapshot-copy");
        expect(cp2?.inputs.environment).toEqual({
            K8SHA_HOST: "cp2",
            SRC: "root 10.213.0.22 22",
            COPY_TO: "nfs",
            DEST: "root 10.213.0.51 22",
            DEST_DIR: "/var/backups/k8s-ha/etcd",
            DEST_HOST: "nfs",
            STORE_SCRIPT: Buffer.from(fs.readFileSync(path.resolve(__dirname, "../scripts/host/files/etcd-store.sh"), "utf8")).toString("base64"),
            KNOWN_HOSTS: "10.213.0.22 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICP2\n10.213.0.51 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINFS",
            UNPINNED: "no",
        });
        expect(JSON.stringify(cp2?.inputs.environment)).not.toContain("SENTINEL");
    });

    test("scheduled etcd snapshots: each member's step holds the passphrase and keys (secret), the NFS server's only what verifies and receives them", () => {
        const step = command("nfs-etcd-backup");
        const files = bundle(step.inputs.stdin);
        const modes = (s: unknown) => Object.fromEntries(String(plain(s)).trim().split("\n").map((l) => [l.split(" ")[2], l.split(" ")[1]]));
        expect(modes(step.inputs.stdin)).toEqual({
            "/etc/k8s-ha/etcd-backup.env": "0644",
            "/etc/k8s-ha/etcd-backup/verify.pem": "0644",
            "/etc/k8s-ha/etcd-backup/authorized_key": "0644",
            "/usr/local/lib/k8s-ha/etcd-backup/store.sh": "0755",
        });
        // No etcd credential, no passphrase, no private key on the NFS server.
        expect(Object.values(files).join("\n")).not.toMatch(/PRIVATE KEY|vrrpPass/);
        expect(files["/etc/k8s-ha/etcd-backup/verify.pem"]).toBe(pem("PUBLIC KEY", "etcd-backup-signing-key"));
        expect(files["/etc/k8s-ha/etcd-backup.env"]).toBe("# Rendered by k8s-ha. Changes here are overwritten.\nHOST=nfs\nDIR=/var/backups/k8s-ha/etcd\nKEEP=48\nVERIFY_KEY=/etc/k8s-ha/etcd-backup/verify.pem\n");
        expect(files["/etc/k8s-ha/etcd-backup/authorized_key"]).toMatch(/^from="10\.213\.0\.21,10\.213\.0\.22,10\.213\.0\.23",restrict,command="\/bin\/bash \/usr\/local\/lib\/k8s-ha\/etcd-backup\/store\.sh receive \/etc\/k8s-ha\/etcd-backup\.env" ssh-ed25519 \S+ k8s-ha-etcd-backup\n$/);
        const create = String(plain(step.inputs.create));
        expect(create).toContain("'SNAPSHOT_DIR=/var/backups/k8s-ha/etcd'");
        expect(create).toContain("'LEGACY_DIR=/srv/nfs/k8s/k8s-ha-backups/etcd'");
        expect(create).not.toContain("ETCD_SHA256");
        for (const m of ["cp1", "cp2", "cp3"]) {
            const s = command(`${m}-etcd-snapshots`);
            expect(isSecretValue(s.inputs.stdin)).toBe(true);
            const f = bundle(s.inputs.stdin);
            expect(modes(s.inputs.stdin)).toEqual({
                "/etc/k8s-ha/etcd-snapshot/encryption.key": "0600",
                "/etc/k8s-ha/etcd-snapshot/signing.key": "0600",
                "/etc/k8s-ha/etcd-snapshot/ssh.key": "0600",
                "/etc/k8s-ha/etcd-snapshot/known_hosts": "0644",
                "/etc/k8s-ha/etcd-snapshot.env": "0644",
                "/usr/local/lib/k8s-ha/etcd-snapshot/snapshot.sh": "0755",
                "/etc/systemd/system/k8s-ha-etcd-snapshot.service": "0600",
                "/etc/systemd/system/k8s-ha-etcd-snapshot.timer": "0600",
            });
            expect(f["/etc/k8s-ha/etcd-snapshot/encryption.key"]).toBe("vrrpPass");
            expect(f["/etc/k8s-ha/etcd-snapshot/known_hosts"]).toBe("10.213.0.51 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINFS\n");
            expect(f["/etc/k8s-ha/etcd-snapshot.env"]).toContain(`HOST=${m}\n`);
            expect(f["/etc/k8s-ha/etcd-snapshot.env"]).toContain("STORE=root@10.213.0.51\nSTORE_PORT=22\n");
            expect(f["/etc/systemd/system/k8s-ha-etcd-snapshot.timer"]).toContain("OnCalendar=hourly\n");
            // The passphrase and the private keys reach the member on its secret stdin only: the
            // command text, which the state and the preview show, names no secret.
            const text = String(plain(s.inputs.create));
            expect(text).not.toMatch(/vrrpPass|PRIVATE KEY/);
            expect(text).toMatch(/^: file \/etc\/k8s-ha\/etcd-snapshot\/encryption\.key 0600 secret restarts=k8s-ha-etcd-snapshot\.service$/m);
            expect(dependencies.get(`${m}-etcd-snapshots`)).toEqual(expect.arrayContaining(["nfs-etcd-backup", `${m}-etcd`]));
        }
        // The passphrase is a secret stack output; the etcd members' client port is open to no other host.
        expect(isSecret(built.stackOutputs(cluster).etcdBackupPassphrase)).resolves.toBe(true);
        const fw = Object.values(bundle(command("cp2-firewall").inputs.stdin)).join("\n");
        expect(fw).not.toContain("10.213.0.51");
    });

    test("the stack output certificates gives every certificate's expiry, by CA and name", async () => {
        const certs = await value(built.stackOutputs(cluster).certificates);
        const signed = resources.filter((r) => r.type === "tls:index/locallySignedCert:LocallySignedCert").map((r) => r.name);
        const listed = [...Object.keys(certs.cluster), ...Object.keys(certs.etcd), ...Object.keys(certs.kubelet)].filter((n) => n !== "ca");
        expect(listed.map((n) => `${n}-cert`).sort()).toEqual([...signed].sort());
        expect(certs.cluster.ca).toBe("2027-11-30T12:00:00Z cluster-pki-ca");
        expect(certs.etcd.ca).toBe("2027-11-30T12:00:00Z etcd-pki-ca");
        // The names validation accepts in k8s-ha:certificates.overrides are the names issued.
        const { certificateNames } = await import("../components/certificates");
        const names = certificateNames(validateConfig(labConfig()).hosts);
        expect(Object.keys(certs.cluster).filter((n) => n !== "ca").sort()).toEqual([...names.cluster].sort());
        expect(Object.keys(certs.etcd).filter((n) => n !== "ca").sort()).toEqual([...names.etcd].sort());
        expect(Object.keys(certs.kubelet).filter((n) => n !== "ca").sort()).toEqual([...names.kubelet].sort());
        expect(certs.kubelet.ca).toBe("2027-11-30T12:00:00Z kubelet-pki-ca");
        // A new stack renews nothing.
        expect(built.stackOutputs(cluster).certificateRenewals).toEqual({ cluster: {}, etcd: {}, kubelet: {} });
    });

    test("past its renewal point by the program's clock a certificate is renewed; the others, and the renewed one's next update, keep their triggers", async () => {
        const { Pki } = await import("../components/pki");
        const settings = { validityDays: 365, renewBeforeDays: 30, overrides: { short: { validityDays: 2, renewBeforeDays: 1 } } };
        const now = Date.parse("2026-12-01T00:00:00Z");
        const previous = {
            expiries: { short: "2026-12-01T20:00:00Z", long: "2027-11-30T00:00:00Z", renewedBefore: "2027-11-30T00:00:00Z" },
            renewals: { renewedBefore: "2026-11-30T00:00:00Z" },
        };
        const pki = new Pki("renewal-test", { commonName: "renewal test CA", lifetimes: settings, previous, now });
        for (const n of ["short", "long", "renewedBefore", "new"]) pki.issue(n, { commonName: n, client: true }, pki);
        expect(pki.renewals).toEqual({ short: "2026-12-01T20:00:00Z", renewedBefore: "2026-11-30T00:00:00Z" });
        await settle();
        const short = resources.find((r) => r.name === "short-cert");
        expect(short?.inputs).toMatchObject({ validityPeriodHours: 48, earlyRenewalHours: 24 });
        // A renewal re-keys: each key carries its certificate's trigger, so the key is replaced with
        // the certificate; a key whose state has no trigger yet (an earlier release's) records it and stays.
        const trigger = (name: string) => resources.find((r) => r.name === name)?.replacementTrigger;
        for (const n of ["short", "long", "renewedBefore", "new"]) {
            expect([n, trigger(`${n}-key`)]).toEqual([n, trigger(`${n}-cert`)]);
        }
        expect(["short", "long", "renewedBefore", "new"].map((n) => trigger(`${n}-key`))).toEqual(["2026-12-01T20:00:00Z", "not renewed", "2026-11-30T00:00:00Z", "not renewed"]);
        expect(resources.find((r) => r.name === "long-cert")?.inputs).toMatchObject({ validityPeriodHours: 8760, earlyRenewalHours: 720 });
    });

    test("the stack output adminCredential is the kubeconfig output's generation, which the next update's validation reads", async () => {
        expect(built.stackOutputs(cluster).adminCredential).toEqual({ generation: 1, breakGlassHost: "cp1", breakGlassValidityHours: 72 });
        const { adminGeneration } = await import("../components/stack");
        expect([adminGeneration({ generation: 3 }), adminGeneration(undefined), adminGeneration({ generation: 0 }), adminGeneration("2")]).toEqual([3, undefined, undefined, undefined]);
    });

    test("the stack output versions is what the cluster runs, which the next update's validation reads", async () => {
        expect(await value(built.stackOutputs(cluster).versions)).toEqual(validateConfig(labConfig()).versions);
    });

    test("a repair request re-runs its step alone: only cp2's control-plane step carries K8SHA_REPAIR", () => {
        const carrying = commands().filter((c) => String(plain(c.inputs.create)).includes("K8SHA_REPAIR="));
        expect(carrying.map((c) => c.name)).toEqual(["cp2-control-plane"]);
        expect(String(plain(command("cp2-control-plane").inputs.create))).toContain("'K8SHA_REPAIR=20261130T094000Z'");
    });

    test("the encryption key comes from a RandomPassword (its ID is not the value) and is 32 bytes", () => {
        expect(resources.some((r) => r.type === "random:index/randomBytes:RandomBytes")).toBe(false);
        const secret = resources.find((r) => r.name === "control-plane-encryption-secret");
        expect(secret?.type).toBe("random:index/randomPassword:RandomPassword");
        const conf = bundle(command("cp1-control-plane").inputs.stdin)["/etc/kubernetes/encryption-config.yaml"];
        const key = /secret: "?([^"\s]+)/.exec(conf)?.[1] ?? "";
        expect(Buffer.from(key, "base64")).toHaveLength(32);
        expect(key).toBe(crypto.createHash("sha256").update("vrrpPass").digest("base64"));
    });

    test("file modes on every host: keys, kubeconfigs, units, kubelet and CNI configs 0600; certificates 0644", () => {
        const wrong: string[] = [];
        // The facts steps read the host library on stdin, not files.
        for (const c of commands().filter((c) => !c.name.endsWith("-facts"))) {
            for (const line of String(plain(c.inputs.stdin)).trim().split("\n").filter(Boolean)) {
                const [, mode, path] = line.split(" ");
                const ownerOnly =
                    /\.(key|kubeconfig|conflist)$/.test(path) ||
                    path.startsWith("/etc/systemd/system/") ||
                    ["/etc/kubernetes/kubelet-config.yaml", "/etc/kubernetes/encryption-config.yaml", "/etc/keepalived/keepalived.conf"].includes(path);
                // The registry runs as its own user and reads its key through its group (root:docker-registry 0640).
                const want = path === "/etc/docker/registry/tls/registry.key" ? "0640" : "0600";
                if (ownerOnly && mode !== want) wrong.push(`${c.name}: ${path} ${mode}, want ${want}`);
                if (/\.crt$/.test(path) && mode !== "0644") wrong.push(`${c.name}: ${path} ${mode}, want 0644`);
            }
        }
        expect(wrong).toEqual([]);
    });

    test("commands pin the host key when the config has one and use the host's address", () => {
        const conn = plain(command("w1-os").inputs.connection) as Record<string, unknown>;
        expect(conn.host).toBe("10.213.0.31");
        expect(conn.user).toBe("root");
    });
});
