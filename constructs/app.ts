/**
 * The stack builder: one EnvironmentStack per environment of the config, in one cdktf App.
 * `amiroll synth` uses it, and so can a team's own cdktf app (`new AmirollApp(loadConfig())`).
 */
import { App } from "cdktf";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
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

/** What one synthesis wrote, relative to its outDir, and the stacks' names. */
interface Synthesis {
  readonly files: ReadonlyMap<string, Buffer>;
  readonly names: readonly string[];
}

/**
 * The last syntheses of this process, by what they were made from: a rollout synthesizes the
 * same pins more than once (its plan, its rollback), and so do tests. What cdktf writes does not
 * depend on the outDir (its paths are relative), so a synthesis is written again instead of made.
 */
const recentSyntheses = new Map<string, Synthesis>();
const RECENT_SYNTHESES = 16;

/** Synthesizes the environments into `outDir` and says where each stack went. */
export function synthesizeStacks(props: AmirollAppProps): SynthesizedStack[] {
  const outDir = resolve(props.outDir ?? "cdktf.out");
  const key = JSON.stringify([props.environments, props.pins, props.only ?? null]);
  const recent = recentSyntheses.get(key);
  if (recent) {
    for (const [path, content] of recent.files) {
      mkdirSync(dirname(join(outDir, path)), { recursive: true });
      writeFileSync(join(outDir, path), content);
    }
    return recent.names.map((name) => {
      const directory = resolve(outDir, "stacks", name);
      return { name, directory, file: resolve(directory, "cdk.tf.json") };
    });
  }
  const app = new AmirollApp(props);
  app.synth();
  const synthesized = app.synthesized;
  const files = new Map<string, Buffer>([["manifest.json", readFileSync(join(outDir, "manifest.json"))]]);
  for (const stack of synthesized) {
    for (const path of filesUnder(stack.directory)) files.set(relative(outDir, path), readFileSync(path));
  }
  recentSyntheses.set(key, { files, names: synthesized.map((s) => s.name) });
  if (recentSyntheses.size > RECENT_SYNTHESES) recentSyntheses.delete(recentSyntheses.keys().next().value!);
  return synthesized;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]));
}
