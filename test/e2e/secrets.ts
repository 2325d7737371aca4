/**
 * Searches the real state and every log of the e2e run for the actual secret values. Used by
 * scripts/e2e.sh, as the run's last check:
 *   node bin/test/e2e/secrets.js SECRET_FILE... -- HAYSTACK_FILE...
 * A SECRET_FILE holding a `pulumi stack export --show-secrets` (the run keeps one of each cluster
 * it built) gives the stack's secret values; any other SECRET_FILE is a secret itself (a key, a
 * passphrase, a password). The haystacks are the logs, the plain exports and the backend's own
 * files. Prints a JSON report; exits 1 on any match, and when the exports hold a private key or a
 * password for which no needle was made (a scan that looks for less than the stack holds proves
 * nothing).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import { encryptionKeyFrom } from "../../components/controlplane";

/** Pulumi's marker of a secret value in a checkpoint. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";

interface Resource {
    type: string;
    urn: string;
    outputs?: Record<string, unknown>;
    inputs?: Record<string, unknown>;
}

/** Every value a revealed export holds as a secret (`{SIG, plaintext}`), parsed. */
export function revealedSecretValues(node: unknown, out: unknown[] = []): unknown[] {
    if (Array.isArray(node)) {
        for (const v of node) revealedSecretValues(v, out);
    } else if (node !== null && typeof node === "object") {
        const o = node as Record<string, unknown>;
        if (SECRET_SIG in o && typeof o.plaintext === "string") {
            out.push(JSON.parse(o.plaintext));
        } else {
            for (const v of Object.values(o)) revealedSecretValues(v, out);
        }
    }
    return out;
}

function strings(v: unknown, out: string[] = []): string[] {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach((x) => strings(x, out));
    else if (v !== null && typeof v === "object") Object.values(v).forEach((x) => strings(x, out));
    return out;
}

const PRIVATE_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----\n([\s\S]*?)-----END [A-Z ]*PRIVATE KEY-----/g;
const KUBECONFIG_KEY = /client-key-data: *"?([A-Za-z0-9+/=]+)"?/g;
/** Fields of the tls resources that hold public keys, certificates and requests only. */
const PUBLIC_FIELD = /^(publicKey\w*|certPem|caCertPem|certRequestPem)$/;
const BUNDLE_SECRET_FILE = /^file 0[0-7]00 (\S+) ([A-Za-z0-9+/=]+)$/gm;

/**
 * The strings whose presence anywhere outside a secret means a leak, from the secret values:
 * each body line of every private key (PEM), every kubeconfig's client key, the base64 of every
 * owner-only file in a host bundle, every random password and the encryption key derived from it.
 * Public parts of secret objects (a connection's host or user, a CA certificate inside a
 * kubeconfig) are not secrets and are not searched for.
 */
export function secretNeedles(resources: Resource[], extra: string[]): Map<string, string> {
    const needles = new Map<string, string>();
    const addPem = (text: string, what: string) => {
        for (const m of text.matchAll(PRIVATE_PEM)) {
            for (const line of secretPemLines(m[0], m[1])) needles.set(line, `${what}: private key line`);
        }
    };
    for (const r of resources) {
        const values = revealedSecretValues([r.inputs, r.outputs]);
        for (const s of strings(values)) {
            addPem(s, r.urn);
            for (const m of s.matchAll(KUBECONFIG_KEY)) needles.set(m[1], `${r.urn}: kubeconfig client key`);
            for (const m of s.matchAll(BUNDLE_SECRET_FILE)) needles.set(m[2], `${r.urn}: ${m[1]} (base64)`);
        }
        if (r.type === "random:index/randomPassword:RandomPassword") {
            const result = revealedSecretValues(r.outputs?.result)[0] ?? r.outputs?.result;
            if (typeof result === "string") {
                needles.set(result, `${r.urn}: password`);
                needles.set(encryptionKeyFrom(result), `${r.urn}: derived encryption key`);
            }
        }
    }
    for (const e of extra) {
        addPem(e, "extra secret file");
        if (!e.includes("PRIVATE KEY") && e.trim().length >= 12) needles.set(e.trim(), "extra secret file");
    }
    // An EC private key's PEM carries its public point: a line of it can equal a line of the public
    // key's PEM or of a certificate (the SAN drill met one), which are public by design and can
    // never hold a private key. Such lines prove nothing either way.
    const publicValues = resources.flatMap((r) =>
        [...Object.entries(r.outputs ?? {}), ...Object.entries(r.inputs ?? {})]
            .filter(([k, v]) => PUBLIC_FIELD.test(k) && typeof v === "string")
            .map(([, v]) => v as string),
    );
    for (const needle of [...needles.keys()]) {
        if (publicValues.some((p) => p.includes(needle))) needles.delete(needle);
    }
    return needles;
}

/**
 * The base64 lines of a private key PEM that carry secret bytes. An EC key (SEC1 or PKCS#8) also
 * carries its public point, and a line made only of public bytes can equal a line of a certificate
 * or public key of the same key (the SAN drill's preview showed the old certificate, which shared a
 * line with the key's PKCS#8 form): only the lines that overlap the private scalar count. Other keys
 * count whole.
 */
