/**
 * `npx tsx bench/watch.ts [--cycles N]`: the cost of one watch poll against the simulator, at 60
 * instances (600 tasks, 20 services) and 600 instances (6,000 tasks, 200 services), one cluster
 * each: API calls per poll beside the bound (apiCallBound), and the driver's CPU per poll
 * (process.cpuUsage, user + system, median of the polls) with the CPU the simulated AWS spends
 * answering taken out, since in production that is AWS's. Each poll is measured twice: full (no
 * previous snapshot, as `status` polls) and incremental (given the last one, as the watch polls).
 * Targets (calls at or under the bound; at most 50 ms of driver CPU per incremental poll, analysis
 * included, at 600 instances, as the median poll and as the mean over enough polls to pass every
 * max age, so that the polls reading parts again at their max age count) are reported, never enforced.
 *
 * Real responses are parsed: the sim answers with objects, so a probe turns each ECS and Auto
 * Scaling answer into the bytes AWS would send (awsJson 1.1 JSON; awsQuery XML) and hands them to
 * the client's own protocol deserializer, as the SDK does with an HTTP response. Making the bytes
 * is AWS's CPU (taken out); parsing them is the driver's (counted). EC2 and SSM answers are not
 * wired (a settled fleet makes no such call in a poll).
 *
 * `measureCycle` is the loop's unit, exported so the pure analysis (migration, balance) can be
 * timed on the same snapshots: pass it as `analyse` (see `ANALYSIS` below).
 */
import { getSmithyContext } from "@smithy/core/transport";
import { HttpResponse } from "@smithy/core/transport";
import { operation as operationSchemaOf } from "@smithy/core/schema";
import { cpus } from "node:os";
import { Readable } from "node:stream";
import { type AwsClients, withoutSdkLogging } from "../scripts/fleet/clients";
import { serviceBalance } from "../scripts/fleet/balance";
import { type MigrationState, stepMigration } from "../scripts/fleet/migration";
import { DEFAULT_TASK_LIST_MAX_AGE_MS, type FleetSnapshot, apiCallBound, takeSnapshot } from "../scripts/fleet/snapshot";
import { createSimulation } from "../scripts/sim/scenarios";
import type { ServiceSpec } from "../scripts/sim/world";
import { NEW_AMI, fleetEnvironment } from "./fleet";
import { countFlag } from "./args";
import { hideWarnings } from "../scripts/core/warnings";

// The AWS SDK's Node-version notice, hidden as the CLI hides it.
hideWarnings();

const TARGET_CPU_MS_AT_600 = 50;
const POLL_INTERVAL_MS = 15_000;

export interface CycleOptions {
  /** The clock's now at the start of the cycle. */
  readonly now: number;
  /** Service events before this are left out (the watch's start). */
  readonly since: number;
  readonly concurrency?: number;
  /** The last snapshot of the cluster: the poll is then incremental. */
  readonly previous?: FleetSnapshot;
  /**
   * The pure analysis of the cycle's snapshot (migration, balance, verdicts), timed apart from
   * the poll. Receives every snapshot so far, the newest last, as a watch keeps them.
   */
  readonly analyse?: (snapshot: FleetSnapshot, history: readonly FleetSnapshot[]) => unknown;
  readonly history?: readonly FleetSnapshot[];
  /**
   * A running total (ms) of CPU in this process that is not the driver's (the simulated AWS
   * answering, the bench's own probes): what it grows by during the poll is taken out of the poll's.
   */
  readonly foreignCpuMs?: () => number;
}

export interface CycleFigures {
  readonly snapshot: FleetSnapshot;
  readonly apiCalls: number;
  /** apiCallBound of the snapshot's instances, running tasks and services. */
  readonly bound: number;
  /** Process CPU (user + system) during takeSnapshot, less the foreign CPU: the driver's. */
  readonly pollCpuMs: number;
  /** The CPU taken out (0 without `foreignCpuMs`). */
  readonly foreignCpuMs: number;
  /** Process CPU of `analyse` (0 without one). */
  readonly analysisCpuMs: number;
  readonly analysis?: unknown;
  readonly wallMs: number;
}

