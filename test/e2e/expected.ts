/**
 * Every check an e2e suite's code names must have been recorded by the run (scripts/e2e.sh, at the
 * end): a drill skipped because a step before it failed, or dropped by a filter, is missing.
 *   node bin/test/e2e/expected.js SUITE_FILE... -- RESULTS_TSV
 * The names are read from the calls that record a result (record, step, plan_check, run_checks,
 * refused_preview, probe_record) with a literal name; a variable part of a name (`$k`, `${kill_after}`) matches
 * any text, and a name that is a variable alone (a helper's own `record "$name"` or `record "$1"`)
 * names nothing.
 * Prints "N of N named checks ran (M records)"; exits 1 naming those missing.
 */
import * as fs from "fs";

const CALL = /^\s*(?:if !? *)?(?:[A-Z_]+=\S+ +)*(?:record|step|plan_check|run_checks|refused_preview|probe_record) +"((?:[^"\\]|\\.)*)"/gm;

/** A recorded name's pattern: literal text, with each shell expansion matching any text. */
function pattern(name: string): RegExp {
    const parts = name.split(/\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|\$[0-9@*#]/);
    return new RegExp(`^${parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

/** The names of the checks a suite's code records, as patterns keyed by their source text. */
export function namedChecks(source: string): Map<string, RegExp> {
    const named = new Map<string, RegExp>();
    for (const m of source.matchAll(CALL)) {
        const name = m[1];
        // A name that is only expansions (a helper's parameter) names no check of its own.
        if (name.replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\$[0-9@*#]/g, "").trim() === "") continue;
        named.set(name, pattern(name));
    }
    return named;
}

/** The named checks no recorded name matches. */
export function missingChecks(named: Map<string, RegExp>, recorded: string[]): string[] {
    return [...named].filter(([, re]) => !recorded.some((r) => re.test(r))).map(([name]) => name);
}

if (require.main === module) {
    const args = process.argv.slice(2);
    const sep = args.indexOf("--");
    if (sep < 1 || sep !== args.length - 2) {
        process.stderr.write("usage: expected.js SUITE_FILE... -- RESULTS_TSV\n");
        process.exit(2);
    }
    const named = new Map<string, RegExp>();
    for (const f of args.slice(0, sep)) for (const [k, v] of namedChecks(fs.readFileSync(f, "utf8"))) named.set(k, v);
    const recorded = fs
        .readFileSync(args[sep + 1], "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\t")[0]);
    // This check itself and the secret scan are recorded after it runs.
    const pending = new Set(["every check the suite names ran", "no secret value in any state, export or log of the run"]);
    for (const p of pending) named.delete(p);
    const missing = missingChecks(named, recorded);
    process.stdout.write(`${named.size - missing.length} of ${named.size} named checks ran (${recorded.length} records)\n`);
    for (const m of missing) process.stdout.write(`missing: ${m}\n`);
    process.exit(missing.length ? 1 : 0);
}
