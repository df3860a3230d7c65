/**
 * Rebalancing: force a new deployment of each imbalanced service, a few at a time, wait for each
 * to complete, then judge the balance again from a fresh snapshot. The only AWS call it makes
 * itself is UpdateService (forceNewDeployment); everything it observes comes through `take`.
 *
 * A forced deployment replaces every task of the service with the scheduler's placement, within
 * the service's minimumHealthyPercent / maximumPercent, so it causes no downtime a deployment
 * would not. It does not guarantee balance: the scheduler places the new tasks while the old
 * ones still run and still count for its spread, and only where there is room, so a service
 * bunched in a full zone can come out bunched in the other zones. That is why the result is
 * verified, and a service still imbalanced afterwards is reported as such, not as done.
 */
import { UpdateServiceCommand, type ECSClient } from "@aws-sdk/client-ecs";
import type { Clock } from "../sim/clock";
import { type BalanceReport, type ServiceBalance, serviceBalance } from "./balance";
import type { FleetSnapshot, ServiceSnapshot } from "./snapshot";

/** Forced deployments in flight at once. */
export const DEFAULT_REBALANCE_CONCURRENCY = 3;
/** How long one service's deployment may take, from its UpdateService. */
export const DEFAULT_REBALANCE_TIMEOUT_MS = 15 * 60_000;
/** Time between snapshots while deployments run. */
export const DEFAULT_REBALANCE_POLL_MS = 15_000;

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
 * - `failed`: UpdateService was refused, the deployment failed, the service went away, or it
 *   did not complete within the timeout (`error` says which).
 */
export type RebalanceOutcome = "would-force" | "balanced" | "still-imbalanced" | "completed" | "failed";

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
  /** No service failed or is still imbalanced (a dry run, which changes nothing, is ok). */
  readonly ok: boolean;
}

interface Flight {
  readonly startedAt: number;
  readonly deploymentId?: string;
}

interface Finished {
  readonly failed: boolean;
  readonly deploymentId?: string;
  readonly startedAt?: number;
  readonly finishedAt: number;
  readonly error?: string;
}

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
 * Forces a new deployment of each service, at most `concurrency` in flight: each starts when a
 * slot frees, and a slot frees when a snapshot shows that service's deployment COMPLETED (or
 * FAILED, or past the timeout). Then one more snapshot judges the balance of every service.
 * Never throws for a service that fails; an error of `take` itself is thrown.
 */
export async function rebalance(clients: { readonly ecs: ECSClient }, clock: Clock, options: RebalanceOptions): Promise<RebalanceResult> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_REBALANCE_CONCURRENCY));
  const timeoutMs = options.timeoutMs ?? DEFAULT_REBALANCE_TIMEOUT_MS;
  const pollMs = options.pollIntervalMs ?? DEFAULT_REBALANCE_POLL_MS;
  const log = options.log ?? (() => {});
  const names = [...new Set(options.services)];
  const startedAt = clock.now();
  const before = serviceBalance(await options.take());
  const balanceOf = (report: BalanceReport | undefined, name: string) => report?.services.find((s) => s.service === name);

  if (options.dryRun) {
    for (const name of names) log("would force a new deployment", { cluster: options.clusterName, service: name, dryRun: true });
    return {
      clusterName: options.clusterName,
      dryRun: true,
      startedAt,
      finishedAt: clock.now(),
      services: names.map((name) => ({ service: name, outcome: "would-force", before: balanceOf(before, name) })),
      before,
      ok: true,
    };
  }

  const queue = [...names];
  const inFlight = new Map<string, Flight>();
  const finished = new Map<string, Finished>();
  const finish = (name: string, flight: Flight | undefined, failed: boolean, error?: string) => {
    inFlight.delete(name);
    finished.set(name, { failed, deploymentId: flight?.deploymentId, startedAt: flight?.startedAt, finishedAt: clock.now(), error });
    log(failed ? "rebalance of a service failed" : "deployment completed", { cluster: options.clusterName, service: name, ...(error ? { error } : {}) });
  };

  while (queue.length > 0 || inFlight.size > 0) {
    while (inFlight.size < concurrency && queue.length > 0) {
      const name = queue.shift()!;
      const at = clock.now();
      try {
        const out = await clients.ecs.send(new UpdateServiceCommand({ cluster: options.clusterName, service: name, forceNewDeployment: true }));
        const deploymentId = out.service?.deployments?.find((d) => d.status === "PRIMARY")?.id;
        inFlight.set(name, { startedAt: at, deploymentId });
        log("forced a new deployment", { cluster: options.clusterName, service: name, deploymentId, inFlight: inFlight.size });
      } catch (error) {
        finish(name, { startedAt: at }, true, `UpdateService refused: ${message(error)}`);
      }
    }
    if (inFlight.size === 0) continue;
    await clock.sleep(pollMs);
    const snapshot = await options.take();
    for (const [name, flight] of inFlight) {
      const { state, why } = deploymentState(snapshot.services.find((s) => s.name === name), flight.deploymentId);
      if (state === "completed") finish(name, flight, false);
      else if (state === "failed") finish(name, flight, true, why);
      else if (clock.now() - flight.startedAt >= timeoutMs) finish(name, flight, true, `the deployment did not complete within ${Math.round(timeoutMs / 1000)} s`);
    }
  }

  const after = serviceBalance(await options.take());
  const services = names.map((name): ServiceRebalance => {
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
    };
  });
  for (const s of services) {
    if (s.outcome === "still-imbalanced") log("still imbalanced after its deployment", { cluster: options.clusterName, service: s.service, why: s.after!.imbalances.map((i) => i.detail) });
  }
  return {
    clusterName: options.clusterName,
    dryRun: false,
    startedAt,
    finishedAt: clock.now(),
    services,
    before,
    after,
    ok: services.every((s) => s.outcome === "balanced" || s.outcome === "completed"),
  };
}
