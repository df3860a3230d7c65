/**
 * The fault matrix (issue 16, item 8): `amiroll rollout` of this repository's environments
 * (stacks/amiroll.json, both waves set to one strategy) against every simulated scenario that
 * concerns a rollout, for every strategy, in process, as `amiroll rollout --simulate
 * --ignore-window --scenario NAME` runs it. Each cell: the outcome, the CLI's exit code, the
 * zero-downtime violations the simulator saw, the virtual time to the verdict, whether the pins
 * reject the image, and what the operator should do. `npm run bench:faults` prints it
 * (bench/faults.ts); test/rollout/fault-matrix.test.ts asserts every cell's expected verdict.
 *
 * Shared by the bench and the test only, so it lives in bench/: it composes the CLI's own
 * wiring (commands/rollout.ts), which the core and the sim never import.
 */
import { rmSync } from "node:fs";
import { join, relative } from "node:path";
import type { CapacityStrategy } from "../constructs/ecs-cluster";
import { capacityProviderName, generationAsgName } from "../constructs/names";
import type { AmiPin } from "../constructs/ami";
import { exitCodeOf } from "../scripts/amiroll";
import { rolloutExitCode, rolloutOptions, simulatedWorld } from "../scripts/commands/rollout";
import { synthesizeEnvironment } from "../scripts/commands/stack";
import type { Environment } from "../scripts/config/environments";
import { type Config, parseConfig } from "../scripts/config/file";
import { readJsonFile } from "../scripts/config/input";
import { type ClusterPins, readPins } from "../scripts/config/pins";
import { markdownText } from "../scripts/core/inert";
import { durationSeconds } from "../constructs/formats";
import { createLogger } from "../scripts/core/log";
import { elapsedText } from "../scripts/fleet/report";
import { readProviders } from "../scripts/fleet/providers";
import { takeSnapshot } from "../scripts/fleet/snapshot";
import { rolloutText } from "../scripts/rollout/report";
import { type RolloutResult, type WaveOutcome, type WaveReport, rollout } from "../scripts/rollout/rollout";
import { SCENARIOS, type ScenarioName } from "../scripts/sim/scenario-list";

/** This repository's config: the environments every cell rolls (their strategy overridden). */
export const MATRIX_CONFIG_PATH = join(__dirname, "../stacks/amiroll.json");

/** The scenarios that concern a rollout, in the order the table shows them. */
export const MATRIX_SCENARIOS = [
  "healthy",
  "broken-ami",
  "alarm",
  "throttling",
  "slow-drain",
  "az-outage",
  "imbalanced",
  "hook-faults",
  "boot-failure",
  "first-deploy",
] as const satisfies readonly ScenarioName[];
export type MatrixScenario = (typeof MATRIX_SCENARIOS)[number];

/**
 * The scenarios left out: they break SSM parameters or the images they name, which only
 * `status` and `bump` read (a rollout takes the image already pinned).
 */
export const LEFT_OUT_SCENARIOS = (Object.keys(SCENARIOS) as ScenarioName[]).filter((s) => !(MATRIX_SCENARIOS as readonly string[]).includes(s));

/** Every strategy, set for every wave of a cell. A new strategy is one entry here. */
export const MATRIX_STRATEGIES = ["replace", "blue-green", "refresh"] as const satisfies readonly CapacityStrategy[];

/** The canary slice the canary variants set on every environment: one instance, soaked 5 minutes. */
export const MATRIX_CANARY = { instances: 1, soak: "5m" } as const;

/**
 * A strategy with one of its options, set for every wave of a cell (issue 20): `canary` (the
 * canary slice, MATRIX_CANARY, on every environment) or `capacityProviders` (on every cluster;
 * blue-green only). Each over `scenarios`: the faults issue 20 names, the healthy roll and the
 * alarm (the matrix's other scenarios concern what the option does not change: the drain hook, a
 * first deploy).
 */
