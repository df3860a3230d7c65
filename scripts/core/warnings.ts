/**
 * Process warnings as the CLI shows them: the AWS SDK's Node-version notice never (it is about
 * the SDK's releases of 2027, not about anything the user ran), every other warning as Node
 * prints it, or, with `--log-format json`, as a JSON `warn` line like the rest of stderr.
 */
import type { Logger } from "./log";

/** The warnings the CLI drops, by name. */
export const HIDDEN_WARNINGS: readonly string[] = [
  // @aws-sdk/core on Node < 22: "NodeVersionSupportWarning: The AWS SDK for JavaScript (v3) versions
  // published after the first week of January 2027 will require node >=22..." It passes its name
  // as the start of the message, not as the warning's type; a later SDK may pass it as the type.
  "NodeVersionSupportWarning",
];

/** Whether `process.emitWarning(warning, typeOrOptions)` is one of `hidden`: by type, Error name or `NAME:` message prefix. */
export function isHiddenWarning(warning: unknown, typeOrOptions?: unknown, hidden: readonly string[] = HIDDEN_WARNINGS): boolean {
  const message = typeof warning === "string" ? warning : warning instanceof Error ? warning.message : "";
  const type =
    warning instanceof Error ? warning.name : typeof typeOrOptions === "string" ? typeOrOptions : (typeOrOptions as { type?: unknown } | undefined)?.type;
  return hidden.some((name) => type === name || message.startsWith(`${name}:`));
}

const FILTERED = Symbol.for("amiroll.hiddenWarnings");

/**
 * Drops the `hidden` warnings where they are emitted (`process.emitWarning`), before Node's
 * printer or any listener sees them; every other warning goes on as before. Call it before the
 * SDK loads (it warns once, when its first client is created). Idempotent.
 */
export function hideWarnings(proc: NodeJS.Process = process, hidden: readonly string[] = HIDDEN_WARNINGS): void {
  const emit = proc.emitWarning as NodeJS.Process["emitWarning"] & { [FILTERED]?: true };
  if (emit[FILTERED]) return;
  const filtered = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    if (isHiddenWarning(warning, rest[0], hidden)) return;
    return (emit as (...args: unknown[]) => void).apply(proc, [warning, ...rest]);
  } as NodeJS.Process["emitWarning"] & { [FILTERED]?: true };
  filtered[FILTERED] = true;
  proc.emitWarning = filtered;
}

/**
 * Warnings through `log` instead of Node's printer (which writes several lines of text): for
 * `--log-format json`, where every line on stderr is a JSON object. `--no-warnings` still wins.
 */
export function logWarnings(log: Logger, proc: NodeJS.Process = process): void {
  // Node prints warnings from its own 'warning' listener, named onWarning; other listeners stay.
  for (const listener of proc.listeners("warning")) if (listener.name === "onWarning") proc.off("warning", listener as (w: Error) => void);
  if (proc.execArgv.includes("--no-warnings") || proc.env.NODE_NO_WARNINGS === "1") return;
  proc.on("warning", (warning: Error & { code?: string }) => log.warn(warning.message, { warning: warning.name, ...(warning.code && { code: warning.code }) }));
}
