import { spawnSync } from "child_process";
import * as fs from "fs";
import { ScriptSandbox } from "./script-sandbox";

// scripts/kubeconfig.sh (npm run kubeconfig): the real scripts in a temporary root, with a stand-in
// `pulumi` that keeps each backend's stacks in a file, serves the outputs a test gives a stack, and
// notes the mode of the file its stdout goes to while it writes the secret.

const STAND_IN = `#!/usr/bin/env bash
printf 'pulumi %s\\n' "$*" >>"$SANDBOX/pulumi.log"
stacks=$SANDBOX/backends/$(printf '%s' "\${PULUMI_BACKEND_URL:-none}" | tr -c 'A-Za-z0-9' _)
touch "$stacks"
case "\${1:-} \${2:-}" in
"stack select")
    shift 2
    create=no name=
    for a in "$@"; do case $a in --create) create=yes ;; --non-interactive) ;; *) name=$a ;; esac; done
    if ! grep -qx -- "$name" "$stacks"; then
        if [[ $create == no ]]; then echo "error: no stack named '$name' found" >&2; exit 255; fi
        echo "$name" >>"$stacks"
    fi
    echo "$name" >"$SANDBOX/selected"
    ;;
"stack ls")
    awk 'BEGIN { printf "[" } { printf "%s{\\"name\\":\\"%s\\",\\"current\\":false}", (NR > 1 ? "," : ""), $0 } END { print "]" }' "$stacks"
    ;;
"stack output")
    # The stand-in's own stdout (/proc/$$/fd/1): stat's /dev/stdout would be the log it appends to.
    printf '%s %s\\n' "$(stat -L -c %a "/proc/$$/fd/1")" "$(readlink "/proc/$$/fd/1")" >>"$SANDBOX/stdout-modes"
    out=$SANDBOX/outputs/$(cat "$SANDBOX/selected").$3
    if [[ -f $out ]]; then cat "$out"; exit 0; fi
    echo "error: current stack does not have output property '$3'" >&2
    exit 1
    ;;
*) echo "unexpected: $*" >&2; exit 2 ;;
esac
`;

/** A kubeconfig as the stack outputs it; the key's text is what must never leak. */
const kubeconfigOf = (stack: string) =>
    [
        "apiVersion: v1",
        "kind: Config",
        `clusters:\n  - name: k8s-ha-${stack}\n    cluster:\n      server: https://10.0.0.10:6443\n      certificate-authority-data: Q0E=`,
        `users:\n  - name: k8s-ha-${stack}\n    user:\n      client-certificate-data: Q0VSVA==\n      client-key-data: U0VDUkVULUtFWS0${stack}`,
        `contexts:\n  - name: k8s-ha-${stack}\n    context:\n      cluster: k8s-ha-${stack}\n      user: k8s-ha-${stack}`,
        `current-context: k8s-ha-${stack}`,
        "preferences: {}",
        "",
    ].join("\n");

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
    calls: string[];
    /** The modes (octal) of the file the stand-in's stdout went to while it wrote an output. */
    modes: string[];
}

class Sandbox extends ScriptSandbox {
    constructor() {
        super("k8s-ha-kubeconfig-", ["pulumi.sh", "stack-hosts.sh", "kubeconfig.sh"], STAND_IN);
        for (const d of ["outputs", "user"]) fs.mkdirSync(this.p(d));
        // The team's backend, with prod brought up and staging never.
        this.write("home/credentials.json", JSON.stringify({ current: "s3://team-state", accessTokens: {}, accounts: {} }));
        this.write("backends/s3___team_state", "prod\nstaging\n");
        this.write("outputs/prod.kubeconfig", kubeconfigOf("prod"));
    }

    /** The script as `npm run kubeconfig -- ARGS` runs it from the folder `user/`, under umask 000 (so only the script's own care keeps the file private). */
    run(args: string[], env: Record<string, string> = {}): Run {
        for (const f of ["pulumi.log", "stdout-modes"]) fs.rmSync(this.p(f), { force: true });
        const r = spawnSync("bash", ["-c", 'umask 000; exec bash "$0" "$@"', this.p("scripts/kubeconfig.sh"), ...args], {
            cwd: this.dir,
            encoding: "utf8",
            timeout: 30000,
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: this.p("home-dir"), SANDBOX: this.dir, INIT_CWD: this.p("user"), K8S_HA_ARTIFACTS_WWW: this.p("no-artifacts"), ...env },
        });
        const lines = (f: string) => (fs.existsSync(this.p(f)) ? fs.readFileSync(this.p(f), "utf8").split("\n").filter(Boolean) : []);
        return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: lines("pulumi.log"), modes: lines("stdout-modes") };
    }

    mode(rel: string): number {
        return fs.statSync(this.p(rel)).mode & 0o777;
    }

    /** The files in a folder (temporary files left behind would show here). */
    ls(rel: string): string[] {
        return fs.readdirSync(this.p(rel)).sort();
    }
}

