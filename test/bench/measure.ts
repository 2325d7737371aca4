/**
 * Runs a command and measures it: wall time, and the peak resident memory of its process tree,
 * sampled from /proc every 100 ms and grouped as the Pulumi engine (`pulumi`), the Node.js program
 * (the language host and `node`) and the provider plugins. The figures go to the file given first,
 * so the command's own output stays as it is.
 *
 *   node bin/test/bench/measure.js OUT.json -- CMD [ARGS...]
 */
import { spawn } from "child_process";
import * as fs from "fs";

export interface Measured {
    command: string[];
    exitCode: number | null;
    seconds: number;
    /** Peak RSS in MiB of each group, and of the whole tree at one instant. */
    peakMiB: { engine: number; program: number; providers: number; total: number };
}

type Group = "engine" | "program" | "providers";

/** Which group a process belongs to, from its command name (/proc/PID/comm). */
export function groupOf(comm: string): Group | undefined {
    if (comm === "pulumi") return "engine";
    if (comm === "node" || comm.startsWith("pulumi-language")) return "program";
    if (comm.startsWith("pulumi-resource")) return "providers";
    return undefined;
}

/** Every process below `root` (children from /proc/PID/task/*\/children). */
function descendants(root: number): number[] {
    const out: number[] = [];
    const stack = [root];
    while (stack.length > 0) {
        const pid = stack.pop() as number;
        out.push(pid);
        let tasks: string[] = [];
        try {
            tasks = fs.readdirSync(`/proc/${pid}/task`);
        } catch {
            continue;
        }
        for (const t of tasks) {
            try {
                for (const c of fs.readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/)) {
                    if (c) stack.push(Number(c));
                }
            } catch {
                // gone
            }
        }
    }
    return out;
}

function rssKiB(pid: number): number {
    try {
        const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        return m ? Number(m[1]) : 0;
    } catch {
        return 0;
    }
}

function comm(pid: number): string {
    try {
        return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
        return "";
    }
}

export function measure(command: string[]): Promise<Measured> {
    return new Promise((resolve, reject) => {
        const start = process.hrtime.bigint();
        const child = spawn(command[0], command.slice(1), { stdio: "inherit" });
        const peak = { engine: 0, program: 0, providers: 0, total: 0 };
        const sample = () => {
            if (child.pid === undefined) return;
            const now = { engine: 0, program: 0, providers: 0 };
            for (const pid of descendants(child.pid)) {
                const g = groupOf(comm(pid));
                if (g) now[g] += rssKiB(pid);
            }
            for (const g of ["engine", "program", "providers"] as const) peak[g] = Math.max(peak[g], now[g]);
            peak.total = Math.max(peak.total, now.engine + now.program + now.providers);
        };
        const timer = setInterval(sample, 100);
        child.on("error", (e) => {
            clearInterval(timer);
            reject(e);
        });
        child.on("exit", (code) => {
            clearInterval(timer);
            const seconds = Number(process.hrtime.bigint() - start) / 1e9;
            const mib = (k: number) => Math.round(k / 102.4) / 10;
            resolve({
                command,
                exitCode: code,
                seconds: Math.round(seconds * 100) / 100,
                peakMiB: { engine: mib(peak.engine), program: mib(peak.program), providers: mib(peak.providers), total: mib(peak.total) },
            });
        });
    });
}

if (require.main === module) {
    const [out, dashes, ...command] = process.argv.slice(2);
    if (!out || dashes !== "--" || command.length === 0) {
        process.stderr.write("usage: measure.js OUT.json -- CMD [ARGS...]\n");
        process.exit(2);
    }
    measure(command).then(
        (m) => {
            fs.writeFileSync(out, JSON.stringify(m, null, 2) + "\n");
            process.exit(m.exitCode ?? 1);
        },
        (e: Error) => {
            process.stderr.write(`measure: ${e.message}\n`);
            process.exit(1);
        },
    );
}
