/**
 * One environment's stack, ready for terraform: synthesized once (in process), with the runner
 * that plans and applies it: real terraform in the synthesized directory, or the sim's
 * stand-in with `--simulate`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ClusterAmis } from "../../constructs/ami";
import { setContainerInstanceStatus } from "../fleet/drain";
import type { Environment } from "../config/environments";
import type { Config } from "../config/file";
import { type Pins, readPins } from "../config/pins";
import type { ScenarioName } from "../sim/scenario-list";
import type { Simulation } from "../sim/scenarios";
import type { AwsClients } from "../fleet/clients";
import { type Clock, wallClock } from "../core/clock";
import { VirtualClock } from "../sim/clock";
import { TerraformCli, type TerraformStack } from "../terraform/runner";
import type { Logger } from "../core/log";
import { temporaryDirectory } from "./common";

// Loaded on first use, so that a verb pays only for what it runs: cdktf and the provider's
// classes where a stack is synthesized, the simulator with --simulate, the SDK clients without.
type App = typeof import("../../constructs/app");
type Scenarios = typeof import("../sim/scenarios");
type Clients = typeof import("../fleet/clients");
type SimTerraformModule = typeof import("../sim/terraform");
const synthesizeStacks: App["synthesizeStacks"] = (props) => (require("../../constructs/app") as App).synthesizeStacks(props);
const createSimulation: Scenarios["createSimulation"] = (options) => (require("../sim/scenarios") as Scenarios).createSimulation(options);
const createAwsClients: Clients["createAwsClients"] = (...args) => (require("../fleet/clients") as Clients).createAwsClients(...args);
const simTerraform = (...args: ConstructorParameters<SimTerraformModule["SimTerraform"]>) => new (require("../sim/terraform") as SimTerraformModule).SimTerraform(...args);

export interface Stack extends TerraformStack {
  /** Set with `--simulate`: the world the runner plans and applies against. */
  readonly simulation?: Simulation;
}

export interface StackOptions {
  readonly config: Config;
  readonly environment: Environment;
  readonly log: Logger;
  readonly simulate?: boolean;
  readonly scenario?: ScenarioName;
  /** Interrupts terraform gracefully (Ctrl-C). */
  readonly signal?: AbortSignal;
}

/**
 * Synthesizes `environment`'s stack from the pins file as it is now (a rollout changes it between
 * steps) into `outDir`, and returns the stack's directory and its JSON.
 */
export function synthesizeEnvironment(config: Pick<Config, "environments" | "pinsPath" | "pinsShownAs">, environment: Environment, outDir: string): { directory: string; json: any } {
  const pins = readPins(config.pinsPath, config.environments, config.pinsShownAs);
  const [stack] = synthesizeStacks({ environments: config.environments, pins, outDir, only: [environment.name] });
  return { directory: stack.directory, json: JSON.parse(readFileSync(stack.file, "utf8")) };
}

/** Synthesizes `environment`'s stack into the config's outDir, with real terraform. */
export function realStack(options: StackOptions): Stack {
  const started = Date.now();
  const { directory } = synthesizeEnvironment(options.config, options.environment, options.config.outDir);
  options.log.info(`synthesized ${options.environment.name} in ${((Date.now() - started) / 1000).toFixed(1)} s -> ${directory}`, { directory });
  const runner = new TerraformCli({
    workingDirectory: directory,
    log: (line) => options.log.output("terraform", line),
    notice: (message) => options.log.info(message),
    signal: options.signal,
  });
  return { runner, directory };
}

/**
 * The pins of a bump PR for this simulated world: the world runs an older image, so every
 * cluster moves to its pin; a blue-green cluster keeps the running image as `retiring`, as
 * `amiroll bump` writes it, so the plan is an add.
 */
export function bumpPinsFor(simulation: Simulation, environment: Environment, pins: Pins): Pins {
  const bumped: Record<string, ClusterAmis> = {};
  for (const cluster of environment.clusters) {
    const pin = pins[environment.name][cluster.name];
    const running = simulation.images[cluster.name].running;
    bumped[cluster.name] =
      cluster.strategy === "blue-green" && !pin.retiring && running !== pin.current.imageId
        ? { current: pin.current, retiring: { imageId: running, imageName: simulation.world.images.get(running)?.name } }
        : pin;
  }
  return { ...pins, [environment.name]: bumped };
}

