import * as pulumi from "@pulumi/pulumi";
import { RawConfig } from "../components/config";
import { jsonValue, keysSet, readStackConfig, textValue } from "../components/stack";
import { ConfigError } from "../components/validate";
import { labConfig } from "./fixtures";

/** A raw config as the engine hands a stack's config to the program (PULUMI_CONFIG): namespaced keys, every value as text. */
function handedOver(raw: RawConfig): Record<string, string> {
    const out: Record<string, string> = { "k8s-ha:sshPrivateKey": "not a key: only its presence is validated" };
    for (const [key, value] of Object.entries(raw)) {
        if (key !== "sshPrivateKeyPresent" && value !== undefined) out[`k8s-ha:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return out;
}

/** The problems readStackConfig reports for a stack's config (none when it is valid). */
function problemsReading(config: Record<string, string>): string[] {
    pulumi.runtime.setAllConfig(config);
    try {
        readStackConfig();
    } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
    }
    return [];
}

describe("reading the stack's config (components/stack.ts)", () => {
    afterEach(() => pulumi.runtime.setAllConfig({}));

    test("the lab's config is read and validated; another namespace's keys are not k8s-ha's to judge", () => {
        pulumi.runtime.setAllConfig({ ...handedOver(labConfig()), "aws:region": "eu-west-1", "k8s-ha-other:vipp": "x" });
        expect(readStackConfig().cluster.vip).toBe("10.213.0.10");
    });

    test("a k8s-ha: key that is no setting is refused before any resource exists, with every other problem", () => {
        const config = handedOver(labConfig());
        delete config["k8s-ha:vip"];
        config["k8s-ha:vipp"] = "10.213.0.10";
        // Not JSON: read as its text, so that validation names it with the rest.
        config["k8s-ha:apiPort"] = "https";
        expect(problemsReading(config)).toEqual([
            "k8s-ha:vipp: is not a k8s-ha setting; did you mean k8s-ha:vip?",
            "k8s-ha:vip: is missing; set it to a string",
            'k8s-ha:apiPort: must be a whole number from 1 to 65535, got "https"',
        ]);
    });

    test("the keys set in a namespace, without the others'", () => {
        expect(keysSet("k8s-ha", { "k8s-ha:vip": "10.0.0.1", "k8s-ha:hosts": "{}", "aws:region": "eu-west-1", "k8s-ha-other:vip": "x" })).toEqual(["hosts", "vip"]);
    });

    test("values: JSON where it parses, else the text; a string key's text stays text unless it is a list or an object", () => {
        expect(["6443", "true", '{"a":1}', "", "https", "10.0.0.1"].map(jsonValue)).toEqual([6443, true, { a: 1 }, "", "https", "10.0.0.1"]);
        expect(["1000", "true", '["root"]', '{"a":1}', ""].map(textValue)).toEqual(["1000", "true", ["root"], { a: 1 }, ""]);
        expect([jsonValue(undefined), textValue(undefined)]).toEqual([undefined, undefined]);
    });
});
