/**
 * How far a cluster's move onto a new AMI has come, as a pure function of snapshots: old and
 * new instances per zone, tasks still on old instances, services steady, a crash loop on the
 * new image, a stall, an ETA. `stepMigration` folds one snapshot into the state of the watch,
 * so the watch keeps a few numbers, not every snapshot.
 */
import type { ContainerInstanceSnapshot, FleetSnapshot, ServiceSnapshot, TaskSnapshot } from "./snapshot";
import { formatDuration } from "../core/duration";
import { refreshAsgName } from "../../constructs/names";

export interface MigrationOptions {
  /** The image(s) the cluster moves to; every other image is old. */
  readonly targetImageIds: readonly string[];
  /** No progress for this long is a stall. @default 10 minutes */
  readonly stallAfterMs?: number;
  /** Tasks on new instances that stopped with an error since the watch began, to call it a crash loop. @default CRASH_LOOP_STOPS */
  readonly crashLoopStops?: number;
}

export interface ZoneCount {
  readonly availabilityZone: string;
  /** Old container instances still registered (ACTIVE or DRAINING). */
  readonly old: number;
  /** Of those, the ones still ACTIVE (not yet drained). */
  readonly oldActive: number;
  readonly new: number;
}

export interface HeldTask {
  readonly taskArn: string;
  readonly group: string;
  readonly ec2InstanceId: string;
  readonly lastStatus: string;
}

export type Phase = "waiting for new instances" | "moving tasks" | "settling" | "done" | "crash loop" | "stalled";

export interface MigrationState {
  readonly at: number;
  readonly startedAt: number;
  readonly phase: Phase;
  readonly zones: readonly ZoneCount[];
  /** Old container instances still registered (ACTIVE or DRAINING), by EC2 id. */
  readonly oldInstances: readonly string[];
  readonly newInstances: readonly string[];
  /** New instances the groups want that have not registered yet. */
  readonly booting: number;
  /** Tasks still on old instances: every non-daemon task not STOPPED, pending ones included. */
  readonly tasksOnOld: readonly HeldTask[];
  /** How many of tasksOnOld were told to stop (desired STOPPED, still stopping): gone in seconds. */
  readonly tasksStoppingOnOld: number;
  /** Most tasks ever seen on old instances (for the report's "tasks moved" and the ETA). */
  readonly peakTasksOnOld: number;
  readonly servicesSteady: number;
  readonly services: number;
  /** Services not steady, with why. */
  readonly unsteady: readonly { readonly service: string; readonly reason: string }[];
  /** Set when tasks keep failing on the new image. */
  readonly crashLoop?: { readonly reason: string; readonly tasks: readonly string[] };
  /** Set when nothing moved for stallAfterMs. */
  readonly stall?: { readonly reason: string; readonly instances: readonly string[]; readonly tasks: readonly string[] };
  /** When the last observable progress happened. */
  readonly lastProgressAt: number;
  /** A fingerprint of the progress counters, to tell progress from none. */
  readonly progressKey: string;
  readonly etaMs?: number;
  /** Old instances gone (drained and terminated) since the watch began. */
  readonly oldInstancesReplaced: number;
  /** Old instances seen at the first snapshot, per zone. */
  readonly initialOldPerZone: Readonly<Record<string, number>>;
}

const DEFAULT_STALL_MS = 10 * 60_000;
/** Failed stops on the new image that make a crash loop (one failure may be the task's own). */
export const CRASH_LOOP_STOPS = 3;
const ACTIVE_OR_DRAINING = new Set(["ACTIVE", "DRAINING"]);

/** Daemon tasks leave with their instance, never before: they do not hold a migration. */
export function daemonGroups(services: readonly ServiceSnapshot[]): Set<string> {
  return new Set(services.filter((s) => s.schedulingStrategy === "DAEMON").map((s) => `service:${s.name}`));
}

/** Why a service is not steady, or undefined when it is. */
export function unsteadyReason(service: ServiceSnapshot): string | undefined {
  // A placement failure newer than the last steady state means tasks wait for room.
  const newest = (pattern: RegExp) => service.events.find((e) => pattern.test(e.message))?.at ?? -Infinity;
  const unplaced = newest(/unable to place a task/i) > newest(/has reached a steady state/i);
  // A daemon follows the instances, which come and go all through a roll (old ones stay
  // DRAINING, with their daemon task, until retired): only a placement failure counts.
  if (service.schedulingStrategy === "DAEMON") return unplaced ? "tasks cannot be placed" : undefined;
  if (service.runningCount !== service.desiredCount) return `${service.runningCount}/${service.desiredCount} running`;
  if (service.deployments.length !== 1) return `${service.deployments.length} deployments in flight`;
  const rollout = service.deployments[0].rolloutState;
  if (rollout && rollout !== "COMPLETED") return `deployment ${rollout.toLowerCase().replace("_", " ")}`;
  if (unplaced) return "tasks cannot be placed";
  return undefined;
}

