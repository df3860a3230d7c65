/**
 * The poller against the simulated AWS: one cycle's snapshot agrees with the world's own state,
 * stays within the API-call bound (and counts its calls as the world saw them), batches at 100,
 * survives throttling, and turns an unknown cluster into a UsageError. Plus createAwsClients,
 * without any network.
 */
import { ECSClient } from "@aws-sdk/client-ecs";
import { UsageError } from "../../scripts/core/errors";
import { type AwsClients, DEFAULT_MAX_ATTEMPTS, createAwsClients, maxAttemptsFrom } from "../../scripts/fleet/clients";
import { type FleetSnapshot, type TaskSnapshot, apiCallBound, changedInstances, isFullView, takeSnapshot, tasksToDescribe } from "../../scripts/fleet/snapshot";
import { type ScenarioName, type Simulation, createSimulation } from "../../scripts/sim/scenarios";
import type { ServiceSpec, World } from "../../scripts/sim/world";
import { type Environment } from "../../scripts/config/environments";
import { findEnvironment } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { worldSnapshot } from "../support/world-snapshot";
import { REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

const environments = loadEnvironments();
const pins = readPins(REPO_PINS_PATH, environments);

const simulate = (env: "staging" | "production", scenario: ScenarioName = "healthy") =>
  createSimulation({ environment: findEnvironment(environments, env), pins: pins[env], scenario });

/** One cycle, with the world's record of the calls it made. */
async function snapshotOf(sim: Simulation, cluster: string, options: { since?: number; concurrency?: number; previous?: FleetSnapshot } = {}) {
  const before = sim.world.calls.length;
  const snapshot = await takeSnapshot(sim.clients, cluster, { now: sim.clock.now(), since: options.since ?? 0, concurrency: options.concurrency, previous: options.previous });
  return { snapshot, calls: sim.world.calls.slice(before) };
}

const sorted = <T>(items: readonly T[], key: (t: T) => string) => [...items].sort((a, b) => key(a).localeCompare(key(b)));

/**
 * The snapshot says what the world holds: every group, instance, service and task, field by
 * field, as test/support/world-snapshot.ts reads them from the world's own state.
 */
function expectMatchesWorld(snapshot: FleetSnapshot, world: World, cluster: string): void {
  const expected = worldSnapshot(world, cluster);
  expect(snapshot.clusterName).toBe(cluster);
  expect(snapshot.at).toBe(world.clock.now());
  expect(sorted(snapshot.groups, (g) => g.name)).toEqual(sorted(expected.groups, (g) => g.name));
  expect(sorted(snapshot.containerInstances, (ci) => ci.arn)).toEqual(sorted(expected.containerInstances, (ci) => ci.arn));
  // Events are filtered by the watch's start; the world keeps them all.
  const withoutEvents = (services: FleetSnapshot["services"]) => sorted(services, (s) => s.name).map(({ events: _, ...rest }) => rest);
  expect(withoutEvents(snapshot.services)).toEqual(withoutEvents(expected.services));
  expect(sorted(snapshot.tasks, (t) => t.arn)).toEqual(sorted(expected.tasks, (t) => t.arn));
}

/** The calls the world saw, by operation (throttled attempts left out). */
function byOperation(calls: readonly { operation: string; throttled: boolean }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of calls) if (!c.throttled) counts[c.operation] = (counts[c.operation] ?? 0) + 1;
  return counts;
}

function expectWithinBound(snapshot: FleetSnapshot): void {
  expect(snapshot.apiCalls).toBeLessThanOrEqual(apiCallBound(snapshot.containerInstances.length, snapshot.tasks.length, snapshot.services.length));
}

