// A throwaway program for test/backend/postgres-lock.sh: what a stack keeps (a plain config
// value, a config secret, a generated secret) and an update that lasts long enough for a second
// `pulumi up` to find the stack locked. No hosts: the command runs on this machine.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";

const config = new pulumi.Config();
const round = config.get("round") ?? "0";
const sleepSeconds = config.getNumber("sleepSeconds") ?? 0;

const pet = new random.RandomPet("pet", { length: 2 });
const password = new random.RandomPassword("password", { length: 24, special: false });
// A new round replaces the step, which sleeps before it prints the round.
const step = new command.local.Command("step", {
    create: `sleep ${sleepSeconds}; echo "round ${round}"`,
    triggers: [round],
});

export const greeting = config.require("greeting");
export const token = config.requireSecret("token");
export const petName = pet.id;
export const generated = password.result;
export const stepOutput = step.stdout;
