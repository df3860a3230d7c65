import { readFileSync, statSync } from "node:fs";
import { type Format, formatProblem, integerProblem } from "../../constructs/formats";

/**
 * Bad configuration: the file and the field at fault, in one line. The CLI maps it to exit 2.
 */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    problem: string,
  ) {
    super(`${file}: ${field}: ${problem}`);
    this.name = "ConfigError";
  }
}

/**
 * The most JSON amiroll reads from one file or one command: 512 MiB (a plan of thousands of
 * resources is tens of MiB; Node cannot hold a string much longer than this anyway).
 */
export const MAX_JSON_BYTES = 512 * 1024 * 1024;
/**
 * How deep objects and arrays may nest in JSON amiroll reads. A terraform plan nests a few tens
 * of levels; what reads the parsed value walks it recursively, so a deeper file would end in a
 * stack overflow (exit 1, naming nothing) instead of a refusal that names the file.
 */
export const MAX_JSON_DEPTH = 512;

const MIB = 1024 * 1024;

/**
 * Reads and parses a JSON file; a missing or unreadable file, one over MAX_JSON_BYTES, or one
 * that is not JSON or nests deeper than MAX_JSON_DEPTH, is a ConfigError naming it (`shownAs`).
 * `expected` says what the file should have been.
 */
export function readJsonFile(path: string, shownAs: string = path, expected?: string): unknown {
  let text: string;
  try {
    // Refused before reading: a file over the limit is not loaded at all.
    const size = statSync(path).size;
    if (size > MAX_JSON_BYTES) throw tooBig(shownAs, size, "bytes");
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(shownAs, "(file)", `cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseJson(text, shownAs, expected);
}

function tooBig(shownAs: string, size: number, unit: "bytes" | "characters"): ConfigError {
  return new ConfigError(shownAs, "(file)", `is ${size} ${unit} (${(size / MIB).toFixed(1)} MiB), over the ${MAX_JSON_BYTES / MIB} MiB amiroll reads`);
}

/**
 * JSON.parse within the limits: text over MAX_JSON_BYTES, or nesting deeper than
 * MAX_JSON_DEPTH, is refused as a ConfigError naming `shownAs` (the depth at its line and
 * column), and so is a syntax error, at its line and column.
 */
export function parseJson(text: string, shownAs: string, expected?: string): unknown {
  if (text.length > MAX_JSON_BYTES) throw tooBig(shownAs, text.length, "characters");
  const deep = jsonDepthOffset(text, MAX_JSON_DEPTH);
  if (deep !== undefined) {
    const where = lineAndColumn(text, deep);
    throw new ConfigError(
      shownAs,
      "(file)",
      `nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels at line ${where.line}, column ${where.column}${expected ? ` (expected ${expected})` : ""}; amiroll reads at most ${MAX_JSON_DEPTH}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    // One line: V8 quotes the text around the error, newlines included.
    const message = (e as Error).message.replace(/\r?\n/g, "\\n");
    const where = jsonErrorPosition(text);
    const at = where ? ` at line ${where.line}, column ${where.column}` : "";
    throw new ConfigError(shownAs, "(file)", `is not valid JSON${expected ? ` (expected ${expected})` : ""}${at}: ${message}`);
  }
}

/** Where JSON.parse failed, as line and column (1-based), found by scanning the text. */
function jsonErrorPosition(text: string): { line: number; column: number } | undefined {
  const offset = jsonErrorOffset(text);
  return offset === undefined ? undefined : lineAndColumn(text, offset);
}

/** Line and column (1-based) of an offset. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

/**
 * The offset of the bracket that opens level `limit + 1` of nested objects and arrays, or
 * undefined when the text nests no deeper than `limit`. Brackets inside strings do not count.
 * One pass, no recursion, whether or not the text is valid JSON.
 */
export function jsonDepthOffset(text: string, limit: number): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip the string: to the next quote not escaped by a backslash.
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c /* \ */) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return i;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return undefined;
}

/**
 * Where a parsed value nests deeper than `limit` objects and arrays: the top-level field it
 * happens under (`(top level)` for the value itself), or undefined when it does not. Iterative:
 * for values that did not come through parseJson (another program's output).
 */
export function valueDeeperThan(value: unknown, limit: number): string | undefined {
  const stack: [unknown, number, string][] = [[value, 0, "(top level)"]];
  while (stack.length > 0) {
    const [v, depth, field] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth + 1 > limit) return field;
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) stack.push([v[i], depth + 1, depth === 0 ? `[${i}]` : field]);
    else for (const key of Object.keys(v)) stack.push([(v as Record<string, unknown>)[key], depth + 1, depth === 0 ? key : field]);
  }
  return undefined;
}