export function secretPemLines(block: string, body: string): string[] {
    const lines = body.split("\n").map((l) => l.trim()).filter((l) => l.length >= 24);
    if (block.includes("BEGIN OPENSSH PRIVATE KEY")) return opensshSecretLines(body) ?? lines;
    let scalar: Buffer;
    try {
        const key = crypto.createPrivateKey(block);
        if (key.asymmetricKeyType !== "ec") return lines;
        scalar = Buffer.from(key.export({ format: "jwk" }).d ?? "", "base64url");
    } catch {
        return lines;
    }
    const der = Buffer.from(lines.join(""), "base64");
    const start = der.indexOf(scalar);
    if (scalar.length === 0 || start < 0) return lines;
    const end = start + scalar.length;
    // Each full PEM line is 64 base64 characters, 48 bytes.
    return lines.filter((_, i) => i * 48 < end && (i + 1) * 48 > start);
}

/**
 * Of an unencrypted OpenSSH Ed25519 private key (the tls provider's privateKeyOpenssh), the base64
 * lines that overlap its 32-byte seed. The rest is public or the same for every such key: the
 * format's header (its whole first line), the public key (twice), the check numbers, the comment.
 * Undefined for any other key type or anything it cannot read (then every line counts).
 */
export function opensshSecretLines(body: string): string[] | undefined {
    const lines = body.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    const der = Buffer.from(lines.join(""), "base64");
    let at = 0;
    const u32 = (): number => {
        if (at + 4 > der.length) throw new Error("short");
        const n = der.readUInt32BE(at);
        at += 4;
        return n;
    };
    const str = (): Buffer => {
        const n = u32();
        if (at + n > der.length) throw new Error("short");
        const b = der.subarray(at, at + n);
        at += n;
        return b;
    };
    let seed: [number, number];
    try {
        const magic = "openssh-key-v1\0";
        if (der.subarray(0, magic.length).toString("latin1") !== magic) return undefined;
        at = magic.length;
        if (str().toString() !== "none" || str().toString() !== "none") return undefined;
        str();
        if (u32() !== 1) return undefined;
        str();
        u32();
        u32();
        u32();
        if (str().toString() !== "ssh-ed25519") return undefined;
        str();
        const n = u32();
        if (n !== 64 || at + n > der.length) return undefined;
        seed = [at, at + 32];
    } catch {
        return undefined;
    }
    // The characters that encode the seed's bytes, and the lines they fall on (any line width).
    const [first, last] = [Math.floor((seed[0] * 4) / 3), Math.ceil((seed[1] * 4) / 3)];
    const out: string[] = [];
    let c = 0;
    for (const line of lines) {
        if (c < last && c + line.length > first) out.push(line);
        c += line.length;
    }
    return out;
}

/** The stack's resources whose secret a scan must look for: private keys and random passwords. */
const MUST_YIELD = new Set(["tls:index/privateKey:PrivateKey", "random:index/randomPassword:RandomPassword"]);

/** The URNs of those resources for which no needle was made. */
export function uncovered(resources: Resource[], needles: Map<string, string>): string[] {
    const sources = [...needles.values()].join("\n");
    return resources.filter((r) => MUST_YIELD.has(r.type) && !sources.includes(`${r.urn}:`)).map((r) => r.urn);
}

export interface Leak {
    haystack: string;
    what: string;
    /** A fingerprint of the leaked value, never the value. */
    sha256: string;
}

/** Every needle found in a haystack. */
export function findLeaks(needles: Map<string, string>, haystacks: Record<string, string>): Leak[] {
    const leaks: Leak[] = [];
    for (const [name, text] of Object.entries(haystacks)) {
        for (const [needle, what] of needles) {
            if (text.includes(needle)) {
                leaks.push({ haystack: name, what, sha256: crypto.createHash("sha256").update(needle).digest("hex").slice(0, 16) });
            }
        }
    }
    return leaks;
}

/** A revealed export's resources, or undefined for a file that is not one. */
function exportedResources(text: string): Resource[] | undefined {
    try {
        const parsed = JSON.parse(text) as { deployment?: { resources?: Resource[] } };
        return parsed.deployment ? (parsed.deployment.resources ?? []) : undefined;
    } catch {
        return undefined;
    }
}

if (require.main === module) {
    const args = process.argv.slice(2);
    const sep = args.indexOf("--");
    if (sep < 1) {
        process.stderr.write("usage: secrets.js SECRET_FILE... -- HAYSTACK_FILE...\n");
        process.exit(2);
    }
    const resources: Resource[] = [];
    const extra: string[] = [];
    let exports = 0;
    for (const f of args.slice(0, sep)) {
        const text = fs.readFileSync(f, "utf8");
        const r = exportedResources(text);
        if (r) {
            exports += 1;
            resources.push(...r);
        } else {
            extra.push(text);
        }
    }
    const haystacks: Record<string, string> = {};
    for (const f of args.slice(sep + 1)) haystacks[f] = fs.readFileSync(f, "utf8");
    const needles = secretNeedles(resources, extra);
    const leaks = findLeaks(needles, haystacks);
    const missing = uncovered(resources, needles);
    const bytes = Object.values(haystacks).reduce((n, t) => n + t.length, 0);
    process.stdout.write(
        JSON.stringify({ exports, resources: resources.length, secretStrings: needles.size, haystacks: Object.keys(haystacks).length, bytesSearched: bytes, leaks, uncovered: missing }) + "\n",
    );
    for (const l of leaks) process.stderr.write(`secrets: ${l.what} appears in ${l.haystack} (sha256 ${l.sha256}…)\n`);
    for (const u of missing) process.stderr.write(`secrets: no secret value to look for from ${u}\n`);
    if (exports === 0) process.stderr.write("secrets: no revealed export among the secret files: nothing of the stack's to look for\n");
    process.exit(leaks.length || missing.length || exports === 0 ? 1 : 0);
}
