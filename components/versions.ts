/**
 * The versions k8s-ha supports: for each Kubernetes minor, the Kubernetes releases and the etcd,
 * containerd, runc, CNI plugins, CoreDNS and pause versions that go with it. Validation refuses a
 * stack whose `k8s-ha:versions` fall outside this table; the README's "Supported versions" section
 * is this table (`supportedVersionsMarkdown`), and a test keeps the two the same.
 *
 * The entries are versions the project builds from the Go module proxy (`scripts/artifacts.sh`)
 * and whose flags and config formats the renderers use. Adding a version here is a claim that it
 * works: add it with a run of the lab on it.
 */
import { Versions } from "./config";

/** Exact versions (`"1.3.6"`) and inclusive ranges (`["3.6.13", "3.6.16"]`), MAJOR.MINOR.PATCH. */
export type VersionSet = readonly (string | readonly [string, string])[];

/** The components whose versions depend on the Kubernetes minor. */
export const COMPONENTS = ["etcd", "containerd", "runc", "cni", "coredns", "pause"] as const;
export type Component = (typeof COMPONENTS)[number];

export interface SupportedRow {
    /** The Kubernetes minor, `MAJOR.MINOR`. */
    minor: string;
    /** The Kubernetes releases of that minor. */
    kubernetes: VersionSet;
    /** What each component may be with it. */
    components: Readonly<Record<Component, VersionSet>>;
}

/** The same component versions serve every supported minor today; a row may narrow or widen its own. */
const COMPONENTS_1_34_TO_1_36: Readonly<Record<Component, VersionSet>> = {
    etcd: [["3.6.13", "3.6.16"]],
    // containerd one minor at a time (its upgrade path): 2.2 to 2.3 drilled on the lab.
    containerd: ["2.2.9", "2.3.7"],
    runc: ["1.3.6"],
    cni: ["1.10.0"],
    coredns: ["1.14.7"],
    pause: ["3.10.1"],
};

export const SUPPORTED_VERSIONS: readonly SupportedRow[] = [
    { minor: "1.34", kubernetes: [["1.34.0", "1.34.4"]], components: COMPONENTS_1_34_TO_1_36 },
    { minor: "1.35", kubernetes: ["1.35.4"], components: COMPONENTS_1_34_TO_1_36 },
    { minor: "1.36", kubernetes: ["1.36.1", "1.36.3"], components: COMPONENTS_1_34_TO_1_36 },
];

/** The names the README and validation messages give the components. */
export const COMPONENT_TITLES: Readonly<Record<Component, string>> = {
    etcd: "etcd",
    containerd: "containerd",
    runc: "runc",
    cni: "CNI plugins",
    coredns: "CoreDNS",
    pause: "pause",
};

/** Compares two MAJOR.MINOR.PATCH versions numerically: negative, 0 or positive. */
export function compareVersions(a: string, b: string): number {
    const pa = a.split(".").map(Number);
    const pb = b.split(".").map(Number);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        const d = (pa[i] ?? 0) - (pb[i] ?? 0);
        if (d !== 0) return d;
    }
    return 0;
}

/** Whether `version` is one of the set's versions or inside one of its ranges. */
export function inVersionSet(version: string, set: VersionSet): boolean {
    return set.some((entry) =>
        typeof entry === "string" ? compareVersions(version, entry) === 0 : compareVersions(entry[0], version) <= 0 && compareVersions(version, entry[1]) <= 0,
    );
}

/** A set as people read it: `3.6.13 – 3.6.16`, `1.36.1, 1.36.3`. */
export function formatVersionSet(set: VersionSet): string {
    return set.map((entry) => (typeof entry === "string" ? entry : `${entry[0]} – ${entry[1]}`)).join(", ");
}

/** The row of a Kubernetes version's minor (whether or not that patch release is supported). */
export function supportedRow(kubernetes: string): SupportedRow | undefined {
    const minor = kubernetes.split(".").slice(0, 2).join(".");
    return SUPPORTED_VERSIONS.find((r) => r.minor === minor);
}

/** Every supported Kubernetes release, as people read it. */
export function supportedKubernetes(): string {
    return SUPPORTED_VERSIONS.map((r) => formatVersionSet(r.kubernetes)).join(", ");
}

/**
 * The problems of a set of versions against the table, as `[key, message]`: a Kubernetes release
 * outside it, or a component version its Kubernetes minor does not support (any supported minor,
 * when the minor itself is not in the table). Only the keys in `check` are looked at (validation
 * leaves out those it already found malformed).
 */
export function unsupportedVersions(versions: Versions, check: ReadonlySet<keyof Versions>): [keyof Versions, string][] {
    const problems: [keyof Versions, string][] = [];
    const row = check.has("kubernetes") ? supportedRow(versions.kubernetes) : undefined;
    if (check.has("kubernetes") && !(row && inVersionSet(versions.kubernetes, row.kubernetes))) {
        problems.push(["kubernetes", `Kubernetes ${versions.kubernetes} is not supported; use one of: ${supportedKubernetes()} (README, Supported versions)`]);
    }
    for (const component of COMPONENTS) {
        if (!check.has(component)) continue;
        const set = row ? row.components[component] : unionOf(SUPPORTED_VERSIONS.map((r) => r.components[component]));
        if (!inVersionSet(versions[component], set)) {
            const scope = row ? `with Kubernetes ${row.minor}` : "with any Kubernetes release";
            problems.push([component, `${COMPONENT_TITLES[component]} ${versions[component]} is not supported ${scope}; use ${set.length === 1 ? "" : "one of: "}${formatVersionSet(set)} (README, Supported versions)`]);
        }
    }
    return problems;
}

