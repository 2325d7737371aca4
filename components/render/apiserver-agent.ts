/**
 * HAProxy's agent on each control-plane host: HAProxy connects to it beside its health check
 * (`agent-check`) and reads one word, which sets the server's administrative state on the lb host.
 *
 * - `drain` while a roll restarts this apiserver (the state file says so) or while its `/readyz`
 *   fails (starting, stopping, or cut off from etcd): HAProxy sends it no new connections, and the
 *   connections it has go on, so the requests in flight finish.
 * - `ready` otherwise.
 *
 * The health check itself asks `/livez` (render/haproxy.ts): only a dead apiserver is marked down
 * and has its connections cut. Without the agent (not installed yet, or its port closed) HAProxy
 * keeps the last word it read, and the health check alone decides.
 */
import { APISERVER_PORT } from "./controlplane";
import { APISERVER_AGENT_FILES } from "./paths";
import { renderServiceUnit, renderSocketUnit } from "./systemd";
import { joinLines, requireInt } from "./text";

/** The agent's TCP port on every control-plane host (HAProxy's `agent-port`). */
export const APISERVER_AGENT_PORT = 6444;

/** What the roll writes in the state file to take the host's apiserver out of rotation. */
export const AGENT_DRAIN = "drain";

export interface ApiserverAgentParams {
    /** The apiserver's local port, for its `/readyz`. Default 6443. */
    apiPort?: number;
}

/** `/usr/local/lib/k8s-ha/apiserver-agent.sh`: the agent's answer, run once per connection. */
export function renderApiserverAgentScript(p: ApiserverAgentParams = {}): string {
    const port = p.apiPort ?? APISERVER_PORT;
    requireInt(port, 1, 65535, "apiserver agent apiPort");
    return joinLines([
        "#!/bin/sh",
        "# Rendered by k8s-ha. HAProxy's agent check for this host's apiserver: one word on the connection.",
        "set -u",
        `if [ "$(cat ${APISERVER_AGENT_FILES.state} 2>/dev/null)" = ${AGENT_DRAIN} ]; then`,
        `    echo ${AGENT_DRAIN}`,
        `elif [ "$(curl -fsSk --max-time 1 https://127.0.0.1:${port}/readyz 2>/dev/null)" = ok ]; then`,
        "    echo ready",
        "else",
        `    echo ${AGENT_DRAIN}`,
        "fi",
    ]);
}

export interface ApiserverAgentSocketParams {
    /** Default APISERVER_AGENT_PORT. */
    port?: number;
}

/** `k8s-ha-apiserver-agent.socket`: one agent run per connection (the firewall admits the lb hosts only). */
export function renderApiserverAgentSocket(p: ApiserverAgentSocketParams = {}): string {
    const port = p.port ?? APISERVER_AGENT_PORT;
    requireInt(port, 1, 65535, "apiserver agent port");
    return renderSocketUnit({
        description: "HAProxy agent for the apiserver (k8s-ha)",
        listenStream: String(port),
        accept: true,
        // Each lb host asks once per check interval; more at once is not HAProxy.
        extra: [["MaxConnections", "16"]],
    });
}

/** `k8s-ha-apiserver-agent@.service`: the run for one connection, as an unprivileged throwaway user. */
export function renderApiserverAgentService(): string {
    return renderServiceUnit({
        description: "HAProxy agent for the apiserver, one connection (k8s-ha)",
        type: "simple",
        execStart: [{ path: APISERVER_AGENT_FILES.script }],
        extra: [
            ["StandardInput", "socket"],
            ["StandardOutput", "socket"],
            ["StandardError", "journal"],
            ["DynamicUser", "yes"],
            ["ProtectSystem", "strict"],
            ["ProtectHome", "yes"],
            ["PrivateTmp", "yes"],
            ["RuntimeMaxSec", "5"],
            // Two runs a second per lb host: the journal keeps only what goes wrong.
            ["LogLevelMax", "warning"],
        ],
        wantedBy: [],
    });
}

