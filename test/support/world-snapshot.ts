/**
 * A FleetSnapshot of one cluster read straight from the simulated world's state, not through
 * the SDK: tests of the functions that take snapshots (balance, rebalance) then do not depend
 * on the poller. Services carry their placement strategy, as DescribeServices reports it.
 */
import type { BalanceService } from "../../scripts/fleet/balance";
import type { ContainerInstanceSnapshot, FleetSnapshot, GroupSnapshot, TaskSnapshot } from "../../scripts/fleet/snapshot";
import type { SimTask, World } from "../../scripts/sim/world";

function taskSnapshot(task: SimTask): TaskSnapshot {
  return {
    arn: task.arn,
    group: task.group,
    containerInstanceArn: task.containerInstanceArn,
    availabilityZone: task.az,
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    startedAt: task.startedAt,
    stoppedAt: task.stoppedAt,
    stoppedReason: task.stoppedReason,
    stopCode: task.stoppedReason ? (task.exitCode !== undefined ? "EssentialContainerExited" : "ServiceSchedulerInitiated") : undefined,
    exitCodes: task.lastStatus === "STOPPED" && task.exitCode !== undefined ? [task.exitCode] : [],
  };
}

/** The cluster as it is now in the world (no API call is made or counted). */
export function worldSnapshot(world: World, clusterName: string): FleetSnapshot {
  const registered = new Set([...world.containerInstances.values()].filter((ci) => ci.clusterName === clusterName && ci.status !== "INACTIVE").map((ci) => ci.ec2InstanceId));
  const groups: GroupSnapshot[] = [...world.groups.values()]
    .filter((g) => g.clusterName === clusterName)
    .map((g) => ({
      name: g.name,
      desiredCapacity: g.desired,
      minSize: g.min,
      maxSize: g.max,
      // EC2's image and launch time only for an InService instance the cluster has no container instance of (as takeSnapshot).
      instances: g.instanceIds
        .map((id) => world.instances.get(id)!)
        .map((i) => ({
          instanceId: i.id,
          availabilityZone: i.az,
          lifecycleState: i.lifecycle,
          ...(i.lifecycle === "InService" && !registered.has(i.id) && { imageId: i.imageId, launchedAt: i.launchedAt }),
        })),
      tags: g.tags ?? {},
      status: g.deleting ? "Delete in progress" : undefined,
    }));
  const containerInstances: ContainerInstanceSnapshot[] = [...world.containerInstances.values()]
    .filter((ci) => ci.clusterName === clusterName && ci.status !== "INACTIVE")
    .map((ci) => {
      const live = world.tasksOnInstance(ci.arn).filter((t) => t.desiredStatus === "RUNNING");
      return {
        arn: ci.arn,
        ec2InstanceId: ci.ec2InstanceId,
        status: ci.status,
        imageId: ci.imageId,
        availabilityZone: ci.az,
        runningTasksCount: live.filter((t) => t.lastStatus === "RUNNING").length,
        pendingTasksCount: live.filter((t) => t.lastStatus === "PENDING").length,
        agentConnected: ci.agentConnected,
      };
    });
  const services: BalanceService[] = [...world.services.values()]
    .filter((s) => s.clusterName === clusterName)
    .map((s) => {
      const live = world.tasksOfService(s).filter((t) => t.desiredStatus === "RUNNING");
      const count = (status: string, deploymentId?: string) => live.filter((t) => t.lastStatus === status && (!deploymentId || t.deploymentId === deploymentId)).length;
      return {
        arn: s.arn,
        name: s.name,
        desiredCount: s.desiredCount,
        runningCount: count("RUNNING"),
        pendingCount: count("PENDING"),
        schedulingStrategy: s.schedulingStrategy,
        deployments: s.deployments.map((d) => ({
          id: d.id,
          status: d.status,
          rolloutState: d.rolloutState,
          desiredCount: d.status === "PRIMARY" ? s.desiredCount : 0,
          runningCount: count("RUNNING", d.id),
          failedTasks: d.failedTasks,
        })),
        events: s.events.map((e) => ({ id: e.id, at: e.createdAt, message: e.message })),
        tags: s.tags,
        placementStrategy: s.placement === "binpack" ? [{ type: "binpack", field: "cpu" }] : [{ type: "spread", field: "attribute:ecs.availability-zone" }, { type: "spread", field: "instanceId" }],
      };
    });
  const tasks = [...world.tasks.values()].filter((t) => t.clusterName === clusterName);
  return {
    at: world.clock.now(),
    clusterName,
    groups,
    containerInstances,
    services,
    tasks: tasks.filter((t) => t.desiredStatus === "RUNNING").map(taskSnapshot),
    stoppedTasks: tasks
      .filter((t) => t.lastStatus === "STOPPED")
      .sort((a, b) => (b.stoppedAt ?? 0) - (a.stoppedAt ?? 0))
      .slice(0, 100)
      .map(taskSnapshot),
    apiCalls: 0,
  };
}
