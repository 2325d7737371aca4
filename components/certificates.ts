/**
 * Certificate names and lifetimes: which certificates a config makes (by CA), how long each is
 * valid, and when an `up` renews one. Pure; the Pki component applies it.
 */
import { CertificateLifetime, CertificateSettings, HostConfig } from "./config";

/** The ControlPlane component's name: its certificates are named after it. */
export const CONTROL_PLANE_NAME = "control-plane";

/** The break-glass credential's certificate (CN k8s-ha-break-glass, system:masters): its name since the first release. */
export const BREAK_GLASS_CERT = `${CONTROL_PLANE_NAME}-admin`;

/** `k8s-ha:adminCredential.breakGlassHost` for no host at all. */
export const BREAK_GLASS_NONE = "none";

/** The CAs, as the stack output `certificates` names them. */
export type CaName = "cluster" | "etcd" | "kubelet";

/** Hours in a day: the tls provider counts validity in hours. */
const HOURS = 24;
const DAY_MS = 24 * 3600 * 1000;

/** Validity of the CAs themselves, in days (ten years); a certificate may not outlive its CA. */
export const CA_VALIDITY_DAYS = 3650;

/** The defaults of `k8s-ha:certificates`: one year, renewed by the first `up` in its last 30 days. */
export const DEFAULT_LIFETIME: CertificateLifetime = { validityDays: 365, renewBeforeDays: 30 };

/**
 * Every certificate a cluster of these hosts has, by CA: the names of the stack output
 * `certificates` (without the CAs' own, `ca`). A test holds this list to what the components issue.
 */
export function certificateNames(hosts: HostConfig[], adminGeneration = 1): Record<CaName, string[]> {
    const withRole = (role: string) => hosts.filter((h) => (h.roles as string[]).includes(role)).map((h) => h.name);
    const cp = CONTROL_PLANE_NAME;
    const cluster = [
        "kube-proxy",
        ...["apiserver", "apiserver-kubelet-client", "controller-manager", "scheduler", "admin", "installer"].map((n) => `${cp}-${n}`),
        adminCertName(adminGeneration),
        ...withRole("mirror").map((h) => `${h}-registry`),
        ...withRole("worker").map((h) => `${h}-kubelet`),
    ];
    const etcd = [
        `${cp}-apiserver-etcd-client`,
        ...withRole("etcd").flatMap((h) => [`${h}-etcd-server`, `${h}-etcd-peer`, `${h}-etcd-healthcheck`]),
    ];
    const kubelet = withRole("worker").map((h) => `${h}-kubelet-serving`);
    return { cluster, etcd, kubelet };
}

/**
 * The certificate of the `kubeconfig` output's identity of a generation (`k8s-ha:adminCredential`):
 * generation 1 keeps the name it always had; another generation is a new certificate and key.
 */
export function adminCertName(generation: number): string {
    return generation === 1 ? `${CONTROL_PLANE_NAME}-cluster-admin` : `${CONTROL_PLANE_NAME}-cluster-admin-g${generation}`;
}

/** The lifetime of one certificate: its own override, or the stack's. */
export function lifetimeOf(settings: CertificateSettings, name: string): CertificateLifetime {
    return settings.overrides[name] ?? { validityDays: settings.validityDays, renewBeforeDays: settings.renewBeforeDays };
}

/**
 * A lifetime in hours, for a certificate whose validity is shorter than days can say (the
 * break-glass credential's, `k8s-ha:adminCredential.breakGlassValidityHours`).
 */
export interface HourLifetime {
    validityHours: number;
    renewBeforeHours: number;
    /**
     * Renew, too, a certificate that ends later than `now` plus its validity: one issued under a
     * longer setting (an earlier release's year), so that a shorter setting takes effect at once.
     */
    renewWhenLonger?: boolean;
}

/** A lifetime in days as hours. */
export function inHours(l: CertificateLifetime): HourLifetime {
    return { validityHours: l.validityDays * HOURS, renewBeforeHours: l.renewBeforeDays * HOURS };
}

/** The tls provider's inputs for a lifetime. */
export function providerHours(l: CertificateLifetime | HourLifetime): { validityPeriodHours: number; earlyRenewalHours: number } {
    const h = "validityHours" in l ? l : inHours(l);
    return { validityPeriodHours: h.validityHours, earlyRenewalHours: h.renewBeforeHours };
}

/**
 * `k8s-ha:adminCredential.breakGlassValidityHours`: three days by default. Only the add-ons step
 * uses the credential (to bootstrap the installer's binding, after an up renewed it), so it need
 * not last between ups; a copy of the file that leaks (a backup of /etc) is worth three days at most.
 */
export const BREAK_GLASS_VALIDITY_HOURS = { default: 72, min: 2, max: 8760 } as const;

/**
 * The break-glass credential's lifetime: `validityHours`, renewed by the first `up` in its second
 * half (so the file on its host is never older than half its validity after an up), and at once
 * when it ends later than the setting allows (one of an earlier release, or a shorter setting).
 */
export function breakGlassLifetime(validityHours: number): HourLifetime {
    return { validityHours, renewBeforeHours: validityHours / 2, renewWhenLonger: true };
}

/**
 * The replacement trigger of a certificate never renewed by an `up`. The engine records a trigger
 * that appears where the state had none without replacing anything, and replaces only when a
 * recorded trigger changes: so every certificate carries one, this one until its first renewal.
 */
export const NOT_RENEWED = "not renewed";

/**
 * The replacement trigger of a certificate, which renews it when it changes. Past the renewal
 * point by this program's clock (`now`, ms), it becomes the expiry of the certificate being
 * replaced; otherwise it stays what the last update recorded (NOT_RENEWED before a first renewal).
 *
 * With `longestDays`, a certificate that ends later than `now` plus that is renewed too (see
 * HourLifetime.renewWhenLonger).
 *
 * The tls provider renews a certificate past `earlyRenewalHours` too, by its own clock; this
 * makes the same decision visible to the program, and testable with a clock moved forward
 * (e2e drill 5l runs the program under libfaketime).
 */
export function renewalTrigger(p: { expiry?: string; trigger?: string; now: number; renewBeforeDays: number; longestDays?: number }): string {
    const kept = p.trigger ?? NOT_RENEWED;
    if (p.expiry === undefined) return kept;
    const end = Date.parse(p.expiry);
    if (Number.isNaN(end)) return kept;
    if (p.now + p.renewBeforeDays * DAY_MS >= end) return p.expiry;
    // A minute's slack: the expiry the program reads is the provider's, counted from its own clock.
    if (p.longestDays !== undefined && end > p.now + p.longestDays * DAY_MS + 60_000) return p.expiry;
    return kept;
}
