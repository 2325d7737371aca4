import { HostSandbox } from "./host-sandbox";

/**
 * Drain before down (issue 31): scripts/host/controlplane.sh create against stand-ins of systemctl
 * and curl. The stand-in curl plays each lb host's HAProxy stats page, which shows this host's
 * server as the agent's state file says (DRAIN while it says drain, else UP), and the local
 * /readyz. The binaries and the bundle are the hooks' (nothing is installed on this machine).
 */
const LBS = { lb1: "10.0.0.11:8404", lb2: "10.0.0.12:8404" };

function rollSandbox(): HostSandbox {
    const sb = new HostSandbox("cp1");
    sb.standIn(
        "systemctl",
        `case "$1" in
is-active) [[ -f $SANDBOX/down ]] && exit 3; exit 0 ;;
restart) touch "$SANDBOX/restarted" ;;
esac
exit 0`,
    );
    // lb-NAME-gone: the page does not answer; lb-NAME-stuck: the server stays DOWN there;
    // sessions: how many connections the server keeps.
    sb.standIn(
        "curl",
        `url=\${*: -1}
case $url in
https://127.0.0.1:6443/readyz) echo ok; exit 0 ;;
http://*/\\;csv\\;norefresh) ;;
*) exit 0 ;;
esac
where=\${url#http://}; where=\${where%%/*}
case $where in ${LBS.lb1}) lb=lb1 ;; ${LBS.lb2}) lb=lb2 ;; *) exit 7 ;; esac
[[ -f $SANDBOX/lb-$lb-gone ]] && exit 7
status=UP
if [[ $(cat "$SANDBOX/agent/state" 2>/dev/null) == drain ]]; then status="DRAIN (agent)"
elif [[ -f $SANDBOX/lb-$lb-stuck ]]; then status=DOWN; fi
sessions=$(cat "$SANDBOX/sessions" 2>/dev/null || echo 0)
[[ $status == DRAIN* && -f $SANDBOX/restarted ]] && status="DRAIN (agent), after the restart"
log "$lb shows $status"
printf '# pxname,svname,qcur,qmax,scur,smax,status,weight\\n'
printf 'kube-apiserver,FRONTEND,,,0,1,OPEN,\\n'
printf 'kube-apiserver,cp1,0,0,%s,1,%s,1\\n' "$sessions" "$status"
printf 'kube-apiserver,cp2,0,0,9,9,UP,1\\n'`,
        false,
    );
    return sb;
}

function env(sb: HostSandbox): Record<string, string> {
    return {
        K8S_URL: "https://dl.invalid/bin",
        K8SHA_APISERVER_PORT: "6443",
        K8SHA_AGENT_STATE: sb.path("agent/state"),
        K8SHA_AGENT_DRAIN: "drain",
        K8SHA_LB_STATS: `lb1=${LBS.lb1} lb2=${LBS.lb2}`,
        K8SHA_LB_BACKEND: "kube-apiserver",
        K8SHA_LB_SERVER: "cp1",
        K8SHA_LB_SETTLE_SECONDS: "5",
        K8SHA_LB_DRAIN_SECONDS: "3",
    };
}

/** The hooks: no binary or file of this machine is touched; `change` says whether the apiserver's files changed. */
function hooks(change: boolean): string {
    return [
        "install_k8s_binary() { return 1; }",
        `install_bundle() { ${change ? "RESTART[kube-apiserver]=yes; return 0" : "return 1"}; }`,
        'mkdir() { [[ $* == *" /var/log/kubernetes" ]] || command mkdir "$@"; }',
        'chmod() { [[ $* == *" /var/log/kubernetes" ]] || command chmod "$@"; }',
    ].join("\n");
}

/** The call log, without the systemctl questions (is-active, is-enabled). */
function roll(sb: HostSandbox): string[] {
    return sb.calls().filter((c) => !/^systemctl (is-active|is-enabled)/.test(c));
}

