/**
 * HAProxy in front of the apiservers: plain TCP passthrough (TLS ends at the apiserver, which
 * needs the client certificate), with an HTTPS health check of every apiserver's `/readyz` that
 * drains a stopping apiserver before it takes it down.
 */
import { APISERVER_PORT } from "./controlplane";
import { LB_FILES } from "./paths";
import { byName, joinLines, requireAbsolutePath, requireInt, requireIpv4, requireToken, requireUnique } from "./text";

/** The backend of the apiservers: its name in HAProxy's stats. */
export const HAPROXY_API_BACKEND = "kube-apiserver";

/**
 * HAProxy's read-only stats page on every lb host (HAProxy's usual stats port), which the
 * control-plane steps read to see their apiserver back in the pool; `;csv` after the path gives CSV.
 */
export const HAPROXY_STATS = { port: 8404, path: "/stats" } as const;

/** The health checks' interval a stack may set (`k8s-ha:loadBalancer.healthCheckIntervalMs`), in ms. */
export const HEALTH_CHECK_INTERVAL_MS = { min: 100, max: 10_000 } as const;

/** Successful checks HAProxy needs to take a server (back) into the pool, and failed ones to take it out. */
export const HAPROXY_RISE = 2;
export const HAPROXY_FALL = 2;

/** The URL of an lb host's stats as CSV. */
export function haproxyStatsUrl(address: string): string {
    requireIpv4(address, "haproxy stats address");
    return `http://${address}:${HAPROXY_STATS.port}${HAPROXY_STATS.path};csv`;
}

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
    /** How often each apiserver is checked, in ms. Default 1000. */
    checkIntervalMs?: number;
}

/**
 * `/etc/haproxy/haproxy.cfg`.
 *
 * - The frontend binds `*:apiPort`, not the VIP: the backup host does not hold the VIP, and
 *   HAProxy must already listen there when keepalived moves the VIP over.
 * - Health check, over TLS every second, two requests: `GET /readyz?exclude=shutdown`, then
 *   `GET /readyz`. Two failures of the first take a server down, two successes put it back, so a
 *   dead or unready apiserver stops getting new connections within ~2 s. `/readyz` is reachable
 *   without credentials (the apiserver's authentication config allows anonymous requests on the
 *   health paths only).
 * - Drain before down: an apiserver that is stopping fails only `/readyz`'s `shutdown` check for
 *   its `--shutdown-delay-duration` while it still serves. The second request's failure is a
 *   conditional pass (`error-status L7OKC`), which puts the server in HAProxy's NOLB state: no new
 *   connections, and those open go on (requests in flight finish). It goes down (below) only when
 *   the apiserver stops answering its health paths, which it still serves while it drains.
 * - Connections of a server marked down are cut (`on-marked-down shutdown-sessions`), so watches
 *   reconnect to a live apiserver instead of hanging on a dead one.
 * - Client and server timeouts are long (1 h): `kubectl logs -f`, `exec` and watches sit idle
 *   for minutes, and HAProxy would otherwise cut them.
 * - The stats page (HAPROXY_STATS) shows the apiservers' backend only, read-only (no `stats
 *   admin`), and answers the apiservers' hosts only (403 to others; the lb hosts' firewall opens
 *   the port to them alone too). It binds `*` like the frontend: a bind to the host's address would
 *   stop HAProxy from starting at all when that address comes up late at boot.
 */
