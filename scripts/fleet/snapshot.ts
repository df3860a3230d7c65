/**
 * One poll cycle of a cluster, as an immutable value: the Auto Scaling groups with their
 * instances, the ECS container instances, services and tasks. Everything the driver concludes
 * (migration, balance, verdicts) is a pure function of snapshots; `takeSnapshot` (the end of
 * this file) is the poller that makes them. Given the previous snapshot of the cluster, a poll
 * reads only what can have changed since and reuses the rest, each part up to a max age; a
 * snapshot that reused nothing is a full view (`isFullView`), what final decisions rest on.
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
  /** The capacity providers its strategy names (none for a launch-type service). */
  readonly capacityProviders?: readonly string[];
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
  /** When it was told to stop (ECS's stoppingAt), once it was. */
  readonly stoppingAt?: number;
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
   * The last snapshot of the same cluster, as takeSnapshot made it: the poll is then incremental,
   * reading only what can have changed since and reusing the rest (see `takeSnapshot`). Without
   * it (or for another cluster) every part is read: a full view (`isFullView`).
   */
  readonly previous?: FleetSnapshot;
  /**
   * How old a reused part of an incremental poll (the groups, the instance list, the service
   * list, a service) may grow before it is read again. @default DEFAULT_MAX_AGE_MS
   */
  readonly maxAgeMs?: number;
  /**
   * How old a container instance's list of running tasks may grow before it is listed again
   * (the whole cluster's listing, for a poll without `tasksOn`). A backstop, longer than the
   * other parts' max age: a change to a list shows in the instance's counts or on the page of
   * stopped tasks, and lists it again at once. @default DEFAULT_TASK_LIST_MAX_AGE_MS
   */
  readonly taskListMaxAgeMs?: number;
  /**
   * Groups and instances only (tasks and services left empty): all the boot check reads, polled
   * through a whole apply, where listing every task of the cluster would be most of the calls.
   * Always read in full (`previous` is not used).
   */
  readonly instancesOnly?: boolean;
  /**
   * Only the tasks of the container instances this accepts (one ListTasks per instance, by its
   * `containerInstance` filter), not the cluster's: the replace canary reads the canary's and
   * the drained instances' tasks, not the 6,000 of a 600-instance cluster every 10 s.
   */
  readonly tasksOn?: (ci: ContainerInstanceSnapshot) => boolean;
}

/** An incremental poll reads again any part of its view older than this (SnapshotOptions.maxAgeMs). */
export const DEFAULT_MAX_AGE_MS = 60_000;
/** ... and lists again a container instance's running tasks older than this (SnapshotOptions.taskListMaxAgeMs). */
export const DEFAULT_TASK_LIST_MAX_AGE_MS = 5 * 60_000;

/** What can change about a container instance's tasks without them leaving the RUNNING list. */
const sameCounts = (a: ContainerInstanceSnapshot, b: ContainerInstanceSnapshot) =>
  a === b || (a.status === b.status && a.runningTasksCount === b.runningTasksCount && a.pendingTasksCount === b.pendingTasksCount && a.agentConnected === b.agentConnected);

/**
 * The container instances (ARNs) whose status or task counts differ from the previous
 * snapshot's, or that it did not have: their tasks are listed and described again.
 */
