/**
 * Where the hashicorp/aws provider the stacks pin is found locally, for `terraform init
 * -plugin-dir` (offline, no registry). One copy for the CLI and the test support.
 */
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** The provider the stacks pin; a plugin dir must hold exactly this version. */
export const AWS_PROVIDER_VERSION = "5.100.0";

/** Where a filesystem mirror of the provider is looked for when AMIROLL_TF_PLUGIN_DIR is unset. */
export const MIRROR_CANDIDATES: readonly string[] = [
  "/opt/tf-plugins",
  join(homedir(), ".terraform.d", "plugins"),
  "/usr/local/share/terraform/plugins",
  "/usr/share/terraform/plugins",
];

/** Terraform's hostname, then OpenTofu's: `source = "aws"` resolves to one or the other. */
const REGISTRY_HOSTS = ["registry.terraform.io", "registry.opentofu.org"];

export type PluginDirLookup = { readonly ok: true; readonly pluginDir: string } | { readonly ok: false; readonly reason: string };

/** `linux_amd64` and the like, as terraform names provider platform folders. */
export function providerPlatform(platform: string = process.platform, arch: string = process.arch): string {
  return `${platform}_${({ x64: "amd64", arm64: "arm64", ia32: "386" } as Record<string, string>)[arch] ?? arch}`;
}

/** Whether `dir` is a plugin dir (unpacked mirror layout) holding hashicorp/aws 5.100.0 for this platform. */
export function holdsAwsProvider(dir: string): boolean {
  return REGISTRY_HOSTS.some((host) => {
    const folder = join(dir, host, "hashicorp", "aws", AWS_PROVIDER_VERSION, providerPlatform());
    return existsSync(folder) && readdirSync(folder).some((f) => f.startsWith(`terraform-provider-aws_v${AWS_PROVIDER_VERSION}`));
  });
}

/**
 * The plugin dir: AMIROLL_TF_PLUGIN_DIR if set (and it must hold the provider), else the first of
 * `candidates` that does, else why none did. Reads the filesystem only; never runs anything.
 */
export function findPluginDir(env: NodeJS.ProcessEnv = process.env, candidates: readonly string[] = MIRROR_CANDIDATES): PluginDirLookup {
  const given = env.AMIROLL_TF_PLUGIN_DIR;
  if (given) {
    return holdsAwsProvider(given)
      ? { ok: true, pluginDir: given }
      : { ok: false, reason: `AMIROLL_TF_PLUGIN_DIR=${given} holds no hashicorp/aws ${AWS_PROVIDER_VERSION} for ${providerPlatform()}` };
  }
  const found = candidates.find(holdsAwsProvider);
  return found
    ? { ok: true, pluginDir: found }
    : { ok: false, reason: `no hashicorp/aws ${AWS_PROVIDER_VERSION} mirror in ${candidates.join(", ")}; set AMIROLL_TF_PLUGIN_DIR` };
}
