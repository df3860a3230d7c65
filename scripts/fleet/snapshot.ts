/**
 * One poll cycle of a cluster, as an immutable value: the Auto Scaling groups with their
 * instances, the ECS container instances, services and tasks. Everything the driver concludes
 * (migration, balance, verdicts) is a pure function of snapshots.
 */

export interface GroupInstance {
  readonly instanceId: string;
  readonly availabilityZone: string;
  /** e.g. Pending, InService, Terminating:Wait, Terminating:Proceed, Terminated. */
  readonly lifecycleState: string;
}

export interface GroupSnapshot {
  readonly name: string;
  readonly desiredCapacity: number;
  readonly minSize: number;
  readonly maxSize: number;
  readonly instances: readonly GroupInstance[];
  readonly tags: Readonly<Record<string, string>>;
  /** "Delete in progress" while terraform deletes it. */
  readonly status?: string;
}

export interface ContainerInstanceSnapshot {
  readonly arn: string;
  readonly ec2InstanceId: string;
  /** ACTIVE, DRAINING, REGISTERING, ... */
  readonly status: string;
  /** From the `ecs.ami-id` attribute. */
  readonly imageId: string;
  /** From the `ecs.availability-zone` attribute. */
  readonly availabilityZone: string;
  readonly runningTasksCount: number;
  readonly pendingTasksCount: number;
  readonly agentConnected: boolean;
}

export interface DeploymentSnapshot {
  readonly id: string;
  /** PRIMARY, ACTIVE, INACTIVE. */
  readonly status: string;
  /** IN_PROGRESS, COMPLETED, FAILED. */
  readonly rolloutState?: string;
  readonly desiredCount: number;
  readonly runningCount: number;
  readonly failedTasks: number;
}

export interface ServiceEvent {
  readonly id: string;
  readonly at: number;
  readonly message: string;
}

export interface ServiceSnapshot {
  readonly arn: string;
  readonly name: string;
  readonly desiredCount: number;
  readonly runningCount: number;
  readonly pendingCount: number;
  /** REPLICA or DAEMON. */
  readonly schedulingStrategy: string;
  readonly deployments: readonly DeploymentSnapshot[];
  /** Events newer than the watch's start, newest first. */
  readonly events: readonly ServiceEvent[];
  readonly tags: Readonly<Record<string, string>>;
}

export interface TaskSnapshot {
  readonly arn: string;
  /** `service:<name>` for a service's task, `family:<name>` for a standalone one. */
  readonly group: string;
  readonly containerInstanceArn: string;
  readonly availabilityZone: string;
  /** PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED. */
  readonly lastStatus: string;
  readonly desiredStatus: string;
  readonly healthStatus?: string;
  readonly startedAt?: number;
  readonly stoppedAt?: number;
  readonly stoppedReason?: string;
  readonly stopCode?: string;
  /** Exit codes of the containers that exited. */
  readonly exitCodes: readonly number[];
}

export interface FleetSnapshot {
  /** When the cycle began (the clock's now). */
  readonly at: number;
  readonly clusterName: string;
  readonly groups: readonly GroupSnapshot[];
  readonly containerInstances: readonly ContainerInstanceSnapshot[];
  readonly services: readonly ServiceSnapshot[];
  /** Tasks whose desired status is RUNNING. */
  readonly tasks: readonly TaskSnapshot[];
  /** Recently stopped tasks (the newest page), for crash-loop detection. */
  readonly stoppedTasks: readonly TaskSnapshot[];
  /** API calls this cycle made (for the bound in the README). */
  readonly apiCalls: number;
}
