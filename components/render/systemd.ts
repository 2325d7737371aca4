/**
 * Generic rendering of systemd unit files and drop-ins, and of command-line flags.
 *
 * Commands are given as argv (`path` + `args`), never as a shell string: systemd does not run a
 * shell, so each argument is quoted for systemd's own parser and `%`/`$` are escaped so that no
 * value is ever expanded as a specifier or an environment variable.
 */
import { joinLines, requireAbsolutePath } from "./text";

/** One command line of an `Exec*=` setting. */
export interface UnitCommand {
    /** Absolute path of the executable. */
    path: string;
    args?: readonly string[];
    /** Prefix `-`: systemd ignores a non-zero exit (used for best-effort cleanup). */
    ignoreFailure?: boolean;
}

export interface ServiceUnit {
    description: string;
    documentation?: readonly string[];
    /** `After=` (ordering only). */
    after?: readonly string[];
    /** `Before=` (ordering only). */
    before?: readonly string[];
    /** `DefaultDependencies=no` when false: for units that must run before basic.target (firewalls). */
    defaultDependencies?: boolean;
    /** `Wants=` (weak dependency). */
    wants?: readonly string[];
    /** `Requires=` (hard dependency). */
    requires?: readonly string[];
    type: "simple" | "exec" | "notify" | "oneshot";
    execStartPre?: readonly UnitCommand[];
    /** More than one only for `type: "oneshot"`. */
    execStart: readonly UnitCommand[];
    execReload?: readonly UnitCommand[];
    execStop?: readonly UnitCommand[];
    execStopPost?: readonly UnitCommand[];
    /** `Restart=`; omitted for oneshot units. */
    restart?: "always" | "on-failure";
    /** Seconds between a crash and the restart. */
    restartSec?: number;
    remainAfterExit?: boolean;
    /** Further `[Service]` settings in the given order, e.g. `["Delegate", "yes"]`. */
    extra?: readonly (readonly [string, string])[];
    /** `WantedBy=`; default `multi-user.target`. */
    wantedBy?: readonly string[];
}

/** Renders a complete `.service` file. */
export function renderServiceUnit(unit: ServiceUnit): string {
    if (unit.execStart.length === 0) {
        throw new Error(`unit "${unit.description}": execStart is empty`);
    }
    if (unit.execStart.length > 1 && unit.type !== "oneshot") {
        throw new Error(`unit "${unit.description}": only a oneshot unit may have several ExecStart lines`);
    }
    const lines: string[] = ["# Rendered by k8s-ha. Changes here are overwritten.", "[Unit]", `Description=${unit.description}`];
    for (const d of unit.documentation ?? []) {
        lines.push(`Documentation=${d}`);
    }
    pushList(lines, "Wants", unit.wants);
    pushList(lines, "Requires", unit.requires);
    pushList(lines, "After", unit.after);
    pushList(lines, "Before", unit.before);
    if (unit.defaultDependencies === false) {
        lines.push("DefaultDependencies=no");
    }
    lines.push("", "[Service]", `Type=${unit.type}`);
    if (unit.remainAfterExit) {
        lines.push("RemainAfterExit=yes");
    }
    pushCommands(lines, "ExecStartPre", unit.execStartPre);
    pushCommands(lines, "ExecStart", unit.execStart);
    pushCommands(lines, "ExecReload", unit.execReload);
    pushCommands(lines, "ExecStop", unit.execStop);
    pushCommands(lines, "ExecStopPost", unit.execStopPost);
    if (unit.restart) {
        lines.push(`Restart=${unit.restart}`);
    }
    if (unit.restartSec !== undefined) {
        lines.push(`RestartSec=${unit.restartSec}`);
    }
    for (const [k, v] of unit.extra ?? []) {
        lines.push(`${k}=${v}`);
    }
    lines.push("", "[Install]");
    pushList(lines, "WantedBy", unit.wantedBy ?? ["multi-user.target"]);
    return joinLines(lines);
}

export interface TimerUnit {
    description: string;
    /** `OnCalendar=`: a systemd calendar expression (`hourly`, `*-*-* 02:30`). */
    onCalendar: string;
    /** `Persistent=yes`: a run missed while the host was down happens at boot. */
    persistent: boolean;
    /** `RandomizedDelaySec=`, so that hosts on one schedule do not all start at once. */
    randomizedDelaySec?: number;
}

