/**
 * The watch loop: poll each cluster, fold the snapshot into its migration state, report
 * progress, and stop when every cluster is done, one fails (crash loop, stall), or time runs
 * out. The only impure parts are the snapshot and the clock's sleep. Each poll of a cluster is
 * given the cluster's last snapshot, so it reads only what can have changed; an outcome that ends
 * the watch is only ever decided on full polls (`isFullView`).
 */
import type { Clock } from "../core/clock";
import type { AwsClients } from "./clients";
import { type MigrationOptions, type MigrationState, type PollCadence, finished, nextPollDelay, stepMigration } from "./migration";
import { type FleetSnapshot, isFullView, takeSnapshot } from "./snapshot";

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
    /** Polls a cluster (incrementally, given its last snapshot, unless `full`) and folds the snapshot into its state of before this cycle. */
    const poll = async (cluster: WatchedCluster, full: boolean) => {
      const snapshot = await takeSnapshot(clients, cluster.ecsClusterName, { now: clock.now(), since, previous: full ? undefined : snapshots.get(cluster.name) });
      await options.onSnapshot?.(cluster, snapshot);
      const migration: MigrationOptions = { targetImageIds: cluster.targetImageIds, stallAfterMs: options.stallAfterMs };
      snapshots.set(cluster.name, snapshot);
      states.set(cluster.name, stepMigration(previous.get(cluster.name), snapshot, migration));
    };
    for (const cluster of options.clusters) await poll(cluster, false);
    // An incremental poll may reuse answers up to their max age: a verdict that ends the watch is
    // taken again on a full poll of every cluster whose snapshot reused anything, in place of it.
    if (ending(states) !== undefined) for (const cluster of options.clusters) if (!isFullView(snapshots.get(cluster.name)!)) await poll(cluster, true);
    options.onCycle?.({ number: cycle, states, snapshots });
    const outcome = ending(states);
    if (outcome) return { outcome, cycles: cycle, states, snapshots, startedAt: since, endedAt: clock.now() };
    const end = (outcome: WatchResult["outcome"]) => ({ outcome, cycles: cycle, states, snapshots, startedAt: since, endedAt: clock.now() });
    if (clock.now() - since >= options.timeoutMs) return end("timeout");
    if (options.signal?.aborted) return end("interrupted");
    const delay = Math.min(...options.clusters.map((c) => nextPollDelay(previous.get(c.name), states.get(c.name)!, options.cadence)));
    await clock.sleep(Math.min(delay, Math.max(0, since + options.timeoutMs - clock.now())) || delay);
  }
}

/** The outcome the clusters' states decide (a crash loop or a stall in any, or every one done), or undefined. */
function ending(states: ReadonlyMap<string, MigrationState>): "crash loop" | "stalled" | "done" | undefined {
  const all = [...states.values()];
  if (all.some((s) => s.phase === "crash loop")) return "crash loop";
  if (all.some((s) => s.phase === "stalled")) return "stalled";
  if (all.every(finished)) return "done";
  return undefined;
}
