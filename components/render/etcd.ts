/**
 * The etcd member's systemd unit. etcd runs with its own CA (separate from the cluster CA),
 * client and peer certificate authentication on, and no auto-TLS, so neither a client nor a peer
 * without a certificate from that CA gets in.
 */
import { BINARIES, ETCD_FILES } from "./paths";
import { flagArgs, renderServiceUnit } from "./systemd";
import { byName, requireIpv4, requireToken, requireUnique } from "./text";
import { TLS_CIPHER_SUITES } from "./tls";

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
/** Plain-HTTP metrics and /health on localhost only, for local health checks without a client certificate. */
export const ETCD_METRICS_URL = "http://127.0.0.1:2381";

export interface EtcdMember {
    /** Member name: the host name. */
    name: string;
    address: string;
}

export interface EtcdUnitParams {
    /** This member's name; must be one of `members`. */
    name: string;
    /** This member's address; must match its entry in `members`. */
    address: string;
    /** Every member of the cluster, this one included. Order does not matter (sorted by name). */
    members: readonly EtcdMember[];
    /** `--initial-cluster-token`: keeps members of two clusters bootstrapped alike from joining each other. */
    clusterToken: string;
    /** `--initial-cluster-state`. Default `new`; `existing` when joining a member to a running cluster. */
    clusterState?: "new" | "existing";
    /**
     * Default `notify`: etcd tells systemd when it has joined the cluster, so `systemctl start`
     * returns only once the member serves. With a new three-member cluster that means quorum: a
     * script that starts members one after the other must use `systemctl start --no-block etcd`
     * (then wait for health) or it waits for the others. `simple` returns at once.
     */
    serviceType?: "notify" | "simple";
    /** Tuning from the stack (`k8s-ha:etcd`); etcd's own defaults where not given. */
    tuning?: EtcdTuning;
}

/** etcd settings a stack may tune; each is left out of the unit (etcd's default) when not given. */
export interface EtcdTuning {
    /** `--quota-backend-bytes`: the database size at which etcd raises NOSPACE (default 2 GiB). */
    quotaBackendBytes?: number;
    /** `--heartbeat-interval` in ms (default 100); raise it on slow links, with the election timeout. */
    heartbeatIntervalMs?: number;
    /** `--election-timeout` in ms (default 1000); at least 5 heartbeats. */
    electionTimeoutMs?: number;
    /** `--snapshot-count`: committed transactions between snapshots to disk (default 10000). */
    snapshotCount?: number;
}

/** `https://<address>:2379`: the client URL of a member. */
export function etcdClientUrl(address: string): string {
    return `https://${address}:${ETCD_CLIENT_PORT}`;
}

/** `https://<address>:2380`: the peer URL of a member. */
export function etcdPeerUrl(address: string): string {
    return `https://${address}:${ETCD_PEER_PORT}`;
}

/** `name=https://addr:2380,...` over all members, sorted by name: the same string on every member. */
export function etcdInitialCluster(members: readonly EtcdMember[]): string {
    return byName(members)
        .map((m) => `${m.name}=${etcdPeerUrl(m.address)}`)
        .join(",");
}

/** The etcd flags of one member, as `--name=value` arguments sorted by name. */
export function etcdFlags(p: EtcdUnitParams): string[] {
    checkMembers(p.members);
    const self = p.members.find((m) => m.name === p.name);
    if (!self) {
        throw new Error(`etcd: member "${p.name}" is not in members (${byName(p.members).map((m) => m.name).join(", ")})`);
    }
    if (self.address !== p.address) {
        throw new Error(`etcd: member "${p.name}" has address ${self.address} in members but ${p.address} was given`);
    }
    requireToken(p.clusterToken, "etcd clusterToken");
    return flagArgs({
        name: p.name,
        "data-dir": ETCD_FILES.dataDir,
        // Clients: the host address for the apiservers, 127.0.0.1 for etcdctl on the host itself.
        "listen-client-urls": [etcdClientUrl(p.address), etcdClientUrl("127.0.0.1")],
        "advertise-client-urls": etcdClientUrl(p.address),
        "listen-peer-urls": etcdPeerUrl(p.address),
        "initial-advertise-peer-urls": etcdPeerUrl(p.address),
        "listen-metrics-urls": ETCD_METRICS_URL,
        "initial-cluster": etcdInitialCluster(p.members),
        "initial-cluster-state": p.clusterState ?? "new",
        "initial-cluster-token": p.clusterToken,
        "client-cert-auth": true,
        "trusted-ca-file": ETCD_FILES.caCert,
        "cert-file": ETCD_FILES.serverCert,
        "key-file": ETCD_FILES.serverKey,
        "peer-client-cert-auth": true,
        "peer-trusted-ca-file": ETCD_FILES.caCert,
        "peer-cert-file": ETCD_FILES.peerCert,
        "peer-key-file": ETCD_FILES.peerKey,
        "auto-tls": false,
        "peer-auto-tls": false,
        // TLS 1.2 or newer with forward-secret AEAD suites, for clients and peers alike.
        "tls-min-version": "TLS1.2",
        "cipher-suites": TLS_CIPHER_SUITES,
        "quota-backend-bytes": p.tuning?.quotaBackendBytes,
        "heartbeat-interval": p.tuning?.heartbeatIntervalMs,
        "election-timeout": p.tuning?.electionTimeoutMs,
        "snapshot-count": p.tuning?.snapshotCount,
    });
}

/**
 * `/etc/systemd/system/etcd.service`. etcd runs as the `etcd` system user (the host script creates
 * it), which owns the 0700 data directory and its two keys (CIS 1.1.11, 1.1.12).
 */
export function renderEtcdUnit(p: EtcdUnitParams): string {
    return renderServiceUnit({
        description: "etcd key-value store (k8s-ha)",
        documentation: ["https://etcd.io/docs/"],
        wants: ["network-online.target"],
        after: ["network-online.target", "time-sync.target"],
        type: p.serviceType ?? "notify",
        execStart: [{ path: BINARIES.etcd, args: etcdFlags(p) }],
        restart: "always",
        restartSec: 5,
        extra: [
            ["User", ETCD_USER],
            ["Group", ETCD_USER],
            ["LimitNOFILE", "65536"],
        ],
    });
}

/** The system user etcd runs as. */
export const ETCD_USER = "etcd";

function checkMembers(members: readonly EtcdMember[]): void {
    if (members.length === 0) {
        throw new Error("etcd: members is empty");
    }
    for (const m of members) {
        requireToken(m.name, "etcd member name");
        requireIpv4(m.address, `etcd member "${m.name}" address`);
    }
    requireUnique(
        members.map((m) => m.name),
        "etcd member name",
    );
    requireUnique(
        members.map((m) => m.address),
        "etcd member address",
    );
}
