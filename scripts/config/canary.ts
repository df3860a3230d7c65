/**
 * The canary slice (`canary` of an environment or a cluster in amiroll.json): how much of a
 * cluster a wave first moves onto the new image, and how long the gates judge that slice before
 * the rest follows (docs/strategies.md, "The canary slice"). Parsed here, resolved against each
 * cluster's size at load, so a slice of 0 or larger than the cluster fails before anything runs.
 */
import { durationSeconds } from "../../constructs/formats";
import { type RefreshOptions, refreshOptionsProblem } from "../../constructs/refresh";
import type { Input } from "./input";

/** A cluster's canary, as loaded: the slice in instances and its soak. */
export interface CanarySlice {
  /** Instances moved onto the new image first. */
  readonly instances: number;
  /** How long the gates judge the slice before the rest follows. */
  readonly soakMs: number;
  /** How the slice was asked for, for messages: "1 instance" or "25% (1 of 4 instances)". */
  readonly text: string;
}

/** The replace strategy's canary when the config sets none: one instance, soaked 2 minutes. */
export const DEFAULT_CANARY_INSTANCES = 1;
export const DEFAULT_CANARY_SOAK_MS = 2 * 60_000;

/** A `canary` as written, checked for its own shape (its size is checked per cluster). */
export interface CanaryConfig {
  readonly instances?: number;
  readonly percent?: number;
  readonly soakMs: number;
  /** Where it was written: problems with the size are reported on this field. */
  readonly at: Input;
}

/** Parses a `canary` object: exactly one of `instances` (>= 1) and `percent` (1..100), and an optional `soak` duration. */
export function parseCanary(input: Input): CanaryConfig {
  const f = input.object(["instances", "percent", "soak"]);
  if (f.instances.present && f.percent.present) f.percent.fail("give either instances or percent, not both");
  const instances = f.instances.present ? f.instances.integer(1) : undefined;
  const percent = f.percent.present ? f.percent.integer(1, 100) : undefined;
  if (instances === undefined && percent === undefined) input.fail("give the slice's size: instances (a number of instances) or percent (of the cluster's desiredCapacity)");
  const soakMs = f.soak.present ? Math.round(durationSeconds(f.soak.formatted("duration")) * 1000) : DEFAULT_CANARY_SOAK_MS;
  if (f.soak.present && soakMs === 0) f.soak.fail(`${JSON.stringify(f.soak.value)} is no soak: the gates need time to judge the slice (at least "1s")`);
  return { instances, percent, soakMs, at: input };
}

/** Instances in a slice of `percent` of `size`: rounded down, but at least 1. */
export function percentInstances(percent: number, size: number): number {
  return Math.max(1, Math.floor((size * percent) / 100));
}

/**
 * The slice of one cluster of `size` (its desiredCapacity) instances. Fails on the field the
 * canary was written at when the slice is larger than the cluster, or (refresh) when a first
 * batch of that size would leave fewer instances taking tasks than minHealthyPercent asks.
 */
export function resolveCanary(config: CanaryConfig, cluster: { name: string; strategy: string; desiredCapacity: number; refresh?: RefreshOptions }): CanarySlice {
  const instances = config.instances ?? percentInstances(config.percent!, cluster.desiredCapacity);
  const text = config.instances !== undefined ? `${instances} instance${instances === 1 ? "" : "s"}` : `${config.percent}% (${instances} of ${cluster.desiredCapacity} instances)`;
  const field = config.at.child(config.instances !== undefined ? "instances" : "percent", config.instances ?? config.percent);
  if (instances > cluster.desiredCapacity) {
    field.fail(`${text} is larger than cluster ${cluster.name} (desiredCapacity ${cluster.desiredCapacity}): the canary is a slice of the cluster`);
  }
  if (cluster.strategy === "refresh") {
    // The first batch is the slice: it must keep as many instances taking tasks as any batch.
    const problem = refreshOptionsProblem({ ...cluster.refresh, batch: instances }, cluster.desiredCapacity);
    if (problem) field.fail(`cluster ${cluster.name}: the canary is the first batch: ${problem[0] === "batch" ? problem[1] : `${problem[0]}: ${problem[1]}`}`);
  }
  return { instances, soakMs: config.soakMs, text };
}