describe("scripts/kubeconfig.sh", () => {
    let sb: Sandbox;
    beforeEach(() => {
        sb = new Sandbox();
    });
    afterEach(() => sb.remove());

    test("writes ./<stack>.kubeconfig where npm was run, 0600 even while the secret was written, and never passes it as an argument", () => {
        const r = sb.run(["--stack", "prod"]);
        expect(r.stderr).toContain("kubeconfig: wrote ");
        expect(r.status).toBe(0);
        expect(r.stdout).toBe("");
        expect(fs.readFileSync(sb.p("user/prod.kubeconfig"), "utf8")).toBe(kubeconfigOf("prod"));
        expect(sb.mode("user/prod.kubeconfig")).toBe(0o600);
        expect(r.modes).toEqual([expect.stringMatching(new RegExp(`^600 ${sb.p("user")}/\\.prod\\.kubeconfig\\.\\w+$`))]);
        expect(r.calls).toEqual(["pulumi stack select --non-interactive prod", "pulumi stack output kubeconfig --show-secrets"]);
        expect(r.stderr).toBe(`kubeconfig: wrote ${sb.p("user/prod.kubeconfig")} (0600), context k8s-ha-prod; try: kubectl --kubeconfig ${sb.p("user/prod.kubeconfig")} get nodes\n`);
        expect(sb.ls("user")).toEqual(["prod.kubeconfig"]);
    });

    test("--out PATH (relative to where npm was run, or absolute), K8S_HA_STACK, --stack=; a world-readable file there is replaced by a private one", () => {
        sb.write("user/mine.kubeconfig", "old\n", 0o644);
        fs.chmodSync(sb.p("user/mine.kubeconfig"), 0o644);
        expect(sb.run(["--out", "mine.kubeconfig"], { K8S_HA_STACK: "prod" }).status).toBe(0);
        expect(fs.readFileSync(sb.p("user/mine.kubeconfig"), "utf8")).toBe(kubeconfigOf("prod"));
        expect(sb.mode("user/mine.kubeconfig")).toBe(0o600);
        fs.mkdirSync(sb.p("elsewhere"));
        const r = sb.run(["--stack=prod", `--out=${sb.p("elsewhere/k")}`]);
        expect(r.status).toBe(0);
        expect(sb.mode("elsewhere/k")).toBe(0o600);
        expect(sb.ls("elsewhere")).toEqual(["k"]);
    });

    test("a missing stack: one line naming the stacks there; nothing written", () => {
        const r = sb.run(["--stack", "qa"]);
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/^kubeconfig: no stack qa in the backend s3:\/\/team-state \(pulumi login\); the stacks of this project there: prod, staging\. Pick one with --stack NAME.*\n$/);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(sb.ls("user")).toEqual([]);
    });

    test("a stack without the output (never brought up): one line saying so; an existing file is left as it was", () => {
        sb.write("user/staging.kubeconfig", "kept\n");
        const r = sb.run(["--stack", "staging"]);
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(
            "kubeconfig: the stack staging has no kubeconfig output: it has not been brought up yet (or its last up stopped before the end); run: npm run up -- --stack staging\n",
        );
        expect(fs.readFileSync(sb.p("user/staging.kubeconfig"), "utf8")).toBe("kept\n");
        expect(sb.ls("user")).toEqual(["staging.kubeconfig"]);
    });

    test("the dev stack by default (the lab's file backend); no backend for another stack; an output that is no kubeconfig; bad arguments", () => {
        fs.rmSync(sb.p("home/credentials.json"));
        const dev = sb.run([]);
        expect(dev.stderr).toBe("kubeconfig: the stack dev has no kubeconfig output: it has not been brought up yet (or its last up stopped before the end); run: npm run up -- --stack dev\n");
        const none = sb.run(["--stack", "prod"]);
        expect(none.status).toBe(1);
        expect(none.stderr).toMatch(/^kubeconfig: no backend for the stack prod: PULUMI_BACKEND_URL is unset and nobody ran `pulumi login`.*\n$/);
        sb.write("outputs/dev.kubeconfig", "null\n");
        const junk = sb.run(["-s", "dev"]);
        expect(junk.stderr).toBe("kubeconfig: the kubeconfig output of the stack dev is not a kubeconfig (no kind: Config and current-context); nothing written\n");
        expect(junk.status).toBe(1);
        expect(sb.ls("user")).toEqual([]);
        for (const args of [["--out"], ["--bogus"], ["--stack"]]) {
            const r = sb.run(args);
            expect([args, r.status, r.stderr]).toEqual([args, 1, "kubeconfig: usage: kubeconfig.sh [--stack NAME] [--out PATH]\n"]);
        }
        expect(sb.run(["--out", "no/such/folder/k"], { K8S_HA_STACK: "dev" }).stderr).toBe(`kubeconfig: no folder ${sb.p("user/no/such/folder")} to write k in\n`);
        expect(sb.run(["--help"]).status).toBe(0);
    });
});
