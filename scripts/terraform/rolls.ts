/**
 * Which AMI roll a plan makes, per cluster, read from the stack's `amiroll_clusters` output:
 * its value before the plan is what is deployed, after it what the pins ask for
 * (constructs/environment-stack.ts writes it).
 */
import { CLUSTERS_OUTPUT } from "../../constructs/outputs";
import type { Plan } from "./plan";

/**
 * The shapes of plan the guard accepts (DESIGN.md, "Generations"):
 * - `create`: a first deploy: the cluster is not deployed yet (the output in the state does not
 *   list it) and everything of it is created;
 * - `replace`: a cluster's group replaced create-before-destroy at the same address (and the
 *   canary group that proved the new image deleted with it);
 * - `add`: a blue-green generation, or a replace roll's canary group, added beside the old one
 *   (creates only);
 * - `retire`: a blue-green generation removed once drained, or a canary group removed after a
 *   failed proof, or what a replace cut short by Ctrl-C left to delete (its old group and the
 *   canary) (deletes only);
 * - `refresh`: a cluster's one group keeps its name and takes a new image: its launch template is
 *   updated in place and the group's template version with it (the rollout then replaces the
 *   instances in batches);
 * - `none`: nothing changes.
 */
export type Shape = "create" | "replace" | "add" | "retire" | "refresh" | "none";
export const SHAPES: readonly Shape[] = ["create", "replace", "add", "retire", "refresh", "none"];

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
  /** The shape of the roll, or why it has none of the five. */
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

/**
 * The roll a cluster makes. `deployed` says whether the state's output lists the cluster at all:
 * one it does not list is new, and its only possible shape is a first deploy.
 */
function shapeOf(before: readonly Generation[], after: readonly Generation[], deployed: boolean): ClusterRoll["shape"] {
  if (!deployed) return after.length > 0 ? "create" : { unknown: "it is not deployed and the stack gives it no capacity" };
  if (before.length === 0) return { unknown: "it is deployed without any generation (the state's amiroll_clusters output lists none)" };
  if (after.length === 0) return { unknown: "the cluster leaves the stack" };
  // The replace strategy's canary group is judged beside its stable group: added on its own
  // (add), removed on its own (retire: a failed proof), or removed as the group it proved
  // replaces the old one (replace).
  const isCanary = (g: Generation) => g.role === "canary";
  const main = imageShape(before.filter((g) => !isCanary(g)), after.filter((g) => !isCanary(g)));
  const canary = imageShape(before.filter(isCanary), after.filter(isCanary));
  // One group for one, under the same name: the group stays and only its image changes.
  if (main === "replace" && canary === "none" && before.length === 1 && after.length === 1 && before[0].asgName !== undefined && before[0].asgName === after[0].asgName) {
    return "refresh";
  }
  if (main !== "other" && (canary === "none" || (canary === "retire" && main === "replace"))) return main;
  if (main === "none" && (canary === "add" || canary === "retire")) return canary;
  // A replace apply cut short (Ctrl-C) after its new group was created: the old group and the canary are left to delete.
  if (main === "retire" && canary === "retire") return "retire";
  return { unknown: `it goes from [${before.map(words).join(", ")}] to [${after.map(words).join(", ")}]` };
}

const words = (g: Generation) => (g.role === "canary" ? `${g.imageId} (canary)` : g.imageId);

/** How a list of generations changes, by image: one added, one removed, one for one, none, or neither. */
function imageShape(before: readonly Generation[], after: readonly Generation[]): Shape | "other" {
  const was = new Set(before.map((g) => g.imageId));
  const will = new Set(after.map((g) => g.imageId));
  const added = [...will].filter((id) => !was.has(id));
  const removed = [...was].filter((id) => !will.has(id));
  if (added.length === 0 && removed.length === 0) return "none";
  if (added.length === 1 && removed.length === 0) return "add";
  if (added.length === 0 && removed.length === 1) return "retire";
  if (added.length === 1 && removed.length === 1 && was.size === 1 && will.size === 1) return "replace";
  return "other";
}

/**
 * Every cluster of the plan's `amiroll_clusters` output with its roll; undefined when the plan
 * has no such output (not a plan of an amiroll stack). A cluster the output's value before the
 * plan does not list (the whole output is absent from the state on an environment's first
 * deploy) is not deployed yet: its shape is `create`.
 */
export function clusterRolls(plan: Plan): ClusterRoll[] | undefined {
  const change = plan.outputChanges[CLUSTERS_OUTPUT];
  if (!change && !(CLUSTERS_OUTPUT in plan.priorOutputs)) return undefined;
  const before = clusterGenerations(change ? change.before : plan.priorOutputs[CLUSTERS_OUTPUT]);
  const after = clusterGenerations(change ? change.after : plan.priorOutputs[CLUSTERS_OUTPUT]);
  return [...new Set([...after.keys(), ...before.keys()])].map((cluster) => {
    const b = before.get(cluster)?.generations ?? [];
    const a = after.get(cluster)?.generations ?? [];
    return { cluster, strategy: after.get(cluster)?.strategy ?? before.get(cluster)?.strategy, before: b, after: a, shape: shapeOf(b, a, before.has(cluster)) };
  });
}

/**
 * The cluster (its key in the `amiroll_clusters` output) a resource of an amiroll stack belongs
 * to, from its address. EnvironmentStack gives each cluster's EcsCluster the cluster's key as its
 * construct id, and cdktf names a resource after its construct path, so every resource of
 * cluster `apps` is `<type>.apps_<rest of the path>_<hash>` (e.g.
 * `aws_ecs_cluster.apps_cluster_C01B8E10`). The longest key that prefixes the name wins (a key
 * `web` does not take `web_api_...` from a key `web_api`); undefined for a resource of no
 * cluster, or in a module (amiroll's stacks have none).
 */
export function clusterOfAddress(address: string, clusters: Iterable<string>): string | undefined {
  if (address.startsWith("module.") || address.startsWith("data.")) return undefined;
  const name = address.split(".")[1] ?? "";
  let found: string | undefined;
  for (const cluster of clusters) {
    if (name.startsWith(`${cluster}_`) && (found === undefined || cluster.length > found.length)) found = cluster;
  }
  return found;
}
