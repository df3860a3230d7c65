/**
 * `amiroll status`'s four outputs, pure: a table for people, TSV for scripts, JSON, and the
 * Prometheus text format for node_exporter's textfile collector.
 *
 * Names, image names, holds and warnings come from the config, the pins, EC2 and SSM: on the
 * table and in TSV every cell is one line with its control characters shown as escapes, in
 * Prometheus labels likewise (then escaped as the format says), JSON is valid JSON with DEL and
 * the C1 controls escaped too (core/inert.ts).
 */
import { formatInstant, formatWait } from "../config/windows";
import { jsonSafe, terminalLine, terminalSafe } from "../core/inert";
import type { ClusterStatus, WindowStatus } from "./status";
import { type EnvironmentAlarms, alarmLines, alarmSamples } from "./status-alarms";

export interface FleetStatus {
  /** When the status was taken (epoch ms). */
  readonly at: number;
  readonly clusters: readonly ClusterStatus[];
  /** Per environment that watches alarms (config `alarms`): those in ALARM now. */
  readonly alarms?: readonly EnvironmentAlarms[];
}

const day = (iso: string | undefined) => (iso ? iso.slice(0, 10) : "?");
const percent = (ratio: number) => `${Math.round(ratio * 100)}%`;

function windowText(window: WindowStatus, now: number): string {
  if (window.state === "any time") return "any time";
  if (window.state === "open") return `open until ${formatInstant(window.closesAt, window.timeZone)}`;
  return `${formatInstant(window.opensAt, window.timeZone)} (in ${formatWait(window.opensAt - now)})`;
}

/** Columns padded to their widest cell. */
function columns(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join("  "));
}

export function statusTable(status: FleetStatus): string {
  const rows = [["ENVIRONMENT", "CLUSTER", "PINNED", "PIN AGE", "LATEST", "RELEASED", "AGENT", "INSTANCES", "OUTDATED", "HOLD", "NEXT WINDOW"]];
  for (const c of status.clusters) {
    const row = [
      c.environment,
      c.cluster,
      `${c.pinned.imageId}${c.retiring ? ` (retiring ${c.retiring.imageId})` : ""}`,
      c.pinned.ageDays === undefined ? "?" : `${Math.floor(c.pinned.ageDays)}d`,
      !c.latest ? "? (unreadable)" : c.latest.imageId === c.pinned.imageId ? "= pinned" : c.latest.imageId,
      day(c.latest?.releasedAt),
      c.latest?.agentVersion ?? "?",
      c.instances.map((i) => `${i.instances} on ${i.imageId}${i.draining ? ` (${i.draining} draining)` : ""}`).join(", ") || "none",
      c.total === 0 ? "-" : `${c.outdated}/${c.total} ${percent(c.outdatedRatio)}`,
      c.holds.length ? "held" : "-",
      windowText(c.window, status.at),
    ];
    rows.push(row.map(terminalLine));
  }
  const out = columns(rows);
  const images = new Map<string, string>();
  for (const c of status.clusters) {
    for (const image of [c.pinned, ...(c.retiring ? [c.retiring] : []), ...(c.latest ? [c.latest] : []), ...c.instances]) {
      images.set(terminalLine(image.imageId), terminalLine(`${image.name ?? "(no name)"}  released ${day(image.releasedAt)}  ${image.state}`));
    }
  }
  out.push("", "Images:", ...[...images].map(([id, text]) => `  ${id}  ${text}`));
  const notes = [...new Set(status.clusters.map((c) => c.latest?.releaseNotes).filter((n): n is string => n !== undefined))];
  if (notes.length) out.push("", "Release notes of the latest images:", ...notes.map((n) => `  ${terminalLine(n)}`));
  const holds = [...new Set(status.clusters.flatMap((c) => c.holds))];
  if (holds.length) out.push("", "Holds (amiroll rollout refuses these unless --force):", ...holds.map((h) => `  ${terminalLine(h.replace(/\s*\n\s*/g, " "))}`));
  const warnings = status.clusters.flatMap((c) => c.warnings.map((w) => `${c.environment}/${c.cluster}: ${w}`));
  if (warnings.length) out.push("", "Warnings:", ...warnings.map((w) => `  ${terminalLine(w)}`));
  out.push(...alarmLines(status.alarms));
  // Every cell above is one safe line already; this catches any that a later edit forgets.
  return terminalSafe(`${out.join("\n")}\n`);
}

export const TSV_COLUMNS = [
  "environment", "cluster", "strategy", "pinned_ami", "pinned_name", "pinned_released", "pin_age_days", "pin_verified_at",
  "latest_ami", "latest_name", "latest_released", "agent_version", "instances", "outdated", "outdated_ratio",
  "instances_by_ami", "holds", "window", "window_changes_at",
] as const;

/**
 * One row per cluster under a header; empty cells for what is unknown; tabs and newlines in text
 * become spaces, other control characters visible escapes (`\x1b`).
 */
export function statusTsv(status: FleetStatus): string {
  const clean = (v: string | number | undefined) => (v === undefined ? "" : terminalLine(String(v).replace(/[\t\r\n]+/g, " ")));
  const rows = status.clusters.map((c) =>
    [
      c.environment, c.cluster, c.strategy, c.pinned.imageId, c.pinned.name, c.pinned.releasedAt, c.pinned.ageDays, c.pinned.verifiedAt,
      c.latest?.imageId, c.latest?.name, c.latest?.releasedAt, c.latest?.agentVersion, c.total, c.outdated, Number(c.outdatedRatio.toFixed(4)),
      c.instances.map((i) => `${i.imageId}=${i.instances}`).join(","), c.holds.join("; "), c.window.state,
      c.window.state === "open" ? new Date(c.window.closesAt).toISOString() : c.window.state === "closed" ? new Date(c.window.opensAt).toISOString() : undefined,
    ].map(clean).join("\t"),
  );
  return `${[TSV_COLUMNS.join("\t"), ...rows].join("\n")}\n`;
}

