/**
 * scripts/break-glass.sh (npm run break-glass): a break-glass kubeconfig minted from the stack's
 * cluster CA, read from a stand-in `pulumi stack export --show-secrets` (PULUMI_SH). The CA is made
 * here with openssl; nothing leaves this machine. The script compiles the program into bin/ when
 * its sources are newer (scripts/plan.sh), hence the long timeout.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";

const REPO = path.resolve(__dirname, "..");
const SIG = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };

describe("npm run break-glass mints a short-lived system:masters kubeconfig from the stack's CA", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-ha-break-glass-"));
    const sh = (cmd: string, input?: string) => spawnSync("bash", ["-c", cmd], { cwd: dir, encoding: "utf8", input });
    beforeAll(() => {
        expect(sh("openssl ecparam -name prime256v1 -genkey -noout -out ca.key && openssl req -x509 -new -key ca.key -subj '/O=k8s-ha/CN=k8s-ha cluster CA' -days 10 -out ca.crt").status).toBe(0);
        const resource = (type: string, name: string, outputs: object) => ({ urn: `urn:pulumi:dev::k8s-ha::k8s-ha:index:Pki$${type}::${name}`, type, outputs });
        const state = {
            deployment: {
                resources: [
                    resource("tls:index/privateKey:PrivateKey", "etcd-pki-ca-key", { privateKeyPem: { ...SIG, plaintext: JSON.stringify("NOT THIS CA") } }),
                    resource("tls:index/privateKey:PrivateKey", "cluster-pki-ca-key", { privateKeyPem: { ...SIG, plaintext: JSON.stringify(fs.readFileSync(path.join(dir, "ca.key"), "utf8")) } }),
                    resource("tls:index/selfSignedCert:SelfSignedCert", "cluster-pki-ca", { certPem: fs.readFileSync(path.join(dir, "ca.crt"), "utf8") }),
                ],
            },
        };
        fs.writeFileSync(path.join(dir, "state.json"), JSON.stringify(state));
        fs.writeFileSync(
            path.join(dir, "pulumi.sh"),
            ['case "$*" in', `*"stack export --show-secrets"*) cat ${dir}/state.json ;;`, '*"stack output endpoint"*) echo https://10.213.0.10:6443 ;;', '*) exit 1 ;;', "esac"].join("\n"),
        );
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const mint = (...args: string[]) =>
        spawnSync("bash", [path.join(REPO, "scripts/break-glass.sh"), ...args], { cwd: REPO, encoding: "utf8", env: { ...process.env, PULUMI_SH: path.join(dir, "pulumi.sh"), INIT_CWD: dir }, timeout: 280_000 });

    test("--hours 3: CN k8s-ha-break-glass in system:masters, signed by the cluster CA, valid 3 hours (and 5 minutes' skew before now), 0600", () => {
        const r = mint("--hours", "3", "--out", "glass.kubeconfig");
        expect(r.stderr).toMatch(/break-glass: wrote .*glass\.kubeconfig: k8s-ha-break-glass in system:masters for the stack dev, valid until .*; it cannot be revoked/);
        expect(r.status).toBe(0);
        const file = path.join(dir, "glass.kubeconfig");
        expect(fs.statSync(file).mode & 0o777).toBe(0o600);
        const k = yaml.load(fs.readFileSync(file, "utf8")) as { clusters: { cluster: { server: string } }[]; users: { user: Record<string, string> }[] };
        expect(k.clusters[0].cluster.server).toBe("https://10.213.0.10:6443");
        fs.writeFileSync(path.join(dir, "client.crt"), Buffer.from(k.users[0].user["client-certificate-data"], "base64"));
        fs.writeFileSync(path.join(dir, "client.key"), Buffer.from(k.users[0].user["client-key-data"], "base64"));
        expect(sh("openssl verify -CAfile ca.crt -purpose sslclient client.crt").stdout).toBe("client.crt: OK\n");
        const info = sh("openssl x509 -in client.crt -noout -subject -startdate -enddate").stdout;
        expect(info).toMatch(/^subject=O = system:masters, CN = k8s-ha-break-glass$/m);
        const date = (k: string) => Date.parse(new RegExp(`^${k}=(.*)$`, "m").exec(info)?.[1] ?? "");
        expect((date("notAfter") - date("notBefore")) / 60_000).toBe(3 * 60 + 5);
        // The key is the certificate's.
        expect(sh("openssl x509 -in client.crt -noout -pubkey").stdout).toBe(sh("openssl pkey -in client.key -pubout").stdout);
    }, 300_000);

    test("more than 24 hours is refused before anything is read", () => {
        const r = mint("--hours", "25");
        expect([r.status, r.stderr]).toEqual([1, "break-glass: --hours must be a whole number from 1 to 24, got '25'\n"]);
    });
});
