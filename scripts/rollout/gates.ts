/**
 * The gates a wave must pass before the rollout promotes its image: services steady, no crash
 * loop, tasks spread across zones (after a rebalance, where the environment asks for one), a
 * soak time with neither crashes nor unsteady services, the environment's CloudWatch alarms out of
 * ALARM (before the soak and all through it: fleet/alarms.ts), and the environment's smoke URLs.
 * The first gate that fails stops the rest (they are reported as not run).
 */
import type { Environment } from "../config/environments";
import { type BalanceReport, lostZonesText, serviceBalance } from "../fleet/balance";
import type { AwsClients } from "../fleet/clients";
import { type MigrationState, stepMigration } from "../fleet/migration";
import { rebalance } from "../fleet/rebalance";
import { elapsedText } from "../fleet/report";
import { type FleetSnapshot, takeSnapshot } from "../fleet/snapshot";
import type { Clock } from "../core/clock";
import type { Logger } from "../core/log";
import { type HttpProbe, runSmokeChecks } from "./smoke";
import { type AlarmCheck, type AlarmVerdict, watchText } from "../fleet/alarms";

export const GATES = ["steady", "crash loop", "balance", "alarms", "soak", "smoke"] as const;
export type GateName = (typeof GATES)[number];

export interface GateResult {
  readonly gate: GateName;
  readonly outcome: "passed" | "failed" | "not run";
  readonly detail: string;
}

export interface GatesResult {
  readonly passed: boolean;
  readonly gates: readonly GateResult[];
  /** The last balance of each cluster (for the report). */
  readonly balance: ReadonlyMap<string, BalanceReport>;
  /** Why the first failed gate failed. */
  readonly reason?: string;
  /**
   * False when the gate that failed is no verdict on the image (an alarm in ALARM since before the
   * wave began): nothing is rolled back or rejected. Else absent.
   */
  readonly imageFailed?: false;
}

export interface GateContext {
  readonly environment: Environment;
  readonly clients: AwsClients;
  readonly clock: Clock;
  /** The image each cluster (by config name) must run. */
  readonly targets: ReadonlyMap<string, string>;
  readonly probe: HttpProbe;
  readonly log: Logger;
  /** Stops the soak early (Ctrl-C): the gates then fail as interrupted. */
  readonly signal?: AbortSignal;
  /** @default 30 seconds */
  readonly soakPollMs?: number;
  /** The soak's length. @default the environment's soak */
  readonly soakMs?: number;
  /** When the soak began, if before the gates were called: a replace canary's proof holds from ECS's time of its last stop (canary.ts drainedSince). @default now */
  readonly soakSince?: number;
  /** A canary slice's gates (rollout/slice.ts): balance is not judged on a slice (it is reported as not run). */
  readonly slice?: boolean;
  /** The wave's alarm check (fleet/alarms.ts `alarmCheck`); absent or watching nothing: the alarms gate passes. */
  readonly alarms?: AlarmCheck;
}

/** Services that are not steady, as `cluster/service (why)`; empty when all are. */
function unsteady(states: ReadonlyMap<string, MigrationState>): string[] {
  return [...states].flatMap(([cluster, s]) => s.unsteady.map((u) => `${cluster}/${u.service} (${u.reason})`));
}

