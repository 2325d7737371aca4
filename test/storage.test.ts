import * as fs from "fs";
import * as path from "path";
import { validateConfig } from "../components/validate";
import {
    kubeletFlags,
    NFS_PROVISIONER_VERSION,
    nfsProvisionerImage,
    nfsProvisionerObjects,
    nfsStorageClass,
    type NfsStorageParams,
    type YamlMap,
} from "../components/render";
import { hostsOf, labConfig, NFS_STORAGE, problemsOf } from "./fixtures";

const PARAMS: NfsStorageParams = { ...NFS_STORAGE, image: nfsProvisionerImage("10.213.0.41:5000") };

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

function byKind(objects: YamlMap[], kind: string): YamlMap {
    const o = objects.find((x) => x.kind === kind);
    if (!o) throw new Error(`no ${kind}`);
    return o;
}

describe("NFS storage config", () => {
    test("bad NFS settings are all reported at once, before any host is touched", () => {
        const raw = labConfig();
        raw.nfs = {
            path: "/etc/k8s",
            allowedCidr: "0.0.0.0/0",
            mountOptions: ["nfsvers=4.2", "hard", "soft", "vers=5", "bogus", "noatime=1"],
            reclaimPolicy: "Recycle",
            onDelete: "shred",
            directoryMode: "rwx",
            storageClass: "NFS_Class",
            provisionerNodeSelector: { "kubernetes.io/hostname": "w4" },
            exportOptions: "rw",
        };
        expect(problemsOf(raw)).toEqual([
            "k8s-ha:nfs.path: '/etc/k8s' is inside /etc, which belongs to the system or the cluster; give a directory of its own, like /srv/nfs/k8s",
            "k8s-ha:nfs.storageClass: 'NFS_Class' is not a StorageClass name; use lower-case letters, digits, '-' and '.', like nfs",
            "k8s-ha:nfs.reclaimPolicy: 'Recycle' is not a reclaim policy; use Delete (the volume's directory then goes as onDelete says) or Retain (kept with its data)",
            "k8s-ha:nfs.onDelete: 'shred' is not a choice; use archive (the directory is renamed archived-...) or delete (removed with its files)",
            "k8s-ha:nfs.mountOptions: 'vers=5' has no valid value; write it like vers=4.2 (nfs(5))",
            expect.stringMatching(/^k8s-ha:nfs\.mountOptions: 'bogus' is not an NFS mount option k8s-ha knows; use some of: nfsvers, vers, hard, /),
            "k8s-ha:nfs.mountOptions: 'noatime=1' takes no value; write it as noatime",
            "k8s-ha:nfs.mountOptions: has both hard and soft; keep hard (soft mounts can lose writes when the server is slow)",
            "k8s-ha:nfs.directoryMode: 'rwx' is not an octal mode; write it like 0777 or 2775",
            "k8s-ha:nfs.provisionerNodeSelector.kubernetes.io/hostname: is in the kubernetes.io or k8s.io namespace, which kubelets may not set for themselves; use a prefix of your own, like k8s-ha.io/ or example.com/",
            "k8s-ha:nfs.exportOptions: is not an NFS setting; use one of: path, clients, allowedCidr, storageClass, defaultClass, reclaimPolicy, onDelete, mountOptions, directoryMode, provisionerNodeSelector",
            "k8s-ha:nfs.allowedCidr: '0.0.0.0/0' lets nearly any address mount the volumes; leave it out (default: the workers' addresses) or give the node network, like 10.0.0.0/24",
        ]);
    });

    test.each([
        ["/", "would export far more"],
        ["/var/lib", "would export far more"],
        ["/srv", "would export far more"],
        ["/etc", "is /etc, which belongs"],
        ["/var/lib/etcd/data", "is inside /var/lib/etcd"],
        ["/var/lib/kubelet", "is /var/lib/kubelet"],
        ["/srv/../etc", "is not an absolute directory path"],
        ["srv/nfs", "is not an absolute directory path"],
    ])("NFS path %s is refused (%s)", (p, words) => {
        const raw = labConfig();
        raw.nfs = { path: p };
        const problems = problemsOf(raw);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain(`k8s-ha:nfs.path: '${p}' `);
        expect(problems[0]).toContain(words);
    });

    test.each(["/srv/nfs/k8s", "/var/lib/k8s-volumes", "/export/k8s", "/data"])("NFS path %s is accepted", (p) => {
        const raw = labConfig();
        raw.nfs = { path: p };
        expect(problemsOf(raw)).toEqual([]);
    });

    test("an allowedCidr that leaves a worker out is refused, naming the worker", () => {
        const raw = labConfig();
        raw.nfs = { allowedCidr: "10.213.0.0/28" };
        expect(problemsOf(raw)).toEqual([
            "k8s-ha:nfs.allowedCidr: '10.213.0.0/28' leaves out worker w1 (10.213.0.31), whose pods could not mount their volumes; add it or leave the setting out (default: the workers' addresses)",
            "k8s-ha:nfs.allowedCidr: '10.213.0.0/28' leaves out worker w2 (10.213.0.32), whose pods could not mount their volumes; add it or leave the setting out (default: the workers' addresses)",
        ]);
    });

    test("the export's clients default to the workers' addresses; clients and allowedCidr are checked", () => {
        expect(validateConfig(labConfig()).nfs.clients).toEqual(["10.213.0.31", "10.213.0.32"]);
        const raw = labConfig();
        raw.nfs = { clients: ["10.213.0.31", "10.213.0.32/32", "10.213.0.0/33", "10.0.0.5/8"], allowedCidr: "10.213.0.0/24" };
        expect(problemsOf(raw)).toEqual([
            "k8s-ha:nfs.clients: '10.213.0.0/33' is neither an IPv4 address nor a CIDR with zero host bits; write it like 10.0.0.5 or 10.0.0.0/24",
            "k8s-ha:nfs.clients: '10.0.0.5/8' is neither an IPv4 address nor a CIDR with zero host bits; write it like 10.0.0.5 or 10.0.0.0/24",
            "k8s-ha:nfs.allowedCidr: is given together with nfs.clients; keep one (clients takes a list of addresses and CIDRs)",
        ]);
        delete (raw.nfs as Record<string, unknown>).allowedCidr;
        expect(problemsOf(raw)).toEqual([
            "k8s-ha:nfs.clients: '10.213.0.0/33' is neither an IPv4 address nor a CIDR with zero host bits; write it like 10.0.0.5 or 10.0.0.0/24",
            "k8s-ha:nfs.clients: '10.0.0.5/8' is neither an IPv4 address nor a CIDR with zero host bits; write it like 10.0.0.5 or 10.0.0.0/24",
        ]);
        raw.nfs = { clients: ["10.213.0.31"] };
        expect(problemsOf(raw)).toEqual([
            "k8s-ha:nfs.clients: '10.213.0.31' leaves out worker w2 (10.213.0.32), whose pods could not mount their volumes; add it or leave the setting out (default: the workers' addresses)",
        ]);
        raw.nfs = { clients: ["10.213.0.0/24", "10.9.0.0/16"] };
        expect(validateConfig(raw).nfs.clients).toEqual(["10.213.0.0/24", "10.9.0.0/16"]);
    });

    test("settings given are kept; the mode is written with four digits", () => {
        const raw = labConfig();
        raw.nfs = { reclaimPolicy: "Retain", onDelete: "delete", mountOptions: ["vers=4.1", "hard", "timeo=600"], directoryMode: "775", defaultClass: "false" };
        expect(validateConfig(raw).nfs.storage).toEqual({
            storageClass: "nfs",
            defaultClass: false,
            reclaimPolicy: "Retain",
            onDelete: "delete",
            mountOptions: ["vers=4.1", "hard", "timeo=600"],
            directoryMode: "0775",
            provisionerNodeSelector: {},
        });
    });

    test("worker labels reach the kubelet's --node-labels; other hosts may not have labels", () => {
        const raw = labConfig();
        hostsOf(raw).w1.labels = { "k8s-ha.io/nfs-client": true, disk: "ssd" };
        hostsOf(raw).cp1.labels = { disk: "ssd" };
        expect(problemsOf(raw)).toEqual(["k8s-ha:hosts.cp1.labels: is set on a host without the worker role (only workers run a kubelet); remove it"]);
        delete hostsOf(raw).cp1.labels;
        const w1 = validateConfig(raw).hosts.find((h) => h.name === "w1");
        expect(w1?.labels).toEqual({ disk: "ssd", "k8s-ha.io/nfs-client": "true" });
        expect(kubeletFlags({ nodeName: "w1", nodeIp: "10.213.0.31", nodeLabels: w1?.labels })).toContain("--node-labels=disk=ssd,k8s-ha.io/nfs-client=true");
        expect(kubeletFlags({ nodeName: "w2", nodeIp: "10.213.0.32" }).some((f) => f.startsWith("--node-labels"))).toBe(false);
    });
});

