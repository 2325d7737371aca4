import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Node } from "./node";
import { Pki } from "./pki";
import { BundleFile } from "./runner";
import * as render from "./render";

/**
 * The registry's settings. A validated `k8s-ha:mirror` (a MirrorConfig) is one. The ports and the
 * upstream only reach the host's files, its steps' environment and the endpoints, so each may be
 * another resource's output.
 */
export interface DockerImageMirrorSettings {
    /**
     * The port the registry serves pulls on (TLS). Required (the stack config's default is 5000).
     * The mirror host's firewall (a Node's `firewall`) and the workers' containerd (WorkerSettings)
     * take the port as a plain number: give them the same one.
     */
    port: pulumi.Input<number>;
    /**
     * `proxy`: a pull-through cache of `upstream`; `preloaded`: serves only what was pushed into it.
     * Required (the stack config's default is `proxy`). Plain: it decides what exists (a preloaded
     * mirror has a push password resource, a push endpoint and the `push` output).
     */
    mode: "proxy" | "preloaded";
    /** The registry a proxy pulls from, with its scheme (`https://registry.example.com`). Proxy mode only, where it is required. */
    upstream?: pulumi.Input<string>;
    /** Preloaded mode only: the port of the push endpoint (TLS, a user and password). Default `port + 1`. */
    pushPort?: pulumi.Input<number>;
    /**
     * Preloaded mode only: the push password's generation (the password's `keepers`); any change
     * makes a new password. Default: none, the first password. Plain: it is part of the resource's identity.
     */
    pushPasswordGeneration?: number;
}

export interface DockerImageMirrorArgs {
    /** Its port, mode, upstream and push port. */
    settings: DockerImageMirrorSettings;
    /** The mirror host's Node. */
    node: Node;
    /** The cluster PKI: every node trusts its CA, so the mirror's certificate comes from it. */
    pki: Pki;
}

/**
 * A Docker distribution registry with TLS, either a pull-through cache of `mirror.upstream` or
 * preloaded. Every Node's containerd sends the registries in `mirror.registries` to it.
 */
export interface MirrorPushCredentials {
    /** `address:pushPort`. */
    endpoint: string;
    username: string;
    password: string;
}

export class DockerImageMirror extends pulumi.ComponentResource {
    /** `address:port` of the registry, once it answers. */
    readonly endpoint: pulumi.Output<string>;
    /** A preloaded mirror's push endpoint and its credentials (secret); undefined for a pull-through cache. */
    readonly push?: pulumi.Output<MirrorPushCredentials>;

