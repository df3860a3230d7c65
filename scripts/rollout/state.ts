/**
 * Where a roll stands, derived from the world alone: the pins file, what terraform has deployed
 * (the `amiroll_clusters` output) and what AWS runs (a fleet snapshot). Nothing here is
 * remembered between runs, so a rollout started again after a crash or Ctrl-C picks up exactly
 * where the world is. `nextClusterStep` is pure; the driver (rollout.ts) acts on its answer and
 * asks again.
 */
import { refreshAsgName } from "../../constructs/names";
import type { Cluster } from "../config/environments";
import type { ClusterPins, Pin } from "../config/pins";
import type { FleetSnapshot } from "../fleet/snapshot";
import { capacityProviderName, generationAsgName, generationAsgNamePrefix } from "../../constructs/names";

/** A generation terraform has deployed: the image and its name (from the amiroll_clusters output). */
export interface DeployedGeneration {
  readonly imageId: string;
  readonly imageName?: string;
  /** "current", "retiring" or "canary" (the replace strategy's group of the image being proven). */
  readonly role?: string;
}

export interface ClusterWorld {
  readonly cluster: Cluster;
  readonly pins: ClusterPins;
  /** Newest first; empty before the first deploy. */
  readonly deployed: readonly DeployedGeneration[];
  readonly fleet: FleetSnapshot;
  /** capacityProviders: the cluster's capacity-provider set as ECS has it (terraform's to match the pins). */
  readonly providers?: readonly string[];
}

/**
 * What the cluster needs next, in the order a roll goes through them:
 * - `reactivate`: a rollback was cut short after its pins rejected the image (they are written
 *   first): its old instances still DRAINING go back to ACTIVE before anything else (then the
 *   apply removes the rejected generation; nothing is ever drained onto it again);
 * - `pin`: the pins file must change first (start a roll, or promote the image);
 * - `apply`: terraform must make the deployed generations match the pins (for a cluster never
 *   deployed, its first deploy: the plan creates it);
 * - `canary`: replace, a canary group of the new image stands beside the old one: prove the
 *   image on it (tasks moved onto it stay healthy) before any old instance is given up;
 *   blue-green with a canary slice, the new generation still runs at the slice's size: move the
 *   slice and soak it (rollout/slice.ts) before the rest is drained;
 * - `refresh`: refresh, the group's launch template has the goal image but instances of another
 *   image are still registered: replace them in batches (a rollback's batches too, towards the
 *   old image);
 * - `drain`: blue-green, the old generation is still ACTIVE: set it DRAINING;
 * - `migrate`: tasks are still on old instances, old instances are still leaving, or no instance
 *   of the target has registered with ECS yet (a first deploy: nothing to move, only to join);
 * - `verify`: everything runs the target image: the gates decide;
 * - `done`: verified and nothing old is left;
 * - `refuse`: the roll cannot go on without a person (the reason says why).
 */
export type ClusterStep =
  | { readonly kind: "reactivate"; readonly containerInstanceArns: readonly string[] }
  | { readonly kind: "pin"; readonly pins: ClusterPins; readonly why: string }
  | { readonly kind: "apply"; readonly why: string }
  | { readonly kind: "canary"; readonly imageId: string }
  | { readonly kind: "refresh"; readonly imageId: string; readonly instances: number }
  | { readonly kind: "drain"; readonly containerInstanceArns: readonly string[] }
  | { readonly kind: "migrate"; readonly why: string }
  | { readonly kind: "verify" }
  | { readonly kind: "done" }
  | { readonly kind: "refuse"; readonly reason: string };

export type StepKind = ClusterStep["kind"];

/** The order of the steps: an environment's clusters move together, the one furthest behind leads. */
export const STEP_ORDER: readonly StepKind[] = ["reactivate", "refuse", "pin", "apply", "canary", "refresh", "drain", "migrate", "verify", "done"];

const REGISTERED = new Set(["ACTIVE", "DRAINING"]);

