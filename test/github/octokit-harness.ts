/**
 * Child-process harness for octokit.test.ts: the real `octokitRepository` (@octokit/rest with the
 * retry and throttling plugins, ESM-only, which jest on Node 20 cannot load) against the test's
 * local GitHub stand-in. One process plays every run of a scenario, in order, so the test pays
 * for one Node start and one load of octokit:
 *
 * - `{"publish": {...}}`: `publishBump` of this repository's simulated staging bump, through
 *   octokitRepository with short waits (writes 20 ms apart instead of GitHub's 1 s (3 s for calls that notify); a rate limit's
 *   retry-after counted in 10 ms units), printed as its result or its error and exit code;
 * - `{"pull": n}`: `pullRequest(n)` of octokitRepository;
 * - `{"cli": [args]}`: the CLI's main(args), with what it printed and its exit code (default pacing,
 *   unless the scenario sets `pace`: give it runs with few writes).
 *
 * Before each run the harness POSTs `/_control/<index>` to the stand-in, which sets the scene
 * (closes a pull request, pushes to a branch, checks a branch out) and may answer values for
 * `{NAME}` in the run's CLI arguments (a branch, its head SHA). AMIROLL_HARNESS: `{"runs": [...]}`; GITHUB_*
 * variables as the CLI reads them. Prints one JSON array.
 */
import { main, exitCodeOf } from "../../scripts/amiroll";
import { bumpPlan } from "../../scripts/commands/bump";
import { simulatedEnvironments } from "../../scripts/commands/stack";
import { loadConfig } from "../../scripts/config/file";
import { createLogger } from "../../scripts/core/log";
import { publishBump } from "../../scripts/github/bump-pull-request";
import { octokitRepository } from "../../scripts/github/octokit";
import { repositoryContextFromEnv } from "../../scripts/github/repository";
import { bumpPullRequest } from "../../scripts/images/pull-request";

interface Run {
  readonly publish?: { readonly repo?: string; readonly token?: string; readonly labels?: string[]; readonly reviewers?: string[] };
  readonly cli?: string[];
  /** With `cli`: variables set for that run only. */
  readonly env?: Record<string, string>;
  /** `repo.pullRequest(number)` through octokit. */
  readonly pull?: number;
}

/** The simulated staging bump, made once: every run publishes the same one. */
let bump: Promise<{ config: ReturnType<typeof loadConfig>; plan: Awaited<ReturnType<typeof bumpPlan>> }> | undefined;
async function simulatedBump() {
  const config = loadConfig({ config: process.env.AMIROLL_CONFIG });
  const simulations = await simulatedEnvironments(config, config.environments);
  const access = { clients: (e: { name: string }) => simulations.get(e.name)!.clients, clock: simulations.get("staging")!.clock };
  return { config, plan: await bumpPlan(config, access, { selected: ["staging"] }) };
}

async function publish(run: NonNullable<Run["publish"]>, warnings: string[]): Promise<unknown> {
  bump ??= simulatedBump();
  const { config, plan } = await bump;
  const context = repositoryContextFromEnv("--open-pr", run.repo, { ...process.env, ...(run.token && { GITHUB_TOKEN: run.token }) });
  // Bottleneck comes with the throttling plugin; a group of our own spaces writes 20 ms apart.
  const Bottleneck = require("bottleneck/light.js");
  const repo = await octokitRepository(context, {
    warn: (line) => warnings.push(line),
    throttle: {
      write: new Bottleneck.Group({ maxConcurrent: 1, minTime: 20 }),
      // Opening a pull request and requesting reviews notify people: GitHub's pace there is 3 s.
      notifications: new Bottleneck.Group({ maxConcurrent: 1, minTime: 20 }),
      retryAfterBaseValue: 10,
    },
    retry: { retryAfterBaseValue: 10 },
  });
  return publishBump(repo, { plan, pullRequest: bumpPullRequest(plan, config.environments), environments: config.environments, pinsPath: "stacks/amis.json", labels: run.labels, reviewers: run.reviewers });
}

async function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const status = await main(args);
    return { status, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/**
 * `{"pace": ms}`: the CLI runs' writes spaced `ms` apart instead of GitHub's 1 s (3 s for those
 * that notify): @octokit/plugin-throttling's own Bottleneck groups (this process's one copy of
 * bottleneck/light.js) get their minTime capped when each limiter is made.
 */
function paceWrites(ms: number): void {
  const Bottleneck = require("bottleneck/light.js");
  const key = Bottleneck.Group.prototype.key;
  Bottleneck.Group.prototype.key = function (this: { limiterOptions: { minTime?: number } }, name?: string) {
    if ((this.limiterOptions.minTime ?? 0) > ms) this.limiterOptions.minTime = ms;
    return key.call(this, name);
  };
}

async function run(): Promise<void> {
  const { runs, pace } = JSON.parse(process.env.AMIROLL_HARNESS ?? "{}") as { runs: Run[]; pace?: number };
  if (pace !== undefined) paceWrites(pace);
  const results: unknown[] = [];
  const silent = createLogger("text", () => {});
  for (const [index, step] of runs.entries()) {
    const scene = await fetch(`${process.env.GITHUB_API_URL}/_control/${index}`, { method: "POST" });
    const values = (scene.status === 200 ? await scene.json() : {}) as Record<string, string>;
    const fill = (arg: string) => arg.replace(/\{([A-Z_]+)\}/g, (all, name: string) => values[name] ?? all);
    if (step.pull !== undefined) {
      const repo = await octokitRepository(repositoryContextFromEnv("--open-pr", undefined, process.env));
      results.push({ result: await repo.pullRequest(step.pull), warnings: [] });
      continue;
    }
    if (step.cli) {
      const saved = { ...process.env };
      Object.assign(process.env, step.env);
      try {
        results.push(await cli(step.cli.map(fill)));
      } finally {
        for (const name of Object.keys(step.env ?? {})) if (saved[name] === undefined) delete process.env[name];
        Object.assign(process.env, saved);
      }
      continue;
    }
    const warnings: string[] = [];
    try {
      results.push({ result: await publish(step.publish ?? {}, warnings), warnings });
    } catch (error) {
      results.push({ error: { name: (error as Error).name, message: (error as Error).message }, exitCode: exitCodeOf(error, silent), warnings });
    }
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

run().catch((error: unknown) => {
  process.stderr.write(`harness: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
