/**
 * This repository's environments in the simulator, ready for `rollout()` in process: the rollout
 * tests (rollout, boot-failure, interrupts) share it. `edit` changes the raw config first (a
 * strategy, a window); `defaults` are the rollout options every `run` starts from. The world is
 * stopped when the test that made it ends.
 */
import { readFileSync } from "node:fs";
import { rolloutOptions, simulatedWorld } from "../../scripts/commands/rollout";
import { readPins } from "../../scripts/config/pins";
import { createLogger } from "../../scripts/core/log";
import { type RolloutOptions, rollout } from "../../scripts/rollout/rollout";
import type { ScenarioName } from "../../scripts/sim/scenarios";
import { stopAfterTest } from "./stop-worlds";
import { ENVIRONMENTS_CONFIG, REPO_PINS_PATH, loadEnvironments, repoConfig } from "./repo-config";

/** The image this repository's staging pins (the image every test rolls to). */
export const PINNED = JSON.parse(readFileSync(REPO_PINS_PATH, "utf8")).staging.apps.current.imageId as string;

export interface SimulatedRolloutOptions {
  readonly edit?: (config: any) => void;
  readonly scenario?: ScenarioName;
  readonly startAt?: number;
  readonly defaults?: Partial<RolloutOptions>;
}

export async function simulatedRollout(options: SimulatedRolloutOptions = {}) {
  const raw = structuredClone(ENVIRONMENTS_CONFIG) as any;
  options.edit?.(raw);
  const environments = loadEnvironments(raw);
  const pins = readPins(REPO_PINS_PATH, environments);
  const lines: string[] = [];
  const log = createLogger("text", (line) => lines.push(line));
  const world = stopAfterTest(await simulatedWorld({ ...repoConfig(), environments, pins }, { scenario: options.scenario, log, startAt: options.startAt }));
  const sim = (env: string) => world.simulations.get(env)!;
  return {
    world,
    environments,
    log,
    lines,
    sim,
    run: (extra: Partial<RolloutOptions> = {}) => rollout(rolloutOptions(world, environments, log, { ...options.defaults, ...extra })),
    pins: () => readPins(world.pinsPath, environments),
    violations: () => [...world.simulations.values()].flatMap((s) => s.world.downtimeViolations()),
    /** The images of the groups an environment's world runs. */
    groupImages: (env: string) => [...sim(env).world.groups.values()].filter((g) => !g.deleting).map((g) => g.imageId).sort(),
    /** The images of the container instances still registered in an environment. */
    instanceImages: (env: string) => [...new Set([...sim(env).world.containerInstances.values()].filter((ci) => ci.status !== "INACTIVE").map((ci) => ci.imageId))].sort(),
  };
}
