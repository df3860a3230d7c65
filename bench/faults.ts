/**
 * `npm run bench:faults`: the fault matrix (bench/fault-matrix.ts) as a markdown table, every
 * rollout scenario x strategy, then every variant (a strategy with the canary slice or capacity
 * providers) over its scenarios: outcome, exit code, zero-downtime violations, virtual time to the
 * verdict, whether the image is rejected, and what the operator should do; then the same cells
 * compact (one row per scenario: the strategies, the README's; the variants), and the matrix's
 * wall time and CPU time.
 * docs/faults.md carries the tables as printed.
 *
 * Exit 0 whatever the cells are, 1 when a cell misses its expected verdict (any violation is a
 * miss): the same judgement as test/rollout/fault-matrix.test.ts. `--scenario NAME` and
 * `--strategy NAME` (a strategy or a variant, `blue-green+canary`; repeatable) run part of the matrix.
 */
import { availableParallelism, cpus } from "node:os";
import { MATRIX_COLUMNS, MATRIX_SCENARIOS, type MatrixScenario, faultSummaryTable, faultTable, runFaultMatrix, verdictProblems } from "./fault-matrix";
import { hideWarnings } from "../scripts/core/warnings";

// The AWS SDK's Node-version notice, hidden as the CLI hides it.
hideWarnings();

const USAGE = "npm run bench:faults -- [--scenario NAME]... [--strategy NAME]...";

function listFlag<T extends string>(argv: readonly string[], name: string, known: readonly T[]): T[] | undefined {
  const values: T[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== `--${name}`) continue;
    const value = argv[i + 1];
    if (!(known as readonly string[]).includes(value)) {
      console.error(`usage: ${USAGE}  (--${name}: one of ${known.join(", ")})`);
      process.exit(2);
    }
    values.push(value as T);
  }
  return values.length > 0 ? values : undefined;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const unknown = argv.filter((a, i) => a.startsWith("--") && a !== "--scenario" && a !== "--strategy" && argv[i - 1] !== "--scenario" && argv[i - 1] !== "--strategy");
  if (unknown.length > 0) {
    console.error(`usage: ${USAGE}`);
    process.exit(2);
  }
  const scenarios = listFlag<MatrixScenario>(argv, "scenario", MATRIX_SCENARIOS);
  const columns = listFlag<string>(argv, "strategy", MATRIX_COLUMNS);
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const cells = await runFaultMatrix({
    scenarios,
    columns,
    onCell: (c) => console.error(`${c.scenario} x ${c.variant}: ${c.outcome}, ${c.violations} violation(s) (${(c.wallMs / 1000).toFixed(1)} s wall, ${(c.cpuMs / 1000).toFixed(1)} s CPU)`),
  });
  const wallMs = performance.now() - wallStart;
  const cpu = process.cpuUsage(cpuStart);
  console.log(faultTable(cells));
  console.log("");
  // Compact: the strategies (the README's), then the variants (issue 20), one table each.
  const plain = cells.filter((c) => c.variant === c.strategy);
  const variants = cells.filter((c) => c.variant !== c.strategy);
  for (const part of [plain, variants]) {
    if (part.length === 0) continue;
    console.log(faultSummaryTable(part));
    console.log("");
  }
  console.log(
    `${cells.length} cells in ${(wallMs / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU ` +
      `(user ${(cpu.user / 1e6).toFixed(1)} s, system ${(cpu.system / 1e6).toFixed(1)} s); ` +
      `${availableParallelism()} cpus (${cpus()[0]?.model.trim() ?? "unknown cpu"}), node ${process.version}`,
  );
  const missed = cells.filter((c) => verdictProblems(c).length > 0);
  if (missed.length > 0) {
    console.log(`not as expected: ${missed.map((c) => `${c.scenario} x ${c.variant}`).join(", ")}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(`bench:faults: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
