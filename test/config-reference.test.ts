import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { configKeys, parseConfig, stackConfigKeys } from "../components/schema";
import { jsonValue, textValue } from "../components/stack";
import { validateConfig } from "../components/validate";
import { RawConfig } from "../components/config";
import { labConfig, problemsOf } from "./fixtures";

/**
 * The stack config's keys are declared once, in the schema (components/schema.ts); the program
 * reads them (readStackConfig in components/stack.ts), and the README's config reference and
 * Pulumi.yaml's declarations must name the same keys, so neither drifts from the schema.
 */
const root = path.resolve(__dirname, "..");
const read = (f: string) => fs.readFileSync(path.join(root, f), "utf8");

/** How readStackConfig reads each key: `text` and `json` (textValue, jsonValue), `secret` (the SSH key). */
function readersOfKeys(): Record<string, "text" | "json" | "secret"> {
    const stack = read("components/stack.ts");
    return Object.fromEntries(
        [...stack.matchAll(/\b(text|json|config\.getSecret)\("([A-Za-z]+)"\)/g)].map((m) => [m[2], m[1] === "config.getSecret" ? "secret" : (m[1] as "text" | "json")]),
    );
}

function keysTheProgramReads(): string[] {
    return Object.keys(readersOfKeys()).sort();
}

/** The README table's rows: key, type and default cell. */
function readmeRows(): { key: string; type: string; dflt: string }[] {
    const readme = read("README.md");
    const section = readme.slice(readme.indexOf("## Config reference"));
    const table = section.slice(0, section.indexOf("\n\n", section.indexOf("| --- |")));
    return [...table.matchAll(/^\| `([A-Za-z]+)` \| ([^|]+) \| ([^|]+) \|/gm)].map((m) => ({ key: m[1], type: m[2].trim(), dflt: m[3].trim() }));
}

/** The lab's config without `key`: what the schema and validation fill in for it. */
function without(key: string): RawConfig {
    const raw = Object.fromEntries(Object.entries(labConfig()).filter(([k]) => k !== key));
    if (key === "sshPrivateKey") raw.sshPrivateKeyPresent = false;
    return raw as RawConfig;
}

/** A default cell written as one value: a number, true/false, [] or {}, or a string (bare or in backticks). */
function scalarDefault(cell: string): unknown {
    const text = cell.replace(/^`(.*)`$/, "$1");
    if (/^\d+$/.test(text)) return Number(text);
    if (text === "true" || text === "false") return text === "true";
    if (text === "[]") return [];
    if (text === "{}") return {};
    return /^[A-Za-z0-9./-]+$/.test(text) ? text : undefined;
}

function readmeKeys(): string[] {
    const readme = read("README.md");
    const section = readme.slice(readme.indexOf("## Config reference"));
    const table = section.slice(0, section.indexOf("\n\n", section.indexOf("| --- |")));
    return [...table.matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((m) => m[1]).sort();
}

describe("the config reference", () => {
    test("the README's table lists exactly the keys the program reads", () => {
        expect(keysTheProgramReads().length).toBeGreaterThan(25);
        expect(readmeKeys()).toEqual(keysTheProgramReads());
    });

    test("the keys the program reads are the schema's, and the SSH key (which only its presence reaches)", () => {
        expect(keysTheProgramReads()).toEqual([...configKeys(), "sshPrivateKey"].sort());
        expect(stackConfigKeys().sort()).toEqual(keysTheProgramReads());
    });

    test("the README's defaults are the ones the schema and validation fill in", () => {
        let compared = 0;
        for (const { key, dflt } of readmeRows()) {
            if (dflt === "required") {
                expect([key, problemsOf(without(key)).some((p) => p.startsWith(`k8s-ha:${key}`))]).toEqual([key, true]);
                compared++;
                continue;
            }
            // `a: 1`, `b: []`: a section's keys, as validation returns the section.
            const pairs = [...dflt.matchAll(/`([A-Za-z]+): ([^`]+)`/g)];
            if (pairs.length > 0 && dflt.replace(/`[A-Za-z]+: [^`]+`(, )?/g, "") === "") {
                const section = (validateConfig(without(key)) as unknown as Record<string, Record<string, unknown>>)[key];
                for (const [, k, v] of pairs) expect([key, k, section[k]]).toEqual([key, k, scalarDefault(v)]);
                compared++;
                continue;
            }
            const value = scalarDefault(dflt);
            if (value === undefined) continue; // prose: "see components/config.ts", "upstream sites"
            expect([key, (parseConfig(without(key)).config as Record<string, unknown>)[key]]).toEqual([key, value]);
            compared++;
        }
        expect(compared).toBeGreaterThan(20);
    });

});

