import { HostSandbox } from "./host-sandbox";

/**
 * scripts/host/lb.sh's three phases for a change of VRRP version (VRRPv2 and v3 drop each other's
 * adverts, so the two must never run at once): the stage stops the keepalived of the host that does
 * not hold the VIP and leaves it stopped, the VIP holder defers its reload to the finish phase, and
 * the join phase starts the stopped one. Stand-ins for ip and systemctl; hooks replace what would
 * touch this machine (the bundle, apt, the connection checks) and install the new config.
 */
const ENV = { K8SHA_VIP: "10.0.0.10", K8SHA_INTERFACE: "host0", K8SHA_PEER: "10.0.0.12", K8SHA_API_PORT: "6443" };
const V2 = "global_defs {\n    router_id lb1\n}\nvrrp_instance k8s_api {\n    advert_int 1\n}\n";
const V3 = "global_defs {\n    router_id lb1\n    vrrp_version 3\n}\nvrrp_instance k8s_api {\n    advert_int 0.1\n}\n";

/** An lb host whose keepalived runs with OLD (or none) and whose bundle brings NEW. */
function lbSandbox(holdsVip: boolean, old: string | undefined, next: string): { sb: HostSandbox; hooks: string } {
    const sb = new HostSandbox("lb1");
    const addresses = holdsVip ? "'2: host0    inet 10.0.0.11/24 scope global host0' '2: host0    inet 10.0.0.10/24 scope global secondary host0'" : "'2: host0    inet 10.0.0.11/24 scope global host0'";
    sb.standIn("ip", `case "$*" in\n"-o -4 addr show dev host0") printf '%s\\n' ${addresses} ;;\n*) true ;;\nesac`);
    sb.standIn("systemctl", "true");
    const conf = sb.path("etc/keepalived.conf");
    if (old !== undefined) sb.write("etc/keepalived.conf", old);
    sb.write("new.conf", next);
    sb.write("state/.keep", "");
    const hooks = [
        `read_bundle() { BUNDLE=("${conf}"); BUNDLE_CHECK["${conf}"]=keepalived; }`,
        "apt_install() { :; }",
        `install_bundle() { if ! cmp -s "${sb.path("new.conf")}" "${conf}"; then mkdir -p "$(dirname "${conf}")"; cp "${sb.path("new.conf")}" "${conf}"; RELOAD[keepalived]=yes; fi; }`,
        "peer_haproxy_answers() { true; }",
        "vip_answers() { true; }",
        "haproxy_listens() { true; }",
    ].join("\n");
    return { sb, hooks };
}

const systemctlCalls = (sb: HostSandbox): string[] => sb.calls().filter((c) => c.startsWith("systemctl ") && !c.startsWith("systemctl is-"));

describe("lb.sh: a change of VRRP version in three phases", () => {
    test("the host without the VIP: the stage stops keepalived and the join starts it", () => {
        const { sb, hooks } = lbSandbox(false, V2, V3);
        try {
            const stage = sb.step("lb", "create", { env: ENV, hooks });
            expect([stage.status, stage.stderr]).toEqual([0, expect.stringContaining("k8s-ha[lb1]: VRRP version 2 -> 3: stopping keepalived until the VIP holder (10.0.0.12) runs version 3")]);
            expect(systemctlCalls(sb)).toEqual(["systemctl stop keepalived"]);
            const join = sb.step("lb", "create", { env: { ...ENV, K8SHA_LB_PHASE: "join" }, hooks });
            expect([join.status, join.stderr]).toEqual([0, expect.stringContaining("k8s-ha[lb1]: starting keepalived with VRRP version 3 (stopped by the stage, was 2); 10.0.0.12 holds the VIP")]);
            expect(systemctlCalls(sb)).toEqual(["systemctl stop keepalived", "systemctl start keepalived"]);
            // A second join has nothing to do.
            const again = sb.step("lb", "create", { env: { ...ENV, K8SHA_LB_PHASE: "join" }, hooks });
            expect([again.status, again.stderr]).toEqual([0, expect.stringContaining("k8s-ha[lb1]: nothing to join")]);
            expect(systemctlCalls(sb)).toHaveLength(2);
        } finally {
            sb.remove();
        }
    });

    test("the VIP holder: the stage defers, the finish reloads keepalived alone, the join does nothing", () => {
        const { sb, hooks } = lbSandbox(true, V2, V3);
        try {
            const stage = sb.step("lb", "create", { env: ENV, hooks });
            expect([stage.status, stage.stderr]).toEqual([0, expect.stringContaining("holds the VIP: its reload waits until the peer has applied its change")]);
            expect(systemctlCalls(sb)).toEqual([]);
            const finish = sb.step("lb", "create", { env: { ...ENV, K8SHA_LB_PHASE: "finish" }, hooks });
            expect(finish.status).toBe(0);
            expect(systemctlCalls(sb)).toContain("systemctl reload keepalived");
            expect(systemctlCalls(sb)).not.toContain("systemctl stop keepalived");
            const join = sb.step("lb", "create", { env: { ...ENV, K8SHA_LB_PHASE: "join" }, hooks });
            expect([join.status, join.stderr]).toEqual([0, expect.stringContaining("nothing to join")]);
        } finally {
            sb.remove();
        }
    });

    test("the same version (an interval change): the host without the VIP reloads, nothing stops", () => {
        const { sb, hooks } = lbSandbox(false, V3, V3.replace("advert_int 0.1", "advert_int 0.2"));
        try {
            const stage = sb.step("lb", "create", { env: ENV, hooks });
            expect(stage.status).toBe(0);
            expect(systemctlCalls(sb)).toContain("systemctl reload keepalived");
            expect(systemctlCalls(sb)).not.toContain("systemctl stop keepalived");
        } finally {
            sb.remove();
        }
    });

    test("a first install is no change of version: keepalived is started in the stage", () => {
        const { sb, hooks } = lbSandbox(false, undefined, V3);
        try {
            // Each unit inactive until started.
            sb.standIn("systemctl", `unit=\${*: -1}; case "$1" in is-active) [ -f "${sb.path("started")}-$unit" ] || exit 3 ;; start | restart) touch "${sb.path("started")}-$unit" ;; esac`);
            const stage = sb.step("lb", "create", { env: ENV, hooks });
            expect(stage.status).toBe(0);
            expect(systemctlCalls(sb).filter((c) => c.includes("keepalived") && !c.includes("enable"))).toEqual(["systemctl restart keepalived"]);
        } finally {
            sb.remove();
        }
    });
});
