import { changedFiles, planProblems, PreviewStep, summarizePreview, switchAllowance } from "./e2e/plan";
import { compareSwitch, parsePids } from "./e2e/pids";
import * as crypto from "crypto";
import { findLeaks, opensshSecretLines, SECRET_SIG, secretNeedles, secretPemLines, uncovered } from "./e2e/secrets";
import { missingChecks, namedChecks } from "./e2e/expected";
import { encryptionKeyFrom } from "../components/controlplane";

const urn = (type: string, name: string) => `urn:pulumi:dev::k8s-ha::${type}::${name}`;
const cmd = (name: string) => urn("k8s-ha:index:Node$command:remote:Command", name);

describe("preview summary and the change drills' expectations", () => {
    const preview = (steps: [string, string][]) => summarizePreview({ steps: steps.map(([op, u]) => ({ op, urn: u })) });

    test("groups steps by resource name, replacements once, the stack left out", () => {
        const s = preview([
            ["same", urn("pulumi:pulumi:Stack", "k8s-ha-dev")],
            ["create", cmd("w3-os")],
            ["create-replacement", cmd("control-plane-apiserver-cert")],
            ["delete-replaced", cmd("control-plane-apiserver-cert")],
            ["update", cmd("cp1-control-plane")],
            ["same", cmd("cp1-os")],
        ]);
        expect(s).toEqual({ create: ["w3-os"], update: ["cp1-control-plane"], replace: ["control-plane-apiserver-cert"], delete: [], same: 1, unchanged: 0, createdComponents: [], files: {} });
    });

    test("add-worker allows the worker's resources and the topology followers only", () => {
        const ok = preview([
            ["create", urn("k8s-ha:index:Node", "w3")],
            ["create", cmd("w3-os")],
            ["create", cmd("w3-kubelet")],
            ["create", cmd("cp1-node-w3")],
            ["update", cmd("w1-runtime")],
            ["update", cmd("lb1-os")],
        ]);
        expect(planProblems("add-worker", "w3", ok)).toEqual([]);
        const bad = preview([
            ["create", cmd("w3-kubelet")],
            ["update", cmd("cp1-control-plane")],
            ["replace", cmd("w1-kubelet")],
        ]);
        expect(planProblems("add-worker", "w3", bad)).toEqual([
            "cp1-control-plane: update is not expected in the add-worker drill",
            "w1-kubelet: replace is not expected in the add-worker drill",
        ]);
    });

    test("renew allows replacing the named certificates alone and updating the steps of their hosts", () => {
        const cert = (n: string) => urn("tls:index/locallySignedCert:LocallySignedCert", n);
        const ok = preview([
            ["replace", cert("cp2-etcd-peer-cert")],
            ["replace", cert("control-plane-controller-manager-cert")],
            ["update", cmd("cp2-etcd")],
            ["update", cmd("cp1-control-plane")],
        ]);
        expect(planProblems("renew", "cp2-etcd-peer,control-plane-controller-manager", ok)).toEqual([]);
        const bad = preview([["replace", cert("cp2-etcd-peer-cert")], ["replace", cert("cp2-etcd-server-cert")], ["update", cmd("lb1-lb")]]);
        expect(planProblems("renew", "cp2-etcd-peer,control-plane-controller-manager", bad)).toEqual([
            "cp2-etcd-server-cert: replace is not expected in the renew drill",
            "control-plane-controller-manager-cert: not replaced in the renew drill",
            "lb1-lb: update is not expected in the renew drill",
        ]);
    });

    test("rekey allows replacing the named certificates with their keys and requests, nothing else", () => {
        const tls = (t: string, n: string) => urn(`tls:index/${t}`, n);
        const trio = (n: string): [string, string][] => [
            ["replace", tls("privateKey:PrivateKey", `${n}-key`)],
            ["replace", tls("certRequest:CertRequest", `${n}-csr`)],
            ["replace", tls("locallySignedCert:LocallySignedCert", `${n}-cert`)],
        ];
        const ok = preview([...trio("cp2-etcd-peer"), ...trio("control-plane-controller-manager"), ["update", cmd("cp2-etcd")], ["update", cmd("cp1-control-plane")]]);
        expect(planProblems("rekey", "cp2-etcd-peer,control-plane-controller-manager", ok)).toEqual([]);
        // A renewal that kept its key (the old behaviour) is not a rekey; another certificate's key is not either.
        const bad = preview([["replace", tls("locallySignedCert:LocallySignedCert", "cp2-etcd-peer-cert")], ...trio("control-plane-controller-manager"), ["replace", tls("privateKey:PrivateKey", "cp2-etcd-server-key")]]);
        expect(planProblems("rekey", "cp2-etcd-peer,control-plane-controller-manager", bad)).toEqual([
            "cp2-etcd-server-key: replace is not expected in the rekey drill",
            "cp2-etcd-peer-csr: not replaced in the rekey drill",
            "cp2-etcd-peer-key: not replaced in the rekey drill",
        ]);
    });

    test("remove-worker allows deleting the worker's resources only", () => {
        const ok = preview([["delete", cmd("w3-kubelet")], ["delete", cmd("cp1-node-w3")], ["update", cmd("w1-runtime")]]);
        expect(planProblems("remove-worker", "w3", ok)).toEqual([]);
        const bad = preview([["delete", cmd("w3-kubelet")], ["delete", cmd("w1-kubelet")], ["create", cmd("w3-os")]]);
        expect(planProblems("remove-worker", "w3", bad)).toEqual([
            "w1-kubelet: delete is not expected in the remove-worker drill",
            "w3-os: create is not expected in the remove-worker drill",
        ]);
    });

    const text = (...lines: string[]) => [...lines, "sudo -n env K8SHA_HOST=cp1 bash -c 'x' k8s-ha-create create"].join("\n");
    const CRT_OLD = ": file /etc/kubernetes/pki/apiserver.crt 0644 sha256:aa";
    const KEY = ": file /etc/kubernetes/pki/apiserver.key 0600 secret";
    const UNIT = ": file /etc/systemd/system/kube-apiserver.service 0600 sha256:cc";
    const cpUpdate = (name: string, ...after: string[]): PreviewStep => ({
        op: "update",
        urn: cmd(name),
        oldState: { inputs: { create: text(CRT_OLD, KEY, UNIT) } },
        newState: { inputs: { create: text(...after) } },
    });

    test("the files a step's preview changes come from the manifest lines of its old and new text", () => {
        expect(changedFiles(cpUpdate("cp1-control-plane", ": file /etc/kubernetes/pki/apiserver.crt 0644 changes", KEY, UNIT))).toEqual(["/etc/kubernetes/pki/apiserver.crt"]);
        expect(changedFiles(cpUpdate("cp1-control-plane", CRT_OLD, KEY, ": file /etc/systemd/system/kube-apiserver.service 0600 sha256:dd", ": file /etc/new 0644 sha256:ee"))).toEqual([
            "/etc/new",
            "/etc/systemd/system/kube-apiserver.service",
        ]);
        expect(changedFiles(cpUpdate("cp1-control-plane", CRT_OLD, KEY, UNIT))).toEqual([]);
    });

    test("api-sans allows only the apiserver certificate and the control-plane steps, and the preview names the certificate", () => {
        const changes = ": file /etc/kubernetes/pki/apiserver.crt 0644 changes";
        const ok = summarizePreview({
            steps: [
                { op: "create-replacement", urn: cmd("control-plane-apiserver-csr") },
                { op: "create-replacement", urn: cmd("control-plane-apiserver-cert") },
                cpUpdate("cp1-control-plane", changes, KEY, UNIT),
                cpUpdate("cp2-control-plane", changes, KEY, UNIT),
            ],
        });
        expect(planProblems("api-sans", undefined, ok)).toEqual([]);
        const bad = summarizePreview({
            steps: [cpUpdate("cp1-control-plane", changes, KEY, ": file /etc/systemd/system/kube-apiserver.service 0600 changes"), { op: "update", urn: cmd("w1-kubelet") }],
        });
        expect(planProblems("api-sans", undefined, bad)).toEqual([
            "w1-kubelet: update is not expected in the api-sans drill",
            "control-plane-apiserver-cert: not replaced by the api-sans drill",
            "cp1-control-plane: the preview names [/etc/kubernetes/pki/apiserver.crt, /etc/systemd/system/kube-apiserver.service], not the apiserver certificate alone",
        ]);
    });

    test("lb-setting allows the two lb steps, each naming haproxy.cfg alone", () => {
        const lbUpdate = (name: string, after: string): PreviewStep => ({
            op: "update",
            urn: cmd(name),
            oldState: { inputs: { create: text(": file /etc/haproxy/haproxy.cfg 0644 sha256:aa", ": file /etc/keepalived/keepalived.conf 0600 secret") } },
            newState: { inputs: { create: text(after, ": file /etc/keepalived/keepalived.conf 0600 secret") } },
        });
        const ok = summarizePreview({ steps: [lbUpdate("lb1-lb", ": file /etc/haproxy/haproxy.cfg 0644 sha256:bb"), lbUpdate("lb2-lb", ": file /etc/haproxy/haproxy.cfg 0644 sha256:bb")] });
        expect(planProblems("lb-setting", undefined, ok)).toEqual([]);
        // The finish and join steps follow every run of an lb step.
        expect(planProblems("lb-setting", undefined, { ...ok, update: [...ok.update, "lb1-lb-finish", "lb2-lb-join"] })).toEqual([]);
        expect(planProblems("lb-setting", undefined, { ...ok, update: [...ok.update, "cp1-control-plane"] })).toEqual(["cp1-control-plane: update is not expected in the lb-setting drill"]);
        const bad = summarizePreview({ steps: [lbUpdate("lb1-lb", ": file /etc/haproxy/haproxy.cfg 0644 sha256:aa")] });
        expect(planProblems("lb-setting", undefined, bad)).toEqual(["1 lb steps update in the lb-setting drill, not 2", "lb1-lb: the preview names [], not haproxy.cfg alone"]);
    });

    test("repair allows exactly the steps asked for", () => {
        expect(planProblems("repair", "cp2-control-plane,lb1-lb", preview([["update", cmd("lb1-lb")], ["update", cmd("lb2-lb-finish")], ["update", cmd("lb2-lb-join")], ["update", cmd("cp2-control-plane")]]))).toEqual([]);
        expect(planProblems("repair", "cp2-control-plane", preview([["update", cmd("lb2-lb-finish")], ["update", cmd("cp2-control-plane")]]))).toEqual([
            "lb2-lb-finish: update is not expected in the repair drill",
        ]);
        expect(planProblems("repair", "cp2-control-plane,lb1-lb", preview([["update", cmd("lb1-lb")], ["update", cmd("w1-kubelet")]]))).toEqual([
            "w1-kubelet: update is not expected in the repair drill",
            "cp2-control-plane: no update in the repair drill",
        ]);
    });

    test("noop allows nothing", () => {
        expect(planProblems("noop", undefined, preview([["update", cmd("w1-os")], ["same", cmd("w1-facts")]]))).toEqual(["w1-os: update is not expected in the noop drill"]);
        // What `pulumi preview --json` gives for a live stack with nothing to do: the stack, and the count of the unchanged.
        const live = summarizePreview({ steps: [{ op: "same", urn: urn("pulumi:pulumi:Stack", "k8s-ha-dev") }], changeSummary: { same: 173 } });
        expect(planProblems("noop", undefined, live)).toEqual([]);
        // No step and no resource: nothing was previewed.
        expect(planProblems("noop", undefined, summarizePreview({ steps: [] }))).toEqual(["the preview saw no resource at all: not a preview of this stack's cluster"]);
    });

    test("switch (another commit's program on this state) allows steps to run again, and nothing else", () => {
        expect(planProblems("switch", undefined, preview([["update", cmd("w1-os")], ["update", cmd("cp1-control-plane")]]))).toEqual([]);
        // A new component that groups existing steps is no change on a host.
        const worker = "urn:pulumi:dev::k8s-ha::k8s-ha:index:Node$k8s-ha:index:Worker::w1-worker";
        expect(planProblems("switch", undefined, preview([["create", worker]]))).toEqual([]);
        expect(planProblems("switch", undefined, preview([["replace", cmd("w1-os")], ["create", cmd("w1-x")], ["delete", cmd("w1-y")]]))).toEqual([
            "w1-x: create is not expected in the switch drill",
            "w1-os: replace is not expected in the switch drill",
            "w1-y: delete is not expected in the switch drill",
        ]);
    });

    test("switch with an allowance: what the commit adds or retires on purpose must happen, and nothing more", () => {
        const cert = (n: string) => urn("tls:index/locallySignedCert:LocallySignedCert", n);
        const arg = "create=kubelet-pki-*,*-kubelet-serving-*;delete=control-plane-csr-approver-*";
        const ok = preview([
            ["create", cert("kubelet-pki-ca")],
            ["create", cert("w1-kubelet-serving-cert")],
            ["delete", cert("control-plane-csr-approver-cert")],
            ["update", cmd("w1-kubelet")],
        ]);
        expect(planProblems("switch", arg, ok)).toEqual([]);
        const bad = preview([
            ["create", cert("kubelet-pki-ca")],
            ["create", cert("w1-kubelet-cert")],
            ["delete", cert("control-plane-apiserver-cert")],
        ]);
        expect(planProblems("switch", arg, bad)).toEqual([
            "w1-kubelet-cert: create is not expected in the switch drill",
            "control-plane-apiserver-cert: delete is not expected in the switch drill",
            "^.*-kubelet-serving-.*$: no create matches it in the switch drill",
            "^control-plane-csr-approver-.*$: no delete matches it in the switch drill",
        ]);
        expect(() => switchAllowance("make=x")).toThrow('switch: cannot read "make=x"');
        // A replacement allowed by name (a certificate the commit re-issues on purpose) must happen too.
        const reissue = "replace=control-plane-admin-key,control-plane-admin-csr,control-plane-admin-cert";
        const key = (n: string) => urn("tls:index/privateKey:PrivateKey", n);
        const csr = (n: string) => urn("tls:index/certRequest:CertRequest", n);
        expect(planProblems("switch", reissue, preview([["replace", key("control-plane-admin-key")], ["replace", csr("control-plane-admin-csr")], ["replace", cert("control-plane-admin-cert")]]))).toEqual([]);
        expect(planProblems("switch", reissue, preview([["replace", cert("control-plane-admin-cert")], ["replace", cert("control-plane-installer-cert")]]))).toEqual([
            "control-plane-installer-cert: replace is not expected in the switch drill",
            "^control-plane-admin-key$: no replace matches it in the switch drill",
            "^control-plane-admin-csr$: no replace matches it in the switch drill",
        ]);
    });

    test("the switch's daemons: kept, restarted or removed as the commit says, and any other change named", () => {
        const before = parsePids(["cp1 MainPID=10 Id=kube-apiserver.service  MainPID=11 Id=etcd.service  MainPID=12 Id=k8s-ha-csr-approver.service", "w1 MainPID=20 Id=kubelet.service  MainPID=0 Id=haproxy.service"].join("\n"));
        const good = parsePids(["cp1 MainPID=15 Id=kube-apiserver.service  MainPID=11 Id=etcd.service  MainPID=0 Id=k8s-ha-csr-approver.service", "w1 MainPID=25 Id=kubelet.service  MainPID=0 Id=haproxy.service"].join("\n"));
        expect(compareSwitch(before, good, ["kube-apiserver", "kubelet"], ["k8s-ha-csr-approver"])).toEqual({
            problems: [],
            kept: 1,
            restarted: ["cp1 kube-apiserver", "w1 kubelet"],
            gone: ["cp1 k8s-ha-csr-approver"],
            mayRestarted: [],
        });
        // A unit that may restart (the leader scheduler, when its local apiserver restarts) may keep or change its process, never stop.
        const etcdRestarted = parsePids(["cp1 MainPID=15 Id=kube-apiserver.service  MainPID=14 Id=etcd.service  MainPID=0 Id=k8s-ha-csr-approver.service", "w1 MainPID=25 Id=kubelet.service  MainPID=0 Id=haproxy.service"].join("\n"));
        expect(compareSwitch(before, etcdRestarted, ["kube-apiserver", "kubelet"], ["k8s-ha-csr-approver"], ["etcd"]).mayRestarted).toEqual(["cp1 etcd"]);
        expect(compareSwitch(before, good, ["kube-apiserver", "kubelet"], ["k8s-ha-csr-approver"], ["etcd"]).mayRestarted).toEqual([]);
        const etcdStopped = parsePids(["cp1 MainPID=15 Id=kube-apiserver.service  MainPID=0 Id=etcd.service  MainPID=0 Id=k8s-ha-csr-approver.service", "w1 MainPID=25 Id=kubelet.service  MainPID=0 Id=haproxy.service"].join("\n"));
        expect(compareSwitch(before, etcdStopped, ["kube-apiserver", "kubelet"], ["k8s-ha-csr-approver"], ["etcd"]).problems).toEqual(["cp1 etcd: pid 11 before, not running after"]);
        const bad = parsePids(["cp1 MainPID=10 Id=kube-apiserver.service  MainPID=13 Id=etcd.service  MainPID=12 Id=k8s-ha-csr-approver.service"].join("\n"));
        expect(compareSwitch(before, bad, ["kube-apiserver", "kubelet"], ["k8s-ha-csr-approver"]).problems).toEqual([
            "cp1 kube-apiserver: pid 10 before, 10 after; the switch must restart it",
            "cp1 etcd: pid 11 before, 13 after; the switch must leave it running",
            "cp1 k8s-ha-csr-approver: still running (pid 12); the switch must remove it",
            "w1: not answering after the switch",
        ]);
        expect(compareSwitch(new Map(), new Map(), [], []).problems).toEqual(["no daemons recorded before the switch"]);
    });
});

