/**
 * containerd 2.x: its config (`version = 3`), one `hosts.toml` per upstream registry that sends
 * pulls through the cluster's image mirror, and its systemd unit.
 */
import { BINARIES, CNI_BIN_DIR, CNI_CONF_DIR, CONTAINERD_FILES, K8S_PKI, RUNC_PATH, SYSTEM_BINARIES } from "./paths";
import { DIGEST_RE, type MirrorImage } from "./addons";
import { renderServiceUnit } from "./systemd";
import { isIpv4, requireAbsolutePath, requireInt, requireToken } from "./text";
import { renderTomlDocument, type TomlDocumentOptions, type TomlTable } from "./toml";

const RENDERED = "Rendered by k8s-ha. Changes here are overwritten.";
/** config.toml has always quoted its keys as literal strings (`plugins.'io.containerd...'`). */
const CONFIG_TOML: TomlDocumentOptions = { comment: RENDERED, quotedKeys: "literal" };
/** hosts.toml has always quoted its keys as basic strings (`host."https://..."`). */
const HOSTS_TOML: TomlDocumentOptions = { comment: RENDERED, quotedKeys: "basic" };

export interface ContainerdConfigParams {
    /** Tag of `registry.k8s.io/pause`, e.g. `3.10.1`. */
    pauseVersion: string;
    /** The digest the mirror served for that tag (`sha256:…`): the sandbox image is pinned by it. */
    pauseDigest: string;
    /**
     * runc's `SystemdCgroup`. Must match the kubelet's `cgroupDriver` (`systemd` ⇔ true);
     * containerd and the kubelet disagreeing breaks every pod.
     */
    systemdCgroup: boolean;
    /**
     * Default `overlayfs`. `native` where the root filesystem cannot carry overlay mounts (e.g.
     * an nspawn machine whose root is itself an overlay).
     */
    snapshotter?: "overlayfs" | "native" | "btrfs";
    /**
     * CRI's `restrict_oom_score_adj`: never ask for a lower oom_score_adj than containerd's own.
     * Needed where the node has no CAP_SYS_RESOURCE (a container such as the lab's nspawn
     * machines), or runc fails every pod sandbox. Default false.
     */
    restrictOomScoreAdj?: boolean;
    /**
     * The containerd release that reads it, `MAJOR.MINOR.PATCH`: 2.3 and later read config version
     * 4 (they migrate a version 3 file, with a warning at every start), 2.2 and earlier refuse it.
     * Default: a 2.2 release.
     */
    containerdVersion?: string;
}

/** `registry.k8s.io/pause` on the mirror, as the pause step resolves its tag to a digest. */
export function pauseMirrorImage(version: string): MirrorImage {
    return { path: "registry.k8s.io/pause", tag: version };
}

/**
 * The sandbox image by digest alone. containerd normalises `name:tag@digest` to `name@digest`
 * before it pulls, and labels the image pinned (kept from the kubelet's image GC) only when the
 * normalised name equals `pinned_images.sandbox` as written; so it is written normalised.
 */
export function pauseImageRef(digest: string): string {
    return `registry.k8s.io/pause@${digest}`;
}

/** The config version a containerd release reads without migrating: 4 from 2.3 on, else 3. */
export function containerdConfigVersion(containerdVersion: string | undefined): 3 | 4 {
    if (containerdVersion === undefined) return 3;
    const m = /^(\d+)\.(\d+)\.\d+$/.exec(containerdVersion);
    if (!m) throw new Error(`containerd: version "${containerdVersion}" is not MAJOR.MINOR.PATCH`);
    const [major, minor] = [Number(m[1]), Number(m[2])];
    return major > 2 || (major === 2 && minor >= 3) ? 4 : 3;
}

/**
 * `/etc/containerd/config.toml` for containerd 2.x: config version 3 (which 2.0 introduced), or 4
 * for 2.3 and later, with the same sections.
 * Registry hosts come from `/etc/containerd/certs.d` (`hosts.toml` per registry), so adding a
 * mirror never needs a restart. The sandbox image is pinned so image garbage collection never
 * removes it. CNI binaries and configs are the fixed paths; `bin_dirs` needs containerd ≥ 2.1
 * (the default version here is 2.2). runc is named by path, since /usr/local/sbin may not be on
 * containerd's PATH.
 */
export function renderContainerdConfig(p: ContainerdConfigParams): string {
    return renderTomlDocument(containerdConfigDocument(p), CONFIG_TOML);
}

/** The data of renderContainerdConfig's file, after the same checks. */
export function containerdConfigDocument(p: ContainerdConfigParams): TomlTable {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(p.pauseVersion)) {
        throw new Error(`containerd: pauseVersion "${p.pauseVersion}" is not an image tag`);
    }
    if (!DIGEST_RE.test(p.pauseDigest)) throw new Error(`containerd: pauseDigest "${p.pauseDigest}" is not sha256: and 64 hex digits`);
    return {
        version: containerdConfigVersion(p.containerdVersion),
        root: CONTAINERD_FILES.root,
        state: CONTAINERD_FILES.state,
        grpc: { address: CONTAINERD_FILES.socket },
        plugins: {
            "io.containerd.cri.v1.images": {
                snapshotter: p.snapshotter ?? "overlayfs",
                pinned_images: { sandbox: pauseImageRef(p.pauseDigest) },
                registry: { config_path: CONTAINERD_FILES.certsDir },
            },
            "io.containerd.cri.v1.runtime": {
                // Left out unless true: without it this table has no header of its own.
                restrict_oom_score_adj: p.restrictOomScoreAdj ? true : undefined,
                containerd: {
                    default_runtime_name: "runc",
                    runtimes: { runc: { runtime_type: "io.containerd.runc.v2", options: { BinaryName: RUNC_PATH, SystemdCgroup: p.systemdCgroup } } },
                },
                cni: { bin_dirs: [CNI_BIN_DIR], conf_dir: CNI_CONF_DIR },
            },
        },
    };
}

