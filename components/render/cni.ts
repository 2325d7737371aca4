/**
 * The CNI network of a worker: a Linux bridge with the node's static pod CIDR. Pods on other
 * nodes are reached through the static routes of `renderPodRoutesUnit` (each node's pod CIDR via
 * that node's address), so there is no overlay and no CNI daemon.
 */
import { requireCidr, requireInt, requireToken } from "./text";

export interface CniConflistParams {
    /** This node's pod CIDR: the bridge gets its first address, the pods the rest. */
    podCidr: string;
    /** Default `cni0`. */
    bridge?: string;
    /** Network name in the file. Default `k8s-ha`. */
    networkName?: string;
    /**
     * Default `true`: traffic from a pod to anything outside this node's pod CIDR leaves with the
     * node's address. That lets pods reach the node network and beyond without routes back to the
     * pod CIDRs; pod-to-pod traffic across nodes is masqueraded too (the receiving pod sees the
     * node's address), which works but hides the source pod.
     */
    ipMasq?: boolean;
    /** Interface MTU. Default: the bridge plugin's (1500). */
    mtu?: number;
}

/**
 * `/etc/cni/net.d/10-k8s-ha.conflist` (CNI spec 1.0.0, as the CNI plugins v1.x implement it):
 * `bridge` with host-local IPAM and a default route through the bridge (`isGateway`), hairpin
 * mode so a pod can reach itself through its service IP, then `portmap` for `hostPort`. No
 * loopback entry: containerd brings `lo` up itself with the `loopback` plugin from the CNI bin dir.
 */
export function renderCniConflist(p: CniConflistParams): string {
    requireCidr(p.podCidr, "cni podCidr");
    const bridge = p.bridge ?? "cni0";
    requireToken(bridge, "cni bridge");
    if (bridge.length > 15) {
        throw new Error(`cni bridge: "${bridge}" is longer than the 15 characters of a Linux interface name`);
    }
    const name = p.networkName ?? "k8s-ha";
    requireToken(name, "cni networkName");
    if (p.mtu !== undefined) {
        requireInt(p.mtu, 576, 65535, "cni mtu");
    }
    const conflist = {
        cniVersion: "1.0.0",
        name,
        plugins: [
            {
                type: "bridge",
                bridge,
                isGateway: true,
                ipMasq: p.ipMasq ?? true,
                hairpinMode: true,
                ...(p.mtu !== undefined ? { mtu: p.mtu } : {}),
                ipam: {
                    type: "host-local",
                    ranges: [[{ subnet: p.podCidr }]],
                    routes: [{ dst: "0.0.0.0/0" }],
                },
            },
            { type: "portmap", capabilities: { portMappings: true } },
        ],
    };
    return JSON.stringify(conflist, null, 2) + "\n";
}