/** The image a group launches, from its name (`<cluster>-<ami>`, EcsCluster's convention). */
function groupImage(name: string): string | undefined {
  return /(ami-[0-9a-f]+)$/.exec(name)?.[1];
}

/** A stop that counts against the new image: an essential container exited with an error, or health checks failed. */
function failedStop(task: TaskSnapshot): boolean {
  return task.exitCodes.some((code) => code !== 0) || /health check|EssentialContainerExited|CannotStart/i.test(`${task.stoppedReason ?? ""} ${task.stopCode ?? ""}`);
}

/**
 * A crash loop: at least `threshold` tasks stopped with an error (failedStop) on the container
 * instances `onNewImage` accepts since `since`; its reason reads `N tasks stopped with errors
 * <where> (groups): <first reason>`. The watch and the replace canary judge by it.
 */
export function crashLoopOn(
  snapshot: FleetSnapshot,
  onNewImage: (containerInstanceArn: string) => boolean,
  since: number,
  where: string,
  threshold = CRASH_LOOP_STOPS,
): { readonly reason: string; readonly tasks: readonly string[] } | undefined {
  const failed = snapshot.stoppedTasks.filter((t) => onNewImage(t.containerInstanceArn) && (t.stoppedAt ?? 0) >= since && failedStop(t));
  if (failed.length < threshold) return undefined;
  const groups = [...new Set(failed.map((t) => t.group))].join(", ");
  const why = failed[0].stoppedReason ?? `exit code ${failed[0].exitCodes.find((c) => c !== 0)}`;
  return { reason: `${failed.length} tasks stopped with errors ${where} (${groups}): ${why}`, tasks: failed.map((t) => t.arn) };
}

/** `service:web on i-1 (STOPPING) x3`: the held tasks, alike ones counted once. */
function countedTasks(tasks: readonly HeldTask[]): string[] {
  const counts = new Map<string, number>();
  for (const t of tasks) {
    const key = `${t.group} on ${t.ec2InstanceId} (${t.lastStatus})`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => (n > 1 ? `${key} x${n}` : key)).sort();
}

