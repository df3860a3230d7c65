/**
 * The refresh strategy's batches (docs/strategies.md, `refresh`): after the apply has given the
 * group's launch template the new image, the old image's instances are replaced a batch at a
 * time, ECS-aware: raise the group's desired capacity (the group launches from the new template
 * version), wait for the new instances to register with ECS, set the batch's old instances
 * DRAINING, wait for their tasks to move and every service to be steady, then terminate them
 * with TerminateInstanceInAutoScalingGroup(ShouldDecrementDesiredCapacity) (the drain hook still
 * guards the termination). Scaling processes that would fight the batches are suspended, and the
 * group's size is given room (min lowered, max raised); both are restored at the end, and after
 * a failure or an interrupt too.
 *
 * The same routine, towards the old image, is the rollback's "batches in reverse".
 */
import {
  DescribeAutoScalingGroupsCommand,
  ResumeProcessesCommand,
  SetDesiredCapacityCommand,
  SuspendProcessesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { refreshAsgName } from "../../constructs/names";
import { type RefreshBatchPlan, refreshBatchPlan } from "../../constructs/refresh";
import type { Cluster } from "../config/environments";
import type { Clock } from "../core/clock";
import type { Logger } from "../core/log";
import type { AwsClients } from "../fleet/clients";
import { setContainerInstanceStatus } from "../fleet/drain";
import { crashLoopOn, daemonGroups, unsteadyReason } from "../fleet/migration";
import { type ContainerInstanceSnapshot, type FleetSnapshot, isFullView, takeSnapshot } from "../fleet/snapshot";

/**
 * Processes suspended while the batches run: a rebalance, an alarm's scaling or a scheduled
 * action would change the group's size or terminate instances under them (instance refresh
 * suspends the same). Launch and Terminate stay: the batches need them.
 */
export const REFRESH_SUSPENDED = ["AZRebalance", "AlarmNotification", "ScheduledActions"] as const;

/** The group's size before the batches: what is restored. */
export interface GroupCapacity {
  readonly desired: number;
  readonly min: number;
  readonly max: number;
}

/** Why the batches stopped: the image failed (tasks crash on it), something else failed, or Ctrl-C. */
export class RefreshHalt extends Error {
  constructor(
    readonly kind: "image failed" | "failed" | "interrupted",
    reason: string,
    /** The group's size before the batches (a rollback's batches restore it at their end). */
    readonly original: GroupCapacity,
  ) {
    super(reason);
    this.name = "RefreshHalt";
  }
}

export interface RefreshRun {
  readonly clients: AwsClients;
  readonly clock: Clock;
  readonly log: Logger;
  readonly env: string;
  readonly cluster: Cluster;
  /** The image every instance must end on. */
  readonly imageId: string;
  /** How long one batch may take (new instances registering, tasks moving). */
  readonly batchTimeoutMs: number;
  readonly signal?: AbortSignal;
  /** The boot check, on every snapshot (a new instance that never registers is replaced). */
  readonly boots?: (fleet: FleetSnapshot) => Promise<void>;
  /** The group's size to restore, when known from an earlier run of the batches (a rollback after a failed refresh). */
  readonly original?: GroupCapacity;
  /** Called once a batch's old instances are DRAINING, and once they are terminated (tests interrupt there). */
  readonly checkpoint?: (point: "refresh:drained" | "refresh:terminated") => void;
  /** The canary slice: the first batch, soaked by the gates before it is terminated (rollout/slice.ts). */
  readonly canary?: RefreshCanary;
}

/**
 * The canary slice of a refresh: the first batch (while no old instance has been replaced yet)
 * is `instances` old instances; once they are DRAINING and their tasks moved, `soak` judges the
 * batch's new instances, the old ones still DRAINING (a failure rolls back the slice alone).
 */
export interface RefreshCanary {
  readonly instances: number;
  /** Called when the canary batch begins (again, after an interrupted run). */
  readonly started: () => void;
  /** The gates over the slice: undefined when they passed, else why not. */
  readonly soak: () => Promise<{ readonly kind: "image failed" | "failed" | "interrupted"; readonly reason: string } | undefined>;
}

export interface RefreshOutcome {
  readonly batches: number;
  readonly replaced: number;
  readonly plan: RefreshBatchPlan;
}

const POLL_MS = 10_000;
const REGISTERED = new Set(["ACTIVE", "DRAINING"]);
const SERVICE_TASK = /^service:/;

/**
 * Replaces every registered instance of `run.cluster` not on `run.imageId`, in batches. Throws
 * RefreshHalt; the group's processes and size are restored whatever happens (but after the image
 * failed: then its size stays for the rollback's batches, which restore it).
 */
export async function refreshInstances(run: RefreshRun): Promise<RefreshOutcome> {
  const { clients, clock, log, cluster, imageId } = run;
  const groupName = refreshAsgName(cluster.ecsClusterName);
  const group = await describeGroup(clients, groupName);
  const fields = { env: run.env, cluster: cluster.name, group: groupName };
  // Every process the batches suspend already suspended: an earlier run was cut off before it
  // could restore the group (killed, not interrupted). Its size is then taken from the config
  // (min and max are terraform's; desired as at creation) and the processes are resumed at the end.
  const cutOff = run.original === undefined && REFRESH_SUSPENDED.every((p) => group.suspended.includes(p));
  const configured = { min: cluster.minSize, max: cluster.maxSize, desired: Math.min(Math.max(cluster.desiredCapacity, cluster.minSize), cluster.maxSize) };
  const original = run.original ?? (cutOff ? configured : { desired: group.desired, min: group.min, max: group.max });
  if (cutOff) {
    log.warn(`${cluster.name}: ${groupName} has ${REFRESH_SUSPENDED.join(", ")} suspended and desired ${group.desired} (min ${group.min}, max ${group.max}): an earlier refresh was cut off before it restored the group; it is restored to the config's size (desired ${configured.desired}, min ${configured.min}, max ${configured.max}) and the processes resumed after the batches`, fields);
  }
  const plan = refreshBatchPlan(cluster.refresh ?? {}, original.desired);
  // The canary's first batch has its own size (the config checked it against minHealthyPercent).
  const canaryPlan = run.canary && refreshBatchPlan({ ...cluster.refresh, batch: run.canary.instances }, original.desired);
  if (plan.serving < plan.floor) {
    throw new RefreshHalt("failed", `${cluster.name}: ${groupName} runs ${original.desired} instance(s): a batch of ${plan.count} would leave ${plan.serving} taking tasks, below minHealthyPercent (${plan.floor}); nothing was changed`, original);
  }
  const suspend = cutOff ? [...REFRESH_SUSPENDED] : REFRESH_SUSPENDED.filter((p) => !group.suspended.includes(p));
  log.info(
    `${cluster.name}: refreshing ${groupName} to ${imageId}: ${plan.count} old instance(s) per batch, ${plan.surge} new one(s) first, at least ${plan.floor} of ${original.desired} taking tasks; ${suspend.length > 0 ? `${suspend.join(", ")} suspended` : "no process to suspend"} until the end`,
    { ...fields, batch: plan.count, surge: plan.surge, floor: plan.floor },
  );
  if (suspend.length > 0 && !cutOff) await clients.autoScaling.send(new SuspendProcessesCommand({ AutoScalingGroupName: groupName, ScalingProcesses: [...suspend] }));
  let imageFailed = false;
  let fromBootCheck: unknown;
  let batches = 0;
  let replaced = 0;
  try {
    // Room for the batches: up by the surge, and down to the instances that keep taking tasks.
    await clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: groupName,
        MinSize: Math.min(original.min, original.desired + plan.surge - plan.count, ...(canaryPlan ? [canaryPlan.serving] : [])),
        MaxSize: Math.max(original.max, original.desired + Math.max(plan.surge, canaryPlan?.surge ?? 0)),
      }),
    );
    const startedAt = clock.now();
    let rebalances = 0;
    let canaryPassed = false;
    let lastGap = Infinity;
    // The polls (docs/strategies.md "refresh"): the instances alone to pick a batch and while its
    // new instances come up; while it drains, only the batch's tasks (the services and one page of
    // stopped tasks, cluster-wide, as always), incrementally. A verdict that ends the drain or
    // fails the image rests on a full poll (`isFullView`), never on answers an incremental one reused.
    const look = async (view: { readonly instancesOnly?: boolean; readonly previous?: FleetSnapshot; readonly tasksOn?: (ci: ContainerInstanceSnapshot) => boolean } = {}) => {
      const take = (previous: FleetSnapshot | undefined) => takeSnapshot(clients, cluster.ecsClusterName, { now: clock.now(), since: startedAt, instancesOnly: view.instancesOnly, previous, tasksOn: view.tasksOn });
      const checked = async (fleet: FleetSnapshot) => {
        try {
          await run.boots?.(fleet);
        } catch (error) {
          // The boot check's own verdict (e.g. the image does not boot): passed on as it is.
          fromBootCheck = error;
          throw error;
        }
        return fleet;
      };
      let fleet = await checked(await take(view.previous));
      if (view.instancesOnly) return fleet;
      const crashOn = (f: FleetSnapshot) => {
        const onImage = new Set(f.containerInstances.filter((ci) => ci.imageId === imageId).map((ci) => ci.arn));
        return crashLoopOn(f, (arn) => onImage.has(arn), startedAt, `on ${imageId}`);
      };
      let crash = crashOn(fleet);
      if (crash && !isFullView(fleet)) {
        fleet = await checked(await take(undefined));
        crash = crashOn(fleet);
      }
      if (crash) {
        imageFailed = true;
        throw new RefreshHalt("image failed", `${cluster.name}: crash loop during the refresh: ${crash.reason}`, original);
      }
      return fleet;
    };
    const stopIfInterrupted = (what: string) => {
      if (run.signal?.aborted) throw new RefreshHalt("interrupted", `interrupted ${what}`, original);
    };
    for (;;) {
      stopIfInterrupted("between batches");
      let snapshot = await look({ instancesOnly: true });
      const leaving = terminating(snapshot, groupName);
      const old = snapshot.containerInstances.filter((ci) => REGISTERED.has(ci.status) && ci.imageId !== imageId && !leaving.has(ci.ec2InstanceId));
      /** After the batches, the zone an extra batch takes one instance from (see below). */
      let crowded: string | undefined;
      if (old.length === 0) {
        // Done once the last batch's instances are gone (the drain hook lets them go once empty).
        if (snapshot.containerInstances.some((ci) => REGISTERED.has(ci.status) && ci.imageId !== imageId)) {
          await clock.sleep(POLL_MS);
          continue;
        }
        // The group launches into its emptiest zone, but the last batches may have emptied another
        // (AZRebalance, suspended, would fix that by launching first, then terminating): one more
        // batch of one per step, from the fullest zone, while that evens them out.
        const spread = zoneSpread(snapshot, group.zones, leaving);
        if (spread.gap < 2 || rebalances >= group.zones.length || spread.gap >= lastGap) break;
        lastGap = spread.gap;
        rebalances++;
        crowded = spread.fullest;
        log.info(`${cluster.name}: zones uneven after the batches (${spread.text}): one more batch moves an instance out of ${crowded}`, { ...fields, zones: spread.text });
      }
      // The canary: the first batch. Across runs it is told from the old instances left: as long as
      // no more than a slice of them was replaced, an interrupted run's canary may not have passed
      // (a Ctrl-C's restore may have taken one more old instance away), so it runs (again).
      const canary = canaryPlan && !canaryPassed && crowded === undefined && old.length >= original.desired - canaryPlan.count ? run.canary : undefined;
      const size = crowded !== undefined ? 1 : canary ? Math.min(old.length, canary.instances) : Math.min(old.length, Math.max(plan.count, old.filter((ci) => ci.status === "DRAINING").length));
      const deadline = clock.now() + run.batchTimeoutMs;
      canary?.started();
      // 1. New instances first: the group launches them from the new template version.
      const current = await describeGroup(clients, groupName);
      const desired = Math.min(original.desired + (canary ? canaryPlan!.surge : plan.surge), current.desired + size);
      if (desired > current.desired) {
        await clients.autoScaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: groupName, DesiredCapacity: desired, HonorCooldown: false }));
      }
      for (;;) {
        const out = terminating(snapshot, groupName);
        const ready = snapshot.containerInstances.filter((ci) => !out.has(ci.ec2InstanceId) && ((ci.status === "ACTIVE" && ci.agentConnected) || (ci.status === "DRAINING" && ci.imageId !== imageId))).length;
        const launching = groupInstances(snapshot, groupName).filter((i) => i.lifecycleState === "Pending" || i.lifecycleState.startsWith("Pending:")).length;
        if (ready >= desired && launching === 0) break;
        if (clock.now() >= deadline) throw new RefreshHalt("failed", `${cluster.name}: only ${ready} of ${desired} instance(s) registered with ECS before the batch timeout`, original);
        stopIfInterrupted("while the batch's new instances came up");
        await clock.sleep(POLL_MS);
        snapshot = await look({ instancesOnly: true });
      }
      // The batch: what an interrupted run began (DRAINING), then old instances from the zones
      // with the most instances now (the new ones included), so the zones stay even.
      const out = terminating(snapshot, groupName);
      const registeredNow = snapshot.containerInstances.filter((ci) => !out.has(ci.ec2InstanceId) && REGISTERED.has(ci.status));
      const batch =
        crowded !== undefined
          ? pickBatch(registeredNow.filter((ci) => ci.availabilityZone === crowded), "", 1)
          : pickBatch(registeredNow, imageId, size);
      if (batch.length === 0) break;
      // 2. The batch's old instances DRAINING: ECS starts each task's replacement before it stops the old one.
      const active = batch.filter((ci) => ci.status === "ACTIVE");
      if (active.length > 0) {
        log.info(`${cluster.name}: batch ${batches + 1}: ${batch.map((ci) => ci.ec2InstanceId).join(", ")} set DRAINING`, { ...fields, instances: batch.map((ci) => ci.ec2InstanceId) });
        await setContainerInstanceStatus(clients.ecs, cluster.ecsClusterName, active.map((ci) => ci.arn), "DRAINING");
      }
      run.checkpoint?.("refresh:drained");
      // 3. Their tasks moved and every service steady.
      // The batch's tasks are listed on the first poll and on the full poll that confirms it drained;
      // in between its instances' task counts tell how many are left (less those a drain leaves: daemons').
      const onBatch = new Set(batch.map((ci) => ci.arn));
      const tasksOn = (ci: ContainerInstanceSnapshot) => onBatch.has(ci.arn);
      let draining: FleetSnapshot | undefined;
      let staying: ReadonlyMap<string, number> | undefined;
      for (;;) {
        stopIfInterrupted("while a batch drained");
        await clock.sleep(POLL_MS);
        draining = await look(staying ? { previous: draining, tasksOn: () => false } : { tasksOn });
        staying ??= stayingTasksOn(draining, onBatch);
        let why = isFullView(draining) ? stillMoving(draining, batch) : leftByCounts(draining, onBatch, staying);
        // Drained and steady ends the wait (then the batch is terminated): confirmed on a full poll.
        if (!why && !isFullView(draining)) {
          draining = await look({ tasksOn });
          why = stillMoving(draining, batch);
        }
        if (!why) break;
        if (clock.now() >= deadline) throw new RefreshHalt("failed", `${cluster.name}: batch ${batches + 1} did not drain before the batch timeout (${why})`, original);
      }
      // 3b. The canary: the gates judge the slice, its old instances still DRAINING.
      if (canary) {
        const halt = await canary.soak();
        if (halt) {
          imageFailed = halt.kind === "image failed";
          throw new RefreshHalt(halt.kind, halt.reason, original);
        }
        canaryPassed = true;
      }
      // 4. Terminated, one fewer wanted for each: the group does not replace them (the new ones did).
      for (const ci of batch) {
        try {
          await clients.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: ci.ec2InstanceId, ShouldDecrementDesiredCapacity: true }));
        } catch (error) {
          // Already terminating or gone: it leaves anyway.
          if ((error as Error).name !== "ValidationError") throw error;
        }
      }
      batches++;
      if (crowded === undefined) replaced += batch.length;
      log.info(`${cluster.name}: batch ${batches}: ${batch.length} ${crowded === undefined ? "old " : ""}instance(s) terminated (${replaced} old replaced)`, { ...fields, replaced });
      run.checkpoint?.("refresh:terminated");
    }
    // Back to its size: with fewer added than drained per batch (maxHealthyPercent), the group
    // launches the rest now; the gates judge the cluster once they have registered.
    const now = await describeGroup(clients, groupName);
    if (now.desired < original.desired) {
      await clients.autoScaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: groupName, DesiredCapacity: original.desired, HonorCooldown: false }));
      const deadline = clock.now() + run.batchTimeoutMs;
      for (;;) {
        const snapshot = await look({ instancesOnly: true });
        const ready = snapshot.containerInstances.filter((ci) => ci.status === "ACTIVE" && ci.agentConnected && ci.imageId === imageId).length;
        if (ready >= original.desired) break;
        if (clock.now() >= deadline) throw new RefreshHalt("failed", `${cluster.name}: only ${ready} of ${original.desired} instance(s) of ${imageId} registered with ECS before the batch timeout`, original);
        stopIfInterrupted("while the group came back to its size");
        await clock.sleep(POLL_MS);
      }
    }
    return { batches, replaced, plan };
  } catch (error) {
    if (error instanceof RefreshHalt || error === fromBootCheck) throw error;
    if (run.signal?.aborted) throw new RefreshHalt("interrupted", `interrupted (${(error as Error).message})`, original);
    throw new RefreshHalt("failed", `${cluster.name}: ${(error as Error).message}`, original);
  } finally {
    await restore(run, groupName, original, suspend, imageFailed);
  }
}

