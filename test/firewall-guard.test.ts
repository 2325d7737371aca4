/**
 * The firewall step's guard (scripts/host/firewall.sh guard_ssh_client): rules that would refuse
 * the SSH client the step runs over are not loaded. Its functions run in bash against what
 * render/firewall.ts firewallTcpOpenings gives for the lab's hosts; nothing is loaded.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { firewallParams } from "../components/node";
import { firewallTcpOpenings, renderFirewall } from "../components/render";
import { scriptCommand } from "../components/runner";
import { validateConfig } from "../components/validate";
import type { ClusterConfig } from "../components/config";
import { labConfig } from "./fixtures";

const SCRIPT = fs.readFileSync(path.resolve(__dirname, "../scripts/host/firewall.sh"), "utf8");
/** The script's functions, without sourcing lib.sh or running a verb. */
const FUNCTIONS = SCRIPT.split("\n")
    .filter((l) => !/^source |^run_verb /.test(l))
    .join("\n");

function guard(openings: string, sshClient: string): { status: number | null; stderr: string } {
    const prelude = `set -Eeuo pipefail
K8SHA_HOST=cp1
info() { printf 'k8s-ha[%s]: %s\\n' "$K8SHA_HOST" "$*" >&2; }
warn() { printf 'k8s-ha[%s]: warning: %s\\n' "$K8SHA_HOST" "$*" >&2; }
fatal() { printf 'k8s-ha[%s]: error: %s\\n' "$K8SHA_HOST" "$*" >&2; exit 1; }
`;
    const r = spawnSync("bash", ["--norc", "--noprofile", "-c", `${prelude}${FUNCTIONS}\nguard_ssh_client`], {
        env: { PATH: process.env.PATH ?? "", K8SHA_FIREWALL_TCP: openings, K8SHA_SSH_CLIENT: sshClient },
        encoding: "utf8",
    });
    return { status: r.status, stderr: r.stderr };
}

function openingsOf(host: string, c: ClusterConfig): string {
    const h = c.hosts.find((x) => x.name === host);
    if (!h) throw new Error(`no host ${host}`);
    return firewallTcpOpenings(firewallParams(h, c));
}

describe("the firewall step refuses rules that would shut out its own SSH client", () => {
    const lab = validateConfig(labConfig());
    const hostOf = (name: string) => {
        const h = lab.hosts.find((x) => x.name === name);
        if (!h) throw new Error(`no host ${name}`);
        return h;
    };

    test("the openings as the guard reads them: SSH from the node network by default, then each TCP rule", () => {
        expect(openingsOf("cp1", lab)).toBe("22=10.213.0.0/24 2379-2380=10.213.0.21,10.213.0.22,10.213.0.23 6443=any");
        expect(openingsOf("w1", validateConfig({ ...labConfig(), firewall: { sshFrom: "any" } }))).toBe("22=any 10250=10.213.0.21,10.213.0.22,10.213.0.23 30000-32767=any");
    });

    test("the lab's Pulumi machine (10.213.0.1, inside nodeNetwork) passes; an outsider is refused with the host, its address and the fix", () => {
        const openings = openingsOf("cp1", lab);
        expect(guard(openings, "10.213.0.1 51234 22")).toEqual({ status: 0, stderr: "" });
        const out = guard(openings, "192.168.5.9 40000 22");
        expect(out.status).toBe(1);
        expect(out.stderr).toBe(
            "k8s-ha[cp1]: error: the new firewall rules would refuse SSH from 192.168.5.9 (port 22), the machine this step runs from, and every later step with it; the rules were not loaded. " +
                "Add 192.168.5.9 (or its network) to k8s-ha:firewall.sshFrom, which defaults to k8s-ha:nodeNetwork, and run up again\n",
        );
        // An IPv6 client is refused by an IPv4 list, admitted by any; an IPv4-mapped one is read as IPv4.
        expect(guard(openings, "2001:db8::5 40000 22").status).toBe(1);
        expect(guard(openings, "::ffff:10.213.0.1 40000 22").status).toBe(0);
        expect(guard("22=any", "2001:db8::5 40000 22").status).toBe(0);
    });

    test("sources, ranges, exceptions and the server port the connection came in on", () => {
        expect(guard("22=10.0.0.5,192.168.0.0/16", "192.168.200.7 1 22").status).toBe(0);
        expect(guard("22=10.0.0.5,192.168.0.0/16", "10.0.0.6 1 22").status).toBe(1);
        // The connection arrived on 2222 (a port the rules open), not 22.
        expect(guard("22=10.0.0.5 2000-3000=any", "10.9.9.9 1 2222").status).toBe(0);
        expect(guard("22=any 2000-3000=10.0.0.5", "10.9.9.9 1 2222").status).toBe(1);
        expect(guard("5001=10.0.0.0/24!10.0.0.31,10.0.0.32", "10.0.0.31 1 5001").status).toBe(1);
        expect(guard("5001=10.0.0.0/24!10.0.0.31,10.0.0.32", "10.0.0.1 1 5001").status).toBe(0);
        expect(guard("22=0.0.0.0/0", "8.8.8.8 1 22").status).toBe(0);
        // Leading zeros are decimal, not octal; 256 is no octet.
        expect(guard("22=10.0.0.8", "10.0.0.010 1 22").status).toBe(1);
        expect(guard("22=10.0.0.10", "10.0.0.010 1 22").status).toBe(0);
        expect(guard("22=10.0.0.0/8", "10.0.0.256 1 22").status).toBe(1);
    });

    test("without an SSH client (run by hand) it warns and loads", () => {
        expect(guard("22=10.0.0.5", "")).toEqual({ status: 0, stderr: "k8s-ha[cp1]: warning: no SSH client address (K8SHA_SSH_CLIENT is ''); the rules are loaded without checking that they admit it\n" });
    });

    test("the step's create is told its client through sudo; no other step's command changes", () => {
        const cp1 = { ...hostOf("cp1"), user: "admin" };
        const create = scriptCommand(cp1, "firewall", "true", "create", {}, true);
        expect(create.startsWith(`sudo -n env K8SHA_SSH_CLIENT="$SSH_CLIENT" K8SHA_HOST='cp1' `)).toBe(true);
        expect(scriptCommand(cp1, "os", "true", "create", {})).not.toContain("SSH_CLIENT");
        // The login shell expands it: run the command text as sshd would, with sudo and timeout stood in for.
        const r = spawnSync("bash", ["--norc", "--noprofile", "-c", create.replace(/^sudo -n /, "").replace(/timeout --kill-after=30 \d+ bash -c 'true'/, "bash -c 'echo \"$K8SHA_SSH_CLIENT\"'")], {
            env: { PATH: process.env.PATH ?? "", SSH_CLIENT: "10.213.0.1 5555 22" },
            encoding: "utf8",
        });
        expect(r.stdout).toBe("10.213.0.1 5555 22\n");
    });

    test("the rendered rules and the openings agree on who reaches SSH", () => {
        const file = renderFirewall(firewallParams(hostOf("cp1"), lab));
        expect(file).toContain('ip saddr { 10.213.0.0/24 } tcp dport 22 accept comment "ssh"');
    });
});
