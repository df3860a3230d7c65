/**
 * The stack builder: one EnvironmentStack per environment of the config, in one cdktf App.
 * `amiroll synth` uses it, and so can a team's own cdktf app (`new AmirollApp(loadConfig())`).
 */
import { App } from "cdktf";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { ClusterAmis } from "./ami";
import { type EnvironmentSpec, EnvironmentStack } from "./environment-stack";

export interface AmirollAppProps {
  readonly environments: readonly EnvironmentSpec[];
  /** Pins per environment, then per cluster: `pins[env][cluster]` (the pins file, as amiroll/config loads it). */
  readonly pins: Readonly<Record<string, Readonly<Record<string, ClusterAmis>>>>;
  /** Where the stacks are written. @default "cdktf.out" */
  readonly outDir?: string;
  /** Only these environments, by name. @default every environment */
  readonly only?: readonly string[];
}

/** A synthesized stack: its environment and its `cdk.tf.json`. */
export interface SynthesizedStack {
  readonly name: string;
  /** The stack's directory (terraform's working directory). */
  readonly directory: string;
  readonly file: string;
}

/** A cdktf App holding one stack per environment. */
export class AmirollApp extends App {
  readonly stacks: readonly EnvironmentStack[];

  constructor(props: AmirollAppProps) {
    super({ outdir: withParents(resolve(props.outDir ?? "cdktf.out")) });
    const selected = props.only ? props.environments.filter((e) => props.only!.includes(e.name)) : props.environments;
    this.stacks = selected.map((environment) => new EnvironmentStack(this, { environment, pins: props.pins[environment.name] ?? {} }));
  }

  /** Where each stack is written (after `synth()`). */
  get synthesized(): SynthesizedStack[] {
    return this.stacks.map((s) => {
      const directory = resolve(this.outdir, "stacks", s.node.id);
      return { name: s.node.id, directory, file: resolve(directory, "cdk.tf.json") };
    });
  }
}

/** `dir`, after creating its parents: cdktf's App makes only the last level of its outdir. */
function withParents(dir: string): string {
  mkdirSync(dirname(dir), { recursive: true });
  return dir;
}

/** Synthesizes the environments into `outDir` and says where each stack went. */
export function synthesizeStacks(props: AmirollAppProps): SynthesizedStack[] {
  const app = new AmirollApp(props);
  app.synth();
  return app.synthesized;
}
