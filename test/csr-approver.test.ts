/**
 * The kubelet serving certificates' approver (scripts/host/files/csr-approver.sh) on requests made
 * with openssl, against a stand-in kubectl that lists them and records each approve or deny.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const SCRIPT = path.join(__dirname, "..", "scripts", "host", "files", "csr-approver.sh");

interface Request {
    name: string;
    user: string;
    groups?: string[];
    usages?: string[];
    subject: string;
    sans: string;
}

function csrPem(subject: string, sans: string): string {
    return execFileSync(
        "openssl",
        ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "/dev/null", "-subj", subject, "-addext", `subjectAltName=${sans}`],
        { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    );
}

/** Runs the approver once over the requests; returns what it did to each, by name, and its messages. */
function approve(requests: Request[]): { actions: Record<string, string>; messages: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "csr-approver-"));
    try {
        fs.writeFileSync(path.join(dir, "nodes"), "# the nodes\nw1 10.213.0.31\nw2 10.213.0.32\n");
        fs.writeFileSync(path.join(dir, "kubeconfig"), "stand-in\n");
        const lines = requests.map((r) =>
            [
                r.name,
                r.user,
                (r.groups ?? ["system:nodes", "system:authenticated"]).map((g) => `${g},`).join(""),
                (r.usages ?? ["digital signature", "key encipherment", "server auth"]).map((u) => `${u},`).join(""),
                Buffer.from(csrPem(r.subject, r.sans)).toString("base64"),
            ].join("|"),
        );
        fs.writeFileSync(path.join(dir, "pending"), lines.join("\n") + "\n");
        const kubectl = path.join(dir, "kubectl");
        fs.writeFileSync(
            kubectl,
            `#!/bin/bash\nif [[ $1 == get ]]; then cat "${dir}/pending"; elif [[ $1 == certificate ]]; then echo "$3 $2" >> "${dir}/actions"; fi\n`,
            { mode: 0o755 },
        );
        const r = spawnSync("bash", [SCRIPT, "--once"], {
            encoding: "utf8",
            env: { ...process.env, HOST: "cp1", NODES: path.join(dir, "nodes"), KUBECONFIG: path.join(dir, "kubeconfig"), KUBECTL: kubectl },
        });
        expect(r.status).toBe(0);
        const actions: Record<string, string> = {};
        const done = fs.existsSync(path.join(dir, "actions")) ? fs.readFileSync(path.join(dir, "actions"), "utf8") : "";
        for (const line of done.trim().split("\n").filter(Boolean)) {
            const [name, what] = line.split(" ");
            actions[name] = what;
        }
        return { actions, messages: r.stderr };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("the kubelet serving certificates' approver", () => {
    const node = (n: string, extra: Partial<Request> = {}): Request => ({
        name: `csr-${n}`,
        user: `system:node:${n}`,
        subject: `/O=system:nodes/CN=system:node:${n}`,
        sans: n === "w1" ? "DNS:w1,IP:10.213.0.31" : "DNS:w2,IP:10.213.0.32",
        ...extra,
    });

    test("approves a node's request for its own name and address", () => {
        const { actions, messages } = approve([node("w1"), node("w2")]);
        expect(actions).toEqual({ "csr-w1": "approve", "csr-w2": "approve" });
        expect(messages).toContain("k8s-ha[cp1]: csr-approver: approved csr-w1 (the serving certificate of w1)");
    });

    test("denies every other request, saying why", () => {
        const { actions, messages } = approve([
            node("w1", { name: "extra-ip", sans: "DNS:w1,IP:10.213.0.31,IP:10.213.0.99" }),
            node("w1", { name: "other-name", sans: "DNS:w1,DNS:api.example.com,IP:10.213.0.31" }),
            node("w1", { name: "as-w2", subject: "/O=system:nodes/CN=system:node:w2", sans: "DNS:w2,IP:10.213.0.32" }),
            node("w1", { name: "w2-address", sans: "DNS:w1,IP:10.213.0.32" }),
            node("w9", { name: "stranger", sans: "DNS:w9" }),
            node("w1", { name: "not-a-node", user: "system:serviceaccount:default:x" }),
            node("w1", { name: "no-group", groups: ["system:authenticated"] }),
            node("w1", { name: "client-usage", usages: ["digital signature", "key encipherment", "server auth", "client auth"] }),
        ]);
        expect(actions).toEqual({
            "extra-ip": "deny",
            "other-name": "deny",
            "as-w2": "deny",
            "w2-address": "deny",
            stranger: "deny",
            "not-a-node": "deny",
            "no-group": "deny",
            "client-usage": "deny",
        });
        expect(messages).toContain("denied extra-ip: IP Address:10.213.0.99 is not w1's own name or address (10.213.0.31)");
        expect(messages).toContain("denied as-w2: subject CN=system:node:w2,O=system:nodes is not CN=system:node:w1,O=system:nodes");
        expect(messages).toContain("denied stranger: w9 is not a node of this cluster");
        expect(messages).toContain("denied client-usage: usage client auth is not one of a serving certificate's");
    });
});