describe("takeSnapshot", () => {
  it.each([
    ["staging", "staging-apps"],
    ["production", "production-apps"],
  ] as const)("sees a settled %s cluster as the world holds it, in 8 calls the world counted too", async (env, cluster) => {
    const sim = await simulate(env);
    const { snapshot, calls } = await snapshotOf(sim, cluster);
    expectMatchesWorld(snapshot, sim.world, cluster);
    // Every instance runs the old image, in the zones of the environment.
    const zones = findEnvironment(environments, env).subnets.map((s) => s.availabilityZone);
    expect(snapshot.containerInstances.every((ci) => ci.imageId === sim.images.apps.running && zones.includes(ci.availabilityZone))).toBe(true);
    expect(snapshot.tasks.every((t) => zones.includes(t.availabilityZone) && t.lastStatus === "RUNNING")).toBe(true);
    expect(snapshot.services.find((s) => s.name === "web")).toMatchObject({ runningCount: env === "staging" ? 2 : 4, tags: { owner: "storefront" }, deployments: [{ rolloutState: "COMPLETED" }] });
    expect(snapshot.stoppedTasks).toEqual([]);

    expect(byOperation(calls)).toEqual({
      DescribeAutoScalingGroups: 1,
      ListContainerInstances: 1,
      DescribeContainerInstances: 1,
      ListServices: 1,
      DescribeServices: 1,
      ListTasks: 2, // RUNNING, and one page of STOPPED (none: no DescribeTasks for them)
      DescribeTasks: 1,
    });
    expect(snapshot.apiCalls).toBe(calls.length);
    expect(snapshot.apiCalls).toBe(8);
    expectWithinBound(snapshot);
  });

  it("describes with EC2 only the InService instances no container instance names: their image and launch time, in one more call within the bound", async () => {
    const sim = await simulate("production");
    const [group] = sim.world.groups.values();
    sim.world.behaviour = { ...sim.world.behaviour, bootFailureRate: 1 };
    group.desired += 2;
    await sim.clock.sleep(5 * 60_000);
    const { snapshot, calls } = await snapshotOf(sim, "production-apps");
    expectMatchesWorld(snapshot, sim.world, "production-apps");
    const described = snapshot.groups[0].instances.filter((i) => i.launchedAt !== undefined);
    const unregistered = [...sim.world.instances.values()].filter((i) => i.lifecycle === "InService" && !i.containerInstanceArn);
    expect(described.map((i) => [i.instanceId, i.imageId, i.launchedAt]).sort()).toEqual(unregistered.map((i) => [i.id, sim.images.apps.running, i.launchedAt]).sort());
    expect(described).toHaveLength(2);
    expect(snapshot.groups[0].instances.filter((i) => i.imageId === undefined)).toHaveLength(4);
    expect(byOperation(calls).DescribeInstances).toBe(1);
    expect(snapshot.apiCalls).toBe(9);
    expect(snapshot.apiCalls).toBeLessThanOrEqual(apiCallBound(snapshot.containerInstances.length, snapshot.tasks.length, snapshot.services.length, described.length));
  });

  it("instances only (the boot check's poll through an apply): the same groups and instances, no task or service call", async () => {
    const sim = await simulate("production");
    const cluster = findEnvironment(environments, "production").clusters[0].ecsClusterName;
    const full = await snapshotOf(sim, cluster);
    const before = sim.world.calls.length;
    const only = await takeSnapshot(sim.clients, cluster, { now: sim.clock.now(), since: 0, instancesOnly: true });
    const calls = byOperation(sim.world.calls.slice(before));
    expect(Object.keys(calls).sort()).toEqual(["DescribeAutoScalingGroups", "DescribeContainerInstances", "ListContainerInstances"]);
    expect(only.apiCalls).toBe(sim.world.calls.length - before);
    expect([only.groups, only.containerInstances]).toEqual([full.snapshot.groups, full.snapshot.containerInstances]);
    expect([only.tasks, only.services, only.stoppedTasks]).toEqual([[], [], []]);
  });

  it("returns plain frozen data, times as epoch ms", async () => {
    const sim = await simulate("production");
    const { snapshot } = await snapshotOf(sim, "production-apps");
    for (const value of [snapshot, snapshot.tasks, snapshot.tasks[0], snapshot.services[0], snapshot.services[0].deployments[0], snapshot.services[0].tags, snapshot.groups[0].instances[0]]) {
      expect(Object.isFrozen(value)).toBe(true);
    }
    expect(typeof snapshot.tasks[0].startedAt).toBe("number");
    expect(snapshot.services[0].events.every((e) => typeof e.at === "number")).toBe(true);
    // Survives JSON as it is: no Dates, no SDK metadata.
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(JSON.stringify(snapshot)).not.toContain("$metadata");
  });

  it("keeps the service events at or after `since`, newest first", async () => {
    const sim = await simulate("production");
    const cluster = "production-apps";
    const all = (await snapshotOf(sim, cluster)).snapshot.services.find((s) => s.name === "api")!.events;
    const world = sim.world.services.get(`${cluster}/api`)!.events;
    expect(all.map((e) => e.id)).toEqual(world.map((e) => e.id));
    expect(all.map((e) => e.at)).toEqual([...all.map((e) => e.at)].sort((a, b) => b - a));
    const since = all[1].at;
    const recent = (await snapshotOf(sim, cluster, { since })).snapshot.services.find((s) => s.name === "api")!.events;
    expect(recent.length).toBeGreaterThan(0);
    expect(recent).toEqual(all.filter((e) => e.at >= since));
    const none = (await snapshotOf(sim, cluster, { since: sim.clock.now() + 1 })).snapshot;
    expect(none.services.every((s) => s.events.length === 0)).toBe(true);
  });

  it("reports recently stopped tasks, newest first, with their exit codes", async () => {
    const sim = await simulate("production");
    const { world, clock } = sim;
    const cluster = "production-apps";
    const web = [...world.tasks.values()].filter((t) => t.clusterName === cluster && t.group === "service:web" && t.desiredStatus === "RUNNING");
    world.stopTask(web[0], "Essential container in task exited", 137);
    await clock.sleep(60_000);
    world.stopTask(web[1], "Essential container in task exited", 1);
    await clock.sleep(60_000);
    const { snapshot, calls } = await snapshotOf(sim, cluster);
    expect(snapshot.stoppedTasks.map((t) => [t.arn, t.exitCodes, t.stopCode, t.lastStatus, t.desiredStatus])).toEqual([
      [web[1].arn, [1], "EssentialContainerExited", "STOPPED", "STOPPED"],
      [web[0].arn, [137], "EssentialContainerExited", "STOPPED", "STOPPED"],
    ]);
    expect(snapshot.stoppedTasks[0]).toMatchObject({ stoppedReason: "Essential container in task exited", stoppedAt: web[1].stoppedAt, availabilityZone: web[1].az });
    // The scheduler replaced them: the running tasks are whole again.
    expectMatchesWorld(snapshot, world, cluster);
    expect(byOperation(calls)).toMatchObject({ ListTasks: 2, DescribeTasks: 2 });
    expect(snapshot.apiCalls).toBe(calls.length);
    expectWithinBound(snapshot);
  });

  it("still gives the whole cluster when a quarter of the calls are throttled, counting each call once", async () => {
    const sim = await simulate("production", "throttling");
    const { snapshot, calls } = await snapshotOf(sim, "production-apps");
    expectMatchesWorld(snapshot, sim.world, "production-apps");
    expect(calls.filter((c) => c.throttled).length).toBeGreaterThan(0);
    expect(snapshot.apiCalls).toBe(calls.filter((c) => !c.throttled).length);
    expectWithinBound(snapshot);
  });

  it("turns an unknown cluster into a UsageError that names it", async () => {
    const sim = await simulate("staging");
    const attempt = takeSnapshot(sim.clients, "staging-nope", { now: sim.clock.now(), since: 0 });
    await expect(attempt).rejects.toThrow(UsageError);
    await expect(attempt).rejects.toThrow("ECS cluster staging-nope not found in eu-west-1");
  });

  it("refuses a concurrency that is not a positive whole number", async () => {
    const sim = await simulate("staging");
    await expect(takeSnapshot(sim.clients, "staging-apps", { now: 0, since: 0, concurrency: 0 })).rejects.toThrow(UsageError);
  });

  it("refuses a negative max age", async () => {
    const sim = await simulate("staging");
    await expect(takeSnapshot(sim.clients, "staging-apps", { now: 0, since: 0, maxAgeMs: -1 })).rejects.toThrow("snapshot maxAgeMs must be 0 or more, not -1");
    await expect(takeSnapshot(sim.clients, "staging-apps", { now: 0, since: 0, taskListMaxAgeMs: -1 })).rejects.toThrow("snapshot taskListMaxAgeMs must be 0 or more, not -1");
  });

  describe("at scale (250 instances, 25 services, 754 running tasks)", () => {
    const zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
    const environment: Environment = {
      name: "big",
      region: "eu-west-1",
      backend: { bucket: "big", key: "big", region: "eu-west-1" },
      vpcId: "vpc-0123456789abcdef0",
      subnets: zones.map((az, i) => ({ id: `subnet-0000000000000000${i}`, availabilityZone: az })),
      tags: {},
      maintenanceWindows: [],
      smoke: [],
      soakMs: 0,
      rebalance: false,
      clusters: [
        {
          name: "fleet",
          ecsClusterName: "big-fleet",
          instanceType: "m7g.xlarge",
          minSize: 250,
          maxSize: 500,
          desiredCapacity: 250,
          amiParameter: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended",
          strategy: "blue-green",
          bootGracePeriodMs: 300_000,
        },
      ],
    };
    // 24 services of 21 tasks and a daemon (one task per instance): 504 + 250 = 754 running tasks.
    const services: ServiceSpec[] = [
      ...Array.from({ length: 24 }, (_, i) => ({ name: `svc${i}`, desiredCount: 21 })),
      { name: "daemon", desiredCount: 0, schedulingStrategy: "DAEMON", cpu: 64, memory: 64 },
    ];
    let sim: Simulation;
    /** Ids per describe call, and the most calls in flight at once, seen at the SDK boundary. */
    const seen = { batches: [] as [string, number][], inFlight: 0, maxInFlight: 0 };

    beforeAll(async () => {
      sim = await createSimulation({ environment, pins: { fleet: { current: { imageId: "ami-0123456789abcdef0" } } }, services, seed: 3 });
      for (const client of [sim.clients.ecs, sim.clients.autoScaling] as { middlewareStack: any }[]) {
        client.middlewareStack.add(
          (next: (args: any) => Promise<any>, context: { commandName: string }) => async (args: any) => {
            const ids = args.input.containerInstances ?? args.input.tasks ?? args.input.services;
            if (ids) seen.batches.push([context.commandName.replace(/Command$/, ""), ids.length]);
            seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight);
            try {
              return await next(args);
            } finally {
              seen.inFlight--;
            }
          },
          { step: "initialize", name: "testRecordBatches" },
        );
      }
    }, 60_000);

    beforeEach(() => {
      seen.batches.length = 0;
      seen.maxInFlight = 0;
    });

    it("lists by pages of 100 and describes 100 ids (10 services) per call, within the bound", async () => {
      const { snapshot, calls } = await snapshotOf(sim, "big-fleet");
      expectMatchesWorld(snapshot, sim.world, "big-fleet");
      expect([snapshot.containerInstances.length, snapshot.tasks.length, snapshot.services.length]).toEqual([250, 754, 25]);
      expect(byOperation(calls)).toEqual({
        DescribeAutoScalingGroups: 1,
        ListContainerInstances: 3,
        DescribeContainerInstances: 3,
        ListServices: 1,
        DescribeServices: 3,
        ListTasks: 8 + 1,
        DescribeTasks: 8,
      });
      const sizes = (operation: string) => seen.batches.filter(([op]) => op === operation).map(([, n]) => n).sort((a, b) => b - a);
      expect(sizes("DescribeContainerInstances")).toEqual([100, 100, 50]);
      expect(sizes("DescribeServices")).toEqual([10, 10, 5]);
      expect(sizes("DescribeTasks")).toEqual([100, 100, 100, 100, 100, 100, 100, 54]);
      expect(snapshot.apiCalls).toBe(calls.length);
      expect(snapshot.apiCalls).toBe(28);
      expect(apiCallBound(250, 754, 25)).toBe(30);
      expectWithinBound(snapshot);
    });

    it("keeps to its concurrency, and the same world gives the same snapshot at any concurrency", async () => {
      const one = await snapshotOf(sim, "big-fleet", { concurrency: 1 });
      expect(seen.maxInFlight).toBe(1);
      seen.maxInFlight = 0;
      const four = await snapshotOf(sim, "big-fleet");
      expect(seen.maxInFlight).toBeGreaterThan(1);
      expect(seen.maxInFlight).toBeLessThanOrEqual(4);
      expect(four.snapshot).toEqual(one.snapshot);
    });

    it("reads only one page of stopped tasks (the newest first), with one describe", async () => {
      const running = [...sim.world.tasks.values()].filter((t) => t.clusterName === "big-fleet" && t.desiredStatus === "RUNNING" && t.group !== "service:daemon");
      for (const task of running.slice(0, 150)) sim.world.stopTask(task, "Essential container in task exited", 2);
      await sim.clock.sleep(60_000);
      const { snapshot, calls } = await snapshotOf(sim, "big-fleet");
      expect(snapshot.stoppedTasks).toHaveLength(100);
      expect(snapshot.stoppedTasks.every((t) => t.exitCodes[0] === 2)).toBe(true);
      expect(snapshot.stoppedTasks.map((t) => t.stoppedAt)).toEqual(snapshot.stoppedTasks.map((t) => t.stoppedAt).sort((a, b) => b! - a!));
      expect(calls.filter((c) => c.operation === "ListTasks").length).toBe(Math.ceil(snapshot.tasks.length / 100) + 1);
      expect(calls.filter((c) => c.operation === "DescribeTasks").length).toBe(Math.ceil(snapshot.tasks.length / 100) + 1);
      expectWithinBound(snapshot);
    });

    it("given the last poll, lists the whole cluster again when more tasks stopped than one page shows (a stop may be missing from it)", async () => {
      const first = (await snapshotOf(sim, "big-fleet")).snapshot;
      await sim.clock.sleep(15_000);
      const quiet = await snapshotOf(sim, "big-fleet", { previous: first });
      // 100 of the 150 stopped earlier are on the page, and more: no running task is listed then.
      expect(quiet.snapshot.stoppedTasks).toHaveLength(100);
      const running = [...sim.world.tasks.values()].filter((t) => t.clusterName === "big-fleet" && t.desiredStatus === "RUNNING" && t.group !== "service:daemon");
      sim.world.stopTask(running[0], "Essential container in task exited", 2);
      await sim.clock.sleep(15_000);
      const { snapshot, calls } = await snapshotOf(sim, "big-fleet", { previous: quiet.snapshot });
      expect(calls.filter((c) => c.operation === "ListTasks").length).toBe(Math.ceil(snapshot.tasks.length / 100) + 1);
      expect(snapshot.tasks.map((t) => t.arn)).not.toContain(running[0].arn);
      expectMatchesWorld(snapshot, sim.world, "big-fleet");
      expectWithinBound(snapshot);
    });
  });
});

