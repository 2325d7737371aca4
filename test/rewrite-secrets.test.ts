import { encodeBundle } from "../components/runner";
import { HostSandbox } from "./host-sandbox";

/**
 * scripts/host/rewrite-secrets.sh against a stand-in kubectl: every Secret is read and written
 * back once. A write that loses a race with another writer (a conflict) is not retried: the other
 * writer's apiserver stored it with the write key already. Any other failure fails the step.
 */
describe("rewriting every Secret with the write key (rewrite-secrets.sh)", () => {
    const LIST = '{"apiVersion":"v1","kind":"List","items":[{"kind":"Secret","metadata":{"name":"a"}},{"kind":"Secret","metadata":{"name":"b"}},{"kind":"Secret","metadata":{"name":"c"}}]}\n';
    const conflict = (name: string) =>
        `Error from server (Conflict): error when replacing "secrets.json": Operation cannot be fulfilled on secrets "${name}": the object has been modified; please apply your changes to the latest version and try again`;
    const forbidden = 'Error from server (Forbidden): error when replacing "secrets.json": secrets "c" is forbidden: User "admin" cannot update resource "secrets" in API group "" in the namespace "kube-system"';
    let sb: HostSandbox;
    const run = () =>
        sb.step("rewrite-secrets", "create", { env: { WRITE_KEY: "key-2026", K8SHA_KUBECONFIG: sb.path("installer.kubeconfig") }, input: encodeBundle([]) });
    // The secrets list the step wrote (and must remove), as kubectl replace was given it.
    const leftLists = () => sb.list("run").filter((f) => f.startsWith("secrets."));

    beforeEach(() => {
        sb = new HostSandbox("cp1");
        // kubectl: the Secrets as a List; `replace` keeps what it was given and answers
        // $SANDBOX/replace-fails (then exits 1) if that exists.
        sb.standIn(
            "kubectl",
            `case "$*" in
"get --raw=/readyz") log "  KUBECONFIG: $(cat "$KUBECONFIG")"; echo ok ;;
"get secrets --all-namespaces -o json") cat "$SANDBOX/list.json" ;;
"get secrets --all-namespaces --no-headers") printf '%s\\n' "default a Opaque 1 3d" "default b Opaque 1 3d" "kube-system c Opaque 1 3d" ;;
"replace -f "*)
    cp "$3" "$SANDBOX/replaced.json"
    if [[ -f $SANDBOX/replace-fails ]]; then cat "$SANDBOX/replace-fails"; exit 1; fi
    printf '%s\\n' secret/a secret/b secret/c | sed 's/$/ replaced/' ;;
*) echo "kubectl stand-in: unexpected $*"; exit 2 ;;
esac`,
        );
        sb.write("list.json", LIST);
        sb.write("installer.kubeconfig", "INSTALLER KUBECONFIG");
    });
    afterEach(() => sb.remove());

    const calls = () => sb.calls().map((c) => c.replace(/ \S+\/run\/secrets\.\w+$/, " <list>"));
    const CALLS = ["kubectl get --raw=/readyz", "  KUBECONFIG: INSTALLER KUBECONFIG", "kubectl get secrets --all-namespaces -o json", "kubectl get secrets --all-namespaces --no-headers", "kubectl replace -f <list>"];

    test("every Secret is written back once, as the installer, and the list is removed", () => {
        const r = run();
        expect(r.stderr).toContain("k8s-ha[cp1]: rewrote 3 Secrets: each is stored encrypted with key-2026\n");
        expect(r.status).toBe(0);
        expect(calls()).toEqual(CALLS);
        expect(sb.read("replaced.json")).toBe(LIST);
        expect(leftLists()).toEqual([]);
    });

    test("a write that lost a race (a conflict) is not retried and does not fail the step", () => {
        sb.write("replace-fails", ["secret/a replaced", conflict("b"), "Warning: a warning of the server's", "secret/c replaced", ""].join("\n"));
        const r = run();
        expect(r.stderr).toContain("k8s-ha[cp1]: rewrote 3 Secrets: each is stored encrypted with key-2026\n");
        expect(r.status).toBe(0);
        expect(calls()).toEqual(CALLS);
        expect(leftLists()).toEqual([]);
    });

    test("a write-back that fails without a conflict (no connection, no output) fails the step: nothing was rewritten", () => {
        const refused = "The connection to the server 10.213.0.10:6443 was refused - did you specify the right host or port?";
        sb.write("replace-fails", `${refused}\n`);
        const r = run();
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(`k8s-ha[cp1]: error: could not rewrite every Secret: ${refused}\n`);
        sb.write("replace-fails", "");
        const silent = run();
        expect(silent.status).toBe(1);
        expect(silent.stderr).toBe("k8s-ha[cp1]: error: could not rewrite every Secret: \n");
        expect(leftLists()).toEqual([]);
    });

    test("any other refusal fails the step with kubectl's errors, conflicts among them, and the list is removed", () => {
        sb.write("replace-fails", ["secret/a replaced", conflict("b"), forbidden, ""].join("\n"));
        const r = run();
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(`k8s-ha[cp1]: error: could not rewrite every Secret: ${conflict("b")} ${forbidden}\n`);
        expect(calls()).toEqual(CALLS);
        expect(leftLists()).toEqual([]);
    });
});
