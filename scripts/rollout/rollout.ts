/**
 * The rollout: environments in waves (staging, then what promotes from it), each taken to its
 * target image one step at a time. Every step starts by deriving where the world is (state.ts),
 * so a rollout run again after a crash or Ctrl-C continues from there, never repeats a finished
 * wave, and never starts an environment whose source has not verified the image.
 *
 * A wave: window and hold check -> pins -> plan -> guard -> apply -> (blue-green: drain the old
 * generation) -> watch the tasks move -> gates -> pins (verified) -> (blue-green: apply the
 * retire). An environment (or cluster) never deployed gets its first deploy the same way: the
 * plan creates it (the guard's `create`), the watch waits for its instances to join, the gates
 * judge it. A blue-green wave whose image was shown to fail (a crash loop, a gate) rolls back:
 * the image is recorded as rejected in the pins, the old instances go back to ACTIVE, the new
 * generation is removed. Anything else that stops a wave is no verdict on the image: Ctrl-C or
 * SIGTERM (at any step, the rollback included) ends it "interrupted", and a terraform or AWS
 * error "failed", both with nothing rolled back and nothing rejected; the same command resumes.
 *
 * `verifyEnvironment` (amiroll verify) runs the same wave loop over what is already applied, in
 * verify mode: only the drain (a blue-green canary slice's too), the watch and the gates, with the same code; no terraform, no
 * window. On success it writes `verifiedAt` (and drops a blue-green `retiring`, so that the next
 * apply is the retire, as the rollout's own next step would be); when the image was shown to
 * fail it records the rejection and sets the old instances serving again, leaving the removal of
 * the rejected generation to the next (reviewed) apply.
 */
