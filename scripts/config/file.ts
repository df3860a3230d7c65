/**
 * The config file, `amiroll.json`, in the user's repository: where it is (found upward from the
 * current directory like `.git`, or named by `--config` or AMIROLL_CONFIG), what it holds (the
 * environments, and where the pins and the synthesized stacks go), and the pins beside it.
 * Every path a verb reads or writes is relative to this file, never to amiroll's install.
 */
import { existsSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { UsageError } from "../core/errors";
import { type Environment, type EnvironmentsConfig, loadEnvironments } from "./environments";
import { ConfigError, Input, readJsonFile } from "./input";
import { type Pins, readPins } from "./pins";
import { labelProblem, reviewerProblem } from "../github/repository";

export const CONFIG_FILE = "amiroll.json";
export const DEFAULT_PINS_FILE = "amis.json";
export const DEFAULT_OUT_DIR = "cdktf.out";
/** Where the state backups go by default (docs/configuration.md, `backups`). */
export const DEFAULT_BACKUP_DIR = ".amiroll/backups";
/** How many backups are kept per environment by default. */
export const DEFAULT_BACKUP_KEEP = 10;
/** The most backups per environment `backups.keep` may ask for. */
export const MAX_BACKUP_KEEP = 1000;

/** `amiroll.json` as written (amiroll.schema.json describes the same shape for editors). */
export interface AmirollConfig {
  /** The JSON Schema editors complete the file from; amiroll ignores it. */
  readonly $schema?: string;
  /** The pins file, relative to this file. @default "amis.json" */
  readonly pins?: string;
  /** Where `amiroll synth` (and every verb that plans) writes the stacks, relative to this file. @default "cdktf.out" */
  readonly outDir?: string;
  /** The environments, by name (lower-case letters, digits and '-'). */
  readonly environments: EnvironmentsConfig;
  /** The pull requests `amiroll bump --open-pr` opens. */
  readonly pullRequests?: PullRequestsConfig;
  /** The state (and pins) backups taken before every apply. */
  readonly backups?: {
    /** Relative to this file. @default ".amiroll/backups" */
    readonly dir?: string;
    /** Backups kept per environment (the oldest go). @default 10 */
    readonly keep?: number;
  };
  /** Environments at the same promotion depth that roll at once (docs/configuration.md). @default 1 */
  readonly maxParallel?: number;
  /** Where `amiroll rollout --notice --send` posts each owner's notice. */
  readonly notices?: {
    /** An https URL taking Slack's `{"text": ...}` (AMIROLL_NOTICE_WEBHOOK overrides it). */
    readonly webhook?: string;
  };
}

/** `pullRequests` of `amiroll.json`: what `bump --open-pr` adds to its pull requests (with its --label and --reviewer). */
export interface PullRequestsConfig {
  /** Labels, added on every run (only those the pull request lacks). @default [] */
  readonly labels?: readonly string[];
  /** GitHub logins or `org/team`, asked for a review when the pull request is opened. @default [] */
  readonly reviewers?: readonly string[];
}

/** Where the state backups go and how many are kept (terraform/state-backup.ts). */
export interface BackupSettings {
  /** The directory, absolute (AMIROLL_BACKUP_DIR overrides the config's `backups.dir`). */
  readonly dir: string;
  /** The directory as messages name it, with where it was set (e.g. `backups.dir: .amiroll/backups`). */
  readonly shownAs: string;
  /** Backups kept per environment. */
  readonly keep: number;
}

/** The config as loaded: validated, defaults filled in, paths absolute. */
export interface LoadedConfig {
  /** The config file, absolute. */
  readonly path: string;
  /** The config file as messages name it (relative to the current directory). */
  readonly shownAs: string;
  readonly environments: readonly Environment[];
  /** The pins file, absolute (AMIROLL_PINS overrides the config's `pins`). */
  readonly pinsPath: string;
  readonly pinsShownAs: string;
  /** The synthesized stacks' directory, absolute (CDKTF_OUTDIR overrides the config's `outDir`). */
  readonly outDir: string;
  /** `pullRequests`, validated (absent: none). */
  readonly pullRequests?: { readonly labels: readonly string[]; readonly reviewers: readonly string[] };
  readonly backups: BackupSettings;
  /** `maxParallel`: environments at the same promotion depth rolled at once (1, the default when absent: one after another). */
  readonly maxParallel?: number;
  /** The notices' webhook (`notices.webhook` or AMIROLL_NOTICE_WEBHOOK), an https URL; messages name only its host. */
  readonly notices?: { readonly webhook: string; readonly shownAs: string };
}

/** The config and the pins it names: what every verb starts from. */
export interface Config extends LoadedConfig {
  readonly pins: Pins;
}

/** Identity, typed: gives editors the config's shape when it is built in TypeScript. */
export function defineConfig(config: AmirollConfig): AmirollConfig {
  return config;
}

export interface FindOptions {
  /** `--config FILE`. */
  readonly config?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/**
 * The config file's path: `--config`, else AMIROLL_CONFIG, else the nearest `amiroll.json` from
 * `cwd` upward. A UsageError (exit 2) when there is none.
 */
export function findConfigFile(options: FindOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  const named = options.config ?? (options.env ?? process.env).AMIROLL_CONFIG;
  if (named) {
    const path = resolve(cwd, named);
    const how = options.config ? "--config" : "AMIROLL_CONFIG";
    if (!existsSync(path)) throw new UsageError(`${how}: ${named} does not exist`);
    if (statSync(path).isDirectory()) {
      // A directory means the amiroll.json in it, as `git -C` would.
      if (!existsSync(join(path, CONFIG_FILE))) throw new UsageError(`${how}: ${named} is a directory without ${CONFIG_FILE}`);
      return join(path, CONFIG_FILE);
    }
    return path;
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, CONFIG_FILE);
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new UsageError(`no ${CONFIG_FILE} in ${cwd} or any directory above it (run amiroll init to write one, or pass --config FILE)`);
}

/** A path as messages show it: relative to the current directory when that is shorter. */
export function shownPath(path: string, cwd: string = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

/**
 * Validates a parsed config. `path` is the config file (absolute): `pins` and `outDir` are
 * resolved against its directory and may not leave it.
 */
export function parseConfig(raw: unknown, path: string, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const shownAs = shownPath(path, options.cwd);
  const f = new Input(shownAs, "", raw).object(["$schema", "pins", "outDir", "environments", "pullRequests", "backups", "maxParallel", "notices"]);
  // $schema is for editors: any string, even one pointing nowhere, is fine.
  if (f.$schema.present) f.$schema.string();
  const directory = dirname(path);
  const inside = (input: Input, fallback: string): string => {
    const value = input.present ? input.string() : fallback;
    const resolved = resolve(directory, value);
    const rel = relative(directory, resolved);
    if (isAbsolute(value) || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      input.fail(`${JSON.stringify(value)} is outside the config file's directory (give a path relative to ${shownAs}, without "..")`);
    }
    if (rel === "") input.fail(`${JSON.stringify(value)} is the config file's own directory`);
    return resolved;
  };
  const pinsFromConfig = inside(f.pins, DEFAULT_PINS_FILE);
  const outDirFromConfig = inside(f.outDir, DEFAULT_OUT_DIR);
  const b = f.backups.present ? f.backups.object(["dir", "keep"]) : undefined;
  const backupDirFromConfig = b ? inside(b.dir, DEFAULT_BACKUP_DIR) : resolve(directory, DEFAULT_BACKUP_DIR);
  const keep = b?.keep.present ? b.keep.integer(1, MAX_BACKUP_KEEP) : DEFAULT_BACKUP_KEEP;
  const maxParallel = f.maxParallel.present ? f.maxParallel.integer(1) : 1;
  if (!f.environments.present) f.environments.fail("the environments are missing (an object: name -> environment)");
  const environments = loadEnvironments(f.environments.value, shownAs, "environments");
  const pinsPath = env.AMIROLL_PINS ? resolve(options.cwd ?? process.cwd(), env.AMIROLL_PINS) : pinsFromConfig;
  const outDir = env.CDKTF_OUTDIR ? resolve(options.cwd ?? process.cwd(), env.CDKTF_OUTDIR) : outDirFromConfig;
  const backupDir = env.AMIROLL_BACKUP_DIR ? resolve(options.cwd ?? process.cwd(), env.AMIROLL_BACKUP_DIR) : backupDirFromConfig;
  const backups = { dir: backupDir, shownAs: `${env.AMIROLL_BACKUP_DIR ? "AMIROLL_BACKUP_DIR" : "backups.dir"}: ${shownPath(backupDir, options.cwd)}`, keep };
  const pullRequests = f.pullRequests.present ? parsePullRequests(f.pullRequests) : undefined;
  const notices = parseNotices(f.notices, env.AMIROLL_NOTICE_WEBHOOK);
  return { path, shownAs, environments, pinsPath, pinsShownAs: shownPath(pinsPath, options.cwd), outDir, backups, maxParallel, ...(pullRequests && { pullRequests }), ...(notices && { notices }) };
}

/**
 * `notices`, and AMIROLL_NOTICE_WEBHOOK over its `webhook` (a webhook URL is a secret: CI keeps it
 * there). Only https: the message would travel in clear otherwise. A refusal names the scheme and
 * host, never the path (the secret part).
 */
function parseNotices(input: Input, fromEnv: string | undefined): LoadedConfig["notices"] {
  const f = input.present ? input.object(["webhook"]) : undefined;
  const fromConfig = f?.webhook.present ? f.webhook.string() : undefined;
  const value = fromEnv || fromConfig;
  if (value === undefined) return undefined;
  const fail = (problem: string): never => {
    if (fromEnv) throw new UsageError(`AMIROLL_NOTICE_WEBHOOK: ${problem}`);
    return f!.webhook.fail(problem);
  };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail("is not a URL (expected https://HOST/PATH, the webhook's URL)");
  }
  if (url.protocol !== "https:") return fail(`is not an https URL (${JSON.stringify(url.protocol)} to host ${JSON.stringify(url.host)}): the webhook must be https, or the notices and its secret path travel in clear`);
  if (url.host === "") return fail("has no host");
  return { webhook: url.href, shownAs: `${fromEnv ? "AMIROLL_NOTICE_WEBHOOK" : "notices.webhook"} (${url.host})` };
}

function parsePullRequests(input: Input): NonNullable<LoadedConfig["pullRequests"]> {
  const f = input.object(["labels", "reviewers"]);
  const list = (field: Input, problem: (value: string) => string | undefined): string[] =>
    field.present
      ? field.array().map((item) => {
          const value = item.string();
          const wrong = problem(value);
          if (wrong) item.fail(wrong);
          return value;
        })
      : [];
  return { labels: list(f.labels, labelProblem), reviewers: list(f.reviewers, reviewerProblem) };
}

/** Reads and validates the config file at `path` (pins not read), within the JSON limits every file read has. */
export function readConfigFile(path: string, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): LoadedConfig {
  return parseConfig(readJsonFile(path, shownPath(path, options.cwd), "an amiroll config object"), path, options);
}

/** Finds, reads and validates the config and its pins. ConfigError/UsageError (exit 2) on bad input. */
export function loadConfig(options: FindOptions = {}): Config {
  const loaded = readConfigFile(findConfigFile(options), options);
  if (!existsSync(loaded.pinsPath)) {
    throw new ConfigError(loaded.pinsShownAs, "(file)", `does not exist (the pins named by ${loaded.shownAs}; amiroll init or amiroll bump writes it)`);
  }
  return { ...loaded, pins: readPins(loaded.pinsPath, loaded.environments, loaded.pinsShownAs) };
}

/** The environment called `name` (for `--env`), or a UsageError listing the known ones. */
export function findEnvironment(environments: readonly Environment[], name: string, flag = "--env"): Environment {
  const env = environments.find((e) => e.name === name);
  if (!env) throw new UsageError(`${flag}: no such environment ${JSON.stringify(name)} (known: ${environments.map((e) => e.name).join(", ")})`);
  return env;
}
