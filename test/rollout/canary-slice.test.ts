/**
 * The canary slice (issue 20, item 2) in the simulator, one strategy at a time on staging (rolled
 * alone): the slice moves first, the gates soak it, then the rest; a broken image fails the slice
 * and only the slice is rolled back. The config's checks are in test/config/canary.test.ts.
 */
import { rolloutOptions } from "../../scripts/commands/rollout";
import { writePins } from "../../scripts/config/pins";
import { rolloutText } from "../../scripts/rollout/report";
import { verifyEnvironment } from "../../scripts/rollout/rollout";
import { guardPlan } from "../../scripts/terraform/guard";
import { parsePlan } from "../../scripts/terraform/plan";
import { PINNED, simulatedRollout } from "../support/simulated-rollout";

jest.setTimeout(60_000);

/** Staging on `strategy` with `canary`, rolled alone. */
async function staging(strategy: string, canary: Record<string, unknown>, scenario?: "broken-ami") {
  const s = await simulatedRollout({
    scenario,
    edit: (c) => {
      c.staging.strategy = strategy;
      c.staging.canary = canary;
      // The wave's own soak short: these tests are about the slice's.
      c.staging.soak = "1m";
    },
    defaults: { waitForWindow: true },
  });
  const waves = s.environments.filter((e) => e.name === "staging");
  return { ...s, roll: () => s.run({ waves }) };
}

describe("blue-green with a canary slice", () => {
  it("adds the new generation at the slice's size, drains that many old instances, soaks, then scales it up and drains the rest", async () => {
    const s = await staging("blue-green", { instances: 1, soak: "1m" });
    const world = s.sim("staging").world;
    const desiredSeen: number[] = [];
    const drainingAtSoak: number[] = [];
    const result = await s.run({
      waves: s.environments.filter((e) => e.name === "staging"),
      checkpoint: (_env, point) => {
        if (point !== "canary:soak") return;
        const group = [...world.groups.values()].find((g) => g.imageId === PINNED)!;
        desiredSeen.push(group.desired);
        drainingAtSoak.push([...world.containerInstances.values()].filter((ci) => ci.status === "DRAINING").length);
      },
    });
    const wave = result.waves[0];
    expect([wave.outcome, wave.reason]).toEqual(["done", undefined]);
    // During the soak: the new generation at 1 instance, 1 old instance drained (of 2).
    expect(desiredSeen).toEqual([1]);
    expect(drainingAtSoak).toEqual([1]);
    // Then at the cluster's size: every instance on the new image, the old generation retired.
    expect(s.groupImages("staging")).toEqual([PINNED]);
    expect([...world.groups.values()].find((g) => g.imageId === PINNED && !g.deleting)!.desired).toBe(2);
    expect(s.instanceImages("staging")).toEqual([PINNED]);
    expect(s.violations()).toEqual([]);
    // The report: the canary is its own phase, with its verdict.
    expect(wave.canary).toEqual({ verdict: "passed", detail: "apps: 1 instance, 1m00s soaked", ms: expect.any(Number) });
    expect(wave.phases.map((p) => p.step)).toContain("canary");
    const text = rolloutText(result).join("\n");
    expect(text).toMatch(/ {2}canary: passed after \d+m\d+s \(apps: 1 instance, 1m00s soaked\)/);
    expect(text).toMatch(/took .*canary \d+m\d+s/);
    // The canary's gates ran (balance aside), then the wave's own.
    expect(s.lines.join("\n")).toMatch(/soaking the canary slice of staging for 1m00s/);
  });

  it("a broken image fails the slice: only the slice moved, its old instance ACTIVE again, the new generation removed, the image rejected", async () => {
    const s = await staging("blue-green", { percent: 50 }, "broken-ami");
    const world = s.sim("staging").world;
    const [old] = s.groupImages("staging").filter((id) => id !== PINNED);
    const result = await s.roll();
    const wave = result.waves[0];
    expect(wave.outcome).toBe("rolled back");
    expect(wave.canary?.verdict).toBe("failed");
    expect(wave.reason).toMatch(/crash loop/);
    // One old instance of two was ever set DRAINING (the slice), and it serves again.
    const drained = world.calls.filter((c) => c.operation === "UpdateContainerInstancesState");
    expect(s.lines.filter((l) => /canary: i-\S+ set DRAINING/.test(l))).toHaveLength(1);
    expect(drained.length).toBeGreaterThan(0);
    expect(s.groupImages("staging")).toEqual([old]);
    expect(s.instanceImages("staging")).toEqual([old]);
    expect([...world.containerInstances.values()].filter((ci) => ci.imageId === old && ci.status === "ACTIVE")).toHaveLength(2);
    expect(s.pins().staging.apps.rejected?.imageId).toBe(PINNED);
    expect(s.violations()).toEqual([]);
  });
});

