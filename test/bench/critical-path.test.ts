import { bestPairing, criticalPath, refreshPath, stagePath, type StageSamples } from "../../bench/critical-path";

/** A stage with one new instance and one service; seconds as ms for readability. */
function stage(over: Partial<StageSamples> = {}): StageSamples {
  return {
    name: "roll",
    newInstances: [{ bootMs: 60, registrationMs: 20 }],
    drainAfter: "registered",
    services: [{ started: [{ instance: 0, startMs: 15, graceMs: 30 }], stopped: [{ stopMs: 10, terminated: 0 }] }],
    terminated: [{ shutdownMs: 30 }],
    terminate: "each-when-empty",
    policyMs: 0,
    ...over,
  };
}

describe("bestPairing", () => {
  it("pairs the fastest replacement with the longest tail", () => {
    // 10+5 and 20+1, not 20+5.
    expect(bestPairing([20, 10], [1, 5], 0)).toEqual({ max: 21, a: 20, bIndex: 0, lastA: 20 });
  });

  it("lets old tasks without a replacement stop at the pad, and drops the slowest extra replacements", () => {
    expect(bestPairing([10], [7, 3], 2)).toEqual({ max: 13, a: 10, bIndex: 1, lastA: 10 });
    expect(bestPairing([10, 50, 12], [4], 0)).toEqual({ max: 14, a: 10, bIndex: 0, lastA: 10 });
    expect(bestPairing([10], [], 0)).toBeUndefined();
  });
});

describe("stagePath", () => {
  it("is boot + registration + start + grace + stop + shutdown for one instance replaced", () => {
    expect(stagePath(stage())).toEqual({ name: "roll", barrierMs: 80, moveMs: 55, shutdownMs: 30, policyMs: 0, totalMs: 165 });
  });

  it("waits for the slowest new instance, even for tasks placed on a fast one", () => {
    const path = stagePath(stage({ newInstances: [{ bootMs: 60, registrationMs: 20 }, { bootMs: 70, registrationMs: 24 }] }));
    expect(path.barrierMs).toBe(94);
    expect(path.totalMs).toBe(94 + 45 + 10 + 30);
  });

  it("behind an in-service barrier, a task waits for its own instance's registration, not for the others'", () => {
    const s = stage({
      drainAfter: "in-service",
      newInstances: [{ bootMs: 60, registrationMs: 30 }, { bootMs: 70, registrationMs: 10 }],
      services: [{ started: [{ instance: 0, startMs: 15, graceMs: 30 }, { startMs: 15, graceMs: 30 }], stopped: [{ stopMs: 10, terminated: 0 }, { stopMs: 10, terminated: 0 }] }],
    });
    // Barrier 70 (the slowest boot); instance 0 registers at 90; the other task's instance was already there.
    expect(stagePath(s)).toMatchObject({ barrierMs: 70, moveMs: 20 + 45 + 10, shutdownMs: 30, totalMs: 90 + 45 + 10 + 30 });
  });

  it("in blue-green, retires the old generation once every old task has stopped, then every old instance shuts down", () => {
    const s = stage({
      terminate: "after-all-moved",
      services: [{ started: [{ instance: 0, startMs: 15, graceMs: 30 }, { instance: 0, startMs: 18, graceMs: 36 }], stopped: [{ stopMs: 10, terminated: 0 }, { stopMs: 12, terminated: 1 }] }],
      terminated: [{ shutdownMs: 36 }, { shutdownMs: 24 }],
    });
    // Ready at 125 and 134; stops 12 and 10 paired at their best: 125+12, 134+10 = 144 (not 125+10,
    // 134+12 = 146). The watch sees every task gone at 144, the retire apply starts then, and the
    // slowest shutdown (36) ends the stage: 180, though a task's own instance could have gone at 171.
    expect(stagePath(s)).toMatchObject({ barrierMs: 80, moveMs: 64, shutdownMs: 36, totalMs: 180 });
    // An empty old instance with a slow shutdown goes with the others, at 144.
    const empty = stagePath({ ...s, terminated: [...s.terminated, { shutdownMs: 50 }] });
    expect(empty).toMatchObject({ moveMs: 64, shutdownMs: 50, totalMs: 194 });
    // Released each once empty (replace), the same samples allow 125+10+36 = 171, and the empty one right after the barrier.
    expect(stagePath({ ...s, terminate: "each-when-empty" }).totalMs).toBe(171);
    expect(stagePath({ ...s, terminate: "each-when-empty", terminated: [...s.terminated, { shutdownMs: 100 }] }).totalMs).toBe(180);
  });

  it("when the hook releases each instance once empty, an empty old instance goes right after the barrier", () => {
    const s = stage({ terminated: [{ shutdownMs: 30 }, { shutdownMs: 200 }] });
    expect(stagePath(s)).toMatchObject({ moveMs: 0, shutdownMs: 200, totalMs: 280 });
  });

  it("runs the policy wait from the last replacement needed, covering the stops, and chains the stages", () => {
    const canary = stage({ name: "canary", terminated: [], services: [{ started: [{ startMs: 15, graceMs: 30 }], stopped: [{ stopMs: 10 }] }], policyMs: 120 });
    // 80 + 45, then the soak (the canary's proof holds once no task meant to run is left on the
    // drained instance: the stop, 10, runs inside the soak).
    expect(stagePath(canary)).toEqual({ name: "canary", barrierMs: 80, moveMs: 45, shutdownMs: 0, policyMs: 120, totalMs: 245 });
    expect(criticalPath([canary, stage()]).totalMs).toBe(245 + 165);
    // A stop longer than the soak ends the stage.
    const slowStop = stage({ name: "canary", terminated: [], services: [{ started: [{ startMs: 15, graceMs: 30 }], stopped: [{ stopMs: 150 }] }], policyMs: 120 });
    expect(stagePath(slowStop)).toMatchObject({ moveMs: 195, policyMs: 0, totalMs: 275 });
  });
});