/**
 * The group's processes resumed and its size back: min and max as they were, and the desired
 * capacity (the group launches from the current template, or lets go of what the batches added
 * through the drain hook). After the image failed, the desired capacity stays (min and max around
 * it) for the rollback's batches, which end with this restore.
 */
async function restore(run: RefreshRun, groupName: string, original: GroupCapacity, suspended: readonly string[], imageFailed: boolean): Promise<void> {
  const { clients, log } = run;
  try {
    const current = await describeGroup(clients, groupName);
    const desired = imageFailed ? current.desired : original.desired;
    await clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: groupName, MinSize: Math.min(original.min, desired), MaxSize: Math.max(original.max, desired), DesiredCapacity: desired }),
    );
    if (suspended.length > 0) await clients.autoScaling.send(new ResumeProcessesCommand({ AutoScalingGroupName: groupName, ScalingProcesses: [...suspended] }));
    log.info(`${run.cluster.name}: ${groupName}: desired ${desired}${imageFailed ? " (kept for the rollback)" : ""}, min ${Math.min(original.min, desired)}, max ${Math.max(original.max, desired)}${suspended.length > 0 ? `; ${suspended.join(", ")} resumed` : ""}`, { env: run.env, cluster: run.cluster.name, group: groupName });
  } catch (error) {
    log.warn(`${run.cluster.name}: ${groupName}: could not restore its size and processes (${(error as Error).message}): set desired ${original.desired}, min ${original.min}, max ${original.max} and resume ${suspended.join(", ") || "nothing"} by hand`, { env: run.env, cluster: run.cluster.name });
  }
}

