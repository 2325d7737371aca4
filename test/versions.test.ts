import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { DEFAULTS, Versions } from "../components/config";
import {
    COMPONENTS,
    compareVersions,
    formatVersionSet,
    inVersionSet,
    SUPPORTED_VERSIONS,
    supportedVersionsMarkdown,
    unsupportedVersions,
} from "../components/versions";

const ROOT = path.resolve(__dirname, "..");
const ALL = new Set<keyof Versions>(["kubernetes", ...COMPONENTS]);

describe("the supported-versions table", () => {
    test("the README's table is the module's, row for row", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const section = readme.split(/^## /m).find((s) => s.startsWith("Supported versions\n"));
        expect(section).toBeDefined();
        const table = (section ?? "").split("\n").filter((l) => l.startsWith("|")).join("\n");
        // On a difference: paste supportedVersionsMarkdown()'s output into the README's section.
        expect(table).toBe(supportedVersionsMarkdown());
    });

    test("versions compare by number, and sets hold their versions and ranges, ends included", () => {
        expect(compareVersions("3.6.9", "3.6.13")).toBeLessThan(0);
        expect(compareVersions("1.10.0", "1.9.0")).toBeGreaterThan(0);
        expect(compareVersions("1.35.4", "1.35.4")).toBe(0);
        const set = ["1.36.1", ["3.6.13", "3.6.16"]] as const;
        expect(["1.36.1", "3.6.13", "3.6.14", "3.6.16"].map((v) => inVersionSet(v, set))).toEqual([true, true, true, true]);
        expect(["1.36.2", "3.6.12", "3.6.17", "3.6.130"].map((v) => inVersionSet(v, set))).toEqual([false, false, false, false]);
        expect(formatVersionSet(set)).toBe("1.36.1, 3.6.13 – 3.6.16");
    });

    test("each row holds releases of its own minor, and every range runs upwards", () => {
        for (const row of SUPPORTED_VERSIONS) {
            for (const entry of row.kubernetes.flatMap((e) => (typeof e === "string" ? [e] : [...e]))) {
                expect([row.minor, entry.startsWith(`${row.minor}.`)]).toEqual([row.minor, true]);
            }
            for (const set of [row.kubernetes, ...COMPONENTS.map((c) => row.components[c])]) {
                for (const e of set) {
                    for (const v of typeof e === "string" ? [e] : e) expect(v).toMatch(/^\d+\.\d+\.\d+$/);
                    if (typeof e !== "string") expect([e, compareVersions(e[0], e[1]) < 0]).toEqual([e, true]);
                }
            }
        }
        expect(SUPPORTED_VERSIONS.map((r) => r.minor)).toEqual(["1.34", "1.35", "1.36"]);
    });

    test("the defaults and the dev stack's versions are supported", () => {
        expect(unsupportedVersions({ ...DEFAULTS.versions }, ALL)).toEqual([]);
        const dev = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, Record<string, unknown>> };
        const versions = Object.fromEntries(Object.entries(dev.config["k8s-ha:versions"]).map(([k, v]) => [k, String(v)])) as unknown as Versions;
        expect(unsupportedVersions(versions, ALL)).toEqual([]);
    });

    test("scripts/artifacts.sh builds the defaults when the stack names no versions", () => {
        const r = spawnSync("bash", [path.join(ROOT, "scripts/artifacts.sh"), "versions"], {
            env: { ...process.env, K8S_HA_STACK_FILE: "/nonexistent" },
            encoding: "utf8",
        });
        expect(r.stderr).toBe("");
        const built = Object.fromEntries([...r.stdout.matchAll(/^ {2}(\w+): +"([^"]+)" +# from default$/gm)].map((m) => [m[1], m[2]]));
        expect(built).toEqual({ ...DEFAULTS.versions });
    });
});