export async function runGates(context: GateContext): Promise<GatesResult> {
  const { environment, clients, clock, log } = context;
  const results: GateResult[] = [];
  const balance = new Map<string, BalanceReport>();
  const snapshotOf = (ecsClusterName: string, since: number) => takeSnapshot(clients, ecsClusterName, { now: clock.now(), since });
  /** `before`: the last poll's snapshots, for an incremental poll (none: a full one). */
  const observe = async (since: number, previous?: ReadonlyMap<string, MigrationState>, before?: ReadonlyMap<string, FleetSnapshot>) => {
    const states = new Map<string, MigrationState>();
    const snapshots = new Map<string, FleetSnapshot>();
    for (const cluster of environment.clusters) {
      const snapshot = await takeSnapshot(clients, cluster.ecsClusterName, { now: clock.now(), since, previous: before?.get(cluster.name) });
      snapshots.set(cluster.name, snapshot);
      states.set(cluster.name, stepMigration(previous?.get(cluster.name), snapshot, { targetImageIds: [context.targets.get(cluster.name)!] }));
    }
    return { states, snapshots };
  };
  /** Set when the failing gate is an alarm in ALARM since before the wave: no verdict on the image. */
  let notTheImage = false;
  const finish = (failed?: GateResult): GatesResult => {
    for (const gate of GATES) if (!results.some((r) => r.gate === gate)) results.push({ gate, outcome: "not run", detail: "an earlier gate failed" });
    return { passed: !failed, gates: results, balance, ...(failed && { reason: `${failed.gate}: ${failed.detail}` }), ...(failed && notTheImage && { imageFailed: false as const }) };
  };
  // A canary slice's gates say so, on the line and in its fields.
  const label = context.slice ? "canary gate" : "gate";
  const phase = context.slice ? { phase: "canary" } : {};
  const pass = (gate: GateName, detail: string) => {
    results.push({ gate, outcome: "passed", detail });
    log.info(`${label} ${gate}: passed (${detail})`, { env: environment.name, gate, outcome: "passed", ...phase });
  };
  const fail = (gate: GateName, detail: string) => {
    const result: GateResult = { gate, outcome: "failed", detail };
    results.push(result);
    log.warn(`${label} ${gate}: failed (${detail})`, { env: environment.name, gate, outcome: "failed", ...phase });
    return finish(result);
  };

  // Steady and crash loop: judged on the last hour of stopped tasks.
  const first = await observe(clock.now() - 3_600_000);
  const crashing = [...first.states].filter(([, s]) => s.crashLoop);
  const notSteady = unsteady(first.states);
  if (notSteady.length > 0) return fail("steady", `not steady: ${notSteady.join(", ")}`);
  pass("steady", `${[...first.states.values()].reduce((n, s) => n + s.services, 0)} services steady`);
  if (crashing.length > 0) return fail("crash loop", crashing.map(([c, s]) => `${c}: ${s.crashLoop!.reason}`).join("; "));
  pass("crash loop", "no task failing on the new image");

  // Balance: where the environment lets the rollout rebalance, a service left with every task in
  // one zone fails (one zone outage takes it down). Elsewhere imbalance is reported, not
  // enforced: the gate demands only what the rollout may fix. Uneven spread is a warning.
  let snapshots = first.snapshots;
  const soakMs = context.soakMs ?? environment.soakMs;
  if (context.slice) results.push({ gate: "balance", outcome: "not run", detail: "a canary slice is not judged on its spread" });
  if (environment.rebalance && !context.slice) {
    for (const cluster of environment.clusters) {
      const report = serviceBalance(snapshots.get(cluster.name)!);
      if (report.imbalanced.length === 0) continue;
      log.info(`${cluster.name}: rebalancing ${report.imbalanced.join(", ")}`, { env: environment.name, cluster: cluster.name });
      await rebalance(clients, clock, {
        clusterName: cluster.ecsClusterName,
        services: report.imbalanced,
        take: () => snapshotOf(cluster.ecsClusterName, clock.now()),
        log: (message, fields) => log.info(`${cluster.name}: ${typeof fields?.service === "string" ? `${fields.service}: ` : ""}${message}`, fields),
      });
    }
    snapshots = (await observe(clock.now())).snapshots;
  }
  if (!context.slice) {
    const singleZone: string[] = [];
    const warnings: string[] = [];
    const lost: string[] = [];
    const subnetZones = environment.subnets.map((s) => s.availabilityZone);
    for (const cluster of environment.clusters) {
      const report = serviceBalance(snapshots.get(cluster.name)!, { zones: subnetZones });
      balance.set(cluster.name, report);
      for (const service of report.services) {
        if (service.imbalances.some((i) => i.kind === "single-zone")) singleZone.push(`${cluster.name}/${service.service}`);
        else if (service.imbalances.length > 0) warnings.push(`${cluster.name}/${service.service}`);
      }
      if (report.lostZones.length > 0) lost.push(lostZonesText(cluster.name, report));
    }
    // A lost zone is AWS's, not the image's: rolling back would not bring it back and would reject a
    // good image. It is named loudly and passes; no service is said to be spread while it is not.
    if (lost.length > 0) log.warn(`${environment.name}: ${lost.join("; ")}`, { env: environment.name });
    if (singleZone.length > 0 && environment.rebalance) return fail("balance", `every task in one zone after rebalancing: ${singleZone.join(", ")}`);
    if (singleZone.length > 0) log.warn(`${environment.name}: every task in one zone: ${singleZone.join(", ")} (amiroll rebalance --env ${environment.name} fixes it; rebalance: true makes the rollout do it)`, { env: environment.name });
    const within = lost.length > 0 ? " of the zones with instances" : "";
    const spread =
      singleZone.length > 0
        ? `not enforced (rebalance is off): every task in one zone: ${singleZone.join(", ")}`
        : warnings.length === 0 ? `every service spread across ${lost.length > 0 ? "the zones with instances" : "zones"}` : `no service in a single zone${within}; unevenly spread: ${warnings.join(", ")}`;
    pass("balance", lost.length > 0 ? `${lost.join("; ")} (a lost zone is not the image's fault: not enforced); ${spread}` : spread);
  }

  // Alarms: none of the environment's watched alarms in ALARM now, nor at any look during the soak.
  const alarmFailure = (gate: GateName, verdict: AlarmVerdict, when: string) => {
    notTheImage = !verdict.imageFailed;
    return fail(gate, `${when}${verdict.reason}`);
  };
  const watch = environment.alarms;
  const alarmsNow = context.alarms && (await context.alarms(true));
  if (alarmsNow) return alarmFailure("alarms", alarmsNow, "");
  pass("alarms", watch && context.alarms ? `none in ALARM (${watchText(watch)}; watched through the soak too)` : "no alarms configured");

  // Soak: the services stay steady and nothing crashes for the whole time.
  const soakStart = Math.min(clock.now(), context.soakSince ?? clock.now());
  let states: ReadonlyMap<string, MigrationState> | undefined;
  if (soakMs > 0) log.info(`soaking ${context.slice ? "the canary slice of " : ""}${environment.name} for ${elapsedText(soakMs)}`, { env: environment.name, soakMs });
  // The soak's polls are incremental (snapshot.ts); a crash that fails it, and the last poll that
  // passes it, rest on full ones.
  let last = snapshots;
  for (;;) {
    const final = soakStart + soakMs - clock.now() <= 0;
    let look = await observe(soakStart, states, final ? undefined : last);
    if (!final && [...look.states.values()].some((s) => s.crashLoop)) look = await observe(soakStart, states);
    ({ states, snapshots: last } = look);
    const crash = [...states].find(([, s]) => s.crashLoop);
    if (crash) return fail("soak", `crash loop after ${elapsedText(clock.now() - soakStart)}: ${crash[0]}: ${crash[1].crashLoop!.reason}`);
    if (context.signal?.aborted) return fail("soak", `interrupted after ${elapsedText(clock.now() - soakStart)}`);
    const left = soakStart + soakMs - clock.now();
    // The last look of the soak is a full poll (above): the alarms are asked once more then.
    if (left <= 0 && !final) continue;
    // Every 30 s at most, and once more as the soak ends.
    const alarm = context.alarms && (await context.alarms(left <= 0));
    if (alarm) return alarmFailure("soak", alarm, `after ${elapsedText(clock.now() - soakStart)}: `);
    if (left <= 0) break;
    await clock.sleep(Math.min(left, context.soakPollMs ?? 30_000));
  }
  const afterSoak = unsteady(states);
  if (afterSoak.length > 0) return fail("soak", `not steady after ${elapsedText(soakMs)}: ${afterSoak.join(", ")}`);
  pass("soak", soakMs > 0 ? `${elapsedText(soakMs)} steady, no crashes${watch && context.alarms ? ", no alarm" : ""}` : "no soak configured");

  // Smoke: what a user would see.
  const smoke = await runSmokeChecks(environment.smoke, {
    probe: context.probe,
    clock,
    onAttempt: (url, attempt, outcome) => log.info(`smoke ${url}: ${outcome} (attempt ${attempt})`, { env: environment.name, url, attempt }),
  });
  const failedUrls = smoke.filter((r) => !r.passed);
  if (failedUrls.length > 0) return fail("smoke", failedUrls.map((r) => `${r.url}: ${r.detail}`).join("; "));
  pass("smoke", smoke.length === 0 ? "no smoke URLs configured" : smoke.map((r) => `${r.url}: ${r.detail}`).join("; "));
  return finish();
}
