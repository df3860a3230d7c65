/**
 * `amiroll watch --env E`: follows the tasks off the old instances until every cluster of the
 * environment is migrated and steady; exit 1 on timeout, crash loop or stall, with the reason.
 */
import { Command } from "commander";
import { durationSeconds } from "../../constructs/formats";
import { UsageError } from "../core/errors";
import { balanceTable, serviceBalance } from "../fleet/balance";
import { type AwsClients, createAwsClients } from "../fleet/clients";
import { failureReason, progressItem, reportLines } from "../fleet/report";
import { type WatchResult, watchMigration } from "../fleet/watch";
import { type AlarmVerdict, alarmCheck } from "../fleet/alarms";
import { type Clock, wallClock } from "../core/clock";
import type { Environment } from "../config/environments";
import { type Logger, createLogger } from "../core/log";
import { type CommonOptions, type Config, EXIT, Exit, findEnvironment, loadConfig, stderrSink, withCommonOptions } from "./common";
import { rebalanceEnvironment } from "./rebalance";
import { simulatedRollInProgress } from "./stack";

interface WatchCommandOptions extends CommonOptions {
  readonly env: string;
  readonly timeout: string;
  readonly stallAfter: string;
  readonly rebalance?: boolean;
  readonly enableAzRebalancing?: boolean;
}

/**
 * `--timeout 45m` in ms; a UsageError naming the option otherwise, or when it is zero (a watch
 * that gives up, or calls a stall, before its first look). Verbs check it at the top of their
 * action: exit 2 must mean nothing ran.
 */
export function durationOption(option: string, value: string): number {
  let ms: number;
  try {
    ms = durationSeconds(value) * 1000;
  } catch {
    throw new UsageError(`${option}: ${JSON.stringify(value)} is not a duration such as 90s, 30m or 2h`);
  }
  if (ms <= 0) throw new UsageError(`${option}: ${JSON.stringify(value)} must be more than zero (a duration such as 90s, 30m or 2h)`);
  return ms;
}

export function watchCommand(): Command {
  const command = new Command("watch")
    .description("watch tasks move off the old instances until every service is steady (exit 1 on timeout, crash loop or stall)")
    .requiredOption("--env <name>", "the environment to watch")
    .option("--timeout <duration>", "give up after this long", "60m")
    .option("--stall-after <duration>", "no progress for this long is a stall", "10m")
    .option("--rebalance", "afterwards, move the tasks of services not spread across zones one at a time (amiroll rebalance)")
    .option("--enable-az-rebalancing", "with --rebalance: also turn on ECS's own Availability Zone rebalancing for every service that spreads over zones (never a binpack one)");
  return withCommonOptions(command).action(async (options: WatchCommandOptions) => {
    // Every flag first, then the config: exit 2 must mean nothing ran.
    const timeoutMs = durationOption("--timeout", options.timeout);
    const stallAfterMs = durationOption("--stall-after", options.stallAfter);
    if (options.enableAzRebalancing && !options.rebalance) throw new UsageError("--enable-az-rebalancing: only with --rebalance (it is turned on after the moves)");
    const log = createLogger(options.logFormat, stderrSink);
    const config = loadConfig(options);
    const environment = findEnvironment(config.environments, options.env);

    const simulation = options.simulate ? await simulatedRollInProgress({ config, environment, log, scenario: options.scenario }) : undefined;
    try {
      await watchEnvironment({
        config,
        environment,
        log,
        clients: simulation?.clients ?? createAwsClients(environment),
        clock: simulation?.clock ?? wallClock,
        timeoutMs,
        stallAfterMs,
        rebalance: options.rebalance,
        enableAzRebalancing: options.enableAzRebalancing,
        timeoutText: options.timeout,
      });
    } finally {
      // The simulated world ends with the command (a replace's apply may still be draining).
      simulation?.clock.stop();
    }
  });
}

