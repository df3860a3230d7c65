/**
 * `amiroll state restore --env E --from FILE [--yes] [--force]`: pushes a state backup (taken
 * before an apply by `apply` or `rollout`) back as the environment's terraform state. It shows
 * the diff of resource addresses first and changes nothing without `--yes` (exit 2); a backup of
 * another lineage (another environment's state) is always refused, one newer than the live
 * state unless `--force`. The live state is backed up before it is replaced. Restoring the state
 * changes terraform's record only, never AWS (docs/state.md says when to use it).
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { UsageError } from "../core/errors";
import { createLogger } from "../core/log";
import { checkBackupDir, parseState, readBackupRecord, restoreState } from "../terraform/state-backup";
import { type CommonOptions, existingFile, findEnvironment, interruptible, loadConfig, stderrSink, temporaryDirectory, withCommonOptions } from "./common";
import { openStack } from "./stack";

interface RestoreOptions extends CommonOptions {
  readonly env: string;
  readonly from: string;
  readonly yes?: boolean;
  readonly force?: boolean;
}

export function stateCommand(): Command {
  const restore = new Command("restore")
    .description("push a state backup (taken before an apply) back as the environment's terraform state; shows the diff of resource addresses and changes nothing without --yes")
    .requiredOption("--env <name>", "the environment whose state to restore")
    .requiredOption("--from <file>", "the backup's .tfstate file (amiroll apply and rollout name it in their logs and reports)")
    .option("--yes", "push it (without: show what it would change, exit 2)")
    .option("--force", "push a backup whose serial is newer than the live state's (the state was restored or replaced after it was taken)");
  withCommonOptions(restore).action(async (options: RestoreOptions) => {
    // Every input before terraform runs: exit 2 must mean nothing was changed.
    const from = existingFile("--from", options.from);
    const shown = `--from: ${options.from}`;
    const backupText = readFileSync(from, "utf8");
    parseState(backupText, shown);
    const record = readBackupRecord(from);
    const log = createLogger(options.logFormat, stderrSink);
    const config = loadConfig(options);
    const environment = findEnvironment(config.environments, options.env);
    if (record?.environment !== undefined && record.environment !== environment.name) {
      throw new UsageError(`${shown}: a backup of ${record.environment}'s state (lineage ${record.lineage}, serial ${record.serial}), not of ${environment.name}'s: refused, nothing changed`);
    }
    // The live state is backed up before the push.
    if (!options.simulate) checkBackupDir(config.backups, environment.name);
    const interrupt = interruptible(log);
    try {
      const stack = await openStack({ config, environment, log, simulate: options.simulate, scenario: options.scenario, signal: interrupt.signal });
      log.info("terraform init");
      await stack.runner.init();
      const clock = stack.simulation?.clock;
      const result = await restoreState({
        environment: environment.name,
        runner: stack.runner,
        backupText,
        shown,
        record,
        yes: options.yes === true,
        force: options.force === true,
        // A simulated state's backups stay with the simulated world (removed with it).
        backups: options.simulate ? { dir: temporaryDirectory("amiroll-sim-backups-"), shownAs: "the simulated backups", keep: config.backups.keep } : config.backups,
        pinsPath: config.pinsPath,
        at: clock ? clock.now() : Date.now(),
        scratch: temporaryDirectory("amiroll-restore-"),
        log,
      });
      console.log(result.lines.join("\n"));
      if (result.outcome === "needs --yes") throw new UsageError(`not restored: review what it changes (above), then run again with --yes to push it`);
      if (result.outcome === "pushed") log.info(`next: amiroll plan --env ${environment.name} shows what terraform would now change to make AWS match the config from this state`);
    } finally {
      interrupt.done();
    }
  });
  const state = new Command("state").description("an environment's terraform state: restore a backup taken before an apply").addCommand(restore);
  // The CLI's settings (exit override, output) reach `state`; `restore` takes them from it as it runs.
  state.hook("preSubcommand", (parent, sub) => void sub.copyInheritedSettings(parent));
  return state;
}
