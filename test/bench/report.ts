/**
 * Turns the benchmark's raw measurements (bench/raw/) into bench/results.json, bench/results.md
 * (the table the README carries) and bench/chart.dat + bench/chart.gp (gnuplot draws bench/chart.png).
 *
 *   node bin/test/bench/report.js BENCH-DIR
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Measured } from "./measure";

export interface PreviewRow {
    hosts: number;
    resources: number;
    seconds: number;
    engineMiB: number;
    programMiB: number;
    totalMiB: number;
    /** Bytes of the resources' planned state in the preview's JSON: what the checkpoint would hold. */
    stateBytes: number;
    /** Seconds per host against the previous row's (growth: 1.0 is linear). */
    growth?: number;
}

export interface LabRow {
    step: string;
    runs: number[];
    median: number;
    peakMiB: number;
    goal?: string;
}

interface PreviewJson {
    steps?: { op: string; newState?: unknown }[];
}

export function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : Math.round(((s[m - 1] + s[m]) / 2) * 100) / 100;
}

/** Resources a preview plans to create, from its text output (`+ N to create`). */
export function resourcesInLog(log: string): number {
    const m = /\+ (\d+) to create/.exec(log);
    return m ? Number(m[1]) : 0;
}

/** One preview row from its measurement, the preview's `--json` output (may be empty) and its log. */
export function previewRow(hosts: number, m: Measured, preview: PreviewJson, log = ""): PreviewRow {
    const steps = preview.steps ?? [];
    return {
        hosts,
        resources: steps.length > 0 ? steps.filter((s) => s.op !== "same").length : resourcesInLog(log),
        seconds: m.seconds,
        engineMiB: m.peakMiB.engine,
        programMiB: m.peakMiB.program,
        totalMiB: m.peakMiB.total,
        stateBytes: steps.reduce((n, s) => n + (s.newState === undefined ? 0 : JSON.stringify(s.newState).length), 0),
    };
}

/** Growth factor of each row: (seconds per host) / (previous row's seconds per host). */
export function withGrowth(rows: PreviewRow[]): PreviewRow[] {
    const sorted = [...rows].sort((a, b) => a.hosts - b.hosts);
    return sorted.map((r, i) =>
        i === 0 ? r : { ...r, growth: Math.round((r.seconds / r.hosts / (sorted[i - 1].seconds / sorted[i - 1].hosts)) * 100) / 100 },
    );
}

const PREVIEW_GOALS: Record<number, string> = { 100: "≤ 10 s", 1000: "≤ 60 s, < 2 GB" };
const LAB_GOALS: Record<string, string> = { "up from bare hosts": "≤ 120 s", "no-op up": "≤ 5 s", "add a worker": "≤ 60 s" };

/** The lab steps, in order; their raw files are named by `slug`. */
export const LAB_STEPS = ["up from bare hosts", "no-op up", "add a worker", "remove the worker", "destroy"] as const;
export const slug = (step: string) => step.replace(/ /g, "-");

export function markdown(machine: string, preview: PreviewRow[], lab: LabRow[], checkpoints: number[] = []): string {
    const lines = [
        `Machine: ${machine}.`,
        "",
        "| hosts | resources | `pulumi preview` s | goal | s per host, growth | peak MiB: engine / program / all | planned state |",
        "| ---: | ---: | ---: | --- | --- | --- | ---: |",
        ...preview.map(
            (r) =>
                `| ${r.hosts} | ${r.resources} | ${r.seconds.toFixed(1)} | ${PREVIEW_GOALS[r.hosts] ?? ""} | ${(r.seconds / r.hosts).toFixed(3)}${r.growth ? ` (×${r.growth})` : ""} | ${Math.round(r.engineMiB)} / ${Math.round(r.programMiB)} / ${Math.round(r.totalMiB)} | ${r.stateBytes > 0 ? `${(r.stateBytes / 1048576).toFixed(1)} MB` : "not measured"} |`,
        ),
    ];
    if (lab.length > 0) {
        lines.push(
            "",
            "| on the lab | runs (s) | median s | goal | peak MiB (engine + program + providers) |",
            "| --- | --- | ---: | --- | ---: |",
            ...lab.map((r) => `| ${r.step} | ${r.runs.map((x) => x.toFixed(1)).join(", ")} | ${r.median.toFixed(1)} | ${r.goal ?? ""} | ${Math.round(r.peakMiB)} |`),
        );
    }
    if (checkpoints.length > 0) {
        lines.push("", `The lab's checkpoint after \`up\`: ${checkpoints.map((b) => `${(b / 1048576).toFixed(2)} MB`).join(", ")}.`);
    }
    return lines.join("\n") + "\n";
}

