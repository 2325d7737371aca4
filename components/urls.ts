import { ClusterConfig, Downloads, Versions } from "./config";

/** The Kubernetes binaries the hosts download, each on its own. */
export const KUBERNETES_BINARIES = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet", "kube-proxy"] as const;
export type KubernetesBinary = (typeof KUBERNETES_BINARIES)[number];

/** Every release file the hosts download, by the name its pin in `k8s-ha:checksums` starts with. */
export const ARTIFACT_NAMES = [...KUBERNETES_BINARIES, "etcd", "containerd", "runc", "cni"] as const;
export type ArtifactName = (typeof ARTIFACT_NAMES)[number];

/**
 * A release file the hosts download, in the upstream layouts. Its sha256 is pinned in the stack
 * config under `pinKey` (`kubelet@1.35.4`); the hosts never fetch a checksum from the download's origin.
 */
export interface Artifact {
    name: ArtifactName;
    version: string;
    url: string;
    /** The key of its pin in `k8s-ha:checksums`. */
    pinKey: string;
    /**
     * The name of the checksum file its vendor publishes beside it upstream, which lists its sha256
     * (named in messages and docs; the hosts never fetch it).
     */
    vendorSums: string;
}

/** The key of an artifact's pin in `k8s-ha:checksums`: its name, `@`, its version (no `v`). */
export function pinKey(name: ArtifactName, version: string): string {
    return `${name}@${version}`;
}

/** The key of `k8s-ha:versions` that gives a file's version: `kubernetes` for its binaries. */
export function artifactVersionKey(name: ArtifactName): keyof Versions {
    return name === "etcd" || name === "containerd" || name === "runc" || name === "cni" ? name : "kubernetes";
}

/** The version a file of that name comes at, from the stack's versions. */
export function artifactVersion(name: ArtifactName, v: Versions): string {
    return v[artifactVersionKey(name)];
}

/** Folder of the Kubernetes binaries: `<base>/v<ver>/bin/linux/amd64`. */
export function binaryUrl(d: Downloads, version: string): string {
    return `${d.kubernetes}/v${version}/bin/linux/amd64`;
}

/** One artifact of the stack, with its URL from `k8s-ha:downloads`. */
export function artifact(d: Downloads, name: ArtifactName, version: string): Artifact {
    const base = { name, version, pinKey: pinKey(name, version) };
    switch (name) {
        case "etcd":
            return { ...base, url: `${d.etcd}/v${version}/etcd-v${version}-linux-amd64.tar.gz`, vendorSums: "SHA256SUMS" };
        case "containerd":
            return { ...base, url: `${d.containerd}/v${version}/containerd-${version}-linux-amd64.tar.gz`, vendorSums: `containerd-${version}-linux-amd64.tar.gz.sha256sum` };
        case "runc":
            return { ...base, url: `${d.runc}/v${version}/runc.amd64`, vendorSums: "runc.sha256sum" };
        case "cni":
            return { ...base, url: `${d.cni}/v${version}/cni-plugins-linux-amd64-v${version}.tgz`, vendorSums: `cni-plugins-linux-amd64-v${version}.tgz.sha256` };
        default:
            return { ...base, url: `${binaryUrl(d, version)}/${name}`, vendorSums: `${name}.sha256` };
    }
}

/** Every file a cluster of these versions downloads: what `k8s-ha:checksums` must pin. */
export function allArtifacts(d: Downloads, v: Versions): Artifact[] {
    return ARTIFACT_NAMES.map((name) => artifact(d, name, artifactVersion(name, v)));
}

/**
 * The environment variable that hands a file's pinned sha256 to its host script:
 * `KUBELET_SHA256`, `KUBE_PROXY_SHA256`, `ETCD_SHA256`, ...
 */
export function sha256EnvName(name: ArtifactName): string {
    return `${name.toUpperCase().replace(/-/g, "_")}_SHA256`;
}

/** The stack's artifact of that name with its pinned sha256 (validation made sure the pin is there). */
export function pinnedArtifact(cluster: ClusterConfig, name: ArtifactName): Artifact & { sha256: string } {
    const a = artifact(cluster.downloads, name, artifactVersion(name, cluster.versions));
    const sha256 = cluster.checksums[a.pinKey];
    if (!sha256) throw new Error(`k8s-ha:checksums has no pin for ${a.pinKey}; validation should have refused the stack`);
    return { ...a, sha256 };
}

/** The pins of these artifacts as a host step's environment: `{ KUBELET_SHA256: "…", … }`. */
export function pinEnv(cluster: ClusterConfig, names: readonly ArtifactName[]): Record<string, string> {
    return Object.fromEntries(names.map((name) => [sha256EnvName(name), pinnedArtifact(cluster, name).sha256]));
}