describe("takeSnapshot given the previous snapshot (incremental polls)", () => {
  const cluster = "production-apps";
  /** The same fields, whatever the calls that made them. */
  const withoutCalls = ({ apiCalls: _, ...rest }: FleetSnapshot) => rest;

  /** An incremental poll, then a full one of the same world at the same time: they must agree. */
  async function pollBoth(sim: Simulation, previous: FleetSnapshot) {
    const incremental = await snapshotOf(sim, cluster, { previous });
    const full = await snapshotOf(sim, cluster);
    expect(withoutCalls(incremental.snapshot)).toEqual(withoutCalls(full.snapshot));
    expectMatchesWorld(incremental.snapshot, sim.world, cluster);
    expectWithinBound(incremental.snapshot);
    return { incremental, full };
  }

  const liveTasks = (sim: Simulation) => [...sim.world.tasks.values()].filter((t) => t.clusterName === cluster && t.desiredStatus === "RUNNING");

  it("on an unchanged world reads only the instances, the page of stopped tasks and its share of the services: the rest is the last poll's, the same objects", async () => {
    const sim = await simulate("production");
    const first = await snapshotOf(sim, cluster);
    await sim.clock.sleep(15_000);
    const { incremental, full } = await pollBoth(sim, first.snapshot);
    expect(byOperation(full.calls)).toEqual({ DescribeAutoScalingGroups: 1, ListContainerInstances: 1, DescribeContainerInstances: 1, ListServices: 1, DescribeServices: 1, ListTasks: 2, DescribeTasks: 1 });
    // The known instances and the stopped page show what changed (nothing); no group, instance or
    // service list, running task list or task describe; 2 of the 6 services (15 s of the 60 s max
    // age), the first listed.
    expect(byOperation(incremental.calls)).toEqual({ DescribeContainerInstances: 1, ListTasks: 1, DescribeServices: 1 });
    expect(incremental.snapshot.apiCalls).toBe(incremental.calls.length);
    const { snapshot } = incremental;
    expect(snapshot.groups).toBe(first.snapshot.groups);
    const before = new Map(first.snapshot.tasks.map((t) => [t.arn, t]));
    expect(snapshot.tasks.every((t) => before.get(t.arn) === t)).toBe(true);
    expect(snapshot.containerInstances.every((ci, i) => ci === first.snapshot.containerInstances[i])).toBe(true);
    expect(snapshot.services.map((s, i) => s === first.snapshot.services[i])).toEqual([false, false, true, true, true, true]);
    expect([isFullView(first.snapshot), isFullView(snapshot), isFullView(full.snapshot)]).toEqual([true, false, true]);
    // The next poll refreshes the next two, the stalest.
    await sim.clock.sleep(15_000);
    const next = await snapshotOf(sim, cluster, { previous: snapshot });
    expect(next.snapshot.services.map((s, i) => s === snapshot.services[i])).toEqual([true, true, false, false, true, true]);
  });

  it("sees a task that stopped (and its replacement), describing only what changed", async () => {
    const sim = await simulate("production");
    const first = await snapshotOf(sim, cluster);
    const [victim] = liveTasks(sim).filter((t) => t.group === "service:web");
    sim.world.stopTask(victim, "Essential container in task exited", 1);
    await sim.clock.sleep(60_000);
    const { incremental, full } = await pollBoth(sim, first.snapshot);
    expect(incremental.snapshot.tasks.map((t) => t.arn)).not.toContain(victim.arn);
    expect(incremental.snapshot.stoppedTasks.map((t) => [t.arn, t.exitCodes])).toEqual([[victim.arn, [1]]]);
    // The replacement is new; the stopped task's instance (and the replacement's) changed counts.
    expect(incremental.snapshot.tasks.length).toBe(first.snapshot.tasks.length);
    expect(byOperation(incremental.calls)).toMatchObject({ DescribeTasks: 2 });
    expect(incremental.snapshot.apiCalls).toBe(full.snapshot.apiCalls);
    // And the poll after that, nothing having changed, describes neither list's tasks again.
    await sim.clock.sleep(15_000);
    const again = await pollBoth(sim, incremental.snapshot);
    expect(byOperation(again.incremental.calls).DescribeTasks).toBeUndefined();
    expect(again.incremental.snapshot.stoppedTasks.map((t) => t.arn)).toEqual([victim.arn]);
  });

  it("after a task stops, lists again only the instances the change shows on, describes what is new there and describes its service", async () => {
    const sim = await simulate("production");
    const first = await snapshotOf(sim, cluster);
    const [victim] = liveTasks(sim).filter((t) => t.group === "service:web");
    sim.world.stopTask(victim, "Essential container in task exited", 1);
    await sim.clock.sleep(15_000);
    const { incremental } = await pollBoth(sim, first.snapshot);
    const { snapshot, calls } = incremental;
    const before = new Map(first.snapshot.tasks.map((t) => [t.arn, t]));
    const started = snapshot.tasks.filter((t) => !before.has(t.arn));
    expect(started.map((t) => t.group)).toEqual(["service:web"]);
    // The stopped task's instance and the replacement's (counts changed, or a task on it stopped).
    const touched = new Set([victim.containerInstanceArn, started[0].containerInstanceArn]);
    expect(byOperation(calls)).toMatchObject({ ListTasks: 1 + touched.size, DescribeTasks: 2 });
    expect(byOperation(calls).DescribeAutoScalingGroups).toBeUndefined();
    // Tasks elsewhere are the last poll's objects; web is described again.
    expect(snapshot.tasks.filter((t) => !touched.has(t.containerInstanceArn)).every((t) => before.get(t.arn) === t)).toBe(true);
    const web = (s: FleetSnapshot) => s.services.find((x) => x.name === "web")!;
    expect(web(snapshot)).not.toBe(web(first.snapshot));
    expect(isFullView(snapshot)).toBe(false);
  });

  it("reuses a change nothing shows (a service told to run a task there is no room for) up to the max age, never longer", async () => {
    const sim = await simulate("production");
    const maxAgeMs = 10 * 60_000;
    const poll = async (previous?: FleetSnapshot) => takeSnapshot(sim.clients, cluster, { now: sim.clock.now(), since: 0, previous, maxAgeMs });
    const first = await poll();
    // A service listed late (the max-age share describes the first listed first); no instance, task or group changes.
    const name = first.services.at(-2)!.name;
    const service = sim.world.services.get(`${cluster}/${name}`)!;
    (service as { cpu: number }).cpu = 1_000_000;
    sim.world.updateService(service, { desiredCount: service.desiredCount + 1 });
    await sim.clock.sleep(15_000);
    const stale = await poll(first);
    const of = (s: FleetSnapshot) => s.services.find((x) => x.name === name)!;
    // Reused as it was: a stale answer, and the snapshot says it is not a full view.
    expect(of(stale)).toBe(of(first));
    expect(of(stale).runningCount).toBe(of(stale).desiredCount);
    expect(isFullView(stale)).toBe(false);
    const full = await poll();
    expect(of(full)).toMatchObject({ desiredCount: service.desiredCount, runningCount: service.desiredCount - 1 });
    expect(isFullView(full)).toBe(true);
    // At the max age it is described again, whatever else the poll saw.
    await sim.clock.sleep(maxAgeMs - 15_000);
    const aged = await poll(stale);
    expect(of(aged)).toEqual(of(await poll()));
    expect(of(aged).runningCount).toBe(service.desiredCount - 1);
  });

  it("sees a container instance set DRAINING, and ACTIVE again", async () => {
    const sim = await simulate("production");
    const first = await snapshotOf(sim, cluster);
    const ci = [...sim.world.containerInstances.values()].find((c) => c.clusterName === cluster)!;
    sim.world.setContainerInstanceStatus(ci, "DRAINING");
    const draining = await pollBoth(sim, first.snapshot);
    expect(draining.incremental.snapshot.containerInstances.find((c) => c.arn === ci.arn)!.status).toBe("DRAINING");
    await sim.clock.sleep(5 * 60_000);
    sim.world.setContainerInstanceStatus(ci, "ACTIVE");
    const active = await pollBoth(sim, draining.incremental.snapshot);
    expect(active.incremental.snapshot.containerInstances.find((c) => c.arn === ci.arn)!.status).toBe("ACTIVE");
  });

  it("sees a new instance register, and an instance deregistered with its tasks gone", async () => {
    const sim = await simulate("production");
    const first = await snapshotOf(sim, cluster);
    const [group] = sim.world.groups.values();
    group.desired += 1;
    await sim.clock.sleep(5 * 60_000);
    const grown = await pollBoth(sim, first.snapshot);
    expect(grown.incremental.snapshot.containerInstances).toHaveLength(first.snapshot.containerInstances.length + 1);

    const gone = sim.world.instances.get(grown.incremental.snapshot.containerInstances[0].ec2InstanceId)!;
    const goneArn = gone.containerInstanceArn!;
    expect(grown.incremental.snapshot.tasks.some((t) => t.containerInstanceArn === goneArn)).toBe(true);
    sim.world.beginTermination(gone);
    if (gone.lifecycle === "Terminating:Wait") sim.world.completeLifecycleAction(gone, "CONTINUE");
    await sim.clock.sleep(5 * 60_000);
    const shrunk = await pollBoth(sim, grown.incremental.snapshot);
    expect(shrunk.incremental.snapshot.containerInstances.map((c) => c.arn)).not.toContain(goneArn);
    expect(shrunk.incremental.snapshot.tasks.some((t) => t.containerInstanceArn === goneArn)).toBe(false);
  });

  it("lists the running tasks again only at the task-list max age while nothing shows a change, the whole cluster at once", async () => {
    const sim = await simulate("production");
    let last = (await snapshotOf(sim, cluster)).snapshot;
    const listings: number[] = [];
    for (let i = 0; i < 4; i++) {
      await sim.clock.sleep(100_000);
      const { snapshot, calls } = await snapshotOf(sim, cluster, { previous: last });
      listings.push(byOperation(calls).ListTasks);
      last = snapshot;
    }
    // The page of stopped tasks every poll; at 300 s (DEFAULT_TASK_LIST_MAX_AGE_MS) the running ones too, one page.
    expect(listings).toEqual([1, 1, 2, 1]);
    expectMatchesWorld(last, sim.world, cluster);
  });

  it("lists the instances after all when a known one is gone, within the max age", async () => {
    const sim = await simulate("production");
    const first = await snapshotOf(sim, cluster);
    const gone = sim.world.instances.get(first.snapshot.containerInstances[0].ec2InstanceId)!;
    sim.world.beginTermination(gone);
    if (gone.lifecycle === "Terminating:Wait") sim.world.completeLifecycleAction(gone, "CONTINUE");
    await sim.clock.sleep(40_000);
    const { incremental } = await pollBoth(sim, first.snapshot);
    expect(incremental.snapshot.containerInstances.map((c) => c.ec2InstanceId)).not.toContain(gone.id);
    // The known ones described (one INACTIVE), then listed; nothing left to describe; the groups read again.
    expect(byOperation(incremental.calls)).toMatchObject({ DescribeContainerInstances: 1, ListContainerInstances: 1, DescribeAutoScalingGroups: 1 });
  });

  it("ignores a previous snapshot of another cluster", async () => {
    const sim = await simulate("production");
    const first = await snapshotOf(sim, cluster);
    const other = await snapshotOf(sim, cluster, { previous: { ...first.snapshot, clusterName: "production-other" } });
    expect(byOperation(other.calls).DescribeTasks).toBe(1);
  });
});

