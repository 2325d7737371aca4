/**
 * Cluster add-ons applied with `kubectl apply` from a control-plane host: CoreDNS, the RBAC that
 * lets the apiserver reach the kubelets, the admission policy that keeps inline NFS volumes in
 * kube-system, and (optionally) kube-proxy's configuration as a ConfigMap for reference.
 */
import { requireIpv4, requireInt } from "./text";
import { toYamlDocuments, type YamlMap } from "./yaml";

export interface AddonsParams {
    /** e.g. `cluster.local`. */
    clusterDomain: string;
    /** The `kube-dns` Service's cluster IP (the kubelets' `clusterDNS`). */
    dnsServiceIp: string;
    /** CoreDNS version without `v`, e.g. `1.12.4`. */
    corednsVersion: string;
    /** Default 2: one can be rescheduled while the other answers. */
    corednsReplicas?: number;
    /** Default `registry.k8s.io` (the nodes pull it through the mirror). */
    imageRegistry?: string;
    /** The CoreDNS image's digest (`sha256:…`): the image is then named by tag and digest, and the digest decides. */
    corednsDigest?: string;
    /**
     * User name of the apiserver's kubelet client certificate (its CN). Default
     * `kube-apiserver-kubelet-client`.
     */
    apiserverKubeletClientUser?: string;
    /** When set, a `kube-system/kube-proxy` ConfigMap holding this text as `config.conf`. */
    kubeProxyConfig?: string;
    /** The NFS StorageClass, named by the inline-NFS refusal as what to use instead. Default: none (no NFS storage). */
    nfsStorageClass?: string;
    /** The generation of the `kubeconfig` output's identity (`k8s-ha:adminCredential`): only its group is bound. Default 1. */
    adminGeneration?: number;
}

const DNS_LABELS = { "k8s-app": "kube-dns" } as const;

/**
 * CoreDNS's Corefile: the cluster zone and reverse zones answered from the API (pods records
 * `insecure`, as kube-dns did), everything else forwarded to the resolvers in the node's
 * /etc/resolv.conf (the pods run with `dnsPolicy: Default`), a 30 s cache, `loop` to stop at
 * start if a forward points back to CoreDNS itself, `health`/`ready` for the probes.
 */
export function renderCorefile(clusterDomain: string): string {
    requireDomain(clusterDomain);
    return [
        ".:53 {",
        "    errors",
        "    health {",
        "        lameduck 5s",
        "    }",
        "    ready",
        `    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {`,
        "        pods insecure",
        "        fallthrough in-addr.arpa ip6.arpa",
        "        ttl 30",
        "    }",
        "    prometheus :9153",
        "    forward . /etc/resolv.conf {",
        "        max_concurrent 1000",
        "    }",
        "    cache 30",
        "    loop",
        "    reload",
        "    loadbalance",
        "}",
        "",
    ].join("\n");
}

