import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hostLib, hostScript } from "../components/runner";

/** What a run of a host script left: its exit code and what it wrote. */
export interface RunResult {
    status: number | null;
    stdout: string;
    stderr: string;
}

export interface RunOptions {
    /** Environment of the run, over the sandbox's own. */
    env?: Record<string, string>;
    /** The run's stdin (a step's bundle). */
    input?: string;
}

export interface StepOptions extends RunOptions {
    /**
     * Bash run at the start of run_verb, once the script has defined its functions: it redefines
     * those that would touch this machine's own files (etcd's data, /usr/local/bin).
     */
    hooks?: string;
}

const HOST_DIR = path.resolve(__dirname, "../scripts/host");

/**
 * The host library as the hosts get it (the generated layout, then lib.sh), written into `dir`:
 * for tests that source it themselves (lib.sh alone lacks the layout's variables).
 */
export function hostLibFile(dir: string): string {
    const file = path.join(dir, "k8s-ha-lib.sh");
    fs.writeFileSync(file, hostLib().text);
    return file;
}
const REAL_SLEEP = ["/usr/bin/sleep", "/bin/sleep"].find((p) => fs.existsSync(p)) ?? "sleep";

/**
 * A temporary root for running the real host scripts: stand-in commands first on PATH log every
 * call to one file (`NAME ARGS`, in the order they happen) and answer as the test writes them;
 * state, run and library folders of its own; `sleep` takes a thousandth of the time asked, so
 * that wait loops are quick (a function, like the shadows below). A command a script runs by its absolute path (/usr/local/bin/etcdctl)
 * is a function of that name defined before the script starts (BASH_ENV) that runs the stand-in
 * of the same base name.
 */
export class HostSandbox {
    readonly dir: string;
    private readonly bin: string;
    private readonly shadows: string[] = [];

    constructor(readonly host: string) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-sandbox-"));
        this.bin = this.path("bin");
        fs.mkdirSync(this.bin);
        fs.mkdirSync(this.path("tmp"));
        // The library as the prologue finds it on a host, and run_verb running the test's hooks first.
        fs.mkdirSync(this.path("lib"));
        fs.writeFileSync(
            this.path("lib/lib-sandbox.sh"),
            [
                hostLib().text,
                `eval "k8sha_sandbox_$(declare -f run_verb)"`,
                `run_verb() { if [[ -n \${K8SHA_SANDBOX_HOOKS:-} ]]; then source "$K8SHA_SANDBOX_HOOKS"; fi; k8sha_sandbox_run_verb "$@"; }`,
                "",
            ].join("\n"),
        );
        this.writeShadows();
    }

    /** A path inside the sandbox. */
    path(...parts: string[]): string {
        return path.join(this.dir, ...parts);
    }

    /** Writes a file of the sandbox (folders made as needed). */
    write(rel: string, content: string, mode = 0o644): string {
        const p = this.path(rel);
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, content, { mode });
        return p;
    }

    read(rel: string): string {
        return fs.readFileSync(this.path(rel), "utf8");
    }

    exists(rel: string): boolean {
        return fs.existsSync(this.path(rel));
    }

    /** The names in a folder of the sandbox, sorted. */
    list(rel: string): string[] {
        return fs.existsSync(this.path(rel)) ? fs.readdirSync(this.path(rel)).sort() : [];
    }

    /**
     * A stand-in command: logs `NAME ARGS` (when `logged`), then runs `body` (bash, with the
     * function `log LINE` to add a line of its own to the call log, SANDBOX set to this folder and
     * REAL_SLEEP to the sleep that is not scaled).
     */
    standIn(name: string, body: string, logged = true): void {
        const lines = ["#!/bin/bash", `log() { printf '%s\\n' "$*" >>"$SANDBOX/calls"; }`, ...(logged ? [`log "${name} $*"`] : []), body, ""];
        fs.writeFileSync(path.join(this.bin, name), lines.join("\n"), { mode: 0o755 });
    }

    /**
     * Commands the script runs by absolute path, answered by the stand-in of the same base name. In a
     * subshell (`$(...)`, a pipeline, `&`) the function execs the stand-in, so that `$!` of a
     * background call is the stand-in's own pid, as it would be the real command's.
     */
    shadow(...absolutePaths: string[]): void {
        this.shadows.push(...absolutePaths);
        this.writeShadows();
    }

    private writeShadows(): void {
        const fns = this.shadows.map((p) => {
            const name = path.basename(p);
            return `function ${p} { if [[ $BASHPID != "$$" ]]; then exec ${name} "$@"; fi; ${name} "$@"; }`;
        });
        // sleep N takes N ms, without a process of its own for the wrapper.
        const sleep = `sleep() { local s=\${1%%.*}; s=\${s%s}; printf -v s '%d.%03d' $((s / 1000)) $((s % 1000)); ${REAL_SLEEP} "$s"; }`;
        fs.writeFileSync(this.path("shadows.sh"), [sleep, ...fns, ""].join("\n"));
    }

    /** The calls logged so far, one a line. */
    calls(): string[] {
        return this.exists("calls") ? this.read("calls").split("\n").filter((l) => l !== "") : [];
    }

    clearCalls(): void {
        fs.rmSync(this.path("calls"), { force: true });
    }

    private env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
        // What the runner would set for another step (or a developer's shell) stays out.
        const inherited = Object.entries(process.env).filter(([k]) => !k.startsWith("K8SHA_") && k !== "BASH_ENV");
        return {
            ...Object.fromEntries(inherited),
            PATH: `${this.bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
            SANDBOX: this.dir,
            REAL_SLEEP,
            // mktemp's files (etcd.sh's lock output) stay inside too.
            TMPDIR: this.path("tmp"),
            BASH_ENV: this.path("shadows.sh"),
            K8SHA_HOST: this.host,
            K8SHA_STATE_DIR: this.path("state"),
            K8SHA_RUN_DIR: this.path("run"),
            K8SHA_LIB_DIR: this.path("lib"),
            K8SHA_LIB: "sandbox",
            ...extra,
        };
    }

    private spawn(args: string[], opts: RunOptions): RunResult {
        const r = spawnSync("bash", args, { encoding: "utf8", input: opts.input ?? "", env: this.env(opts.env), timeout: 30000 });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    /** A host step (scripts/host/NAME.sh) as the runner sends it: the prologue sources the library, the verb last. */
    step(name: string, verb: "create" | "delete", opts: StepOptions = {}): RunResult {
        const env: Record<string, string> = { K8SHA_STEP: name, ...opts.env };
        if (opts.hooks !== undefined) env.K8SHA_SANDBOX_HOOKS = this.write("hooks.sh", opts.hooks + "\n");
        return this.spawn(["-c", hostScript(name), `k8s-ha-${verb}`, verb], { ...opts, env });
    }

    /** A script of scripts/host/files/ run as a unit or scripts/etcd-backup.sh runs it: `bash FILE ARGS`. */
    file(name: string, args: string[], opts: RunOptions = {}): RunResult {
        return this.spawn([path.join(HOST_DIR, "files", name), ...args], opts);
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