function gnuplotScript(machine: string): string {
    return [
        'set terminal png size 900,560 font ",11"',
        'set output "chart.png"',
        `set title "k8s-ha: pulumi preview against hosts (${machine})"`,
        'set xlabel "hosts"',
        'set ylabel "seconds"',
        'set y2label "peak memory, GiB"',
        // Both axes logarithmic: linear growth is a straight line of slope 1.
        "set logscale x",
        "set logscale y",
        "set logscale y2",
        "set key top left",
        "set grid",
        "set ytics nomirror",
        "set y2tics",
        'plot "chart.dat" using 1:2 with linespoints lw 2 title "preview time (s)", \\',
        '     "chart.dat" using 1:3 axes x1y2 with linespoints lw 2 title "peak memory, all processes (GiB)"',
        "",
    ].join("\n");
}

export function machineLine(): string {
    return `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? "?"}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB memory, Node ${process.version}`;
}

if (require.main === module) {
    const dir = process.argv[2];
    if (!dir) {
        process.stderr.write("usage: report.js BENCH-DIR\n");
        process.exit(2);
    }
    const raw = path.join(dir, "raw");
    const files = fs.existsSync(raw) ? fs.readdirSync(raw) : [];
    const rows: PreviewRow[] = [];
    for (const f of files) {
        const m = /^preview-(\d+)\.measure\.json$/.exec(f);
        if (!m) continue;
        const hosts = Number(m[1]);
        const measured = JSON.parse(fs.readFileSync(path.join(raw, f), "utf8")) as Measured;
        const previewFile = path.join(raw, `preview-${hosts}.json`);
        const preview = fs.existsSync(previewFile) ? (JSON.parse(fs.readFileSync(previewFile, "utf8")) as PreviewJson) : {};
        const logFile = path.join(raw, `preview-${hosts}.log`);
        rows.push(previewRow(hosts, measured, preview, fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : ""));
    }
    const lab: LabRow[] = [];
    const byStep = new Map<string, Measured[]>();
    for (const f of files) {
        const m = /^lab-(\d+)-(.+)\.measure\.json$/.exec(f);
        const step = m ? LAB_STEPS.find((s) => slug(s) === m[2]) : undefined;
        if (!step) continue;
        byStep.set(step, [...(byStep.get(step) ?? []), JSON.parse(fs.readFileSync(path.join(raw, f), "utf8")) as Measured]);
    }
    for (const step of LAB_STEPS) {
        const ms = byStep.get(step);
        if (!ms) continue;
        const runs = ms.map((x) => x.seconds);
        lab.push({ step, runs, median: median(runs), peakMiB: Math.max(...ms.map((x) => x.peakMiB.total)), goal: LAB_GOALS[step] });
    }
    const preview = withGrowth(rows);
    const machine = machineLine();
    const checkpoints = files.filter((f) => /^lab-\d+\.checkpoint$/.test(f)).map((f) => Number(fs.readFileSync(path.join(raw, f), "utf8").trim()));
    fs.writeFileSync(path.join(dir, "results.json"), JSON.stringify({ machine, at: new Date().toISOString(), preview, lab, checkpointBytes: checkpoints }, null, 2) + "\n");
    fs.writeFileSync(path.join(dir, "results.md"), markdown(machine, preview, lab, checkpoints));
    fs.writeFileSync(path.join(dir, "chart.dat"), preview.map((r) => `${r.hosts} ${r.seconds} ${(r.totalMiB / 1024).toFixed(3)}`).join("\n") + "\n");
    fs.writeFileSync(path.join(dir, "chart.gp"), gnuplotScript(machine));
    process.stdout.write(markdown(machine, preview, lab, checkpoints));
}
