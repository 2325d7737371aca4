/**
 * A Pulumi program of your own that uses k8s-ha as a library: the cluster is described in code
 * (cluster.ts), checked all at once by validateConfig before anything exists, and built by
 * buildCluster; the program passes one setting that another resource computes (the hosts' time
 * servers, a Command's output) and adds an output of its own. Its stack config holds only what must
 * not be in code: the SSH key (a secret), the hosts' keys and the release files' pins.
 *
 *   pulumi config set --secret sshPrivateKey < ~/.ssh/k8s-ha
 *   pulumi config set --path 'hostKeys.cp1' 'ssh-ed25519 AAAA…'          (one per host)
 *   pulumi config set --path 'checksums["kubelet@1.35.4"]' SHA256         (one per release file)
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { buildCluster, checkHostKeys, stackOutputs, validateConfig } from "../../components";
import { exampleConfig } from "./cluster";

export = async () => {
    const config = new pulumi.Config();
    const cluster = validateConfig({
        ...exampleConfig({ hostKeys: config.requireObject("hostKeys"), checksums: config.requireObject("checksums") }),
        stackName: pulumi.getStack(),
    });
    if (!pulumi.runtime.isDryRun()) await checkHostKeys(cluster.hosts);
    // The site's time servers, one a line, as a command on the Pulumi machine prints them (here a
    // fixed list: put your site's own tool in its place). Its stdout is an Output, known only once
    // the command has run; the Nodes take it as it is and render chrony.conf when it is known.
    const timeServers = new command.local.Command("site-time-servers", { create: "printf '%s\\n' ntp1.example.com ntp2.example.com" });
    const ntpServers = timeServers.stdout.apply((out) => out.split("\n").map((line) => line.trim()).filter((line) => line !== ""));
    const built = buildCluster({ cluster, sshPrivateKey: config.requireSecret("sshPrivateKey") }, { ntpServers });
    return {
        ...stackOutputs(built),
        // Something of this program's own: the workers by name, with their pod networks.
        workers: Object.fromEntries(Object.keys(built.workers).map((name) => [name, cluster.hosts.find((h) => h.name === name)?.podCidr])),
    };
};
