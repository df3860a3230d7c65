/**
 * Runs `TerraformCli` in a plain Node process, for the tests of test/terraform/runner.test.ts that
 * signal the runner as a terminal would (SIGINT to its process group): the test spawns
 *   node test/support/runner-harness.js '{"options": {...}, "steps": [["plan", "x.tfplan"], ...]}'
 * and reads one JSON object per stdout line:
 *   {"log": LINE, "stream": "stdout"|"stderr"}     each line terraform printed, as it came
 *   {"step": "plan", "value": ...}                  a step that resolved
 *   {"step": "plan", "error": {name, message, command, reason, exitCode, interrupted}}   one that failed (the last)
 * SIGINT (and SIGTERM) to this process abort the runner's signal, as the CLI does; with
 * `"abortFirst": true` it is aborted before the first step.
 *
 * Plain JavaScript on the built runner (dist/, which jest's globalSetup rebuilds when a source
 * changed): a bare `node` start, not a TypeScript loader's, per spawn.
 */
const { join } = require("node:path");
const { TerraformCli } = require(join(__dirname, "../../dist/scripts/terraform/runner.js"));

function emit(value) {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function main(input) {
  const controller = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => controller.abort());
  if (input.abortFirst) controller.abort();
  const cli = new TerraformCli({ ...input.options, signal: controller.signal, log: (line, stream) => emit({ log: line, stream }) });
  for (const [method, ...args] of input.steps) {
    try {
      const value = await cli[method](...args);
      emit({ step: method, value: value ?? null });
    } catch (e) {
      emit({ step: method, error: { name: e.name, message: e.message, command: e.command, reason: e.reason, exitCode: e.exitCode ?? null, interrupted: e.interrupted ?? null } });
      return;
    }
  }
}

main(JSON.parse(process.argv[2])).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`harness: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(70);
  },
);
