/**
 * refresh's drain judged from task counts between full polls (refresh.ts leftByCounts): the tasks a
 * drain leaves on an instance (a daemon's, one of no service) must not keep a batch waiting forever.
 */
import type { FleetSnapshot } from "../../scripts/fleet/snapshot";
import { leftByCounts, stayingTasksOn } from "../../scripts/rollout/refresh";

const ci = (arn: string, running: number, pending = 0) => ({ arn, ec2InstanceId: `i-${arn}`, status: "DRAINING", imageId: "ami-old", availabilityZone: "eu-west-1a", runningTasksCount: running, pendingTasksCount: pending, agentConnected: true });
const task = (arn: string, group: string, on: string, lastStatus = "RUNNING") => ({ arn, group, containerInstanceArn: on, lastStatus });
const service = (name: string, schedulingStrategy = "REPLICA") => ({ arn: `svc/${name}`, name, desiredCount: 1, runningCount: 1, pendingCount: 0, schedulingStrategy, deployments: [{ id: "d", status: "PRIMARY", rolloutState: "COMPLETED", desiredCount: 1, runningCount: 1, failedTasks: 0 }], events: [], tags: {} });
const fleet = (instances: unknown[], tasks: unknown[] = []) => ({ containerInstances: instances, tasks, services: [service("web"), service("agent", "DAEMON")], stoppedTasks: [], groups: [] }) as unknown as FleetSnapshot;

describe("refresh: a batch's drain from its instances' task counts", () => {
  const batch = new Set(["a", "b"]);
  const listed = fleet([ci("a", 3), ci("b", 1)], [task("t1", "service:web", "a"), task("t2", "service:agent", "a"), task("t3", "family:batch-job", "a"), task("t4", "service:web", "b"), task("t5", "service:web", "c")]);

  it("counts a daemon's and a standalone task as staying, a service's as moving", () => {
    expect([...stayingTasksOn(listed, batch)]).toEqual([["a", 2]]);
  });

  it("still moving while an instance holds more than its staying tasks (pending ones counted), drained once it holds only those", () => {
    const staying = stayingTasksOn(listed, batch);
    expect(leftByCounts(fleet([ci("a", 3), ci("b", 1)]), batch, staying)).toBe("2 task(s) still on the batch");
    expect(leftByCounts(fleet([ci("a", 2), ci("b", 0, 1)]), batch, staying)).toBe("1 task(s) still on the batch");
    expect(leftByCounts(fleet([ci("a", 2), ci("b", 0)]), batch, staying)).toBeUndefined();
    // A staying task that stopped meanwhile does not make up for a service task left elsewhere.
    expect(leftByCounts(fleet([ci("a", 1), ci("b", 1)]), batch, staying)).toBe("1 task(s) still on the batch");
  });
});