export function changedInstances(previous: readonly ContainerInstanceSnapshot[], current: readonly ContainerInstanceSnapshot[]): Set<string> {
  const before = new Map(previous.map((ci) => [ci.arn, ci]));
  const changed = new Set<string>();
  for (const ci of current) {
    const was = before.get(ci.arn);
    if (!was || !sameCounts(was, ci)) changed.add(ci.arn);
  }
  return changed;
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
 * A service an incremental poll may reuse until its max age: its counts met, one deployment,
 * completed, and no placement failure newer than its last steady state. Any other is described
 * every poll (it is settling, and its next answer may be the one that matters).
 */
function serviceSettled(service: ServiceSnapshot): boolean {
  const [deployment, ...more] = service.deployments;
  // (A daemon's counts follow the instances, as migration.ts's unsteadyReason reads them.)
  const counted = service.schedulingStrategy === "DAEMON" || service.runningCount === service.desiredCount;
  if (more.length > 0 || !counted || service.pendingCount > 0) return false;
  if (deployment?.rolloutState !== undefined && deployment.rolloutState !== "COMPLETED") return false;
  const newest = (pattern: RegExp) => service.events.find((e) => pattern.test(e.message))?.at ?? -Infinity;
  return newest(/unable to place a task/i) <= newest(/has reached a steady state/i);
}

/**
 * Groups whose next answer may differ from their last without ECS showing it: one being deleted,
 * with instances not InService or fewer or more than it wants, or with an InService instance not
 * registered with ECS (the boot check's, which is described with EC2 every poll).
 */
function groupsMoving(groups: readonly GroupSnapshot[], instances: readonly ContainerInstanceSnapshot[]): boolean {
  const registered = new Set(instances.map((ci) => ci.ec2InstanceId));
  return groups.some((g) => g.status !== undefined || g.instances.length !== g.desiredCapacity || g.instances.some((i) => i.lifecycleState !== "InService" || !registered.has(i.instanceId)));
}

/** An instance registered or deregistered, or changed its status, agent connection or EC2 instance. */
function instanceSetChanged(previous: readonly ContainerInstanceSnapshot[], current: readonly ContainerInstanceSnapshot[]): boolean {
  if (previous.length !== current.length) return true;
  const before = new Map(previous.map((ci) => [ci.arn, ci]));
  return current.some((ci) => {
    const was = before.get(ci.arn);
    return !was || (was !== ci && (was.status !== ci.status || was.agentConnected !== ci.agentConnected || was.ec2InstanceId !== ci.ec2InstanceId));
  });
}

/** Field by field: a task described again and found unchanged is reused as it was (the same object). */
function sameTask(a: TaskSnapshot, b: TaskSnapshot): boolean {
  return (
    a.arn === b.arn &&
    a.group === b.group &&
    a.containerInstanceArn === b.containerInstanceArn &&
    a.availabilityZone === b.availabilityZone &&
    a.lastStatus === b.lastStatus &&
    a.desiredStatus === b.desiredStatus &&
    a.startedAt === b.startedAt &&
    a.stoppingAt === b.stoppingAt &&
    a.stoppedAt === b.stoppedAt &&
    a.stoppedReason === b.stoppedReason &&
    a.stopCode === b.stopCode &&
    a.exitCodes.length === b.exitCodes.length &&
    a.exitCodes.every((code, i) => code === b.exitCodes[i])
  );
}

/** A container instance's running tasks as a poll listed them, and when. */
interface TaskList {
  readonly at: number;
  readonly tasks: readonly TaskSnapshot[];
  /** One of them is not settled (described again every poll). */
  readonly unsettled: boolean;
}

const taskList = (at: number, tasks: readonly TaskSnapshot[]): TaskList => ({ at, tasks, unsettled: tasks.some((t) => !settled(t)) });

/**
 * What a snapshot's poll read, and when, for the next poll given it (`previous`). Kept beside the
 * frozen snapshot (which stays plain data), never in it.
 */
interface PollRecord {
  /** Nothing was reused: the poll had no previous snapshot. */
  readonly full: boolean;
  /** The `since` the services' events were kept from. */
  readonly since: number;
  readonly groupsAt: number;
  readonly instancesListedAt: number;
  readonly servicesListedAt: number;
  /** The service ARNs as last listed. */
  readonly serviceArns: readonly string[];
  /** When each service (by ARN) was last described. */
  readonly describedAt: ReadonlyMap<string, number>;
  /**
   * The running tasks of every container instance whose tasks were listed (none listed is a list
   * too), by its ARN; a task of an instance the cluster no longer has is kept under that ARN.
   */
  readonly tasksOf: ReadonlyMap<string, TaskList>;
}

const records = new WeakMap<FleetSnapshot, PollRecord>();

/**
 * True for a snapshot that reused nothing (taken without a previous snapshot): what a decision
 * that ends a watch or passes a gate must rest on. An incremental poll's may be up to the max
 * age old in parts, and is confirmed by a full poll before it decides anything final.
 */
export function isFullView(snapshot: FleetSnapshot): boolean {
  return records.get(snapshot)?.full ?? false;
}

/**
 * One poll cycle of `clusterName` (the ECS cluster's name, which its groups carry in the
 * `amiroll:cluster` tag). Lists are paginated with the SDK's paginators (100 per page), describes
 * batched (100 ids, 10 services per call) and started as soon as a batch is full, with at most
 * `concurrency` calls in flight. Throttling is the SDK's to retry; a cluster ECS does not know
 * is a UsageError. `apiCalls` counts the calls sent (a retried call once). InService instances
 * of the groups that have no container instance are then described with EC2 (100 per call) for
 * their image and launch time.
 *
 * Given `options.previous` (an incremental poll), the known container instances are described
 * and one page of stopped tasks is listed every poll: they show what changed. The rest is read
 * only where they say it may have changed, or where it has grown older than its max age:
 * - instances: listed again when the groups are read, when a known one is gone, and at the max age;
 * - running tasks: listed again only on the container instances whose status or counts changed,
 *   that hold a task not yet settled or one that stopped since, or whose list is older than the
 *   task-list max age; the whole cluster's listing instead when that is fewer calls, when more
 *   tasks stopped than one page shows (a stop and a start on one instance keep its counts), or
 *   when tasks are held on an instance the cluster no longer has. Of the listed, only what
 *   `tasksToDescribe` says is described;
 * - services: described again when one of their tasks changed (started, stopped, changed status),
 *   when an instance registered, deregistered or changed status, when not settled
 *   (`serviceSettled`), when new, and the stalest a share at a time, so that each is at most the
 *   max age old; listed again when a task names a service not known, and at the max age;
 * - groups: read again when the container instances registered, deregistered or changed status,
 *   when they were moving (`groupsMoving`), and at the max age.
 * Unchanged parts are the previous snapshot's own objects. A snapshot so made can lag the world by
 * up to the max age in what no change showed (a service that cannot place a task it was just
 * told to run, an instance launched but not yet registered); what
 * decides (the watch's verdict, the canary's) is confirmed by a full poll (`isFullView`).
 */
export async function takeSnapshot(clients: AwsClients, clusterName: string, options: SnapshotOptions): Promise<FleetSnapshot> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`snapshot concurrency must be a positive whole number, not ${concurrency}`);
  const maxAge = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  if (!(maxAge >= 0)) throw new UsageError(`snapshot maxAgeMs must be 0 or more, not ${maxAge}`);
  const cycle = new Cycle(concurrency);
  const cluster = clusterName;
  const { ecs, autoScaling } = clients;
  const { now, since, tasksOn, instancesOnly } = options;
  const previous = options.previous?.clusterName === cluster && !instancesOnly ? options.previous : undefined;
  const record = previous && records.get(previous);
  const young = (at: number | undefined) => at !== undefined && now - at < maxAge;
  const taskListMaxAge = options.taskListMaxAgeMs ?? DEFAULT_TASK_LIST_MAX_AGE_MS;
  if (!(taskListMaxAge >= 0)) throw new UsageError(`snapshot taskListMaxAgeMs must be 0 or more, not ${taskListMaxAge}`);
  const knownStopped = new Map((previous?.stoppedTasks ?? []).map((t) => [t.arn, t]));

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
  const paging = { pageSize: BATCH, withCommand: cycle.counted };

  const readGroups = async (): Promise<AutoScalingGroup[]> => {
    const groups: AutoScalingGroup[] = [];
    await cycle.eachPage(
      paginateDescribeAutoScalingGroups({ client: autoScaling, ...paging }, { Filters: [{ Name: `tag:${CLUSTER_TAG}`, Values: [cluster] }] }),
      (page) => groups.push(...(page.AutoScalingGroups ?? [])),
    );
    return groups;
  };
  const listServices = async (): Promise<string[]> => {
    const arns: string[] = [];
    await cycle.eachPage(paginateListServices({ client: ecs, ...paging }, { cluster }), (page) => arns.push(...(page.serviceArns ?? [])));
    return arns;
  };
  const listTasks = async (containerInstance: string | undefined, onPage: (arns: string[]) => void): Promise<string[]> => {
    const arns: string[] = [];
    await cycle.eachPage(paginateListTasks({ client: ecs, ...paging }, { cluster, desiredStatus: "RUNNING", ...(containerInstance && { containerInstance }) }), (page) => {
      const listed = page.taskArns ?? [];
      arns.push(...listed);
      onPage(listed);
    });
    return arns;
  };

  // The groups: read now unless the last answer may stand; else once the instances say whether it does.
  const groupsNow = !record || !young(record.groupsAt) || groupsMoving(previous!.groups, previous!.containerInstances);
  let instancesListedAt = now;
  let groups: readonly GroupSnapshot[];
  let containerInstanceList: ContainerInstanceSnapshot[];
  let running: RunningTasks = { tasks: [], tasksOf: new Map(), changedGroups: new Set() };
  let stopped: StoppedPage = { listed: [], described: [], sent: new Set(), complete: true };
  let serviceList: ServiceList = { services: [], serviceArns: [], servicesListedAt: -Infinity, describedAt: new Map() };
  try {
    /** The listed instances, in the listing's order: described now, or as `described` already has them. */
    const listInstances = async (described = new Map<string, ContainerInstance>()): Promise<ContainerInstance[]> => {
      const listed: string[] = [];
      await cycle.eachPage(paginateListContainerInstances({ client: ecs, ...paging }, { cluster }), (page) => {
        const arns = page.containerInstanceArns ?? [];
        listed.push(...arns);
        containerInstances.add(arns.filter((arn) => !described.has(arn)));
      });
      for (const ci of await containerInstances.done()) described.set(ci.containerInstanceArn ?? "", ci);
      return listed.flatMap((arn) => (described.has(arn) ? [described.get(arn)!] : []));
    };
    // The instances: listed unless the last list may stand (the groups not moving, so no instance
    // is on its way to register, and not too old); else the known ones described straight away,
    // and listed after all when one of them is gone (deregistered).
    const instancesDescribed = (async () => {
      if (groupsNow || !young(record.instancesListedAt)) return listInstances();
      const known = new Batches<ContainerInstance>(BATCH, async (ids) => {
        const out = await cycle.call(() => ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: ids })));
        return out.containerInstances ?? [];
      });
      known.add(previous!.containerInstances.map((ci) => ci.arn));
      const described = await known.done();
      if (described.length === previous!.containerInstances.length && described.every((ci) => ci.status !== "INACTIVE")) {
        instancesListedAt = record.instancesListedAt;
        return described;
      }
      return listInstances(new Map(described.filter((ci) => ci.status !== "INACTIVE").map((ci) => [ci.containerInstanceArn ?? "", ci])));
    })().then((described) => reuseEqual(described.map(containerInstanceSnapshot), previous?.containerInstances));
    const groupsRead: Promise<AutoScalingGroup[] | undefined> = groupsNow
      ? readGroups()
      : instancesDescribed.then((current) => (instanceSetChanged(previous!.containerInstances, current) ? readGroups() : undefined));
    let stoppedRead: Promise<StoppedPage> = Promise.resolve(stopped);
    let tasksRead: Promise<RunningTasks> = Promise.resolve(running);
    let servicesRead: Promise<ServiceList> = Promise.resolve(serviceList);
    if (!instancesOnly) {
      // One page of stopped tasks is enough to see a crash loop; more would cost a call per 100.
      stoppedRead = cycle
        .call(() => ecs.send(new ListTasksCommand({ cluster, desiredStatus: "STOPPED", maxResults: BATCH })))
        .then(async (page) => {
          const listed = page.taskArns ?? [];
          const describing = new Batches<Task>(BATCH, describeTasks);
          describing.add(tasksToDescribe(listed, knownStopped).describe);
          return { listed, described: await describing.done(), sent: describing.sent, complete: !page.nextToken };
        });
      tasksRead = readRunningTasks({ previous, record, young: (at) => at !== undefined && now - at < taskListMaxAge, tasksOn, instancesDescribed, stoppedRead, listTasks, describeTasks, now });
      servicesRead = readServices({ previous, record, young, now, since, maxAge, instancesDescribed, tasksRead, stoppedRead, listServices, services });
    }
    let rawGroups: AutoScalingGroup[] | undefined;
    [rawGroups, containerInstanceList, running, stopped, serviceList] = await Promise.all([groupsRead, instancesDescribed, tasksRead, stoppedRead, servicesRead]);
    if (rawGroups) {
      const launches = await describeUnregistered(clients, cycle, rawGroups, containerInstanceList);
      groups = rawGroups.map((g) => groupSnapshot(g, launches));
    } else groups = previous!.groups;
  } catch (error) {
    if ((error as Error).name === "ClusterNotFoundException") {
      const region = await ecs.config.region().catch(() => "its region");
      throw new UsageError(`ECS cluster ${cluster} not found in ${region} (check the environment's account and region)`);
    }
    throw error;
  }

  const zoneOf = new Map(containerInstanceList.map((ci) => [ci.arn, ci.availabilityZone]));
  const fresh = new Map(stopped.described.map((t) => [t.taskArn ?? "", t]));
  const stoppedTasks: TaskSnapshot[] = [];
  for (const arn of stopped.listed) {
    // A task sent to be described that ECS no longer finds is left out, never taken from the last poll.
    const task = stopped.sent.has(arn) ? fresh.has(arn) ? kept(taskSnapshot(fresh.get(arn)!, zoneOf), knownStopped.get(arn)) : undefined : knownStopped.get(arn);
    if (task) stoppedTasks.push(task);
  }
  const snapshot: FleetSnapshot = Object.freeze({
    at: now,
    clusterName: cluster,
    groups: Object.freeze(groups),
    containerInstances: Object.freeze(containerInstanceList),
    services: Object.freeze(serviceList.services),
    tasks: Object.freeze(running.tasks),
    stoppedTasks: Object.freeze(stoppedTasks.sort((a, b) => (b.stoppedAt ?? 0) - (a.stoppedAt ?? 0))),
    apiCalls: cycle.calls,
  });
  if (!instancesOnly) {
    records.set(snapshot, {
      full: !previous,
      since,
      groupsAt: groups === previous?.groups ? record!.groupsAt : now,
      instancesListedAt,
      servicesListedAt: serviceList.servicesListedAt,
      serviceArns: serviceList.serviceArns,
      describedAt: serviceList.describedAt,
      tasksOf: running.tasksOf,
    });
  }
  return snapshot;
}

