import * as crypto from "crypto";
import { DEFAULTS, RawConfig, Versions } from "../components/config";
import { allArtifacts } from "../components/urls";
import { ConfigError, validateConfig } from "../components/validate";
import type { NfsStorageParams } from "../components/render";

/** A made-up sha256: the hash of the text (tests download nothing). */
export function fakeSha256(text: string): string {
    return crypto.createHash("sha256").update(text).digest("hex");
}

/** Made-up pins (k8s-ha:checksums) for every file of these versions, each the sha256 of its key. */
export function fakeChecksums(versions: Versions = DEFAULTS.versions): Record<string, string> {
    return Object.fromEntries(allArtifacts(DEFAULTS.downloads, versions).map((a) => [a.pinKey, fakeSha256(a.pinKey)]));
}

/** A valid raw config shaped like the dev stack (host keys pinned). Tests copy and break it. */
export function labConfig(): RawConfig {
    return {
        sshPrivateKeyPresent: true,
        nodeNetwork: "10.213.0.0/24",
        vip: "10.213.0.10",
        hosts: {
            lb1: { address: "10.213.0.11", roles: ["lb"], hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILB1" },
            lb2: { address: "10.213.0.12", roles: ["lb"], hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILB2" },
            cp1: { address: "10.213.0.21", roles: ["etcd", "control-plane"], hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICP1" },
            cp2: { address: "10.213.0.22", roles: ["etcd", "control-plane"], hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICP2" },
            cp3: { address: "10.213.0.23", roles: ["etcd", "control-plane"], hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICP3" },
            w1: { address: "10.213.0.31", roles: ["worker"], hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIW1" },
            w2: { address: "10.213.0.32", roles: ["worker"], hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIW2" },
            mirror: { address: "10.213.0.41", roles: ["mirror"], hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMIRROR" },
            nfs: { address: "10.213.0.51", roles: ["nfs"], hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINFS" },
        },
        mirror: { upstream: "http://10.213.0.1:5000" },
        // The dev stack's pins come from the lab's artifacts (scripts/pulumi.sh); these are made up.
        checksums: fakeChecksums(),
        // The lab's stand-in registry speaks plain http.
        allowHttpDownloads: true,
    };
}

export function hostsOf(raw: RawConfig): Record<string, Record<string, unknown>> {
    return raw.hosts as Record<string, Record<string, unknown>>;
}

/** The problems validation reports for a raw config (none when it is valid). */
export function problemsOf(raw: RawConfig): string[] {
    try {
        validateConfig(raw);
    } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
    }
    return [];
}

/** The lab's NFS StorageClass and provisioner settings, as the program renders them. */
export const NFS_STORAGE: NfsStorageParams = {
    server: "10.213.0.51",
    path: "/srv/nfs/k8s",
    image: "10.213.0.41:5000/k8s-ha/nfs-provisioner:v0.2.0",
    storageClass: "nfs",
    defaultClass: true,
    reclaimPolicy: "Delete",
    onDelete: "archive",
    mountOptions: ["nfsvers=4.2", "hard"],
    directoryMode: "0777",
    nodeSelector: { "k8s-ha.io/nfs-client": "true" },
};
