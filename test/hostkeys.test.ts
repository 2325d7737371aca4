import { HostConfig } from "../components/config";
import { checkHostKeys, compareHostKey, offeredKeys, scanType } from "../components/hostkeys";

const W1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIW1";
const OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAOTHER";
const host = (name: string, hostKey?: string): HostConfig => ({ name, address: "10.213.0.31", user: "root", port: 22, roles: ["worker"], hostKey });

/** What ssh-keyscan prints: comment lines on stderr are not in stdout, but a banner may be. */
const scanOf = (...keys: string[]) => ["# 10.213.0.31:22 SSH-2.0-OpenSSH_9.2p1", ...keys.map((k) => `10.213.0.31 ${k}`)].join("\n") + "\n";

describe("host keys are checked before an update touches a host", () => {
    test("the keys a host offers are read from ssh-keyscan's lines", () => {
        expect(offeredKeys(scanOf(W1, "ecdsa-sha2-nistp256 AAAAE2"))).toEqual([W1, "ecdsa-sha2-nistp256 AAAAE2"]);
        expect(offeredKeys("")).toEqual([]);
    });

    test("a matching key, a comment after it, and a host that does not answer pass", () => {
        expect(compareHostKey(host("w1", W1), offeredKeys(scanOf("ecdsa-sha2-nistp256 AAAAE2", W1)))).toBeUndefined();
        expect(compareHostKey(host("w1", `${W1} root@w1`), offeredKeys(scanOf(W1)))).toBeUndefined();
        expect(compareHostKey(host("w1", W1), [])).toBeUndefined();
        expect(compareHostKey(host("w1"), offeredKeys(scanOf(OTHER)))).toBeUndefined();
    });

    test("another key names the host, the key expected and the key got", () => {
        const p = compareHostKey(host("w1", W1), offeredKeys(scanOf(OTHER)));
        expect(p?.message).toContain("w1 (10.213.0.31:22): the host key is not the pinned one");
        expect(p?.message).toContain(`Expected ${W1} (k8s-ha:hosts.w1.hostKey), got ${OTHER}`);
        expect(compareHostKey(host("w1", W1), offeredKeys(scanOf("ecdsa-sha2-nistp256 AAAAE2")))?.message).toContain(
            "got no ssh-ed25519 key (it offers ecdsa-sha2-nistp256)",
        );
    });

    test("the scan asks for the pinned type first, and for every type only when that gives nothing", async () => {
        expect(scanType(W1)).toBe("ed25519");
        expect(scanType("ecdsa-sha2-nistp256 AAAAE2")).toBe("ecdsa");
        const asked: string[] = [];
        const scan = async (h: HostConfig, types?: string) => {
            asked.push(`${h.name}:${types ?? "all"}`);
            if (h.name === "w2") return types ? "" : scanOf("ecdsa-sha2-nistp256 AAAAE2");
            return types === "ed25519" ? scanOf(W1) : scanOf(W1, "ecdsa-sha2-nistp256 AAAAE2");
        };
        await expect(checkHostKeys([host("w1", W1)], scan)).resolves.toBeUndefined();
        expect(asked).toEqual(["w1:ed25519"]);
        await expect(checkHostKeys([host("w2", W1)], scan)).rejects.toThrow("got no ssh-ed25519 key (it offers ecdsa-sha2-nistp256)");
        expect(asked).toEqual(["w1:ed25519", "w2:ed25519", "w2:all"]);
    });

    test("every mismatched host is listed in one error", async () => {
        const hosts = [host("w1", W1), host("w2", W1), host("w3", W1)];
        const scans: Record<string, string> = { w1: scanOf(W1), w2: scanOf(OTHER), w3: scanOf(OTHER) };
        await expect(checkHostKeys(hosts, async (h) => scans[h.name])).rejects.toThrow(/^2 hosts answered with another SSH host key; nothing was changed on any host:\n {2}- w2 .*\n {2}- w3 /);
        await expect(checkHostKeys(hosts.slice(0, 1), async (h) => scans[h.name])).resolves.toBeUndefined();
    });
});