describe("NFS provisioner and StorageClass", () => {
    const objects = nfsProvisionerObjects(PARAMS);

    test("the version the program pulls is the version artifacts.sh builds", () => {
        const file = path.join(__dirname, "..", "scripts", "artifacts", "nfs-provisioner", "VERSION");
        expect(fs.readFileSync(file, "utf8").trim()).toBe(NFS_PROVISIONER_VERSION);
        expect(PARAMS.image).toBe(`10.213.0.41:5000/k8s-ha/nfs-provisioner:v${NFS_PROVISIONER_VERSION}`);
    });

    test("least privilege: no Secrets or wildcards, pods only listed; Leases only its own", () => {
        const rules = [...(byKind(objects, "ClusterRole").rules as Rule[]), ...(byKind(objects, "Role").rules as Rule[])];
        for (const r of rules) {
            expect(r.resources).not.toContain("secrets");
            expect([...r.resources, ...r.verbs, ...r.apiGroups]).not.toContain("*");
        }
        const verbsOf = (resource: string) => rules.filter((r) => r.resources.includes(resource)).flatMap((r) => r.verbs);
        expect(verbsOf("persistentvolumes")).toEqual(["get", "list", "watch", "create", "delete"]);
        expect(verbsOf("persistentvolumeclaims")).toEqual(["get", "list", "watch"]);
        expect(verbsOf("pods")).toEqual(["list"]);
        const leaseUpdate = rules.find((r) => r.resources.includes("leases") && r.verbs.includes("update"));
        expect(leaseUpdate?.resourceNames).toEqual(["k8s-ha.io-nfs"]);
        const binding = byKind(objects, "ClusterRoleBinding");
        expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "nfs-provisioner", namespace: "kube-system" }]);
        expect(JSON.stringify(objects)).not.toContain("cluster-admin");
    });

    test("the pod runs as nobody, without privileges, on the selected nodes, with the export mounted", () => {
        const spec = ((byKind(objects, "Deployment").spec as YamlMap).template as YamlMap).spec as YamlMap;
        expect(spec.securityContext).toMatchObject({ runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true });
        expect(spec.nodeSelector).toEqual({ "kubernetes.io/os": "linux", "k8s-ha.io/nfs-client": "true" });
        // In the node's network: the workers drop what pods send to the NFS server, and the
        // provisioner checks its port 2049.
        expect(spec.hostNetwork).toBe(true);
        const container = (spec.containers as YamlMap[])[0];
        expect(container.image).toBe("10.213.0.41:5000/k8s-ha/nfs-provisioner:v0.2.0");
        expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
        expect(container.args).toEqual(["--provisioner=k8s-ha.io/nfs", "--server=10.213.0.51", "--path=/srv/nfs/k8s", "--mount=/export"]);
        expect(spec.volumes).toEqual([{ name: "export", nfs: { server: "10.213.0.51", path: "/srv/nfs/k8s" } }]);
    });

    test("the StorageClass carries the config: default, reclaim policy, mount options, directory settings", () => {
        expect(nfsStorageClass(PARAMS)).toMatchObject({
            metadata: { name: "nfs", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
            provisioner: "k8s-ha.io/nfs",
            reclaimPolicy: "Delete",
            mountOptions: ["nfsvers=4.2", "hard"],
            parameters: { directoryMode: "0777", onDelete: "archive" },
        });
        expect(nfsStorageClass({ ...PARAMS, defaultClass: false, reclaimPolicy: "Retain" })).toMatchObject({
            metadata: { annotations: { "storageclass.kubernetes.io/is-default-class": "false" } },
            reclaimPolicy: "Retain",
        });
    });
});