describe("secret scan of the real state and logs", () => {
    const key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx7c1l0b2tEeGFtcGxlS2V5TWF0ZXJpYWxGb3JUZXN0aW5nT25seQ\n-----END EC PRIVATE KEY-----\n";
    const secret = (v: unknown) => ({ [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270", plaintext: JSON.stringify(v) });
    const resources = [
        { type: "tls:index/privateKey:PrivateKey", urn: "urn:k", outputs: { privateKeyPem: secret(key), publicKeyPem: "PUBLIC" } },
        { type: "random:index/randomPassword:RandomPassword", urn: "urn:p", outputs: { result: secret("Zq3kP9vX2mL8nR4tW6yB1cF5hJ7sD0gA") } },
        {
            type: "command:remote:Command",
            urn: "urn:c",
            inputs: { connection: secret({ host: "10.213.0.21", user: "root" }), stdin: secret("file 0600 /etc/x.key S0VZREFUQQ==\nfile 0644 /etc/x.crt Q0VSVA==\n") },
        },
    ];
    const needles = secretNeedles(resources, []);

    test("finds key lines, passwords, the derived encryption key and owner-only bundle files; not public parts", () => {
        const values = [...needles.keys()];
        expect(values).toEqual(
            expect.arrayContaining([
                "MHcCAQEEIBx7c1l0b2tEeGFtcGxlS2V5TWF0ZXJpYWxGb3JUZXN0aW5nT25seQ",
                "Zq3kP9vX2mL8nR4tW6yB1cF5hJ7sD0gA",
                encryptionKeyFrom("Zq3kP9vX2mL8nR4tW6yB1cF5hJ7sD0gA"),
                "S0VZREFUQQ==",
            ]),
        );
        expect(values).not.toContain("10.213.0.21");
        expect(values).not.toContain("Q0VSVA==");
        expect(values).not.toContain("PUBLIC");
    });

    test("a scan must look for every private key and password the stack holds", () => {
        expect(uncovered(resources, needles)).toEqual([]);
        // A key whose secret output was not revealed (a plain export given by mistake) yields nothing.
        const unrevealed = [...resources, { type: "tls:index/privateKey:PrivateKey", urn: "urn:hidden", outputs: { privateKeyPem: "[secret]" } }];
        expect(uncovered(unrevealed, secretNeedles(unrevealed, []))).toEqual(["urn:hidden"]);
        const noPassword = [{ type: "random:index/randomPassword:RandomPassword", urn: "urn:q", outputs: {} }];
        expect(uncovered(noPassword, secretNeedles(noPassword, []))).toEqual(["urn:q"]);
    });

    test("a private key line that is also a line of a (public) certificate is not a secret", () => {
        const shared = "AwEHoUQDQgAEsharedPublicPointLineOfSixtyFourCharactersXXXXXXXXXXXX";
        const ec = `-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIPrivateScalarLineOfTheKeyThatIsSecretXXXXXXXXXXXXXXXXXXX\n${shared}\n-----END EC PRIVATE KEY-----\n`;
        const n = secretNeedles(
            [
                { type: "tls:index/privateKey:PrivateKey", urn: "urn:k", outputs: { privateKeyPem: secret(ec), publicKeyPem: `-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n` } },
                { type: "tls:index/locallySignedCert:LocallySignedCert", urn: "urn:c", outputs: { certPem: `-----BEGIN CERTIFICATE-----\n${shared}\n-----END CERTIFICATE-----\n` } },
            ],
            [],
        );
        expect([...n.keys()]).toEqual(["MHcCAQEEIPrivateScalarLineOfTheKeyThatIsSecretXXXXXXXXXXXXXXXXXXX"]);
    });

    test("of a real EC key, only the PEM lines with private bytes count; other keys count whole", () => {
        const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
        const sec1 = privateKey.export({ type: "sec1", format: "pem" }).toString();
        const body = sec1.split("\n").filter((l) => l && !l.startsWith("-----"));
        expect(body).toHaveLength(3);
        // 121 bytes: the scalar sits at bytes 7-38, inside the first 48 (the first line); the rest is public.
        expect(secretPemLines(sec1, body.join("\n"))).toEqual([body[0]]);
        // PKCS#8 wraps the same SEC1 structure 26 bytes further in: the scalar spans bytes 33-64.
        const pkcs8 = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
        const pbody = pkcs8.split("\n").filter((l) => l && !l.startsWith("-----"));
        expect(secretPemLines(pkcs8, pbody.join("\n"))).toEqual([pbody[0], pbody[1]]);
        // An ed25519 key has no public part inside: it counts whole.
        const ed = crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
        const ebody = ed.split("\n").filter((l) => l && !l.startsWith("-----"));
        expect(secretPemLines(ed, ebody.join("\n"))).toEqual(ebody.filter((l) => l.length >= 24));
    });

    test("the etcd backups' secrets (issue 26): the passphrase, the Ed25519 signing and SSH keys (PKCS#8 and OpenSSH PEM) and the members' owner-only files all yield needles; their public parts none", () => {
        const u32 = (n: number) => {
            const b = Buffer.alloc(4);
            b.writeUInt32BE(n);
            return b;
        };
        const str = (b: Buffer | string) => Buffer.concat([u32(Buffer.byteLength(b)), Buffer.from(b)]);
        // An Ed25519 key as the tls provider gives it: PKCS#8 PEM, and OpenSSH's own format (which node does not read).
        const ed25519 = () => {
            const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519");
            const jwk = privateKey.export({ format: "jwk" });
            const seed = Buffer.from(jwk.d ?? "", "base64url");
            const pk = Buffer.from(jwk.x ?? "", "base64url");
            const pub = Buffer.concat([str("ssh-ed25519"), str(pk)]);
            const check = crypto.randomBytes(4).readUInt32BE();
            let priv = Buffer.concat([u32(check), u32(check), str("ssh-ed25519"), str(pk), str(Buffer.concat([seed, pk])), str("")]);
            for (let i = 1; priv.length % 8 !== 0; i++) priv = Buffer.concat([priv, Buffer.from([i])]);
            const blob = Buffer.concat([Buffer.from("openssh-key-v1\0"), str("none"), str("none"), str(""), u32(1), str(pub), str(priv)]).toString("base64");
            return {
                pkcs8: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
                // 64 characters a line, as Go's encoding/pem writes it (ssh-keygen writes 70).
                openssh: `-----BEGIN OPENSSH PRIVATE KEY-----\n${blob.match(/.{1,64}/g)?.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`,
                seed: seed.toString("base64"),
                publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
                publicKeyOpenssh: `ssh-ed25519 ${pub.toString("base64")}\n`,
            };
        };
        const signing = ed25519();
        const ssh = ed25519();
        const passphrase = "k".repeat(20) + "Q7w2E9r4T6y1U3i5O8p0A2s4D6f8G1h3J5k7L9z0X2c4";
        const b64 = (t: string) => Buffer.from(t).toString("base64");
        const backupUrn = (t: string, n: string) => `urn:pulumi:dev::k8s-ha::k8s-ha:index:EtcdBackup$${t}::${n}`;
        const keyOutputs = (k: ReturnType<typeof ed25519>) => ({ privateKeyPem: secret(k.pkcs8), privateKeyOpenssh: secret(k.openssh), publicKeyPem: k.publicKeyPem, publicKeyOpenssh: k.publicKeyOpenssh });
        const res = [
            { type: "random:index/randomPassword:RandomPassword", urn: backupUrn("random:index/randomPassword:RandomPassword", "etcd-backup-passphrase"), outputs: { result: secret(passphrase) } },
            { type: "tls:index/privateKey:PrivateKey", urn: backupUrn("tls:index/privateKey:PrivateKey", "etcd-backup-signing-key"), outputs: keyOutputs(signing) },
            { type: "tls:index/privateKey:PrivateKey", urn: backupUrn("tls:index/privateKey:PrivateKey", "etcd-backup-ssh-key"), outputs: keyOutputs(ssh) },
            {
                type: "command:remote:Command",
                urn: backupUrn("command:remote:Command", "cp1-etcd-snapshots"),
                inputs: {
                    stdin: secret(
                        [
                            `file 0600 /etc/k8s-ha/etcd-snapshot/encryption.key ${b64(passphrase)}`,
                            `file 0600 /etc/k8s-ha/etcd-snapshot/signing.key ${b64(signing.pkcs8)}`,
                            `file 0600 /etc/k8s-ha/etcd-snapshot/ssh.key ${b64(ssh.openssh)}`,
                            `file 0644 /etc/k8s-ha/etcd-snapshot/known_hosts ${b64("10.213.0.51 ssh-ed25519 AAAA")}`,
                            "",
                        ].join("\n"),
                    ),
                },
            },
        ];
        const n = secretNeedles(res, []);
        expect(uncovered(res, n)).toEqual([]);
        const what = (needle: string) => n.get(needle);
        expect(what(passphrase)).toBe(`${res[0].urn}: password`);
        const body = (pem: string) => pem.split("\n").filter((l) => l.length > 0 && !l.startsWith("-----"));
        for (const [k, r] of [[signing, res[1]], [ssh, res[2]]] as const) {
            // PKCS#8: the one line, the seed in it.
            expect(body(k.pkcs8).map((l) => [l, what(l)])).toEqual(body(k.pkcs8).map((l) => [l, `${r.urn}: private key line`]));
            // OpenSSH: the two lines over the seed (bytes 161-192: lines 3 and 4), not the header, the public key or the comment.
            const lines = body(k.openssh);
            expect(lines.map((l) => what(l) ?? "none")).toEqual(lines.map((_, i) => (i === 3 || i === 4 ? `${r.urn}: private key line` : "none")));
            expect(Buffer.from(lines.slice(3, 5).join(""), "base64").toString("base64")).not.toBe("");
            expect(opensshSecretLines(lines.join("\n"))).toEqual(lines.slice(3, 5));
            // The seed's base64 itself is not aligned with the lines, so the lines are what is searched.
            expect(k.seed.length).toBe(44);
        }
        // The first line is every such key's (the format's header): never a needle.
        expect(body(signing.openssh)[0]).toBe(body(ssh.openssh)[0]);
        // A key of another type, or one the reader cannot follow, counts whole.
        expect(opensshSecretLines("AAAA")).toBeUndefined();
        expect(what(b64(passphrase))).toBe(`${res[3].urn}: /etc/k8s-ha/etcd-snapshot/encryption.key (base64)`);
        expect(what(b64(ssh.openssh))).toBe(`${res[3].urn}: /etc/k8s-ha/etcd-snapshot/ssh.key (base64)`);
        // Found wherever they land in plain; the public key, the authorized_keys line and known_hosts are no leak.
        const leaks = findLeaks(n, {
            "etcd-restore.log": `etcd-backup: decrypting with ${passphrase}`,
            "up.log": `${body(ssh.openssh)[4]}\n${body(ssh.openssh)[0]}\nfrom="10.213.0.21",restrict,command="..." ${ssh.publicKeyOpenssh.trim()} k8s-ha-etcd-backup\n${signing.publicKeyPem}`,
            "state.json": b64("10.213.0.51 ssh-ed25519 AAAA"),
        });
        expect(leaks.map((l) => [l.haystack, l.what])).toEqual([
            ["etcd-restore.log", `${res[0].urn}: password`],
            ["up.log", `${res[2].urn}: private key line`],
        ]);
        // Without the revealed passphrase or keys, the scan says what it cannot look for.
        const sealed = { [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270", ciphertext: "v1:c2VhbGVk" };
        const hidden = res.slice(0, 3).map((r) => ({ type: r.type, urn: r.urn, outputs: { result: sealed, privateKeyPem: sealed, privateKeyOpenssh: sealed } }));
        expect(uncovered(hidden, secretNeedles(hidden, []))).toEqual(res.slice(0, 3).map((r) => r.urn));
    });

    test("reports a leak by fingerprint, never the value", () => {
        const leaks = findLeaks(needles, {
            "state.json": `{"id":"${encryptionKeyFrom("Zq3kP9vX2mL8nR4tW6yB1cF5hJ7sD0gA")}"}`,
            "up.log": "10.213.0.21 root PUBLIC",
        });
        expect(leaks).toHaveLength(1);
        expect(leaks[0].haystack).toBe("state.json");
        expect(leaks[0].what).toBe("urn:p: derived encryption key");
        expect(JSON.stringify(leaks)).not.toContain(encryptionKeyFrom("Zq3kP9vX2mL8nR4tW6yB1cF5hJ7sD0gA"));
    });
});

describe("every check an e2e suite names ran (expected.ts)", () => {
    const suite = [
        'step "lab up (11 machines)" "" lab-up.log bash scripts/lab.sh up',
        'if step "up at Kubernetes 1.34.4 on bare hosts" "" up.log pulumi_ up; then',
        '    record "the cluster runs 1.34.4" passed 0 "" "$before"',
        "fi",
        'PULUMI_WRAP=faked plan_check "preview 36 h later: renewed" "" rekey "$RENEW"',
        'record "up killed after ${kill_after} s, while running" passed 0 "" "$pending"',
        'record "$name" passed "$T" "$goal" "$out"',
        '        record "$1" failed 0 "0 failed" "$ok ok"',
        'probe_record "client requests through the VIP during the roll"',
        'run_checks "clean hosts after destroy" clean.log bash scripts/hosts-check.sh clean',
    ].join("\n");
    const named = namedChecks(suite);

    test("reads each literal name, with its expansions as wildcards; a bare variable or positional parameter names nothing", () => {
        expect([...named.keys()]).toEqual([
            "lab up (11 machines)",
            "up at Kubernetes 1.34.4 on bare hosts",
            "the cluster runs 1.34.4",
            "preview 36 h later: renewed",
            "up killed after ${kill_after} s, while running",
            "client requests through the VIP during the roll",
            "clean hosts after destroy",
        ]);
    });

    test("a check skipped by the failed step before it is missing; a run of all is complete", () => {
        const all = [
            "lab up (11 machines)",
            "up at Kubernetes 1.34.4 on bare hosts",
            "the cluster runs 1.34.4",
            "preview 36 h later: renewed",
            "up killed after 37 s, while running",
            "client requests through the VIP during the roll",
            "clean hosts after destroy",
        ];
        expect(missingChecks(named, all)).toEqual([]);
        expect(missingChecks(named, all.filter((n) => n !== "the cluster runs 1.34.4"))).toEqual(["the cluster runs 1.34.4"]);
        // The wildcard stands for the variable only: the rest of the name must match.
        expect(missingChecks(named, all.map((n) => n.replace("while running", "after it ended")))).toEqual(["up killed after ${kill_after} s, while running"]);
        // A record whose name only contains a named check's (another drill's) does not stand for it.
        expect(missingChecks(namedChecks('step "pulumi destroy" "" d.log pulumi_ destroy'), ["pulumi destroy (after the upgrades)"])).toEqual(["pulumi destroy"]);
        expect(missingChecks(namedChecks('record "destroy" passed 0 "" ""'), ["pulumi destroy"])).toEqual(["destroy"]);
    });
});
