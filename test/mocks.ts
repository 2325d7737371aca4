import * as pulumi from "@pulumi/pulumi";

/** A resource as the mocked engine was asked to create it. */
export interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    /** The `replacementTrigger` option the program gave it, if any (the engine replaces the resource when it changes). */
    replacementTrigger?: unknown;
}

/** What the mocked monitor's registerResource is given, as far as mockEngine reads it. */
interface RegisterRequest {
    getName(): string;
    getReplacementTrigger?(): { toJavaScript(): unknown } | undefined;
}

/**
 * Sets Pulumi's mocks for a test of the components (before the modules under test are imported):
 * every resource is recorded in `recorded`; its state is its inputs, plus what `outputs` adds
 * (a command's stdout, a key's PEM). Calls return their inputs.
 */
export function mockEngine(recorded: Recorded[], outputs: (args: pulumi.runtime.MockResourceArgs, state: Record<string, unknown>) => void): void {
    pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
                const trigger = triggers.get(args.name);
                recorded.push({ type: args.type, name: args.name, inputs: args.inputs, ...(trigger !== undefined ? { replacementTrigger: trigger } : {}) });
                const state: Record<string, unknown> = { ...args.inputs };
                outputs(args, state);
                return { id: `${args.name}-id`, state };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                return args.inputs;
            },
        },
        "k8s-ha",
        "test",
        false,
    );
    // The mocks' newResource is not given the resource's options: the request the monitor gets
    // holds the replacement trigger, noted here by resource name before newResource runs.
    const triggers = new Map<string, unknown>();
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: unknown): Promise<void> };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: RegisterRequest, cb: unknown) => {
        const t = req.getReplacementTrigger?.();
        if (t !== undefined) triggers.set(req.getName(), t.toJavaScript());
        return register(req, cb);
    };
}
