/**
 * The kubelet serving certificates' approver on each control-plane host: a service that runs
 * scripts/host/files/csr-approver.sh, and the list of the nodes whose requests it may approve.
 */
import { CSR_APPROVER_FILES } from "./paths";
import { renderServiceUnit } from "./systemd";
import { byName, joinLines, requireIpv4, requireToken } from "./text";

export interface ApproverNode {
    name: string;
    address: string;
}

/** `NAME ADDRESS` per node, sorted by name: a node's serving certificate may name these two alone. */
export function renderApproverNodes(nodes: readonly ApproverNode[]): string {
    for (const n of nodes) {
        requireToken(n.name, "csr approver node name");
        requireIpv4(n.address, `csr approver: ${n.name}'s address`);
    }
    return joinLines(["# Rendered by k8s-ha: the nodes whose kubelet serving certificates may be approved.", ...byName(nodes).map((n) => `${n.name} ${n.address}`)]);
}

/** `/etc/systemd/system/k8s-ha-csr-approver.service`: the approver, restarted if it stops. */
export function renderApproverUnit(host: string): string {
    requireToken(host, "csr approver host");
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
