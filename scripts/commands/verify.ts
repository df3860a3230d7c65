/**
 * `amiroll verify --env E`: the PR loop's check after an apply. Watches the environment to done
 * (a blue-green one's old generation drained first) and runs its gates, with the rollout's own
 * wave code in verify mode (rollout/rollout.ts `verifyEnvironment`: no terraform, no window).
 * Verified: the pins record `verifiedAt` (a blue-green pin drops `retiring`: the next apply is
 * the retire), and with `--promote` the environments that promote from this one are pinned to
 * the verified image (as `amiroll bump --env` would). The image shown to fail: the pins record
 * the rejection and the old generation serves again. The report names the evidence (gates,
 * soak, time); `-o json` carries it as `commitMessage` for the pins change.
 *
 * Exit: 0 verified (or verified already); 1 the image failed (rejected) or the verify failed
 * with no verdict (a timeout, AWS); 2 bad input, or nothing applied to verify (nothing changed);
 * 130 interrupted (nothing rejected; the same command continues).
 */
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import type { Environment } from "../config/environments";
import { type Pins, readPins, writePins } from "../config/pins";
import { AwsAnswerError, UsageError } from "../core/errors";
import { type Logger, createLogger } from "../core/log";
import { maxAttemptsFrom } from "../fleet/clients";
import { type BumpPlan } from "../images/bump";
import { verifyCommitMessage, verifyText } from "../rollout/report";
import { type WaveReport, alreadyVerified, verifyEnvironment } from "../rollout/rollout";
import type { ScenarioName } from "../sim/scenario-list";
import type { PinsCommitOptions, PinsCommitter } from "../github/pins-committer";
import { bumpPlan } from "./bump";
import { type CommonOptions, type Config, EXIT, Exit, findEnvironment, interruptible, loadConfig, stderrSink, withCommonOptions } from "./common";
import { type RolloutWorld, type SimulatedWorld, realWorld, rolloutExitCode, rolloutOptions, simulatedWorld } from "./rollout";
import { interruptAt, interruptPointFrom } from "./sim-state";
import { bumpPinsFor } from "./stack";
import { durationOption } from "./watch";

interface VerifyCommandOptions extends CommonOptions {
  readonly env: string;
  readonly timeout: string;
  readonly stallAfter: string;
  readonly promote?: boolean;
  readonly commit?: boolean;
  readonly repo?: string;
  readonly branch?: string;
  readonly head?: string;
  readonly output: "text" | "json";
}

/** Where `--commit` commits: the GitHub layer's (scripts/github/pins-committer.ts), or a test's. */
export type PinsCommitterFactory = (options: PinsCommitOptions & { readonly pinsPath: string; readonly simulate: boolean }, warn: (line: string) => void) => PinsCommitter;

export interface VerifyDependencies {
  /** Default: commits through the GitHub API (made, and so checked, before the first AWS call). */
  readonly committer?: PinsCommitterFactory;
}

/** The GitHub committer; with --simulate, only to a GitHub stand-in on this machine (simulated image ids never reach a real repository). */
const githubCommitter: PinsCommitterFactory = (options, warn) => {
  const { githubPinsCommitter } = require("../github/pins-committer") as typeof import("../github/pins-committer");
  return githubPinsCommitter(options, process.env, warn, { loopbackOnly: options.simulate });
};