/** Registered, ACTIVE instances per zone of the group (leaving ones aside): the gap between the fullest and the emptiest. */
function zoneSpread(fleet: FleetSnapshot, zones: readonly string[], leaving: ReadonlySet<string>): { gap: number; fullest: string; text: string } {
  const counts = new Map(zones.map((z) => [z, 0]));
  for (const ci of fleet.containerInstances) {
    if (ci.status === "ACTIVE" && !leaving.has(ci.ec2InstanceId) && counts.has(ci.availabilityZone)) counts.set(ci.availabilityZone, counts.get(ci.availabilityZone)! + 1);
  }
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (sorted.length === 0) return { gap: 0, fullest: "", text: "" };
  return { gap: sorted[0][1] - sorted[sorted.length - 1][1], fullest: sorted[0][0], text: [...counts].map(([z, n]) => `${z}: ${n}`).join(", ") };
}

async function describeGroup(clients: AwsClients, name: string): Promise<GroupCapacity & { suspended: string[]; zones: string[] }> {
  const { AutoScalingGroups } = await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  const group = AutoScalingGroups?.[0];
  if (!group) throw new Error(`the refresh group ${name} does not exist`);
  return {
    desired: group.DesiredCapacity ?? 0,
    min: group.MinSize ?? 0,
    max: group.MaxSize ?? 0,
    suspended: (group.SuspendedProcesses ?? []).flatMap((p) => (p.ProcessName ? [p.ProcessName] : [])),
    zones: group.AvailabilityZones ?? [],
  };
}

