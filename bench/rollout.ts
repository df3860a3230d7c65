/**
 * `npm run bench:rollout`: how close `amiroll rollout` comes to what the simulated fleet allows,
 * and how it compares with the rolls a user would pick instead.
 *
 * For each strategy (replace, blue-green, refresh) and fleet size (6, 60, 600 instances, about 10
 * tasks each) the same simulated world is rolled onto a new image (refresh in batches of a tenth
 * of the group, as many added first: rollout-world.ts, REFRESH_BATCH). The rollout's makespan (virtual time)
 * is divided by two things: the critical path of that very run (critical-path.ts: the durations
 * the sim sampled, for boots, registrations, task starts, health graces, task stops and
 * shutdowns, chained in the strategy's order with every wait taken out), and a naive bound from
 * the sim's constants before jitter (one instance replaced, no waiting anywhere).
 *
 * Beside it, on the same world (replace's: one group, its drain hook): an ASG instance refresh
 * (the group's launch template on the new image, StartInstanceRefresh at MinHealthyPercentage 90
 * and 100, DescribeInstanceRefreshes until it is done) and a classic serial n+1 roll. For every
 * run: makespan, zero-downtime violations, and the API calls of the roll (settling excluded) per
 * replaced instance with the top operations.
 *
 * Targets (makespan at most 1.05x the critical path, zero violations) are printed as PASS/MISS,
 * never enforced: the exit code is 0 whatever the figures are (1 only when a run cannot complete).
 *
 * Each run is a child process of this same file (`--child rollout <strategy> <n>`,
 * `--child refresh <min healthy %> <n>` or `--child serial <n>`), so that its wall time and peak
 * RSS are its own; it prints one JSON line.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { resolve } from "node:path";
import {
  DescribeInstanceRefreshesCommand,
  SetDesiredCapacityCommand,
  StartInstanceRefreshCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { rolloutOptions } from "../scripts/commands/rollout";
import { setContainerInstanceStatus } from "../scripts/fleet/drain";
import { rollout } from "../scripts/rollout/rollout";
import { DEFAULT_CANARY_SOAK_MS as CANARY_SOAK_MS } from "../scripts/config/canary";
import type { WaveReport } from "../scripts/rollout/rollout";
import type { SimApiCall } from "../scripts/sim/clients";
import type { Simulation } from "../scripts/sim/scenarios";
import { DEFAULT_BEHAVIOUR, type World } from "../scripts/sim/world";
import type { CapacityStrategy } from "../constructs/ecs-cluster";
import { countFlag } from "./args";
import { BENCH_CANARY, type BenchVariant, NEW_AMI, REFRESH_BATCH, TASKS_PER_INSTANCE, TASKS_PER_SERVICE, buildWorld } from "./rollout-world";
import { criticalPath, type RefreshBatchSamples, refreshPath, type ServiceMoves, type StagePath, type StageSamples } from "./critical-path";
import { lagsText, waveLags } from "./lags";
import { hideWarnings } from "../scripts/core/warnings";

// The AWS SDK's Node-version notice, hidden as the CLI hides it.
hideWarnings();

const STRATEGIES: readonly CapacityStrategy[] = ["replace", "blue-green", "refresh"];
/** A strategy with one of its options (issue 20), in the tables beside the three: the canary slice (BENCH_CANARY), capacity providers. */
const VARIANTS: readonly { readonly strategy: CapacityStrategy; readonly variant: BenchVariant }[] = [
  { strategy: "blue-green", variant: "canary" },
  { strategy: "refresh", variant: "canary" },
  { strategy: "blue-green", variant: "providers" },
];
/** The rows of the makespan table: the strategies, then the variants (`blue-green+canary`). */
const ROWS: readonly { readonly name: string; readonly strategy: CapacityStrategy; readonly variant?: BenchVariant }[] = [
  ...STRATEGIES.map((strategy) => ({ name: strategy, strategy })),
  ...VARIANTS.map((v) => ({ name: `${v.strategy}+${v.variant}`, ...v })),
];
/** Fleet sizes: 6, 60 and 600, or the one `-- --instances N` names. */
const SIZES = process.argv[2] === "--child" ? [] : process.argv.includes("--instances") ? [countFlag(process.argv.slice(2), "instances", 6, "npm run bench:rollout [-- --instances N]")] : [6, 60, 600];
/** Instance refresh's MinHealthyPercentage settings compared. */
const REFRESH_MIN_HEALTHY = [90, 100];
/** Targets: makespan / critical path, and violations. */
const TARGET_RATIO = 1.05;
const TARGET_VIOLATIONS = 0;

/** How often the serial roll looks at the world (as terraform's and the sim's own waits do). */
const SERIAL_POLL_MS = 5_000;
/** How often the instance refresh's caller asks DescribeInstanceRefreshes (the makespan is the refresh's own end time). */
const REFRESH_POLL_MS = 30_000;
/** How many operations the call budget names. */
const TOP_OPERATIONS = 4;

// ---------------------------------------------------------------------------------------------
// The naive bound, from the sim's behaviour constants (seconds, before jitter).

const B = DEFAULT_BEHAVIOUR;
const BOUND_S = B.bootSeconds + B.agentRegistrationSeconds + B.taskStartSeconds + B.healthGraceSeconds + B.taskStopSeconds;


