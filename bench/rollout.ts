/**
 * `npm run bench:rollout`: how close `amiroll rollout` comes to what physics allows.
 *
 * For each strategy (replace, blue-green) and fleet size (6, 60, 600 instances, about 10 tasks
 * each) the same simulated world is rolled onto a new image, and the rollout's makespan (virtual
 * time) is divided by the physical lower bound of replacing one instance: boot + agent
 * registration + task start (to healthy) + one task stop. Beside it: a classic serial n+1 roll of
 * the same world (one instance at a time: add one new, wait until it registers, drain one old,
 * wait until its tasks are gone, terminate it), and the zero-downtime violations the sim saw.
 *
 * Targets (makespan at most 1.10x the bound, zero violations) are printed as PASS/MISS, never
 * enforced: the exit code is 0 whatever the figures are (1 only when a run cannot complete).
 *
 * Each run is a child process of this same file (`--child rollout <strategy> <n>` or
 * `--child serial <n>`), so that its wall time and peak RSS are its own; it prints one JSON line.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { SetDesiredCapacityCommand, TerminateInstanceInAutoScalingGroupCommand, UpdateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { createLogger } from "../scripts/core/log";
import { rolloutOptions, simulatedWorld } from "../scripts/commands/rollout";
import { setContainerInstanceStatus } from "../scripts/fleet/drain";
import { rollout } from "../scripts/rollout/rollout";
import type { Simulation } from "../scripts/sim/scenarios";
import { DEFAULT_BEHAVIOUR, type ServiceSpec } from "../scripts/sim/world";
import type { CapacityStrategy } from "../constructs/ecs-cluster";
import { type EnvironmentsConfig, loadEnvironments } from "../scripts/config/environments";
import type { Config } from "../scripts/config/file";
import { parsePins } from "../scripts/config/pins";

const STRATEGIES: readonly CapacityStrategy[] = ["replace", "blue-green"];
const SIZES = [6, 60, 600];
/** Targets: makespan / bound, and violations. */
const TARGET_RATIO = 1.1;
const TARGET_VIOLATIONS = 0;

/** The image every case rolls to (the pin); the sim starts every cluster on an older one. */
const NEW_AMI = "ami-0123456789abcdef0";
/** Extra services: TASKS_PER_SERVICE tasks each, about TASKS_PER_INSTANCE per instance in all. */
const TASKS_PER_INSTANCE = 10;
const TASKS_PER_SERVICE = 30;
/** How often the serial roll looks at the world (as terraform's and the sim's own waits do). */
const SERIAL_POLL_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// The physical lower bound, from the sim's behaviour constants (seconds, before jitter).

const B = DEFAULT_BEHAVIOUR;
const BOUND_S = B.bootSeconds + B.agentRegistrationSeconds + B.taskStartSeconds + B.healthGraceSeconds + B.taskStopSeconds;

// ---------------------------------------------------------------------------------------------
// One world: environment `bench`, cluster `fleet` of n m7g.xlarge over 3 zones, settled.

function benchConfig(strategy: CapacityStrategy, n: number) {
  const raw: EnvironmentsConfig = {
    bench: {
      region: "eu-west-1",
      backend: { bucket: "example-amiroll-tfstate" },
      vpcId: "vpc-0123456789abcdef0",
      subnets: ["a", "b", "c"].map((zone, i) => ({ id: `subnet-0000000000000000${i + 1}`, availabilityZone: `eu-west-1${zone}` })),
      strategy,
      clusters: { fleet: { instanceType: "m7g.xlarge", minSize: n, maxSize: 2 * n, desiredCapacity: n } },
      soak: "0s",
    },
  };
  const environments = loadEnvironments(raw, "bench/rollout.ts");
  const pinsRaw = { bench: { fleet: { current: { imageId: NEW_AMI } } } };
  const pins = parsePins(pinsRaw, environments, "bench pins");
  const dir = mkdtempSync(join(tmpdir(), "amiroll-bench-rollout-"));
  const pinsPath = join(dir, "amis.json");
  writeFileSync(pinsPath, JSON.stringify(pinsRaw, null, 2));
  const config: Config = { path: join(dir, "amiroll.json"), shownAs: "bench/rollout.ts", environments, pins, pinsPath, pinsShownAs: pinsPath, outDir: join(dir, "cdktf.out") };
  return config;
}

