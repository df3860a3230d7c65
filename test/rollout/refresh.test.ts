/**
 * The refresh strategy against the simulated AWS: staging's group keeps its name, the apply
 * updates its launch template, and the rollout replaces the instances in batches (drain, then
 * terminate with the desired capacity decremented); a broken image rolls back in batches.
 */
import { PINNED, type SimulatedRolloutOptions, simulatedRollout } from "../support/simulated-rollout";

jest.setTimeout(60_000);

/** Staging on the refresh strategy (with `options`), rolled alone. */
const refreshing = (options: Record<string, unknown> = {}, extra: Omit<SimulatedRolloutOptions, "edit"> = {}) =>
  simulatedRollout({
    ...extra,
    edit: (c) => Object.assign(c.staging.clusters.apps, { strategy: "refresh", ...options }),
    defaults: { waitForWindow: true },
  });

const GROUP = "staging-apps-ami-refresh";
const staging = (s: { environments: readonly { name: string }[] }) => s.environments.filter((e) => e.name === "staging") as never;
const production = (s: { environments: readonly { name: string }[] }) => s.environments.filter((e) => e.name === "production") as never;

/** Production on the refresh strategy (with `options`), rolled alone: it takes its own pin (not staging's verified image). */
const refreshingProduction = (options: Record<string, unknown>) =>
  simulatedRollout({
    edit: (c) => {
      delete c.production.promotesFrom;
      Object.assign(c.production.clusters.apps, { strategy: "refresh", ...options });
    },
    defaults: { waitForWindow: true },
  });

