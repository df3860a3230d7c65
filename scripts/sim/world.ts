/**
 * The simulated AWS world: EC2 instances, Auto Scaling groups with lifecycle hooks, ECS container
 * instances, services and tasks with the service scheduler, SSM parameters and AMIs, all moved
 * by events on a VirtualClock. The SDK-shaped clients (clients.ts) read and change it; the
 * terraform stand-in (terraform.ts) creates and deletes its groups.
 *
 * Fidelity is aimed where a rollout can tell: boot and registration take time, a DRAINING
 * instance takes no task and its service tasks are replaced before they stop (within
 * minimumHealthyPercent / maximumPercent), terminating hooks hold instances, tasks spread
 * over zones, a broken image crash-loops.
 */
import type { SimAlarm } from "./alarms";
import type { VirtualClock } from "./clock";
import type { Rng } from "./rng";

export type InstanceLifecycle = "Pending" | "InService" | "Terminating:Wait" | "Terminating:Proceed" | "Terminated";

export interface SimInstance {
  readonly id: string;
  readonly groupName: string;
  readonly az: string;
  readonly subnetId: string;
  readonly imageId: string;
  readonly instanceType: string;
  readonly launchedAt: number;
  state: "pending" | "running" | "shutting-down" | "terminated";
  lifecycle: InstanceLifecycle;
  containerInstanceArn?: string;
  /** Pending terminating lifecycle action: its token and when its heartbeat runs out. */
  action?: { token: string; hookName: string; expiresAt: number; defaultResult: string };
}

export interface LifecycleHookSpec {
  readonly name: string;
  readonly transition: "autoscaling:EC2_INSTANCE_TERMINATING" | "autoscaling:EC2_INSTANCE_LAUNCHING";
  readonly heartbeatTimeoutSeconds: number;
  readonly defaultResult: "CONTINUE" | "ABANDON";
}

export interface GroupSpec {
  readonly name: string;
  readonly clusterName: string;
  readonly imageId: string;
  readonly instanceType: string;
  readonly subnets: readonly { readonly subnetId: string; readonly az: string }[];
  readonly minSize: number;
  readonly maxSize: number;
  readonly desiredCapacity: number;
  readonly hooks: readonly LifecycleHookSpec[];
  readonly tags?: Readonly<Record<string, string>>;
}

export interface SimGroup extends GroupSpec {
  /** The image its launch template's default version launches (changed in place by a refresh roll's apply). */
  imageId: string;
  readonly arn: string;
  readonly createdAt: number;
  min: number;
  max: number;
  desired: number;
  readonly suspended: Set<string>;
  readonly instanceIds: string[];
  deleting: boolean;
  refreshes: SimInstanceRefresh[];
}

export interface SimInstanceRefresh {
  readonly id: string;
  status: "Pending" | "InProgress" | "Successful" | "Cancelled" | "Failed";
  readonly startedAt: number;
  endedAt?: number;
  readonly minHealthyPercentage: number;
  readonly toReplace: Set<string>;
  readonly total: number;
}

export interface SimContainerInstance {
  readonly arn: string;
  readonly clusterName: string;
  readonly ec2InstanceId: string;
  readonly az: string;
  readonly imageId: string;
  readonly instanceType: string;
  readonly cpu: number;
  readonly memory: number;
  status: "ACTIVE" | "DRAINING" | "INACTIVE";
  agentConnected: boolean;
  readonly registeredAt: number;
}

export interface SimDeployment {
  readonly id: string;
  status: "PRIMARY" | "ACTIVE" | "INACTIVE";
  rolloutState: "IN_PROGRESS" | "COMPLETED" | "FAILED";
  readonly createdAt: number;
  updatedAt: number;
  failedTasks: number;
}

export interface ServiceSpec {
  readonly name: string;
  readonly desiredCount: number;
  readonly schedulingStrategy?: "REPLICA" | "DAEMON";
  readonly placement?: "spread" | "binpack";
  readonly minimumHealthyPercent?: number;
  readonly maximumPercent?: number;
  /** ECS's own Availability Zone rebalancing (reported and set only; the sim does not rebalance by itself). @default "DISABLED" */
  readonly availabilityZoneRebalancing?: "ENABLED" | "DISABLED";
  /** CPU units and MiB per task. */
  readonly cpu?: number;
  readonly memory?: number;
  readonly tags?: Readonly<Record<string, string>>;
  /** Capacity providers the tasks go to, or "default" (the cluster's default strategy); none: any instance (launch type EC2). */
  readonly capacityProviderStrategy?: readonly CapacityProviderStrategyItem[] | "default";
}

/** One entry of a capacity provider strategy (base and weight are kept, not modelled: a task may go to any provider named). */
export interface CapacityProviderStrategyItem {
  readonly capacityProvider: string;
  readonly weight?: number;
  readonly base?: number;
}

/** An ECS capacity provider of an Auto Scaling group (managed scaling is not modelled). */
export interface SimCapacityProvider {
  readonly name: string;
  readonly arn: string;
  readonly groupName: string;
  /** ECS drains the group's terminating instances itself (up to MANAGED_DRAINING_MAX_MS). */
  readonly managedDraining: boolean;
}

/** How long managed draining holds a terminating instance at most (ECS's ceiling: 48 h). */
export const MANAGED_DRAINING_MAX_MS = 48 * 3_600_000;

export interface SimCluster {
  readonly arn: string;
  readonly name: string;
  /** The cluster's capacity-provider set and default strategy (PutClusterCapacityProviders). */
  capacityProviders?: string[];
  defaultStrategy?: CapacityProviderStrategyItem[];
}

export interface SimService {
  readonly arn: string;
  readonly clusterName: string;
  readonly name: string;
  desiredCount: number;
  readonly schedulingStrategy: "REPLICA" | "DAEMON";
  readonly placement: "spread" | "binpack";
  /** The deployment configuration (UpdateService may change it). */
  minimumHealthyPercent: number;
  maximumPercent: number;
  /** As DescribeServices reports it; UpdateService sets it. */
  availabilityZoneRebalancing: "ENABLED" | "DISABLED";
  readonly cpu: number;
  readonly memory: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly createdAt: number;
  readonly deployments: SimDeployment[];
  readonly events: { id: string; createdAt: number; message: string }[];
  /** Virtual time of the last "unable to place" event (ECS does not repeat it every pass). */
  lastPlacementFailureAt?: number;
  /** As ServiceSpec's; UpdateService may change it. */
  capacityProviderStrategy?: readonly CapacityProviderStrategyItem[] | "default";
}

export interface SimTask {
  readonly arn: string;
  readonly clusterName: string;
  readonly group: string;
  readonly serviceName?: string;
  readonly deploymentId?: string;
  readonly containerInstanceArn: string;
  readonly az: string;
  readonly cpu: number;
  readonly memory: number;
  readonly createdAt: number;
  lastStatus: "PROVISIONING" | "PENDING" | "ACTIVATING" | "RUNNING" | "DEACTIVATING" | "STOPPING" | "DEPROVISIONING" | "STOPPED";
  desiredStatus: "RUNNING" | "STOPPED";
  healthy: boolean;
  startedAt?: number;
  /** When it passed its health checks (the grace period sampled): a record for bench:rollout's critical path. */
  healthyAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  stoppedReason?: string;
  exitCode?: number;
}

export interface SimImage {
  readonly imageId: string;
  readonly name: string;
  readonly architecture: "x86_64" | "arm64";
  readonly creationDate: string;
  state: "available" | "deregistered";
}

