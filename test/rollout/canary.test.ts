/**
 * The replace strategy's canary, judged on single fleet snapshots: what to drain, when to wait,
 * when it has crashed, and when it carries tasks steadily.
 */
import type { ContainerInstanceSnapshot, FleetSnapshot, ServiceSnapshot, TaskSnapshot } from "../../scripts/fleet/snapshot";
import { canaryTasksOn, drainedSince, judgeCanary, tasksLeftOnDrained } from "../../scripts/rollout/canary";

const OLD = "ami-0000000000000aaaa";
const NEW = "ami-0000000000000bbbb";
const START = Date.parse("2026-11-22T09:00:00Z");

const arn = (id: string) => `arn:aws:ecs:eu-west-1:123456789012:container-instance/${id}`;
function ci(id: string, imageId: string, az: string, status = "ACTIVE"): ContainerInstanceSnapshot {
  return { arn: arn(id), ec2InstanceId: id, status, imageId, availabilityZone: az, runningTasksCount: 0, pendingTasksCount: 0, agentConnected: true };
}
function task(n: number, group: string, instance: string, extra: Partial<TaskSnapshot> = {}): TaskSnapshot {
  return { arn: `task/${n}`, group, containerInstanceArn: arn(instance), availabilityZone: "eu-west-1a", lastStatus: "RUNNING", desiredStatus: "RUNNING", exitCodes: [], ...extra };
}
function service(name: string, steady = true, daemon = false): ServiceSnapshot {
  return {
    arn: `service/${name}`,
    name,
    desiredCount: daemon ? 0 : 2,
    runningCount: daemon ? 0 : steady ? 2 : 1,
    pendingCount: 0,
    schedulingStrategy: daemon ? "DAEMON" : "REPLICA",
    deployments: [{ id: "d", status: "PRIMARY", rolloutState: "COMPLETED", desiredCount: 2, runningCount: 2, failedTasks: 0 }],
    events: [],
    tags: {},
  };
}
function snapshot(parts: Partial<FleetSnapshot>): FleetSnapshot {
  return { at: START + 60_000, clusterName: "apps", groups: [], containerInstances: [], services: [], tasks: [], stoppedTasks: [], apiCalls: 0, ...parts };
}

const old1 = ci("i-old1", OLD, "eu-west-1a");
const old2 = ci("i-old2", OLD, "eu-west-1b");
const canary = ci("i-canary", NEW, "eu-west-1b");

describe("judgeCanary", () => {
  it("waits for the canary instance to register", () => {
    expect(judgeCanary(snapshot({ containerInstances: [old1, old2], services: [service("web")] }), { imageId: NEW, startedAt: START })).toEqual({ kind: "booting" });
  });

  it("picks the busier of the canary zone's old instances by their own task counts (the poll lists no task of theirs)", () => {
    const quiet = { ...ci("i-quiet", OLD, "eu-west-1b"), runningTasksCount: 2 };
    const busy = { ...ci("i-busy", OLD, "eu-west-1b"), runningTasksCount: 4, pendingTasksCount: 1 };
    const fleet = snapshot({ containerInstances: [old1, quiet, busy, canary], services: [service("web")], tasks: [] });
    expect(judgeCanary(fleet, { imageId: NEW, startedAt: START })).toEqual({ kind: "drain", containerInstanceArn: arn("i-busy") });
    // What the canary's poll lists tasks of: the canary's instances and the DRAINING ones.
    const on = canaryTasksOn(NEW);
    expect([old1, quiet, canary, ci("i-draining", OLD, "eu-west-1a", "DRAINING")].map((c) => on(c))).toEqual([false, false, true, true]);
  });

  it("drains one old instance in the canary's zone first (the busier of a zone's instances), not the others", () => {
    const fleet = snapshot({
      containerInstances: [old1, old2, canary],
      services: [service("web")],
      tasks: [task(1, "service:web", "i-old1"), task(2, "service:web", "i-old1"), task(3, "service:web", "i-old2")],
    });
    expect(judgeCanary(fleet, { imageId: NEW, startedAt: START })).toEqual({ kind: "drain", containerInstanceArn: arn("i-old2") });
  });

  it("waits while tasks are still on the drained instance", () => {
    const fleet = snapshot({
      containerInstances: [old1, { ...old2, status: "DRAINING" }, canary],
      services: [service("web", false)],
      tasks: [task(1, "service:web", "i-old1"), task(2, "service:web", "i-old2"), task(3, "service:web", "i-canary", { lastStatus: "PENDING" })],
    });
    expect(judgeCanary(fleet, { imageId: NEW, startedAt: START })).toEqual({ kind: "waiting", why: "1 task(s) leaving the drained instance(s)" });
  });

  it("is steady once the drained instance is empty, a service task runs on the canary and every service is steady (daemons aside)", () => {
    const fleet = snapshot({
      containerInstances: [old1, { ...old2, status: "DRAINING" }, canary],
      services: [service("web"), service("log-router", true, true)],
      tasks: [task(1, "service:web", "i-old1"), task(2, "service:web", "i-canary"), task(3, "service:log-router", "i-canary"), task(4, "service:log-router", "i-old2")],
    });
    expect(judgeCanary(fleet, { imageId: NEW, startedAt: START })).toEqual({ kind: "steady", tasksOnCanary: 1, services: 1 });
    const unsteady = { ...fleet, services: [service("web", false), service("log-router", true, true)] };
    expect(judgeCanary(unsteady, { imageId: NEW, startedAt: START })).toEqual({ kind: "waiting", why: "not steady: web (1/2 running)" });
  });

  it("drains the next old instance when every task moved elsewhere and none reached the canary", () => {
    const fleet = snapshot({
      containerInstances: [old1, { ...old2, status: "DRAINING" }, canary],
      services: [service("web")],
      tasks: [task(1, "service:web", "i-old1"), task(2, "service:web", "i-old1")],
    });
    expect(judgeCanary(fleet, { imageId: NEW, startedAt: START })).toEqual({ kind: "drain", containerInstanceArn: arn("i-old1") });
  });

  it("calls a crash loop on 3 failed stops on the new image since the proof began, naming the services and the reason", () => {
    const crashed = (n: number, at: number, instance = "i-canary") =>
      task(n, n % 2 ? "service:web" : "service:api", instance, { lastStatus: "STOPPED", desiredStatus: "STOPPED", stoppedAt: at, stoppedReason: "Essential container in task exited", exitCodes: [1] });
    const base = { containerInstances: [old1, { ...old2, status: "DRAINING" }, canary], services: [service("web"), service("api")] };
    const judge = (stopped: TaskSnapshot[]) => judgeCanary(snapshot({ ...base, stoppedTasks: stopped }), { imageId: NEW, startedAt: START });
    // Two are not a loop; a stop before the proof began, or on an old instance, is not the canary's.
    expect(judge([crashed(1, START + 1), crashed(2, START + 2), crashed(3, START - 1), crashed(4, START + 3, "i-old1")]).kind).not.toBe("crash");
    expect(judge([crashed(1, START + 1), crashed(2, START + 2), crashed(3, START + 3)])).toEqual({
      kind: "crash",
      reason: `crash loop on the canary: 3 tasks stopped with errors on ${NEW} (service:web, service:api): Essential container in task exited`,
    });
  });

  it("has nothing to prove on a cluster without services", () => {
    expect(judgeCanary(snapshot({ containerInstances: [old1, canary] }), { imageId: NEW, startedAt: START })).toEqual({ kind: "steady", tasksOnCanary: 0, services: 0 });
  });
});