/**
 * Where the time went, from `start` (virtual ms): the last new instance registered with ECS, the
 * last service task on an old instance stopped, the last old instance's lifecycle hook released
 * (the drain hook checks every recheck interval, or every 5 s while an instance is due to be empty), the last old instance terminated.
 */
function milestones(sim: Simulation, start: number): string {
  const w = sim.world;
  const at = (ms: number) => (Number.isFinite(ms) ? `+${Math.round((ms - start) / 1000)}s` : "-");
  const cis = [...w.containerInstances.values()];
  const oldArns = new Set(cis.filter((ci) => ci.imageId !== NEW_AMI).map((ci) => ci.arn));
  const daemons = new Set([...w.services.values()].filter((s) => s.schedulingStrategy === "DAEMON").map((s) => s.name));
  const registered = Math.max(...cis.filter((ci) => ci.imageId === NEW_AMI).map((ci) => ci.registeredAt));
  const moved = Math.max(
    ...[...w.tasks.values()].filter((t) => oldArns.has(t.containerInstanceArn) && t.serviceName && !daemons.has(t.serviceName) && t.stoppedAt !== undefined && t.stoppedAt >= start).map((t) => t.stoppedAt!),
  );
  // The world's log lines are "<ISO time> <message>".
  const last = (pattern: RegExp) => Math.max(...w.log.filter((l) => pattern.test(l)).map((l) => Date.parse(l.slice(0, l.indexOf(" ")))).filter((t) => t >= start));
  return `new registered ${at(registered)}, old tasks stopped ${at(moved)}, hooks released ${at(last(/ lifecycle action /))}, old terminated ${at(last(/ terminated$/))}`;
}

// ---------------------------------------------------------------------------------------------
// What the sim sampled: the critical path's inputs, read from the world's records and event log.

/** Per instance, from the world's event log ("<ISO time> <message>"): InService, hook released, terminated. */
function instanceTimes(w: World): Map<string, { inService?: number; released?: number; terminated?: number }> {
  const times = new Map<string, { inService?: number; released?: number; terminated?: number }>();
  for (const line of w.log) {
    const m = / (i-[0-9a-f]+) (InService in |lifecycle action |terminated$)/.exec(line);
    if (!m) continue;
    const at = Date.parse(line.slice(0, line.indexOf(" ")));
    const entry = times.get(m[1]) ?? {};
    if (m[2] === "InService in ") entry.inService = at;
    else if (m[2] === "lifecycle action ") entry.released = at;
    else entry.terminated = at;
    times.set(m[1], entry);
  }
  return times;
}

/** Where the wave's (first) `step` phase ran, in virtual ms. */
function phaseSpan(wave: WaveReport, step: string): { from: number; to: number } | undefined {
  let at = wave.startedAt;
  for (const p of wave.phases) {
    if (p.step === step) return { from: at, to: at + p.ms };
    at += p.ms;
  }
  return undefined;
}

/**
 * Where refresh's batches ran: its refresh phase, and before it the canary phase (the first batch,
 * when the cluster has a canary slice: the report counts its time apart, before the refresh's).
 */
function refreshSpan(wave: WaveReport): { from: number; to: number } | undefined {
  const refresh = phaseSpan(wave, "refresh");
  const canary = phaseSpan(wave, "canary");
  return refresh && canary ? { from: Math.min(canary.from, refresh.from), to: refresh.to } : refresh;
}

