/**
 * What a `pulumi preview --json` plans, by resource name, and the expectations of the e2e suite's
 * change drills. Used by scripts/e2e.sh:
 *   node bin/test/e2e/plan.js DRILL [ARG] < preview.json
 * prints the summary as JSON and exits 1, naming each offending resource, when the plan does more
 * than the drill allows. DRILL: noop | add-worker NAME | remove-worker NAME | api-sans | lb-setting |
 * repair STEP,STEP… | renew CERT,CERT….
 */
import * as fs from "fs";

export interface PreviewStep {
    op: string;
    urn: string;
    oldState?: { inputs?: { create?: unknown } };
    newState?: { inputs?: { create?: unknown } };
}

export interface PlanSummary {
    create: string[];
    update: string[];
    replace: string[];
    delete: string[];
    same: number;
    /** Resources the engine counted unchanged (`changeSummary.same`: with --json the unchanged ones are no steps). */
    unchanged: number;
    /** Of the created, the components of this program (no host step; `k8s-ha:index:*` types). */
    createdComponents: string[];
    /** For each updated host step, the files its preview manifest says change (`: file PATH MODE …` lines). */
    files: Record<string, string[]>;
}

/** The `: file PATH MODE WHAT` lines of a command's text, by path. */
function manifestOf(create: unknown): Map<string, string> {
    const m = new Map<string, string>();
    if (typeof create !== "string") return m;
    for (const line of create.split("\n")) {
        const f = /^: file (\S+) (.*)$/.exec(line);
        if (f) m.set(f[1], f[2]);
    }
    return m;
}

/** The files whose manifest line differs between the old and the new text of a command, sorted. */
export function changedFiles(step: PreviewStep): string[] {
    const before = manifestOf(step.oldState?.inputs?.create);
    const after = manifestOf(step.newState?.inputs?.create);
    const paths = new Set([...before.keys(), ...after.keys()]);
    return [...paths].filter((p) => before.get(p) !== after.get(p) || after.get(p)?.endsWith(" changes")).sort();
}

/** The type of the resource a URN names (`urn:pulumi:STACK::PROJECT::PARENT$TYPE::NAME`). */
export function urnType(urn: string): string {
    return (urn.split("::")[2] ?? "").split("$").pop() ?? "";
}

/** The resource name at the end of a URN. */
export function urnName(urn: string): string {
    return urn.split("::").pop() ?? urn;
}

const STACK_TYPE = "pulumi:pulumi:Stack";

/** Groups the steps of a preview by what happens to each resource. */
export function summarizePreview(preview: { steps?: PreviewStep[]; changeSummary?: Record<string, number> }): PlanSummary {
    const s: PlanSummary = { create: [], update: [], replace: [], delete: [], same: 0, unchanged: preview.changeSummary?.same ?? 0, createdComponents: [], files: {} };
    const add = (list: string[], name: string) => {
        if (!list.includes(name)) list.push(name);
    };
    for (const step of preview.steps ?? []) {
        if (step.urn.includes(`::${STACK_TYPE}::`)) continue;
        const name = urnName(step.urn);
        switch (step.op) {
            case "create":
                add(s.create, name);
                if (urnType(step.urn).startsWith("k8s-ha:index:")) add(s.createdComponents, name);
                break;
            case "update": {
                add(s.update, name);
                const files = changedFiles(step);
                if (files.length > 0) s.files[name] = files;
                break;
            }
            case "replace":
            case "create-replacement":
            case "delete-replaced":
                add(s.replace, name);
                break;
            case "delete":
                add(s.delete, name);
                break;
            case "same":
                s.same++;
                break;
            default:
                // read, refresh, import: no change to a host.
                break;
        }
    }
    for (const list of [s.create, s.update, s.replace, s.delete, s.createdComponents]) list.sort();
    return s;
}

/** Resources that belong to a worker host: its Node and every child named after it, and its Node object. */
function ofWorker(name: string, worker: string): boolean {
    return name === worker || name.startsWith(`${worker}-`) || new RegExp(`^[^-]+-(node|drain)-${worker}$`).test(name);
}

