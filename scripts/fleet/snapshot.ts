/**
 * One poll cycle of a cluster, as an immutable value: the Auto Scaling groups with their
 * instances, the ECS container instances, services and tasks. Everything the driver concludes
 * (migration, balance, verdicts) is a pure function of snapshots; `takeSnapshot` (the end of
 * this file) is the poller that makes them. Given the previous snapshot of the cluster, a poll
 * describes only the tasks that can have changed since (`tasksToDescribe`) and reuses the rest.
 */
import { type AutoScalingGroup, paginateDescribeAutoScalingGroups } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, type Instance } from "@aws-sdk/client-ec2";
import {
  type ContainerInstance,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  type Service,
  type Task,
  paginateListContainerInstances,
  paginateListServices,
  paginateListTasks,
} from "@aws-sdk/client-ecs";
import { UsageError } from "../core/errors";
import type { AwsClients } from "./clients";

export interface GroupInstance {
  readonly instanceId: string;
  readonly availabilityZone: string;
  /** e.g. Pending, InService, Terminating:Wait, Terminating:Proceed, Terminated. */
  readonly lifecycleState: string;
  /**
   * The image and launch time (epoch ms) EC2 reports, set only for an InService instance with no
   * container instance in the cluster (its ECS agent has not registered): what the boot check
   * (fleet/boot.ts) judges. Other instances are not described, so a settled fleet costs no EC2 call.
   */
  readonly imageId?: string;
  readonly launchedAt?: number;
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
  /** As DescribeServices reports it, e.g. spread over `attribute:ecs.availability-zone`, or binpack on `cpu`. */
  readonly placementStrategy?: readonly PlacementStrategySnapshot[];
}

export interface PlacementStrategySnapshot {
  /** random, spread or binpack. */
  readonly type: string;
  readonly field?: string;
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
  // No health status: it changes while a task stays RUNNING on an unchanged instance, so keeping
  // it fresh would cost a describe of every task every poll, and nothing judges by it.
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
  /** API calls this cycle made (for the bound in docs/performance.md). */
  readonly apiCalls: number;
}

// ---------------------------------------------------------------------------------------------
// The poller: one cycle of API calls, batched and paginated, into a FleetSnapshot.

/** The tag by which a cluster's Auto Scaling groups are found (set by the EcsCluster construct). */
export const CLUSTER_TAG = "amiroll:cluster";
/** Calls in flight at once during a cycle, list pages and describes together. */
export const DEFAULT_CONCURRENCY = 4;

/** Ids per describe call (DescribeContainerInstances, DescribeTasks) and per list page. */
const BATCH = 100;
/** Services per DescribeServices call. */
const SERVICE_BATCH = 10;

/**
 * The most API calls one cycle may make (docs/performance.md's bound): a list page and a describe per
 * 100 container instances and per 100 running tasks, a describe per 10 services, and 5 more
 * (the groups, the service list, one page of stopped tasks and their describe, one spare), plus
 * an EC2 describe per 100 `unregistered` instances (InService in the groups, not registered with
 * ECS: booting, or failed to boot; none in a settled fleet).
 * `takeSnapshot` keeps to it while the cluster has at least one instance, at most 200 services
 * and at most 100 Auto Scaling groups.
 */
export function apiCallBound(instances: number, tasks: number, services: number, unregistered = 0): number {
  return 2 * Math.ceil(instances / BATCH) + 2 * Math.ceil(tasks / BATCH) + Math.ceil(services / SERVICE_BATCH) + Math.ceil(unregistered / BATCH) + 5;
}

export interface SnapshotOptions {
  /** The clock's now when the cycle begins: the snapshot's `at`. */
  readonly now: number;
  /** Service events from before this time (epoch ms) are left out (the watch's start). */
  readonly since: number;
  /** Calls in flight at once. @default 4 */
  readonly concurrency?: number;
  /**
   * The last snapshot of the same cluster: its tasks that cannot have changed are reused, not
   * described again (see `tasksToDescribe`). Without it (or for another cluster) every task is described.
   */
  readonly previous?: FleetSnapshot;
  /**
   * Groups and instances only (tasks and services left empty): all the boot check reads, polled
   * through a whole apply, where listing every task of the cluster would be most of the calls.
   */
  readonly instancesOnly?: boolean;
  /**
   * Only the tasks of the container instances this accepts (one ListTasks per instance, by its
   * `containerInstance` filter), not the cluster's: the replace canary reads the canary's and
   * the drained instances' tasks, not the 6,000 of a 600-instance cluster every 10 s.
   */
  readonly tasksOn?: (ci: ContainerInstanceSnapshot) => boolean;
}

