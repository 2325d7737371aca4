import * as yaml from "js-yaml";
import { toYaml, toYamlDocuments, type YamlValue } from "../components/render";

/** Strings that break naive YAML emitters: each must come back from the parser unchanged. */
const TRICKY = [
    "",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "true",
    "null",
    "~",
    "0755",
    "1:20",
    "1e3",
    "10.96.0.10",
    "0s",
    ".inf",
    "-conf",
    "- x",
    "a: b",
    "a #b",
    "#x",
    "@x",
    "*x",
    "&x",
    "!x",
    "%x",
    "`x",
    "{",
    "[",
    "|",
    ">",
    "'",
    '"',
    "x:",
    " lead",
    "trail ",
    "tab\tin",
    "unix:///run/containerd/containerd.sock",
    "kubernetes.io/os",
    "multi\nline\n",
    "multi\nline",
    "multi\n\n\nkeep\n\n",
    "  indented first\nline\n",
    "trailing space \nline\n",
    "\nleading newline\n",
    "unicode: é ✓",
];

describe("toYaml", () => {
    test.each(TRICKY.map((s) => [s]))("string %j round-trips as value and as key", (s) => {
        const doc = { [s]: s, list: [s, { k: s }] };
        expect(yaml.load(toYaml(doc))).toEqual(doc);
    });

    test("nested structures, numbers, booleans, null and empty collections round-trip", () => {
        const doc: YamlValue = {
            a: 1,
            b: -2.5,
            c: true,
            d: false,
            e: null,
            f: [],
            g: {},
            h: [[1, 2], [], [{ x: [{ y: "z" }] }]],
            i: { j: { k: { l: "deep" } } },
            m: [{ block: "line1\nline2\n", other: 3 }],
        };
        expect(yaml.load(toYaml(doc))).toEqual(doc);
    });

    test("undefined map values are left out", () => {
        expect(toYaml({ a: 1, b: undefined, c: "x" })).toBe("a: 1\nc: x\n");
    });

    test("plain, readable output for ordinary values, keys in insertion order", () => {
        expect(toYaml({ kind: "Config", port: 6443, ip: "10.0.0.1", list: ["a", "b"], nested: { x: true } })).toBe(
            ["kind: Config", "port: 6443", 'ip: "10.0.0.1"', "list:", "  - a", "  - b", "nested:", "  x: true", ""].join("\n"),
        );
    });

    test("multi-line strings become literal blocks", () => {
        expect(toYaml({ data: { Corefile: ".:53 {\n    errors\n}\n" } })).toBe("data:\n  Corefile: |\n    .:53 {\n        errors\n    }\n");
    });

    test("non-finite numbers are refused", () => {
        expect(() => toYaml({ x: NaN })).toThrow("cannot be written as a YAML number");
    });

    test("documents are separated by ---", () => {
        const out = toYamlDocuments([{ a: 1 }, { b: 2 }]);
        expect(out).toBe("---\na: 1\n---\nb: 2\n");
        expect(yaml.loadAll(out)).toEqual([{ a: 1 }, { b: 2 }]);
    });
});
