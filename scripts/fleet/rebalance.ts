/**
 * Rebalancing: move (or force a new deployment of) each imbalanced service, a few services at a
 * time, wait for each, then judge the balance again from a fresh snapshot. The AWS calls it makes
 * itself are DescribeServices (a service's deployment configuration), UpdateService and StopTask;
 * everything else it observes comes through `take`.
 *
 * A forced deployment with the service's own configuration (typically maximumPercent 200) does
 * not balance a bunched service: the scheduler starts every replacement while all the old tasks
 * still run and still count for its zone spread, so 4/0/0 comes out 0/2/2. So, as an operator
 * would, each deployment runs with a narrowed configuration, one task beyond desired at a time and
 * none below (`narrowedDeploymentConfiguration`): each new task is placed into the zone with the
 * fewest of the service's tasks, then an old one is stopped from the zone with the most (ECS's
 * documented order), and the service moves out of its crowded zone one task at a time. Its whole
 * deploymentConfiguration (DescribeServices, just before) is sent back once its deployment is
 * over, however that ended (completed, failed, timed out); the forcing's log line carries it too.
 *
 * That holds for a service bunched on instances of its zones (instance-stacking). A service
 * bunched over zones (single-zone, zone-spread) is moved instead, one task at a time, as ECS's
 * own Availability Zone rebalancing does it (rebalance-moves.ts): where the service has room
 * above its minimum healthy count, a task of its fullest zone is stopped (StopTask) and the
 * scheduler starts the replacement in the zone with the fewest of its tasks that has room (the
 * stopped one no longer counts); elsewhere (minimumHealthyPercent 100) the desired count goes one
 * up (the new task goes there), then, once the service is steady, back (scaling in, it stops a
 * task in the zone with the most). Only the surplus moves, the service never goes below its
 * floor, and each move is judged on a fresh snapshot, so a spread tie that falls either way
 * costs at most a move. Services that binpack are reported, never moved. A forced deployment would
 * replace every task, and where the other zones lack room (a small cluster; stopping tasks keep
 * theirs until STOPPED) each replacement lands where there is room, so a service bunched in one
 * zone can come out bunched in another. The moves stop when the service is balanced or a move
 * did not even it out (no room left where it lacks tasks, or its placement constraints keep it
 * out: the result's `why` says which zones). The desired count is put back
 * after every move, however it ended; an Application Auto Scaling policy that changes it
 * meanwhile may undo a move.
 *
 * The result is still verified: the scheduler places only where there is room, so a service whose
 * other zones are full comes out as bunched as it was, and is reported still imbalanced.
 */
import { type DeploymentConfiguration, DescribeServicesCommand, type ECSClient, StopTaskCommand, UpdateServiceCommand } from "@aws-sdk/client-ecs";
import type { Clock } from "../core/clock";
import { type BalanceReport, type ServiceBalance, serviceBalance } from "./balance";
import type { FleetSnapshot, ServiceSnapshot } from "./snapshot";
import { formatDuration } from "../core/duration";
import { unsteadyReason } from "./migration";
import { type MoveSettings, moveImproves, noRoomReason, readMoveSettings, stopAllowed, taskToStop } from "./rebalance-moves";

/** Forced deployments in flight at once. */
export const DEFAULT_REBALANCE_CONCURRENCY = 3;
/** How long one service's deployment may take, from its UpdateService. */
export const DEFAULT_REBALANCE_TIMEOUT_MS = 15 * 60_000;
/** Time between snapshots while deployments run. */
export const DEFAULT_REBALANCE_POLL_MS = 15_000;

/** The part of a service's deployment configuration rebalance narrows, and reports. */
export interface DeploymentLimits {
  readonly minimumHealthyPercent?: number;
  readonly maximumPercent?: number;
}

/**
 * The configuration a rebalancing deployment runs with: minimumHealthyPercent 100 (no task stops
 * before its replacement is healthy) and maximumPercent 100 + ceil(100 / desired), which ECS
 * rounds down to desired + 1 tasks (one more for 100 tasks and over: 101 % of 250 is 252).
 */
export function narrowedDeploymentConfiguration(desiredCount: number): Required<DeploymentLimits> {
  return { minimumHealthyPercent: 100, maximumPercent: 100 + Math.ceil(100 / Math.max(1, desiredCount)) };
}

