/**
 * Dynamic NFS provisioning: k8s-ha's own provisioner (scripts/artifacts/nfs-provisioner) as a
 * Deployment with least-privilege RBAC, and the StorageClass that names it. Applied with
 * `kubectl` from a control-plane host (scripts/host/storage.sh).
 */
import { digestSuffix, type MirrorImage } from "./addons";
import { requireAbsolutePath, requireIpv4 } from "./text";
import { toYamlDocuments, type YamlMap } from "./yaml";

/** The provisioner's version: `scripts/artifacts/nfs-provisioner/VERSION` (a test keeps them equal). */
export const NFS_PROVISIONER_VERSION = "0.2.0";
/** The `provisioner` field of the StorageClass and the name the provisioner answers to. */
export const NFS_PROVISIONER_NAME = "k8s-ha.io/nfs";

export interface NfsStorageParams {
    /** NFS server address. */
    server: string;
    /** Exported directory on the server; each volume gets a directory below it. */
    path: string;
    /** The provisioner image, e.g. `10.0.0.41:5000/k8s-ha/nfs-provisioner:v0.2.0`. */
    image: string;
    storageClass: string;
    defaultClass: boolean;
    reclaimPolicy: "Delete" | "Retain";
    onDelete: "archive" | "delete";
    mountOptions: readonly string[];
    /** Octal, four digits, e.g. `0777`. */
    directoryMode: string;
    /** Node labels the provisioner must run on; empty: any node. */
    nodeSelector: Readonly<Record<string, string>>;
    /** Default `kube-system`, where `cluster-ready` waits for every Deployment. */
    namespace?: string;
}

