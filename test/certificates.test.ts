import { breakGlassLifetime, certificateNames, lifetimeOf, NOT_RENEWED, providerHours, renewalTrigger } from "../components/certificates";
import { validateConfig } from "../components/validate";
import { labConfig, problemsOf } from "./fixtures";

const DAY = 24 * 3600 * 1000;

describe("certificate lifetimes (k8s-ha:certificates)", () => {
    test("default: one year, renewed in its last 30 days; the hours the tls provider had before the setting existed", () => {
        const c = validateConfig(labConfig());
        expect(c.certificates).toEqual({ validityDays: 365, renewBeforeDays: 30, overrides: {} });
        expect(providerHours(lifetimeOf(c.certificates, "cp2-etcd-peer"))).toEqual({ validityPeriodHours: 8760, earlyRenewalHours: 720 });
    });

    test("an override by certificate name, the rest from the stack's setting", () => {
        const c = validateConfig({
            ...labConfig(),
            certificates: { validityDays: 90, renewBeforeDays: 20, overrides: { "cp2-etcd-peer": { validityDays: 2, renewBeforeDays: 1 }, "w1-kubelet": { validityDays: 30 } } },
        });
        expect(lifetimeOf(c.certificates, "cp2-etcd-peer")).toEqual({ validityDays: 2, renewBeforeDays: 1 });
        expect(lifetimeOf(c.certificates, "w1-kubelet")).toEqual({ validityDays: 30, renewBeforeDays: 20 });
        expect(lifetimeOf(c.certificates, "w2-kubelet")).toEqual({ validityDays: 90, renewBeforeDays: 20 });
    });

    test("an override shorter than the renewal window takes a window one day shorter than its validity", () => {
        const c = validateConfig({ ...labConfig(), certificates: { overrides: { "kube-proxy": { validityDays: 7 } } } });
        expect(lifetimeOf(c.certificates, "kube-proxy")).toEqual({ validityDays: 7, renewBeforeDays: 6 });
    });

    test("bad settings are refused, each named with how to fix it", () => {
        const problems = problemsOf({
            ...labConfig(),
            certificates: { validityDays: 10, renewBeforeDays: 10, lifetime: 3, overrides: { "cp9-etcd-peer": { validityDays: 2 }, "w1-kubelet": { days: 1, validityDays: 5000 } } },
        });
        expect(problems).toEqual(
            expect.arrayContaining([
                expect.stringMatching(/^k8s-ha:certificates\.renewBeforeDays: 10 is not less than validityDays 10/),
                expect.stringMatching(/^k8s-ha:certificates\.lifetime: is not a certificate setting; use one of: validityDays, renewBeforeDays, overrides/),
                expect.stringMatching(/^k8s-ha:certificates\.overrides\.cp9-etcd-peer: this cluster has no certificate of that name; use one of: .*cp1-etcd-peer.*w2-kubelet/),
                expect.stringMatching(/^k8s-ha:certificates\.overrides\.w1-kubelet\.days: is not a certificate setting/),
                expect.stringMatching(/^k8s-ha:certificates\.overrides\.w1-kubelet\.validityDays: .*3650/),
            ]),
        );
    });

    test("the names of the lab's certificates, by CA", () => {
        const names = certificateNames(validateConfig(labConfig()).hosts);
        expect(names.cluster).toEqual(expect.arrayContaining(["kube-proxy", "control-plane-apiserver", "mirror-registry", "w1-kubelet", "w2-kubelet"]));
        expect(names.etcd).toEqual(expect.arrayContaining(["control-plane-apiserver-etcd-client", "cp3-etcd-peer"]));
        // The NFS server holds no etcd credential: the members take the scheduled snapshots.
        expect(names.etcd.filter((n) => n.startsWith("nfs-"))).toEqual([]);
    });
});

describe("renewalTrigger", () => {
    const expiry = "2027-01-31T12:00:00Z";
    const end = Date.parse(expiry);

    test("before the renewal point the trigger stays what the last update recorded (NOT_RENEWED for a certificate never renewed)", () => {
        expect(renewalTrigger({ expiry, now: end - 31 * DAY, renewBeforeDays: 30 })).toBe(NOT_RENEWED);
        expect(renewalTrigger({ expiry, trigger: "2026-01-31T12:00:00Z", now: end - 31 * DAY, renewBeforeDays: 30 })).toBe("2026-01-31T12:00:00Z");
    });

    test("at and past the renewal point it becomes the expiry of the certificate it replaces", () => {
        expect(renewalTrigger({ expiry, now: end - 30 * DAY, renewBeforeDays: 30 })).toBe(expiry);
        expect(renewalTrigger({ expiry, trigger: "2026-01-31T12:00:00Z", now: end + DAY, renewBeforeDays: 30 })).toBe(expiry);
    });

    test("the update after a renewal keeps the trigger: the new certificate is far from its renewal point", () => {
        const renewed = renewalTrigger({ expiry, now: end - 10 * DAY, renewBeforeDays: 30 });
        const next = renewalTrigger({ expiry: "2028-01-21T12:00:00Z", trigger: renewed, now: end - 10 * DAY + 60_000, renewBeforeDays: 30 });
        expect(next).toBe(expiry);
    });

    test("with longestDays (the break-glass credential's): one that ends later than now plus that is renewed at once; a fresh one is kept", () => {
        // A year-long one of an earlier release, under a 72-hour setting: renewed by the first up.
        expect(renewalTrigger({ expiry, now: end - 300 * DAY, renewBeforeDays: 1.5, longestDays: 3 })).toBe(expiry);
        // The one that replaced it, an hour later (its expiry is now plus 72 hours): kept, and renewed in its last 36 hours.
        expect(renewalTrigger({ expiry, trigger: "t", now: end - 3 * DAY + 3_600_000, renewBeforeDays: 1.5, longestDays: 3 })).toBe("t");
        expect(renewalTrigger({ expiry, trigger: "t", now: end - 1.5 * DAY, renewBeforeDays: 1.5, longestDays: 3 })).toBe(expiry);
        expect(breakGlassLifetime(72)).toEqual({ validityHours: 72, renewBeforeHours: 36, renewWhenLonger: true });
        expect(providerHours(breakGlassLifetime(72))).toEqual({ validityPeriodHours: 72, earlyRenewalHours: 36 });
    });

    test("no recorded expiry (a new certificate, or a stack before the output existed): not renewed", () => {
        expect(renewalTrigger({ now: end, renewBeforeDays: 30 })).toBe(NOT_RENEWED);
        expect(renewalTrigger({ expiry: "garbage", now: end, renewBeforeDays: 30 })).toBe(NOT_RENEWED);
    });
});
