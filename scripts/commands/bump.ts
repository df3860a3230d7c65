/**
 * `amiroll bump [--env E]... [--to AMI_ID] [--dry-run] [--force]`: moves the pins to the newest
 * image of each cluster's SSM parameter (or to `--to`), staging first, production only to what
 * staging verified; checks that each image exists, is available and fits the instance type;
 * rewrites stacks/amis.json in its own formatting; prints the pull request's title and body.
 * Exit 2, the pins file untouched, on any bad input or AWS answer.
 */
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { amiIdProblem } from "../../constructs/ami";
import { lineDiff, pinsRewrite, writePins } from "../config/pins";
import { UsageError } from "../core/errors";
import { type BumpPlan, type Lookups, bumpTargets, planBump } from "../images/bump";
import { bumpPullRequest } from "../images/pull-request";
import { type Release, describeImages, resolveReleases } from "../images/release";
import { createLogger } from "../core/log";
import { type CommonOptions, type Config, envOption, loadConfig, selectEnvironments, stderrSink, temporaryDirectory, withCommonOptions } from "./common";
import { type AwsAccess, awsAccess } from "./stack";
import { usedBy } from "./status";

interface BumpCommandOptions extends CommonOptions {
  readonly env: string[];
  readonly to?: string;
  readonly dryRun?: boolean;
  readonly force?: boolean;
  readonly output: "markdown" | "json";
}

export interface BumpOptions {
  readonly selected: readonly string[];
  readonly to?: string;
  readonly force?: boolean;
}

/**
 * The bump as a plan: targets from the pins, then one batched SSM lookup and one batched
 * DescribeImages per environment, then the checks. Changes nothing.
 */
export async function bumpPlan(config: Config, access: AwsAccess, options: BumpOptions): Promise<BumpPlan> {
  if (options.to !== undefined) toOption(options.to);
  const request = { environments: config.environments, pins: config.pins, selected: options.selected, to: options.to, force: options.force };
  const targets = bumpTargets(request);
  const lookups = new Map<string, Lookups>();
  for (const environment of config.environments) {
    const mine = targets.targets.filter((t) => t.environment === environment);
    if (mine.length === 0) continue;
    const clients = access.clients(environment);
    const parameters = mine.flatMap((t) => (t.source.kind === "ssm" ? [t.source.parameter] : []));
    const releases = parameters.length ? await resolveReleases(clients.ssm, parameters, usedBy(environment)) : new Map<string, Release>();
    const ids = mine.map((t) => (t.source.kind === "ssm" ? releases.get(t.source.parameter)!.imageId : t.source.kind === "to" ? t.source.imageId : t.source.pin.imageId));
    // The pins too (same call): bump refuses an image from SSM that is older than the pin.
    const pinned = mine.flatMap((t) => (t.source.kind === "ssm" ? [config.pins[environment.name][t.cluster.name].current.imageId] : []));
    lookups.set(environment.name, { releases, images: await describeImages(clients.ec2, [...ids, ...pinned]) });
  }
  return planBump({ request, targets, lookups, now: access.clock.now() });
}

/** `--to`: an AMI id (checked before any AWS call; EC2 then says whether it exists). */
function toOption(to: string): string {
  const problem = amiIdProblem(to);
  if (problem) throw new UsageError(`--to: ${problem}`);
  return to;
}

export function bumpCommand(): Command {
  const command = new Command("bump")
    .description("pin each cluster to the newest AMI of its SSM parameter (or --to AMI_ID), staging first and production only to what staging verified; check the images; rewrite stacks/amis.json; print the pull request's title and body")
    .addOption(envOption("bump only this environment"))
    .option("--to <ami-id>", "pin this exact AMI instead of the newest (hold back, or roll back)")
    .option("--dry-run", "print the change and the pull request, write nothing")
    .option("--force", "let an environment take an image its source has not verified, or one the rollout rejected")
    .addOption(new Option("-o, --output <format>", "the pull request as markdown (title, blank line, body) or JSON").choices(["markdown", "json"]).default("markdown"));
  return withCommonOptions(command).action(async (options: BumpCommandOptions) => {
    // Every flag first, then the config, all before the first AWS call (or simulated world).
    if (options.to !== undefined) toOption(options.to);
    const log = createLogger(options.logFormat, stderrSink);
    const config = loadConfig(options);
    selectEnvironments(config, options.env);
    // Every environment: production's target may be an image staging's region knows.
    const access = await awsAccess(config, config.environments, { simulate: options.simulate, scenario: options.scenario, log });
    const plan = await bumpPlan(config, access, { selected: options.env, to: options.to, force: options.force });

    for (const s of plan.skipped) log.warn(`${s.environment}/${s.cluster} not bumped: ${s.reason}`, { env: s.environment, cluster: s.cluster });
    for (const u of plan.upToDate) log.info(`${u}: already on its target image`, { cluster: u });
    const pr = plan.changes.length ? bumpPullRequest(plan, config.environments) : undefined;

    let written: string | undefined;
    if (plan.changes.length === 0) {
      log.info("nothing to bump: the pins file is unchanged");
    } else if (options.dryRun) {
      const { before, after } = pinsRewrite(config.pinsPath, plan.pins, config.environments);
      log.info(`dry run: ${config.pinsShownAs} would change:\n${lineDiff(before ?? "", after).map((l) => `    ${l}`).join("\n")}`);
    } else {
      written = options.simulate && !process.env.AMIROLL_PINS ? simulatedCopy(config) : config.pinsPath;
      const diff = writePins(written, plan.pins, config.environments);
      log.info(`${written === config.pinsPath ? config.pinsShownAs : `${written} (a simulated copy; ${config.pinsShownAs} is unchanged; the copy is removed on exit, AMIROLL_PINS=FILE writes one that stays)`}:\n${diff.map((l) => `    ${l}`).join("\n")}`, { pins: written, diff });
    }
    // Nothing to bump prints nothing, in every format: a scheduled job opens a pull request only when stdout has one.
    if (!pr) return;
    if (options.output === "json") {
      process.stdout.write(`${JSON.stringify({ title: pr.title, body: pr.body, pinsFile: written, changes: plan.changes, skipped: plan.skipped, upToDate: plan.upToDate }, null, 2)}\n`);
    } else {
      process.stdout.write(`${pr.title}\n\n${pr.body}`);
    }
  });
}

/** A simulated bump writes a copy (removed on exit): sim image ids never belong in the repository's pins. */
function simulatedCopy(config: Config): string {
  const copy = join(temporaryDirectory("amiroll-bump-"), "amis.json");
  copyFileSync(config.pinsPath, copy);
  return copy;
}
