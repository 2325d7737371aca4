import * as crypto from "crypto";
import * as fs from "fs";
import { ETCD_BACKUP_FILES, renderEtcdBackupAuthorizedKey } from "../components/render";
import { HostSandbox, RunResult } from "./host-sandbox";

/**
 * The backup host's step (scripts/host/etcd-backup.sh) and the one line it keeps in its SSH user's
 * authorized_keys, the file the installer itself logs in through: the real script in a sandbox, its
 * users' homes inside the sandbox (a stand-in getent), the store script a stand-in, and sync a
 * stand-in that logs what it syncs and what the live file holds at that moment.
 */
const KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIGV0Y2QtYmFja3VwLWtleS1mb3ItdGVzdHMtb25seQ";
const LINE = renderEtcdBackupAuthorizedKey({ publicKey: `ssh-ed25519 ${KEY}`, from: ["10.0.0.11", "10.0.0.12", "10.0.0.13"], user: "root" }).trimEnd();
const OLD_LINE = renderEtcdBackupAuthorizedKey({ publicKey: `ssh-ed25519 ${KEY.replace("dGVzdHMtb25seQ", "b2xkLWtleQ")}`, from: ["10.0.0.11"], user: "root" }).trimEnd();
// The installer's own key, and others the operator keeps: never touched.
const INSTALLER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN0YWNrLWluc3RhbGxlci1rZXk installer@pulumi";
const OTHER = 'from="192.0.2.7" ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== operator laptop';

