/**
 * The Docker distribution registry that serves as the cluster's image mirror
 * (`/etc/docker/registry/config.yml`, the path Debian's docker-registry package reads).
 */
import { REGISTRY_FILES, SYSTEM_BINARIES, unitPath } from "./paths";
import { renderServiceUnit } from "./systemd";
import { requireAbsolutePath, requireInt } from "./text";
import { toYaml } from "./yaml";

export interface RegistryConfigParams {
    /** TLS port. */
    port: number;
    /**
     * `proxy`: a pull-through cache of `upstream`, filling itself on first pull.
     * `preloaded`: serves only what was pushed into it (offline clusters).
     */
    mode: "proxy" | "preloaded";
    /** Upstream registry URL with scheme, e.g. `https://registry.example` or `http://10.213.0.1:5000` (proxy mode only). */
    upstream?: string;
    /** Default `/var/lib/docker-registry`. */
    storageDir?: string;
    /** Default `/etc/docker/registry/tls/registry.crt`. */
    tlsCertFile?: string;
    /** Default `/etc/docker/registry/tls/registry.key`. */
    tlsKeyFile?: string;
    /**
     * Serve pulls only (preloaded mode's pull endpoint): every write is refused, and the upload
     * purger, which could remove another instance's uploads in progress, does not run.
     */
    readOnly?: boolean;
    /** The push endpoint of a preloaded mirror: every request needs a user of this htpasswd file (bcrypt). */
    htpasswdFile?: string;
}

/** The push endpoint of a preloaded mirror: its config, htpasswd file, unit, and user. */
export const REGISTRY_PUSH = {
    config: REGISTRY_FILES.pushConfig,
    htpasswd: REGISTRY_FILES.pushHtpasswd,
    unit: unitPath("k8s-ha-registry-push"),
    unitName: "k8s-ha-registry-push",
    user: "k8s-ha-push",
    /** The password's place in the step's bundle: it is only staged (under /run) to make the htpasswd entry, never installed. */
    password: "/secrets/registry-push-password",
    realm: "k8s-ha image mirror (push)",
} as const;

/**
 * `config.yml` (configuration version 0.1). A preloaded mirror runs it twice over the same storage:
 * `readOnly` on `port` for the nodes, and with `htpasswdFile` on the push port. Filesystem storage; deleting is disabled, so a
 * client of the mirror cannot remove what the nodes pull; the storage health check lets the
 * registry report itself unhealthy on `/debug/health` when its disk fails. In proxy mode the
 * upstream's repositories appear under the same names, so `registry.k8s.io/pause` on the
 * upstream is `registry.k8s.io/pause` on the mirror.
 */
export function renderRegistryConfig(p: RegistryConfigParams): string {
    requireInt(p.port, 1, 65535, "registry port");
    const storageDir = p.storageDir ?? REGISTRY_FILES.storageDir;
    const cert = p.tlsCertFile ?? REGISTRY_FILES.tlsCert;
    const key = p.tlsKeyFile ?? REGISTRY_FILES.tlsKey;
    requireAbsolutePath(storageDir, "registry storageDir");
    requireAbsolutePath(cert, "registry tlsCertFile");
    requireAbsolutePath(key, "registry tlsKeyFile");
    if (p.mode === "proxy") {
        if (p.upstream === undefined || !/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(p.upstream)) {
            throw new Error(`registry: proxy mode needs upstream as an http(s) URL, got ${JSON.stringify(p.upstream)}`);
        }
    } else if (p.upstream !== undefined) {
        throw new Error("registry: upstream is only used in proxy mode; leave it out for a preloaded mirror");
    }
    if (p.mode === "proxy" && (p.readOnly || p.htpasswdFile !== undefined)) {
        throw new Error("registry: a pull-through cache writes what it caches and takes no pushes; readOnly and htpasswdFile are for a preloaded mirror");
    }
    if (p.readOnly && p.htpasswdFile !== undefined) {
        throw new Error("registry: the read-only endpoint is the one without credentials; give htpasswdFile to the push endpoint only");
    }
    if (p.htpasswdFile !== undefined) requireAbsolutePath(p.htpasswdFile, "registry htpasswdFile");
    return toYaml({
        version: "0.1",
        log: { level: "info", formatter: "text" },
        storage: {
            filesystem: { rootdirectory: storageDir },
            delete: { enabled: false },
            cache: { blobdescriptor: "inmemory" },
            maintenance: p.readOnly ? { uploadpurging: { enabled: false }, readonly: { enabled: true } } : undefined,
        },
        auth: p.htpasswdFile !== undefined ? { htpasswd: { realm: REGISTRY_PUSH.realm, path: p.htpasswdFile } } : undefined,
        http: {
            addr: `:${p.port}`,
            tls: { certificate: cert, key },
            headers: { "X-Content-Type-Options": ["nosniff"] },
        },
        health: { storagedriver: { enabled: true, interval: "10s", threshold: 3 } },
        proxy: p.mode === "proxy" ? { remoteurl: p.upstream } : undefined,
    });
}

/** The push endpoint's unit: the same registry program as Debian's docker-registry.service, as its user. */
export function renderRegistryPushUnit(): string {
    return renderServiceUnit({
        description: "Push endpoint of the k8s-ha image mirror (docker-registry with htpasswd)",
        wants: ["network-online.target"],
        after: ["network-online.target"],
        type: "simple",
        execStart: [{ path: SYSTEM_BINARIES.dockerRegistry, args: ["serve", REGISTRY_PUSH.config] }],
        restart: "on-failure",
        restartSec: 5,
        extra: [
            ["User", "docker-registry"],
            ["Group", "docker-registry"],
        ],
    });
}
