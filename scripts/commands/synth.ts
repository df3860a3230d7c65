/**
 * `amiroll synth [--env NAME]...`: writes each environment's terraform stack (cdk.tf.json) into
 * the config's outDir with the library's own stack builder, so a team needs no TypeScript.
 * Exit 2 on a bad config or pins, or an outDir that is a file; nothing is written then.
 */
import { existsSync, statSync } from "node:fs";
import { Command } from "commander";
import { shownPath } from "../config/file";
import { ConfigError } from "../config/input";
import { createLogger } from "../core/log";
import { type CommonOptions, envOption, loadConfig, selectEnvironments, stderrSink, withCommonOptions } from "./common";

interface SynthCommandOptions extends CommonOptions {
  readonly env: string[];
}

export function synthCommand(): Command {
  const command = new Command("synth")
    .description("write each environment's terraform stack (cdk.tf.json) into the config's outDir (no AWS call)")
    .addOption(envOption("the environment to synthesize"));
  return withCommonOptions(command).action(async (options: SynthCommandOptions) => {
    const log = createLogger(options.logFormat, stderrSink);
    const config = loadConfig(options);
    const environments = selectEnvironments(config, options.env);
    if (existsSync(config.outDir) && !statSync(config.outDir).isDirectory()) {
      throw new ConfigError(config.shownAs, "outDir", `${shownPath(config.outDir)} is a file, not a directory`);
    }
    const started = Date.now();
    // cdktf (and the provider's resource classes) load only here, for the verbs that synthesize.
    const { synthesizeStacks } = await import("../../constructs/app");
    const stacks = synthesizeStacks({ environments, pins: config.pins, outDir: config.outDir });
    for (const stack of stacks) {
      log.info(`synthesized ${stack.name} -> ${shownPath(stack.file)}`, { environment: stack.name, file: stack.file });
    }
    const first = shownPath(stacks[0].directory);
    log.info(`${stacks.length} stack(s) in ${((Date.now() - started) / 1000).toFixed(1)} s; next: amiroll plan --env ${stacks[0].name} (or cd ${first} && terraform init && terraform plan)`);
  });
}
