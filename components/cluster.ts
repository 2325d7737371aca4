import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { CaName, CONTROL_PLANE_NAME } from "./certificates";
import { hostsWithRole, Versions } from "./config";
import { ControlPlane, controlPlaneRelease } from "./controlplane";
import { EtcdMember, EtcdMemberArgs, etcdHosts } from "./etcd";
import { EtcdBackup, legacyEtcdBackupDir } from "./etcdbackup";
import { LoadBalancerPair } from "./loadbalancer";
import { DockerImageMirror } from "./mirror";
import { NfsServer } from "./nfs";
import { firewallParams, Node, Worker, workerRelease } from "./node";
import { workerSettings } from "./phases";
import { Pki } from "./pki";
import * as render from "./render";
import { StackConfig } from "./stack";
import { pinnedArtifact } from "./urls";

export interface Cluster {
    nodes: Record<string, Node>;
    /** The workers' runtime and kubelet, by host name. */
    workers: Record<string, Worker>;
    pki: Pki;
    etcdPki: Pki;
    /** The kubelet serving CA. */
    kubeletPki: Pki;
    loadBalancer: LoadBalancerPair;
    etcd: EtcdMember[];
    mirror: DockerImageMirror;
    controlPlane: ControlPlane;
    nfs?: NfsServer;
    /** Scheduled etcd snapshots, taken on the members and kept on the NFS server (`k8s-ha:etcdBackup.schedule`), unless off. */
    etcdBackup?: EtcdBackup;
    /** The last step of an up: every node Ready, the storage class applied. */
    ready: command.remote.Command;
    /** The versions the cluster runs once `ready` has run. */
    versions: Versions;
}

/**
 * Settings a program computes from its other resources, in place of the validated config's: each
 * goes as it is (an Input) to the components that use it.
 */
export interface ClusterInputs {
    /** chrony's servers on every host (host names or addresses). Default: `k8s-ha:ntpServers`. */
    ntpServers?: pulumi.Input<pulumi.Input<string>[]>;
}

/**
 * Builds the whole cluster from a validated config. Data creates the order: the LoadBalancerPair's
 * endpoint feeds the ControlPlane (certificate SANs, kubeconfigs) and the workers' kubeconfigs;
 * the EtcdMembers' client URLs feed the apiservers; the mirror's endpoint feeds containerd.
 */
export function buildCluster(stack: StackConfig, inputs: ClusterInputs = {}): Cluster {
    const { cluster, sshPrivateKey } = stack;
    const nodes: Record<string, Node> = {};
    for (const host of cluster.hosts) {
        nodes[host.name] = new Node(host.name, {
            host,
            sshPrivateKey,
            hosts: cluster.hosts,
            ntpServers: inputs.ntpServers ?? cluster.ntpServers,
            firewall: cluster.firewall.enabled ? firewallParams(host, cluster) : undefined,
            repair: cluster.repair,
        });
    }
    const makeCa = (ca: CaName, commonName: string) =>
        new Pki(`${ca}-pki`, {
            commonName,
            lifetimes: cluster.certificates,
            previous: stack.previousCertificates && {
                expiries: stack.previousCertificates.expiries[ca] ?? {},
                renewals: stack.previousCertificates.renewals[ca] ?? {},
            },
            now: stack.now ?? Date.now(),
        });
    const pki = makeCa("cluster", "k8s-ha cluster CA");
    const etcdPki = makeCa("etcd", "k8s-ha etcd CA");
    const kubeletPki = makeCa("kubelet", "k8s-ha kubelet serving CA");
    const loadBalancer = new LoadBalancerPair("api", {
        hosts: hostsWithRole(cluster, "lb").map((host) => ({ host, node: nodes[host.name] })),
        backends: hostsWithRole(cluster, "control-plane"),
        vip: cluster.vip,
        apiPort: cluster.apiPort,
        vrrpRouterId: cluster.vrrpRouterId,
        healthCheckIntervalMs: cluster.loadBalancer.healthCheckIntervalMs,
        advertIntervalMs: cluster.loadBalancer.advertIntervalMs,
    });
    const nfsHost = hostsWithRole(cluster, "nfs")[0];
    // Where a member's delete sends the snapshot it saves: k8s-ha:etcdBackup's target.
    const snapshotCopy: EtcdMemberArgs["snapshotCopy"] =
        cluster.etcdBackup.target === "nfs" && nfsHost !== undefined
            ? { to: "nfs", host: nfsHost, dir: render.ETCD_BACKUP_FILES.storeDir }
            : { to: "local", dir: cluster.etcdBackup.localDir };
    const etcd = hostsWithRole(cluster, "etcd").map(
        (host) =>
            new EtcdMember(`${host.name}-etcd`, {
                host,
                node: nodes[host.name],
                pki: etcdPki,
                members: etcdHosts(cluster),
                tuning: cluster.etcd,
                release: { ...pinnedArtifact(cluster, "etcd"), version: cluster.versions.etcd },
                snapshotCopy,
                sshPrivateKey,
                protectData: cluster.protectData,
            }),
    );
    const mirrorHost = hostsWithRole(cluster, "mirror")[0];
    const mirror = new DockerImageMirror("image-mirror", { settings: cluster.mirror, node: nodes[mirrorHost.name], pki });
    const controlPlane = new ControlPlane(CONTROL_PLANE_NAME, {
        settings: cluster,
        release: controlPlaneRelease(cluster),
        nodes,
        pki,
        etcdPki,
        kubeletPki,
        etcdEndpoints: etcd.map((m) => m.clientUrl),
        endpoint: loadBalancer.endpoint,
        apiserverPool: loadBalancer.apiserverPool,
        // The add-ons name their images by digest, as the mirror served them when first deployed.
        corednsDigest: mirror.digest("coredns", render.corednsMirrorImage(cluster.versions.coredns), cluster.imageDigests.coredns),
        // The StorageClass exists only with an NFS host (NfsServer's storage, below).
        nfsStorageClass: nfsHost ? cluster.nfs.storage.storageClass : undefined,
    });
    const nodeObjects: pulumi.Resource[] = [];
    const kubeProxyCert = pki.issue("kube-proxy", { commonName: "system:kube-proxy", organization: "system:node-proxier", client: true }, pki);
    const workers: Record<string, Worker> = {};
    // The sandbox image by digest too, known before any worker's containerd config is written.
    const pauseDigest = mirror.digest("pause", render.pauseMirrorImage(cluster.versions.pause), cluster.imageDigests.pause);
    for (const host of hostsWithRole(cluster, "worker")) {
        const worker = new Worker(`${host.name}-worker`, {
            node: nodes[host.name],
            host,
            settings: workerSettings(cluster),
            release: workerRelease(cluster),
            pki,
            kubeletPki,
            endpoint: loadBalancer.endpoint,
            mirrorEndpoint: mirror.endpoint,
            pauseDigest,
            kubeProxyCert,
            after: [controlPlane.addons],
            drainBefore: (restartInputs) => controlPlane.drainBefore(host.name, restartInputs),
        });
        workers[host.name] = worker;
        nodeObjects.push(controlPlane.admitNode(host.name, worker.kubelet, worker.restartInputs));
    }
    const nfs = nfsHost
        ? new NfsServer("nfs", {
              settings: cluster.nfs,
              protectData: cluster.protectData,
              node: nodes[nfsHost.name],
              storage: {
                  controlPlane,
                  mirrorEndpoint: mirror.endpoint,
                  provisionerDigest: mirror.digest("nfs-provisioner", render.nfsProvisionerMirrorImage(), cluster.imageDigests.nfsProvisioner),
                  dependsOn: nodeObjects,
              },
          })
        : undefined;
    const ready = controlPlane.waitReady(nfs?.storageClass ? [...nodeObjects, nfs.storageClass] : nodeObjects);
    const etcdBackup =
        nfs && nfsHost && cluster.etcdBackup.schedule !== undefined
            ? new EtcdBackup("etcd-backup", {
                  schedule: cluster.etcdBackup.schedule,
                  keep: cluster.etcdBackup.keep,
                  store: nodes[nfsHost.name],
                  members: hostsWithRole(cluster, "etcd").map((host, i) => ({ member: etcd[i], node: nodes[host.name] })),
                  dependsOn: [nfs.command],
                  legacyDir: legacyEtcdBackupDir(cluster),
              })
            : undefined;
    return { nodes, workers, pki, etcdPki, kubeletPki, loadBalancer, etcd, mirror, controlPlane, nfs, etcdBackup, ready, versions: cluster.versions };
}