const cpuMs = (since?: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

/** One watch cycle, measured: the poll (takeSnapshot), then the analysis if one is given. */
export async function measureCycle(clients: AwsClients, clusterName: string, options: CycleOptions): Promise<CycleFigures> {
  const wallStart = performance.now();
  const foreignBefore = options.foreignCpuMs?.() ?? 0;
  const pollStart = process.cpuUsage();
  const snapshot = await takeSnapshot(clients, clusterName, options);
  const pollCpu = cpuMs(pollStart);
  const foreignCpuMs = (options.foreignCpuMs?.() ?? 0) - foreignBefore;

  // The analysis of the cycle (migration, balance) runs here, on the snapshot just taken.
  let analysis: unknown;
  let analysisCpuMs = 0;
  if (options.analyse) {
    const analysisStart = process.cpuUsage();
    analysis = options.analyse(snapshot, [...(options.history ?? []), snapshot]);
    analysisCpuMs = cpuMs(analysisStart);
  }
  return {
    snapshot,
    apiCalls: snapshot.apiCalls,
    bound: apiCallBound(snapshot.containerInstances.length, snapshot.tasks.length, snapshot.services.length),
    pollCpuMs: pollCpu - foreignCpuMs,
    foreignCpuMs,
    analysisCpuMs,
    analysis,
    wallMs: performance.now() - wallStart,
  };
}

/**
 * The watch's pure analysis of a cycle, as `amiroll watch` runs it each poll: the migration
 * state folded over the cycles (toward an image none of the instances runs, so every task counts
 * as on an old instance: the most work). The balance of every service is judged once, after the
 * last poll (scripts/fleet/watch.ts), so it is timed apart, once (`balanceCpuMs`).
 */
let migration: MigrationState | undefined;
const ANALYSIS: CycleOptions["analyse"] = (snapshot) => {
  migration = stepMigration(migration, snapshot, { targetImageIds: ["ami-00000000000000000"] });
  return { migration };
};

// ------------------------------------------------------------------------------ the bench

interface Fleet {
  readonly instances: number;
  readonly services: number;
  readonly tasksPerService: number;
}

const FLEETS: readonly Fleet[] = [
  { instances: 60, services: 20, tasksPerService: 30 },
  { instances: 600, services: 200, tasksPerService: 30 },
];

/** The XML of a value as awsQuery carries it: an element per member, lists as `member`s, times in ISO 8601. */
function queryXml(name: string, value: unknown): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return `<${name}>${value.map((v) => queryXml("member", v)).join("")}</${name}>`;
  if (value instanceof Date) return `<${name}>${value.toISOString()}</${name}>`;
  if (typeof value === "object") return `<${name}>${Object.entries(value).map(([k, v]) => queryXml(k, v)).join("")}</${name}>`;
  return `<${name}>${String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")}</${name}>`;
}

/** An answer as AWS would send it: awsJson 1.1 for ECS (times in epoch seconds), awsQuery XML for Auto Scaling. */
function wire(service: "ecs" | "autoScaling", operation: string, output: object): { body: string; contentType: string } {
  const { $metadata: _, ...fields } = output as { $metadata?: unknown };
  if (service === "ecs") {
    const body = JSON.stringify(fields, function (this: Record<string, unknown>, key, value) {
      const raw = this[key];
      return raw instanceof Date ? raw.getTime() / 1000 : value;
    });
    return { body, contentType: "application/x-amz-json-1.1" };
  }
  const inner = Object.entries(fields).map(([k, v]) => queryXml(k, v)).join("");
  const body = `<${operation}Response xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><${operation}Result>${inner}</${operation}Result><ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></${operation}Response>`;
  return { body, contentType: "text/xml" };
}

