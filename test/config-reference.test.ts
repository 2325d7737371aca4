import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

/**
 * The stack config's keys are declared where the program reads them (readStackConfig in
 * components/stack.ts, typed by RawConfig); the README's config reference and Pulumi.yaml's
 * declarations must name the same keys, so neither drifts from the program.
 */
const root = path.resolve(__dirname, "..");
const read = (f: string) => fs.readFileSync(path.join(root, f), "utf8");

function keysTheProgramReads(): string[] {
    const stack = read("components/stack.ts");
    return [...stack.matchAll(/config\.(?:get|getSecret|getObject<unknown>)\("([A-Za-z]+)"\)/g)].map((m) => m[1]).sort();
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

    test("Pulumi.yaml declares only keys the program reads", () => {
        const project = parse(read("Pulumi.yaml")) as { config?: Record<string, unknown> };
        const declared = Object.keys(project.config ?? {}).map((k) => k.replace(/^k8s-ha:/, ""));
        expect(declared.filter((k) => !keysTheProgramReads().includes(k))).toEqual([]);
    });
});
