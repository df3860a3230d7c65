/**
 * One move of a service bunched over zones, as `rebalance` makes it: which way (stop a task of its
 * fullest zone, or desired count one up then back), which task, whether the move helped, and why
 * no further move can help. Pure functions of snapshots, plus the one DescribeServices that reads
 * what a service's configuration allows.
 *
 * A stop is allowed while the service keeps its minimum healthy count without the stopped task:
 * `desiredCount - 1 >= max(1, ceil(desiredCount * minimumHealthyPercent / 100))` (the floor ECS
 * keeps during its own deployments). It waits until every task of the service counts: RUNNING for
 * at least the proof time (the service's health check grace period, and never less than a
 * minute), as a replacement RUNNING but not yet healthy does not. The scheduler then places the
 * replacement by the service's spread: in the zone with the fewest of its tasks that has room
 * (the stopped task no longer counts). A service whose floor is its desired count (100 %) is moved
 * by a scale-out instead, which never goes below it.
 */
import { DescribeServicesCommand, type ECSClient } from "@aws-sdk/client-ecs";
import type { ServiceBalance } from "./balance";
import type { FleetSnapshot, ServiceSnapshot, TaskSnapshot } from "./snapshot";
import { unsteadyReason } from "./migration";

/** The least time a task runs before it counts towards the floor, whatever the grace period says. */
export const MIN_PROOF_MS = 60_000;

/** What a service's configuration (DescribeServices) allows a move. */
export interface MoveSettings {
  /** Absent when DescribeServices did not answer it: then no task is stopped. */
  readonly minimumHealthyPercent?: number;
  /** How long a task runs before it counts towards the floor. */
  readonly proofMs: number;
  /** Its placement constraints, as text (e.g. `memberOf attribute:ecs.instance-type =~ m7g.*`). */
  readonly constraints: readonly string[];
}

/** Reads the service's minimum healthy percent, health check grace period and placement constraints; never throws. */
export async function readMoveSettings(ecs: Pick<ECSClient, "send">, cluster: string, service: string): Promise<MoveSettings> {
  try {
    const out = await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
    const found = out.services?.find((s) => s.serviceName === service || s.serviceArn === service);
    if (!found) return { proofMs: MIN_PROOF_MS, constraints: [] };
    return {
      minimumHealthyPercent: found.deploymentConfiguration?.minimumHealthyPercent,
      proofMs: Math.max(MIN_PROOF_MS, (found.healthCheckGracePeriodSeconds ?? 0) * 1000),
      constraints: (found.placementConstraints ?? []).map((c) => [c.type, c.expression].filter(Boolean).join(" ")),
    };
  } catch {
    return { proofMs: MIN_PROOF_MS, constraints: [] };
  }
}

/** The service's tasks counted for balance (desired RUNNING, not stopping). */
function tasksOf(snapshot: FleetSnapshot, service: string): TaskSnapshot[] {
  return snapshot.tasks.filter((t) => t.group === `service:${service}` && t.desiredStatus === "RUNNING");
}

/** The floor a stop must keep: what ECS keeps during a deployment, and at least one task. */
export function healthyFloor(desiredCount: number, minimumHealthyPercent: number): number {
  return Math.max(1, Math.ceil((desiredCount * minimumHealthyPercent) / 100));
}

/**
 * How the next move goes: `stop` a task (room above the floor, every task proven), `wait` (room
 * above the floor once the service is steady and its newest task proven), or `scale` (no room
 * above the floor, or its configuration unknown).
 */
export function stopAllowed(snapshot: FleetSnapshot, service: ServiceSnapshot, settings: MoveSettings, now: number): "stop" | "wait" | "scale" {
  if (settings.minimumHealthyPercent === undefined) return "scale";
  const desired = service.desiredCount;
  const floor = healthyFloor(desired, settings.minimumHealthyPercent);
  if (desired - 1 < floor) return "scale";
  if (unsteadyReason(service) !== undefined) return "wait";
  const proven = tasksOf(snapshot, service.name).filter((t) => t.lastStatus === "RUNNING" && t.startedAt !== undefined && now - t.startedAt >= settings.proofMs);
  return proven.length - 1 >= floor ? "stop" : "wait";
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The task a stop takes: one in the service's fullest zone (the first by name of those tied), on
 * the instance there holding the most of its tasks, the newest first, then by ARN.
 */
export function taskToStop(snapshot: FleetSnapshot, balance: ServiceBalance): TaskSnapshot | undefined {
  const most = Math.max(...balance.perZone.map((z) => z.tasks));
  const zone = balance.perZone.filter((z) => z.tasks === most).map((z) => z.availabilityZone).sort(byName)[0];
  const inZone = tasksOf(snapshot, balance.service).filter((t) => t.availabilityZone === zone && t.lastStatus === "RUNNING");
  const perInstance = new Map<string, number>();
  for (const t of inZone) perInstance.set(t.containerInstanceArn, (perInstance.get(t.containerInstanceArn) ?? 0) + 1);
  return inZone.sort(
    (a, b) =>
      perInstance.get(b.containerInstanceArn)! - perInstance.get(a.containerInstanceArn)! ||
      (b.startedAt ?? 0) - (a.startedAt ?? 0) ||
      byName(a.arn, b.arn),
  )[0];
}

/** The sum of squares of its tasks per zone: a task moved from a fuller zone to an emptier one by 2 or more lowers it. */
function unevenness(balance: ServiceBalance): number {
  return balance.perZone.reduce((sum, z) => sum + z.tasks * z.tasks, 0);
}

/** Whether a move left the service more evenly spread over zones than it was (the same tasks, fewer bunched). */
export function moveImproves(before: ServiceBalance, after: ServiceBalance): boolean {
  return after.tasks >= before.tasks && unevenness(after) < unevenness(before);
}

/** Why no move helps: the zones it lacks tasks in have no room for one, or its placement constraints keep it out. */
export function noRoomReason(balance: ServiceBalance, settings: MoveSettings): string {
  const least = Math.min(...balance.perZone.map((z) => z.tasks));
  const zones = balance.perZone.filter((z) => z.tasks === least).map((z) => z.availabilityZone);
  const where = zones.join(", ");
  const constraints = settings.constraints.length > 0 ? `its placement constraints (${settings.constraints.join("; ")}) keep its tasks out of ${where}, or ` : "";
  return `${constraints}not enough capacity in ${where}: no instance there has room for another of its tasks`;
}
