/**
 * The kubelet serving certificates' approver on each control-plane host: a service that runs
 * scripts/host/files/csr-approver.sh, and the list of the nodes whose requests it may approve.
 */
import { CSR_APPROVER_FILES } from "./paths";
import { renderServiceUnit } from "./systemd";
import { joinLines } from "./text";

export interface ApproverNode {
    name: string;
    address: string;
}

/** `NAME ADDRESS` per node, sorted by name: a node's serving certificate may name these two alone. */
export function renderApproverNodes(nodes: readonly ApproverNode[]): string {
    for (const n of nodes) {
        if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(n.name)) throw new Error(`csr approver: node name ${JSON.stringify(n.name)} is not a DNS name`);
        if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(n.address)) throw new Error(`csr approver: ${n.name}'s address ${JSON.stringify(n.address)} is not IPv4`);
    }
    const sorted = [...nodes].sort((a, b) => a.name.localeCompare(b.name));
    return joinLines(["# Rendered by k8s-ha: the nodes whose kubelet serving certificates may be approved.", ...sorted.map((n) => `${n.name} ${n.address}`)]);
}

/** `/etc/systemd/system/k8s-ha-csr-approver.service`: the approver, restarted if it stops. */
export function renderApproverUnit(host: string): string {
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(host)) throw new Error(`csr approver: host ${JSON.stringify(host)} is not a DNS name`);
    return renderServiceUnit({
        description: "k8s-ha: approves the kubelets' serving certificates (their own names and addresses only)",
        after: ["kube-apiserver.service"],
        type: "simple",
        execStart: [{ path: "/bin/bash", args: [CSR_APPROVER_FILES.script] }],
        restart: "always",
        restartSec: 5,
        extra: [
            ["Environment", `HOST=${host}`],
            ["Environment", `NODES=${CSR_APPROVER_FILES.nodes}`],
            ["Environment", `KUBECONFIG=${CSR_APPROVER_FILES.kubeconfig}`],
        ],
    });
}
