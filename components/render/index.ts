/**
 * Pure rendering of every file k8s-ha puts on a host: plain values in, file text out, no Pulumi.
 * The same input always gives the same bytes, so Pulumi sees no diff unless something changed.
 * Components resolve their Outputs (`pulumi.all(...).apply(...)`) and call these; a result that
 * holds a secret (kubeconfig, encryption config, keepalived.conf) must be wrapped in
 * `pulumi.secret` by the caller.
 */
export * from "./addons";
export * from "./apiserver-config";
export * from "./cni";
export * from "./containerd";
export * from "./controlplane";
export * from "./etcd";
export * from "./etcd-backup";
export * from "./exports";
export * from "./firewall";
export * from "./haproxy";
export * from "./keepalived";
export * from "./kubeconfig";
export * from "./kubelet";
export * from "./kubeproxy";
export * from "./os";
export * from "./paths";
export * from "./registry";
export * from "./storage";
export * from "./systemd";
export * from "./tls";
export { toYaml, toYamlDocuments, type YamlMap, type YamlScalar, type YamlValue } from "./yaml";
