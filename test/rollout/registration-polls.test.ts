/**
 * The rollout's waits for new instances to register with ECS look every 5 s (instances only), so
 * that what follows a registration (the canary's drain, blue-green's drain) starts within 5 s of
 * it. Asserted on the simulator's virtual clock, never on wall time.
 */
import type { SimApiCall } from "../../scripts/sim/clients";
import type { World } from "../../scripts/sim/world";
import { PINNED, simulatedRollout } from "../support/simulated-rollout";

jest.setTimeout(60_000);

const at = (line: string) => Date.parse(line.slice(0, line.indexOf(" ")));
/** The virtual time of the last registration of an instance of the new image at or before `before`, and the first DRAINING from `from` on. */
function registeredThenDrained(world: World, from: number) {
  const newIds = new Set([...world.instances.values()].filter((i) => i.imageId === PINNED).map((i) => i.id));
  const drained = world.log.filter((l) => / DRAINING$/.test(l) && at(l) >= from).map(at)[0];
  const registered = world.log.filter((l) => / registered with /.test(l) && newIds.has(l.split(" ")[1]) && at(l) >= from && at(l) <= drained).map(at);
  return { registered: Math.max(...registered), drained };
}

describe("the rollout's registration polls", () => {
  it("drains within 5 s of the registration it waited for: the canary (replace) and the new generation (blue-green), looking at instances only while it waits", async () => {
    const s = await simulatedRollout({ defaults: { ignoreWindow: true } });
    const start = s.sim("staging").world.clock.now();
    const result = await s.run();
    expect(result.outcome).toBe("done");
    for (const env of ["staging", "production"]) {
      const world = s.sim(env).world;
      const { registered, drained } = registeredThenDrained(world, start);
      expect([env, drained - registered]).toEqual([env, expect.any(Number)]);
      expect(drained - registered).toBeGreaterThanOrEqual(0);
      expect(drained - registered).toBeLessThanOrEqual(5_000);
    }
    // While staging's canary boots, the driver looks every 5 s at instances only: services are
    // read once (the look right after the apply), not at each look.
    const staging = s.sim("staging").world;
    const canaryId = staging.log.filter((l) => / registered with /.test(l) && at(l) >= start)[0].split(" ")[1];
    const inService = at(staging.log.find((l) => l.includes(`${canaryId} InService`))!);
    const registered = at(staging.log.find((l) => l.includes(`${canaryId} registered with`))!);
    const driver = (staging.calls as SimApiCall[]).filter((c) => !c.caller && c.at > inService && c.at < registered);
    const looks = [...new Set(driver.filter((c) => c.operation === "ListContainerInstances").map((c) => c.at))];
    expect(looks.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...looks.slice(1).map((t, i) => t - looks[i]))).toBeLessThanOrEqual(5_000);
    expect(new Set(driver.filter((c) => c.operation === "DescribeServices").map((c) => c.at)).size).toBeLessThanOrEqual(1);
    expect(s.violations()).toEqual([]);
  });
});
