import * as pulumi from "@pulumi/pulumi";
import { trimStackTraces } from "./components/stacktraces";
import { buildCluster, stackOutputs } from "./components/cluster";
import { checkHostKeys } from "./components/hostkeys";
import { previousRun, readStackConfig } from "./components/stack";

// Before any resource: the SDK's per-promise stack traces cost a third of a preview's CPU.
trimStackTraces();

export = async () => {
    // Validation runs first and throws with every problem listed before any host is touched; it
    // compares the etcd members and the versions with the running cluster's (the stack's last
    // etcdEndpoints and versions outputs).
    const stack = readStackConfig(undefined, await previousRun());
    // An update first compares every pinned host key with the key the host offers, and stops at once
    // on a mismatch (the SSH provider would retry the dial for minutes). A preview connects to no host.
    if (!pulumi.runtime.isDryRun()) await checkHostKeys(stack.cluster.hosts);
    // Every stack output, as stackOutputs names them (the next update reads some of them back).
    return stackOutputs(buildCluster(stack));
};
