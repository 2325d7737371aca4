/**
 * The add-on manifests: every document parses, has the fields `kubectl apply` needs, and the
 * CoreDNS objects agree with each other (labels, names, the Service IP the kubelets use).
 */
import * as yaml from "js-yaml";
import { addonObjects, adminGroup, adminUser, inlineNfsMessage, renderAddons, renderCorefile, renderKubeProxyConfig, renderRetiredAddons } from "../components/render";

const PARAMS = { clusterDomain: "cluster.local", dnsServiceIp: "10.96.0.10", corednsVersion: "1.12.4" };

interface K8sObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string> };
    [key: string]: unknown;
}

function load(text: string): K8sObject[] {
    return yaml.loadAll(text) as K8sObject[];
}

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
    const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
    if (!o) {
        throw new Error(`no ${kind} ${name}`);
    }
    return o;
}

describe("renderAddons", () => {
    const text = renderAddons(PARAMS);
    const objects = load(text);

    test("every document parses and names its kind, apiVersion and name", () => {
        expect(objects.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace ?? "-"}/${o.metadata.name}`)).toEqual([
            "v1 ServiceAccount kube-system/coredns",
            "rbac.authorization.k8s.io/v1 ClusterRole -/system:coredns",
            "rbac.authorization.k8s.io/v1 ClusterRoleBinding -/system:coredns",
            "v1 ConfigMap kube-system/coredns",
            "apps/v1 Deployment kube-system/coredns",
            "v1 Service kube-system/kube-dns",
            "rbac.authorization.k8s.io/v1 ClusterRoleBinding -/k8s-ha:kube-apiserver-kubelet-api-admin",
            "rbac.authorization.k8s.io/v1 ClusterRoleBinding -/k8s-ha:nodes-renew-own-client-certificate",
            "rbac.authorization.k8s.io/v1 ClusterRoleBinding -/k8s-ha:cluster-admins",
            "rbac.authorization.k8s.io/v1 ClusterRoleBinding -/k8s-ha:installers",
            "admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy -/k8s-ha-no-inline-nfs",
            "admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding -/k8s-ha-no-inline-nfs",
        ]);
        expect(load(text)).toEqual(JSON.parse(JSON.stringify(addonObjects(PARAMS))));
    });

    test("the Corefile serves the cluster domain from the API and forwards the rest", () => {
        const cm = find(objects, "ConfigMap", "coredns") as K8sObject & { data: { Corefile: string } };
        expect(cm.data.Corefile).toBe(renderCorefile("cluster.local"));
        const lines = cm.data.Corefile.split("\n").map((l) => l.trim());
        for (const l of ["kubernetes cluster.local in-addr.arpa ip6.arpa {", "forward . /etc/resolv.conf {", "cache 30", "health {", "ready", "loop"]) {
            expect(lines).toContain(l);
        }
    });

    test("the Deployment runs 2 replicas of the pinned image with the ConfigMap mounted", () => {
        const d = find(objects, "Deployment", "coredns") as K8sObject & {
            spec: {
                replicas: number;
                selector: { matchLabels: Record<string, string> };
                template: {
                    metadata: { labels: Record<string, string> };
                    spec: {
                        serviceAccountName: string;
                        dnsPolicy: string;
                        containers: { image: string; args: string[]; volumeMounts: { name: string; mountPath: string }[] }[];
                        volumes: { name: string; configMap: { name: string } }[];
                    };
                };
            };
        };
        expect(d.spec.replicas).toBe(2);
        expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
        const pod = d.spec.template.spec;
        expect(pod.serviceAccountName).toBe("coredns");
        expect(pod.dnsPolicy).toBe("Default");
        expect(pod.containers[0].image).toBe("registry.k8s.io/coredns/coredns:v1.12.4");
        expect(pod.containers[0].args).toEqual(["-conf", "/etc/coredns/Corefile"]);
        expect(pod.volumes).toEqual([{ name: "config-volume", configMap: { name: "coredns", items: [{ key: "Corefile", path: "Corefile" }] } }]);
        expect(pod.containers[0].volumeMounts[0]).toMatchObject({ name: "config-volume", mountPath: "/etc/coredns" });
    });

    test("the kube-dns Service has the DNS service IP and selects the CoreDNS pods", () => {
        const s = find(objects, "Service", "kube-dns") as K8sObject & { spec: { clusterIP: string; selector: Record<string, string>; ports: { port: number; protocol: string }[] } };
        expect(s.spec.clusterIP).toBe("10.96.0.10");
        expect(s.spec.selector).toEqual({ "k8s-app": "kube-dns" });
        expect(s.spec.ports.map((p) => `${p.port}/${p.protocol}`)).toEqual(["53/UDP", "53/TCP", "9153/TCP"]);
    });

    test("the apiserver's kubelet client user may use the kubelet API", () => {
        expect(find(objects, "ClusterRoleBinding", "k8s-ha:kube-apiserver-kubelet-api-admin")).toMatchObject({
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:kubelet-api-admin" },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "kube-apiserver-kubelet-client" }],
        });
    });

    test("inline nfs volumes: refused on pod CREATE and UPDATE outside kube-system, naming the StorageClass to use", () => {
        const message =
            "k8s-ha: inline nfs volumes are refused outside kube-system, since one mounts the whole NFS export with every namespace's volumes; " +
            "use a PersistentVolumeClaim of the StorageClass nfs instead";
        const policy = {
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: "ValidatingAdmissionPolicy",
            metadata: { name: "k8s-ha-no-inline-nfs" },
            spec: {
                failurePolicy: "Fail",
                matchConstraints: {
                    resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["pods"] }],
                    namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system"] }] },
                },
                validations: [{ expression: "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.nfs))", message, reason: "Forbidden" }],
            },
        };
        const binding = {
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: "ValidatingAdmissionPolicyBinding",
            metadata: { name: "k8s-ha-no-inline-nfs" },
            spec: { policyName: "k8s-ha-no-inline-nfs", validationActions: ["Deny"] },
        };
        expect(load(renderAddons({ ...PARAMS, nfsStorageClass: "nfs" })).slice(-2)).toEqual([policy, binding]);
        // Without NFS storage, no class to name.
        expect(inlineNfsMessage()).toBe(
            "k8s-ha: inline nfs volumes are refused outside kube-system, since one mounts the whole NFS export with every namespace's volumes; use a PersistentVolumeClaim instead",
        );
        expect(find(objects, "ValidatingAdmissionPolicy", "k8s-ha-no-inline-nfs")).toMatchObject({ spec: { validations: [{ message: inlineNfsMessage() }] } });
        expect(() => renderAddons({ ...PARAMS, nfsStorageClass: "NFS class" })).toThrow('addons: nfsStorageClass "NFS class" is not a StorageClass name');
    });

    test("kube-proxy's configuration can ride along as a ConfigMap", () => {
        const proxyConfig = renderKubeProxyConfig({ clusterCidr: "10.244.0.0/16" });
        const cm = find(load(renderAddons({ ...PARAMS, kubeProxyConfig: proxyConfig })), "ConfigMap", "kube-proxy") as K8sObject & { data: Record<string, string> };
        expect(cm.metadata.namespace).toBe("kube-system");
        expect(cm.data["config.conf"]).toBe(proxyConfig);
    });

    test("cluster-admin goes to the installers and to the kubeconfig output's current generation only; every run deletes the earlier generations' bindings", () => {
        const bound = (gen?: number) =>
            load(renderAddons({ ...PARAMS, adminGeneration: gen }))
                .filter((o) => o.kind === "ClusterRoleBinding" && (o.roleRef as { name: string }).name === "cluster-admin")
                .map((o) => [o.metadata.name, (o.subjects as { kind: string; name: string }[]).map((x) => `${x.kind}/${x.name}`).join(",")]);
        // Generation 1 keeps the group existing stacks have.
        expect(bound()).toEqual([["k8s-ha:cluster-admins", "Group/k8s-ha:cluster-admins"], ["k8s-ha:installers", "Group/k8s-ha:installers"]]);
        expect(renderAddons({ ...PARAMS, adminGeneration: 1 })).toBe(text);
        expect(bound(3)).toEqual([["k8s-ha:cluster-admins-g3", "Group/k8s-ha:cluster-admins-g3"], ["k8s-ha:installers", "Group/k8s-ha:installers"]]);
        expect([adminUser(1), adminGroup(1), adminUser(3), adminGroup(3)]).toEqual(["k8s-ha-admin", "k8s-ha:cluster-admins", "k8s-ha-admin-g3", "k8s-ha:cluster-admins-g3"]);
        const retired = "clusterrolebinding/k8s-ha:csr-approver\nclusterrole/k8s-ha:csr-approver\n";
        expect(renderRetiredAddons()).toBe(retired);
        expect(renderRetiredAddons(1)).toBe(retired);
        expect(renderRetiredAddons(3)).toBe(`${retired}clusterrolebinding/k8s-ha:cluster-admins\nclusterrolebinding/k8s-ha:cluster-admins-g2\n`);
        expect(() => adminGroup(0)).toThrow("admin generation: 0 is not an integer in 1-1000");
    });

    test("deterministic, and bad input refused", () => {
        expect(renderAddons({ ...PARAMS })).toBe(text);
        expect(() => renderAddons({ ...PARAMS, corednsVersion: "v1.12.4" })).toThrow('addons: corednsVersion "v1.12.4" must look like 1.12.4 (no "v")');
        expect(() => renderAddons({ ...PARAMS, dnsServiceIp: "10.96.0" })).toThrow(/addons dnsServiceIp/);
    });
});
