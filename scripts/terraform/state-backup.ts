/**
 * State backups: before every terraform apply (the apply verb, the rollout's applies, a rollback's
 * included) the environment's state, as `terraform state pull` prints it, is saved with the pins
 * file as it was, so that `amiroll state restore` can push the state back. Per environment, the
 * newest `keep` backups stay.
 *
 * A backup is three files in `<dir>/<environment>/`, named by the time and the state's serial:
 * `<stem>.tfstate` (the state), `<stem>.amis.json` (the pins file) and `<stem>.json` (the record:
 * environment, lineage, serial, why, the backend's object). Files are written 0600 and the
 * directory gets a `.gitignore` of `*`: state can hold secrets.
 *
 * With an S3 backend the record also holds the state object's version id, read before the apply
 * (state-version.ts; `terraform state pull` does not print it), or why there is none (versioning
 * off, the read failed): docs/state.md.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { BackupSettings } from "../config/file";
import { UsageError } from "../core/errors";
import type { Logger } from "../core/log";
import type { TerraformRunner } from "./runner";
import type { StateObjectVersion, StateVersionReader } from "./state-version";

/** What amiroll reads of a terraform state (format version 4). */
export interface StateFacts {
  readonly lineage: string;
  readonly serial: number;
  /** Each resource instance's address -> its attributes as JSON (to tell a changed instance). */
  readonly instances: ReadonlyMap<string, string>;
}

/**
 * Parses a state as `terraform state pull` prints it. Throws a UsageError naming `shown` when
 * it is not one (not JSON, no lineage or serial, not format version 4).
 */
export function parseState(text: string, shown: string): StateFacts {
  let raw: any;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${shown}: is not a terraform state (not JSON: ${(error as Error).message.replace(/\r?\n/g, " ")})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new UsageError(`${shown}: is not a terraform state (not a JSON object)`);
  if (raw.version !== 4) throw new UsageError(`${shown}: is not a terraform state of format version 4 (version ${raw.version === undefined ? "missing" : JSON.stringify(raw.version)})`);
  if (typeof raw.lineage !== "string" || raw.lineage === "") throw new UsageError(`${shown}: is not a terraform state (no lineage)`);
  if (!Number.isInteger(raw.serial) || raw.serial < 0) throw new UsageError(`${shown}: is not a terraform state (no serial)`);
  if (raw.resources !== undefined && !Array.isArray(raw.resources)) throw new UsageError(`${shown}: is not a terraform state (resources is not a list)`);
  return { lineage: raw.lineage, serial: raw.serial, instances: stateInstances(raw.resources ?? []) };
}

/** The resource instances of a state's `resources`, by address as terraform shows them (`module.m.aws_x.y["k"]`, `data.aws_x.y`). */
export function stateInstances(resources: readonly any[]): Map<string, string> {
  const instances = new Map<string, string>();
  for (const r of resources) {
    const base = `${r.module ? `${r.module}.` : ""}${r.mode === "data" ? "data." : ""}${r.type}.${r.name}`;
    for (const instance of Array.isArray(r.instances) ? r.instances : []) {
      const key = instance.index_key === undefined ? "" : `[${JSON.stringify(instance.index_key)}]`;
      instances.set(`${base}${key}`, JSON.stringify(instance.attributes ?? instance.attributes_flat ?? null));
    }
  }
  return instances;
}

/** What pushing `to` over `from` changes in terraform's record, by resource address. */
export interface AddressDiff {
  /** In `to` only: they come back into the state. */
  readonly added: readonly string[];
  /** In `from` only: they leave the state (terraform forgets them; AWS keeps them). */
  readonly removed: readonly string[];
  /** In both, with other attributes. */
  readonly changed: readonly string[];
  readonly unchanged: number;
}

export function diffAddresses(from: StateFacts, to: StateFacts): AddressDiff {
  const added = [...to.instances.keys()].filter((a) => !from.instances.has(a)).sort();
  const removed = [...from.instances.keys()].filter((a) => !to.instances.has(a)).sort();
  const both = [...to.instances.keys()].filter((a) => from.instances.has(a));
  const changed = both.filter((a) => from.instances.get(a) !== to.instances.get(a)).sort();
  return { added, removed, changed, unchanged: both.length - changed.length };
}