describe("the refresh strategy", () => {
  it("n+1 by default: one group throughout, its launch template updated, every instance replaced one at a time, no downtime", async () => {
    const s = await refreshing();
    const world = s.sim("staging").world;
    const group = world.groups.get(GROUP)!;
    const before = { desired: group.desired, min: group.min, max: group.max };
    const desiredSeen = new Set<number>();
    const result = await s.run({ waves: staging(s), checkpoint: () => void desiredSeen.add(world.groups.get(GROUP)!.desired) });
    expect(result.waves[0].outcome).toBe("done");
    // Only the one group, never replaced: same object, now launching the new image.
    expect([...world.groups.keys()]).toEqual([GROUP]);
    expect(world.groups.get(GROUP)).toBe(group);
    expect(s.instanceImages("staging")).toEqual([PINNED]);
    expect(s.violations()).toEqual([]);
    // The plan was the refresh shape.
    expect(s.lines.join("\n")).toMatch(/staging: Plan: 0 to add, 2 to change, 0 to destroy\. Guard: accepted \(refresh\)/);
    // One old instance per batch: drained, then terminated with the desired capacity decremented;
    // then one batch more, as the group launched both new instances into one zone (a tie).
    const terminations = world.calls.filter((c) => c.operation === "TerminateInstanceInAutoScalingGroup" && !(c as { caller?: string }).caller);
    expect(terminations).toHaveLength(before.desired + 1);
    expect(s.lines.filter((l) => /batch \d+: .* set DRAINING/.test(l))).toHaveLength(before.desired + 1);
    expect(s.lines.join("\n")).toMatch(/apps: zones uneven after the batches \(eu-west-1a: 2, eu-west-1b: 0\): one more batch moves an instance out of eu-west-1a/);
    expect(s.lines.join("\n")).toMatch(/apps: batch 2: 1 old instance\(s\) terminated \(2 old replaced\)\n.*\n.*\n.*batch 3: 1 instance\(s\) terminated \(2 old replaced\)/);
    // One instance per zone at the end, as at the start.
    const zones = [...world.containerInstances.values()].filter((ci) => ci.status === "ACTIVE").map((ci) => ci.az).sort();
    expect(zones).toEqual(["eu-west-1a", "eu-west-1b"]);
    // At most one instance above the group's size (n+1), and its size and processes as they were at the end.
    expect(Math.max(...desiredSeen)).toBe(before.desired + 1);
    expect({ desired: group.desired, min: group.min, max: group.max }).toEqual(before);
    expect([...group.suspended]).toEqual([]);
    expect(result.waves[0].phases.map((p) => p.step)).toEqual(["window", "pins", "apply", "refresh", "gates", "pins"]);
    expect(s.pins().staging.apps).toEqual({ current: expect.objectContaining({ imageId: PINNED, verifiedAt: expect.any(String) }) });
  });

  it("production in batches of 2 with 2 added first (maxHealthyPercent 150): the group at most 6, every instance replaced, no downtime", async () => {
    const s = await refreshingProduction({ batch: 2, maxHealthyPercent: 150 });
    const group = s.sim("production").world.groups.get("production-apps-ami-refresh")!;
    const desiredSeen = new Set<number>();
    const result = await s.run({ waves: production(s), checkpoint: (_env, point) => void (point === "refresh:drained" && desiredSeen.add(group.desired)) });
    expect(result.waves.map((w) => [w.environment, w.outcome])).toEqual([["production", "done"]]);
    expect(s.instanceImages("production")).toEqual([PINNED]);
    expect(s.violations()).toEqual([]);
    expect(Math.max(...desiredSeen)).toBe(6);
    expect(s.lines.join("\n")).toMatch(/refreshing production-apps-ami-refresh to ami-\w+: 2 old instance\(s\) per batch, 2 new one\(s\) first, at least 4 of 4 taking tasks/);
    expect(s.lines.filter((l) => /apps: batch \d+: i-\w+, i-\w+ set DRAINING/.test(l))).toHaveLength(2);
    expect({ desired: group.desired, min: group.min, max: group.max }).toEqual({ desired: 4, min: 4, max: 8 });
    expect(result.waves[0].instancesReplaced).toBe(4);
  });

  it("one new instance per batch of 2 (maxHealthyPercent 125, minHealthyPercent 75): the group at most 5, back to 4 registered instances of the image before the gates", async () => {
    const s = await refreshingProduction({ batch: 2, minHealthyPercent: 75, maxHealthyPercent: 125 });
    const group = s.sim("production").world.groups.get("production-apps-ami-refresh")!;
    const desiredSeen = new Set<number>();
    const world = s.sim("production").world;
    let atGates: string[] = [];
    const result = await s.run({
      waves: production(s),
      checkpoint: (_env, point) => void (point === "refresh:drained" && desiredSeen.add(group.desired)),
      beforeStep: (_env, step) => void (step === "verify" && (atGates = [...world.containerInstances.values()].filter((ci) => ci.status === "ACTIVE").map((ci) => ci.imageId))),
    });
    expect(result.waves[0].outcome).toBe("done");
    expect(Math.max(...desiredSeen)).toBe(5);
    // The gates start with the group back at its size, every instance registered.
    expect(atGates).toEqual([PINNED, PINNED, PINNED, PINNED]);
    expect(s.lines.join("\n")).toMatch(/2 old instance\(s\) per batch, 1 new one\(s\) first, at least 3 of 4 taking tasks/);
    expect(s.violations()).toEqual([]);
  });

  it("half the group drained with nothing added (50%, maxHealthyPercent 100) on a full cluster: the tasks have no room, the batch times out; failed, no verdict, no downtime, size restored", async () => {
    const s = await refreshingProduction({ batch: "50%", minHealthyPercent: 50, maxHealthyPercent: 100 });
    const group = s.sim("production").world.groups.get("production-apps-ami-refresh")!;
    const result = await s.run({ waves: production(s), watchTimeoutMs: 20 * 60_000 });
    expect(result.waves.map((w) => [w.environment, w.outcome])).toEqual([["production", "failed"]]);
    expect(result.waves[0].reason).toMatch(/^apps: batch 1 did not drain before the batch timeout \(\d+ task\(s\) still on the batch\)/);
    expect(s.pins().production.apps.rejected).toBeUndefined();
    expect(s.violations()).toEqual([]);
    expect({ desired: group.desired, min: group.min, max: group.max, suspended: [...group.suspended] }).toEqual({ desired: 4, min: 4, max: 8, suspended: [] });
  });

  it("a broken image: the crash loop on the first batch's new instance rolls back: launch template back, that instance replaced in reverse, image rejected, no downtime", async () => {
    const s = await refreshing({}, { scenario: "broken-ami" });
    const world = s.sim("staging").world;
    const group = world.groups.get(GROUP)!;
    const before = { desired: group.desired, min: group.min, max: group.max };
    const old = s.instanceImages("staging");
    const result = await s.run({ waves: staging(s), watchTimeoutMs: 30 * 60_000 });
    expect(result.waves[0].outcome).toBe("rolled back");
    expect(result.waves[0].reason).toMatch(/^apps: crash loop during the refresh: \d+ tasks stopped with errors on ami-\w+/);
    expect(s.violations()).toEqual([]);
    // Every instance on the old image again, from the same group, whose template launches it again.
    expect(s.instanceImages("staging")).toEqual(old);
    expect(group.imageId).toBe(old[0]);
    expect([...world.groups.keys()]).toEqual([GROUP]);
    expect(s.pins().staging.apps).toEqual({ current: expect.objectContaining({ imageId: old[0] }), rejected: expect.objectContaining({ imageId: PINNED }) });
    expect(s.lines.join("\n")).toMatch(/Guard: accepted \(refresh\)[\s\S]*roll back: the launch template back to the old image[\s\S]*Guard: accepted \(refresh\)/);
    expect(result.waves[0].phases.map((p) => p.step)).toEqual(["window", "pins", "apply", "refresh", "rollback"]);
    expect({ desired: group.desired, min: group.min, max: group.max }).toEqual(before);
    expect([...group.suspended]).toEqual([]);
  });

  it("Ctrl-C while a batch drains: its size and processes restored at once, exit interrupted, nothing rejected; the same command finishes", async () => {
    const s = await refreshing();
    const world = s.sim("staging").world;
    const group = world.groups.get(GROUP)!;
    const before = { desired: group.desired, min: group.min, max: group.max };
    const controller = new AbortController();
    const interrupted = await s.run({ waves: staging(s), signal: controller.signal, checkpoint: (_env, point) => void (point === "refresh:drained" && controller.abort()) });
    expect(interrupted.waves[0].outcome).toBe("interrupted");
    expect({ desired: group.desired, min: group.min, max: group.max }).toEqual(before);
    expect([...group.suspended]).toEqual([]);
    expect(s.pins().staging.apps.rejected).toBeUndefined();
    const finished = await s.run({ waves: staging(s) });
    expect(finished.waves[0].outcome).toBe("done");
    expect(s.instanceImages("staging")).toEqual([PINNED]);
    expect({ desired: group.desired, min: group.min, max: group.max }).toEqual(before);
    expect(s.violations()).toEqual([]);
  });

  it("Ctrl-C at every point of a refresh (pin, plan, apply, the batches, each batch drained and terminated, the gates), then the same command: done, no downtime", async () => {
    const s = await refreshing();
    const group = s.sim("staging").world.groups.get(GROUP)!;
    const before = { desired: group.desired, min: group.min, max: group.max };
    for (const point of ["pin", "plan", "apply", "refresh", "refresh:drained", "refresh:terminated", "refresh:drained", "verify"]) {
      const controller = new AbortController();
      const at = (p: string) => void (p === point && controller.abort());
      // Terraform (the sim's) takes the signal too, as the real runner does.
      (s.world as { signal?: AbortSignal }).signal = controller.signal;
      const result = await s.run({ waves: staging(s), signal: controller.signal, beforeStep: (_e, step) => at(step), checkpoint: (_e, p) => at(p) });
      (s.world as { signal?: AbortSignal }).signal = undefined;
      expect([point, controller.signal.aborted, result.waves[0].outcome]).toEqual([point, true, "interrupted"]);
      expect([point, { desired: group.desired, min: group.min, max: group.max }, [...group.suspended]]).toEqual([point, before, []]);
      expect([point, s.pins().staging.apps.rejected]).toEqual([point, undefined]);
    }
    const finished = await s.run({ waves: staging(s) });
    expect(finished.waves[0].outcome).toBe("done");
    expect(s.instanceImages("staging")).toEqual([PINNED]);
    expect(s.violations()).toEqual([]);
  });

  it("Ctrl-C during the rollback's batches: the next run finishes the rollback (outcome rolled back), every instance back on the old image", async () => {
    const s = await refreshing({}, { scenario: "broken-ami" });
    const old = s.instanceImages("staging");
    const controller = new AbortController();
    let rollingBack = false;
    const result = await s.run({
      waves: staging(s),
      watchTimeoutMs: 30 * 60_000,
      signal: controller.signal,
      checkpoint: (_e, p) => {
        if (p === "rollback:reactivated") rollingBack = true;
        if (rollingBack && p === "refresh:drained") controller.abort();
      },
    });
    expect(controller.signal.aborted).toBe(true);
    expect(result.waves[0].outcome).toBe("interrupted");
    expect(s.pins().staging.apps.rejected).toEqual(expect.objectContaining({ imageId: PINNED }));
    const finished = await s.run({ waves: staging(s), watchTimeoutMs: 30 * 60_000 });
    expect(finished.waves[0].outcome).toBe("rolled back");
    expect(s.instanceImages("staging")).toEqual(old);
    expect(s.violations()).toEqual([]);
  });

  it("a run killed in a batch (no restore: processes suspended, the group one up): the next run restores the config's size and resumes the processes", async () => {
    const s = await refreshing();
    const group = s.sim("staging").world.groups.get(GROUP)!;
    const before = { desired: group.desired, min: group.min, max: group.max };
    const controller = new AbortController();
    (s.world as { signal?: AbortSignal }).signal = controller.signal;
    await s.run({ waves: staging(s), signal: controller.signal, beforeStep: (_e, step) => void (step === "refresh" && controller.abort()) });
    (s.world as { signal?: AbortSignal }).signal = undefined;
    // What a killed run leaves mid-batch: its processes suspended and the group raised (no finally ran).
    for (const p of ["AZRebalance", "AlarmNotification", "ScheduledActions"]) group.suspended.add(p);
    group.desired = before.desired + 1;
    const finished = await s.run({ waves: staging(s) });
    expect(finished.waves[0].outcome).toBe("done");
    expect(s.lines.join("\n")).toMatch(/an earlier refresh was cut off before it restored the group; it is restored to the config's size \(desired 2, min 2, max 4\)/);
    expect({ desired: group.desired, min: group.min, max: group.max }).toEqual(before);
    expect([...group.suspended]).toEqual([]);
    expect(s.instanceImages("staging")).toEqual([PINNED]);
    expect(s.violations()).toEqual([]);
  });
});
