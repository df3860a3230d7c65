/**
 * Instances that fail, not images that fail (issue 16, item 2): a new instance that is InService
 * but never registers with ECS is named and replaced after its boot grace period (terminated in
 * its group, the desired capacity kept), and the wave goes on; only failures that are the
 * image's (systematic: fleet/boot.ts) reject it. Each test rolls this repository's staging
 * (replace) then production (blue-green) in virtual time against the simulator.
 */
import { rolloutText } from "../../scripts/rollout/report";
import type { World } from "../../scripts/sim/world";
import { PINNED, type SimulatedRolloutOptions, simulatedRollout } from "../support/simulated-rollout";

jest.setTimeout(60_000);

const simulated = (options: Omit<SimulatedRolloutOptions, "defaults"> = {}) => simulatedRollout({ ...options, defaults: { ignoreWindow: true } });

/** The log lines of the boot check: `<env>: apps: <instance> of <image> did not boot: ... after <waited> ...: replacing it`. */
const REPLACING = /^warning: (\w+): apps: (i-[0-9a-f]+) of (ami-[0-9a-f]+) did not boot: InService in \S+ \([a-z0-9-]+\) but not registered with ECS after (\S+) \(bootGracePeriod 5m00s\): replacing it$/;

/**
 * Decides, launch by launch, which instances of `world` never register with ECS from now on:
 * `fails(n)` for the n-th launch (0-based). The random draw is still made, so the rest of the
 * simulation runs as it would have.
 */
function failBoots(world: World, fails: (launch: number) => boolean): void {
  const MARK = 1e-9; // the boot draw's probability, told apart from every other draw
  const chance = world.rng.chance.bind(world.rng);
  let launch = 0;
  world.rng.chance = (p: number) => {
    if (p !== MARK) return chance(p);
    chance(0);
    return fails(launch++);
  };
  world.behaviour = { ...world.behaviour, bootFailureRate: MARK };
}

describe("boot-failure: a fifth of new instances never register with ECS", () => {
  it("rolls both environments to done: the instance that did not boot is named and replaced, the image is not rejected, 0 violations", async () => {
    const s = await simulated({ scenario: "boot-failure" });
    const result = await s.run();
    expect(result.waves.map((w) => [w.environment, w.outcome, w.reason])).toEqual([
      ["staging", "done", undefined],
      ["production", "done", undefined],
    ]);
    expect(result.outcome).toBe("done");
    expect(s.violations()).toEqual([]);

    // Named in the log (instance, image, how long it waited) and in the report.
    const replacing = s.lines.map((l) => REPLACING.exec(l)).filter((m) => m !== null);
    expect(replacing.length).toBeGreaterThan(0);
    const failures = result.waves.flatMap((w) => w.bootFailures.map((f) => [w.environment, f.instanceId]));
    expect(replacing.map((m) => [m[1], m[2]])).toEqual(failures);
    for (const m of replacing) expect([m[3], m[4]]).toEqual([PINNED, expect.stringMatching(/^5m\d\ds$/)]);
    const report = rolloutText(result);
    for (const wave of result.waves.filter((w) => w.bootFailures.length > 0)) {
      const at = report.indexOf(`${wave.environment}: done`);
      expect(report.slice(at)).toContainEqual(`  did not boot, replaced: ${wave.bootFailures.map((f) => `${f.instanceId} (${f.availabilityZone}, not registered with ECS ${replacing.find((m) => m[2] === f.instanceId)![4]} after launch)`).join(", ")}`);
    }

    // Replaced: terminated in its group, whose desired capacity stayed, so the group launched another.
    for (const [env, id] of failures) {
      const world = s.sim(env).world;
      const instance = world.instances.get(id)!;
      expect([id, instance.state, instance.containerInstanceArn]).toEqual([id, "terminated", undefined]);
      expect(world.log.some((line) => line.includes(`${id} Terminating`) || line.includes(`${id} terminated`))).toBe(true);
    }
    for (const env of ["staging", "production"]) {
      const desired = s.environments.find((e) => e.name === env)!.clusters[0].desiredCapacity;
      const registered = [...s.sim(env).world.containerInstances.values()].filter((ci) => ci.status === "ACTIVE" && ci.imageId === PINNED);
      expect([env, registered.length]).toEqual([env, desired]);
      expect([env, s.groupImages(env)]).toEqual([env, [PINNED]]);
      // Verified, not rejected.
      expect(s.pins()[env].apps.rejected).toBeUndefined();
      expect(s.pins()[env].apps.current).toEqual(expect.objectContaining({ imageId: PINNED, verifiedAt: expect.any(String) }));
    }
    // Production no longer waits out its 60 min timeout in the drain: each instance that does not
    // boot costs its 5 min grace period and a boot. (This seed's draw, since the rollout's 5 s
    // registration polls moved the draws, has four launches in a row fail in one zone: 20 min.)
    const drain = result.waves[1].phases.find((p) => p.step === "drain")!;
    expect(drain.ms).toBeLessThan(30 * 60_000);
    expect(drain.ms).toBeLessThanOrEqual(70_000 + result.waves[1].bootFailures.length * 5 * 60_000);
  });
});

