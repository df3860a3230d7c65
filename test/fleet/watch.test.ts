/**
 * The watch against the simulated AWS, right after the bump was applied (as after an Atlantis
 * apply): a healthy migration is seen to done, a broken AMI is a crash loop within 3 polls of its
 * first crash, a slow drain is a stall naming the instances, throttling is survived.
 */
import { findEnvironment } from "../../scripts/commands/common";
import { createLogger } from "../../scripts/core/log";
import { repoConfig } from "../support/repo-config";
import { simulatedRollInProgress } from "../../scripts/commands/stack";
import { type WatchCycle, watchMigration } from "../../scripts/fleet/watch";
import { type FleetSnapshot, isFullView } from "../../scripts/fleet/snapshot";
import { createSimulation } from "../../scripts/sim/scenarios";
import { worldSnapshot } from "../support/world-snapshot";
import type { ScenarioName } from "../../scripts/sim/scenarios";

const config = repoConfig();
const silent = createLogger("text", () => undefined);
/** The simulations of the test: stopped after it (a replace's apply goes on in the background). */
const running: { clock: { stop(): void } }[] = [];
afterEach(() => running.splice(0).forEach((s) => s.clock.stop()));

async function watch(envName: string, scenario: ScenarioName, stallAfterMs?: number) {
  const environment = findEnvironment(config.environments, envName);
  const simulation = await simulatedRollInProgress({ config, environment, log: silent, scenario });
  running.push(simulation);
  const cycles: WatchCycle[] = [];
  const callsBefore = simulation.world.calls.length;
  const result = await watchMigration({
    clients: simulation.clients,
    clock: simulation.clock,
    clusters: environment.clusters.map((c) => ({ name: c.name, ecsClusterName: c.ecsClusterName, targetImageIds: [config.pins[envName][c.name].current.imageId] })),
    timeoutMs: 60 * 60_000,
    stallAfterMs,
    // Keep a copy: the maps are the watch's own.
    onCycle: (cycle) => cycles.push({ number: cycle.number, states: new Map(cycle.states), snapshots: new Map(cycle.snapshots) }),
  });
  const calls = simulation.world.calls.slice(callsBefore).filter((c) => !c.throttled);
  return { result, cycles, simulation, calls, state: result.states.get("apps")! };
}

