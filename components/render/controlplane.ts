/**
 * systemd units of kube-apiserver, kube-controller-manager and kube-scheduler (Kubernetes v1.35
 * flag names). Every path comes from the fixed host layout in `paths.ts`.
 */
import { etcdClientUrl, type EtcdMember } from "./etcd";
import { BINARIES, K8S_FILES, K8S_PKI } from "./paths";
import { flagArgs, renderServiceUnit, type FlagValue } from "./systemd";
import { TLS_CIPHER_SUITES } from "./tls";
import { byName, requireCidr, requireInt, requireIpv4, requireToken } from "./text";

export const APISERVER_PORT = 6443;

export interface ApiServerUnitParams {
    /**
     * This control-plane host's address: `--advertise-address`. The apiserver listens on all
     * addresses (no `--bind-address`) so checks on the host itself can use 127.0.0.1.
     */
    advertiseAddress: string;
    /** Every etcd member; `--etcd-servers` lists them sorted by name. */
    etcdMembers: readonly EtcdMember[];
    /** `--service-cluster-ip-range`. */
    serviceCidr: string;
    /**
     * `--service-account-issuer`: the cluster's API endpoint (`https://VIP:port`), so tokens name
     * the address every client reaches and stay valid whichever apiserver signed them.
     */
    serviceAccountIssuer: string;
    /** Days, files and megabytes of audit log kept. Defaults 30, 10, 100. */
    auditLogMaxAge?: number;
    auditLogMaxBackup?: number;
    auditLogMaxSize?: number;
    /** Extra or overriding flags (name without `--`). Must not contain `anonymous-auth`. */
    extraFlags?: Readonly<Record<string, FlagValue>>;
}

