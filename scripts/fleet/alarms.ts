/**
 * CloudWatch alarm gates (issue 21, item 2): the alarms an environment watches (config `alarms`:
 * names and name prefixes), read with DescribeAlarms, and the one check the rollout makes of them
 * wherever it judges the new image: while tasks move (the watch), through the gates' soak, and on
 * the replace canary. Any watched alarm in ALARM fails the wave, its name and CloudWatch's reason
 * quoted. An alarm that went to ALARM after the wave began is the image's failure (the wave rolls
 * back where the strategy can); one already in ALARM before it began is not (the wave fails, with
 * nothing rolled back or rejected).
 *
 * Cost: names are asked 100 to a call (DescribeAlarms' limit on AlarmNames), a prefix with
 * pages of 100 (MaxRecords) followed by NextToken; the gate asks only for alarms in ALARM
 * (StateValue), so its answers stay small whatever the prefix matches; `alarmCheck` asks at most
 * every 30 s (CloudWatch evaluates an alarm once a period, a minute at the least for most).
 */
import { type CloudWatchClient, DescribeAlarmsCommand, type DescribeAlarmsCommandOutput, type StateValue } from "@aws-sdk/client-cloudwatch";
import type { AlarmWatch } from "../config/alarms";
import type { Clock } from "../core/clock";

/** DescribeAlarms takes at most 100 names a call, and answers at most 100 alarms a page. */
export const DESCRIBE_ALARMS_BATCH = 100;
/** How often `alarmCheck` asks CloudWatch, unless told to ask now. */
export const ALARM_POLL_MS = 30_000;

/** A watched alarm as CloudWatch describes it. */
export interface Alarm {
  readonly name: string;
  readonly kind: "metric" | "composite";
  /** OK, ALARM or INSUFFICIENT_DATA. */
  readonly state: string;
  /** CloudWatch's StateReason (untrusted text: made inert wherever it is shown). */
  readonly reason: string;
  /** When the state last changed (ms since the epoch). */
  readonly stateSince?: number;
  /** A metric alarm's evaluation window, Period x EvaluationPeriods (ms): how long a breach takes to make it fire. */
  readonly windowMs?: number;
}

export interface AlarmsRead {
  /** The watched alarms (only those in ALARM, when asked for that state), each once, by name. */
  readonly alarms: readonly Alarm[];
  /** Configured names CloudWatch does not know (only known when every state was asked for). */
  readonly unknownNames: readonly string[];
  /** Configured prefixes no alarm's name starts with (likewise). */
  readonly emptyPrefixes: readonly string[];
  /** DescribeAlarms calls made. */
  readonly calls: number;
}

const ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"] as const;

/**
 * The watched alarms: `watch.names` 100 to a call, each prefix paged; metric and composite alarms
 * both (DescribeAlarms returns only metric alarms unless AlarmTypes says otherwise). With `state`,
 * only alarms in that state come back (and unknown names cannot be told from alarms in another state).
 */
export async function readAlarms(cloudwatch: CloudWatchClient, watch: AlarmWatch, options: { readonly state?: StateValue } = {}): Promise<AlarmsRead> {
  const byName = new Map<string, Alarm>();
  let calls = 0;
  const take = (out: DescribeAlarmsCommandOutput): number => {
    let n = 0;
    for (const a of out.MetricAlarms ?? []) {
      const windowMs = a.Period && a.EvaluationPeriods ? a.Period * a.EvaluationPeriods * 1000 : undefined;
      n += add({ name: a.AlarmName, kind: "metric", state: a.StateValue, reason: a.StateReason, since: a.StateUpdatedTimestamp, windowMs });
    }
    for (const a of out.CompositeAlarms ?? []) n += add({ name: a.AlarmName, kind: "composite", state: a.StateValue, reason: a.StateReason, since: a.StateUpdatedTimestamp });
    return n;
  };
  const add = (a: { name?: string; kind: Alarm["kind"]; state?: string; reason?: string; since?: Date; windowMs?: number }): number => {
    if (!a.name) return 0;
    // Asked for one state, only that state counts, whatever the answer holds (moto, for one, ignores StateValue beside a prefix).
    if (options.state !== undefined && a.state !== options.state) return 0;
    const since = a.since instanceof Date ? a.since.getTime() : a.since === undefined ? undefined : new Date(a.since as unknown as string).getTime();
    byName.set(a.name, {
      name: a.name,
      kind: a.kind,
      state: a.state ?? "INSUFFICIENT_DATA",
      reason: a.reason ?? "",
      ...(since !== undefined && Number.isFinite(since) && { stateSince: since }),
      ...(a.windowMs !== undefined && Number.isFinite(a.windowMs) && a.windowMs > 0 && { windowMs: a.windowMs }),
    });
    return 1;
  };
  const all = async (input: { AlarmNames?: string[]; AlarmNamePrefix?: string }): Promise<number> => {
    let found = 0;
    let token: string | undefined;
    do {
      const out = await cloudwatch.send(
        new DescribeAlarmsCommand({ ...input, AlarmTypes: [...ALARM_TYPES], MaxRecords: DESCRIBE_ALARMS_BATCH, ...(options.state && { StateValue: options.state }), ...(token && { NextToken: token }) }),
      );
      calls++;
      found += take(out);
      const next = out.NextToken || undefined;
      // An answer that names the token it was asked with would loop for ever.
      if (next !== undefined && next === token) throw new Error(`CloudWatch DescribeAlarms answered the same NextToken twice (${JSON.stringify(next).slice(0, 80)})`);
      token = next;
    } while (token);
    return found;
  };
  for (let i = 0; i < watch.names.length; i += DESCRIBE_ALARMS_BATCH) await all({ AlarmNames: watch.names.slice(i, i + DESCRIBE_ALARMS_BATCH) });
  const emptyPrefixes: string[] = [];
  for (const prefix of watch.prefixes) if ((await all({ AlarmNamePrefix: prefix })) === 0) emptyPrefixes.push(prefix);
  const known = options.state === undefined;
  return {
    alarms: [...byName.values()],
    unknownNames: known ? watch.names.filter((n) => !byName.has(n)) : [],
    emptyPrefixes: known ? emptyPrefixes : [],
    calls,
  };
}

