/**
 * The `hook-faults` scenario: a quarter of the drain hook's invocations throw (half before their
 * check, half after it). Lambda retries a failed lifecycle event, SQS brings a failed re-check
 * back after the visibility timeout, and the timing (DRAIN_HOOK_TIMING) keeps every heartbeat
 * alive through one failure: a replace roll still drains every old instance, with no downtime.
 */
import { stopAfterTest } from "../support/stop-worlds";
import { rolloutOptions, simulatedWorld } from "../../scripts/commands/rollout";
import { createLogger } from "../../scripts/core/log";
import { readPins } from "../../scripts/config/pins";
import { rollout } from "../../scripts/rollout/rollout";
import { SCENARIOS } from "../../scripts/sim/scenario-list";
import { ENVIRONMENTS_CONFIG, REPO_PINS_PATH, loadEnvironments, repoConfig } from "../support/repo-config";

jest.setTimeout(60_000);

describe("hook-faults: a quarter of the drain hook's invocations throw", () => {
  it("is a named scenario", () => {
    expect(SCENARIOS["hook-faults"]).toMatchObject({ hookFaultRate: 0.25 });
  });

  it("a replace roll of both environments ends done, every old instance drained by the hook, no heartbeat lapsed, no downtime", async () => {
    const raw = structuredClone(ENVIRONMENTS_CONFIG) as any;
    for (const env of Object.values(raw) as any[]) env.strategy = "replace";
    const environments = loadEnvironments(raw);
    const pins = readPins(REPO_PINS_PATH, environments);
    const log = createLogger("text", () => {});
    // Which invocations fail is drawn from the world's one RNG, which every API call of the run
    // draws from too (the throttling chance), so it moves with the calls the driver makes: seed 4
    // gives several faults of each kind (4 before, 5 after their check, at the cheaper watch polls
    // of issue 17 item 3; the default seed 1 gave 5 and 3 before them, 1 and 0 since).
    const world = stopAfterTest(await simulatedWorld({ ...repoConfig(), environments, pins }, { scenario: "hook-faults", log, seed: 4 }));
    const result = await rollout(rolloutOptions(world, environments, log, { waitForWindow: true }));

    expect(result.outcome).toBe("done");
    expect(result.waves.map((w) => [w.environment, w.outcome])).toEqual([["staging", "done"], ["production", "done"]]);
    const sims = [...world.simulations.values()];
    expect(sims.flatMap((s) => s.world.downtimeViolations())).toEqual([]);

    const notes = sims.flatMap((s) => s.world.log);
    // The faults happened, on both sides of a check, and were retried.
    expect(notes.some((n) => n.includes("failed before its check"))).toBe(true);
    expect(notes.some((n) => n.includes("failed after its check"))).toBe(true);
    // No instance went because its heartbeat ran out, and no re-check was given up on.
    expect(notes.filter((n) => n.includes("heartbeat timeout"))).toEqual([]);
    expect(notes.filter((n) => n.includes("dead-letter queue"))).toEqual([]);
    // Every old instance was let go by the hook once drained.
    const oldInstances = sims.flatMap((s) => [...s.world.instances.values()].filter((i) => i.imageId !== s.images[s.environment.clusters[0].name].pinned));
    expect(oldInstances.length).toBeGreaterThan(0);
    for (const instance of oldInstances) {
      expect(instance.lifecycle).toBe("Terminated");
      expect(notes.some((n) => n.includes(`${instance.id} lifecycle action CONTINUE`))).toBe(true);
    }
    expect(notes.filter((n) => n.includes("MAX DRAIN TIME REACHED"))).toEqual([]);
  });
});
