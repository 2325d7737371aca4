/**
 * The break-glass credential's host and validity (`k8s-ha:adminCredential.breakGlassHost`,
 * `breakGlassValidityHours`): the lab built with mocks, the credential kept on cp2 instead of
 * cp1. The default (cp1) is test/cluster.test.ts's build.
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { validateConfig } from "../components/validate";
import { labConfig } from "./fixtures";
import { mockEngine, Recorded } from "./mocks";

const resources: Recorded[] = [];
const pem = (label: string, name: string) => `-----BEGIN ${label}-----\n${Buffer.from(`${label} OF ${name}`).toString("base64")}\n-----END ${label}-----\n`;
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
            state.publicKeyOpenssh = `ssh-ed25519 ${Buffer.from(args.name).toString("base64")}`;
            break;
        case "tls:index/selfSignedCert:SelfSignedCert":
        case "tls:index/locallySignedCert:LocallySignedCert":
            state.certPem = pem("CERTIFICATE", args.name);
            state.validityEndTime = "2027-11-30T12:00:00Z";
            break;
        case "tls:index/certRequest:CertRequest":
            state.certRequestPem = pem("CERTIFICATE REQUEST", args.name);
            break;
        case "random:index/randomPassword:RandomPassword":
            state.result = "vrrpPass";
            break;
    }
});

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const plain = (v: unknown): unknown => (typeof v === "object" && v !== null && SECRET_SIG in v ? (v as unknown as { value: unknown }).value : v);
/** The bundle's lines as `MODE PATH [tags]` (content left out). */
const lines = (stdin: unknown): string[] =>
    String(plain(stdin))
        .trim()
        .split("\n")
        .map((l) => l.split(" "))
        .map(([, mode, path, , ...tags]) => [mode, path, ...tags].join(" "));

describe("the break-glass kubeconfig on cp2, valid for 12 hours", () => {
    let built: typeof import("../components/cluster");
    let cluster: ReturnType<typeof import("../components/cluster").buildCluster>;
    beforeAll(async () => {
        built = await import("../components/cluster");
        cluster = built.buildCluster({
            cluster: validateConfig({ ...labConfig(), adminCredential: { breakGlassHost: "cp2", breakGlassValidityHours: 12 } }),
            sshPrivateKey: pulumi.secret("KEY"),
        });
        await new Promise((resolve) => cluster.controlPlane.adminKubeconfig.apply(resolve));
        await new Promise((r) => setTimeout(r, 200));
    });
    const command = (name: string) => {
        const c = resources.find((r) => r.type === "command:remote:Command" && r.name === name);
        if (!c) throw new Error(`no command ${name}`);
        return c;
    };
    const kubeconfigs = (name: string) => lines(command(name).inputs.stdin).filter((l) => /kubeconfig/.test(l) && !/(controller-manager|scheduler)\.kubeconfig/.test(l));

    test("cp2's control-plane step installs it; cp1 keeps the installer's only, cp3 neither", () => {
        expect(kubeconfigs("cp1-control-plane")).toEqual(["0600 /etc/kubernetes/installer.kubeconfig"]);
        expect(kubeconfigs("cp2-control-plane")).toEqual(["0600 /etc/kubernetes/break-glass.kubeconfig"]);
        expect(kubeconfigs("cp3-control-plane")).toEqual([]);
    });

    test("the add-ons step on cp1 is sent it staged only (its bootstrap fallback), on a secret stdin", () => {
        const addons = command("cp1-addons");
        expect(kubeconfigs("cp1-addons")).toEqual(["0600 /etc/kubernetes/break-glass.kubeconfig stage-only"]);
        expect(typeof addons.inputs.stdin === "object" && addons.inputs.stdin !== null && SECRET_SIG in addons.inputs.stdin).toBe(true);
        expect(String(addons.inputs.create)).toContain("'K8SHA_BREAK_GLASS_KUBECONFIG=/etc/kubernetes/break-glass.kubeconfig'");
    });

    test("its certificate is valid for the hours set, renewed in their second half; the others keep the stack's days", () => {
        const cert = (name: string) => resources.find((r) => r.type === "tls:index/locallySignedCert:LocallySignedCert" && r.name === name)?.inputs;
        expect(cert("control-plane-admin-cert")).toMatchObject({ validityPeriodHours: 12, earlyRenewalHours: 6 });
        expect(cert("control-plane-installer-cert")).toMatchObject({ validityPeriodHours: 8760, earlyRenewalHours: 720 });
    });

    test("the stack output adminCredential says where it is and how long it lasts (the e2e check reads it)", () => {
        expect(built.stackOutputs(cluster).adminCredential).toEqual({ generation: 1, breakGlassHost: "cp2", breakGlassValidityHours: 12 });
    });
});