/** What can change about a container instance's tasks without them leaving the RUNNING list. */
const instanceKey = (ci: ContainerInstanceSnapshot) => `${ci.status}/${ci.runningTasksCount}/${ci.pendingTasksCount}/${ci.agentConnected}`;

/**
 * The container instances (ARNs) whose status or task counts differ from the previous
 * snapshot's, or that it did not have: their tasks are described again.
 */
export function changedInstances(previous: readonly ContainerInstanceSnapshot[], current: readonly ContainerInstanceSnapshot[]): Set<string> {
  const before = new Map(previous.map((ci) => [ci.arn, instanceKey(ci)]));
  return new Set(current.filter((ci) => before.get(ci.arn) !== instanceKey(ci)).map((ci) => ci.arn));
}

/**
 * Which of a listing's tasks a poll must describe, given what the previous poll saw of them
 * (`known`, by ARN): one it did not see (new since the last list), one not yet settled, and one
 * on an instance whose status or counts changed (`changed`, when known; undefined = not known
 * yet). A settled task is a STOPPED one (it changes no more), or, among the tasks meant to run,
 * a RUNNING one: it changes no more while it stays in that list (told to stop, it leaves it),
 * and a change to it shows in its instance's counts. The rest are reused as they were.
 * `waiting` are the settled tasks whose instance's change is not known yet.
 */
export function tasksToDescribe(
  listed: readonly string[],
  known: ReadonlyMap<string, TaskSnapshot>,
  changed?: ReadonlySet<string>,
): { describe: string[]; reuse: TaskSnapshot[]; waiting: string[] } {
  const describe: string[] = [];
  const reuse: TaskSnapshot[] = [];
  const waiting: string[] = [];
  for (const arn of listed) {
    const task = known.get(arn);
    if (!task || !settled(task)) describe.push(arn);
    else if (task.lastStatus === "STOPPED") reuse.push(task);
    else if (!changed) waiting.push(arn);
    else if (changed.has(task.containerInstanceArn)) describe.push(arn);
    else reuse.push(task);
  }
  return { describe, reuse, waiting };
}

const settled = (task: TaskSnapshot): boolean => task.lastStatus === "STOPPED" || (task.lastStatus === "RUNNING" && task.desiredStatus === "RUNNING");

/**
 * One poll cycle of `clusterName` (the ECS cluster's name, which its groups carry in the
 * `amiroll:cluster` tag). Lists are paginated with the SDK's paginators (100 per page), describes
 * batched (100 ids, 10 services per call) and started as soon as a batch is full, with at most
 * `concurrency` calls in flight. Throttling is the SDK's to retry; a cluster ECS does not know
 * is a UsageError. `apiCalls` counts the calls sent (a retried call once). InService instances
 * of the groups that have no container instance are then described with EC2 (100 per call) for
 * their image and launch time. Groups, container instances and services are described every
 * cycle; tasks only as `tasksToDescribe` says, given `options.previous`.
 */