describe("refresh with a canary slice", () => {
  it("the first batch is the slice, soaked by the gates before it is terminated; then the other batches", async () => {
    const s = await staging("refresh", { instances: 1, soak: "1m" });
    const result = await s.roll();
    const wave = result.waves[0];
    expect([wave.outcome, wave.reason]).toEqual(["done", undefined]);
    expect(wave.canary).toEqual({ verdict: "passed", detail: "apps: 1 instance (the first batch), 1m00s soaked", ms: expect.any(Number) });
    const log = s.lines.join("\n");
    // Drained, soaked, and only then terminated.
    expect(log).toMatch(/batch 1: i-\S+ set DRAINING[\s\S]*soaking the canary slice of staging[\s\S]*canary passed[\s\S]*batch 1: 1 old instance\(s\) terminated[\s\S]*batch 2/);
    expect(s.instanceImages("staging")).toEqual([PINNED]);
    expect(s.violations()).toEqual([]);
  });
});

describe("replace with a canary slice", () => {
  it("a canary group of the slice's size, soaked by the gates for the configured time", async () => {
    const s = await staging("replace", { instances: 2, soak: "1m" });
    const world = s.sim("staging").world;
    const canarySizes: number[] = [];
    const result = await s.run({
      waves: s.environments.filter((e) => e.name === "staging"),
      checkpoint: (_env, point) => void (point === "canary:soak" && canarySizes.push(...[...world.groups.values()].filter((g) => g.name.endsWith("-canary")).map((g) => g.desired))),
    });
    const wave = result.waves[0];
    expect([wave.outcome, wave.reason]).toEqual(["done", undefined]);
    expect(canarySizes).toEqual([2]);
    expect(wave.canary).toEqual({ verdict: "passed", detail: "apps: 2 instances (canary group), 1m00s soaked", ms: expect.any(Number) });
    expect(s.groupImages("staging")).toEqual([PINNED]);
    expect(s.violations()).toEqual([]);
  });
});

describe("refresh with a canary slice, broken image", () => {
  it("the slice's new instance crash-loops: the canary fails, the slice's old instance serves again, the image rejected", async () => {
    const s = await staging("refresh", { instances: 1 }, "broken-ami");
    const [old] = s.instanceImages("staging").filter((id) => id !== PINNED);
    const result = await s.roll();
    const wave = result.waves[0];
    expect(wave.outcome).toBe("rolled back");
    expect(wave.canary?.verdict).toBe("failed");
    // Before the rollback, only batch 1 (the slice) began, and no old instance was terminated.
    const before = s.lines.slice(0, s.lines.findIndex((l) => /staging: rolling back/.test(l)));
    expect(before.filter((l) => /apps: batch \d+: .* set DRAINING/.test(l))).toHaveLength(1);
    expect(before.filter((l) => /terminated/.test(l))).toEqual([]);
    expect(s.instanceImages("staging")).toEqual([old]);
    expect(s.pins().staging.apps.rejected?.imageId).toBe(PINNED);
    expect(s.violations()).toEqual([]);
  });
});

describe("amiroll verify after a blue-green add applied by hand (the PR loop) with a canary slice", () => {
  it("takes the slice (drain, gates, scale-up: no terraform), then the rest, and verifies", async () => {
    const s = await staging("blue-green", { instances: 1, soak: "1m" });
    const [old] = s.groupImages("staging").filter((id) => id !== PINNED);
    const pins = s.pins();
    writePins(s.world.pinsPath, { ...pins, staging: { apps: { current: pins.staging.apps.current, retiring: { imageId: old } } } }, s.environments);
    // amiroll apply: plan, guard (add), apply.
    const environment = s.environments.find((e) => e.name === "staging")!;
    const stack = await s.world.access(environment).stack();
    await stack.runner.init();
    const file = `${stack.directory}/by-hand.tfplan`;
    await stack.runner.plan(file);
    const guard = guardPlan(parsePlan(await stack.runner.showJson(file), file));
    expect([guard.accepted, guard.expect]).toEqual([true, "add"]);
    await stack.runner.apply(file);
    const world = s.sim("staging").world;
    expect([...world.groups.values()].find((g) => g.imageId === PINNED)!.desired).toBe(1);

    const result = await verifyEnvironment(environment, rolloutOptions(s.world, s.environments, s.log));
    expect([result.outcome, result.reason]).toEqual(["done", undefined]);
    expect(result.phases.map((p) => p.step)).toEqual(["canary", "drain", "watch", "gates", "pins"]);
    expect(result.canary?.verdict).toBe("passed");
    expect([...world.groups.values()].find((g) => g.imageId === PINNED)!.desired).toBe(2);
    expect(s.pins().staging.apps).toEqual({ current: expect.objectContaining({ imageId: PINNED, verifiedAt: result.verifiedAt }) });
    expect(s.violations()).toEqual([]);
  });
});
