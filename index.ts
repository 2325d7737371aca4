import { buildCluster, stackOutputs } from "./components/cluster";
import { readStackConfig } from "./components/stack";

// Validation runs first and throws with every problem listed before any resource exists.
const cluster = buildCluster(readStackConfig());
const outputs = stackOutputs(cluster);

export const endpoint = outputs.endpoint;
export const kubeconfig = outputs.kubeconfig;
export const imageMirror = outputs.imageMirror;
export const nfsExport = outputs.nfsExport;
export const etcdEndpoints = outputs.etcdEndpoints;