describe("a control-plane host's roll (controlplane.sh create): drain before down", () => {
    test("a changed apiserver is drained on both lb hosts, restarted, and the roll goes on once both show it UP", () => {
        const sb = rollSandbox();
        try {
            const r = sb.step("controlplane", "create", { env: env(sb), hooks: hooks(true) });
            expect([r.status, r.stderr]).toEqual([0, expect.stringContaining("k8s-ha[cp1]: control plane ready")]);
            expect(roll(sb)).toEqual([
                "lb1 shows DRAIN (agent)",
                "lb2 shows DRAIN (agent)",
                "lb1 shows DRAIN (agent)",
                "lb2 shows DRAIN (agent)",
                "systemctl restart kube-apiserver",
                "lb1 shows UP",
                "lb2 shows UP",
            ]);
            expect(r.stderr).toContain("k8s-ha[cp1]: lb host lb2: kube-apiserver/cp1 DRAIN (agent)");
            expect(r.stderr).toContain("k8s-ha[cp1]: lb host lb2: kube-apiserver/cp1 UP");
            expect(sb.read("agent/state")).toBe("ready\n");
        } finally {
            sb.remove();
        }
    });

    test("connections that stay open are given K8SHA_LB_DRAIN_SECONDS, then the restart goes ahead", () => {
        const sb = rollSandbox();
        try {
            sb.write("sessions", "3\n");
            const r = sb.step("controlplane", "create", { env: env(sb), hooks: hooks(true) });
            expect(r.status).toBe(0);
            expect(r.stderr).toContain("k8s-ha[cp1]: 6 connections still open after 3s; the apiserver's graceful shutdown ends them");
            expect(roll(sb)).toContain("systemctl restart kube-apiserver");
        } finally {
            sb.remove();
        }
    });

    test("an lb host that never shows the server UP again fails the roll, naming the lb host, backend and server", () => {
        const sb = rollSandbox();
        try {
            sb.write("lb-lb2-stuck", "");
            const r = sb.step("controlplane", "create", { env: env(sb), hooks: hooks(true) });
            expect(r.status).not.toBe(0);
            expect(r.stderr).toContain("k8s-ha[cp1]: error: lb host lb2 did not show kube-apiserver/cp1 up within 5s: it shows it DOWN");
            expect(roll(sb)).toContain("systemctl restart kube-apiserver");
            expect(r.stderr).not.toContain("control plane ready");
        } finally {
            sb.remove();
        }
    });

    test("an lb host whose stats page does not answer fails the roll before the restart, and the apiserver goes back in rotation", () => {
        const sb = rollSandbox();
        try {
            sb.write("lb-lb2-gone", "");
            const r = sb.step("controlplane", "create", { env: env(sb), hooks: hooks(true) });
            expect(r.status).not.toBe(0);
            expect(r.stderr).toContain(
                "k8s-ha[cp1]: error: lb host lb2 did not show kube-apiserver/cp1 drained within 5s: it did not answer on http://10.0.0.12:8404/ (its HAProxy's stats page)",
            );
            expect(roll(sb)).not.toContain("systemctl restart kube-apiserver");
            expect(sb.read("agent/state")).toBe("ready\n");
        } finally {
            sb.remove();
        }
    });

    test("an lb host without this server (an older haproxy.cfg) fails the roll and says so", () => {
        const sb = rollSandbox();
        try {
            const e = { ...env(sb), K8SHA_LB_SERVER: "cp9" };
            const r = sb.step("controlplane", "create", { env: e, hooks: hooks(true) });
            expect(r.status).not.toBe(0);
            expect(r.stderr).toContain("error: lb host lb1 did not show kube-apiserver/cp9 drained within 5s: it has no server cp9 in backend kube-apiserver");
        } finally {
            sb.remove();
        }
    });

    test("nothing changed: no drain, no restart, no lb host asked", () => {
        const sb = rollSandbox();
        try {
            const r = sb.step("controlplane", "create", { env: env(sb), hooks: hooks(false) });
            expect(r.status).toBe(0);
            expect(roll(sb).filter((c) => / shows |restart/.test(c))).toEqual([]);
        } finally {
            sb.remove();
        }
    });

    test("an apiserver an earlier run left drained is put back and waited for, without a restart", () => {
        const sb = rollSandbox();
        try {
            sb.write("agent/state", "drain\n");
            const r = sb.step("controlplane", "create", { env: env(sb), hooks: hooks(false) });
            expect(r.status).toBe(0);
            expect(roll(sb).filter((c) => / shows |restart/.test(c))).toEqual(["lb1 shows UP", "lb2 shows UP"]);
            expect(sb.read("agent/state")).toBe("ready\n");
        } finally {
            sb.remove();
        }
    });

    test("a first start (no apiserver running yet) has nothing to drain, and waits until both lb hosts show it UP", () => {
        const sb = rollSandbox();
        try {
            sb.write("down", "");
            const r = sb.step("controlplane", "create", { env: env(sb), hooks: hooks(true) });
            expect(r.status).toBe(0);
            expect(roll(sb).filter((c) => / shows |kube-apiserver/.test(c))).toEqual(["systemctl restart kube-apiserver", "lb1 shows UP", "lb2 shows UP"]);
        } finally {
            sb.remove();
        }
    });
});
