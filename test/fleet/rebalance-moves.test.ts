/**
 * Rebalance's moves on 2-zone (staging) and 3-zone (production) clusters of the simulated AWS,
 * every spread service of 1 to 6 tasks bunched in the first zone ("imbalanced" scenario):
 * stopped one at a time where the minimum healthy count leaves room (50 %), desired count one up
 * and back where it does not (100 %), with a zone-spread tie falling either way; a binpack service
 * reported, never moved; too little capacity where tasks are missing said in words; never a
 * zero-downtime violation. Then the pure parts (which way a move goes, why none helps), and ECS's
 * own availabilityZoneRebalancing read and turned on (spread services only).
 */
import { type BalanceReport, serviceBalance } from "../../scripts/fleet/balance";
import { enableAzRebalancing, readAzRebalancing } from "../../scripts/fleet/az-rebalancing";
import { rebalance } from "../../scripts/fleet/rebalance";
import { MIN_PROOF_MS, moveImproves, noRoomReason, stopAllowed } from "../../scripts/fleet/rebalance-moves";
import type { FleetSnapshot, ServiceSnapshot, TaskSnapshot } from "../../scripts/fleet/snapshot";
import { createSimulation } from "../../scripts/sim/scenarios";
import type { ServiceSpec } from "../../scripts/sim/world";
import { findEnvironment } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { UpdateServiceCommand } from "@aws-sdk/client-ecs";
import { worldSnapshot } from "../support/world-snapshot";
import { REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

const environments = loadEnvironments();
const pins = readPins(REPO_PINS_PATH, environments);
const ENVS = { "2-zone": findEnvironment(environments, "staging"), "3-zone": findEnvironment(environments, "production") } as const;

/** s1..s6: 1 to 6 tasks, small enough that all of them fit in the first zone; and a binpacked one. */
const services = (minimumHealthyPercent: number): ServiceSpec[] => [
  ...[1, 2, 3, 4, 5, 6].map((n): ServiceSpec => ({ name: `s${n}`, desiredCount: n, cpu: 64, memory: 128, minimumHealthyPercent })),
  { name: "packed", desiredCount: 3, placement: "binpack", cpu: 64, memory: 128 },
];

async function simulate(zones: keyof typeof ENVS, specs: readonly ServiceSpec[], ties?: "last") {
  const environment = ENVS[zones];
  const sim = await createSimulation({ environment, pins: pins[environment.name], scenario: "imbalanced", services: specs });
  if (ties) sim.world.behaviour = { ...sim.world.behaviour, zoneTies: ties };
  const cluster = environment.clusters[0].ecsClusterName;
  const take = async () => worldSnapshot(sim.world, cluster);
  return { ...sim, cluster, take, zoneNames: environment.subnets.map((s) => s.availabilityZone) };
}

const counts = (report: BalanceReport, name: string) => report.services.find((s) => s.service === name)!.perZone.map((z) => z.tasks);
const calls = (world: { calls: readonly { operation: string }[] }, operation: string) => world.calls.filter((c) => c.operation === operation).length;

describe("rebalance moves every spread service of 1-6 tasks out of one zone, one task at a time", () => {
  /** Per cluster shape: where each service ends with the default ties, to show the other direction lands elsewhere. */
  const landed = new Map<string, string>();

  it.each([
    ["2-zone", 50, undefined],
    ["2-zone", 50, "last"],
    ["2-zone", 100, undefined],
    ["2-zone", 100, "last"],
    ["3-zone", 50, undefined],
    ["3-zone", 50, "last"],
    ["3-zone", 100, undefined],
    ["3-zone", 100, "last"],
  ] as const)("%s cluster, minimumHealthyPercent %i, zone ties %s: balanced, the surplus only, no downtime", async (zones, minimumHealthyPercent, ties) => {
    const { world, clients, clock, cluster, take, zoneNames } = await simulate(zones, services(minimumHealthyPercent), ties);
    const before = serviceBalance(await take());
    expect(before.zones).toEqual(zoneNames);
    // Bunched: every task in the first zone; one task is balanced anywhere, binpack is not judged.
    for (let n = 1; n <= 6; n++) expect(counts(before, `s${n}`)).toEqual([n, ...zoneNames.slice(1).map(() => 0)]);
    expect(before.imbalanced).toEqual(["s2", "s3", "s4", "s5", "s6"]);
    const packedTasks = world.tasksOfService(world.services.get(`${cluster}/packed`)!).filter((t) => t.desiredStatus === "RUNNING").map((t) => t.arn);

    // The binpacked one is passed too: it is reported, never moved.
    const result = await rebalance(clients, clock, { clusterName: cluster, services: [...before.imbalanced, "packed"], take });

    expect(result.ok).toBe(true);
    expect(result.after!.imbalanced).toEqual([]);
    expect(result.services.map((s) => [s.service, s.outcome])).toEqual([...before.imbalanced.map((n) => [n, "balanced"]), ["packed", "not-moved"]]);
    const z = zoneNames.length;
    for (let n = 2; n <= 6; n++) {
      const s = result.services.find((x) => x.service === `s${n}`)!;
      const after = s.after!.perZone.map((p) => p.tasks);
      expect(Math.max(...after) - Math.min(...after)).toBeLessThanOrEqual(1);
      expect(after.reduce((a, b) => a + b, 0)).toBe(n);
      // Only the surplus of the first zone moved, one task per move.
      expect(s.moves).toBe(n - Math.ceil(n / z));
      // 50 %: each move stops a task (room above the floor); 100 %: none does (desired one up, then back).
      expect(s.stops).toBe(minimumHealthyPercent === 50 ? s.moves : 0);
      expect(world.services.get(`${cluster}/s${n}`)!.desiredCount).toBe(n);
      landed.set(`${zones} ${minimumHealthyPercent} ${ties ?? "default"} s${n}`, after.join("/"));
    }
    const moved = result.services.reduce((sum, s) => sum + (s.moves ?? 0), 0);
    expect(calls(world, "StopTask")).toBe(minimumHealthyPercent === 50 ? moved : 0);
    // The binpacked service: no task of it stopped, started or moved.
    const packedNow = world.tasksOfService(world.services.get(`${cluster}/packed`)!).filter((t) => t.desiredStatus === "RUNNING").map((t) => t.arn);
    expect(packedNow).toEqual(packedTasks);
    expect(world.downtimeViolations()).toEqual([]);
    clock.stop();
  });

  it("the tie direction changed where tasks landed on the 3-zone cluster (both directions were exercised)", () => {
    const differs = [50, 100].some((p) => [2, 3, 4, 5].some((n) => landed.get(`3-zone ${p} default s${n}`) !== landed.get(`3-zone ${p} last s${n}`)));
    expect(landed.size).toBe(40);
    expect(differs).toBe(true);
  });
});

describe("a stop's replacement is waited for", () => {
  it("even where the service's counts run ahead of its task list (running = desired while the replacement is not listed yet)", async () => {
    const { world, clients, clock, cluster, take } = await simulate("2-zone", [{ name: "web", desiredCount: 4, cpu: 64, memory: 128, minimumHealthyPercent: 50 }]);
    // The service says it runs its count; the task list shows a task only once it runs.
    const lagging = async () => {
      const snapshot = await take();
      return {
        ...snapshot,
        services: snapshot.services.map((s) => ({ ...s, runningCount: s.desiredCount, pendingCount: 0 })),
        tasks: snapshot.tasks.filter((t) => t.lastStatus === "RUNNING"),
      };
    };
    const result = await rebalance(clients, clock, { clusterName: cluster, services: ["web"], take: lagging });
    expect(result.services[0]).toMatchObject({ outcome: "balanced", moves: 2, stops: 2 });
    expect(result.services[0].after!.perZone.map((z) => z.tasks)).toEqual([2, 2]);
    expect(world.downtimeViolations()).toEqual([]);
    clock.stop();
  });
});

describe("too little capacity where a service lacks tasks", () => {
  it.each([50, 100])("minimumHealthyPercent %i: the second zone full, the service stays as it was, says why, and no task is lost", async (minimumHealthyPercent) => {
    const { world, clients, clock, cluster, take, zoneNames } = await simulate("2-zone", [{ name: "web", desiredCount: 4, cpu: 256, memory: 512, minimumHealthyPercent }]);
    for (const ci of world.containerInstances.values()) if (ci.az !== zoneNames[0]) for (let i = 0; i < 8; i++) world.runStandaloneTask(cluster, "hog", ci, 24 * 3600);
    const result = await rebalance(clients, clock, { clusterName: cluster, services: ["web"], take });
    const [web] = result.services;
    expect(web).toMatchObject({ outcome: "still-imbalanced", moves: 0, why: `not enough capacity in ${zoneNames[1]}: no instance there has room for another of its tasks` });
    expect(web.after!.perZone.map((z) => z.tasks)).toEqual([4, 0]);
    expect(result.ok).toBe(false);
    // One try (a stop, or one up and back), then no more.
    expect(calls(world, "StopTask") + calls(world, "UpdateService") / 2).toBe(1);
    expect(world.services.get(`${cluster}/web`)!.desiredCount).toBe(4);
    expect(world.downtimeViolations()).toEqual([]);
    clock.stop();
  });

  it("room for one task in the second zone: one move, then it stops and says why", async () => {
    const { world, clients, clock, cluster, take, zoneNames } = await simulate("2-zone", [{ name: "web", desiredCount: 4, cpu: 256, memory: 512, minimumHealthyPercent: 50 }]);
    for (const ci of world.containerInstances.values()) if (ci.az !== zoneNames[0]) for (let i = 0; i < 7; i++) world.runStandaloneTask(cluster, "hog", ci, 24 * 3600);
    const result = await rebalance(clients, clock, { clusterName: cluster, services: ["web"], take });
    const [web] = result.services;
    // Two stops: the one that moved a task, and the one whose replacement came back to the first zone.
    expect(web).toMatchObject({ outcome: "still-imbalanced", moves: 1, stops: 2, why: expect.stringContaining(`not enough capacity in ${zoneNames[1]}`) });
    expect(web.after!.perZone.map((z) => z.tasks)).toEqual([3, 1]);
    expect(calls(world, "StopTask")).toBe(2);
    expect(world.downtimeViolations()).toEqual([]);
    clock.stop();
  });
});

describe("which way a move goes, and why none helps", () => {
  const NOW = 10 * 60_000;
  const task = (n: number, startedAt: number | undefined, lastStatus = "RUNNING"): TaskSnapshot => ({
    arn: `arn:task/${n}`,
    group: "service:web",
    containerInstanceArn: `arn:ci/${n % 2}`,
    availabilityZone: n % 2 ? "eu-west-1b" : "eu-west-1a",
    lastStatus,
    desiredStatus: "RUNNING",
    startedAt,
    exitCodes: [],
  });
  const service = (desiredCount: number, runningCount = desiredCount): ServiceSnapshot => ({
    arn: "arn:service/web",
    name: "web",
    desiredCount,
    runningCount,
    pendingCount: 0,
    schedulingStrategy: "REPLICA",
    deployments: [{ id: "d", status: "PRIMARY", rolloutState: "COMPLETED", desiredCount, runningCount, failedTasks: 0 }],
    events: [],
    tags: {},
  });
  const snapshot = (tasks: TaskSnapshot[]): FleetSnapshot => ({ at: NOW, clusterName: "c", groups: [], containerInstances: [], services: [], tasks, recentlyStopped: [] }) as unknown as FleetSnapshot;
  const old = NOW - MIN_PROOF_MS;

  it("stops a task only with room above the floor, once every task has run the proof time", () => {
    const settings = (minimumHealthyPercent?: number) => ({ minimumHealthyPercent, proofMs: MIN_PROOF_MS, constraints: [] });
    const proven = snapshot([task(1, old), task(2, old), task(3, old), task(4, old)]);
    expect(stopAllowed(proven, service(4), settings(50), NOW)).toBe("stop");
    expect(stopAllowed(proven, service(4), settings(75), NOW)).toBe("stop");
    // 100 %: the floor is the desired count; unknown: never stopped.
    expect(stopAllowed(proven, service(4), settings(100), NOW)).toBe("scale");
    expect(stopAllowed(proven, service(4), settings(undefined), NOW)).toBe("scale");
    // Two tasks at 51 %: the floor is 2 (rounded up).
    expect(stopAllowed(snapshot([task(1, old), task(2, old)]), service(2), settings(51), NOW)).toBe("scale");
    expect(stopAllowed(snapshot([task(1, old), task(2, old)]), service(2), settings(50), NOW)).toBe("stop");
    // One task: a stop would leave none.
    expect(stopAllowed(snapshot([task(1, old)]), service(1), settings(0), NOW)).toBe("scale");
    // A replacement running for less than the proof time, or one still pending: wait.
    const fresh = snapshot([task(1, old), task(2, old), task(3, NOW - 1000), task(4, old)]);
    expect(stopAllowed(fresh, service(4), settings(75), NOW)).toBe("wait");
    expect(stopAllowed(fresh, service(4), settings(50), NOW)).toBe("stop");
    expect(stopAllowed(snapshot([task(1, old), task(2, old), task(3, old), task(4, undefined, "PENDING")]), service(4, 3), settings(50), NOW)).toBe("wait");
  });

  it("a move counts when it evens the zones out, even where max - min does not drop", () => {
    const balance = (perZone: number[]) => ({ service: "web", tasks: perZone.reduce((a, b) => a + b, 0), perZone: perZone.map((tasks, i) => ({ availabilityZone: `z${i}`, tasks })) }) as never;
    expect(moveImproves(balance([2, 2, 0, 0]), balance([1, 2, 1, 0]))).toBe(true);
    expect(moveImproves(balance([4, 0]), balance([3, 1]))).toBe(true);
    expect(moveImproves(balance([4, 0]), balance([4, 0]))).toBe(false);
    // The task that moved went to a zone that was no emptier: nothing gained.
    expect(moveImproves(balance([3, 2, 0]), balance([2, 3, 0]))).toBe(false);
    // A task lost on the way is no improvement.
    expect(moveImproves(balance([4, 0]), balance([3, 0]))).toBe(false);
  });

  it("names the zones it lacks tasks in, and its placement constraints when it has any", () => {
    const balance = { service: "web", tasks: 4, perZone: [{ availabilityZone: "a", tasks: 4 }, { availabilityZone: "b", tasks: 0 }, { availabilityZone: "c", tasks: 0 }] } as never;
    expect(noRoomReason(balance, { proofMs: 0, constraints: [] })).toBe("not enough capacity in b, c: no instance there has room for another of its tasks");
    expect(noRoomReason(balance, { proofMs: 0, constraints: ["memberOf attribute:ecs.instance-type =~ m7g.*"] })).toBe(
      "its placement constraints (memberOf attribute:ecs.instance-type =~ m7g.*) keep its tasks out of b, c, or not enough capacity in b, c: no instance there has room for another of its tasks",
    );
  });
});

describe("ECS's own availabilityZoneRebalancing", () => {
  it("is read for every replica service, turned on for the spread ones only (never binpack); a dry run changes nothing", async () => {
    const { world, clients, clock, cluster, take } = await simulate("2-zone", services(100).filter((s) => s.name === "s2" || s.name === "packed"));
    const report = serviceBalance(await take());
    const read = await readAzRebalancing(clients.ecs, cluster, report);
    expect(read).toEqual([
      { service: "packed", setting: "DISABLED", spread: false },
      { service: "s2", setting: "DISABLED", spread: true },
    ]);
    const dry = await enableAzRebalancing(clients.ecs, cluster, read, { dryRun: true });
    expect(dry.map((s) => [s.service, s.setting, s.enabled])).toEqual([["packed", "DISABLED", undefined], ["s2", "DISABLED", "would"]]);
    expect(calls(world, "UpdateService")).toBe(0);

    const enabled = await enableAzRebalancing(clients.ecs, cluster, read);
    expect(enabled.map((s) => [s.service, s.setting, s.enabled])).toEqual([["packed", "DISABLED", undefined], ["s2", "ENABLED", "now"]]);
    expect(calls(world, "UpdateService")).toBe(1);
    expect((await readAzRebalancing(clients.ecs, cluster, report)).map((s) => s.setting)).toEqual(["DISABLED", "ENABLED"]);
    // Starts no deployment.
    expect(world.services.get(`${cluster}/s2`)!.deployments).toHaveLength(1);
    // ECS refuses it for a binpack service; so does the sim.
    await expect(clients.ecs.send(new UpdateServiceCommand({ cluster, service: "packed", availabilityZoneRebalancing: "ENABLED" }))).rejects.toThrow(/binpack/);
    clock.stop();
  });
});