describe("refreshPath", () => {
  it("chains the batches; a batch's shutdowns overlap the next one, but the last old batch's are on the path", () => {
    // Each batch: barrier 80, its task ready at 125, stopped at 135; the instance shuts down in 30.
    const path = refreshPath([{ stage: stage({ name: "batch 1" }), zone: false }, { stage: stage({ name: "batch 2" }), zone: false }]);
    expect(path.stages).toEqual([
      { name: "batch 1", barrierMs: 80, moveMs: 55, shutdownMs: 0, policyMs: 0, totalMs: 135 },
      { name: "batch 2", barrierMs: 80, moveMs: 55, shutdownMs: 30, policyMs: 0, totalMs: 165 },
    ]);
    expect(path.totalMs).toBe(300);
  });

  it("with a canary slice, the first batch is the slice: its soak from its last replacement healthy, then batch 2 (issue 20)", () => {
    // Batch 1: barrier 80, its task ready at 125, soaked 120 from then: 245 (the stop at 135 inside it).
    const path = refreshPath([{ stage: stage({ name: "batch 1" }), zone: false }, { stage: stage({ name: "batch 2" }), zone: false }], 120);
    expect(path.stages).toEqual([
      { name: "batch 1", barrierMs: 80, moveMs: 45, shutdownMs: 0, policyMs: 120, totalMs: 245 },
      { name: "batch 2", barrierMs: 80, moveMs: 55, shutdownMs: 30, policyMs: 0, totalMs: 165 },
    ]);
    expect(path.totalMs).toBe(410);
  });

  it("a zone batch after the last old batch is a batch too, without its shutdown (the refresh does not wait for it)", () => {
    const path = refreshPath([{ stage: stage({ name: "batch 1" }), zone: false }, { stage: stage({ name: "zone batch 1" }), zone: true }]);
    expect(path.stages.map((p) => [p.name, p.shutdownMs, p.totalMs])).toEqual([["batch 1", 30, 165], ["zone batch 1", 0, 135]]);
    expect(path.totalMs).toBe(300);
  });

  it("waits in each batch for every new instance to register, and terminates its old instances once their last task stopped", () => {
    // As sampled the stage says in-service and each-when-empty: a refresh batch is neither.
    const s = stage({
      drainAfter: "in-service",
      terminate: "each-when-empty",
      newInstances: [{ bootMs: 60, registrationMs: 20 }, { bootMs: 70, registrationMs: 24 }],
      services: [{ started: [{ instance: 0, startMs: 15, graceMs: 30 }, { startMs: 18, graceMs: 36 }], stopped: [{ stopMs: 10, terminated: 0 }, { stopMs: 12, terminated: 1 }] }],
      terminated: [{ shutdownMs: 36 }, { shutdownMs: 24 }],
    });
    // Barrier 94 (the slowest registration); ready at 139 and 148; stops paired at their best:
    // 139+12, 148+10 = 158; both instances terminated then, the slowest shutdown (36) ends it: 194.
    expect(refreshPath([{ stage: s, zone: false }]).stages[0]).toEqual({ name: "roll", barrierMs: 94, moveMs: 64, shutdownMs: 36, policyMs: 0, totalMs: 194 });
    // Released each once empty behind an in-service barrier (replace's apply), the same samples would allow less.
    expect(stagePath(s).totalMs).toBeLessThan(194);
  });
});