/** Renders a `.timer` file that starts the service of the same name. */
export function renderTimerUnit(timer: TimerUnit): string {
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(timer.onCalendar) || timer.onCalendar.trim() === "") {
        throw new Error(`timer "${timer.description}": OnCalendar ${JSON.stringify(timer.onCalendar)} is empty or has a control character`);
    }
    const lines = ["# Rendered by k8s-ha. Changes here are overwritten.", "[Unit]", `Description=${timer.description}`, "", "[Timer]", `OnCalendar=${timer.onCalendar}`];
    if (timer.persistent) lines.push("Persistent=yes");
    if (timer.randomizedDelaySec !== undefined) lines.push(`RandomizedDelaySec=${timer.randomizedDelaySec}`);
    lines.push("", "[Install]", "WantedBy=timers.target");
    return joinLines(lines);
}

/** A drop-in: settings per section, in the given order. */
export interface DropIn {
    unit?: readonly (readonly [string, string])[];
    service?: readonly (readonly [string, string])[];
}

/** Renders a drop-in `.conf` that adds settings to a packaged unit without replacing its file. */
export function renderDropIn(dropIn: DropIn): string {
    const lines: string[] = ["# Rendered by k8s-ha. Changes here are overwritten."];
    for (const [section, settings] of [
        ["Unit", dropIn.unit],
        ["Service", dropIn.service],
    ] as const) {
        if (settings && settings.length > 0) {
            lines.push(`[${section}]`, ...settings.map(([k, v]) => `${k}=${v}`), "");
        }
    }
    return joinLines(lines);
}

/**
 * Formats one command for an `Exec*=` line. A short command stays on one line; a long one (the
 * daemons' flag lists) gets each argument on its own continuation line, so a diff of a changed
 * flag shows exactly that flag.
 */
export function formatCommand(cmd: UnitCommand): string {
    requireAbsolutePath(cmd.path, "command path");
    const head = (cmd.ignoreFailure ? "-" : "") + cmd.path;
    const args = (cmd.args ?? []).map(quoteArg);
    const oneLine = [head, ...args].join(" ");
    if (oneLine.length <= 100) {
        return oneLine;
    }
    return [head, ...args.map((a) => "  " + a)].join(" \\\n");
}

/**
 * Quotes one argument for systemd's command-line parser: `%` and `$` are doubled (no specifier or
 * variable expansion); arguments with whitespace, quotes, backslashes or `;` are double-quoted
 * with `\"` and `\\` escapes; an empty argument becomes `""`.
 */
export function quoteArg(arg: string): string {
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(arg)) {
        throw new Error(`command argument ${JSON.stringify(arg)} contains a control character`);
    }
    const escaped = arg.replace(/%/g, "%%").replace(/\$/g, "$$$$");
    if (escaped === "" || /[\s"'\\;]/.test(escaped)) {
        return `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
    }
    return escaped;
}

export type FlagValue = string | number | boolean | readonly string[];

/**
 * Turns a flag map into `--name=value` arguments sorted by name, so the same flags always give
 * the same bytes whatever order a caller built them in. Lists are joined with commas; `undefined`
 * leaves the flag out.
 */
export function flagArgs(flags: Readonly<Record<string, FlagValue | undefined>>): string[] {
    return Object.keys(flags)
        .sort()
        .flatMap((name) => {
            const v = flags[name];
            if (v === undefined) {
                return [];
            }
            if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
                throw new Error(`flag name "${name}" must be lower-case letters, digits and "-", without the leading "--"`);
            }
            const text = typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : v.join(",");
            return [`--${name}=${text}`];
        });
}

function pushList(lines: string[], key: string, values: readonly string[] | undefined): void {
    if (values && values.length > 0) {
        lines.push(`${key}=${values.join(" ")}`);
    }
}

function pushCommands(lines: string[], key: string, commands: readonly UnitCommand[] | undefined): void {
    for (const c of commands ?? []) {
        lines.push(`${key}=${formatCommand(c)}`);
    }
}
