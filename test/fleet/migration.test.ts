/**
 * The migration state as a pure function of snapshots: what counts as old, what holds an
 * instance, when the move is done, a crash loop, a stall, the ETA and the poll cadence.
 */
import { type MigrationState, finished, nextPollDelay, stepMigration } from "../../scripts/fleet/migration";
import type { ContainerInstanceSnapshot, FleetSnapshot, ServiceSnapshot, TaskSnapshot } from "../../scripts/fleet/snapshot";
import { failureReason } from "../../scripts/fleet/report";

const OLD = "ami-0000000000000aaaa";
const NEW = "ami-0000000000000bbbb";
const T0 = Date.parse("2026-11-22T09:00:00Z");

function ci(id: string, imageId: string, az: string, status = "ACTIVE"): ContainerInstanceSnapshot {
  return { arn: `arn:ci/${id}`, ec2InstanceId: id, status, imageId, availabilityZone: az, runningTasksCount: 0, pendingTasksCount: 0, agentConnected: true };
}
function task(id: string, group: string, instance: string, lastStatus = "RUNNING", extra: Partial<TaskSnapshot> = {}): TaskSnapshot {
  return { arn: `arn:task/${id}`, group, containerInstanceArn: `arn:ci/${instance}`, availabilityZone: "eu-west-1a", lastStatus, desiredStatus: "RUNNING", exitCodes: [], ...extra };
}
function service(name: string, running: number, desired = running, extra: Partial<ServiceSnapshot> = {}): ServiceSnapshot {
  return {
    arn: `arn:svc/${name}`, name, desiredCount: desired, runningCount: running, pendingCount: 0, schedulingStrategy: "REPLICA",
    deployments: [{ id: "d1", status: "PRIMARY", rolloutState: "COMPLETED", desiredCount: desired, runningCount: running, failedTasks: 0 }],
    events: [], tags: {}, ...extra,
  };
}
function snap(at: number, parts: Partial<FleetSnapshot>): FleetSnapshot {
  return { clusterName: "staging-apps", groups: [], containerInstances: [], services: [], tasks: [], stoppedTasks: [], apiCalls: 0, ...parts, at };
}
const options = { targetImageIds: [NEW], stallAfterMs: 10 * 60_000 };
const fold = (snapshots: FleetSnapshot[]) => snapshots.reduce<MigrationState | undefined>((s, x) => stepMigration(s, x, options), undefined)!;

