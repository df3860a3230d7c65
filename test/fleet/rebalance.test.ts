/**
 * Rebalance against the simulated AWS's "imbalanced" scenario (every service starts in the
 * first zone): the imbalanced services are found, forced a few at a time, waited for on the
 * virtual clock and judged again; a dry run changes nothing; nobody loses a healthy task.
 * Snapshots are read from the world itself (test/support/world-snapshot.ts), not the poller.
 */
import { serviceBalance } from "../../scripts/fleet/balance";
import { rebalance } from "../../scripts/fleet/rebalance";
import { DEMO_SERVICES, createSimulation } from "../../scripts/sim/scenarios";
import type { ServiceSpec, World } from "../../scripts/sim/world";
import { ENVIRONMENTS_CONFIG, findEnvironment, loadEnvironments } from "../../stacks/environments";
import { DEFAULT_PINS_PATH, readPins } from "../../stacks/pins";
import { worldSnapshot } from "../support/world-snapshot";

const environments = loadEnvironments(ENVIRONMENTS_CONFIG);
const pins = readPins(DEFAULT_PINS_PATH, environments);
const production = findEnvironment(environments, "production");
const CLUSTER = "production-apps";

/** Two-task services: in three zones, one forced deployment moves them to two empty zones. */
const PAIRS: ServiceSpec[] = ["cart", "checkout", "search", "profile", "media"].map((name) => ({ name, desiredCount: 2, tags: { owner: "team" } }));

async function simulate(services: readonly ServiceSpec[] = DEMO_SERVICES) {
  const sim = await createSimulation({ environment: production, pins: pins.production, scenario: "imbalanced", services });
  const take = async () => worldSnapshot(sim.world, CLUSTER);
  return { ...sim, take, updates: watchUpdates(sim.world) };
}

/** Records, at each UpdateService, how many services of the cluster have a deployment under way (this one included). */
function watchUpdates(world: World): { services: string[]; inFlight: number[] } {
  const seen = { services: [] as string[], inFlight: [] as number[] };
  const update = world.updateService.bind(world);
  world.updateService = (service, change) => {
    update(service, change);
    seen.services.push(service.name);
    const deploying = [...world.services.values()].filter((s) => s.clusterName === CLUSTER && (s.deployments.length > 1 || s.deployments[0].rolloutState === "IN_PROGRESS"));
    seen.inFlight.push(deploying.length);
  };
  return seen;
}

