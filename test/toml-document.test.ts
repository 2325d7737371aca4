/**
 * The generic TOML writer: its fixed layout, the two key quoting styles, and its refusals. smol-toml
 * judges that each text means the document it was written from.
 */
import { parse as parseToml } from "smol-toml";
import { renderTomlDocument, type TomlDocumentOptions, type TomlTable } from "../components/render/toml";

const LITERAL: TomlDocumentOptions = { quotedKeys: "literal" };
const BASIC: TomlDocumentOptions = { quotedKeys: "basic" };

/** Renders `doc`, checks that smol-toml reads it back as `doc`, returns the text. */
function render(doc: TomlTable, options: TomlDocumentOptions): string {
    const text = renderTomlDocument(doc, options);
    expect(parseToml(text)).toEqual(doc);
    return text;
}

/** A document the types would refuse, for the run-time checks. */
function unchecked(doc: Record<string, unknown>): TomlTable {
    return doc as TomlTable;
}

describe("renderTomlDocument", () => {
    const doc: TomlTable = {
        title: "k8s-ha",
        count: 3,
        ratio: 0.5,
        on: false,
        owner: { name: "x", tags: ["a", "b c"], empty: [] },
        a: { b: { "c.d": { e: true }, f: {} } },
        later: 1,
    };

    test("comment, top-level keys, then each table with keys of its own, depth-first, keys indented", () => {
        expect(render(doc, { ...LITERAL, comment: "Rendered here." })).toBe(
            [
                "# Rendered here.",
                'title = "k8s-ha"',
                "count = 3",
                "ratio = 0.5",
                "on = false",
                "later = 1",
                "",
                "[owner]",
                '  name = "x"',
                '  tags = ["a", "b c"]',
                "  empty = []",
                "",
                "[a.b.'c.d']",
                "  e = true",
                "",
                "[a.b.f]",
                "",
            ].join("\n"),
        );
    });

    test("without a comment or top-level keys the file starts with a table", () => {
        expect(render({ t: { k: "v" }, u: { k: 1 } }, BASIC)).toBe('[t]\n  k = "v"\n\n[u]\n  k = 1\n');
        expect(render({}, BASIC)).toBe("\n");
        expect(render({ k: "v" }, { ...BASIC, comment: "c" })).toBe('# c\nk = "v"\n');
    });

    test("a table's key/values come before its sub-tables, whatever the order in the object", () => {
        expect(render({ t: { sub: { x: 1 }, k: 2 } }, LITERAL)).toBe("[t]\n  k = 2\n\n[t.sub]\n  x = 1\n");
    });

    test("undefined values are left out; a table left with only tables loses its header", () => {
        expect(render({ t: { k: undefined, sub: { x: 1 } } }, LITERAL)).toBe("[t.sub]\n  x = 1\n");
    });

    test("keys that are not bare are quoted in the chosen style; values are smol-toml's", () => {
        const keys: TomlTable = { host: { "https://m:5000/v2/docker.io": { ca: "/ca.crt" }, "it's": { k: 'say "hi" \\ é' } }, "top key": "v" };
        expect(render(keys, BASIC)).toBe(
            ['"top key" = "v"', "", '[host."https://m:5000/v2/docker.io"]', '  ca = "/ca.crt"', "", `[host."it's"]`, '  k = "say \\"hi\\" \\\\ é"', ""].join("\n"),
        );
        const { host } = keys as { host: Record<string, TomlTable> };
        expect(render({ host: { "https://m:5000": host["https://m:5000/v2/docker.io"] } }, LITERAL)).toBe("[host.'https://m:5000']\n  ca = \"/ca.crt\"\n");
        expect(render({ "": { 'a"b': 1 } }, LITERAL)).toBe(`['']\n  'a"b' = 1\n`);
    });

    test("refuses a key a literal key cannot hold", () => {
        expect(() => renderTomlDocument({ t: { "it's": 1 } }, LITERAL)).toThrow(/the key t\."it's" has a "'", which a literal key cannot hold/);
        for (const options of [LITERAL, BASIC]) {
            expect(() => renderTomlDocument({ t: { "a\nb": 1 } }, options)).toThrow(/the key t\."a\\nb" has a control character/);
            expect(() => renderTomlDocument({ "a\u0000": 1 }, options)).toThrow(/control character/);
            expect(() => renderTomlDocument({ "\ud800": 1 }, options)).toThrow(/lone surrogate/);
        }
    });

    test("refuses strings with control characters or lone surrogates, values and comment alike", () => {
        for (const bad of ["a\nb", "tab\there", "del\u007f", "nul\u0000", "\udc00", "x\ud83d"]) {
            expect(() => renderTomlDocument({ k: bad }, BASIC)).toThrow(/the value of k has a control character or a lone surrogate/);
            expect(() => renderTomlDocument({ k: [bad] }, BASIC)).toThrow(/control character/);
            expect(() => renderTomlDocument({}, { ...BASIC, comment: bad })).toThrow(/the comment has a control character/);
        }
        // Not control characters: written as they are.
        expect(render({ k: "é \u2028 😀 \u0085" }, BASIC)).toBe('k = "é \u2028 😀 \u0085"\n');
    });

    test("refuses values TOML cannot hold or this writer does not write", () => {
        const cases: [Record<string, unknown>, RegExp][] = [
            [{ k: null }, /k is null; values are tables/],
            [{ t: { k: 1n } }, /t\.k is a bigint/],
            [{ k: new Date(0) }, /k is an object \(\[object Date\]\)/],
            [{ k: [1] }, /k\[0\] is a number; arrays may hold only strings/],
            [{ k: ["a", ["b"]] }, /k\[1\] is an array/],
            [{ k: [{ x: 1 }] }, /k\[0\] is an object/],
            [{ k: () => 1 }, /k is a function/],
            [{ k: 2 ** 53 }, /an integer beyond 2\^53/],
        ];
        for (const [bad, message] of cases) expect(() => renderTomlDocument(unchecked(bad), BASIC)).toThrow(message);
        const cycle: Record<string, unknown> = { k: 1 };
        cycle.self = { back: cycle };
        expect(() => renderTomlDocument(unchecked(cycle), BASIC)).toThrow(/the table at self\.back contains itself/);
    });
});
