import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { hostsWithRole } from "../components/config";
import { ETCD_FILES, ETCD_SNAPSHOT_ENCRYPTION, renderEtcdUnit } from "../components/render";
import { validateConfig } from "../components/validate";
import { labConfig } from "./fixtures";
import { HostSandbox } from "./host-sandbox";

/**
 * The etcd scripts of scripts/host/files/ against stand-ins of etcdctl, etcdutl and ssh, with the
 * real openssl: the scheduled snapshot (etcd-snapshot.sh) on the leader only, encrypted and signed,
 * kept by the backup host's store (etcd-store.sh) in a root-only folder that refuses symlinks and
 * other owners, the newest KEEP; the restore's check (scripts/etcd-snapshot-open.sh) against the
 * signed manifest; and a restore that fails on one member (etcd-restore.sh prepare) changes nothing on any.
 */
const STAMP = "20260601T120000Z";

/** Runs a script of scripts/ (the Pulumi machine's) in the sandbox's environment. */
function local(sb: HostSandbox, name: string, args: string[], input = ""): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("bash", [path.resolve(__dirname, "../scripts", name), ...args], {
        encoding: "utf8",
        input,
        env: { ...process.env, PATH: `${sb.path("bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, SANDBOX: sb.dir, TMPDIR: sb.path("tmp") },
        timeout: 30000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("scheduled etcd snapshots: taken on the leader, encrypted, signed, kept by the backup host (etcd-snapshot.sh, etcd-store.sh)", () => {
    const E = ETCD_SNAPSHOT_ENCRYPTION;
    const NAME = `scheduled-${STAMP}-cp1.db.enc`;
    // Earlier snapshots' names sort by time; their mtimes the other way, so only the names tell.
    const OLD = ["20260301T000000Z", "20260302T000000Z", "20260303T000000Z", "20260304T000000Z", "20260305T000000Z"].map((t) => `scheduled-${t}-cp2.db.enc`);
    // A member delete's copy: never the schedule's to remove.
    const COPY = "cp2-20260101T000000Z.db";
    const PASSPHRASE = "p".repeat(64);
    let sb: HostSandbox;
    let keys: { privateKey: string; publicKey: string };
    const storeDir = () => sb.path("nfs/var/backups/k8s-ha/etcd");
    const workDir = () => sb.path("cp1/var/backups/k8s-ha/etcd");
    const memberEnv = (): Record<string, string> => ({
        HOST: "cp1",
        ETCDCTL: "etcdctl",
        ETCDUTL: "etcdutl",
        ETCD_ENDPOINT: "https://127.0.0.1:2379",
        ETCD_CACERT: "/etc/etcd/pki/ca.crt",
        ETCD_CERT: "/etc/etcd/pki/healthcheck-client.crt",
        ETCD_KEY: "/etc/etcd/pki/healthcheck-client.key",
        WORK_DIR: workDir(),
        CIPHER: E.cipher,
        KDF_DIGEST: E.digest,
        KDF_ITER: String(E.iterations),
        ENCRYPTION_KEY: sb.path("cp1/encryption.key"),
        SIGNING_KEY: sb.path("cp1/signing.key"),
        SSH_KEY: sb.path("cp1/ssh.key"),
        KNOWN_HOSTS: sb.path("cp1/known_hosts"),
        HOST_KEY_CHECK: "yes",
        STORE_HOST: "nfs",
        STORE: "root@10.0.0.51",
        STORE_PORT: "22",
    });
    const snapshot = (env: Record<string, string> = {}) => sb.file("etcd-snapshot.sh", [], { env: { ...memberEnv(), ...env } });
    const store = (args: string[], input = "") => sb.file("etcd-store.sh", args, { input });
    const storeEnv = (keep: number) => sb.write("nfs/etcd-backup.env", `# Rendered by k8s-ha.\nHOST=nfs\nDIR=${storeDir()}\nKEEP=${keep}\nVERIFY_KEY=${sb.path("nfs/verify.pem")}\n`);
    const sign = (name: string, sha: string, key = keys.privateKey) => crypto.sign(null, Buffer.from(`${name} ${sha}`), key).toString("base64");
    const sha256 = (b: Buffer | string) => crypto.createHash("sha256").update(b).digest("hex");
    const open = (name: string, passphrase = PASSPHRASE) =>
        local(sb, "etcd-snapshot-open.sh", ["nfs:/var/backups/k8s-ha/etcd", name, sb.path("nfs/var/backups/k8s-ha/etcd", name), sb.path("nfs/var/backups/k8s-ha/etcd/manifest"), sb.path("nfs/verify.pem"), E.cipher, E.digest, String(E.iterations), sb.path("restored.db")], `${passphrase}\n`);

    beforeEach(() => {
        sb = new HostSandbox("cp1");
        const pair = crypto.generateKeyPairSync("ed25519");
        keys = { privateKey: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), publicKey: pair.publicKey.export({ type: "spki", format: "pem" }).toString() };
        sb.write("cp1/encryption.key", PASSPHRASE, 0o600);
        sb.write("cp1/signing.key", keys.privateKey, 0o600);
        sb.write("nfs/verify.pem", keys.publicKey);
        storeEnv(3);
        // etcdctl: the member's status (the leader unless $SANDBOX/follower exists), or a snapshot.
        sb.standIn(
            "etcdctl",
            `if [[ " $* " == *" endpoint status "* ]]; then l=11; [[ -f $SANDBOX/follower ]] && l=22; echo "[{\\"Endpoint\\":\\"https://127.0.0.1:2379\\",\\"Status\\":{\\"header\\":{\\"cluster_id\\":1,\\"member_id\\":11,\\"revision\\":5},\\"leader\\":$l}}]"; exit 0; fi
echo "the data of etcd" >"\${*: -1}"`,
        );
        sb.standIn("etcdutl", `echo "fe01cf57, 1234, 567, 2.1 MB"`);
        sb.standIn("date", `echo ${STAMP}`, false);
        // ssh: the forced command of the members' key on the backup host, whatever is asked.
        sb.standIn("ssh", `exec bash ${path.resolve(__dirname, "../scripts/host/files/etcd-store.sh")} receive "$SANDBOX/nfs/etcd-backup.env"`);
        fs.mkdirSync(storeDir(), { recursive: true, mode: 0o700 });
        OLD.forEach((f, i) => {
            sb.write(`nfs/var/backups/k8s-ha/etcd/${f}`, `old ${f}`, 0o600);
            fs.utimesSync(sb.path("nfs/var/backups/k8s-ha/etcd", f), 1_800_000_000 - i * 3600, 1_800_000_000 - i * 3600);
        });
        sb.write(`nfs/var/backups/k8s-ha/etcd/manifest`, OLD.map((f) => `${f} ${sha256(`old ${f}`)} ${sign(f, sha256(`old ${f}`))}\n`).join(""), 0o600);
        sb.write(`nfs/var/backups/k8s-ha/etcd/${COPY}`, "a member's copy", 0o600);
    });
    afterEach(() => sb.remove());

    test("the leader's snapshot round trip: saved over 127.0.0.1 with the member's own client, encrypted, signed, kept; a restore checks and decrypts it", () => {
        storeEnv(10);
        const r = snapshot();
        expect(r.status).toBe(0);
        const kept = fs.readFileSync(sb.path("nfs/var/backups/k8s-ha/etcd", NAME));
        expect(kept.toString("latin1")).not.toContain("the data of etcd");
        expect(kept.subarray(0, 8).toString()).toBe("Salted__");
        expect(r.stderr.split("\n")).toEqual([
            `k8s-ha[nfs]: kept ${storeDir()}/${NAME} (${kept.length} bytes, sha256 ${sha256(kept)}, signature verified)`,
            `k8s-ha[cp1]: saved a snapshot of etcd (revision 1234, 567 keys), encrypted and signed, and sent it to nfs: ${NAME} (${kept.length} bytes, sha256 ${sha256(kept)})`,
            "",
        ]);
        expect(fs.statSync(sb.path("nfs/var/backups/k8s-ha/etcd", NAME)).mode & 0o777).toBe(0o600);
        // The member keeps nothing: its plaintext lived in a private folder of its own until encrypted.
        expect(sb.list("cp1/var/backups/k8s-ha/etcd")).toEqual([]);
        const tls = "--endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key";
        expect(sb.calls()[0]).toBe(`etcdctl ${tls} --command-timeout=10s endpoint status -w json`);
        expect(sb.calls()[1]).toMatch(new RegExp(`^etcdctl ${tls} --dial-timeout=5s --command-timeout=600s snapshot save ${workDir()}/\\.snapshot\\.[A-Za-z0-9]+/snapshot\\.db$`));
        expect(sb.calls()[3]).toBe(`ssh -i ${sb.path("cp1/ssh.key")} -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${sb.path("cp1/known_hosts")} -o ConnectTimeout=10 -p 22 root@10.0.0.51 receive`);
        // The passphrase is in no command's arguments.
        expect(sb.calls().join("\n")).not.toContain(PASSPHRASE);
        // The manifest's line verifies with the public key; the restore's check decrypts it again.
        const line = sb.read("nfs/var/backups/k8s-ha/etcd/manifest").split("\n").find((l) => l.startsWith(NAME)) ?? "";
        const [, sha, sig] = line.split(" ");
        expect(sha).toBe(sha256(kept));
        expect(crypto.verify(null, Buffer.from(`${NAME} ${sha}`), keys.publicKey, Buffer.from(sig, "base64"))).toBe(true);
        const o = open(NAME);
        expect(o.stderr).toBe(`etcd-backup: nfs:/var/backups/k8s-ha/etcd/${NAME}: signature and sha256 ${sha} checked, decrypted\n`);
        expect(o.status).toBe(0);
        expect(sb.read("restored.db")).toBe("the data of etcd\n");
        // The wrong passphrase decrypts nothing.
        fs.rmSync(sb.path("restored.db"));
        const wrong = open(NAME, "q".repeat(64));
        expect(wrong.status).toBe(1);
        expect(wrong.stderr).toContain(`etcd-backup: error: nfs:/var/backups/k8s-ha/etcd/${NAME} does not decrypt with the stack's passphrase`);
        expect(sb.exists("restored.db")).toBe(false);
    });

    test("retention: the newest KEEP scheduled snapshots stay, with their manifest lines; the member's copy too", () => {
        const r = snapshot();
        expect(r.status).toBe(0);
        expect(r.stderr).toContain(`k8s-ha[nfs]: removed the snapshot ${OLD[2]} (the newest 3 are kept)\nk8s-ha[nfs]: removed the snapshot ${OLD[1]} (the newest 3 are kept)\nk8s-ha[nfs]: removed the snapshot ${OLD[0]} (the newest 3 are kept)\n`);
        expect(sb.list("nfs/var/backups/k8s-ha/etcd")).toEqual([".lock", COPY, "manifest", OLD[3], OLD[4], NAME].sort());
        expect(sb.read("nfs/var/backups/k8s-ha/etcd/manifest").split("\n").filter(Boolean).map((l) => l.split(" ")[0])).toEqual([OLD[3], OLD[4], NAME]);
    });

    test("a member that does not lead etcd takes no snapshot and sends nothing; NOW=yes takes one anyway", () => {
        sb.write("follower", "");
        const r = snapshot();
        expect(r.status).toBe(0);
        expect(r.stderr).toBe("k8s-ha[cp1]: not etcd's leader: the leader takes the scheduled snapshot\n");
        expect(sb.calls().map((c) => c.split(" ")[0])).toEqual(["etcdctl"]);
        expect(sb.exists(`nfs/var/backups/k8s-ha/etcd/${NAME}`)).toBe(false);
        sb.clearCalls();
        expect(snapshot({ NOW: "yes" }).status).toBe(0);
        expect(sb.calls().map((c) => c.split(" ")[0])).toEqual(["etcdctl", "etcdutl", "ssh"]);
        expect(sb.exists(`nfs/var/backups/k8s-ha/etcd/${NAME}`)).toBe(true);
    });

    test("a restore refuses a snapshot whose sha256 is not the signed manifest's, and a manifest line the stack's key did not sign", () => {
        expect(snapshot().status).toBe(0);
        const file = sb.path("nfs/var/backups/k8s-ha/etcd", NAME);
        const good = fs.readFileSync(file);
        const line = sb.read("nfs/var/backups/k8s-ha/etcd/manifest").split("\n").find((l) => l.startsWith(NAME)) ?? "";
        // One byte changed on the backup host.
        const bad = Buffer.from(good);
        bad[bad.length - 1] ^= 1;
        fs.writeFileSync(file, bad);
        const r = open(NAME);
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(
            `etcd-backup: error: nfs:/var/backups/k8s-ha/etcd/${NAME} has sha256 ${sha256(bad)}, but the signed manifest says ${line.split(" ")[1]}: refused (it was changed or damaged there)\n`,
        );
        expect(sb.exists("restored.db")).toBe(false);
        // The manifest changed to match, with the old signature: refused too.
        const manifest = sb.read("nfs/var/backups/k8s-ha/etcd/manifest");
        fs.writeFileSync(sb.path("nfs/var/backups/k8s-ha/etcd/manifest"), manifest.replace(line.split(" ")[1], sha256(bad)));
        const forged = open(NAME);
        expect(forged.status).toBe(1);
        expect(forged.stderr).toBe(`etcd-backup: error: the manifest's line for nfs:/var/backups/k8s-ha/etcd/${NAME} does not verify with the stack's key (etcdBackup.verifyKey): refused\n`);
        // A file not in the manifest at all.
        fs.writeFileSync(sb.path("nfs/var/backups/k8s-ha/etcd/manifest"), "");
        expect(open(NAME).stderr).toBe(`etcd-backup: error: nfs:/var/backups/k8s-ha/etcd/${NAME} is not in the manifest there: refused (no signed sha256 to check it against)\n`);
    });

    test("the backup host refuses a snapshot signed with another key, or whose sha256 is not its header's", () => {
        const data = Buffer.from("Salted__ not a snapshot");
        const other = crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
        const r = store(["receive", sb.path("nfs/etcd-backup.env")], `${NAME} ${sha256(data)} ${sign(NAME, sha256(data), other)}\n${data.toString()}`);
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(`k8s-ha[nfs]: error: the signature of ${NAME} does not verify with ${sb.path("nfs/verify.pem")}: refused\n`);
        const s = store(["receive", sb.path("nfs/etcd-backup.env")], `${NAME} ${"0".repeat(64)} ${sign(NAME, "0".repeat(64))}\n${data.toString()}`);
        expect(s.status).toBe(1);
        expect(s.stderr).toBe(`k8s-ha[nfs]: error: ${NAME} arrived with sha256 ${sha256(data)}, not ${"0".repeat(64)} as its header says: refused\n`);
        expect(sb.list("nfs/var/backups/k8s-ha/etcd").filter((f) => !f.startsWith("."))).toEqual([COPY, "manifest", ...OLD].sort());
    });

    test("the forced command takes no path from the client: SSH_ORIGINAL_COMMAND is ignored, a header naming a path or another kind of file is refused", () => {
        const data = Buffer.from("Salted__ encrypted");
        const receive = (name: string, original: string) =>
            sb.file("etcd-store.sh", ["receive", sb.path("nfs/etcd-backup.env")], { input: `${name} ${sha256(data)} ${sign(name, sha256(data))}\n${data.toString()}`, env: { SSH_ORIGINAL_COMMAND: original } });
        fs.mkdirSync(sb.path("elsewhere"), { mode: 0o700 });
        for (const name of [`../../../elsewhere/${NAME}`, `${sb.path("elsewhere")}/${NAME}`, `scheduled-${STAMP}-cp1/../x.db.enc`, "manifest", COPY, `.${NAME}`]) {
            const r = receive(name, `put nfs ${sb.path("elsewhere")} ${COPY} ${sha256(data)}`);
            expect([name, r.status, r.stderr]).toEqual([name, 1, `k8s-ha[nfs]: error: ${name} is not a scheduled snapshot's name: refused\n`]);
        }
        // What the client asks for does not matter: the snapshot goes to DIR of the settings, as NAME.
        const ok = receive(NAME, `send nfs /etc shadow`);
        expect([ok.status, ok.stdout]).toEqual([0, ""]);
        expect(fs.readFileSync(sb.path("nfs/var/backups/k8s-ha/etcd", NAME)).equals(data)).toBe(true);
        expect(sb.list("elsewhere")).toEqual([]);
    });

    test("a backup folder that is a symlink is refused, and nothing is written where it points", () => {
        // Root's own folder elsewhere, with the backup folder a symlink to it.
        fs.mkdirSync(sb.path("elsewhere"), { mode: 0o700 });
        fs.rmSync(storeDir(), { recursive: true });
        fs.symlinkSync(sb.path("elsewhere"), storeDir());
        const r = snapshot();
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`k8s-ha[nfs]: error: ${storeDir()} is a symlink: refused (the backup folder must be root's own)\n`);
        expect(r.stderr).toContain(`k8s-ha[cp1]: error: could not send ${NAME} to nfs (root@10.0.0.51): `);
        expect(sb.list("elsewhere")).toEqual([]);
        // The same for the list, a restore's read and a member delete's copy.
        for (const args of [["list"], ["send", NAME], ["put", COPY, sha256("x")]]) {
            const s = store([args[0], "nfs", storeDir(), ...args.slice(1)], "x");
            expect([args[0], s.status, s.stderr]).toEqual([args[0], 1, `k8s-ha[nfs]: error: ${storeDir()} is a symlink: refused (the backup folder must be root's own)\n`]);
        }
        expect(sb.list("elsewhere")).toEqual([]);
        // The member's own folder too.
        fs.rmSync(workDir(), { recursive: true });
        sb.clearCalls();
        fs.symlinkSync(sb.path("elsewhere"), workDir());
        const m = snapshot({ NOW: "yes" });
        expect(m.status).toBe(1);
        expect(m.stderr).toBe(`k8s-ha[cp1]: error: ${workDir()} is a symlink: refused (the snapshot's folder must be root's own)\n`);
        expect(sb.calls().filter((c) => c.includes("snapshot save"))).toEqual([]);
    });

    test("a kept snapshot that is a symlink is not sent; a folder or file of another owner is refused", () => {
        fs.writeFileSync(sb.path("secret"), "not a snapshot");
        fs.rmSync(sb.path("nfs/var/backups/k8s-ha/etcd", OLD[4]));
        fs.symlinkSync(sb.path("secret"), sb.path("nfs/var/backups/k8s-ha/etcd", OLD[4]));
        const s = store(["send", "nfs", storeDir(), OLD[4]]);
        expect([s.status, s.stdout, s.stderr]).toEqual([1, "", `k8s-ha[nfs]: error: ${storeDir()}/${OLD[4]} is a symlink: refused (the snapshot must be root's own)\n`]);
        fs.chownSync(sb.path("nfs/var/backups/k8s-ha/etcd", OLD[3]), 65534, 65534);
        const f = store(["send", "nfs", storeDir(), OLD[3]]);
        expect([f.status, f.stdout, f.stderr]).toEqual([1, "", `k8s-ha[nfs]: error: ${storeDir()}/${OLD[3]} is owned by uid 65534, not root: refused (the snapshot must be root's own)\n`]);
        fs.chownSync(storeDir(), 65534, 65534);
        const r = snapshot();
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`k8s-ha[nfs]: error: ${storeDir()} is owned by uid 65534, not root: refused (the backup folder must be root's own)\n`);
        expect(sb.exists(`nfs/var/backups/k8s-ha/etcd/${NAME}`)).toBe(false);
        // A parent of another owner's (an NFS client's, say) is refused as well.
        fs.chownSync(storeDir(), 0, 0);
        fs.chownSync(path.dirname(storeDir()), 65534, 65534);
        const p = store(["list", "nfs", storeDir()]);
        expect([p.status, p.stderr]).toEqual([1, `k8s-ha[nfs]: error: ${path.dirname(storeDir())} is owned by uid 65534, not root: refused (the backup folder's parent must be root's own)\n`]);
    });

    test("a member delete's copy is written through a private temporary file and checked; a wrong sha256 leaves nothing", () => {
        const name = "cp3-20260601T120000Z.db";
        const ok = store(["put", "nfs", storeDir(), name, sha256("bolt")], "bolt");
        expect([ok.status, ok.stderr]).toEqual([0, `k8s-ha[nfs]: kept ${storeDir()}/${name} (4 bytes, sha256 ${sha256("bolt")})\n`]);
        expect(fs.statSync(sb.path("nfs/var/backups/k8s-ha/etcd", name)).mode & 0o777).toBe(0o600);
        const bad = store(["put", "nfs", storeDir(), "cp3-20260601T130000Z.db", sha256("other")], "bolt");
        expect(bad.status).toBe(1);
        expect(sb.list("nfs/var/backups/k8s-ha/etcd").filter((f) => f.startsWith(".") || f.startsWith("cp3-"))).toEqual([name]);
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