describe("the migration state", () => {
  const start = snap(T0, {
    groups: [{ name: `staging-apps-${NEW}`, desiredCapacity: 2, minSize: 2, maxSize: 4, instances: [], tags: {} }],
    containerInstances: [ci("i-old1", OLD, "eu-west-1a"), ci("i-old2", OLD, "eu-west-1b")],
    services: [service("web", 2), { ...service("logs", 2), schedulingStrategy: "DAEMON" }],
    tasks: [task("w1", "service:web", "i-old1"), task("w2", "service:web", "i-old2"), task("l1", "service:logs", "i-old1"), task("l2", "service:logs", "i-old2")],
  });

  it("counts old and new instances per zone, boots, and the tasks on old instances (daemons excepted)", () => {
    const state = fold([start]);
    expect(state.zones).toEqual([{ availabilityZone: "eu-west-1a", old: 1, oldActive: 1, new: 0 }, { availabilityZone: "eu-west-1b", old: 1, oldActive: 1, new: 0 }]);
    expect(state.booting).toBe(2);
    expect(state.tasksOnOld.map((t) => t.taskArn)).toEqual(["arn:task/w1", "arn:task/w2"]);
    expect(state.phase).toBe("waiting for new instances");
  });

  it("counts a refresh cluster's one group (<cluster>-ami-refresh, named for no image) as launching the target", () => {
    // A first deploy on refresh: one of two instances registered is not done (fault matrix, first-deploy x refresh).
    const group = { name: "staging-apps-ami-refresh", desiredCapacity: 2, minSize: 2, maxSize: 4, instances: [], tags: {} };
    const one = fold([snap(T0, { groups: [group], containerInstances: [ci("i-new1", NEW, "eu-west-1a")] })]);
    expect([one.booting, one.phase]).toEqual([1, "settling"]);
    const both = fold([snap(T0, { groups: [group], containerInstances: [ci("i-new1", NEW, "eu-west-1a"), ci("i-new2", NEW, "eu-west-1b")] })]);
    expect([both.booting, both.phase]).toEqual([0, "done"]);
    // Another cluster's refresh group is not this one's.
    const other = fold([snap(T0, { groups: [{ ...group, name: "production-apps-ami-refresh" }], containerInstances: [ci("i-new1", NEW, "eu-west-1a")] })]);
    expect(other.booting).toBe(0);
  });

  it("follows the move to done, with instances replaced and tasks moved", () => {
    const moving = snap(T0 + 120_000, {
      ...start,
      containerInstances: [ci("i-old1", OLD, "eu-west-1a", "DRAINING"), ci("i-old2", OLD, "eu-west-1b", "DRAINING"), ci("i-new1", NEW, "eu-west-1a"), ci("i-new2", NEW, "eu-west-1b")],
      tasks: [task("w1", "service:web", "i-old1", "RUNNING"), task("w3", "service:web", "i-new2", "PENDING")],
    });
    const mid = fold([start, moving]);
    expect(mid.phase).toBe("moving tasks");
    expect(mid.tasksOnOld).toHaveLength(1);
    // One of two tasks moved in 2 minutes: one more to go, about 2 minutes.
    expect(mid.etaMs).toBe(120_000);
    const done = snap(T0 + 240_000, {
      ...start,
      containerInstances: [ci("i-new1", NEW, "eu-west-1a"), ci("i-new2", NEW, "eu-west-1b")],
      tasks: [task("w3", "service:web", "i-new2"), task("w4", "service:web", "i-new1")],
    });
    const state = fold([start, moving, done]);
    expect([state.phase, finished(state), state.oldInstancesReplaced, state.peakTasksOnOld, state.etaMs]).toEqual(["done", true, 2, 2, 0]);
  });

  it("is not done while an old instance is still ACTIVE (nothing drains it), or a service is not steady", () => {
    const activeOld = snap(T0 + 60_000, { ...start, containerInstances: [ci("i-old1", OLD, "eu-west-1a"), ci("i-new1", NEW, "eu-west-1a"), ci("i-new2", NEW, "eu-west-1b")], tasks: [] });
    expect(fold([start, activeOld]).phase).toBe("moving tasks");
    const unsteady = snap(T0 + 60_000, {
      ...start,
      containerInstances: [ci("i-new1", NEW, "eu-west-1a"), ci("i-new2", NEW, "eu-west-1b")],
      services: [service("web", 1, 2)],
      tasks: [task("w3", "service:web", "i-new1")],
    });
    const state = fold([start, unsteady]);
    expect(state.phase).toBe("settling");
    expect(state.unsteady).toEqual([{ service: "web", reason: "1/2 running" }]);
  });

  it("calls tasks failing on the new image a crash loop, naming the services", () => {
    const crashed = (n: number) => task(`c${n}`, "service:web", "i-new1", "STOPPED", { stoppedAt: T0 + 50_000, stoppedReason: "Essential container in task exited", exitCodes: [1] });
    const later = snap(T0 + 60_000, {
      ...start,
      containerInstances: [...start.containerInstances, ci("i-new1", NEW, "eu-west-1a")],
      stoppedTasks: [crashed(1), crashed(2), crashed(3), task("ok", "service:web", "i-old1", "STOPPED", { stoppedAt: T0 + 50_000, exitCodes: [0] })],
    });
    const state = fold([start, later]);
    expect(state.phase).toBe("crash loop");
    expect(state.crashLoop!.reason).toMatch(/^3 tasks stopped with errors on the new image since the watch began \(service:web\): Essential container in task exited$/);
    // Stops before the watch began, or on old instances, do not count.
    const before = snap(T0 + 60_000, { ...later, stoppedTasks: later.stoppedTasks.map((t) => ({ ...t, stoppedAt: T0 - 1 })) });
    expect(fold([start, before]).crashLoop).toBeUndefined();
  });

  it("calls no progress for the stall time a stall, naming the instances and tasks that hold", () => {
    const stuck = (at: number) => snap(at, { ...start, containerInstances: [ci("i-old1", OLD, "eu-west-1a", "DRAINING"), ci("i-new1", NEW, "eu-west-1a"), ci("i-new2", NEW, "eu-west-1b")], tasks: [task("s1", "family:batch", "i-old1")] });
    const early = fold([start, stuck(T0 + 60_000), stuck(T0 + 9 * 60_000)]);
    expect(early.stall).toBeUndefined();
    // A task told to stop holds its instance until it has stopped.
    const stopping = snap(T0 + 90_000, { ...stuck(T0), tasks: [], stoppedTasks: [{ ...task("s1", "family:batch", "i-old1", "DEACTIVATING"), desiredStatus: "STOPPED" }] });
    expect(fold([start, stopping]).tasksOnOld.map((t) => t.taskArn)).toEqual(["arn:task/s1"]);
    const late = fold([start, stuck(T0 + 60_000), stuck(T0 + 11 * 60_000 + 1)]);
    expect(late.phase).toBe("stalled");
    expect(late.stall).toEqual({ reason: "no progress for 10m", instances: ["i-old1"], tasks: ["family:batch on i-old1 (RUNNING)"] });
    // A stall time under a minute is said as given (it was "0 min" or "1 min").
    const quick = [start, stuck(T0 + 60_000), stuck(T0 + 60_000 + 20_000)].reduce<MigrationState | undefined>((state, s) => stepMigration(state, s, { ...options, stallAfterMs: 20_000 }), undefined)!;
    expect(quick.stall?.reason).toBe("no progress for 20s");
  });

  it("polls fast while things change, slowly while waiting on boots or nothing, never under the floor", () => {
    const first = fold([start]);
    const moving = stepMigration(first, snap(T0 + 10_000, { ...start, containerInstances: [...start.containerInstances, ci("i-new1", NEW, "eu-west-1a")] }), options);
    expect(nextPollDelay(first, moving)).toBe(10_000);
    const same = stepMigration(moving, snap(T0 + 20_000, { ...start, containerInstances: [...start.containerInstances, ci("i-new1", NEW, "eu-west-1a")] }), options);
    expect(nextPollDelay(moving, same)).toBe(30_000);
    expect(nextPollDelay(undefined, first)).toBe(10_000);
    const settling = stepMigration(same, snap(T0 + 30_000, { ...start, groups: [], containerInstances: [...start.containerInstances, ci("i-new1", NEW, "eu-west-1a")] }), options);
    expect(nextPollDelay(settling, stepMigration(settling, snap(T0 + 40_000, { ...start, groups: [], containerInstances: [...start.containerInstances, ci("i-new1", NEW, "eu-west-1a")] }), options))).toBe(20_000);
    expect(nextPollDelay(first, moving, { floorMs: 15_000, fastMs: 1_000 })).toBe(15_000);
  });
});

