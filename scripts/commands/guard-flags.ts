/**
 * The guard's `--expect` and `--allow`, shared by `plan`, `apply` and `guard`. Apart from plan.ts
 * so that `amiroll guard` (offline, on a plan file) loads neither the rollout nor the simulator.
 */
import { type Command, Option } from "commander";
import { SHAPES, type Shape } from "../terraform/rolls";

export interface GuardFlags {
  readonly expect?: Shape;
  readonly allow?: readonly string[];
}

/** Adds the guard's `--expect` and `--allow` to a verb. */
export function withGuardOptions(command: Command): Command {
  return command
    .addOption(new Option("--expect <shape>", "the roll the plan must be (default: inferred from the amiroll_clusters output)").choices(SHAPES))
    .option("--allow <address>", "accept any change to resources matching this address pattern (* matches anything); repeatable", (v: string, all: string[] = []) => [...all, v]);
}