export function renderHaproxyConfig(p: HaproxyParams): string {
    requireInt(p.apiPort, 1, 65535, "haproxy apiPort");
    if (p.apiPort === HAPROXY_STATS.port) throw new Error(`haproxy apiPort: ${p.apiPort} is the stats page's port`);
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
    requireInt(interval, HEALTH_CHECK_INTERVAL_MS.min, HEALTH_CHECK_INTERVAL_MS.max, "haproxy checkIntervalMs");
    const inter = interval % 1000 === 0 ? `${interval / 1000}s` : `${interval}ms`;
    const socket = p.statsSocket ?? LB_FILES.haproxyStatsSocket;
    requireAbsolutePath(socket, "haproxy statsSocket");
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
        `frontend ${HAPROXY_API_BACKEND}`,
        `    bind *:${p.apiPort}`,
        `    default_backend ${HAPROXY_API_BACKEND}`,
        "",
        `backend ${HAPROXY_API_BACKEND}`,
        "    balance roundrobin",
        "    option httpchk",
        "    http-check connect default",
        "    http-check send meth GET uri /readyz?exclude=shutdown",
        "    http-check expect status 200",
        "    http-check connect default",
        "    http-check send meth GET uri /readyz",
        "    http-check expect status 200 error-status L7OKC",
        `    default-server check check-ssl ${verify} inter ${inter} fall ${HAPROXY_FALL} rise ${HAPROXY_RISE} on-marked-down shutdown-sessions`,
        ...byName(p.backends).map((b) => `    server ${b.name} ${b.address}:${b.port ?? APISERVER_PORT}`),
        "",
        "frontend stats",
        "    mode http",
        `    bind *:${HAPROXY_STATS.port}`,
        "    timeout client 10s",
        "    timeout http-request 5s",
        `    acl apiserver_hosts src ${[...new Set(byName(p.backends).map((b) => b.address))].join(" ")}`,
        "    http-request deny unless apiserver_hosts",
        // The control-plane steps poll it once a second while they wait: not worth a log line each.
        "    http-request set-log-level silent",
        "    stats enable",
        `    stats uri ${HAPROXY_STATS.path}`,
        `    stats scope ${HAPROXY_API_BACKEND}`,
        "    stats hide-version",
    ]);
}

/**
 * What a control-plane step needs to wait until the load balancers send to its apiserver again.
 * The servers of HAPROXY_API_BACKEND are named after the control-plane hosts (as buildCluster
 * gives the LoadBalancerPair its backends).
 */
export interface ApiserverPool {
    /** The lb hosts, by name and address (order does not matter). */
    lbs: readonly { name: string; address: string }[];
}

/**
 * How long a control-plane step waits for its server to be UP on every lb host (60 s): HAProxy
 * takes it back after HAPROXY_RISE checks, so one more interval (a check already under way), and
 * 30 s for the lb hosts to answer. From the longest interval a stack may set, not the one it
 * sets, so that a change of the interval updates the lb steps alone (the preview of that change
 * shows no control-plane step), at the cost of a failure taking longer to report.
 */
export const APISERVER_POOL_WAIT_SECONDS = 30 + ((HAPROXY_RISE + 1) * HEALTH_CHECK_INTERVAL_MS.max) / 1000;

/** The control-plane step's environment for that wait (scripts/host/controlplane.sh wait_in_lb_pools). */
export interface ApiserverPoolEnv {
    /** `NAME=URL` per lb host, space-separated, sorted by name: where each one's stats are, as CSV. */
    K8SHA_LB_STATS: string;
    /** The backend the server is in. */
    K8SHA_LB_BACKEND: string;
    /** The server's name: the control-plane host's. */
    K8SHA_LB_SERVER: string;
    /** APISERVER_POOL_WAIT_SECONDS. */
    K8SHA_LB_WAIT_SECONDS: string;
}

export const APISERVER_POOL_ENV_KEYS = ["K8SHA_LB_STATS", "K8SHA_LB_BACKEND", "K8SHA_LB_SERVER", "K8SHA_LB_WAIT_SECONDS"] as const satisfies readonly (keyof ApiserverPoolEnv)[];

/** The environment of `server`'s control-plane step for its wait in the pool. */
export function apiserverPoolEnv(pool: ApiserverPool, server: string): ApiserverPoolEnv {
    requireToken(server, "apiserver pool server");
    if (pool.lbs.length === 0) throw new Error("apiserver pool: no lb hosts; leave the pool out instead");
    for (const lb of pool.lbs) requireToken(lb.name, "apiserver pool lb host name");
    requireUnique(
        pool.lbs.map((lb) => lb.name),
        "apiserver pool lb host name",
    );
    return {
        K8SHA_LB_STATS: byName(pool.lbs)
            .map((lb) => `${lb.name}=${haproxyStatsUrl(lb.address)}`)
            .join(" "),
        K8SHA_LB_BACKEND: HAPROXY_API_BACKEND,
        K8SHA_LB_SERVER: server,
        K8SHA_LB_WAIT_SECONDS: String(APISERVER_POOL_WAIT_SECONDS),
    };
}
