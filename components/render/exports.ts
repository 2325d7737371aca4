/**
 * The NFS server's export table (`/etc/exports.d/k8s-ha.exports`, read by `exportfs -r`).
 */
import { compareStrings, joinLines, requireAbsolutePath, requireCidr } from "./text";

export interface NfsExport {
    /** Exported directory. */
    path: string;
    /** The only network allowed to mount it (the node network). */
    allowedCidr: string;
    /**
     * Default `rw,sync,root_squash,no_subtree_check`: writes are on disk before the server
     * answers (`sync`), root on a client is mapped to nobody (`root_squash`), and no subtree
     * checking (which breaks renames of open files and buys nothing when a whole directory is exported).
     */
    options?: readonly string[];
}

export const DEFAULT_EXPORT_OPTIONS: readonly string[] = ["rw", "sync", "root_squash", "no_subtree_check"];

/**
 * One `path cidr(options)` line per export, sorted by path. (The parameter is not called
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
            requireCidr(e.allowedCidr, "exports allowedCidr");
            const options = e.options ?? DEFAULT_EXPORT_OPTIONS;
            for (const o of options) {
                if (!/^[a-z_]+(=[A-Za-z0-9:_-]+)?$/.test(o)) {
                    throw new Error(`exports: option "${o}" of ${e.path} is not an exports(5) option`);
                }
            }
            return `${e.path} ${e.allowedCidr}(${options.join(",")})`;
        });
    return joinLines(["# Rendered by k8s-ha. Changes here are overwritten.", ...lines]);
}
