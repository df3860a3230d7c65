/**
 * `amiroll rollout [--from E] [--to E]`: takes the pinned image through the environments in
 * waves (staging, then what promotes from it), with gates between them, inside maintenance
 * windows, respecting holds; resumable (run it again after a crash or Ctrl-C), rolls back a
 * failed blue-green wave. `--notice` prints the window's notice and changes nothing (with
 * `--notice-dir` and `--send`, it also writes and posts one per owner: commands/notices.ts).
 * Exit: 0 done; 1 a wave failed or was rolled back; 2 refused (window, hold, unverified source,
 * bad input); 3 the plan guard refused; 130 interrupted (Ctrl-C, SIGTERM: nothing rejected, the
 * same command resumes). With `--simulate --state-dir DIR` the simulated world outlives the
 * process (sim-state.ts), so that resume works across processes as against AWS.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import type { Environment } from "../config/environments";
import { type BackupSettings, DEFAULT_BACKUP_KEEP, findEnvironment } from "../config/file";
import { checkBackupDir } from "../terraform/state-backup";
import { type StateVersionReader, s3StateVersionReader } from "../terraform/state-version";
import { formatPins } from "../config/pins";
import { UsageError } from "../core/errors";
import { createAwsClients, maxAttemptsFrom } from "../fleet/clients";
import { takeSnapshot } from "../fleet/snapshot";
import { rolloutNotice } from "../rollout/notice";
import { ownerNotices } from "../rollout/owner-notices";
import { checkNoticeOptions, deliverOwnerNotices } from "./notices";
import { rolloutMarkdown, rolloutText } from "../rollout/report";
import { type EnvironmentAccess, type RolloutOptions, type RolloutResult, rollout, wavesOf } from "../rollout/rollout";
import { environmentLogger, wavesText } from "../rollout/parallel";
import { fetchProbe } from "../rollout/smoke";
import { type Clock, wallClock } from "../core/clock";
import { simulatedProbe } from "../sim/probe";
import { type ScenarioName, type Simulation } from "../sim/scenarios";
import type { VirtualClock } from "../sim/clock";
import { SimTerraform } from "../sim/terraform";
import { type Logger, createLogger } from "../core/log";
import { type CommonOptions, type Config, EXIT, Exit, interruptible, loadConfig, stderrSink, temporaryDirectory, withCommonOptions } from "./common";
import { type JournaledOptions, type SimState, interruptAt, interruptPointFrom, openSimState, recordEnd, recordInterrupt, recordStep, replayRuns, startRun } from "./sim-state";
import { SIMULATED_START, realStack, simulatedEnvironments, synthesizeEnvironment } from "./stack";
import { durationOption } from "./watch";

interface RolloutCommandOptions extends CommonOptions {
  readonly from?: string;
  readonly to?: string;
  readonly ignoreWindow?: boolean;
  readonly waitForWindow?: boolean;
  readonly force?: boolean;
  readonly notice?: boolean;
  readonly noticeDir?: string;
  readonly send?: boolean;
  readonly timeout: string;
  readonly stallAfter: string;
  readonly output: "text" | "markdown";
  readonly stateDir?: string;
}

/** Exit code of an interrupted rollout (the shell's for SIGINT). */
export const EXIT_INTERRUPTED = EXIT.interrupted;

/** The simulated world's seed (scripts/sim: the same seed, the same run). */
const SIMULATION_SEED = 1;

const EXIT_OF: Readonly<Record<RolloutResult["outcome"], number>> = {
  done: EXIT.ok,
  "already done": EXIT.ok,
  failed: EXIT.failed,
  "rolled back": EXIT.failed,
  refused: EXIT.badInput,
  "guard refused": EXIT.guardRefused,
  interrupted: EXIT_INTERRUPTED,
  "not started": EXIT.failed,
  // A parallel wave stopped by its sibling's end (the rollout's outcome is the sibling's).
  stopped: EXIT.failed,
};

/** The exit code of `amiroll rollout` for a rollout that ended `outcome` (what it throws is mapped by amiroll.ts's exitCodeOf). */
export function rolloutExitCode(outcome: RolloutResult["outcome"]): number {
  return EXIT_OF[outcome];
}

