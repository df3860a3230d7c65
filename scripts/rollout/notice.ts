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

/** A wave as the notices tell it: raw text (each renderer makes it inert for where it goes). */
export interface WaveFacts {
  readonly environment: string;
  /** When the wave may roll. */
  readonly when:
    | { readonly kind: "any time" }
    | { readonly kind: "open now"; readonly window: string; readonly closes: string }
    | { readonly kind: "next"; readonly opens: string; readonly window: string };
  /** What is on hold: the environment (`what` undefined) or a cluster, and why. */
  readonly holds: readonly { readonly what?: string; readonly reason: string }[];
  readonly clusters: readonly {
    readonly name: string;
    readonly imagesNow: readonly string[];
    readonly target: string;
    /** The source environment that has yet to verify `target`. */
    readonly onceVerifiedBy?: string;
    readonly strategy: string;
    readonly instances: number;
  }[];
  /** Owner tag (undefined: no `owner` tag) -> its services with tasks, `cluster/service`, sorted. */
  readonly owners: ReadonlyMap<string | undefined, readonly string[]>;
}

/** What the notices say, wave by wave, from the config, the pins and the fleets. */
export function noticeFacts(input: NoticeInput): WaveFacts[] {
  return input.waves.map((env) => {
    const targets = targetsOf(env, input.environments, input.pins);
    const opening = nextOpening(env.maintenanceWindows, input.now);
    const when: WaveFacts["when"] = env.maintenanceWindows.length === 0
      ? { kind: "any time" }
      : opening!.opensAt <= input.now
        ? { kind: "open now", window: opening!.window.text, closes: formatInstant(opening!.closesAt, opening!.window.timeZone) }
        : { kind: "next", opens: formatInstant(opening!.opensAt, opening!.window.timeZone), window: opening!.window.text };
    const holds = [...(env.hold ? [{ reason: env.hold }] : []), ...env.clusters.filter((c) => c.hold).map((c) => ({ what: c.name, reason: c.hold! }))];
    const owners = new Map<string | undefined, Set<string>>();
    const clusters = env.clusters.map((cluster) => {
      const fleet = input.fleets.get(`${env.name}/${cluster.name}`);
      for (const service of fleet?.services ?? []) {
        if (service.desiredCount === 0 && service.schedulingStrategy !== "DAEMON") continue;
        const owner = service.tags.owner;
        owners.set(owner, (owners.get(owner) ?? new Set()).add(`${cluster.name}/${service.name}`));
      }
      // Before the source has verified its image, the notice names the image it is rolling to.
      const target = "refuse" in targets
        ? { target: input.pins[env.promotesFrom!]?.[cluster.name]?.current.imageId ?? "?", onceVerifiedBy: env.promotesFrom! }
        : { target: targets.get(cluster.name)!.imageId };
      return {
        name: cluster.name,
        imagesNow: [...new Set(fleet?.containerInstances.map((ci) => ci.imageId) ?? [])],
        ...target,
        strategy: cluster.strategy,
        instances: fleet?.containerInstances.length ?? 0,
      };
    });
    return { environment: env.name, when, holds, clusters, owners: new Map([...owners].map(([o, s]) => [o, [...s].sort()])) };
  });
}

/** What a services' owner is called in the notices when the services have no `owner` tag. */
export const NO_OWNER = "(no owner tag)";

/** The wave's "when", in markdown. */
export function markdownWhen(when: WaveFacts["when"]): string {
  switch (when.kind) {
    case "any time":
      return "any time (no maintenance window configured)";
    case "open now":
      return `now, in the window ${md(when.window)} (closes ${md(when.closes)})`;
    case "next":
      return `${md(when.opens)} (window ${md(when.window)})`;
  }
}

/** The wave's holds, in markdown ("" when none). */
export function markdownHolds(holds: WaveFacts["holds"]): string {
  return holds.map((h) => (h.what === undefined ? `the environment: ${md(h.reason)}` : `${md(h.what)}: ${md(h.reason)}`)).join("; ");
}

export function rolloutNotice(input: NoticeInput): string {
  const out = ["### Maintenance notice: machine image rollout", ""];
  if ((input.maxParallel ?? 1) > 1) {
    const order = depthGroups(input.environments, input.waves).map((g) => g.map((w) => md(w.name)).join(" + ")).join(" → ");
    out.push(`Environments, in order: ${order} (those joined by + roll at once, at most ${input.maxParallel} at a time). Each is verified (services steady, zones balanced, smoke checks, soak) before the next starts.`, "");
  } else out.push(`Environments, in order: ${input.waves.map((w) => md(w.name)).join(" → ")}. Each is verified (services steady, zones balanced, smoke checks, soak) before the next starts.`, "");
  for (const wave of noticeFacts(input)) {
    out.push(`#### ${md(wave.environment)}`, "", `**When:** ${markdownWhen(wave.when)}`, "");
    if (wave.holds.length > 0) out.push(`> [!WARNING]`, `> **On hold** (not rolled without --force): ${markdownHolds(wave.holds)}`, "");
    out.push("| Cluster | Image now | Rolls to | Strategy | Instances |", "|---|---|---|---|---|");
    for (const c of wave.clusters) {
      const target = c.onceVerifiedBy === undefined ? md(c.target) : `${md(c.target)} (once ${md(c.onceVerifiedBy)} has verified it)`;
      out.push(`| ${md(c.name)} | ${c.imagesNow.map(md).join(", ") || "(none)"} | ${target} | ${md(c.strategy)} | ${c.instances} |`);
    }
    // Services without an owner tag are listed as the owner "(no owner tag)", with any tagged so.
    const owners = new Map<string, string[]>();
    for (const [owner, services] of wave.owners) owners.set(owner ?? NO_OWNER, [...(owners.get(owner ?? NO_OWNER) ?? []), ...services]);
    out.push("", "**Services whose tasks may be restarted** (moved to new instances, replacements first, no planned downtime):", "");
    out.push("| Owner | Services |", "|---|---|");
    for (const [owner, services] of [...owners].sort(([a], [b]) => a.localeCompare(b))) out.push(`| ${md(owner)} | ${[...new Set(services)].sort().map(md).join(", ")} |`);
    out.push("");
  }
  return `${out.join("\n").trimEnd()}\n`;
}
