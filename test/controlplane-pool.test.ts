import { apiserverPoolEnv } from "../components/render";
import { HostSandbox } from "./host-sandbox";

/**
 * scripts/host/controlplane.sh create, after its apiserver is ready: waits until the HAProxy of
 * every lb host reports this host's server UP (wait_in_lb_pools) before it goes on, so that the
 * next control-plane host restarts its apiserver only once this one is back in the pool. Run
 * against a curl stand-in that answers the local health paths and each lb host's stats as HAProxy
 * 2.6 writes them (CSV, the header naming the columns), and hooks that keep the step off this
 * machine's files and units (service_apply is logged instead).
 */

/** HAProxy 2.6's CSV header up to the columns the script reads (pxname, svname, status, type) and a few past them. */
const HEADER =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,";
const COLUMNS = HEADER.slice(2).split(",");

/** A row: the named fields set, the others empty. */
function row(fields: Record<string, string>): string {
    return COLUMNS.map((c) => fields[c] ?? "").join(",");
}

/** The stats page of an lb host whose servers have these states (type 2: a server; 0 and 1 the frontend and backend rows). */
function stats(states: Record<string, string>): string {
    return [
        HEADER,
        row({ pxname: "kube-apiserver", svname: "FRONTEND", status: "OPEN", type: "0" }),
        ...Object.entries(states).map(([server, status]) => row({ pxname: "kube-apiserver", svname: server, status, type: "2", check_status: "L7OK" })),
        row({ pxname: "kube-apiserver", svname: "BACKEND", status: "UP", type: "1" }),
        "",
    ].join("\n");
}

const LBS = [
    { name: "lb2", address: "10.0.0.12" },
    { name: "lb1", address: "10.0.0.11" },
];
const URL1 = "http://10.0.0.11:8404/stats;csv";
const URL2 = "http://10.0.0.12:8404/stats;csv";
const READYZ = "https://127.0.0.1:6443/readyz";

/**
 * curl as the step sees it: the local apiserver's /readyz and the controllers' /healthz answer ok;
 * an lb host's stats come from $SANDBOX/lb/ADDRESS/N.csv for its N-th poll (the last one again after
 * that); an lb host without such a folder does not answer.
 */
const CURL = `url=\${*: -1}
case $url in
https://127.0.0.1:*) echo ok ;;
http://*";csv")
    addr=\${url#http://}; addr=\${addr%%:*}
    d=$SANDBOX/lb/$addr
    if [[ ! -d $d ]]; then echo "curl: (7) Failed to connect to $addr port 8404 after 3 ms: Couldn't connect to server" >&2; exit 7; fi
    n=$(cat "$d/polls" 2>/dev/null || echo 0)
    echo $((n + 1)) >"$d/polls"
    f=$d/$n.csv
    [[ -f $f ]] || f=$(ls "$d"/*.csv | sort -V | tail -n 1)
    cat "$f" ;;
*) echo "curl stand-in: unexpected $*" >&2; exit 2 ;;
esac`;

/** The step's own functions that would install binaries or touch this machine's units and /var/log. */
const HOOKS = `install_k8s_binary() { [[ $1 == kube-apiserver ]]; }
service_apply() { printf 'service_apply %s %s\\n' "$1" "$2" >>"$SANDBOX/calls"; }
mkdir() { [[ \${*: -1} == /var/log/kubernetes ]] || command mkdir "$@"; }
chmod() { [[ \${*: -1} == /var/log/kubernetes ]] || command chmod "$@"; }`;

