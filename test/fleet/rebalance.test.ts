/**
 * Rebalance against the simulated AWS's "imbalanced" scenario (every service starts in the
 * first zone): the imbalanced services are found and moved a few at a time, one task at a time
 * (desired count one up, then back), waited for on the virtual clock, their desired count put
 * back, and judged again; a service bunched on instances only is forced with a narrowed
 * deployment configuration (one task beyond desired at a time) and its own configuration put
 * back; a dry run changes nothing; nobody loses a healthy task. Snapshots are read from the
 * world itself (test/support/world-snapshot.ts), not the poller.
 */
import { serviceBalance } from "../../scripts/fleet/balance";
import { narrowedDeploymentConfiguration, rebalance } from "../../scripts/fleet/rebalance";
import { awsError } from "../../scripts/sim/clients";
import type { VirtualClock } from "../../scripts/sim/clock";
import { DEMO_SERVICES, createSimulation } from "../../scripts/sim/scenarios";
import type { ServiceSpec, World } from "../../scripts/sim/world";
import { findEnvironment } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { worldSnapshot } from "../support/world-snapshot";
import { REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

const environments = loadEnvironments();
const pins = readPins(REPO_PINS_PATH, environments);
const production = findEnvironment(environments, "production");
const CLUSTER = "production-apps";

/** Two-task services: in three zones, one forced deployment moves them to two empty zones. */
const PAIRS: ServiceSpec[] = ["cart", "checkout", "search", "profile", "media"].map((name) => ({ name, desiredCount: 2, tags: { owner: "team" } }));

async function simulate(services: readonly ServiceSpec[] = DEMO_SERVICES) {
  const sim = await createSimulation({ environment: production, pins: pins.production, scenario: "imbalanced", services });
  const take = async () => worldSnapshot(sim.world, CLUSTER);
  return { ...sim, take, updates: watchUpdates(sim.world), most: watchTaskCounts(sim.world, sim.clock) };
}

const service = (world: World, name: string) => world.services.get(`${CLUSTER}/${name}`)!;
const configuration = (world: World, name: string) => {
  const { minimumHealthyPercent, maximumPercent } = service(world, name);
  return { minimumHealthyPercent, maximumPercent };
};

/**
 * Records each UpdateService that forces a deployment: the service, how many services of the
 * cluster then have a deployment under way (this one included), and the configuration it runs
 * with; and, apart, the services whose configuration alone was updated (restores).
 */
function watchUpdates(world: World) {
  const seen = {
    services: [] as string[],
    inFlight: [] as number[],
    forcedWith: [] as { minimumHealthyPercent: number; maximumPercent: number }[],
    restored: [] as string[],
    /** Desired count changes (moves): the service, the count, and how many services of the cluster then ran above their own count. */
    desired: [] as [string, number][],
    movingAtOnce: [] as number[],
  };
  const own = new Map([...world.services.values()].filter((x) => x.clusterName === CLUSTER).map((x) => [x.name, x.desiredCount]));
  const update = world.updateService.bind(world);
  world.updateService = (s, change) => {
    update(s, change);
    if (change.desiredCount !== undefined) {
      seen.desired.push([s.name, change.desiredCount]);
      seen.movingAtOnce.push([...world.services.values()].filter((x) => x.clusterName === CLUSTER && x.desiredCount !== own.get(x.name)).length);
      return;
    }
    if (!change.forceNewDeployment) {
      seen.restored.push(s.name);
      return;
    }
    seen.services.push(s.name);
    seen.forcedWith.push({ minimumHealthyPercent: s.minimumHealthyPercent, maximumPercent: s.maximumPercent });
    const deploying = [...world.services.values()].filter((x) => x.clusterName === CLUSTER && (x.deployments.length > 1 || x.deployments[0].rolloutState === "IN_PROGRESS"));
    seen.inFlight.push(deploying.length);
  };
  return seen;
}

/** The most tasks (not told to stop) each service of the cluster had at once, every virtual second. */
function watchTaskCounts(world: World, clock: VirtualClock): Map<string, number> {
  const most = new Map<string, number>();
  const sample = () => {
    for (const s of world.services.values()) {
      if (s.clusterName !== CLUSTER) continue;
      const live = world.tasksOfService(s).filter((t) => t.desiredStatus === "RUNNING").length;
      most.set(s.name, Math.max(most.get(s.name) ?? 0, live));
    }
    clock.after(1_000, sample);
  };
  sample();
  return most;
}

const sorted = (counts: readonly number[]) => [...counts].sort((a, b) => a - b);

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

  it("balances every judged service of the demo set by moving one task at a time, with no downtime, and puts each desired count back", async () => {
    const { world, clients, clock, take, updates, most } = await simulate();
    const before = serviceBalance(await take());
    expect(before.imbalanced).toEqual(["api", "search", "web"]);
    const others = ["worker", "admin", "log-router"].flatMap((name) => world.tasksOfService(service(world, name)).filter((t) => t.desiredStatus === "RUNNING"));
    const logged: string[] = [];

    const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: before.imbalanced, take, log: (m, f) => logged.push(`${m} ${f?.service ?? ""}`) });

    expect(result.ok).toBe(true);
    expect(result.services.map((s) => [s.service, s.outcome])).toEqual([
      ["api", "balanced"],
      ["search", "balanced"],
      ["web", "balanced"],
    ]);
    expect(result.after).toMatchObject({ imbalanced: [], balanced: true });
    const perZone = (name: string) => result.services.find((s) => s.service === name)!.after!.perZone.map((z) => z.tasks);
    expect(perZone("api")).toEqual([2, 2, 2]);
    expect(sorted(perZone("web"))).toEqual([1, 1, 2]);
    expect(sorted(perZone("search"))).toEqual([0, 1, 1]);
    // Only the surplus moved: 6/0/0 -> 2/2/2 is 4 tasks, 4/0/0 -> 2/1/1 is 2, 2/0/0 -> 1/1/0 is 1.
    expect(result.services.map((s) => [s.service, s.moves])).toEqual([
      ["api", 4],
      ["search", 1],
      ["web", 2],
    ]);

    // Never below desired, never more than one beyond; nothing forced, every desired count back.
    for (const name of before.imbalanced) expect(most.get(name)).toBe(service(world, name).desiredCount + 1);
    expect(updates.services).toEqual([]);
    expect(updates.desired.filter(([name]) => name === "api")).toEqual([["api", 7], ["api", 6], ["api", 7], ["api", 6], ["api", 7], ["api", 6], ["api", 7], ["api", 6]]);
    expect(Math.max(...updates.movingAtOnce)).toBe(3);
    expect(world.downtimeViolations()).toEqual([]);
    expect(service(world, "api").desiredCount).toBe(6);
    expect(service(world, "web").desiredCount).toBe(4);
    expect(service(world, "search").desiredCount).toBe(2);
    for (const name of before.imbalanced) expect(configuration(world, name)).toEqual({ minimumHealthyPercent: 100, maximumPercent: 200 });
    // Each move is two UpdateService calls (one up, back: minimumHealthyPercent 100 leaves no room to stop one) plus the move
    // that found no room, if any; one DescribeServices per moved service (what its configuration allows); no StopTask.
    expect(world.calls.filter((c) => c.operation === "UpdateService")).toHaveLength(updates.desired.length);
    expect(world.calls.filter((c) => c.operation === "DescribeServices")).toHaveLength(3);
    expect(world.calls.filter((c) => c.operation === "StopTask")).toHaveLength(0);
    expect(logged.filter((l) => l.startsWith("moved a task"))).toHaveLength(7);
    // The others were left alone: none of their tasks was stopped.
    expect(others.filter((t) => t.desiredStatus !== "RUNNING")).toEqual([]);
  });

  it("fixes two-task services a few at a time, on the virtual clock, with no downtime", async () => {
    const { world, clients, clock, take, updates, most } = await simulate(PAIRS);
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
      // One task moved out of the first zone, to whichever other zone had the fewest tasks.
      expect(s.after!.perZone[0].tasks).toBe(1);
      expect(sorted(s.after!.perZone.map((z) => z.tasks))).toEqual([0, 1, 1]);
      expect(s.finishedAt! - s.startedAt!).toBeLessThan(5 * 60_000);
      expect(s).toMatchObject({ moves: 1, restored: true });
      expect(most.get(s.service)).toBe(3);
      expect(service(world, s.service).desiredCount).toBe(2);
    }
    // A few at a time: three services above their own count at once, never more; each one up once and back once.
    expect(Math.max(...updates.movingAtOnce)).toBe(3);
    expect(updates.desired).toHaveLength(10);
    expect(world.calls.filter((c) => c.operation === "UpdateService")).toHaveLength(10);
    expect(result.finishedAt).toBe(clock.now());
    expect(result.finishedAt - started).toBeLessThan(15 * 60_000);
    expect(world.downtimeViolations()).toEqual([]);
    expect(logged.filter((l) => l.startsWith("moved a task"))).toHaveLength(5);
  });

  it("keeps to a smaller concurrency", async () => {
    const { clients, clock, take, updates } = await simulate(PAIRS);
    const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["cart", "checkout", "search"], concurrency: 1, take });
    expect(result.services.map((s) => s.outcome)).toEqual(["balanced", "balanced", "balanced"]);
    expect(updates.movingAtOnce).toEqual([1, 0, 1, 0, 1, 0]);
    // One after the other: each starts once the previous one has moved and its count is back.
    const [first, second] = result.services;
    expect(second.startedAt!).toBeGreaterThanOrEqual(first.finishedAt!);
    expect(updates.desired).toEqual([["cart", 3], ["cart", 2], ["checkout", 3], ["checkout", 2], ["search", 3], ["search", 2]]);
  });

  it("reports, not hides, a service it cannot move (no room in the other zones), and puts its desired count back", async () => {
    const { world, clients, clock, take } = await simulate(PAIRS);
    // The other zones' instances are full: a new task of cart can only go beside the old ones.
    const [first] = production.subnets.map((s) => s.availabilityZone);
    for (const ci of world.containerInstances.values()) {
      if (ci.az !== first) for (let i = 0; i < 8; i++) world.runStandaloneTask(CLUSTER, "hog", ci, 24 * 3600);
    }
    const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["cart"], take });
    const [cart] = result.services;
    expect(cart).toMatchObject({ service: "cart", outcome: "still-imbalanced", restored: true, moves: 0 });
    expect(cart.after!.perZone.map((z) => z.tasks)).toEqual([2, 0, 0]);
    expect(cart.after).toEqual(serviceBalance(await take()).services.find((s) => s.service === "cart"));
    expect(result.ok).toBe(false);
    // It tried once (the task went beside the others: no narrower), then stopped trying.
    expect(world.calls.filter((c) => c.operation === "UpdateService")).toHaveLength(2);
    expect(service(world, "cart").desiredCount).toBe(2);
    expect(configuration(world, "cart")).toEqual({ minimumHealthyPercent: 100, maximumPercent: 200 });
    expect(world.downtimeViolations()).toEqual([]);
  });

  it("dry run: reports what would be moved, and changes nothing", async () => {
    const { world, clients, clock, take } = await simulate();
    const tasksBefore = [...world.tasks.keys()];
    const report = serviceBalance(await take());
    const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: report.imbalanced, dryRun: true, take });
    expect(result).toMatchObject({ dryRun: true, ok: true });
    expect(result.after).toBeUndefined();
    expect(result.services.map((s) => [s.service, s.outcome, s.moves, s.narrowed])).toEqual([
      ["api", "would-force", 0, undefined],
      ["search", "would-force", 0, undefined],
      ["web", "would-force", 0, undefined],
    ]);
    expect(result.services[0].before!.perZone.map((z) => z.tasks)).toEqual([6, 0, 0]);
    expect(world.calls.filter((c) => c.operation === "UpdateService")).toEqual([]);
    expect([...world.tasks.keys()]).toEqual(tasksBefore);
    expect(configuration(world, "api")).toEqual({ minimumHealthyPercent: 100, maximumPercent: 200 });
  });

  it("reports a service with no room anywhere, a move that does not complete within the timeout, a missing service and a refused update without throwing; every desired count is back", async () => {
    const { world, clients, clock, take } = await simulate(PAIRS);
    // No room anywhere: one more task of cart can never be placed.
    for (const ci of world.containerInstances.values()) if (ci.az !== production.subnets[0].availabilityZone) ci.agentConnected = false;
    const full = [...world.containerInstances.values()].filter((ci) => ci.agentConnected);
    for (const ci of full) for (let i = 0; i < 8; i++) world.runStandaloneTask(CLUSTER, "hog", ci, 24 * 3600);
    // UpdateService on checkout is refused (say, by an IAM policy).
    const update = world.updateService.bind(world);
    world.updateService = (s, change) => {
      if (s.name === "checkout") throw awsError("AccessDeniedException", "not authorized to perform: ecs:UpdateService");
      update(s, change);
    };

    const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["cart", "no-such-service", "checkout"], take });
    expect(result.ok).toBe(false);
    const [cart, missing, checkout] = result.services;
    expect(cart).toMatchObject({ service: "cart", outcome: "still-imbalanced", moves: 0, restored: true });
    expect(service(world, "cart").desiredCount).toBe(2);
    expect(missing).toMatchObject({ service: "no-such-service", outcome: "failed", error: "the service is not in the cluster (DescribeServices: MISSING)" });
    expect(missing.restored).toBeUndefined();
    expect(checkout).toMatchObject({ service: "checkout", outcome: "failed", error: expect.stringContaining("UpdateService refused: AccessDeniedException") });
    expect(checkout.restored).toBeUndefined();
    expect(service(world, "checkout").desiredCount).toBe(2);
    expect(world.downtimeViolations()).toEqual([]);
  });

  it("gives up a move that does not complete within the timeout, its desired count put back", async () => {
    const { world, clients, clock, take } = await simulate(PAIRS);
    const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["media"], take, timeoutMs: 1 });
    expect(result.services[0]).toMatchObject({ service: "media", outcome: "failed", error: "a move did not complete within 1ms", restored: true });
    expect(result.ok).toBe(false);
    expect(service(world, "media").desiredCount).toBe(2);
  });

  it("says so, and is not ok, when a desired count cannot be put back", async () => {
    const { world, clients, clock, take } = await simulate(PAIRS);
    const update = world.updateService.bind(world);
    world.updateService = (s, change) => {
      if (change.desiredCount === 2) throw awsError("ThrottlingException", "Rate exceeded");
      update(s, change);
    };
    const logged: string[] = [];
    const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["cart"], take, log: (m) => logged.push(m) });
    const [cart] = result.services;
    expect(cart).toMatchObject({ outcome: "failed", restored: false, restoreError: expect.stringContaining("UpdateService refused to put the desired count back to 2") });
    expect(result.ok).toBe(false);
    expect(service(world, "cart").desiredCount).toBe(3);
    expect(logged).toContain("could not restore the desired count");
  });

  describe("a service bunched on one instance of a zone (instance-stacking only)", () => {
    /** Six tasks, 2/2/2 over the zones, the first zone's two on one of its two instances. */
    async function stacked() {
      const sim = await simulate([]);
      const [first] = production.subnets.map((s) => s.availabilityZone);
      const [, spare] = [...sim.world.containerInstances.values()].filter((ci) => ci.clusterName === CLUSTER && ci.az === first);
      sim.world.setContainerInstanceStatus(spare, "DRAINING");
      sim.world.createService(CLUSTER, { name: "six", desiredCount: 6, tags: { owner: "team" } });
      while (service(sim.world, "six").deployments[0].rolloutState !== "COMPLETED") await sim.clock.sleep(5_000);
      sim.world.setContainerInstanceStatus(spare, "ACTIVE");
      const balance = serviceBalance(await sim.take()).services.find((s) => s.service === "six")!;
      expect(balance.perZone.map((z) => z.tasks)).toEqual([2, 2, 2]);
      expect(balance.imbalances.map((i) => i.kind)).toEqual(["instance-stacking"]);
      return sim;
    }

    it("is forced with one task beyond desired at a time, its own configuration put back, and what that left uneven over zones moved", async () => {
      const { world, clients, clock, take, updates, most } = await stacked();
      const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["six"], take });
      expect(result.ok).toBe(true);
      const [six] = result.services;
      expect(six).toMatchObject({ outcome: "balanced", original: { minimumHealthyPercent: 100, maximumPercent: 200 }, narrowed: { minimumHealthyPercent: 100, maximumPercent: 117 }, restored: true });
      // The deployment spread the tasks over the instances but left 3/1/2 over the zones: one task moved.
      expect(six.moves).toBe(1);
      expect(six.after!.perZone.map((z) => z.tasks)).toEqual([2, 2, 2]);
      expect(service(world, "six").desiredCount).toBe(6);
      expect(updates.services).toEqual(["six"]);
      expect(updates.restored).toEqual(["six"]);
      expect(most.get("six")).toBe(7);
      expect(configuration(world, "six")).toEqual({ minimumHealthyPercent: 100, maximumPercent: 200 });
      expect(world.downtimeViolations()).toEqual([]);
    });

    it("with zone ties falling the other way (to the zone last by name): forced, what it left uneven moved, balanced", async () => {
      const { world, clients, clock, take } = await stacked();
      world.behaviour = { ...world.behaviour, zoneTies: "last" };
      const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["six"], take });
      expect(result.ok).toBe(true);
      const [six] = result.services;
      expect(six.outcome).toBe("balanced");
      expect(six.after!.perZone.map((z) => z.tasks)).toEqual([2, 2, 2]);
      expect(six.after!.imbalances).toEqual([]);
      // The deployment left one zone a task over, as with the ties the default way: one move.
      expect(six.moves).toBe(1);
      expect(service(world, "six").desiredCount).toBe(6);
      expect(world.downtimeViolations()).toEqual([]);
    });

    it("dry run: says what it would be forced with", async () => {
      const { clients, clock, take } = await stacked();
      const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["six"], dryRun: true, take });
      expect(result.services.map((s) => [s.outcome, s.narrowed])).toEqual([["would-force", { minimumHealthyPercent: 100, maximumPercent: 117 }]]);
    });

    it("reports a deployment that does not complete within the timeout, and puts the configuration back", async () => {
      const { world, clients, clock, take } = await stacked();
      const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["six"], take, timeoutMs: 1 });
      expect(result.services[0]).toMatchObject({ outcome: "failed", error: "the deployment did not complete within 1ms", restored: true });
      expect(configuration(world, "six")).toEqual({ minimumHealthyPercent: 100, maximumPercent: 200 });
    });

    it("says so, and is not ok, when its own configuration cannot be put back", async () => {
      const { world, clients, clock, take } = await stacked();
      const update = world.updateService.bind(world);
      world.updateService = (s, change) => {
        if (change.deploymentConfiguration && !change.forceNewDeployment) throw awsError("ThrottlingException", "Rate exceeded");
        update(s, change);
      };
      const logged: string[] = [];
      const result = await rebalance(clients, clock, { clusterName: CLUSTER, services: ["six"], take, log: (m) => logged.push(m) });
      expect(result.services[0]).toMatchObject({ outcome: "balanced", restored: false, restoreError: expect.stringContaining('UpdateService refused to restore {"minimumHealthyPercent":100,"maximumPercent":200}') });
      expect(result.ok).toBe(false);
      expect(configuration(world, "six")).toEqual({ minimumHealthyPercent: 100, maximumPercent: 117 });
      expect(logged).toContain("could not restore the deployment configuration");
    });
  });

  it("narrows to one task beyond desired, whatever the desired count", () => {
    for (const desired of [0, 1, 2, 3, 4, 6, 7, 33, 99, 100, 150]) {
      const { minimumHealthyPercent, maximumPercent } = narrowedDeploymentConfiguration(desired);
      expect(minimumHealthyPercent).toBe(100);
      // ECS rounds maximumPercent of desiredCount down.
      expect(Math.floor((Math.max(desired, 1) * maximumPercent) / 100)).toBe(Math.max(desired, 1) + 1);
    }
  });
});
