/**
 * What a switch did to the daemons: each host's `systemctl show -p Id -p MainPID UNIT…` before and
 * after, compared unit by unit. Used by scripts/e2e.sh:
 *   node bin/test/e2e/pids.js BEFORE AFTER RESTARTS GONE [MAY]
 * RESTARTS, GONE and MAY are comma-separated unit names (any may be empty): a unit in RESTARTS must
 * run a new process after the switch wherever it ran before; a unit in GONE must run nowhere after
 * it; a unit in MAY may run a new process (say why where the list is set); every other unit must
 * keep its process. Prints a summary; exits 1 naming each difference.
 */
import * as fs from "fs";

/** Each host's units and their main process IDs (0: not running). */
export type DaemonPids = Map<string, Map<string, number>>;

/** Parses lines `HOST Id=U.service MainPID=N …` (the properties of each unit in either order). */
export function parsePids(text: string): DaemonPids {
    const hosts: DaemonPids = new Map();
    for (const line of text.split("\n")) {
        const [host, ...fields] = line.trim().split(/\s+/);
        if (!host) continue;
        const units = new Map<string, number>();
        let id: string | undefined;
        let pid: number | undefined;
        for (const f of fields) {
            const m = /^(Id|MainPID)=(.*)$/.exec(f);
            if (!m) continue;
            if (m[1] === "Id") id = m[2].replace(/\.service$/, "");
            else pid = Number(m[2]);
            if (id !== undefined && pid !== undefined) {
                units.set(id, pid);
                id = pid = undefined;
            }
        }
        hosts.set(host, units);
    }
    return hosts;
}

export interface SwitchVerdict {
    problems: string[];
    kept: number;
    restarted: string[];
    gone: string[];
    /** Units of MAY that did run a new process. */
    mayRestarted: string[];
}

/** Compares the daemons before and after a switch against what it may restart and must remove. */
export function compareSwitch(before: DaemonPids, after: DaemonPids, restarts: readonly string[], gone: readonly string[], may: readonly string[] = []): SwitchVerdict {
    const v: SwitchVerdict = { problems: [], kept: 0, restarted: [], gone: [], mayRestarted: [] };
    if (before.size === 0) v.problems.push("no daemons recorded before the switch");
    for (const [host, units] of before) {
        const now = after.get(host);
        if (!now) {
            v.problems.push(`${host}: not answering after the switch`);
            continue;
        }
        for (const [unit, pid] of units) {
            const next = now.get(unit);
            if (next === undefined) {
                v.problems.push(`${host} ${unit}: not reported after the switch`);
            } else if (gone.includes(unit)) {
                if (next !== 0) v.problems.push(`${host} ${unit}: still running (pid ${next}); the switch must remove it`);
                else if (pid !== 0) v.gone.push(`${host} ${unit}`);
            } else if (restarts.includes(unit)) {
                if (pid !== 0 && (next === 0 || next === pid)) v.problems.push(`${host} ${unit}: pid ${pid} before, ${next} after; the switch must restart it`);
                else if (pid !== 0) v.restarted.push(`${host} ${unit}`);
            } else if (may.includes(unit) && next !== pid) {
                if (next === 0) v.problems.push(`${host} ${unit}: pid ${pid} before, not running after`);
                else v.mayRestarted.push(`${host} ${unit}`);
            } else if (next !== pid) {
                v.problems.push(`${host} ${unit}: pid ${pid} before, ${next} after; the switch must leave it running`);
            } else if (pid !== 0) {
                v.kept++;
            }
        }
    }
    return v;
}

if (require.main === module) {
    const [beforeFile, afterFile, restarts = "", gone = "", may = ""] = process.argv.slice(2);
    const list = (s: string) => s.split(",").filter(Boolean);
    const v = compareSwitch(parsePids(fs.readFileSync(beforeFile, "utf8")), parsePids(fs.readFileSync(afterFile, "utf8")), list(restarts), list(gone), list(may));
    const summary = `${v.kept} daemons kept their process; restarted as the switch must: ${v.restarted.length} (${v.restarted.join(", ") || "none"}); removed: ${v.gone.length} (${v.gone.join(", ") || "none"}); restarted as they may: ${v.mayRestarted.join(", ") || "none"}`;
    if (v.problems.length > 0) {
        console.log(`${v.problems.join("; ")}; ${summary}`);
        process.exit(1);
    }
    console.log(summary);
}
