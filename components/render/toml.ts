/**
 * The TOML writer for the files k8s-ha renders: a document (nested plain objects) in, text out.
 *
 * Every value, and every key quoted as a basic string, is serialized by `smol-toml` (pinned in
 * package.json); the layout is this module's and fixed, so that a file's bytes change only when
 * its data does:
 *
 *     # comment                  (optional)
 *     key = value                (the top-level key/values)
 *
 *     [table]                    (each table with key/values of its own, depth-first,
 *       key = value               in key order, one blank line between tables)
 *
 *     [table.sub.'quoted.key']   (a table holding only tables gets no header of its own)
 *       list = ["a", "b"]
 *
 *     [empty]                    (an empty table is its header alone)
 *
 * Supported: tables (plain objects), strings, numbers, booleans and arrays of strings. `undefined`
 * values are left out, so optional keys can be written inline. Anything else, and any string or
 * key with a control character or a lone surrogate, is refused with an error naming the key:
 * such text would not mean the document.
 */
import { stringify } from "smol-toml";
import { joinLines } from "./text";

export type TomlScalar = string | number | boolean;
export type TomlValue = TomlScalar | readonly string[] | TomlTable;
export interface TomlTable {
    readonly [key: string]: TomlValue | undefined;
}

export interface TomlDocumentOptions {
    /** One comment line written first, as `# <comment>`. */
    comment?: string;
    /**
     * How a key that is not bare (`[A-Za-z0-9_-]+`) is quoted: `literal` (`'a.b'`) or `basic`
     * (`"a.b"`, as smol-toml writes a string). Both mean the same key; the option exists only to
     * keep the bytes of files already on hosts unchanged, since containerd's config.toml has always
     * used literal keys and its hosts.toml files basic ones.
     */
    quotedKeys: "literal" | "basic";
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;
// eslint-disable-next-line no-control-regex
const UNWRITABLE = /[\x00-\x1f\x7f]|\p{Cs}/u;

/** Renders `doc` as TOML text in the layout above, ending with one newline. */
export function renderTomlDocument(doc: TomlTable, options: TomlDocumentOptions): string {
    const blocks: string[][] = [];
    const first: string[] = [];
    if (options.comment !== undefined) {
        requireWritable(options.comment, "the comment");
        first.push(`# ${options.comment}`);
    }
    const root = splitTable(doc, [], options, new Set());
    first.push(...root.values);
    if (first.length > 0) blocks.push(first);
    for (const [key, table] of root.tables) writeTable(table, [key], options, blocks, new Set([doc]));
    return joinLines(blocks.flatMap((block, i) => (i === 0 ? block : ["", ...block])));
}

interface SplitTable {
    /** `key = value` lines, unindented. */
    values: string[];
    tables: [string, TomlTable][];
}

function writeTable(table: TomlTable, path: readonly string[], options: TomlDocumentOptions, blocks: string[][], parents: Set<object>): void {
    const own = splitTable(table, path, options, parents);
    if (own.values.length > 0 || own.tables.length === 0) {
        const header = `[${path.map((key) => formatKey(key, path, options)).join(".")}]`;
        blocks.push([header, ...own.values.map((line) => `  ${line}`)]);
    }
    const inner = new Set(parents).add(table);
    for (const [key, sub] of own.tables) writeTable(sub, [...path, key], options, blocks, inner);
}

/** Checks every entry of `table` and splits it into its key/value lines and its sub-tables. */
function splitTable(table: TomlTable, path: readonly string[], options: TomlDocumentOptions, parents: Set<object>): SplitTable {
    if (parents.has(table)) throw new Error(`TOML: the table at ${where(path)} contains itself`);
    const split: SplitTable = { values: [], tables: [] };
    for (const [key, value] of Object.entries(table)) {
        const at = [...path, key];
        if (value === undefined) continue;
        if (isTable(value)) {
            split.tables.push([key, value]);
        } else if (Array.isArray(value)) {
            const items = value.map((item: unknown, i) => {
                if (typeof item !== "string") throw new Error(`TOML: ${where(at)}[${i}] is ${describe(item)}; arrays may hold only strings`);
                return formatScalar(item, at);
            });
            split.values.push(`${formatKey(key, at, options)} = [${items.join(", ")}]`);
        } else {
            split.values.push(`${formatKey(key, at, options)} = ${formatScalar(value, at)}`);
        }
    }
    return split;
}

/** A string, number or boolean as smol-toml writes it. */
function formatScalar(value: unknown, at: readonly string[]): string {
    if (typeof value === "string") {
        requireWritable(value, `the value of ${where(at)}`);
    } else if (typeof value === "number") {
        if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
            throw new Error(`TOML: ${where(at)} is ${value}, an integer beyond 2^53 that would be written as a float`);
        }
    } else if (typeof value !== "boolean") {
        throw new Error(`TOML: ${where(at)} is ${describe(value)}; values are tables, strings, numbers, booleans or arrays of strings`);
    }
    const line = stringify({ v: value });
    const text = /^v = (.*)\n$/s.exec(line)?.[1];
    if (text === undefined) throw new Error(`TOML: ${where(at)}: unexpected output from smol-toml: ${JSON.stringify(line)}`);
    return text;
}

function formatKey(key: string, at: readonly string[], options: TomlDocumentOptions): string {
    if (BARE_KEY.test(key)) return key;
    requireWritable(key, `the key ${where(at)}`);
    if (options.quotedKeys === "basic") return formatScalar(key, at);
    if (key.includes("'")) throw new Error(`TOML: the key ${where(at)} has a "'", which a literal key cannot hold`);
    return `'${key}'`;
}

function requireWritable(s: string, what: string): void {
    if (UNWRITABLE.test(s)) throw new Error(`TOML: ${what} has a control character or a lone surrogate: ${JSON.stringify(s)}`);
}

function isTable(value: unknown): value is TomlTable {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
    const proto: unknown = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
    if (value === null) return "null";
    if (typeof value === "object") return Array.isArray(value) ? "an array" : `an object (${Object.prototype.toString.call(value)})`;
    return `a ${typeof value}`;
}

/** A key path for messages, e.g. `plugins."io.containerd".cni` (JSON-quoted, so safe to print). */
function where(path: readonly string[]): string {
    return path.length === 0 ? "the top level" : path.map((key) => (BARE_KEY.test(key) ? key : JSON.stringify(key))).join(".");
}