import { type Cluster, type Environment, holdsOf } from "../config/environments";
import { type ClusterPins, type Pin, type Pins, readPins, writePins } from "../config/pins";
import type { Logger } from "../core/log";
import type { TerraformStack } from "../terraform/runner";
import type { BackupSettings } from "../config/file";
import { backupBeforeApply, backupShown } from "../terraform/state-backup";
import type { StateVersionReader } from "../terraform/state-version";
import { StalePlanError, TerraformError } from "../core/errors";
import type { BalanceReport } from "../fleet/balance";
import type { AwsClients } from "../fleet/clients";
import { TerminateInstanceInAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { type BootFailure, type BootState, stepBoot } from "../fleet/boot";
import { setContainerInstanceStatus } from "../fleet/drain";
import { elapsedText, failureReason, progressItem } from "../fleet/report";
import { type FleetSnapshot, isFullView, takeSnapshot } from "../fleet/snapshot";
import { watchMigration } from "../fleet/watch";
import type { Clock } from "../core/clock";
import { CLUSTERS_OUTPUT } from "../../constructs/outputs";
import { guardPlan } from "../terraform/guard";
import { parsePlan, summaryLine } from "../terraform/plan";
import { clusterGenerations } from "../terraform/rolls";
import { type CanaryVerdict, canaryTasksOn, drainedSince, judgeCanary, tasksLeftOnDrained } from "./canary";
import { type CanarySlice, DEFAULT_CANARY_INSTANCES, DEFAULT_CANARY_SOAK_MS } from "../config/canary";
import { SliceHalt, proveBlueGreenSlice, soakSlice } from "./slice";
import { type GateResult, runGates } from "./gates";
import { type AlarmCheck, alarmCheck, soakForAlarms } from "../fleet/alarms";
import type { HttpProbe } from "./smoke";
import { type GroupCapacity, type RefreshCanary, RefreshHalt, refreshInstances } from "./refresh";
import { type ClusterStep, type StepKind, environmentStep, nextClusterStep, rollbackUnfinished } from "./state";
import { formatInstant, formatWait, nextOpening, openWindow } from "../config/windows";
import { type Siblings, parallelRollout } from "./parallel";
import { followGeneration } from "./providers";
import { clusterProviderSet } from "../fleet/providers";

/** How the rollout reaches one environment: its AWS clients and its terraform stack. */
export interface EnvironmentAccess {
  readonly clients: AwsClients;
  /** The stack as the pins file is now: synthesized again after every change of the pins. */
  stack(): Promise<TerraformStack>;
}

export interface RolloutOptions {
  /** Every environment of the config (a wave's source may not be a wave of this run). */
  readonly environments: readonly Environment[];
  /** The waves of this run, in order. */
  readonly waves: readonly Environment[];
  readonly pinsPath: string;
  /** The pins file as messages name it. */
  readonly pinsShownAs: string;
  readonly access: (environment: Environment) => EnvironmentAccess;
  readonly clock: Clock;
  readonly probe: HttpProbe;
  readonly log: Logger;
  readonly logFormat: "text" | "json";
  /** Roll environments and clusters on hold. */
  readonly force?: boolean;
  readonly ignoreWindow?: boolean;
  readonly waitForWindow?: boolean;
  /** How long a watch (tasks moving, new instances registering) may take. */
  readonly watchTimeoutMs: number;
  readonly stallAfterMs: number;
  /** Ctrl-C: stop between steps (terraform itself gets one SIGINT from its runner). */
  readonly signal?: AbortSignal;
  /** Called before each step; what it throws ends the rollout on the spot, unhandled (tests inject crashes here). */
  readonly beforeStep?: (environment: string, step: StepKind) => void | Promise<void>;
  /**
   * Called at points inside the steps (tests interrupt there): `plan`, before each terraform
   * plan; `rollback:pinned`, once a rollback has written the pins; `rollback:reactivated`, once
   * it has set the old instances ACTIVE. What it throws is handled as any error there.
   */
  readonly checkpoint?: (environment: string, point: RolloutPoint) => void;
  /** Where the state and the pins are backed up before every apply (none: no backups). */
  readonly backups?: BackupSettings;
  /** Environments at the same promotion depth rolled at once (parallel.ts); 1: one after another. @default 1 */
  readonly maxParallel?: number;
  /** Set by parallel.ts for a wave rolled beside others: a sibling's end stops it before its next step. */
  readonly siblings?: Siblings;
  /** Reads the S3 state object's version id for each backup (none: not asked, as in a simulated run). */
  readonly stateVersion?: StateVersionReader;
}

/** The points inside the steps `checkpoint` is called at. */
export type RolloutPoint = "plan" | "rollback:pinned" | "rollback:reactivated" | "refresh:drained" | "refresh:terminated" | "canary:soak";

export type WaveOutcome = "done" | "already done" | "failed" | "rolled back" | "refused" | "guard refused" | "interrupted" | "not started" | "stopped";

export interface WaveReport {
  readonly environment: string;
  /** cluster -> image, where the wave took (or tried to take) each cluster. */
  readonly targets: Readonly<Record<string, string>>;
  readonly strategies: Readonly<Record<string, string>>;
  outcome: WaveOutcome;
  reason?: string;
  readonly startedAt: number;
  endedAt: number;
  /** Time per step, in the order they ran (a step run twice is counted twice). */
  readonly phases: { step: string; ms: number }[];
  instancesReplaced: number;
  tasksMoved: number;
  gates: readonly GateResult[];
  balance?: ReadonlyMap<string, BalanceReport>;
  /** Each change of the pins file, as diff lines. */
  readonly pinChanges: string[][];
  /** New instances that did not register with ECS within their boot grace period, replaced (fleet/boot.ts). */
  readonly bootFailures: BootFailure[];
  /** When the gates passed and the pins recorded the image as verified. */
  verifiedAt?: string;
  /** The images recorded as rejected (the image was shown to fail), by cluster. */
  rejected?: Readonly<Record<string, string>>;
  /** The state backups taken before the wave's applies (their state files), in order. */
  readonly backups: string[];
  /** The environments this wave rolled beside (maxParallel > 1). */
  parallelWith?: readonly string[];
  /** The canary phase (rollout/slice.ts), when the wave had one: its verdict, what it judged, how long it took. */
  canary?: CanaryReport;
}

export interface CanaryReport {
  verdict: "passed" | "failed" | "interrupted";
  detail: string;
  ms: number;
}

export interface RolloutResult {
  readonly outcome: WaveOutcome;
  readonly waves: readonly WaveReport[];
  readonly startedAt: number;
  readonly endedAt: number;
}

/** The environments from `from` to `to` along promotesFrom, sources first. */
export function wavesOf(environments: readonly Environment[], from?: string, to?: string): Environment[] {
  const byName = new Map(environments.map((e) => [e.name, e]));
  const depth = (e: Environment): number => (e.promotesFrom ? 1 + depth(byName.get(e.promotesFrom)!) : 0);
  const ordered = [...environments].sort((a, b) => depth(a) - depth(b));
  const start = from === undefined ? 0 : ordered.findIndex((e) => e.name === from);
  const end = to === undefined ? ordered.length - 1 : ordered.findIndex((e) => e.name === to);
  return ordered.slice(start, end + 1);
}

/** The cluster of `source` whose verified image `cluster` takes: same name and image source, else the same image source. */
export function sourceCluster(cluster: Cluster, source: Environment): Cluster | undefined {
  return (
    source.clusters.find((c) => c.name === cluster.name && c.amiParameter === cluster.amiParameter) ??
    source.clusters.find((c) => c.amiParameter === cluster.amiParameter)
  );
}

/** What each cluster of `env` rolls to, or why it cannot roll yet. */
export function targetsOf(env: Environment, environments: readonly Environment[], pins: Pins): Map<string, Pin> | { refuse: string } {
  const targets = new Map<string, Pin>();
  const source = env.promotesFrom ? environments.find((e) => e.name === env.promotesFrom)! : undefined;
  for (const cluster of env.clusters) {
    if (!source) {
      targets.set(cluster.name, pins[env.name][cluster.name].current);
      continue;
    }
    const from = sourceCluster(cluster, source);
    if (!from) return { refuse: `${env.name}/${cluster.name} has no cluster in ${source.name} with the same image source (${cluster.amiParameter}) to promote from` };
    const pin = pins[source.name][from.name];
    if (!pin.current.verifiedAt || pin.retiring) {
      return { refuse: `${source.name}/${from.name} has not verified ${pin.current.imageId} yet: run amiroll rollout --to ${source.name} first (${env.name} takes only a verified image)` };
    }
    targets.set(cluster.name, pin.current);
  }
  return targets;
}

/** What each cluster of `env` is verified on: its own pin (amiroll verify judges what the environment's pins say and terraform applied). */
export function pinnedTargets(env: Environment, pins: Pins): Map<string, Pin> {
  return new Map(env.clusters.map((c) => [c.name, pins[env.name][c.name].current]));
}

/**
 * The environment is verified on its pins already: every cluster's current pin has `verifiedAt`
 * and no roll is under way. Read from the pins alone (no AWS call): `amiroll verify` then has
 * nothing to do.
 */
export function alreadyVerified(env: Environment, pins: Pins): boolean {
  return env.clusters.every((c) => pins[env.name][c.name].current.verifiedAt !== undefined && !pins[env.name][c.name].retiring);
}

export type VerifyOptions = Omit<RolloutOptions, "waves" | "force" | "ignoreWindow" | "waitForWindow">;

/**
 * `amiroll verify`: one wave of `environment` in verify mode (see the top of this file). Ends
 * "done" (verified), "already done", "failed" (the image failed with nothing kept to go back to,
 * or no verdict: a timeout, AWS), "rolled back" (the image failed: rejected, the old generation
 * serving again), "refused" (nothing applied to verify; nothing was changed) or "interrupted".
 */
export async function verifyEnvironment(environment: Environment, options: VerifyOptions): Promise<WaveReport> {
  return runWave(environment, { ...options, waves: [environment] }, "verify");
}

/** The steps a verify takes; any other step means what is pinned is not what is applied (or a roll is under way). */
const VERIFY_STEPS: ReadonlySet<StepKind> = new Set(["drain", "migrate", "verify"]);

/** Why an environment whose next step is `kind` (not a verify step) cannot be verified, and what to run. */
function notVerifiable(env: string, kind: StepKind, steps: ReadonlyMap<string, ClusterStep>): string {
  const why = [...steps].filter(([, s]) => s.kind === kind).map(([c, s]) => `${c}: ${"why" in s ? s.why : "reason" in s ? s.reason : kind}`).join("; ");
  switch (kind) {
    case "pin":
    case "apply":
      return `${env}: nothing to verify: what is pinned is not what terraform applied (${why}); apply it first (amiroll apply --env ${env})`;
    case "canary":
      return `${env}: a canary is under way (${why}); amiroll rollout --from ${env} --to ${env} finishes it`;
    case "reactivate":
      return `${env}: a rollback is unfinished; amiroll rollout --from ${env} --to ${env} finishes it`;
    default:
      return `${env}: cannot be verified: ${why}`;
  }
}

/** Wraps what beforeStep throws: it models the process dying there, so nothing handles it. */
class Abandoned extends Error {
  constructor(readonly error: unknown) {
    super("abandoned");
  }
}

class Stop extends Error {
  constructor(
    readonly outcome: WaveOutcome,
    readonly reason: string,
    /**
     * The image itself was shown to fail (tasks crash on it, a gate failed): a "failed" wave then
     * rolls back and rejects it. Every other failure (a timeout, a stall, terraform, AWS) is no
     * verdict on the image: nothing is rolled back or rejected, and the same command resumes.
     */
    readonly imageFailed = false,
  ) {
    super(reason);
  }
}

/** An error that is Ctrl-C or SIGTERM, not a failure: a step stopped by the signal, or terraform stopped or refused to start by it. */
function isInterruption(error: unknown, signal: AbortSignal | undefined): boolean {
  if (error instanceof Stop) return error.outcome === "interrupted";
  return signal?.aborted === true || (error instanceof TerraformError && error.interrupted);
}

export async function rollout(options: RolloutOptions): Promise<RolloutResult> {
  if ((options.maxParallel ?? 1) > 1) return parallelRollout(options, { run: (environment, o) => runWave(environment, o), empty: emptyReport });
  const { clock } = options;
  const startedAt = clock.now();
  const waves: WaveReport[] = [];
  let outcome: WaveOutcome = "done";
  for (const environment of options.waves) {
    if (outcome !== "done") {
      waves.push(emptyReport(environment, clock.now(), "not started", `an earlier wave ended ${outcome}`));
      continue;
    }
    const report = await runWave(environment, options);
    waves.push(report);
    if (report.outcome !== "done" && report.outcome !== "already done") outcome = report.outcome;
  }
  return { outcome, waves, startedAt, endedAt: clock.now() };
}

function emptyReport(environment: Environment, at: number, outcome: WaveOutcome, reason?: string): WaveReport {
  return {
    environment: environment.name,
    targets: {},
    strategies: Object.fromEntries(environment.clusters.map((c) => [c.name, c.strategy])),
    outcome,
    reason,
    startedAt: at,
    endedAt: at,
    phases: [],
    instancesReplaced: 0,
    tasksMoved: 0,
    gates: [],
    pinChanges: [],
    bootFailures: [],
    backups: [],
  };
}

/** At most this many steps per wave: a world that does not converge is reported, not looped on. */
const MAX_STEPS = 20;

async function runWave(environment: Environment, options: RolloutOptions, mode: "rollout" | "verify" = "rollout"): Promise<WaveReport> {
  const { clock, log } = options;
  const env = environment.name;
  const verifying = mode === "verify";
  /** The command that continues from where the world is. */
  const again = verifying ? `amiroll verify --env ${env}` : "amiroll rollout";
  const report = emptyReport(environment, clock.now(), "done");
  const access = options.access(environment);
  const readCurrentPins = () => readPins(options.pinsPath, options.environments, options.pinsShownAs);
  let stack = await access.stack();
  await stack.runner.init();
  const oldInstances = new Set<string>();
  /** Clusters terraform had deployed at the last look: only those have an ECS cluster to observe. */
  const deployedClusters = new Set<string>();
  let tasksOnOldAtStart: number | undefined;
  let changed = false;
  /** The boot check of each cluster, across the wave's waits for new instances (drain, watch). */
  const boots = bootCheck(environment, access, options, report);
  /**
   * When the image began to serve: this run's start, or the first task seen running on the target
   * image if earlier (verify, or a run that resumes a roll). An alarm in ALARM since before it is
   * no verdict on the image.
   */
  let imageSince = report.startedAt;
  /** A rollback is under way (the pins target the old image): no alarm judges it, and none stops it. */
  let rollingBack = false;
  const checkAlarms = alarmCheck({ cloudwatch: access.clients.cloudwatch, watch: environment.alarms, clock, since: () => imageSince });
  /**
   * The watched alarms (config `alarms`), one check for the canary, the watch, the refresh batches
   * and the gates: in ALARM, the wave fails. Undefined when the environment watches none, so that
   * its rollout takes not one await more than without alarm gates (the simulator's timeline is
   * its microtask interleavings: test/sim/determinism.test.ts).
   */
  const alarms: AlarmCheck | undefined = environment.alarms ? async (now) => (rollingBack ? undefined : checkAlarms(now)) : undefined;
  /** Each refresh group's size before its batches, for a rollback's batches to restore. */
  const refreshSizes = new Map<string, GroupCapacity>();

  const observe = async () => {
    const pins = readCurrentPins();
    const targets = verifying ? pinnedTargets(environment, pins) : targetsOf(environment, options.environments, pins);
    if ("refuse" in targets) throw new Stop("refused", targets.refuse);
    const outputs = await stack.runner.output();
    const generations = clusterGenerations(outputs[CLUSTERS_OUTPUT]?.value);
    const fleets = new Map<string, FleetSnapshot>();
    const steps = new Map<string, ClusterStep>();
    /** Clusters whose rollback is not finished. */
    const undoing: string[] = [];
    for (const cluster of environment.clusters) {
      const deployed = generations.get(cluster.name)?.generations ?? [];
      if (deployed.length > 0) deployedClusters.add(cluster.name);
      else deployedClusters.delete(cluster.name);
      // Never deployed: there is no ECS cluster to look at yet (AWS would say it does not exist).
      const fleet = deployed.length > 0 ? await takeSnapshot(access.clients, cluster.ecsClusterName, { now: clock.now(), since: report.startedAt }) : emptyFleet(cluster.ecsClusterName, clock.now());
      fleets.set(cluster.name, fleet);
      const providers = cluster.capacityProviders && deployed.length > 0 ? await clusterProviderSet(access.clients.ecs, cluster.ecsClusterName) : undefined;
      const clusterWorld = { cluster, pins: pins[env][cluster.name], deployed, fleet, ...(providers && { providers }) };
      steps.set(cluster.name, nextClusterStep(clusterWorld, targets.get(cluster.name)!));
      if (rollbackUnfinished(clusterWorld)) undoing.push(cluster.name);
      (report.targets as Record<string, string>)[cluster.name] = targets.get(cluster.name)!.imageId;
      for (const ci of fleet.containerInstances) if (ci.imageId !== targets.get(cluster.name)!.imageId) oldInstances.add(ci.ec2InstanceId);
      const onTarget = new Set(fleet.containerInstances.filter((ci) => ci.imageId === targets.get(cluster.name)!.imageId).map((ci) => ci.arn));
      if (!rollbackUnfinished(clusterWorld)) for (const task of fleet.tasks) if (task.startedAt !== undefined && onTarget.has(task.containerInstanceArn)) imageSince = Math.min(imageSince, task.startedAt);
    }
    tasksOnOldAtStart ??= tasksOn(oldInstances, fleets);
    rollingBack = undoing.length > 0;
    return { pins, targets, fleets, steps, undoing };
  };

  const writeClusterPins = async (pins: Pins, changes: ReadonlyMap<string, ClusterPins>, why: string) => {
    // Other environments' pins as the file has them now: a wave rolled beside this one may have written its own.
    const next: Pins = { ...(options.siblings ? readCurrentPins() : pins), [env]: { ...pins[env], ...Object.fromEntries(changes) } };
    const diff = writePins(options.pinsPath, next, options.environments);
    report.pinChanges.push(diff);
    log.info(`${env}: ${options.pinsShownAs}: ${why}\n${diff.map((l) => `    ${l}`).join("\n")}`, { env, pins: options.pinsShownAs, why, diff });
    // The stack as the pins now are, for the next plan (verify plans nothing: its pins change is the next apply's).
    if (verifying) return;
    stack = await access.stack();
    await stack.runner.init();
  };

  /** Plan, guard and apply what the pins now ask for. */
  const applyPins = async (purpose: string) => {
    const planFile = `${stack.directory}/amiroll-rollout.tfplan`;
    for (let attempt = 1; ; attempt++) {
      log.info(`${env}: terraform plan (${purpose})`, { env });
      options.checkpoint?.(env, "plan");
      await stack.runner.plan(planFile);
      const plan = parsePlan(await stack.runner.showJson(planFile), `terraform show -json ${planFile}`);
      const guard = guardPlan(plan);
      log.info(`${env}: ${summaryLine(plan)} Guard: ${guard.accepted ? "accepted" : "refused"} (${guard.expect})`, { env, summary: plan.summary, accepted: guard.accepted, expect: guard.expect });
      if (!guard.accepted) {
        throw new Stop("guard refused", `the plan guard refused ${env}'s plan: ${guard.reasons.join("; ")} (review it with amiroll plan --env ${env})`);
      }
      try {
        if (options.backups) {
          const backup = await backupBeforeApply(options.backups, { environment: env, runner: stack.runner, pinsPath: options.pinsPath, at: clock.now(), purpose: `rollout: ${purpose} (${guard.expect})`, backend: environment.backend, stateVersion: options.stateVersion, log });
          if (backup) report.backups.push(backupShown(backup, backup.version));
        }
        log.info(`${env}: terraform apply (${guard.expect})`, { env, expect: guard.expect });
        await stack.runner.apply(planFile);
        return;
      } catch (error) {
        // The state moved between plan and apply (another apply): plan again, once.
        if (error instanceof StalePlanError && attempt < 2) continue;
        throw error;
      }
    }
  };

  const timed = async <T>(step: string, work: () => Promise<T>): Promise<T> => {
    const started = clock.now();
    try {
      return await work();
    } finally {
      report.phases.push({ step, ms: clock.now() - started });
    }
  };

  let lastStep: StepKind | undefined;
  let repeats = 0;
  /** This run took steps of a rollback an earlier run began. */
  let finishingRollback = false;
  try {
    steps: for (let n = 0; ; n++) {
      if (options.signal?.aborted) throw new Stop("interrupted", `interrupted before ${lastStep ?? "the first step"}`);
      const world = await observe();
      const kind = environmentStep([...world.steps.values()]);
      const of = <K extends StepKind>(k: K) => [...world.steps].filter(([, s]) => s.kind === k) as [string, Extract<ClusterStep, { kind: K }>][];
      if (kind === "done") {
        if (!changed) report.outcome = "already done";
        log.info(`${env}: ${changed ? "done" : "already on its verified image: nothing to do"}`, { env, outcome: report.outcome });
        break;
      }
      // This run finished a rollback an earlier one began (cut short): that is its outcome.
      if (finishingRollback && world.undoing.length === 0) {
        report.outcome = "rolled back";
        report.reason = `finished the rollback an earlier run began: ${environment.clusters.flatMap((c) => world.pins[env][c.name].rejected ?? []).map((r) => `${r.imageId}: ${r.reason}`).join("; ")}`;
        log.warn(`${env}: rolled back; the old generation serves as before`, { env });
        break;
      }
      if (world.undoing.length > 0) finishingRollback = true;
      // Verify changes neither terraform nor the pins before its verdict: anything else to do first is
      // the user's (refused, nothing changed), or, after a step of its own, a world that moved.
      // (A blue-green canary slice is drains and gates, no terraform: verify takes it too.)
      const blueGreenSlice = kind === "canary" && of("canary").every(([c]) => environment.clusters.find((k) => k.name === c)?.strategy === "blue-green");
      if (verifying && !VERIFY_STEPS.has(kind) && !blueGreenSlice) throw new Stop(changed ? "failed" : "refused", notVerifiable(env, kind, world.steps));
      if (kind === "refuse") throw new Stop("refused", of("refuse").map(([c, s]) => `${c}: ${s.reason}`).join("; "));
      // A wave rolled beside this one ended other than done: no new step (finishing a rollback restores the old capacity: it goes on).
      const halted = world.undoing.length === 0 ? options.siblings?.halted() : undefined;
      if (halted) throw new Stop("stopped", `stopped before ${kind}: ${halted}`);
      repeats = kind === lastStep ? repeats + 1 : 0;
      if (repeats >= 3 || n >= MAX_STEPS) throw new Stop("failed", `${env} does not converge: step ${kind} again after ${n} steps (${[...world.steps].map(([c, s]) => `${c}: ${s.kind}`).join(", ")})`);
      if (!changed) {
        // Verify rolls nothing: what it judges was applied already (holds and windows are the apply's).
        if (!verifying) await timed("window", () => checkHoldAndWindow(environment, options));
        changed = true;
      }
      lastStep = kind;
      try {
        await options.beforeStep?.(env, kind);
      } catch (error) {
        throw new Abandoned(error);
      }
      log.info(`${env}: ${kind}`, { env, step: kind });

      switch (kind) {
        case "reactivate":
          // A rollback cut short: its pins reject the image already; the old instances serve again
          // before the apply removes the rejected generation.
          await timed("rollback", () => reactivate(environment, access, options, new Map(of("reactivate").map(([c, s]) => [c, s.containerInstanceArns]))));
          break;
        case "pin": {
          const changes = new Map(of("pin").map(([c, s]) => [c, s.pins]));
          await timed("pins", () => writeClusterPins(world.pins, changes, of("pin").map(([c, s]) => `${c}: ${s.why}`).join("; ")));
          break;
        }
        case "apply": {
          // Deployed clusters only: a first deploy has no ECS cluster to look at until terraform made it.
          const checked = environment.clusters.filter((c) => deployedClusters.has(c.name));
          // capacityProviders: no service may still use a provider this apply takes out (a rollback's, resumed).
          for (const c of checked.filter((c) => c.capacityProviders)) await timed("apply", () => followGeneration(environment, c, access.clients, world.pins[env][c.name].current.imageId, options, true));
          await timed("apply", () => applyCheckingBoots(options, access, world.targets, checked, boots, () => applyPins(of("apply").map(([c, s]) => `${c}: ${s.why}`).join("; "))));
          break;
        }
        case "canary": {
          const clusters = of("canary").map(([c]) => c);
          await timed("canary", () => canaryPhase(report, clock, () => proveCanaries(environment, access, options, world.targets, clusters, boots, alarms)));
          // Proven: a replace cluster's old image is no longer kept, so the next apply replaces the
          // stable group (a blue-green cluster's new generation is at its size now: the drain is next).
          const replaced = clusters.filter((c) => environment.clusters.find((k) => k.name === c)!.strategy === "replace");
          const proven = new Map(replaced.map((c) => [c, { current: world.pins[env][c].current }]));
          if (proven.size > 0) await timed("pins", () => writeClusterPins(world.pins, proven, `${replaced.map((c) => `${c}: ${world.targets.get(c)!.imageId}`).join("; ")} proven on the canary`));
          break;
        }
        case "refresh": {
          const steps = new Map(of("refresh"));
          for (const cluster of environment.clusters.filter((c) => steps.has(c.name))) {
            // A rollback's batches (the pins reject the image they leave) are the rollback's phase.
            const phase = world.undoing.includes(cluster.name) ? "rollback" : "refresh";
            // The first batch of a roll forward is the canary slice, when the cluster has one.
            const canary = phase === "refresh" && cluster.canary ? refreshCanary(environment, access, options, report, world.targets, cluster, alarms) : undefined;
            try {
              await timed(phase, () => refreshCluster(environment, access, options, cluster, steps.get(cluster.name)!.imageId, boots, refreshSizes, canary, phase === "refresh" ? alarms : undefined));
            } catch (error) {
              // The slice failed before its soak (a crash loop while it drained): the canary's verdict.
              if (canary?.began !== undefined && canary.ms === undefined) {
                report.canary = { verdict: isInterruption(error, options.signal) ? "interrupted" : "failed", detail: (error as Error).message, ms: clock.now() - canary.began };
                // Its time is the canary's phase too, before the refresh's (which `finally` shortens by it).
                canary.ms = report.canary.ms;
                if (report.phases.at(-1)?.step === phase) report.phases.splice(-1, 0, { step: "canary", ms: canary.ms });
              }
              throw error;
            } finally {
              // The canary's time is its own phase, not the refresh's.
              const last = report.phases[report.phases.length - 1];
              if (canary?.ms && last?.step === phase) last.ms -= canary.ms;
            }
          }
          break;
        }
        case "drain":
          await timed("drain", () => drain(environment, access, options, world.targets, new Map(of("drain").map(([c, s]) => [c, s.containerInstanceArns])), boots));
          break;
        case "migrate": {
          const result = await timed("watch", () =>
            watchTasks(environment, access, options, world.targets, boots, alarms),
          );
          if (result.outcome === "interrupted") throw new Stop("interrupted", "interrupted while watching the tasks move");
          if (result.outcome !== "done") {
            const reasons = [...result.states].flatMap(([c, s]) => failureReason(c, s) ?? []);
            // Tasks crashing on the new image are a verdict on it; a stall or a timeout is not.
            throw new Stop("failed", result.outcome === "timeout" ? `the tasks did not move within the watch timeout (${[...result.states].map(([c, s]) => `${c}: ${s.phase}`).join(", ")})` : reasons.join("; ") || result.outcome, result.outcome === "crash loop");
          }
          break;
        }
        case "verify": {
          const gates = await timed("gates", () =>
            runGates({
              environment,
              clients: access.clients,
              clock,
              targets: new Map([...world.targets].map(([c, p]) => [c, p.imageId])),
              probe: options.probe,
              log,
              signal: options.signal,
              alarms,
            }),
          );
          report.gates = gates.gates;
          report.balance = gates.balance;
          if (options.signal?.aborted) throw new Stop("interrupted", "interrupted during the gates");
          if (!gates.passed) throw new Stop("failed", `gate ${gates.reason}`, gates.imageFailed !== false);
          const verifiedAt = new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
          // Without `retiring`: a blue-green environment's next step is the retire apply.
          const verified = new Map(environment.clusters.map((c) => [c.name, { current: { ...world.pins[env][c.name].current, verifiedAt } }]));
          await timed("pins", () => writeClusterPins(world.pins, verified, `${[...world.targets.values()].map((p) => p.imageId).join(", ")} verified`));
          report.verifiedAt = verifiedAt;
          if (verifying) {
            const retire = environment.clusters.filter((c) => world.pins[env][c.name].retiring).map((c) => `${c.name} (${world.pins[env][c.name].retiring!.imageId})`);
            log.info(`${env}: verified${retire.length > 0 ? `; the next apply retires the old generation of ${retire.join(", ")} (amiroll apply --env ${env})` : ""}`, { env, verifiedAt });
            break steps;
          }
          break;
        }
      }
    }
  } catch (error) {
    if (error instanceof Abandoned) throw error.error;
    const stop = error instanceof Stop ? error : undefined;
    if (!stop && ((error as Error).name === "ConfigError" || (error as Error).name === "UsageError")) throw error;
    if (stop && (stop.outcome === "refused" || stop.outcome === "guard refused")) {
      // A decision, not a failure: it stands even when Ctrl-C came meanwhile (nothing was changed).
      report.outcome = stop.outcome;
      report.reason = stop.reason;
    } else if (isInterruption(error, options.signal)) {
      // Ctrl-C or SIGTERM, wherever it landed (a terraform plan or apply included): no verdict on
      // the image, so nothing is rolled back or rejected; the same command continues from here.
      report.outcome = "interrupted";
      report.reason = stop?.reason ?? `interrupted during ${lastStep ?? "the first step"} (${(error as Error).message})`;
    } else {
      report.outcome = stop?.outcome ?? "failed";
      report.reason = stop?.reason ?? (error as Error).message;
    }
    options.siblings?.ended(env, report.outcome, report.reason);
    if (report.outcome === "failed" && stop?.imageFailed) {
      report.outcome = verifying
        ? await rejectVerified(environment, options, access, report, readCurrentPins(), writeClusterPins)
        : await rollBack(environment, options, access, report, readCurrentPins(), async (pins, changes, why) => writeClusterPins(pins, changes, why), applyPins, boots, refreshSizes);
    } else if (report.outcome === "failed") {
      log.warn(`${env}: ${report.reason}: no verdict on the image, so nothing is rolled back and nothing rejected; once the cause is fixed, run ${again} again: it continues from where the world is`, { env });
    }
    if (report.outcome === "interrupted" || report.outcome === "stopped") {
      log.warn(`${env}: ${report.reason}. Run ${again} again: it continues from where the world is.`, { env });
    }
  }
  // Replaced: old instances seen during the wave that are no longer registered; moved: the
  // service tasks they held at the start, less those still on them.
  const fleets = new Map<string, FleetSnapshot>();
  for (const c of environment.clusters) {
    fleets.set(c.name, deployedClusters.has(c.name) ? await takeSnapshot(access.clients, c.ecsClusterName, { now: clock.now(), since: clock.now() }) : emptyFleet(c.ecsClusterName, clock.now()));
  }
  const registered = new Set([...fleets.values()].flatMap((f) => f.containerInstances.filter((ci) => ci.status === "ACTIVE" || ci.status === "DRAINING").map((ci) => ci.ec2InstanceId)));
  report.instancesReplaced = [...oldInstances].filter((id) => !registered.has(id)).length;
  report.tasksMoved = Math.max(0, (tasksOnOldAtStart ?? 0) - tasksOn(oldInstances, fleets));
  report.endedAt = clock.now();
  return report;
}

/** The fleet of a cluster terraform has not deployed yet: nothing at all. */
function emptyFleet(clusterName: string, at: number): FleetSnapshot {
  return { at, clusterName, groups: [], containerInstances: [], services: [], tasks: [], stoppedTasks: [], apiCalls: 0 };
}

/** Service tasks (daemons aside: they leave with their instance) not stopped on `instances` (EC2 ids). */
function tasksOn(instances: ReadonlySet<string>, fleets: ReadonlyMap<string, FleetSnapshot>): number {
  let n = 0;
  for (const fleet of fleets.values()) {
    const daemons = new Set(fleet.services.filter((s) => s.schedulingStrategy === "DAEMON").map((s) => `service:${s.name}`));
    const arns = new Set(fleet.containerInstances.filter((ci) => instances.has(ci.ec2InstanceId)).map((ci) => ci.arn));
    n += fleet.tasks.filter((t) => t.lastStatus !== "STOPPED" && arns.has(t.containerInstanceArn) && !daemons.has(t.group)).length;
  }
  return n;
}

async function checkHoldAndWindow(environment: Environment, options: RolloutOptions): Promise<void> {
  const { log, clock } = options;
  const holds = holdsOf(environment);
  if (holds.length > 0) {
    if (!options.force) throw new Stop("refused", `on hold: ${holds.join("; ")} (--force rolls it anyway)`);
    log.warn(`--force: rolling despite the hold: ${holds.join("; ")}`, { env: environment.name, holds });
  }
  const windows = environment.maintenanceWindows;
  if (windows.length === 0 || openWindow(windows, clock.now())) return;
  const next = nextOpening(windows, clock.now())!;
  const when = `${formatInstant(next.opensAt, next.window.timeZone)} (in ${formatWait(next.opensAt - clock.now())})`;
  if (options.ignoreWindow) {
    log.warn(`--ignore-window: rolling ${environment.name} outside its maintenance windows (next opens ${when})`, { env: environment.name });
    return;
  }
  if (!options.waitForWindow) {
    throw new Stop("refused", `${environment.name} is outside its maintenance windows (${windows.map((w) => w.text).join("; ")}); the next opens ${when}. Run again then, or use --wait-for-window`);
  }
  log.info(`${environment.name}: waiting for its maintenance window: opens ${when}`, { env: environment.name, opensAt: new Date(next.opensAt).toISOString() });
  while (clock.now() < next.opensAt) {
    if (options.signal?.aborted) throw new Stop("interrupted", "interrupted while waiting for the maintenance window");
    const halted = options.siblings?.halted();
    if (halted) throw new Stop("stopped", `stopped while waiting for the maintenance window: ${halted}`);
    await clock.sleep(Math.min(next.opensAt - clock.now(), 60_000));
  }
}

/** A cluster's canary slice: the config's, or the replace strategy's default (1 instance, 2 minutes). */
function sliceOf(cluster: Cluster): CanarySlice {
  return cluster.canary ?? { instances: DEFAULT_CANARY_INSTANCES, soakMs: DEFAULT_CANARY_SOAK_MS, text: `${DEFAULT_CANARY_INSTANCES} instance` };
}

/**
 * The slice with its soak as long as the slowest watched alarm takes to fire (its evaluation
 * window: Period x EvaluationPeriods), when that is longer than the slice's own, so that an alarm
 * still fires while the old capacity can be gone back to. Without alarms, the slice as it is.
 */
async function sliceForAlarms(slice: CanarySlice, environment: Environment, access: EnvironmentAccess, log: Logger, alarms: AlarmCheck | undefined): Promise<CanarySlice> {
  if (!alarms) return slice;
  const { soakMs, slowest } = await soakForAlarms(access.clients.cloudwatch, environment.alarms, slice.soakMs);
  if (!slowest) return slice;
  log.info(`${environment.name}: the canary soaks ${elapsedText(soakMs)}: the evaluation window of ${slowest.name}, the slowest alarm watched`, { env: environment.name, soakMs });
  return { ...slice, soakMs };
}

/** A slice's halt as the wave's Stop: a failed gate or a crash loop is the image's failure (the wave rolls back). */
function sliceStop(error: unknown): unknown {
  if (!(error instanceof SliceHalt)) return error;
  return new Stop(error.kind === "interrupted" ? "interrupted" : "failed", error.message, error.kind === "image failed");
}

/** Runs a canary phase and records it in the report: its verdict, what it judged, and its time. */
async function canaryPhase(report: WaveReport, clock: Clock, work: () => Promise<string>): Promise<void> {
  const started = clock.now();
  try {
    const detail = await work();
    report.canary = { verdict: "passed", detail, ms: clock.now() - started };
  } catch (error) {
    const interrupted = error instanceof Stop && error.outcome === "interrupted";
    report.canary = { verdict: interrupted ? "interrupted" : "failed", detail: (error as Error).message, ms: clock.now() - started };
    throw error;
  }
}

/**
 * The refresh strategy's canary: its first batch is the slice; once that batch's old instances
 * are DRAINING and their tasks moved, the gates soak it (rollout/slice.ts) before it is
 * terminated and the other batches follow. Its time is the wave's "canary" phase.
 */
function refreshCanary(environment: Environment, access: EnvironmentAccess, options: RolloutOptions, report: WaveReport, targets: ReadonlyMap<string, Pin>, cluster: Cluster, alarms?: AlarmCheck): RefreshCanary & { ms?: number; began?: number } {
  const { clock } = options;
  const slice = sliceOf(cluster);
  let started = clock.now();
  const canary: RefreshCanary & { ms?: number; began?: number } = {
    instances: slice.instances,
    started: () => void (started = canary.began = clock.now()),
    soak: async () => {
      try {
        options.checkpoint?.(environment.name, "canary:soak");
        await soakSlice({ environment, cluster, slice: await sliceForAlarms(slice, environment, access, options.log, alarms), targets: new Map([...targets].map(([c, p]) => [c, p.imageId])), clients: access.clients, clock, log: options.log, probe: options.probe, signal: options.signal, ...(alarms && { alarms }) });
        report.canary = { verdict: "passed", detail: `${cluster.name}: ${slice.text} (the first batch), ${elapsedText(slice.soakMs)} soaked`, ms: clock.now() - started };
        return undefined;
      } catch (error) {
        const halt = error instanceof SliceHalt ? error : new SliceHalt(options.signal?.aborted ? "interrupted" : "failed", `${cluster.name}: the canary's gates did not run: ${(error as Error).message}`);
        report.canary = { verdict: halt.kind === "interrupted" ? "interrupted" : "failed", detail: halt.message, ms: clock.now() - started };
        return { kind: halt.kind, reason: halt.message };
      } finally {
        canary.ms = clock.now() - started;
        report.phases.push({ step: "canary", ms: canary.ms });
      }
    },
  };
  return canary;
}

/**
 * The canary step: per cluster, its slice proven before the rest moves (rollout/slice.ts).
 * Replace: the target image on the cluster's canary group (canary.ts), before the apply that
 * replaces the old group. Blue-green: the new generation at the slice's size, as many old
 * instances drained. Throws a Stop("failed", image failed) when tasks crash on it or a gate
 * fails (the rollback then sets the drained old instances ACTIVE again and removes the canary
 * group or the new generation). Resolves what it proved, for the report.
 */
async function proveCanaries(
  environment: Environment,
  access: EnvironmentAccess,
  options: RolloutOptions,
  targets: ReadonlyMap<string, Pin>,
  clusters: readonly string[],
  boots: BootCheck,
  alarms?: AlarmCheck,
): Promise<string> {
  const { clock, log } = options;
  const startedAt = clock.now();
  const deadline = startedAt + options.watchTimeoutMs;
  const proven: string[] = [];
  const gateTargets = new Map([...targets].map(([c, p]) => [c, p.imageId]));
  for (const cluster of environment.clusters.filter((c) => clusters.includes(c.name))) {
    const imageId = targets.get(cluster.name)!.imageId;
    const slice = await sliceForAlarms(sliceOf(cluster), environment, access, log, alarms);
    const sliceRun = { environment, cluster, slice, imageId, targets: gateTargets, clients: access.clients, clock, log, probe: options.probe, signal: options.signal, timeoutMs: options.watchTimeoutMs, boots: (fleet: FleetSnapshot) => boots(cluster, imageId, fleet), ...(alarms && { alarms }) };
    if (cluster.strategy === "blue-green") {
      try {
        await proveBlueGreenSlice({ ...sliceRun, beforeSoak: () => options.checkpoint?.(environment.name, "canary:soak") });
      } catch (error) {
        throw sliceStop(error);
      }
      proven.push(`${cluster.name}: ${slice.text}, ${elapsedText(slice.soakMs)} soaked`);
      continue;
    }
    let steadySince: number | undefined;
    let last = "";
    let fleet: FleetSnapshot | undefined;
    let booting = true;
    let leftBefore: number | undefined;
    /** When the last poll was taken (the soak never counts from before it). */
    let lookedBefore: number | undefined;
    for (;;) {
      if (booting) {
        // Until a canary instance registers with ECS, the verdict can only be "booting": look at
        // the instances alone (no services, no tasks), every REGISTRATION_POLL_MS.
        const instances = await takeSnapshot(access.clients, cluster.ecsClusterName, { now: clock.now(), since: startedAt, instancesOnly: true });
        await boots(cluster, imageId, instances);
        booting = instances.containerInstances.filter((ci) => ci.imageId === imageId && ci.status === "ACTIVE" && ci.agentConnected).length < slice.instances;
        if (booting) {
          const now = "waiting for the canary instance to register with ECS";
          if (now !== last) log.info(`${cluster.name}: canary of ${imageId}: ${now}`, { env: environment.name, cluster: cluster.name });
          last = now;
          if (clock.now() >= deadline) throw new Stop("failed", `${cluster.name}: the canary of ${imageId} was not proven within the watch timeout (${now})`);
          if (options.signal?.aborted) throw new Stop("interrupted", "interrupted while proving the canary");
          await clock.sleep(REGISTRATION_POLL_MS);
          continue;
        }
      }
      // Only what the verdict reads: the canary's and the drained instances' tasks, described
      // again only where they may have changed since the last poll.
      const look = async (previous: FleetSnapshot | undefined) => {
        const snapshot = await takeSnapshot(access.clients, cluster.ecsClusterName, { now: clock.now(), since: startedAt, previous, tasksOn: canaryTasksOn(imageId) });
        // A canary instance that does not register is replaced like any new instance (boot.ts).
        await boots(cluster, imageId, snapshot);
        return snapshot;
      };
      fleet = await look(fleet);
      let verdict = judgeCanary(fleet, { imageId, startedAt });
      // A verdict that fails the proof or passes it (the gates' soak next) rests on a full poll, not
      // on answers an incremental one reused.
      const decisive = (v: CanaryVerdict) => v.kind === "crash" || v.kind === "steady";
      if (decisive(verdict) && !isFullView(fleet)) {
        fleet = await look(undefined);
        verdict = judgeCanary(fleet, { imageId, startedAt });
      }
      if (verdict.kind === "crash") throw new Stop("failed", `${cluster.name}: ${verdict.reason}`, true);
      if (verdict.kind === "drain") {
        const ci = fleet.containerInstances.find((c) => c.arn === verdict.containerInstanceArn)!;
        log.info(`${cluster.name}: canary of ${imageId}: ${ci.ec2InstanceId} set DRAINING, so that its tasks move (the old instance serves until each one's replacement is healthy)`, { env: environment.name, cluster: cluster.name, instance: ci.ec2InstanceId });
        await setContainerInstanceStatus(access.clients.ecs, cluster.ecsClusterName, [verdict.containerInstanceArn], "DRAINING");
      }
      // The soak counts from when the proof came to hold: ECS's time of the last stop it ordered on
      // the drained instance, if after the last poll that found it not holding (canary.ts).
      steadySince = verdict.kind === "steady" ? (steadySince ?? Math.min(clock.now(), Math.max(lookedBefore ?? clock.now(), drainedSince(fleet, { imageId, startedAt }) ?? clock.now()))) : undefined;
      lookedBefore = clock.now();
      // The watched alarms, every 30 s while tasks move onto the canary (its soak is the gates', which ask them too).
      const alarm = alarms && (await alarms());
      if (alarm) throw new Stop("failed", `${cluster.name}: the canary of ${imageId}: ${alarm.reason}`, alarm.imageFailed);
      const now = verdict.kind === "steady" ? `steady: ${verdict.tasksOnCanary} task(s) on the canary, ${verdict.services} service(s)` : verdict.kind === "waiting" ? verdict.why : verdict.kind === "booting" ? "waiting for the canary instance to register with ECS" : last;
      if (now !== last) log.info(`${cluster.name}: canary of ${imageId}: ${now}`, { env: environment.name, cluster: cluster.name });
      last = now;
      if (steadySince !== undefined) break;
      if (clock.now() >= deadline) throw new Stop("failed", `${cluster.name}: the canary of ${imageId} was not proven within the watch timeout (${now})`);
      if (options.signal?.aborted) throw new Stop("interrupted", "interrupted while proving the canary");
      // Sooner while tasks leave the drained instance (their replacements become healthy seconds
      // apart): the proof is about to hold, and its soak starts when it is seen.
      const left = tasksLeftOnDrained(fleet, { imageId, startedAt });
      const leaving = verdict.kind === "waiting" && leftBefore !== undefined && left < leftBefore;
      leftBefore = left;
      await clock.sleep(leaving ? REGISTRATION_POLL_MS : 10_000);
    }
    // The canary carries tasks: the gates judge it for the slice's soak.
    options.checkpoint?.(environment.name, "canary:soak");
    try {
      await soakSlice({ ...sliceRun, soakSince: steadySince });
    } catch (error) {
      throw sliceStop(error);
    }
    log.info(`${cluster.name}: ${imageId} proven on the canary`, { env: environment.name, cluster: cluster.name });
    proven.push(`${cluster.name}: ${slice.text} (canary group), ${elapsedText(slice.soakMs)} soaked`);
  }
  return proven.join("; ");
}

/**
 * How often the rollout looks while it waits for new instances to register with ECS (the canary,
 * blue-green's drain) or while the canary's drained instance empties: a registration is due
 * within seconds of InService, the next replacement healthy within seconds of the last. Those
 * looks read instances only, or the few tasks the canary judges.
 */
const REGISTRATION_POLL_MS = 5_000;

/**
 * Refresh: the cluster's instances not on `imageId` replaced in batches (refresh.ts). A crash loop
 * on the image is its failure (the wave rolls back); anything else fails or interrupts the wave
 * with no verdict on the image. The group's size before the first batches is remembered for a
 * rollback's, which restore it.
 */
async function refreshCluster(environment: Environment, access: EnvironmentAccess, options: RolloutOptions, cluster: Cluster, imageId: string, boots: BootCheck, sizes: Map<string, GroupCapacity>, canary?: RefreshCanary, alarms?: AlarmCheck): Promise<void> {
  try {
    await refreshInstances({
      clients: access.clients,
      clock: options.clock,
      log: options.log,
      env: environment.name,
      cluster,
      imageId,
      batchTimeoutMs: options.watchTimeoutMs,
      signal: options.signal,
      boots: !alarms
        ? (fleet) => boots(cluster, imageId, fleet)
        : async (fleet) => {
            await boots(cluster, imageId, fleet);
            // The watched alarms, every 30 s at most: one in ALARM ends the batches (as the boot check's verdicts do).
            const alarm = await alarms();
            if (alarm) throw new Stop("failed", `${cluster.name}: during the refresh: ${alarm.reason}`, alarm.imageFailed);
          },
      original: sizes.get(cluster.name),
      checkpoint: (point) => options.checkpoint?.(environment.name, point),
      ...(canary && { canary }),
    });
  } catch (error) {
    if (!(error instanceof RefreshHalt)) throw error;
    sizes.set(cluster.name, error.original);
    if (error.kind === "interrupted") throw new Stop("interrupted", error.message);
    throw new Stop("failed", error.message, error.kind === "image failed");
  }
}

/** A rollback's old generation: the cluster's DRAINING instances of `imageId` set ACTIVE again. Returns the instances it looked at. */
async function reactivateOld(env: string, cluster: Cluster, access: EnvironmentAccess, options: RolloutOptions, imageId: string): Promise<FleetSnapshot> {
  const fleet = await takeSnapshot(access.clients, cluster.ecsClusterName, { now: options.clock.now(), since: options.clock.now(), instancesOnly: true });
  const old = fleet.containerInstances.filter((ci) => ci.imageId === imageId && ci.status === "DRAINING").map((ci) => ci.arn);
  if (old.length > 0) {
    options.log.info(`${cluster.name}: ${old.length} old instance(s) set ACTIVE again`, { env, cluster: cluster.name });
    await setContainerInstanceStatus(access.clients.ecs, cluster.ecsClusterName, old, "ACTIVE");
  }
  return fleet;
}

/** A rollback cut short after its pins were written: its old instances go back to ACTIVE. */
async function reactivate(environment: Environment, access: EnvironmentAccess, options: RolloutOptions, drained: ReadonlyMap<string, readonly string[]>): Promise<void> {
  for (const cluster of environment.clusters.filter((c) => drained.has(c.name))) {
    const arns = drained.get(cluster.name)!;
    options.log.info(`${cluster.name}: ${arns.length} old instance(s) set ACTIVE again (finishing the rollback)`, { env: environment.name, cluster: cluster.name, instances: arns.length });
    await setContainerInstanceStatus(access.clients.ecs, cluster.ecsClusterName, arns, "ACTIVE");
  }
}

/**
 * Blue-green: once every new instance has registered, the old generation is set DRAINING (ECS
 * moves the tasks). While it waits, a new instance that does not register within its grace
 * period is replaced (the boot check), so one bad instance costs a boot, not the watch timeout.
 */
async function drain(
  environment: Environment,
  access: EnvironmentAccess,
  options: RolloutOptions,
  targets: ReadonlyMap<string, Pin>,
  drainable: ReadonlyMap<string, readonly string[]>,
  boots: BootCheck,
): Promise<void> {
  const { clock, log } = options;
  const deadline = clock.now() + options.watchTimeoutMs;
  for (const cluster of environment.clusters.filter((c) => drainable.has(c.name))) {
    const image = targets.get(cluster.name)!.imageId;
    for (;;) {
      const fleet = await takeSnapshot(access.clients, cluster.ecsClusterName, { now: clock.now(), since: clock.now(), instancesOnly: true });
      await boots(cluster, image, fleet);
      const ready = fleet.containerInstances.filter((ci) => ci.imageId === image && ci.status === "ACTIVE" && ci.agentConnected).length;
      if (ready >= cluster.desiredCapacity) break;
      if (clock.now() >= deadline) throw new Error(`${cluster.name}: only ${ready} of ${cluster.desiredCapacity} new instances registered with ECS before the timeout`);
      if (options.signal?.aborted) throw new Stop("interrupted", "interrupted while waiting for the new instances");
      await clock.sleep(REGISTRATION_POLL_MS);
    }
    // capacityProviders: services naming the old generation's provider follow the new one first.
    if (cluster.capacityProviders) await followGeneration(environment, cluster, access.clients, image, options, false);
    const arns = drainable.get(cluster.name)!;
    log.info(`${cluster.name}: ${arns.length} old instance(s) set DRAINING`, { env: environment.name, cluster: cluster.name, instances: arns.length });
    await setContainerInstanceStatus(access.clients.ecs, cluster.ecsClusterName, arns, "DRAINING");
  }
}

/** Waiting this much longer than the boot grace period for a replacement to register is no stall. */
const BOOT_STALL_MARGIN_MS = 5 * 60_000;

/**
 * The watch of the tasks moving (and of new instances joining), with the boot check on every
 * snapshot. Its stall limit is at least the longest boot grace period plus BOOT_STALL_MARGIN_MS:
 * while an instance may still be booting, no progress is no stall.
 */
async function watchTasks(environment: Environment, access: EnvironmentAccess, options: RolloutOptions, targets: ReadonlyMap<string, Pin>, boots: BootCheck, alarms?: AlarmCheck) {
  const byName = new Map(environment.clusters.map((c) => [c.name, c]));
  try {
    return await watchMigration({
      clients: access.clients,
      clock: options.clock,
      clusters: environment.clusters.map((c) => ({ name: c.name, ecsClusterName: c.ecsClusterName, targetImageIds: [targets.get(c.name)!.imageId] })),
      timeoutMs: options.watchTimeoutMs,
      stallAfterMs: Math.max(options.stallAfterMs, ...environment.clusters.map((c) => c.bootGracePeriodMs + BOOT_STALL_MARGIN_MS)),
      signal: options.signal,
      onSnapshot: !alarms
        ? (watched, snapshot) => boots(byName.get(watched.name)!, watched.targetImageIds[0], snapshot)
        : async (watched, snapshot) => {
            await boots(byName.get(watched.name)!, watched.targetImageIds[0], snapshot);
            // The watched alarms, every 30 s at most: one in ALARM ends the watch (as the boot check's verdicts do).
            const alarm = await alarms();
            if (alarm) throw new Stop("failed", `while the tasks moved: ${alarm.reason}`, alarm.imageFailed);
          },
      onCycle: ({ states }) =>
        options.log.progress([...states].map(([cluster, state]) => progressItem(cluster, state, { label: `${environment.name}/${cluster}`, fields: { env: environment.name } }))),
    });
  } finally {
    options.log.endProgress();
  }
}

/** How often the boot check looks while terraform applies. */
const APPLY_BOOT_POLL_MS = 30_000;

/**
 * Runs `apply` (terraform) while the boot check polls `clusters`. A replace apply creates the
 * new group, and once its instances are InService (which an instance whose ECS agent never
 * registers is) deletes the old one, whose drain hook then waits for room on the new instances:
 * a new instance that does not boot is replaced during the apply, so that room comes. A verdict
 * that ends the wave (systematic failures, too many) stops the polling and is thrown once
 * terraform is done: the apply itself is never cut short. A failed look (AWS) only stops the
 * polling: the watch after the apply looks again.
 */
async function applyCheckingBoots(
  options: RolloutOptions,
  access: EnvironmentAccess,
  targets: ReadonlyMap<string, Pin>,
  clusters: readonly Cluster[],
  boots: BootCheck,
  apply: () => Promise<void>,
): Promise<void> {
  const { clock } = options;
  let applying = true;
  let applied!: () => void;
  const done = new Promise<void>((resolve) => (applied = resolve));
  let verdict: Stop | undefined;
  const poll = async () => {
    while (clusters.length > 0) {
      await Promise.race([clock.sleep(APPLY_BOOT_POLL_MS), done]);
      if (!applying) return;
      try {
        for (const cluster of clusters) {
          const fleet = await takeSnapshot(access.clients, cluster.ecsClusterName, { now: clock.now(), since: clock.now(), instancesOnly: true });
          await boots(cluster, targets.get(cluster.name)!.imageId, fleet);
        }
      } catch (error) {
        if (error instanceof Stop) verdict = error;
        else options.log.warn(`the boot check stopped looking during the apply (the watch looks again after it): ${(error as Error).message}`);
        return;
      }
    }
  };
  const polling = poll();
  try {
    await apply();
  } finally {
    applying = false;
    applied();
    await polling;
  }
  if (verdict) throw verdict;
}

/** The boot check of one snapshot of a cluster rolling to `imageId` (see bootCheck). */
type BootCheck = (cluster: Cluster, imageId: string, fleet: FleetSnapshot) => Promise<void>;

/**
 * The wave's boot check (fleet/boot.ts), one state per cluster across its waits: each new instance
 * that has not registered with ECS within the cluster's bootGracePeriod is named (instance, image,
 * how long it waited) and replaced: terminated in its group with the desired capacity kept, so the
 * group launches another. Failures that are systematic end the wave as the image's failure (a
 * blue-green wave rolls back and rejects it); more replacements than the limit end it failed,
 * with no verdict on the image.
 */
function bootCheck(environment: Environment, access: EnvironmentAccess, options: RolloutOptions, report: WaveReport): BootCheck {
  const states = new Map<string, BootState>();
  const env = environment.name;
  return async (cluster, imageId, fleet) => {
    const state = stepBoot(states.get(cluster.name), fleet, { imageId, gracePeriodMs: cluster.bootGracePeriodMs, replacementLimit: Math.max(2, cluster.desiredCapacity) });
    states.set(cluster.name, state);
    const { verdict } = state;
    if (verdict.kind === "reject") throw new Stop("failed", `${cluster.name}: ${verdict.reason}`, true);
    if (verdict.kind === "give up") throw new Stop("failed", `${cluster.name}: ${verdict.reason}`);
    if (verdict.kind !== "replace") return;
    for (const failure of verdict.failures) {
      options.log.warn(`${env}: ${cluster.name}: ${failure.instanceId} of ${failure.imageId} did not boot: InService in ${failure.groupName} (${failure.availabilityZone}) but not registered with ECS after ${elapsedText(failure.waitedMs)} (bootGracePeriod ${elapsedText(cluster.bootGracePeriodMs)}): replacing it`, {
        env,
        cluster: cluster.name,
        instance: failure.instanceId,
        imageId: failure.imageId,
        group: failure.groupName,
        waitedMs: failure.waitedMs,
      });
      try {
        await access.clients.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: failure.instanceId, ShouldDecrementDesiredCapacity: false }));
      } catch (error) {
        // Gone or already terminating (its group or a health check got there first): the group replaces it anyway.
        if ((error as Error).name !== "ValidationError") throw error;
        options.log.warn(`${env}: ${cluster.name}: ${failure.instanceId}: ${(error as Error).message}`, { env, cluster: cluster.name, instance: failure.instanceId });
      }
      report.bootFailures.push(failure);
    }
  };
}

