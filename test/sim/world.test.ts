/**
 * The simulated AWS, through the real SDK clients: the scheduler, placement, lifecycle hooks
 * with the real drain-hook handler, scenarios, paginators, errors and determinism.
 */
import {
  CancelInstanceRefreshCommand,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  ResumeProcessesCommand,
  SetDesiredCapacityCommand,
  StartInstanceRefreshCommand,
  SuspendProcessesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  paginateDescribeAutoScalingGroups,
} from "@aws-sdk/client-auto-scaling";
import { DescribeImagesCommand, paginateDescribeInstances } from "@aws-sdk/client-ec2";
import {
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ListContainerInstancesCommand,
  ListTasksCommand,
  UpdateContainerInstancesStateCommand,
  UpdateServiceCommand,
  paginateListTasks,
} from "@aws-sdk/client-ecs";
import { GetParameterCommand, paginateGetParametersByPath } from "@aws-sdk/client-ssm";
import { VirtualClock } from "../../scripts/sim/clock";
import { type ScenarioName, createSimulation } from "../../scripts/sim/scenarios";
import type { World } from "../../scripts/sim/world";
import { findEnvironment } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

const environments = loadEnvironments();
const pins = readPins(REPO_PINS_PATH, environments);
const production = findEnvironment(environments, "production");
const CLUSTER = "production-apps";

const simulate = (scenario: ScenarioName = "healthy", seed = 1, drainHooks = true) =>
  createSimulation({ environment: production, pins: pins.production, scenario, seed, drainHooks });

/** Advances virtual time until `done`, failing after `limitMs`. */
async function until(world: World, done: () => boolean, limitMs = 60 * 60_000): Promise<void> {
  const deadline = world.clock.now() + limitMs;
  while (!done()) {
    if (world.clock.now() > deadline) throw new Error("the simulated world did not get there in time");
    await world.clock.sleep(5_000);
  }
}

const tasksPerZone = (world: World, service: string) => {
  const zones: Record<string, number> = {};
  for (const t of world.tasksOfService(world.services.get(`${CLUSTER}/${service}`)!)) {
    if (t.desiredStatus === "RUNNING") zones[t.az] = (zones[t.az] ?? 0) + 1;
  }
  return zones;
};

describe("VirtualClock", () => {
  it("runs events in time order and moves time only when nothing else can run", async () => {
    const clock = new VirtualClock(0);
    const seen: string[] = [];
    clock.after(3_000, () => seen.push(`c@${clock.now()}`));
    clock.after(1_000, () => seen.push(`a@${clock.now()}`));
    clock.after(1_000, () => seen.push(`b@${clock.now()}`));
    await clock.sleep(2_000);
    seen.push(`slept@${clock.now()}`);
    await clock.sleep(5_000);
    expect(seen).toEqual(["a@1000", "b@1000", "slept@2000", "c@3000"]);
    expect(clock.now()).toBe(7_000);
  });

  it("holds time still while tracked work (an SDK call mid-retry) is under way", async () => {
    const clock = new VirtualClock(0);
    let fired = false;
    clock.after(1, () => (fired = true));
    await clock.track(new Promise((resolve) => setTimeout(resolve, 20)));
    expect(fired).toBe(false);
    await clock.sleep(1);
    expect(fired).toBe(true);
  });
});

describe("VirtualClock.stop", () => {
  it("drops what is due and lets nothing run after it: a background loop on the clock ends, and time stands still", async () => {
    const clock = new VirtualClock(0);
    let turns = 0;
    // A loop that would spin for a virtual hour (as a simulated apply left in the background).
    void (async () => {
      while (clock.now() < 3_600_000) {
        turns++;
        await clock.sleep(5_000);
      }
    })();
    await clock.sleep(60_000);
    clock.stop();
    const at = clock.now();
    const seen = turns;
    clock.after(1, () => (turns += 1000));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect([clock.now(), turns, clock.pending]).toEqual([at, seen, 0]);
  });
});

