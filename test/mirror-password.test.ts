/**
 * A preloaded mirror's push password: the same password for as long as `mirror.pushPasswordGeneration`
 * is left alone (no keepers, so an existing stack's password is kept), a new one when it changes.
 */
import * as pulumi from "@pulumi/pulumi";
import { validateConfig } from "../components/validate";
import { labConfig } from "./fixtures";
import { mockEngine, Recorded } from "./mocks";

const resources: Recorded[] = [];
mockEngine(resources, (args, state) => {
    if (args.type === "command:remote:Command") state.stdout = args.name.endsWith("-facts") ? '{"interface":"host0","prefix":24,"cgroup":"v2","container":"none"}' : "";
    if (args.type === "random:index/randomPassword:RandomPassword") state.result = "pushPass";
    if (args.type === "tls:index/privateKey:PrivateKey") state.privateKeyPem = `KEY OF ${args.name}`;
    if (args.type.includes("Cert:")) Object.assign(state, { certPem: `CERT OF ${args.name}`, validityEndTime: "2027-11-30T12:00:00Z" });
    if (args.type === "tls:index/certRequest:CertRequest") state.certRequestPem = `CSR OF ${args.name}`;
});

let run = 0;
async function passwordInputs(mirror: Record<string, unknown>): Promise<Record<string, unknown>> {
    resources.length = 0;
    run += 1;
    const { DockerImageMirror } = await import("../components/mirror");
    const { Node } = await import("../components/node");
    const { Pki } = await import("../components/pki");
    const cluster = validateConfig({ ...labConfig(), mirror: { port: 5000, mode: "preloaded", ...mirror } });
    const host = cluster.hosts.find((h) => h.roles.includes("mirror"));
    if (!host) throw new Error("no mirror host");
    // Each run its own names: one mocked engine takes them all.
    const node = new Node(`${host.name}-node-${run}`, { host: { ...host, name: `${host.name}${run}` }, sshPrivateKey: pulumi.secret("K") });
    const pki = new Pki(`pki-${run}`, { commonName: "k8s-ha", lifetimes: cluster.certificates, now: Date.now() });
    new DockerImageMirror(`image-mirror-${run}`, { settings: cluster.mirror, node, pki });
    await new Promise((r) => setTimeout(r, 300));
    const pw = resources.find((r) => r.type === "random:index/randomPassword:RandomPassword");
    if (!pw) throw new Error("no push password");
    return pw.inputs;
}

describe("the push password's generation", () => {
    test("left out: no keepers, as before the setting existed (no new password on the switch)", async () => {
        const inputs = await passwordInputs({});
        expect(inputs.keepers).toBeUndefined();
        expect(inputs).toMatchObject({ length: 32, special: false });
    });

    test("set: a keeper the random provider replaces the password on when it changes", async () => {
        expect((await passwordInputs({ pushPasswordGeneration: 2 })).keepers).toEqual({ generation: "2" });
        expect((await passwordInputs({ pushPasswordGeneration: 3 })).keepers).toEqual({ generation: "3" });
    });
});