/** One stage of the roll, between `from` and `to` (virtual ms), as the sim sampled it. */
function sampleStage(
  w: World,
  times: ReturnType<typeof instanceTimes>,
  stage: Pick<StageSamples, "name" | "drainAfter" | "terminate" | "policyMs">,
  from: number,
  to: number,
  /** Only these instances' terminations are the stage's (refresh: its own batch's, and only where the roll waits for them). */
  terminatedOnly?: ReadonlySet<string>,
  /**
   * Where an old instance's shutdown begins when no drain hook released it (capacity providers: no
   * hook, ECS's managed draining found it empty): when terraform began deleting its group, the
   * retire apply's start (the sim's terraform deletes it at once). Without it, no shutdown is counted.
   */
  unhookedShutdownFrom?: number,
): StageSamples {
  // Launches, starts and stops in [from, to); terminations in [from, to] (the stage waits for them).
  const inside = (at: number | undefined) => at !== undefined && at >= from && at < to;
  // New instances: launched in the stage and registered with ECS (one that never registers does not hold the roll up).
  const newIndex = new Map<string, number>();
  const newInstances: StageSamples["newInstances"][number][] = [];
  for (const i of w.instances.values()) {
    const inService = times.get(i.id)?.inService;
    const ci = i.containerInstanceArn ? w.containerInstances.get(i.containerInstanceArn) : undefined;
    if (!inside(i.launchedAt) || inService === undefined || !ci) continue;
    newIndex.set(i.id, newInstances.length);
    newInstances.push({ bootMs: inService - i.launchedAt, registrationMs: ci.registeredAt - inService });
  }
  const terminatedIndex = new Map<string, number>();
  const terminated: { shutdownMs: number }[] = [];
  for (const [id, t] of times) {
    if (t.terminated === undefined || t.terminated < from || t.terminated > to || (terminatedOnly && !terminatedOnly.has(id))) continue;
    terminatedIndex.set(id, terminated.length);
    // Without a hook there is no release: count no shutdown rather than guess one (but see unhookedShutdownFrom).
    terminated.push({ shutdownMs: t.released !== undefined ? t.terminated! - t.released : unhookedShutdownFrom !== undefined && t.terminated! >= unhookedShutdownFrom ? t.terminated! - unhookedShutdownFrom : 0 });
  }
  const daemons = new Set([...w.services.values()].filter((s) => s.schedulingStrategy === "DAEMON").map((s) => `${s.clusterName}/${s.name}`));
  const services = new Map<string, { started: ServiceMoves["started"][number][]; stopped: ServiceMoves["stopped"][number][] }>();
  for (const t of w.tasks.values()) {
    const key = `${t.clusterName}/${t.serviceName}`;
    if (!t.serviceName || daemons.has(key)) continue;
    const moves = services.get(key) ?? { started: [], stopped: [] };
    services.set(key, moves);
    const ec2 = w.containerInstances.get(t.containerInstanceArn)?.ec2InstanceId ?? "";
    // A replacement: started in the stage, healthy, and still wanted at its end.
    if (inside(t.createdAt) && t.startedAt !== undefined && t.healthyAt !== undefined && (t.stoppingAt === undefined || t.stoppingAt > to)) {
      moves.started.push({ instance: newIndex.get(ec2), startMs: t.startedAt - t.createdAt, graceMs: t.healthyAt - t.startedAt });
    } else if (t.createdAt < from && inside(t.stoppingAt) && t.stoppedAt !== undefined) {
      moves.stopped.push({ stopMs: t.stoppedAt - t.stoppingAt!, terminated: terminatedIndex.get(ec2) });
    }
  }
  return { ...stage, newInstances, terminated, services: [...services.values()] };
}

/**
 * The stages of a wave, from its phases: replace proves the image on a canary (its first apply
 * and the canary step: registered barrier, the soak as policy) then replaces the group (its last
 * apply: terraform deletes the old group once the new one is InService, the drain hook releases
 * each old instance once empty); blue-green adds the new generation, drains and retires the old
 * one (its first apply to its last: registered barrier, the old generation retired once every task
 * moved).
 */
function waveStages(w: World, strategy: CapacityStrategy, wave: WaveReport, canarySoakMs: number): StageSamples[] {
  const times = instanceTimes(w);
  const spans: { step: string; from: number; to: number }[] = [];
  let at = wave.startedAt;
  for (const p of wave.phases) {
    spans.push({ step: p.step, from: at, to: at + p.ms });
    at += p.ms;
  }
  const applies = spans.filter((p) => p.step === "apply");
  if (applies.length === 0) return [];
  const first = applies[0];
  const last = applies[applies.length - 1];
  const canary = spans.find((p) => p.step === "canary");
  if (strategy === "blue-green") {
    const roll = { name: "blue-green", drainAfter: "registered", terminate: "after-all-moved", policyMs: 0 } as const;
    if (!canary) return [sampleStage(w, times, roll, first.from, last.to, undefined, last.from)];
    // A canary slice first: the new generation at the slice's size, as many old instances drained,
    // the soak; then the generation at full size, the rest drained, the old generation retired.
    return [
      sampleStage(w, times, { name: "canary", drainAfter: "registered", terminate: "after-all-moved", policyMs: canarySoakMs }, first.from, canary.to),
      sampleStage(w, times, roll, canary.to, last.to, undefined, last.from),
    ];
  }
  const roll = sampleStage(w, times, { name: "replace", drainAfter: "in-service", terminate: "each-when-empty", policyMs: 0 }, last.from, last.to);
  if (!canary) return [roll];
  return [sampleStage(w, times, { name: "canary", drainAfter: "registered", terminate: "each-when-empty", policyMs: canarySoakMs }, first.from, canary.to), roll];
}

/**
 * Refresh's stages: its batches, one after the other (refresh.ts). A batch begins when the driver
 * raises the group's desired capacity (SetDesiredCapacity) and ends when the next one begins, the
 * last at the end of the refresh phase. In each: the new instances boot and register (the batch
 * waits for every one: registered barrier), then its old instances are set DRAINING, their tasks
 * move, and once every one has stopped the instances are terminated (as blue-green's retire: after
 * all moved). The next batch begins right after the terminations, so a batch's shutdowns overlap
 * the next batch and are not on the path, but for the last batch of old instances: the refresh
 * waits for those to be gone before it ends (or checks the zones). A zone batch (one instance of
 * the new image moved out of the fullest zone after the last old one, when the group's launches
 * left the zones uneven by 2 or more) is a batch of the strategy too, and on the path.
 */