export function rolloutCommand(): Command {
  const command = new Command("rollout")
    .description("roll the pinned image through the environments, staging then production, with gates, windows, holds, resume and rollback")
    .option("--from <env>", "the first wave (default: the first environment)")
    .option("--to <env>", "the last wave (default: the last environment)")
    .option("--ignore-window", "roll even outside the environments' maintenance windows")
    .option("--wait-for-window", "outside a maintenance window, wait until the next one opens")
    .option("--force", "roll environments and clusters that are on hold")
    .option("--notice", "print the maintenance notice (what, when, which services by owner) and change nothing")
    .option("--notice-dir <dir>", "with --notice: also write one notice per owner tag to DIR (created if missing), OWNER.md")
    .option("--send", "with --notice: post each owner's notice to notices.webhook (without it, print what would be posted)")
    .option("--timeout <duration>", "how long tasks may take to move in one wave", "60m")
    .option("--stall-after <duration>", "no progress for this long is a stall", "10m")
    .option("--state-dir <dir>", "with --simulate: keep the simulated world and its pins in DIR (created if missing), so that the same command run again after Ctrl-C or a crash continues it (default: a temporary directory, removed on exit)")
    .addOption(new Option("-o, --output <format>", "the report on stdout").choices(["text", "markdown"]).default("text"));
  return withCommonOptions(command).action(async (options: RolloutCommandOptions) => {
    // Every flag first, then the config and what depends on it, all before the first AWS call or
    // terraform command: exit 2 must mean nothing was changed.
    if (options.ignoreWindow && options.waitForWindow) throw new UsageError("--ignore-window and --wait-for-window contradict each other: choose one");
    const watchTimeoutMs = durationOption("--timeout", options.timeout);
    const stallAfterMs = durationOption("--stall-after", options.stallAfter);
    // The SDK clients are made wave by wave: their retry setting is checked now.
    if (!options.simulate) maxAttemptsFrom();
    const log = createLogger(options.logFormat, stderrSink);
    const config = loadConfig(options);
    for (const [flag, value] of [["--from", options.from], ["--to", options.to]] as const) {
      if (value !== undefined) findEnvironment(config.environments, value, flag);
    }
    const waves = wavesOf(config.environments, options.from, options.to);
    if (waves.length === 0) throw new UsageError(`--from ${options.from} comes after --to ${options.to} in the promotion order (${wavesOf(config.environments).map((e) => e.name).join(" -> ")})`);
    if (options.stateDir !== undefined && !options.simulate) throw new UsageError("--state-dir needs --simulate (it keeps the simulated world between runs)");
    checkNoticeOptions(options, config);
    // Backups are taken before every apply: a directory they cannot go to is found now.
    if (!options.simulate) for (const wave of waves) checkBackupDir(config.backups, wave.name);
    const interruptPoint = options.simulate ? interruptPointFrom(process.env, config.environments) : undefined;
    const state = options.simulate && options.stateDir !== undefined ? openSimState(options.stateDir, config, { scenario: options.scenario, seed: SIMULATION_SEED, startAt: SIMULATED_START }) : undefined;
    const scenario = state?.journal.scenario ?? options.scenario;
    const journaled: JournaledOptions = { from: options.from, to: options.to, ignoreWindow: options.ignoreWindow, waitForWindow: options.waitForWindow, force: options.force, watchTimeoutMs, stallAfterMs, ...((config.maxParallel ?? 1) > 1 && { maxParallel: config.maxParallel }) };
    const runOptions = (o: JournaledOptions): Partial<RolloutOptions> => ({
      waves: wavesOf(config.environments, o.from, o.to),
      logFormat: options.logFormat,
      force: o.force,
      ignoreWindow: o.ignoreWindow,
      waitForWindow: o.waitForWindow,
      watchTimeoutMs: o.watchTimeoutMs,
      stallAfterMs: o.stallAfterMs,
      maxParallel: o.maxParallel,
    });

    // Ctrl-C from here on stops the verb (before the rollout: at once, exit 130).
    const interrupt = interruptible(log);
    let result: RolloutResult;
    let world: RolloutWorld;
    let clock: VirtualClock | undefined;
    try {
      if (options.simulate) {
        const simulated = await simulatedWorld(config, { scenario, log, directory: state?.directory, seed: SIMULATION_SEED });
        world = simulated;
        clock = simulated.simulations.values().next().value!.clock;
        if (state) {
          const quiet = createLogger("text", () => undefined);
          await replayRuns(state, clock, (o, signal) => {
            // The world's too: the simulated terraform stops on it as on Ctrl-C.
            simulated.signal = signal;
            // The replay makes the states the runs before made (and backed up) again: no second backup of them.
            return rollout(rolloutOptions(simulated, config.environments, quiet, { ...runOptions(o), signal, backups: undefined }));
          }, log);
        }
      } else {
        world = realWorld(config, log);
      }
      if (options.notice) {
        await printNotice(world, waves, config, options, log, interrupt.signal);
        if (interrupt.signal.aborted) {
          log.error("interrupted while the notices were delivered (the log says which were posted); nothing else was changed", { exitCode: EXIT.interrupted });
          throw new Exit(EXIT.interrupted);
        }
        return;
      }
      if (interrupt.signal.aborted) {
        log.error("interrupted before the rollout began; nothing was changed", { exitCode: EXIT.interrupted });
        throw new Exit(EXIT.interrupted);
      }
      world.signal = interrupt.signal;
      const journal = state && clock && { state, clock, entry: startRun(state, journaled, clock) };
      if (journal) interrupt.signal.addEventListener("abort", () => recordInterrupt(journal.state, journal.entry, journal.clock), { once: true });
      const checkpoint = interruptPoint && interruptAt(interruptPoint, log);
      world.checkpoint = checkpoint;
      const beforeStep = journal || checkpoint ? (env: string, step: string) => {
        if (journal) recordStep(journal.state, journal.entry, journal.clock);
        checkpoint?.(env, step);
      } : undefined;
      log.info(`rollout: ${wavesText(config.environments, waves, config.maxParallel)}${options.simulate ? ` (simulated, scenario ${scenario ?? "healthy"}, from ${new Date(world.clock.now()).toISOString()})` : ""}`, { waves: waves.map((w) => w.name) });
      try {
        result = await rollout(rolloutOptions(world, config.environments, log, { ...runOptions(journaled), beforeStep }));
      } catch (error) {
        if (journal) recordEnd(journal.state, journal.entry, journal.clock, `error: ${(error as Error).message}`);
        throw error;
      }
      if (journal) recordEnd(journal.state, journal.entry, journal.clock, result.outcome);
    } finally {
      interrupt.done();
      clock?.stop();
    }
    report(world, result, options, state, log);
  });
}

