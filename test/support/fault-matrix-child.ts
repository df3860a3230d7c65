/**
 * The fault matrix in a plain Node process (`node --import tsx`): test/rollout/fault-matrix.test.ts
 * judges its cells. Under jest's module sandbox every cell's simulated rollouts cost about twice
 * the CPU they do here (bench:faults: the 54 cells, the strategies' and their variants', in about
 * 11 s of CPU). Writes the cells as JSON to the file named by its one argument.
 */
import { writeFileSync } from "node:fs";
import { runFaultMatrix } from "../../bench/fault-matrix";
import { hideWarnings } from "../../scripts/core/warnings";

hideWarnings();
runFaultMatrix().then(
  (cells) => writeFileSync(process.argv[2], JSON.stringify(cells)),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