/** How the world behaves: times in seconds, with the jitter applied to each. */
export interface WorldBehaviour {
  readonly bootSeconds: number;
  readonly agentRegistrationSeconds: number;
  readonly taskStartSeconds: number;
  /** From RUNNING to passing health checks (the grace period of a service). */
  readonly healthGraceSeconds: number;
  /** From "stop" to STOPPED (the container's SIGTERM handling; slow-drain makes it long). */
  readonly taskStopSeconds: number;
  readonly shutdownSeconds: number;
  readonly jitter: number;
  /** Tasks on these AMIs crash this long after they start. */
  readonly brokenAmis: ReadonlySet<string>;
  readonly crashAfterSeconds: number;
  /** Share of launched instances that never register with ECS. */
  readonly bootFailureRate: number;
  /** Zones with no capacity: launches there fail. */
  readonly zonesWithoutCapacity: ReadonlySet<string>;
  /** Share of API calls answered with ThrottlingException. */
  readonly throttleRate: number;
  /**
   * Where a zone-spread tie falls (ECS leaves it open): by the scheduler's other keys (instance
   * counts, then ARN: the default), or to the zone last by name, for the task it places and the one
   * it stops alike (tests of both directions).
   */
  readonly zoneTies?: "last";
}

export const DEFAULT_BEHAVIOUR: WorldBehaviour = {
  bootSeconds: 60,
  agentRegistrationSeconds: 20,
  taskStartSeconds: 15,
  healthGraceSeconds: 30,
  taskStopSeconds: 10,
  shutdownSeconds: 30,
  jitter: 0.2,
  brokenAmis: new Set(),
  crashAfterSeconds: 45,
  bootFailureRate: 0,
  zonesWithoutCapacity: new Set(),
  throttleRate: 0,
};

/** vCPUs and memory (MiB) of the instance types the sim knows; others get 2 vCPU / 8 GiB. */
const INSTANCE_SIZES: Record<string, { vcpu: number; memory: number }> = {
  large: { vcpu: 2, memory: 8192 },
  xlarge: { vcpu: 4, memory: 16384 },
  "2xlarge": { vcpu: 8, memory: 32768 },
  "4xlarge": { vcpu: 16, memory: 65536 },
};

/** A terminating lifecycle action as the drain hook receives it (EventBridge's event). */
export type LifecycleEventSink = (event: Record<string, unknown>) => Promise<unknown>;

export interface ApiCall {
  readonly service: string;
  readonly operation: string;
  readonly at: number;
  readonly throttled: boolean;
}

const SCHEDULER_PASS_MS = 5_000;

/** The same order as String.prototype.localeCompare (the default collator), without its per-call setup. */
const collate = new Intl.Collator().compare;

export class World {
  readonly instances = new Map<string, SimInstance>();
  readonly groups = new Map<string, SimGroup>();
  readonly containerInstances = new Map<string, SimContainerInstance>();
  readonly services = new Map<string, SimService>();
  readonly tasks = new Map<string, SimTask>();
  readonly clusters = new Map<string, SimCluster>();
  readonly capacityProviders = new Map<string, SimCapacityProvider>();
  readonly parameters = new Map<string, string>();
  readonly images = new Map<string, SimImage>();
  /** CloudWatch alarms, by name (their state is read from the world when asked: sim/alarms.ts). */
  readonly alarms = new Map<string, SimAlarm>();
  /** Every API call, in order (API cost figures). */
  readonly calls: ApiCall[] = [];
  /** Per service (cluster/name): [virtual time, healthy running tasks] at each change. */
  readonly healthHistory = new Map<string, [number, number][]>();
  /** What happened, in order: the same seed gives the same log. */
  readonly log: string[] = [];
  /** Called for each terminating lifecycle action (the drain hook's handler, when wired). */
  lifecycleSink?: LifecycleEventSink;

  private schedulerDue = false;
  private readonly serviceTasks = new Map<string, Set<string>>();
  private readonly instanceTasks = new Map<string, Set<string>>();
  /** cpu and memory of the tasks on each container instance not yet STOPPED (kept with instanceTasks). */
  private readonly instanceUsage = new Map<string, { cpu: number; memory: number }>();
  /** Per service (cluster/name): its tasks whose desiredStatus is RUNNING, in creation order. */
  private readonly serviceLive = new Map<string, Set<SimTask>>();
  /** Per container instance: every task placed on it, in creation order. */
  private readonly instanceHistory = new Map<string, SimTask[]>();
  /** Bumped whenever a task starts, is told to stop or stops (a cache key for ListTasks' pages). */
  taskChanges = 0;
  /** Per cluster: its tasks whose desiredStatus is RUNNING, in creation order (as in `tasks`). */
  private readonly clusterRunning = new Map<string, Set<SimTask>>();
  /** Per EC2 instance: its container instances, in registration order (as in `containerInstances`). */
  private readonly containerInstancesByEc2 = new Map<string, SimContainerInstance[]>();
  /** Every container instance, in `collate` order of ARN (kept as they register: spread indexes are built from it without sorting). */
  private readonly byArnOrder: SimContainerInstance[] = [];
  /** During a scheduler pass: per cluster, its placeable instances by zone and task count (built on first use). */
  private spreadIndexes?: Map<string, SpreadIndex>;
  /** During a scheduler pass: each cluster's placeable instances (no instance changes status within a pass). */
  private placeableCache?: Map<string, SimContainerInstance[]>;

  constructor(
    readonly clock: VirtualClock,
    readonly rng: Rng,
    readonly region: string,
    readonly accountId: string,
    /** Scenarios change it once the fleet has settled (e.g. throttling starts then). */
    public behaviour: WorldBehaviour = DEFAULT_BEHAVIOUR,
  ) {}

  // ----------------------------------------------------------------------- bookkeeping

  note(message: string): void {
    this.log.push(`${new Date(this.clock.now()).toISOString()} ${message}`);
  }

  private seconds(base: number): number {
    return Math.max(0, this.rng.around(base, this.behaviour.jitter)) * 1000;
  }

  private id(prefix: string, digits = 17): string {
    return `${prefix}${this.rng.hex(digits)}`;
  }

  arn(service: string, resource: string): string {
    return `arn:aws:${service}:${this.region}:${this.accountId}:${resource}`;
  }

  /** Runs the ECS scheduler and group reconciliation soon (coalesced). */
  private poke(): void {
    if (this.schedulerDue) return;
    this.schedulerDue = true;
    this.clock.after(1_000, () => {
      this.schedulerDue = false;
      this.reconcileGroups();
      this.schedule();
    });
  }

  /** Starts the periodic passes: groups and the ECS scheduler run every few seconds anyway. */
  start(): void {
    const pass = () => {
      this.reconcileGroups();
      this.schedule();
      this.expireLifecycleActions();
      this.clock.after(SCHEDULER_PASS_MS, pass);
    };
    this.clock.after(SCHEDULER_PASS_MS, pass);
  }

  // ----------------------------------------------------------------------- ECS clusters

  createCluster(name: string): void {
    this.clusters.set(name, { name, arn: this.arn("ecs", `cluster/${name}`) });
  }

