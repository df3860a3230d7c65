/**
 * `npm run bench:calls`: the API calls one roll makes per replaced instance, by operation, the
 * drain hook's apart from the driver's (issue 17 item 4: at most 12 per replaced instance).
 *
 * Each case is bench:rollout's world (environment `bench`, one cluster of n m7g.xlarge over 3
 * zones, about 10 tasks per instance, settled), rolled onto a new image by `amiroll rollout`.
 * Counted: the calls made from the roll's start to its end (the world's settling is not the
 * roll's), divided by the old instances replaced. Calls are deterministic (same seed, same
 * calls), so a change in these figures is a change in what the code asks AWS.
 *
 * Usage: bench:calls [--instances N[,N...]] [--strategy replace|blue-green|refresh[,...]]   (default 600, replace)
 */
import type { CapacityStrategy } from "../constructs/ecs-cluster";
import { rolloutOptions } from "../scripts/commands/rollout";
import { rollout } from "../scripts/rollout/rollout";
import type { SimApiCall } from "../scripts/sim/clients";
import type { World } from "../scripts/sim/world";
import { buildWorld } from "./rollout-world";
import { hideWarnings } from "../scripts/core/warnings";

// The AWS SDK's Node-version notice, hidden as the CLI hides it.
hideWarnings();

/** The target: hook and driver together, per replaced instance. */
export const TARGET_CALLS_PER_INSTANCE = 12;

/** The calls of one roll, per operation and caller. */
export interface CallCount {
  readonly strategy: CapacityStrategy;
  readonly instances: number;
  /** Old instances terminated by the roll. */
  readonly replaced: number;
  readonly violations: number;
  readonly outcome: string;
  /** Virtual time of the wave, and from its start until the last old instance's lifecycle action was completed. */
  readonly waveMs: number;
  readonly releasedMs: number;
  /** "service Operation" -> calls, the hook's and the driver's. */
  readonly hook: ReadonlyMap<string, number>;
  readonly driver: ReadonlyMap<string, number>;
}

function tally(calls: readonly SimApiCall[], hook: boolean): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of calls) {
    if ((c.caller === "drain-hook") !== hook) continue;
    const key = `${c.service} ${c.operation}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return new Map([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

/** Rolls one world and counts the roll's calls. */
export async function countCalls(strategy: CapacityStrategy, n: number): Promise<CallCount> {
  const { config, log, world, sim, cleanup } = await buildWorld(strategy, n);
  const w: World = sim.world;
  const before = w.calls.length;
  const oldIds = new Set([...w.instances.values()].filter((i) => i.state !== "terminated").map((i) => i.id));
  try {
    const result = await rollout(rolloutOptions(world, config.environments, log));
    const wave = result.waves[0];
    const calls = w.calls.slice(before) as SimApiCall[];
    return {
      strategy,
      instances: n,
      replaced: [...oldIds].filter((id) => w.instances.get(id)?.state === "terminated").length,
      violations: w.downtimeViolations().length,
      outcome: wave.outcome === "done" ? "done" : `${wave.outcome}: ${wave.reason ?? ""}`,
      waveMs: wave.endedAt - wave.startedAt,
      releasedMs: Math.max(...w.log.filter((l) => / lifecycle action /.test(l)).map((l) => Date.parse(l.slice(0, l.indexOf(" "))))) - wave.startedAt,
      hook: tally(calls, true),
      driver: tally(calls, false),
    };
  } finally {
    cleanup();
  }
}

const total = (m: ReadonlyMap<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** The table of one case: per operation, calls and calls per replaced instance, hook and driver. */
export function formatCount(c: CallCount): string {
  const per = (k: number) => (c.replaced > 0 ? (k / c.replaced).toFixed(2) : "-");
  const all = total(c.hook) + total(c.driver);
  const lines = [
    `${c.strategy} ${c.instances} instances: ${c.replaced} replaced, outcome ${c.outcome}, ${c.violations} violations, wave ${Math.round(c.waveMs / 1000)} s, last hook released +${Math.round(c.releasedMs / 1000)} s`,
    `  total ${all} calls, ${per(all)} per replaced instance (target <= ${TARGET_CALLS_PER_INSTANCE}: ${c.replaced > 0 && all / c.replaced <= TARGET_CALLS_PER_INSTANCE ? "PASS" : "MISS"})`,
  ];
  for (const [who, m] of [["drain hook", c.hook], ["driver", c.driver]] as const) {
    lines.push(`  ${who}: ${total(m)} calls, ${per(total(m))} per replaced instance`);
    for (const [op, k] of m) lines.push(`    ${op.padEnd(50)} ${String(k).padStart(7)} ${per(k).padStart(7)}`);
  }
  return lines.join("\n");
}

async function main(argv: readonly string[]): Promise<void> {
  const option = (name: string, byDefault: string) => {
    const i = argv.indexOf(name);
    return (i >= 0 ? argv[i + 1] : undefined) ?? byDefault;
  };
  const sizes = option("--instances", "600").split(",").map(Number);
  const strategies = option("--strategy", "replace").split(",") as CapacityStrategy[];
  console.log("bench:calls: API calls of one roll (settling excluded) per replaced instance, drain hook and driver");
  for (const strategy of strategies) {
    for (const n of sizes) {
      const started = performance.now();
      const count = await countCalls(strategy, n);
      console.log(formatCount(count));
      console.log(`  (wall ${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`bench:calls: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