export function verifyCommand(dependencies: VerifyDependencies = {}): Command {
  const command = new Command("verify")
    .description("watch an applied environment to done and run its gates; record the image as verified (or rejected) in the pins (exit 1 if it failed)")
    .requiredOption("--env <name>", "the environment to verify")
    .option("--timeout <duration>", "how long the tasks may take to move", "60m")
    .option("--stall-after <duration>", "no progress for this long is a stall", "10m")
    .option("--promote", "once verified, pin the environments that promote from this one to the verified image (as amiroll bump --env NAME)")
    .addOption(new Option("-o, --output <format>", "the report on stdout: text, or JSON with the commit message for the pins change").choices(["text", "json"]).default("text"));
  command
    .option("--commit", "commit the pins change (with the evidence as its message) to the pull request's branch through the GitHub API (GITHUB_TOKEN)")
    .option("--repo <owner/name>", "with --commit: the repository (default: GITHUB_REPOSITORY)")
    .option("--branch <name>", "with --commit: the pull request's head branch (default: GITHUB_HEAD_REF)")
    .option("--head <sha>", "with --commit: commit only if the branch is still at this commit (the one CI applied)");
  return withCommonOptions(command).action(async (options: VerifyCommandOptions) => {
    // Every flag, the config and the pins first, all before the first AWS call: exit 2 must mean nothing was changed.
    const watchTimeoutMs = durationOption("--timeout", options.timeout);
    const stallAfterMs = durationOption("--stall-after", options.stallAfter);
    if (!options.simulate) maxAttemptsFrom();
    const log = createLogger(options.logFormat, stderrSink);
    const config = loadConfig(options);
    const environment = findEnvironment(config.environments, options.env);
    if (!options.commit && (options.repo || options.branch || options.head)) throw new UsageError("--repo, --branch and --head go with --commit");
    const committer = options.commit
      ? (dependencies.committer ?? githubCommitter)({ repo: options.repo, branch: options.branch, head: options.head, pinsPath: config.pinsPath, simulate: !!options.simulate }, (line) => log.warn(line))
      : undefined;
    // Tests only (sim-state.ts): a signal sent at a step of the simulated verify.
    const interruptPoint = options.simulate ? interruptPointFrom(process.env, config.environments) : undefined;

    if (alreadyVerified(environment, config.pins)) {
      const at = environment.clusters.map((c) => `${c.name} ${config.pins[environment.name][c.name].current.imageId} at ${config.pins[environment.name][c.name].current.verifiedAt}`).join(", ");
      log.info(`${environment.name}: already verified (${at}): nothing to do`, { env: environment.name });
      if (options.output === "json") process.stdout.write(`${JSON.stringify({ verb: "verify", environment: environment.name, outcome: "already done", verified: Object.fromEntries(environment.clusters.map((c) => [c.name, config.pins[environment.name][c.name].current])) }, null, 2)}\n`);
      else process.stdout.write(`verify: already done\n${environment.name}: already done (verified: ${at})\n`);
      if (options.promote) {
        const world = options.simulate ? await simulatedWorld(config, { scenario: options.scenario, log }) : realWorld(config, log);
        let promoted: Promotion;
        let content: string | undefined;
        try {
          promoted = await promote(config, world, environment, log);
          // A promotion made now (it was refused or not asked for when the environment was verified) is a pins change to commit too.
          if (committer && promoted.plan && promoted.plan.changes.length > 0) content = readFileSync(world.pinsPath, "utf8");
        } finally {
          (world as SimulatedWorld).stop?.();
        }
        if (committer && content !== undefined) {
          const message = promotionCommitMessage(environment.name, at, promoted.plan!);
          log.info(`${await committer.commitPins(content, message)}: ${message.split("\n")[0]}`);
        }
        if (promoted.refused) {
          log.error(`--promote: ${promoted.refused}`, { exitCode: EXIT.failed });
          throw new Exit(EXIT.failed);
        }
      }
      return;
    }

    const interrupt = interruptible(log);
    let world: RolloutWorld | undefined;
    let wave: WaveReport;
    try {
      world = options.simulate ? await simulatedApplied(config, environment, { scenario: options.scenario, log }) : realWorld(config, log);
      if (interrupt.signal.aborted) {
        log.error("interrupted before the verify began; nothing was changed", { exitCode: EXIT.interrupted });
        throw new Exit(EXIT.interrupted);
      }
      world.signal = interrupt.signal;
      const checkpoint = interruptPoint && interruptAt(interruptPoint, log);
      world.checkpoint = checkpoint;
      log.info(`verify: ${environment.name}${options.simulate ? ` (simulated, scenario ${options.scenario ?? "healthy"})` : ""}`, { env: environment.name });
      wave = await verifyEnvironment(environment, rolloutOptions(world, config.environments, log, { logFormat: options.logFormat, watchTimeoutMs, stallAfterMs, beforeStep: checkpoint }));
    } finally {
      interrupt.done();
      (world as SimulatedWorld | undefined)?.stop?.();
    }

    const promotion = options.promote && wave.outcome === "done" ? await promote(config, world, environment, log) : undefined;
    const promoted = promotion?.plan;
    const commitMessage = withPromotion(verifyCommitMessage(wave), promoted);
    // Verified, but what promotes from it could not be pinned: the verification stands (and is committed), the exit says so.
    const code = promotion?.refused ? EXIT.failed : rolloutExitCode(wave.outcome);
    const violations = world.violations?.();
    if (options.output === "json") {
      process.stdout.write(`${JSON.stringify(verifyJson(wave, world, commitMessage, promotion, violations), null, 2)}\n`);
    } else {
      process.stdout.write(`${verifyText(wave).join("\n")}\n`);
      if (promoted && promoted.changes.length > 0) process.stdout.write(`  promoted: ${promoted.changes.map((c) => `${c.environment}/${c.cluster} -> ${c.to.imageId}`).join(", ")}\n`);
      if (violations !== undefined) process.stdout.write(`zero-downtime violations: ${violations}\n`);
    }
    if (committer && commitMessage) {
      const content = readFileSync(world.pinsPath, "utf8");
      log.info(`${await committer.commitPins(content, commitMessage)}: ${commitMessage.split("\n")[0]}`);
    }
    if (wave.outcome === "interrupted") {
      log.error(`verify interrupted (an interrupt is no verdict on the image); run amiroll verify --env ${environment.name} again to continue`, { exitCode: code });
    } else if (promotion?.refused) {
      log.error(`verify done, but --promote: ${promotion.refused}`, { exitCode: code });
    } else if (code !== EXIT.ok) {
      log.error(`verify ${wave.outcome}: ${wave.reason ?? ""}`, { exitCode: code });
    }
    if (code !== EXIT.ok) throw new Exit(code);
  });
}

