/**
 * Runs `TerraformCli` in a plain Node process, for test/terraform/runner.test.ts: jest cannot
 * load execa (ESM-only) on Node 20, so the test spawns
 *   node --import tsx test/support/runner-harness.ts '{"options": {...}, "steps": [["plan", "x.tfplan"], ...]}'
 * and reads one JSON object per stdout line:
 *   {"log": LINE, "stream": "stdout"|"stderr"}     each line terraform printed, as it came
 *   {"step": "plan", "value": ...}                  a step that resolved
 *   {"step": "plan", "error": {name, message, command, reason, exitCode, interrupted}}   one that failed (the last)
 * SIGINT (and SIGTERM) to this process abort the runner's signal, as the CLI does; with
 * `"abortFirst": true` it is aborted before the first step.
 */
import { type TerraformCliOptions, TerraformCli } from "../../scripts/terraform/runner";

type Step = [method: "init" | "validate" | "plan" | "showJson" | "apply" | "output", ...args: string[]];

function emit(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function main(input: { options: TerraformCliOptions; steps: Step[]; abortFirst?: boolean }): Promise<void> {
  const controller = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => controller.abort());
  if (input.abortFirst) controller.abort();
  const cli = new TerraformCli({ ...input.options, signal: controller.signal, log: (line, stream) => emit({ log: line, stream }) });
  for (const [method, ...args] of input.steps) {
    try {
      const value = await (cli[method] as (...a: string[]) => Promise<unknown>).call(cli, ...args);
      emit({ step: method, value: value ?? null });
    } catch (error) {
      const e = error as Error & { command?: string; reason?: string; exitCode?: number; interrupted?: boolean };
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
