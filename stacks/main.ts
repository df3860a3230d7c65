/**
 * The cdktf app (cdktf.json "app"; `npm run synth`): one stack per environment, written to
 * cdktf.out/stacks/<environment>/cdk.tf.json.
 *
 * AMIROLL_PINS points at another pins file (the driver uses it to synth a bump before writing).
 */
import { App } from "cdktf";
import { relative, resolve } from "node:path";
import { ClusterStack } from "../constructs/environment-stack";
import { type Environment, ENVIRONMENTS_CONFIG, loadEnvironments } from "../scripts/config/environments";
import { DEFAULT_PINS_PATH, type Pins, PINS_FILE, readPins } from "../scripts/config/pins";

/** Adds one ClusterStack per environment to `app`. */
export function defineStacks(app: App, environments: readonly Environment[], pins: Pins): ClusterStack[] {
  return environments.map((environment) => new ClusterStack(app, { environment, pins: pins[environment.name] }));
}

export interface SynthResult {
  readonly outdir: string;
  readonly stacks: { readonly name: string; readonly file: string }[];
}

/** Loads config and pins, synthesizes every stack into `outdir`. Throws ConfigError on bad input. */
export function synthesize(options: { outdir?: string; pinsPath?: string; environments?: readonly Environment[] } = {}): SynthResult {
  const environments = options.environments ?? loadEnvironments(ENVIRONMENTS_CONFIG);
  const pinsPath = options.pinsPath ?? DEFAULT_PINS_PATH;
  const pins = readPins(pinsPath, environments, options.pinsPath ? pinsPath : PINS_FILE);
  const outdir = resolve(options.outdir ?? process.env.CDKTF_OUTDIR ?? "cdktf.out");
  const app = new App({ outdir });
  const stacks = defineStacks(app, environments, pins);
  app.synth();
  return {
    outdir,
    stacks: stacks.map((s) => ({ name: s.node.id, file: resolve(outdir, "stacks", s.node.id, "cdk.tf.json") })),
  };
}

if (require.main === module) {
  try {
    const result = synthesize({ pinsPath: process.env.AMIROLL_PINS || undefined });
    for (const stack of result.stacks) {
      console.log(`synthesized ${stack.name.padEnd(12)} -> ${relative(process.cwd(), stack.file)}`);
    }
    console.log(`next: cd ${relative(process.cwd(), resolve(result.outdir, "stacks", result.stacks[0].name))} && terraform init && terraform plan`);
  } catch (e) {
    // Bad config or pins: one line naming the file and field, exit 2 (nothing was written).
    console.error(`amiroll synth: ${(e as Error).message}`);
    process.exit(2);
  }
}