/** A watched alarm in ALARM: why the wave fails. */
export interface AlarmVerdict {
  /** Some alarm went to ALARM after the wave began: a verdict on the image. */
  readonly imageFailed: boolean;
  /** The alarms in ALARM, each `name (reason)`, with whether it fired before the wave. */
  readonly reason: string;
  readonly alarms: readonly Alarm[];
}

/** CloudWatch's reasons can run to a kilobyte (every datapoint): enough of it to read. */
const REASON_LIMIT = 300;

/** An alarm in ALARM as the report quotes it: `name (reason)`, the reason cut to 300 characters. */
export function alarmText(alarm: Alarm): string {
  const reason = alarm.reason.length > REASON_LIMIT ? `${alarm.reason.slice(0, REASON_LIMIT)}…` : alarm.reason;
  return `${alarm.name}${reason ? ` (${reason})` : ""}`;
}

/**
 * The verdict on `alarms` (as read) for a wave that began at `since`: undefined when none is in
 * ALARM. Alarms that fired after `since` lead; those in ALARM since before it are named as such.
 */
export function judgeAlarms(alarms: readonly Alarm[], since: number): AlarmVerdict | undefined {
  const firing = alarms.filter((a) => a.state === "ALARM");
  if (firing.length === 0) return undefined;
  const before = (a: Alarm) => a.stateSince !== undefined && a.stateSince < since;
  const during = firing.filter((a) => !before(a));
  const already = firing.filter(before);
  const parts = [
    ...(during.length > 0 ? [`alarm${during.length === 1 ? "" : "s"} in ALARM: ${during.map(alarmText).join("; ")}`] : []),
    ...(already.length > 0 ? [`in ALARM since before the wave began (not the image's doing, so nothing is rolled back): ${already.map(alarmText).join("; ")}`] : []),
  ];
  return { imageFailed: during.length > 0, reason: parts.join("; "), alarms: [...during, ...already] };
}

/** The check `alarmCheck` returns: `now` asks CloudWatch whatever the time since the last ask. */
export type AlarmCheck = (now?: boolean) => Promise<AlarmVerdict | undefined>;

/**
 * The one alarm check of a wave, for the watch, the gates' soak and the canary alike: asks for
 * the watched alarms in ALARM at most every `everyMs` (unless `now`), and judges them against the
 * wave's start. Resolves undefined between asks and while none is in ALARM. Without alarms to
 * watch it never asks.
 */
export function alarmCheck(options: {
  readonly cloudwatch: CloudWatchClient;
  readonly watch: AlarmWatch | undefined;
  readonly clock: Clock;
  /** When the wave began: an alarm in ALARM since before then is no verdict on the image (a function: it may be learnt later). */
  readonly since: number | (() => number);
  readonly everyMs?: number;
}): AlarmCheck {
  const { watch, clock } = options;
  let last: number | undefined;
  return async (now = false) => {
    if (!watch || (watch.names.length === 0 && watch.prefixes.length === 0)) return undefined;
    if (!now && last !== undefined && clock.now() - last < (options.everyMs ?? ALARM_POLL_MS)) return undefined;
    last = clock.now();
    const read = await readAlarms(options.cloudwatch, watch, { state: "ALARM" });
    return judgeAlarms(read.alarms, typeof options.since === "function" ? options.since() : options.since);
  };
}