/** A key as Pulumi.yaml declares it (https://www.pulumi.com/docs/iac/concepts/projects/project-file/#config-options). */
interface Declaration {
    type?: string;
    items?: { type: string };
    description?: string;
    default?: unknown;
    secret?: boolean;
}

/** Pulumi.yaml's declarations, by key without the `k8s-ha:` namespace. */
function declarations(): Record<string, Declaration> {
    const project = parse(read("Pulumi.yaml")) as { config?: Record<string, Declaration> };
    return Object.fromEntries(Object.entries(project.config ?? {}).map(([k, d]) => [k.replace(/^k8s-ha:/, ""), d]));
}

/**
 * The types a project may declare a key with in every CLI since project config (`simpleConfigType`
 * in Pulumi's project.json). `object` came in 2025 (pulumi/pulumi#20129): the pinned v3.259.0 has
 * it and enforces it ("must be of type 'object'"), but an older CLI refuses to load a Pulumi.yaml
 * that uses it (pulumi/pulumi#11321), so object-valued keys stay untyped and the schema checks them.
 */
const PULUMI_TYPES = ["string", "integer", "boolean", "array"];

/**
 * Pulumi's own check of a stack's value against a declared type, run before the program starts
 * (ValidateConfigValue in pulumi/pulumi sdk/go/common/workspace/project.go). A YAML scalar reaches
 * it as text (config.Value keeps scalars as strings; an empty or null value is ""), a list or an
 * object as itself.
 */
function pulumiTakes(type: string, items: { type: string } | undefined, value: unknown): boolean {
    switch (type) {
        case "string":
            return typeof value === "string";
        case "integer":
            return typeof value === "string" ? /^[+-]?\d+$/.test(value) : Number.isInteger(value);
        case "boolean":
            return value === "true" || value === "false" || typeof value === "boolean";
        case "array":
            return Array.isArray(value) && items !== undefined && value.every((v) => pulumiTakes(items.type, undefined, v));
        default:
            return false;
    }
}

/** Values a stack may hold for a key: YAML scalars as Pulumi keeps them (text), and lists and objects. */
const STACK_VALUES: unknown[] = ["", "0", "22", "6443", "51.0", "true", "false", "root", "10.213.0.10", "10.213.0.0/24", "cluster.local", [], ["api.example.com"], {}, { a: "b" }];

/** The text Pulumi hands the program for a stack value (PULUMI_CONFIG): a scalar's text, or JSON. */
const handedOver = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

/** Whether the program takes a stack value for a key: read as readStackConfig reads it, then parsed by the schema. */
function programTakes(key: string, value: unknown): boolean {
    const read = readersOfKeys()[key] === "text" ? textValue : jsonValue;
    return parseConfig({ [key]: read(handedOver(value)) }).problems.every((p) => !p.startsWith(`k8s-ha:${key}`));
}

/**
 * The keys Pulumi.yaml declares without a type, and the type they would have: Pulumi would refuse
 * with it a value the program takes (or, for an object, older CLIs have no such type).
 */
const UNTYPED: Record<string, "object" | "integer" | "boolean"> = {
    hosts: "object",
    versions: "object",
    downloads: "object",
    checksums: "object",
    mirror: "object",
    nfs: "object",
    firewall: "object",
    imageDigests: "object",
    etcd: "object",
    loadBalancer: "object",
    kubelet: "object",
    etcdBackup: "object",
    secretsEncryption: "object",
    adminCredential: "object",
    certificates: "object",
    repair: "object",
    // Pulumi's integer takes digits only: not a key set to nothing (""), which the program reads as
    // left out, nor a whole number written 51.0.
    sshPort: "integer",
    apiPort: "integer",
    vrrpRouterId: "integer",
    // Pulumi's boolean takes true and false only, not "". protectData's default depends on the
    // stack (off on dev), so Pulumi.yaml can only default it to "" (unset).
    allowUnpinnedHostKeys: "boolean",
    allowHttpDownloads: "boolean",
    protectData: "boolean",
};

