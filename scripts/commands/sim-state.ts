/**
 * `rollout --simulate --state-dir DIR`: a simulated world that outlives its process, so that a
 * rollout interrupted (Ctrl-C) or crashed in one process is resumed by the same command in the
 * next, as it would be against AWS.
 *
 * The world cannot be saved as it is: its pending events are closures on a virtual clock. It is
 * rebuilt instead, by deterministic replay: the simulator is seeded and runs on virtual time, so
 * the same config, scenario and seed, and the same rollouts stopped at the same points, make the
 * same world. A point is the number of events the virtual clock had run when the signal came
 * (a signal handler runs between two turns of the clock; many steps share one virtual instant,
 * so the time alone would not do). DIR keeps:
 *
 * - `journal.json`: the config's fingerprint, the scenario, the seed, the simulated start, the
 *   pins the first run started from, and each rollout run: its options, where it started, and
 *   where it was interrupted (or its outcome, when it ended by itself; or the start of its last
 *   step, when its process was killed), each as a virtual time and a count of clock events;
 * - `amis.json`: the simulated pins as the last run left them (rewritten by the replay: the
 *   replay is the truth, and a warning says when the two differ);
 * - `cdktf.out/`: the stacks synthesized from them.
 *
 * A run replays the journal (each run stopped by a signal aborted at its recorded time), then
 * goes on live from the world and the pins the replay made, with the rollout's own resume logic.
 * Also here: `AMIROLL_SIM_INTERRUPT`, the test-only way to send the process a signal at a chosen
 * point of a simulated rollout.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config/file";
import { formatPins } from "../config/pins";
import { UsageError } from "../core/errors";
import type { Logger } from "../core/log";
import { STEP_ORDER } from "../rollout/state";
import type { VirtualClock } from "../sim/clock";
import type { ScenarioName } from "../sim/scenario-list";

const JOURNAL = "journal.json";
const JOURNAL_VERSION = 1;

/** The options of a rollout run, as the journal keeps them (what the replay needs to run it again). */
export interface JournaledOptions {
  readonly from?: string;
  readonly to?: string;
  readonly ignoreWindow?: boolean;
  readonly waitForWindow?: boolean;
  readonly force?: boolean;
  readonly watchTimeoutMs: number;
  readonly stallAfterMs: number;
  /** The config's maxParallel when above 1 (the replay rolls the waves as the run did). */
  readonly maxParallel?: number;
}

/** A point of the simulated run: the virtual time (ISO 8601, for people) and the clock's events run so far (for the replay). */
export interface SimPoint {
  readonly at: string;
  readonly event: number;
}

export interface JournaledRun {
  readonly options: JournaledOptions;
  readonly started: SimPoint;
  /** Where the signal aborted the run: the replay aborts it at the same point. */
  interrupted?: SimPoint;
  /** The start of the last step it began (for a run whose process was killed: it is replayed up to there). */
  lastStep?: SimPoint;
  ended?: SimPoint;
  /** The rollout's outcome, or "error: MESSAGE" for a run that ended in an error. */
  outcome?: string;
}

export interface Journal {
  readonly version: number;
  readonly about: string;
  /** sha256 of the config's environments and the pins file the world was made from. */
  readonly fingerprint: string;
  readonly scenario: ScenarioName;
  readonly seed: number;
  readonly startAt: string;
  /** The pins file the first run started from (what the replay starts from). */
  readonly pins: string;
  readonly runs: JournaledRun[];
}

export interface SimState {
  /** The directory, absolute. */
  readonly directory: string;
  readonly pinsPath: string;
  readonly journal: Journal;
  /** The pins the last run left, to compare with the replay's (undefined on the first run). */
  readonly previousPins?: string;
  /** Writes the journal (after every change of a run's entry: a killed process leaves it current). */
  save(): void;
}

const iso = (ms: number) => new Date(ms).toISOString();
const pointOf = (clock: VirtualClock): SimPoint => ({ at: iso(clock.now()), event: clock.events });

function fingerprint(config: Config): string {
  return createHash("sha256").update(JSON.stringify({ environments: config.environments, pins: formatPins(config.pins, config.environments) })).digest("hex");
}