/** The kube-apiserver flags, sorted by name. */
export function apiServerFlags(p: ApiServerUnitParams): string[] {
    requireIpv4(p.advertiseAddress, "apiserver advertiseAddress");
    requireCidr(p.serviceCidr, "apiserver serviceCidr");
    if (p.etcdMembers.length === 0) {
        throw new Error("apiserver: etcdMembers is empty");
    }
    for (const m of p.etcdMembers) {
        requireIpv4(m.address, `apiserver etcd member "${m.name}" address`);
    }
    if (!/^https:\/\/[^\s/]+(:\d+)?$/.test(p.serviceAccountIssuer)) {
        throw new Error(`apiserver: serviceAccountIssuer "${p.serviceAccountIssuer}" must be an https URL without a path, e.g. https://10.0.0.10:6443`);
    }
    if (p.extraFlags && "anonymous-auth" in p.extraFlags) {
        throw new Error("apiserver: --anonymous-auth cannot be combined with --authentication-config; anonymous access is set in the authentication config");
    }
    const maxAge = p.auditLogMaxAge ?? 30;
    const maxBackup = p.auditLogMaxBackup ?? 10;
    const maxSize = p.auditLogMaxSize ?? 100;
    requireInt(maxAge, 1, 3650, "apiserver auditLogMaxAge");
    requireInt(maxBackup, 1, 1000, "apiserver auditLogMaxBackup");
    requireInt(maxSize, 1, 100000, "apiserver auditLogMaxSize");
    return flagArgs({
        "advertise-address": p.advertiseAddress,
        "secure-port": APISERVER_PORT,
        "allow-privileged": true,
        "authorization-mode": ["Node", "RBAC"],
        // Anonymous access only to /livez, /readyz, /healthz (see renderAuthenticationConfig);
        // --anonymous-auth must stay unset next to it.
        "authentication-config": K8S_FILES.authenticationConfig,
        "client-ca-file": K8S_PKI.caCert,
        // CIS 1.2.3: no Service may claim an external IP (a way to intercept other tenants' traffic).
        // CIS 1.2.9: EventRateLimit, with its limits in the admission configuration file.
        "enable-admission-plugins": ["NodeRestriction", "DenyServiceExternalIPs", "EventRateLimit"],
        // PodSecurity (on by default) and EventRateLimit, configured by renderAdmissionConfig.
        "admission-control-config-file": K8S_FILES.admissionConfig,
        "encryption-provider-config": K8S_FILES.encryptionConfig,
        "etcd-servers": byName(p.etcdMembers).map((m) => etcdClientUrl(m.address)),
        "etcd-cafile": K8S_PKI.etcdCaCert,
        "etcd-certfile": K8S_PKI.apiserverEtcdClientCert,
        "etcd-keyfile": K8S_PKI.apiserverEtcdClientKey,
        "tls-cert-file": K8S_PKI.apiserverCert,
        "tls-private-key-file": K8S_PKI.apiserverKey,
        "kubelet-client-certificate": K8S_PKI.apiserverKubeletClientCert,
        "kubelet-client-key": K8S_PKI.apiserverKubeletClientKey,
        // The apiserver verifies the kubelets' serving certificates against their own CA; it
        // connects to the node's InternalIP first, so each kubelet certificate has its IP as a SAN.
        "kubelet-certificate-authority": K8S_PKI.kubeletCaCert,
        "kubelet-preferred-address-types": ["InternalIP", "Hostname"],
        "service-account-issuer": p.serviceAccountIssuer,
        "service-account-key-file": K8S_PKI.serviceAccountPub,
        "service-account-signing-key-file": K8S_PKI.serviceAccountKey,
        "service-cluster-ip-range": p.serviceCidr,
        "audit-policy-file": K8S_FILES.auditPolicy,
        "audit-log-path": K8S_FILES.auditLog,
        "audit-log-maxage": maxAge,
        "audit-log-maxbackup": maxBackup,
        "audit-log-maxsize": maxSize,
        profiling: false,
        // CIS 1.2.29: TLS 1.2 or newer, forward-secret AEAD suites only (the certificates are ECDSA).
        "tls-min-version": "VersionTLS12",
        "tls-cipher-suites": TLS_CIPHER_SUITES,
        // CIS 1.2.30: service-account tokens expire when they say they do.
        "service-account-extend-token-expiration": false,
        // On stop, /readyz fails at once while requests are still served for this long, so HAProxy
        // (checks every 1 s, down after 2 failures) moves traffic away before the listener closes.
        "shutdown-delay-duration": "5s",
        "shutdown-send-retry-after": true,
        ...p.extraFlags,
    });
}

/** `/etc/systemd/system/kube-apiserver.service`. */
export function renderApiServerUnit(p: ApiServerUnitParams): string {
    return renderServiceUnit({
        description: "Kubernetes API server (k8s-ha)",
        documentation: ["https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/"],
        wants: ["network-online.target"],
        // etcd may run on the same host; ordering after it is harmless when it does not.
        after: ["network-online.target", "etcd.service"],
        type: "simple",
        execStart: [{ path: BINARIES.kubeApiserver, args: apiServerFlags(p) }],
        restart: "always",
        restartSec: 5,
        extra: [["LimitNOFILE", "65536"]],
    });
}

export interface ControllerManagerUnitParams {
    /** `--cluster-cidr`: the pod network. */
    podCidr: string;
    /** `--service-cluster-ip-range`. */
    serviceCidr: string;
    /** `--cluster-name`. Default `kubernetes`. */
    clusterName?: string;
    extraFlags?: Readonly<Record<string, FlagValue>>;
    /** `--cluster-signing-duration` in hours (default: the controller-manager's, a year). */
    signingDurationHours?: number;
}