function refreshBatches(w: World, times: ReturnType<typeof instanceTimes>, phase: { from: number; to: number } | undefined): RefreshBatchSamples[] {
  if (!phase) return [];
  const starts = w.calls.filter((c) => (c as SimApiCall).caller === undefined && c.operation === "SetDesiredCapacity" && c.at >= phase.from && c.at <= phase.to).map((c) => c.at);
  // The instances set DRAINING, by time: each batch's.
  const drained: { id: string; at: number }[] = [];
  for (const line of w.log) {
    const m = / (i-[0-9a-f]+) DRAINING$/.exec(line);
    if (m) drained.push({ id: m[1], at: Date.parse(line.slice(0, line.indexOf(" "))) });
  }
  let zones = 0;
  return starts.map((from, k) => {
    const to = starts[k + 1] ?? phase.to;
    const ids = new Set(drained.filter((d) => d.at >= from && d.at < to).map((d) => d.id));
    const zone = ids.size > 0 && [...ids].every((id) => w.instances.get(id)?.imageId === NEW_AMI);
    const stage = { name: zone ? `zone batch ${++zones}` : `batch ${k + 1}`, drainAfter: "registered", terminate: "after-all-moved", policyMs: 0 } as const;
    // Its own old instances' terminations (within its span only when the refresh waited for them: the last batch's).
    return { stage: sampleStage(w, times, stage, from, to, ids), zone };
  });
}

/** The roll's API calls from `from` on (virtual ms): how many, and the operations that made most of them. */
function callBudget(w: World, from: number): { rollCalls: number; topCalls: [string, number][] } {
  const counts = new Map<string, number>();
  let rollCalls = 0;
  for (const c of w.calls) {
    if (c.at < from) continue;
    rollCalls++;
    const op = `${c.service}:${c.operation}`;
    counts.set(op, (counts.get(op) ?? 0) + 1);
  }
  return { rollCalls, topCalls: [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, TOP_OPERATIONS) };
}

// ---------------------------------------------------------------------------------------------
// Children: one rollout, one instance refresh, or one serial n+1 roll.

interface ChildReport {
  readonly tasks: number;
  /** Virtual ms: the makespan as defined in the header, and the whole wave (or the peer's roll). */
  readonly makespanMs: number;
  readonly waveMs: number;
  readonly outcome: string;
  readonly phases: string;
  /** When the last of each thing happened, from the start of the roll (where the time goes). */
  readonly milestones: string;
  /** Per event waited on, possible -> acted on (lags.ts): where the makespan exceeds the critical path. */
  readonly lags?: string;
  readonly violations: number;
  /** The rollout's critical path (critical-path.ts), per stage. */
  readonly criticalPath?: { readonly totalMs: number; readonly stages: readonly StagePath[] };
  /** API calls of the roll itself (settling excluded), and its most frequent operations. */
  readonly rollCalls: number;
  readonly topCalls: readonly [string, number][];
  /** Wall time of building and settling the world (included in wallMs). */
  readonly settleWallMs: number;
  /** API calls the world answered (settle included), and a hash of its event log and calls (determinism across changes). */
  readonly apiCalls?: number;
  readonly logHash?: string;
  readonly wallMs: number;
  readonly maxRssKb: number;
}

type ChildResult = Omit<ChildReport, "wallMs" | "maxRssKb">;

/** The rollout itself, as test/rollout/rollout.test.ts drives it. */
async function rolloutChild(strategy: CapacityStrategy, n: number, variant?: BenchVariant): Promise<ChildResult> {
  const { config, log, world, sim, tasks, cleanup, settleWallMs } = await buildWorld(strategy, n, variant);
  const result = await rollout(rolloutOptions(world, config.environments, log));
  cleanup();
  const wave = result.waves[0];
  // The canary's soak: the config's slice, else replace's default canary's (refresh and blue-green have none without one).
  const slice = config.environments[0].clusters[0].canary;
  const canarySoakMs = slice?.soakMs ?? (strategy === "replace" ? CANARY_SOAK_MS : 0);
  // Makespan: every phase but the window check and the gates (whose soak is 0 here).
  const makespanMs = wave.phases.filter((p) => p.step !== "window" && p.step !== "gates").reduce((ms, p) => ms + p.ms, 0);
  return {
    tasks,
    makespanMs,
    waveMs: wave.endedAt - wave.startedAt,
    outcome: wave.outcome === "done" ? "done" : `${wave.outcome}: ${wave.reason ?? ""}`,
    phases: wave.phases.map((p) => `${p.step} ${Math.round(p.ms / 1000)}s`).join(", "),
    milestones: milestones(sim, wave.startedAt),
    // bench/lags.ts reads a canary phase as replace's: n/a for blue-green's slice.
    lags: strategy === "refresh" || (strategy === "blue-green" && variant === "canary") ? "" : lagsText(waveLags(sim.world, wave, NEW_AMI)),
    violations: sim.world.downtimeViolations().length,
    criticalPath:
      strategy === "refresh"
        ? refreshPath(refreshBatches(sim.world, instanceTimes(sim.world), refreshSpan(wave)), canarySoakMs)
        : criticalPath(waveStages(sim.world, strategy, wave, canarySoakMs)),
    ...callBudget(sim.world, wave.startedAt),
    settleWallMs,
    apiCalls: sim.world.calls.length,
    logHash: logHash(sim),
  };
}

/** The world's event log and API calls, hashed: a change in it is a change in the sim's behaviour. */
function logHash(sim: Simulation): string {
  const hash = createHash("sha256");
  for (const line of sim.world.log) hash.update(`${line}\n`);
  for (const c of sim.world.calls) hash.update(`${c.service} ${c.operation} ${c.at} ${c.throttled}\n`);
  return hash.digest("hex").slice(0, 16);
}

