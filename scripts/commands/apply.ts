/**
 * `amiroll apply --env E [--plan FILE]`: applies a plan only if the guard accepts it (or
 * `--force`). With `--plan`, the saved plan is judged and applied as it is (terraform refuses it
 * if the state moved since); without, amiroll plans first. After a replace roll it watches the
 * tasks move off the old instances (`--no-watch` to skip).
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { StalePlanError, UsageError } from "../core/errors";
import { createAwsClients, maxAttemptsFrom } from "../fleet/clients";
import { wallClock } from "../core/clock";
import { guardText } from "../terraform/guard";
import { summaryLine } from "../terraform/plan";
import { createLogger } from "../core/log";
import { type CommonOptions, EXIT, Exit, existingFile, findEnvironment, interruptible, loadConfig, stderrSink, temporaryDirectory, withCommonOptions } from "./common";
import { backupBeforeApply, checkBackupDir } from "../terraform/state-backup";
import { s3StateVersionReader } from "../terraform/state-version";
import { type GuardFlags, withGuardOptions } from "./guard-flags";
import { planAndGuard } from "./plan";
import { openStack } from "./stack";
import { durationOption, watchEnvironment } from "./watch";

interface ApplyOptions extends CommonOptions, GuardFlags {
  readonly env: string;
  readonly plan?: string;
  readonly force?: boolean;
  /** False with --no-watch. */
  readonly watch: boolean;
  readonly timeout: string;
  readonly stallAfter: string;
}

export function applyCommand(): Command {
  const command = new Command("apply")
    .description("apply one environment's plan if the guard accepts it (exit 3 if refused, nothing applied)")
    .requiredOption("--env <name>", "the environment to apply")
    .option("--plan <file>", "apply this saved plan (from amiroll plan --out) instead of planning again")
    .option("--force", "apply even though the guard refused the plan (after a careful review)")
    .option("--no-watch", "after a replace roll, do not watch the tasks move (amiroll watch does it later)")
    .option("--timeout <duration>", "how long the watch after the apply may take", "60m")
    .option("--stall-after <duration>", "no progress for this long is a stall (the watch)", "10m");
  return withCommonOptions(withGuardOptions(command)).action(async (options: ApplyOptions) => {
    // Every flag first, then the config, all before terraform runs: exit 2 must mean nothing was changed.
    if (options.plan && options.simulate) {
      throw new UsageError("--plan cannot be used with --simulate: the simulated world lives for one command, so apply plans it afresh");
    }
    const timeoutMs = durationOption("--timeout", options.timeout);
    const stallAfterMs = durationOption("--stall-after", options.stallAfter);
    // The watch after a replace roll makes SDK clients: their retry setting is checked now, not after the apply.
    if (options.watch && !options.simulate) maxAttemptsFrom();
    // terraform would resolve a relative path against the stack directory, not where the user is.
    const savedPlan = options.plan === undefined ? undefined : existingFile("--plan", options.plan);
    const log = createLogger(options.logFormat, stderrSink);
    const config = loadConfig(options);
    const environment = findEnvironment(config.environments, options.env);
    // The state is backed up before the apply: a directory it cannot go to is found now.
    if (!options.simulate) checkBackupDir(config.backups, environment.name);
    const interrupt = interruptible(log);
    try {
      const stack = await openStack({ config, environment, log, simulate: options.simulate, scenario: options.scenario, signal: interrupt.signal });
      const planFile = savedPlan ?? join(stack.directory, "amiroll-apply.tfplan");
      const { plan, guard } = await planAndGuard(stack, planFile, options, log, { saved: savedPlan !== undefined });
      console.log(`${summaryLine(plan)}\n${guardText(guard)}`);
      if (!guard.accepted) {
        if (!options.force) {
          log.warn("not applied: the plan guard refused it (review it, then --force to apply anyway)");
          throw new Exit(EXIT.guardRefused);
        }
        log.warn("--force: applying a plan the guard refused", { reasons: guard.reasons });
      }
      if (guard.verdicts.length === 0) {
        log.info("nothing to apply");
        return;
      }
      const clock = stack.simulation?.clock;
      // A simulated state is backed up beside the simulated world (removed with it), never into the config's directory.
      const backups = options.simulate ? { dir: temporaryDirectory("amiroll-sim-backups-"), shownAs: "the simulated backups", keep: config.backups.keep } : config.backups;
      await backupBeforeApply(backups, { environment: environment.name, runner: stack.runner, pinsPath: config.pinsPath, at: clock ? clock.now() : Date.now(), purpose: `amiroll apply (${guard.expect})`, backend: environment.backend, stateVersion: options.simulate ? undefined : s3StateVersionReader(), log });
      const started = clock ? clock.now() : Date.now();
      log.info(`terraform apply ${planFile}`);
      try {
        await stack.runner.apply(planFile);
      } catch (error) {
        if (error instanceof StalePlanError) throw new UsageError(`${options.plan ?? planFile}: ${error.reason}`);
        throw error;
      }
      const minutes = ((clock ? clock.now() : Date.now()) - started) / 60_000;
      log.info(`applied ${environment.name} in ${minutes.toFixed(1)} ${clock ? "simulated " : ""}minutes`, { minutes });
      if (!options.plan) rmSync(planFile, { force: true });
      // A replace roll's old instances drain through the hook as terraform deletes their group:
      // watch them to the end. A blue-green add leaves them ACTIVE for the driver to drain.
      if (guard.expect === "replace" && options.watch) {
        await watchEnvironment({
          config,
          environment,
          log,
          clients: stack.simulation?.clients ?? createAwsClients(environment),
          clock: stack.simulation?.clock ?? wallClock,
          timeoutMs,
          stallAfterMs,
          timeoutText: options.timeout,
        });
      } else if (guard.creating.length > 0 && guard.expect !== "replace") {
        log.info(`first deploy of ${guard.creating.join(", ")} applied: its instances are starting; amiroll verify --env ${environment.name} watches them register, runs the gates and records the image as verified`);
      } else if (guard.expect === "add") {
        log.info(`the new generation is in service; the old one is still ACTIVE: amiroll verify --env ${environment.name} drains it, runs the gates and records the image as verified (its pins then without \`retiring\`); then apply the retire`);
      } else if (guard.expect === "refresh") {
        log.info(`the launch template has the new image; the running instances keep the old one until they are replaced: amiroll rollout --from ${environment.name} --to ${environment.name} replaces them in batches (drain, then terminate), runs the gates and records the image as verified`);
      }
    } finally {
      interrupt.done();
    }
  });
}
