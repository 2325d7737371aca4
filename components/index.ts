/**
 * k8s-ha as a library: the components, their arguments, and the config they share, for a Pulumi
 * program of your own (see examples/). The dev stack's program (index.ts) is one such program.
 *
 * The usual path: describe the cluster as a `RawConfig` (the same shape as the `k8s-ha:` keys of a
 * stack file), let `validateConfig` check all of it at once and fill in the defaults, then
 * `buildCluster` wires every component. A program that wants only some of them builds them one by
 * one, as `buildCluster` does, a `Node` per host first. Each takes only the values it uses, with
 * defaults in its Args' JSDoc; `ControlPlane` takes the part of a validated `ClusterConfig` its
 * `ControlPlaneSettings` names. A setting that only reaches a host's files or a step's environment
 * is a `pulumi.Input`, so it may be another resource's output (a VIP, an export path, a port, a
 * backup schedule); one that decides which resources exist or what they are named (hosts, roles,
 * modes, `protect`) is a plain value, and its JSDoc says so.
 */
export { buildCluster, stackOutputs, type Cluster, type ClusterInputs } from "./cluster";
export { ConfigError, validateConfig } from "./validate";
export { readStackConfig, previousRun, type StackConfig } from "./stack";
export { checkHostKeys } from "./hostkeys";
export type { ClusterConfig, HostConfig, RawConfig, Role } from "./config";
export { DEFAULTS } from "./config";
export { Node, Worker, firewallParams, workerRelease, type NodeArgs, type WorkerArgs, type WorkerRelease, type WorkloadArgs, type HostFacts } from "./node";
export { workerSettings, type WorkerSettings } from "./phases";
export { Pki, type PkiArgs } from "./pki";
export { EtcdMember, type EtcdMemberArgs } from "./etcd";
export { ControlPlane, controlPlaneRelease, type ControlPlaneArgs, type ControlPlaneRelease, type ControlPlaneSettings } from "./controlplane";
export { LoadBalancerPair, type LoadBalancerBackend, type LoadBalancerPairArgs } from "./loadbalancer";
export { DockerImageMirror, type DockerImageMirrorArgs, type DockerImageMirrorSettings } from "./mirror";
export { NfsServer, type NfsServerArgs, type NfsServerSettings, type NfsStorageArgs } from "./nfs";
export { EtcdBackup, type EtcdBackupArgs } from "./etcdbackup";
