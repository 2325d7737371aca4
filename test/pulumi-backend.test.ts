import { spawnSync } from "child_process";
import * as fs from "fs";
import { ScriptSandbox } from "./script-sandbox";

// Which backend and stack scripts/pulumi.sh (and the scripts that go through it) pick: the real
// scripts in a temporary root, with a stand-in `pulumi` that keeps each backend's stacks in a file
// and logs every call with the backend and passphrase file it got.

/** The stand-in: `stack select [--create] NAME`, `stack ls --json`, and anything else logged as run. */
const STAND_IN = `#!/usr/bin/env bash
printf 'pulumi %s | backend=%s passfile=%s\\n' "$*" "\${PULUMI_BACKEND_URL:-}" "\${PULUMI_CONFIG_PASSPHRASE_FILE:-}" >>"$SANDBOX/pulumi.log"
stacks=$SANDBOX/backends/$(printf '%s' "\${PULUMI_BACKEND_URL:-none}" | tr -c 'A-Za-z0-9' _)
touch "$stacks"
case "\${1:-} \${2:-}" in
"stack select")
    shift 2
    create=no name=
    for a in "$@"; do case $a in --create) create=yes ;; --non-interactive) ;; *) name=$a ;; esac; done
    if grep -qx -- "$name" "$stacks"; then exit 0; fi
    if [[ $create == yes ]]; then
        echo "$name" >>"$stacks"
        echo "encryptionsalt: v1:sandbox-$name" >>"Pulumi.$name.yaml"
        exit 0
    fi
    echo "error: no stack named '$name' found" >&2
    exit 255
    ;;
"stack ls")
    awk 'BEGIN { printf "[" } { printf "%s{\\"name\\":\\"%s\\",\\"current\\":false}", (NR > 1 ? "," : ""), $0 } END { print "]" }' "$stacks"
    ;;
*) echo "ran $*" ;;
esac
`;

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
    /** The stand-in's calls, one line each. */
    calls: string[];
}

class WrapperSandbox extends ScriptSandbox {
    constructor() {
        super("k8s-ha-backend-", ["pulumi.sh", "drift.sh", "stack-hosts.sh", "etcd-backup.sh"], STAND_IN);
    }

    /** A backend that already has these stacks. */
    backend(url: string, ...stacks: string[]): void {
        fs.writeFileSync(this.p("backends", url.replace(/[^A-Za-z0-9]/g, "_")), stacks.map((s) => `${s}\n`).join(""));
    }

    stacksOf(url: string): string[] {
        const f = this.p("backends", url.replace(/[^A-Za-z0-9]/g, "_"));
        return fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter(Boolean) : [];
    }

    /** What `pulumi login URL` leaves in PULUMI_HOME. */
    login(url: string): void {
        this.write("home/credentials.json", JSON.stringify({ current: url, accessTokens: {}, accounts: {} }));
    }

    run(script: string, args: string[], env: Record<string, string> = {}): Run {
        fs.rmSync(this.p("pulumi.log"), { force: true });
        const r = spawnSync("bash", [this.p("scripts", script), ...args], {
            cwd: this.dir,
            encoding: "utf8",
            timeout: 30000,
            // No built artifacts and no lab here: nothing to copy into the dev stack's config.
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: this.p("home-dir"), SANDBOX: this.dir, K8S_HA_ARTIFACTS_WWW: this.p("no-artifacts"), ...env },
        });
        const log = fs.existsSync(this.p("pulumi.log")) ? fs.readFileSync(this.p("pulumi.log"), "utf8") : "";
        return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: log.split("\n").filter(Boolean) };
    }
}

