import { execFile } from "child_process";
import { HostConfig } from "./config";

/**
 * The SSH provider retries a failed dial (a wrong host key included) up to `dialErrorLimit` times,
 * minutes in all. So before an update touches any host, every pinned host key is compared with the
 * key the host offers now (`ssh-keyscan`, which only reads the key; nothing runs on the host), and
 * a mismatch stops the whole update at once, naming the host, the key expected and the key got.
 * A host that does not answer is left to the provider's own retries (it may still be booting).
 */

/** `ssh-ed25519 AAAA… comment` → `ssh-ed25519 AAAA…` (type and key). */
export function keyOf(line: string): string {
    const [type, key] = line.trim().split(/\s+/);
    return `${type} ${key ?? ""}`;
}

/** The keys a host offered, from `ssh-keyscan`'s output (`ADDR TYPE KEY` lines; `#` lines are comments). */
export function offeredKeys(scan: string): string[] {
    return scan
        .split("\n")
        .filter((l) => l.trim() !== "" && !l.startsWith("#"))
        .map((l) => keyOf(l.trim().split(/\s+/).slice(1).join(" ")));
}

export interface HostKeyProblem {
    host: string;
    message: string;
}

/**
 * Compares a host's pinned key with what it offered. `undefined` when it matches, or when the host
 * offered nothing (unreachable: not a key problem).
 */
export function compareHostKey(host: HostConfig, offered: string[]): HostKeyProblem | undefined {
    if (!host.hostKey || offered.length === 0) return undefined;
    const want = keyOf(host.hostKey);
    if (offered.includes(want)) return undefined;
    const type = want.split(" ")[0];
    const sameType = offered.filter((k) => k.startsWith(`${type} `));
    const got = sameType.length > 0 ? sameType.join(", ") : `no ${type} key (it offers ${offered.map((k) => k.split(" ")[0]).join(", ")})`;
    return {
        host: host.name,
        message:
            `${host.name} (${host.address}:${host.port}): the host key is not the pinned one. ` +
            `Expected ${want} (k8s-ha:hosts.${host.name}.hostKey), got ${got}. ` +
            `If the host was reinstalled, check its new key out of band (ssh-keyscan -t ed25519 -p ${host.port} ${host.address}) and update the pin; ` +
            `otherwise another machine answers on this address: nothing was sent to it.`,
    };
}

/**
 * Runs `ssh-keyscan` on one host, for key types (`ed25519`, `ecdsa`) or all when none; the empty
 * string when it cannot (no answer, no ssh-keyscan).
 */
export type KeyScanner = (host: HostConfig, types?: string) => Promise<string>;

export const sshKeyscan: KeyScanner = (host, types) =>
    new Promise((resolve) => {
        const args = ["-T", "5", "-p", String(host.port), ...(types ? ["-t", types] : []), host.address];
        execFile("ssh-keyscan", args, { timeout: 15_000 }, (_err, stdout) => {
            resolve(typeof stdout === "string" ? stdout : "");
        });
    });

/** The `ssh-keyscan -t` name of a pinned key's type; undefined for a type it has no name for. */
export function scanType(hostKey: string): string | undefined {
    const type = keyOf(hostKey).split(" ")[0];
    if (type === "ssh-ed25519") return "ed25519";
    if (type.startsWith("ecdsa-sha2-")) return "ecdsa";
    return undefined;
}

/**
 * What a host offers, asking first for the pinned key's type only (one key exchange: an emulated
 * host takes about a second for each), then, when that gives nothing, for every type, so that a
 * host without that type is told apart from one that does not answer.
 */
async function offered(host: HostConfig, scan: KeyScanner): Promise<string[]> {
    const type = host.hostKey ? scanType(host.hostKey) : undefined;
    if (type) {
        const keys = offeredKeys(await scan(host, type));
        if (keys.length > 0) return keys;
    }
    return offeredKeys(await scan(host));
}

/**
 * Checks every host with a pinned key, 32 at a time, and throws one error listing every host whose
 * key does not match.
 */
export async function checkHostKeys(hosts: HostConfig[], scan: KeyScanner = sshKeyscan): Promise<void> {
    const pinned = hosts.filter((h) => h.hostKey);
    const problems: HostKeyProblem[] = [];
    for (let i = 0; i < pinned.length; i += 32) {
        const batch = pinned.slice(i, i + 32);
        const scans = await Promise.all(batch.map((h) => offered(h, scan)));
        batch.forEach((h, j) => {
            const p = compareHostKey(h, scans[j]);
            if (p) problems.push(p);
        });
    }
    if (problems.length > 0) {
        throw new Error(
            `${problems.length} host${problems.length === 1 ? "" : "s"} answered with another SSH host key; nothing was changed on any host:\n` +
                problems.map((p) => `  - ${p.message}`).join("\n"),
        );
    }
}
