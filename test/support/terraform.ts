import { spawn, spawnSync } from "node:child_process";
import { awsProviderExecutable, findPluginDir } from "../../scripts/terraform/plugins";

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

/**
 * Runs terraform in `cwd` without colour or prompts; resolves with its status, its combined output,
 * and its stdout alone (in order: `terraform test`'s progress lines).
 * Not blocking, so that a file's commands can run side by side.
 */
export function terraformAsync(setup: { terraform: string }, cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number; output: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(setup.terraform, [...args, "-no-color"], {
      cwd,
      env: { ...process.env, TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.on("error", (error) => resolve({ status: 1, output: `${output}${error.message}`, stdout }));
    child.on("close", (code) => resolve({ status: code ?? 1, output, stdout }));
  });
}

/** A provider server that terraform commands attach to (TF_REATTACH_PROVIDERS), started once. */
export interface SharedProvider {
  /** Environment to give terraform so that it attaches instead of starting the provider itself. */
  readonly env: { readonly TF_REATTACH_PROVIDERS: string };
  /** Ends the provider process (ours, by its pid) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts the mirror's hashicorp/aws provider once, in its debug mode, for every terraform command
 * of a test file. Each command would otherwise start its own copy of the ~700 MB provider and
 * build its schema anew (~5 s of CPU each on these machines); attached, a command costs a second.
 * The provider runs with `providerEnv` (credentials, endpoints), since terraform's own environment
 * does not reach a provider it did not start. Undefined when the mirror holds only a packed zip.
 */
export async function startSharedProvider(pluginDir: string, providerEnv: NodeJS.ProcessEnv = {}, options: { cwd?: string } = {}): Promise<SharedProvider | undefined> {
  const binary = awsProviderExecutable(pluginDir);
  if (!binary) return undefined;
  // The provider reads relative paths (a Lambda's zip, `assets/...`) against its own working
  // directory, not the terraform command's: `cwd` is the stack's directory where one is read.
  const child = spawn(binary, ["-debug"], { cwd: options.cwd, env: { ...process.env, ...providerEnv }, stdio: ["ignore", "pipe", "ignore"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const reattach = await new Promise<string>((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`the provider (${binary} -debug) printed no TF_REATTACH_PROVIDERS in 60 s`)), 60_000);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      seen += chunk;
      const match = /TF_REATTACH_PROVIDERS='([^']+)'/.exec(seen);
      if (match) {
        clearTimeout(timer);
        seen = "";
        resolve(match[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the provider (${binary} -debug) exited ${code} before it was ready`));
    });
  });
  return {
    env: { TF_REATTACH_PROVIDERS: reattach },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