export interface MatrixVariant {
  /** The table's column: `<strategy>+<option>`. */
  readonly name: string;
  readonly strategy: CapacityStrategy;
  readonly canary?: typeof MATRIX_CANARY;
  readonly capacityProviders?: true;
  readonly scenarios: readonly MatrixScenario[];
}

/** The scenarios every variant rolls through. */
export const VARIANT_SCENARIOS = ["healthy", "broken-ami", "alarm", "throttling", "slow-drain", "az-outage", "imbalanced", "boot-failure"] as const satisfies readonly MatrixScenario[];

/**
 * The variants of the matrix. Replace without a configured canary already proves the image on a
 * canary group (1 instance, 2m) in every cell above; `replace+canary` (the same group, sized and
 * soaked by the config) adds no new path and is left out. Canary and capacity providers do not go
 * together (managed scaling would undo the slice's size: the config refuses it).
 */
export const MATRIX_VARIANTS: readonly MatrixVariant[] = [
  { name: "blue-green+canary", strategy: "blue-green", canary: MATRIX_CANARY, scenarios: VARIANT_SCENARIOS },
  { name: "refresh+canary", strategy: "refresh", canary: MATRIX_CANARY, scenarios: VARIANT_SCENARIOS },
  { name: "blue-green+providers", strategy: "blue-green", capacityProviders: true, scenarios: VARIANT_SCENARIOS },
];

/** A strategy alone (every scenario), or a variant. */
export type MatrixColumn = CapacityStrategy | MatrixVariant;
const columnName = (column: MatrixColumn): string => (typeof column === "string" ? column : column.name);

/** What the operator should do, per outcome (`error`: the rollout threw instead of reporting). */
export const OPERATOR_ACTION: Readonly<Record<WaveOutcome | "error", string>> = {
  done: "nothing: the image is verified everywhere",
  "already done": "nothing",
  "rolled back": "nothing to repair (the old capacity serves); bump to a newer image",
  failed: "read the reason; if the image is rejected, bump to a newer one, else fix the cause and run again",
  refused: "fix what the report names (window, hold, unverified source), then run again",
  "guard refused": "review the plan (amiroll plan --env ENV); --allow only a change meant to be",
  interrupted: "run the same command again: it resumes where the world is",
  "not started": "run the earlier waves first",
  stopped: "see why the wave rolled beside it ended; then run again: it resumes where the world is",
  error: "read the error, fix it, run again",
};

export interface FaultCell {
  readonly scenario: MatrixScenario;
  readonly strategy: CapacityStrategy;
  /** The table's column: the strategy, or the variant's name (`blue-green+canary`). */
  readonly variant: string;
  /** The variant's options, as set on every environment or cluster. */
  readonly canarySlice?: typeof MATRIX_CANARY;
  readonly capacityProviders?: boolean;
  /** The deciding wave's canary phase, as the report shows it (`canary:`), when it had one. */
  readonly canary?: { readonly verdict: string; readonly detail: string };
  /**
   * Instances of another image than the deciding wave's target that were ever set DRAINING in its
   * environment (the simulator's event log): the old capacity the wave moved off. A canary slice
   * that failed moved only the slice.
   */
  readonly oldDrained: number;
  /**
   * capacityProviders: per cluster of the deciding wave (`environment/cluster`), which generation's
   * capacity provider the cluster's set, its default strategy and every service name, as ECS
   * describes them: `new` (the target image's generation), `old` (another generation's, one), or
   * what else it found.
   */
  readonly providers?: Readonly<Record<string, string>>;
  /** The rollout's outcome, or `error` when it threw (`error` holds the message). */
  readonly outcome: WaveOutcome | "error";
  readonly error?: string;
  /** What `amiroll rollout` would exit with. */
  readonly exitCode: number;
  /** Zero-downtime violations the simulator saw, every environment together. */
  readonly violations: number;
  /** The wave that decided: the first that did not end done, else the last. */
  readonly decidedBy?: string;
  /** Its reason, if it gave one. */
  readonly reason?: string;
  /** Virtual time from the start of the deciding wave's first apply (else of the rollout) to the end. */
  readonly timeToVerdictMs: number;
  /** The pins record the deciding wave's target image as `rejected` afterwards. */
  readonly imageRejected: boolean;
  /**
   * Every service of the deciding wave runs its desired count on instances of an image other
   * than the target (old capacity serving), and no instance of the target is registered.
   */
  readonly oldCapacityServing: boolean;
  /** The strategies the waves that ran rolled with (the cell's, in every wave). */
  readonly strategies: readonly string[];
  /** Lost zones the report names, as `environment/cluster: zone` (az-outage). */
  readonly lostZones: readonly string[];
  /** The rollout's report, as the CLI prints it on stdout. */
  readonly report: readonly string[];
  /** The log, as the CLI prints it on stderr (text). */
  readonly log: readonly string[];
  /** Real time the cell took, and the process's CPU time (user + system) meanwhile. */
  readonly wallMs: number;
  readonly cpuMs: number;
}

