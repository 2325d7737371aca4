/**
 * Helpers for the render tests: running the real checkers (haproxy, keepalived, systemd-analyze,
 * exportfs, chronyd, docker-registry, python3's tomllib, shellcheck), temp directories, and the
 * binaries that scripts/artifacts.sh builds under $K8S_HA_CACHE/artifacts/build.
 *
 * A missing Debian checker fails the test with the package to install (a skipped check proves
 * nothing; .ci/run installs them). Only the checks that need the artifacts build are skipped when
 * it has not run, and they say so in their names.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface RunResult {
    status: number;
    stdout: string;
    stderr: string;
}

/** Runs a program without a shell and returns its exit status and output (never throws on non-zero). */
export function run(cmd: string, args: readonly string[], opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): RunResult {
    const r = spawnSync(cmd, args, { input: opts.input, cwd: opts.cwd, env: opts.env ?? process.env, encoding: "utf8", timeout: 60_000 });
    if (r.error) {
        throw new Error(`${cmd}: ${r.error.message}`);
    }
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Which Debian package provides each checker. */
const PACKAGES: Record<string, string> = {
    haproxy: "haproxy",
    keepalived: "keepalived",
    "systemd-analyze": "systemd",
    exportfs: "nfs-kernel-server",
    unshare: "util-linux",
    chronyd: "chrony",
    "docker-registry": "docker-registry",
    python3: "python3",
    shellcheck: "shellcheck",
    openssl: "openssl",
    ip: "iproute2",
    nft: "nftables",
    sleep: "coreutils",
    go: "golang-go (or the Go toolchain of the machine)",
};

/** The absolute path of a checker, or an Error naming the Debian package that provides it. */
export function tool(name: string): string {
    for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin", "/usr/bin", "/usr/local/go/bin"])) {
        const p = path.join(dir, name);
        try {
            fs.accessSync(p, fs.constants.X_OK);
            return p;
        } catch {
            // not in this directory
        }
    }
    throw new Error(`${name} is not installed: apt-get install ${PACKAGES[name] ?? name} (.ci/run installs the checkers)`);
}

/** A fresh temp directory, removed by `cleanup`. */
export function tempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `k8sha-render-${prefix}-`));
}

export function cleanup(dir: string): void {
    fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes `content` to `root` + `file` (an absolute path inside the root), creating directories. */
export function writeUnder(root: string, file: string, content: string, mode = 0o644): string {
    const p = path.join(root, file);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content, { mode });
    fs.chmodSync(p, mode);
    return p;
}

/**
 * A directory that `systemd-analyze verify --root=` accepts: the host's own unit directory copied
 * in (so `multi-user.target`, `network-online.target` and packaged units such as keepalived.service
 * resolve) and an executable stub at every path in `executables`. verify checks that each Exec
 * path exists and is executable inside the root, so the stubs stand for the fixed binary layout:
 * a unit naming any other path fails.
 */
export function systemdRoot(executables: readonly string[]): string {
    const root = tempDir("systemd");
    fs.cpSync("/usr/lib/systemd/system", path.join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
    for (const exe of executables) {
        writeUnder(root, exe, "#!/bin/sh\nexit 0\n", 0o755);
    }
    return root;
}

/**
 * Runs `systemd-analyze verify` on units inside `root` and returns everything it printed.
 * verify exits 0 even for unknown keys or sections (it only warns), so callers assert that the
 * output is empty: any warning about our files is a failure.
 */
export function systemdVerify(root: string, units: readonly string[]): RunResult {
    return run(tool("systemd-analyze"), ["verify", `--root=${root}`, "--man=no", ...units]);
}

/** `$K8S_HA_CACHE/artifacts/build`, where scripts/artifacts.sh leaves the binaries it builds. */
export const ARTIFACTS_BUILD = path.join(process.env.K8S_HA_CACHE ?? "/var/cache/k8s-ha", "artifacts", "build");

/**
 * `test` when the checker a test needs was built; otherwise `test.skip` on a developer's machine
 * (its title says why), and in CI (CI=true) a test that fails with that reason: CI builds every
 * checker before `npm test` (.ci/run), so a missing one there is a defect, never a silent skip.
 */
export function testWhenBuilt(built: string | undefined): jest.It {
    if (built !== undefined) return test;
    if (process.env.CI === "true") {
        return ((title: string) =>
            test(title, () => {
                throw new Error(`${title}: the checker is not built under ${ARTIFACTS_BUILD}, and CI must not skip it (scripts/artifacts.sh builds it)`);
            })) as unknown as jest.It;
    }
    return test.skip;
}

/** The newest `<name>-<version>/<binary>` under the artifacts build directory, if one was built. */
export function artifact(name: string, binary: string, version?: string): string | undefined {
    let dirs: string[];
    try {
        dirs = fs.readdirSync(ARTIFACTS_BUILD).filter((d) => (version ? d === `${name}-${version}` : d.startsWith(`${name}-`)));
    } catch {
        return undefined;
    }
    for (const d of dirs.sort().reverse()) {
        const p = path.join(ARTIFACTS_BUILD, d, binary);
        try {
            fs.accessSync(p, fs.constants.X_OK);
            return p;
        } catch {
            // not built (yet)
        }
    }
    return undefined;
}

/**
 * Parses TOML with Python's standard `tomllib` (Python ≥ 3.11), a complete TOML 1.0 parser, and
 * returns the document as plain JSON values.
 */
export function parseToml(text: string): unknown {
    const r = run(tool("python3"), ["-c", "import sys, json, tomllib; print(json.dumps(tomllib.loads(sys.stdin.read())))"], { input: text });
    if (r.status !== 0) {
        throw new Error(`TOML parse failed: ${r.stderr}`);
    }
    return JSON.parse(r.stdout);
}
