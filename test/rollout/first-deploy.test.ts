/**
 * The rollout of environments that were never deployed (the sim's `first-deploy` scenario: no
 * ECS cluster, no capacity, no services, terraform's state empty): the first apply creates each
 * environment (the guard's `create`, no --force), the watch waits for its instances to join, the
 * gates judge it, and production takes the image staging verified, as in any wave.
 */
import { stopAfterTest } from "../support/stop-worlds";
import { readFileSync } from "node:fs";
import { rolloutOptions, simulatedWorld } from "../../scripts/commands/rollout";
import { createLogger } from "../../scripts/core/log";
import { type RolloutOptions, rollout } from "../../scripts/rollout/rollout";
import { readPins } from "../../scripts/config/pins";
import { ENVIRONMENTS_CONFIG, REPO_PINS_PATH, loadEnvironments, repoConfig } from "../support/repo-config";

jest.setTimeout(60_000);

const PINNED = JSON.parse(readFileSync(REPO_PINS_PATH, "utf8")).staging.apps.current.imageId as string;

async function neverDeployed() {
  const environments = loadEnvironments(structuredClone(ENVIRONMENTS_CONFIG));
  const pins = readPins(REPO_PINS_PATH, environments);
  const lines: string[] = [];
  const log = createLogger("text", (line) => lines.push(line));
  const world = stopAfterTest(await simulatedWorld({ ...repoConfig(), environments, pins }, { scenario: "first-deploy", log }));
  const sim = (env: string) => world.simulations.get(env)!;
  return {
    world,
    lines,
    sim,
    run: (extra: Partial<RolloutOptions> = {}) => rollout(rolloutOptions(world, environments, log, { waitForWindow: true, ...extra })),
    pins: () => readPins(world.pinsPath, environments),
    violations: () => [...world.simulations.values()].flatMap((s) => s.world.downtimeViolations()),
    groupImages: (env: string) => [...sim(env).world.groups.values()].filter((g) => !g.deleting).map((g) => g.imageId).sort(),
    registered: (env: string) => [...sim(env).world.containerInstances.values()].filter((ci) => ci.status === "ACTIVE"),
  };
}

describe("a rollout of environments never deployed", () => {
  it("deploys staging (replace) and production (blue-green) without --force, watches their instances join, gates, verifies and promotes", async () => {
    const s = await neverDeployed();
    for (const env of ["staging", "production"]) expect([env, s.sim(env).world.clusters.size, s.sim(env).world.groups.size]).toEqual([env, 0, 0]);

    const result = await s.run();
    expect(result.outcome).toBe("done");
    expect(result.waves.map((w) => [w.environment, w.outcome])).toEqual([["staging", "done"], ["production", "done"]]);
    for (const [i, env] of ["staging", "production"].entries()) {
      const wave = result.waves[i];
      // No pin to change (the pin is the image to deploy), no drain, no retire: apply, watch, gates, verified.
      expect([env, wave.phases.map((p) => p.step)]).toEqual([env, ["window", "apply", "watch", "gates", "pins"]]);
      expect(wave.gates.map((g) => [g.gate, g.outcome])).toEqual([["steady", "passed"], ["crash loop", "passed"], ["balance", "passed"], ["alarms", "passed"], ["soak", "passed"], ["smoke", "passed"]]);
      expect([env, wave.instancesReplaced, wave.tasksMoved]).toEqual([env, 0, 0]);
      expect([...s.sim(env).world.clusters.keys()]).toEqual([`${env}-apps`]);
      expect(s.groupImages(env)).toEqual([PINNED]);
      // Every instance the group wants joined the cluster before the gates ran.
      const desired = loadEnvironments().find((e) => e.name === env)!.clusters[0].desiredCapacity;
      expect(s.registered(env).map((ci) => ci.imageId)).toEqual(Array(desired).fill(PINNED));
      const pins = s.pins()[env].apps;
      expect(pins.current).toEqual(expect.objectContaining({ imageId: PINNED, verifiedAt: expect.any(String) }));
      expect(pins.retiring).toBeUndefined();
    }
    const log = s.lines.join("\n");
    expect(log).toContain("staging: terraform apply (create)");
    expect(log).toContain("production: terraform apply (create)");
    expect(log).not.toMatch(/REFUSED|--force/);
    expect(s.violations()).toEqual([]);

    // Deployed now: the same command has nothing left to do.
    const again = await s.run();
    expect(again.waves.map((w) => w.outcome)).toEqual(["already done", "already done"]);
  });

  it("a crash after the first apply resumes from the deployed world: watch, gates, verified", async () => {
    const s = await neverDeployed();
    let crashed = false;
    await expect(
      s.run({
        beforeStep: (env, step) => {
          if (!crashed && env === "staging" && step === "migrate") {
            crashed = true;
            throw new Error("simulated crash");
          }
        },
      }),
    ).rejects.toThrow("simulated crash");
    expect(s.groupImages("staging")).toEqual([PINNED]);
    const resumed = await s.run();
    expect(resumed.outcome).toBe("done");
    expect(resumed.waves[0].phases.map((p) => p.step)).toEqual(["window", "watch", "gates", "pins"]);
    expect(s.pins().production.apps.current.verifiedAt).toBeDefined();
    expect(s.violations()).toEqual([]);
  });
});
