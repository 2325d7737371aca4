/**
 * HAProxy in front of the apiservers: plain TCP passthrough (TLS ends at the apiserver, which
 * needs the client certificate), with an HTTPS health check of every apiserver's `/livez` and an
 * agent check (render/apiserver-agent.ts) for its readiness.
 */
import { APISERVER_AGENT_PORT } from "./apiserver-agent";
import { APISERVER_PORT } from "./controlplane";
import { LB_FILES } from "./paths";
import { byName, joinLines, requireAbsolutePath, requireInt, requireIpv4, requireToken, requireUnique } from "./text";

/** The backend of the apiservers: the name their servers have in HAProxy's stats. */
export const HAPROXY_BACKEND = "kube-apiserver";

/** The port of each lb host's read-only stats page (CSV at `/;csv`), on the host's own address. */
export const HAPROXY_STATS_PORT = 8404;

/** How many health checks in a row take a server out (`fall`) or put it back (`rise`). */
export const HAPROXY_FALL = 2;
export const HAPROXY_RISE = 2;

export interface HaproxyBackend {
    /** The control-plane host's name: the server's name in HAProxy's stats. */
    name: string;
    address: string;
    /** Default 6443. */
    port?: number;
}

export interface HaproxyParams {
    /** Port the frontend listens on (the VIP's port). */
    apiPort: number;
    /** Every apiserver. Order does not matter (sorted by name). */
    backends: readonly HaproxyBackend[];
    /**
     * CA to verify the apiservers' certificates in health checks. Default: none (`verify none`).
     * The check only decides whether to route to a server, and the traffic itself is TLS between
     * client and apiserver, so an unverified check cannot leak anything; verifying needs the cluster
     * CA on the LB hosts and catches a wrong certificate early.
     */
    healthCheckCaFile?: string;
    /** Default `/run/haproxy/admin.sock` (`echo "show stat" | socat - /run/haproxy/admin.sock`). */
    statsSocket?: string;
    /** How often each apiserver is checked, and its agent asked, in ms. Default 1000. */
    checkIntervalMs?: number;
    /** This lb host's own address: the stats page listens there. */
    statsAddress: string;
    /** Default HAPROXY_STATS_PORT. */
    statsPort?: number;
    /** The agent's port on the control-plane hosts. Default APISERVER_AGENT_PORT. */
    agentPort?: number;
}

/**
 * `/etc/haproxy/haproxy.cfg`.
 *
 * - The frontend binds `*:apiPort`, not the VIP: the backup host does not hold the VIP, and
 *   HAProxy must already listen there when keepalived moves the VIP over.
 * - Health check: `GET /livez` over TLS every second; two failures mark a server down, two
 *   successes up. A server marked down has its connections cut (`on-marked-down
 *   shutdown-sessions`), so clients of a dead apiserver reconnect at once instead of hanging.
 *   `/livez`, not `/readyz`: an apiserver that stops fails `/readyz` at once but serves its
 *   requests in flight for its shutdown delay, and cutting it then loses them (issue 31).
 * - Readiness comes from the agent on each control-plane host (`agent-check`, as often as the
 *   health check): `drain` (no new connections, the open ones go on) while its `/readyz` fails or
 *   a roll restarts it, `ready` otherwise. An agent that does not answer changes nothing.
 * - A read-only stats page on the host's own address (no `stats admin`): the control-plane
 *   hosts' rolls read each server's state there; the firewall admits only the cluster's
 *   control-plane and lb hosts. `/readyz`, `/livez` and the agent need no credentials (the
 *   apiserver's authentication config allows anonymous requests on the health paths only).
 * - Client and server timeouts are long (1 h): `kubectl logs -f`, `exec` and watches sit idle
 *   for minutes, and HAProxy would otherwise cut them.
 */
export function renderHaproxyConfig(p: HaproxyParams): string {
    requireInt(p.apiPort, 1, 65535, "haproxy apiPort");
    if (p.backends.length === 0) {
        throw new Error("haproxy: backends is empty");
    }
    for (const b of p.backends) {
        requireToken(b.name, "haproxy backend name");
        requireIpv4(b.address, `haproxy backend "${b.name}" address`);
        requireInt(b.port ?? APISERVER_PORT, 1, 65535, `haproxy backend "${b.name}" port`);
    }
    requireUnique(
        p.backends.map((b) => b.name),
        "haproxy backend name",
    );
    const interval = p.checkIntervalMs ?? 1000;
    requireInt(interval, 100, 10_000, "haproxy checkIntervalMs");
    const inter = interval % 1000 === 0 ? `${interval / 1000}s` : `${interval}ms`;
    const socket = p.statsSocket ?? LB_FILES.haproxyStatsSocket;
    requireAbsolutePath(socket, "haproxy statsSocket");
    requireIpv4(p.statsAddress, "haproxy statsAddress");
    const statsPort = p.statsPort ?? HAPROXY_STATS_PORT;
    requireInt(statsPort, 1, 65535, "haproxy statsPort");
    const agentPort = p.agentPort ?? APISERVER_AGENT_PORT;
    requireInt(agentPort, 1, 65535, "haproxy agentPort");
    if (statsPort === p.apiPort) throw new Error(`haproxy: statsPort ${statsPort} is the apiPort`);
    let verify = "verify none";
    if (p.healthCheckCaFile !== undefined) {
        requireAbsolutePath(p.healthCheckCaFile, "haproxy healthCheckCaFile");
        verify = `verify required ca-file ${p.healthCheckCaFile}`;
    }
    return joinLines([
        "# Rendered by k8s-ha. Changes here are overwritten.",
        "global",
        "    log /dev/log local0 notice",
        "    user haproxy",
        "    group haproxy",
        `    stats socket ${socket} mode 660 level admin`,
        "    stats timeout 30s",
        "",
        "defaults",
        "    mode tcp",
        "    log global",
        "    option tcplog",
        "    option dontlognull",
        "    timeout connect 5s",
        "    timeout client 1h",
        "    timeout server 1h",
        "    timeout check 2s",
        // A connection refused by an apiserver that is stopping goes to another one instead of failing.
        "    retries 3",
        "    option redispatch 1",
        "",
        `frontend ${HAPROXY_BACKEND}`,
        `    bind *:${p.apiPort}`,
        `    default_backend ${HAPROXY_BACKEND}`,
        "",
        `backend ${HAPROXY_BACKEND}`,
        "    balance roundrobin",
        "    option httpchk",
        "    http-check send meth GET uri /livez",
        "    http-check expect status 200",
        `    default-server check check-ssl ${verify} inter ${inter} fall ${HAPROXY_FALL} rise ${HAPROXY_RISE} on-marked-down shutdown-sessions agent-check agent-port ${agentPort} agent-inter ${inter}`,
        ...byName(p.backends).map((b) => `    server ${b.name} ${b.address}:${b.port ?? APISERVER_PORT}`),
        "",
        "listen stats",
        "    mode http",
        `    bind ${p.statsAddress}:${statsPort}`,
        "    timeout client 10s",
        "    timeout http-request 5s",
        "    stats enable",
        "    stats uri /",
    ]);
}
