import { validateConfig } from "../components/validate";
import { configKeys, configSchema, fieldOf, parseConfig, stackConfigKeys } from "../components/schema";
import { DEFAULTS, RawConfig } from "../components/config";
import { hostsOf, labConfig, problemsOf } from "./fixtures";

/** Values of every kind, each wrong for some key. */
const JUNK: unknown[] = [42, -1, "x", "", true, [], ["x", 1], { a: 1 }, { a: { b: [1] } }];

describe("the config schema (components/schema.ts)", () => {
    test("the lab config parses without a problem", () => {
        expect(parseConfig(labConfig()).problems).toEqual([]);
    });

    test("every key left out takes its declared default", () => {
        const { config } = parseConfig({});
        expect(config.apiPort).toBe(DEFAULTS.apiPort);
        expect(config.podCidr).toBe(DEFAULTS.podCidr);
        expect(config.versions).toEqual(DEFAULTS.versions);
        expect(config.downloads).toEqual(DEFAULTS.downloads);
        expect(config.mirror).toMatchObject({ port: DEFAULTS.mirror.port, mode: DEFAULTS.mirror.mode, registries: DEFAULTS.mirror.registries });
        expect(config.nfs).toMatchObject({ path: DEFAULTS.nfsPath, ...DEFAULTS.nfsStorage });
        expect(config.loadBalancer).toEqual(DEFAULTS.loadBalancer);
        // sshFrom unset: validation makes it the node network (validate.test, render-firewall.test).
        expect(config.firewall).toEqual({ enabled: true, sshFrom: undefined, allow: [] });
    });

    test("pulumi config set's strings read as numbers and booleans", () => {
        const { problems, config } = parseConfig({ apiPort: "7443", allowHttpDownloads: "true", kubelet: { podPidsLimit: "2048" } });
        expect(problems.filter((p) => /apiPort|allowHttp|kubelet/.test(p))).toEqual([]);
        expect([config.apiPort, config.allowHttpDownloads, config.kubelet.podPidsLimit]).toEqual([7443, true, 2048]);
    });

    // The checks across fields run on the lenient reading even when fields are wrong: whatever a key
    // holds, validation ends in a ConfigError naming that key, never in a crash.
    for (const key of configKeys()) {
        test(`a wrong k8s-ha:${key} of any kind is a problem named after it, not a crash`, () => {
            const named: string[] = [];
            for (const junk of JUNK) {
                const raw = { ...labConfig(), [key]: junk } as RawConfig;
                let problems: string[];
                try {
                    problems = problemsOf(raw);
                } catch (e) {
                    throw new Error(`k8s-ha:${key} = ${JSON.stringify(junk)} crashed validation: ${String(e)}`);
                }
                // A value may be fine for its key ("x" for sshUser, {} for a section, [] for a list).
                for (const p of problems) expect(p).toMatch(/^k8s-ha:[A-Za-z]/);
                named.push(...problems.filter((p) => p.startsWith(`k8s-ha:${key}`)));
            }
            // Some of the kinds are wrong for every key, and the problem names the key.
            expect(named.length).toBeGreaterThan(0);
        });
    }

    test('a key set to nothing ("", as Pulumi gives an empty value) reads as left out, whole numbers and choices too', () => {
        const raw = { ...labConfig(), apiPort: "", etcd: { quotaBackendBytes: "" }, etcdBackup: { target: "" } };
        raw.mirror = { upstream: "http://10.213.0.1:5000", mode: "" };
        const { problems, config } = parseConfig(raw);
        expect(problems).toEqual([]);
        expect([config.apiPort, config.etcd.quotaBackendBytes, config.etcdBackup.target, config.mirror.mode]).toEqual([DEFAULTS.apiPort, undefined, undefined, DEFAULTS.mirror.mode]);
    });

    test("wrong values inside a host or a section are named by their path", () => {
        const raw = labConfig();
        hostsOf(raw).w1.port = "ssh";
        raw.firewall = { allow: [{ ports: 22, from: ["10.0.0.0/8"], roles: ["db"] }] };
        expect(problemsOf(raw)).toEqual([
            'k8s-ha:hosts.w1.port: must be a whole number from 1 to 65535, got "ssh"',
            "k8s-ha:firewall.allow[0].roles: 'db' is not a role; use some of: etcd, control-plane, worker, lb, nfs, mirror",
        ]);
    });

    test("a host name that is no DNS label is refused", () => {
        const raw = labConfig();
        const hosts = hostsOf(raw);
        hosts.W_1 = hosts.w1;
        delete hosts.w1;
        expect(problemsOf(raw)[0]).toBe("k8s-ha:hosts.W_1: the host name must be lower-case letters, digits and '-', at most 63, like cp1");
    });

    test("field names follow the config's paths", () => {
        expect(fieldOf(["hosts", "w1", "roles"])).toBe("k8s-ha:hosts.w1.roles");
        expect(fieldOf(["firewall", "allow", 0, "ports"])).toBe("k8s-ha:firewall.allow[0].ports");
    });

    test("the lenient reading never fails, whatever the config holds", () => {
        for (const junk of JUNK) expect(() => configSchema("lenient").parse({ hosts: { a: junk }, nfs: junk, firewall: { allow: [junk] } })).not.toThrow();
    });

    test("a valid config reads the same as validateConfig returns it", () => {
        const c = validateConfig(labConfig());
        const { config } = parseConfig(labConfig());
        expect(c.vip).toBe(config.vip);
        expect(c.versions).toEqual(config.versions);
    });
});

