/**
 * Errors of the driver that the CLI maps to exit codes (scripts/amiroll.ts, `exitCodeOf`).
 * Bad config, pins or plan files are `ConfigError`s (stacks/config-input.ts): file and field.
 */

/** Something to fix before anything can run, e.g. no terraform binary (exit 2, nothing changed). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** terraform (or OpenTofu) failed: `terraform <command>` and the short reason (exit 1). */
export class TerraformError extends Error {
  constructor(
    readonly command: string,
    readonly reason: string,
    /** The process's exit code; undefined when it did not exit by itself (timeout, interrupt). */
    readonly exitCode?: number,
    /**
     * Stopped by the caller's signal (Ctrl-C, SIGTERM), or refused to start after it: not a
     * failure of terraform, of AWS or of the image (the rollout ends "interrupted", exit 130).
     */
    readonly interrupted = false,
  ) {
    super(`terraform ${command}: ${reason}`);
    this.name = "TerraformError";
  }
}

/** The saved plan no longer matches the state (someone applied since): plan again (exit 1). */
export class StalePlanError extends TerraformError {
  constructor(command: string, reason = "the saved plan is stale (the state changed since it was made); run amiroll plan again") {
    super(command, reason);
    this.name = "StalePlanError";
  }
}

/** The plan guard refused a plan (exit 3): one reason per change it would not accept. */
export class GuardRefusal extends Error {
  constructor(
    readonly reasons: readonly string[],
    summary = `the plan guard refused the plan (${reasons.length} reason${reasons.length === 1 ? "" : "s"})`,
  ) {
    super(summary);
    this.name = "GuardRefusal";
  }
}

/**
 * AWS answered something the driver cannot use: an SSM parameter that does not exist or does not
 * hold an image, an image that is missing, deregistered or built for the wrong CPU. Bad input
 * (exit 2, nothing changed); `source` names the parameter or image at fault.
 */
export class AwsAnswerError extends UsageError {
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
    this.name = "AwsAnswerError";
  }
}
