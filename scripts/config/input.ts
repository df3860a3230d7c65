import { readFileSync } from "node:fs";
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
 * Reads and parses a JSON file; a missing or unreadable file, or one that is not JSON, is a
 * ConfigError naming it (`shownAs`). `expected` says what the file should have been.
 */
export function readJsonFile(path: string, shownAs: string = path, expected?: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(shownAs, "(file)", `cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseJson(text, shownAs, expected);
}

/** JSON.parse, with a syntax error reported as a ConfigError at its line and column. */
export function parseJson(text: string, shownAs: string, expected?: string): unknown {
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
  if (offset === undefined) return undefined;
  const before = text.slice(0, offset);
  return { line: before.split("\n").length, column: offset - before.lastIndexOf("\n") };
}

/**
 * The offset of the first character that makes `text` invalid JSON (its length when the text
 * ends too soon), or undefined when it is valid. V8's own message names a position only for
 * some errors, and its wording differs between Node versions.
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
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (!match) fail();
    i += match![0].length;
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === "{") {
      i++;
      ws();
      if (text[i] === "}") return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ":") fail();
        i++;
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") return void i++;
        else fail();
      }
    }
    if (ch === "[") {
      i++;
      ws();
      if (text[i] === "]") return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") return void i++;
        else fail();
      }
    }
    if (ch === '"') return string();
    if (ch === "t") return literal("true");
    if (ch === "f") return literal("false");
    if (ch === "n") return literal("null");
    if (ch === "-" || (ch >= "0" && ch <= "9")) return number();
    fail();
  };
  try {
    // A byte order mark is not JSON either (JSON.parse refuses it): it fails at offset 0.
    value();
    ws();
    return i < text.length ? i : undefined;
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