/**
 * The simulated world of one case (built by the rollout's own simulatedWorld, healthy
 * scenario), plus enough services for about TASKS_PER_INSTANCE tasks per instance, settled: every
 * service has reached a steady state before anything is rolled.
 */
async function buildWorld(strategy: CapacityStrategy, n: number) {
  const started = performance.now();
  const config = benchConfig(strategy, n);
  const log = createLogger("text", () => {});
  const world = await simulatedWorld(config, { log });
  const sim: Simulation = world.simulations.get("bench")!;
  const cluster = config.environments[0].clusters[0];
  const services = Math.max(1, Math.round((n * TASKS_PER_INSTANCE) / TASKS_PER_SERVICE));
  for (let i = 0; i < services; i++) {
    const spec: ServiceSpec = { name: `svc${i}`, desiredCount: TASKS_PER_SERVICE, tags: { owner: "bench" } };
    sim.world.createService(cluster.ecsClusterName, spec);
  }
  const steady = () => [...sim.world.services.values()].every((s) => s.deployments.length === 1 && s.deployments[0].rolloutState === "COMPLETED");
  const settleBy = world.clock.now() + 30 * 60_000;
  while (!steady()) {
    if (world.clock.now() > settleBy) throw new Error(`the ${n}-instance world did not settle in 30 virtual minutes`);
    await world.clock.sleep(5_000);
  }
  const tasks = [...sim.world.tasks.values()].filter((t) => t.desiredStatus === "RUNNING").length;
  // Temporary directories: ours (the pins we pass in) and the world's (its pins copy, the synthesized stacks).
  const cleanup = () => {
    for (const dir of [dirname(config.pinsPath), dirname(world.pinsPath)]) rmSync(dir, { recursive: true, force: true });
  };
  return { config, log, world, sim, cluster, tasks, cleanup, settleWallMs: performance.now() - started };
}

/**
 * Where the time went, from `start` (virtual ms): the last new instance registered with ECS, the
 * last service task on an old instance stopped, the last old instance's lifecycle hook released
 * (the drain hook checks every recheck interval), the last old instance terminated.
 */
function milestones(sim: Simulation, start: number): string {
  const w = sim.world;
  const at = (ms: number) => (Number.isFinite(ms) ? `+${Math.round((ms - start) / 1000)}s` : "-");
  const cis = [...w.containerInstances.values()];
  const oldArns = new Set(cis.filter((ci) => ci.imageId !== NEW_AMI).map((ci) => ci.arn));
  const daemons = new Set([...w.services.values()].filter((s) => s.schedulingStrategy === "DAEMON").map((s) => s.name));
  const registered = Math.max(...cis.filter((ci) => ci.imageId === NEW_AMI).map((ci) => ci.registeredAt));
  const moved = Math.max(
    ...[...w.tasks.values()].filter((t) => oldArns.has(t.containerInstanceArn) && t.serviceName && !daemons.has(t.serviceName) && t.stoppedAt !== undefined && t.stoppedAt >= start).map((t) => t.stoppedAt!),
  );
  // The world's log lines are "<ISO time> <message>".
  const last = (pattern: RegExp) => Math.max(...w.log.filter((l) => pattern.test(l)).map((l) => Date.parse(l.slice(0, l.indexOf(" ")))).filter((t) => t >= start));
  return `new registered ${at(registered)}, old tasks stopped ${at(moved)}, hooks released ${at(last(/ lifecycle action /))}, old terminated ${at(last(/ terminated$/))}`;
}