/** The report on stdout, the violations the sim saw, the final log line and the exit code. */
function report(world: RolloutWorld, result: RolloutResult, options: RolloutCommandOptions, state: SimState | undefined, log: Logger): void {
  process.stdout.write(options.output === "markdown" ? rolloutMarkdown(result) : `${rolloutText(result).join("\n")}\n`);
  if (world.violations) {
    const violations = world.violations();
    console.log(`zero-downtime violations: ${violations}`);
  }
  // Without --state-dir the simulated world is a temporary directory, removed on exit: the backups
  // the report lists go with it, which it says rather than point at files that will be gone.
  if (options.simulate && !state && result.outcome !== "interrupted" && result.waves.some((w) => w.backups.length > 0)) {
    log.info("simulated without --state-dir: the state backups above were in the simulated world's temporary directory, removed on exit; --state-dir DIR keeps them");
  }
  if (result.outcome === "interrupted") {
    const where = !options.simulate ? "" : state ? ` (the simulated world is kept in ${state.directory})` : " (simulated without --state-dir: this world ends with this process; --state-dir DIR keeps it for the next run)";
    log.error(`rollout interrupted (an interrupt is no verdict on the image); run the same command again to continue from where the world is${where}`, { exitCode: EXIT_OF[result.outcome] });
  } else if (EXIT_OF[result.outcome] !== EXIT.ok) {
    log.error(`rollout ${result.outcome}: ${result.waves.find((w) => w.reason && w.outcome === result.outcome)?.reason ?? ""}`, { exitCode: EXIT_OF[result.outcome] });
  }
  if (EXIT_OF[result.outcome] !== EXIT.ok) throw new Exit(EXIT_OF[result.outcome]);
}

async function printNotice(world: RolloutWorld, waves: readonly Environment[], config: Config, options: RolloutCommandOptions, log: Logger, signal: AbortSignal): Promise<void> {
  const fleets = new Map<string, Awaited<ReturnType<typeof takeSnapshot>>>();
  for (const env of waves) {
    const { clients } = world.access(env);
    for (const c of env.clusters) fleets.set(`${env.name}/${c.name}`, await takeSnapshot(clients, c.ecsClusterName, { now: world.clock.now(), since: world.clock.now() }));
  }
  const input = { waves, environments: config.environments, pins: config.pins, fleets, now: world.clock.now(), maxParallel: config.maxParallel };
  process.stdout.write(rolloutNotice(input));
  await deliverOwnerNotices(ownerNotices(input), { dir: options.noticeDir, webhook: config.notices, send: options.send === true, log, signal });
}

/**
 * The options of a rollout of every wave in `world`, with the defaults of the command (a 60-minute
 * watch, a 10-minute stall); `extra` overrides any of them.
 */
export function rolloutOptions(world: RolloutWorld, environments: readonly Environment[], log: Logger, extra: Partial<RolloutOptions> = {}): RolloutOptions {
  return {
    environments,
    waves: wavesOf(environments),
    pinsPath: world.pinsPath,
    pinsShownAs: world.pinsShownAs,
    access: world.access,
    clock: world.clock,
    probe: world.probe,
    log,
    logFormat: "text",
    watchTimeoutMs: 60 * 60_000,
    stallAfterMs: 10 * 60_000,
    signal: world.signal,
    checkpoint: world.checkpoint,
    backups: world.backups,
    stateVersion: world.stateVersion,
    ...extra,
  };
}

