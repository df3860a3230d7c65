import { spawnSync } from "node:child_process";
import { findPluginDir } from "../../scripts/terraform/plugins";

export { AWS_PROVIDER_VERSION } from "../../scripts/terraform/plugins";

export type TerraformSetup =
  | { readonly ok: true; readonly terraform: string; readonly pluginDir: string }
  | { readonly ok: false; readonly reason: string };

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
  const plugins = findPluginDir(env);
  return plugins.ok ? { ok: true, terraform, pluginDir: plugins.pluginDir } : plugins;
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
