/**
 * `npm run bench:cli [-- --runs N]`: start-up of the built CLI against bare node (`node -e 0`),
 * and against the CLI run through tsx from source (how it ran before dist/). Each command runs N
 * times in a fresh process; the median wall time and the children's CPU time (user + system,
 * from the shell's `times`) are printed, with the ratio to `node -e 0`. Target: <= 3x for
 * `--help` and `status --simulate`. Reported, never enforced: exit 0 whatever the figures.
 */
import { execFileSync } from "node:child_process";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { countFlag } from "./args";
import { runMeasured } from "./child-cpu";

const ROOT = join(__dirname, "..");
const CONFIG = join(ROOT, "stacks/amiroll.json");
const TARGET_RATIO = 3;

interface Case {
  readonly label: string;
  readonly args: readonly string[];
  /** Counted against the target (the issue's two commands, built CLI). */
  readonly target?: boolean;
}

const node = process.execPath;
const bin = join(ROOT, "bin/amiroll.js");
const CASES: readonly Case[] = [
  { label: "node -e 0", args: ["-e", "0"] },
  { label: "amiroll --help", args: [bin, "--help"], target: true },
  { label: "amiroll status --simulate", args: [bin, "status", "--simulate", "--config", CONFIG], target: true },
  { label: "amiroll guard --help", args: [bin, "guard", "--help"] },
  { label: "amiroll synth", args: [bin, "synth", "--config", CONFIG] },
  { label: "tsx (source) --help", args: ["--import", "tsx", join(ROOT, "bench/cli-source.ts"), "--help"] },
  { label: "tsx (source) status --simulate", args: ["--import", "tsx", join(ROOT, "bench/cli-source.ts"), "status", "--simulate", "--config", CONFIG] },
];

/** One run: wall ms (spawn to exit) and the child's CPU ms (from bash's `times`). */
function once(args: readonly string[]): { wallMs: number; cpuMs: number } {
  return runMeasured([node, ...args], { env: { ...process.env, CDKTF_OUTDIR: join(ROOT, "bench/out/cdktf.out"), CI: "" } });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main(): void {
  const runs = countFlag(process.argv.slice(2), "runs", 10, "npm run bench:cli -- [--runs N]");
  execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" });
  console.log(`CLI start-up, ${runs} runs each (fresh process per run), median`);
  console.log(`machine: ${availableParallelism()} cpus (${cpus()[0]?.model.trim() ?? "unknown cpu"}), node ${process.version}`);
  const results = CASES.map((c) => {
    once(c.args); // warm the file cache
    const samples = Array.from({ length: runs }, () => once(c.args));
    return { ...c, wallMs: median(samples.map((s) => s.wallMs)), cpuMs: median(samples.map((s) => s.cpuMs)) };
  });
  const base = results[0];
  const width = Math.max(...results.map((r) => r.label.length)) + 2;
  console.log(`${"command".padEnd(width)}${"wall".padStart(10)}${"x node".padStart(9)}${"cpu".padStart(10)}${"x node".padStart(9)}`);
  for (const r of results) {
    console.log(
      `${r.label.padEnd(width)}${`${r.wallMs.toFixed(0)} ms`.padStart(10)}${`${(r.wallMs / base.wallMs).toFixed(1)}x`.padStart(9)}` +
        `${`${r.cpuMs.toFixed(0)} ms`.padStart(10)}${`${(r.cpuMs / Math.max(base.cpuMs, 1)).toFixed(1)}x`.padStart(9)}`,
    );
  }
  for (const r of results.filter((x) => x.target)) {
    const ratio = r.wallMs / base.wallMs;
    console.log(`target ${r.label}: <= ${TARGET_RATIO}x node -e 0 (wall): ${ratio <= TARGET_RATIO ? "met" : "NOT met"} (${ratio.toFixed(1)}x)`);
  }
}

try {
  main();
} catch (e) {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(1);
}
