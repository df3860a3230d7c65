/**
 * The `refresh` strategy's batches: how many old instances go at a time, how many new ones are
 * added first, and whether that keeps enough instances serving. Pure (no cdktf), so that the
 * construct, the config loader and the driver compute the same numbers.
 *
 * A batch, on a group of `size` instances: raise the group by `surge` new instances
 * (at most `maxHealthyPercent` of `size` in all), set `count` old instances DRAINING, and
 * terminate them once their tasks have moved. While they drain, `size + surge - count`
 * instances take tasks: that must stay at or above `minHealthyPercent` of `size` (and at least
 * one instance, or the tasks have nowhere to go).
 */

/** `batch`: a number of instances, or a percentage of the group such as "25%". */
export type RefreshBatch = number | `${number}%`;

export interface RefreshOptions {
  /** Old instances replaced at a time: a number, or a percentage of the group ("25%"). @default 1 */
  readonly batch?: RefreshBatch;
  /** The share of the group that must keep taking tasks while a batch drains (0..100). @default 100 */
  readonly minHealthyPercent?: number;
  /** How large the group may grow while a batch's new instances come up (100..200). @default 200 */
  readonly maxHealthyPercent?: number;
}

export const REFRESH_DEFAULTS = { batch: 1, minHealthyPercent: 100, maxHealthyPercent: 200 } as const;

/** The numbers of one batch on a group of `size` instances. */
export interface RefreshBatchPlan {
  /** Old instances drained and terminated per batch. */
  readonly count: number;
  /** New instances launched before a batch drains. */
  readonly surge: number;
  /** Instances that must keep taking tasks while a batch drains. */
  readonly floor: number;
  /** Instances that do take tasks while a batch drains (size + surge - count). */
  readonly serving: number;
}

const PERCENT = /^(100|[1-9]\d?)%$/;

/** The problem with `batch` as written, or undefined. */
export function batchProblem(batch: unknown): string | undefined {
  if (typeof batch === "number") {
    return Number.isInteger(batch) && batch >= 1 ? undefined : `${JSON.stringify(batch)} is not valid (expected an integer >= 1, or a percentage such as "25%")`;
  }
  const match = typeof batch === "string" ? PERCENT.exec(batch) : null;
  if (match && Number(match[1]) >= 1 && Number(match[1]) <= 100) return undefined;
  return `${JSON.stringify(batch)} is not valid (expected an integer >= 1, or a percentage "1%".."100%")`;
}

/** Old instances per batch on a group of `size`: a percentage rounds down, but is at least 1; never more than the group. */
export function batchCount(batch: RefreshBatch, size: number): number {
  const count = typeof batch === "number" ? batch : Math.max(1, Math.floor((size * Number(PERCENT.exec(batch)![1])) / 100));
  return Math.max(0, Math.min(count, size));
}

/** One batch's numbers on a group of `size` instances (options already valid). */
export function refreshBatchPlan(options: RefreshOptions, size: number): RefreshBatchPlan {
  const batch = options.batch ?? REFRESH_DEFAULTS.batch;
  const min = options.minHealthyPercent ?? REFRESH_DEFAULTS.minHealthyPercent;
  const max = options.maxHealthyPercent ?? REFRESH_DEFAULTS.maxHealthyPercent;
  const count = batchCount(batch, size);
  const surge = Math.max(0, Math.min(count, Math.floor((size * max) / 100) - size));
  const floor = size === 0 ? 0 : Math.max(1, Math.ceil((size * min) / 100));
  return { count, surge, floor, serving: size + surge - count };
}

/**
 * The problem with the options on a group of `size` instances, as [field, problem], or
 * undefined. The fields are named as written (`batch`, `minHealthyPercent`, `maxHealthyPercent`).
 */
export function refreshOptionsProblem(options: RefreshOptions, size: number): [keyof RefreshOptions, string] | undefined {
  if (options.batch !== undefined) {
    const problem = batchProblem(options.batch);
    if (problem) return ["batch", problem];
  }
  const percent = (field: "minHealthyPercent" | "maxHealthyPercent", lo: number, hi: number): [keyof RefreshOptions, string] | undefined => {
    const value = options[field];
    if (value === undefined || (typeof value === "number" && Number.isInteger(value) && value >= lo && value <= hi)) return undefined;
    return [field, `${JSON.stringify(value)} is not valid (expected an integer ${lo}..${hi})`];
  };
  const min = options.minHealthyPercent ?? REFRESH_DEFAULTS.minHealthyPercent;
  const max = options.maxHealthyPercent ?? REFRESH_DEFAULTS.maxHealthyPercent;
  if (typeof min === "number" && typeof max === "number" && min > max) {
    return ["minHealthyPercent", `${min} is above maxHealthyPercent ${max} (the group cannot keep more instances serving than it may hold)`];
  }
  const range = percent("minHealthyPercent", 0, 100) ?? percent("maxHealthyPercent", 100, 200);
  if (range) return range;
  if (size === 0) return undefined;
  const plan = refreshBatchPlan(options, size);
  if (plan.serving >= plan.floor) return undefined;
  // What would work: the largest batch at these percentages, and the smallest maxHealthyPercent for this batch.
  let largest = 0;
  for (let b = plan.count; b >= 1 && largest === 0; b--) {
    const p = refreshBatchPlan({ minHealthyPercent: min, maxHealthyPercent: max, batch: b }, size);
    if (p.serving >= p.floor) largest = b;
  }
  const needed = Math.max(0, plan.count - size + plan.floor);
  const smallestMax = Math.ceil(((size + needed) * 100) / size);
  const batchText = typeof options.batch === "string" ? `${options.batch} (${plan.count} of ${size} instances)` : `${plan.count}`;
  const added = plan.surge === 0 ? `maxHealthyPercent ${max} adds no instance first` : `maxHealthyPercent ${max} adds ${plan.surge} first`;
  const fixes = [
    ...(smallestMax <= 200 ? [`maxHealthyPercent ${smallestMax} is the smallest that works with this batch`] : []),
    largest > 0 ? `a batch of at most ${largest} works at these percentages` : `no batch works at these percentages on ${size} instances`,
  ];
  return [
    "batch",
    `${batchText} leaves ${plan.serving} of ${size} instances taking tasks while it drains (${added}), below minHealthyPercent ${min} (${plan.floor} instances): ${fixes.join("; ")}`,
  ];
}