describe("tasksToDescribe and changedInstances", () => {
  const task = (arn: string, lastStatus: string, containerInstanceArn = "ci-1", desiredStatus = "RUNNING"): TaskSnapshot => ({
    arn,
    group: "service:web",
    containerInstanceArn,
    availabilityZone: "eu-west-1a",
    lastStatus,
    desiredStatus,
    exitCodes: [],
  });
  const known = new Map([task("running", "RUNNING"), task("pending", "PENDING"), task("other", "RUNNING", "ci-2"), task("stopped", "STOPPED", "ci-1", "STOPPED")].map((t) => [t.arn, t]));

  it("describes new and unsettled tasks at once, holds settled ones until the instances are known", () => {
    const plan = tasksToDescribe(["new", "running", "pending", "other", "stopped"], known);
    expect(plan.describe).toEqual(["new", "pending"]);
    expect(plan.waiting).toEqual(["running", "other"]);
    expect(plan.reuse.map((t) => t.arn)).toEqual(["stopped"]);
  });

  it("then describes the settled tasks on changed instances and reuses the rest", () => {
    const plan = tasksToDescribe(["running", "other"], known, new Set(["ci-2"]));
    expect(plan).toEqual({ describe: ["other"], reuse: [known.get("running")], waiting: [] });
  });

  it("finds instances whose status, task counts or agent changed, and new ones", () => {
    const ci = { arn: "ci-1", ec2InstanceId: "i-1", status: "ACTIVE", imageId: "ami-1", availabilityZone: "eu-west-1a", runningTasksCount: 3, pendingTasksCount: 0, agentConnected: true };
    const previous = [ci, { ...ci, arn: "ci-2" }, { ...ci, arn: "ci-3" }, { ...ci, arn: "ci-4" }, { ...ci, arn: "ci-gone" }];
    const current = [ci, { ...ci, arn: "ci-2", status: "DRAINING" }, { ...ci, arn: "ci-3", runningTasksCount: 2 }, { ...ci, arn: "ci-4", agentConnected: false }, { ...ci, arn: "ci-new" }];
    expect([...changedInstances(previous, current)]).toEqual(["ci-2", "ci-3", "ci-4", "ci-new"]);
  });
});