/** The add-on objects, in apply order (a ServiceAccount before the Deployment that uses it). */
export function addonObjects(p: AddonsParams): YamlMap[] {
    requireDomain(p.clusterDomain);
    requireIpv4(p.dnsServiceIp, "addons dnsServiceIp");
    if (!/^\d+\.\d+\.\d+$/.test(p.corednsVersion)) {
        throw new Error(`addons: corednsVersion "${p.corednsVersion}" must look like 1.12.4 (no "v")`);
    }
    const replicas = p.corednsReplicas ?? 2;
    requireInt(replicas, 1, 10, "addons corednsReplicas");
    const registry = p.imageRegistry ?? "registry.k8s.io";
    if (!/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/.test(registry)) {
        throw new Error(`addons: imageRegistry "${registry}" is not a registry host (with optional path)`);
    }
    const kubeletClient = p.apiserverKubeletClientUser ?? "kube-apiserver-kubelet-client";
    const kubeSystem = "kube-system";
    const objects: YamlMap[] = [
        {
            apiVersion: "v1",
            kind: "ServiceAccount",
            metadata: { name: "coredns", namespace: kubeSystem },
        },
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRole",
            metadata: { name: "system:coredns" },
            rules: [
                { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
                { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
            ],
        },
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name: "system:coredns" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
            subjects: [{ kind: "ServiceAccount", name: "coredns", namespace: kubeSystem }],
        },
        {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "coredns", namespace: kubeSystem },
            data: { Corefile: renderCorefile(p.clusterDomain) },
        },
        {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "coredns", namespace: kubeSystem, labels: { ...DNS_LABELS, "kubernetes.io/name": "CoreDNS" } },
            spec: {
                replicas,
                strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
                selector: { matchLabels: { ...DNS_LABELS } },
                template: {
                    metadata: { labels: { ...DNS_LABELS } },
                    spec: {
                        serviceAccountName: "coredns",
                        priorityClassName: "system-cluster-critical",
                        // CoreDNS must not resolve through itself.
                        dnsPolicy: "Default",
                        nodeSelector: { "kubernetes.io/os": "linux" },
                        tolerations: [{ key: "CriticalAddonsOnly", operator: "Exists" }],
                        affinity: {
                            // Replicas on different nodes, so losing one node keeps DNS up.
                            podAntiAffinity: {
                                preferredDuringSchedulingIgnoredDuringExecution: [
                                    {
                                        weight: 100,
                                        podAffinityTerm: {
                                            labelSelector: { matchLabels: { ...DNS_LABELS } },
                                            topologyKey: "kubernetes.io/hostname",
                                        },
                                    },
                                ],
                            },
                        },
                        containers: [
                            {
                                name: "coredns",
                                image: `${registry}/coredns/coredns:v${p.corednsVersion}${digestSuffix(p.corednsDigest)}`,
                                imagePullPolicy: "IfNotPresent",
                                args: ["-conf", "/etc/coredns/Corefile"],
                                resources: { limits: { memory: "170Mi" }, requests: { cpu: "100m", memory: "70Mi" } },
                                volumeMounts: [{ name: "config-volume", mountPath: "/etc/coredns", readOnly: true }],
                                ports: [
                                    { name: "dns", containerPort: 53, protocol: "UDP" },
                                    { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
                                    { name: "metrics", containerPort: 9153, protocol: "TCP" },
                                ],
                                securityContext: {
                                    allowPrivilegeEscalation: false,
                                    capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] },
                                    readOnlyRootFilesystem: true,
                                },
                                livenessProbe: {
                                    httpGet: { path: "/health", port: 8080, scheme: "HTTP" },
                                    initialDelaySeconds: 60,
                                    timeoutSeconds: 5,
                                    successThreshold: 1,
                                    failureThreshold: 5,
                                },
                                readinessProbe: {
                                    httpGet: { path: "/ready", port: 8181, scheme: "HTTP" },
                                },
                            },
                        ],
                        volumes: [
                            {
                                name: "config-volume",
                                configMap: { name: "coredns", items: [{ key: "Corefile", path: "Corefile" }] },
                            },
                        ],
                    },
                },
            },
        },
        {
            apiVersion: "v1",
            kind: "Service",
            metadata: {
                name: "kube-dns",
                namespace: kubeSystem,
                labels: { ...DNS_LABELS, "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS" },
                annotations: { "prometheus.io/port": "9153", "prometheus.io/scrape": "true" },
            },
            spec: {
                selector: { ...DNS_LABELS },
                clusterIP: p.dnsServiceIp,
                ports: [
                    { name: "dns", port: 53, protocol: "UDP" },
                    { name: "dns-tcp", port: 53, protocol: "TCP" },
                    { name: "metrics", port: 9153, protocol: "TCP" },
                ],
            },
        },
        {
            // The apiserver authenticates to kubelets with its kubelet client certificate; with
            // Webhook authorization on the kubelet, this binding is what lets it fetch logs and
            // run exec/attach/port-forward.
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name: "k8s-ha:kube-apiserver-kubelet-api-admin" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:kubelet-api-admin" },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: kubeletClient }],
        },
        {
            // A node may renew its own client certificate: the controller-manager approves a
            // kubelet's request for system:node:<its own name> (rotateCertificates).
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name: "k8s-ha:nodes-renew-own-client-certificate" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient" },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "system:nodes" }],
        },
        // The admins of the stack's `kubeconfig` output: a group RBAC can narrow or revoke, unlike
        // system:masters (kept for the break-glass credential on one control-plane host).
        clusterAdminBinding(adminGroup(p.adminGeneration ?? 1)),
        // The installer's own steps (add-ons, drains, nodes, storage, Secret rewrites): RBAC can see
        // and remove this, unlike the break-glass credential they used before.
        clusterAdminBinding(INSTALLERS_GROUP),
    ];
    objects.push(...inlineNfsPolicy(p.nfsStorageClass));
    if (p.kubeProxyConfig !== undefined) {
        objects.push({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "kube-proxy", namespace: kubeSystem, labels: { app: "kube-proxy" } },
            data: { "config.conf": p.kubeProxyConfig },
        });
    }
    return objects;
}

/** The ValidatingAdmissionPolicy (and its binding) that refuses inline `nfs:` volumes outside kube-system. */
export const INLINE_NFS_POLICY = "k8s-ha-no-inline-nfs";

/** The refusal of a pod with an inline `nfs:` volume: the rule, why, and what to use instead. */
export function inlineNfsMessage(storageClass?: string): string {
    const instead = storageClass === undefined ? "a PersistentVolumeClaim" : `a PersistentVolumeClaim of the StorageClass ${storageClass}`;
    return (
        "k8s-ha: inline nfs volumes are refused outside kube-system, since one mounts the whole NFS export " +
        `with every namespace's volumes; use ${instead} instead`
    );
}

