/**
 * The critical path of a simulated roll: the shortest makespan the durations the simulator
 * actually sampled allow, with every wait (polls, hook rechecks, terraform's capacity checks)
 * taken out but the strategy's own ordering kept. bench:rollout divides the makespan by it.
 *
 * A roll is a sequence of stages (replace: the canary, then the replace apply; blue-green: one).
 * In a stage, new instances launch at its start; tasks start moving once every new instance is
 * InService (terraform's create_before_destroy deletes the old group then) or registered with ECS
 * (blue-green's drain, the canary); a replacement task is healthy after its own instance
 * registered, its start and its health grace; an old task stops (its stop time) only once a
 * replacement of its service is healthy (minimumHealthyPercent 100); an old instance terminates
 * (its shutdown) once its tasks are gone, or, in blue-green, once every task has left the old
 * generation (STOPPED: what the watch verifies before the retire apply). The canary's soak runs
 * from the moment its proof holds (no task meant to run left on the drained instance: the last
 * replacement healthy, its old task told to stop), overlapping the stops.
 *
 * Refresh (refreshPath) is a sequence of batches, each a stage of its own: its new instances boot
 * and register (the batch waits for every one), its old instances are set DRAINING, their tasks
 * move, and once the last has stopped they are terminated. The next batch begins right then, so a
 * batch's shutdowns overlap the next one; only the last batch of old instances' shutdowns are on
 * the path (the refresh waits for them to be gone). A zone batch (one new-image instance moved out
 * of the fullest zone at the end) is a batch like the others.
 *
 * Which replacement frees which old task is the scheduler's choice, so each service's pairing is
 * taken at its best for the path (the fastest replacement with the longest tail: sorted pairing
 * minimises the largest sum), which keeps the result a lower bound for the sampled durations.
 * Pure: no sim, no clock.
 */

export interface NewInstanceSample {
  /** Launch to InService. */
  readonly bootMs: number;
  /** InService to registered with ECS. */
  readonly registrationMs: number;
}

export interface StartedTaskSample {
  /** Index into the stage's newInstances; undefined for an instance registered before the stage. */
  readonly instance?: number;
  /** Created to RUNNING. */
  readonly startMs: number;
  /** RUNNING to healthy. */
  readonly graceMs: number;
}

export interface StoppedTaskSample {
  /** Told to stop to STOPPED. */
  readonly stopMs: number;
  /** Index into the stage's terminated instances when its instance was terminated in the stage. */
  readonly terminated?: number;
}

export interface ServiceMoves {
  /** Replacements: the service's tasks started in the stage that became healthy and stayed. */
  readonly started: readonly StartedTaskSample[];
  /** The service's older tasks stopped in the stage. */
  readonly stopped: readonly StoppedTaskSample[];
}

export interface StageSamples {
  readonly name: string;
  readonly newInstances: readonly NewInstanceSample[];
  /** What the stage waits for, over every new instance, before any task moves. */
  readonly drainAfter: "in-service" | "registered";
  readonly services: readonly ServiceMoves[];
  /** Old instances terminated in the stage: hook released (or termination begun) to terminated. */
  readonly terminated: readonly { readonly shutdownMs: number }[];
  /**
   * each-when-empty: the old group is deleted at the barrier and the drain hook releases each
   * instance once its tasks are STOPPED; after-all-moved: blue-green retires the old generation
   * once every task has left it (its last task STOPPED, as the watch verifies), and every old
   * instance shuts down from then on.
   */
  readonly terminate: "each-when-empty" | "after-all-moved";
  /**
   * A deliberate wait from the moment the last old task may be told to stop (its replacement
   * healthy), overlapping the stops (the canary's soak): policy, not physics.
   */
  readonly policyMs: number;
}

export interface StagePath {
  readonly name: string;
  /** Stage start to the moment tasks may move (the slowest new instance). */
  readonly barrierMs: number;
  /** On the critical chain, after the barrier: waiting for its own instance, start + grace, and the stop. */
  readonly moveMs: number;
  /** On the critical chain: the old instance's shutdown. */
  readonly shutdownMs: number;
  readonly policyMs: number;
  readonly totalMs: number;
}

/**
 * The largest a + b over the pairing of `a` ascending with `b` descending, `a` cut to its fastest
 * b.length values or padded with `pad` (an old task with no replacement may stop at once): the
 * pairing that makes that largest sum smallest. `bIndex` is the index in `b` of the pair.
 */
export function bestPairing(a: readonly number[], b: readonly number[], pad: number): { max: number; a: number; bIndex: number; lastA: number } | undefined {
  if (b.length === 0) return undefined;
  const ready = [...a].sort((x, y) => x - y).slice(0, b.length);
  while (ready.length < b.length) ready.push(pad);
  ready.sort((x, y) => x - y);
  const order = b.map((_, i) => i).sort((x, y) => b[y] - b[x]);
  let best: { max: number; a: number; bIndex: number } | undefined;
  for (let i = 0; i < order.length; i++) {
    const sum = ready[i] + b[order[i]];
    if (!best || sum > best.max) best = { max: sum, a: ready[i], bIndex: order[i] };
  }
  // lastA: the latest replacement the pairing needs (when the last old task may be told to stop).
  return { ...best!, lastA: ready[ready.length - 1] };
}

