/**
 * The watched CloudWatch alarms in `amiroll status` (issue 21, item 2): per environment that
 * watches any (config `alarms`), the alarms in ALARM now with CloudWatch's reason, the names it
 * does not know, or why they could not be read. Pure; the text made inert by the callers' rules
 * (status-report.ts: one line per entry, control characters shown as escapes).
 */
import { type AlarmsSeen, alarmText } from "../fleet/alarms";
import { terminalLine } from "../core/inert";

/** One environment's watched alarms, as status read them. */
export interface EnvironmentAlarms extends AlarmsSeen {
  readonly environment: string;
}

/** The table's "Alarms" section: one line per environment, then one per alarm in ALARM or name unknown. */
export function alarmLines(alarms: readonly EnvironmentAlarms[] | undefined): string[] {
  if (!alarms || alarms.length === 0) return [];
  const out = ["", "Alarms (amiroll rollout fails a wave while one it watches is in ALARM):"];
  for (const a of alarms) {
    const env = terminalLine(a.environment);
    if (a.error !== undefined) {
      out.push(`  ${env}: could not be read (${terminalLine(a.watching)}): ${terminalLine(a.error)}`);
      continue;
    }
    out.push(`  ${env}: ${a.firing.length === 0 ? "none" : a.firing.length} in ALARM of ${a.known} watched (${terminalLine(a.watching)})`);
    for (const f of a.firing) out.push(`    ALARM ${terminalLine(alarmText(f))}${f.stateSince !== undefined ? ` since ${new Date(f.stateSince).toISOString()}` : ""}`);
    for (const n of a.unknownNames) out.push(`    no such alarm: ${terminalLine(n)}`);
    for (const p of a.emptyPrefixes) out.push(`    no alarm's name starts with ${terminalLine(p)}`);
  }
  return out;
}

/** Prometheus samples: alarms in ALARM per environment, and whether they could be read. */
export function alarmSamples(alarms: readonly EnvironmentAlarms[] | undefined): { name: string; help: string; samples: [Record<string, string>, number][] }[] {
  if (!alarms || alarms.length === 0) return [];
  return [
    {
      name: "amiroll_alarms_in_alarm",
      help: "Watched CloudWatch alarms (config alarms) in ALARM now, per environment (absent when they could not be read).",
      samples: alarms.filter((a) => a.error === undefined).map((a) => [{ env: a.environment }, a.firing.length]),
    },
    { name: "amiroll_alarms_readable", help: "1 when the environment's watched alarms were read; 0 when they could not be (the table says why).", samples: alarms.map((a) => [{ env: a.environment }, a.error === undefined ? 1 : 0]) },
  ];
}
