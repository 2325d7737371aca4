/**
 * The one IPv4 parser of the program (validation, planning and the renderers' checks use it), on
 * node:net's: addresses and CIDRs as numbers, for the containment and overlap checks. Pure.
 */
import { isIPv4 } from "node:net";

export interface Cidr {
    /** Network address as a 32-bit unsigned number. */
    base: number;
    prefix: number;
}

/** Parses a dotted IPv4 address; returns undefined when it is not one. */
export function parseIpv4(text: string): number | undefined {
    // node:net takes dotted quads only, each 0-255 without leading zeros.
    if (!isIPv4(text)) return undefined;
    const parts = text.split(".").map(Number);
    return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function formatIpv4(value: number): string {
    return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

function mask(prefix: number): number {
    return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n` whose host bits are zero; returns undefined otherwise. */
export function parseCidr(text: string): Cidr | undefined {
    const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
    if (!m) return undefined;
    const base = parseIpv4(m[1]);
    const prefix = Number(m[2]);
    if (base === undefined || prefix > 32) return undefined;
    if ((base & ~mask(prefix)) >>> 0 !== 0) return undefined;
    return { base, prefix };
}

export function cidrContains(cidr: Cidr, address: number): boolean {
    return ((address & mask(cidr.prefix)) >>> 0) === cidr.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
    const prefix = Math.min(a.prefix, b.prefix);
    return ((a.base & mask(prefix)) >>> 0) === ((b.base & mask(prefix)) >>> 0);
}

/** The n-th address of a CIDR (n = 1 is the first address after the network address). */
export function nthAddress(cidr: Cidr, n: number): string {
    return formatIpv4((cidr.base + n) >>> 0);
}

export function formatCidr(cidr: Cidr): string {
    return `${formatIpv4(cidr.base)}/${cidr.prefix}`;
}

/** Broadcast address of a CIDR, as a number. */
export function lastAddress(cidr: Cidr): number {
    return (cidr.base | ~mask(cidr.prefix)) >>> 0;
}
