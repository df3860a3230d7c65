/**
 * The watch's words: one progress item per cluster and cycle (fitted and printed by the logger,
 * core/log.ts) and the final report, from migration states (pure; the command decides where they go).
 */
import { type ProgressItem, joinFields } from "../core/progress";
import type { MigrationState } from "./migration";

/** `4m12s`, `38s`, `1h02m`. */
export function elapsedText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** `eu-west-1a 1/2 eu-west-1b 0/2`: old/new instances per zone. */
function zonesText(state: MigrationState): string {
  return state.zones.map((z) => `${z.availabilityZone} ${z.old}/${z.new}`).join(" ");
}

/**
 * One cluster's progress in a poll, most important field first (a narrow terminal drops fields
 * from the right): phase, instances per zone, tasks on old instances, steady services, elapsed, ETA.
 * `label` names the cluster on the line (default the cluster; the rollout prefixes the environment).
 */
export function progressItem(cluster: string, state: MigrationState, context: { readonly label?: string; readonly fields?: Record<string, unknown> } = {}): ProgressItem {
  const label = context.label ?? cluster;
  // Most telling first: a narrow terminal drops fields from the right.
  const steady = [
    `${label}: ${state.phase}`,
    `tasks on old: ${state.tasksOnOld.length}`,
    `services steady: ${state.servicesSteady}/${state.services}`,
    `old/new per AZ: ${zonesText(state) || "(no instances)"}${state.booting ? ` (+${state.booting} booting)` : ""}`,
  ];
  const timing = [`elapsed ${elapsedText(state.at - state.startedAt)}`, ...(state.etaMs !== undefined && state.phase !== "done" ? [`ETA ${elapsedText(state.etaMs)}`] : [])];
  // Off a terminal the line is printed again when something other than the time changed.
  return { id: label, parts: [...steady, ...timing], key: joinFields(steady), fields: { ...context.fields, ...progressFields(cluster, state) } };
}

/** The fields of a progress line, for `--log-format json`. */
export function progressFields(cluster: string, state: MigrationState): Record<string, unknown> {
  return {
    cluster,
    phase: state.phase,
    zones: state.zones,
    booting: state.booting,
    tasksOnOld: state.tasksOnOld.length,
    servicesSteady: state.servicesSteady,
    services: state.services,
    elapsedMs: state.at - state.startedAt,
    ...(state.etaMs !== undefined && { etaMs: state.etaMs }),
  };
}

/** Why the watch failed, in one line, or undefined when it did not. */
export function failureReason(cluster: string, state: MigrationState): string | undefined {
  if (state.crashLoop) return `${cluster}: crash loop on the new AMI: ${state.crashLoop.reason}`;
  if (state.stall) {
    const { instances, tasks } = state.stall;
    // Only what there is: a stall on booting instances or unsteady services holds no old instance.
    return [
      `${cluster}: stalled (${state.stall.reason})`,
      ...(instances.length ? [`old instances still holding tasks: ${instances.join(", ")}`] : []),
      ...(tasks.length ? [`tasks: ${tasks.slice(0, 10).join(", ")}${tasks.length > 10 ? `, and ${tasks.length - 10} more` : ""}`] : []),
      ...(state.unsteady.length ? [`services not steady: ${state.unsteady.map((u) => `${u.service} (${u.reason})`).join(", ")}`] : []),
    ].join("; ");
  }
  return undefined;
}

/** The final report of one cluster: duration, instances replaced per zone, tasks moved. */
export function reportLines(cluster: string, state: MigrationState): string[] {
  const zones = Object.entries(state.initialOldPerZone)
    // Replaced: drained of its tasks (DRAINING, or already gone), out of the old instances there were.
    .map(([zone, old]) => `${zone} ${old - (state.zones.find((z) => z.availabilityZone === zone)?.oldActive ?? 0)}/${old}`)
    .join(", ");
  return [
    `${cluster}: ${state.phase} after ${elapsedText(state.at - state.startedAt)}`,
    `  instances replaced per AZ: ${zones || "(none)"}; new instances: ${state.newInstances.length}; old instances still registered: ${state.oldInstances.length}`,
    `  tasks moved off old instances: ${state.peakTasksOnOld - state.tasksOnOld.length}${state.tasksOnOld.length ? ` (${state.tasksOnOld.length} still there)` : ""}`,
    `  services steady: ${state.servicesSteady}/${state.services}${state.unsteady.length ? ` (not: ${state.unsteady.map((u) => `${u.service}: ${u.reason}`).join(", ")})` : ""}`,
  ];
}
