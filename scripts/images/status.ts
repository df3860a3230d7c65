/**
 * `amiroll status`'s picture of one cluster, pure: the pinned image and its age, the newest image
 * of the cluster's SSM parameter, the running instances by image and how many are outdated, the
 * holds and the next maintenance window. Built from the config, the pins, what AWS said about
 * the images and a fleet snapshot.
 */
import type { Cluster, Environment } from "../config/environments";
import type { ClusterPins } from "../config/pins";
import type { FleetSnapshot } from "../fleet/snapshot";
import { generationAsgNamePrefix } from "../../constructs/names";
import { openWindow, nextOpening } from "../config/windows";
import { type ImageFacts, type Release, type Unreadable, ageDays, imageProblem, olderThanPin, releaseNotesUrl } from "./release";

export interface ImageSummary {
  readonly imageId: string;
  readonly name?: string;
  /** When the image was built (its release), ISO 8601. */
  readonly releasedAt?: string;
  /** Days since its release, to one decimal. */
  readonly ageDays?: number;
  /** As DescribeImages says (available, deregistered, ...), or "missing" when EC2 does not know it. */
  readonly state: string;
}

/** What one image runs in a cluster. */
export interface ImageCount extends ImageSummary {
  /** Container instances on it, ACTIVE or DRAINING. */
  readonly instances: number;
  readonly draining: number;
  /** Not the newest image of the cluster's SSM parameter (not the pin, when the parameter could not be read). */
  readonly outdated: boolean;
  /** What the pins call it: the pin, the blue-green generation being retired, or neither. */
  readonly role: "pinned" | "retiring" | "unpinned";
}

export type WindowStatus =
  | { readonly state: "any time" }
  | { readonly state: "open"; readonly window: string; readonly closesAt: number; readonly timeZone: string }
  | { readonly state: "closed"; readonly window: string; readonly opensAt: number; readonly timeZone: string };

export interface ClusterStatus {
  readonly environment: string;
  readonly cluster: string;
  readonly ecsClusterName: string;
  readonly strategy: string;
  readonly pinned: ImageSummary & { readonly verifiedAt?: string; readonly resolvedAt?: string };
  readonly retiring?: ImageSummary;
  /** The newest image of the cluster's SSM parameter; absent when the parameter could not be read (a warning says why). */
  readonly latest?: ImageSummary & { readonly parameter: string; readonly agentVersion?: string; readonly releaseNotes?: string };
  /** Running instances by image, most first. */
  readonly instances: readonly ImageCount[];
  readonly total: number;
  readonly outdated: number;
  /** outdated / total; 0 for a cluster with no instances. */
  readonly outdatedRatio: number;
  /** The environment's and the cluster's holds: `production: reason`, `production/apps: reason`. */
  readonly holds: readonly string[];
  readonly window: WindowStatus;
  /** Things that need a person: a pinned image that no longer exists, a rejected image that is the newest. */
  readonly warnings: readonly string[];
}

export interface ClusterStatusInput {
  readonly environment: Environment;
  readonly cluster: Cluster;
  readonly pins: ClusterPins;
  /** The cluster's SSM parameter, read, or why it could not be. */
  readonly release: Release | Unreadable;
  readonly images: ReadonlyMap<string, ImageFacts | undefined>;
  /** Undefined when the cluster does not exist yet (nothing deployed). */
  readonly fleet?: FleetSnapshot;
  readonly now: number;
}

function summary(imageId: string, images: ReadonlyMap<string, ImageFacts | undefined>, now: number, knownName?: string): ImageSummary {
  const facts = images.get(imageId);
  const name = facts?.name ?? knownName;
  return {
    imageId,
    ...(name && { name }),
    ...(facts?.createdAt && { releasedAt: facts.createdAt, ageDays: ageDays(facts.createdAt, now) }),
    state: facts?.state ?? "missing",
  };
}

export function windowStatus(environment: Environment, now: number): WindowStatus {
  const windows = environment.maintenanceWindows;
  if (windows.length === 0) return { state: "any time" };
  const open = openWindow(windows, now);
  if (open) return { state: "open", window: open.window.text, closesAt: open.closesAt, timeZone: open.window.timeZone };
  const next = nextOpening(windows, now)!;
  return { state: "closed", window: next.window.text, opensAt: next.opensAt, timeZone: next.window.timeZone };
}

