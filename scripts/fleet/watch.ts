/**
 * The watch loop: poll each cluster, fold the snapshot into its migration state, report
 * progress, and stop when every cluster is done, one fails (crash loop, stall), or time runs
 * out. The only impure parts are the snapshot and the clock's sleep. Each poll of a cluster is
 * given the cluster's last snapshot, so it describes only the tasks that can have changed.
 */
import type { Clock } from "../core/clock";
import type { AwsClients } from "./clients";
import { type MigrationOptions, type MigrationState, type PollCadence, finished, nextPollDelay, stepMigration } from "./migration";
import { type FleetSnapshot, takeSnapshot } from "./snapshot";

export interface WatchedCluster {
  /** The name to show (the config's, e.g. `apps`). */
  readonly name: string;
  readonly ecsClusterName: string;
  readonly targetImageIds: readonly string[];
}

export interface WatchOptions {
  readonly clients: AwsClients;
  readonly clock: Clock;
  readonly clusters: readonly WatchedCluster[];
  readonly timeoutMs: number;
  readonly stallAfterMs?: number;
  readonly cadence?: PollCadence;
  /** Stops the watch after the cycle in progress (Ctrl-C): the outcome is "interrupted". */
  readonly signal?: AbortSignal;
  /** Called after every cycle with each cluster's state and snapshot. */
  readonly onCycle?: (cycle: WatchCycle) => void;
  /**
   * Awaited with each cluster's snapshot as it is taken, before the migration folds it (the
   * rollout's boot check replaces instances that failed to boot here). What it throws ends the watch.
   */
  readonly onSnapshot?: (cluster: WatchedCluster, snapshot: FleetSnapshot) => Promise<void>;
}

export interface WatchCycle {
  readonly number: number;
  readonly states: ReadonlyMap<string, MigrationState>;
  readonly snapshots: ReadonlyMap<string, FleetSnapshot>;
}

export interface WatchResult {
  readonly outcome: "done" | "crash loop" | "stalled" | "timeout" | "interrupted";
  readonly cycles: number;
  readonly states: ReadonlyMap<string, MigrationState>;
  /** The last snapshot of each cluster (for the balance check). */
  readonly snapshots: ReadonlyMap<string, FleetSnapshot>;
  readonly startedAt: number;
  readonly endedAt: number;
}

export async function watchMigration(options: WatchOptions): Promise<WatchResult> {
  const { clients, clock } = options;
  const since = clock.now();
  const states = new Map<string, MigrationState>();
  const snapshots = new Map<string, FleetSnapshot>();
  for (let cycle = 1; ; cycle++) {
    const previous = new Map(states);
    for (const cluster of options.clusters) {
      const snapshot = await takeSnapshot(clients, cluster.ecsClusterName, { now: clock.now(), since, previous: snapshots.get(cluster.name) });
      await options.onSnapshot?.(cluster, snapshot);
      const migration: MigrationOptions = { targetImageIds: cluster.targetImageIds, stallAfterMs: options.stallAfterMs };
      snapshots.set(cluster.name, snapshot);
      states.set(cluster.name, stepMigration(states.get(cluster.name), snapshot, migration));
    }
    options.onCycle?.({ number: cycle, states, snapshots });
    const all = [...states.values()];
    const end = (outcome: WatchResult["outcome"]) => ({ outcome, cycles: cycle, states, snapshots, startedAt: since, endedAt: clock.now() });
    if (all.some((s) => s.phase === "crash loop")) return end("crash loop");
    if (all.some((s) => s.phase === "stalled")) return end("stalled");
    if (all.every(finished)) return end("done");
    if (clock.now() - since >= options.timeoutMs) return end("timeout");
    if (options.signal?.aborted) return end("interrupted");
    const delay = Math.min(...options.clusters.map((c) => nextPollDelay(previous.get(c.name), states.get(c.name)!, options.cadence)));
    await clock.sleep(Math.min(delay, Math.max(0, since + options.timeoutMs - clock.now())) || delay);
  }
}
