import * as fs from "fs";
import { BundleFile, encodeBundle } from "../components/runner";
import { HostSandbox } from "./host-sandbox";

/**
 * scripts/host/addons.sh against a stand-in kubectl: the add-ons hold the installer's binding, so
 * the step applies them with the break-glass kubeconfig only while the installer is not bound (a
 * new cluster, the first up of the release that brings it); otherwise everything goes as the
 * installer. The objects of the retired list (revoked admin generations among them) are deleted
 * as the installer on every run.
 */
describe("the add-ons step (addons.sh): break-glass only to bootstrap the installer's binding", () => {
    let sb: HostSandbox;
    const run = (extra: BundleFile[] = []) =>
        sb.step("addons", "create", {
            env: {
                K8SHA_KUBECONFIG: sb.path("installer.kubeconfig"),
                K8SHA_BREAK_GLASS_KUBECONFIG: sb.path("break-glass.kubeconfig"),
                K8SHA_ADDONS: sb.path("addons/k8s-ha.yaml"),
                K8SHA_ADDONS_RETIRED: sb.path("addons/retired"),
            },
            input: encodeBundle([
                { path: sb.path("addons/k8s-ha.yaml"), mode: "0644", content: "kind: ClusterRoleBinding\n" },
                { path: sb.path("addons/retired"), mode: "0644", content: "clusterrolebinding/k8s-ha:csr-approver\nclusterrolebinding/k8s-ha:cluster-admins\n" },
                ...extra,
            ]),
        });

    beforeEach(() => {
        sb = new HostSandbox("cp1");
        sb.write("installer.kubeconfig", "INSTALLER");
        sb.write("break-glass.kubeconfig", "BREAK-GLASS");
        // kubectl: each call logged with the identity it goes as; the installer is bound once
        // $SANDBOX/bound exists, which an apply (of the add-ons, which hold the binding) creates.
        sb.standIn(
            "kubectl",
            `log "  as $(cat "$KUBECONFIG")"
case "$*" in
"get --raw=/readyz") echo ok ;;
"auth can-i * * --all-namespaces")
    if [[ -f $SANDBOX/bound && $(cat "$KUBECONFIG") == INSTALLER ]]; then echo yes; else echo no; exit 1; fi ;;
"apply --server-side --force-conflicts --field-manager=k8s-ha -f "*) touch "$SANDBOX/bound" ;;
"delete --ignore-not-found "*) echo "deleted \${3}" ;;
*) echo "kubectl stand-in: unexpected $*"; exit 2 ;;
esac`,
        );
    });
    afterEach(() => sb.remove());

    const APPLY = "kubectl apply --server-side --force-conflicts --field-manager=k8s-ha -f ADDONS";
    const calls = () => sb.calls().map((c) => c.replace(sb.path("addons/k8s-ha.yaml"), "ADDONS"));
    const RETIRED = ["kubectl delete --ignore-not-found clusterrolebinding/k8s-ha:csr-approver", "  as INSTALLER", "kubectl delete --ignore-not-found clusterrolebinding/k8s-ha:cluster-admins", "  as INSTALLER"];

    test("the installer not bound yet: the add-ons go as break-glass, then the installer is bound and deletes the retired objects", () => {
        const r = run();
        expect(r.status).toBe(0);
        expect(r.stderr).toContain("k8s-ha[cp1]: the installer's binding is missing (a new cluster, or the first up of a release that has it): applying the add-ons with the break-glass kubeconfig, this once");
        expect(calls()).toEqual([
            "kubectl get --raw=/readyz", "  as INSTALLER",
            "kubectl auth can-i * * --all-namespaces", "  as INSTALLER",
            APPLY, "  as BREAK-GLASS",
            "kubectl auth can-i * * --all-namespaces", "  as INSTALLER",
            ...RETIRED,
        ]);
    });

    test("the installer bound (every later up): break-glass is not used at all", () => {
        sb.write("bound", "");
        const r = run();
        expect(r.status).toBe(0);
        expect(calls().filter((c) => c.includes("BREAK-GLASS"))).toEqual([]);
        expect(calls()).toEqual([
            "kubectl get --raw=/readyz", "  as INSTALLER",
            "kubectl auth can-i * * --all-namespaces", "  as INSTALLER",
            APPLY, "  as INSTALLER",
            "kubectl auth can-i * * --all-namespaces", "  as INSTALLER",
            ...RETIRED,
        ]);
    });

    test("kept on another host or none (adminCredential.breakGlassHost): the staged copy is used, and nothing is installed at its path", () => {
        fs.rmSync(sb.path("break-glass.kubeconfig"));
        const r = run([{ path: sb.path("break-glass.kubeconfig"), mode: "0600", content: "STAGED-BREAK-GLASS", stageOnly: true }]);
        expect(r.status).toBe(0);
        expect(calls().slice(4, 6)).toEqual([APPLY, "  as STAGED-BREAK-GLASS"]);
        expect(fs.existsSync(sb.path("break-glass.kubeconfig"))).toBe(false);
    });

    test("not bound and no break-glass kubeconfig: the step fails naming the file, and applies nothing", () => {
        fs.rmSync(sb.path("break-glass.kubeconfig"));
        const r = run();
        expect(r.status).not.toBe(0);
        expect(r.stderr).toContain(`k8s-ha[cp1]: error: the installer's identity is not bound yet and ${sb.path("break-glass.kubeconfig")} is missing`);
        expect(calls()).not.toContain(APPLY);
    });
});
