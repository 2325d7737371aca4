import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

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
}

/** Validity of issued certificates: one year, replaced by the first `up` in its last 30 days. */
const LEAF_HOURS = 8760;
const LEAF_RENEW_HOURS = 720;
/** Validity of a CA: ten years. */
const CA_HOURS = 87600;

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

    constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:Pki", name, {}, opts);
        this.caKeyResource = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        this.caCertResource = new tls.SelfSignedCert(
            `${name}-ca`,
            {
                privateKeyPem: this.caKeyResource.privateKeyPem,
                isCaCertificate: true,
                validityPeriodHours: CA_HOURS,
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

    /** Issues a certificate; its resources are named `<name>-key|csr|cert` and parented to `parent`. */
    issue(name: string, req: CertRequest, parent: pulumi.Resource): IssuedCert {
        const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent });
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
                validityPeriodHours: LEAF_HOURS,
                earlyRenewalHours: LEAF_RENEW_HOURS,
                allowedUses: uses,
            },
            { parent },
        );
        if (name in this.expiries) throw new Error(`${name}: a certificate of that name was issued already`);
        this.expiries[name] = cert.validityEndTime;
        return { key: pulumi.secret(key.privateKeyPem), cert: cert.certPem };
    }
}
