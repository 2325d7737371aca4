/**
 * A Pulumi program of your own that uses k8s-ha as a library: the cluster is described in code
 * (cluster.ts), checked all at once by validateConfig before anything exists, and built by
 * buildCluster; the program adds an output of its own. Its stack config holds only what must not be
 * in code: the SSH key (a secret), the hosts' keys and the release files' pins.
 *
 *   pulumi config set --secret sshPrivateKey < ~/.ssh/k8s-ha
 *   pulumi config set --path 'hostKeys.cp1' 'ssh-ed25519 AAAA…'          (one per host)
 *   pulumi config set --path 'checksums["kubelet@1.35.4"]' SHA256         (one per release file)
 */
import * as pulumi from "@pulumi/pulumi";
import { buildCluster, checkHostKeys, stackOutputs, validateConfig } from "../../components";
import { exampleConfig } from "./cluster";

export = async () => {
    const config = new pulumi.Config();
    const cluster = validateConfig({
        ...exampleConfig({ hostKeys: config.requireObject("hostKeys"), checksums: config.requireObject("checksums") }),
        stackName: pulumi.getStack(),
    });
    if (!pulumi.runtime.isDryRun()) await checkHostKeys(cluster.hosts);
    const built = buildCluster({ cluster, sshPrivateKey: config.requireSecret("sshPrivateKey") });
    return {
        ...stackOutputs(built),
        // Something of this program's own: the workers by name, with their pod networks.
        workers: Object.fromEntries(Object.keys(built.workers).map((name) => [name, cluster.hosts.find((h) => h.name === name)?.podCidr])),
    };
};