describe("takeSnapshot with tasksOn", () => {
  it("lists and describes only the tasks of the container instances it accepts, one ListTasks each; the rest as a whole snapshot has it", async () => {
    const sim = await simulate("production");
    const cluster = "production-apps";
    const whole = (await snapshotOf(sim, cluster)).snapshot;
    const [chosen] = whole.containerInstances;
    const before = sim.world.calls.length;
    const partial = await takeSnapshot(sim.clients, cluster, { now: sim.clock.now(), since: 0, tasksOn: (ci) => ci.arn === chosen.arn });
    const calls = sim.world.calls.slice(before);
    expect(partial.tasks.length).toBeGreaterThan(0);
    expect(sorted(partial.tasks, (t) => t.arn)).toEqual(sorted(whole.tasks.filter((t) => t.containerInstanceArn === chosen.arn), (t) => t.arn));
    expect(partial.containerInstances).toEqual(whole.containerInstances);
    expect(partial.services).toEqual(whole.services);
    // One running listing (of that instance) and the page of stopped tasks.
    expect(calls.filter((c) => c.operation === "ListTasks")).toHaveLength(2);
  });
});

describe("takeSnapshot with tasksOn, given the last poll", () => {
  it("lists again only the accepted instances that changed, and an instance newly accepted", async () => {
    const sim = await simulate("production");
    const cluster = "production-apps";
    const draining = (ci: { status: string }) => ci.status === "DRAINING";
    const poll = async (previous?: FleetSnapshot) => {
      const before = sim.world.calls.length;
      const snapshot = await takeSnapshot(sim.clients, cluster, { now: sim.clock.now(), since: 0, previous, tasksOn: draining });
      return { snapshot, listTasks: sim.world.calls.slice(before).filter((c) => c.operation === "ListTasks").length };
    };
    const [ci] = [...sim.world.containerInstances.values()].filter((c) => c.clusterName === cluster);
    sim.world.setContainerInstanceStatus(ci, "DRAINING");
    const first = await poll();
    expect(first.listTasks).toBe(2);
    expect(first.snapshot.tasks.length).toBeGreaterThan(0);
    await sim.clock.sleep(5 * 60_000);
    // The drained instance's tasks have moved (its counts changed): listed again, found empty.
    const moved = await poll(first.snapshot);
    expect(moved.listTasks).toBe(2);
    expect(moved.snapshot.tasks.filter((t) => t.group !== "service:log-router")).toEqual([]);
    await sim.clock.sleep(15_000);
    // Nothing changed on it since: only the page of stopped tasks is listed.
    const quiet = await poll(moved.snapshot);
    expect(quiet.listTasks).toBe(1);
    expect(quiet.snapshot.tasks).toEqual(moved.snapshot.tasks);
    const [other] = [...sim.world.containerInstances.values()].filter((c) => c.clusterName === cluster && c.status === "ACTIVE");
    sim.world.setContainerInstanceStatus(other, "DRAINING");
    const more = await poll(quiet.snapshot);
    expect(more.listTasks).toBe(2);
    expect(more.snapshot.tasks.some((t) => t.containerInstanceArn === other.arn)).toBe(true);
  });
});