describe("amiroll watch on the simulated AWS", () => {
  it.each(["staging", "production"])("%s, healthy: the migration is seen through to done, with no downtime", async (env) => {
    const { result, state, simulation, cycles } = await watch(env, "healthy");
    expect(result.outcome).toBe("done");
    expect(state.tasksOnOld).toEqual([]);
    expect(state.servicesSteady).toBe(state.services);
    expect(state.newInstances.length).toBe(findEnvironment(config.environments, env).clusters[0].desiredCapacity);
    expect(state.peakTasksOnOld).toBeGreaterThan(0);
    expect(simulation.world.downtimeViolations()).toEqual([]);
    // Completion is noticed within one poll: the cycle before the last was not done yet.
    expect(cycles.at(-2)!.states.get("apps")!.phase).not.toBe("done");
    // The phases a user sees, in order.
    const phases = [...new Set(cycles.map((c) => c.states.get("apps")!.phase))];
    expect(phases[0]).toBe("waiting for new instances");
    expect(phases.at(-1)).toBe("done");
  });

  it("describes fewer tasks than full polls would: each poll only what changed since the last; the verdict on a full poll", async () => {
    const { result, cycles, calls } = await watch("production", "healthy");
    expect(result.outcome).toBe("done");
    const described = calls.filter((c) => c.operation === "DescribeTasks").length;
    // A full poll describes every running and recently stopped task, 100 per call.
    const fullDescribes = (s: FleetSnapshot) => Math.ceil(s.tasks.length / 100) + Math.ceil(s.stoppedTasks.length / 100);
    const full = cycles.reduce((n, c) => n + fullDescribes(c.snapshots.get("apps")!), 0);
    // The last cycle's incremental poll said done; the full poll that confirmed it is the last snapshot.
    const last = result.snapshots.get("apps")!;
    expect(isFullView(last)).toBe(true);
    expect(cycles.slice(0, -1).every((c) => !isFullView(c.snapshots.get("apps")!) || c.number === 1)).toBe(true);
    expect(described - fullDescribes(last)).toBeLessThan(full);
    // The container instances are read every poll: they show what changed.
    expect(calls.filter((c) => c.operation === "DescribeContainerInstances").length).toBeGreaterThanOrEqual(cycles.length + 1);
  });

  it.each([
    ["staging", "healthy"],
    ["production", "healthy"],
    ["staging", "slow-drain"],
  ] as const)("%s, %s: every incremental poll of the roll sees the world as it is (groups, instances, tasks, services)", async (env, scenario) => {
    const environment = findEnvironment(config.environments, env);
    const simulation = await simulatedRollInProgress({ config, environment, log: silent, scenario });
    running.push(simulation);
    const seen: { full: boolean; got: unknown; world: unknown }[] = [];
    const sortedBy = <T>(items: readonly T[], key: (t: T) => string) => [...items].sort((a, b) => key(a).localeCompare(key(b)));
    const comparable = (s: Pick<FleetSnapshot, "groups" | "containerInstances" | "services" | "tasks">) => ({
      groups: sortedBy(s.groups, (g) => g.name),
      containerInstances: sortedBy(s.containerInstances, (ci) => ci.arn),
      services: sortedBy(s.services, (x) => x.name).map(({ events: _, ...rest }) => rest),
      tasks: sortedBy(s.tasks, (t) => t.arn),
    });
    await watchMigration({
      clients: simulation.clients,
      clock: simulation.clock,
      clusters: environment.clusters.map((c) => ({ name: c.name, ecsClusterName: c.ecsClusterName, targetImageIds: [config.pins[env][c.name].current.imageId] })),
      timeoutMs: 60 * 60_000,
      stallAfterMs: 2 * 60_000,
      onSnapshot: async (cluster, snapshot) => {
        seen.push({ full: isFullView(snapshot), got: comparable(snapshot), world: comparable(worldSnapshot(simulation.world, cluster.ecsClusterName)) });
      },
    });
    expect(seen.filter((s) => !s.full).length).toBeGreaterThan(3);
    expect(seen.map((s) => s.got)).toEqual(seen.map((s) => s.world));
  });

  it("never ends on a reused answer: a 'done' an incremental poll saw with a stale service is taken again on a full poll, which goes on", async () => {
    const environment = findEnvironment(config.environments, "production");
    const sim = await createSimulation({ environment, pins: config.pins.production, scenario: "healthy" });
    running.push(sim);
    const cluster = environment.clusters[0];
    const image = sim.images[cluster.name].running;
    const service = (name: string) => sim.world.services.get(`${cluster.ecsClusterName}/${name}`)!;
    /** One task more than there is room for: the service is not steady, and no instance, task or group shows it. */
    const overAsk = (name: string) => {
      (service(name) as { cpu: number }).cpu = 1_000_000;
      sim.world.updateService(service(name), { desiredCount: service(name).desiredCount + 1 });
    };
    const settle = (name: string, cpu: number) => {
      (service(name) as { cpu: number }).cpu = cpu;
      sim.world.updateService(service(name), { desiredCount: service(name).desiredCount - 1 });
    };
    const cpu = service("web").cpu;
    overAsk("web");
    const states: string[] = [];
    const result = await watchMigration({
      clients: sim.clients,
      clock: sim.clock,
      clusters: [{ name: cluster.name, ecsClusterName: cluster.ecsClusterName, targetImageIds: [image] }],
      timeoutMs: 60 * 60_000,
      onCycle: ({ number, states: byCluster, snapshots }) => {
        const state = byCluster.get(cluster.name)!;
        states.push(`${state.phase}: ${state.unsteady.map((u) => u.service).join(", ")} (${isFullView(snapshots.get(cluster.name)!) ? "full" : "incremental"})`);
        // After the first poll web settles and admin (steady, so reused by the next poll) silently
        // cannot place a task; after the second, admin settles too.
        if (number === 1) {
          settle("web", cpu);
          overAsk("admin");
        }
        if (number === 2) settle("admin", cpu);
      },
    });
    // Cycle 2's incremental poll saw web steady and reused admin (steady when last described):
    // done, on a stale answer. The full poll taken instead sees admin and the watch goes on.
    expect(states).toEqual(["settling: web (full)", "settling: admin (full)", "done:  (full)"]);
    expect(result.outcome).toBe("done");
    expect(result.cycles).toBe(3);
  });

  it("broken-ami: a crash loop, within 3 polls of the first crash on the new image", async () => {
    const { result, state, cycles } = await watch("staging", "broken-ami");
    expect(result.outcome).toBe("crash loop");
    expect(state.crashLoop!.reason).toMatch(/tasks stopped with errors on the new image/);
    const firstCrash = cycles.findIndex((c) => c.snapshots.get("apps")!.stoppedTasks.some((t) => t.exitCodes.some((e) => e !== 0)));
    expect(firstCrash).toBeGreaterThanOrEqual(0);
    expect(cycles.length - 1 - firstCrash).toBeLessThanOrEqual(3);
  });

  it("slow-drain: a stall, naming the old instances and the tasks that hold them", async () => {
    const { result, state } = await watch("staging", "slow-drain", 2 * 60_000);
    expect(result.outcome).toBe("stalled");
    expect(state.stall!.instances.length).toBeGreaterThan(0);
    expect(state.stall!.instances.every((id) => /^i-/.test(id))).toBe(true);
    expect(state.stall!.tasks.join("\n")).toMatch(/service:\w+ on i-\w+ \(STOPPING\)/);
  });

  it("throttling: survived (the SDK retries), the migration still completes", async () => {
    const { result, simulation } = await watch("staging", "throttling");
    expect(result.outcome).toBe("done");
    expect(simulation.world.calls.filter((c) => c.throttled).length).toBeGreaterThan(10);
  });
});