/** A pin as promoted or carried over: the image and where it came from, never another environment's verification. */
export function unverified(pin: Pin): Pin {
  const { verifiedAt: _verified, ...rest } = pin;
  return rest;
}

/**
 * The next step of one cluster towards `target` (the pinned image for an environment that
 * promotes from none; the verified image of the one it promotes from otherwise).
 */
export function nextClusterStep(world: ClusterWorld, target: Pin): ClusterStep {
  const { pins, deployed, fleet, cluster } = world;
  const registered = fleet.containerInstances.filter((ci) => REGISTERED.has(ci.status));
  const deployedIds = deployed.map((g) => g.imageId);
  const rejected = pins.rejected?.imageId === target.imageId;
  // A rejected image is never rolled to again: the cluster only finishes going back to its pin.
  const goal = rejected ? pins.current : target;

  if (deployed.length === 0) return firstDeployStep(world, goal);

  // A rollback not finished: its old instances serve again first.
  const undoing = rollbackUnfinished(world);
  if (undoing) {
    const drained = registered.filter((ci) => ci.imageId !== pins.rejected!.imageId && ci.status === "DRAINING");
    if (drained.length > 0) return { kind: "reactivate", containerInstanceArns: drained.map((ci) => ci.arn) };
  }

  if (pins.current.imageId !== goal.imageId) {
    if (pins.retiring) {
      return { kind: "refuse", reason: `a roll from ${pins.retiring.imageId} to ${pins.current.imageId} is still in progress; finish it (or roll it back) before rolling to ${goal.imageId}` };
    }
    const promoted = unverified(goal);
    // Both strategies keep what runs now (not what was pinned: a pin may never have been
    // deployed): blue-green as a generation, replace as its stable group while a canary proves the image.
    const running = deployed.find((g) => g.imageId !== goal.imageId && g.role !== "canary");
    if (!running) return { kind: "pin", pins: { current: promoted }, why: `roll to ${goal.imageId}` };
    const retiring: Pin = running.imageId === pins.current.imageId ? pins.current : { imageId: running.imageId, ...(running.imageName && { imageName: running.imageName }) };
    return { kind: "pin", pins: { current: promoted, retiring }, why: startWhy(cluster, goal.imageId, running.imageId) };
  }

  const verified = pins.current.verifiedAt !== undefined;
  // A canary of the goal with the old image no longer pinned: its proof passed, the replace is next.
  const proven = cluster.strategy === "replace" && deployed.some((g) => g.role === "canary" && g.imageId === goal.imageId);
  // (Never the rejected generation of a rollback not finished: the apply removes it.)
  if (!rejected && !undoing && !pins.retiring && !verified && !proven && deployedIds.some((id) => id !== goal.imageId)) {
    // The old generation stays until the new image is verified (blue-green) or proven on a canary (replace): pin it as retiring.
    const old = deployed.find((g) => g.imageId !== goal.imageId && g.role !== "canary")!;
    const retiring: Pin = { imageId: old.imageId, ...(old.imageName && { imageName: old.imageName }) };
    const why =
      cluster.strategy === "replace" ? `keep ${old.imageId} while a canary proves ${goal.imageId}`
      : cluster.strategy === "refresh" ? `keep ${old.imageId} as retiring (the image a rollback goes back to) until ${goal.imageId} is verified`
      : `keep ${old.imageId} as retiring until ${goal.imageId} is verified`;
    return { kind: "pin", pins: { ...pins, current: pins.current, retiring }, why };
  }

  // A refresh group runs only its current image: its retiring pin is the rollback's, not a generation.
  const wanted = [pins.current.imageId, ...(pins.retiring && cluster.strategy !== "refresh" ? [pins.retiring.imageId] : [])];
  if (wanted.some((id) => !deployedIds.includes(id)) || deployedIds.some((id) => !wanted.includes(id))) {
    return { kind: "apply", why: `deployed ${deployedIds.join(", ")}; pinned ${wanted.join(", ")}` };
  }
  // capacityProviders: the set names exactly the pinned generations' providers (an add apply cut
  // short after its groups were created may have left it behind: services could not follow).
  if (world.providers) {
    const wantedProviders = wanted.map((id) => capacityProviderName(generationAsgName(cluster.ecsClusterName, id)));
    const ours = world.providers.filter((p) => p.startsWith(generationAsgNamePrefix(cluster.ecsClusterName)));
    if (wantedProviders.some((p) => !ours.includes(p)) || ours.some((p) => !wantedProviders.includes(p))) {
      return { kind: "apply", why: `capacity providers ${ours.join(", ") || "(none)"}; pinned ${wantedProviders.join(", ")}` };
    }
  }

  if (cluster.strategy === "replace" && pins.retiring && !rejected) return { kind: "canary", imageId: goal.imageId };
  if (pins.retiring && !rejected && !verified && sliceUnproven(world, goal.imageId)) return { kind: "canary", imageId: goal.imageId };
  const old = registered.filter((ci) => ci.imageId !== goal.imageId);
  // Refresh: the launch template has the goal; the instances of any other image are replaced in
  // batches (a rollback's too: towards the old image, once its pins reject the new one).
  if (cluster.strategy === "refresh" && old.length > 0) return { kind: "refresh", imageId: goal.imageId, instances: old.length };
  const oldActive = old.filter((ci) => ci.status === "ACTIVE");
  if (pins.retiring && oldActive.length > 0) return { kind: "drain", containerInstanceArns: oldActive.map((ci) => ci.arn) };
  if (rejected) {
    if (old.length > 0 || registered.some((ci) => ci.imageId !== pins.current.imageId)) return { kind: "migrate", why: `instances of ${target.imageId} are leaving` };
    return { kind: "refuse", reason: `${target.imageId} was rolled back on ${pins.rejected!.at}: ${pins.rejected!.reason} (bump to a newer image, or remove "rejected" from the pins to try it again)` };
  }
  // A first deploy (or any apply whose instances have not joined yet): nothing to move, but
  // nothing to verify either until the new instances are in the cluster.
  const joining = stillJoining(fleet, registered, goal.imageId, cluster.strategy === "refresh" ? refreshAsgName(cluster.ecsClusterName) : undefined);
  if (joining) return { kind: "migrate", why: joining };
  const tasksOnOld = fleet.tasks.some((t) => t.lastStatus !== "STOPPED" && old.some((ci) => ci.arn === t.containerInstanceArn) && !isDaemonTask(fleet, t.group));
  // With a retiring generation, its drained instances stay until the retire apply; otherwise they must be gone.
  if (tasksOnOld || (!pins.retiring && old.length > 0)) return { kind: "migrate", why: `${old.length} instance(s) of older images still registered` };
  if (!verified) return { kind: "verify" };
  return { kind: "done" };
}