/** A JSON number at `lastIndex` (sticky: no copy of the rest of the text per number). */
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * The offset of the first character that makes `text` invalid JSON (its length when the text
 * ends too soon), or undefined when it is valid. V8's own message names a position only for
 * some errors, and its wording differs between Node versions. Iterative (a stack of the open
 * objects and arrays), so no nesting depth overflows it.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    for (const ch of word) if (text[i++] !== ch) (i--, fail());
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= text.length || text.charCodeAt(i) < 0x20) fail();
      const ch = text[i++];
      if (ch === '"') return;
      if (ch === "\\") {
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 5;
        } else if ('"\\/bfnrt'.includes(text[i] ?? "")) i++;
        else fail();
      }
    }
  };
  const number = () => {
    NUMBER.lastIndex = i;
    const match = NUMBER.exec(text);
    if (!match) fail();
    i += match![0].length;
  };
  /** An object's `"key":`, up to the value. */
  const key = () => {
    ws();
    if (text[i] !== '"') fail();
    string();
    ws();
    if (text[i] !== ":") fail();
    i++;
  };
  /** The objects (`}`) and arrays (`]`) open around the current value, innermost last. */
  const open: string[] = [];
  try {
    // A byte order mark is not JSON either (JSON.parse refuses it): it fails at offset 0.
    for (;;) {
      // A value.
      ws();
      const ch = text[i];
      if (ch === "{" || ch === "[") {
        i++;
        ws();
        const close = ch === "{" ? "}" : "]";
        if (text[i] === close) i++;
        else {
          open.push(close);
          if (close === "}") key();
          continue;
        }
      } else if (ch === '"') string();
      else if (ch === "t") literal("true");
      else if (ch === "f") literal("false");
      else if (ch === "n") literal("null");
      else if (ch === "-" || (ch >= "0" && ch <= "9")) number();
      else fail();
      // After a value: a comma (the next value), or the end of the object or array around it.
      for (;;) {
        ws();
        const close = open[open.length - 1];
        if (close === undefined) return i < text.length ? i : undefined;
        if (text[i] === ",") {
          i++;
          if (close === "}") key();
          break;
        }
        if (text[i] !== close) fail();
        i++;
        open.pop();
      }
    }
  } catch (offset) {
    if (typeof offset === "number") return Math.min(offset, text.length);
    throw offset;
  }
}

/**
 * A cursor over untrusted input (a parsed JSON file or a config literal) that knows where it
 * is, so every problem is reported as `file: a.b[2].c: what is wrong`.
 */
export class Input {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly value: unknown,
  ) {}

  fail(problem: string): never {
    throw new ConfigError(this.file, this.field || "(top level)", problem);
  }

  child(key: string | number, value: unknown): Input {
    const field = typeof key === "number" ? `${this.field}[${key}]` : this.field ? `${this.field}.${key}` : key;
    return new Input(this.file, field, value);
  }

  /** The fields of an object, refusing any not in `known` (a typo must not pass silently). */
  object(known: readonly string[]): Record<string, Input> {
    const fields: Record<string, Input> = {};
    for (const [key, value] of Object.entries(this.record())) {
      if (!known.includes(key)) this.child(key, value).fail(`unknown field (known: ${known.join(", ")})`);
      fields[key] = this.child(key, value);
    }
    for (const key of known) fields[key] ??= this.child(key, undefined);
    return fields;
  }

  /** The entries of a map-shaped object (`{name: ...}`), each key checked by `keyPattern`. */
  entries(keyPattern: RegExp, expected: string): [string, Input][] {
    return Object.entries(this.record()).map(([key, value]) => {
      const child = this.child(key, value);
      if (!keyPattern.test(key)) child.fail(`${JSON.stringify(key)} is not a valid name (expected ${expected})`);
      return [key, child];
    });
  }

  private record(): Record<string, unknown> {
    const v = this.value;
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(`expected an object, got ${describe(v)}`);
    return v as Record<string, unknown>;
  }

  array(): Input[] {
    if (!Array.isArray(this.value)) this.fail(`expected a list, got ${describe(this.value)}`);
    return this.value.map((item, i) => this.child(i, item));
  }

  get present(): boolean {
    return this.value !== undefined;
  }

  string(): string {
    if (typeof this.value !== "string" || this.value === "") this.fail(`expected a non-empty string, got ${describe(this.value)}`);
    return this.value;
  }

  /** A string matching one of the shared AWS formats. */
  formatted(format: Format): string {
    const problem = formatProblem(this.value, format);
    if (problem) this.fail(problem);
    return this.value as string;
  }

  oneOf<T extends string>(choices: readonly T[]): T {
    if (!choices.includes(this.value as T)) {
      this.fail(`${JSON.stringify(this.value)} is not one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`);
    }
    return this.value as T;
  }

  integer(min: number, max?: number): number {
    const problem = integerProblem(this.value, min, max);
    if (problem) this.fail(problem);
    return this.value as number;
  }

  boolean(): boolean {
    if (typeof this.value !== "boolean") this.fail(`expected true or false, got ${describe(this.value)}`);
    return this.value;
  }

  /** A flat map of string values, e.g. tags. */
  stringMap(): Record<string, string> {
    return Object.fromEntries(this.entries(/^.{1,128}$/, "1-128 characters").map(([k, v]) => [k, v.string()]));
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}