/**
 * This repository's config with every environment and cluster set to `strategy`, read and
 * validated by the config loader (its pins too); AMIROLL_PINS and CDKTF_OUTDIR are ignored.
 */
export function matrixConfig(column: MatrixColumn, path: string = MATRIX_CONFIG_PATH, scenario?: MatrixScenario): Config {
  const variant = typeof column === "string" ? undefined : column;
  const raw = structuredClone(readJsonFile(path, path, "an amiroll config object")) as {
    environments: Record<string, { strategy?: string; alarms?: unknown; canary?: unknown; clusters?: Record<string, { strategy?: string; capacityProviders?: boolean }> }>;
  };
  for (const [name, env] of Object.entries(raw.environments ?? {})) {
    env.strategy = variant?.strategy ?? (column as CapacityStrategy);
    if (variant?.canary) env.canary = { ...variant.canary };
    for (const cluster of Object.values(env.clusters ?? {})) {
      delete cluster.strategy;
      if (variant?.capacityProviders) cluster.capacityProviders = true;
    }
    // The alarm scenario's cells watch every alarm of the environment's clusters (the sim's
    // `<env>-<cluster>-error-rate`, `-latency-p99`, `-cpu-high`) by prefix; the other cells watch
    // none, as this repository's config does, so their timelines stay as they were.
    if (scenario === "alarm") env.alarms = { prefix: `${name}-` };
  }
  const loaded = parseConfig(raw, path, { env: {} });
  return { ...loaded, pins: readPins(loaded.pinsPath, loaded.environments, loaded.pinsShownAs) };
}

/**
 * `synthesizeEnvironment`, remembered: a stack depends only on its environment and that
 * environment's pins as the constructs read them (synthesisPins), and the cells synthesize the
 * same few again and again (synth was about a third of a cell's CPU). The stack JSON is frozen
 * (the sim's terraform only reads it); its directory is where the synth would have put it in the
 * caller's outDir (the sim's terraform keeps its plans in memory, so nothing is read from there).
 *
 * The first VERIFIED_HITS times a stack is reused for pins that differ in what synthesisPins
 * leaves out, it is synthesized again and compared: a constructs change that starts reading one
 * of those fields fails the matrix instead of rolling a stale stack.
 */
export function cachedSynthesis(): typeof synthesizeEnvironment {
  const stacks = new Map<string, { json: any; text: string; exact: string; relativeDirectory: string }>();
  let verify = VERIFIED_HITS;
  return (config, environment, outDir) => {
    const pins = readPins(config.pinsPath, config.environments, config.pinsShownAs)[environment.name];
    const key = JSON.stringify([environment, synthesisPins(pins)]);
    const exact = JSON.stringify([environment, pins]);
    let stack = stacks.get(key);
    if (stack && stack.exact !== exact && verify > 0) {
      verify--;
      const again = JSON.stringify(withoutStackTraces(() => synthesizeEnvironment(config, environment, outDir)).json);
      if (again !== stack.text) throw new Error(`cachedSynthesis: ${environment.name}'s stack differs for pins ${exact} and ${stack.exact}, which synthesisPins takes for the same: the constructs read a field it leaves out`);
    }
    if (!stack) {
      const { directory, json } = withoutStackTraces(() => synthesizeEnvironment(config, environment, outDir));
      stack = { json: deepFreeze(json), text: JSON.stringify(json), exact, relativeDirectory: relative(outDir, directory) };
      stacks.set(key, stack);
    }
    return { directory: join(outDir, stack.relativeDirectory), json: stack.json };
  };
}