/** The stack outputs. */
export function stackOutputs(c: Cluster) {
    return {
        endpoint: c.loadBalancer.endpoint,
        kubeconfig: c.controlPlane.adminKubeconfig,
        // The generation of the kubeconfig's identity: the next update's validation refuses a lower one.
        // Where the break-glass kubeconfig is and how long it is valid: the e2e check reads them.
        adminCredential: { generation: c.controlPlane.adminGeneration, breakGlassHost: c.controlPlane.breakGlass.host, breakGlassValidityHours: c.controlPlane.breakGlass.validityHours },
        imageMirror: c.mirror.endpoint,
        // Only for a preloaded mirror: where and as whom to push (secret); absent for a pull-through cache.
        imageMirrorPush: c.mirror.push,
        nfsExport: c.nfs ? c.nfs.export : pulumi.output(undefined),
        etcdEndpoints: pulumi.all(c.etcd.map((m) => m.clientUrl)),
        // What the cluster runs: the next update's validation checks its upgrade path against it.
        versions: c.ready.id.apply(() => ({ ...c.versions })),
        // The encryption keys the apiservers run: the next update's validation checks a rotation against it.
        secretsEncryption: c.controlPlane.secretsEncryption,
        // When each certificate expires (RFC 3339), by CA and name: `pulumi stack output certificates`.
        certificates: pulumi.all({ cluster: pulumi.all(c.pki.expiries), etcd: pulumi.all(c.etcdPki.expiries), kubelet: pulumi.all(c.kubeletPki.expiries) }),
        // For each certificate an up renewed, the expiry of the one it replaced: the next update keeps it.
        certificateRenewals: { cluster: { ...c.pki.renewals }, etcd: { ...c.etcdPki.renewals }, kubelet: { ...c.kubeletPki.renewals } },
        // Where the scheduled snapshots are, and when; how they are encrypted and the key their
        // signatures verify with: `npm run etcd-backup -- list | restore` read it.
        etcdBackup: c.etcdBackup
            ? pulumi.output({
                  location: c.etcdBackup.location,
                  schedule: c.etcdBackup.schedule,
                  keep: c.etcdBackup.keep,
                  verifyKey: c.etcdBackup.verifyKey,
                  encryption: { ...render.ETCD_SNAPSHOT_ENCRYPTION },
              })
            : pulumi.output(undefined),
        // The passphrase of the scheduled snapshots (secret): a restore decrypts with it. Keep a copy
        // off the stack too: without it no snapshot can be restored.
        etcdBackupPassphrase: c.etcdBackup ? c.etcdBackup.passphrase : pulumi.output(undefined),
    };
}