export interface ContainerdHostsParams {
    /** The upstream registry host name as images name it: `registry.k8s.io`, `docker.io`. */
    registry: string;
    /** The image mirror's address or host name. */
    mirrorHost: string;
    /** The image mirror's TLS port. */
    mirrorPort: number;
    /** CA that signed the mirror's certificate. Default: the cluster CA. */
    caFile?: string;
}

/**
 * The address containerd falls back to when no mirror answers. Docker Hub's images are named
 * `docker.io/...` but its registry API is served by `registry-1.docker.io`.
 */
export function upstreamServer(registry: string): string {
    return registry === "docker.io" ? "https://registry-1.docker.io" : `https://${registry}`;
}

/**
 * `/etc/containerd/certs.d/<registry>/hosts.toml`. Pulls go to
 * `https://<mirror>:<port>/v2/<registry>/<name>/...`: `override_path = true` makes containerd use
 * the path as given instead of appending `/v2`, so one mirror serves every upstream under its own
 * prefix (the pull-through cache keeps the upstream host as the first path element). The mirror
 * may only pull and resolve, never receive a push. Its certificate is checked against the cluster
 * CA that signed it.
 */
export function renderContainerdHostsToml(p: ContainerdHostsParams): string {
    return renderTomlDocument(containerdHostsDocument(p), HOSTS_TOML);
}

/** The data of renderContainerdHostsToml's file, after the same checks. */
export function containerdHostsDocument(p: ContainerdHostsParams): TomlTable {
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?$/.test(p.registry)) {
        throw new Error(`containerd hosts: registry "${p.registry}" is not a registry host name`);
    }
    if (!isIpv4(p.mirrorHost)) {
        requireToken(p.mirrorHost, "containerd hosts mirrorHost");
    }
    requireInt(p.mirrorPort, 1, 65535, "containerd hosts mirrorPort");
    const caFile = p.caFile ?? K8S_PKI.caCert;
    requireAbsolutePath(caFile, "containerd hosts caFile");
    const mirror = `https://${p.mirrorHost}:${p.mirrorPort}/v2/${p.registry}`;
    return {
        server: upstreamServer(p.registry),
        host: { [mirror]: { capabilities: ["pull", "resolve"], override_path: true, ca: caFile } },
    };
}

/**
 * `/etc/containerd/certs.d/<mirror>:<port>/hosts.toml`: images named by the mirror's own address
 * (k8s-ha's own images, like the NFS provisioner, which no upstream registry holds) are pulled from
 * it directly, its certificate checked against the cluster CA.
 */
export function renderContainerdMirrorHostsToml(p: { mirrorHost: string; mirrorPort: number; caFile?: string }): string {
    return renderTomlDocument(containerdMirrorHostsDocument(p), HOSTS_TOML);
}

/** The data of renderContainerdMirrorHostsToml's file, after the same checks. */
export function containerdMirrorHostsDocument(p: { mirrorHost: string; mirrorPort: number; caFile?: string }): TomlTable {
    if (!isIpv4(p.mirrorHost)) {
        requireToken(p.mirrorHost, "containerd mirror hosts mirrorHost");
    }
    requireInt(p.mirrorPort, 1, 65535, "containerd mirror hosts mirrorPort");
    const caFile = p.caFile ?? K8S_PKI.caCert;
    requireAbsolutePath(caFile, "containerd mirror hosts caFile");
    const server = `https://${p.mirrorHost}:${p.mirrorPort}`;
    return {
        server,
        host: { [server]: { capabilities: ["pull", "resolve"], ca: caFile } },
    };
}

export interface ContainerdUnitParams {
    /**
     * Default -999: the kernel's OOM killer picks a pod before the runtime. 0 leaves the setting
     * out (for hosts that may not lower a score).
     */
    oomScoreAdjust?: number;
}

/**
 * `/etc/systemd/system/containerd.service`. `Delegate=yes` hands the cgroup subtree to containerd
 * and its shims; `KillMode=process` stops only the daemon on restart, so the shims and the
 * containers they run survive a containerd upgrade; no limits on tasks, processes or core files,
 * since those apply to every container below. `modprobe overlay` is best effort (`-`): a container
 * host may have it built in or be unable to load modules.
 */
export function renderContainerdUnit(p: ContainerdUnitParams = {}): string {
    const oom = p.oomScoreAdjust ?? -999;
    requireInt(oom, -1000, 1000, "containerd oomScoreAdjust");
    return renderServiceUnit({
        description: "containerd container runtime (k8s-ha)",
        documentation: ["https://containerd.io"],
        after: ["network.target", "local-fs.target"],
        type: "notify",
        execStartPre: [{ path: SYSTEM_BINARIES.modprobe, args: ["overlay"], ignoreFailure: true }],
        execStart: [{ path: BINARIES.containerd }],
        restart: "always",
        restartSec: 5,
        extra: [
            ["Delegate", "yes"],
            ["KillMode", "process"],
            ["LimitNOFILE", "infinity"],
            ["LimitNPROC", "infinity"],
            ["LimitCORE", "infinity"],
            ["TasksMax", "infinity"],
            ...(oom !== 0 ? ([["OOMScoreAdjust", String(oom)]] as const) : []),
        ],
    });
}
