/**
 * `amiroll rebalance --env E [--dry-run] [--enable-az-rebalancing]`: finds services whose tasks are
 * not spread across zones and instances, moves their tasks one at a time (or forces a narrowed
 * deployment of one stacked on an instance), a few services at a time, and checks again; then
 * reports each service's ECS Availability Zone rebalancing setting, and turns it on for the
 * services that spread over zones when asked. Exit 1 when a service could not be fixed.
 */
import { Command } from "commander";
import type { Environment } from "../config/environments";
import { balanceTable, serviceBalance } from "../fleet/balance";
import { type AwsClients, createAwsClients } from "../fleet/clients";
import { rebalance } from "../fleet/rebalance";
import { azRebalancingText, enableAzRebalancing, readAzRebalancing } from "../fleet/az-rebalancing";
import { terminalSafe } from "../core/inert";
import { takeSnapshot } from "../fleet/snapshot";
import { type Clock, wallClock } from "../core/clock";
import { type Logger, createLogger } from "../core/log";
import { type CommonOptions, EXIT, Exit, findEnvironment, loadConfig, stderrSink, withCommonOptions } from "./common";
import { simulatedStack } from "./stack";

/**
 * Rebalances every cluster of `environment`; prints the balance before and after on stdout.
 * Resolves whether every judged service ends balanced (a dry run: whether none needed it).
 */
export async function rebalanceEnvironment(
  clients: AwsClients,
  clock: Clock,
  environment: Environment,
  options: { dryRun?: boolean; enableAzRebalancing?: boolean; log: Logger },
): Promise<boolean> {
  let ok = true;
  /** Each service's ECS AZ rebalancing, after the moves (turned on for the spread ones when asked): a refusal fails the verb. */
  const reportAzRebalancing = async (clusterName: string, ecsClusterName: string, report: ReturnType<typeof serviceBalance>) => {
    let settings = await readAzRebalancing(clients.ecs, ecsClusterName, report);
    if (options.enableAzRebalancing) settings = await enableAzRebalancing(clients.ecs, ecsClusterName, settings, { dryRun: options.dryRun });
    console.log(terminalSafe(azRebalancingText(clusterName, settings)));
    if (settings.some((s) => s.enabled === "refused")) ok = false;
  };
  for (const cluster of environment.clusters) {
    const take = () => takeSnapshot(clients, cluster.ecsClusterName, { now: clock.now(), since: clock.now() });
    const before = serviceBalance(await take());
    if (before.imbalanced.length === 0) {
      console.log(`${cluster.name}: every service is balanced`);
      console.log(balanceTable(before).join("\n"));
      await reportAzRebalancing(cluster.name, cluster.ecsClusterName, before);
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
      if (s.outcome === "still-imbalanced") options.log.warn(`${cluster.name}/${s.service}: still imbalanced (${s.why ?? "no room left where it lacks tasks"})`);
    }
    ok &&= options.dryRun ? true : result.ok;
    await reportAzRebalancing(cluster.name, cluster.ecsClusterName, result.after ?? result.before);
  }
  return ok;
}

interface RebalanceCommandOptions extends CommonOptions {
  readonly env: string;
  readonly dryRun?: boolean;
  readonly enableAzRebalancing?: boolean;
}

export function rebalanceCommand(): Command {
  const command = new Command("rebalance")
    .description("move the tasks of each service not spread across zones one at a time (force a new deployment of one bunched on instances), a few services at a time, then check again (exit 1 if any stays imbalanced)")
    .requiredOption("--env <name>", "the environment to rebalance")
    .option("--dry-run", "only say which services would be moved or forced")
    .option("--enable-az-rebalancing", "also turn on ECS's own Availability Zone rebalancing for every service that spreads over zones (never a binpack one)");
  return withCommonOptions(command).action(async (options: RebalanceCommandOptions) => {
    const log = createLogger(options.logFormat, stderrSink);
    const config = loadConfig(options);
    const environment = findEnvironment(config.environments, options.env);
    const simulation = options.simulate ? (await simulatedStack({ config, environment, log, scenario: options.scenario })).simulation : undefined;
    const ok = await rebalanceEnvironment(simulation?.clients ?? createAwsClients(environment), simulation?.clock ?? wallClock, environment, { dryRun: options.dryRun, enableAzRebalancing: options.enableAzRebalancing, log });
    if (!ok) throw new Exit(EXIT.failed);
  });
}