/** How many reuses for pins that differ beyond synthesisPins cachedSynthesis checks by synthesizing again. */
const VERIFIED_HITS = 3;

/**
 * An environment's pins as the constructs read them: each generation's image, name and SSM
 * parameter, and whether `current` was verified (a blue-green canary's sizes: constructs/ecs-cluster.ts);
 * not when it was verified or resolved, nor what the driver rejected (the cells' pins differ in those).
 */
export function synthesisPins(pins: Readonly<Record<string, ClusterPins>>): unknown {
  const pin = (p: AmiPin | undefined) => p && { imageId: p.imageId, imageName: p.imageName, ssmParameter: p.ssmParameter, verified: p.verifiedAt !== undefined };
  return Object.fromEntries(Object.entries(pins).map(([cluster, p]) => [cluster, { current: pin(p.current), retiring: pin(p.retiring) }]));
}

/**
 * Runs `work` (a synthesis) with stack traces cut to their first line: cdktf captures a whole
 * stack trace for every token it makes (its `creationStack`, shown only in its own error
 * messages), and formatting them was over 40% of a synthesis' CPU, most of it mapping every frame
 * back through the source maps `node --import tsx` turns on (4.5 s of the matrix's 17 s). An error
 * thrown meanwhile keeps its message (`Error: ...`), which is all a cell records.
 */