/** What `-o json` prints: the wave, the pins it changed and the commit message for them. */
function verifyJson(wave: WaveReport, world: RolloutWorld, commitMessage: string | undefined, promotion: Promotion | undefined, violations: number | undefined) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    verb: "verify",
    environment: wave.environment,
    outcome: wave.outcome,
    ...(wave.reason && { reason: wave.reason }),
    targets: wave.targets,
    strategies: wave.strategies,
    startedAt: iso(wave.startedAt),
    endedAt: iso(wave.endedAt),
    tookMs: wave.endedAt - wave.startedAt,
    phases: wave.phases,
    gates: wave.gates,
    ...(wave.verifiedAt && { verifiedAt: wave.verifiedAt }),
    ...(wave.rejected && { rejected: wave.rejected }),
    instancesReplaced: wave.instancesReplaced,
    tasksMoved: wave.tasksMoved,
    pinsFile: world.pinsShownAs,
    pinChanges: wave.pinChanges,
    ...(promotion?.plan && { promoted: promotion.plan.changes.map((c) => ({ environment: c.environment, cluster: c.cluster, from: c.from.imageId, to: c.to.imageId })) }),
    ...(promotion?.refused && { promotionRefused: promotion.refused }),
    ...(commitMessage && { commitMessage }),
    ...(violations !== undefined && { zeroDowntimeViolations: violations }),
  };
}