describe("the simulated world", () => {
  it("starts even when an imbalanced start cannot fit every service in one zone (a small cluster)", async () => {
    const environment = findEnvironment(environments, "staging");
    const sim = await createSimulation({ environment, pins: pins.staging, scenario: "imbalanced" });
    // Every zone's agents are connected again: the services settle from here.
    expect([...sim.world.containerInstances.values()].every((ci) => ci.agentConnected)).toBe(true);
  });

  it("starts steady on an image older than the pin, with SSM already newer than the pin", async () => {
    const sim = await simulate();
    const images = sim.images.apps;
    expect(images.pinned).toBe(pins.production.apps.current.imageId);
    expect(new Set([images.running, images.pinned, images.latest]).size).toBe(3);
    const { world, clients } = sim;
    expect([...world.instances.values()].every((i) => i.imageId === images.running && i.lifecycle === "InService")).toBe(true);
    const described = await clients.ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: ["web", "api", "worker", "search", "admin"] }));
    for (const s of described.services!) {
      expect([s.serviceName, s.runningCount, s.deployments![0].rolloutState]).toEqual([s.serviceName, s.desiredCount, "COMPLETED"]);
    }
    const parameter = await clients.ssm.send(new GetParameterCommand({ Name: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended" }));
    expect(JSON.parse(parameter.Parameter!.Value!)).toMatchObject({ image_id: images.latest, image_name: expect.stringContaining("arm64") });
  });

  it("spreads each service's tasks over the zones, then over instances", async () => {
    const { world } = await simulate();
    for (const service of ["web", "api", "search"]) {
      const counts = Object.values(tasksPerZone(world, service));
      const desired = world.services.get(`${CLUSTER}/${service}`)!.desiredCount;
      expect(counts.length).toBe(Math.min(desired, production.subnets.length));
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
  });

  it("describes container instances with their AMI, zone, type and task counts, and filters them", async () => {
    const { clients, images } = await simulate();
    const listed = await clients.ecs.send(new ListContainerInstancesCommand({ cluster: CLUSTER, filter: `attribute:ecs.ami-id == ${images.apps.running}` }));
    expect(listed.containerInstanceArns).toHaveLength(4);
    const described = await clients.ecs.send(new DescribeContainerInstancesCommand({ cluster: CLUSTER, containerInstances: listed.containerInstanceArns! }));
    const ci = described.containerInstances![0];
    expect(ci.attributes!.map((a) => a.name).sort()).toEqual(["ecs.ami-id", "ecs.availability-zone", "ecs.instance-type"]);
    expect(ci).toMatchObject({ status: "ACTIVE", agentConnected: true, pendingTasksCount: 0 });
    expect(described.containerInstances!.reduce((n, c) => n + c.runningTasksCount!, 0)).toBe(4 + 6 + 3 + 2 + 1 + 4);
  });

  it("keeps services healthy while instances drain: replacements run before old tasks stop", async () => {
    const { world, clients } = await simulate();
    // A new capacity generation beside the old one, then the old instances set DRAINING.
    const old = [...world.groups.values()][0];
    world.createGroup({ ...old, name: `${CLUSTER}-new`, imageId: pins.production.apps.current.imageId, desiredCapacity: old.desired, minSize: old.min, maxSize: old.max });
    await world.waitForCapacity(`${CLUSTER}-new`, 10 * 60_000);
    await until(world, () => [...world.containerInstances.values()].filter((ci) => ci.status === "ACTIVE").length === 8);
    const oldArns = [...world.containerInstances.values()].filter((ci) => ci.imageId === old.imageId).map((ci) => ci.arn);
    await clients.ecs.send(new UpdateContainerInstancesStateCommand({ cluster: CLUSTER, containerInstances: oldArns, status: "DRAINING" }));
    await until(world, () => oldArns.every((arn) => world.tasksOnInstance(arn).every((t) => t.lastStatus === "STOPPED" || t.group === "service:log-router")));
    expect(world.downtimeViolations()).toEqual([]);
    const stopped = await clients.ecs.send(new ListTasksCommand({ cluster: CLUSTER, containerInstance: oldArns[0], desiredStatus: "STOPPED" }));
    const why = await clients.ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: stopped.taskArns!.slice(0, 100) }));
    expect(why.tasks!.every((t) => t.stoppedReason === "Service is being drained")).toBe(true);
    // The daemon stays on a draining instance; no other task does.
    expect(world.tasksOnInstance(oldArns[0]).filter((t) => t.lastStatus !== "STOPPED").map((t) => t.group)).toEqual(["service:log-router"]);
  });

  it("holds a terminating instance in Terminating:Wait until the drain hook has moved its tasks", async () => {
    const { world, clients } = await simulate();
    const victim = [...world.instances.values()][0];
    await clients.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: victim.id, ShouldDecrementDesiredCapacity: false }));
    expect(victim.lifecycle).toBe("Terminating:Wait");
    await world.clock.sleep(2_000);
    expect(world.containerInstances.get(victim.containerInstanceArn!)!.status).toBe("DRAINING"); // the real handler did it
    await until(world, () => victim.state === "terminated");
    expect(world.log.some((line) => line.includes("drained: letting the instance go"))).toBe(true);
    expect(world.downtimeViolations()).toEqual([]);
  });

  it("a standalone task holds its terminating instance until it finishes (the drain hook's rule)", async () => {
    const { world, clients } = await simulate();
    const victim = [...world.instances.values()][0];
    const ci = world.containerInstances.get(victim.containerInstanceArn!)!;
    const job = world.runStandaloneTask(CLUSTER, "nightly-report", ci, 600);
    await clients.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: victim.id, ShouldDecrementDesiredCapacity: false }));
    await world.clock.sleep(5 * 60_000);
    expect([victim.lifecycle, job.lastStatus]).toEqual(["Terminating:Wait", "RUNNING"]);
    await until(world, () => victim.state === "terminated");
    expect(job).toMatchObject({ lastStatus: "STOPPED", exitCode: 0 });
  });

  it("without a drain hook, terminating an instance takes its tasks down at once (the violation is recorded)", async () => {
    const { world, clients } = await simulate("healthy", 1, false);
    for (const victim of [...world.instances.values()].slice(0, 2)) {
      await clients.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: victim.id, ShouldDecrementDesiredCapacity: false }));
    }
    await world.clock.sleep(120_000);
    expect(world.downtimeViolations().length).toBeGreaterThan(0);
  });

  it("lets a hook's heartbeat run out to its default result when nobody completes the action", async () => {
    const { world, clients } = await simulate();
    world.lifecycleSink = undefined; // the Lambda is broken
    const victim = [...world.instances.values()][0];
    await clients.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: victim.id, ShouldDecrementDesiredCapacity: false }));
    await world.clock.sleep(290_000);
    expect(victim.lifecycle).toBe("Terminating:Wait");
    await world.clock.sleep(60_000);
    expect(victim.state).not.toBe("running");
    expect(world.log.some((line) => line.includes(`${victim.id} heartbeat timeout: CONTINUE`))).toBe(true);
  });

  it("honours suspended processes: no launch while Launch is suspended, launches once resumed", async () => {
    const { world, clients } = await simulate();
    const [group] = world.groups.values();
    await clients.autoScaling.send(new SuspendProcessesCommand({ AutoScalingGroupName: group.name, ScalingProcesses: ["Launch"] }));
    await clients.autoScaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: group.name, DesiredCapacity: 6 }));
    await world.clock.sleep(60_000);
    expect(group.instanceIds).toHaveLength(4);
    await clients.autoScaling.send(new ResumeProcessesCommand({ AutoScalingGroupName: group.name, ScalingProcesses: ["Launch"] }));
    await world.clock.sleep(30_000);
    expect(group.instanceIds).toHaveLength(6);
    await expect(clients.autoScaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: group.name, DesiredCapacity: 99 }))).rejects.toMatchObject({ name: "ValidationError" });
  });

  it("runs an instance refresh to the end, one at a time within the healthy percentage; refuses a second; cancels", async () => {
    const { world, clients } = await simulate();
    const [group] = world.groups.values();
    const before = new Set(group.instanceIds);
    const { InstanceRefreshId } = await clients.autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: group.name, Preferences: { MinHealthyPercentage: 75 } }));
    await expect(clients.autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: group.name }))).rejects.toMatchObject({ name: "InstanceRefreshInProgressFault" });
    const status = async () => (await clients.autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group.name }))).InstanceRefreshes![0];
    await until(world, () => group.refreshes[0].status === "Successful");
    expect(await status()).toMatchObject({ InstanceRefreshId, Status: "Successful", PercentageComplete: 100 });
    expect(group.instanceIds.some((id) => before.has(id))).toBe(false);
    expect(world.downtimeViolations()).toEqual([]);

    await clients.autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: group.name }));
    await clients.autoScaling.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: group.name }));
    expect((await status()).Status).toBe("Cancelled");
  });

  it("answers a lifecycle call for no waiting action as AWS does", async () => {
    const { world, clients } = await simulate();
    const [group] = world.groups.values();
    const call = clients.autoScaling.send(
      new CompleteLifecycleActionCommand({ AutoScalingGroupName: group.name, LifecycleHookName: "production-apps-drain-hook", InstanceId: group.instanceIds[0], LifecycleActionResult: "CONTINUE" }),
    );
    await expect(call).rejects.toMatchObject({ name: "ValidationError", message: expect.stringContaining("No active Lifecycle Action found") });
  });

  it("forces a new deployment: every task replaced, then steady again", async () => {
    const { world, clients } = await simulate();
    const before = new Set(world.tasksOfService(world.services.get(`${CLUSTER}/web`)!).map((t) => t.arn));
    await clients.ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: "web", forceNewDeployment: true }));
    const service = world.services.get(`${CLUSTER}/web`)!;
    await until(world, () => service.deployments.length === 1 && service.deployments[0].rolloutState === "COMPLETED");
    const live = world.tasksOfService(service).filter((t) => t.desiredStatus === "RUNNING");
    expect(live).toHaveLength(4);
    expect(live.some((t) => before.has(t.arn))).toBe(false);
    expect(world.downtimeViolations()).toEqual([]);
  });

  it("UpdateService takes a deploymentConfiguration: refused out of bounds, reported by DescribeServices, and on its own starts no deployment", async () => {
    const { world, clients } = await simulate();
    const service = world.services.get(`${CLUSTER}/web`)!;
    const tasks = world.tasksOfService(service).map((t) => t.arn);
    const update = (deploymentConfiguration: { minimumHealthyPercent?: number; maximumPercent?: number }) =>
      clients.ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: "web", deploymentConfiguration }));
    for (const bad of [{ maximumPercent: 99 }, { minimumHealthyPercent: 101 }, { minimumHealthyPercent: -1 }, { maximumPercent: 150.5 }]) {
      await expect(update(bad)).rejects.toMatchObject({ name: "InvalidParameterException" });
    }
    expect(service).toMatchObject({ minimumHealthyPercent: 100, maximumPercent: 200 });

    const out = await update({ maximumPercent: 125 });
    expect(out.service?.deploymentConfiguration).toMatchObject({ minimumHealthyPercent: 100, maximumPercent: 125 });
    const described = await clients.ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: ["web"] }));
    expect(described.services?.[0].deploymentConfiguration).toMatchObject({ minimumHealthyPercent: 100, maximumPercent: 125 });
    await world.clock.sleep(60_000);
    expect(service.deployments).toMatchObject([{ status: "PRIMARY", rolloutState: "COMPLETED" }]);
    expect(world.tasksOfService(service).map((t) => t.arn)).toEqual(tasks);
  });

  it("a forced deployment keeps within maximumPercent: 125 % of 4 replaces one task at a time, 200 % all four at once", async () => {
    const { world, clients } = await simulate();
    const service = world.services.get(`${CLUSTER}/web`)!;
    let most = 0;
    const sample = () => {
      most = Math.max(most, world.tasksOfService(service).filter((t) => t.desiredStatus === "RUNNING").length);
      world.clock.after(1_000, sample);
    };
    sample();
    const deploy = async (deploymentConfiguration?: { maximumPercent: number }) => {
      most = 0;
      const before = new Set(world.tasksOfService(service).map((t) => t.arn));
      await clients.ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: "web", forceNewDeployment: true, deploymentConfiguration }));
      await until(world, () => service.deployments.length === 1 && service.deployments[0].rolloutState === "COMPLETED");
      expect(world.tasksOfService(service).filter((t) => t.desiredStatus === "RUNNING" && before.has(t.arn))).toEqual([]);
      return most;
    };
    expect(await deploy({ maximumPercent: 125 })).toBe(5);
    expect(await deploy({ maximumPercent: 200 })).toBe(8);
    expect(world.downtimeViolations()).toEqual([]);
  });

  it("a forced deployment of a service bunched in one zone: at 200 % every replacement lands beside the old tasks; one beyond desired at a time spreads it", async () => {
    const deploy = async (maximumPercent: number) => {
      const { world, clients } = await simulate("imbalanced");
      const service = world.services.get(`${CLUSTER}/api`)!;
      await clients.ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: "api", forceNewDeployment: true, deploymentConfiguration: { maximumPercent } }));
      await until(world, () => service.deployments.length === 1 && service.deployments[0].rolloutState === "COMPLETED");
      expect(world.downtimeViolations()).toEqual([]);
      const live = world.tasksOfService(service).filter((t) => t.desiredStatus === "RUNNING");
      return { zones: production.subnets.map((s) => tasksPerZone(world, "api")[s.availabilityZone] ?? 0), instances: new Set(live.map((t) => t.containerInstanceArn)).size };
    };
    expect(await deploy(200)).toEqual({ zones: [0, 3, 3], instances: 2 });
    expect(await deploy(117)).toEqual({ zones: [2, 2, 2], instances: 4 });
  });

  it("when ECS's documented placement keys tie, a replacement goes to the instance without one of its deployment's tasks", async () => {
    // Two tasks in the first zone, one on each of its instances; only that zone takes new tasks.
    const { world, clients } = await createSimulation({ environment: production, pins: pins.production, scenario: "imbalanced", services: [{ name: "solo", desiredCount: 2 }] });
    const [first] = production.subnets.map((s) => s.availabilityZone);
    for (const ci of world.containerInstances.values()) if (ci.az !== first) ci.agentConnected = false;
    const service = world.services.get(`${CLUSTER}/solo`)!;
    const [x, y] = world.tasksOfService(service).map((t) => world.containerInstances.get(t.containerInstanceArn)!);
    expect(x.arn).not.toBe(y.arn);
    // The instance of the second task is the busier one: the first replacement goes beside the first task.
    world.runStandaloneTask(CLUSTER, "job", y, 24 * 3600);
    await clients.ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: "solo", forceNewDeployment: true, deploymentConfiguration: { maximumPercent: 150 } }));
    await until(world, () => service.deployments.length === 1 && service.deployments[0].rolloutState === "COMPLETED");
    // The second replacement ties with the first on zone and on the service's tasks per instance
    // (the old task still counts); it goes where the new deployment has none, not beside the first.
    const live = world.tasksOfService(service).filter((t) => t.desiredStatus === "RUNNING");
    expect(live.map((t) => t.containerInstanceArn).sort()).toEqual([x.arn, y.arn].sort());
    expect(world.downtimeViolations()).toEqual([]);
  });

  it("stops the tasks of a service from the zone holding the most of them, as ECS does (scale-in)", async () => {
    const { world, clients } = await simulate("imbalanced");
    const service = world.services.get(`${CLUSTER}/web`)!;
    const scale = async (desiredCount: number) => {
      await clients.ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: "web", desiredCount }));
      await until(world, () => service.deployments[0].rolloutState === "COMPLETED" && world.tasksOfService(service).every((t) => t.desiredStatus === "STOPPED" || t.healthy));
    };
    const [a, b, c] = production.subnets.map((s) => s.availabilityZone);
    await scale(7);
    // The first zone is full: the new tasks go to the other two.
    expect(tasksPerZone(world, "web")[a]).toBe(4);
    await scale(3);
    expect(tasksPerZone(world, "web")).toEqual({ [a]: 1, [b]: 1, [c]: 1 });
    expect(world.downtimeViolations()).toEqual([]);
  });

  it("runs the SDK's own paginators across pages", async () => {
    const { clients } = await simulate();
    let tasks = 0;
    let pages = 0;
    for await (const page of paginateListTasks({ client: clients.ecs, pageSize: 3 }, { cluster: CLUSTER })) {
      tasks += page.taskArns!.length;
      pages++;
    }
    expect([tasks, pages]).toEqual([20, 7]);
    let instances = 0;
    for await (const page of paginateDescribeInstances({ client: clients.ec2, pageSize: 1 }, {})) instances += page.Reservations!.length;
    expect(instances).toBe(4);
    const names: string[] = [];
    for await (const page of paginateGetParametersByPath({ client: clients.ssm, pageSize: 2 }, { Path: "/aws/service/ecs", Recursive: true })) names.push(...page.Parameters!.map((p) => p.Name!));
    expect(names).toHaveLength(4);
    let groups = 0;
    for await (const page of paginateDescribeAutoScalingGroups({ client: clients.autoScaling, pageSize: 1 }, {})) groups += page.AutoScalingGroups!.length;
    expect(groups).toBe(1);
  });

  it("answers with AWS's errors for what does not exist", async () => {
    const { clients } = await simulate();
    await expect(clients.ec2.send(new DescribeImagesCommand({ ImageIds: ["ami-0ffffffffffffffff"] }))).rejects.toMatchObject({ name: "InvalidAMIID.NotFound" });
    await expect(clients.ssm.send(new GetParameterCommand({ Name: "/nope" }))).rejects.toMatchObject({ name: "ParameterNotFound" });
    await expect(clients.ecs.send(new ListTasksCommand({ cluster: "nope" }))).rejects.toMatchObject({ name: "ClusterNotFoundException" });
    await expect(clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: "bogus", Values: ["x"] }] }))).rejects.toMatchObject({ name: "ValidationError" });
  });

  it("records every API call with its service, operation and virtual time", async () => {
    const { world, clients } = await simulate();
    const before = world.calls.length;
    await clients.ecs.send(new ListTasksCommand({ cluster: CLUSTER }));
    expect(world.calls.slice(before)).toEqual([{ service: "ecs", operation: "ListTasks", at: world.clock.now(), throttled: false }]);
  });

  it("is deterministic: the same seed gives the same event log, another seed another", async () => {
    const run = async (seed: number) => {
      const { world, clients } = await simulate("healthy", seed);
      const [victim] = world.instances.values();
      await clients.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: victim.id, ShouldDecrementDesiredCapacity: false }));
      await world.clock.sleep(10 * 60_000);
      return world.log;
    };
    const first = await run(5);
    expect(await run(5)).toEqual(first);
    expect(await run(6)).not.toEqual(first);
  });
});

