import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");

/**
 * The Pulumi machine's side of the repository in a temporary root, for the scripts that wrap the
 * `pulumi` CLI (scripts/pulumi.sh and those that go through it): the named scripts copied from
 * scripts/, a stand-in `pulumi` first on PATH (via .tools/env.sh, with PULUMI_HOME in `home/`),
 * node_modules linked, and a minimal Pulumi.yaml and dev stack file.
 */
export class ScriptSandbox {
    readonly dir: string;

    constructor(prefix: string, scripts: readonly string[], standIn: string) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
        for (const s of scripts) this.write(`scripts/${s}`, fs.readFileSync(path.join(ROOT, "scripts", s), "utf8"));
        this.write("bin/pulumi", standIn, 0o755);
        this.write(".tools/env.sh", `export PATH="${this.p("bin")}:${path.dirname(process.execPath)}:$PATH"\nexport PULUMI_HOME="${this.p("home")}"\n`);
        for (const d of ["home", "backends"]) fs.mkdirSync(this.p(d));
        fs.symlinkSync(path.join(ROOT, "node_modules"), this.p("node_modules"));
        this.write("Pulumi.yaml", "name: k8s-ha\nruntime: nodejs\n");
        this.write("Pulumi.dev.yaml", "config:\n  k8s-ha:vip: 10.213.0.10\n");
    }

    p(...parts: string[]): string {
        return path.join(this.dir, ...parts);
    }

    write(rel: string, content: string, mode = 0o644): void {
        fs.mkdirSync(path.dirname(this.p(rel)), { recursive: true });
        fs.writeFileSync(this.p(rel), content, { mode });
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