  createService(clusterName: string, spec: ServiceSpec): SimService {
    const key = `${clusterName}/${spec.name}`;
    const now = this.clock.now();
    const service: SimService = {
      arn: this.arn("ecs", `service/${clusterName}/${spec.name}`),
      clusterName,
      name: spec.name,
      desiredCount: spec.desiredCount,
      schedulingStrategy: spec.schedulingStrategy ?? "REPLICA",
      placement: spec.placement ?? "spread",
      minimumHealthyPercent: spec.minimumHealthyPercent ?? 100,
      maximumPercent: spec.maximumPercent ?? 200,
      availabilityZoneRebalancing: spec.availabilityZoneRebalancing ?? "DISABLED",
      cpu: spec.cpu ?? 256,
      memory: spec.memory ?? 512,
      tags: spec.tags ?? {},
      createdAt: now,
      deployments: [{ id: this.id("ecs-svc/", 19), status: "PRIMARY", rolloutState: "IN_PROGRESS", createdAt: now, updatedAt: now, failedTasks: 0 }],
      events: [],
      ...(spec.capacityProviderStrategy && { capacityProviderStrategy: spec.capacityProviderStrategy }),
    };
    this.services.set(key, service);
    this.serviceTasks.set(key, new Set());
    this.serviceLive.set(key, new Set());
    this.healthHistory.set(key, [[now, 0]]);
    this.poke();
    return service;
  }

  serviceEvent(service: SimService, message: string): void {
    service.events.unshift({ id: this.rng.hex(8), createdAt: this.clock.now(), message: `(service ${service.name}) ${message}` });
    if (service.events.length > 100) service.events.length = 100;
  }

  tasksOfService(service: SimService): SimTask[] {
    return [...(this.serviceTasks.get(`${service.clusterName}/${service.name}`) ?? [])].map((arn) => this.tasks.get(arn)!);
  }

  /** A service's tasks whose desiredStatus is RUNNING, in creation order (tasksOfService filtered so, without the scan). */
  liveTasksOfService(service: SimService): SimTask[] {
    return [...(this.serviceLive.get(`${service.clusterName}/${service.name}`) ?? [])];
  }

  /** Every task ever placed on a container instance, in creation order. */
  taskHistoryOf(containerInstanceArn: string): readonly SimTask[] {
    return this.instanceHistory.get(containerInstanceArn) ?? [];
  }

  tasksOnInstance(containerInstanceArn: string): SimTask[] {
    return [...(this.instanceTasks.get(containerInstanceArn) ?? [])].map((arn) => this.tasks.get(arn)!);
  }

  /** The container instances an EC2 instance registered, in the order of `containerInstances` (a filter on ec2InstanceId without the scan). */
  containerInstancesOfEc2(ec2InstanceId: string): readonly SimContainerInstance[] {
    return this.containerInstancesByEc2.get(ec2InstanceId) ?? [];
  }

  /** A cluster's tasks whose desiredStatus is RUNNING, in the order of `tasks` (ListTasks without a scan of every task). */
  desiredRunning(clusterName: string): Iterable<SimTask> {
    return this.clusterRunning.get(clusterName) ?? [];
  }

  /** Healthy, running tasks of a service now. */
  healthyCount(service: SimService): number {
    let healthy = 0;
    for (const t of this.serviceLive.get(`${service.clusterName}/${service.name}`) ?? []) if (t.lastStatus === "RUNNING" && t.healthy) healthy++;
    return healthy;
  }

  private recordHealth(service: SimService): void {
    const history = this.healthHistory.get(`${service.clusterName}/${service.name}`)!;
    const count = this.healthyCount(service);
    const last = history[history.length - 1];
    if (last[1] === count) return;
    if (last[0] === this.clock.now()) last[1] = count;
    else history.push([this.clock.now(), count]);
  }

  /**
   * Zero-downtime violations: times a service had fewer healthy tasks than desiredCount times
   * minimumHealthyPercent (rounded up), or none at all, after it first reached that floor.
   */
  downtimeViolations(): { service: string; at: number; healthy: number; floor: number }[] {
    const found: { service: string; at: number; healthy: number; floor: number }[] = [];
    for (const [key, history] of this.healthHistory) {
      const service = this.services.get(key)!;
      if (service.schedulingStrategy === "DAEMON") continue;
      const floor = Math.max(1, Math.ceil((service.desiredCount * service.minimumHealthyPercent) / 100));
      let established = false;
      for (const [at, healthy] of history) {
        if (healthy >= floor) established = true;
        else if (established) found.push({ service: key, at, healthy, floor });
      }
    }
    return found;
  }

  // ----------------------------------------------------------------------- tasks

  private startTask(service: SimService | undefined, clusterName: string, group: string, ci: SimContainerInstance, cpu: number, memory: number): SimTask {
    const now = this.clock.now();
    const task: SimTask = {
      arn: this.arn("ecs", `task/${clusterName}/${this.rng.hex(32)}`),
      clusterName,
      group,
      serviceName: service?.name,
      deploymentId: service?.deployments.find((d) => d.status === "PRIMARY")?.id,
      containerInstanceArn: ci.arn,
      az: ci.az,
      cpu,
      memory,
      createdAt: now,
      lastStatus: "PENDING",
      desiredStatus: "RUNNING",
      healthy: false,
    };
    this.tasks.set(task.arn, task);
    const running = this.clusterRunning.get(clusterName);
    if (running) running.add(task);
    else this.clusterRunning.set(clusterName, new Set([task]));
    if (service) this.serviceTasks.get(`${service.clusterName}/${service.name}`)!.add(task.arn);
    if (service) this.serviceLive.get(`${service.clusterName}/${service.name}`)!.add(task);
    const history = this.instanceHistory.get(ci.arn);
    if (history) history.push(task);
    else this.instanceHistory.set(ci.arn, [task]);
    this.taskChanges++;
    if (!this.instanceTasks.has(ci.arn)) this.instanceTasks.set(ci.arn, new Set());
    this.instanceTasks.get(ci.arn)!.add(task.arn);
    this.spreadIndexes?.get(ci.clusterName)?.move(ci, this.taskCount(ci.arn) - 1, this.taskCount(ci.arn));
    const usage = this.instanceUsage.get(ci.arn);
    if (usage) {
      usage.cpu += cpu;
      usage.memory += memory;
    } else this.instanceUsage.set(ci.arn, { cpu, memory });

    this.clock.after(this.seconds(this.behaviour.taskStartSeconds), () => {
      if (task.desiredStatus !== "RUNNING") return;
      task.lastStatus = "RUNNING";
      task.startedAt = this.clock.now();
      if (this.behaviour.brokenAmis.has(ci.imageId)) {
        this.clock.after(this.seconds(this.behaviour.crashAfterSeconds), () => {
          if (task.lastStatus === "RUNNING") this.stopTask(task, "Essential container in task exited", 1, 0);
        });
        return;
      }
      this.clock.after(this.seconds(this.behaviour.healthGraceSeconds), () => {
        if (task.lastStatus !== "RUNNING") return;
        task.healthy = true;
        task.healthyAt = this.clock.now();
        if (service) this.recordHealth(service);
        this.poke();
      });
    });
    return task;
  }

  /** Runs a task outside any service (RunTask, a scheduled job) for `seconds`. */
  runStandaloneTask(clusterName: string, family: string, ci: SimContainerInstance, seconds: number): SimTask {
    const task = this.startTask(undefined, clusterName, `family:${family}`, ci, 256, 512);
    this.clock.after(seconds * 1000, () => {
      if (task.desiredStatus === "RUNNING") this.stopTask(task, "Essential container in task exited", 0);
    });
    return task;
  }

