/**
 * Synth benchmark: wall time and peak memory of synthesizing both stacks (staging, production),
 * each run in a fresh node process so module loading is included and the RSS is the run's own.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ChildReport, ChildVariant } from "./synth-child";

const REPO_ROOT = resolve(__dirname, "..");
const CHILD = join(__dirname, "synth-child.ts");

export interface Variant {
  readonly label: string;
  readonly child: ChildVariant;
}

export const VARIANTS: readonly Variant[] = [
  { label: "deep imports (amiroll)", child: "deep" },
  { label: "provider barrel (what we avoid)", child: "barrel" },
];

export interface RunSample {
  /** Spawn to exit, measured by the parent: node start-up, tsx, module load, synth, exit. */
  readonly wallMs: number;
  readonly loadMs: number;
  readonly synthMs: number;
  readonly maxRssMb: number;
}

export interface VariantResult {
  readonly label: string;
  readonly child: ChildVariant;
  readonly samples: readonly RunSample[];
  readonly wallMedianMs: number;
  readonly wallMinMs: number;
  readonly loadMedianMs: number;
  readonly synthMedianMs: number;
  readonly rssMedianMb: number;
}

export interface BenchSynthOptions {
  /** Runs per variant (default 3). */
  readonly runs?: number;
  readonly variants?: readonly Variant[];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One run of one variant in a fresh process, into a temp outdir that is removed afterwards. */
function runOnce(variant: Variant): RunSample {
  const outdir = mkdtempSync(join(tmpdir(), "amiroll-bench-"));
  try {
    const start = performance.now();
    // --import tsx: the same loader `npm run synth` uses, so the figures match what users pay.
    const child = spawnSync(process.execPath, ["--import", "tsx", CHILD, variant.child, outdir], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    });
    const wallMs = performance.now() - start;
    if (child.status !== 0) {
      throw new Error(`bench child "${variant.label}" failed (exit ${child.status ?? child.signal}): ${child.stderr.trim()}`);
    }
    const report = JSON.parse(child.stdout.trim().split("\n").pop() ?? "") as ChildReport;
    if (report.stacks !== 2) throw new Error(`bench child "${variant.label}" synthesized ${report.stacks} stacks, expected 2`);
    return { wallMs, loadMs: report.loadMs, synthMs: report.synthMs, maxRssMb: report.maxRssKb / 1024 };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

export function benchSynth(options: BenchSynthOptions = {}): VariantResult[] {
  const runs = options.runs ?? 3;
  const variants = options.variants ?? VARIANTS;
  const samples = variants.map(() => [] as RunSample[]);
  // Interleave variants (A B A B ...) so machine-load drift affects both alike.
  for (let run = 0; run < runs; run++) {
    variants.forEach((variant, i) => samples[i].push(runOnce(variant)));
  }
  return variants.map((variant, i) => ({
    label: variant.label,
    child: variant.child,
    samples: samples[i],
    wallMedianMs: median(samples[i].map((s) => s.wallMs)),
    wallMinMs: Math.min(...samples[i].map((s) => s.wallMs)),
    loadMedianMs: median(samples[i].map((s) => s.loadMs)),
    synthMedianMs: median(samples[i].map((s) => s.synthMs)),
    rssMedianMb: median(samples[i].map((s) => s.maxRssMb)),
  }));
}