/**
 * Review-security-2 M1: PodSecurity baseline admits inline `nfs:` volumes, so any pod could mount
 * the export root and reach every namespace's volumes. This policy refuses a pod with one in every
 * namespace but kube-system, where the NFS provisioner mounts the export inline (render/storage.ts).
 * `has()` first: a pod without volumes has no `spec.volumes` at all.
 */
export function inlineNfsPolicy(storageClass?: string): YamlMap[] {
    if (storageClass !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(storageClass)) {
        throw new Error(`addons: nfsStorageClass "${storageClass}" is not a StorageClass name`);
    }
    const admission = "admissionregistration.k8s.io/v1";
    return [
        {
            apiVersion: admission,
            kind: "ValidatingAdmissionPolicy",
            metadata: { name: INLINE_NFS_POLICY },
            spec: {
                failurePolicy: "Fail",
                matchConstraints: {
                    resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["pods"] }],
                    namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system"] }] },
                },
                validations: [
                    {
                        expression: "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.nfs))",
                        message: inlineNfsMessage(storageClass),
                        reason: "Forbidden",
                    },
                ],
            },
        },
        {
            apiVersion: admission,
            kind: "ValidatingAdmissionPolicyBinding",
            metadata: { name: INLINE_NFS_POLICY },
            spec: { policyName: INLINE_NFS_POLICY, validationActions: ["Deny"] },
        },
    ];
}

/** An image digest as registries name it: `sha256:` and 64 lower-case hex digits. */
export const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** `@sha256:…` to append to an image reference, or nothing. */
export function digestSuffix(digest: string | undefined): string {
    if (digest === undefined) return "";
    if (!DIGEST_RE.test(digest)) throw new Error(`image digest "${digest}" is not sha256: and 64 hex digits`);
    return `@${digest}`;
}

/** An add-on image as the mirror stores it: repository path and tag. */
export interface MirrorImage {
    path: string;
    tag: string;
}

/** CoreDNS on the mirror: the nodes pull registry.k8s.io through it, under the same path. */
export function corednsMirrorImage(version: string): MirrorImage {
    return { path: "registry.k8s.io/coredns/coredns", tag: `v${version}` };
}

/**
 * Objects earlier releases applied and this one no longer does, as `kubectl delete` names them
 * (`kind/name`): addons.sh deletes each, so an existing cluster loses them with its next `up`.
 * The kubelet serving certificates' approver went when the program began to issue those
 * certificates itself (review-security-2 H1).
 */
export const RETIRED_ADDON_OBJECTS: readonly string[] = ["clusterrolebinding/k8s-ha:csr-approver", "clusterrole/k8s-ha:csr-approver"];

/**
 * `/etc/kubernetes/addons/retired`: RETIRED_ADDON_OBJECTS and the bindings of every admin
 * generation below `adminGeneration`, one a line: each add-ons run deletes them again.
 */
export function renderRetiredAddons(adminGeneration = 1): string {
    const revoked = Array.from({ length: adminGeneration - 1 }, (_, i) => `clusterrolebinding/${adminGroup(i + 1)}`);
    return [...RETIRED_ADDON_OBJECTS, ...revoked].map((o) => `${o}\n`).join("");
}

/** The group of the `kubeconfig` output's certificate of generation 1, bound to cluster-admin. */
export const CLUSTER_ADMINS_GROUP = "k8s-ha:cluster-admins";

/**
 * The group (and the name of its ClusterRoleBinding) of the `kubeconfig` output's identity of a
 * generation: generation 1 keeps the name it always had, so existing stacks see no change.
 */
export function adminGroup(generation: number): string {
    requireInt(generation, 1, 1000, "admin generation");
    return generation === 1 ? CLUSTER_ADMINS_GROUP : `${CLUSTER_ADMINS_GROUP}-g${generation}`;
}

/** The user (certificate CN) of the `kubeconfig` output's identity of a generation. */
export function adminUser(generation: number): string {
    requireInt(generation, 1, 1000, "admin generation");
    return generation === 1 ? "k8s-ha-admin" : `k8s-ha-admin-g${generation}`;
}

/** The installer's identity: the certificate its steps use on the installer's control-plane host. */
export const INSTALLER_USER = "k8s-ha-installer";
export const INSTALLERS_GROUP = "k8s-ha:installers";
/** The CN of the system:masters credential, kept on one control-plane host only. */
export const BREAK_GLASS_USER = "k8s-ha-break-glass";

function clusterAdminBinding(group: string): YamlMap {
    return {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: group },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: group }],
    };
}

/** The add-ons as one multi-document YAML stream for `kubectl apply -f -`. */
export function renderAddons(p: AddonsParams): string {
    return toYamlDocuments(addonObjects(p));
}

function requireDomain(domain: string): void {
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(domain)) {
        throw new Error(`addons: clusterDomain "${domain}" is not a DNS domain`);
    }
}