/**
 * An ASG instance refresh of the same world, through the sim's AWS clients: the group's launch
 * template moves to the new image in place (the sim's group carries the image itself), then
 * StartInstanceRefresh with MinHealthyPercentage `minHealthy`, and DescribeInstanceRefreshes every
 * REFRESH_POLL_MS until it succeeds. The group keeps its drain hook, so every instance the refresh
 * terminates is drained by the same Lambda as in a rollout. Makespan: the refresh's start to its
 * own end time (the last old instance terminated, every replacement InService).
 */
async function refreshChild(minHealthy: number, n: number): Promise<ChildResult> {
  const { world, sim, tasks, cleanup, settleWallMs } = await buildWorld("replace", n);
  cleanup(); // the refresh never synthesizes
  const { clock } = world;
  const w = sim.world;
  const group = [...w.groups.values()][0];
  Object.assign(group, { imageId: NEW_AMI });
  const started = clock.now();
  const { InstanceRefreshId } = await sim.clients.autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: group.name, Preferences: { MinHealthyPercentage: minHealthy } }));
  const giveUpAt = started + 48 * 3_600_000;
  for (;;) {
    await clock.sleep(REFRESH_POLL_MS);
    const { InstanceRefreshes } = await sim.clients.autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group.name, InstanceRefreshIds: [InstanceRefreshId!] }));
    const status = InstanceRefreshes?.find((r) => r.InstanceRefreshId === InstanceRefreshId)?.Status;
    if (status === "Successful") break;
    if (status !== "Pending" && status !== "InProgress") throw new Error(`the instance refresh ended ${status}`);
    if (clock.now() > giveUpAt) throw new Error("the instance refresh did not finish in 48 virtual hours");
  }
  const refresh = group.refreshes.find((r) => r.id === InstanceRefreshId)!;
  const ms = refresh.endedAt! - started;
  const left = [...w.instances.values()].filter((i) => i.groupName === group.name && i.imageId !== NEW_AMI && i.state !== "terminated").length;
  return {
    tasks, makespanMs: ms, waveMs: ms, outcome: left === 0 ? "done" : `${left} old instance(s) left`, phases: "",
    milestones: milestones(sim, started), violations: w.downtimeViolations().length, ...callBudget(w, started), settleWallMs,
  };
}

/**
 * The classic serial n+1 roll of the same world, through the sim's AWS clients: a second group
 * on the new image starts empty; for each old instance, one more new instance (SetDesiredCapacity),
 * wait until it registers with ECS, set the old one DRAINING, wait until its service tasks are gone
 * (daemons stay with their host), terminate it with its group decremented (its drain hook finds it
 * empty), and go on with the next while it shuts down. Makespan: first launch to the last old
 * instance terminated. The waits poll the world every SERIAL_POLL_MS.
 */
async function serialChild(n: number): Promise<ChildResult> {
  const { world, sim, cluster, tasks, cleanup, settleWallMs } = await buildWorld("replace", n);
  cleanup(); // the serial roll never synthesizes
  const { clock } = world;
  const w = sim.world;
  const { autoScaling, ecs } = sim.clients;
  const old = [...w.groups.values()][0];
  const fresh = w.createGroup({
    name: `${cluster.ecsClusterName}-serial-${NEW_AMI}`,
    clusterName: old.clusterName,
    imageId: NEW_AMI,
    instanceType: old.instanceType,
    subnets: old.subnets,
    minSize: 0,
    maxSize: n,
    desiredCapacity: 0,
    hooks: old.hooks,
    tags: old.tags,
  });
  const started = clock.now();
  // The old group may shrink below its minimum now: each termination decrements it.
  await autoScaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: old.name, MinSize: 0 }));
  const daemon = (serviceName?: string) => w.services.get(`${cluster.ecsClusterName}/${serviceName}`)?.schedulingStrategy === "DAEMON";
  const registeredNew = () => [...w.containerInstances.values()].filter((ci) => ci.imageId === NEW_AMI && ci.status === "ACTIVE" && ci.agentConnected).length;
  const olds = w.activeInstances(old);
  for (let k = 0; k < olds.length; k++) {
    const instance = olds[k];
    await autoScaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: fresh.name, DesiredCapacity: k + 1 }));
    while (registeredNew() < k + 1) await clock.sleep(SERIAL_POLL_MS);
    const ci = w.containerInstances.get(instance.containerInstanceArn!)!;
    await setContainerInstanceStatus(ecs, cluster.ecsClusterName, [ci.arn], "DRAINING");
    while (w.tasksOnInstance(ci.arn).some((t) => t.lastStatus !== "STOPPED" && !daemon(t.serviceName))) await clock.sleep(SERIAL_POLL_MS);
    await autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instance.id, ShouldDecrementDesiredCapacity: true }));
  }
  while (olds.some((i) => i.state !== "terminated")) await clock.sleep(SERIAL_POLL_MS);
  const ms = clock.now() - started;
  return { tasks, makespanMs: ms, waveMs: ms, outcome: "done", phases: "", milestones: "", violations: w.downtimeViolations().length, ...callBudget(w, started), settleWallMs };
}

