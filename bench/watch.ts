/**
 * `npx tsx bench/watch.ts [--cycles N]`: the cost of one watch poll cycle against the simulator,
 * at 60 instances (600 tasks, 20 services) and 600 instances (6,000 tasks, 200 services), one
 * cluster each: API calls per cycle beside the bound (apiCallBound), and the driver's CPU per
 * cycle (process.cpuUsage, user + system, median of the cycles) with the CPU the simulated AWS
 * spends answering taken out, since in production that is AWS's. Targets (calls at or under the
 * bound; under 50 ms of driver CPU per cycle at 600 instances) are reported, never enforced.
 *
 * What the sim does not cost: a real SDK also parses each response (the sim hands the SDK its
 * output as objects). The bench replays each cycle's ECS answers, as JSON, through a real ECS
 * client and prints what that parsing adds, as an estimate beside the figure.
 *
 * `measureCycle` is the loop's unit, exported so the pure analysis (migration, balance) can be
 * timed on the same snapshots: pass it as `analyse` (see `ANALYSIS` below).
 */
import {
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  type ECSClientConfig,
  ListContainerInstancesCommand,
  ListServicesCommand,
  ListTasksCommand,
} from "@aws-sdk/client-ecs";
import { cpus } from "node:os";
import { Readable } from "node:stream";
import { type AwsClients, withoutSdkLogging } from "../scripts/fleet/clients";
import { serviceBalance } from "../scripts/fleet/balance";
import { type MigrationState, stepMigration } from "../scripts/fleet/migration";
import { type FleetSnapshot, apiCallBound, takeSnapshot } from "../scripts/fleet/snapshot";
import { createSimulation } from "../scripts/sim/scenarios";
import type { ServiceSpec } from "../scripts/sim/world";
import { NEW_AMI, fleetEnvironment } from "./fleet";
import { countFlag } from "./args";

const TARGET_CPU_MS_AT_600 = 50;
const POLL_INTERVAL_MS = 15_000;

