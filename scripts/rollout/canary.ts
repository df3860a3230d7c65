/**
 * The replace strategy's canary: before terraform replaces a cluster's group (and its drain hook
 * gives up the old instances for good), a small group of the new image stands beside the old one
 * and must carry real tasks. The rollout sets one old instance DRAINING (reversible: ECS starts
 * each of its tasks' replacements elsewhere and stops the old task only once the replacement is
 * healthy, within the service's minimumHealthyPercent), so tasks land on the canary while the
 * old capacity keeps serving. `judgeCanary` reads one fleet snapshot: a crash loop on the new
 * image fails the proof (the rollout rolls back: the old instance ACTIVE again, the canary
 * group removed, the image rejected); the drained instance empty, tasks healthy on the canary
 * and every service steady is "steady": the rollout then runs the gates over the slice for its
 * soak (rollout/slice.ts, the cluster's `canary`: 1 instance and 2 minutes by default).
 */
import type { ContainerInstanceSnapshot, FleetSnapshot } from "../fleet/snapshot";
import { crashLoopOn, daemonGroups, unsteadyReason } from "../fleet/migration";

export type CanaryVerdict =
  /** Tasks keep failing on the new image: the reason quotes them. */
  | { readonly kind: "crash"; readonly reason: string }
  /** No canary instance has registered with ECS yet. */
  | { readonly kind: "booting" }
  /** Nothing carries tasks on the canary yet: drain (another) old instance. */
  | { readonly kind: "drain"; readonly containerInstanceArn: string }
  /** Tasks are moving, or services are settling. */
  | { readonly kind: "waiting"; readonly why: string }
  /** The canary carries tasks, every service is steady: the gates' soak runs from here. */
  | { readonly kind: "steady"; readonly tasksOnCanary: number; readonly services: number };

export interface CanaryInput {
  readonly imageId: string;
  /** When the proof began: stops before it are not the canary's. */
  readonly startedAt: number;
}

const SERVICE_TASK = /^service:/;

/**
 * The container instances whose tasks `judgeCanary` reads: the canary's (the target image) and
 * the DRAINING ones. The canary's poll lists only theirs (SnapshotOptions.tasksOn).
 */
export const canaryTasksOn = (imageId: string) => (ci: ContainerInstanceSnapshot): boolean => ci.imageId === imageId || ci.status === "DRAINING";

/**
 * Judges one snapshot of a cluster whose canary group of `imageId` stands beside the old group.
 * It needs the tasks of the instances `canaryTasksOn` names only (others may be left out).
 */