  /** Tells a task to stop; it goes through STOPPING (its SIGTERM handling) to STOPPED. */
  stopTask(task: SimTask, reason: string, exitCode?: number, stopSeconds = this.behaviour.taskStopSeconds): void {
    if (task.desiredStatus === "STOPPED") return;
    const service = task.serviceName ? this.services.get(`${task.clusterName}/${task.serviceName}`) : undefined;
    task.desiredStatus = "STOPPED";
    this.clusterRunning.get(task.clusterName)?.delete(task);
    if (task.serviceName) this.serviceLive.get(`${task.clusterName}/${task.serviceName}`)?.delete(task);
    this.taskChanges++;
    task.lastStatus = task.lastStatus === "PENDING" ? "STOPPED" : "STOPPING";
    task.healthy = false;
    task.stoppingAt = this.clock.now();
    task.stoppedReason = reason;
    if (exitCode !== undefined) task.exitCode = exitCode;
    if (service) {
      this.recordHealth(service);
      if (exitCode !== undefined && exitCode !== 0) {
        const primary = service.deployments.find((d) => d.status === "PRIMARY");
        if (primary && task.deploymentId === primary.id) primary.failedTasks++;
        this.serviceEvent(service, `has stopped 1 running tasks: (task ${task.arn.split("/").pop()}).`);
      }
    }
    const finish = () => {
      task.lastStatus = "STOPPED";
      task.stoppedAt = this.clock.now();
      this.taskChanges++;
      if (this.instanceTasks.get(task.containerInstanceArn)?.delete(task.arn)) {
        const usage = this.instanceUsage.get(task.containerInstanceArn)!;
        usage.cpu -= task.cpu;
        usage.memory -= task.memory;
        const ci = this.containerInstances.get(task.containerInstanceArn);
        if (ci) this.spreadIndexes?.get(ci.clusterName)?.move(ci, this.taskCount(ci.arn) + 1, this.taskCount(ci.arn));
      }
      this.poke();
    };
    if (task.lastStatus === "STOPPED") finish();
    else this.clock.after(this.seconds(stopSeconds), finish);
    this.poke();
  }

  // ----------------------------------------------------------------------- the ECS scheduler

  /** One pass of the service scheduler over every service. */
  private schedule(): void {
    // Each cluster's placeable instances, once per pass: nothing in a pass changes an instance's status.
    const placeable = new Map<string, SimContainerInstance[]>();
    for (const ci of this.containerInstances.values()) {
      if (ci.status !== "ACTIVE" || !ci.agentConnected) continue;
      const list = placeable.get(ci.clusterName);
      if (list) list.push(ci);
      else placeable.set(ci.clusterName, [ci]);
    }
    this.placeableCache = placeable;
    this.spreadIndexes = new Map();
    try {
      for (const service of this.services.values()) {
        if (service.schedulingStrategy === "DAEMON") this.scheduleDaemon(service);
        else this.scheduleReplica(service);
        this.updateDeployments(service);
      }
    } finally {
      this.placeableCache = undefined;
      this.spreadIndexes = undefined;
    }
  }

  /** What is left of an instance's cpu and memory (kept as tasks start and stop: O(1)). */
  private freeCapacity(ci: SimContainerInstance): { cpu: number; memory: number } {
    const usage = this.instanceUsage.get(ci.arn);
    return usage ? { cpu: ci.cpu - usage.cpu, memory: ci.memory - usage.memory } : { cpu: ci.cpu, memory: ci.memory };
  }

  /** Tasks on an instance not yet STOPPED. */
  private taskCount(arn: string): number {
    return this.instanceTasks.get(arn)?.size ?? 0;
  }

  /** A cluster's ACTIVE instances with a connected agent, in registration order (do not mutate). */
  private placeable(clusterName: string): readonly SimContainerInstance[] {
    const cached = this.placeableCache?.get(clusterName);
    if (cached || this.placeableCache) return cached ?? [];
    return [...this.containerInstances.values()].filter((ci) => ci.clusterName === clusterName && ci.status === "ACTIVE" && ci.agentConnected);
  }

  /**
   * Where the next task of a service goes: binpack, or zone spread then instance spread, as ECS
   * documents it (the zone with the fewest of the service's tasks, then the instance with the
   * fewest; every task not told to stop counts, an outgoing deployment's too). Where those tie,
   * which ECS leaves open, the sim takes the instance with the fewest tasks of the service's
   * current deployment (so that a rolling replacement does not stack two new tasks on one
   * instance while its neighbour holds only an outgoing one), then the least busy, then by ARN.
   */
  private place(service: SimService, live: SimTask[]): SimContainerInstance | undefined {
    const allowed = this.providerFilter(service);
    const fitsAnywhere = (free: { cpu: number; memory: number }) => free.cpu >= service.cpu && free.memory >= service.memory;
    // A capacity provider strategy: only its providers' instances (no strategy: any instance, unchanged).
    const fits = allowed ? (free: { cpu: number; memory: number }, ci?: SimContainerInstance) => fitsAnywhere(free) && (!ci || allowed(ci)) : fitsAnywhere;
    if (service.placement === "binpack") {
      // The instance with the least cpu left, then by ARN: one scan, each instance's capacity looked up once.
      let best: SimContainerInstance | undefined;
      let bestCpu = 0;
      for (const ci of this.placeable(service.clusterName)) {
        const free = this.freeCapacity(ci);
        if (!fits(free, ci)) continue;
        if (!best || free.cpu < bestCpu || (free.cpu === bestCpu && collate(ci.arn, best.arn) < 0)) {
          best = ci;
          bestCpu = free.cpu;
        }
      }
      return best;
    }
    const perZone = new Map<string, number>();
    const perInstance = new Map<string, number>();
    const primaryPerInstance = new Map<string, number>();
    const primary = service.deployments.find((d) => d.status === "PRIMARY")?.id;
    for (const task of live) {
      perZone.set(task.az, (perZone.get(task.az) ?? 0) + 1);
      perInstance.set(task.containerInstanceArn, (perInstance.get(task.containerInstanceArn) ?? 0) + 1);
      if (task.deploymentId === primary) primaryPerInstance.set(task.containerInstanceArn, (primaryPerInstance.get(task.containerInstanceArn) ?? 0) + 1);
    }
    // The least of the candidates in that order: one scan, each key computed once per instance;
    // during a scheduler pass, only the instances that can be least (spreadCandidates).
    let best: SimContainerInstance | undefined;
    let bestKey: [number, number, number, number] = [0, 0, 0, 0];
    for (const ci of this.spreadCandidates(service.clusterName, perInstance, fits)) {
      if (!fits(this.freeCapacity(ci), ci)) continue;
      const key: [number, number, number, number] = [perZone.get(ci.az) ?? 0, perInstance.get(ci.arn) ?? 0, primaryPerInstance.get(ci.arn) ?? 0, this.taskCount(ci.arn)];
      const order = !best ? -1 : key[0] - bestKey[0] || (this.behaviour.zoneTies === "last" ? collate(best.az, ci.az) : 0) || key[1] - bestKey[1] || key[2] - bestKey[2] || key[3] - bestKey[3] || collate(ci.arn, best.arn);
      if (order < 0) {
        best = ci;
        bestKey = key;
      }
    }
    return best;
  }

  /**
   * The instances among which place() finds the least by (zone count, service tasks on it,
   * primary tasks on it, tasks on it, ARN): every placeable one, or during a scheduler pass only
   * those holding the service's tasks (`perInstance`) and, per zone, the first of the others that
   * fits in (task count, ARN) order: the others of a zone tie on the first three keys, so no
   * other one of them can be less. The same least, without scanning every instance per task.
   */
  private spreadCandidates(
    clusterName: string,
    perInstance: ReadonlyMap<string, number>,
    fits: (free: { cpu: number; memory: number }, ci?: SimContainerInstance) => boolean,
  ): Iterable<SimContainerInstance> {
    if (!this.spreadIndexes) return this.placeable(clusterName);
    let index = this.spreadIndexes.get(clusterName);
    if (!index) {
      index = new SpreadIndex(
        this.byArnOrder.filter((ci) => ci.clusterName === clusterName && ci.status === "ACTIVE" && ci.agentConnected),
        (arn) => this.taskCount(arn),
      );
      this.spreadIndexes.set(clusterName, index);
    }
    const candidates: SimContainerInstance[] = [];
    for (const arn of perInstance.keys()) {
      const ci = this.containerInstances.get(arn);
      if (ci && index.has(ci)) candidates.push(ci);
    }
    for (const ci of index.firstPerZone((ci) => !perInstance.has(ci.arn) && fits(this.freeCapacity(ci), ci))) candidates.push(ci);
    return candidates;
  }