function groupInstances(fleet: FleetSnapshot, groupName: string) {
  return fleet.groups.find((g) => g.name === groupName)?.instances ?? [];
}

/** EC2 ids of the group's instances on their way out (terminating, held by the drain hook or shutting down). */
function terminating(fleet: FleetSnapshot, groupName: string): Set<string> {
  return new Set(groupInstances(fleet, groupName).filter((i) => i.lifecycleState.startsWith("Terminat")).map((i) => i.instanceId));
}

/**
 * Up to `count` old instances (not on `imageId`) of the registered `instances`: those DRAINING
 * already (a batch begun by an earlier run), then one at a time from the zone with the most
 * instances left (new ones counted), the busiest first: the zones stay as even as they were.
 */
export function pickBatch(instances: readonly ContainerInstanceSnapshot[], imageId: string, count: number): ContainerInstanceSnapshot[] {
  const registered = instances.filter((ci) => REGISTERED.has(ci.status));
  const batch = registered.filter((ci) => ci.status === "DRAINING" && ci.imageId !== imageId);
  const candidates = registered
    .filter((ci) => ci.status === "ACTIVE" && ci.imageId !== imageId)
    .sort((a, b) => b.runningTasksCount - a.runningTasksCount || a.arn.localeCompare(b.arn));
  const perZone = new Map<string, number>();
  for (const ci of registered.filter((c) => !batch.includes(c))) perZone.set(ci.availabilityZone, (perZone.get(ci.availabilityZone) ?? 0) + 1);
  while (batch.length < count && candidates.length > 0) {
    const zone = (ci: ContainerInstanceSnapshot) => perZone.get(ci.availabilityZone) ?? 0;
    const next = candidates.reduce((best, ci) => (zone(ci) > zone(best) ? ci : best));
    candidates.splice(candidates.indexOf(next), 1);
    perZone.set(next.availabilityZone, zone(next) - 1);
    batch.push(next);
  }
  return batch;
}