describe("a control-plane step waits for its apiserver in every lb host's pool (controlplane.sh)", () => {
    let sb: HostSandbox;
    const pollsOf = (address: string) => sb.calls().filter((c) => c.startsWith("curl ") && c.includes(`http://${address}:`)).length;
    /** Each lb host's stats, poll after poll (the last one stays). */
    const lb = (address: string, ...polls: Record<string, string>[]) => polls.forEach((s, i) => sb.write(`lb/${address}/${i}.csv`, stats(s)));
    const run = (env: Record<string, string> = { ...apiserverPoolEnv({ lbs: LBS }, "cp2"), K8SHA_LB_WAIT_SECONDS: "5" }) =>
        sb.step("controlplane", "create", { env: { K8S_URL: "https://dl.invalid/v1.35.4/bin/linux/amd64", ...env }, hooks: HOOKS });

    beforeEach(() => {
        sb = new HostSandbox("cp2");
        sb.standIn("curl", CURL);
    });
    afterEach(() => sb.remove());

    test("the environment: each lb host's stats by name, the backend, this host's server, and a deadline for the longest check interval", () => {
        expect(apiserverPoolEnv({ lbs: LBS }, "cp2")).toEqual({
            K8SHA_LB_STATS: `lb1=${URL1} lb2=${URL2}`,
            K8SHA_LB_BACKEND: "kube-apiserver",
            K8SHA_LB_SERVER: "cp2",
            // 30 s + 3 checks 10 s apart (rise 2, and one under way).
            K8SHA_LB_WAIT_SECONDS: "60",
        });
        expect(() => apiserverPoolEnv({ lbs: [] }, "cp2")).toThrow("apiserver pool: no lb hosts");
        expect(() => apiserverPoolEnv({ lbs: [...LBS, { name: "lb1", address: "10.0.0.13" }] }, "cp2")).toThrow('apiserver pool lb host name: "lb1" occurs more than once');
    });

    test("UP on both lb hosts: goes on to the controllers, after the apiserver's /readyz and one look at each", () => {
        lb("10.0.0.11", { cp1: "UP", cp2: "UP", cp3: "DOWN" });
        lb("10.0.0.12", { cp1: "UP", cp2: "UP", cp3: "UP" });
        const r = run();
        expect([r.status, r.stderr]).toEqual([0, expect.stringContaining("k8s-ha[cp2]: control plane ready")]);
        expect(r.stderr).toContain("k8s-ha[cp2]: lb host lb1's HAProxy has server cp2 of backend kube-apiserver UP");
        expect(r.stderr).toContain("k8s-ha[cp2]: lb host lb2's HAProxy has server cp2 of backend kube-apiserver UP");
        const calls = sb.calls().filter((c) => c.startsWith("service_apply ") || c.includes(READYZ) || c.includes(";csv"));
        expect(calls.map((c) => c.replace(/^curl .* (\S+)$/, "curl $1"))).toEqual([
            "service_apply kube-apiserver yes",
            `curl ${READYZ}`,
            `curl ${URL1}`,
            `curl ${URL2}`,
            "service_apply kube-controller-manager no",
            "service_apply kube-scheduler no",
        ]);
    });

    test("a restarted apiserver HAProxy has not taken back yet: waited for, poll by poll, until UP", () => {
        lb("10.0.0.11", { cp2: "DOWN" }, { cp2: "DOWN 1/2" }, { cp2: "UP" });
        lb("10.0.0.12", { cp2: "NOLB" }, { cp2: "UP" });
        const r = run();
        expect(r.status).toBe(0);
        expect([pollsOf("10.0.0.11"), pollsOf("10.0.0.12")]).toEqual([3, 2]);
        expect(sb.calls()).toContain("service_apply kube-controller-manager no");
    });

    test.each(["DOWN", "NOLB", "UP 1/2"])("an lb host that still reports %s at the deadline fails the step, naming the lb host, backend, server and state", (state) => {
        lb("10.0.0.11", { cp2: "UP" });
        lb("10.0.0.12", { cp2: state });
        const r = run();
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`k8s-ha[cp2]: error: lb host lb2's HAProxy still reports server cp2 of backend kube-apiserver as ${state} after 5s, not UP`);
        expect(pollsOf("10.0.0.12")).toBe(5);
        expect(sb.calls()).not.toContain("service_apply kube-controller-manager no");
        expect(r.stderr).not.toContain("control plane ready");
    });

    test("an lb host whose stats do not answer fails the step, naming it and curl's error", () => {
        lb("10.0.0.11", { cp2: "UP" });
        const r = run();
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(
            `k8s-ha[cp2]: error: could not read lb host lb2's HAProxy stats (${URL2}) within 5s, to see server cp2 of backend kube-apiserver UP: curl: (7) Failed to connect to 10.0.0.12 port 8404`,
        );
        expect(sb.calls()).not.toContain("service_apply kube-controller-manager no");
    });

    test("an lb host whose HAProxy has no such server fails the step saying so", () => {
        lb("10.0.0.11", { cp1: "UP", cp3: "UP" });
        lb("10.0.0.12", { cp2: "UP" });
        const r = run();
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("k8s-ha[cp2]: error: lb host lb1's HAProxy has no server cp2 in backend kube-apiserver (after 5s)");
    });

    test("without a load-balancer pair (no K8SHA_LB_STATS): its own /readyz only", () => {
        const r = run({});
        expect(r.status).toBe(0);
        expect(sb.calls().filter((c) => c.includes(";csv"))).toEqual([]);
        expect(sb.calls()).toContain("service_apply kube-controller-manager no");
    });
});