export interface CycleOptions {
  /** The clock's now at the start of the cycle. */
  readonly now: number;
  /** Service events before this are left out (the watch's start). */
  readonly since: number;
  readonly concurrency?: number;
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
 * The watch's pure analysis of a cycle, as `amiroll watch` runs it: the migration state folded
 * over the cycles (toward an image none of the instances runs, so every task counts as on an
 * old instance: the most work), and the balance of every service.
 */
let migration: MigrationState | undefined;
const ANALYSIS: CycleOptions["analyse"] = (snapshot) => {
  migration = stepMigration(migration, snapshot, { targetImageIds: ["ami-00000000000000000"] });
  return { migration, balance: serviceBalance(snapshot) };
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

/** An ECS response as it would come over the wire (awsJson 1.1: timestamps in epoch seconds). */
interface WireResponse {
  readonly operation: keyof typeof ECS_COMMANDS;
  readonly input: object;
  readonly body: string;
}

const ECS_COMMANDS = {
  ListContainerInstances: ListContainerInstancesCommand,
  DescribeContainerInstances: DescribeContainerInstancesCommand,
  ListServices: ListServicesCommand,
  DescribeServices: DescribeServicesCommand,
  ListTasks: ListTasksCommand,
  DescribeTasks: DescribeTasksCommand,
};

/**
 * Probes on the simulated clients: the CPU the world spends answering, and each ECS answer as
 * the wire would carry it (the probe's own CPU is not the driver's either).
 */
function instrument(clients: AwsClients) {
  const totals = { answeringCpuMs: 0, probeCpuMs: 0, wire: [] as WireResponse[] };
  for (const [name, client] of Object.entries(clients) as [string, { middlewareStack: any }][]) {
    client.middlewareStack.addRelativeTo(
      // Runs just outside the sim's answering middleware: the world's handlers are synchronous, so
      // the CPU of next()'s synchronous part is the answering.
      (next: (args: { input: object }) => Promise<{ output: { $metadata?: unknown } }>, context: { commandName: string }) => async (args: { input: object }) => {
        const start = process.cpuUsage();
        const answer = next(args);
        totals.answeringCpuMs += cpuMs(start);
        const result = await answer;
        const probeStart = process.cpuUsage();
        const operation = context.commandName.replace(/Command$/, "");
        if (name === "ecs" && Object.hasOwn(ECS_COMMANDS, operation)) {
          const { $metadata: _, ...output } = result.output;
          const body = JSON.stringify(output, function (this: Record<string, unknown>, key, value) {
            const raw = this[key];
            return raw instanceof Date ? raw.getTime() / 1000 : value;
          });
          totals.wire.push({ operation: operation as WireResponse["operation"], input: { ...args.input }, body });
        }
        totals.probeCpuMs += cpuMs(probeStart);
        return result;
      },
      { relation: "before", toMiddleware: "amirollSimulatedAws", name: "benchProbe" },
    );
  }
  return totals;
}

/**
 * What parsing real responses would add to a cycle: the cycle's ECS calls sent again through a
 * real ECS client whose HTTP handler returns the recorded JSON, less the same calls answered
 * `{}`. The difference is the SDK's deserialization of the content (JSON.parse, shapes, dates).
 */
async function wireDeserializationMs(responses: readonly WireResponse[]): Promise<{ ms: number; bytes: number }> {
  let next = "{}";
  const requestHandler = {
    handle: async () => ({
      response: { statusCode: 200, headers: { "content-type": "application/x-amz-json-1.1" }, body: Readable.from([Buffer.from(next)]) },
    }),
  };
  const client = withoutSdkLogging(
    new ECSClient({ region: "eu-west-1", credentials: { accessKeyId: "BENCH", secretAccessKey: "BENCH" }, maxAttempts: 1, requestHandler: requestHandler as unknown as ECSClientConfig["requestHandler"] }),
  );
  const replay = async (withBody: boolean) => {
    const start = process.cpuUsage();
    for (const r of responses) {
      next = withBody ? r.body : "{}";
      const Command = ECS_COMMANDS[r.operation] as unknown as new (input: object) => DescribeTasksCommand;
      await client.send(new Command(r.input));
    }
    return cpuMs(start);
  };
  const full = await replay(true);
  const empty = await replay(false);
  return { ms: Math.max(0, full - empty), bytes: responses.reduce((n, r) => n + r.body.length, 0) };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function benchFleet(fleet: Fleet, cycles: number): Promise<{ fleet: Fleet; ok: boolean; cpuMs: number; withParsingMs: number; calls: number; bound: number }> {
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

  // One cycle to warm up (module code, JIT), then the measured ones, a poll interval apart.
  const history: FleetSnapshot[] = [];
  await measureCycle(sim.clients, cluster, { now: sim.clock.now(), since });
  const figures: CycleFigures[] = [];
  const answeringMs: number[] = [];
  const wire: { ms: number; bytes: number }[] = [];
  for (let i = 0; i < cycles; i++) {
    await sim.clock.sleep(POLL_INTERVAL_MS);
    const answeringBefore = totals.answeringCpuMs;
    totals.wire.length = 0;
    const figure = await measureCycle(sim.clients, cluster, { now: sim.clock.now(), since, analyse: ANALYSIS, history, foreignCpuMs: () => totals.answeringCpuMs + totals.probeCpuMs });
    figures.push(figure);
    history.push(figure.snapshot);
    answeringMs.push(totals.answeringCpuMs - answeringBefore);
    wire.push(await wireDeserializationMs(totals.wire));
  }

  const last = figures[figures.length - 1];
  const calls = Math.max(...figures.map((f) => f.apiCalls));
  const cpu = median(figures.map((f) => f.pollCpuMs));
  const s = last.snapshot;
  console.log(`${fleet.instances} instances, ${s.tasks.length} running tasks, ${s.services.length} services (one cluster; world settled in ${settleS.toFixed(1)} s)`);
  console.log(`  API calls per cycle              ${calls} (bound ${last.bound})`);
  console.log(`  driver CPU per cycle, median     ${cpu.toFixed(1)} ms (min ${Math.min(...figures.map((f) => f.pollCpuMs)).toFixed(1)}, max ${Math.max(...figures.map((f) => f.pollCpuMs)).toFixed(1)}; ${cycles} cycles)`);
  console.log(`  sim answering CPU, median        ${median(answeringMs).toFixed(1)} ms (taken out of the driver's)`);
  if (ANALYSIS) console.log(`  analysis CPU per cycle, median   ${median(figures.map((f) => f.analysisCpuMs)).toFixed(1)} ms`);
  console.log(`  wall per cycle, median           ${median(figures.map((f) => f.wallMs)).toFixed(1)} ms (no network: the sim answers in process)`);
  const parsing = median(wire.map((w) => w.ms));
  console.log(`  + parsing real responses (est.)  ${parsing.toFixed(1)} ms for ${(median(wire.map((w) => w.bytes)) / 1e6).toFixed(2)} MB of ECS JSON (the sim skips it): about ${(cpu + parsing).toFixed(0)} ms on AWS`);
  // The driver's whole cycle: the poll and the analysis of what it returned.
  const analysis = median(figures.map((f) => f.analysisCpuMs));
  console.log(`  driver CPU per cycle, all in      ${(cpu + analysis).toFixed(1)} ms (poll + analysis)`);
  return { fleet, ok: calls <= last.bound, cpuMs: cpu + analysis, withParsingMs: cpu + analysis + parsing, calls, bound: last.bound };
}

async function main(): Promise<void> {
  const cycles = countFlag(process.argv.slice(2), "cycles", 9, "npx tsx bench/watch.ts [--cycles N]");
  console.log(`watch poll cycle (takeSnapshot) against the simulator; node ${process.version}, ${cpus()[0]?.model.trim() ?? "unknown cpu"}`);
  const results = [];
  for (const fleet of FLEETS) results.push(await benchFleet(fleet, cycles));
  const callsMet = results.every((r) => r.ok);
  const big = results.find((r) => r.fleet.instances === 600)!;
  const cpuMet = big.cpuMs < TARGET_CPU_MS_AT_600;
  console.log(
    `targets: API calls at or under the bound: ${callsMet ? "met" : "NOT met"} (${results.map((r) => `${r.calls}/${r.bound}`).join(", ")}); ` +
      `under ${TARGET_CPU_MS_AT_600} ms driver CPU per cycle (poll + analysis) at 600 instances: ${cpuMet ? "met" : "NOT met"} (${big.cpuMs.toFixed(1)} ms; ` +
      `with real responses to parse, about ${big.withParsingMs.toFixed(0)} ms: ${big.withParsingMs < TARGET_CPU_MS_AT_600 ? "met" : "NOT met"})`,
  );
}

if (require.main === module) {
  main().catch((e) => {
    // A bench that cannot complete is an error (unlike a missed target).
    console.error(`bench:watch: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
