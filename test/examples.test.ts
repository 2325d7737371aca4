import { validateConfig } from "../components";
import { exampleConfig } from "../examples/existing-hosts/cluster";
import { fakeChecksums } from "./fixtures";

/** The examples are type-checked by `npm test` (tsconfig includes them); their configs must also validate. */
describe("examples/existing-hosts", () => {
    const names = ["lb1", "lb2", "cp1", "cp2", "cp3", "w1", "w2", "w3", "mirror", "nfs"];
    const hostKeys = Object.fromEntries(names.map((n) => [n, `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${n.toUpperCase()}`]));

    test("its cluster, written in code, passes validation with every default filled in", () => {
        const cluster = validateConfig({ ...exampleConfig({ hostKeys, checksums: fakeChecksums() }), stackName: "prod" });
        expect(cluster.hosts.map((h) => h.name).sort()).toEqual([...names].sort());
        expect(cluster.hosts.filter((h) => h.roles.includes("worker")).map((h) => h.podCidr)).toEqual(["10.244.31.0/24", "10.244.32.0/24", "10.244.33.0/24"]);
        expect(cluster.etcdBackup.schedule).toBeDefined();
        expect(cluster.protectData).toBe(true);
    });

    test("a key of its object that is no setting is refused as in a stack's config", () => {
        // The compiler refuses such a key only in a literal written for RawConfig, not in an object built first.
        const raw = { ...exampleConfig({ hostKeys, checksums: fakeChecksums() }), stackName: "prod", ntpServer: ["ntp1.example.com"] };
        expect(() => validateConfig(raw)).toThrow("k8s-ha:ntpServer: is not a k8s-ha setting; did you mean k8s-ha:ntpServers?");
    });
});