/**
 * Opens (or, for a directory that does not exist or is empty, starts) a state directory.
 * Checked before anything runs (exit 2, nothing changed): a path that is a file, a directory that
 * is not one of these, a journal of another config or scenario. Creates the directory.
 */
export function openSimState(path: string, config: Config, options: { scenario?: ScenarioName; seed: number; startAt: number }): SimState {
  const directory = resolve(path);
  const flag = "--state-dir";
  const journalPath = join(directory, JOURNAL);
  const pinsPath = join(directory, "amis.json");
  let journal: Journal | undefined;
  if (existsSync(directory)) {
    if (!statSync(directory).isDirectory()) throw new UsageError(`${flag}: ${path}: is a file, not a directory`);
    if (existsSync(journalPath)) journal = readJournal(flag, path, journalPath);
    else if (readdirSync(directory).length > 0) throw new UsageError(`${flag}: ${path}: is not empty and has no ${JOURNAL}: not a state directory of amiroll rollout --simulate (give a new or empty directory)`);
  }
  const print = fingerprint(config);
  if (journal) {
    if (journal.fingerprint !== print) throw new UsageError(`${flag}: ${path}: its simulated world was made from another amiroll.json or amis.json; use a new directory`);
    if (options.scenario !== undefined && options.scenario !== journal.scenario) {
      throw new UsageError(`${flag}: ${path}: its simulated world runs the scenario ${journal.scenario}, not ${options.scenario}; drop --scenario, or use a new directory`);
    }
  } else {
    journal = {
      version: JOURNAL_VERSION,
      about: "amiroll rollout --simulate --state-dir: the runs that made this simulated world, replayed by the next run (docs/simulator.md)",
      fingerprint: print,
      scenario: options.scenario ?? "healthy",
      seed: options.seed,
      startAt: iso(options.startAt),
      pins: formatPins(config.pins, config.environments),
      runs: [],
    };
  }
  const previousPins = existsSync(pinsPath) ? readFileSync(pinsPath, "utf8") : undefined;
  mkdirSync(directory, { recursive: true });
  const state: SimState = {
    directory,
    pinsPath,
    journal,
    previousPins,
    save: () => {
      // Whole or not at all: a process killed mid-write must not leave half a journal.
      writeFileSync(`${journalPath}.tmp`, `${JSON.stringify(journal, null, 2)}\n`);
      renameSync(`${journalPath}.tmp`, journalPath);
    },
  };
  state.save();
  return state;
}

function readJournal(flag: string, shown: string, file: string): Journal {
  let journal: Journal;
  try {
    journal = JSON.parse(readFileSync(file, "utf8")) as Journal;
  } catch (error) {
    throw new UsageError(`${flag}: ${shown}: ${JOURNAL} cannot be read (${(error as Error).message}); use a new directory`);
  }
  if (typeof journal !== "object" || journal === null || journal.version !== JOURNAL_VERSION || !Array.isArray(journal.runs) || typeof journal.pins !== "string") {
    throw new UsageError(`${flag}: ${shown}: ${JOURNAL} is not a journal of this amiroll (version ${JOURNAL_VERSION}); use a new directory`);
  }
  return journal;
}

/**
 * Replays the journal's runs on a world just built: each is run again (`run`, silently) with a
 * signal that aborts at the virtual time it was interrupted at; a run that ended by itself runs
 * to its end. Then the pins the replay made are compared with those the last run left.
 */
export async function replayRuns(
  state: SimState,
  clock: VirtualClock,
  run: (options: JournaledOptions, signal: AbortSignal) => Promise<unknown>,
  log: Logger,
): Promise<void> {
  const runs = state.journal.runs;
  if (runs.length === 0) return;
  for (const entry of runs) {
    const controller = new AbortController();
    // A run killed without a signal (no interruption, no end) stops where its last step began.
    const stop = entry.interrupted ?? (entry.ended === undefined ? (entry.lastStep ?? entry.started) : undefined);
    let replaying = true;
    if (stop !== undefined) {
      if (stop.event <= clock.events) controller.abort();
      else clock.between(stop.event, () => replaying && controller.abort());
    }
    try {
      await run(entry.options, controller.signal);
    } catch {
      // It ended in this error when it ran too: the world is as it left it.
    } finally {
      replaying = false;
    }
  }
  const replayed = readFileSync(state.pinsPath, "utf8");
  log.info(`${state.directory}: replayed ${runs.length} earlier run(s) of this simulated world, to ${iso(clock.now())}`, { stateDir: state.directory, runs: runs.length, at: iso(clock.now()) });
  if (state.previousPins !== undefined && replayed !== state.previousPins) {
    log.warn(`${state.pinsPath}: the replay left other pins than the last run did (the replay stopped a run at another point of the same virtual instant); continuing from the replay's world and pins`);
  }
}

