/**
 * `amiroll rebalance --env E [--dry-run]`: finds services whose tasks are not spread across
 * zones and instances, forces a new deployment of each, a few at a time, and checks again.
 * Exit 1 when a service could not be fixed.
 */
import { Command } from "commander";
import type { Environment } from "../config/environments";
import { balanceTable, serviceBalance } from "../fleet/balance";
import { type AwsClients, createAwsClients } from "../fleet/clients";
import { rebalance } from "../fleet/rebalance";
import { takeSnapshot } from "../fleet/snapshot";
import { type Clock, wallClock } from "../core/clock";
import { type Logger, createLogger } from "../core/log";
import { type CommonOptions, EXIT, Exit, findEnvironment, loadConfig, stderrSink, withCommonOptions } from "./common";
import { simulatedStack } from "./stack";

/**
 * Rebalances every cluster of `environment`; prints the balance before and after on stdout.
 * Resolves whether every judged service ends balanced (a dry run: whether none needed it).
 */
export async function rebalanceEnvironment(clients: AwsClients, clock: Clock, environment: Environment, options: { dryRun?: boolean; log: Logger }): Promise<boolean> {
  let ok = true;
  for (const cluster of environment.clusters) {
    const take = () => takeSnapshot(clients, cluster.ecsClusterName, { now: clock.now(), since: clock.now() });
    const before = serviceBalance(await take());
    if (before.imbalanced.length === 0) {
      console.log(`${cluster.name}: every service is balanced`);
      console.log(balanceTable(before).join("\n"));
      continue;
    }
    options.log.info(`${cluster.name}: ${before.imbalanced.length} imbalanced: ${before.imbalanced.join(", ")}${options.dryRun ? " (dry run: nothing changed)" : "; moving their tasks"}`);
    const result = await rebalance(clients, clock, {
      clusterName: cluster.ecsClusterName,
      services: before.imbalanced,
      dryRun: options.dryRun,
      take,
      // The text form names the service; the JSON form has it as a field.
      log: (message, fields) => options.log.info(typeof fields?.service === "string" ? `${cluster.name}/${fields.service}: ${message}${typeof fields.error === "string" ? `: ${fields.error}` : ""}` : message, fields),
    });
    console.log(`${cluster.name}: balance before`);
    console.log(balanceTable(result.before).join("\n"));
    if (result.after) {
      console.log(`${cluster.name}: balance after`);
      console.log(balanceTable(result.after).join("\n"));
    }
    for (const s of result.services) {
      if (s.outcome === "failed") options.log.warn(`${cluster.name}/${s.service}: not rebalanced${s.error ? `: ${s.error}` : ""}`);
      if (s.outcome === "still-imbalanced") options.log.warn(`${cluster.name}/${s.service}: still imbalanced (no room left where it lacks tasks)`);
    }
    ok &&= options.dryRun ? true : result.ok;
  }
  return ok;
}

interface RebalanceCommandOptions extends CommonOptions {
  readonly env: string;
  readonly dryRun?: boolean;
}

export function rebalanceCommand(): Command {
  const command = new Command("rebalance")
    .description("move the tasks of each service not spread across zones one at a time (force a new deployment of one bunched on instances), a few services at a time, then check again (exit 1 if any stays imbalanced)")
    .requiredOption("--env <name>", "the environment to rebalance")
    .option("--dry-run", "only say which services would be moved or forced");
  return withCommonOptions(command).action(async (options: RebalanceCommandOptions) => {
    const log = createLogger(options.logFormat, stderrSink);
    const config = loadConfig(options);
    const environment = findEnvironment(config.environments, options.env);
    const simulation = options.simulate ? (await simulatedStack({ config, environment, log, scenario: options.scenario })).simulation : undefined;
    const ok = await rebalanceEnvironment(simulation?.clients ?? createAwsClients(environment), simulation?.clock ?? wallClock, environment, { dryRun: options.dryRun, log });
    if (!ok) throw new Exit(EXIT.failed);
  });
}