/** The text files under a folder of the repository, recursively. */
function filesUnder(dir: string): string[] {
    return fs.readdirSync(path.join(root, dir), { recursive: true, encoding: "utf8" }).filter((f) => /\.(sh|ts|js)$/.test(f)).map((f) => path.join(dir, f));
}

describe("the keys the dev stack and the tooling set", () => {
    test("are settings: scripts/pulumi.sh's SSH key, host keys and pins, and every other the scripts and the dev stack name", () => {
        const dev = parse(read("Pulumi.dev.yaml")) as { config: Record<string, unknown> };
        const named = ["scripts", "test/bench", "test/e2e"].flatMap(filesUnder).flatMap((f) => [...read(f).matchAll(/k8s-ha:([A-Za-z]+)(?![A-Za-z:-])/g)].map((m) => m[1]));
        const keys = [...new Set([...Object.keys(dev.config).map((k) => k.replace(/^k8s-ha:/, "")), ...named])];
        expect(keys).toEqual(expect.arrayContaining(["sshPrivateKey", "hosts", "checksums", "repair"]));
        expect(keys.filter((k) => !stackConfigKeys().includes(k))).toEqual([]);
    });
});

describe("Pulumi.yaml's declarations", () => {
    test("declare every key a stack may set, and no other", () => {
        expect(Object.keys(declarations()).sort()).toEqual(stackConfigKeys().sort());
    });

    test("each has a description, a type Pulumi knows (arrays with their items) and a default of its type", () => {
        for (const [key, d] of Object.entries(declarations())) {
            expect([key, typeof d.description === "string" && d.description.length > 0]).toEqual([key, true]);
            if (d.type === undefined) continue;
            expect([key, PULUMI_TYPES.includes(d.type), d.type !== "array" || d.items !== undefined]).toEqual([key, true, true]);
            if (d.default !== undefined) expect([key, pulumiTakes(d.type, d.items, d.default)]).toEqual([key, true]);
        }
    });

    test("a declared type takes every value the program takes for its key", () => {
        let checked = 0;
        for (const [key, d] of Object.entries(declarations())) {
            if (d.type === undefined || key === "sshPrivateKey") continue;
            for (const value of STACK_VALUES) {
                if (programTakes(key, value)) expect([key, value, pulumiTakes(d.type, d.items, value)]).toEqual([key, value, true]);
            }
            checked++;
        }
        expect(checked).toBeGreaterThan(5);
    });

    test("a key without a type is one Pulumi's types would refuse values of that the program takes", () => {
        const untyped = Object.entries(declarations()).filter(([, d]) => d.type === undefined).map(([k]) => k);
        expect(untyped.sort()).toEqual(Object.keys(UNTYPED).sort());
        for (const [key, wouldBe] of Object.entries(UNTYPED)) {
            if (wouldBe === "object") {
                expect([key, PULUMI_TYPES.includes(wouldBe), programTakes(key, {})]).toEqual([key, false, true]);
            } else {
                const refused = STACK_VALUES.filter((v) => programTakes(key, v) && !pulumiTakes(wouldBe, undefined, v));
                expect([key, refused.length > 0]).toEqual([key, true]);
            }
        }
    });

    test("a default reads as leaving the key out (Pulumi sets it on every stack that does not)", () => {
        const left = parseConfig({}).config as Record<string, unknown>;
        let compared = 0;
        for (const [key, d] of Object.entries(declarations())) {
            if (d.default === undefined) continue;
            // Pulumi hands a default over like a stack's value: a scalar as its text, the rest as JSON.
            const text = typeof d.default === "object" ? JSON.stringify(d.default) : String(d.default);
            const read = readersOfKeys()[key] === "text" ? textValue : jsonValue;
            const parsed = parseConfig({ [key]: read(text) });
            const problems = parsed.problems.filter((p) => p.startsWith(`k8s-ha:${key}`));
            expect([key, problems, (parsed.config as Record<string, unknown>)[key]]).toEqual([key, [], left[key]]);
            compared++;
        }
        expect(compared).toBeGreaterThan(20);
    });

    test("a key without a default is one the program cannot do without (Pulumi refuses a stack that leaves it out)", () => {
        const required = Object.entries(declarations()).filter(([, d]) => d.default === undefined).map(([k]) => k);
        expect(required.sort()).toEqual(["hosts", "nodeNetwork", "sshPrivateKey", "vip"]);
        for (const key of required) expect([key, problemsOf(without(key)).some((p) => p.startsWith(`k8s-ha:${key}`))]).toEqual([key, true]);
    });
});
