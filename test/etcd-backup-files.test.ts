import * as crypto from "crypto";
import * as fs from "fs";
import { hostsWithRole } from "../components/config";
import { ETCD_FILES, renderEtcdUnit } from "../components/render";
import { validateConfig } from "../components/validate";
import { labConfig } from "./fixtures";
import { HostSandbox } from "./host-sandbox";

/**
 * The etcd scripts of scripts/host/files/ against stand-ins of etcdctl and etcdutl: the scheduled
 * snapshot (etcd-snapshot.sh) keeps the newest KEEP and never counts a failed one, and a restore
 * that fails on one member (etcd-restore.sh prepare) changes nothing on any.
 */
const STAMP = "20260601T120000Z";

describe("the scheduled etcd snapshot and its retention (etcd-snapshot.sh)", () => {
    const BIN = "/usr/local/lib/k8s-ha/etcd-backup/bin";
    const ENDPOINTS = ["https://10.0.0.21:2379", "https://10.0.0.22:2379", "https://10.0.0.23:2379"];
    // The existing snapshots' names sort by time; their mtimes the other way, so only the names tell.
    const OLD = ["20260301T000000Z", "20260302T000000Z", "20260303T000000Z", "20260304T000000Z", "20260305T000000Z"].map((t) => `scheduled-${t}.db`);
    // Snapshots a member's delete copied there: never the schedule's to remove.
    const COPIES = ["cp2-20260101T000000Z.db", "cp3-20260101T000000Z-copy.db"];
    const NEW = `scheduled-${STAMP}.db`;
    let sb: HostSandbox;
    const dir = () => sb.path("backups");
    const run = (keep: string) => sb.file("etcd-snapshot.sh", [], { env: { HOST: "nfs", ENDPOINTS: ENDPOINTS.join(","), DIR: dir(), KEEP: keep } });
    const snapshotCall = (ep: string) =>
        `etcdctl --endpoints=${ep} --cacert=/etc/k8s-ha/etcd-backup/ca.crt --cert=/etc/k8s-ha/etcd-backup/client.crt --key=/etc/k8s-ha/etcd-backup/client.key --dial-timeout=5s --command-timeout=300s snapshot save ${dir()}/${NEW}.part`;
    const statusCall = () => `etcdutl snapshot status ${dir()}/${NEW}.part -w simple`;

    beforeEach(() => {
        sb = new HostSandbox("nfs");
        // etcdctl fails for the endpoints listed in $SANDBOX/down, else writes the snapshot; etcdutl
        // fails when $SANDBOX/corrupt exists, else answers a status.
        sb.standIn("etcdctl", `ep=\${1#--endpoints=}; if grep -qxF "$ep" "$SANDBOX/down" 2>/dev/null; then echo "Error: context deadline exceeded"; exit 1; fi; echo "snapshot of $ep" >"\${*: -1}"; echo "Snapshot saved at \${*: -1}"`);
        sb.standIn("etcdutl", `if [[ -f $SANDBOX/corrupt ]]; then echo "Error: snapshot file integrity check failed"; exit 1; fi; echo "fe01cf57, 1234, 567, 2.1 MB"`);
        sb.standIn("date", `echo ${STAMP}`, false);
        sb.shadow(`${BIN}/etcdctl`, `${BIN}/etcdutl`);
        OLD.forEach((f, i) => {
            sb.write(`backups/${f}`, `old ${f}`, 0o600);
            fs.utimesSync(sb.path("backups", f), 1_800_000_000 - i * 3600, 1_800_000_000 - i * 3600);
        });
        for (const f of COPIES) sb.write(`backups/${f}`, f, 0o600);
    });
    afterEach(() => sb.remove());

    test("with more snapshots than KEEP, the oldest go and the newest KEEP stay (the members' copies too)", () => {
        const r = run("3");
        const content = `snapshot of ${ENDPOINTS[0]}\n`;
        const sha = crypto.createHash("sha256").update(content).digest("hex");
        expect(r.stderr.split("\n")).toEqual([
            `k8s-ha[nfs]: saved a snapshot of etcd from ${ENDPOINTS[0]}: ${dir()}/${NEW} (${content.length} bytes, revision 1234, 567 keys, sha256 ${sha})`,
            `k8s-ha[nfs]: removed the snapshot ${OLD[2]} (the newest 3 are kept)`,
            `k8s-ha[nfs]: removed the snapshot ${OLD[1]} (the newest 3 are kept)`,
            `k8s-ha[nfs]: removed the snapshot ${OLD[0]} (the newest 3 are kept)`,
            "",
        ]);
        expect(r.status).toBe(0);
        expect(sb.list("backups")).toEqual([...COPIES, OLD[3], OLD[4], NEW].sort());
        expect(sb.read(`backups/${NEW}`)).toBe(content);
        expect(fs.statSync(sb.path("backups", NEW)).mode & 0o777).toBe(0o600);
        expect(sb.calls()).toEqual([snapshotCall(ENDPOINTS[0]), statusCall()]);
    });

    test("a member that gives no snapshot is passed over for the next", () => {
        sb.write("down", `${ENDPOINTS[0]}\n`);
        const r = run("10");
        expect(r.stderr).toContain(`k8s-ha[nfs]: warning: no snapshot from ${ENDPOINTS[0]}: Error: context deadline exceeded\n`);
        expect(r.stderr).toContain(`k8s-ha[nfs]: saved a snapshot of etcd from ${ENDPOINTS[1]}: `);
        expect(r.status).toBe(0);
        expect(sb.read(`backups/${NEW}`)).toBe(`snapshot of ${ENDPOINTS[1]}\n`);
        expect(sb.list("backups")).toEqual([...COPIES, ...OLD, NEW].sort());
        expect(sb.calls()).toEqual([snapshotCall(ENDPOINTS[0]), snapshotCall(ENDPOINTS[1]), statusCall()]);
    });

    test("when no member gives one, the run fails, nothing is deleted and no part is left", () => {
        sb.write("down", ENDPOINTS.join("\n") + "\n");
        const r = run("1");
        expect(r.status).toBe(1);
        expect(r.stderr.split("\n")).toEqual([
            ...ENDPOINTS.map((ep) => `k8s-ha[nfs]: warning: no snapshot from ${ep}: Error: context deadline exceeded`),
            `k8s-ha[nfs]: error: no etcd member gave a snapshot (tried ${ENDPOINTS.join(",")}); the last snapshots stay in ${dir()}`,
            "",
        ]);
        expect(sb.list("backups")).toEqual([...COPIES, ...OLD].sort());
    });

    test("a snapshot etcdutl cannot read does not count: nothing is deleted", () => {
        sb.write("corrupt", "");
        const r = run("1");
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`k8s-ha[nfs]: warning: no snapshot from ${ENDPOINTS[2]}: Error: snapshot file integrity check failed\n`);
        expect(r.stderr).toContain("k8s-ha[nfs]: error: no etcd member gave a snapshot");
        expect(sb.list("backups")).toEqual([...COPIES, ...OLD].sort());
        expect(sb.calls()).toEqual(ENDPOINTS.flatMap((ep) => [snapshotCall(ep), statusCall()]));
    });

    test("KEEP below 1 is refused before anything is taken or deleted", () => {
        const r = run("0");
        expect(r.status).toBe(1);
        expect(r.stderr).toBe("k8s-ha[nfs]: error: ENDPOINTS, DIR and KEEP must be set (/etc/k8s-ha/etcd-backup.env)\n");
        expect(sb.list("backups")).toEqual([...COPIES, ...OLD].sort());
        expect(sb.calls()).toEqual([]);
    });
});