/**
 * A rollback not finished (cut short by Ctrl-C, a crash or a failed apply): the pins reject an
 * image (a rollback writes them first) that is still deployed or has instances registered.
 */
export function rollbackUnfinished(world: ClusterWorld): boolean {
  const rejected = world.pins.rejected?.imageId;
  if (rejected === undefined || rejected === world.pins.current.imageId) return false;
  return world.deployed.some((g) => g.imageId === rejected) || world.fleet.containerInstances.some((ci) => REGISTERED.has(ci.status) && ci.imageId === rejected);
}

/**
 * A cluster terraform has never deployed (no generation in the `amiroll_clusters` output): its
 * first deploy is of the goal alone, as the current generation (blue-green too: there is nothing
 * to keep as retiring), and unverified (a verification in the pins cannot be of capacity that
 * never existed). Once the pins say so, the apply creates the cluster; the watch and the gates
 * then take it like any wave.
 */
function firstDeployStep(world: ClusterWorld, goal: Pin): ClusterStep {
  const { pins, cluster } = world;
  const name = cluster.ecsClusterName;
  const current = pins.current.imageId === goal.imageId ? pins.current : goal;
  const first: ClusterPins = { current: unverified(current), ...(pins.rejected && { rejected: pins.rejected }) };
  if (pins.current.imageId !== goal.imageId) return { kind: "pin", pins: first, why: `first deploy of ${name} on ${goal.imageId}` };
  if (pins.retiring) return { kind: "pin", pins: first, why: `${name} was never deployed: its first deploy keeps no retiring generation (${pins.retiring.imageId})` };
  if (pins.current.verifiedAt !== undefined) return { kind: "pin", pins: first, why: `${name} was never deployed: ${goal.imageId} is verified here only once it runs here` };
  return { kind: "apply", why: `first deploy of ${name}: nothing deployed; pinned ${goal.imageId}` };
}

