import { HostSandbox } from "./host-sandbox";

/**
 * scripts/host/lb.sh delete against stand-ins of ip and systemctl: a VIP left on the interface (a
 * killed keepalived leaves it) is removed as the interface lists it, with the network's prefix that
 * keepalived adds it with, not as /32; no VIP, no removal; a removal that fails fails the delete.
 */
const ENV = { K8SHA_VIP: "10.0.0.10", K8SHA_INTERFACE: "host0", K8SHA_PEER: "10.0.0.12", K8SHA_API_PORT: "6443" };

function lbSandbox(addresses: string, delFails = false): HostSandbox {
    const sb = new HostSandbox("lb1");
    sb.standIn(
        "ip",
        `case "$*" in
"-o -4 addr show dev host0") printf '%s\\n' ${addresses} ;;
"addr del "*) ${delFails ? 'echo "RTNETLINK answers: Operation not permitted" >&2; exit 2' : "true"} ;;
*) true ;;
esac`,
    );
    sb.standIn("systemctl", "true");
    return sb;
}

describe("an lb host's delete (lb.sh delete)", () => {
    test("the VIP the host still holds is removed with its own prefix", () => {
        const sb = lbSandbox(`'2: host0    inet 10.0.0.11/24 brd 10.0.0.255 scope global host0' '2: host0    inet 10.0.0.10/24 scope global secondary host0'`);
        try {
            const r = sb.step("lb", "delete", { env: ENV });
            expect([r.status, r.stderr]).toEqual([0, expect.stringContaining("k8s-ha[lb1]: removed the VIP 10.0.0.10/24 from host0")]);
            expect(sb.calls().filter((c) => c.startsWith("ip "))).toEqual(["ip -o -4 addr show dev host0", "ip addr del 10.0.0.10/24 dev host0"]);
        } finally {
            sb.remove();
        }
    });

    test("a host without the VIP removes nothing (an address that only starts like it is not the VIP)", () => {
        const sb = lbSandbox(`'2: host0    inet 10.0.0.11/24 scope global host0' '2: host0    inet 10.0.0.100/24 scope global secondary host0'`);
        try {
            const r = sb.step("lb", "delete", { env: ENV });
            expect(r.status).toBe(0);
            expect(sb.calls().filter((c) => c.startsWith("ip "))).toEqual(["ip -o -4 addr show dev host0"]);
        } finally {
            sb.remove();
        }
    });

    test("a removal that fails fails the delete, naming the host", () => {
        const sb = lbSandbox(`'2: host0    inet 10.0.0.10/24 scope global secondary host0'`, true);
        try {
            const r = sb.step("lb", "delete", { env: ENV });
            expect(r.status).not.toBe(0);
            expect(r.stderr).toContain("RTNETLINK answers: Operation not permitted");
            expect(r.stderr).toMatch(/k8s-ha\[lb1\]: .*failed/);
            expect(r.stderr).not.toContain("load balancer removed");
        } finally {
            sb.remove();
        }
    });
});