describe("the systematic rule", () => {
  it("no new instance of production boots: the image is rejected, production rolls back to the old generation, 0 violations", async () => {
    const s = await simulated();
    const oldProduction = s.groupImages("production");
    const production = s.sim("production").world;
    production.behaviour = { ...production.behaviour, bootFailureRate: 1 };
    const result = await s.run();
    expect(result.waves.map((w) => [w.environment, w.outcome])).toEqual([
      ["staging", "done"],
      ["production", "rolled back"],
    ]);
    const wave = result.waves[1];
    expect(wave.reason).toMatch(new RegExp(`^apps: 4 instances of ${PINNED} failed to boot \\(no ECS registration within 5m00s of launch: i-[0-9a-f]+, i-[0-9a-f]+, i-[0-9a-f]+, i-[0-9a-f]+\\), 0 registered: the image does not boot$`));
    // Judged once the grace period was over, not after the watch timeout; nothing replaced first.
    expect(wave.phases.find((p) => p.step === "drain")!.ms).toBeLessThan(10 * 60_000);
    expect(wave.bootFailures).toEqual([]);
    expect(s.pins().production.apps).toEqual(
      expect.objectContaining({ current: expect.objectContaining({ imageId: oldProduction[0] }), rejected: expect.objectContaining({ imageId: PINNED, reason: wave.reason }) }),
    );
    expect(s.pins().production.apps.retiring).toBeUndefined();
    expect(s.groupImages("production")).toEqual(oldProduction);
    expect(s.violations()).toEqual([]);
  });

  it("boots keep failing, but not systematically: replaced up to the limit, then the wave fails without rejecting the image, 0 violations", async () => {
    const s = await simulated();
    // Of production's four new instances the first fails, the others boot; then every replacement fails:
    // 5 failures against 3 registered is not systematic (it takes twice as many failures as registered).
    failBoots(s.sim("production").world, (n) => n === 0 || n >= 4);
    const result = await s.run();
    expect(result.waves.map((w) => [w.environment, w.outcome])).toEqual([
      ["staging", "done"],
      ["production", "failed"],
    ]);
    const wave = result.waves[1];
    expect(wave.reason).toMatch(new RegExp(`^apps: 5 instances of ${PINNED} failed to boot \\(.*\\) and 3 registered: replacing 1 more would exceed the 4 replacements allowed \\(not systematic: the image is not rejected\\)$`));
    expect(wave.bootFailures).toHaveLength(4);
    // No verdict on the image: nothing rolled back, nothing rejected; the old generation still serves.
    const pins = s.pins().production.apps;
    expect(pins.rejected).toBeUndefined();
    expect([pins.current.imageId, pins.retiring?.imageId]).toEqual([PINNED, expect.any(String)]);
    expect(s.violations()).toEqual([]);
  });
});

describe("the replace strategy and first deploys", () => {
  it("replace: a new instance that does not boot during the apply that replaces the group is replaced during that apply, so the old instances' tasks find room", async () => {
    const s = await simulated();
    const staging = s.sim("staging").world;
    let applies = 0;
    const result = await s.run({
      beforeStep: (env, step) => {
        // The second apply replaces the stable group (the first added the canary): its first new instance does not boot.
        if (env === "staging" && step === "apply" && ++applies === 2) failBoots(staging, (n) => n === 0);
      },
    });
    expect(result.waves.map((w) => [w.environment, w.outcome])).toEqual([
      ["staging", "done"],
      ["production", "done"],
    ]);
    const [failure] = result.waves[0].bootFailures;
    expect(result.waves[0].bootFailures).toHaveLength(1);
    // Replaced while terraform applied: after the apply began, before the step after it.
    const applyAt = s.lines.indexOf("staging: terraform apply (replace)");
    const replacedAt = s.lines.findIndex((l) => REPLACING.exec(l)?.[2] === failure.instanceId);
    const nextStepAt = s.lines.findIndex((l, i) => i > applyAt && /^staging: (migrate|verify)$/.test(l));
    expect([applyAt > 0, applyAt < replacedAt, replacedAt < nextStepAt]).toEqual([true, true, true]);
    expect(s.pins().staging.apps.rejected).toBeUndefined();
    expect(s.violations()).toEqual([]);
  });

  it("replace: a canary instance that does not boot is replaced, and the proof goes on (not the watch timeout)", async () => {
    const s = await simulated();
    const staging = s.sim("staging").world;
    let applies = 0;
    const result = await s.run({
      beforeStep: (env, step) => {
        // The first apply adds the canary group: its first instance does not boot.
        if (env === "staging" && step === "apply" && ++applies === 1) failBoots(staging, (n) => n === 0);
      },
    });
    expect(result.waves.map((w) => [w.environment, w.outcome])).toEqual([
      ["staging", "done"],
      ["production", "done"],
    ]);
    const canary = result.waves[0].phases.find((p) => p.step === "canary")!;
    expect(canary.ms).toBeLessThan(20 * 60_000);
    expect(result.waves[0].bootFailures).toHaveLength(1);
    expect(s.lines.some((l) => REPLACING.exec(l)?.[1] === "staging")).toBe(true);
    expect(s.pins().staging.apps.rejected).toBeUndefined();
    expect(s.violations()).toEqual([]);
  });

  it("a first deploy: the watch for the new instances to join replaces the one that does not boot", async () => {
    const s = await simulated({ scenario: "first-deploy" });
    failBoots(s.sim("staging").world, (n) => n === 0);
    const result = await s.run();
    expect(result.waves.map((w) => [w.environment, w.outcome])).toEqual([
      ["staging", "done"],
      ["production", "done"],
    ]);
    expect(result.waves[0].bootFailures).toHaveLength(1);
    expect(result.waves[0].phases.map((p) => p.step)).toEqual(["window", "apply", "watch", "gates", "pins"]);
    const registered = [...s.sim("staging").world.containerInstances.values()].filter((ci) => ci.status === "ACTIVE");
    expect(registered.map((ci) => ci.imageId)).toEqual([PINNED, PINNED]);
    expect(s.violations()).toEqual([]);
  });
});