interface StoppedPage {
  /** The page of stopped tasks' ARNs, in ECS's order. */
  readonly listed: readonly string[];
  /** Those described this poll (new, or not yet STOPPED), as ECS gave them. */
  readonly described: readonly Task[];
  readonly sent: ReadonlySet<string>;
  /** The page holds every stopped task ECS lists (no next page): no stop since the last poll is missing from it. */
  readonly complete: boolean;
}

interface RunningTasks {
  readonly tasks: readonly TaskSnapshot[];
  readonly tasksOf: ReadonlyMap<string, TaskList>;
  /** Groups (`service:<name>`, `family:<name>`) of the tasks that started, left the list or changed since the last poll. */
  readonly changedGroups: ReadonlySet<string>;
}

interface ServiceList {
  readonly services: readonly ServiceSnapshot[];
  readonly serviceArns: readonly string[];
  readonly servicesListedAt: number;
  readonly describedAt: ReadonlyMap<string, number>;
}

interface ServicesInput {
  readonly previous?: FleetSnapshot;
  readonly record?: PollRecord;
  readonly young: (at: number | undefined) => boolean;
  readonly now: number;
  readonly since: number;
  readonly maxAge: number;
  readonly instancesDescribed: Promise<ContainerInstanceSnapshot[]>;
  readonly tasksRead: Promise<RunningTasks>;
  readonly stoppedRead: Promise<StoppedPage>;
  readonly listServices: () => Promise<string[]>;
  readonly services: Batches<Service>;
}

