import * as pulumi from "@pulumi/pulumi";

/** A resource as the mocked engine was asked to create it. */
export interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
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
                recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
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
}