/** The diff as lines: `+ address` (back into the state), `- address` (out of it), `~ address` (other attributes). */
export function diffLines(diff: AddressDiff): string[] {
  return [
    ...diff.added.map((a) => `+ ${a}`),
    ...diff.removed.map((a) => `- ${a}`),
    ...diff.changed.map((a) => `~ ${a}`),
    `${diff.added.length} back into the state, ${diff.removed.length} out of it, ${diff.changed.length} changed, ${diff.unchanged} unchanged`,
  ];
}

/** A backup's record (`<stem>.json`). */
export interface BackupRecord {
  readonly environment: string;
  /** ISO 8601: when it was taken (the run's clock: virtual in a simulated run). */
  readonly takenAt: string;
  readonly lineage: string;
  readonly serial: number;
  /** What the apply after it was for. */
  readonly purpose: string;
  /** The three files, absolute. */
  readonly stateFile: string;
  readonly pinsFile?: string;
  readonly recordFile: string;
  /** The S3 backend's object the state lives in. */
  readonly backend?: { readonly bucket: string; readonly key: string; readonly region: string };
  /** The S3 state object's version id when it was read and versioning is on; else null. */
  readonly s3VersionId: string | null;
  /** What S3 said of the version (versioning off, not read, ...); absent when it was not asked (no reader: a simulated run). */
  readonly s3Version?: string;
}

/** A backup as the report names it: its state file, and its S3 version when one was asked. */
export function backupShown(record: Pick<BackupRecord, "stateFile">, version?: StateObjectVersion): string {
  return version ? `${record.stateFile} (${version.short})` : record.stateFile;
}

/**
 * Checks, before anything runs, that backups can be written for `environment`: the directory
 * (or the nearest existing one above it, when it is still to be made) is a directory amiroll can
 * write in, tried by making and removing an empty directory there. A UsageError (exit 2) naming
 * the setting otherwise; nothing is left behind.
 */
