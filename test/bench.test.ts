import { validateConfig } from "../components/validate";
import { RawConfig } from "../components/config";
import { benchConfig, benchConfigFile, MIN_HOSTS } from "./bench/generate";
import { groupOf } from "./bench/measure";
import { markdown, median, previewRow, resourcesInLog, withGrowth } from "./bench/report";

/** A bench config as the program reads it (the SSH key is set as a secret by scripts/bench.sh). */
function raw(hosts: number): RawConfig {
    const c = benchConfig(hosts);
    return {
        hosts: c["k8s-ha:hosts"],
        nodeNetwork: c["k8s-ha:nodeNetwork"],
        vip: c["k8s-ha:vip"],
        podCidr: c["k8s-ha:podCidr"],
        mirror: c["k8s-ha:mirror"],
        allowUnpinnedHostKeys: c["k8s-ha:allowUnpinnedHostKeys"],
        checksums: c["k8s-ha:checksums"],
        sshPrivateKeyPresent: true,
    };
}

describe("bench stacks", () => {
    test.each([MIN_HOSTS, 10, 300, 1000])("%i hosts: a valid config with 3 control-plane, 2 lb and the rest workers", (n) => {
        const c = validateConfig(raw(n));
        expect(c.hosts).toHaveLength(n);
        const count = (role: string) => c.hosts.filter((h) => (h.roles as string[]).includes(role)).length;
        expect([count("control-plane"), count("etcd"), count("lb"), count("mirror"), count("nfs")]).toEqual([3, 3, 2, 1, 1]);
        expect(count("worker")).toBe(n - 7);
    });

    test.each([0, 7, 2.5, Number.NaN, 5000])("%p hosts is refused with the range", (n) => {
        expect(() => benchConfig(n)).toThrow(`give a whole number from ${MIN_HOSTS} to 4000 (3 control-plane, 2 lb, 1 mirror, 1 nfs and at least one worker)`);
    });

    test("the config file is YAML (JSON) under config:", () => {
        const text = benchConfigFile(10);
        expect(text).toMatch(/^# Generated/);
        const body = JSON.parse(text.slice(text.indexOf("config: ") + "config: ".length)) as Record<string, unknown>;
        expect(Object.keys(body["k8s-ha:hosts"] as object)).toHaveLength(10);
    });
});

describe("bench measurements", () => {
    test("processes are grouped as engine, program and providers", () => {
        expect(["pulumi", "node", "pulumi-language-nodejs", "pulumi-resource-command", "bash"].map(groupOf)).toEqual([
            "engine", "program", "program", "providers", undefined,
        ]);
    });

    test("rows: resources, state size, growth per host, median", () => {
        const m = (seconds: number) => ({ command: [], exitCode: 0, seconds, peakMiB: { engine: 100, program: 50, providers: 30, total: 180 } });
        const preview = { steps: [{ op: "create", newState: { a: "xx" } }, { op: "create", newState: { b: 1 } }, { op: "same" }] };
        const r10 = previewRow(10, m(4), preview);
        expect(r10).toMatchObject({ hosts: 10, resources: 2, seconds: 4, totalMiB: 180, stateBytes: '{"a":"xx"}'.length + '{"b":1}'.length });
        const rows = withGrowth([previewRow(100, m(60), {}), r10]);
        expect(rows.map((r) => r.hosts)).toEqual([10, 100]);
        expect(rows[1].growth).toBe(1.5);
        expect(median([5, 1, 3])).toBe(3);
        expect(median([4, 1, 3, 2])).toBe(2.5);
        const table = markdown("2 cores", rows, [{ step: "no-op up", runs: [4, 5, 6], median: 5, peakMiB: 300, goal: "≤ 5 s" }], [3 * 1048576]);
        expect(table).toContain("| 100 | 0 | 60.0 | ≤ 10 s | 0.600 (×1.5) | 100 / 50 / 180 | not measured |");
        expect(table).toContain("| no-op up | 4.0, 5.0, 6.0 | 5.0 | ≤ 5 s | 300 |");
        expect(table).toContain("checkpoint after `up`: 3.00 MB");
        expect(resourcesInLog("Resources:\n    + 936 to create\n")).toBe(936);
    });
});