/** A value with times as epoch ms, members in name order, no undefined ones or SDK metadata: to compare a parsed answer with the sim's. */
const plain = (value: object): unknown =>
  JSON.parse(JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
    if (key === "$metadata") return undefined;
    const raw = this[key];
    if (raw instanceof Date) return raw.getTime();
    if (v && typeof v === "object" && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return v;
  }));

/**
 * Probes on the simulated clients: the CPU the world spends answering and the CPU of turning its
 * answers into wire bytes (AWS's, not the driver's), then the client's own deserializer on those
 * bytes (the driver's). With `check`, each parsed answer is compared with the sim's, and a
 * difference is an error: the parse must give the driver what the sim said.
 */
export function instrument(clients: AwsClients) {
  const totals = { answeringCpuMs: 0, foreignCpuMs: 0, bytes: 0, check: false, byOperation: new Map<string, { bytes: number; parseMs: number }>() };
  for (const service of ["ecs", "autoScaling"] as const) {
    const client = clients[service] as unknown as { middlewareStack: any; config: { protocol: { deserializeResponse(op: unknown, context: object, response: HttpResponse): Promise<object> } } };
    // Every call through the SDK's whole stack, as a real client's (the sim's short path skips
    // serializing, signing and parsing: the very work measured here).
    if (!client.middlewareStack.remove("amirollSimulatedShortPath")) throw new Error("bench:watch: the sim's short path is gone; measure its replacement");
    client.middlewareStack.addRelativeTo(
      // Runs just outside the sim's answering middleware: the world's handlers are synchronous, so
      // the CPU of next()'s synchronous part is the answering.
      (next: (args: { input: object }) => Promise<{ output: object }>, context: { commandName: string }) => async (args: { input: object }) => {
        const start = process.cpuUsage();
        const answer = next(args);
        totals.answeringCpuMs += cpuMs(start);
        const { output: simulated } = await answer;
        const serializing = process.cpuUsage();
        const { body, contentType } = wire(service, context.commandName.replace(/Command$/, ""), simulated);
        const bytes = Buffer.from(body);
        totals.foreignCpuMs += cpuMs(serializing);
        totals.bytes += bytes.length;
        // What the SDK's deserializer middleware does with an HTTP response (schemaDeserializationMiddleware).
        const response = new HttpResponse({ statusCode: 200, headers: { "content-type": contentType, "x-amzn-requestid": "bench" }, body: Readable.from([bytes]) });
        const [, ns, name, traits, input, output] = (getSmithyContext(context) as { operationSchema: [unknown, string, string, object, unknown, unknown] }).operationSchema;
        const parsing = process.cpuUsage();
        const parsed = await client.config.protocol.deserializeResponse(operationSchemaOf(ns, name, traits as never, input as never, output as never), { ...client.config, ...context }, response);
        const op = totals.byOperation.get(context.commandName) ?? { bytes: 0, parseMs: 0 };
        totals.byOperation.set(context.commandName, { bytes: op.bytes + bytes.length, parseMs: op.parseMs + cpuMs(parsing) });
        if (totals.check) {
          const checking = process.cpuUsage();
          const [got, want] = [JSON.stringify(plain(parsed)), JSON.stringify(plain(simulated))];
          // (the first difference, for the message)
          const at = [...got].findIndex((c, i) => c !== want[i]);
          if (got !== want) throw new Error(`bench:watch: ${service} ${context.commandName} parsed from the wire differs from the sim's answer:\n  parsed ...${got.slice(Math.max(0, at - 200), at + 200)}\n  sim    ...${want.slice(Math.max(0, at - 200), at + 200)}`);
          totals.foreignCpuMs += cpuMs(checking);
        }
        return { response, output: parsed };
      },
      { relation: "before", toMiddleware: "amirollSimulatedAws", name: "benchWire" },
    );
  }
  return totals;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

interface PollFigures {
  readonly calls: number;
  readonly describeTasks: number;
  readonly bound: number;
  readonly pollCpuMs: number;
  readonly analysisCpuMs: number;
  readonly answeringMs: number;
  readonly wallMs: number;
  readonly mb: number;
}

async function benchFleet(fleet: Fleet, cycles: number) {
  const environment = fleetEnvironment(1, fleet.instances);
  const services: ServiceSpec[] = Array.from({ length: fleet.services }, (_, i) => ({ name: `svc${i}`, desiredCount: fleet.tasksPerService }));
  const settleStart = performance.now();
  const sim = await createSimulation({ environment, pins: { fleet: { current: { imageId: NEW_AMI } } }, services, seed: 7 });
  const settleS = (performance.now() - settleStart) / 1000;
  // The same SDK set-up as production's clients (createAwsClients): no SDK logger middleware.
  for (const client of Object.values(sim.clients)) withoutSdkLogging(client);
  const totals = instrument(sim.clients);
  const cluster = environment.clusters[0].ecsClusterName;
  const since = sim.clock.now();

  // One full poll to warm up (module code, JIT), its every answer checked against the sim's.
  totals.check = true;
  let last = (await measureCycle(sim.clients, cluster, { now: sim.clock.now(), since })).snapshot;
  totals.check = false;

  /** `count` polls a poll interval apart, full or each given the last snapshot. */
  const polls = async (incremental: boolean, count: number): Promise<PollFigures[]> => {
    const out: PollFigures[] = [];
    for (let i = 0; i < count; i++) {
      await sim.clock.sleep(POLL_INTERVAL_MS);
      const before = { answering: totals.answeringCpuMs, bytes: totals.bytes, calls: sim.world.calls.length };
      const figure = await measureCycle(sim.clients, cluster, {
        now: sim.clock.now(),
        since,
        previous: incremental ? last : undefined,
        analyse: ANALYSIS,
        foreignCpuMs: () => totals.answeringCpuMs + totals.foreignCpuMs,
      });
      last = figure.snapshot;
      out.push({
        calls: figure.apiCalls,
        describeTasks: sim.world.calls.slice(before.calls).filter((c) => c.operation === "DescribeTasks").length,
        bound: figure.bound,
        pollCpuMs: figure.pollCpuMs,
        analysisCpuMs: figure.analysisCpuMs,
        answeringMs: totals.answeringCpuMs - before.answering,
        wallMs: figure.wallMs,
        mb: (totals.bytes - before.bytes) / 1e6,
      });
    }
    return out;
  };
  const full = await polls(false, cycles);
  totals.byOperation.clear();
  // Enough incremental polls to pass every max age (the task lists' is the longest), so that
  // the mean carries the polls that read parts again at their max age.
  const incrementalPolls = Math.max(cycles, Math.ceil(DEFAULT_TASK_LIST_MAX_AGE_MS / POLL_INTERVAL_MS) + 1);
  const incremental = await polls(true, incrementalPolls);

  const s = last;
  console.log(`${fleet.instances} instances, ${s.tasks.length} running tasks, ${s.services.length} services (one cluster; world settled in ${settleS.toFixed(1)} s; ${cycles} full and ${incrementalPolls} incremental polls ${POLL_INTERVAL_MS / 1000} s apart, medians)`);
  console.log(`                                   full poll   incremental`);
  const row = (label: string, of: (f: PollFigures) => number, digits = 1, unit = "ms") =>
    console.log(`  ${label.padEnd(31)}${`${median(full.map(of)).toFixed(digits)} ${unit}`.padStart(12)}${`${median(incremental.map(of)).toFixed(digits)} ${unit}`.padStart(14)}`);
  row("API calls (bound)", (f) => f.calls, 0, "");
  console.log(`  ${"".padEnd(31)}${`(${full[0].bound})`.padStart(11)} ${`(${incremental[0].bound})`.padStart(13)}`);
  row("  of which DescribeTasks", (f) => f.describeTasks, 0, "");
  row("ECS + Auto Scaling JSON/XML", (f) => f.mb, 2, "MB");
  row("driver CPU: poll, parsing in", (f) => f.pollCpuMs);
  row("driver CPU: analysis", (f) => f.analysisCpuMs);
  row("driver CPU: all in", (f) => f.pollCpuMs + f.analysisCpuMs);
  row("sim answering (taken out)", (f) => f.answeringMs);
  row("wall (no network)", (f) => f.wallMs);
  // The balance of every service, judged once after the last poll (not per poll).
  const balanceStart = process.cpuUsage();
  serviceBalance(last);
  console.log(`  ${"balance, once at the end".padEnd(31)}${`${cpuMs(balanceStart).toFixed(1)} ms`.padStart(12)}`);
  const allIn = (f: PollFigures) => f.pollCpuMs + f.analysisCpuMs;
  const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  // The mean carries the polls that read parts again at their max age.
  console.log(`  incremental all-in CPU: min ${Math.min(...incremental.map(allIn)).toFixed(1)}, mean ${mean(incremental.map(allIn)).toFixed(1)}, max ${Math.max(...incremental.map(allIn)).toFixed(1)} ms; calls min ${Math.min(...incremental.map((f) => f.calls))}, max ${Math.max(...incremental.map((f) => f.calls))}`);
  const parts = [...totals.byOperation].sort(([, a], [, b]) => b.bytes - a.bytes);
  console.log(`  incremental, per poll by call: bytes, and process CPU while its answers parse (concurrent calls overlap, so these add up to more than the poll):`);
  console.log(`    ${parts.map(([name, p]) => `${name.replace(/Command$/, "")} ${(p.bytes / incrementalPolls / 1e3).toFixed(0)} kB ${(p.parseMs / incrementalPolls).toFixed(1)} ms`).join(", ")}`);
  const calls = Math.max(...[...full, ...incremental].map((f) => f.calls));
  const bound = Math.min(...[...full, ...incremental].map((f) => f.bound));
  return { fleet, ok: calls <= bound, cpuMs: median(incremental.map(allIn)), meanCpuMs: mean(incremental.map(allIn)), fullCpuMs: median(full.map(allIn)), calls: Math.max(...incremental.map((f) => f.calls)), fullCalls: Math.max(...full.map((f) => f.calls)), bound };
}

async function main(): Promise<void> {
  const cycles = countFlag(process.argv.slice(2), "cycles", 9, "npx tsx bench/watch.ts [--cycles N]");
  console.log(`watch poll (takeSnapshot, full and incremental) against the simulator, real responses parsed; node ${process.version}, ${cpus()[0]?.model.trim() ?? "unknown cpu"}`);
  const results = [];
  for (const fleet of FLEETS) results.push(await benchFleet(fleet, cycles));
  const callsMet = results.every((r) => r.ok);
  const big = results.find((r) => r.fleet.instances === 600)!;
  const cpuMet = big.cpuMs <= TARGET_CPU_MS_AT_600 && big.meanCpuMs <= TARGET_CPU_MS_AT_600;
  console.log(
    `targets: API calls at or under the bound: ${callsMet ? "met" : "NOT met"} (incremental ${results.map((r) => `${r.calls}/${r.bound}`).join(", ")}; full ${results.map((r) => `${r.fullCalls}/${r.bound}`).join(", ")}); ` +
      `at most ${TARGET_CPU_MS_AT_600} ms driver CPU per incremental poll (poll with parsing + analysis) at 600 instances: ${cpuMet ? "met" : "NOT met"} (median ${big.cpuMs.toFixed(1)} ms, mean ${big.meanCpuMs.toFixed(1)} ms; a full poll ${big.fullCpuMs.toFixed(1)} ms)`,
  );
}

if (require.main === module) {
  main().catch((e) => {
    // A bench that cannot complete is an error (unlike a missed target).
    console.error(`bench:watch: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