export function checkBackupDir(settings: BackupSettings, environment: string): void {
  let dir = join(settings.dir, environment);
  for (;;) {
    let stat;
    try {
      stat = statSync(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw new UsageError(`${settings.shownAs}: cannot be read (${code})`);
      if (dirname(dir) === dir) throw new UsageError(`${settings.shownAs}: no directory above it exists`);
      dir = dirname(dir);
      continue;
    }
    if (!stat.isDirectory()) throw new UsageError(`${settings.shownAs}: cannot be made: ${dir} is a file, not a directory`);
    try {
      rmdirSync(mkdtempSync(join(dir, ".amiroll-write-check-")));
    } catch (error) {
      throw new UsageError(`${settings.shownAs}: cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message} in ${dir}): backups of the state are taken before every apply`);
    }
    return;
  }
}

/**
 * Whether `terraform state pull` said there is no state yet: nothing (a local backend), or what a
 * remote backend (S3) prints for a key it does not hold yet: an empty state with serial 0, no
 * lineage and no resources. A first deploy to S3 pulls the latter (seen against moto, issue 18).
 */
export function isNoState(text: string): boolean {
  if (text.trim() === "") return true;
  try {
    const raw = JSON.parse(text) as { lineage?: unknown; serial?: unknown; resources?: unknown };
    return (raw.lineage === "" || raw.lineage === undefined) && !raw.serial && Array.isArray(raw.resources ?? []) && ((raw.resources as unknown[] | undefined) ?? []).length === 0;
  } catch {
    return false;
  }
}

/** `2026-11-24T08:00:00.000Z` -> `20261124T080000000Z`: sorts as time does. */
const stamp = (at: number) => new Date(at).toISOString().replace(/[-:.]/g, "");

/**
 * Saves a backup of `state` (text as `terraform state pull` printed it) and of the pins file at
 * `pinsPath`, then removes the environment's oldest beyond `settings.keep`. Returns its record;
 * undefined when there is no state yet (a first deploy: nothing to go back to).
 */
export function saveBackup(
  settings: BackupSettings,
  options: { environment: string; state: string; pinsPath?: string; at: number; purpose: string; backend?: BackupRecord["backend"]; s3Version?: StateObjectVersion },
): BackupRecord | undefined {
  if (isNoState(options.state)) return undefined;
  const facts = parseState(options.state, `terraform state pull of ${options.environment}`);
  if (!existsSync(settings.dir)) {
    mkdirSync(settings.dir, { recursive: true, mode: 0o700 });
    // State can hold secrets (passwords, keys): never committed by accident.
    writeFileSync(join(settings.dir, ".gitignore"), "# amiroll state backups: terraform state can hold secrets\n*\n");
  }
  const dir = join(settings.dir, options.environment);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const base = `${stamp(options.at)}-serial${String(facts.serial).padStart(8, "0")}`;
  let stem = base;
  // "_" sorts after ".": a second backup at the same instant and serial lists after the first.
  for (let n = 2; existsSync(join(dir, `${stem}.tfstate`)); n++) stem = `${base}_${String(n).padStart(3, "0")}`;
  const stateFile = join(dir, `${stem}.tfstate`);
  writeFileSync(stateFile, options.state.endsWith("\n") ? options.state : `${options.state}\n`, { mode: 0o600 });
  let pinsFile: string | undefined;
  if (options.pinsPath && existsSync(options.pinsPath)) {
    pinsFile = join(dir, `${stem}.amis.json`);
    writeFileSync(pinsFile, readFileSync(options.pinsPath), { mode: 0o600 });
  }
  const record: BackupRecord = {
    environment: options.environment,
    takenAt: new Date(options.at).toISOString(),
    lineage: facts.lineage,
    serial: facts.serial,
    purpose: options.purpose,
    stateFile,
    ...(pinsFile && { pinsFile }),
    recordFile: join(dir, `${stem}.json`),
    ...(options.backend && { backend: options.backend }),
    s3VersionId: options.s3Version?.versionId ?? null,
    ...(options.s3Version && { s3Version: options.s3Version.note }),
  };
  writeFileSync(record.recordFile, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  pruneBackups(dir, settings.keep);
  return record;
}

/** The backups in an environment's directory, oldest first (their state files). */
export function listBackups(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(".tfstate")).sort().map((f) => join(dir, f));
}

/** Removes the oldest backups (their three files) beyond the newest `keep`. */
export function pruneBackups(dir: string, keep: number): void {
  const all = listBackups(dir);
  for (const stateFile of all.slice(0, Math.max(0, all.length - keep))) {
    const stem = stateFile.slice(0, -".tfstate".length);
    for (const file of [stateFile, `${stem}.amis.json`, `${stem}.json`]) rmSync(file, { force: true });
  }
}

/** The record beside a backup's state file, if there is one and it reads as a record. */
export function readBackupRecord(stateFile: string): Partial<BackupRecord> | undefined {
  const recordFile = stateFile.replace(/\.tfstate$/, ".json");
  if (recordFile === stateFile || !existsSync(recordFile)) return undefined;
  try {
    const record = JSON.parse(readFileSync(recordFile, "utf8"));
    return typeof record === "object" && record !== null ? record : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Pulls the state through `runner`, reads the S3 object's version (with `stateVersion` and an S3
 * `backend`), and saves them with the pins (saveBackup), logging the backup by name and its
 * version: what every apply runs first. A version that could not be read is a warning; the
 * backup is still taken and the apply goes on. Returns the record and the version as read.
 */
export async function backupBeforeApply(
  settings: BackupSettings,
  options: { environment: string; runner: TerraformRunner; pinsPath?: string; at: number; purpose: string; backend?: BackupRecord["backend"]; stateVersion?: StateVersionReader; log: Logger },
): Promise<(BackupRecord & { readonly version?: StateObjectVersion }) | undefined> {
  const { environment, log } = options;
  const state = await options.runner.statePull();
  let version: StateObjectVersion | undefined;
  if (options.stateVersion && options.backend && !isNoState(state)) {
    version = await options.stateVersion(options.backend, parseState(state, `terraform state pull of ${environment}`));
    if (version.problem) log.warn(`${environment}: ${version.note}`, { env: environment, s3VersionId: null });
  }
  const record = saveBackup(settings, { ...options, state, s3Version: version });
  if (!record) {
    log.info(`${environment}: no terraform state yet (a first deploy): nothing to back up`, { env: environment });
    return undefined;
  }
  log.info(`${environment}: state backed up to ${record.stateFile} (serial ${record.serial}; pins beside it${version ? `; ${version.problem ? version.short : version.note}` : ""})`, {
    env: environment,
    backup: record.stateFile,
    serial: record.serial,
    lineage: record.lineage,
    ...(version && { s3VersionId: version.versionId }),
  });
  return { ...record, ...(version && { version }) };
}

export interface RestoreOptions {
  readonly environment: string;
  readonly runner: TerraformRunner;
  /** The backup's text and how messages name it (`--from: FILE`). */
  readonly backupText: string;
  readonly shown: string;
  /** Its record, when one is beside it (what it was taken for, the pins beside it). */
  readonly record?: Partial<BackupRecord>;
  /** Push it; without, only say what it would change. */
  readonly yes: boolean;
  /** Push a backup whose serial is newer than the live state's. */
  readonly force: boolean;
  /** Where the live state is backed up before it is replaced. */
  readonly backups: BackupSettings;
  readonly pinsPath?: string;
  readonly at: number;
  /** A directory for the copy that is pushed (the backup with the serial after the live one's). */
  readonly scratch: string;
  readonly log: Logger;
}

export interface RestoreResult {
  /** What the restore changes, for stdout. */
  readonly lines: string[];
  readonly diff: AddressDiff;
  /** "pushed"; "same" (the live state already is the backup); "needs --yes" (nothing done). */
  readonly outcome: "pushed" | "same" | "needs --yes";
  /** The live state's backup, taken before the push. */
  readonly before?: BackupRecord;
}

/**
 * `amiroll state restore`: pulls the live state, refuses a backup of another state (another
 * lineage: another environment's, or a state made again) and one newer than the live state
 * (unless `force`), shows the diff of resource addresses, and with `yes` backs up the live
 * state, then pushes the backup as the serial after the live one's: terraform's own lineage and
 * serial checks stay on (never `-force`), so a state changed between this pull and the push
 * is refused by terraform. Refusals are UsageErrors (exit 2) with nothing changed.
 */
export async function restoreState(options: RestoreOptions): Promise<RestoreResult> {
  const { environment, shown, log } = options;
  const backup = parseState(options.backupText, shown);
  const liveText = await options.runner.statePull();
  if (isNoState(liveText)) {
    throw new UsageError(`${environment} has no state in its backend yet: there is nothing to restore over (terraform state push does it by hand)`);
  }
  const live = parseState(liveText, `terraform state pull of ${environment}`);
  const taken = options.record?.environment ? ` (a backup of ${options.record.environment})` : "";
  if (backup.lineage !== live.lineage) {
    throw new UsageError(
      `${shown}: lineage ${backup.lineage}${taken} is not the lineage of ${environment}'s state (${live.lineage}, serial ${live.serial}): a backup of another environment or of another state; refused, nothing changed`,
    );
  }
  if (backup.serial > live.serial && !options.force) {
    throw new UsageError(
      `${shown}: serial ${backup.serial} is newer than ${environment}'s state (serial ${live.serial}): the state was restored or replaced after this backup was taken; --force pushes it anyway`,
    );
  }
  const diff = diffAddresses(live, backup);
  const about = options.record?.takenAt ? `, taken ${options.record.takenAt}${options.record.purpose ? ` before ${options.record.purpose}` : ""}` : "";
  const lines = [
    `state restore of ${environment} from ${shown.replace(/^--from: /, "")}`,
    `  backup: lineage ${backup.lineage}, serial ${backup.serial}${about}`,
    `  live:   serial ${live.serial}`,
    "what pushing it changes in terraform's record of the resources (AWS itself is not changed):",
    ...diffLines(diff).map((l) => `  ${l}`),
  ];
  if (options.record?.pinsFile) lines.push(`the pins file as it was is beside the backup: ${options.record.pinsFile} (amiroll does not write it back)`);
  if (diff.added.length + diff.removed.length + diff.changed.length === 0 && backup.serial === live.serial) {
    lines.push(`${environment}'s state already is this backup: nothing to restore`);
    return { lines, diff, outcome: "same" };
  }
  if (!options.yes) return { lines, diff, outcome: "needs --yes" };
  const before = saveBackup(options.backups, { environment, state: liveText, pinsPath: options.pinsPath, at: options.at, purpose: `amiroll state restore from ${shown.replace(/^--from: /, "")}` })!;
  log.info(`${environment}: the live state (serial ${live.serial}) backed up to ${before.stateFile} before the restore`, { env: environment, backup: before.stateFile, serial: live.serial });
  const raw = JSON.parse(options.backupText);
  raw.serial = live.serial + 1;
  const pushed = join(options.scratch, `${environment}-restore.tfstate`);
  writeFileSync(pushed, `${JSON.stringify(raw, null, 2)}\n`, { mode: 0o600 });
  log.info(`${environment}: terraform state push (the backup as serial ${raw.serial})`, { env: environment, serial: raw.serial });
  await options.runner.statePush(pushed);
  rmSync(pushed, { force: true });
  lines.push(`restored: ${environment}'s state is the backup's, as serial ${raw.serial}; the state before it is backed up to ${before.stateFile}`);
  return { lines, diff, outcome: "pushed", before };
}
