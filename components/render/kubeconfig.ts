/**
 * Kubeconfig files with the certificates embedded, so each file is self-contained and can be
 * handed to a tool (or output from the stack) without the PKI files beside it.
 */
import { requireToken } from "./text";
import { toYaml } from "./yaml";

export interface KubeconfigParams {
    /** Cluster entry name. Default `kubernetes`. */
    clusterName?: string;
    /** API endpoint, e.g. `https://10.213.0.10:6443` (the VIP). */
    server: string;
    /** PEM of the cluster CA. */
    caCertPem: string;
    /** User entry name, e.g. `admin` or `system:node:w1`. */
    userName: string;
    clientCertPem: string;
    /** Secret: the rendered kubeconfig is secret too. */
    clientKeyPem: string;
    /** Context entry name. Default `<user>@<cluster>`. */
    contextName?: string;
}

/**
 * The one name of the cluster, user and context in a stack's `kubeconfig` output: `k8s-ha-<stack>`,
 * so that the kubeconfigs of several stacks (dev, prod) merge into one ~/.kube/config. Pulumi's
 * stack names (letters, digits, "_", "." and "-") make a valid name.
 */
export function stackKubeconfigName(stack: string): string {
    const name = `k8s-ha-${stack}`;
    requireToken(name, "kubeconfig name of the stack");
    return name;
}

/**
 * Renders a kubeconfig (`apiVersion: v1`, `kind: Config`) with one cluster, one user and one
 * context (by default `<user>@<cluster>`), which is current.
 */
export function renderKubeconfig(p: KubeconfigParams): string {
    const cluster = p.clusterName ?? "kubernetes";
    requireToken(cluster, "kubeconfig clusterName");
    for (const [what, name] of [["userName", p.userName], ["contextName", p.contextName]] as const) {
        if (name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9:._@-]*$/.test(name)) {
            throw new Error(`kubeconfig: ${what} "${name}" must be letters, digits or ":._@-"`);
        }
    }
    if (!/^https:\/\/[^\s/]+(:\d+)?\/?$/.test(p.server)) {
        throw new Error(`kubeconfig: server "${p.server}" must be an https URL such as https://10.0.0.10:6443`);
    }
    requirePem(p.caCertPem, "CERTIFICATE", "caCertPem");
    requirePem(p.clientCertPem, "CERTIFICATE", "clientCertPem");
    requirePem(p.clientKeyPem, "PRIVATE KEY", "clientKeyPem");
    const context = p.contextName ?? `${p.userName}@${cluster}`;
    return toYaml({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: cluster, cluster: { server: p.server, "certificate-authority-data": base64(p.caCertPem) } }],
        users: [
            {
                name: p.userName,
                user: { "client-certificate-data": base64(p.clientCertPem), "client-key-data": base64(p.clientKeyPem) },
            },
        ],
        contexts: [{ name: context, context: { cluster, user: p.userName } }],
        "current-context": context,
        preferences: {},
    });
}

/** Base64 of the PEM text with exactly one final newline (so CRLF or a missing newline give the same bytes). */
function base64(pem: string): string {
    return Buffer.from(pem.replace(/\r\n/g, "\n").trimEnd() + "\n", "utf8").toString("base64");
}

/**
 * Throws unless `pem` holds a PEM block whose label ends with `label` (`PRIVATE KEY` accepts
 * `RSA PRIVATE KEY` and `EC PRIVATE KEY`). The message names the field only: a key never reaches it.
 */
function requirePem(pem: string, label: string, what: string): void {
    const m = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/.exec(pem);
    if (!m || !m[1].endsWith(label)) {
        throw new Error(`kubeconfig: ${what} is not a PEM "${label}" block`);
    }
}