const NAME = "nfs-provisioner";
const APP = { "app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "k8s-ha" } as const;

/** The provisioner's image, pulled from the cluster's mirror by the mirror's own address. */
export function nfsProvisionerImage(mirrorEndpoint: string, digest?: string): string {
    const m = nfsProvisionerMirrorImage();
    return `${mirrorEndpoint}/${m.path}:${m.tag}${digestSuffix(digest)}`;
}

/** The provisioner's image on the mirror (k8s-ha builds it; it is pushed or cached there). */
export function nfsProvisionerMirrorImage(): MirrorImage {
    return { path: "k8s-ha/nfs-provisioner", tag: `v${NFS_PROVISIONER_VERSION}` };
}

/** The StorageClass alone: its parameters cannot change in place, so the host script replaces it. */
export function nfsStorageClass(p: NfsStorageParams): YamlMap {
    return {
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        metadata: {
            name: p.storageClass,
            labels: { ...APP },
            annotations: { "storageclass.kubernetes.io/is-default-class": p.defaultClass ? "true" : "false" },
        },
        provisioner: NFS_PROVISIONER_NAME,
        reclaimPolicy: p.reclaimPolicy,
        volumeBindingMode: "Immediate",
        allowVolumeExpansion: false,
        mountOptions: [...p.mountOptions],
        parameters: { directoryMode: p.directoryMode, onDelete: p.onDelete },
    };
}

/** Everything but the StorageClass, in apply order. */
export function nfsProvisionerObjects(p: NfsStorageParams): YamlMap[] {
    requireIpv4(p.server, "nfs storage server");
    requireAbsolutePath(p.path, "nfs storage path");
    if (!/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+:[A-Za-z0-9._-]+(@sha256:[0-9a-f]{64})?$/.test(p.image)) {
        throw new Error(`nfs storage: image "${p.image}" is not an image reference like host:port/name:tag`);
    }
    const ns = p.namespace ?? "kube-system";
    const rbac = "rbac.authorization.k8s.io";
    return [
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: NAME, namespace: ns, labels: { ...APP } } },
        {
            apiVersion: `${rbac}/v1`,
            kind: "ClusterRole",
            metadata: { name: `k8s-ha:${NAME}`, labels: { ...APP } },
            // What sig-storage-lib-external-provisioner v13 calls with our settings (no finalizers, no
            // rescheduling, Immediate binding): it creates and deletes PVs, watches claims and
            // classes, and records events in the claims' namespaces. The server watch lists the
            // Pending pods and reads their claims and volumes, to tell them when the server is down.
            // No access to Secrets, and nothing that changes a pod.
            rules: [
                { apiGroups: [""], resources: ["persistentvolumes"], verbs: ["get", "list", "watch", "create", "delete"] },
                { apiGroups: [""], resources: ["persistentvolumeclaims"], verbs: ["get", "list", "watch"] },
                { apiGroups: ["storage.k8s.io"], resources: ["storageclasses"], verbs: ["list", "watch"] },
                { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
                { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
            ],
        },
        {
            apiVersion: `${rbac}/v1`,
            kind: "ClusterRoleBinding",
            metadata: { name: `k8s-ha:${NAME}`, labels: { ...APP } },
            roleRef: { apiGroup: rbac, kind: "ClusterRole", name: `k8s-ha:${NAME}` },
            subjects: [{ kind: "ServiceAccount", name: NAME, namespace: ns }],
        },
        {
            apiVersion: `${rbac}/v1`,
            kind: "Role",
            metadata: { name: `k8s-ha:${NAME}`, namespace: ns, labels: { ...APP } },
            // Leader election, on its own Lease only.
            rules: [
                { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
                {
                    apiGroups: ["coordination.k8s.io"],
                    resources: ["leases"],
                    resourceNames: [NFS_PROVISIONER_NAME.replace("/", "-")],
                    verbs: ["get", "update"],
                },
            ],
        },
        {
            apiVersion: `${rbac}/v1`,
            kind: "RoleBinding",
            metadata: { name: `k8s-ha:${NAME}`, namespace: ns, labels: { ...APP } },
            roleRef: { apiGroup: rbac, kind: "Role", name: `k8s-ha:${NAME}` },
            subjects: [{ kind: "ServiceAccount", name: NAME, namespace: ns }],
        },
        {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: NAME, namespace: ns, labels: { ...APP } },
            spec: {
                replicas: 1,
                // Never two at once writing the same export (leader election guards it too).
                strategy: { type: "Recreate" },
                selector: { matchLabels: { ...APP } },
                template: {
                    metadata: { labels: { ...APP } },
                    spec: {
                        serviceAccountName: NAME,
                        priorityClassName: "system-cluster-critical",
                        // The node's network: pods may not reach the NFS server's ports (the
                        // workers' forward chain drops them, render/firewall.ts), and the
                        // provisioner checks port 2049 to tell waiting pods when the server is down.
                        hostNetwork: true,
                        nodeSelector: { "kubernetes.io/os": "linux", ...p.nodeSelector },
                        // nobody:nogroup, who owns the export: root would be squashed to it anyway.
                        securityContext: {
                            runAsUser: 65534,
                            runAsGroup: 65534,
                            runAsNonRoot: true,
                            seccompProfile: { type: "RuntimeDefault" },
                        },
                        containers: [
                            {
                                name: NAME,
                                image: p.image,
                                imagePullPolicy: "IfNotPresent",
                                args: [`--provisioner=${NFS_PROVISIONER_NAME}`, `--server=${p.server}`, `--path=${p.path}`, "--mount=/export"],
                                env: [{ name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } }],
                                resources: { limits: { memory: "128Mi" }, requests: { cpu: "10m", memory: "32Mi" } },
                                securityContext: {
                                    allowPrivilegeEscalation: false,
                                    readOnlyRootFilesystem: true,
                                    capabilities: { drop: ["ALL"] },
                                },
                                volumeMounts: [{ name: "export", mountPath: "/export" }],
                            },
                        ],
                        volumes: [{ name: "export", nfs: { server: p.server, path: p.path } }],
                    },
                },
            },
        },
    ];
}

/** `/etc/kubernetes/addons/nfs-provisioner.yaml`. */
export function renderNfsProvisioner(p: NfsStorageParams): string {
    return toYamlDocuments(nfsProvisionerObjects(p));
}

/** `/etc/kubernetes/addons/nfs-storageclass.yaml`. */
export function renderNfsStorageClass(p: NfsStorageParams): string {
    return toYamlDocuments([nfsStorageClass(p)]);
}