describe("a restore that fails on one member (etcd-restore.sh prepare, then discard)", () => {
    const cluster = validateConfig(labConfig());
    const members = hostsWithRole(cluster, "etcd").map((h) => ({ name: h.name, address: h.address }));
    const SNAPSHOT_NAME = `restore-${STAMP}.db`;
    let sb: HostSandbox;
    // Each member's unit as the program renders it, its data folder inside the sandbox.
    const data = (m: string) => sb.path(m, "var/lib/etcd");
    const run = (m: string, args: string[]) => sb.file("etcd-restore.sh", [m, ...args], { env: { K8SHA_ETCD_UNIT: sb.path(m, "etcd.service") } });

    beforeEach(() => {
        sb = new HostSandbox("cp1");
        // etcdutl restores into --data-dir; for a member named in $SANDBOX/restore-fails it leaves half
        // a folder and fails.
        sb.standIn(
            "etcdutl",
            `while (($#)); do case $1 in --name) name=$2; shift ;; --data-dir) dir=$2; shift ;; esac; shift; done
mkdir -p "$dir/member/snap"
if grep -qxF "$name" "$SANDBOX/restore-fails" 2>/dev/null; then echo "{\\"level\\":\\"info\\",\\"msg\\":\\"restoring snapshot\\"}"; echo "Error: snapshot file has wrong size"; exit 1; fi
echo restored >"$dir/member/snap/db"`,
        );
        sb.standIn("chown", "");
        sb.standIn("systemctl", "");
        sb.shadow("/usr/local/bin/etcdutl");
        for (const m of members) {
            const unit = renderEtcdUnit({ name: m.name, address: m.address, members, clusterToken: "k8s-ha-etcd", tuning: cluster.etcd });
            expect(unit).toContain(`--data-dir=${ETCD_FILES.dataDir} `);
            sb.write(`${m.name}/etcd.service`, unit.replace(`--data-dir=${ETCD_FILES.dataDir} `, `--data-dir=${data(m.name)} `));
            sb.write(`${m.name}/var/lib/etcd/member/snap/db`, `data of ${m.name}`, 0o600);
            sb.write(`${m.name}/var/backups/k8s-ha/etcd/${SNAPSHOT_NAME}`, "snapshot", 0o600);
        }
    });
    afterEach(() => sb.remove());

    test("the failing member keeps no new folder, the discard removes the others', and no member's data moved", () => {
        sb.write("restore-fails", "cp2\n");
        const prepared = members.map((m) => run(m.name, ["prepare", sb.path(m.name, "var/backups/k8s-ha/etcd", SNAPSHOT_NAME), STAMP]));
        expect(prepared.map((r) => r.status)).toEqual([0, 1, 0]);
        expect(prepared[1].stderr).toBe(`k8s-ha[cp2]: error: etcdutl could not restore ${SNAPSHOT_NAME}: {"level":"info","msg":"restoring snapshot"}\nError: snapshot file has wrong size; nothing was changed\n`);
        expect(prepared[0].stderr).toBe(`k8s-ha[cp1]: prepared ${SNAPSHOT_NAME} as member cp1 of a new cluster (${members.map((m) => `${m.name}=https://${m.address}:2380`).join(",")})\n`);
        // The failing member's half-restored folder is gone at once; the others' wait for the discard.
        expect(members.map((m) => fs.existsSync(`${data(m.name)}.restore-${STAMP}`))).toEqual([true, false, true]);
        expect(sb.read(`cp1/var/lib/etcd.restore-${STAMP}/member/snap/db`)).toBe("restored\n");
        // scripts/etcd-backup.sh then discards on every member.
        expect(members.map((m) => run(m.name, ["discard", STAMP]).status)).toEqual([0, 0, 0]);
        for (const m of members) {
            expect([m.name, sb.list(`${m.name}/var/lib`)]).toEqual([m.name, ["etcd"]]);
            expect([m.name, sb.read(`${m.name}/var/lib/etcd/member/snap/db`)]).toEqual([m.name, `data of ${m.name}`]);
            expect([m.name, sb.list(`${m.name}/var/backups/k8s-ha/etcd`)]).toEqual([m.name, [SNAPSHOT_NAME]]);
        }
        // A swap after that finds nothing to put in place and moves nothing.
        const swap = run("cp1", ["swap", STAMP]);
        expect(swap.status).toBe(1);
        expect(swap.stderr).toBe(`k8s-ha[cp1]: error: nothing prepared in ${data("cp1")}.restore-${STAMP}\n`);
        expect(sb.read("cp1/var/lib/etcd/member/snap/db")).toBe("data of cp1");
        expect(fs.existsSync(`/var/backups/k8s-ha/etcd/before-restore-${STAMP}`)).toBe(false);
        // etcdutl restores as a new cluster with the member's own flags; nothing was stopped.
        const restore = (m: { name: string; address: string }) =>
            `etcdutl snapshot restore ${sb.path(m.name, "var/backups/k8s-ha/etcd", SNAPSHOT_NAME)} --name ${m.name} --initial-cluster ${members.map((x) => `${x.name}=https://${x.address}:2380`).join(",")} --initial-cluster-token k8s-ha-etcd-restored-${STAMP} --initial-advertise-peer-urls https://${m.address}:2380 --data-dir ${data(m.name)}.restore-${STAMP} --bump-revision 1000000000 --mark-compacted`;
        expect(sb.calls()).toEqual([restore(members[0]), `chown -R etcd:etcd ${data("cp1")}.restore-${STAMP}`, restore(members[1]), restore(members[2]), `chown -R etcd:etcd ${data("cp3")}.restore-${STAMP}`]);
    });

    test("a stopped member's copy (…-copy.db) is restored without the hash check it does not have", () => {
        sb.write("cp1/copy/cp1-20260101T000000Z-copy.db", "bolt", 0o600);
        const r = run("cp1", ["prepare", sb.path("cp1/copy/cp1-20260101T000000Z-copy.db"), STAMP]);
        expect(r.status).toBe(0);
        expect(sb.calls()[0]).toMatch(/ --mark-compacted --skip-hash-check$/);
    });
});