describe("scenarios", () => {
  it("throttling: a share of calls is throttled and the SDK retries them", async () => {
    const { world, clients } = await simulate("throttling");
    for (let i = 0; i < 20; i++) await clients.ecs.send(new ListTasksCommand({ cluster: CLUSTER }));
    const calls = world.calls.filter((c) => c.operation === "ListTasks");
    expect(calls.filter((c) => !c.throttled)).toHaveLength(20);
    expect(calls.some((c) => c.throttled)).toBe(true);
  });

  it("imbalanced: services start bunched in the first zone", async () => {
    const { world } = await simulate("imbalanced");
    expect(Object.keys(tasksPerZone(world, "api"))).toEqual([production.subnets[0].availabilityZone]);
  });

  it("az-outage: new instances only launch in the zones with capacity", async () => {
    const { world } = await simulate("az-outage");
    const old = [...world.groups.values()][0];
    world.createGroup({ ...old, name: `${CLUSTER}-new`, imageId: pins.production.apps.current.imageId });
    await world.clock.sleep(5 * 60_000);
    const zones = new Set([...world.instances.values()].filter((i) => i.groupName === `${CLUSTER}-new`).map((i) => i.az));
    expect(zones.has(production.subnets[0].availabilityZone)).toBe(false);
    expect(zones.size).toBe(2);
  });

  it("boot-failure: some new instances never register with ECS", async () => {
    const { world } = await simulate("boot-failure", 3);
    const old = [...world.groups.values()][0];
    world.createGroup({ ...old, name: `${CLUSTER}-new`, imageId: pins.production.apps.current.imageId, desiredCapacity: 20, maxSize: 20 });
    await world.clock.sleep(10 * 60_000);
    const fresh = [...world.instances.values()].filter((i) => i.groupName === `${CLUSTER}-new` && i.lifecycle === "InService");
    expect(fresh).toHaveLength(20);
    const unregistered = fresh.filter((i) => !i.containerInstanceArn).length;
    expect(unregistered).toBeGreaterThan(0);
    expect(unregistered).toBeLessThan(20);
  });

  it("an instance that never registered, terminated without decrementing: the drain hook lets it go and the group launches another; decrementing lowers the desired capacity instead", async () => {
    const { world, clients } = await simulate();
    const old = [...world.groups.values()][0];
    world.behaviour = { ...world.behaviour, bootFailureRate: 1 };
    const fresh = world.createGroup({ ...old, name: `${CLUSTER}-new`, imageId: pins.production.apps.current.imageId, desiredCapacity: 2, minSize: 1, maxSize: 4 });
    await world.clock.sleep(5 * 60_000);
    const [first, second] = fresh.instanceIds.map((id) => world.instances.get(id)!);
    expect([first.lifecycle, first.containerInstanceArn, second.lifecycle, second.containerInstanceArn]).toEqual(["InService", undefined, "InService", undefined]);
    world.behaviour = { ...world.behaviour, bootFailureRate: 0 };

    await clients.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: first.id, ShouldDecrementDesiredCapacity: false }));
    // The drain hook lets it go at once (nothing to drain), not at its heartbeat timeout.
    await until(world, () => first.state === "terminated", 2 * 60_000);
    expect(world.log.filter((line) => line.includes(first.id))).not.toContainEqual(expect.stringContaining("heartbeat timeout"));
    expect(fresh.desired).toBe(2);
    await until(world, () => world.activeInstances(fresh).filter((i) => i.containerInstanceArn).length === 1 && world.activeInstances(fresh).length === 2);
    const replacement = world.activeInstances(fresh).find((i) => i.id !== second.id)!;
    expect(replacement.id).not.toBe(first.id);

    await clients.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: second.id, ShouldDecrementDesiredCapacity: true }));
    await until(world, () => second.state === "terminated");
    await world.clock.sleep(5 * 60_000);
    expect([fresh.desired, world.activeInstances(fresh).map((i) => i.id)]).toEqual([1, [replacement.id]]);
  });

  it("slow-drain: tasks told to stop stay STOPPING for minutes", async () => {
    const { world, clients } = await simulate("slow-drain");
    const service = world.services.get(`${CLUSTER}/admin`)!;
    const [task] = world.tasksOfService(service);
    await clients.ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: "admin", desiredCount: 0 }));
    await world.clock.sleep(120_000);
    expect(task.lastStatus).toBe("STOPPING");
    await world.clock.sleep(300_000);
    expect(task.lastStatus).toBe("STOPPED");
  });

  it("broken-ami: tasks on the pinned image crash-loop with an exit code", async () => {
    const { world, clients, images } = await simulate("broken-ami");
    const old = [...world.groups.values()][0];
    world.createGroup({ ...old, name: `${CLUSTER}-new`, imageId: images.apps.pinned });
    await world.waitForCapacity(`${CLUSTER}-new`, 10 * 60_000);
    const oldArns = [...world.containerInstances.values()].filter((ci) => ci.imageId === old.imageId).map((ci) => ci.arn);
    await clients.ecs.send(new UpdateContainerInstancesStateCommand({ cluster: CLUSTER, containerInstances: oldArns, status: "DRAINING" }));
    await world.clock.sleep(10 * 60_000);
    const crashed = [...world.tasks.values()].filter((t) => t.stoppedReason === "Essential container in task exited" && t.exitCode === 1);
    expect(crashed.length).toBeGreaterThan(5);
    const newInstances = new Set([...world.containerInstances.values()].filter((ci) => ci.imageId === images.apps.pinned).map((ci) => ci.arn));
    expect(crashed.every((t) => newInstances.has(t.containerInstanceArn))).toBe(true);
    // minimumHealthyPercent 100: the old tasks are never stopped for replacements that never get healthy.
    expect(world.downtimeViolations()).toEqual([]);
  });
});