export async function takeSnapshot(clients: AwsClients, clusterName: string, options: SnapshotOptions): Promise<FleetSnapshot> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`snapshot concurrency must be a positive whole number, not ${concurrency}`);
  const cycle = new Cycle(concurrency);
  const cluster = clusterName;
  const { ecs, autoScaling } = clients;
  const previous = options.previous?.clusterName === cluster ? options.previous : undefined;
  const known = new Map<string, TaskSnapshot>();
  for (const t of previous?.tasks ?? []) known.set(t.arn, t);
  const knownStopped = new Map((previous?.stoppedTasks ?? []).map((t) => [t.arn, t]));

  const groups: AutoScalingGroup[] = [];
  const containerInstances = new Batches<ContainerInstance>(BATCH, async (ids) => {
    const out = await cycle.call(() => ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: ids })));
    return out.containerInstances ?? [];
  });
  const services = new Batches<Service>(SERVICE_BATCH, async (ids) => {
    const out = await cycle.call(() => ecs.send(new DescribeServicesCommand({ cluster, services: ids, include: ["TAGS"] })));
    return out.services ?? [];
  });
  const describeTasks = async (ids: string[]) => {
    const out = await cycle.call(() => ecs.send(new DescribeTasksCommand({ cluster, tasks: ids })));
    return out.tasks ?? [];
  };
  const tasks = new Batches<Task>(BATCH, describeTasks);
  const stopped = new Batches<Task>(BATCH, describeTasks);
  // Running tasks listed so far, and the settled ones waiting for their instances' counts.
  const listedTasks: string[] = [];
  const waiting: string[] = [];

  const paging = { pageSize: BATCH, withCommand: cycle.counted };
  let instances: ContainerInstanceSnapshot[] = [];
  let stoppedListed: string[] = [];
  try {
    const instancesDescribed = cycle
      .eachPage(paginateListContainerInstances({ client: ecs, ...paging }, { cluster }), (page) => containerInstances.add(page.containerInstanceArns))
      .then(() => containerInstances.done())
      .then((described) => (instances = described.map(containerInstanceSnapshot)));
    const onTaskPage = (page: { taskArns?: string[] }) => {
      const arns = page.taskArns ?? [];
      listedTasks.push(...arns);
      // What must be described whatever the instances say goes now; the rest once they are known.
      const plan = tasksToDescribe(arns, known);
      tasks.add(plan.describe);
      waiting.push(...plan.waiting);
    };
    const listTasks = (containerInstance?: string) => cycle.eachPage(paginateListTasks({ client: ecs, ...paging }, { cluster, desiredStatus: "RUNNING", ...(containerInstance && { containerInstance }) }), onTaskPage);
    const tasksOn = options.tasksOn;
    const tasksListed = options.instancesOnly
      ? Promise.resolve()
      : tasksOn
        ? instancesDescribed.then((current) => Promise.all(current.filter(tasksOn).map((ci) => listTasks(ci.arn))))
        : listTasks();
    await Promise.all([
      cycle.eachPage(
        paginateDescribeAutoScalingGroups({ client: autoScaling, ...paging }, { Filters: [{ Name: `tag:${CLUSTER_TAG}`, Values: [cluster] }] }),
        (page) => groups.push(...(page.AutoScalingGroups ?? [])),
      ),
      instancesDescribed,
      options.instancesOnly ? undefined : cycle.eachPage(paginateListServices({ client: ecs, ...paging }, { cluster }), (page) => services.add(page.serviceArns)).then(() => services.done()),
      Promise.all([tasksListed, instancesDescribed]).then(([, current]) => {
        tasks.add(tasksToDescribe(waiting, known, changedInstances(previous?.containerInstances ?? [], current)).describe);
        return tasks.done();
      }),
      // One page of stopped tasks is enough to see a crash loop; more would cost a call per 100.
      options.instancesOnly ? undefined : cycle
        .call(() => ecs.send(new ListTasksCommand({ cluster, desiredStatus: "STOPPED", maxResults: BATCH })))
        .then((page) => {
          stoppedListed = page.taskArns ?? [];
          stopped.add(tasksToDescribe(stoppedListed, knownStopped).describe);
          return stopped.done();
        }),
    ]);
  } catch (error) {
    if ((error as Error).name === "ClusterNotFoundException") {
      const region = await ecs.config.region().catch(() => "its region");
      throw new UsageError(`ECS cluster ${cluster} not found in ${region} (check the environment's account and region)`);
    }
    throw error;
  }

  const launches = await describeUnregistered(clients, cycle, groups, instances);
  const zoneOf = new Map(instances.map((ci) => [ci.arn, ci.availabilityZone]));
  const taskOf = (task: Task) => taskSnapshot(task, zoneOf);
  const byNewest = (a: TaskSnapshot, b: TaskSnapshot) => (b.stoppedAt ?? 0) - (a.stoppedAt ?? 0);
  // A task told to stop between the list and the describe is left to the next cycle's stopped page.
  const running = inListedOrder(listedTasks, known, (await tasks.done()).map(taskOf), tasks.sent).filter((t) => t.desiredStatus === "RUNNING");
  return Object.freeze({
    at: options.now,
    clusterName: cluster,
    groups: Object.freeze(groups.map((g) => groupSnapshot(g, launches))),
    containerInstances: Object.freeze(instances),
    services: Object.freeze((await services.done()).map((s) => serviceSnapshot(s, options.since))),
    tasks: Object.freeze(running),
    stoppedTasks: Object.freeze(inListedOrder(stoppedListed, knownStopped, (await stopped.done()).map(taskOf), stopped.sent).sort(byNewest)),
    apiCalls: cycle.calls,
  });
}

/**
 * The listed tasks in the listing's order: as described this cycle, else as known from the last
 * (a task sent to be described that ECS no longer finds is left out, never taken from the last).
 */
