/**
 * Which AMI roll a plan makes, per cluster, read from the stack's `amiroll_clusters` output:
 * its value before the plan is what is deployed, after it what the pins ask for
 * (stacks/cluster-stack.ts writes it).
 */
import { CLUSTERS_OUTPUT } from "../../constructs/outputs";
import type { Plan } from "./plan";

/**
 * The shapes of plan the guard accepts (DESIGN.md, "Generations"):
 * - `replace`: a cluster's group replaced create-before-destroy at the same address;
 * - `add`: a blue-green generation added beside the old one (creates only);
 * - `retire`: a blue-green generation removed once drained (deletes only);
 * - `none`: nothing changes.
 */
export type Shape = "replace" | "add" | "retire" | "none";
export const SHAPES: readonly Shape[] = ["replace", "add", "retire", "none"];

export interface Generation {
  readonly role: string;
  readonly imageId: string;
  readonly imageName?: string;
  readonly asgName?: string;
}

/** One cluster across the plan: its generations before and after, and the roll that makes. */
export interface ClusterRoll {
  readonly cluster: string;
  readonly strategy?: string;
  readonly before: readonly Generation[];
  readonly after: readonly Generation[];
  /** The shape of the roll, or why it has none of the four. */
  readonly shape: Shape | { readonly unknown: string };
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** The generations of each cluster in an `amiroll_clusters` value (null or garbled -> none). */
export function clusterGenerations(value: unknown): Map<string, { strategy?: string; generations: Generation[] }> {
  const result = new Map<string, { strategy?: string; generations: Generation[] }>();
  if (typeof value !== "object" || value === null) return result;
  for (const [cluster, entry] of Object.entries(value as Record<string, any>)) {
    const generations = (Array.isArray(entry?.generations) ? entry.generations : [])
      .filter((g: any) => typeof g?.image_id === "string")
      .map((g: any) => ({ role: str(g.role) ?? "current", imageId: g.image_id, imageName: str(g.image_name), asgName: str(g.asg_name) }));
    result.set(cluster, { strategy: str(entry?.strategy), generations });
  }
  return result;
}

function shapeOf(before: readonly Generation[], after: readonly Generation[]): ClusterRoll["shape"] {
  const was = new Set(before.map((g) => g.imageId));
  const will = new Set(after.map((g) => g.imageId));
  const added = [...will].filter((id) => !was.has(id));
  const removed = [...was].filter((id) => !will.has(id));
  if (was.size === 0) return { unknown: "nothing is deployed yet (a first deploy is not a roll)" };
  if (will.size === 0) return { unknown: "the cluster leaves the stack" };
  if (added.length === 0 && removed.length === 0) return "none";
  if (added.length === 1 && removed.length === 0) return "add";
  if (added.length === 0 && removed.length === 1) return "retire";
  if (added.length === 1 && removed.length === 1 && was.size === 1 && will.size === 1) return "replace";
  return { unknown: `it goes from [${[...was].join(", ")}] to [${[...will].join(", ")}]` };
}

/**
 * Every cluster of the plan's `amiroll_clusters` output with its roll; undefined when the plan
 * has no such output (not a plan of an amiroll stack).
 */
export function clusterRolls(plan: Plan): ClusterRoll[] | undefined {
  const change = plan.outputChanges[CLUSTERS_OUTPUT];
  if (!change && !(CLUSTERS_OUTPUT in plan.priorOutputs)) return undefined;
  const before = clusterGenerations(change ? change.before : plan.priorOutputs[CLUSTERS_OUTPUT]);
  const after = clusterGenerations(change ? change.after : plan.priorOutputs[CLUSTERS_OUTPUT]);
  return [...new Set([...after.keys(), ...before.keys()])].map((cluster) => {
    const b = before.get(cluster)?.generations ?? [];
    const a = after.get(cluster)?.generations ?? [];
    return { cluster, strategy: after.get(cluster)?.strategy ?? before.get(cluster)?.strategy, before: b, after: a, shape: shapeOf(b, a) };
  });
}
