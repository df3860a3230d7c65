/**
 * `amiroll status [--env E]... [-o table|tsv|json|prom]`: what runs where and how far behind it
 * is. Per cluster: the pinned AMI and its age, the newest from the cluster's SSM parameter, the
 * running instances by AMI and the share outdated, holds, and the next maintenance window.
 * Reads only. A cluster whose SSM parameter cannot be read (denied, missing, malformed) is
 * reported with a warning saying why, and without a newest image.
 */
import { Command, Option } from "commander";
import type { Environment } from "../config/environments";
import { UsageError } from "../core/errors";
import { type FleetSnapshot, takeSnapshot } from "../fleet/snapshot";
import { describeImages, readReleases } from "../images/release";
import { type ClusterStatus, clusterStatus } from "../images/status";
import { type FleetStatus, statusJson, statusProm, statusTable, statusTsv } from "../images/status-report";
import { type Logger, createLogger } from "../core/log";
import { type CommonOptions, type Config, envOption, loadConfig, selectEnvironments, stderrSink, withCommonOptions } from "./common";
import { type AwsAccess, awsAccess } from "./stack";
import { seeAlarms } from "../fleet/alarms";
import type { EnvironmentAlarms } from "../images/status-alarms";

const FORMATS = { table: statusTable, tsv: statusTsv, json: statusJson, prom: statusProm } as const;

interface StatusCommandOptions extends CommonOptions {
  readonly env: string[];
  readonly output: keyof typeof FORMATS;
}

/** Which clusters of an environment read `parameter`, for error messages. */
export const usedBy = (environment: Environment) => (parameter: string) =>
  ` (${environment.clusters.filter((c) => c.amiParameter === parameter).map((c) => `${environment.name}/${c.name}`).join(", ")})`;

/** Every selected cluster's status: a batched SSM lookup, one DescribeImages and a snapshot per cluster, per environment. */
export async function fleetStatus(config: Config, environments: readonly Environment[], access: AwsAccess, log: Logger): Promise<FleetStatus> {
  const now = access.clock.now();
  const clusters: ClusterStatus[] = [];
  const alarms: EnvironmentAlarms[] = [];
  for (const environment of environments) {
    log.info(`${environment.name}: reading ${environment.clusters.length} cluster${environment.clusters.length === 1 ? "" : "s"} in ${environment.region}`, { env: environment.name });
    const clients = access.clients(environment);
    // A parameter that cannot be read is a warning on its clusters, not the end of the report.
    const releases = await readReleases(clients.ssm, environment.clusters.map((c) => c.amiParameter));
    const fleets = await Promise.all(
      environment.clusters.map((c) =>
        takeSnapshot(clients, c.ecsClusterName, { now, since: now }).catch((e: unknown): FleetSnapshot | undefined => {
          // A cluster not deployed yet has no fleet to count; anything else is a real failure.
          if (e instanceof UsageError) return undefined;
          throw e;
        }),
      ),
    );
    const pins = config.pins[environment.name];
    const ids = new Set<string>();
    environment.clusters.forEach((c, i) => {
      ids.add(pins[c.name].current.imageId);
      if (pins[c.name].retiring) ids.add(pins[c.name].retiring!.imageId);
      const release = releases.get(c.amiParameter)!;
      if ("imageId" in release) ids.add(release.imageId);
      for (const ci of fleets[i]?.containerInstances ?? []) ids.add(ci.imageId);
    });
    const images = await describeImages(clients.ec2, [...ids]);
    environment.clusters.forEach((cluster, i) => {
      clusters.push(clusterStatus({ environment, cluster, pins: pins[cluster.name], release: releases.get(cluster.amiParameter)!, images, fleet: fleets[i], now }));
    });
    // The watched alarms (config `alarms`): those in ALARM now; one that cannot be read is said so, not the end of the report.
    if (environment.alarms) alarms.push({ environment: environment.name, ...(await seeAlarms(clients.cloudwatch, environment.alarms)) });
  }
  return { at: now, clusters, ...(alarms.length > 0 && { alarms }) };
}

export function statusCommand(): Command {
  const command = new Command("status")
    .description("what runs where and how far behind it is: per cluster the pinned AMI and its age, the newest AMI of its SSM parameter, running instances by AMI and the share outdated, holds, the next maintenance window")
    .addOption(envOption("only this environment"))
    .addOption(new Option("-o, --output <format>", "a table, TSV for scripts, JSON, or the Prometheus text format for a textfile collector").choices(Object.keys(FORMATS)).default("table"));
  return withCommonOptions(command).action(async (options: StatusCommandOptions) => {
    const log = createLogger(options.logFormat, stderrSink);
    const config = loadConfig(options);
    const environments = selectEnvironments(config, options.env);
    const access = await awsAccess(config, environments, { simulate: options.simulate, scenario: options.scenario, log });
    process.stdout.write(FORMATS[options.output](await fleetStatus(config, environments, access, log)));
  });
}