describe("top-level keys that are no setting", () => {
    test("a key the stack sets is refused with the setting it was likely meant to be, with every other problem", () => {
        const raw = labConfig();
        delete raw.vip;
        raw.stackKeys = ["checksums", "hosts", "nodeNetwork", "sshPrivateKey", "vipp"];
        expect(problemsOf(raw)).toEqual(["k8s-ha:vipp: is not a k8s-ha setting; did you mean k8s-ha:vip?", "k8s-ha:vip: is missing; set it to a string"]);
    });

    test("the nearest setting is found across case, a swap, a letter left out or added; far from all, every setting is listed", () => {
        const raw = labConfig();
        raw.stackKeys = ["allowHTTPDownloads", "ntpServer", "protcetData", "sshPrivatekey", "hostKeys"];
        expect(problemsOf(raw)).toEqual([
            "k8s-ha:allowHTTPDownloads: is not a k8s-ha setting; did you mean k8s-ha:allowHttpDownloads?",
            "k8s-ha:ntpServer: is not a k8s-ha setting; did you mean k8s-ha:ntpServers?",
            "k8s-ha:protcetData: is not a k8s-ha setting; did you mean k8s-ha:protectData?",
            "k8s-ha:sshPrivatekey: is not a k8s-ha setting; did you mean k8s-ha:sshPrivateKey?",
            `k8s-ha:hostKeys: is not a k8s-ha setting; use one of: ${stackConfigKeys().join(", ")}`,
        ]);
    });

    test("a path set without --path (Pulumi keeps it as a key of its own) is named as such", () => {
        const raw = labConfig();
        raw.stackKeys = ["hosts", "hosts.w3.address", "checksums[\"kubelet@1.35.4\"]"];
        expect(problemsOf(raw)).toEqual([
            "k8s-ha:hosts.w3.address: is not a k8s-ha setting but a path into k8s-ha:hosts, set without --path; remove it (pulumi config rm 'k8s-ha:hosts.w3.address') and set it with: pulumi config set --path 'k8s-ha:hosts.w3.address' VALUE",
            'k8s-ha:checksums["kubelet@1.35.4"]: is not a k8s-ha setting but a path into k8s-ha:checksums, set without --path; remove it (pulumi config rm \'k8s-ha:checksums["kubelet@1.35.4"]\') and set it with: pulumi config set --path \'k8s-ha:checksums["kubelet@1.35.4"]\' VALUE',
        ]);
    });

    test("every setting, the SSH key among them, may be set", () => {
        expect(problemsOf({ ...labConfig(), stackKeys: [...configKeys(), "sshPrivateKey"] })).toEqual([]);
    });

    test("a library caller's object (validateConfig) gets the same refusal for a key that is no setting", () => {
        const raw = { ...labConfig(), vipp: "10.213.0.10", stackNmae: "prod" } as RawConfig;
        expect(problemsOf(raw)).toEqual([
            "k8s-ha:vipp: is not a k8s-ha setting; did you mean k8s-ha:vip?",
            "k8s-ha:stackNmae: is not a k8s-ha setting; did you mean k8s-ha:stackName?",
        ]);
    });
});
