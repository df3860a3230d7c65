/**
 * `npm run bench:sim [-- --instances N ...]`: the simulator at fleet scale. For each N (60, 600
 * and 3000 when none is given) a replace rollout of an N-instance world (bench:rollout's world:
 * one cluster over 3 zones, about 10 tasks per instance, settled first) runs in a child process
 * of bench/rollout.ts (`--child rollout replace N`), so that its wall time and peak RSS are its
 * own. Prints wall time, peak RSS, API calls and a hash of the world's event log and calls (the
 * same seed must give the same hash whatever the simulator's speed), then the growth exponent of
 * wall time between successive sizes: log(t2/t1) / log(n2/n1).
 *
 * Targets (600 instances <= 5 s, 3000 <= 30 s, exponent <= 1.2) are reported, never enforced.
 */
import { spawnSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { resolve } from "node:path";

const DEFAULT_SIZES = [60, 600, 3000];
const TARGETS: Record<number, number> = { 600: 5, 3000: 30 };
const TARGET_EXPONENT = 1.2;

interface Report {
  readonly tasks: number;
  readonly outcome: string;
  readonly violations: number;
  readonly settleWallMs: number;
  readonly apiCalls: number;
  readonly logHash: string;
  readonly wallMs: number;
  readonly maxRssKb: number;
}

function sizes(argv: readonly string[]): number[] {
  const found: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== "--instances") throw new Error(`unknown argument ${argv[i]} (usage: bench:sim [-- --instances N ...])`);
    const n = Number(argv[++i]);
    if (!Number.isInteger(n) || n < 3) throw new Error(`--instances needs a whole number of at least 3, not ${argv[i]}`);
    found.push(n);
  }
  return found.length > 0 ? found : DEFAULT_SIZES;
}

function run(n: number): Report {
  const child = spawnSync(process.execPath, ["--import", "tsx", resolve(__dirname, "rollout.ts"), "--child", "rollout", "replace", String(n)], {
    cwd: resolve(__dirname, ".."),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`${n} instances: exit ${child.status ?? child.signal}: ${child.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  return JSON.parse(child.stdout.trim().split("\n").pop() ?? "") as Report;
}

function main(): void {
  const ns = sizes(process.argv.slice(2));
  console.log(`bench:sim: a replace rollout of an n-instance world (bench:rollout's), one child process each`);
  console.log(`machine: ${cpus().length} cpus (${cpus()[0]?.model.trim()}), load ${loadavg().map((l) => l.toFixed(2)).join(" ")}, node ${process.version}`);
  console.log("| instances | tasks | wall | of it settling | peak RSS | API calls | outcome | violations | log hash |");
  console.log("|---:|---:|---:|---:|---:|---:|---|---:|---|");
  const results: [number, Report][] = [];
  for (const n of ns) {
    const r = run(n);
    results.push([n, r]);
    console.log(
      `| ${n} | ${r.tasks} | ${(r.wallMs / 1000).toFixed(1)} s | ${(r.settleWallMs / 1000).toFixed(1)} s | ${Math.round(r.maxRssKb / 1024)} MB | ${r.apiCalls} | ${r.outcome} | ${r.violations} | ${r.logHash} |`,
    );
  }
  for (let i = 1; i < results.length; i++) {
    const [n1, r1] = results[i - 1];
    const [n2, r2] = results[i];
    const exponent = Math.log(r2.wallMs / r1.wallMs) / Math.log(n2 / n1);
    console.log(`growth ${n1} -> ${n2} instances: wall x${(r2.wallMs / r1.wallMs).toFixed(2)} for n x${(n2 / n1).toFixed(1)}: exponent ${exponent.toFixed(2)} (target <= ${TARGET_EXPONENT}: ${exponent <= TARGET_EXPONENT ? "met" : "NOT met"})`);
  }
  for (const [n, r] of results) {
    const target = TARGETS[n];
    if (target !== undefined) console.log(`target ${n} instances <= ${target} s: ${r.wallMs / 1000 <= target ? "met" : "NOT met"} (${(r.wallMs / 1000).toFixed(1)} s)`);
  }
}

try {
  main();
} catch (e) {
  console.error(`bench:sim: ${(e as Error).stack ?? e}`);
  process.exit(1);
}