async function child(args: readonly string[]): Promise<void> {
  const started = performance.now();
  const [kind, a, b, c] = args;
  const report =
    kind === "rollout"
      ? await rolloutChild(a as CapacityStrategy, Number(b), c as BenchVariant | undefined)
      : kind === "refresh"
        ? await refreshChild(Number(a), Number(b))
        : kind === "serial"
          ? await serialChild(Number(a))
          : undefined;
  if (!report) throw new Error(`usage: rollout.ts --child rollout <strategy> <n> [canary|providers] | --child refresh <min healthy %> <n> | --child serial <n>`);
  const full: ChildReport = { ...report, wallMs: performance.now() - started, maxRssKb: process.resourceUsage().maxRSS };
  process.stdout.write(`${JSON.stringify(full)}\n`);
}

// ---------------------------------------------------------------------------------------------
// The parent: runs every case in a fresh process, then prints the table.

function runChild(args: readonly string[]): ChildReport | { failed: string } {
  const run = spawnSync(process.execPath, ["--import", "tsx", __filename, "--child", ...args], {
    cwd: resolve(__dirname, ".."),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) return { failed: `exit ${run.status ?? run.signal}: ${run.stderr.trim().split("\n").slice(-3).join(" | ")}` };
  return JSON.parse(run.stdout.trim().split("\n").pop() ?? "") as ChildReport;
}

const sec = (ms: number) => `${Math.round(ms / 1000)} s`;
const pass = (ok: boolean) => (ok ? "PASS" : "MISS");
const failed = (r: ChildReport | { failed: string }): r is { failed: string } => "failed" in r;

/** The roll's calls per replaced instance, and its top operations per replaced instance. */
function budget(r: ChildReport, n: number): { perInstance: string; top: string } {
  return {
    perInstance: (r.rollCalls / n).toFixed(1),
    top: r.topCalls.map(([op, count]) => `${op.split(":")[1]} ${(count / n).toFixed(1)}`).join(", "),
  };
}

function stageText(p: StagePath): string {
  const parts = [`barrier ${sec(p.barrierMs)}`, `move ${sec(p.moveMs)}`];
  if (p.shutdownMs > 0) parts.push(`shutdown ${sec(p.shutdownMs)}`);
  if (p.policyMs > 0) parts.push(`soak ${sec(p.policyMs)}`);
  return `${p.name} ${sec(p.totalMs)} (${parts.join(" + ")})`;
}

/** Refresh's batches, summed up: how many, their range of barrier and move, the last old batch's shutdown, the zone batches. */
function batchesText(stages: readonly StagePath[]): string {
  const range = (values: number[]) => (Math.min(...values) === Math.max(...values) ? sec(values[0]) : `${Math.round(Math.min(...values) / 1000)}-${sec(Math.max(...values))}`);
  const part = (list: readonly StagePath[], what: string) => {
    if (list.length === 0) return [];
    const shutdown = list.filter((p) => p.shutdownMs > 0).map((p) => p.shutdownMs);
    return [
      `${list.length} ${what}${list.length === 1 ? "" : "es"} ${sec(list.reduce((ms, p) => ms + p.totalMs, 0))} (each ${range(list.map((p) => p.totalMs))}: barrier ${range(list.map((p) => p.barrierMs))} + move ${range(list.map((p) => p.moveMs))}` +
        `${shutdown.length > 0 ? `; the last one's shutdown ${sec(shutdown[0])}` : ""})`,
    ];
  };
  const soaked = stages[0]?.policyMs > 0 ? `; batch 1 is the canary slice: ${sec(stages[0].totalMs)}, its soak ${sec(stages[0].policyMs)} from its last replacement healthy` : "";
  return [...part(stages.filter((p) => !p.name.startsWith("zone")), "batch"), ...part(stages.filter((p) => p.name.startsWith("zone")), "zone batch")].join(" then ") + soaked;
}

interface Run {
  readonly label: string;
  readonly args: readonly string[];
}

function runsOf(n: number): Run[] {
  return [
    ...ROWS.map((row) => ({ label: `amiroll ${row.name}`, args: ["rollout", row.strategy, String(n), ...(row.variant ? [row.variant] : [])] })),
    ...REFRESH_MIN_HEALTHY.map((pct) => ({ label: `instance refresh ${pct}%`, args: ["refresh", String(pct), String(n)] })),
    { label: "serial n+1", args: ["serial", String(n)] },
  ];
}

function parent(): void {
  console.log("bench:rollout: simulated makespan of `amiroll rollout` against its critical path, and the rolls a user would pick instead");
  console.log(`machine: ${cpus().length} cpus (${cpus()[0]?.model.trim()}), load ${loadavg().map((l) => l.toFixed(2)).join(" ")} at the start, node ${process.version}`);
  console.log(
    `sim constants (s, each +/-${B.jitter * 100}% jitter): boot ${B.bootSeconds}, agent registration ${B.agentRegistrationSeconds}, ` +
      `task start ${B.taskStartSeconds}, health grace ${B.healthGraceSeconds}, task stop ${B.taskStopSeconds}, shutdown ${B.shutdownSeconds}`,
  );
  console.log(
    `world: one cluster of n m7g.xlarge over 3 zones; ~${TASKS_PER_INSTANCE} tasks per instance (services of ${TASKS_PER_SERVICE}, ` +
      "minimumHealthyPercent 100, plus the sim's demo services and a daemon); soak 0, no smoke, no window; a drain hook on every group",
  );
  console.log("critical path: from the durations this very run sampled (bench/critical-path.ts), every wait (polls, hook rechecks,");
  console.log("  terraform's capacity checks) taken out, the strategy's order kept, per stage: barrier (every new instance InService for");
  console.log("  replace's apply, registered for the canary and blue-green) + move (the critical task: its instance's registration, start,");
  console.log("  health grace, stop) + shutdown (its old instance's; blue-green retires the old generation once its last task stopped, as");
  console.log(`  the watch verifies) + the canary's soak (${CANARY_SOAK_MS / 1000} s from the last replacement healthy: policy, not physics). Replace's path`);
  console.log("  is canary + replace, one after the other. Refresh's is its batches one after the other, each behind a registered");
  console.log("  barrier, its old instances terminated once their last task stopped; a batch's shutdowns overlap the next batch, but");
  console.log(`  the last old batch's (the refresh waits for them). Refresh's batch here: ${REFRESH_BATCH} of the group, as many new instances first.`);
  console.log(`variants (issue 20): +canary sets the canary slice ${JSON.stringify(BENCH_CANARY)} on the environment (1, 6, 60 instances at 6, 60, 600);`);
  console.log("  blue-green+canary's path is a canary stage (the new generation at the slice's size behind a registered barrier, as many");
  console.log("  old instances drained, their tasks moved, the soak from the last replacement healthy) then blue-green's (the rest of the");
  console.log("  new generation, the rest drained, the old generation retired once every task left it); refresh+canary's is refresh's");
  console.log("  batches with the slice's soak in batch 1 (its old instances terminated after it). +providers sets capacityProviders on the");
  console.log("  cluster (every other service names the generation's provider, the others use the cluster default; the sim does not model");
  console.log("  managed scaling): the services move to the new provider by new deployments, then the drain; its path is blue-green's,");
  console.log("  an old instance's shutdown from the retire apply's start (no drain hook there to release it: managed draining found it empty).");
  console.log(`naive bound: boot + registration + task start + health grace + task stop, constants before jitter = ${BOUND_S} s (one instance)`);
  console.log("columns:");
  console.log("  makespan   rollout phases summed, window check and gates excluded (replace: apply, canary, pins, apply; blue-green:");
  console.log("             pins, apply, [canary,] drain, watch, pins, apply; refresh: pins, apply, [canary,] refresh)");
  console.log(`  /crit      makespan / critical path (target <= ${TARGET_RATIO.toFixed(2)}); /naive makespan / naive bound`);
  console.log("  viol       zero-downtime violations (target 0)");
  console.log("  calls/inst API calls of the roll (settling excluded; the driver's and the drain hook's) per replaced instance");
  console.log("  wall, RSS  the child process: world build and settle included");
  console.log("");

  const results = new Map<number, { run: Run; r: ChildReport | { failed: string } }[]>();
  for (const n of SIZES) {
    const list: { run: Run; r: ChildReport | { failed: string } }[] = [];
    for (const run of runsOf(n)) {
      process.stderr.write(`bench:rollout: ${run.label}, ${n} instances...\n`);
      list.push({ run, r: runChild(run.args) });
    }
    results.set(n, list);
  }

  const header = ["strategy", "inst", "tasks", "makespan", "crit path", "/crit", "", "naive", "/naive", "viol", "", "calls/inst", "wall s", "RSS MB"];
  const widths = [20, 5, 6, 9, 9, 6, 4, 6, 6, 5, 4, 10, 7, 7];
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" ");
  console.log(line(header));
  const notes: string[] = [];
  for (const { name: strategy, strategy: base } of ROWS) {
    for (const n of SIZES) {
      const { r } = results.get(n)!.find((x) => x.run.label === `amiroll ${strategy}`)!;
      if (failed(r)) {
        console.log(line([strategy, String(n), "-", "failed", ...Array(10).fill("")]));
        notes.push(`${strategy} ${n}: the run failed (${r.failed})`);
        continue;
      }
      const crit = r.criticalPath!.totalMs;
      const ratio = r.makespanMs / crit;
      console.log(
        line([
          strategy, String(n), String(r.tasks), sec(r.makespanMs), sec(crit), `${ratio.toFixed(2)}x`, pass(ratio <= TARGET_RATIO),
          `${BOUND_S} s`, `${(r.makespanMs / (BOUND_S * 1000)).toFixed(2)}x`, String(r.violations), pass(r.violations <= TARGET_VIOLATIONS),
          budget(r, n).perInstance, (r.wallMs / 1000).toFixed(1), String(Math.round(r.maxRssKb / 1024)),
        ]),
      );
      if (r.outcome !== "done") notes.push(`${strategy} ${n}: wave ${r.outcome}`);
      notes.push(`${strategy} ${n}: critical path ${base === "refresh" ? batchesText(r.criticalPath!.stages) : r.criticalPath!.stages.map(stageText).join(" then ")}`);
      notes.push(`${strategy} ${n}: phases ${r.phases}; milestones ${r.milestones}; settle wall ${(r.settleWallMs / 1000).toFixed(1)} s`);
      if (r.lags) notes.push(`${strategy} ${n}: lags ${r.lags}`);
    }
  }
  console.log("");
  for (const note of notes) console.log(note);
  console.log("milestones: from the start of the wave, when the last new instance registered, the last service task left an old one, the");
  console.log("last old instance's terminating hook was released (the drain hook rechecks every 30 s, every 5 s while an instance is due to be empty,");
  console.log("when its stops are due to end while only stopping tasks hold it)");
  console.log("and the last old instance terminated");
  console.log("lags: per event the roll waits on, from the moment it was possible to the moment the driver, the drain hook or");
  console.log("terraform's stand-in acted on it (bench/lags.ts); none of them is in the critical path");

  console.log("");
  console.log("the same world rolled each way: amiroll's three strategies and their variants; an ASG instance refresh of the group (launch template on the new");
  console.log(`image, StartInstanceRefresh at MinHealthyPercentage 90 / 100, DescribeInstanceRefreshes every ${REFRESH_POLL_MS / 1000} s; makespan to the`);
  console.log("refresh's own end time), the same drain hook on the group; a serial n+1 roll (one new instance, drain one old, terminate it).");
  console.log("x amiroll = makespan / the fastest of amiroll's three strategies with 0 violations at that size; calls per replaced instance, top operations");
  const peerHeader = ["inst", "roll", "makespan", "x amiroll", "viol", "calls", "calls/inst", "  top operations per replaced instance"];
  const peerWidths = [5, 28, 9, 9, 5, 7, 10, 0];
  const peerLine = (cells: readonly string[]) => cells.map((c, i) => (i === 1 || i === 7 ? c.padEnd(peerWidths[i]) : c.padStart(peerWidths[i]))).join(" ");
  console.log(peerLine(peerHeader));
  const verdicts: string[] = [];
  for (const n of SIZES) {
    const list = results.get(n)!;
    const safe = (prefix: string) =>
      list
        .filter((x) => x.run.label.startsWith(prefix) && !failed(x.r) && x.r.violations === 0 && x.r.outcome === "done")
        .sort((a, b) => (a.r as ChildReport).makespanMs - (b.r as ChildReport).makespanMs)[0];
    // The three strategies as they come (the variants are compared with the same one).
    const best = list
      .filter((x) => STRATEGIES.some((st) => x.run.label === `amiroll ${st}`) && !failed(x.r) && x.r.violations === 0 && x.r.outcome === "done")
      .sort((a, b) => (a.r as ChildReport).makespanMs - (b.r as ChildReport).makespanMs)[0];
    const bestMs = best && !failed(best.r) ? best.r.makespanMs : undefined;
    for (const { run, r } of list) {
      if (failed(r)) {
        console.log(peerLine([String(n), run.label, "failed", "", "", "", "", `  ${r.failed}`]));
        continue;
      }
      const b = budget(r, n);
      const x = bestMs === undefined ? "-" : `${(r.makespanMs / bestMs).toFixed(1)}x`;
      console.log(peerLine([String(n), run.label, sec(r.makespanMs), x, String(r.violations), String(r.rollCalls), b.perInstance, `  ${b.top}`]));
      if (r.outcome !== "done") verdicts.push(`${run.label} ${n}: ${r.outcome}`);
    }
    const refresh = safe("instance refresh");
    const faster = (mine: number, theirs: number) => (theirs >= mine ? `${(theirs / mine).toFixed(1)}x faster` : `${(mine / theirs).toFixed(1)}x slower`);
    if (best && refresh && !failed(best.r) && !failed(refresh.r)) {
      // Replace rolls the group's instances as a refresh does (with a canary first), and amiroll's refresh
      // is the instance refresh's own shape (one group, batches): each compared on its own too.
      const also = (["replace", "refresh", ...ROWS.filter((r) => r.variant).map((r) => r.name)] as const)
        .map((strategy) => list.find((x) => x.run.label === `amiroll ${strategy}` && !failed(x.r) && x.r.violations === 0 && x.r.outcome === "done"))
        .flatMap((x) => (x && !failed(x.r) && x !== best ? [`; ${x.run.label} ${sec(x.r.makespanMs)}: ${faster(x.r.makespanMs, (refresh.r as ChildReport).makespanMs)}`] : []))
        .join("");
      verdicts.push(
        `${n} instances: fastest instance refresh with 0 violations ${refresh.run.label.replace("instance refresh ", "at ")} ${sec(refresh.r.makespanMs)}; ` +
          `fastest amiroll with 0 violations ${best.run.label.replace("amiroll ", "")} ${sec(best.r.makespanMs)}: ${faster(best.r.makespanMs, refresh.r.makespanMs)}${also}`,
      );
    } else verdicts.push(`${n} instances: no ${best ? "instance refresh" : "amiroll strategy"} finished with 0 violations`);
  }
  console.log("");
  for (const v of verdicts) console.log(v);
}

const argv = process.argv.slice(2);
if (argv[0] === "--child") {
  child(argv.slice(1)).catch((e) => {
    console.error(`bench:rollout child: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
} else {
  try {
    parent();
  } catch (e) {
    console.error(`bench:rollout: ${(e as Error).stack ?? e}`);
    process.exit(1);
  }
}
