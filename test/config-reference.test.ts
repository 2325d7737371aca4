import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { configKeys, parseConfig } from "../components/schema";
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

function keysTheProgramReads(): string[] {
    const stack = read("components/stack.ts");
    return [...stack.matchAll(/config\.(?:get|getSecret|getObject<unknown>)\("([A-Za-z]+)"\)/g)].map((m) => m[1]).sort();
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

    test("Pulumi.yaml declares only keys the program reads", () => {
        const project = parse(read("Pulumi.yaml")) as { config?: Record<string, unknown> };
        const declared = Object.keys(project.config ?? {}).map((k) => k.replace(/^k8s-ha:/, ""));
        expect(declared.filter((k) => !keysTheProgramReads().includes(k))).toEqual([]);
    });
});
