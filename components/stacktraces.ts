/**
 * The Pulumi Node.js SDK takes a stack trace for every promise it makes (to report leaked ones),
 * and the source-map-support it installs maps every frame of each through the source maps. In a
 * preview of 100 hosts that was 3.5 s of the program's 11.8 s of CPU, and with the limit below
 * another second (`npm run bench`, 2026-11-30). So the program keeps V8's own stack format, and no
 * frames in the traces the SDK takes for promises. The SDK lifts the limit itself for the one trace
 * it takes per resource (its source position), so those remain, in the transpiled JavaScript's
 * lines. K8S_HA_STACK_TRACES=1 keeps full source-mapped traces, to debug a crash of the program.
 */
export function trimStackTraces(env: NodeJS.ProcessEnv = process.env): boolean {
    if (env.K8S_HA_STACK_TRACES === "1") return false;
    Reflect.deleteProperty(Error, "prepareStackTrace");
    Error.stackTraceLimit = 0;
    return true;
}