function withoutStackTraces<T>(work: () => T): T {
  const sourceMaps = process.sourceMapsEnabled;
  const prepare = Error.prepareStackTrace;
  if (sourceMaps) process.setSourceMapsEnabled(false);
  Error.prepareStackTrace = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : "");
  try {
    return work();
  } finally {
    Error.prepareStackTrace = prepare;
    if (sourceMaps) process.setSourceMapsEnabled(true);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Shared by every cell of this process. */
const SYNTHESIS = cachedSynthesis();

/** One cell: a whole rollout of every wave, as `amiroll rollout --simulate --ignore-window --scenario`. */
export async function runFaultCell(scenario: MatrixScenario, column: MatrixColumn, configPath?: string): Promise<FaultCell> {
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const variant = typeof column === "string" ? undefined : column;
  const strategy = variant?.strategy ?? (column as CapacityStrategy);
  const config = matrixConfig(column, configPath, scenario);
  const lines: string[] = [];
  const log = createLogger("text", (line) => lines.push(line));
  const world = await simulatedWorld(config, { scenario, log, synthesize: SYNTHESIS });
  try {
    const firstApply = new Map<string, number>();
    const startedAt = world.clock.now();
    let result: RolloutResult | undefined;
    let error: unknown;
    try {
      result = await rollout(
        rolloutOptions(world, config.environments, log, {
          ignoreWindow: true,
          beforeStep: (env, step) => {
            if (step === "apply" && !firstApply.has(env)) firstApply.set(env, world.clock.now());
          },
        }),
      );
    } catch (e) {
      error = e;
    }
    const endedAt = result?.endedAt ?? world.clock.now();
    const violations = world.violations!();
    const deciding = result ? decidingWave(result) : undefined;
    const decidedBy = deciding?.environment;
    const env = decidedBy === undefined ? undefined : config.environments.find((e) => e.name === decidedBy)!;
    const pins = readPins(world.pinsPath, config.environments, world.pinsShownAs);
    const targets = deciding ? Object.entries(deciding.targets) : [];
    const imageRejected = env !== undefined && targets.length > 0 && targets.every(([cluster, image]) => pins[env.name][cluster]?.rejected?.imageId === image);
    const oldCapacityServing = env !== undefined && deciding !== undefined && (await servedByOldImage(world.access(env).clients, env, deciding));
    const lostZones = (result?.waves ?? []).flatMap((w) => [...(w.balance ?? [])].flatMap(([cluster, b]) => b.lostZones.map((z) => `${w.environment}/${cluster}: ${z}`)));
    const targetImages = new Set(targets.map(([, image]) => image));
    const simulated = env === undefined ? undefined : world.simulations.get(env.name)?.world;
    const oldDrained = simulated
      ? new Set(simulated.log.flatMap((line) => / (i-[0-9a-f]+) DRAINING$/.exec(line)?.[1] ?? []).filter((id) => !targetImages.has(simulated.instances.get(id)?.imageId ?? ""))).size
      : 0;
    const providers = variant?.capacityProviders && env !== undefined && deciding !== undefined ? await providersServing(world.access(env).clients, env, deciding) : undefined;
    return {
      scenario,
      strategy,
      variant: columnName(column),
      ...(variant?.canary && { canarySlice: variant.canary }),
      ...(variant?.capacityProviders && { capacityProviders: true }),
      ...(deciding?.canary && { canary: { verdict: deciding.canary.verdict, detail: deciding.canary.detail } }),
      oldDrained,
      ...(providers && { providers }),
      outcome: result?.outcome ?? "error",
      ...(error !== undefined && { error: error instanceof Error ? error.message : String(error) }),
      exitCode: result ? rolloutExitCode(result.outcome) : exitCodeOf(error, createLogger("text", (line) => lines.push(line))),
      violations,
      decidedBy,
      reason: deciding?.reason,
      timeToVerdictMs: endedAt - ((decidedBy === undefined ? undefined : firstApply.get(decidedBy)) ?? startedAt),
      imageRejected,
      oldCapacityServing,
      lostZones,
      strategies: [...new Set((result?.waves ?? []).filter((w) => w.outcome !== "not started").flatMap((w) => Object.values(w.strategies)))],
      report: result ? [...rolloutText(result), `zero-downtime violations: ${violations}`] : [],
      log: lines,
      wallMs: performance.now() - wallStart,
      cpuMs: cpuMillis(process.cpuUsage(cpuStart)),
    };
  } finally {
    world.stop();
    rmSync(world.directory, { recursive: true, force: true });
  }
}

/**
 * Every scenario x strategy, then every variant over its scenarios, one after the other (each
 * cell is CPU-bound: no gain in overlapping them). `scenarios` and `columns` (strategies and
 * variant names) run part of it.
 */
export async function runFaultMatrix(options: { scenarios?: readonly MatrixScenario[]; columns?: readonly string[]; onCell?: (cell: FaultCell) => void } = {}): Promise<FaultCell[]> {
  const cells: FaultCell[] = [];
  const wanted = (column: MatrixColumn, scenario: MatrixScenario) =>
    (options.columns === undefined || options.columns.includes(columnName(column))) && (options.scenarios === undefined || options.scenarios.includes(scenario));
  const run = async (scenario: MatrixScenario, column: MatrixColumn) => {
    if (!wanted(column, scenario)) return;
    const cell = await runFaultCell(scenario, column);
    options.onCell?.(cell);
    cells.push(cell);
  };
  for (const scenario of MATRIX_SCENARIOS) for (const strategy of MATRIX_STRATEGIES) await run(scenario, strategy);
  for (const variant of MATRIX_VARIANTS) for (const scenario of variant.scenarios) await run(scenario, variant);
  return cells;
}

/** Every column's name: the strategies, then the variants. */
export const MATRIX_COLUMNS: readonly string[] = [...MATRIX_STRATEGIES, ...MATRIX_VARIANTS.map((v) => v.name)];

function decidingWave(result: RolloutResult): WaveReport | undefined {
  const ran = result.waves.filter((w) => w.outcome !== "not started");
  return ran.find((w) => w.outcome !== "done" && w.outcome !== "already done") ?? ran.at(-1);
}

async function servedByOldImage(clients: Parameters<typeof takeSnapshot>[0], env: Environment, wave: WaveReport): Promise<boolean> {
  for (const cluster of env.clusters) {
    const target = wave.targets[cluster.name];
    if (target === undefined) continue;
    let fleet;
    try {
      fleet = await takeSnapshot(clients, cluster.ecsClusterName, { now: 0, since: 0 });
    } catch {
      return false; // no ECS cluster (a first deploy that failed): nothing old serves
    }
    const registered = fleet.containerInstances.filter((ci) => ci.status === "ACTIVE" || ci.status === "DRAINING");
    if (registered.some((ci) => ci.imageId === target)) return false;
    const old = new Set(registered.map((ci) => ci.arn));
    for (const service of fleet.services) {
      if (service.schedulingStrategy === "DAEMON" || service.desiredCount === 0) continue;
      const running = fleet.tasks.filter((t) => t.group === `service:${service.name}` && t.lastStatus === "RUNNING" && old.has(t.containerInstanceArn)).length;
      if (running < service.desiredCount) return false;
    }
  }
  return true;
}

/**
 * Which generation's capacity provider each cluster of `env` uses (see FaultCell.providers): its
 * set, its default strategy and every service's strategy, as ECS describes them.
 */
async function providersServing(clients: Parameters<typeof takeSnapshot>[0], env: Environment, wave: WaveReport): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const cluster of env.clusters) {
    const target = wave.targets[cluster.name];
    if (target === undefined) continue;
    const mine = capacityProviderName(generationAsgName(cluster.ecsClusterName, target));
    let state;
    try {
      state = await readProviders(clients.ecs, cluster.ecsClusterName);
    } catch (e) {
      out[`${env.name}/${cluster.name}`] = `unreadable: ${(e as Error).message}`;
      continue;
    }
    const named = [...state.providers, ...state.defaults.map((d) => d.capacityProvider), ...state.services.flatMap((s) => (s.strategy ?? []).map((i) => i.capacityProvider))];
    const distinct = [...new Set(named)];
    const which =
      state.providers.length === 1 && state.defaults.length > 0 && distinct.length === 1
        ? distinct[0] === mine
          ? "new"
          : "old"
        : `set ${state.providers.join(", ") || "(none)"}; default ${state.defaults.map((d) => d.capacityProvider).join(", ") || "(none)"}; services ${[...new Set(state.services.flatMap((s) => (s.strategy ?? []).map((i) => i.capacityProvider)))].join(", ") || "(none)"}`;
    out[`${env.name}/${cluster.name}`] = which;
  }
  return out;
}