/** A simulated world on the previous image, and the sim's terraform over the stack of its bump PR. */
export async function simulatedStack(options: StackOptions): Promise<Stack> {
  const { environment, config } = options;
  const simulation = await createSimulation({ environment, pins: config.pins[environment.name], scenario: options.scenario });
  const dir = temporaryDirectory("amiroll-sim-");
  const pins = bumpPinsFor(simulation, environment, config.pins);
  const [stack] = synthesizeStacks({ environments: config.environments, pins, outDir: join(dir, "cdktf.out"), only: [environment.name] });
  const directory = stack.directory;
  const stackJson = JSON.parse(readFileSync(stack.file, "utf8"));
  options.log.info(`simulating ${environment.name} (scenario ${simulation.scenario}): running ${Object.values(simulation.images).map((i) => i.running).join(", ")}`, { scenario: simulation.scenario });
  return { runner: simTerraform(simulation.world, environment, stackJson), directory, simulation };
}

/** Simulated runs start on a Tuesday morning, an hour before this repository's production window. */
export const SIMULATED_START = Date.parse("2026-11-24T08:00:00Z");

/**
 * A simulated world for each of `environments`, all on one virtual clock, each on an image older
 * than its pin and with a newer one in SSM (scripts/sim/scenarios.ts).
 */
export async function simulatedEnvironments(
  config: Config,
  environments: readonly Environment[],
  options: { scenario?: ScenarioName; startAt?: number; seed?: number } = {},
): Promise<Map<string, Simulation>> {
  const startAt = options.startAt ?? SIMULATED_START;
  const clock = new VirtualClock(startAt);
  const simulations = new Map<string, Simulation>();
  for (const environment of environments) {
    simulations.set(environment.name, await createSimulation({ environment, pins: config.pins[environment.name], scenario: options.scenario, clock, startAt, seed: options.seed }));
  }
  // Images are regional: every world of a region knows every image of the others.
  for (const a of simulations.values()) {
    for (const b of simulations.values()) {
      if (a !== b && a.world.region === b.world.region) for (const [id, image] of b.world.images) if (!a.world.images.has(id)) a.world.images.set(id, image);
    }
  }
  return simulations;
}

/** How a verb that only reads AWS reaches each environment: SDK clients, or the simulated ones. */
export interface AwsAccess {
  readonly clients: (environment: Environment) => AwsClients;
  readonly clock: Clock;
}

/** Real clients per environment (its region) and the wall clock; with `simulate`, the sim's. */
export async function awsAccess(config: Config, environments: readonly Environment[], options: { simulate?: boolean; scenario?: ScenarioName; log: Logger }): Promise<AwsAccess> {
  if (!options.simulate) return { clients: (environment) => createAwsClients(environment), clock: wallClock };
  const simulations = await simulatedEnvironments(config, environments, options);
  const first = simulations.values().next().value!;
  options.log.info(`simulated ${[...simulations.values()].map((s) => `${s.environment.name} (${s.world.instances.size} instances, scenario ${s.scenario})`).join(", ")}`);
  return { clients: (environment) => simulations.get(environment.name)!.clients, clock: first.clock };
}

export function openStack(options: StackOptions): Promise<Stack> {
  return options.simulate ? simulatedStack(options) : Promise.resolve(realStack(options));
}

/**
 * For `watch --simulate`: a simulated environment in which the bump has just been applied, as
 * after an Atlantis apply, so there is a migration to watch. A replace roll's apply goes on in
 * the background (terraform waits while the hook drains the old group); a blue-green add is
 * applied, then the old generation is set DRAINING, as the rollout does.
 */
export async function simulatedRollInProgress(options: StackOptions): Promise<Simulation> {
  const stack = await simulatedStack(options);
  const simulation = stack.simulation!;
  await stack.runner.init();
  await stack.runner.plan("bump.tfplan");
  const applying = stack.runner.apply("bump.tfplan");
  const blueGreen = options.environment.clusters.filter((c) => c.strategy === "blue-green");
  if (blueGreen.length === 0) {
    applying.catch((e) => options.log.warn(`simulated apply failed: ${(e as Error).message}`));
    return simulation;
  }
  await applying;
  for (const cluster of blueGreen) {
    const target = options.config.pins[options.environment.name][cluster.name].current.imageId;
    const old = [...simulation.world.containerInstances.values()].filter((ci) => ci.clusterName === cluster.ecsClusterName && ci.imageId !== target && ci.status === "ACTIVE");
    // As the rollout's drain: services naming the old generation's capacity provider follow the new one first.
    if (cluster.capacityProviders) {
      const { followGeneration } = await import("../rollout/providers");
      await followGeneration(options.environment, cluster, simulation.clients, target, { clock: simulation.clock, log: options.log, watchTimeoutMs: 3_600_000 }, false);
    }
    await setContainerInstanceStatus(simulation.clients.ecs, cluster.ecsClusterName, old.map((ci) => ci.arn), "DRAINING");
  }
  return simulation;
}
