/**
 * `npm run bench:tests [-- --runs N]`: the test runner's own cost. The same test files, in band
 * (one process, so that each file pays what a worker's files pay one after another), under
 * jest's own runtime and under test/support/runtime.js (V8's code cache kept per worker, earlier
 * files' AsyncLocalStorage hooks turned off), alternately, N times each; prints the median wall
 * time and CPU (user + system, with every child) of each, side by side. Reported, never enforced.
 */
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { countFlag } from "./args";
import { runMeasured } from "./child-cpu";

const ROOT = join(__dirname, "..");
/** Files that load the SDK clients, cdktf and the simulator, as most of the suite does; no terraform (its CPU is its own). */
const FILES = ["test/rollout", "test/sim", "test/fleet", "test/images", "test/scripts/verbs.test.ts"];
const RUNTIMES = [
  { label: "jest's runtime", env: { AMIROLL_JEST_RUNTIME: "jest" } },
  { label: "test/support/runtime.js", env: {} },
] as const;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main(): void {
  const runs = countFlag(process.argv.slice(2), "runs", 3, "npm run bench:tests -- [--runs N]");
  console.log(`jest in band over ${FILES.join(" ")}; ${runs} runs each, alternately, median`);
  console.log(`machine: ${availableParallelism()} cpus (${cpus()[0]?.model.trim() ?? "unknown cpu"}), load ${loadavg()[0].toFixed(1)}, node ${process.version}`);
  const samples = RUNTIMES.map(() => [] as { wallMs: number; cpuMs: number }[]);
  for (let run = 0; run < runs; run++) {
    RUNTIMES.forEach((runtime, i) => {
      samples[i].push(runMeasured([process.execPath, join(ROOT, "node_modules/jest/bin/jest.js"), "--runInBand", ...FILES], { cwd: ROOT, env: { ...process.env, ...runtime.env } }));
      process.stderr.write(".");
    });
  }
  process.stderr.write("\n");
  const rows = RUNTIMES.map((r, i) => ({ label: r.label, wallMs: median(samples[i].map((s) => s.wallMs)), cpuMs: median(samples[i].map((s) => s.cpuMs)) }));
  const width = Math.max(...rows.map((r) => r.label.length)) + 2;
  console.log(`${"runtime".padEnd(width)}${"wall".padStart(9)}${"cpu".padStart(9)}${"x jest".padStart(9)}`);
  for (const r of rows) {
    console.log(`${r.label.padEnd(width)}${`${(r.wallMs / 1000).toFixed(1)} s`.padStart(9)}${`${(r.cpuMs / 1000).toFixed(1)} s`.padStart(9)}${`${(r.cpuMs / rows[0].cpuMs).toFixed(2)}x`.padStart(9)}`);
  }
  console.log(`load after: ${loadavg()[0].toFixed(1)}`);
}

try {
  main();
} catch (e) {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(1);
}
