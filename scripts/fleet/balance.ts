/**
 * How evenly a cluster's services sit over its zones and instances, as pure functions of one
 * FleetSnapshot: the figures the watch reports after a rollout and what `rebalance` acts on.
 *
 * A replica service is imbalanced when (over the zones that have ACTIVE container instances):
 * - `single-zone`: it has 2 or more tasks, all in one zone, while the cluster has more than one;
 * - `zone-spread`: its tasks per zone differ by more than one (max - min > 1);
 * - `instance-stacking`: 2 of its tasks share an instance while an ACTIVE instance holding none
 *   of them is in the same zone (when the zone rules apply; any ACTIVE instance when they do
 *   not). An empty instance in another zone is not counted: zone-then-instance spread leaves
 *   exactly that when a zone has fewer instances (e.g. 2/2/2 tasks over zones of 1, 1 and 3
 *   instances), a new deployment would place the tasks the same way again, and a zone that
 *   really lacks tasks is already a `zone-spread`.
 *
 * Tasks counted: desired RUNNING and not yet stopping (PROVISIONING, PENDING, ACTIVATING,
 * RUNNING). Daemon services are skipped (one task per instance by definition).
 *
 * Placement: a snapshot that records a service's placement strategy (`placementStrategy`, as
 * DescribeServices reports it) narrows the rules: the zone rules apply with a spread over
 * `attribute:ecs.availability-zone`, the instance rule with a spread over `instanceId` or `host`;
 * a service that only binpacks (or places at random) packs legitimately and is not judged.
 * Without that field every service is judged by every rule, as if it spread over zones then
 * instances (the ECS default for services).
 */
import type { FleetSnapshot, ServiceSnapshot, TaskSnapshot } from "./snapshot";

/** One placement strategy of a service, as DescribeServices reports it. */
export interface PlacementStrategyRef {
  /** random, spread or binpack. */
  readonly type: string;
  readonly field?: string;
}

/** A service as balance reads it: the snapshot's, with its placement strategy when recorded. */
export type BalanceService = ServiceSnapshot & { readonly placementStrategy?: readonly PlacementStrategyRef[] };

export type ImbalanceKind = "single-zone" | "zone-spread" | "instance-stacking";

export interface Imbalance {
  readonly kind: ImbalanceKind;
  /** One line for people, e.g. "all 6 tasks in eu-west-1a". */
  readonly detail: string;
}

export interface ZoneTasks {
  readonly availabilityZone: string;
  readonly tasks: number;
}

export interface InstanceTasks {
  readonly containerInstanceArn: string;
  /** Empty when the container instance is not in the snapshot (deregistered meanwhile). */
  readonly ec2InstanceId: string;
  readonly availabilityZone: string;
  readonly tasks: number;
}

export interface ServiceBalance {
  readonly service: string;
  /** Tasks counted (running or on their way to it). */
  readonly tasks: number;
  /** Every zone with ACTIVE container instances (zero included), and any other zone holding a task; by name. */
  readonly perZone: readonly ZoneTasks[];
  /** The instances holding at least one of its tasks, by zone then EC2 id. */
  readonly perInstance: readonly InstanceTasks[];
  /** Which rules apply, from its placement strategy (both when it is not recorded). */
  readonly checks: { readonly zones: boolean; readonly instances: boolean };
  readonly balanced: boolean;
  /** Why not, in the order single-zone, zone-spread, instance-stacking; empty when balanced. */
  readonly imbalances: readonly Imbalance[];
}

export interface BalanceReport {
  readonly at: number;
  readonly clusterName: string;
  /** Zones with ACTIVE container instances, by name: those the rules are judged over. */
  readonly zones: readonly string[];
  /** Replica services, by name. */
  readonly services: readonly ServiceBalance[];
  /** The imbalanced services' names, by name (what `rebalance` takes). */
  readonly imbalanced: readonly string[];
  readonly balanced: boolean;
  /**
   * Zones the cluster should use (`options.zones`, its subnets') without an ACTIVE container
   * instance, by name: a zone that took no new instances (an outage, no capacity). The rules are
   * judged over the zones that have instances (what a rebalance can act on); these are named apart.
   */
  readonly lostZones: readonly string[];
  /** Services with tasks, none of which can run in a lost zone (every one, while a zone is lost), by name. */
  readonly withoutLostZones: readonly string[];
}

export interface BalanceOptions {
  /** The zones the cluster should use (its subnets'); those without an ACTIVE instance are `lostZones`. */
  readonly zones?: readonly string[];
}

