/**
 * The YAML emitter for the config files and manifests k8s-ha renders, on top of the `yaml` library.
 *
 * Every file rendered here is installed on hosts, and a changed byte restarts a daemon, so the
 * output is pinned: the library version is pinned in package.json, and every choice the library
 * would otherwise make by itself (quoting, line folding, block scalar style) is made here and set
 * on each node explicitly. Supported values are what Kubernetes-style files need: maps (keys in
 * insertion order), sequences, strings, finite numbers, booleans and null. `undefined` map values
 * are left out, so optional fields can be written inline.
 *
 * Strings are written plain only when that is unambiguous for YAML 1.1 and 1.2 parsers alike
 * (Go's yaml.v2 in Kubernetes still reads `yes`, `on`, `0755` and `1:20` as non-strings);
 * everything else is double-quoted with JSON escapes, which YAML accepts. Multi-line strings
 * become literal blocks (`|`) so files such as a Corefile stay readable.
 */
import { Document, Pair, Scalar, YAMLMap, YAMLSeq, type DocumentOptions, type SchemaOptions, type Tags, type ToStringOptions } from "yaml";

export type YamlScalar = string | number | boolean | null;
export type YamlValue = YamlScalar | readonly YamlValue[] | YamlMap;
export interface YamlMap {
    readonly [key: string]: YamlValue | undefined;
}

type YamlNode = Scalar | YAMLSeq | YAMLMap;

const TO_STRING: ToStringOptions = {
    // Never fold long lines (certificates, long args): a line break inside a value is a byte change
    // the input did not ask for.
    lineWidth: 0,
    indent: 2,
    // Sequences under a key are indented (`key:\n  - a`), as the files have always been written.
    indentSeq: true,
    // Double-quoted strings are exactly JSON.stringify's output, without YAML-only escapes or folding.
    doubleQuotedAsJSON: true,
    singleQuote: false,
    nullStr: "null",
    trueStr: "true",
    falseStr: "false",
};

/**
 * YAML 1.1, the version Go's yaml.v2 reads, so that the library's own check (whether a plain string
 * reads back as a string) is made against the stricter schema. The merge-key tag, part of that
 * schema, is taken out (and `merge: false` keeps it from being added back): with it, the string
 * "<<" would count as a merge key and be written unquoted.
 */
const DOCUMENT_OPTIONS: DocumentOptions & SchemaOptions = {
    version: "1.1",
    merge: false,
    customTags: (tags: Tags): Tags => tags.filter((t) => (typeof t === "string" ? t !== "merge" : t.tag !== "tag:yaml.org,2002:merge")),
};

/** Renders one YAML document (no `---` marker), ending with a newline. */
export function toYaml(value: YamlValue): string {
    if (typeof value === "string" && isBlockCandidate(value)) {
        return rootLiteralBlock(value);
    }
    const doc = new Document(null, DOCUMENT_OPTIONS);
    doc.contents = toNode(value);
    return doc.toString(TO_STRING);
}

/** Renders several documents into one stream, each starting with `---`. */
export function toYamlDocuments(documents: readonly YamlValue[]): string {
    return documents.map((d) => "---\n" + toYaml(d)).join("");
}

function toNode(value: YamlValue): YamlNode {
    if (value === null || typeof value === "boolean") {
        return new Scalar(value);
    }
    if (typeof value === "number") {
        if (!Number.isFinite(value)) {
            throw new Error(`toYaml: ${value} cannot be written as a YAML number`);
        }
        // -0 as 0, as String(-0) has always written it (the library would write "-0").
        return new Scalar(value === 0 ? 0 : value);
    }
    if (typeof value === "string") {
        return stringNode(value, isBlockCandidate(value));
    }
    if (isSequence(value)) {
        const seq = new YAMLSeq();
        for (const item of value) {
            // The type does not allow it, but plain JavaScript callers might pass `undefined`.
            if (item === undefined) {
                throw new Error("toYaml: a sequence item is undefined");
            }
            seq.items.push(toNode(item));
        }
        return seq;
    }
    const map = new YAMLMap();
    for (const [key, v] of Object.entries(value)) {
        if (v !== undefined) {
            // YAML allows at most 1024 characters for a `key:` key as written; beyond that the library
            // writes an explicit `? key` entry instead. The hand-written emitter this replaced wrote the
            // long key anyway, which Go's yaml (Kubernetes) cannot read, so no working host has such a
            // file: refuse rather than write different bytes. No renderer has keys this long.
            const written = isPlainSafe(key) ? key : JSON.stringify(key);
            if (written.length > MAX_KEY_LENGTH) {
                throw new Error(`toYaml: a map key written with ${written.length} characters is longer than YAML allows (${MAX_KEY_LENGTH})`);
            }
            map.items.push(new Pair(stringNode(key, false), toNode(v)));
        }
    }
    return map;
}

/** The longest implicit (`key:`) key YAML allows. */
const MAX_KEY_LENGTH = 1024;

function stringNode(s: string, block: boolean): Scalar {
    const node = new Scalar(s);
    node.type = block ? Scalar.BLOCK_LITERAL : isPlainSafe(s) ? Scalar.PLAIN : Scalar.QUOTE_DOUBLE;
    return node;
}

function isSequence(value: readonly YamlValue[] | YamlMap): value is readonly YamlValue[] {
    return Array.isArray(value);
}

/** Words that some YAML parser reads as a boolean or null when unquoted. */
const RESERVED = new Set(["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"]);

/**
 * A string may be written unquoted when it starts with a letter, `_` or `/`, uses only characters
 * that are never YAML indicators, does not end with `:`, and is not a reserved word. Anything
 * starting with a digit, sign or dot is quoted, which keeps IPs, durations, octal-looking and
 * sexagesimal-looking values strings for every parser. This is stricter than the library's own
 * rule (which would leave `170Mi`, `-conf` or `a b` plain), and the files depend on it.
 */
function isPlainSafe(s: string): boolean {
    return /^[A-Za-z_/][A-Za-z0-9_./@+=:-]*$/.test(s) && !s.endsWith(":") && !RESERVED.has(s.toLowerCase());
}

/**
 * Multi-line strings become literal blocks when that round-trips exactly: printable characters
 * only (tabs allowed), no trailing spaces on a line, and a first line that does not start with a
 * space (that would need an indentation indicator).
 */
function isBlockCandidate(s: string): boolean {
    if (!s.includes("\n") || s.startsWith(" ") || s.startsWith("\n")) {
        return false;
    }
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x08\x0b-\x1f\x7f\u0085\u2028\u2029\ufeff]/.test(s)) {
        return false;
    }
    return s.split("\n").every((l) => !/[ \t]$/.test(l));
}

/**
 * A literal block as the whole document, written here rather than by the library: the library
 * puts a top-level block's lines at column 0 (valid YAML), where this emitter has always indented
 * them by two spaces, so its output would not be byte-identical. No renderer writes a bare string
 * as a document; this keeps `toYaml`'s output for one unchanged all the same.
 */
function rootLiteralBlock(s: string): string {
    const trailing = /\n*$/.exec(s)?.[0].length ?? 0;
    // Clip (`|`) keeps exactly one final newline, strip (`|-`) none, keep (`|+`) all of them.
    const header = trailing === 1 ? "|" : trailing === 0 ? "|-" : "|+";
    const body = s.slice(0, s.length - trailing).split("\n");
    const lines = [header, ...body.map((l) => (l === "" ? "" : `  ${l}`))];
    for (let i = 1; i < trailing; i++) {
        lines.push("");
    }
    return lines.join("\n") + "\n";
}