// ---------------------------------------------------------------------------------------------
// Children: one rollout, or one serial n+1 roll.

interface ChildReport {
  readonly tasks: number;
  /** Virtual ms: the makespan as defined in the header, and the whole wave (or serial roll). */
  readonly makespanMs: number;
  readonly waveMs: number;
  readonly outcome: string;
  readonly phases: string;
  /** When the last of each thing happened, from the start of the roll (where the time goes). */
  readonly milestones: string;
  readonly violations: number;
  /** Wall time of building and settling the world (included in wallMs). */
  readonly settleWallMs: number;
  /** API calls the world answered (settle included), and a hash of its event log and calls (determinism across changes). */
  readonly apiCalls?: number;
  readonly logHash?: string;
  readonly wallMs: number;
  readonly maxRssKb: number;
}

/** The rollout itself, as test/rollout/rollout.test.ts drives it. */
async function rolloutChild(strategy: CapacityStrategy, n: number): Promise<Omit<ChildReport, "wallMs" | "maxRssKb">> {
  const { config, log, world, sim, tasks, cleanup, settleWallMs } = await buildWorld(strategy, n);
  const result = await rollout(rolloutOptions(world, config.environments, log));
  cleanup();
  const wave = result.waves[0];
  // Makespan: every phase but the window check and the gates (whose soak is 0 here).
  const makespanMs = wave.phases.filter((p) => p.step !== "window" && p.step !== "gates").reduce((ms, p) => ms + p.ms, 0);
  return {
    tasks,
    makespanMs,
    waveMs: wave.endedAt - wave.startedAt,
    outcome: wave.outcome === "done" ? "done" : `${wave.outcome}: ${wave.reason ?? ""}`,
    phases: wave.phases.map((p) => `${p.step} ${Math.round(p.ms / 1000)}s`).join(", "),
    milestones: milestones(sim, wave.startedAt),
    violations: sim.world.downtimeViolations().length,
    settleWallMs,
    apiCalls: sim.world.calls.length,
    logHash: logHash(sim),
  };
}

/** The world's event log and API calls, hashed: a change in it is a change in the sim's behaviour. */
function logHash(sim: Simulation): string {
  const hash = createHash("sha256");
  for (const line of sim.world.log) hash.update(`${line}\n`);
  for (const c of sim.world.calls) hash.update(`${c.service} ${c.operation} ${c.at} ${c.throttled}\n`);
  return hash.digest("hex").slice(0, 16);
}

/**
 * The classic serial n+1 roll of the same world, through the sim's AWS clients: a second group
 * on the new image starts empty; for each old instance, one more new instance (SetDesiredCapacity),
 * wait until it registers with ECS, set the old one DRAINING, wait until its service tasks are gone
 * (daemons stay with their host), terminate it with its group decremented (its drain hook finds it
 * empty), and go on with the next while it shuts down. Makespan: first launch to the last old
 * instance terminated. The waits poll the world every SERIAL_POLL_MS.
 */