/**
 * Clusters with a retiring generation go back to it, in an order that a Ctrl-C (or a crash) at
 * any point leaves resumable (state.ts takes each intermediate state): first the pins, back to
 * the retiring image with the new one recorded as rejected, so that no later run drains anything
 * onto it again; then the old instances ACTIVE; then an apply that removes the new generation
 * (its drain hook moves the tasks back). Resolves the wave's outcome: "rolled back"; "failed"
 * when there was nothing to roll back or the rollback failed; "interrupted" (the next run
 * finishes it).
 */
async function rollBack(
  environment: Environment,
  options: RolloutOptions,
  access: EnvironmentAccess,
  report: WaveReport,
  pins: Pins,
  writeClusterPins: (pins: Pins, changes: ReadonlyMap<string, ClusterPins>, why: string) => Promise<void>,
  applyPins: (purpose: string) => Promise<void>,
  boots: BootCheck,
  refreshSizes: Map<string, GroupCapacity>,
): Promise<"rolled back" | "failed" | "interrupted"> {
  const { clock, log } = options;
  const env = environment.name;
  const rolling = environment.clusters.filter((c) => pins[env][c.name].retiring);
  if (rolling.length === 0) {
    log.warn(`${env}: ${report.reason}; no old generation is kept (strategy replace), so nothing can be rolled back`, { env });
    return "failed";
  }
  const interrupted = (what: string) => {
    report.reason = `${report.reason}; the rollback was interrupted ${what} (run amiroll rollout again to finish it)`;
    return "interrupted" as const;
  };
  // Ctrl-C before anything was rolled back: the next run judges the image again.
  if (options.signal?.aborted) return interrupted("before it began");
  log.warn(`${env}: rolling back: ${report.reason}`, { env });
  const started = clock.now();
  try {
    const at = new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
    const changes = new Map(rolling.map((c) => [c.name, { current: pins[env][c.name].retiring!, rejected: { imageId: pins[env][c.name].current.imageId, reason: report.reason ?? "the wave failed", at } }]));
    await writeClusterPins(pins, changes, `roll back to ${rolling.map((c) => pins[env][c.name].retiring!.imageId).join(", ")}`);
    report.rejected = Object.fromEntries([...changes].map(([c, p]) => [c, p.rejected.imageId]));
    options.checkpoint?.(env, "rollback:pinned");
    if (options.signal?.aborted) return interrupted("after the pins were written");
    for (const cluster of rolling) await reactivateOld(env, cluster, access, options, pins[env][cluster.name].retiring!.imageId);
    // capacityProviders: the default and the services back on the old provider before the apply takes the new one out.
    for (const cluster of rolling.filter((c) => c.capacityProviders)) await followGeneration(environment, cluster, access.clients, pins[env][cluster.name].retiring!.imageId, options, true);
    options.checkpoint?.(env, "rollback:reactivated");
    if (options.signal?.aborted) return interrupted("after the old instances were set ACTIVE");
    const refreshing = rolling.filter((c) => c.strategy === "refresh");
    await applyPins(refreshing.length === rolling.length ? "roll back: the launch template back to the old image" : "roll back: remove the new generation");
    // Refresh: the launch template has the old image again; the instances already replaced go back in batches.
    for (const cluster of refreshing) {
      await refreshCluster(environment, access, options, cluster, pins[env][cluster.name].retiring!.imageId, boots, refreshSizes);
    }
    log.warn(`${env}: rolled back; ${refreshing.length === rolling.length ? "every instance runs the old image again" : "the old generation serves as before"}`, { env });
    return "rolled back";
  } catch (error) {
    if (isInterruption(error, options.signal)) return interrupted(`(${(error as Error).message})`);
    report.reason = `${report.reason}; the rollback did not finish: ${(error as Error).message} (run amiroll rollout again to finish it)`;
    return "failed";
  } finally {
    report.phases.push({ step: "rollback", ms: clock.now() - started });
  }
}

