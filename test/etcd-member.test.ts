import { encodeBundle } from "../components/runner";
import { HostSandbox } from "./host-sandbox";

/**
 * scripts/host/etcd.sh against stand-ins of etcdctl and systemctl: a member restarts only under the
 * cluster's roll lock while every member is healthy, and a member that leaves removes itself from
 * the cluster first, or stops with its data in place when etcd refuses (quorum).
 */
const TLS = "--cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key";
const ENDPOINTS = ["https://10.0.0.21:2379", "https://10.0.0.22:2379", "https://10.0.0.23:2379"];
const ALL = `etcdctl --endpoints=${ENDPOINTS.join(",")} <tls>`;
const LOCAL = "etcdctl --endpoints=https://127.0.0.1:2379 <tls> --command-timeout=3s";
const OTHERS = `etcdctl --endpoints=${ENDPOINTS.slice(1).join(",")} <tls>`;
const LOCK = [`${ALL} lock --ttl=30 k8s-ha/etcd-roll`, "etcdctl: lock granted"];
const RELEASED = "etcdctl: lock released";
const ID = "8e9e05c52164694d";
const MEMBERS = [
    `${ID}, started, cp1, https://10.0.0.21:2380, https://10.0.0.21:2379, false`,
    "91bc3c398fb3c146, started, cp2, https://10.0.0.22:2380, https://10.0.0.22:2379, false",
    "fd422379fda50e48, started, cp3, https://10.0.0.23:2380, https://10.0.0.23:2379, false",
];
/** A serving member's calls from the start of its step to its restart, under the roll lock with every member healthy. */
const UP_TO_RESTART = [
    "systemctl enable -q etcd",
    "systemctl is-active -q etcd",
    `${LOCAL} endpoint health`,
    ...LOCK,
    `${ALL} --command-timeout=3s endpoint health`,
    "systemctl restart --no-block etcd",
];
const ETCD_URL = "https://example.invalid/etcd-v3.6.5-linux-amd64.tar.gz";
const ENV = { ETCD_ENDPOINTS: ENDPOINTS.join(","), ETCD_URL, ETCD_SHA256: "0".repeat(64), ETCD_VERSION: "3.6.5" };

/**
 * etcdctl as the test sets it in $SANDBOX/etcd: `local-health` (exit code of this member's health),
 * `cluster-health` (per call, how many of the 3 members answer healthy; the last line repeats),
 * `members` (the member list; a removal takes its line out), `remove-fails` (what a failed
 * removal prints), `remove-applies` (the failed removal went through all the same),
 * `others-list-fails`; systemctl: `active` (exit code of is-active), `restart-fails`. The lock prints its key, then holds until it is ended (TERM).
 */
function etcdStandIns(sb: HostSandbox): void {
    sb.standIn(
        "etcdctl",
        `d=$SANDBOX/etcd
case " $* " in
*" lock --ttl=30 k8s-ha/etcd-roll ")
    log "etcdctl: lock granted"
    echo "k8s-ha/etcd-roll/694d7c1e4b3a0f12"
    trap 'log "etcdctl: lock released"; exit 0' TERM
    while kill -0 "$PPID" 2>/dev/null; do "$REAL_SLEEP" 0.02 & wait $!; done
    ;;
*" endpoint health ")
    if [[ $1 == --endpoints=https://127.0.0.1:2379 ]]; then exit "$(cat "$d/local-health" 2>/dev/null || echo 0)"; fi
    n=$(head -n 1 "$d/cluster-health")
    if (($(wc -l <"$d/cluster-health") > 1)); then sed -i 1d "$d/cluster-health"; fi
    for i in 1 2 3; do
        if ((i <= n)); then echo "https://10.0.0.2$i:2379 is healthy: successfully committed proposal: took = 2ms"
        else echo "https://10.0.0.2$i:2379 is unhealthy: failed to commit proposal: context deadline exceeded"; fi
    done
    ((n == 3))
    ;;
*" member list ")
    if [[ $1 != --endpoints=https://127.0.0.1:2379 && -f $d/others-list-fails ]]; then echo "Error: context deadline exceeded"; exit 1; fi
    cat "$d/members"
    ;;
*" member remove "*)
    id=\${*: -1}
    if [[ -f $d/remove-fails ]]; then
        if [[ -f $d/remove-applies ]]; then sed -i "/^$id, /d" "$d/members"; fi
        cat "$d/remove-fails"
        exit 1
    fi
    sed -i "/^$id, /d" "$d/members"
    echo "Member $id removed from cluster 1c45a069f3a1d796"
    ;;
*) echo "etcdctl stand-in: unexpected $*"; exit 2 ;;
esac`,
    );
    sb.standIn(
        "systemctl",
        `case "$*" in
"is-active -q etcd") exit "$(cat "$SANDBOX/etcd/active" 2>/dev/null || echo 0)" ;;
"restart --no-block etcd") [[ ! -f $SANDBOX/etcd/restart-fails ]] ;;
esac`,
    );
    sb.shadow("/usr/local/bin/etcdctl");
    sb.write("etcd/members", MEMBERS.join("\n") + "\n");
    sb.write("etcd/cluster-health", "3\n");
}

