/**
 * Instances that fail, not images that fail: the boot check of a rollout, as a pure fold over
 * fleet snapshots (like migration.ts). An instance of the target image that is InService in one
 * of the cluster's groups but has not registered with ECS within the grace period (counted from
 * its EC2 launch time) failed to boot. One such instance is the instance's fault: the rollout
 * replaces it (terminates it in its group without lowering the desired capacity, so the group
 * launches another). Only a systematic failure is the image's:
 *
 * - **reject** (the image's fault) when at least SYSTEMATIC_MIN_FAILURES (3) instances of the
 *   image failed to boot during the wave AND they are at least two thirds of the image's
 *   instances judged so far (failed, or registered with ECS): failed >= 2 x registered. A broken
 *   image, whose instances never register, meets it on its first three failures (a cluster of
 *   one or two instances gets there through replacements). Independent 20 % boot failures
 *   almost never do (about 3 % of waves of 2 to 6 instances, under 0.2 % from 10: the rule
 *   needs three failures and twice as many failures as successes);
 * - **give up** (the wave fails, the image is not rejected) when replacing the new failures
 *   would take the wave's replacements of the cluster over the limit (its desiredCapacity, at
 *   least 2): boots keep failing, but not in a way that shows the image is at fault;
 * - otherwise **replace** the instances that failed since the last snapshot.
 *
 * The fold keeps what it learnt across snapshots (an instance registered once counts as
 * registered; a failed one is judged once), so the rule sees every instance of the image the wave
 * launched, replacements included, even after its group no longer lists the terminated ones.
 */
import { elapsedText as duration } from "./report";
import type { FleetSnapshot } from "./snapshot";

/** Failures it takes, at the least, to call boot failures systematic (the image's fault). */
export const SYSTEMATIC_MIN_FAILURES = 3;

export interface BootCheckOptions {
  /** The image being rolled to: only its instances are judged. */
  readonly imageId: string;
  /** How long after its launch an InService instance may take to register with ECS. */
  readonly gracePeriodMs: number;
  /** How many failed instances the wave may replace in this cluster (the desiredCapacity, at least 2). */
  readonly replacementLimit: number;
}

export interface BootFailure {
  readonly instanceId: string;
  readonly groupName: string;
  readonly availabilityZone: string;
  readonly imageId: string;
  readonly launchedAt: number;
  /** From its launch to the snapshot that found it failed. */
  readonly waitedMs: number;
}

export type BootVerdict =
  /** Nothing (new) failed. */
  | { readonly kind: "ok" }
  /** These instances failed since the last snapshot: terminate them, keeping the desired capacity. */
  | { readonly kind: "replace"; readonly failures: readonly BootFailure[] }
  /** Systematic: the image's fault. */
  | { readonly kind: "reject"; readonly reason: string }
  /** Too many replacements, but not systematic: the wave fails, the image stands. */
  | { readonly kind: "give up"; readonly reason: string };

export interface BootState {
  /** Instances of the image registered with ECS (seen registered at least once). */
  readonly registered: readonly string[];
  /** Instances of the image that failed to boot, in the order they were found. */
  readonly failed: readonly BootFailure[];
  /** Of those, the ones a verdict said to replace. */
  readonly replaced: readonly string[];
  /** What to do after this snapshot. */
  readonly verdict: BootVerdict;
}

/** `i-0abc (eu-west-1a, not registered with ECS 5m00s after launch)`. */
export function bootFailureText(failure: BootFailure): string {
  return `${failure.instanceId} (${failure.availabilityZone}, not registered with ECS ${duration(failure.waitedMs)} after launch)`;
}

/** True when the failures are the image's fault (see the module comment). */
export function systematic(failed: number, registered: number): boolean {
  return failed >= SYSTEMATIC_MIN_FAILURES && failed >= 2 * registered;
}

/** Folds one snapshot of the cluster into the boot check (`previous` undefined at the first). */
export function stepBoot(previous: BootState | undefined, snapshot: FleetSnapshot, options: BootCheckOptions): BootState {
  const registered = new Set(previous?.registered ?? []);
  for (const ci of snapshot.containerInstances) if (ci.imageId === options.imageId) registered.add(ci.ec2InstanceId);
  const known = new Set((previous?.failed ?? []).map((f) => f.instanceId));
  const fresh: BootFailure[] = [];
  for (const group of snapshot.groups) {
    // A group terraform is deleting takes its instances with it: nothing to replace there.
    if (group.status) continue;
    for (const i of group.instances) {
      if (i.lifecycleState !== "InService" || i.imageId !== options.imageId || i.launchedAt === undefined) continue;
      if (registered.has(i.instanceId) || known.has(i.instanceId)) continue;
      const waitedMs = snapshot.at - i.launchedAt;
      if (waitedMs < options.gracePeriodMs) continue;
      fresh.push({ instanceId: i.instanceId, groupName: group.name, availabilityZone: i.availabilityZone, imageId: options.imageId, launchedAt: i.launchedAt, waitedMs });
    }
  }
  const failed = [...(previous?.failed ?? []), ...fresh];
  const replaced = previous?.replaced ?? [];
  const state = (verdict: BootVerdict, replacing: readonly string[] = []): BootState => ({
    registered: [...registered].sort(),
    failed,
    replaced: [...replaced, ...replacing],
    verdict,
  });
  if (fresh.length === 0) return state({ kind: "ok" });
  const ids = (list: readonly BootFailure[]) => list.map((f) => f.instanceId).join(", ");
  if (systematic(failed.length, registered.size)) {
    return state({
      kind: "reject",
      reason: `${failed.length} instances of ${options.imageId} failed to boot (no ECS registration within ${duration(options.gracePeriodMs)} of launch: ${ids(failed)}), ${registered.size} registered: the image does not boot`,
    });
  }
  if (replaced.length + fresh.length > options.replacementLimit) {
    return state({
      kind: "give up",
      reason: `${failed.length} instances of ${options.imageId} failed to boot (${ids(failed)}) and ${registered.size} registered: replacing ${fresh.length} more would exceed the ${options.replacementLimit} replacements allowed (not systematic: the image is not rejected)`,
    });
  }
  return state({ kind: "replace", failures: fresh }, fresh.map((f) => f.instanceId));
}