/** One stage's critical path. */
export function stagePath(stage: StageSamples): StagePath {
  const registered = stage.newInstances.map((i) => i.bootMs + i.registrationMs);
  const barrierMs = Math.max(0, ...stage.newInstances.map((i, k) => (stage.drainAfter === "registered" ? registered[k] : i.bootMs)));
  // The critical chain so far: where it ends and its parts after the barrier.
  let end = barrierMs;
  let moveMs = 0;
  let shutdownMs = 0;
  // When the last old task has STOPPED, each service's pairing at its best for that moment: the
  // watch (blue-green's verification) and the canary's steadiness both wait for it.
  let lastStopped = barrierMs;
  let lastStop: { readyMs: number; stopMs: number } | undefined;
  // When the last old task may be told to stop: its replacement healthy (the canary's proof holds
  // then: its polls list the tasks meant to run, and a task told to stop is no longer one).
  let lastReady = barrierMs;
  for (const service of stage.services) {
    const ready = service.started.map((t) => Math.max(barrierMs, t.instance === undefined ? 0 : registered[t.instance]) + t.startMs + t.graceMs);
    const stops = service.stopped.map((t) => t.stopMs);
    const stopped = bestPairing(ready, stops, barrierMs);
    if (stopped) lastReady = Math.max(lastReady, stopped.lastA);
    if (stopped && stopped.max > lastStopped) {
      lastStopped = stopped.max;
      lastStop = { readyMs: stopped.a, stopMs: stops[stopped.bIndex] };
    }
    if (stage.terminate === "after-all-moved") continue;
    // Each instance released once empty: an old task's tail is its stop, then its instance's
    // shutdown (the drain hook waits for STOPPED).
    const tails = service.stopped.map((t) => t.stopMs + (t.terminated === undefined ? 0 : stage.terminated[t.terminated].shutdownMs));
    const pair = bestPairing(ready, tails, barrierMs);
    if (pair && pair.max > end) {
      end = pair.max;
      const stopMs = service.stopped[pair.bIndex].stopMs;
      moveMs = pair.a - barrierMs + stopMs;
      shutdownMs = tails[pair.bIndex] - stopMs;
    }
  }
  if (lastStop && lastStopped > end) {
    end = lastStopped;
    moveMs = lastStop.readyMs - barrierMs + lastStop.stopMs;
    shutdownMs = 0;
  }
  // Old instances go no earlier than their group is deleted: at the barrier (the hook releases each
  // once empty), or once every task has left the old generation (blue-green verifies that, then
  // retires it: every old instance shuts down from then on).
  const retireAt = stage.terminate === "each-when-empty" ? barrierMs : lastStopped;
  for (const t of stage.terminated) {
    if (retireAt + t.shutdownMs > end) {
      end = retireAt + t.shutdownMs;
      moveMs = retireAt - barrierMs;
      shutdownMs = t.shutdownMs;
    }
  }
  // The policy wait (the canary's soak) runs from the moment its proof holds: every replacement
  // healthy, so no task meant to run left on the drained instance; the stops run inside it.
  if (stage.policyMs > 0 && lastReady + stage.policyMs >= end) {
    return { name: stage.name, barrierMs, moveMs: lastReady - barrierMs, shutdownMs: 0, policyMs: stage.policyMs, totalMs: lastReady + stage.policyMs };
  }
  return { name: stage.name, barrierMs, moveMs, shutdownMs, policyMs: 0, totalMs: end };
}

/** The roll's critical path: its stages one after the other. */
export function criticalPath(stages: readonly StageSamples[]): { totalMs: number; stages: StagePath[] } {
  const paths = stages.map(stagePath);
  return { totalMs: paths.reduce((ms, p) => ms + p.totalMs, 0), stages: paths };
}

/** One refresh batch as sampled: its stage (its own old instances' terminations, if any) and whether it is a zone batch. */
export interface RefreshBatchSamples {
  readonly stage: StageSamples;
  /** A zone batch: it moves an instance of the new image, after the last batch of old ones. */
  readonly zone: boolean;
}

/**
 * Refresh's critical path: its batches one after the other, each behind a registered barrier with
 * its old instances terminated once every task has left them; the shutdowns of every batch but the
 * last of old instances taken out (they overlap the next batch: the refresh terminates and goes on).
 * With a canary slice, the first batch is the slice: `canarySoakMs` is its policy wait (the gates'
 * soak, from its last replacement healthy) before its old instances are terminated and batch 2 begins.
 */
export function refreshPath(batches: readonly RefreshBatchSamples[], canarySoakMs = 0): { totalMs: number; stages: StagePath[] } {
  let lastOld = -1;
  batches.forEach((b, k) => {
    if (!b.zone) lastOld = k;
  });
  return criticalPath(
    batches.map((b, k) => ({
      ...b.stage,
      drainAfter: "registered",
      terminate: "after-all-moved",
      policyMs: k === 0 ? canarySoakMs : 0,
      terminated: k === lastOld ? b.stage.terminated : [],
    })),
  );
}
