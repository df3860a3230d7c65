/**
 * The `alarms` field of an environment and of a cluster (docs/configuration.md): the CloudWatch
 * alarms the rollout watches while tasks move, through the soak and on the replace canary. Any of
 * them in ALARM fails the wave (scripts/fleet/alarms.ts). Alarms are chosen by exact name or by a
 * name prefix, the two selectors DescribeAlarms answers itself; tags are not offered (DescribeAlarms
 * cannot filter by tag, and resolving them costs a ListTagsForResource per alarm of the account).
 */
import type { Input } from "./input";

/** The alarms as written, on an environment or a cluster. */
export interface AlarmsConfig {
  /** Alarm names (metric or composite), each watched. */
  readonly names?: readonly string[];
  /** Every alarm whose name starts with this is watched. */
  readonly prefix?: string;
}

/** The alarms an environment's rollout watches: its own and its clusters', merged. */
export interface AlarmWatch {
  readonly names: readonly string[];
  readonly prefixes: readonly string[];
}

/** CloudWatch's limit on an alarm name (and so on a prefix of one). */
export const ALARM_NAME_MAX = 255;
/** Control characters and the invisible reordering ones: never part of an alarm name amiroll will print. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function alarmName(input: Input, what: string): string {
  const value = input.string();
  if (value.length > ALARM_NAME_MAX) input.fail(`${what} is ${value.length} characters long; CloudWatch allows at most ${ALARM_NAME_MAX}`);
  if (UNPRINTABLE.test(value)) input.fail(`${what} holds a control or invisible character (${JSON.stringify(value)})`);
  if (value.trim() !== value) input.fail(`${what} ${JSON.stringify(value)} starts or ends with white space`);
  return value;
}

/** One `alarms` field, checked: `{names?, prefix?}` with at least one of them. */
export function loadAlarms(input: Input): AlarmWatch {
  const f = input.object(["names", "prefix"]);
  if (!f.names.present && !f.prefix.present) input.fail("expected names (a list of alarm names) or prefix (an alarm name prefix), or both");
  const items = f.names.present ? f.names.array() : [];
  if (f.names.present && items.length === 0) f.names.fail("the list is empty (leave names out to watch by prefix only)");
  const names: string[] = [];
  for (const item of items) {
    const name = alarmName(item, "the alarm name");
    if (names.includes(name)) item.fail(`${JSON.stringify(name)} is listed twice (first at names[${names.indexOf(name)}])`);
    names.push(name);
  }
  const prefixes = f.prefix.present ? [alarmName(f.prefix, "the prefix")] : [];
  return { names, prefixes };
}

/** Watches merged: every name and prefix once, in order of first appearance. */
export function mergeAlarms(watches: readonly AlarmWatch[]): AlarmWatch {
  return {
    names: [...new Set(watches.flatMap((w) => w.names))],
    prefixes: [...new Set(watches.flatMap((w) => w.prefixes))],
  };
}

/** Whether an environment watches any alarm. */
export function watchesAlarms(watch: AlarmWatch | undefined): watch is AlarmWatch {
  return watch !== undefined && (watch.names.length > 0 || watch.prefixes.length > 0);
}