export function clusterStatus(input: ClusterStatusInput): ClusterStatus {
  const { environment, cluster, pins, release, images, fleet, now } = input;
  const pinned = { ...summary(pins.current.imageId, images, now, pins.current.imageName), ...(pins.current.verifiedAt && { verifiedAt: pins.current.verifiedAt }), ...(pins.current.resolvedAt && { resolvedAt: pins.current.resolvedAt }) };
  const retiring = pins.retiring ? summary(pins.retiring.imageId, images, now, pins.retiring.imageName) : undefined;
  const readable = "imageId" in release ? release : undefined;
  const latest = readable && {
    ...summary(readable.imageId, images, now, readable.imageName),
    parameter: readable.parameter,
    ...(readable.agentVersion && { agentVersion: readable.agentVersion }),
  };
  const notes = releaseNotesUrl(latest?.name);
  const newest = readable?.imageId ?? pins.current.imageId;

  const counts = new Map<string, { instances: number; draining: number }>();
  for (const ci of fleet?.containerInstances ?? []) {
    if (ci.status !== "ACTIVE" && ci.status !== "DRAINING") continue;
    const count = counts.get(ci.imageId) ?? { instances: 0, draining: 0 };
    count.instances++;
    if (ci.status === "DRAINING") count.draining++;
    counts.set(ci.imageId, count);
  }
  const instances: ImageCount[] = [...counts.entries()]
    .map(([imageId, count]) => {
      const pinnedName = imageId === pins.current.imageId ? pins.current.imageName : imageId === pins.retiring?.imageId ? pins.retiring.imageName : undefined;
      return {
        ...summary(imageId, images, now, pinnedName),
        ...count,
        outdated: imageId !== newest,
        role: imageId === pins.current.imageId ? ("pinned" as const) : imageId === pins.retiring?.imageId ? ("retiring" as const) : ("unpinned" as const),
      };
    })
    .sort((a, b) => b.instances - a.instances || a.imageId.localeCompare(b.imageId));
  const total = instances.reduce((n, i) => n + i.instances, 0);
  const outdated = instances.filter((i) => i.outdated).reduce((n, i) => n + i.instances, 0);

  const warnings: string[] = [];
  if (!fleet) warnings.push(`ECS cluster ${cluster.ecsClusterName} not found: not deployed yet`);
  if (cluster.capacityProviders) {
    // capacityProviders: a service naming a provider that is not a generation's is not moved by a roll.
    for (const service of fleet?.services ?? []) {
      const others = (service.capacityProviders ?? []).filter((p) => !p.startsWith(generationAsgNamePrefix(cluster.ecsClusterName)));
      if (others.length > 0) warnings.push(`service ${service.name} names capacity provider(s) ${others.join(", ")} that amiroll does not manage: a roll does not move it`);
    }
  }
  if (pinned.state !== "available") warnings.push(`the pinned image ${pinned.imageId} is ${pinned.state}: new instances cannot launch from it`);
  if (!readable) warnings.push(`SSM parameter ${release.parameter} cannot be read: ${"unreadable" in release ? release.unreadable : "no answer"}: the newest image is unknown and amiroll bump cannot pin one`);
  if (readable) {
    // Bump's own checks (and words), so status warns whenever bump would refuse the newest image.
    const refused = imageProblem(readable.imageId, images.get(readable.imageId), cluster.instanceType) ?? olderThanPin(images.get(readable.imageId), images.get(pins.current.imageId));
    if (refused) warnings.push(`the newest image of ${readable.parameter}: ${refused}: amiroll bump refuses it`);
    if (pins.rejected?.imageId === readable.imageId) warnings.push(`the newest image ${readable.imageId} was rejected on ${pins.rejected.at} (${pins.rejected.reason})`);
  }
  return {
    environment: environment.name,
    cluster: cluster.name,
    ecsClusterName: cluster.ecsClusterName,
    strategy: cluster.strategy,
    pinned,
    ...(retiring && { retiring }),
    ...(latest && { latest: { ...latest, ...(notes && { releaseNotes: notes }) } }),
    instances,
    total,
    outdated,
    outdatedRatio: total === 0 ? 0 : outdated / total,
    holds: [...(environment.hold ? [`${environment.name}: ${environment.hold}`] : []), ...(cluster.hold ? [`${environment.name}/${cluster.name}: ${cluster.hold}`] : [])],
    window: windowStatus(environment, now),
    warnings,
  };
}