function inListedOrder(listed: readonly string[], known: ReadonlyMap<string, TaskSnapshot>, described: readonly TaskSnapshot[], sent: ReadonlySet<string>): TaskSnapshot[] {
  const fresh = new Map(described.map((t) => [t.arn, t]));
  const out: TaskSnapshot[] = [];
  for (const arn of listed) {
    const task = sent.has(arn) ? fresh.get(arn) : known.get(arn);
    if (task) out.push(task);
  }
  return out;
}

/**
 * EC2's image and launch time of the groups' InService instances that no container instance
 * names (`Instance.ImageId`, `LaunchTime`), by instance id. Described by the `instance-id` filter,
 * not by `InstanceIds`, so an instance EC2 does not know yet (or any more) is left out instead
 * of failing the call.
 */
async function describeUnregistered(clients: AwsClients, cycle: Cycle, groups: readonly AutoScalingGroup[], instances: readonly ContainerInstanceSnapshot[]): Promise<ReadonlyMap<string, Instance>> {
  const registered = new Set(instances.map((ci) => ci.ec2InstanceId));
  const ids = groups.flatMap((g) => (g.Instances ?? []).filter((i) => i.LifecycleState === "InService" && i.InstanceId && !registered.has(i.InstanceId)).map((i) => i.InstanceId!));
  const found = new Map<string, Instance>();
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += BATCH) batches.push(ids.slice(i, i + BATCH));
  await Promise.all(
    batches.map(async (batch) => {
      const out = await cycle.call(() => clients.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "instance-id", Values: batch }] })));
      for (const reservation of out.Reservations ?? []) for (const instance of reservation.Instances ?? []) if (instance.InstanceId) found.set(instance.InstanceId, instance);
    }),
  );
  return found;
}