export interface ZoneInstances {
  readonly availabilityZone: string;
  /** ACTIVE container instances in the zone. */
  readonly active: number;
}

export interface InstanceSpread {
  /** Every zone the cluster's groups or container instances use (zero included), by name. */
  readonly zones: readonly ZoneInstances[];
  /** max - min of `active` over `zones` is at most 1. */
  readonly balanced: boolean;
}

const COUNTED = new Set(["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"]);

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A service task, counted for balance. */
function counted(task: TaskSnapshot): boolean {
  return task.desiredStatus === "RUNNING" && COUNTED.has(task.lastStatus);
}

/** Which rules apply to a service, from its placement strategy. */
export function balanceChecks(service: BalanceService): { zones: boolean; instances: boolean } {
  const strategy = service.placementStrategy;
  if (!strategy || strategy.length === 0) return { zones: true, instances: true };
  const spreads = (fields: string[]) => strategy.some((s) => s.type === "spread" && fields.includes(s.field ?? ""));
  return { zones: spreads(["attribute:ecs.availability-zone"]), instances: spreads(["instanceId", "host"]) };
}

function spreadOf(counts: readonly number[]): number {
  return counts.length === 0 ? 0 : Math.max(...counts) - Math.min(...counts);
}

/** Balance of every replica service of the snapshot's cluster. */
export function serviceBalance(snapshot: FleetSnapshot, options: BalanceOptions = {}): BalanceReport {
  const active = snapshot.containerInstances.filter((ci) => ci.status === "ACTIVE");
  const zones = [...new Set(active.map((ci) => ci.availabilityZone))].sort(byName);
  const instanceByArn = new Map(snapshot.containerInstances.map((ci) => [ci.arn, ci]));

  const tasksByService = new Map<string, TaskSnapshot[]>();
  for (const task of snapshot.tasks) {
    if (!task.group.startsWith("service:") || !counted(task)) continue;
    const name = task.group.slice("service:".length);
    const list = tasksByService.get(name) ?? [];
    list.push(task);
    tasksByService.set(name, list);
  }

  const services = (snapshot.services as readonly BalanceService[])
    .filter((s) => s.schedulingStrategy !== "DAEMON")
    .map((service) => judge(service, tasksByService.get(service.name) ?? [], zones, active, instanceByArn))
    .sort((a, b) => byName(a.service, b.service));
  const imbalanced = services.filter((s) => !s.balanced).map((s) => s.service);
  const lostZones = [...new Set(options.zones ?? [])].filter((z) => !zones.includes(z)).sort(byName);
  const withoutLostZones = lostZones.length > 0 ? services.filter((s) => s.tasks > 0).map((s) => s.service) : [];
  return { at: snapshot.at, clusterName: snapshot.clusterName, zones, services, imbalanced, balanced: imbalanced.length === 0, lostZones, withoutLostZones };
}