/**
 * The services: listed unless the last list may stand; described as soon as they are known to be
 * due (new, not settled, too old, or this poll's share of the max-age refresh), the others whose
 * tasks changed once the tasks are read; the rest reused.
 */
async function readServices(input: ServicesInput): Promise<ServiceList> {
  const { previous, record, young, now, since, maxAge } = input;
  const listNow = !record || !young(record.servicesListedAt) || record.since !== since;
  const listed = listNow ? await input.listServices() : undefined;
  let arns = listed ?? record!.serviceArns;
  let listedAt = listed ? now : record!.servicesListedAt;
  const previousServices = new Map((previous?.services ?? []).map((s) => [s.arn, s]));
  const describing = new Set<string>();
  const describe = (candidates: readonly string[]) => {
    const fresh = candidates.filter((arn) => !describing.has(arn));
    for (const arn of fresh) describing.add(arn);
    input.services.add(fresh);
  };
  const due = (arn: string) => {
    const last = previousServices.get(arn);
    return !record || record.since !== since || !last || !young(record.describedAt.get(arn)) || !serviceSettled(last);
  };
  const dueNow = arns.filter(due);
  // The max-age refreshes spread over the polls: at least this poll's share of the services (the
  // time since the last poll over the max age), the stalest first, so they do not all fall due at once.
  const share = record && maxAge > 0 ? Math.ceil((arns.length * Math.min(maxAge, now - previous!.at)) / maxAge) : arns.length;
  const stalest = arns.filter((arn) => !due(arn)).sort((a, b) => record!.describedAt.get(a)! - record!.describedAt.get(b)!);
  describe([...dueNow, ...stalest.slice(0, Math.max(0, share - dueNow.length))]);

  const [instances, tasks, stopped] = await Promise.all([input.instancesDescribed, input.tasksRead, input.stoppedRead]);
  // An instance registered, deregistered, set DRAINING or ACTIVE, or lost its agent: every service may move.
  if (previous && instanceSetChanged(previous.containerInstances, instances)) describe(arns);
  const groups = new Set(tasks.changedGroups);
  for (const t of stopped.described) if (t.group) groups.add(t.group);
  const names = [...groups].filter((g) => g.startsWith("service:")).map((g) => g.slice("service:".length));
  const byName = new Map(arns.map((arn) => [serviceNameOf(arn), arn]));
  if (!listed && names.some((name) => !byName.has(name))) {
    // A task of a service not known: the list is read again, and the new ones described.
    arns = await input.listServices();
    listedAt = now;
    for (const arn of arns) byName.set(serviceNameOf(arn), arn);
    describe(arns.filter((arn) => !previousServices.has(arn)));
  }
  describe(names.flatMap((name) => (byName.has(name) ? [byName.get(name)!] : [])));
  const described = new Map((await input.services.done()).map((s) => [s.serviceArn ?? "", serviceSnapshot(s, since)]));
  const services: ServiceSnapshot[] = [];
  const describedAt = new Map<string, number>();
  for (const arn of arns) {
    const service = describing.has(arn) ? described.get(arn) : previousServices.get(arn);
    if (!service) continue;
    services.push(service);
    describedAt.set(arn, describing.has(arn) ? now : record!.describedAt.get(arn)!);
  }
  return { services, serviceArns: arns, servicesListedAt: listedAt, describedAt };
}