  /**
   * Replica services: keep desiredCount tasks on ACTIVE instances of the primary deployment.
   * Tasks on DRAINING instances or of an older deployment are replaced first, and stopped only
   * while the healthy count stays at or above minimumHealthyPercent, in the order that keeps the
   * service balanced over zones (nextToStop); starts are capped by maximumPercent (both as the
   * service's deploymentConfiguration is at this pass).
   */
  private scheduleReplica(service: SimService): void {
    const primary = service.deployments.find((d) => d.status === "PRIMARY")!;
    const live = this.liveTasksOfService(service);
    // What stays (the primary deployment's, on an ACTIVE instance) and what is replaced, in one pass.
    const keep: SimTask[] = [];
    const replace: SimTask[] = [];
    for (const t of live) {
      if (t.deploymentId === primary.id && this.containerInstances.get(t.containerInstanceArn)?.status === "ACTIVE") keep.push(t);
      else replace.push(t);
    }
    const desired = service.desiredCount;
    const ceiling = Math.floor((desired * service.maximumPercent) / 100);
    const floor = Math.ceil((desired * service.minimumHealthyPercent) / 100);

    // Scale in: stop the extra tasks, keeping the rest balanced over zones.
    if (keep.length > desired) {
      const counts = this.spreadCounts(live);
      for (let extra = keep.length - desired; extra > 0; extra--) {
        const task = this.nextToStop(keep, counts)!;
        this.stopTask(task, "Scaling activity initiated by (deployment)");
        this.uncount(counts, task);
      }
      return;
    }
    // Start replacements, within maximumPercent.
    let running = live.length;
    const placed = [...live];
    for (let missing = desired - keep.length; missing > 0 && running < Math.max(ceiling, desired); missing--) {
      const ci = this.place(service, placed);
      if (!ci) {
        const now = this.clock.now();
        if (service.lastPlacementFailureAt === undefined || now - service.lastPlacementFailureAt > 60_000) {
          service.lastPlacementFailureAt = now;
          this.serviceEvent(service, "was unable to place a task because no container instance met all of its requirements.");
        }
        break;
      }
      const task = this.startTask(service, service.clusterName, `service:${service.name}`, ci, service.cpu, service.memory);
      placed.push(task);
      running++;
      this.serviceEvent(service, `has started 1 tasks: (task ${task.arn.split("/").pop()}).`);
    }
    // Stop replaced tasks while the healthy count allows it: unhealthy ones first, then in the
    // order that keeps the service balanced over zones (nextToStop).
    const healthy = live.filter((t) => t.lastStatus === "RUNNING" && t.healthy).length;
    let stoppable = healthy - floor;
    const keepHealthy = keep.filter((t) => t.lastStatus === "RUNNING" && t.healthy).length;
    const replacementReady = keepHealthy >= desired || keep.length + replace.length > desired;
    const candidates = replace.filter((t) => !t.healthy || (stoppable > 0 && replacementReady));
    if (candidates.length === 0) return;
    const counts = this.spreadCounts(placed);
    for (let task = this.nextToStop(candidates, counts); task; task = this.nextToStop(candidates, counts)) {
      candidates.splice(candidates.indexOf(task), 1);
      if (task.healthy) {
        if (stoppable <= 0) continue;
        stoppable--;
      }
      const ci = this.containerInstances.get(task.containerInstanceArn);
      this.stopTask(task, ci?.status === "DRAINING" ? "Service is being drained" : "Deployment replaced the task");
      this.uncount(counts, task);
    }
  }

  /** A service's tasks per zone and per container instance. */
  private spreadCounts(tasks: readonly SimTask[]): { zone: Map<string, number>; instance: Map<string, number> } {
    const zone = new Map<string, number>();
    const instance = new Map<string, number>();
    for (const t of tasks) {
      zone.set(t.az, (zone.get(t.az) ?? 0) + 1);
      instance.set(t.containerInstanceArn, (instance.get(t.containerInstanceArn) ?? 0) + 1);
    }
    return { zone, instance };
  }

  private uncount(counts: { zone: Map<string, number>; instance: Map<string, number> }, task: SimTask): void {
    counts.zone.set(task.az, (counts.zone.get(task.az) ?? 1) - 1);
    counts.instance.set(task.containerInstanceArn, (counts.instance.get(task.containerInstanceArn) ?? 1) - 1);
  }

  /**
   * Which of `candidates` the scheduler stops next. The ECS developer guide ("Update Amazon ECS
   * service parameters") says that when the service scheduler stops running tasks it keeps the
   * service balanced over zones: it favours the instances whose zone holds the most of the
   * service's tasks, then the instances holding the most of them. Modelled for scale-in and for
   * the old tasks a deployment replaces: tasks not (yet) healthy go first (stopping them costs no
   * healthy task), then the zone with the most of the service's tasks (`counts`: every task not
   * told to stop, old and new deployment alike, PENDING ones too), then the instance with the
   * most; ties go to the oldest task, then by ARN (deterministic).
   */
  private nextToStop(candidates: readonly SimTask[], counts: { zone: Map<string, number>; instance: Map<string, number> }): SimTask | undefined {
    let best: SimTask | undefined;
    for (const t of candidates) {
      if (!best) {
        best = t;
        continue;
      }
      const order =
        Number(t.healthy) - Number(best.healthy) ||
        (counts.zone.get(best.az) ?? 0) - (counts.zone.get(t.az) ?? 0) ||
        (this.behaviour.zoneTies === "last" ? collate(best.az, t.az) : 0) ||
        (counts.instance.get(best.containerInstanceArn) ?? 0) - (counts.instance.get(t.containerInstanceArn) ?? 0) ||
        t.createdAt - best.createdAt ||
        (t.arn < best.arn ? -1 : t.arn > best.arn ? 1 : 0);
      if (order < 0) best = t;
    }
    return best;
  }

  /** Daemon services: one task on every ACTIVE instance; a DRAINING instance keeps its daemon. */
  private scheduleDaemon(service: SimService): void {
    const live = this.liveTasksOfService(service);
    const covered = new Set(live.map((t) => t.containerInstanceArn));
    for (const ci of this.placeable(service.clusterName)) {
      if (!covered.has(ci.arn)) this.startTask(service, service.clusterName, `service:${service.name}`, ci, service.cpu, service.memory);
    }
  }