describe("the poll cadence near the end", () => {
  const cis = [ci("i-old1", OLD, "eu-west-1a", "DRAINING"), ci("i-new1", NEW, "eu-west-1a"), ci("i-new2", NEW, "eu-west-1b")];
  const base = snap(T0, { groups: [{ name: `staging-apps-${NEW}`, desiredCapacity: 2, minSize: 2, maxSize: 4, instances: [], tags: {} }], containerInstances: cis, services: [service("web", 2)] });
  const told = (id: string) => ({ ...task(id, "service:web", "i-old1", "STOPPING"), desiredStatus: "STOPPED" });

  it("polls at the floor once every task left on an old instance was told to stop, so the end is seen within the floor", () => {
    const before = fold([snap(T0, { ...base, tasks: [task("w1", "service:web", "i-old1"), task("w2", "service:web", "i-new1")] })]);
    const closing = stepMigration(before, snap(T0 + 10_000, { ...base, tasks: [task("w2", "service:web", "i-new1")], stoppedTasks: [told("w1")] }), options);
    expect([closing.tasksOnOld.length, closing.tasksStoppingOnOld]).toEqual([1, 1]);
    expect(nextPollDelay(before, closing)).toBe(5_000);
    // Unchanged since the last poll, still only stopping: still the floor (not the 20 s of no change).
    expect(nextPollDelay(closing, stepMigration(closing, snap(T0 + 15_000, { ...base, tasks: [task("w2", "service:web", "i-new1")], stoppedTasks: [told("w1")] }), options))).toBe(5_000);
    expect(nextPollDelay(before, closing, { floorMs: 2_000 })).toBe(2_000);
  });

  it("not while a task meant to run is still on an old instance, an old instance is ACTIVE or an instance boots", () => {
    const running = fold([snap(T0, { ...base, tasks: [task("w1", "service:web", "i-old1")], stoppedTasks: [told("w3")] })]);
    expect([running.tasksOnOld.length, running.tasksStoppingOnOld]).toEqual([2, 1]);
    expect(nextPollDelay(running, running)).toBe(20_000);
    const active = fold([snap(T0, { ...base, containerInstances: [ci("i-old1", OLD, "eu-west-1a"), ...cis.slice(1)], stoppedTasks: [told("w1")] })]);
    expect(nextPollDelay(active, active)).toBe(20_000);
    const booting = fold([snap(T0, { ...base, containerInstances: cis.slice(0, 2), stoppedTasks: [told("w1")] })]);
    expect(booting.booting).toBe(1);
    expect(nextPollDelay(booting, booting)).toBe(30_000);
  });
});

describe("failureReason", () => {
  const stalled = (stall: MigrationState["stall"], unsteady: MigrationState["unsteady"]) => ({ ...({} as MigrationState), stall, unsteady }) as MigrationState;

  it("names only what holds the migration: no empty list of instances or tasks", () => {
    expect(failureReason("apps", stalled({ reason: "no progress for 20s", instances: [], tasks: [] }, [{ service: "web", reason: "1 of 2 running" }]))).toBe(
      "apps: stalled (no progress for 20s); services not steady: web (1 of 2 running)",
    );
    expect(failureReason("apps", stalled({ reason: "no progress for 10m", instances: ["i-old1"], tasks: ["family:batch on i-old1 (RUNNING)"] }, []))).toBe(
      "apps: stalled (no progress for 10m); old instances still holding tasks: i-old1; tasks: family:batch on i-old1 (RUNNING)",
    );
  });
});
