import { trimStackTraces } from "./components/stacktraces";
import { buildCluster, stackOutputs } from "./components/cluster";
import { readStackConfig } from "./components/stack";

// Before any resource: the SDK's per-promise stack traces cost a third of a preview's CPU.
trimStackTraces();

// Validation runs first and throws with every problem listed before any resource exists.
const cluster = buildCluster(readStackConfig());
const outputs = stackOutputs(cluster);

export const endpoint = outputs.endpoint;
export const kubeconfig = outputs.kubeconfig;
export const imageMirror = outputs.imageMirror;
export const imageMirrorPush = outputs.imageMirrorPush;
export const nfsExport = outputs.nfsExport;
export const etcdEndpoints = outputs.etcdEndpoints;