/** A cycle's calls: counted as they are sent, at most `concurrency` in flight (FIFO). */
class Cycle {
  calls = 0;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly concurrency: number) {}

  /** For the paginators' `withCommand`: counts each page's command as it is sent. */
  readonly counted = <C>(command: C): C => {
    this.calls++;
    return command;
  };

  /** Runs `send` in a free slot; counts it once whatever the SDK retries inside. */
  call<T>(send: () => Promise<T>): Promise<T> {
    return this.slot(() => {
      this.calls++;
      return send();
    });
  }

  /** Pulls a paginator's pages one at a time, each in a slot (the paginator counts its calls). */
  async eachPage<P>(pages: AsyncGenerator<P, unknown, unknown>, onPage: (page: P) => void): Promise<void> {
    for (;;) {
      const next = await this.slot(() => pages.next());
      if (next.done) return;
      onPage(next.value);
    }
  }

  private async slot<T>(run: () => Promise<T>): Promise<T> {
    if (this.active < this.concurrency) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await run();
    } finally {
      // Hand the slot straight to the next in line, or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** Ids gathered from list pages and described `size` at a time, each batch as soon as it is full. */
class Batches<T> {
  /** Every id added (sent, or to be sent, to the describe). */
  readonly sent = new Set<string>();
  private buffer: string[] = [];
  private readonly results: Promise<T[]>[] = [];
  private finished?: Promise<T[]>;

  constructor(
    private readonly size: number,
    private readonly describe: (ids: string[]) => Promise<T[]>,
  ) {}

  add(ids: readonly string[] | undefined): void {
    for (const id of ids ?? []) {
      this.sent.add(id);
      this.buffer.push(id);
      if (this.buffer.length === this.size) this.flush();
    }
  }

  /** Describes what is left and resolves with every batch's items, in the order they were listed. */
  done(): Promise<T[]> {
    if (!this.finished) {
      if (this.buffer.length > 0) this.flush();
      this.finished = Promise.all(this.results).then((batches) => batches.flat());
    }
    return this.finished;
  }

  private flush(): void {
    const batch = this.describe(this.buffer);
    // Handled here so a batch failing before done() is awaited is not an unhandled rejection;
    // done() still rejects with its error.
    batch.catch(() => undefined);
    this.results.push(batch);
    this.buffer = [];
  }
}

const time = (date: Date | undefined): number | undefined => (date === undefined ? undefined : date.getTime());

function tagRecord<T>(tags: readonly T[] | undefined, key: (t: T) => string | undefined, value: (t: T) => string | undefined): Readonly<Record<string, string>> {
  const record: Record<string, string> = {};
  for (const tag of tags ?? []) {
    const k = key(tag);
    if (k !== undefined) record[k] = value(tag) ?? "";
  }
  return Object.freeze(record);
}

function groupSnapshot(group: AutoScalingGroup, launches: ReadonlyMap<string, Instance>): GroupSnapshot {
  return Object.freeze({
    name: group.AutoScalingGroupName ?? "",
    desiredCapacity: group.DesiredCapacity ?? 0,
    minSize: group.MinSize ?? 0,
    maxSize: group.MaxSize ?? 0,
    instances: Object.freeze(
      (group.Instances ?? []).map((i) => {
        const ec2 = launches.get(i.InstanceId ?? "");
        return Object.freeze({
          instanceId: i.InstanceId ?? "",
          availabilityZone: i.AvailabilityZone ?? "",
          lifecycleState: i.LifecycleState ?? "",
          ...(ec2?.ImageId !== undefined && { imageId: ec2.ImageId }),
          ...(ec2?.LaunchTime !== undefined && { launchedAt: ec2.LaunchTime.getTime() }),
        });
      }),
    ),
    tags: tagRecord(group.Tags, (t) => t.Key, (t) => t.Value),
    ...(group.Status ? { status: group.Status } : {}),
  });
}

function containerInstanceSnapshot(ci: ContainerInstance): ContainerInstanceSnapshot {
  const attribute = (name: string) => ci.attributes?.find((a) => a.name === name)?.value ?? "";
  return Object.freeze({
    arn: ci.containerInstanceArn ?? "",
    ec2InstanceId: ci.ec2InstanceId ?? "",
    status: ci.status ?? "",
    imageId: attribute("ecs.ami-id"),
    availabilityZone: attribute("ecs.availability-zone"),
    runningTasksCount: ci.runningTasksCount ?? 0,
    pendingTasksCount: ci.pendingTasksCount ?? 0,
    agentConnected: ci.agentConnected ?? false,
  });
}

function serviceSnapshot(service: Service, since: number): ServiceSnapshot {
  const events: ServiceEvent[] = [];
  for (const e of service.events ?? []) {
    const at = time(e.createdAt);
    if (at !== undefined && at >= since) events.push(Object.freeze({ id: e.id ?? "", at, message: e.message ?? "" }));
  }
  return Object.freeze({
    arn: service.serviceArn ?? "",
    name: service.serviceName ?? "",
    desiredCount: service.desiredCount ?? 0,
    runningCount: service.runningCount ?? 0,
    pendingCount: service.pendingCount ?? 0,
    schedulingStrategy: service.schedulingStrategy ?? "REPLICA",
    deployments: Object.freeze(
      (service.deployments ?? []).map((d) =>
        Object.freeze({
          id: d.id ?? "",
          status: d.status ?? "",
          ...(d.rolloutState ? { rolloutState: d.rolloutState } : {}),
          desiredCount: d.desiredCount ?? 0,
          runningCount: d.runningCount ?? 0,
          failedTasks: d.failedTasks ?? 0,
        }),
      ),
    ),
    events: Object.freeze(events.sort((a, b) => b.at - a.at)),
    tags: tagRecord(service.tags, (t) => t.key, (t) => t.value),
    placementStrategy: Object.freeze(
      (service.placementStrategy ?? []).map((p) => Object.freeze({ type: p.type ?? "", ...(p.field ? { field: p.field } : {}) })),
    ),
  });
}

function taskSnapshot(task: Task, zoneOf: ReadonlyMap<string, string>): TaskSnapshot {
  const containerInstanceArn = task.containerInstanceArn ?? "";
  const exitCodes: number[] = [];
  for (const c of task.containers ?? []) if (c.exitCode !== undefined) exitCodes.push(c.exitCode);
  // Optional fields are only set when present (in one order, so every task has a like shape).
  const snapshot: { -readonly [K in keyof TaskSnapshot]: TaskSnapshot[K] } = {
    arn: task.taskArn ?? "",
    group: task.group ?? "",
    containerInstanceArn,
    // ECS gives the zone of every EC2 task; the instance's is the fallback.
    availabilityZone: task.availabilityZone ?? zoneOf.get(containerInstanceArn) ?? "",
    lastStatus: task.lastStatus ?? "",
    desiredStatus: task.desiredStatus ?? "",
    exitCodes: Object.freeze(exitCodes),
  };
  if (task.startedAt !== undefined) snapshot.startedAt = task.startedAt.getTime();
  if (task.stoppedAt !== undefined) snapshot.stoppedAt = task.stoppedAt.getTime();
  if (task.stoppedReason !== undefined) snapshot.stoppedReason = task.stoppedReason;
  if (task.stopCode !== undefined) snapshot.stopCode = task.stopCode;
  return Object.freeze(snapshot);
}