/** What the environment watches, in words: `2 alarm names and the prefix "prod-"`. */
export function watchText(watch: AlarmWatch): string {
  const names = watch.names.length === 0 ? [] : [`${watch.names.length} alarm name${watch.names.length === 1 ? "" : "s"}`];
  const prefixes = watch.prefixes.length === 0 ? [] : [`the prefix${watch.prefixes.length === 1 ? "" : "es"} ${watch.prefixes.map((p) => JSON.stringify(p)).join(", ")}`];
  return [...names, ...prefixes].join(" and ");
}

/** The watched alarms as a plan (or status) sees them: every state, unknown names and empty prefixes named. */
export interface AlarmsSeen {
  /** What is watched, in words. */
  readonly watching: string;
  /** The watched alarms in ALARM now. */
  readonly firing: readonly Alarm[];
  /** How many watched alarms CloudWatch knows. */
  readonly known: number;
  readonly unknownNames: readonly string[];
  readonly emptyPrefixes: readonly string[];
  /** Why they could not be read (denied, throttled, no network): a warning, not a failure. */
  readonly error?: string;
}

/** Reads the watched alarms in every state; a failure to read them is returned as `error`, not thrown. */
export async function seeAlarms(cloudwatch: CloudWatchClient, watch: AlarmWatch): Promise<AlarmsSeen> {
  const watching = watchText(watch);
  try {
    const read = await readAlarms(cloudwatch, watch);
    return { watching, firing: read.alarms.filter((a) => a.state === "ALARM"), known: read.alarms.length, unknownNames: read.unknownNames, emptyPrefixes: read.emptyPrefixes };
  } catch (error) {
    return { watching, firing: [], known: 0, unknownNames: [], emptyPrefixes: [], error: (error as Error).message.split("\n")[0] };
  }
}

/** The warnings of what a plan saw: unknown names, empty prefixes, alarms in ALARM, or why none could be read. */
export function alarmWarnings(env: string, seen: AlarmsSeen): string[] {
  if (seen.error !== undefined) return [`${env}: could not read the watched alarms (${seen.watching}): ${seen.error}; the rollout reads them again and fails if it cannot`];
  return [
    ...(seen.unknownNames.length > 0 ? [`${env}: alarms: CloudWatch knows no alarm named ${seen.unknownNames.map((n) => JSON.stringify(n)).join(", ")} (a typo, or not made yet: the rollout cannot watch ${seen.unknownNames.length === 1 ? "it" : "them"})`] : []),
    ...(seen.emptyPrefixes.length > 0 ? [`${env}: alarms: no alarm's name starts with ${seen.emptyPrefixes.map((p) => JSON.stringify(p)).join(", ")}`] : []),
    ...(seen.firing.length > 0 ? [`${env}: alarms in ALARM now (the rollout fails while they are): ${seen.firing.map(alarmText).join("; ")}`] : []),
  ];
}

/** A day: no soak waits longer for an alarm, whatever its window (CloudWatch allows up to 7 days of periods). */
const MAX_SOAK_FOR_ALARMS_MS = 24 * 3_600_000;

/**
 * How long a soak must last for the watched alarms to have their say: `minimumMs`, or the longest
 * evaluation window (Period x EvaluationPeriods) of the watched metric alarms, at most a day. The
 * replace canary soaks this long, so that an alarm slower than its 2 minutes still fires while the
 * old group can be gone back to. Reads every watched alarm once; without alarms, `minimumMs`.
 */
export async function soakForAlarms(cloudwatch: CloudWatchClient, watch: AlarmWatch | undefined, minimumMs: number): Promise<{ soakMs: number; slowest?: Alarm }> {
  if (!watch || (watch.names.length === 0 && watch.prefixes.length === 0)) return { soakMs: minimumMs };
  const { alarms } = await readAlarms(cloudwatch, watch);
  const slowest = alarms.reduce<Alarm | undefined>((worst, a) => ((a.windowMs ?? 0) > (worst?.windowMs ?? 0) ? a : worst), undefined);
  const windowMs = Math.min(slowest?.windowMs ?? 0, MAX_SOAK_FOR_ALARMS_MS);
  return windowMs > minimumMs ? { soakMs: windowMs, slowest } : { soakMs: minimumMs };
}