/**
 * Why the instances of `imageId` are still to be waited for, if they are: none has registered
 * with ECS yet while its groups want some; one its groups launched has not registered yet
 * (booting, a replacement of one that did not boot, or one that failed to boot: the watch's boot
 * check replaces it once its grace period is over); or (a cluster without services, as a new one
 * is) not all have. With services, their steadiness is the evidence the gates judge once every
 * instance launched has joined; without, the instances joining the cluster is the only one, so
 * all of them must.
 */
function stillJoining(fleet: FleetSnapshot, registered: readonly { imageId: string }[], imageId: string, refreshGroup?: string): string | undefined {
  // Groups are named <cluster>-<ami> (EcsCluster's convention), a refresh cluster's one group
  // <cluster>-ami-refresh (it runs only its current image); one being deleted wants nothing.
  const groups = fleet.groups.filter((g) => (g.name.endsWith(imageId) || g.name === refreshGroup) && !g.status);
  const wanted = groups.reduce((n, g) => n + g.desiredCapacity, 0);
  const joined = registered.filter((ci) => ci.imageId === imageId).length;
  if (joined >= wanted) return undefined;
  const known = new Set(fleet.containerInstances.map((ci) => ci.ec2InstanceId));
  const launched = groups.flatMap((g) => g.instances).filter((i) => (i.lifecycleState.startsWith("Pending") || i.lifecycleState === "InService") && !known.has(i.instanceId)).length;
  if (joined > 0 && fleet.services.length > 0 && launched === 0) return undefined;
  return `${joined} of ${wanted} instance(s) of ${imageId} registered with ECS${launched > 0 ? ` (${launched} launched, not registered yet)` : ""}`;
}

function isDaemonTask(fleet: FleetSnapshot, group: string): boolean {
  return fleet.services.some((s) => s.schedulingStrategy === "DAEMON" && `service:${s.name}` === group);
}

/** The step an environment takes: the earliest of its clusters' (they share one terraform stack). */
export function environmentStep(steps: readonly ClusterStep[]): StepKind {
  return STEP_ORDER.find((kind) => steps.some((s) => s.kind === kind)) ?? "done";
}

/** Why a roll's pins keep the running image as retiring, by strategy. */
function startWhy(cluster: Cluster, goal: string, running: string): string {
  if (cluster.strategy === "replace") return `prove ${goal} on a canary beside ${running}`;
  if (cluster.strategy === "refresh") return `refresh ${running} to ${goal} in batches (${running} kept as retiring for a rollback)`;
  return `add ${goal} beside ${running}`;
}

/**
 * A blue-green cluster with a canary slice has not passed it yet: its new generation (the group of
 * `imageId`, not being deleted) still wants fewer instances than the cluster's desiredCapacity
 * (the rollout scales it up once the slice passed).
 */
export function sliceUnproven(world: Pick<ClusterWorld, "cluster" | "fleet">, imageId: string): boolean {
  const { cluster, fleet } = world;
  if (cluster.strategy !== "blue-green" || !cluster.canary) return false;
  const group = fleet.groups.find((g) => g.name === generationAsgName(cluster.ecsClusterName, imageId) && !g.status);
  return group !== undefined && group.desiredCapacity < cluster.desiredCapacity;
}
