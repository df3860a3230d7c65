import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { type AmiPin, type ClusterAmis, amiIdProblem } from "../../constructs/ami";
import { Input, readJsonFile } from "./input";
import type { Environment } from "./environments";

/** A pinned image, with when `amiroll rollout` verified it in this environment (its gates passed). */
export interface Pin extends AmiPin {
  /** An environment that promotes from this one takes only a verified image. */
  readonly verifiedAt?: string;
}

/** An image a blue-green roll rolled back from: the rollout does not try it again. */
export interface Rejection {
  readonly imageId: string;
  readonly reason: string;
  readonly at: string;
}

/** One cluster's pins as the driver keeps them: the generations, plus what it verified or rejected. */
export interface ClusterPins extends ClusterAmis {
  readonly current: Pin;
  readonly retiring?: Pin;
  readonly rejected?: Rejection;
}

/** Pins per environment, then per cluster: `pins[env][cluster]`. */
export type Pins = Readonly<Record<string, Readonly<Record<string, ClusterPins>>>>;

/**
 * Validates pins against the environments: every cluster has a pin, no pin names a cluster that
 * does not exist, `retiring` not the image of `current`. Throws a
 * ConfigError naming the field at fault.
 */
export function parsePins(raw: unknown, environments: readonly Environment[], file: string): Pins {
  const root = new Input(file, "", raw);
  const byEnv = root.object(environments.map((e) => e.name));
  const pins: Record<string, Record<string, ClusterPins>> = {};
  for (const env of environments) {
    const envInput = byEnv[env.name];
    if (!envInput.present) envInput.fail(`no pins for environment ${env.name}`);
    const byCluster = envInput.object(env.clusters.map((c) => c.name));
    pins[env.name] = {};
    for (const cluster of env.clusters) {
      const input = byCluster[cluster.name];
      if (!input.present) input.fail(`no pin for cluster ${cluster.name} (run amiroll bump --env ${env.name})`);
      const f = input.object(["current", "retiring", "rejected"]);
      const current = parsePin(f.current);
      const retiring = f.retiring.present ? parsePin(f.retiring) : undefined;
      if (retiring && retiring.imageId === current.imageId) {
        f.retiring.child("imageId", retiring.imageId).fail(`is the same image as current (${current.imageId})`);
      }
      const rejected = f.rejected.present ? parseRejection(f.rejected) : undefined;
      pins[env.name][cluster.name] = { current, ...(retiring && { retiring }), ...(rejected && { rejected }) };
    }
  }
  return pins;
}

function parsePin(input: Input): Pin {
  const f = input.object(["imageId", "imageName", "ssmParameter", "resolvedAt", "verifiedAt"]);
  const problem = amiIdProblem(f.imageId.value);
  if (problem) f.imageId.fail(problem);
  const resolvedAt = f.resolvedAt.present ? isoTime(f.resolvedAt) : undefined;
  const verifiedAt = f.verifiedAt.present ? isoTime(f.verifiedAt) : undefined;
  return {
    imageId: f.imageId.value as string,
    ...(f.imageName.present && { imageName: f.imageName.string() }),
    ...(f.ssmParameter.present && { ssmParameter: f.ssmParameter.formatted("ssmParameter") }),
    ...(resolvedAt !== undefined && { resolvedAt }),
    ...(verifiedAt !== undefined && { verifiedAt }),
  };
}

function parseRejection(input: Input): Rejection {
  const f = input.object(["imageId", "reason", "at"]);
  const problem = amiIdProblem(f.imageId.value);
  if (problem) f.imageId.fail(problem);
  return { imageId: f.imageId.value as string, reason: f.reason.string(), at: isoTime(f.at) };
}

function isoTime(input: Input): string {
  const text = input.string();
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(text)) {
    input.fail(`${JSON.stringify(text)} is not an ISO 8601 time such as 2026-11-02T09:00:00Z`);
  }
  if (Number.isNaN(Date.parse(text))) input.fail(`${text} is not a real date`);
  return text;
}

/** Reads and validates a pins file; a missing or non-JSON file is a ConfigError too. */
export function readPins(path: string, environments: readonly Environment[], shownAs: string = path): Pins {
  return parsePins(readJsonFile(path, shownAs), environments, shownAs);
}

