/**
 * HAProxy in front of the apiservers: plain TCP passthrough (TLS ends at the apiserver, which
 * needs the client certificate), with an HTTPS health check of every apiserver's `/readyz` that
 * drains a stopping apiserver before it takes it down.
 */
import { APISERVER_PORT } from "./controlplane";
import { LB_FILES } from "./paths";
import { byName, joinLines, requireAbsolutePath, requireInt, requireIpv4, requireToken, requireUnique } from "./text";

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
        "frontend kube-apiserver",
        `    bind *:${p.apiPort}`,
        "    default_backend kube-apiserver",
        "",
        "backend kube-apiserver",
        "    balance roundrobin",
        "    option httpchk",
        "    http-check connect default",
        "    http-check send meth GET uri /readyz?exclude=shutdown",
        "    http-check expect status 200",
        "    http-check connect default",
        "    http-check send meth GET uri /readyz",
        "    http-check expect status 200 error-status L7OKC",
        `    default-server check check-ssl ${verify} inter ${inter} fall 2 rise 2 on-marked-down shutdown-sessions`,
        ...byName(p.backends).map((b) => `    server ${b.name} ${b.address}:${b.port ?? APISERVER_PORT}`),
    ]);
}