function judge(
  service: BalanceService,
  tasks: readonly TaskSnapshot[],
  zones: readonly string[],
  active: FleetSnapshot["containerInstances"],
  instanceByArn: ReadonlyMap<string, FleetSnapshot["containerInstances"][number]>,
): ServiceBalance {
  const zoneCount = new Map<string, number>(zones.map((z) => [z, 0]));
  const instanceCount = new Map<string, { availabilityZone: string; tasks: number }>();
  for (const task of tasks) {
    zoneCount.set(task.availabilityZone, (zoneCount.get(task.availabilityZone) ?? 0) + 1);
    const seen = instanceCount.get(task.containerInstanceArn);
    instanceCount.set(task.containerInstanceArn, { availabilityZone: task.availabilityZone, tasks: (seen?.tasks ?? 0) + 1 });
  }
  const perZone = [...zoneCount].map(([availabilityZone, n]) => ({ availabilityZone, tasks: n })).sort((a, b) => byName(a.availabilityZone, b.availabilityZone));
  const perInstance = [...instanceCount]
    .map(([arn, { availabilityZone, tasks: n }]) => ({ containerInstanceArn: arn, ec2InstanceId: instanceByArn.get(arn)?.ec2InstanceId ?? "", availabilityZone, tasks: n }))
    .sort((a, b) => byName(a.availabilityZone, b.availabilityZone) || byName(a.ec2InstanceId, b.ec2InstanceId) || byName(a.containerInstanceArn, b.containerInstanceArn));

  const checks = balanceChecks(service);
  const imbalances: Imbalance[] = [];
  const inZone = (z: string) => zoneCount.get(z) ?? 0;
  if (checks.zones && zones.length > 1) {
    const occupied = [...new Set(tasks.map((t) => t.availabilityZone))];
    if (tasks.length >= 2 && occupied.length === 1) {
      imbalances.push({ kind: "single-zone", detail: `all ${tasks.length} tasks in ${occupied[0]}` });
    }
    const counts = zones.map(inZone);
    if (spreadOf(counts) > 1) {
      imbalances.push({ kind: "zone-spread", detail: `${counts.join("/")} tasks over ${zones.join("/")} (max - min ${spreadOf(counts)} > 1)` });
    }
  }
  if (checks.instances) {
    const empty = active.filter((ci) => !instanceCount.has(ci.arn));
    for (const stacked of perInstance) {
      if (stacked.tasks < 2) continue;
      // The first free instance by zone then id: one pass, not a sort per service (200 services x 600 instances).
      let room: (typeof empty)[number] | undefined;
      for (const ci of empty) {
        if (checks.zones && ci.availabilityZone !== stacked.availabilityZone) continue;
        if (!room || (byName(ci.availabilityZone, room.availabilityZone) || byName(ci.ec2InstanceId, room.ec2InstanceId)) < 0) room = ci;
      }
      if (room) {
        const on = stacked.ec2InstanceId || stacked.containerInstanceArn;
        imbalances.push({ kind: "instance-stacking", detail: `${stacked.tasks} tasks on ${on} (${stacked.availabilityZone}) while ${room.ec2InstanceId} (${room.availabilityZone}) has none` });
        break;
      }
    }
  }
  return { service: service.name, tasks: tasks.length, perZone, perInstance, checks, balanced: imbalances.length === 0, imbalances };
}

/** ACTIVE container instances per zone, and whether they are even (max - min <= 1). */
export function instanceSpread(snapshot: FleetSnapshot): InstanceSpread {
  const count = new Map<string, number>();
  for (const group of snapshot.groups) {
    for (const instance of group.instances) if (instance.lifecycleState !== "Terminated") count.set(instance.availabilityZone, 0);
  }
  for (const ci of snapshot.containerInstances) count.set(ci.availabilityZone, 0);
  for (const ci of snapshot.containerInstances) if (ci.status === "ACTIVE") count.set(ci.availabilityZone, count.get(ci.availabilityZone)! + 1);
  const zones = [...count].map(([availabilityZone, active]) => ({ availabilityZone, active })).sort((a, b) => byName(a.availabilityZone, b.availabilityZone));
  return { zones, balanced: spreadOf(zones.map((z) => z.active)) <= 1 };
}

/** A service's verdict in a few words. */
export function balanceVerdict(service: ServiceBalance): string {
  if (!service.checks.zones && !service.checks.instances) return "not judged (binpack)";
  if (service.balanced) return "balanced";
  return `imbalanced: ${service.imbalances.map((i) => i.detail).join("; ")}`;
}

/**
 * A compact text table for reports: a service per row, its tasks per zone, the verdict.
 *
 *   service  eu-west-1a  eu-west-1b  eu-west-1c  verdict
 *   api               6           0           0  imbalanced: all 6 tasks in eu-west-1a; ...
 */
export function balanceTable(report: BalanceReport): string[] {
  const zones = [...new Set([...report.zones, ...report.services.flatMap((s) => s.perZone.map((z) => z.availabilityZone))])].sort(byName);
  const rows = report.services.map((s) => [s.service, ...zones.map((z) => String(s.perZone.find((p) => p.availabilityZone === z)?.tasks ?? 0)), balanceVerdict(s)]);
  const header = ["service", ...zones, "verdict"];
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 || i === cells.length - 1 ? cell.padEnd(i === cells.length - 1 ? 0 : width[i]) : cell.padStart(width[i])))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** A cluster's lost zones in one line: "apps: eu-west-1a has no instances (took no new ones): no task of api, web runs there". */
export function lostZonesText(cluster: string, report: BalanceReport): string {
  const zones = report.lostZones.join(", ");
  const has = report.lostZones.length === 1 ? "has" : "have";
  const services = report.withoutLostZones.length > 0 ? `: no task of ${report.withoutLostZones.join(", ")} runs there` : "";
  return `${cluster}: ${zones} ${has} no instances (took no new ones)${services}`;
}
