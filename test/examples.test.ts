import { validateConfig } from "../components";
import { exampleConfig } from "../examples/existing-hosts/cluster";
import { fakeChecksums } from "./fixtures";

/** The examples are type-checked by `npm test` (tsconfig includes them); their configs must also validate. */
describe("examples/existing-hosts", () => {
    test("its cluster, written in code, passes validation with every default filled in", () => {
        const names = ["lb1", "lb2", "cp1", "cp2", "cp3", "w1", "w2", "w3", "mirror", "nfs"];
        const hostKeys = Object.fromEntries(names.map((n) => [n, `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${n.toUpperCase()}`]));
        const cluster = validateConfig({ ...exampleConfig({ hostKeys, checksums: fakeChecksums() }), stackName: "prod" });
        expect(cluster.hosts.map((h) => h.name).sort()).toEqual([...names].sort());
        expect(cluster.hosts.filter((h) => h.roles.includes("worker")).map((h) => h.podCidr)).toEqual(["10.244.31.0/24", "10.244.32.0/24", "10.244.33.0/24"]);
        expect(cluster.etcdBackup.schedule).toBeDefined();
        expect(cluster.protectData).toBe(true);
    });
});