async function serialChild(n: number): Promise<Omit<ChildReport, "wallMs" | "maxRssKb">> {
  const { world, sim, cluster, tasks, cleanup, settleWallMs } = await buildWorld("replace", n);
  cleanup(); // the serial roll never synthesizes
  const { clock } = world;
  const w = sim.world;
  const { autoScaling, ecs } = sim.clients;
  const old = [...w.groups.values()][0];
  const fresh = w.createGroup({
    name: `${cluster.ecsClusterName}-serial-${NEW_AMI}`,
    clusterName: old.clusterName,
    imageId: NEW_AMI,
    instanceType: old.instanceType,
    subnets: old.subnets,
    minSize: 0,
    maxSize: n,
    desiredCapacity: 0,
    hooks: old.hooks,
    tags: old.tags,
  });
  const started = clock.now();
  // The old group may shrink below its minimum now: each termination decrements it.
  await autoScaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: old.name, MinSize: 0 }));
  const daemon = (serviceName?: string) => w.services.get(`${cluster.ecsClusterName}/${serviceName}`)?.schedulingStrategy === "DAEMON";
  const registeredNew = () => [...w.containerInstances.values()].filter((ci) => ci.imageId === NEW_AMI && ci.status === "ACTIVE" && ci.agentConnected).length;
  const olds = w.activeInstances(old);
  for (let k = 0; k < olds.length; k++) {
    const instance = olds[k];
    await autoScaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: fresh.name, DesiredCapacity: k + 1 }));
    while (registeredNew() < k + 1) await clock.sleep(SERIAL_POLL_MS);
    const ci = w.containerInstances.get(instance.containerInstanceArn!)!;
    await setContainerInstanceStatus(ecs, cluster.ecsClusterName, [ci.arn], "DRAINING");
    while (w.tasksOnInstance(ci.arn).some((t) => t.lastStatus !== "STOPPED" && !daemon(t.serviceName))) await clock.sleep(SERIAL_POLL_MS);
    await autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instance.id, ShouldDecrementDesiredCapacity: true }));
  }
  while (olds.some((i) => i.state !== "terminated")) await clock.sleep(SERIAL_POLL_MS);
  const ms = clock.now() - started;
  return { tasks, makespanMs: ms, waveMs: ms, outcome: "done", phases: "", milestones: "", violations: w.downtimeViolations().length, settleWallMs };
}

async function child(args: readonly string[]): Promise<void> {
  const started = performance.now();
  const [kind, a, b] = args;
  const report =
    kind === "rollout" ? await rolloutChild(a as CapacityStrategy, Number(b)) : kind === "serial" ? await serialChild(Number(a)) : undefined;
  if (!report) throw new Error(`usage: rollout.ts --child rollout <strategy> <n> | --child serial <n>`);
  const full: ChildReport = { ...report, wallMs: performance.now() - started, maxRssKb: process.resourceUsage().maxRSS };
  process.stdout.write(`${JSON.stringify(full)}\n`);
}

// ---------------------------------------------------------------------------------------------
// The parent: runs every case in a fresh process, then prints the table.

