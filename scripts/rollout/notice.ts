/**
 * `amiroll rollout --notice`: the markdown notice for a maintenance window: what each wave rolls
 * (cluster, image from and to, strategy), when (the next window), what is on hold, and which
 * services, by their `owner` tag, may see their tasks restarted. Pure: built from the config,
 * the pins and a fleet snapshot per cluster.
 *
 * Names, images, tags, windows and hold reasons come from the config, the pins and AWS: each is
 * made inert markdown text (core/inert.ts) where it is interpolated.
 */
import type { Environment } from "../config/environments";
import { markdownText as md } from "../core/inert";
import type { Pins } from "../config/pins";
import type { FleetSnapshot } from "../fleet/snapshot";
import { targetsOf } from "./rollout";
import { depthGroups } from "./parallel";
import { formatInstant, nextOpening } from "../config/windows";

export interface NoticeInput {
  readonly waves: readonly Environment[];
  readonly environments: readonly Environment[];
  readonly pins: Pins;
  /** `${env}/${cluster}` -> a snapshot of the cluster now. */
  readonly fleets: ReadonlyMap<string, FleetSnapshot>;
  readonly now: number;
  /** The config's maxParallel: environments of one promotion depth roll at once when above 1. @default 1 */
  readonly maxParallel?: number;
}

export function rolloutNotice(input: NoticeInput): string {
  const out = ["### Maintenance notice: machine image rollout", ""];
  if ((input.maxParallel ?? 1) > 1) {
    const order = depthGroups(input.environments, input.waves).map((g) => g.map((w) => md(w.name)).join(" + ")).join(" → ");
    out.push(`Environments, in order: ${order} (those joined by + roll at once, at most ${input.maxParallel} at a time). Each is verified (services steady, zones balanced, smoke checks, soak) before the next starts.`, "");
  } else out.push(`Environments, in order: ${input.waves.map((w) => md(w.name)).join(" → ")}. Each is verified (services steady, zones balanced, smoke checks, soak) before the next starts.`, "");
  for (const env of input.waves) {
    const targets = targetsOf(env, input.environments, input.pins);
    // Before the source has verified its image, the notice names the image it is rolling to.
    const target = (cluster: string) =>
      "refuse" in targets
        ? `${md(input.pins[env.promotesFrom!]?.[cluster]?.current.imageId ?? "?")} (once ${md(env.promotesFrom!)} has verified it)`
        : md(targets.get(cluster)!.imageId);
    const opening = nextOpening(env.maintenanceWindows, input.now);
    const when = env.maintenanceWindows.length === 0
      ? "any time (no maintenance window configured)"
      : opening!.opensAt <= input.now
        ? `now, in the window ${md(opening!.window.text)} (closes ${md(formatInstant(opening!.closesAt, opening!.window.timeZone))})`
        : `${md(formatInstant(opening!.opensAt, opening!.window.timeZone))} (window ${md(opening!.window.text)})`;
    out.push(`#### ${md(env.name)}`, "", `**When:** ${when}`, "");
    const holds = [...(env.hold ? [`the environment: ${md(env.hold)}`] : []), ...env.clusters.filter((c) => c.hold).map((c) => `${md(c.name)}: ${md(c.hold!)}`)];
    if (holds.length > 0) out.push(`> [!WARNING]`, `> **On hold** (not rolled without --force): ${holds.join("; ")}`, "");
    out.push("| Cluster | Image now | Rolls to | Strategy | Instances |", "|---|---|---|---|---|");
    const owners = new Map<string, Set<string>>();
    for (const cluster of env.clusters) {
      const fleet = input.fleets.get(`${env.name}/${cluster.name}`);
      const images = [...new Set(fleet?.containerInstances.map((ci) => ci.imageId) ?? [])].map(md).join(", ") || "(none)";
      out.push(`| ${md(cluster.name)} | ${images} | ${target(cluster.name)} | ${md(cluster.strategy)} | ${fleet?.containerInstances.length ?? 0} |`);
      for (const service of fleet?.services ?? []) {
        if (service.desiredCount === 0 && service.schedulingStrategy !== "DAEMON") continue;
        const owner = service.tags.owner ?? "(no owner tag)";
        owners.set(owner, (owners.get(owner) ?? new Set()).add(`${cluster.name}/${service.name}`));
      }
    }
    out.push("", "**Services whose tasks may be restarted** (moved to new instances, replacements first, no planned downtime):", "");
    out.push("| Owner | Services |", "|---|---|");
    for (const [owner, services] of [...owners].sort(([a], [b]) => a.localeCompare(b))) out.push(`| ${md(owner)} | ${[...services].sort().map(md).join(", ")} |`);
    out.push("");
  }
  return `${out.join("\n").trimEnd()}\n`;
}
