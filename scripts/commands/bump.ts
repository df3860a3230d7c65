/**
 * `amiroll bump [--env E]... [--to AMI_ID] [--dry-run] [--force] [--open-pr [--repo O/R]
 * [--label L]... [--reviewer R]...]`: moves the pins to the newest image of each cluster's SSM
 * parameter (or to `--to`), staging first, production only to what staging verified; checks that
 * each image exists, is available and fits the instance type; rewrites stacks/amis.json in its
 * own formatting; prints the pull request's title and body. Exit 2, the pins file untouched, on
 * any bad input or AWS answer.
 *
 * `--open-pr` also commits the change to the branch `amiroll/bump-<env>-<image>` through the
 * GitHub API and opens (or updates) its pull request, then prints the pull request's URL
 * (scripts/github/bump-pull-request.ts). Token, repository and the pins file's place in the
 * repository are checked before the first AWS call, the repository and its pull requests
 * before the first GitHub write.
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
import { describeBumpPublished, pathInRepository, publishBump } from "../github/bump-pull-request";
import { type RepositoryContext, labelProblem, repositoryContextFromEnv, reviewerProblem } from "../github/repository";
import { type CommonOptions, type Config, envOption, loadConfig, selectEnvironments, stderrSink, temporaryDirectory, withCommonOptions } from "./common";
import { type AwsAccess, awsAccess } from "./stack";
import { usedBy } from "./status";

interface BumpCommandOptions extends CommonOptions {
  readonly env: string[];
  readonly to?: string;
  readonly dryRun?: boolean;
  readonly force?: boolean;
  readonly output: "markdown" | "json";
  readonly openPr?: boolean;
  readonly repo?: string;
  readonly label: string[];
  readonly reviewer: string[];
}

export interface BumpOptions {
  readonly selected: readonly string[];
  readonly to?: string;
  readonly force?: boolean;
  /** See BumpRequest.skipBlocked (`--open-pr`). */
  readonly skipBlocked?: boolean;
}

/**
 * The bump as a plan: targets from the pins, then one batched SSM lookup and one batched
 * DescribeImages per environment, then the checks. Changes nothing.
 */
export async function bumpPlan(config: Config, access: AwsAccess, options: BumpOptions): Promise<BumpPlan> {
  if (options.to !== undefined) toOption(options.to);
  const request = { environments: config.environments, pins: config.pins, selected: options.selected, to: options.to, force: options.force, skipBlocked: options.skipBlocked };
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
    .addOption(new Option("-o, --output <format>", "the pull request as markdown (title, blank line, body) or JSON").choices(["markdown", "json"]).default("markdown"))
    .option("--open-pr", "also commit the change to the branch amiroll/bump-<env>-<image> through the GitHub API and open (or update) its pull request; prints its URL (needs GITHUB_TOKEN)")
    .option("--repo <owner/name>", "the repository of --open-pr (default: GITHUB_REPOSITORY)")
    .option("--label <name>", "with --open-pr: label the pull request (repeat for more; added to amiroll.json's pullRequests.labels)", collect, [])
    .option("--reviewer <login>", "with --open-pr: request a review from this user or org/team when the pull request is opened (repeat for more; added to pullRequests.reviewers)", collect, []);
  return withCommonOptions(command).action(async (options: BumpCommandOptions) => {
    // Every flag first, then the config, all before the first AWS call (or simulated world).
    if (options.to !== undefined) toOption(options.to);
    const log = createLogger(options.logFormat, stderrSink);
    const github = openPrOptions(options);
    const config = loadConfig(options);
    selectEnvironments(config, options.env);
    const pinsInRepository = github && pathInRepository(config.pinsPath);
    // Every environment: production's target may be an image staging's region knows.
    const access = await awsAccess(config, config.environments, { simulate: options.simulate, scenario: options.scenario, log });
    // A scheduled --open-pr run skips (with the reason) what cannot move now, rather than fail.
    const plan = await bumpPlan(config, access, { selected: options.env, to: options.to, force: options.force, skipBlocked: github !== undefined });

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
    let pullRequest: { branch: string; number?: number; url?: string; action: string; commit?: string } | undefined;
    if (github && pinsInRepository) {
      // Loaded only here: octokit is a few hundred modules (require: tsx, like dist, resolves the .ts/.js file).
      const { octokitRepository } = require("../github/octokit") as typeof import("../github/octokit");
      const repo = await octokitRepository(github, { warn: (line) => log.warn(line) });
      // amiroll.json's pullRequests, then the flags.
      const labels = [...new Set([...(config.pullRequests?.labels ?? []), ...options.label])];
      const reviewers = [...new Set([...(config.pullRequests?.reviewers ?? []), ...options.reviewer])];
      const published = await publishBump(repo, { plan, pullRequest: pr, environments: config.environments, pinsPath: pinsInRepository, labels, reviewers });
      for (const warning of published.pull?.warnings ?? []) log.warn(warning);
      log.info(`${github.owner}/${github.repo}: ${describeBumpPublished(published)}`, { branch: published.branch, ...(published.pull && { pullRequest: published.pull.pull.url }) });
      pullRequest = {
        branch: published.branch,
        action: published.pull?.action ?? "none",
        ...(published.pull && { number: published.pull.pull.number, url: published.pull.pull.url }),
        ...(published.commit?.committed && { commit: published.commit.head }),
      };
    }
    if (options.output === "json") {
      process.stdout.write(`${JSON.stringify({ title: pr.title, body: pr.body, pinsFile: written, changes: plan.changes, skipped: plan.skipped, upToDate: plan.upToDate, ...(pullRequest && { pullRequest }) }, null, 2)}\n`);
    } else if (github) {
      // The URL, alone on stdout, for the workflow's summary; the title and body are on the pull request.
      if (pullRequest?.url) process.stdout.write(`${pullRequest.url}\n`);
    } else {
      process.stdout.write(`${pr.title}\n\n${pr.body}`);
    }
  });
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `--open-pr` and its flags, checked before anything else: the repository and token, or undefined without --open-pr. */
function openPrOptions(options: BumpCommandOptions): RepositoryContext | undefined {
  if (!options.openPr) {
    const stray = [options.repo !== undefined && "--repo", options.label.length > 0 && "--label", options.reviewer.length > 0 && "--reviewer"].filter(Boolean);
    if (stray.length) throw new UsageError(`${stray.join(", ")}: only with --open-pr`);
    return undefined;
  }
  if (options.dryRun) throw new UsageError("--open-pr with --dry-run: a dry run writes nothing; drop one of them");
  for (const label of options.label) {
    const problem = labelProblem(label);
    if (problem) throw new UsageError(`--label: ${problem}`);
  }
  for (const reviewer of options.reviewer) {
    const problem = reviewerProblem(reviewer);
    if (problem) throw new UsageError(`--reviewer: ${problem}`);
  }
  const context = repositoryContextFromEnv("--open-pr", options.repo);
  // Simulated image ids never belong in a real repository (as they never go into its pins file).
  if (options.simulate && !["127.0.0.1", "localhost", "[::1]"].includes(new URL(context.apiUrl).hostname)) {
    throw new UsageError(`--open-pr with --simulate commits simulated image ids: only to a GitHub stand-in on this machine (GITHUB_API_URL on 127.0.0.1 or localhost, not ${context.apiUrl})`);
  }
  return context;
}

/** A simulated bump writes a copy (removed on exit): sim image ids never belong in the repository's pins. */
function simulatedCopy(config: Config): string {
  const copy = join(temporaryDirectory("amiroll-bump-"), "amis.json");
  copyFileSync(config.pinsPath, copy);
  return copy;
}