describe("apiCallBound", () => {
  it("is 2 calls per 100 instances and per 100 tasks, 1 per 10 services, 1 per 100 instances not registered with ECS, and 5", () => {
    expect(apiCallBound(4, 20, 6)).toBe(2 + 2 + 1 + 5);
    expect(apiCallBound(600, 6000, 200)).toBe(12 + 120 + 20 + 5);
    expect(apiCallBound(600, 6000, 200, 150)).toBe(12 + 120 + 20 + 2 + 5);
  });
});

describe("createAwsClients", () => {
  const staging = findEnvironment(environments, "staging");
  const configOf = (client: { config: unknown }) => client.config as { region: () => Promise<string>; maxAttempts: () => Promise<number>; retryMode: string | (() => Promise<string>); profile?: string };
  const retryMode = async (client: { config: unknown }) => {
    const mode = configOf(client).retryMode;
    return typeof mode === "function" ? mode() : mode;
  };

  it("builds the four clients for the environment's region, with adaptive retry and 10 attempts, sending nothing", async () => {
    const clients = createAwsClients(staging, { env: {} });
    for (const client of [clients.ecs, clients.autoScaling, clients.ec2, clients.ssm]) {
      expect(await configOf(client).region()).toBe("eu-west-1");
      expect(await retryMode(client)).toBe("adaptive");
      expect(await configOf(client).maxAttempts()).toBe(DEFAULT_MAX_ATTEMPTS);
    }
    expect(DEFAULT_MAX_ATTEMPTS).toBe(10);
    expect(configOf(clients.ecs).profile).toBeUndefined();
    // The SDK's logger middleware (which masks every output even for its no-op logger) is gone.
    expect(clients.ecs.middlewareStack.identify().join()).toContain("retryMiddleware");
    expect(clients.ecs.middlewareStack.identify().join()).not.toContain("loggerMiddleware");
  });

  it("takes the attempts from AMIROLL_AWS_MAX_ATTEMPTS unless given, and passes a profile through", async () => {
    const fromEnv = createAwsClients(staging, { env: { AMIROLL_AWS_MAX_ATTEMPTS: "4" }, profile: "ops" });
    expect(await configOf(fromEnv.ecs).maxAttempts()).toBe(4);
    expect(configOf(fromEnv.ecs).profile).toBe("ops");
    const given = createAwsClients(staging, { env: { AMIROLL_AWS_MAX_ATTEMPTS: "4" }, maxAttempts: 6 });
    expect(await configOf(given.autoScaling).maxAttempts()).toBe(6);
    expect(maxAttemptsFrom({ env: { AMIROLL_AWS_MAX_ATTEMPTS: " 12 " } })).toBe(12);
    expect(maxAttemptsFrom({ env: { AMIROLL_AWS_MAX_ATTEMPTS: "" } })).toBe(10);
  });

  it("reads process.env by default", () => {
    const saved = process.env.AMIROLL_AWS_MAX_ATTEMPTS;
    try {
      process.env.AMIROLL_AWS_MAX_ATTEMPTS = "3";
      expect(maxAttemptsFrom()).toBe(3);
    } finally {
      if (saved === undefined) delete process.env.AMIROLL_AWS_MAX_ATTEMPTS;
      else process.env.AMIROLL_AWS_MAX_ATTEMPTS = saved;
    }
  });

  it.each(["ten", "0", "-1", "2.5", "1e1", "101"])("refuses AMIROLL_AWS_MAX_ATTEMPTS=%s in one line", (value) => {
    const build = () => createAwsClients(staging, { env: { AMIROLL_AWS_MAX_ATTEMPTS: value } });
    expect(build).toThrow(UsageError);
    expect(build).toThrow(`AMIROLL_AWS_MAX_ATTEMPTS must be a whole number from 1 to 100 (attempts per AWS call), not ${JSON.stringify(value)}`);
  });

  it("refuses a bad maxAttempts option", () => {
    expect(() => createAwsClients(staging, { maxAttempts: 0 })).toThrow(UsageError);
  });

  it("accepts the simulator's clients (they are the same SDK classes)", async () => {
    const sim = await simulate("staging");
    const clients: AwsClients = sim.clients;
    expect(clients.ecs).toBeInstanceOf(ECSClient);
  });
});