  private updateDeployments(service: SimService): void {
    const primary = service.deployments.find((d) => d.status === "PRIMARY")!;
    // Read, not changed, here: the live set itself rather than a copy (this runs for every service on every pass).
    const live: ReadonlySet<SimTask> = this.serviceLive.get(`${service.clusterName}/${service.name}`) ?? new Set();
    const holds = (deploymentId: string) => {
      for (const t of live) if (t.deploymentId === deploymentId) return true;
      return false;
    };
    for (const old of service.deployments.filter((d) => d.status === "ACTIVE")) {
      if (!holds(old.id)) old.status = "INACTIVE";
    }
    for (let i = service.deployments.length - 1; i >= 0; i--) if (service.deployments[i].status === "INACTIVE") service.deployments.splice(i, 1);
    const target = service.schedulingStrategy === "DAEMON" ? this.placeable(service.clusterName).length : service.desiredCount;
    let steady = live.size === target;
    if (steady) for (const t of live) if (!(t.deploymentId === primary.id && t.lastStatus === "RUNNING" && t.healthy)) { steady = false; break; }
    if (primary.rolloutState !== "IN_PROGRESS") {
      // ECS reports a steady state again (SERVICE_STEADY_STATE) once a service that could not place a task runs them all.
      // (The last steady-state event is looked for only when that can matter.)
      if (steady && service.deployments.length === 1 && service.lastPlacementFailureAt !== undefined) {
        const lastSteadyAt = service.events.find((e) => e.message.endsWith("has reached a steady state."))?.createdAt ?? -Infinity;
        if (service.lastPlacementFailureAt > lastSteadyAt) this.serviceEvent(service, "has reached a steady state.");
      }
      return;
    }
    if (steady && service.deployments.length === 1) {
      primary.rolloutState = "COMPLETED";
      primary.updatedAt = this.clock.now();
      this.serviceEvent(service, "has reached a steady state.");
    } else if (primary.failedTasks >= Math.max(10, 2 * service.desiredCount)) {
      primary.rolloutState = "FAILED";
      primary.updatedAt = this.clock.now();
      this.serviceEvent(service, "deployment failed: tasks failed to start.");
    }
  }

  /**
   * UpdateService: a new desired count, a new deployment configuration (it bounds the running
   * deployment from the next scheduler pass on; on its own it starts no deployment), and/or a new
   * deployment replacing every task.
   */
  updateService(
    service: SimService,
    change: {
      desiredCount?: number;
      forceNewDeployment?: boolean;
      deploymentConfiguration?: { minimumHealthyPercent?: number; maximumPercent?: number };
      availabilityZoneRebalancing?: "ENABLED" | "DISABLED";
      capacityProviderStrategy?: readonly CapacityProviderStrategyItem[];
    },
  ): void {
    const now = this.clock.now();
    // Starts no deployment (the API reference says so).
    if (change.availabilityZoneRebalancing !== undefined) service.availabilityZoneRebalancing = change.availabilityZoneRebalancing;
    if (change.capacityProviderStrategy) service.capacityProviderStrategy = change.capacityProviderStrategy;
    if (change.desiredCount !== undefined) service.desiredCount = change.desiredCount;
    const configuration = change.deploymentConfiguration;
    if (configuration?.minimumHealthyPercent !== undefined) service.minimumHealthyPercent = configuration.minimumHealthyPercent;
    if (configuration?.maximumPercent !== undefined) service.maximumPercent = configuration.maximumPercent;
    const primary = service.deployments.find((d) => d.status === "PRIMARY")!;
    if (change.forceNewDeployment) {
      primary.status = "ACTIVE";
      service.deployments.unshift({ id: this.id("ecs-svc/", 19), status: "PRIMARY", rolloutState: "IN_PROGRESS", createdAt: now, updatedAt: now, failedTasks: 0 });
    } else if (change.desiredCount !== undefined) {
      primary.rolloutState = "IN_PROGRESS";
      primary.updatedAt = now;
    }
    this.poke();
  }

  setContainerInstanceStatus(ci: SimContainerInstance, status: "ACTIVE" | "DRAINING"): void {
    if (ci.status === status) return;
    ci.status = status;
    this.note(`${ci.ec2InstanceId} ${status}`);
    // PENDING service tasks on a draining instance stop at once (ECS's documented behaviour).
    if (status === "DRAINING") {
      for (const task of this.tasksOnInstance(ci.arn)) {
        if (task.serviceName && task.lastStatus === "PENDING") this.stopTask(task, "Service is being drained");
      }
    }
    for (const service of this.services.values()) {
      if (service.clusterName === ci.clusterName && service.deployments[0].rolloutState === "COMPLETED" && status === "DRAINING") {
        service.deployments[0].rolloutState = "IN_PROGRESS";
      }
    }
    this.poke();
  }

  // ----------------------------------------------------------------------- EC2 and Auto Scaling

  createGroup(spec: GroupSpec): SimGroup {
    const group: SimGroup = {
      ...spec,
      arn: this.arn("autoscaling", `autoScalingGroup:${this.rng.hex(8)}-${this.rng.hex(4)}-${this.rng.hex(4)}-${this.rng.hex(4)}-${this.rng.hex(12)}:autoScalingGroupName/${spec.name}`),
      createdAt: this.clock.now(),
      min: spec.minSize,
      max: spec.maxSize,
      desired: spec.desiredCapacity,
      suspended: new Set(),
      instanceIds: [],
      deleting: false,
      refreshes: [],
    };
    this.groups.set(spec.name, group);
    this.note(`group ${spec.name} created (${spec.desiredCapacity} x ${spec.imageId})`);
    this.reconcileGroup(group);
    return group;
  }

  /**
   * A new default version of the group's launch template, with `imageId` (a refresh roll's
   * apply): instances launched from now on run it; running ones keep theirs.
   */
  updateLaunchTemplateImage(name: string, imageId: string): void {
    const group = this.groups.get(name);
    if (!group) throw new Error(`no group ${name}`);
    group.imageId = imageId;
    this.note(`group ${name} launch template updated (${imageId})`);
  }

  /** Instances of a group not on their way out. */
  activeInstances(group: SimGroup): SimInstance[] {
    return group.instanceIds.map((id) => this.instances.get(id)!).filter((i) => i.lifecycle === "Pending" || i.lifecycle === "InService");
  }

  private reconcileGroups(): void {
    for (const group of this.groups.values()) this.reconcileGroup(group);
  }

  /** Launches or terminates toward the desired capacity, balancing zones. */
  private reconcileGroup(group: SimGroup): void {
    const active = this.activeInstances(group);
    if (active.length < group.desired && !group.suspended.has("Launch")) {
      const zones = group.subnets.filter((s) => !this.behaviour.zonesWithoutCapacity.has(s.az));
      // Active instances per zone, counted once and kept as instances launch (each launch is active).
      const perZone = new Map<string, number>();
      for (const i of active) perZone.set(i.az, (perZone.get(i.az) ?? 0) + 1);
      const count = (az: string) => perZone.get(az) ?? 0;
      for (let n = active.length; n < group.desired && zones.length > 0; n++) {
        let subnet = zones[0];
        for (const z of zones) if (count(z.az) - count(subnet.az) < 0 || (count(z.az) === count(subnet.az) && collate(z.az, subnet.az) < 0)) subnet = z;
        this.launch(group, subnet);
        perZone.set(subnet.az, count(subnet.az) + 1);
      }
    } else if (active.length > group.desired && !group.suspended.has("Terminate")) {
      // Default termination policy: the zone with most instances, then the oldest instance (then by
      // id). Each zone's instances are sorted once, oldest first; each victim is a zone's head.
      const oldest = (a: SimInstance, b: SimInstance) => a.launchedAt - b.launchedAt || collate(a.id, b.id);
      const byZone = new Map<string, SimInstance[]>();
      for (const i of active) {
        const list = byZone.get(i.az);
        if (list) list.push(i);
        else byZone.set(i.az, [i]);
      }
      const heads = new Map<string, number>();
      for (const [az, list] of byZone) {
        list.sort(oldest);
        heads.set(az, 0);
      }
      for (let n = active.length; n > group.desired; n--) {
        let victim: SimInstance | undefined;
        let victimZone = 0;
        for (const [az, list] of byZone) {
          const left = list.length - heads.get(az)!;
          if (left === 0) continue;
          const head = list[heads.get(az)!];
          if (!victim || left > victimZone || (left === victimZone && oldest(head, victim) < 0)) {
            victim = head;
            victimZone = left;
          }
        }
        heads.set(victim!.az, heads.get(victim!.az)! + 1);
        this.beginTermination(victim!);
      }
    }
  }