/** Folds one snapshot into the watch's state (`previous` undefined at the first cycle). */
export function stepMigration(previous: MigrationState | undefined, snapshot: FleetSnapshot, options: MigrationOptions): MigrationState {
  const targets = new Set(options.targetImageIds);
  const isNew = (ci: ContainerInstanceSnapshot) => targets.has(ci.imageId);
  const registered = snapshot.containerInstances.filter((ci) => ACTIVE_OR_DRAINING.has(ci.status));
  const byArn = new Map(snapshot.containerInstances.map((ci) => [ci.arn, ci]));
  const oldCis = registered.filter((ci) => !isNew(ci));
  const newCis = registered.filter(isNew);

  const zones = [...new Set(registered.map((ci) => ci.availabilityZone))].sort().map((availabilityZone) => ({
    availabilityZone,
    old: oldCis.filter((ci) => ci.availabilityZone === availabilityZone).length,
    oldActive: oldCis.filter((ci) => ci.availabilityZone === availabilityZone && ci.status === "ACTIVE").length,
    new: newCis.filter((ci) => ci.availabilityZone === availabilityZone).length,
  }));

  // Instances the new groups want, minus those registered: boots in progress. A refresh
  // cluster's one group launches its current image, the target, whatever its name.
  const refreshGroup = refreshAsgName(snapshot.clusterName);
  const wantedNew = snapshot.groups.filter((g) => targets.has(groupImage(g.name) ?? "") || g.name === refreshGroup).reduce((n, g) => n + g.desiredCapacity, 0);
  const booting = Math.max(0, wantedNew - newCis.length);

  const daemons = daemonGroups(snapshot.services);
  // A task told to stop still holds its instance until it has stopped (slow SIGTERM handling).
  const stopping = snapshot.stoppedTasks.filter((t) => t.lastStatus !== "STOPPED");
  // (A plain loop: this runs every poll over every task, 6,000 at 600 instances.)
  let tasksStoppingOnOld = 0;
  const tasksOnOld: HeldTask[] = [];
  for (const list of [snapshot.tasks, stopping]) {
    for (const t of list) {
      if (t.lastStatus === "STOPPED" || daemons.has(t.group)) continue;
      const ci = byArn.get(t.containerInstanceArn);
      if (!ci || isNew(ci)) continue;
      if (t.desiredStatus === "STOPPED") tasksStoppingOnOld++;
      tasksOnOld.push({ taskArn: t.arn, group: t.group, ec2InstanceId: ci.ec2InstanceId, lastStatus: t.lastStatus });
    }
  }

  const replicaServices = snapshot.services;
  const unsteady = replicaServices.flatMap((s) => {
    const reason = unsteadyReason(s);
    return reason ? [{ service: s.name, reason }] : [];
  });

  const startedAt = previous?.startedAt ?? snapshot.at;
  const crashLoop = crashLoopOn(snapshot, (arn) => {
    const ci = byArn.get(arn);
    return ci !== undefined && isNew(ci);
  }, startedAt, "on the new image since the watch began", options.crashLoopStops);

  const progressKey = [oldCis.length, newCis.length, tasksOnOld.length, replicaServices.length - unsteady.length, oldCis.filter((ci) => ci.status === "DRAINING").length].join("/");
  const progressed = previous === undefined || previous.progressKey !== progressKey;
  const lastProgressAt = progressed ? snapshot.at : previous!.lastProgressAt;
  const initialOldPerZone = previous?.initialOldPerZone ?? Object.fromEntries(zones.map((z) => [z.availabilityZone, z.old]));
  const initialOld = Object.values(initialOldPerZone).reduce((a, b) => a + b, 0);
  const peakTasksOnOld = Math.max(previous?.peakTasksOnOld ?? 0, tasksOnOld.length);

  const migrated = tasksOnOld.length === 0 && oldCis.every((ci) => ci.status !== "ACTIVE") && booting === 0 && newCis.length > 0;
  const steady = unsteady.length === 0;
  const stallAfterMs = options.stallAfterMs ?? DEFAULT_STALL_MS;
  const stalled = !(migrated && steady) && snapshot.at - lastProgressAt >= stallAfterMs;
  const stall = stalled
    ? {
        reason: `no progress for ${formatDuration(snapshot.at - lastProgressAt)}`,
        instances: [...new Set(tasksOnOld.map((t) => t.ec2InstanceId))].sort(),
        tasks: countedTasks(tasksOnOld),
      }
    : undefined;

  const phase: Phase = crashLoop
    ? "crash loop"
    : stall
      ? "stalled"
      : migrated && steady
        ? "done"
        : booting > 0 && newCis.length === 0
          ? "waiting for new instances"
          : tasksOnOld.length > 0 || oldCis.some((ci) => ci.status === "ACTIVE")
            ? booting > 0 ? "waiting for new instances" : "moving tasks"
            : "settling";

  // ETA from the pace of tasks leaving the old instances so far.
  const moved = peakTasksOnOld - tasksOnOld.length;
  const elapsed = snapshot.at - startedAt;
  const etaMs = phase === "done" ? 0 : moved > 0 && tasksOnOld.length > 0 ? Math.round((elapsed / moved) * tasksOnOld.length) : undefined;

  return {
    at: snapshot.at,
    startedAt,
    phase,
    zones,
    oldInstances: oldCis.map((ci) => ci.ec2InstanceId).sort(),
    newInstances: newCis.map((ci) => ci.ec2InstanceId).sort(),
    booting,
    tasksOnOld,
    tasksStoppingOnOld,
    peakTasksOnOld,
    servicesSteady: replicaServices.length - unsteady.length,
    services: replicaServices.length,
    unsteady,
    ...(crashLoop && { crashLoop }),
    ...(stall && { stall }),
    lastProgressAt,
    progressKey,
    ...(etaMs !== undefined && { etaMs }),
    oldInstancesReplaced: Math.max(0, initialOld - oldCis.length),
    initialOldPerZone,
  };
}

/** True when the watch can stop: done, or failed in a way waiting will not fix. */
export function finished(state: MigrationState): boolean {
  return state.phase === "done" || state.phase === "crash loop" || state.phase === "stalled";
}

export interface PollCadence {
  /** Never poll more often than this. @default 5 s */
  readonly floorMs?: number;
  /** While things change. @default 10 s */
  readonly fastMs?: number;
  /** While nothing changes and instances are booting. @default 30 s */
  readonly slowMs?: number;
}

/**
 * How long to wait before the next poll: fast while the fleet changes (so completion is noticed
 * within one short interval), slow while nothing moves and instances are still booting (a boot
 * takes minutes), in between otherwise; never under the floor. The floor itself once the
 * migration is about to be done: every task left on an old instance told to stop (each is gone
 * once its stop ends, seconds away), no old instance ACTIVE, nothing booting.
 */
export function nextPollDelay(previous: MigrationState | undefined, current: MigrationState, cadence: PollCadence = {}): number {
  const floor = cadence.floorMs ?? 5_000;
  const fast = cadence.fastMs ?? 10_000;
  const slow = cadence.slowMs ?? 30_000;
  const changed = previous === undefined || previous.progressKey !== current.progressKey;
  const closing =
    current.tasksOnOld.length > 0 && current.tasksStoppingOnOld === current.tasksOnOld.length && current.booting === 0 && current.zones.every((z) => z.oldActive === 0);
  if (closing) return floor;
  const delay = changed ? fast : current.booting > 0 ? slow : Math.round((fast + slow) / 2);
  return Math.max(floor, delay);
}
