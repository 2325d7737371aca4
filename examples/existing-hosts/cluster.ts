import { RawConfig } from "../../components";

/** The hosts of this example's data centre: names, addresses, roles and their pinned SSH host keys. */
export interface Site {
    /** `name → ssh-ed25519 AAAA…` for every host (from `ssh-keyscan -t ed25519`, checked out of band). */
    hostKeys: Record<string, string>;
    /** `artifact@version → sha256` for every release file the hosts download (k8s-ha:checksums). */
    checksums: Record<string, string>;
}

/**
 * The cluster of this example, written in TypeScript instead of a stack file: three etcd and
 * control-plane hosts, two load balancers holding the VIP, three workers, an image mirror and an
 * NFS server on 192.0.2.0/24 (a documentation network: change the addresses to your own).
 */
export function exampleConfig(site: Site): RawConfig {
    const host = (address: string, roles: string[], name: string) => ({ address, roles, hostKey: site.hostKeys[name] });
    return {
        sshPrivateKeyPresent: true,
        nodeNetwork: "192.0.2.0/24",
        vip: "192.0.2.10",
        hosts: {
            lb1: host("192.0.2.11", ["lb"], "lb1"),
            lb2: host("192.0.2.12", ["lb"], "lb2"),
            cp1: host("192.0.2.21", ["etcd", "control-plane"], "cp1"),
            cp2: host("192.0.2.22", ["etcd", "control-plane"], "cp2"),
            cp3: host("192.0.2.23", ["etcd", "control-plane"], "cp3"),
            w1: host("192.0.2.31", ["worker"], "w1"),
            w2: host("192.0.2.32", ["worker"], "w2"),
            w3: host("192.0.2.33", ["worker"], "w3"),
            mirror: host("192.0.2.41", ["mirror"], "mirror"),
            nfs: host("192.0.2.51", ["nfs"], "nfs"),
        },
        checksums: site.checksums,
        // The mirror pulls through from the registry your hosts may reach (an internal one in an
        // air-gapped site), and caches what the nodes pull.
        mirror: { upstream: "https://registry.example.com" },
        // Scheduled etcd snapshots onto the NFS server, every night, the newest seven kept.
        etcdBackup: { schedule: "daily", keep: 7 },
    };
}