/** `svc` of `arn:aws:ecs:<region>:<account>:service/<cluster>/svc` (or of an old-format ARN). */
const serviceNameOf = (arn: string): string => arn.slice(arn.lastIndexOf("/") + 1);

/** The new snapshot, or the old one when equal (so that an unchanged part stays the same object). */
function kept(task: TaskSnapshot, known: TaskSnapshot | undefined): TaskSnapshot {
  return known && sameTask(task, known) ? known : task;
}

/** The container instances, each the previous snapshot's object when its fields are the same. */
function reuseEqual(current: ContainerInstanceSnapshot[], previous: readonly ContainerInstanceSnapshot[] | undefined): ContainerInstanceSnapshot[] {
  if (!previous) return current;
  const before = new Map(previous.map((ci) => [ci.arn, ci]));
  return current.map((ci) => {
    const was = before.get(ci.arn);
    const same =
      was !== undefined &&
      sameCounts(was, ci) &&
      was.ec2InstanceId === ci.ec2InstanceId &&
      was.imageId === ci.imageId &&
      was.availabilityZone === ci.availabilityZone;
    return same ? was : ci;
  });
}

interface RunningTasksInput {
  readonly previous?: FleetSnapshot;
  readonly record?: PollRecord;
  readonly young: (at: number | undefined) => boolean;
  readonly tasksOn?: (ci: ContainerInstanceSnapshot) => boolean;
  readonly instancesDescribed: Promise<ContainerInstanceSnapshot[]>;
  readonly stoppedRead: Promise<StoppedPage>;
  /** Lists the running tasks (of one container instance, or the cluster's), handing on each page. */
  readonly listTasks: (containerInstance: string | undefined, onPage: (arns: string[]) => void) => Promise<string[]>;
  readonly describeTasks: (ids: string[]) => Promise<Task[]>;
  readonly now: number;
}

