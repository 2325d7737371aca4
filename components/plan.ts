import * as fs from "fs";
import { parse } from "yaml";
import { DEFAULTS, Downloads, RawConfig, Versions } from "./config";
import { allArtifacts, artifactVersionKey } from "./urls";
import { readReleaseSettings } from "./validate";

/**
 * What the bash tools need to know of a stack, made by the program's own code so that no script
 * restates it: the versions in force, the download bases, every release file the hosts download
 * (with its pin's key and the checksum file its vendor publishes), and the hosts and VIP.
 * `node bin/components/plan.js STACK_FILE [KEY=VERSION ...]` prints it as JSON; scripts/artifacts.sh
 * and scripts/lab/hosts-lib.sh read it.
 */
export interface Plan {
    versions: Versions;
    /** The keys of `k8s-ha:versions` the stack file sets (or the tool overrode); the others are defaults. */
    versionsGiven: string[];
    downloads: Downloads;
    /** The keys of `k8s-ha:downloads` the stack file sets. */
    downloadsGiven: string[];
    /** The upstream download bases, which the lab's file server mirrors by host and path. */
    upstream: Downloads;
    /** The stack file's pins (`k8s-ha:checksums`), as it gives them: what the hosts check each file against. */
    checksums: Record<string, string>;
    /** Each file relative to its download base (`downloads[base]`), as the upstream layouts have it. */
    artifacts: { name: string; base: keyof Downloads; pinKey: string; path: string; sums: string }[];
    hosts: { name: string; address: string; roles: string[] }[];
    vip?: string;
}

/** The `k8s-ha:` keys of a stack file (Pulumi.<stack>.yaml), without their prefix. */
export function stackKeys(text: string): Record<string, unknown> {
    const doc: unknown = parse(text);
    const config = typeof doc === "object" && doc !== null ? (doc as { config?: unknown }).config : undefined;
    const out: Record<string, unknown> = {};
    if (typeof config !== "object" || config === null) return out;
    for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
        if (key.startsWith("k8s-ha:")) out[key.slice("k8s-ha:".length)] = value;
    }
    return out;
}

/** The plan of a stack's keys, with versions overridden (`{ etcd: "3.6.16" }`) as a tool asks. */
export function planOf(keys: Record<string, unknown>, overrides: Record<string, string> = {}): Plan {
    const versions = { ...(typeof keys.versions === "object" && keys.versions !== null ? keys.versions : {}), ...overrides };
    const raw: Pick<RawConfig, "versions" | "downloads" | "allowHttpDownloads"> = {
        versions,
        downloads: keys.downloads,
        allowHttpDownloads: keys.allowHttpDownloads,
    };
    const release = readReleaseSettings(raw);
    // Each file's download base is the key of the version it comes at (kubernetes for its binaries).
    const noBase: Downloads = { kubernetes: "", etcd: "", containerd: "", runc: "", cni: "" };
    const artifacts = allArtifacts(noBase, release.versions).map((a) => {
        const base = artifactVersionKey(a.name);
        if (!(base in noBase)) throw new Error(`plan: ${a.name} comes at ${base}, which is no download base`);
        // With empty bases each URL is `/` and the path below its base.
        const path = a.url.slice(1);
        return { name: a.name, base: base as keyof Downloads, pinKey: a.pinKey, path, sums: `${path.slice(0, path.lastIndexOf("/") + 1)}${a.vendorSums}` };
    });
    const hostsRaw = typeof keys.hosts === "object" && keys.hosts !== null ? (keys.hosts as Record<string, { address?: unknown; roles?: unknown }>) : {};
    const hosts = Object.keys(hostsRaw)
        .sort()
        .map((name) => ({
            name,
            address: String(hostsRaw[name]?.address ?? ""),
            roles: Array.isArray(hostsRaw[name]?.roles) ? (hostsRaw[name].roles as unknown[]).map(String) : [],
        }));
    const given = (v: unknown) => (typeof v === "object" && v !== null ? Object.keys(v).sort() : []);
    return {
        versions: release.versions,
        versionsGiven: given(versions),
        downloads: release.downloads,
        downloadsGiven: given(keys.downloads),
        upstream: { ...DEFAULTS.downloads },
        checksums: Object.fromEntries(
            Object.entries(typeof keys.checksums === "object" && keys.checksums !== null ? (keys.checksums as Record<string, unknown>) : {}).filter(
                (e): e is [string, string] => typeof e[1] === "string",
            ),
        ),
        artifacts,
        hosts,
        ...(typeof keys.vip === "string" ? { vip: keys.vip } : {}),
    };
}

if (require.main === module) {
    const [file, ...rest] = process.argv.slice(2);
    if (!file) {
        process.stderr.write("usage: node bin/components/plan.js STACK_FILE [KEY=VERSION ...]\n");
        process.exit(2);
    }
    const overrides = Object.fromEntries(
        rest.map((arg) => {
            const at = arg.indexOf("=");
            if (at <= 0) throw new Error(`plan: '${arg}' is not KEY=VERSION`);
            return [arg.slice(0, at), arg.slice(at + 1)];
        }),
    );
    try {
        process.stdout.write(JSON.stringify(planOf(stackKeys(fs.readFileSync(file, "utf8")), overrides), null, 2) + "\n");
    } catch (e) {
        process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
    }
}
