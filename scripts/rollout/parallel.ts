/**
 * Parallel waves (`maxParallel` > 1): the environments at the same promotion depth (production-eu
 * and production-us, both promoting from staging) roll at once, up to `maxParallel` of them, each
 * its own wave (rollout.ts `runWave`) with its own window, hold, gates, terraform stack and resume.
 * A depth starts only once every environment of the depth before it ended done.
 *
 * The first wave of a depth to end other than done (failed, rolled back, refused, interrupted)
 * stops the others from starting a new step: a step under way finishes (a terraform apply is never
 * cut short), then its wave ends "stopped", naming why, with nothing rolled back or rejected: the
 * same command continues it. Environments of the depth not begun yet end "not started". The
 * rollout's outcome is that first wave's. Ctrl-C stops every wave (each sees the signal) and each
 * resumes on its own, as state.ts derives each environment's step from its own world.
 *
 * What the waves say is named by environment (`production-eu: ...`); their live progress is one
 * line of every wave's clusters (each already labelled `env/cluster`). With `maxParallel` 1 (the
 * default) rollout.ts rolls one environment after another, as it always did, and nothing here runs.
 */
import type { Environment } from "../config/environments";
import type { Logger } from "../core/log";
import type { ProgressItem } from "../core/progress";
import type { RolloutOptions, RolloutResult, WaveOutcome, WaveReport } from "./rollout";

/** What a wave of a parallel depth learns of its siblings (rollout.ts checks it before each step). */
export interface Siblings {
  /** Why this wave must start no new step (a sibling ended other than done), or undefined. */
  halted(): string | undefined;
  /** This wave ended `outcome` (called as soon as it is known, before any rollback). */
  ended(environment: string, outcome: WaveOutcome, reason?: string): void;
}

/** What parallel.ts needs of rollout.ts (passed in: no import cycle). */
export interface WaveRunner {
  run(environment: Environment, options: RolloutOptions): Promise<WaveReport>;
  empty(environment: Environment, at: number, outcome: WaveOutcome, reason?: string): WaveReport;
}

const ended = (outcome: WaveOutcome) => outcome !== "done" && outcome !== "already done" && outcome !== "stopped";

/** The promotion depth of each environment (0: promotes from none). */
function depths(environments: readonly Environment[]): Map<string, number> {
  const byName = new Map(environments.map((e) => [e.name, e]));
  const depth = (e: Environment): number => (e.promotesFrom ? 1 + depth(byName.get(e.promotesFrom)!) : 0);
  return new Map(environments.map((e) => [e.name, depth(e)]));
}

/** `waves` (in promotion order) as runs of equal depth: the environments that may roll at once. */
export function depthGroups(environments: readonly Environment[], waves: readonly Environment[]): Environment[][] {
  const depth = depths(environments);
  const groups: Environment[][] = [];
  for (const wave of waves) {
    const last = groups.at(-1);
    if (last && depth.get(last[0].name) === depth.get(wave.name)) last.push(wave);
    else groups.push([wave]);
  }
  return groups;
}

/** The waves as the rollout's first line names them: `staging -> production-eu + production-us` (`+`: at once). */
export function wavesText(environments: readonly Environment[], waves: readonly Environment[], maxParallel = 1): string {
  if (maxParallel <= 1) return waves.map((w) => w.name).join(" -> ");
  return depthGroups(environments, waves)
    .map((g) => g.map((w) => w.name).join(" + "))
    .join(" -> ");
}

/** `message` naming `environment` first, as every line of a parallel wave does. */
function named(environment: string, message: string): string {
  return new RegExp(`^${environment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[:/ ]`).test(message) ? message : `${environment}: ${message}`;
}

/**
 * `log` for one environment's wave among others: each message names the environment (prefixed
 * unless it starts with it), JSON lines carry `env`, terraform's lines say whose they are.
 */
export function environmentLogger(log: Logger, environment: string): Logger {
  return {
    format: log.format,
    info: (message, fields) => log.info(named(environment, message), { env: environment, ...fields }),
    warn: (message, fields) => log.warn(named(environment, message), { env: environment, ...fields }),
    error: (message, fields) => log.error(named(environment, message), { env: environment, ...fields }),
    output: (source, line) => log.output(`${source} ${environment}`, line),
    progress: (items) => log.progress(items),
    endProgress: () => log.endProgress(),
  };
}

/**
 * Loggers for the waves of one depth, sharing `log`'s live progress: a poll of one wave draws the
 * line of every wave's latest items (on a terminal one line is rewritten in place: a wave's own
 * line would wipe the others'); a wave whose watch is over leaves it. JSON lines stay one per item
 * of the wave that polled.
 */
function sharedProgress(log: Logger): (environment: string) => Logger {
  const latest = new Map<string, readonly ProgressItem[]>();
  const draw = () => log.progress([...latest.values()].flat());
  return (environment) => {
    const own = environmentLogger(log, environment);
    return {
      ...own,
      progress: (items) => {
        latest.set(environment, items);
        if (log.format === "json") log.progress(items);
        else draw();
      },
      endProgress: () => {
        latest.delete(environment);
        if (latest.size === 0) log.endProgress();
        else if (log.format !== "json") draw();
      },
    };
  };
}

/** The rollout with `options.maxParallel` > 1 (see the top of this file). */
export async function parallelRollout(options: RolloutOptions, waves: WaveRunner): Promise<RolloutResult> {
  const { clock } = options;
  const startedAt = clock.now();
  const maxParallel = Math.max(1, options.maxParallel ?? 1);
  const reports = new Map<string, WaveReport>();
  let outcome: WaveOutcome = "done";
  for (const group of depthGroups(options.environments, options.waves)) {
    if (outcome !== "done") {
      for (const environment of group) reports.set(environment.name, waves.empty(environment, clock.now(), "not started", `an earlier wave ended ${outcome}`));
      continue;
    }
    if (group.length === 1) {
      const report = await waves.run(group[0], options);
      reports.set(group[0].name, report);
      if (report.outcome !== "done" && report.outcome !== "already done") outcome = report.outcome;
      continue;
    }
    /** The first wave of this depth to end other than done, and why: the others start no new step. */
    let first: { environment: string; why: string } | undefined;
    const siblings: Siblings = {
      halted: () => first?.why,
      ended: (environment, ending, reason) => {
        if (first || !ended(ending)) return;
        first = { environment, why: `${environment} ended ${ending}${reason ? `: ${reason}` : ""}` };
      },
    };
    const logger = sharedProgress(options.log);
    const queue = [...group];
    const names = group.map((e) => e.name);
    const worker = async () => {
      for (let environment = queue.shift(); environment; environment = queue.shift()) {
        const parallelWith = names.filter((n) => n !== environment!.name);
        if (first) {
          reports.set(environment.name, { ...waves.empty(environment, clock.now(), "not started", first.why), parallelWith });
          continue;
        }
        const report = await waves.run(environment, { ...options, log: logger(environment.name), siblings });
        report.parallelWith = parallelWith;
        reports.set(environment.name, report);
        siblings.ended(environment.name, report.outcome, report.reason);
      }
    };
    await Promise.all(Array.from({ length: Math.min(maxParallel, group.length) }, worker));
    // The rollout's outcome: that of the wave that stopped the others, as it ended (a failure may have rolled back).
    if (first) outcome = reports.get(first.environment)!.outcome;
  }
  return { outcome, waves: options.waves.map((w) => reports.get(w.name)!), startedAt, endedAt: clock.now() };
}
