import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** The provider the stacks pin; the mirror must hold exactly this version. */
export const AWS_PROVIDER_VERSION = "5.100.0";

/** Where a filesystem mirror of the provider is looked for when AMIROLL_TF_PLUGIN_DIR is unset. */
const MIRROR_CANDIDATES = [
  "/opt/tf-plugins",
  join(homedir(), ".terraform.d", "plugins"),
  "/usr/local/share/terraform/plugins",
  "/usr/share/terraform/plugins",
];

export type TerraformSetup =
  | { readonly ok: true; readonly terraform: string; readonly pluginDir: string }
  | { readonly ok: false; readonly reason: string };

function platform(): string {
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch as string] ?? process.arch;
  return `${process.platform}_${arch}`;
}

function holdsAwsProvider(dir: string): boolean {
  const folder = join(dir, "registry.terraform.io", "hashicorp", "aws", AWS_PROVIDER_VERSION, platform());
  return existsSync(folder) && readdirSync(folder).some((f) => f.startsWith(`terraform-provider-aws_v${AWS_PROVIDER_VERSION}`));
}

/**
 * Finds a terraform binary (AMIROLL_TERRAFORM, else `terraform` on PATH) and a plugin dir holding
 * hashicorp/aws 5.100.0 (AMIROLL_TF_PLUGIN_DIR, else the usual mirror places), or says why not.
 */
export function findTerraform(env: NodeJS.ProcessEnv = process.env): TerraformSetup {
  const terraform = env.AMIROLL_TERRAFORM || "terraform";
  const version = spawnSync(terraform, ["version"], { encoding: "utf8" });
  if (version.error || version.status !== 0) {
    return { ok: false, reason: `no terraform binary (${terraform}) on PATH; set AMIROLL_TERRAFORM to one` };
  }
  const given = env.AMIROLL_TF_PLUGIN_DIR;
  if (given) {
    return holdsAwsProvider(given)
      ? { ok: true, terraform, pluginDir: given }
      : { ok: false, reason: `AMIROLL_TF_PLUGIN_DIR=${given} holds no hashicorp/aws ${AWS_PROVIDER_VERSION} for ${platform()}` };
  }
  const found = MIRROR_CANDIDATES.find(holdsAwsProvider);
  return found
    ? { ok: true, terraform, pluginDir: found }
    : { ok: false, reason: `no hashicorp/aws ${AWS_PROVIDER_VERSION} mirror in ${MIRROR_CANDIDATES.join(", ")}; set AMIROLL_TF_PLUGIN_DIR` };
}

/** Runs terraform in `cwd` without colour or prompts; returns status and combined output. */
export function terraform(setup: { terraform: string }, cwd: string, args: string[]): { status: number; output: string } {
  const result = spawnSync(setup.terraform, [...args, "-no-color"], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1" },
  });
  return { status: result.status ?? 1, output: `${result.stdout}${result.stderr}` };
}