describe("the backup host's authorized_keys line (etcd-backup.sh): atomic, in place, every other byte kept, removed on delete", () => {
    let sb: HostSandbox;
    const ak = (user = "root") => sb.path(`home/${user}/.ssh/authorized_keys`);
    const env = (user = "root"): Record<string, string> => ({
        SNAPSHOT_DIR: sb.path("store"),
        AUTHORIZED_KEY: sb.path("etc/etcd-backup/authorized_key"),
        KEY_COMMENT: ETCD_BACKUP_FILES.authorizedKeyComment,
        SSH_USER: user,
        LIB: sb.path("lib-backup"),
        STORE_SCRIPT: sb.path("store.sh"),
        LEGACY_UNIT: ETCD_BACKUP_FILES.legacyUnit,
        LEGACY_DIR: "",
    });
    const create = (user = "root"): RunResult => sb.step("etcd-backup", "create", { env: env(user) });
    const del = (user = "root"): RunResult => sb.step("etcd-backup", "delete", { env: env(user) });
    const write = (content: string, mode = 0o600, user = "root") => {
        fs.mkdirSync(sb.path(`home/${user}/.ssh`), { recursive: true, mode: 0o700 });
        fs.writeFileSync(ak(user), content, { mode });
        fs.chmodSync(ak(user), mode);
    };
    const read = (user = "root") => fs.readFileSync(ak(user), "latin1");
    const leftovers = (user = "root") => sb.list(`home/${user}/.ssh`).filter((f) => f !== "authorized_keys");

    beforeEach(() => {
        sb = new HostSandbox("nfs");
        sb.standIn("getent", `[[ $1 == passwd && ($2 == root || $2 == nobody) ]] || exit 2; u=$2; id=0; [[ $u == nobody ]] && id=65534; echo "$u:x:$id:$id:$u:$SANDBOX/home/$u:/bin/bash"`, false);
        sb.standIn("sync", `f=\${*: -1}; printf 'sync %s %s\\n' "\${f#"$SANDBOX"/}" "$(sha256sum <"$SANDBOX/home/root/.ssh/authorized_keys" 2>/dev/null | cut -c1-12)" >>"$SANDBOX/calls"; [[ ! -f $SANDBOX/sync-fails ]] || exit 1; exec /bin/sync "$@"`, false);
        sb.write("store.sh", "exit 0\n", 0o755);
        sb.write("etc/etcd-backup/authorized_key", `${LINE}\n`);
        fs.mkdirSync(sb.path("home/root"), { recursive: true, mode: 0o700 });
        fs.mkdirSync(sb.path("home/nobody"), { recursive: true, mode: 0o755 });
    });
    afterEach(() => sb.remove());

    test("the rendered line: from the members, restrict, forced to the store's receive, ending in the marker", () => {
        expect(LINE).toBe(
            `from="10.0.0.11,10.0.0.12,10.0.0.13",restrict,command="/bin/bash ${ETCD_BACKUP_FILES.storeScript} receive ${ETCD_BACKUP_FILES.env}" ssh-ed25519 ${KEY} k8s-ha-etcd-backup`,
        );
    });

    test("no file and no .ssh: both made (0700, 0600, the user's own) with the line alone; a second run writes nothing", () => {
        const r = create();
        expect([r.status, r.stderr]).toEqual([0, expect.stringContaining(`k8s-ha[nfs]: ${ak()}: the etcd members' key may run the snapshot store's receive, and nothing else\n`)]);
        expect(read()).toBe(`${LINE}\n`);
        expect(fs.statSync(sb.path("home/root/.ssh")).mode & 0o777).toBe(0o700);
        expect(fs.statSync(ak()).mode & 0o777).toBe(0o600);
        const inode = fs.statSync(ak()).ino;
        sb.clearCalls();
        const again = create();
        expect(again.status).toBe(0);
        expect(again.stderr).not.toContain("authorized_keys");
        expect(fs.statSync(ak()).ino).toBe(inode);
        expect(sb.calls()).toEqual([]);
        expect(leftovers()).toEqual([]);
    });

    test("an earlier line is replaced in place; CRLF ends, comments, the installer's key and a last line without a newline stay byte for byte; owner and mode kept", () => {
        const before = `# keys of this host\r\n${INSTALLER}\r\n${OLD_LINE}\r\n# a note on k8s-ha-etcd-backup\n\n  ${OTHER}`;
        write(before, 0o640);
        fs.chownSync(ak(), 65534, 65534);
        const inode = fs.statSync(ak()).ino;
        const r = create();
        expect(r.status).toBe(0);
        expect(read()).toBe(before.replace(OLD_LINE, LINE));
        const st = fs.statSync(ak());
        expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o640, 65534, 65534]);
        // Replaced by a rename (a new inode), the new copy synced before it and the folder after.
        expect(st.ino).not.toBe(inode);
        const syncs = sb.calls().filter((c) => c.startsWith("sync "));
        expect(syncs.map((c) => c.split(" ")[1])).toEqual([expect.stringMatching(/^home\/root\/\.ssh\/\.authorized_keys\.k8s-ha\.[A-Za-z0-9]{6}$/), "home/root/.ssh"]);
        const sha = (s: string) => crypto.createHash("sha256").update(Buffer.from(s, "latin1")).digest("hex").slice(0, 12);
        expect(syncs.map((c) => c.split(" ")[2])).toEqual([sha(before), sha(before.replace(OLD_LINE, LINE))]);
        expect(leftovers()).toEqual([]);
    });

    test("no line of the step's yet: added last, after a newline when the last line has none; duplicates go, the first one's place kept", () => {
        write(`${INSTALLER}\n${OTHER}`);
        expect(create().status).toBe(0);
        expect(read()).toBe(`${INSTALLER}\n${OTHER}\n${LINE}\n`);
        write(`${OLD_LINE}\n${INSTALLER}\n${OLD_LINE}\n${OTHER}\n`);
        expect(create().status).toBe(0);
        expect(read()).toBe(`${LINE}\n${INSTALLER}\n${OTHER}\n`);
    });

    test("delete takes the line out and keeps every other byte (a last line without a newline too) and the file; a second delete, or none to take out, writes nothing", () => {
        const rest = `${INSTALLER}\r\n# comment\n${OTHER}`;
        write(`${INSTALLER}\r\n${LINE}\n# comment\n${OTHER}`, 0o644);
        const r = del();
        expect([r.status, r.stderr]).toEqual([0, expect.stringContaining(`k8s-ha[nfs]: ${ak()}: removed the etcd members' key\n`)]);
        expect(read()).toBe(rest);
        expect(fs.statSync(ak()).mode & 0o777).toBe(0o644);
        const inode = fs.statSync(ak()).ino;
        expect(del().status).toBe(0);
        expect(fs.statSync(ak()).ino).toBe(inode);
        expect(read()).toBe(rest);
        // The step's own files and its record go; the file holding only the line stays, empty.
        write(`${LINE}\n`);
        expect(create().status).toBe(0);
        expect(del().status).toBe(0);
        expect(read()).toBe("");
        expect(sb.exists("etc/etcd-backup")).toBe(false);
        expect(sb.list("state").filter((f) => f !== "installed" && f !== "pending")).toEqual([]);
        // No file and no .ssh: a delete makes none.
        fs.rmSync(sb.path("home/root/.ssh"), { recursive: true });
        expect(del().status).toBe(0);
        expect(sb.exists("home/root/.ssh")).toBe(false);
    });

    test("an authorized_keys or .ssh that is a symlink is refused, and nothing is written where it points", () => {
        const target = sb.write("elsewhere/keys", `${INSTALLER}\n`);
        fs.mkdirSync(sb.path("home/root/.ssh"), { mode: 0o700 });
        fs.symlinkSync(target, ak());
        for (const run of [create, del]) {
            const r = run();
            expect([r.status, r.stderr]).toEqual([1, expect.stringContaining(`k8s-ha[nfs]: error: ${ak()} is a symlink: refused (k8s-ha edits no file it points to)\n`)]);
        }
        expect(fs.readFileSync(target, "utf8")).toBe(`${INSTALLER}\n`);
        expect(sb.list("home/root/.ssh")).toEqual(["authorized_keys"]);
        fs.rmSync(sb.path("home/root/.ssh"), { recursive: true });
        fs.symlinkSync(sb.path("elsewhere"), sb.path("home/root/.ssh"));
        const r = create();
        expect([r.status, r.stderr]).toEqual([1, expect.stringContaining(`k8s-ha[nfs]: error: ${sb.path("home/root/.ssh")} is a symlink: refused`)]);
        expect(sb.list("elsewhere")).toEqual(["keys"]);
        expect(fs.readFileSync(target, "utf8")).toBe(`${INSTALLER}\n`);
    });

    test("a run that fails before the rename leaves the file as it was; the next run removes its temporary file and completes", () => {
        const before = `${INSTALLER}\n${OTHER}`;
        write(before);
        sb.write("sync-fails", "");
        const r = create();
        expect(r.status).not.toBe(0);
        expect(read()).toBe(before);
        expect(leftovers()).toEqual([expect.stringMatching(/^\.authorized_keys\.k8s-ha\.[A-Za-z0-9]{6}$/)]);
        fs.rmSync(sb.path("sync-fails"));
        expect(create().status).toBe(0);
        expect(read()).toBe(`${before}\n${LINE}\n`);
        expect(leftovers()).toEqual([]);
    });

    test("a change of SSH user moves the line: out of the old user's file, into the new one's (made as that user's own); delete takes it out of both", () => {
        write(`${INSTALLER}\n`);
        expect(create().status).toBe(0);
        expect(read()).toBe(`${INSTALLER}\n${LINE}\n`);
        const r = create("nobody");
        expect(r.status).toBe(0);
        expect(read()).toBe(`${INSTALLER}\n`);
        expect(read("nobody")).toBe(`${LINE}\n`);
        const st = fs.statSync(ak("nobody"));
        expect([st.uid, st.gid, st.mode & 0o777]).toEqual([65534, 65534, 0o600]);
        // A delete run with the old settings still finds the new user's line through the record.
        expect(del("root").status).toBe(0);
        expect(read("nobody")).toBe("");
        expect(read()).toBe(`${INSTALLER}\n`);
    });

    test("a line that is not one line of the step's is refused before the file is touched", () => {
        write(`${INSTALLER}\n`);
        sb.write("etc/etcd-backup/authorized_key", `ssh-ed25519 ${KEY} someone-else\n`);
        const r = create();
        expect([r.status, r.stderr]).toEqual([1, expect.stringContaining("error: the etcd members' authorized_keys line does not end in k8s-ha-etcd-backup")]);
        expect(read()).toBe(`${INSTALLER}\n`);
    });
});
