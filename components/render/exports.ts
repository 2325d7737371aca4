/**
 * The NFS server's export table (`/etc/exports.d/k8s-ha.exports`, read by `exportfs -r`).
 */
import { compareStrings, isIpv4, joinLines, requireAbsolutePath, requireCidr } from "./text";

export interface NfsExport {
    /** Exported directory. */
    path: string;
    /** The only clients allowed to mount it: IPv4 addresses or CIDRs (by default the workers' addresses). */
    clients: readonly string[];
    /**
     * Default `rw,sync,root_squash,subtree_check`: writes are on disk before the server answers
     * (`sync`), root on a client is mapped to nobody (`root_squash`), and every request's file
     * handle is checked to lie inside the exported directory (`subtree_check`): without it, a
     * client that forges a handle reaches any file of the filesystem that holds the export
     * (exports(5)), which is usually the NFS host's root filesystem.
     */
    options?: readonly string[];
}

export const DEFAULT_EXPORT_OPTIONS: readonly string[] = ["rw", "sync", "root_squash", "subtree_check"];

/**
 * One `path client(options) client(options)…` line per export, sorted by path. (The parameter is not called
 * `exports`: in the CommonJS output that name would hide the module's own `exports` object.)
 */
export function renderExports(entries: readonly NfsExport[]): string {
    if (entries.length === 0) {
        throw new Error("exports: nothing to export");
    }
    const lines = [...entries]
        .sort((a, b) => compareStrings(a.path, b.path))
        .map((e) => {
            requireAbsolutePath(e.path, "exports path");
            if (e.clients.length === 0) throw new Error(`exports: ${e.path} has no clients`);
            for (const client of e.clients) {
                if (!isIpv4(client)) requireCidr(client, `exports client of ${e.path}`);
            }
            const options = e.options ?? DEFAULT_EXPORT_OPTIONS;
            for (const o of options) {
                if (!/^[a-z_]+(=[A-Za-z0-9:_-]+)?$/.test(o)) {
                    throw new Error(`exports: option "${o}" of ${e.path} is not an exports(5) option`);
                }
            }
            return `${e.path} ${[...new Set(e.clients)].sort(compareStrings).map((client) => `${client}(${options.join(",")})`).join(" ")}`;
        });
    return joinLines(["# Rendered by k8s-ha. Changes here are overwritten.", ...lines]);
}