/**
 * Verify's answer to an image shown to fail (a crash loop, a gate): as a rollback does, the pins
 * first, the image recorded as rejected (a blue-green cluster pinned back to its retiring
 * generation), so that no later run drains anything onto it, no environment promotes it and no
 * bump pins it again; then the old instances ACTIVE again and the rejected generation's set
 * DRAINING, so that the old capacity serves and no task is placed on the failed image. Verify runs
 * no terraform: the pins now ask for the rejected generation's removal, which the next (reviewed)
 * apply does. A cluster with no old generation (replace) keeps its pin, its image rejected.
 * Resolves "rolled back" when an old generation serves again, "failed" when none was kept (or the
 * rejection did not finish), "interrupted" when Ctrl-C came before the pins (nothing rejected) or
 * after them.
 */
async function rejectVerified(
  environment: Environment,
  options: RolloutOptions,
  access: EnvironmentAccess,
  report: WaveReport,
  pins: Pins,
  writeClusterPins: (pins: Pins, changes: ReadonlyMap<string, ClusterPins>, why: string) => Promise<void>,
): Promise<"rolled back" | "failed" | "interrupted"> {
  const { clock, log } = options;
  const env = environment.name;
  const interrupted = (what: string) => {
    report.reason = `${report.reason}; interrupted ${what}`;
    return "interrupted" as const;
  };
  // Ctrl-C before anything was recorded: the next run judges the image again.
  if (options.signal?.aborted) return interrupted("before the image was rejected");
  const started = clock.now();
  const at = new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
  const rolling = environment.clusters.filter((c) => pins[env][c.name].retiring);
  const changes = new Map<string, ClusterPins>(
    environment.clusters.map((c) => {
      const pin = pins[env][c.name];
      const rejected = { imageId: pin.current.imageId, reason: report.reason ?? "verify failed", at };
      return [c.name, pin.retiring ? { current: pin.retiring, rejected } : { current: pin.current, rejected }];
    }),
  );
  try {
    await writeClusterPins(pins, changes, `reject ${environment.clusters.map((c) => pins[env][c.name].current.imageId).join(", ")}${rolling.length > 0 ? `; back to ${rolling.map((c) => pins[env][c.name].retiring!.imageId).join(", ")}` : ""}`);
    report.rejected = Object.fromEntries(environment.clusters.map((c) => [c.name, pins[env][c.name].current.imageId]));
    options.checkpoint?.(env, "rollback:pinned");
    if (options.signal?.aborted) return interrupted(`after the pins were written (amiroll rollout --from ${env} --to ${env} finishes the rollback)`);
    for (const cluster of rolling) {
      const pin = pins[env][cluster.name];
      const fleet = await reactivateOld(env, cluster, access, options, pin.retiring!.imageId);
      const failed = fleet.containerInstances.filter((ci) => ci.imageId === pin.current.imageId && ci.status === "ACTIVE").map((ci) => ci.arn);
      if (failed.length > 0) {
        log.info(`${cluster.name}: ${failed.length} instance(s) of the rejected ${pin.current.imageId} set DRAINING (their tasks move back to the old generation)`, { env, cluster: cluster.name });
        await setContainerInstanceStatus(access.clients.ecs, cluster.ecsClusterName, failed, "DRAINING");
      }
    }
    options.checkpoint?.(env, "rollback:reactivated");
    const kept = environment.clusters.filter((c) => !pins[env][c.name].retiring);
    if (kept.length > 0) {
      log.warn(`${env}: ${kept.map((c) => `${c.name}: ${pins[env][c.name].current.imageId}`).join(", ")} rejected; no old generation is kept (strategy replace), so nothing can be rolled back: bump to another image (amiroll bump --env ${env} --to AMI_ID)`, { env });
    }
    if (rolling.length === 0) return "failed";
    log.warn(`${env}: rolled back: the old generation serves again; the next apply (amiroll apply --env ${env}) removes the rejected one`, { env });
    return "rolled back";
  } catch (error) {
    if (isInterruption(error, options.signal)) return interrupted(`(${(error as Error).message})`);
    report.reason = `${report.reason}; the rejection did not finish: ${(error as Error).message} (amiroll rollout --from ${env} --to ${env} finishes the rollback)`;
    return "failed";
  } finally {
    report.phases.push({ step: "rollback", ms: clock.now() - started });
  }
}