    constructor(
        name: string,
        private readonly args: DockerImageMirrorArgs,
        opts?: pulumi.ComponentResourceOptions,
    ) {
        super("k8s-ha:index:DockerImageMirror", name, {}, opts);
        const { node, pki } = args;
        const host = node.runner.host;
        const cert = pki.issue(`${host.name}-registry`, { commonName: host.name, dnsNames: [host.name], ipAddresses: [host.address], server: true }, this);
        const m = args.settings;
        const preloaded = m.mode === "preloaded";
        const port = pulumi.output(m.port);
        const pushPort = m.pushPort === undefined ? port.apply((p) => p + 1) : pulumi.output(m.pushPort);
        this.ports = { port, pushPort };
        // Pushes need a password from the stack (preloaded mode); the nodes pull without one, read-only.
        const password = preloaded
            ? new random.RandomPassword(
                  `${name}-push-password`,
                  // No keepers unless a generation is set: adding them would replace an existing stack's password.
                  { length: 32, special: false, ...(m.pushPasswordGeneration !== undefined ? { keepers: { generation: String(m.pushPasswordGeneration) } } : {}) },
                  { parent: this },
              ).result
            : undefined;
        // The push endpoint serves the same certificate: a TLS change restarts it too.
        const pushUnit = render.REGISTRY_PUSH.unitName;
        const tlsRestarts = preloaded ? [render.UNITS.registry, pushUnit] : [render.UNITS.registry];
        const r = render.REGISTRY_FILES;
        const files = pulumi
            .output({ ca: pki.caCert, c: cert.cert, k: cert.key, pw: password ?? "", port, pushPort, upstream: m.upstream })
            .apply(({ ca, c, k, pw, port, pushPort, upstream }): BundleFile[] => [
                { path: r.tlsCa, mode: "0644", content: ca, restarts: tlsRestarts },
                { path: r.tlsCert, mode: "0644", content: c, restarts: tlsRestarts },
                { path: r.tlsKey, mode: "0640", content: k, restarts: tlsRestarts },
                {
                    path: r.config,
                    mode: "0644",
                    restarts: [render.UNITS.registry],
                    content: render.renderRegistryConfig({ port, mode: m.mode, upstream, readOnly: preloaded }),
                },
                ...(preloaded
                    ? [
                          {
                              path: render.REGISTRY_PUSH.config,
                              mode: "0644",
                              restarts: [pushUnit],
                              content: render.renderRegistryConfig({ port: pushPort, mode: m.mode, htpasswdFile: render.REGISTRY_PUSH.htpasswd }),
                          },
                          { path: render.REGISTRY_PUSH.unit, mode: "0600", restarts: [pushUnit], content: render.renderRegistryPushUnit() },
                          // Only staged: mirror.sh makes the htpasswd entry from it.
                          { path: render.REGISTRY_PUSH.password, mode: "0600", stageOnly: true, content: pw },
                      ]
                    : []),
            ]);
        const env: Record<string, pulumi.Input<string>> = { MIRROR_ADDRESS: host.address, MIRROR_PORT: port.apply(String), MIRROR_MODE: m.mode };
        if (preloaded) env.MIRROR_PUSH_PORT = pushPort.apply(String);
        const cmd = node.runner.run("mirror", { script: "mirror", env, files, secret: true }, { parent: this });
        if (password) {
            this.push = pulumi.secret(
                pulumi
                    .output({ ran: cmd.id, pw: password, pushPort })
                    .apply(({ pw, pushPort }) => ({ endpoint: `${host.address}:${pushPort}`, username: render.REGISTRY_PUSH.user, password: pw })),
            );
        }
        // From the command's id, not its stdout: it resolves only once the command has run (so users
        // of the value wait for it), and an update keeps the id, so a preview of one still knows
        // the value, which never changes, instead of showing everything built from it as unknown.
        // It also waits for the mirror host's firewall step (node.prepared): when a worker joins, that
        // step opens the registry to it, and the new worker's runtime pulls only after that.
        this.endpoint = pulumi.output({ ran: cmd.id, prepared: node.prepared.id, port }).apply(({ port }) => `${host.address}:${port}`);
        this.mirrorCommand = cmd;
        this.registerOutputs({ endpoint: this.endpoint });
    }

    private readonly mirrorCommand: pulumi.Resource;
    /** The registry's ports, as given (the push port `port + 1` by default). */
    private readonly ports: { port: pulumi.Output<number>; pushPort: pulumi.Output<number> };

    /**
     * The digest of an add-on image as the mirror serves it (`sha256:…`), from a step on the mirror
     * host (`<host>-digest-<key>`) that runs when the image's tag or the stack's pin changes, and
     * fails when a pin does not match. The add-ons name their images by it.
     */
    digest(key: string, image: render.MirrorImage, pinned?: string): pulumi.Output<string> {
        const { node } = this.args;
        const { port, pushPort } = this.ports;
        const env: Record<string, pulumi.Input<string>> = {
            MIRROR_ADDRESS: node.runner.host.address,
            MIRROR_PORT: port.apply(String),
            IMAGE_PATH: image.path,
            IMAGE_TAG: image.tag,
            IMAGE_DIGEST: pinned ?? "",
        };
        if (this.args.settings.mode === "preloaded") env.MIRROR_PUSH = pushPort.apply((p) => `${node.runner.host.address}:${p}`);
        const cmd = node.runner.run(`digest-${key}`, { script: "digest", env, withDelete: false }, { parent: this, after: [this.mirrorCommand] });
        return cmd.stdout.apply((out) => {
            const last = out.trim().split("\n").pop() ?? "";
            if (!render.DIGEST_RE.test(last)) throw new Error(`${node.runner.host.name}-digest-${key}: no digest in its output: ${JSON.stringify(last)}`);
            return last;
        });
    }
}