function runChild(args: readonly string[]): ChildReport | { failed: string } {
  const run = spawnSync(process.execPath, ["--import", "tsx", __filename, "--child", ...args], {
    cwd: resolve(__dirname, ".."),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) return { failed: `exit ${run.status ?? run.signal}: ${run.stderr.trim().split("\n").slice(-3).join(" | ")}` };
  return JSON.parse(run.stdout.trim().split("\n").pop() ?? "") as ChildReport;
}

const sec = (ms: number) => `${Math.round(ms / 1000)} s`;
const pass = (ok: boolean) => (ok ? "PASS" : "MISS");

function parent(): void {
  console.log("bench:rollout: simulated makespan of `amiroll rollout` vs the physical lower bound and a serial n+1 roll");
  console.log(
    `sim constants (s, each +/-${B.jitter * 100}% jitter): boot ${B.bootSeconds}, agent registration ${B.agentRegistrationSeconds}, ` +
      `task start ${B.taskStartSeconds}, health grace ${B.healthGraceSeconds}, task stop ${B.taskStopSeconds}, shutdown ${B.shutdownSeconds}`,
  );
  console.log(`bound = boot + registration + task start + health grace + task stop = ${BOUND_S} s (one instance replaced, no waiting anywhere)`);
  console.log(
    `  note: with the jitter, the slowest of n instances and ~${TASKS_PER_INSTANCE}n tasks takes up to ${(1 + B.jitter).toFixed(1)}x that ` +
      `(${Math.round(BOUND_S * (1 + B.jitter))} s); the old instances' shutdown (${B.shutdownSeconds} s) is outside the bound but inside both strategies' last apply`,
  );
  console.log(
    `world: one cluster of n m7g.xlarge over 3 zones; ~${TASKS_PER_INSTANCE} tasks per instance (services of ${TASKS_PER_SERVICE}, ` +
      "minimumHealthyPercent 100, plus the sim's demo services and a daemon); soak 0, no smoke, no window",
  );
  console.log("columns:");
  console.log("  tasks      running tasks before the roll (daemons included)");
  console.log("  makespan   rollout phases summed, window check and gates excluded (pins, apply, drain, watch, pins, apply)");
  console.log(`  ratio      makespan / bound (target <= ${TARGET_RATIO.toFixed(2)})`);
  console.log("  wave       the whole wave, gates included");
  console.log("  serial     classic n+1 roll of the same world, one instance at a time (run once per size: the world does not");
  console.log("             depend on the strategy); serial/rollout = how much faster the rollout is");
  console.log(`  viol       zero-downtime violations during the rollout (target ${TARGET_VIOLATIONS}); serial's in brackets`);
  console.log("  wall, RSS  the rollout's child process: world build and settle included; serial runs listed below");
  console.log("");

  const serial = new Map<number, ChildReport | { failed: string }>();
  for (const n of SIZES) serial.set(n, runChild(["serial", String(n)]));

  const header = ["strategy", "inst", "tasks", "bound", "makespan", "ratio", "", "wave", "serial", "ser/roll", "viol", "", "wall s", "RSS MB"];
  const widths = [10, 5, 6, 6, 9, 6, 4, 7, 9, 8, 9, 4, 7, 7];
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" ");
  console.log(line(header));
  const notes: string[] = [];
  for (const strategy of STRATEGIES) {
    for (const n of SIZES) {
      const r = runChild(["rollout", strategy, String(n)]);
      const s = serial.get(n)!;
      if ("failed" in r) {
        console.log(line([strategy, String(n), "-", `${BOUND_S} s`, "failed", "", "", "", "", "", "", "", "", ""]));
        notes.push(`${strategy} ${n}: the run failed (${r.failed})`);
        continue;
      }
      const ratio = r.makespanMs / (BOUND_S * 1000);
      const serialCells = "failed" in s ? ["failed", "-"] : [sec(s.makespanMs), `${(s.makespanMs / r.makespanMs).toFixed(1)}x`];
      const viol = `${r.violations}${"failed" in s ? "" : ` [${s.violations}]`}`;
      console.log(
        line([
          strategy, String(n), String(r.tasks), `${BOUND_S} s`, sec(r.makespanMs), `${ratio.toFixed(2)}x`, pass(ratio <= TARGET_RATIO),
          sec(r.waveMs), ...serialCells, viol, pass(r.violations <= TARGET_VIOLATIONS),
          (r.wallMs / 1000).toFixed(1), String(Math.round(r.maxRssKb / 1024)),
        ]),
      );
      if (r.outcome !== "done") notes.push(`${strategy} ${n}: wave ${r.outcome}`);
      notes.push(`${strategy} ${n}: phases ${r.phases}; milestones ${r.milestones}; settle wall ${(r.settleWallMs / 1000).toFixed(1)} s`);
    }
  }
  console.log("");
  for (const [n, s] of serial) {
    console.log("failed" in s ? `serial ${n}: failed (${s.failed})` : `serial ${n}: ${sec(s.makespanMs)} virtual, ${s.violations} violations, wall ${(s.wallMs / 1000).toFixed(1)} s, RSS ${Math.round(s.maxRssKb / 1024)} MB`);
  }
  for (const note of notes) console.log(note);
  console.log("milestones: from the start of the wave, when the last new instance registered, the last service task left an old one, the");
  console.log("last old instance's terminating hook was released (the drain hook rechecks every 30 s) and the last old instance terminated");
}

const argv = process.argv.slice(2);
if (argv[0] === "--child") {
  child(argv.slice(1)).catch((e) => {
    console.error(`bench:rollout child: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
} else {
  try {
    parent();
  } catch (e) {
    console.error(`bench:rollout: ${(e as Error).stack ?? e}`);
    process.exit(1);
  }
}
