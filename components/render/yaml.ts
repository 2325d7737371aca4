/**
 * A small, deterministic YAML emitter for the config files and manifests k8s-ha renders.
 *
 * Why not a library: js-yaml is only a devDependency (the tests parse with it), and the rendered
 * bytes must never change unless the input changes, whatever a library's next version decides
 * about quoting or line width. The emitter covers exactly what Kubernetes-style files need: maps
 * (keys in insertion order), sequences, strings, finite numbers, booleans and null. `undefined`
 * map values are left out, so optional fields can be written inline.
 *
 * Strings are written plain only when that is unambiguous for YAML 1.1 and 1.2 parsers alike
 * (Go's yaml.v2 in Kubernetes still reads `yes`, `on`, `0755` and `1:20` as non-strings);
 * everything else is double-quoted with JSON escapes, which YAML accepts. Multi-line strings
 * become literal blocks (`|`) so files such as a Corefile stay readable.
 */

export type YamlScalar = string | number | boolean | null;
export type YamlValue = YamlScalar | readonly YamlValue[] | YamlMap;
export interface YamlMap {
    readonly [key: string]: YamlValue | undefined;
}

/** Renders one YAML document (no `---` marker), ending with a newline. */
export function toYaml(value: YamlValue): string {
    const node = renderNode(value);
    const lines = node.kind === "inline" ? [node.text] : node.kind === "block" ? [node.header, ...node.lines] : node.lines;
    return lines.join("\n") + "\n";
}

/** Renders several documents into one stream, each starting with `---`. */
export function toYamlDocuments(documents: readonly YamlValue[]): string {
    return documents.map((d) => "---\n" + toYaml(d)).join("");
}

type Node =
    /** A scalar or an empty collection that fits after `key: ` or `- `. */
    | { kind: "inline"; text: string }
    /** A literal block scalar: `header` goes after `key: `, `lines` below it, already indented. */
    | { kind: "block"; header: string; lines: string[] }
    /** A non-empty map or sequence, rendered at indentation 0. */
    | { kind: "collection"; lines: string[]; isSequence: boolean };

function renderNode(value: YamlValue): Node {
    if (value === null || typeof value !== "object") {
        if (typeof value === "string" && isBlockCandidate(value)) {
            return renderLiteralBlock(value);
        }
        return { kind: "inline", text: scalar(value) };
    }
    if (isSequence(value)) {
        if (value.length === 0) {
            return { kind: "inline", text: "[]" };
        }
        const lines: string[] = [];
        for (const item of value) {
            const child = renderNode(item);
            if (child.kind === "inline") {
                lines.push(`- ${child.text}`);
            } else if (child.kind === "block") {
                lines.push(`- ${child.header}`, ...child.lines);
            } else {
                // The first line of a nested collection shares the dash's line.
                lines.push(`- ${child.lines[0]}`, ...child.lines.slice(1).map(indent2));
            }
        }
        return { kind: "collection", lines, isSequence: true };
    }
    const entries = Object.entries(value).filter((e): e is [string, YamlValue] => e[1] !== undefined);
    if (entries.length === 0) {
        return { kind: "inline", text: "{}" };
    }
    const lines: string[] = [];
    for (const [key, v] of entries) {
        const k = scalar(key);
        const child = renderNode(v);
        if (child.kind === "inline") {
            lines.push(`${k}: ${child.text}`);
        } else if (child.kind === "block") {
            lines.push(`${k}: ${child.header}`, ...child.lines);
        } else {
            lines.push(`${k}:`, ...child.lines.map(indent2));
        }
    }
    return { kind: "collection", lines, isSequence: false };
}

/** Indents by two spaces, leaving empty lines empty (no trailing whitespace). */
function indent2(line: string): string {
    return line === "" ? "" : `  ${line}`;
}

function isSequence(value: readonly YamlValue[] | YamlMap): value is readonly YamlValue[] {
    return Array.isArray(value);
}

function scalar(value: YamlScalar): string {
    if (value === null) {
        return "null";
    }
    if (typeof value === "boolean") {
        return value ? "true" : "false";
    }
    if (typeof value === "number") {
        if (!Number.isFinite(value)) {
            throw new Error(`toYaml: ${value} cannot be written as a YAML number`);
        }
        return String(value);
    }
    return isPlainSafe(value) ? value : JSON.stringify(value);
}

/** Words that some YAML parser reads as a boolean or null when unquoted. */
const RESERVED = new Set(["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"]);

/**
 * A string may be written unquoted when it starts with a letter, `_` or `/`, uses only characters
 * that are never YAML indicators, does not end with `:`, and is not a reserved word. Anything
 * starting with a digit, sign or dot is quoted, which keeps IPs, durations, octal-looking and
 * sexagesimal-looking values strings for every parser.
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

function renderLiteralBlock(s: string): Node {
    const trailing = /\n*$/.exec(s)?.[0].length ?? 0;
    // Clip (`|`) keeps exactly one final newline, strip (`|-`) none, keep (`|+`) all of them.
    const header = trailing === 1 ? "|" : trailing === 0 ? "|-" : "|+";
    const body = s.slice(0, s.length - trailing).split("\n");
    const lines = body.map(indent2);
    for (let i = 1; i < trailing; i++) {
        lines.push("");
    }
    return { kind: "block", header, lines };
}