describe("tasksLeftOnDrained", () => {
  const drained = ci("i-old1", OLD, "eu-west-1a", "DRAINING");
  const input = { imageId: NEW, startedAt: START };

  it("counts the service tasks meant to run on the drained instances: not daemons, standalone tasks, tasks told to stop, or other instances'", () => {
    const fleet = snapshot({
      containerInstances: [drained, old2, canary],
      services: [service("web"), service("logs", true, true)],
      tasks: [
        task(1, "service:web", "i-old1"),
        task(2, "service:web", "i-old1", { lastStatus: "PENDING" }),
        task(3, "service:web", "i-old1", { lastStatus: "STOPPING", desiredStatus: "STOPPED" }),
        task(4, "service:logs", "i-old1"),
        task(5, "family:batch", "i-old1"),
        task(6, "service:web", "i-old2"),
        task(7, "service:web", "i-canary"),
      ],
    });
    expect(tasksLeftOnDrained(fleet, input)).toBe(2);
    expect(tasksLeftOnDrained(snapshot({ containerInstances: [old1, canary], tasks: [task(1, "service:web", "i-old1")] }), input)).toBe(0);
  });
});

describe("drainedSince", () => {
  const drained = ci("i-old1", OLD, "eu-west-1a", "DRAINING");
  const input = { imageId: NEW, startedAt: START };

  it("is ECS's latest stoppingAt of a service task told to stop on a drained instance since the proof began: not daemons', other instances', or older stops", () => {
    const stopping = (n: number, group: string, instance: string, at: number, extra: Partial<TaskSnapshot> = {}) =>
      task(n, group, instance, { lastStatus: "STOPPING", desiredStatus: "STOPPED", stoppingAt: START + at, ...extra });
    const fleet = snapshot({
      containerInstances: [drained, old2, canary],
      services: [service("web"), service("logs", true, true)],
      tasks: [task(1, "service:web", "i-old1"), stopping(2, "service:web", "i-old1", 50_000)],
      stoppedTasks: [
        stopping(3, "service:web", "i-old1", 62_000, { lastStatus: "STOPPED", stoppedAt: START + 71_000 }),
        stopping(4, "service:logs", "i-old1", 90_000),
        stopping(5, "service:web", "i-old2", 95_000),
        stopping(6, "service:web", "i-old1", -5_000),
      ],
    });
    expect(drainedSince(fleet, input)).toBe(START + 62_000);
    // Nothing told to stop there (or ECS gave no stoppingAt): no time to count from.
    expect(drainedSince(snapshot({ containerInstances: [drained, canary], services: [service("web")], tasks: [task(1, "service:web", "i-old1", { desiredStatus: "STOPPED" })] }), input)).toBeUndefined();
  });
});