const cpuMillis = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1000;

// ---------------------------------------------------------------------------------------------
// The expected verdicts (issue 16, item 8's "done when"): the test asserts them, the bench shows them.

export interface ExpectedVerdict {
  readonly outcomes: readonly (WaveOutcome | "error")[];
  readonly exitCode: number;
  readonly imageRejected: boolean;
  /** The old capacity still serves (the image failed, nothing of it is left). */
  readonly oldCapacityServing?: boolean;
  /** The verdict within this much virtual time of the start of the deciding wave's first apply. */
  readonly withinMs?: number;
  /** The report names a lost zone. */
  readonly namesLostZone?: boolean;
  /** The deciding wave's reason names the alarm in ALARM and quotes CloudWatch's reason. */
  readonly namesAlarm?: boolean;
}

const DONE: ExpectedVerdict = { outcomes: ["done"], exitCode: 0, imageRejected: false };

export const EXPECTED: Readonly<Record<MatrixScenario, ExpectedVerdict>> = {
  healthy: DONE,
  "broken-ami": { outcomes: ["failed", "rolled back"], exitCode: 1, imageRejected: true, oldCapacityServing: true, withinMs: 10 * 60_000 },
  // The error-rate alarm fires 2 minutes after tasks run on the new image: the canary (replace)
  // or the watch (blue-green) sees it, the wave rolls back, the old capacity serves.
  alarm: { outcomes: ["rolled back"], exitCode: 1, imageRejected: true, oldCapacityServing: true, withinMs: 15 * 60_000, namesAlarm: true },
  throttling: DONE,
  "slow-drain": DONE,
  "az-outage": { ...DONE, namesLostZone: true },
  imbalanced: DONE,
  "hook-faults": DONE,
  "boot-failure": DONE,
  "first-deploy": DONE,
};

