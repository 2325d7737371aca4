import * as fs from "fs";
import * as path from "path";

/**
 * render/paths.ts is the one module of components/ that names a host path: the components send
 * files to its paths, the renderers point flags and configs at them, and the host scripts install
 * whatever their bundles hold. These modules name other paths, for reasons of their own.
 */
const ALLOWED: Record<string, string> = {
    "render/paths.ts": "the layout itself",
    "config.ts": "the system's trees that a user's NFS path must stay out of, and its default",
    "schema.ts": "examples in its messages about a user's NFS path",
    "render/addons.ts": "paths inside CoreDNS's container, not on a host",
    "init.ts": "the command an operator runs on a host's console to read its key's fingerprint, in messages (HOST_KEY_CHECK)",
};

const HOST_PATH = /\/(etc|var|usr|opt|run|srv|lib)\/[A-Za-z0-9._/@:${}-]*/g;

function modules(dir: string, base = dir): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) return modules(p, base);
        return e.name.endsWith(".ts") ? [path.relative(base, p)] : [];
    });
}

describe("the host file layout", () => {
    test("no module of components/ but the layout writes a host path of its own (comments aside)", () => {
        const root = path.resolve(__dirname, "../components");
        const found: string[] = [];
        for (const m of modules(root)) {
            if (m in ALLOWED) continue;
            const lines = fs.readFileSync(path.join(root, m), "utf8").split("\n");
            lines.forEach((line, i) => {
                if (/^\s*(\/\/|\*|\/\*)/.test(line)) return;
                for (const hit of line.match(HOST_PATH) ?? []) found.push(`${m}:${i + 1}: ${hit}`);
            });
        }
        expect(found).toEqual([]);
    });
});