/** The entries of several sets, each once. */
function unionOf(sets: VersionSet[]): VersionSet {
    const seen = new Map<string, VersionSet[number]>();
    for (const entry of sets.flat()) seen.set(formatVersionSet([entry]), entry);
    return [...seen.values()];
}

/** The README's table of supported versions, one row per Kubernetes minor. */
export function supportedVersionsMarkdown(): string {
    const header = ["Kubernetes", "releases", ...COMPONENTS.map((c) => COMPONENT_TITLES[c])];
    const lines = [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`];
    for (const row of SUPPORTED_VERSIONS) {
        lines.push(`| ${[row.minor, formatVersionSet(row.kubernetes), ...COMPONENTS.map((c) => formatVersionSet(row.components[c]))].join(" | ")} |`);
    }
    return lines.join("\n");
}

/** `MAJOR.MINOR` of a version. */
function minorOf(version: string): string {
    return version.split(".").slice(0, 2).join(".");
}

/** The next minor after `MAJOR.MINOR`. */
function nextMinor(minor: string): string {
    const [major, m] = minor.split(".").map(Number);
    return `${major}.${m + 1}`;
}

/**
 * The problems of moving a running cluster from `running` (the versions of the stack's last update)
 * to `wanted`, as `[key, message]`. Kubernetes moves one minor at a time, never back to an older
 * minor (a patch release of the running minor may go either way); etcd never goes back to an
 * older minor. The messages name the versions allowed next. An up changes the control plane before
 * the workers, so the kubelets are never newer than the apiservers.
 */
export function upgradeProblems(running: Partial<Versions> | undefined, wanted: Versions, check: ReadonlySet<keyof Versions>): [keyof Versions, string][] {
    const problems: [keyof Versions, string][] = [];
    const from = running?.kubernetes;
    if (from && VERSION_LIKE.test(from) && check.has("kubernetes") && compareVersions(minorOf(wanted.kubernetes), minorOf(from)) !== 0) {
        const allowed = [supportedRow(from), SUPPORTED_VERSIONS.find((r) => r.minor === nextMinor(minorOf(from)))]
            .filter((r): r is SupportedRow => r !== undefined)
            .map((r) => formatVersionSet(r.kubernetes))
            .join(", ");
        const next = allowed ? `from ${from} the cluster can go to: ${allowed}` : `no supported release follows ${from}`;
        if (compareVersions(minorOf(wanted.kubernetes), minorOf(from)) < 0) {
            problems.push(["kubernetes", `${wanted.kubernetes} would take the running cluster back from ${from} to an older minor, which Kubernetes does not support; ${next}`]);
        } else if (minorOf(wanted.kubernetes) !== nextMinor(minorOf(from))) {
            problems.push(["kubernetes", `${wanted.kubernetes} skips ${nextMinor(minorOf(from))} (the cluster runs ${from}): Kubernetes upgrades one minor at a time; ${next}`]);
        }
    }
    const etcdFrom = running?.etcd;
    if (etcdFrom && VERSION_LIKE.test(etcdFrom) && check.has("etcd") && compareVersions(minorOf(wanted.etcd), minorOf(etcdFrom)) < 0) {
        problems.push(["etcd", `etcd ${wanted.etcd} would take the running members back from ${etcdFrom} to an older minor, which needs etcd's own downgrade procedure; keep ${minorOf(etcdFrom)}.x`]);
    }
    // containerd's upgrade path: one minor at a time, and never back to an older minor (its state
    // on the hosts is not kept readable by older releases).
    const ctdFrom = running?.containerd;
    if (ctdFrom && VERSION_LIKE.test(ctdFrom) && check.has("containerd") && minorOf(wanted.containerd) !== minorOf(ctdFrom)) {
        const row = supportedRow(wanted.kubernetes);
        const next = (row?.components.containerd ?? [])
            .flat()
            .filter((v) => [minorOf(ctdFrom), nextMinor(minorOf(ctdFrom))].includes(minorOf(v)));
        const allowed = next.length ? `from ${ctdFrom} the workers can go to: ${[...new Set(next)].join(", ")}` : `no supported release follows ${ctdFrom}`;
        if (compareVersions(minorOf(wanted.containerd), minorOf(ctdFrom)) < 0) {
            problems.push(["containerd", `containerd ${wanted.containerd} would take the workers back from ${ctdFrom} to an older minor, which containerd does not support; ${allowed}`]);
        } else if (minorOf(wanted.containerd) !== nextMinor(minorOf(ctdFrom))) {
            problems.push(["containerd", `containerd ${wanted.containerd} skips ${nextMinor(minorOf(ctdFrom))} (the workers run ${ctdFrom}): containerd upgrades one minor at a time; ${allowed}`]);
        }
    }
    return problems;
}

const VERSION_LIKE = /^\d+\.\d+\.\d+$/;