/** Where a rollout runs: real AWS and terraform, or the simulated environments. */
export interface RolloutWorld {
  readonly clock: Clock;
  readonly pinsPath: string;
  readonly pinsShownAs: string;
  readonly access: (environment: Environment) => EnvironmentAccess;
  readonly probe: typeof fetchProbe;
  /** Zero-downtime violations seen by the sim (simulated runs only). */
  readonly violations?: () => number;
  /** Where the state is backed up before every apply. */
  readonly backups?: BackupSettings;
  /** Reads the S3 state object's version id for each backup (real AWS only). */
  readonly stateVersion?: StateVersionReader;
  signal?: AbortSignal;
  /**
   * Called at the points inside the steps (rollout.ts `RolloutPoint`; simulated, also the sim
   * terraform's points inside apply, `SimApplyPoint`): tests interrupt there.
   */
  checkpoint?: (environment: string, point: string) => void;
}

/** Real AWS and terraform, the config's pins file. */
export function realWorld(config: Config, log: Logger): RolloutWorld {
  const world: RolloutWorld = {
    clock: wallClock,
    pinsPath: config.pinsPath,
    pinsShownAs: config.pinsShownAs,
    probe: fetchProbe,
    backups: config.backups,
    stateVersion: s3StateVersionReader(),
    access: (environment) => {
      const clients = createAwsClients(environment);
      return {
        clients,
        // Beside other waves (maxParallel), terraform's lines and the synthesis say whose they are.
        stack: async () => realStack({ config, environment, log: (config.maxParallel ?? 1) > 1 ? environmentLogger(log, environment.name) : log, signal: world.signal }),
      };
    },
  };
  return world;
}

/**
 * Every environment simulated on one virtual clock, each on an image older than its pin; the
 * pins are a copy (the repository's amis.json is never changed by a simulation).
 */
/** The simulated AWS of every environment, as the rollout sees it. */
export type SimulatedWorld = RolloutWorld & {
  readonly simulations: ReadonlyMap<string, Simulation>;
  readonly directory: string;
  /** Ends the simulation: what still runs in it (an old instance's drain, a hook's re-check) stops with the command. */
  readonly stop: () => void;
};

export async function simulatedWorld(
  config: Config,
  options: {
    scenario?: ScenarioName;
    log: Logger;
    startAt?: number;
    /** How each stack is synthesized from the pins' copy (a cache, say, for callers that run many worlds). @default synthesizeEnvironment */
    synthesize?: typeof synthesizeEnvironment;
    /** Where the pins' copy and the stacks go (a --state-dir). @default a temporary directory, removed when the process exits */
    directory?: string;
    /** @default 1 */
    seed?: number;
  },
): Promise<SimulatedWorld> {
  const { log } = options;
  const dir = options.directory ?? temporaryDirectory("amiroll-rollout-");
  const pinsPath = join(dir, "amis.json");
  writeFileSync(pinsPath, formatPins(config.pins, config.environments));
  const simulations = await simulatedEnvironments(config, config.environments, options);
  const clock = simulations.values().next().value!.clock;
  log.info(`simulated ${[...simulations.values()].map((s) => `${s.environment.name} (${s.world.instances.size} instances, ${s.world.services.size} services)`).join(", ")}; pins copied to ${pinsPath}`);
  const runners = new Map<string, SimTerraform>();
  const copy = { environments: config.environments, pinsPath, pinsShownAs: pinsPath };
  const world: SimulatedWorld = {
    simulations,
    stop: () => clock.stop(),
    // The directory of the pins' copy and the synthesized stacks (a temporary one is removed when the process exits; in-process callers may remove it sooner).
    directory: dir,
    clock,
    pinsPath,
    pinsShownAs: "amis.json (simulated copy)",
    // The simulated state's backups stay with the simulated world (a --state-dir keeps them).
    backups: { dir: join(dir, "backups"), shownAs: join(dir, "backups"), keep: config.backups?.keep ?? DEFAULT_BACKUP_KEEP },
    probe: simulatedProbe([...simulations.values()].map((s) => ({ environment: s.environment, world: s.world }))),
    violations: () => [...simulations.values()].reduce((n, s) => n + s.world.downtimeViolations().length, 0),
    access: (environment) => {
      const simulation = simulations.get(environment.name)!;
      return {
        clients: simulation.clients,
        stack: async () => {
          const { directory, json } = (options.synthesize ?? synthesizeEnvironment)(copy, environment, join(dir, "cdktf.out"));
          let runner = runners.get(environment.name);
          if (runner) runner.useStack(json);
          else runners.set(environment.name, (runner = new SimTerraform(simulation.world, environment, json)));
          // Ctrl-C stops the simulated terraform as it stops the real one.
          runner.signal = world.signal;
          runner.checkpoint = (point) => world.checkpoint?.(environment.name, point);
          return { runner, directory, simulation };
        },
      };
    },
  };
  return world;
}