  private launch(group: SimGroup, subnet: { subnetId: string; az: string }): SimInstance {
    const instance: SimInstance = {
      id: this.id("i-"),
      groupName: group.name,
      az: subnet.az,
      subnetId: subnet.subnetId,
      imageId: group.imageId,
      instanceType: group.instanceType,
      launchedAt: this.clock.now(),
      state: "pending",
      lifecycle: "Pending",
    };
    this.instances.set(instance.id, instance);
    group.instanceIds.push(instance.id);
    const bootFails = this.rng.chance(this.behaviour.bootFailureRate);
    this.clock.after(this.seconds(this.behaviour.bootSeconds), () => {
      if (instance.state !== "pending") return;
      instance.state = "running";
      instance.lifecycle = "InService";
      this.note(`${instance.id} InService in ${instance.az} (${instance.imageId})`);
      if (bootFails) return; // the agent never registers
      this.clock.after(this.seconds(this.behaviour.agentRegistrationSeconds), () => {
        if (instance.state === "running") this.register(instance, group.clusterName);
      });
    });
    return instance;
  }

  /** The ECS agent registers the instance with its cluster. */
  register(instance: SimInstance, clusterName: string): SimContainerInstance {
    const size = INSTANCE_SIZES[instance.instanceType.split(".")[1]] ?? { vcpu: 2, memory: 8192 };
    const ci: SimContainerInstance = {
      arn: this.arn("ecs", `container-instance/${clusterName}/${this.rng.hex(32)}`),
      clusterName,
      ec2InstanceId: instance.id,
      az: instance.az,
      imageId: instance.imageId,
      instanceType: instance.instanceType,
      cpu: size.vcpu * 1024,
      memory: size.memory - 512,
      status: "ACTIVE",
      agentConnected: true,
      registeredAt: this.clock.now(),
    };
    this.containerInstances.set(ci.arn, ci);
    this.byArnOrder.splice(sortedIndex(this.byArnOrder, ci.arn), 0, ci);
    const ofEc2 = this.containerInstancesByEc2.get(ci.ec2InstanceId);
    if (ofEc2) ofEc2.push(ci);
    else this.containerInstancesByEc2.set(ci.ec2InstanceId, [ci]);
    instance.containerInstanceArn = ci.arn;
    this.note(`${instance.id} registered with ${clusterName}`);
    this.poke();
    return ci;
  }

  /** Terminating: through the group's terminating hooks, if any, then shut down. */
  beginTermination(instance: SimInstance): void {
    if (instance.lifecycle !== "Pending" && instance.lifecycle !== "InService") return;
    if (this.managedDraining(instance)) return;
    this.terminateThroughHooks(instance);
  }

  private terminateThroughHooks(instance: SimInstance): void {
    const group = this.groups.get(instance.groupName);
    const hook = group?.hooks.find((h) => h.transition === "autoscaling:EC2_INSTANCE_TERMINATING");
    if (!hook) {
      this.proceedTermination(instance);
      return;
    }
    instance.lifecycle = "Terminating:Wait";
    instance.action = {
      token: `${this.rng.hex(8)}-${this.rng.hex(4)}-${this.rng.hex(4)}-${this.rng.hex(4)}-${this.rng.hex(12)}`,
      hookName: hook.name,
      expiresAt: this.clock.now() + hook.heartbeatTimeoutSeconds * 1000,
      defaultResult: hook.defaultResult,
    };
    this.note(`${instance.id} Terminating:Wait (${hook.name})`);
    const sink = this.lifecycleSink;
    if (sink) {
      const event = {
        version: "0",
        id: this.rng.hex(32),
        "detail-type": "EC2 Instance-terminate Lifecycle Action",
        source: "aws.autoscaling",
        account: this.accountId,
        time: new Date(this.clock.now()).toISOString(),
        region: this.region,
        resources: [group!.arn],
        detail: {
          LifecycleActionToken: instance.action.token,
          AutoScalingGroupName: group!.name,
          LifecycleHookName: hook.name,
          EC2InstanceId: instance.id,
          LifecycleTransition: hook.transition,
          Origin: "AutoScalingGroup",
          Destination: "EC2",
        },
      };
      // EventBridge delivers within a moment; the handler runs while time stands still.
      this.clock.after(500, () => void this.clock.track(sink(event).catch((error) => this.note(`drain hook failed: ${error}`))));
    }
  }

  // ----------------------------------------------------------------------- capacity providers

  createCapacityProvider(name: string, groupName: string, managedDraining: boolean): SimCapacityProvider {
    const provider: SimCapacityProvider = { name, arn: this.arn("ecs", `capacity-provider/${name}`), groupName, managedDraining };
    this.capacityProviders.set(name, provider);
    this.note(`capacity provider ${name} created (group ${groupName})`);
    return provider;
  }

  /** The provider of a group, if any. */
  providerOfGroup(groupName: string): SimCapacityProvider | undefined {
    for (const p of this.capacityProviders.values()) if (p.groupName === groupName) return p;
    return undefined;
  }

  /** Tasks not STOPPED, of services placed by a capacity provider strategy, on the instances of a provider's group. */
  tasksOnProvider(name: string): number {
    const provider = this.capacityProviders.get(name);
    if (!provider) return 0;
    let count = 0;
    for (const ci of this.containerInstances.values()) {
      if (this.instances.get(ci.ec2InstanceId)?.groupName !== provider.groupName) continue;
      for (const task of this.tasksOnInstance(ci.arn)) {
        const service = task.serviceName ? this.services.get(`${task.clusterName}/${task.serviceName}`) : undefined;
        if (task.lastStatus !== "STOPPED" && service?.capacityProviderStrategy) count++;
      }
    }
    return count;
  }

  /** Where a service's tasks may go: undefined without a strategy (anywhere). */
  private providerFilter(service: SimService): ((ci: SimContainerInstance) => boolean) | undefined {
    const strategy = service.capacityProviderStrategy === "default" ? this.clusters.get(service.clusterName)?.defaultStrategy ?? [] : service.capacityProviderStrategy;
    if (!strategy) return undefined;
    const groups = new Set(strategy.map((s) => this.capacityProviders.get(s.capacityProvider)?.groupName).filter((g) => g !== undefined));
    return (ci) => groups.has(this.instances.get(ci.ec2InstanceId)?.groupName ?? "");
  }

  /**
   * Managed draining: ECS holds a terminating instance of its provider's group, sets it DRAINING
   * and lets it go once its service tasks are gone (no check of the services' health beyond the
   * scheduler's own), or after MANAGED_DRAINING_MAX_MS; then the group's own hooks, if any.
   */
  private managedDraining(instance: SimInstance): boolean {
    const provider = this.providerOfGroup(instance.groupName);
    const ci = instance.containerInstanceArn ? this.containerInstances.get(instance.containerInstanceArn) : undefined;
    if (!provider?.managedDraining || !ci || ci.status === "INACTIVE") return false;
    instance.lifecycle = "Terminating:Wait";
    this.note(`${instance.id} Terminating:Wait (ECS managed draining)`);
    this.setContainerInstanceStatus(ci, "DRAINING");
    const until = this.clock.now() + MANAGED_DRAINING_MAX_MS;
    const check = () => {
      // Daemon tasks go last, with the instance (ECS stops them once the others have left).
      const left = this.tasksOnInstance(ci.arn).filter((t) => t.serviceName && t.lastStatus !== "STOPPED" && this.services.get(`${t.clusterName}/${t.serviceName}`)?.schedulingStrategy !== "DAEMON").length;
      if (left > 0 && this.clock.now() < until) {
        this.clock.after(5_000, check);
        return;
      }
      this.note(`${instance.id} managed draining done${left > 0 ? ` (48 h ceiling, ${left} task(s) left)` : ""}`);
      instance.lifecycle = "InService";
      this.terminateThroughHooks(instance);
    };
    this.clock.after(5_000, check);
    return true;
  }

