/**
 * The driver's logger: steps of progress, warnings, the final error, terraform's own lines and
 * live progress, as text or as one JSON object per line (`--log-format json`). The CLI creates
 * it over stderr (commands/common.ts, `stderrSink`) and passes it in; tests pass an array.
 *
 * Messages quote text from AWS, terraform and files, so what the logger writes is made inert
 * (core/inert.ts): as text, control characters become visible escapes (`\x1b`), newlines of a
 * message apart, and progress fields stay on one line; as JSON, every line is valid JSON with
 * DEL and the C1 controls escaped too. Its own `\r` and erase-line sequence are added after.
 */
import { jsonSafe, terminalLine, terminalSafe } from "./inert";
import { type ProgressItem, fitLine, joinFields } from "./progress";

export type LogFormat = "text" | "json";
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** Where the lines go. */
export interface LogSink {
  /** Writes `text` as it is (whole lines end with "\n"). */
  write(text: string): void;
  /** A terminal: live progress is one line rewritten in place. */
  readonly isTTY?: boolean;
  /** The terminal's width in columns (read again for every line: terminals resize). */
  readonly columns?: number;
}

export interface Logger {
  readonly format: LogFormat;
  /** A step of progress, with fields for the JSON form. */
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  /** The error that ends the run: `amiroll: MESSAGE` as text; with its fields (`exitCode`, ...) as JSON. */
  error(message: string, fields?: Record<string, unknown>): void;
  /** A line of a tool's own output (terraform), passed through. */
  output(source: string, line: string): void;
  /**
   * One poll's progress, an item per cluster. On a terminal (text): one line, rewritten in place
   * (`\r`), fitted to the terminal's width; elsewhere: a plain line per item, printed when it
   * changed (or `heartbeatMs` after it was last printed); as JSON: an object per item, every poll.
   */
  progress(items: readonly ProgressItem[]): void;
  /** The live work is over: a terminal keeps the last progress line and moves to the next line. */
  endProgress(): void;
}

export interface LoggerOptions {
  /** Milliseconds since the epoch, for JSON times and the heartbeat. @default Date.now */
  readonly now?: () => number;
  /** Off a terminal, an unchanged progress line is printed again after this long. @default 60 s */
  readonly heartbeatMs?: number;
}

/** Columns assumed for a terminal that does not say. */
const DEFAULT_COLUMNS = 80;

/**
 * A logger writing `format` to `sink`: a LogSink (the CLI's stderr), or a function that gets each
 * line without its newline (tests, bench). Progress goes to stderr so that stdout carries only a
 * verb's result (a comment, a report).
 */
export function createLogger(format: LogFormat, sink: LogSink | ((line: string) => void), options: LoggerOptions = {}): Logger {
  const now = options.now ?? Date.now;
  const heartbeatMs = options.heartbeatMs ?? 60_000;
  const out: LogSink = typeof sink === "function" ? { write: (text) => sink(text.replace(/\n$/, "")) } : sink;
  const live = format === "text" && out.isTTY === true;
  // On a terminal: the progress line on screen (its items, fitted again at each redraw).
  let shown: (readonly string[])[] | undefined;
  // Off a terminal: per progress line, what was printed last and when.
  const printed = new Map<string, { key: string; at: number }>();

  const liveLine = (items: readonly (readonly string[])[]) => fitLine(items, Math.max(1, (out.columns || DEFAULT_COLUMNS) - 1));
  /** A progress item's fields, each one safe line (a field cannot break the line it is in). */
  const safeParts = (parts: readonly string[]) => parts.map(terminalLine);
  /** One JSON object per line, whatever the values hold. */
  const json = (value: Record<string, unknown>) => jsonSafe(JSON.stringify(value));
  const line = (text: string) => {
    // A message while a progress line shows: clear it, print the message, draw the line again below.
    if (shown) out.write(`\r\x1b[2K${text}\n${liveLine(shown)}`);
    else out.write(`${text}\n`);
  };
  const emit = (level: "info" | "warn" | "error" | "output", message: string, fields?: Record<string, unknown>) => {
    if (format === "json") line(json({ time: new Date(now()).toISOString(), level, message, ...fields }));
    else line(terminalSafe(level === "warn" ? `warning: ${message}` : level === "error" ? `amiroll: ${message}` : message));
  };

  return {
    format,
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
    output: (source, text) => (format === "json" ? emit("output", text, { source }) : line(`  ${terminalLine(source)}: ${terminalLine(text)}`)),
    progress(items) {
      if (format === "json") {
        for (const item of items) emit("info", joinFields(item.parts), { event: "progress", ...item.fields });
      } else if (live) {
        shown = items.map((item) => safeParts(item.parts));
        out.write(`\r\x1b[2K${liveLine(shown)}`);
      } else {
        const at = now();
        for (const item of items) {
          const key = item.key ?? joinFields(item.parts);
          const last = printed.get(item.id);
          if (last && last.key === key && at - last.at < heartbeatMs) continue;
          printed.set(item.id, { key, at });
          line(joinFields(safeParts(item.parts)));
        }
      }
    },
    endProgress() {
      if (shown) out.write("\n");
      shown = undefined;
      printed.clear();
    },
  };
}