/** Starts the journal's entry for this run. */
export function startRun(state: SimState, options: JournaledOptions, clock: VirtualClock): JournaledRun {
  const entry: JournaledRun = { options, started: pointOf(clock) };
  state.journal.runs.push(entry);
  state.save();
  return entry;
}

export function recordStep(state: SimState, entry: JournaledRun, clock: VirtualClock): void {
  entry.lastStep = pointOf(clock);
  state.save();
}

/** Called as the signal aborts (synchronously, in its handler): where the run was. */
export function recordInterrupt(state: SimState, entry: JournaledRun, clock: VirtualClock): void {
  entry.interrupted ??= pointOf(clock);
  state.save();
}

export function recordEnd(state: SimState, entry: JournaledRun, clock: VirtualClock, outcome: string): void {
  entry.ended = pointOf(clock);
  entry.outcome = outcome;
  state.save();
}

// ---------------------------------------------------------------------------------------------
// AMIROLL_SIM_INTERRUPT: for tests, read only with --simulate.
// ---------------------------------------------------------------------------------------------

/** The points inside the steps (rollout.ts `RolloutPoint`, the sim terraform's `SimApplyPoint`). */
const INSIDE_POINTS = ["plan", "rollback:pinned", "rollback:reactivated", "apply:created", "apply:deleting", "refresh:drained", "refresh:terminated", "canary:soak"];

export interface InterruptPoint {
  readonly environment: string;
  /** A step (interrupted before it) or a point inside one. */
  readonly point: string;
  readonly signal: "SIGINT" | "SIGTERM";
}

/**
 * `AMIROLL_SIM_INTERRUPT=ENV:POINT` (and `AMIROLL_SIM_INTERRUPT_SIGNAL=SIGINT|SIGTERM`, default
 * SIGINT): the process sends itself the signal the first time the live run reaches POINT of
 * environment ENV: before a step (`pin`, `apply`, `drain`, `migrate`, `verify`, ...), or inside
 * one (`plan`, `apply:created`, `apply:deleting`, `rollback:pinned`, `rollback:reactivated`,
 * `refresh:drained`, `refresh:terminated`, `canary:soak`).
 * A value that names no point is exit 2.
 */
export function interruptPointFrom(env: NodeJS.ProcessEnv, environments: readonly { name: string }[]): InterruptPoint | undefined {
  const value = env.AMIROLL_SIM_INTERRUPT;
  if (!value) return undefined;
  const points = [...STEP_ORDER.filter((s) => s !== "done" && s !== "refuse"), ...INSIDE_POINTS];
  const match = /^([^:]+):(.+)$/.exec(value);
  if (!match || !points.includes(match[2]) || !environments.some((e) => e.name === match[1])) {
    throw new UsageError(`AMIROLL_SIM_INTERRUPT: ${value}: not ENV:POINT with ENV one of ${environments.map((e) => e.name).join(", ")} and POINT one of ${points.join(", ")}`);
  }
  const signal = env.AMIROLL_SIM_INTERRUPT_SIGNAL || "SIGINT";
  if (signal !== "SIGINT" && signal !== "SIGTERM") throw new UsageError(`AMIROLL_SIM_INTERRUPT_SIGNAL: ${signal}: SIGINT or SIGTERM`);
  return { environment: match[1], point: match[2], signal };
}

/** A checkpoint that sends the process its signal the first time `point` is reached. */
export function interruptAt(point: InterruptPoint, log: Logger): (environment: string, reached: string) => void {
  let sent = false;
  return (environment, reached) => {
    if (sent || environment !== point.environment || reached !== point.point) return;
    sent = true;
    log.warn(`AMIROLL_SIM_INTERRUPT: ${environment}:${reached} reached: sending ${point.signal} to this process`);
    process.kill(process.pid, point.signal);
  };
}
