/**
 * kube-proxy's config file (KubeProxyConfiguration, kubeproxy.config.k8s.io/v1alpha1) and unit.
 */
import { BINARIES, K8S_FILES } from "./paths";
import { flagArgs, renderServiceUnit } from "./systemd";
import { requireCidr, requireInt, requireToken } from "./text";
import { toYaml } from "./yaml";

export interface KubeProxyConntrackParams {
    /**
     * Connections tracked per CPU core; kube-proxy raises `nf_conntrack_max` to this times the
     * cores. Default 0: leave the sysctl alone. In a container that sysctl is read-only and
     * kube-proxy would fail trying to write it.
     */
    maxPerCore?: number;
    /** Floor for the computed maximum. Default 0 (only used with `maxPerCore`). */
    min?: number;
    /**
     * `nf_conntrack_tcp_timeout_established`; a Go duration. Default `0s`: leave it alone (the
     * kube-proxy default of 24h would write the sysctl, which a container cannot).
     */
    tcpEstablishedTimeout?: string;
    /** `nf_conntrack_tcp_timeout_close_wait`. Default `0s`: leave it alone. */
    tcpCloseWaitTimeout?: string;
}

export interface KubeProxyConfigParams {
    /** The pod network: traffic from outside it to a service IP is masqueraded. */
    clusterCidr: string;
    /**
     * The node name, when the file is per node. Leave out for one shared file (the add-on
     * ConfigMap); kube-proxy then uses the host name, which k8s-ha makes the node name too.
     */
    hostnameOverride?: string;
    conntrack?: KubeProxyConntrackParams;
    /** Default `/etc/kubernetes/kube-proxy.kubeconfig`. */
    kubeconfig?: string;
}

/**
 * `/etc/kubernetes/kube-proxy-config.yaml`. Mode `iptables`: the long-standing default on Linux,
 * with nothing to load beyond the netfilter modules the Node component already loads. Metrics and
 * health stay on their defaults (metrics on 127.0.0.1:10249, healthz on :10256).
 */
export function renderKubeProxyConfig(p: KubeProxyConfigParams): string {
    requireCidr(p.clusterCidr, "kube-proxy clusterCidr");
    if (p.hostnameOverride !== undefined) {
        requireToken(p.hostnameOverride, "kube-proxy hostnameOverride");
    }
    const c = p.conntrack ?? {};
    const maxPerCore = c.maxPerCore ?? 0;
    const min = c.min ?? 0;
    requireInt(maxPerCore, 0, 1 << 24, "kube-proxy conntrack.maxPerCore");
    requireInt(min, 0, 1 << 30, "kube-proxy conntrack.min");
    const established = c.tcpEstablishedTimeout ?? "0s";
    const closeWait = c.tcpCloseWaitTimeout ?? "0s";
    for (const [what, d] of [
        ["tcpEstablishedTimeout", established],
        ["tcpCloseWaitTimeout", closeWait],
    ]) {
        if (!/^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/.test(d)) {
            throw new Error(`kube-proxy conntrack.${what}: "${d}" is not a Go duration such as 0s or 1h0m0s`);
        }
    }
    return toYaml({
        apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
        kind: "KubeProxyConfiguration",
        clientConnection: { kubeconfig: p.kubeconfig ?? K8S_FILES.kubeProxyKubeconfig },
        mode: "iptables",
        clusterCIDR: p.clusterCidr,
        hostnameOverride: p.hostnameOverride,
        conntrack: {
            maxPerCore,
            min,
            tcpEstablishedTimeout: established,
            tcpCloseWaitTimeout: closeWait,
        },
    });
}

/** `/etc/systemd/system/kube-proxy.service`: all settings are in the config file. */
export function renderKubeProxyUnit(): string {
    return renderServiceUnit({
        description: "Kubernetes network proxy (k8s-ha)",
        documentation: ["https://kubernetes.io/docs/reference/command-line-tools-reference/kube-proxy/"],
        wants: ["network-online.target"],
        after: ["network-online.target"],
        type: "simple",
        execStart: [{ path: BINARIES.kubeProxy, args: flagArgs({ config: K8S_FILES.kubeProxyConfig }) }],
        restart: "always",
        restartSec: 5,
    });
}