/** The calls, with the health-check client's TLS flags (the same in every call, checked once) as <tls>. */
function calls(sb: HostSandbox): string[] {
    const all = sb.calls();
    for (const c of all.filter((l) => l.startsWith("etcdctl --"))) expect([c, c.includes(` ${TLS} `)]).toEqual([c, true]);
    return all.map((l) => l.replace(` ${TLS}`, " <tls>"));
}

describe("an etcd member's restart (etcd.sh create)", () => {
    let sb: HostSandbox;
    // The step's own downloads, user and ownership touch this machine's /usr/local/bin and
    // /var/lib/etcd: here they are done already. The rest of create runs as written.
    const hooks = ["ensure_etcd_user() { :; }", "install_etcd_binaries() { return 1; }", "own_etcd_files() { :; }"].join("\n");
    const create = (unit: string) =>
        sb.step("etcd", "create", { env: ENV, hooks, input: encodeBundle([{ path: sb.path("etc/etcd.service"), mode: "0600", content: unit, restarts: ["etcd"] }]) });

    beforeEach(() => {
        sb = new HostSandbox("cp1");
        etcdStandIns(sb);
        sb.write("etc/etcd.service", "v1", 0o600);
    });
    afterEach(() => sb.remove());

    test("a changed file restarts a serving member under the roll lock, once every member is healthy, and releases the lock once all are healthy again", () => {
        const r = create("v2");
        expect(r.stderr).toContain("k8s-ha[cp1]: etcd restarted; every member healthy; roll lock released at");
        expect(r.status).toBe(0);
        expect(calls(sb)).toEqual([
            ...UP_TO_RESTART,
            `${LOCAL} endpoint health`,
            `${ALL} --command-timeout=3s endpoint health`,
            RELEASED,
            `${LOCAL} endpoint health`,
        ]);
        // The same file again: nothing restarts, no lock is taken.
        sb.clearCalls();
        expect(create("v2").status).toBe(0);
        expect(calls(sb)).toEqual(["systemctl enable -q etcd", "systemctl is-active -q etcd", `${LOCAL} endpoint health`]);
    });

    test("with another member unhealthy, the restart waits for it (lock held) instead of risking quorum", () => {
        sb.write("etcd/cluster-health", "2\n2\n3\n");
        const r = create("v2");
        expect(r.status).toBe(0);
        const c = calls(sb);
        expect(c.slice(c.indexOf(LOCK[1]) + 1, c.indexOf("systemctl restart --no-block etcd"))).toEqual(Array(3).fill(`${ALL} --command-timeout=3s endpoint health`));
    });

    test("a restart that fails fails the step, and the lock is released all the same", () => {
        sb.write("etcd/restart-fails", "");
        const r = create("v2");
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("k8s-ha[cp1]: error: command failed at line");
        expect(calls(sb)).toEqual([
            ...UP_TO_RESTART,
            RELEASED,
        ]);
    });

    test("a member that does not serve (first start, or down) restarts at once, without the lock", () => {
        sb.write("etcd/active", "3");
        const r = create("v2");
        expect(r.status).toBe(0);
        expect(calls(sb)).toEqual(["systemctl enable -q etcd", "systemctl is-active -q etcd", "systemctl restart --no-block etcd", `${LOCAL} endpoint health`]);
    });
});

