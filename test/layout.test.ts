import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { HOST_PORTS, hostLayout, renderHostLayout } from "../components/render/layout";
import { HA_DIRS, K8S_PKI } from "../components/render/paths";
import { hostLib } from "../components/runner";

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

/**
 * The host scripts' side of the border: they read every layout path and port from the generated
 * layout (render/layout.ts, at the head of the host library), never spell one. These files may,
 * for the reason given.
 */
const HOST_ALLOWED: Record<string, string> = {
    "prologue.sh": "finds the installed library, so runs before the layout is defined",
    "run-saved.sh": "the delete's whole command: finds the saved script without the library",
};
/** scripts/host/files/ is installed on hosts as it is (units run it without the library): a change there changes hosts' files. */
const HOST_DIRS = ["scripts/host"];

/** `file:line: text` of every non-comment line of the host scripts (their heredoc-free bash, comments on lines of their own). */
function hostScriptLines(): { where: string; line: string; file: string }[] {
    const root = path.resolve(__dirname, "..");
    return HOST_DIRS.flatMap((d) =>
        fs
            .readdirSync(path.join(root, d))
            .filter((f) => f.endsWith(".sh") && !(f in HOST_ALLOWED))
            .flatMap((f) =>
                fs
                    .readFileSync(path.join(root, d, f), "utf8")
                    .split("\n")
                    .map((line, i) => ({ where: `${d}/${f}:${i + 1}`, line, file: f }))
                    .filter(({ line }) => !/^\s*#/.test(line)),
            ),
    );
}

/** Upper-case names the bash assigns: `NAME=`, `NAME+=`, `NAME[`, `local/readonly/export NAME`, `read -r NAME…`, `for NAME in`. */
function assignedNames(text: string): Set<string> {
    const names = new Set([...text.matchAll(/(?:^|[\s;(])([A-Z][A-Z0-9_]*)(?:=|\+=|\[)/gm)].map((m) => m[1]));
    for (const m of text.matchAll(/\b(?:read -r|local|readonly|export|declare -[a-zA-Z]+)((?: +[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        for (const n of m[1].trim().split(/ +/)) if (/^[A-Z][A-Z0-9_]*$/.test(n)) names.add(n);
    }
    for (const m of text.matchAll(/\bfor ([A-Z][A-Z0-9_]*) in\b/g)) names.add(m[1]);
    return names;
}

describe("the host layout for bash", () => {
    test("no host script spells a host path or a port the layout defines (comments aside)", () => {
        const ports = Object.values(HOST_PORTS).map(String);
        const found: string[] = [];
        for (const { where, line } of hostScriptLines()) {
            for (const hit of line.match(HOST_PATH) ?? []) found.push(`${where}: ${hit}`);
            for (const p of ports) if (new RegExp(`\\b${p}\\b`).test(line)) found.push(`${where}: port ${p}`);
        }
        expect(found).toEqual([]);
    });

    test("every upper-case name a host script reads is the layout's, the script's own, or one the program sends", () => {
        const layout = hostLayout();
        const lines = hostScriptLines();
        const text = lines.map((l) => l.line).join("\n");
        const assigned = assignedNames(text);
        const components = modules(path.resolve(__dirname, "../components"))
            .map((m) => fs.readFileSync(path.resolve(__dirname, "../components", m), "utf8"))
            .join("\n");
        const bash = new Set(["BASH_SOURCE", "BASH_COMMAND", "LINENO", "SECONDS", "PATH", "HOME", "EUID", "UID", "PIPESTATUS", "FUNCNAME", "BASHPID", "RANDOM", "IFS", "BASH_REMATCH", "BASH_EXECUTION_STRING"]);
        // lib.sh's folders may be moved by the tests' sandboxes (K8SHA_STATE_DIR...); the program never sets them.
        for (const n of ["K8SHA_STATE_DIR", "K8SHA_LIB_DIR", "K8SHA_RUN_DIR"]) bash.add(n);
        const unknown = new Set<string>();
        for (const m of text.matchAll(/\$\{?#?!?([A-Z][A-Z0-9_]*)/g)) {
            const n = m[1];
            if (layout.has(n) || assigned.has(n) || bash.has(n)) continue;
            if (new RegExp(`\\b${n}\\b`).test(components)) continue;
            unknown.add(n);
        }
        expect([...unknown].sort()).toEqual([]);
    });

    test("no layout name is one a host script assigns or an environment key the program sends", () => {
        const text = hostScriptLines()
            .map((l) => l.line)
            .join("\n");
        const assigned = assignedNames(text);
        const components = modules(path.resolve(__dirname, "../components"))
            .filter((m) => m !== "render/layout.ts")
            .map((m) => fs.readFileSync(path.resolve(__dirname, "../components", m), "utf8"))
            .join("\n");
        const clashes = [...hostLayout().keys()].filter(
            (n) => assigned.has(n) || new RegExp(`\\b${n}\\b["']?\\s*:`).test(components),
        );
        expect(clashes).toEqual([]);
    });

    test("the bootstrap's own spelling of the library folder (prologue.sh, run-saved.sh) is the layout's", () => {
        for (const f of Object.keys(HOST_ALLOWED)) {
            const text = fs.readFileSync(path.resolve(__dirname, "../scripts/host", f), "utf8");
            const dirs = [...text.matchAll(/\$\{K8SHA_LIB_DIR:-([^}]+)\}/g)].map((m) => m[1]);
            expect([f, dirs]).toEqual([f, [HA_DIRS.libDir]]);
        }
    });

    test("the generated layout defines each variable once, read-only, with the layout's value, at the head of the host library", () => {
        const layout = hostLayout();
        const text = renderHostLayout();
        expect(hostLib().text.startsWith(text)).toBe(true);
        const names = [...layout.keys()];
        const r = spawnSync("bash", ["--norc", "--noprofile", "-c", `set -u\n${text}\nfor n in ${names.join(" ")}; do printf '%s=%s\\n' "$n" "\${!n}"; done\nSTATE_DIR=x; HA_STATE_DIR=y`], {
            encoding: "utf8",
        });
        expect(r.stdout).toBe(names.map((n) => `${n}=${layout.get(n)}\n`).join(""));
        expect(r.stderr).toContain("HA_STATE_DIR: readonly variable");
        expect(layout.get("K8S_PKI_CA_CERT")).toBe(K8S_PKI.caCert);
        expect(layout.get("PORT_APISERVER")).toBe("6443");
    });
});