/** Why the batch is not done draining: service tasks still on it, or a service not steady; undefined when done. */
export function stillMoving(fleet: FleetSnapshot, batch: readonly ContainerInstanceSnapshot[]): string | undefined {
  const arns = new Set(batch.map((ci) => ci.arn));
  const daemons = daemonGroups(fleet.services);
  const left = fleet.tasks.filter((t) => arns.has(t.containerInstanceArn) && t.lastStatus !== "STOPPED" && SERVICE_TASK.test(t.group) && !daemons.has(t.group)).length;
  if (left > 0) return `${left} task(s) still on the batch`;
  return notSteady(fleet);
}

/**
 * The tasks on each of the `batch`'s instances that a drain does not move (daemons, tasks of no
 * service: stillMoving does not wait for them), from a poll that listed its tasks.
 */
export function stayingTasksOn(fleet: FleetSnapshot, batch: ReadonlySet<string>): Map<string, number> {
  const daemons = daemonGroups(fleet.services);
  const counts = new Map<string, number>();
  for (const t of fleet.tasks) {
    if (batch.has(t.containerInstanceArn) && t.lastStatus !== "STOPPED" && (!SERVICE_TASK.test(t.group) || daemons.has(t.group))) counts.set(t.containerInstanceArn, (counts.get(t.containerInstanceArn) ?? 0) + 1);
  }
  return counts;
}

/**
 * stillMoving from an incremental poll that did not list the batch's tasks: from its instances'
 * running and pending counts, less the tasks a drain leaves on them (stayingTasksOn), and the services. Undefined (drained) is
 * only a hint, to be confirmed by a full poll that lists them.
 */
export function leftByCounts(fleet: FleetSnapshot, batch: ReadonlySet<string>, staying: ReadonlyMap<string, number>): string | undefined {
  const left = fleet.containerInstances
    .filter((ci) => batch.has(ci.arn))
    .reduce((sum, ci) => sum + Math.max(0, ci.runningTasksCount + ci.pendingTasksCount - (staying.get(ci.arn) ?? 0)), 0);
  if (left > 0) return `${left} task(s) still on the batch`;
  return notSteady(fleet);
}

/** The services not steady, as the drain's wait names them; undefined when every one is. */
function notSteady(fleet: FleetSnapshot): string | undefined {
  const unsteady = fleet.services.flatMap((s) => {
    const reason = unsteadyReason(s);
    return reason ? [`${s.name} (${reason})`] : [];
  });
  return unsteady.length > 0 ? `not steady: ${unsteady.join(", ")}` : undefined;
}