/** The kube-controller-manager flags, sorted by name. */
export function controllerManagerFlags(p: ControllerManagerUnitParams): string[] {
    requireCidr(p.podCidr, "controller-manager podCidr");
    requireCidr(p.serviceCidr, "controller-manager serviceCidr");
    const clusterName = p.clusterName ?? "kubernetes";
    requireToken(clusterName, "controller-manager clusterName");
    const kubeconfig = K8S_FILES.controllerManagerKubeconfig;
    return flagArgs({
        kubeconfig,
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        // Metrics and health on localhost only: nothing outside the host needs them.
        "bind-address": "127.0.0.1",
        "cluster-name": clusterName,
        // Signers of the CSR API, each its own: the kubelets' client renewals with the cluster CA;
        // kubelet-serving with the kubelet serving CA, so an approval by mistake cannot mint a
        // certificate the apiserver, the mirror or a client trusts. kube-apiserver-client and
        // legacy-unknown have no signer (the generic --cluster-signing-*-file may not sit beside these).
        "cluster-signing-kubelet-client-cert-file": K8S_PKI.caCert,
        "cluster-signing-kubelet-client-key-file": K8S_PKI.caKey,
        "cluster-signing-kubelet-serving-cert-file": K8S_PKI.kubeletCaCert,
        "cluster-signing-kubelet-serving-key-file": K8S_PKI.kubeletCaKey,
        // How long what it signs lasts (the kubelets' client certificates, which they renew at 70-90% of it).
        ...(p.signingDurationHours === undefined ? {} : { "cluster-signing-duration": `${p.signingDurationHours}h` }),
        "root-ca-file": K8S_PKI.caCert,
        "service-account-private-key-file": K8S_PKI.serviceAccountKey,
        // Each controller gets its own service account and RBAC role instead of sharing ours.
        "use-service-account-credentials": true,
        "cluster-cidr": p.podCidr,
        "service-cluster-ip-range": p.serviceCidr,
        // Pod CIDRs are fixed per node by k8s-ha (each worker's kubelet config and the static
        // routes), so the controller must not hand out others.
        "allocate-node-cidrs": false,
        "leader-elect": true,
        profiling: false,
        // CIS 1.3.1: the default 12500 is sized for 5000-node clusters; 1000 keeps recent failures to read on a few nodes.
        "terminated-pod-gc-threshold": TERMINATED_POD_GC_THRESHOLD,
        ...p.extraFlags,
    });
}

/** `--terminated-pod-gc-threshold`: finished pods kept before the oldest are deleted. */
export const TERMINATED_POD_GC_THRESHOLD = 1000;

/** `/etc/systemd/system/kube-controller-manager.service`. */
export function renderControllerManagerUnit(p: ControllerManagerUnitParams): string {
    return renderServiceUnit({
        description: "Kubernetes controller manager (k8s-ha)",
        documentation: ["https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/"],
        wants: ["network-online.target"],
        after: ["network-online.target", "kube-apiserver.service"],
        type: "simple",
        execStart: [{ path: BINARIES.kubeControllerManager, args: controllerManagerFlags(p) }],
        restart: "always",
        restartSec: 5,
    });
}

/**
 * The kube-scheduler flags, sorted by name. Client connection, leader election and profiling are
 * in the config file (`renderSchedulerConfig`); only secure serving and its delegated authn/authz
 * stay flags, since the config file has no fields for them.
 */
export function schedulerFlags(extraFlags?: Readonly<Record<string, FlagValue>>): string[] {
    const kubeconfig = K8S_FILES.schedulerKubeconfig;
    return flagArgs({
        config: K8S_FILES.schedulerConfig,
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        "bind-address": "127.0.0.1",
        ...extraFlags,
    });
}

/** `/etc/systemd/system/kube-scheduler.service`. */
export function renderSchedulerUnit(extraFlags?: Readonly<Record<string, FlagValue>>): string {
    return renderServiceUnit({
        description: "Kubernetes scheduler (k8s-ha)",
        documentation: ["https://kubernetes.io/docs/reference/command-line-tools-reference/kube-scheduler/"],
        wants: ["network-online.target"],
        after: ["network-online.target", "kube-apiserver.service"],
        type: "simple",
        execStart: [{ path: BINARIES.kubeScheduler, args: schedulerFlags(extraFlags) }],
        restart: "always",
        restartSec: 5,
    });
}
