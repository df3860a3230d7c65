/** This repository's own config (stacks/amiroll.json) and pins (stacks/amis.json), as tests use them. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Environment, type EnvironmentsConfig, loadEnvironments as load } from "../../scripts/config/environments";
import { type Config, loadConfig } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { type SynthesizedStack, synthesizeStacks } from "../../constructs/app";

export const REPO_CONFIG_PATH = join(__dirname, "../../stacks/amiroll.json");
export const REPO_PINS_PATH = join(__dirname, "../../stacks/amis.json");
/** As messages name them (jest runs in the repository's root). */
export const REPO_CONFIG_FILE = "stacks/amiroll.json";
export const REPO_PINS_FILE = "stacks/amis.json";

/** The environments as written in stacks/amiroll.json (copy before editing). */
export const ENVIRONMENTS_CONFIG: EnvironmentsConfig = JSON.parse(readFileSync(REPO_CONFIG_PATH, "utf8")).environments;

/** Validated environments of `raw` (default: this repository's), reported as stacks/amiroll.json's. */
export function loadEnvironments(raw: unknown = ENVIRONMENTS_CONFIG): Environment[] {
  return load(raw, REPO_CONFIG_FILE, "environments");
}

/** This repository's config with its pins, as a verb loads it (AMIROLL_PINS and CDKTF_OUTDIR ignored). */
export function repoConfig(): Config {
  return loadConfig({ config: REPO_CONFIG_PATH, env: {} });
}

/** Synthesizes this repository's environments into `outdir`, with its pins or those of `pinsPath`. */
export function synthesizeRepo(options: { outdir: string; pinsPath?: string; environments?: Environment[] }): { outdir: string; stacks: SynthesizedStack[] } {
  const environments = options.environments ?? loadEnvironments();
  const pins = readPins(options.pinsPath ?? REPO_PINS_PATH, environments, options.pinsPath ?? REPO_PINS_FILE);
  return { outdir: options.outdir, stacks: synthesizeStacks({ environments, pins, outDir: options.outdir }) };
}
