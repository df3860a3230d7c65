/**
 * `amiroll bump`, pure: which image each cluster moves to, and the pins that say so.
 *
 * In two steps around the AWS lookups, so that they can be batched: `bumpTargets` says where
 * each cluster's image comes from (its SSM parameter, `--to`, or the verified pin of the
 * environment it promotes from); the command then resolves every parameter and describes every
 * image at once; `planBump` checks the images and writes the new pins.
 *
 * Staging first: an environment that promotes from another takes only the image its source runs
 * and verified (the source's pin has `verifiedAt` and no retiring generation), unless `--force`.
 */
import type { Cluster, Environment } from "../config/environments";
import { findEnvironment } from "../config/file";
import type { ClusterPins, Pin, Pins } from "../config/pins";
import { AwsAnswerError, UsageError } from "../core/errors";
import { sourceCluster, wavesOf } from "../rollout/rollout";
import { type ImageFacts, type Release, imageProblem, olderThanPin } from "./release";


/** A roll under way, by strategy, for the message that skips its cluster. */
const ROLL_WORDS: Record<Cluster["strategy"], string> = {
  replace: "replace roll (its canary)",
  "blue-green": "blue-green roll",
  refresh: "refresh roll (its batches)",
};

export interface BumpRequest {
  readonly environments: readonly Environment[];
  readonly pins: Pins;
  /** `--env`, in any order; empty for every environment. */
  readonly selected: readonly string[];
  /** `--to`: an exact image for the selected environments (all but the promoted ones when none is selected). */
  readonly to?: string;
  readonly force?: boolean;
  /**
   * A cluster of a named environment that cannot move now (a roll under way, a source that has
   * not verified, a rejected image) is skipped with its reason instead of refused: what a
   * scheduled `bump --env E --open-pr` wants (it must not fail every week production waits).
   */
  readonly skipBlocked?: boolean;
}

export type TargetSource =
  | { readonly kind: "ssm"; readonly parameter: string }
  | { readonly kind: "to"; readonly imageId: string }
  | { readonly kind: "promoted"; readonly from: string; readonly pin: Pin };

export interface ClusterTarget {
  readonly environment: Environment;
  readonly cluster: Cluster;
  readonly source: TargetSource;
}

/** A cluster left as it is, and why. */
export interface Skipped {
  readonly environment: string;
  readonly cluster: string;
  readonly reason: string;
}

export interface Targets {
  readonly targets: readonly ClusterTarget[];
  readonly skipped: readonly Skipped[];
}

/**
 * Where each cluster of the selected environments takes its image from. A cluster that cannot
 * move now (mid-roll, or its source has not verified an image) is skipped with the reason; when
 * its environment was named with `--env`, that is a UsageError instead (exit 2: the user asked
 * for something that cannot be done).
 */
export function bumpTargets(request: BumpRequest): Targets {
  const { environments, pins, selected, to, force, skipBlocked } = request;
  selected.forEach((name) => findEnvironment(environments, name));
  const chosen = wavesOf(environments).filter((e) => selected.length === 0 || selected.includes(e.name));
  const targets: ClusterTarget[] = [];
  const skipped: Skipped[] = [];
  const skip = (environment: Environment, cluster: Cluster, reason: string) => {
    if (selected.includes(environment.name) && !skipBlocked) throw new UsageError(`${environment.name}/${cluster.name}: ${reason}`);
    skipped.push({ environment: environment.name, cluster: cluster.name, reason });
  };
  for (const environment of chosen) {
    const source = environment.promotesFrom ? environments.find((e) => e.name === environment.promotesFrom)! : undefined;
    for (const cluster of environment.clusters) {
      const own = pins[environment.name][cluster.name];
      if (own.retiring) {
        skip(environment, cluster, `a ${ROLL_WORDS[cluster.strategy]} is under way (retiring ${own.retiring.imageId}); finish it with amiroll rollout before bumping again`);
        continue;
      }
      // --to without --env pins the environments that promote from none; the others follow them.
      if (to !== undefined && (!source || selected.includes(environment.name))) {
        const verified = source && verifiedSourcePin(cluster, source, pins);
        if (source && verified?.imageId !== to && !force) {
          skip(environment, cluster, `${environment.name} takes only what ${source.name} runs and verified (${verified ? verified.imageId : "nothing verified yet"}), not ${to}; --force pins it anyway (a hold-back or a roll-back)`);
          continue;
        }
        targets.push({ environment, cluster, source: { kind: "to", imageId: to } });
        continue;
      }
      if (!source) {
        targets.push({ environment, cluster, source: { kind: "ssm", parameter: cluster.amiParameter } });
        continue;
      }
      const verified = verifiedSourcePin(cluster, source, pins);
      if (verified) targets.push({ environment, cluster, source: { kind: "promoted", from: source.name, pin: verified } });
      else if (force) targets.push({ environment, cluster, source: { kind: "ssm", parameter: cluster.amiParameter } });
      else skip(environment, cluster, `waits for ${source.name}: it has not verified its image yet (amiroll verify --env ${source.name} once its pins are applied, or amiroll rollout --to ${source.name}; --force takes the newest image from SSM anyway)`);
    }
  }
  return { targets, skipped };
}

/** The pin of `source` that `cluster` may take: verified there, and no roll under way. */
function verifiedSourcePin(cluster: Cluster, source: Environment, pins: Pins): Pin | undefined {
  const from = sourceCluster(cluster, source);
  const pin = from && pins[source.name][from.name];
  return pin && pin.current.verifiedAt && !pin.retiring ? pin.current : undefined;
}

