import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { CA_VALIDITY_DAYS, HourLifetime, inHours, lifetimeOf, NOT_RENEWED, providerHours, renewalTrigger } from "./certificates";
import { CertificateSettings } from "./config";

/** What a certificate is for. */
export interface CertRequest {
    commonName: string;
    organization?: string;
    dnsNames?: pulumi.Input<pulumi.Input<string>[]>;
    ipAddresses?: pulumi.Input<pulumi.Input<string>[]>;
    server?: boolean;
    client?: boolean;
}

export interface IssuedCert {
    /** PEM private key, secret. */
    key: pulumi.Output<string>;
    /** PEM certificate. */
    cert: pulumi.Output<string>;
}

export interface PkiArgs {
    /** Common name of the CA, like "k8s-ha cluster CA". */
    commonName: string;
    /** How long the certificates it issues are valid, and when an `up` renews them (`k8s-ha:certificates`). */
    lifetimes: CertificateSettings;
    /** This CA's certificates after the stack's last update: expiries and renewal triggers by name. */
    previous?: { expiries: Record<string, string>; renewals: Record<string, string> };
    /** This program's clock (ms since the epoch), against which renewal points are passed. */
    now: number;
}

/**
 * A certificate authority kept in Pulumi state (its key is a secret) that issues certificates
 * to other components. ECDSA P-256 keys: fast to make and accepted by etcd, Kubernetes and HAProxy.
 */
export class Pki extends pulumi.ComponentResource {
    readonly caCert: pulumi.Output<string>;
    /** The CA's private key, secret. */
    readonly caKey: pulumi.Output<string>;
    private readonly caKeyResource: tls.PrivateKey;
    private readonly caCertResource: tls.SelfSignedCert;
    /** When each certificate of this CA stops being valid (RFC 3339), by name; the CA's own as `ca`. */
    readonly expiries: Record<string, pulumi.Output<string>> = {};
    /** The replacement trigger of each certificate an `up` renewed, by name (see renewalTrigger). */
    readonly renewals: Record<string, string> = {};
    private readonly args: PkiArgs;

    constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:Pki", name, {}, opts);
        this.args = args;
        this.caKeyResource = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        this.caCertResource = new tls.SelfSignedCert(
            `${name}-ca`,
            {
                privateKeyPem: this.caKeyResource.privateKeyPem,
                isCaCertificate: true,
                validityPeriodHours: CA_VALIDITY_DAYS * 24,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"],
                subject: { commonName: args.commonName, organization: "k8s-ha" },
            },
            { parent: this },
        );
        this.caCert = this.caCertResource.certPem;
        this.caKey = pulumi.secret(this.caKeyResource.privateKeyPem);
        this.expiries.ca = this.caCertResource.validityEndTime;
        this.registerOutputs({ caCert: this.caCert });
    }

    /**
     * Issues a certificate; its resources are named `<name>-key|csr|cert` and parented to `parent`.
     * Its lifetime is the config's for that name; past its renewal point, the certificate and its
     * key are replaced (a renewal re-keys), and the hosts' steps that hold them roll them out.
     * `lifetime` replaces the config's (the break-glass credential's hours).
     */
    issue(name: string, req: CertRequest, parent: pulumi.Resource, lifetime: HourLifetime = inHours(lifetimeOf(this.args.lifetimes, name))): IssuedCert {
        if (name in this.expiries) throw new Error(`${name}: a certificate of that name was issued already`);
        const trigger = renewalTrigger({
            expiry: this.args.previous?.expiries[name],
            trigger: this.args.previous?.renewals[name],
            now: this.args.now,
            renewBeforeDays: lifetime.renewBeforeHours / 24,
            longestDays: lifetime.renewWhenLonger ? lifetime.validityHours / 24 : undefined,
        });
        // The key carries the certificate's trigger: a renewal makes a new key too. A key whose state
        // has no trigger yet (issued by an earlier release) records this one and is kept.
        const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent, replacementTrigger: trigger });
        const csr = new tls.CertRequest(
            `${name}-csr`,
            {
                privateKeyPem: key.privateKeyPem,
                subject: { commonName: req.commonName, organization: req.organization },
                dnsNames: req.dnsNames,
                ipAddresses: req.ipAddresses,
            },
            { parent },
        );
        const uses = ["digital_signature", "key_encipherment"];
        if (req.server) uses.push("server_auth");
        if (req.client) uses.push("client_auth");
        const cert = new tls.LocallySignedCert(
            `${name}-cert`,
            {
                certRequestPem: csr.certRequestPem,
                caPrivateKeyPem: this.caKeyResource.privateKeyPem,
                caCertPem: this.caCertResource.certPem,
                ...providerHours(lifetime),
                allowedUses: uses,
            },
            { parent, replacementTrigger: trigger },
        );
        if (trigger !== NOT_RENEWED) this.renewals[name] = trigger;
        this.expiries[name] = cert.validityEndTime;
        return { key: pulumi.secret(key.privateKeyPem), cert: cert.certPem };
    }
}
