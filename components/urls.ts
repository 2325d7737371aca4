import { Downloads } from "./config";

/** A release file and the checksum file that vouches for it, in the upstream layouts. */
export interface Artifact {
    url: string;
    sumUrl: string;
}

/** Folder of the Kubernetes binaries: `<base>/v<ver>/bin/linux/amd64`. */
export function binaryUrl(d: Downloads, version: string): string {
    return `${d.kubernetes}/v${version}/bin/linux/amd64`;
}

export function etcdUrls(d: Downloads, version: string): Artifact {
    return {
        url: `${d.etcd}/v${version}/etcd-v${version}-linux-amd64.tar.gz`,
        sumUrl: `${d.etcd}/v${version}/SHA256SUMS`,
    };
}

export function containerdUrls(d: Downloads, version: string): Artifact {
    const url = `${d.containerd}/v${version}/containerd-${version}-linux-amd64.tar.gz`;
    return { url, sumUrl: `${url}.sha256sum` };
}

export function runcUrls(d: Downloads, version: string): Artifact {
    return { url: `${d.runc}/v${version}/runc.amd64`, sumUrl: `${d.runc}/v${version}/runc.sha256sum` };
}

export function cniUrls(d: Downloads, version: string): Artifact {
    const url = `${d.cni}/v${version}/cni-plugins-linux-amd64-v${version}.tgz`;
    return { url, sumUrl: `${url}.sha256` };
}

/** Every file a cluster of these versions downloads, for the artifacts check and the docs. */
export function allArtifacts(d: Downloads, v: { kubernetes: string; etcd: string; containerd: string; runc: string; cni: string }): Artifact[] {
    const bins = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet", "kube-proxy"].map((b) => ({
        url: `${binaryUrl(d, v.kubernetes)}/${b}`,
        sumUrl: `${binaryUrl(d, v.kubernetes)}/${b}.sha256`,
    }));
    return [...bins, etcdUrls(d, v.etcd), containerdUrls(d, v.containerd), runcUrls(d, v.runc), cniUrls(d, v.cni)];
}