export interface WatchEnvironmentOptions {
  readonly config: Config;
  readonly environment: Environment;
  readonly log: Logger;
  readonly clients: AwsClients;
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly stallAfterMs: number;
  readonly rebalance?: boolean;
  /** With `rebalance`: turn on ECS's AZ rebalancing for the spread services. */
  readonly enableAzRebalancing?: boolean;
  /** The timeout as the user wrote it, for the message. */
  readonly timeoutText: string;
}

/**
 * Watches every cluster of `environment` onto its pinned image, prints the report (and the
 * balance, or rebalances) on stdout; throws Exit(1) when the watch or the rebalance failed.
 * Used by `watch` and, after a replace roll, by `apply`.
 */
export async function watchEnvironment(options: WatchEnvironmentOptions): Promise<void> {
  const { config, environment, log, clients, clock, timeoutMs, stallAfterMs } = options;
  const clusters = environment.clusters.map((c) => ({
    name: c.name,
    ecsClusterName: c.ecsClusterName,
    targetImageIds: [config.pins[environment.name][c.name].current.imageId],
  }));
  log.info(`watching ${environment.name}: ${clusters.map((c) => `${c.name} -> ${c.targetImageIds.join(", ")}`).join("; ")}`, { env: environment.name });

  let result: WatchResult;
  // The watched alarms (config `alarms`), every 30 s at most: one in ALARM ends the watch, exit 1.
  const alarms = alarmCheck({ cloudwatch: clients.cloudwatch, watch: environment.alarms, clock, since: clock.now() });
  let alarm: AlarmVerdict | undefined;
  const fired = new Error("a watched alarm is in ALARM");
  try {
    result = await watchMigration({
      clients,
      clock,
      clusters,
      timeoutMs,
      stallAfterMs,
      // Only with alarms to watch: without, the watch takes not one await more than before.
      ...(environment.alarms && {
        onSnapshot: async () => {
          alarm = await alarms();
          if (alarm) throw fired;
        },
      }),
      onCycle: ({ states }) =>
        log.progress([...states].map(([cluster, state]) => progressItem(cluster, state))),
    });
  } catch (error) {
    if (error !== fired || !alarm) throw error;
    console.log(`watch of ${environment.name}: alarm`);
    log.error(`watch of ${environment.name} failed: ${alarm.reason}`, { exitCode: EXIT.failed });
    throw new Exit(EXIT.failed);
  } finally {
    log.endProgress();
  }

  // The report goes to stdout: it is the verb's result.
  console.log(`watch of ${environment.name}: ${result.outcome} after ${result.cycles} polls`);
  for (const [cluster, state] of result.states) for (const line of reportLines(cluster, state)) console.log(line);
  if (result.outcome === "done") {
    if (options.rebalance) {
      if (!(await rebalanceEnvironment(clients, clock, environment, { log, enableAzRebalancing: options.enableAzRebalancing }))) {
        log.error(`watch of ${environment.name}: migrated, but some services could not be rebalanced`, { exitCode: EXIT.failed });
        throw new Exit(EXIT.failed);
      }
    } else {
      for (const [cluster, snapshot] of result.snapshots) {
        const balance = serviceBalance(snapshot);
        console.log(`${cluster}: balance${balance.balanced ? "" : ` (imbalanced: ${balance.imbalanced.join(", ")}; amiroll rebalance --env ${environment.name} fixes it)`}`);
        console.log(balanceTable(balance).join("\n"));
      }
    }
  }
  if (result.outcome !== "done") {
    const reasons = [...result.states].flatMap(([cluster, state]) => failureReason(cluster, state) ?? []);
    const reason = result.outcome === "timeout" ? `timed out after ${options.timeoutText} (${[...result.states].map(([c, s]) => `${c}: ${s.phase}`).join(", ")})` : reasons.join("; ");
    log.warn(reason, { outcome: result.outcome });
    log.error(`watch of ${environment.name} failed: ${reason}`, { exitCode: EXIT.failed });
    throw new Exit(EXIT.failed);
  }
}