/**
 * The pins file's text: two-space JSON in a fixed order (environments and clusters as the config
 * lists them, `current` before `retiring`), so that a machine-written change diffs as little as
 * the change itself.
 *
 * Given `like` (the file's current text), the output follows that file instead: its key order,
 * indentation, line endings and final newline, so that a user's hand-formatted file diffs only
 * where the pins changed. Keys the file does not have yet go after its own, in the fixed order.
 * A `like` that is not a JSON object is ignored.
 */
export function formatPins(pins: Pins, environments: readonly Environment[], like?: string): string {
  const pin = (p: Pin) => ({
    imageId: p.imageId,
    ...(p.imageName !== undefined && { imageName: p.imageName }),
    ...(p.ssmParameter !== undefined && { ssmParameter: p.ssmParameter }),
    ...(p.resolvedAt !== undefined && { resolvedAt: p.resolvedAt }),
    ...(p.verifiedAt !== undefined && { verifiedAt: p.verifiedAt }),
  });
  const ordered = Object.fromEntries(
    environments.map((env) => [
      env.name,
      Object.fromEntries(
        env.clusters.map((c) => {
          const p = pins[env.name][c.name];
          return [c.name, { current: pin(p.current), ...(p.retiring && { retiring: pin(p.retiring) }), ...(p.rejected && { rejected: { imageId: p.rejected.imageId, reason: p.rejected.reason, at: p.rejected.at } }) }];
        }),
      ),
    ]),
  );
  const previous = like === undefined ? undefined : parsedObject(like);
  if (like === undefined || previous === undefined) return `${JSON.stringify(ordered, null, 2)}\n`;
  // The first indented line is the top object's first key: its leading whitespace is one level.
  const indent = /\n([ \t]+)\S/.exec(like)?.[1];
  const text = JSON.stringify(orderedLike(ordered, previous), null, indent === undefined ? 2 : indent.startsWith("\t") ? "\t" : indent.length);
  // JSON.stringify escapes newlines inside strings, so every "\n" here is a line break.
  const eol = like.includes("\r\n") ? "\r\n" : "\n";
  return (text + (like.endsWith("\n") ? "\n" : "")).replace(/\n/g, eol);
}

function parsedObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `value` with, at every level, the keys `like` has at the same place first in `like`'s order,
 * then the others in `value`'s order. Keys only `like` has are not added.
 */
function orderedLike(value: unknown, like: unknown): unknown {
  if (!isPlainObject(value) || !isPlainObject(like)) return value;
  const keys = [...Object.keys(like).filter((k) => Object.hasOwn(value, k)), ...Object.keys(value).filter((k) => !Object.hasOwn(like, k))];
  return Object.fromEntries(keys.map((k) => [k, orderedLike(value[k], like[k])]));
}

/**
 * Writes the pins file, whole (a temporary file renamed over it, so a crash never leaves half a
 * file), in the formatting of the file it replaces if there is one. Returns the change as
 * lineDiff lines.
 */
export function writePins(path: string, pins: Pins, environments: readonly Environment[]): string[] {
  const { before, after } = pinsRewrite(path, pins, environments);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, after);
  renameSync(temporary, path);
  return lineDiff(before ?? "", after);
}

/**
 * The pins file's text now (undefined when there is no file) and its text with `pins` written in
 * its formatting: what writePins would change, for a dry run.
 */
export function pinsRewrite(path: string, pins: Pins, environments: readonly Environment[]): { before?: string; after: string } {
  let before: string | undefined;
  try {
    before = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  return { before, after: formatPins(pins, environments, before) };
}

/**
 * A unified diff of two texts (a few lines of context, `-` and `+` lines), for a reviewer to read
 * what the driver changed. Small files only: the table is lines x lines.
 */
export function lineDiff(before: string, after: string, context = 2): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  // Longest common subsequence table, from the end.
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const lines: { mark: " " | "-" | "+"; text: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      lines.push({ mark: " ", text: a[i] });
      i++;
      j++;
    } else if (i < a.length && (j === b.length || lcs[i + 1][j] >= lcs[i][j + 1])) lines.push({ mark: "-", text: a[i++] });
    else lines.push({ mark: "+", text: b[j++] });
  }
  const near = (k: number) => lines.slice(Math.max(0, k - context), k + context + 1).some((l) => l.mark !== " ");
  const out: string[] = [];
  lines.forEach((line, k) => {
    if (near(k)) out.push(`${line.mark} ${line.text}`);
    else if (out.length > 0 && out[out.length - 1] !== "  ...") out.push("  ...");
  });
  while (out[out.length - 1] === "  ...") out.pop();
  return out;
}