export interface RebalanceOptions {
  readonly clusterName: string;
  /** The services to force (the imbalanced ones, `serviceBalance(...).imbalanced`); duplicates are ignored. */
  readonly services: readonly string[];
  /** Deployments in flight at once. @default 3 */
  readonly concurrency?: number;
  /** Report what would be forced and change nothing. @default false */
  readonly dryRun?: boolean;
  /** A snapshot of the cluster now (the poller; tests pass one read from the sim). */
  readonly take: () => Promise<FleetSnapshot>;
  /** Per service, from its UpdateService to a COMPLETED deployment. @default 15 minutes */
  readonly timeoutMs?: number;
  /** @default 15 seconds */
  readonly pollIntervalMs?: number;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * - `would-force`: dry run.
 * - `balanced`: its deployment completed and the final snapshot finds it balanced.
 * - `still-imbalanced`: its deployment completed, and it is still imbalanced.
 * - `completed`: its deployment completed; balance does not judge it (a daemon service).
 * - `not-moved`: it places by binpack (or at random), which packs on purpose: reported, never moved or forced.
 * - `failed`: the service is not in the cluster, UpdateService was refused, the deployment
 *   failed, the service went away, or it did not complete within the timeout (`error` says which).
 */
export type RebalanceOutcome = "would-force" | "balanced" | "still-imbalanced" | "completed" | "not-moved" | "failed";

export interface ServiceRebalance {
  readonly service: string;
  readonly outcome: RebalanceOutcome;
  /** The deployment UpdateService started. */
  readonly deploymentId?: string;
  /** When UpdateService was sent, and when the deployment was seen completed (or given up on). */
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly error?: string;
  /** Absent when the service is not a replica service of the snapshot. */
  readonly before?: ServiceBalance;
  readonly after?: ServiceBalance;
  /** The service's own deployment configuration (DescribeServices), as it was before the forcing. */
  readonly original?: DeploymentLimits;
  /** What its forced deployment ran with (a dry run: what it would run with). */
  readonly narrowed?: DeploymentLimits;
  /** Whether the original configuration was put back; absent when nothing was narrowed. */
  readonly restored?: boolean;
  /** Why it could not be put back (the service keeps the narrowed one: restore it by hand). */
  readonly restoreError?: string;
  /** Tasks moved one at a time (a zone imbalance); absent when the service was forced instead. */
  readonly moves?: number;
  /** Tasks stopped in the fullest zone to move them (room above the minimum healthy count), the last one counted even if it did not help; the other moves went by desired count one up, then back. */
  readonly stops?: number;
  /** Why the moves stopped short of balance (no room where it lacks tasks, placement constraints); absent when balanced. */
  readonly why?: string;
}

export interface RebalanceResult {
  readonly clusterName: string;
  readonly dryRun: boolean;
  readonly startedAt: number;
  readonly finishedAt: number;
  /** In the order given. */
  readonly services: readonly ServiceRebalance[];
  readonly before: BalanceReport;
  /** From the final snapshot; absent on a dry run. */
  readonly after?: BalanceReport;
  /**
   * No service failed or is still imbalanced, and every narrowed configuration was put back (a
   * dry run, which changes nothing, is ok).
   */
  readonly ok: boolean;
}

interface Flight {
  readonly startedAt: number;
  readonly deploymentId?: string;
  /** The service's whole deploymentConfiguration before the forcing (what restoring sends back). */
  readonly original?: DeploymentConfiguration;
  readonly narrowed?: DeploymentLimits;
}

interface Finished {
  readonly failed: boolean;
  readonly deploymentId?: string;
  readonly startedAt?: number;
  readonly finishedAt: number;
  readonly error?: string;
  readonly original?: DeploymentLimits;
  readonly narrowed?: DeploymentLimits;
  readonly restored?: boolean;
  readonly restoreError?: string;
  readonly moves?: number;
  readonly stops?: number;
  readonly why?: string;
}

/** A service balance does not judge (binpack, random): never moved, never forced. */
const packed = (balance: ServiceBalance | undefined): boolean => balance !== undefined && !balance.checks.zones && !balance.checks.instances;
/** A zone imbalance: fixed by moving tasks, not by a forced deployment. */
const zoneImbalanced = (balance: ServiceBalance): boolean => balance.imbalances.some((i) => i.kind !== "instance-stacking");

const limits = (c: DeploymentConfiguration | DeploymentLimits): DeploymentLimits => ({ minimumHealthyPercent: c.minimumHealthyPercent, maximumPercent: c.maximumPercent });

const message = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** Where a forced deployment stands in a snapshot. */
function deploymentState(service: ServiceSnapshot | undefined, deploymentId: string | undefined): { state: "in-progress" | "completed" | "failed"; why?: string } {
  if (!service) return { state: "failed", why: "the service is no longer in the cluster" };
  const primary = service.deployments.find((d) => d.status === "PRIMARY");
  if (!primary) return { state: "in-progress" };
  const ours = deploymentId === undefined ? service.deployments.length === 1 : primary.id === deploymentId;
  // Another deployment started over ours (a release meanwhile): its completion is as good.
  const superseded = deploymentId !== undefined && !ours && !service.deployments.some((d) => d.id === deploymentId);
  if (primary.rolloutState === "COMPLETED" && (ours || superseded)) return { state: "completed" };
  if (primary.rolloutState === "FAILED" && (ours || superseded)) return { state: "failed", why: `the deployment failed (${primary.failedTasks} tasks failed to start)` };
  return { state: "in-progress" };
}

/**
 * Forces a new deployment of each service with a narrowed deployment configuration, at most
 * `concurrency` in flight: each starts when a slot frees, and a slot frees when a snapshot shows
 * that service's deployment COMPLETED (or FAILED, or past the timeout), once the service's own
 * configuration is back. Then one more snapshot judges the balance of every service. Never throws
 * for a service that fails; an error of `take` itself is thrown.
 */
export async function rebalance(clients: { readonly ecs: ECSClient }, clock: Clock, options: RebalanceOptions): Promise<RebalanceResult> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_REBALANCE_CONCURRENCY));
  const timeoutMs = options.timeoutMs ?? DEFAULT_REBALANCE_TIMEOUT_MS;
  const pollMs = options.pollIntervalMs ?? DEFAULT_REBALANCE_POLL_MS;
  const log = options.log ?? (() => {});
  const cluster = options.clusterName;
  const startedAt = clock.now();
  const first = await options.take();
  const before = serviceBalance(first);
  const balanceOf = (report: BalanceReport | undefined, name: string) => report?.services.find((s) => s.service === name);
  const all = [...new Set(options.services)];
  const names = all.filter((name) => !packed(balanceOf(before, name)));
  for (const name of all.filter((n) => !names.includes(n))) log("places by binpack: reported, never moved", { cluster, service: name });
  const notMoved = (name: string): ServiceRebalance => ({ service: name, outcome: "not-moved", before: balanceOf(before, name), after: balanceOf(before, name) });

  if (options.dryRun) {
    const services = names.map((name): ServiceRebalance => {
      const balance = balanceOf(before, name);
      if (balance && zoneImbalanced(balance)) {
        log("would move tasks one at a time", { cluster, service: name, dryRun: true });
        return { service: name, outcome: "would-force", before: balance, moves: 0 };
      }
      const desired = first.services.find((s) => s.name === name)?.desiredCount;
      const narrowed = desired === undefined ? undefined : narrowedDeploymentConfiguration(desired);
      log("would force a new deployment", { cluster, service: name, dryRun: true, ...(narrowed ? { narrowed } : {}) });
      return { service: name, outcome: "would-force", before: balanceOf(before, name), ...(narrowed ? { narrowed } : {}) };
    });
    return { clusterName: cluster, dryRun: true, startedAt, finishedAt: clock.now(), services: all.map((n) => services.find((s) => s.service === n) ?? notMoved(n)), before, ok: true };
  }

  const finished = new Map<string, Finished>();

  /**
   * Waits until the service runs `count` tasks, steady; "unplaced" when the scheduler reports it
   * cannot place a task after `since`, or two polls in a row find fewer tasks running or pending
   * than `count` (ECS creates no task it cannot place). Gives up at the service's timeout.
   */
  const settle = async (name: string, count: number, since: number, startedAt: number, replacing = false): Promise<"steady" | "unplaced" | "gone" | "timeout"> => {
    let short = 0;
    for (;;) {
      await clock.sleep(pollMs);
      const snapshot = await options.take();
      const service = snapshot.services.find((s) => s.name === name);
      if (!service) return "gone";
      // After a stop, its replacement must be seen running too (a service's counts can lag its tasks).
      const replaced = !replacing || snapshot.tasks.filter((t) => t.group === `service:${name}` && t.desiredStatus === "RUNNING" && t.lastStatus === "RUNNING").length >= count;
      if (service.desiredCount === count && unsteadyReason(service) === undefined && replaced) return "steady";
      short = service.runningCount + service.pendingCount < count ? short + 1 : 0;
      // A stopped task's replacement is waited for (its room frees as it stops): only the timeout ends that wait.
      if (replacing) {
        if (clock.now() - startedAt >= timeoutMs) return "timeout";
        continue;
      }
      if (short >= 2 || service.events.some((e) => e.at >= since && /unable to place a task/i.test(e.message))) return "unplaced";
      if (clock.now() - startedAt >= timeoutMs) return "timeout";
    }
  };
  const setDesired = async (name: string, desiredCount: number): Promise<string | undefined> => {
    try {
      await clients.ecs.send(new UpdateServiceCommand({ cluster, service: name, desiredCount }));
      return undefined;
    } catch (error) {
      return message(error);
    }
  };
  /**
   * Moves the service's tasks one at a time until balanced over zones, or no move helps: where the
   * service has room above its minimum healthy count, a task of its fullest zone is stopped and the
   * scheduler starts the replacement (in the zone with the fewest of its tasks that has room);
   * elsewhere the desired count goes one up (the new task goes there) and, once steady, back (the
   * scheduler stops one in the fullest zone). Each move is judged on a fresh snapshot.
   */
  const move = async (name: string): Promise<Finished> => {
    const startedAt = clock.now();
    let moves = 0;
    let stops = 0;
    /** Set once a desired count was put back. */
    let restored: boolean | undefined;
    const done = (fields: Partial<Finished> = {}): Finished => ({ failed: false, startedAt, finishedAt: clock.now(), moves, stops, ...(restored && { restored }), ...fields });
    const settings: MoveSettings = await readMoveSettings(clients.ecs, cluster, name);
    for (;;) {
      const snapshot = await options.take();
      const service = snapshot.services.find((s) => s.name === name);
      if (!service) return done({ failed: true, error: "the service is no longer in the cluster" });
      const balance = balanceOf(serviceBalance(snapshot), name);
      if (!balance || !zoneImbalanced(balance) || moves >= 2 * service.desiredCount) return done();
      const desired = service.desiredCount;
      const stop = stopAllowed(snapshot, service, settings, clock.now());
      if (stop === "wait") {
        // Room above the floor once its newest task has proven healthy: wait for that, not a scale-out.
        if (clock.now() - startedAt >= timeoutMs) return done({ failed: true, error: `a move did not complete within ${formatDuration(timeoutMs)}` });
        await clock.sleep(pollMs);
        continue;
      }
      if (stop === "stop") {
        const task = taskToStop(snapshot, balance);
        if (!task) return done();
        const sentAt = clock.now();
        try {
          await clients.ecs.send(new StopTaskCommand({ cluster, task: task.arn, reason: "amiroll rebalance: moving a task out of its service's fullest zone" }));
        } catch (error) {
          return done({ failed: true, error: `StopTask refused: ${message(error)}` });
        }
        log("moving a task: stopped one in its fullest zone", { cluster, service: name, availabilityZone: task.availabilityZone, task: task.arn });
        const out = await settle(name, desired, sentAt, startedAt, true);
        if (out === "gone") return done({ failed: true, error: "the service is no longer in the cluster" });
        if (out === "timeout") return done({ failed: true, error: `a move did not complete within ${formatDuration(timeoutMs)}` });
        stops++;
      } else {
        const sentAt = clock.now();
        const refused = await setDesired(name, desired + 1);
        if (refused) return done({ failed: true, error: `UpdateService refused: ${refused}` });
        log("moving a task: desired count one up", { cluster, service: name, desiredCount: desired + 1 });
        const out = await settle(name, desired + 1, sentAt, startedAt);
        // Back to the service's own count, however the wait ended.
        const restoreRefused = await setDesired(name, desired);
        if (restoreRefused) {
          const restoreError = `UpdateService refused to put the desired count back to ${desired}: ${restoreRefused}`;
          log("could not restore the desired count", { cluster, service: name, error: restoreError });
          return done({ failed: true, restored: false, restoreError, error: restoreError });
        }
        restored = true;
        if (out === "gone") return done({ failed: true, error: "the service is no longer in the cluster" });
        if (out === "timeout") return done({ failed: true, error: `a move did not complete within ${formatDuration(timeoutMs)}` });
        const back = await settle(name, desired, clock.now(), startedAt);
        if (back === "gone") return done({ failed: true, error: "the service is no longer in the cluster" });
        if (back === "timeout") return done({ failed: true, error: `a move did not complete within ${formatDuration(timeoutMs)}` });
        if (out === "unplaced") {
          const why = noRoomReason(balance, settings);
          log("no room to move a task to", { cluster, service: name, why });
          return done({ why });
        }
      }
      const after = balanceOf(serviceBalance(await options.take()), name);
      const perZone = after?.perZone.map((z) => `${z.availabilityZone} ${z.tasks}`).join(", ");
      // No better: the zones that lack its tasks have no room (or its constraints keep it out); another move would do the same.
      if (!after || !moveImproves(balance, after)) {
        const why = noRoomReason(balance, settings);
        log("no room to move a task to", { cluster, service: name, perZone, why });
        return done({ why });
      }
      moves++;
      log("moved a task", { cluster, service: name, perZone });
    }
  };

  // Zone imbalances are moved (a few services at a time); what is left (instances only) is forced.
  const moving = names.filter((name) => {
    const balance = balanceOf(before, name);
    return balance !== undefined && zoneImbalanced(balance);
  });
  const movers = [...moving];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, movers.length) }, async () => {
      for (let name = movers.shift(); name !== undefined; name = movers.shift()) finished.set(name, await move(name));
    }),
  );

  const queueOrder = names.filter((name) => !moving.includes(name));
  const queue = [...queueOrder];
  const inFlight = new Map<string, Flight>();

  /** Puts the service's own configuration back, if it was narrowed. */
  const restore = async (name: string, flight: Flight): Promise<{ restored?: boolean; restoreError?: string }> => {
    if (!flight.original || !flight.narrowed) return {};
    try {
      await clients.ecs.send(new UpdateServiceCommand({ cluster, service: name, deploymentConfiguration: flight.original }));
      log("restored the deployment configuration", { cluster, service: name, ...limits(flight.original) });
      return { restored: true };
    } catch (error) {
      const restoreError = `UpdateService refused to restore ${JSON.stringify(limits(flight.original))}: ${message(error)}`;
      log("could not restore the deployment configuration", { cluster, service: name, error: restoreError });
      return { restored: false, restoreError };
    }
  };
  const finish = async (name: string, flight: Flight, failed: boolean, error?: string) => {
    const restoring = await restore(name, flight);
    inFlight.delete(name);
    finished.set(name, {
      failed,
      deploymentId: flight.deploymentId,
      startedAt: flight.startedAt,
      finishedAt: clock.now(),
      error,
      ...(flight.original ? { original: limits(flight.original) } : {}),
      ...(flight.narrowed ? { narrowed: flight.narrowed } : {}),
      ...restoring,
    });
    log(failed ? "rebalance of a service failed" : "deployment completed", { cluster, service: name, ...(error ? { error } : {}) });
  };
  /** Reads the service's configuration and forces its deployment with the narrowed one; resolves the flight, or why not. */
  const force = async (name: string): Promise<Flight | { error: string }> => {
    const at = clock.now();
    let described;
    try {
      described = await clients.ecs.send(new DescribeServicesCommand({ cluster, services: [name] }));
    } catch (error) {
      return { error: `DescribeServices failed: ${message(error)}` };
    }
    const service = described.services?.find((s) => s.serviceName === name || s.serviceArn === name);
    if (!service) {
      const reason = described.failures?.find((f) => f.arn === name)?.reason ?? described.failures?.[0]?.reason;
      return { error: `the service is not in the cluster (DescribeServices: ${reason ?? "not found"})` };
    }
    const original = service.deploymentConfiguration;
    // What could not be put back is not changed.
    if (original?.minimumHealthyPercent === undefined || original.maximumPercent === undefined) {
      return { error: "DescribeServices gave no deploymentConfiguration percentages to restore afterwards; nothing was forced" };
    }
    const narrowed = narrowedDeploymentConfiguration(service.desiredCount ?? 0);
    try {
      const out = await clients.ecs.send(
        new UpdateServiceCommand({ cluster, service: name, forceNewDeployment: true, deploymentConfiguration: { ...original, ...narrowed } }),
      );
      const deploymentId = out.service?.deployments?.find((d) => d.status === "PRIMARY")?.id;
      return { startedAt: at, deploymentId, original, narrowed };
    } catch (error) {
      return { error: `UpdateService refused: ${message(error)}` };
    }
  };

  while (queue.length > 0 || inFlight.size > 0) {
    while (inFlight.size < concurrency && queue.length > 0) {
      const name = queue.shift()!;
      const at = clock.now();
      const flight = await force(name);
      if ("error" in flight) {
        await finish(name, { startedAt: at }, true, flight.error);
        continue;
      }
      inFlight.set(name, flight);
      log("forced a new deployment", {
        cluster,
        service: name,
        deploymentId: flight.deploymentId,
        narrowed: flight.narrowed,
        // Logged so that an operator can put it back by hand should this run be cut short.
        original: limits(flight.original!),
        inFlight: inFlight.size,
      });
    }
    if (inFlight.size === 0) continue;
    await clock.sleep(pollMs);
    const snapshot = await options.take();
    for (const [name, flight] of [...inFlight]) {
      const { state, why } = deploymentState(snapshot.services.find((s) => s.name === name), flight.deploymentId);
      if (state === "completed") await finish(name, flight, false);
      else if (state === "failed") await finish(name, flight, true, why);
      else if (clock.now() - flight.startedAt >= timeoutMs) await finish(name, flight, true, `the deployment did not complete within ${formatDuration(timeoutMs)}`);
    }
  }

  // A forced deployment places where there is room, which can leave the zones uneven: those are moved after.
  const forced = queueOrder.filter((name) => finished.get(name)?.failed === false);
  if (forced.length > 0) {
    const placed = serviceBalance(await options.take());
    for (const name of forced) {
      const balance = balanceOf(placed, name);
      if (!balance || !zoneImbalanced(balance)) continue;
      const deployment = finished.get(name)!;
      const moved = await move(name);
      finished.set(name, {
        ...deployment,
        failed: moved.failed,
        error: moved.error,
        finishedAt: moved.finishedAt,
        moves: moved.moves,
        stops: moved.stops,
        why: moved.why,
        ...(moved.restored === false && { restored: false, restoreError: moved.restoreError }),
      });
    }
  }

  const after = serviceBalance(await options.take());
  const services = all.map((name): ServiceRebalance => {
    if (!names.includes(name)) return { ...notMoved(name), after: balanceOf(after, name) };
    const done = finished.get(name)!;
    const judged = balanceOf(after, name);
    const outcome: RebalanceOutcome = done.failed ? "failed" : !judged ? "completed" : judged.balanced ? "balanced" : "still-imbalanced";
    return {
      service: name,
      outcome,
      deploymentId: done.deploymentId,
      startedAt: done.startedAt,
      finishedAt: done.finishedAt,
      error: done.error,
      before: balanceOf(before, name),
      after: judged,
      ...(done.original ? { original: done.original } : {}),
      ...(done.narrowed ? { narrowed: done.narrowed } : {}),
      ...(done.restored !== undefined ? { restored: done.restored } : {}),
      ...(done.restoreError ? { restoreError: done.restoreError } : {}),
      ...(done.moves !== undefined ? { moves: done.moves } : {}),
      ...(done.stops !== undefined ? { stops: done.stops } : {}),
      ...(done.why && judged && !judged.balanced ? { why: done.why } : {}),
    };
  });
  for (const s of services) {
    if (s.outcome === "still-imbalanced") log(s.moves !== undefined ? "still imbalanced after its moves" : "still imbalanced after its deployment", { cluster, service: s.service, why: s.why ?? s.after!.imbalances.map((i) => i.detail).join("; ") });
  }
  return {
    clusterName: cluster,
    dryRun: false,
    startedAt,
    finishedAt: clock.now(),
    services,
    before,
    after,
    ok: services.every((s) => (s.outcome === "balanced" || s.outcome === "completed" || s.outcome === "not-moved") && s.restored !== false),
  };
}
