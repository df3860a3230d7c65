/**
 * Where the hashicorp/aws provider the stacks pin is found locally, for `terraform init
 * -plugin-dir` (offline, no registry). One discovery (`findPluginDir`) for the CLI's runner
 * (`providerSource`) and the test support.
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

/**
 * Whether `dir` is a plugin dir holding hashicorp/aws 5.100.0 for this platform, in either layout
 * `terraform providers mirror` and `-plugin-dir` know: unpacked
 * (`HOST/hashicorp/aws/5.100.0/linux_amd64/terraform-provider-aws_v5.100.0_x5`) or packed
 * (`HOST/hashicorp/aws/terraform-provider-aws_5.100.0_linux_amd64.zip`).
 */
export function holdsAwsProvider(dir: string): boolean {
  return (
    awsProviderExecutable(dir) !== undefined ||
    REGISTRY_HOSTS.some((host) => existsSync(join(dir, host, "hashicorp", "aws", `terraform-provider-aws_${AWS_PROVIDER_VERSION}_${providerPlatform()}.zip`)))
  );
}

/** The unpacked hashicorp/aws 5.100.0 executable for this platform in plugin dir `dir`, if any. */
export function awsProviderExecutable(dir: string): string | undefined {
  for (const host of REGISTRY_HOSTS) {
    const unpacked = join(dir, host, "hashicorp", "aws", AWS_PROVIDER_VERSION, providerPlatform());
    const file = existsSync(unpacked) ? readdirSync(unpacked).find((f) => f.startsWith(`terraform-provider-aws_v${AWS_PROVIDER_VERSION}`)) : undefined;
    if (file) return join(unpacked, file);
  }
  return undefined;
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

/** Where `terraform init` gets the provider from, and why. */
export type ProviderSource =
  | { readonly from: "AMIROLL_TF_PLUGIN_DIR" | "mirror"; readonly pluginDir: string }
  | { readonly from: "registry"; readonly pluginDir?: undefined };

/**
 * The real runner's default (TerraformCli): AMIROLL_TF_PLUGIN_DIR as given; else the local mirror
 * the tests use too (`findPluginDir` over `candidates`); else the registry, as a plain
 * `terraform init` would.
 */
export function providerSource(env: NodeJS.ProcessEnv = process.env, candidates: readonly string[] = MIRROR_CANDIDATES): ProviderSource {
  if (env.AMIROLL_TF_PLUGIN_DIR) return { from: "AMIROLL_TF_PLUGIN_DIR", pluginDir: env.AMIROLL_TF_PLUGIN_DIR };
  const mirror = findPluginDir({}, candidates);
  return mirror.ok ? { from: "mirror", pluginDir: mirror.pluginDir } : { from: "registry" };
}

/** What the user is told about `source`: only a mirror found by looking is worth a line. */
export function providerSourceNotice(source: ProviderSource): string | undefined {
  return source.from === "mirror" ? `using the local provider mirror at ${source.pluginDir} (set AMIROLL_TF_PLUGIN_DIR to choose another)` : undefined;
}
