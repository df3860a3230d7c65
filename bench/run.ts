/**
 * `npm run bench [-- --runs N]`: prints synth figures for deep imports vs the provider barrel.
 * Targets are reported, never enforced: the exit code is 0 whatever the figures are.
 */
import { availableParallelism, cpus } from "node:os";
import { countFlag } from "./args";
import { benchSynth } from "./synth";

/** Targets for the deep-imports variant (DESIGN.md: ~1.8 s / 120 MB expected). */
const TARGET_WALL_MS = 3000;
const TARGET_RSS_MB = 250;

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

function main(): void {
  const runs = countFlag(process.argv.slice(2), "runs", 3, "npm run bench -- [--runs N]");
  const cpuModel = cpus()[0]?.model.trim() ?? "unknown cpu";
  console.log(`synth both stacks (${runs} run${runs === 1 ? "" : "s"} each, fresh process per run)`);
  console.log(`machine: ${availableParallelism()} cpus (${cpuModel}), node ${process.version}`);

  const results = benchSynth({ runs });

  const width = Math.max(...results.map((r) => r.label.length)) + 2;
  const cols = ["wall median", "wall min", "peak RSS median", "load median", "synth median"];
  console.log("variant".padEnd(width) + cols.map((c) => c.padStart(c.length + 3)).join(""));
  for (const r of results) {
    const cells = [seconds(r.wallMedianMs), seconds(r.wallMinMs), `${Math.round(r.rssMedianMb)} MB`, seconds(r.loadMedianMs), seconds(r.synthMedianMs)];
    console.log(r.label.padEnd(width) + cells.map((v, i) => v.padStart(cols[i].length + 3)).join(""));
  }
  console.log("wall = spawn to exit (node + tsx start-up included); load/synth = split measured inside the child");

  const deep = results.find((r) => r.child === "deep");
  if (!deep) return;
  const meets = deep.wallMedianMs < TARGET_WALL_MS && deep.rssMedianMb < TARGET_RSS_MB;
  console.log(
    `targets: under ${TARGET_WALL_MS / 1000} s and ${TARGET_RSS_MB} MB for deep imports: ` +
      `${meets ? "met" : "NOT met"} (${seconds(deep.wallMedianMs)}, ${Math.round(deep.rssMedianMb)} MB)`,
  );
}

try {
  main();
} catch (e) {
  // A run that cannot complete is an error (unlike a missed target).
  console.error(`bench: ${(e as Error).message}`);
  process.exit(1);
}