describe("an etcd member leaving its cluster (etcd.sh delete)", () => {
    let sb: HostSandbox;
    // The snapshot and the removals would touch this machine's etcd: they are logged instead.
    const hooks = [
        `log() { printf '%s\\n' "$*" >>"$SANDBOX/calls"; }`,
        "snapshot_before_delete() { log snapshot_before_delete; }",
        'service_remove() { log "service_remove $*"; }',
        'remove_paths() { log "remove_paths $*"; }',
    ].join("\n");
    const del = () => sb.step("etcd", "delete", { env: ENV, hooks });
    const removal = `remove_paths /usr/local/bin/etcd /usr/local/bin/etcdctl /usr/local/bin/etcdutl /etc/etcd /var/lib/etcd /var/cache/k8s-ha/etcd-v3.6.5-linux-amd64.tar.gz`;
    const leaving = ["snapshot_before_delete", "systemctl is-active -q etcd", `${LOCAL} endpoint health`, `${LOCAL} member list`, ...LOCK, `${LOCAL} member list`];
    const remove = `${OTHERS} --command-timeout=30s member remove ${ID}`;

    beforeEach(() => {
        sb = new HostSandbox("cp1");
        etcdStandIns(sb);
    });
    afterEach(() => sb.remove());

    test("it removes itself through the other members under the roll lock, then its data goes", () => {
        const r = del();
        expect(r.stderr).toContain(`k8s-ha[cp1]: left the etcd cluster (member ${ID} removed; 2 left)`);
        expect(r.status).toBe(0);
        expect(calls(sb)).toEqual([...leaving, remove, RELEASED, "service_remove etcd", removal]);
        expect(sb.read("etcd/members")).toBe(MEMBERS.slice(1).join("\n") + "\n");
    });

    test("a removal that answers an error but went through (its own answer lost) is taken as done", () => {
        sb.write("etcd/remove-fails", "Error: error reading from server: EOF\n");
        sb.write("etcd/remove-applies", "");
        const r = del();
        expect(r.stderr).toContain(`k8s-ha[cp1]: member remove answered 'Error: error reading from server: EOF', but the other members no longer list ${ID}`);
        expect(r.status).toBe(0);
        expect(calls(sb)).toEqual([...leaving, remove, `${OTHERS} --command-timeout=10s member list`, RELEASED, "service_remove etcd", removal]);
    });

    test("a removal etcd refuses (too few members left for a quorum) stops the delete with the data in place", () => {
        const refusal = "Error: etcdserver: re-configuration failed due to not enough started members";
        sb.write("etcd/remove-fails", refusal + "\n");
        const r = del();
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(
            `k8s-ha[cp1]: error: cannot leave the etcd cluster of 3 members without losing its quorum (${refusal}); bring the other members back to health, or remove fewer at once; etcd's data is still on this host`,
        );
        expect(calls(sb)).toEqual([...leaving, remove, `${OTHERS} --command-timeout=10s member list`, RELEASED]);
        expect(sb.read("etcd/members")).toBe(MEMBERS.join("\n") + "\n");
    });

    test("a failed removal the other members cannot confirm (they do not answer) stops too", () => {
        sb.write("etcd/remove-fails", "Error: context deadline exceeded\n");
        sb.write("etcd/others-list-fails", "");
        const r = del();
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("k8s-ha[cp1]: error: cannot leave the etcd cluster of 3 members without losing its quorum (Error: context deadline exceeded)");
        expect(calls(sb)).toEqual([...leaving, remove, `${OTHERS} --command-timeout=10s member list`, RELEASED]);
    });

    test("the last member has no one to leave: no lock, no removal", () => {
        sb.write("etcd/members", MEMBERS[0] + "\n");
        const r = del();
        expect(r.stderr).toContain("k8s-ha[cp1]: the last etcd member: no other member to leave");
        expect(r.status).toBe(0);
        expect(calls(sb)).toEqual(["snapshot_before_delete", "systemctl is-active -q etcd", `${LOCAL} endpoint health`, `${LOCAL} member list`, "service_remove etcd", removal]);
    });

    test("a running member that does not serve cannot leave: the delete stops with the data in place", () => {
        sb.write("etcd/local-health", "1");
        const r = del();
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("k8s-ha[cp1]: error: etcd on cp1 does not serve, so it cannot leave its cluster with member remove;");
        expect(calls(sb)).toEqual(["snapshot_before_delete", "systemctl is-active -q etcd", `${LOCAL} endpoint health`]);
    });
});