/** The commit message of a promotion from an environment verified earlier: the verification it rests on, and the pins moved. */
function promotionCommitMessage(environment: string, verified: string, plan: BumpPlan): string {
  const moved = plan.changes.map((c) => `${c.environment}/${c.cluster} ${c.from.imageId} -> ${c.to.imageId}`);
  return `amiroll verify ${environment} --promote: ${plan.changes.map((c) => `${c.environment}/${c.cluster} ${c.to.imageId}`).join(", ")}\n\n${environment} verified earlier (${verified}).\nPromoted: ${moved.join(", ")}\n`;
}

function withPromotion(message: string | undefined, promoted: BumpPlan | undefined): string | undefined {
  if (!message || !promoted || promoted.changes.length === 0) return message;
  return `${message}\nPromoted: ${promoted.changes.map((c) => `${c.environment}/${c.cluster} ${c.from.imageId} -> ${c.to.imageId}`).join(", ")}\n`;
}

/**
 * `--promote`: the environments that promote from `environment`, pinned to its verified image by
 * bump's own rules (bumpPlan: the source verified, no roll under way, the image checked in the
 * target's region). Run after a verify: what it refuses is reported (`refused`; the verb exits 1),
 * as the verify's pins change stands.
 */
async function promote(config: Config, world: RolloutWorld, environment: Environment, log: Logger): Promise<Promotion> {
  const followers = config.environments.filter((e) => e.promotesFrom === environment.name).map((e) => e.name);
  if (followers.length === 0) {
    log.warn(`--promote: no environment promotes from ${environment.name}: nothing to promote`);
    return {};
  }
  const pins: Pins = readPins(world.pinsPath, config.environments, world.pinsShownAs);
  let plan: BumpPlan;
  try {
    plan = await bumpPlan({ ...config, pins }, { clients: (e) => world.access(e).clients, clock: world.clock }, { selected: followers });
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof AwsAnswerError)) throw error;
    return { refused: `${followers.join(", ")} not promoted: ${error.message}` };
  }
  if (plan.changes.length === 0) {
    log.info(`--promote: ${followers.join(", ")} already on ${environment.name}'s verified image`);
    return { plan };
  }
  const diff = writePins(world.pinsPath, plan.pins, config.environments);
  log.info(`--promote: ${world.pinsShownAs}: ${plan.changes.map((c) => `${c.environment}/${c.cluster} -> ${c.to.imageId}`).join(", ")}\n${diff.map((l) => `    ${l}`).join("\n")}`, { diff });
  return { plan };
}

/** What `--promote` did: the bump it made (maybe no change), or why it could not. */
interface Promotion {
  readonly plan?: BumpPlan;
  readonly refused?: string;
}

/**
 * For `verify --simulate`: every environment simulated (one clock, the pins a copy, as `rollout
 * --simulate`), and `environment`'s pins applied by the sim's terraform, as the PR's apply would
 * have (a blue-green cluster pinned with its running image as `retiring`, as amiroll bump writes it).
 */
async function simulatedApplied(config: Config, environment: Environment, options: { scenario?: ScenarioName; log: Logger }): Promise<SimulatedWorld> {
  const world = await simulatedWorld(config, { scenario: options.scenario, log: options.log });
  try {
    const simulation = world.simulations.get(environment.name)!;
    writePins(world.pinsPath, bumpPinsFor(simulation, environment, readPins(world.pinsPath, config.environments)), config.environments);
    const stack = await world.access(environment).stack();
    await stack.runner.init();
    const plan = `${stack.directory}/amiroll-verify.tfplan`;
    await stack.runner.plan(plan);
    await stack.runner.apply(plan);
    options.log.info(`simulated: ${environment.name}'s pins applied, as the pull request's apply would have: ${environment.clusters.map((c) => `${c.name} -> ${config.pins[environment.name][c.name].current.imageId}`).join(", ")}`, { env: environment.name });
    return world;
  } catch (error) {
    world.stop();
    throw error;
  }
}