describe("scripts/pulumi.sh: the backend and the stack", () => {
    let sb: WrapperSandbox;
    beforeEach(() => {
        sb = new WrapperSandbox();
    });
    afterEach(() => sb.remove());

    test("no backend of the user's own: the dev stack on the lab's file backend, made on first use, with the generated passphrase", () => {
        const lab = `file://${sb.p(".tools/state")}`;
        const r = sb.run("pulumi.sh", ["preview"]);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        const passfile = sb.p(".tools/passphrase");
        expect(r.calls).toEqual([
            `pulumi stack select --non-interactive --create dev | backend=${lab} passfile=${passfile}`,
            `pulumi preview --config-file ${sb.p(".tools/Pulumi.dev.yaml")} | backend=${lab} passfile=${passfile}`,
        ]);
        expect(sb.stacksOf(lab)).toEqual(["dev"]);
        expect(fs.statSync(passfile).mode & 0o777).toBe(0o600);
        // The tracked file keeps its bytes; the new stack's salt goes into the effective config.
        expect(fs.readFileSync(sb.p("Pulumi.dev.yaml"), "utf8")).toBe("config:\n  k8s-ha:vip: 10.213.0.10\n");
        expect(fs.readFileSync(sb.p(".tools/Pulumi.dev.yaml"), "utf8")).toContain("encryptionsalt: v1:sandbox-dev");
    });

    test("the e2e suite's interface: its own fresh file backend and effective config, dev made there on first use", () => {
        const state = `file://${sb.p("e2e/state")}`;
        const env = { PULUMI_BACKEND_URL: state, K8S_HA_STACK_CONFIG: sb.p("e2e/Pulumi.dev.yaml"), K8S_HA_LAB_SYNC: "0" };
        const r = sb.run("pulumi.sh", ["config", "set", "--path", "k8s-ha:hosts.w3.address", "10.213.0.33"], env);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.calls[0]).toMatch(/^pulumi stack select --non-interactive --create dev \| backend=file:\/\/.*\/e2e\/state passfile=.*\/\.tools\/passphrase$/);
        expect(r.calls[1]).toContain(`pulumi config --config-file ${sb.p("e2e/Pulumi.dev.yaml")} set --path k8s-ha:hosts.w3.address 10.213.0.33`);
        expect(sb.stacksOf(state)).toEqual(["dev"]);
        expect(sb.run("pulumi.sh", ["up", "--yes", "--suppress-progress"], env).calls.at(-1)).toContain(
            `pulumi up --config-file ${sb.p("e2e/Pulumi.dev.yaml")} --yes --suppress-progress | backend=${state}`,
        );
        expect(sb.stacksOf(`file://${sb.p(".tools/state")}`)).toEqual([]);
    });

    test("the user's login is respected: --stack prod on the stored backend, no stack made, no lab passphrase", () => {
        sb.login("s3://team-state");
        sb.backend("s3://team-state", "prod", "staging");
        for (const args of [["preview", "--stack", "prod"], ["--stack=prod", "preview"], ["preview", "-s", "prod"]]) {
            const r = sb.run("pulumi.sh", args);
            expect(r.stderr).toBe("");
            expect(r.calls).toEqual([
                "pulumi stack select --non-interactive prod | backend=s3://team-state passfile=",
                "pulumi preview | backend=s3://team-state passfile=",
            ]);
        }
        const byEnv = sb.run("pulumi.sh", ["stack", "output", "kubeconfig"], { K8S_HA_STACK: "staging" });
        expect(byEnv.calls.at(-1)).toBe("pulumi stack output kubeconfig | backend=s3://team-state passfile=");
        expect(sb.stacksOf("s3://team-state")).toEqual(["prod", "staging"]);
    });

    test("a missing stack is an error naming the stacks there and how to make one; nothing is created or run", () => {
        sb.login("s3://team-state");
        sb.backend("s3://team-state", "prod", "staging");
        const r = sb.run("pulumi.sh", ["up", "--yes"], { K8S_HA_STACK: "qa" });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("pulumi.sh: no stack qa in the backend s3://team-state (pulumi login); the stacks of this project there: prod, staging. Pick one with --stack NAME");
        expect(r.stderr).toContain("pulumi stack init qa");
        expect(r.calls.map((c) => c.split(" |")[0])).toEqual(["pulumi stack select --non-interactive qa", "pulumi stack ls --json --non-interactive"]);
        expect(sb.stacksOf("s3://team-state")).toEqual(["prod", "staging"]);
    });

    test("the dev stack is not made on a team backend either", () => {
        sb.backend("postgres://pulumi@127.0.0.1:5433/pulumi", "prod");
        const r = sb.run("pulumi.sh", ["preview"], { PULUMI_BACKEND_URL: "postgres://pulumi@127.0.0.1:5433/pulumi" });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("no stack dev in the backend postgres://pulumi@127.0.0.1:5433/pulumi (PULUMI_BACKEND_URL); the stacks of this project there: prod.");
        expect(r.calls.some((c) => c.includes("--create"))).toBe(false);
        expect(r.calls.every((c) => c.endsWith("passfile="))).toBe(true);
        expect(sb.stacksOf("postgres://pulumi@127.0.0.1:5433/pulumi")).toEqual(["prod"]);
    });

    test("another stack on a file backend of the user's: neither made nor given the lab's passphrase", () => {
        const own = `file://${sb.p("own-state")}`;
        sb.backend(own, "staging");
        const r = sb.run("pulumi.sh", ["preview", "--stack", "staging"], { PULUMI_BACKEND_URL: own });
        expect(r.stderr).toBe("");
        expect(r.calls).toEqual([`pulumi stack select --non-interactive staging | backend=${own} passfile=`, `pulumi preview | backend=${own} passfile=`]);
        const missing = sb.run("pulumi.sh", ["preview", "--stack", "qa"], { PULUMI_BACKEND_URL: own });
        expect(missing.status).toBe(1);
        expect(missing.stderr).toContain(`no stack qa in the backend ${own} (PULUMI_BACKEND_URL); the stacks of this project there: staging.`);
        expect(sb.stacksOf(own)).toEqual(["staging"]);
    });

    test("another stack without a backend of the user's is an error before pulumi runs; never the lab's backend", () => {
        const r = sb.run("pulumi.sh", ["preview"], { K8S_HA_STACK: "prod" });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("pulumi.sh: no backend for the stack prod: PULUMI_BACKEND_URL is unset and nobody ran `pulumi login`");
        expect(r.calls).toEqual([]);
    });

    test("pulumi's order: PULUMI_BACKEND_URL over Pulumi.yaml's backend.url over the login; a password in the URL is masked", () => {
        sb.login("s3://team-state");
        sb.write("Pulumi.yaml", "name: k8s-ha\nruntime: nodejs\nbackend:\n  url: s3://project-state\n");
        sb.backend("s3://project-state", "prod");
        expect(sb.run("pulumi.sh", ["preview", "--stack", "prod"]).calls.at(-1)).toBe("pulumi preview | backend=s3://project-state passfile=");
        const url = "postgres://pulumi:hunter2@127.0.0.1:5433/pulumi?sslmode=disable";
        const r = sb.run("pulumi.sh", ["preview", "--stack", "prod"], { PULUMI_BACKEND_URL: url });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("no stack prod in the backend postgres://pulumi:***@127.0.0.1:5433/pulumi?sslmode=disable (PULUMI_BACKEND_URL); it has no stack of this project. Pick one with --stack NAME");
        expect(r.stderr).not.toContain("hunter2");
    });

    test("stack ls and stack init select nothing; init goes to the backend of the stack it makes", () => {
        sb.login("s3://team-state");
        sb.backend("s3://team-state", "prod");
        expect(sb.run("pulumi.sh", ["stack", "ls"]).calls).toEqual(["pulumi stack ls | backend=s3://team-state passfile="]);
        expect(sb.run("pulumi.sh", ["stack", "init", "qa"]).calls).toEqual(["pulumi stack init qa | backend=s3://team-state passfile="]);
        fs.rmSync(sb.p("home/credentials.json"));
        const r = sb.run("pulumi.sh", ["stack", "init", "qa"]);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("no backend for the stack qa");
    });

    test("drift and etcd-backup take --stack and show why the stack cannot be read, not a missing key", () => {
        sb.login("s3://team-state");
        sb.backend("s3://team-state", "prod");
        const drift = sb.run("drift.sh", ["--stack", "qa"]);
        expect(drift.status).toBe(1);
        expect(drift.stderr).toContain("no stack qa in the backend s3://team-state (pulumi login); the stacks of this project there: prod.");
        expect(drift.stderr).not.toContain("sshPrivateKey");
        const backup = sb.run("etcd-backup.sh", ["--stack", "qa", "list"]);
        expect(backup.status).toBe(1);
        expect(backup.stderr).toContain("no stack qa in the backend s3://team-state");
        expect(sb.run("drift.sh", ["--help"]).status).toBe(0);
    });
});
