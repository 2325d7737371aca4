/**
 * The Docker distribution registry that serves as the cluster's image mirror
 * (`/etc/docker/registry/config.yml`, the path Debian's docker-registry package reads).
 */
import { REGISTRY_FILES } from "./paths";
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
}

/**
 * `config.yml` (configuration version 0.1). Filesystem storage; deleting is disabled, so a
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
    return toYaml({
        version: "0.1",
        log: { level: "info", formatter: "text" },
        storage: {
            filesystem: { rootdirectory: storageDir },
            delete: { enabled: false },
            cache: { blobdescriptor: "inmemory" },
        },
        http: {
            addr: `:${p.port}`,
            tls: { certificate: cert, key },
            headers: { "X-Content-Type-Options": ["nosniff"] },
        },
        health: { storagedriver: { enabled: true, interval: "10s", threshold: 3 } },
        proxy: p.mode === "proxy" ? { remoteurl: p.upstream } : undefined,
    });
}
