import { RawConfig } from "../components/config";

/** A valid raw config shaped like the dev stack. Tests copy and break it. */
export function labConfig(): RawConfig {
    return {
        sshPrivateKeyPresent: true,
        nodeNetwork: "10.213.0.0/24",
        vip: "10.213.0.10",
        hosts: {
            lb1: { address: "10.213.0.11", roles: ["lb"] },
            lb2: { address: "10.213.0.12", roles: ["lb"] },
            cp1: { address: "10.213.0.21", roles: ["etcd", "control-plane"] },
            cp2: { address: "10.213.0.22", roles: ["etcd", "control-plane"] },
            cp3: { address: "10.213.0.23", roles: ["etcd", "control-plane"] },
            w1: { address: "10.213.0.31", roles: ["worker"] },
            w2: { address: "10.213.0.32", roles: ["worker"] },
            mirror: { address: "10.213.0.41", roles: ["mirror"] },
            nfs: { address: "10.213.0.51", roles: ["nfs"] },
        },
        mirror: { upstream: "http://10.213.0.1:5000" },
    };
}

export function hostsOf(raw: RawConfig): Record<string, Record<string, unknown>> {
    return raw.hosts as Record<string, Record<string, unknown>>;
}
