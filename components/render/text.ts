/**
 * Small helpers shared by the renderers: joining lines, checking the shape of plain values before
 * they reach a config file, and sorting hosts by name.
 *
 * The renderers throw `Error` on input that would produce a broken or ambiguous file. The stack
 * config is validated before any renderer runs, so these errors mean a programming mistake in a
 * caller; they name the parameter and never include a secret's value.
 */
import { parseIpv4 } from "../net";

/** Joins lines with `\n` and ends the file with exactly one newline, as every tool here expects. */
export function joinLines(lines: readonly string[]): string {
    return lines.join("\n").replace(/\n*$/, "") + "\n";
}

/** Indents every non-empty line by `spaces` spaces. */
export function indent(lines: readonly string[], spaces: number): string[] {
    const pad = " ".repeat(spaces);
    return lines.map((l) => (l === "" ? l : pad + l));
}

/**
 * Returns a copy sorted by `name` (then `address`), so the output does not depend on the order in
 * which a caller collected the hosts: the same hosts always give the same bytes, and Pulumi sees
 * no diff when only the order of the config changed.
 */
export function byName<T extends { readonly name: string; readonly address?: string }>(items: readonly T[]): T[] {
    return [...items].sort((a, b) => compareStrings(a.name, b.name) || compareStrings(a.address ?? "", b.address ?? ""));
}

/** Locale-independent string comparison (`localeCompare` differs between ICU builds). */
export function compareStrings(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

/** True for a dotted-quad IPv4 address without leading zeros (net.ts's parser). */
export function isIpv4(value: string): boolean {
    return parseIpv4(value) !== undefined;
}

/** Throws unless `value` is an IPv4 address. `what` names the parameter in the message. */
export function requireIpv4(value: string, what: string): void {
    if (!isIpv4(value)) {
        throw new Error(`${what}: "${value}" is not an IPv4 address`);
    }
}

/** Throws unless `value` is an IPv4 CIDR such as `10.244.0.0/16`. */
export function requireCidr(value: string, what: string): void {
    const m = /^([^/]+)\/(\d{1,2})$/.exec(value);
    if (!m || !isIpv4(m[1]) || Number(m[2]) > 32) {
        throw new Error(`${what}: "${value}" is not an IPv4 CIDR (a.b.c.d/n)`);
    }
}

/** Throws unless `value` is an integer in [min, max]. */
export function requireInt(value: number, min: number, max: number, what: string): void {
    if (!Number.isInteger(value) || value < min || value > max) {
        throw new Error(`${what}: ${value} is not an integer in ${min}-${max}`);
    }
}

/** Throws unless `value` is an absolute path without whitespace or control characters. */
export function requireAbsolutePath(value: string, what: string): void {
    // eslint-disable-next-line no-control-regex
    if (!value.startsWith("/") || /[\s\x00-\x1f\x7f]/.test(value)) {
        throw new Error(`${what}: "${value}" is not an absolute path without whitespace`);
    }
}

/**
 * Throws unless `value` is a non-empty token made of letters, digits and `._-` (names of hosts,
 * interfaces, clusters). Such a token needs no quoting in any of the formats rendered here.
 */
export function requireToken(value: string, what: string): void {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value)) {
        throw new Error(`${what}: "${value}" must be letters, digits, ".", "_" or "-", starting with a letter or digit`);
    }
}

/** Throws when the same value occurs twice in `values`. */
export function requireUnique(values: readonly string[], what: string): void {
    const seen = new Set<string>();
    for (const v of values) {
        if (seen.has(v)) {
            throw new Error(`${what}: "${v}" occurs more than once`);
        }
        seen.add(v);
    }
}