/**
 * The running tasks (desired status RUNNING): listed for the whole cluster, or per container
 * instance where that is all that may have changed (see takeSnapshot), then described as
 * `tasksToDescribe` says. Also gives each instance's list for the next poll, and the task groups
 * that changed.
 */
async function readRunningTasks(input: RunningTasksInput): Promise<RunningTasks> {
  const { previous, record, young, tasksOn, now } = input;
  const held: ReadonlyMap<string, TaskList> = record?.tasksOf ?? new Map();
  const tasks = new Batches<Task>(BATCH, input.describeTasks);
  const known = new Map<string, TaskSnapshot>();
  // The whole cluster's listing: what is new or unsettled is described as its pages come; the
  // settled tasks wait until the instances say whether theirs changed.
  const waiting: string[] = [];
  const listWhole = () => {
    if (previous) for (const t of previous.tasks) known.set(t.arn, t);
    const listing = input.listTasks(undefined, (arns) => {
      const plan = tasksToDescribe(arns, known);
      tasks.add(plan.describe);
      waiting.push(...plan.waiting);
    });
    listing.catch(() => undefined);
    return listing;
  };
  // Started at once when it is known to be due: no previous list, or one too old.
  let whole = !tasksOn && (!record || [...held.values()].some((list) => !young(list.at))) ? listWhole() : undefined;
  const [instances, stopped] = await Promise.all([input.instancesDescribed, input.stoppedRead]);
  const inScope = tasksOn ? instances.filter(tasksOn) : instances;
  const current = new Set(instances.map((ci) => ci.arn));
  // Instances whose settled tasks are described again: status or counts changed.
  const changed = changedInstances(previous?.containerInstances ?? [], instances);
  // Instances listed again whatever their list's age: those, and those a task on which stopped
  // (or is stopping) since the last poll (a task stopped and another started keep the counts).
  const suspects = new Set(changed);
  for (const t of stopped.described) if (t.containerInstanceArn) suspects.add(t.containerInstanceArn);
  const due = inScope.filter((ci) => {
    const list = held.get(ci.arn);
    return !list || !young(list.at) || suspects.has(ci.arn) || !stopped.complete || list.unsettled;
  });
  const orphans = [...held].some(([arn, list]) => !current.has(arn) && list.tasks.length > 0);
  const pages = (n: number) => Math.max(1, Math.ceil(n / BATCH));
  const perInstanceCalls = due.reduce((n, ci) => n + pages(ci.runningTasksCount + ci.pendingTasksCount), 0);
  const wholeCalls = pages(inScope.reduce((n, ci) => n + ci.runningTasksCount + ci.pendingTasksCount, 0));
  if (!whole && !tasksOn && (orphans || !stopped.complete || perInstanceCalls > wholeCalls)) whole = listWhole();

  const tasksOf = new Map<string, TaskList>();
  const changedGroups = new Set<string>();
  const zoneOf = new Map(instances.map((ci) => [ci.arn, ci.availabilityZone]));
  /**
   * `listed` in its order, as described this poll or else as known; a task sent to be described
   * that ECS no longer finds, and one no longer meant to run, left out.
   */
  const assemble = (listed: readonly string[], reused: ReadonlyMap<string, TaskSnapshot>, described: ReadonlyMap<string, Task>) => {
    const out: TaskSnapshot[] = [];
    for (const arn of listed) {
      const fresh = described.get(arn);
      const task = tasks.sent.has(arn) ? fresh && kept(taskSnapshot(fresh, zoneOf), reused.get(arn)) : reused.get(arn);
      if (task && task.desiredStatus === "RUNNING") out.push(task);
    }
    return out;
  };
  /** Notes the groups of the tasks that differ between an instance's last list and this one. */
  const compare = (before: readonly TaskSnapshot[], after: readonly TaskSnapshot[]) => {
    const was = new Map(before.map((t) => [t.arn, t]));
    for (const t of after) {
      if (was.get(t.arn) !== t) changedGroups.add(t.group);
      was.delete(t.arn);
    }
    for (const t of was.values()) changedGroups.add(t.group);
  };

  if (whole) {
    const listed = await whole;
    tasks.add(tasksToDescribe(waiting, known, changed).describe);
    const described = new Map((await tasks.done()).map((t) => [t.taskArn ?? "", t]));
    const byInstance = new Map<string, TaskSnapshot[]>(instances.map((ci) => [ci.arn, []]));
    for (const task of assemble(listed, known, described)) {
      const list = byInstance.get(task.containerInstanceArn);
      if (list) list.push(task);
      else byInstance.set(task.containerInstanceArn, [task]);
    }
    for (const [arn, list] of byInstance) tasksOf.set(arn, taskList(now, list));
  } else {
    const lists = await Promise.all(
      due.map(async (ci) => {
        const before = new Map((held.get(ci.arn)?.tasks ?? []).map((t) => [t.arn, t]));
        const listed = await input.listTasks(ci.arn, (arns) => tasks.add(tasksToDescribe(arns, before, changed).describe));
        return { ci, listed, before };
      }),
    );
    const described = new Map((await tasks.done()).map((t) => [t.taskArn ?? "", t]));
    const relisted = new Set(due.map((ci) => ci.arn));
    for (const ci of inScope) if (!relisted.has(ci.arn)) tasksOf.set(ci.arn, held.get(ci.arn)!);
    for (const { ci, listed, before } of lists) tasksOf.set(ci.arn, taskList(now, assemble(listed, before, described)));
  }
  for (const [arn, list] of tasksOf) if (list !== held.get(arn)) compare(held.get(arn)?.tasks ?? [], list.tasks);
  // Instances gone (or out of the tasksOn's scope): their tasks with them.
  for (const [arn, list] of held) if (!tasksOf.has(arn)) compare(list.tasks, []);
  // Every list the last poll's, for the same instances: its tasks as they were (the same array).
  if (previous && record && tasksOf.size === held.size && instances.length === previous.containerInstances.length && instances.every((ci, i) => ci.arn === previous.containerInstances[i].arn) && [...tasksOf].every(([arn, list]) => held.get(arn) === list)) {
    return { tasks: previous.tasks, tasksOf, changedGroups };
  }
  // In the instances' order, then tasks on instances the cluster no longer has.
  const out: TaskSnapshot[] = [];
  for (const ci of instances) {
    const list = tasksOf.get(ci.arn);
    if (list) for (const t of list.tasks) out.push(t);
  }
  for (const [arn, list] of tasksOf) if (!current.has(arn)) for (const t of list.tasks) out.push(t);
  return { tasks: out, tasksOf, changedGroups };
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
    ...(service.capacityProviderStrategy?.length && { capacityProviders: Object.freeze(service.capacityProviderStrategy.map((s) => s.capacityProvider ?? "")) }),
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
  if (task.stoppingAt !== undefined) snapshot.stoppingAt = task.stoppingAt.getTime();
  if (task.stoppedAt !== undefined) snapshot.stoppedAt = task.stoppedAt.getTime();
  if (task.stoppedReason !== undefined) snapshot.stoppedReason = task.stoppedReason;
  if (task.stopCode !== undefined) snapshot.stopCode = task.stopCode;
  return Object.freeze(snapshot);
}