export function statusJson(status: FleetStatus): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const clusters = status.clusters.map((c) => ({
    ...c,
    window:
      c.window.state === "open" ? { ...c.window, closesAt: iso(c.window.closesAt) } : c.window.state === "closed" ? { ...c.window, opensAt: iso(c.window.opensAt) } : c.window,
  }));
  const alarms = status.alarms?.map((a) => ({ ...a, firing: a.firing.map((f) => ({ ...f, ...(f.stateSince !== undefined && { stateSince: iso(f.stateSince) }) })) }));
  return `${jsonSafe(JSON.stringify({ at: iso(status.at), clusters, ...(alarms && alarms.length > 0 && { alarms }) }, null, 2))}\n`;
}

/**
 * A label value in the exposition format: control characters made visible escapes (a newline
 * stays one), then backslash, double quote and newline escaped as the format says.
 */
const label = (value: string) => terminalSafe(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const labels = (pairs: Record<string, string>) => `{${Object.entries(pairs).map(([k, v]) => `${k}="${label(v)}"`).join(",")}}`;

/**
 * The Prometheus text exposition format (version 0.0.4), every metric a gauge, for a textfile
 * collector: write to a temporary file and rename it into the collector's directory.
 */
export function statusProm(status: FleetStatus): string {
  const metrics: { name: string; help: string; samples: [Record<string, string>, number][] }[] = [
    { name: "amiroll_instances", help: "Running container instances per cluster and AMI; outdated=\"true\" when the AMI is not the newest of the cluster's SSM parameter.", samples: [] },
    { name: "amiroll_outdated_instances", help: "Container instances not on the newest AMI of the cluster's SSM parameter.", samples: [] },
    { name: "amiroll_outdated_ratio", help: "Share of a cluster's container instances not on the newest AMI (0 to 1; 0 with no instances).", samples: [] },
    { name: "amiroll_pin_age_days", help: "Days since the pinned AMI was released.", samples: [] },
    { name: "amiroll_pin_outdated", help: "1 when the pinned AMI is not the newest of the cluster's SSM parameter (amiroll bump has work to do).", samples: [] },
    { name: "amiroll_latest_readable", help: "1 when the cluster's SSM parameter was read; 0 when it could not be (denied, missing, malformed: amiroll_warnings and the table say why).", samples: [] },
    { name: "amiroll_latest_release_timestamp_seconds", help: "When the newest AMI of the cluster's SSM parameter was released.", samples: [] },
    { name: "amiroll_pin_verified", help: "1 when amiroll rollout has verified the pinned AMI in this environment.", samples: [] },
    { name: "amiroll_warnings", help: "Warnings about the cluster, as the table lists them (a pinned image gone, not deployed yet, an unreadable SSM parameter, a newest image bump would refuse or the rollout rejected).", samples: [] },
    { name: "amiroll_hold", help: "1 when the cluster or its environment is on hold (amiroll rollout refuses it without --force).", samples: [] },
    { name: "amiroll_window_open", help: "1 when the environment's maintenance window is open now (or it has none).", samples: [] },
    { name: "amiroll_next_window_timestamp_seconds", help: "When the environment's next maintenance window opens (absent when it has none or one is open).", samples: [] },
    ...alarmSamples(status.alarms),
    { name: "amiroll_status_timestamp_seconds", help: "When amiroll status wrote these figures.", samples: [] },
  ];
  const add = (name: string, pairs: Record<string, string>, value: number | undefined) => {
    if (value !== undefined && Number.isFinite(value)) metrics.find((m) => m.name === name)!.samples.push([pairs, value]);
  };
  const seconds = (iso: string | undefined) => (iso ? Date.parse(iso) / 1000 : undefined);
  const environments = new Set<string>();
  for (const c of status.clusters) {
    const id = { env: c.environment, cluster: c.cluster };
    for (const i of c.instances) add("amiroll_instances", { ...id, ami: i.imageId, outdated: String(i.outdated) }, i.instances);
    add("amiroll_outdated_instances", id, c.outdated);
    add("amiroll_outdated_ratio", id, Number(c.outdatedRatio.toFixed(4)));
    add("amiroll_pin_age_days", { ...id, ami: c.pinned.imageId }, c.pinned.ageDays);
    add("amiroll_latest_readable", id, c.latest ? 1 : 0);
    if (c.latest) {
      add("amiroll_pin_outdated", id, c.pinned.imageId === c.latest.imageId ? 0 : 1);
      add("amiroll_latest_release_timestamp_seconds", { ...id, ami: c.latest.imageId }, seconds(c.latest.releasedAt));
    }
    add("amiroll_pin_verified", id, c.pinned.verifiedAt ? 1 : 0);
    add("amiroll_warnings", id, c.warnings.length);
    add("amiroll_hold", id, c.holds.length ? 1 : 0);
    if (environments.has(c.environment)) continue;
    environments.add(c.environment);
    add("amiroll_window_open", { env: c.environment }, c.window.state === "closed" ? 0 : 1);
    if (c.window.state === "closed") add("amiroll_next_window_timestamp_seconds", { env: c.environment }, c.window.opensAt / 1000);
  }
  add("amiroll_status_timestamp_seconds", {}, status.at / 1000);
  const out: string[] = [];
  for (const m of metrics) {
    if (m.samples.length === 0) continue;
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} gauge`);
    for (const [pairs, value] of m.samples) out.push(`${m.name}${Object.keys(pairs).length ? labels(pairs) : ""} ${value}`);
  }
  return `${out.join("\n")}\n`;
}