export function judgeCanary(snapshot: FleetSnapshot, input: CanaryInput): CanaryVerdict {

  const onImage = new Set(snapshot.containerInstances.filter((ci) => ci.imageId === input.imageId).map((ci) => ci.arn));
  const crash = crashLoopOn(snapshot, (arn) => onImage.has(arn), input.startedAt, `on ${input.imageId}`);
  if (crash) return { kind: "crash", reason: `crash loop on the canary: ${crash.reason}` };
  const registered = snapshot.containerInstances.filter((ci) => ci.status === "ACTIVE" || ci.status === "DRAINING");
  const canaries = registered.filter((ci) => ci.imageId === input.imageId && ci.status === "ACTIVE" && ci.agentConnected);
  if (canaries.length === 0) return { kind: "booting" };
  const daemons = daemonGroups(snapshot.services);
  const serviceTasksOn = (cis: readonly ContainerInstanceSnapshot[]) => {
    const arns = new Set(cis.map((ci) => ci.arn));
    return snapshot.tasks.filter((t) => arns.has(t.containerInstanceArn) && t.lastStatus !== "STOPPED" && SERVICE_TASK.test(t.group) && !daemons.has(t.group));
  };
  const replicas = snapshot.services.filter((s) => s.schedulingStrategy !== "DAEMON" && s.desiredCount > 0);
  const old = registered.filter((ci) => ci.imageId !== input.imageId);
  const draining = old.filter((ci) => ci.status === "DRAINING");
  const onCanary = serviceTasksOn(canaries);
  const stillDraining = serviceTasksOn(draining);
  if (replicas.length === 0) return { kind: "steady", tasksOnCanary: 0, services: 0 };
  if (stillDraining.length > 0) return { kind: "waiting", why: `${stillDraining.length} task(s) leaving the drained instance(s)` };
  if (onCanary.filter((t) => t.lastStatus === "RUNNING").length === 0) {
    // Everything moved elsewhere (or nothing was drained yet): drain the next old instance,
    // in a zone of a canary instance first (spread placement fills the emptiest instance of
    // the emptiest zone), the busiest first.
    const zones = new Set(canaries.map((ci) => ci.availabilityZone));
    const active = old.filter((ci) => ci.status === "ACTIVE");
    // Busy by the instance's own counts (the poll lists no task of the other old instances); its
    // daemon tasks count too, one per daemon service on every instance alike.
    const tasksOf = (ci: ContainerInstanceSnapshot) => ci.runningTasksCount + ci.pendingTasksCount;
    const next = active.sort((a, b) => Number(zones.has(b.availabilityZone)) - Number(zones.has(a.availabilityZone)) || tasksOf(b) - tasksOf(a) || a.arn.localeCompare(b.arn))[0];
    return next ? { kind: "drain", containerInstanceArn: next.arn } : { kind: "waiting", why: "no task has reached the canary and no old instance is left to drain" };
  }
  const unsteady = snapshot.services.flatMap((s) => {
    const reason = unsteadyReason(s);
    return reason ? [`${s.name} (${reason})`] : [];
  });
  if (unsteady.length > 0) return { kind: "waiting", why: `not steady: ${unsteady.join(", ")}` };
  return { kind: "steady", tasksOnCanary: onCanary.length, services: replicas.length };
}

/**
 * How many service tasks meant to run are left on the drained (DRAINING, old) instances, daemons
 * aside: the tasks whose replacements the proof waits for. The rollout looks again sooner while
 * this falls (replacements become healthy seconds apart: the proof is about to hold).
 */
export function tasksLeftOnDrained(snapshot: FleetSnapshot, input: CanaryInput): number {
  const draining = new Set(snapshot.containerInstances.filter((ci) => ci.imageId !== input.imageId && ci.status === "DRAINING").map((ci) => ci.arn));
  const daemons = daemonGroups(snapshot.services);
  return snapshot.tasks.filter((t) => draining.has(t.containerInstanceArn) && t.lastStatus !== "STOPPED" && t.desiredStatus !== "STOPPED" && SERVICE_TASK.test(t.group) && !daemons.has(t.group)).length;
}

/**
 * When the proof's drain last moved, by ECS's own clock: the latest `stoppingAt` of a service task
 * (daemons aside) told to stop on a drained (DRAINING, old) instance since the proof began. ECS
 * tells an old task to stop once its replacement is healthy, so when a poll first finds nothing
 * left to move, the proof has held since then: the rollout counts the soak from it (never from
 * before the poll that last found tasks leaving). Undefined when no such task is in the snapshot.
 */
export function drainedSince(snapshot: FleetSnapshot, input: CanaryInput): number | undefined {
  const draining = new Set(snapshot.containerInstances.filter((ci) => ci.imageId !== input.imageId && ci.status === "DRAINING").map((ci) => ci.arn));
  const daemons = daemonGroups(snapshot.services);
  let latest: number | undefined;
  for (const t of [...snapshot.tasks, ...snapshot.stoppedTasks]) {
    if (!draining.has(t.containerInstanceArn) || t.desiredStatus !== "STOPPED" || !SERVICE_TASK.test(t.group) || daemons.has(t.group)) continue;
    if (t.stoppingAt !== undefined && t.stoppingAt >= input.startedAt && (latest === undefined || t.stoppingAt > latest)) latest = t.stoppingAt;
  }
  return latest;
}