describe("rebalance in the imbalanced scenario", () => {
  it("finds every spread service bunched in the first zone; the binpacked worker and the single admin task are not imbalanced", async () => {
    const { take } = await simulate();
    const report = serviceBalance(await take());
    expect(report.zones).toEqual(production.subnets.map((s) => s.availabilityZone));
    expect(report.imbalanced).toEqual(["api", "search", "web"]);
    const api = report.services.find((s) => s.service === "api")!;
    expect(api.perZone.map((z) => z.tasks)).toEqual([6, 0, 0]);
    expect(api.imbalances.map((i) => i.kind)).toEqual(["single-zone", "zone-spread"]);
    expect(report.services.find((s) => s.service === "worker")).toMatchObject({ checks: { zones: false, instances: false }, balanced: true });
  });

  it("fixes the imbalanced services a few at a time, on the virtual clock, with no downtime", async () => {
    const { world, clients, clock, take, updates } = await simulate(PAIRS);
    const before = serviceBalance(await take());
    expect(before.imbalanced).toEqual(["cart", "checkout", "media", "profile", "search"]);
    const started = clock.now();
    const logged: string[] = [];

    const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: before.imbalanced, take, log: (m, f) => logged.push(`${m} ${f?.service ?? ""}`) });

    expect(result.ok).toBe(true);
    expect(result.after!.balanced).toBe(true);
    expect(result.services.map((s) => [s.service, s.outcome])).toEqual(before.imbalanced.map((name) => [name, "balanced"]));
    for (const s of result.services) {
      expect(s.before!.perZone.map((z) => z.tasks)).toEqual([2, 0, 0]);
      expect(s.after!.perZone.map((z) => z.tasks)).toEqual([0, 1, 1]);
      expect(s.finishedAt! - s.startedAt!).toBeLessThan(5 * 60_000);
    }
    // A few at a time: three deployments in flight, never more; each service forced once.
    expect(updates.services).toEqual(before.imbalanced);
    expect(Math.max(...updates.inFlight)).toBe(3);
    expect(world.calls.filter((c) => c.operation === "UpdateService")).toHaveLength(5);
    expect(result.finishedAt).toBe(clock.now());
    expect(result.finishedAt - started).toBeLessThan(15 * 60_000);
    expect(world.downtimeViolations()).toEqual([]);
    expect(logged.filter((l) => l.startsWith("forced a new deployment"))).toHaveLength(5);
  });

  it("keeps to a smaller concurrency", async () => {
    const { clients, clock, take, updates } = await simulate(PAIRS);
    const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["cart", "checkout", "search"], concurrency: 1, take });
    expect(result.services.map((s) => s.outcome)).toEqual(["balanced", "balanced", "balanced"]);
    expect(updates.inFlight).toEqual([1, 1, 1]);
    // One after the other: each starts once the previous one has completed.
    const [first, second] = result.services;
    expect(second.startedAt!).toBeGreaterThanOrEqual(first.finishedAt!);
  });

  it("reports, not hides, services a forced deployment leaves imbalanced (new tasks placed beside the old ones, where there is room)", async () => {
    const { world, clients, clock, take } = await simulate();
    const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["api", "search", "web"], take });
    const after = serviceBalance(await take());
    expect(result.after).toEqual({ ...after, at: result.after!.at });
    for (const s of result.services) {
      expect(s.outcome).toBe(after.imbalanced.includes(s.service) ? "still-imbalanced" : "balanced");
      expect(s.after).toEqual(after.services.find((a) => a.service === s.service));
    }
    // The deployments themselves all completed: nothing failed, nobody lost a healthy task.
    expect(result.services.every((s) => s.outcome !== "failed" && s.deploymentId)).toBe(true);
    expect(result.services.find((s) => s.service === "search")!.outcome).toBe("balanced");
    expect(result.ok).toBe(after.imbalanced.length === 0);
    expect(world.downtimeViolations()).toEqual([]);
  });

  it("dry run: reports what would be forced and changes nothing", async () => {
    const { world, clients, clock, take } = await simulate();
    const tasksBefore = [...world.tasks.keys()];
    const report = serviceBalance(await take());
    const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: report.imbalanced, dryRun: true, take });
    expect(result).toMatchObject({ dryRun: true, ok: true });
    expect(result.after).toBeUndefined();
    expect(result.services.map((s) => [s.service, s.outcome])).toEqual([
      ["api", "would-force"],
      ["search", "would-force"],
      ["web", "would-force"],
    ]);
    expect(result.services[0].before!.perZone.map((z) => z.tasks)).toEqual([6, 0, 0]);
    expect(world.calls.filter((c) => c.operation === "UpdateService")).toEqual([]);
    expect([...world.tasks.keys()]).toEqual(tasksBefore);
  });

  it("reports a deployment that does not complete within the timeout, and a refused one, as failed without throwing", async () => {
    const { world, clients, clock, take } = await simulate(PAIRS);
    // No room anywhere: the new deployment of cart can never place its tasks.
    for (const ci of world.containerInstances.values()) if (ci.az !== production.subnets[0].availabilityZone) ci.agentConnected = false;
    const full = [...world.containerInstances.values()].filter((ci) => ci.agentConnected);
    for (const ci of full) for (let i = 0; i < 8; i++) world.runStandaloneTask(CLUSTER, "hog", ci, 24 * 3600);

    const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["cart", "no-such-service"], take, timeoutMs: 5 * 60_000 });
    expect(result.ok).toBe(false);
    const [cart, missing] = result.services;
    expect(cart).toMatchObject({ service: "cart", outcome: "failed", error: "the deployment did not complete within 300 s" });
    expect(cart.finishedAt! - cart.startedAt!).toBeGreaterThanOrEqual(5 * 60_000);
    expect(missing).toMatchObject({ service: "no-such-service", outcome: "failed", error: expect.stringContaining("ServiceNotFoundException") });
    expect(world.downtimeViolations()).toEqual([]);
  });
});