/**
 * Resources every host's OS step or every worker's runtime must update when a worker comes or
 * goes: the managed /etc/hosts block (all hosts) and the pod routes (the other workers); and, on
 * the lab's mirror and nfs hosts, the firewall (they serve the workers) and the NFS export's
 * clients (the workers' addresses).
 */
const FOLLOWS_TOPOLOGY = /^([a-z0-9]+-(os|runtime)|(mirror|nfs)-firewall|nfs-nfs)$/;


/**
 * What a switch may create, replace and delete: ARG `create=GLOB,GLOB;replace=GLOB;delete=GLOB`
 * (resource names, `*` for any run of characters); none when ARG is empty.
 */
export function switchAllowance(arg: string | undefined): { create: RegExp[]; replace: RegExp[]; delete: RegExp[] } {
    const out = { create: [] as RegExp[], replace: [] as RegExp[], delete: [] as RegExp[] };
    for (const part of (arg ?? "").split(";").filter(Boolean)) {
        const m = /^(create|replace|delete)=(.+)$/.exec(part);
        if (!m) throw new Error(`switch: cannot read "${part}" (want create=GLOB,GLOB;replace=GLOB;delete=GLOB)`);
        const glob = (g: string) => new RegExp(`^${g.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
        out[m[1] as "create" | "replace" | "delete"].push(...m[2].split(",").filter(Boolean).map(glob));
    }
    return out;
}

/** Problems with a plan for a drill; empty when the plan does only what the drill allows. */
export function planProblems(drill: string, arg: string | undefined, s: PlanSummary): string[] {
    const problems: string[] = [];
    const none = (what: keyof Omit<PlanSummary, "same">, names: string[]) => {
        for (const n of names) problems.push(`${n}: ${what} is not expected in the ${drill} drill`);
    };
    switch (drill) {
        case "noop":
            // A preview that saw no resource at all (an empty stack, a program that made nothing)
            // plans no change either, and proves nothing.
            if (s.same + s.unchanged === 0) problems.push("the preview saw no resource at all: not a preview of this stack's cluster");
            none("create", s.create);
            none("update", s.update);
            none("replace", s.replace);
            none("delete", s.delete);
            break;
        case "switch": {
            // The program of another commit on this one's state: steps may run again (their text
            // changed), and a new component may group existing steps (their aliases keep them), but
            // nothing else is created, and nothing is replaced or deleted, except what the commit
            // adds or retires on purpose (ARG, see switchAllowance), each of which must happen.
            const allow = switchAllowance(arg);
            none("create", s.create.filter((n) => !s.createdComponents.includes(n) && !allow.create.some((p) => p.test(n))));
            none("replace", s.replace.filter((n) => !allow.replace.some((p) => p.test(n))));
            none("delete", s.delete.filter((n) => !allow.delete.some((p) => p.test(n))));
            for (const [what, patterns] of [["create", allow.create], ["replace", allow.replace], ["delete", allow.delete]] as const) {
                for (const p of patterns) if (!s[what].some((n) => p.test(n))) problems.push(`${p.source}: no ${what} matches it in the switch drill`);
            }
            break;
        }
        case "add-worker":
        case "remove-worker": {
            // The worker's own resources come (or go); the hosts block and pod routes follow.
            const w = need(arg, drill);
            const [own, opposite] = drill === "add-worker" ? (["create", "delete"] as const) : (["delete", "create"] as const);
            none(own, s[own].filter((n) => !ofWorker(n, w)));
            if (!s[own].includes(`${w}-kubelet`)) problems.push(`${w}-kubelet: no ${own} in the ${drill} drill`);
            // The control-plane hosts do not follow the workers (no list of nodes there since the approver went).
            none("update", s.update.filter((n) => !FOLLOWS_TOPOLOGY.test(n)));
            none("replace", s.replace);
            none(opposite, s[opposite]);
            break;
        }
        case "api-sans": {
            // Only the apiserver certificate and the control-plane steps may change.
            const allowed = /^(control-plane-apiserver-(csr|cert)|[a-z0-9]+-control-plane)$/;
            none("create", s.create);
            none("delete", s.delete);
            none("update", s.update.filter((n) => !allowed.test(n)));
            none("replace", s.replace.filter((n) => !allowed.test(n)));
            if (!s.replace.includes("control-plane-apiserver-cert")) problems.push("control-plane-apiserver-cert: not replaced by the api-sans drill");
            // The preview names the file that changes on each control-plane host: the certificate only.
            const cps = s.update.filter((n) => /-control-plane$/.test(n));
            if (cps.length === 0) problems.push("no control-plane step updates in the api-sans drill");
            for (const n of cps) {
                const files = (s.files[n] ?? []).join(", ");
                if (files !== "/etc/kubernetes/pki/apiserver.crt") problems.push(`${n}: the preview names [${files}], not the apiserver certificate alone`);
            }
            break;
        }
        case "lb-setting": {
            // Both lb steps update (and their finish and join steps), and each preview names haproxy.cfg alone.
            none("create", s.create);
            none("delete", s.delete);
            none("replace", s.replace);
            none("update", s.update.filter((n) => !/^[a-z0-9]+-lb(-finish|-join)?$/.test(n)));
            const stages = s.update.filter((n) => /^[a-z0-9]+-lb$/.test(n));
            if (stages.length !== 2) problems.push(`${stages.length} lb steps update in the lb-setting drill, not 2`);
            for (const n of stages) {
                const files = (s.files[n] ?? []).join(", ");
                if (files !== "/etc/haproxy/haproxy.cfg") problems.push(`${n}: the preview names [${files}], not haproxy.cfg alone`);
            }
            break;
        }
        case "repair": {
            // Exactly the steps drift.sh asked to re-run (ARG: their names, comma-separated) update,
            // and the lb finish and join phases, which follow every run of an lb step.
            const want = need(arg, drill).split(",").sort();
            const lbFinish = want.some((w) => /-lb$/.test(w)) ? /^[a-z0-9]+-lb-(finish|join)$/ : /^$/;
            none("create", s.create);
            none("delete", s.delete);
            none("replace", s.replace);
            none("update", s.update.filter((n) => !want.includes(n) && !lbFinish.test(n)));
            for (const n of want.filter((w) => !s.update.includes(w))) problems.push(`${n}: no update in the repair drill`);
            break;
        }
        case "renew":
        case "rekey": {
            // Exactly the named certificates are replaced: alone (renew: a new validity, the keys
            // kept) or with their keys and requests (rekey: a renewal, issue 26 M3); and only the
            // steps of the hosts that hold them (and a worker's drain and Node object) update.
            const parts = drill === "rekey" ? ["cert", "csr", "key"] : ["cert"];
            const want = need(arg, drill)
                .split(",")
                .flatMap((n) => parts.map((p) => `${n}-${p}`))
                .sort();
            none("create", s.create);
            none("delete", s.delete);
            none("replace", s.replace.filter((n) => !want.includes(n)));
            for (const n of want.filter((w) => !s.replace.includes(w))) problems.push(`${n}: not replaced in the ${drill} drill`);
            none("update", s.update.filter((n) => !/^[a-z0-9]+-(etcd|control-plane|kubelet|mirror|etcd-backup)$|^[a-z0-9]+-(drain|node)-[a-z0-9]+$/.test(n)));
            break;
        }
        default:
            problems.push(`unknown drill ${drill} (noop, switch, add-worker NAME, remove-worker NAME, api-sans, lb-setting, repair STEPS, renew CERTS, rekey CERTS)`);
    }
    return problems;
}

function need(arg: string | undefined, drill: string): string {
    if (!arg) throw new Error(`the ${drill} drill needs a host name`);
    return arg;
}

if (require.main === module) {
    const [drill, arg] = process.argv.slice(2);
    const summary = summarizePreview(JSON.parse(fs.readFileSync(0, "utf8")) as { steps?: PreviewStep[]; changeSummary?: Record<string, number> });
    const problems = planProblems(drill, arg, summary);
    process.stdout.write(JSON.stringify({ drill, ...summary, problems }) + "\n");
    for (const p of problems) process.stderr.write(`plan: ${p}\n`);
    process.exit(problems.length ? 1 : 0);
}