  /** CompleteLifecycleAction / heartbeat timeout: the instance goes. */
  completeLifecycleAction(instance: SimInstance, result: string): void {
    if (instance.lifecycle !== "Terminating:Wait") return;
    this.note(`${instance.id} lifecycle action ${result}`);
    instance.action = undefined;
    this.proceedTermination(instance);
  }

  private expireLifecycleActions(): void {
    const now = this.clock.now();
    for (const instance of this.instances.values()) {
      if (instance.action && instance.action.expiresAt <= now) {
        this.note(`${instance.id} heartbeat timeout: ${instance.action.defaultResult}`);
        this.completeLifecycleAction(instance, instance.action.defaultResult);
      }
    }
  }

  private proceedTermination(instance: SimInstance): void {
    instance.lifecycle = "Terminating:Proceed";
    instance.state = "shutting-down";
    this.clock.after(this.seconds(this.behaviour.shutdownSeconds), () => {
      instance.state = "terminated";
      instance.lifecycle = "Terminated";
      this.note(`${instance.id} terminated`);
      const ci = instance.containerInstanceArn ? this.containerInstances.get(instance.containerInstanceArn) : undefined;
      if (ci) {
        ci.status = "INACTIVE";
        ci.agentConnected = false;
        for (const task of this.tasksOnInstance(ci.arn)) {
          if (task.lastStatus !== "STOPPED") this.stopTask(task, `Host EC2 (instance ${instance.id}) terminated.`, undefined, 0);
        }
      }
      const group = this.groups.get(instance.groupName);
      if (group) group.instanceIds.splice(group.instanceIds.indexOf(instance.id), 1);
      this.poke();
    });
  }

  /** Scales a group to zero through its hooks; resolves once its instances are gone and it is deleted. */
  async deleteGroup(name: string): Promise<void> {
    const group = this.groups.get(name);
    if (!group) return;
    group.deleting = true;
    group.min = 0;
    group.desired = 0;
    group.suspended.delete("Terminate");
    this.reconcileGroup(group);
    while (group.instanceIds.length > 0) await this.clock.sleep(5_000);
    this.groups.delete(name);
    this.note(`group ${name} deleted`);
  }

  /** Resolves true once `count` instances of the group are InService (terraform's wait_for_capacity). */
  async waitForCapacity(name: string, timeoutMs: number): Promise<boolean> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      const group = this.groups.get(name);
      if (!group) return false;
      const inService = this.activeInstances(group).filter((i) => i.lifecycle === "InService").length;
      if (inService >= group.min && inService >= group.desired) return true;
      if (this.clock.now() >= deadline) return false;
      await this.clock.sleep(5_000);
    }
  }

  // ----------------------------------------------------------------------- instance refresh

  startInstanceRefresh(group: SimGroup, minHealthyPercentage: number): SimInstanceRefresh {
    const original = this.activeInstances(group).map((i) => i.id);
    const refresh: SimInstanceRefresh = {
      id: `${this.rng.hex(8)}-${this.rng.hex(4)}-${this.rng.hex(4)}-${this.rng.hex(4)}-${this.rng.hex(12)}`,
      status: "Pending",
      startedAt: this.clock.now(),
      minHealthyPercentage,
      toReplace: new Set(original),
      total: original.length,
    };
    group.refreshes.unshift(refresh);
    // Replaces the old instances a few at a time: terminate (through the hooks), let the group
    // launch the replacement, and only go on while enough instances stay in service.
    const step = () => {
      if (refresh.status === "Cancelled") return;
      refresh.status = "InProgress";
      const present = new Set(group.instanceIds);
      const remaining = original.filter((id) => present.has(id));
      const active = this.activeInstances(group);
      if (remaining.length === 0 && !active.some((i) => i.lifecycle === "Pending")) {
        refresh.status = "Successful";
        refresh.endedAt = this.clock.now();
        return;
      }
      const inService = active.filter((i) => i.lifecycle === "InService").length;
      const floor = Math.ceil((group.desired * minHealthyPercentage) / 100);
      const waiting = active.filter((i) => refresh.toReplace.has(i.id));
      const settled = !active.some((i) => i.lifecycle === "Pending") && active.length >= group.desired;
      if (settled) {
        for (const instance of waiting.slice(0, Math.max(1, inService - floor))) {
          refresh.toReplace.delete(instance.id);
          this.beginTermination(instance);
        }
      }
      this.clock.after(10_000, step);
    };
    this.clock.after(1_000, step);
    return refresh;
  }

  percentComplete(refresh: SimInstanceRefresh): number {
    if (refresh.total === 0) return 100;
    return Math.round(((refresh.total - refresh.toReplace.size) / refresh.total) * 100);
  }
}

/** Where `arn` goes in `list` (sorted by `collate` of ARN). */
function sortedIndex(list: readonly SimContainerInstance[], arn: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (collate(list[mid].arn, arn) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A cluster's placeable container instances during one scheduler pass, per zone in buckets by
 * task count, each bucket in `collate` order of ARN (as `instances` come), kept as counts change.
 */
class SpreadIndex {
  private readonly zones = new Map<string, SimContainerInstance[][]>();
  /** Each instance's position in `collate` order (to insert into a bucket by number, not by collation). */
  private readonly rank = new Map<SimContainerInstance, number>();

  constructor(instances: readonly SimContainerInstance[], taskCount: (arn: string) => number) {
    instances.forEach((ci, i) => {
      this.rank.set(ci, i);
      this.bucket(ci.az, taskCount(ci.arn)).push(ci);
    });
  }

  has(ci: SimContainerInstance): boolean {
    return this.rank.has(ci);
  }

  private bucket(zone: string, count: number): SimContainerInstance[] {
    let buckets = this.zones.get(zone);
    if (!buckets) this.zones.set(zone, (buckets = []));
    while (buckets.length <= count) buckets.push([]);
    return buckets[count];
  }

  /** An instance's task count went from `from` to `to`. */
  move(ci: SimContainerInstance, from: number, to: number): void {
    const rank = this.rank.get(ci);
    if (rank === undefined) return;
    const source = this.bucket(ci.az, from);
    const at = source.indexOf(ci);
    if (at < 0) throw new Error(`spread index: ${ci.arn} is not among the instances with ${from} tasks`);
    source.splice(at, 1);
    const target = this.bucket(ci.az, to);
    let lo = 0;
    let hi = target.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.rank.get(target[mid])! < rank) lo = mid + 1;
      else hi = mid;
    }
    target.splice(lo, 0, ci);
  }

  /** Per zone, the first instance in (task count, ARN) order that `ok` accepts. */
  *firstPerZone(ok: (ci: SimContainerInstance) => boolean): Iterable<SimContainerInstance> {
    for (const buckets of this.zones.values()) {
      search: for (const bucket of buckets) {
        for (const ci of bucket) {
          if (ok(ci)) {
            yield ci;
            break search;
          }
        }
      }
    }
  }
}