/** One cluster's change. */
export interface ClusterBump {
  readonly environment: string;
  readonly cluster: string;
  readonly strategy: string;
  readonly from: Pin;
  readonly to: Pin;
  readonly image: ImageFacts;
  readonly source: TargetSource;
  /** From the SSM document, when the image came from one. */
  readonly agentVersion?: string;
}

export interface BumpPlan {
  readonly changes: readonly ClusterBump[];
  readonly skipped: readonly Skipped[];
  /** `env/cluster` already on its target. */
  readonly upToDate: readonly string[];
  /** The pins with every change made. */
  readonly pins: Pins;
}

/** What AWS said in one environment's region. */
export interface Lookups {
  /** Every parameter of an `ssm` target, resolved. */
  readonly releases: ReadonlyMap<string, Release>;
  /** Every target image, described (undefined: EC2 does not know it). */
  readonly images: ReadonlyMap<string, ImageFacts | undefined>;
}

export interface PlanBumpInput {
  readonly request: BumpRequest;
  readonly targets: Targets;
  /** Per environment: a parameter or an id may differ between regions. */
  readonly lookups: ReadonlyMap<string, Lookups>;
  readonly now: number;
}

/**
 * The new pins. An image that is missing, not available or built for another CPU than the
 * cluster's instance type is an AwsAnswerError naming the cluster (exit 2, nothing written). An
 * image the rollout rejected in that cluster is skipped unless `--force`. A blue-green cluster
 * keeps its running image as `retiring`, so that its plan adds a generation and deletes nothing.
 * An image from SSM that is older than the pin is skipped (an error when its environment was
 * named): `--to` pins an older image on purpose.
 */
export function planBump(input: PlanBumpInput): BumpPlan {
  const { request, targets, lookups, now } = input;
  const resolvedAt = new Date(now).toISOString().replace(/\.\d{3}Z$/, "Z");
  const changes: ClusterBump[] = [];
  const skipped = [...targets.skipped];
  const upToDate: string[] = [];
  const next: Record<string, Record<string, ClusterPins>> = Object.fromEntries(Object.entries(request.pins).map(([env, clusters]) => [env, { ...clusters }]));
  for (const { environment, cluster, source } of targets.targets) {
    const { releases, images } = lookups.get(environment.name) ?? { releases: new Map(), images: new Map() };
    const release = source.kind === "ssm" ? releases.get(source.parameter) : undefined;
    if (source.kind === "ssm" && !release) throw new Error(`bump: ${source.parameter} was not resolved`);
    const imageId = source.kind === "ssm" ? release!.imageId : source.kind === "to" ? source.imageId : source.pin.imageId;
    const where = `${environment.name}/${cluster.name}`;
    const image = images.get(imageId);
    const problem = imageProblem(imageId, image, cluster.instanceType);
    if (problem) throw new AwsAnswerError(source.kind === "ssm" ? `SSM parameter ${source.parameter} (${where})` : source.kind === "to" ? `--to ${imageId} (${where})` : `${source.from}'s pin (${where})`, problem);

    const own = request.pins[environment.name][cluster.name];
    if (own.current.imageId === imageId) {
      upToDate.push(where);
      continue;
    }
    // SSM going back (a withdrawn release, a parameter pointed at an old image) is not a bump:
    // --to pins an older image on purpose.
    const older = source.kind === "ssm" ? olderThanPin(image, images.get(own.current.imageId)) : undefined;
    if (older) {
      const reason = `the newest image of ${source.kind === "ssm" ? source.parameter : ""}, ${older}: not a bump (--to ${imageId} pins it on purpose)`;
      if (request.selected.includes(environment.name)) throw new UsageError(`${where}: ${reason}`);
      skipped.push({ environment: environment.name, cluster: cluster.name, reason });
      continue;
    }
    const rejected = own.rejected;
    if (rejected && rejected.imageId === imageId && !request.force) {
      const reason = `${imageId} was rejected here on ${rejected.at} (${rejected.reason}); --force pins it anyway`;
      if (request.selected.includes(environment.name) && !request.skipBlocked) throw new UsageError(`${where}: ${reason}`);
      skipped.push({ environment: environment.name, cluster: cluster.name, reason });
      continue;
    }
    const name = release?.imageName ?? image!.name;
    const to: Pin = {
      imageId,
      ...(name && { imageName: name }),
      ...(source.kind === "ssm" ? { ssmParameter: source.parameter } : source.kind === "promoted" && source.pin.ssmParameter ? { ssmParameter: source.pin.ssmParameter } : {}),
      resolvedAt,
    };
    const { verifiedAt: _, ...running } = own.current;
    next[environment.name][cluster.name] = {
      current: to,
      ...(cluster.strategy === "blue-green" && { retiring: running }),
      // A rejection stays on record until its image is pinned again on purpose.
      ...(own.rejected && own.rejected.imageId !== imageId && { rejected: own.rejected }),
    };
    changes.push({
      environment: environment.name,
      cluster: cluster.name,
      strategy: cluster.strategy,
      from: own.current,
      to,
      image: image!,
      source,
      ...(release?.agentVersion && { agentVersion: release.agentVersion }),
    });
  }
  return { changes, skipped, upToDate, pins: next };
}