/** How `cell` differs from its expected verdict (none: as expected). Violations > 0 always count. */
export function verdictProblems(cell: FaultCell): string[] {
  const want = EXPECTED[cell.scenario];
  const problems: string[] = [];
  if (cell.violations > 0) problems.push(`${cell.violations} zero-downtime violation(s)`);
  if (!want.outcomes.includes(cell.outcome)) problems.push(`outcome ${cell.outcome}${cell.reason || cell.error ? ` (${cell.reason ?? cell.error})` : ""}, expected ${want.outcomes.join(" or ")}`);
  if (cell.exitCode !== want.exitCode) problems.push(`exit ${cell.exitCode}, expected ${want.exitCode}`);
  if (cell.imageRejected !== want.imageRejected) problems.push(want.imageRejected ? "image not rejected" : "image rejected");
  if (want.oldCapacityServing && !cell.oldCapacityServing) problems.push("old capacity not serving");
  if (want.withinMs !== undefined && cell.timeToVerdictMs > want.withinMs) problems.push(`verdict after ${elapsedText(cell.timeToVerdictMs)}, expected within ${elapsedText(want.withinMs)}`);
  if (want.namesLostZone && !cell.report.some((l) => / \(zone lost: /.test(l))) problems.push("the report names no lost zone");
  if (want.namesAlarm && !/alarm in ALARM: \S+-error-rate \(Threshold Crossed: /.test(cell.reason ?? "")) problems.push("the reason names no alarm in ALARM with its reason");
  if (!want.namesLostZone && cell.lostZones.length > 0) problems.push(`the report names a lost zone (${cell.lostZones.join(", ")}) where none was lost`);
  problems.push(...variantProblems(cell));
  return problems;
}

/**
 * What a variant's cell must show besides its scenario's verdict. Canary: the report's `canary:`
 * phase passed on the configured slice when the image is good; when it is not, the canary failed
 * and only the slice of the old capacity was ever drained (what the rollback gave back). Capacity
 * providers: every cluster on the new generation's provider when done, on the old one's when the
 * image failed.
 */
function variantProblems(cell: FaultCell): string[] {
  const problems: string[] = [];
  const failedImage = EXPECTED[cell.scenario].imageRejected;
  if (cell.canarySlice) {
    const soaked = `${elapsedText(durationSeconds(cell.canarySlice.soak) * 1000)} soaked`;
    const slice = `${cell.canarySlice.instances} instance${cell.canarySlice.instances === 1 ? "" : "s"}`;
    if (!cell.canary) problems.push("the report shows no canary phase");
    else if (failedImage && cell.canary.verdict !== "failed") problems.push(`canary ${cell.canary.verdict}, expected failed`);
    else if (!failedImage && (cell.canary.verdict !== "passed" || !cell.canary.detail.includes(` ${slice}`) || !cell.canary.detail.endsWith(soaked))) {
      problems.push(`canary ${cell.canary.verdict} (${cell.canary.detail}), expected passed on ${slice}, ${soaked}`);
    }
    if (failedImage && cell.oldDrained > cell.canarySlice.instances) problems.push(`${cell.oldDrained} old instances drained, more than the slice (${slice})`);
  }
  if (cell.capacityProviders) {
    const want = failedImage ? "old" : "new";
    const off = Object.entries(cell.providers ?? {}).filter(([, which]) => which !== want);
    if (!cell.providers || Object.keys(cell.providers).length === 0) problems.push("no capacity providers read");
    for (const [cluster, which] of off) problems.push(`${cluster}: capacity providers ${which}, expected the ${want} generation's only`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The table.

/** One cell's notes: the deciding wave's reason and whether the old capacity serves, when it did not end done; the lost zones. */
function notes(cell: FaultCell): string {
  const parts: string[] = [];
  // A variant's own: its canary's verdict (and, when the image failed, the old instances it had drained), its providers.
  if (cell.canarySlice && cell.canary) parts.push(`canary ${cell.canary.verdict}${cell.canary.verdict === "passed" ? "" : `, ${cell.oldDrained} old instance${cell.oldDrained === 1 ? "" : "s"} drained`}`);
  if (cell.providers) {
    const which = [...new Set(Object.values(cell.providers))];
    parts.push(which.length === 1 && (which[0] === "new" || which[0] === "old") ? `${which[0]} generation's capacity provider` : `capacity providers: ${Object.entries(cell.providers).map(([c, w]) => `${c} ${w}`).join("; ")}`);
  }
  if (cell.error) parts.push(`threw: ${cell.error}`);
  else if (cell.reason && cell.outcome !== "done") parts.push(`${cell.decidedBy}: ${cell.reason}`);
  if (cell.outcome !== "done" && cell.outcome !== "already done" && cell.outcome !== "error") parts.push(cell.oldCapacityServing ? "old capacity serving" : "old capacity NOT serving");
  if (cell.lostZones.length > 0) parts.push(`zone lost: ${cell.lostZones.join(", ")}`);
  return parts.join("; ");
}

const SHORT = 160;
const short = (text: string): string => (text.length > SHORT ? `${text.slice(0, SHORT - 1)}…` : text);

/** The matrix as a markdown table, one row per cell, scenarios in MATRIX_SCENARIOS order. */
export function faultTable(cells: readonly FaultCell[]): string {
  const rows = [
    "| scenario | strategy | outcome | exit | violations | time to verdict | image rejected | as expected | operator should | notes |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const cell of cells) {
    const problems = verdictProblems(cell);
    rows.push(
      `| ${cell.scenario} | ${cell.variant} | ${cell.outcome} | ${cell.exitCode} | ${cell.violations} | ${elapsedText(cell.timeToVerdictMs)} | ${cell.imageRejected ? "yes" : "no"} | ${problems.length === 0 ? "yes" : `**NO**: ${markdownText(problems.join("; "))}`} | ${OPERATOR_ACTION[cell.outcome]} | ${markdownText(short(notes(cell)))} |`,
    );
  }
  return rows.join("\n");
}

/**
 * The same cells, compact: one row per scenario, one column per strategy (the README's table):
 * outcome, exit code, violations, time to verdict, and a mark on a cell that missed its verdict.
 */
export function faultSummaryTable(cells: readonly FaultCell[]): string {
  const strategies = [...new Set(cells.map((c) => c.variant))];
  const rows = [`| scenario | ${strategies.join(" | ")} |`, `|---|${strategies.map(() => "---|").join("")}`];
  for (const scenario of [...new Set(cells.map((c) => c.scenario))]) {
    const text = (cell: FaultCell | undefined) =>
      cell === undefined
        ? ""
        : `${cell.outcome}${cell.imageRejected ? ", image rejected" : ""}, exit ${cell.exitCode}, ${cell.violations} violation${cell.violations === 1 ? "" : "s"}, ${elapsedText(cell.timeToVerdictMs)}${verdictProblems(cell).length > 0 ? " **(not as expected)**" : ""}`;
    rows.push(`| ${scenario} | ${strategies.map((st) => text(cells.find((c) => c.scenario === scenario && c.variant === st))).join(" | ")} |`);
  }
  return rows.join("\n");
}
