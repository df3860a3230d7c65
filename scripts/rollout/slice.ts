/**
 * The canary slice (docs/strategies.md, "The canary slice"): a wave first moves only a slice of a
 * cluster onto the new image, judges it with the rollout's own gates (runGates: steady, crash
 * loop, smoke, and whatever gates join them) for the slice's soak, and only then moves the rest.
 *
 * - `soakSlice`: the gates over the slice, for every strategy (replace: its canary group carries
 *   tasks; refresh: its first batch is drained; blue-green: below).
 * - `proveBlueGreenSlice`: blue-green's slice. The new generation was created at the slice's size
 *   (EcsCluster's canaryInstances); once that many new instances have registered, as many old
 *   instances are set DRAINING (those an interrupted run drained first), their tasks move, the
 *   gates soak, and the new generation is scaled to the cluster's size (the drain step then takes
 *   the rest). A failure is the image's: the rollout's rollback sets the drained old instances
 *   ACTIVE again and removes the new generation, so only the slice ever moved.
 *
 * Which step a cluster is at is derived from the world (state.ts): a blue-green cluster whose new
 * generation wants fewer instances than the cluster's desiredCapacity has not passed its canary.
 */
import { UpdateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { generationAsgName } from "../../constructs/names";
import type { CanarySlice } from "../config/canary";
import type { Cluster, Environment } from "../config/environments";
import type { Clock } from "../core/clock";
import type { Logger } from "../core/log";
import type { AwsClients } from "../fleet/clients";
import { setContainerInstanceStatus } from "../fleet/drain";
import { crashLoopOn } from "../fleet/migration";
import { elapsedText } from "../fleet/report";
import { type FleetSnapshot, takeSnapshot } from "../fleet/snapshot";
import { type GatesResult, runGates } from "./gates";
import type { AlarmCheck } from "../fleet/alarms";
import { pickBatch, stillMoving } from "./refresh";
import type { HttpProbe } from "./smoke";

/** Why a slice did not pass: the image failed (a gate, a crash loop), something else failed (no verdict), or Ctrl-C. */
export class SliceHalt extends Error {
  constructor(
    readonly kind: "image failed" | "failed" | "interrupted",
    reason: string,
    /** The gates, when they ran. */
    readonly gates?: GatesResult,
  ) {
    super(reason);
    this.name = "SliceHalt";
  }
}

export interface SliceRun {
  readonly environment: Environment;
  readonly cluster: Cluster;
  readonly slice: CanarySlice;
  /** The image the slice runs. */
  readonly imageId: string;
  /** The image each cluster of the environment (by config name) must run, for the gates. */
  readonly targets: ReadonlyMap<string, string>;
  readonly clients: AwsClients;
  readonly clock: Clock;
  readonly log: Logger;
  readonly probe: HttpProbe;
  readonly signal?: AbortSignal;
  /** How long the slice may take to come up and take its tasks (the soak aside). */
  readonly timeoutMs: number;
  /** The boot check, on every look at the instances. */
  readonly boots: (fleet: FleetSnapshot) => Promise<void>;
  /** @default 30 seconds (runGates') */
  readonly soakPollMs?: number;
  /** Called once the slice carries its tasks, before the soak (tests interrupt there). */
  readonly beforeSoak?: () => void;
  /** The wave's alarm check (fleet/alarms.ts): the gates' alarms gate and soak ask it. */
  readonly alarms?: AlarmCheck;
}

/** How often the slice's instances and tasks are looked at while they come up and move. */
const REGISTRATION_POLL_MS = 5_000;
const MOVE_POLL_MS = 10_000;

/**
 * The gates over the slice, soaking `slice.soakMs` (balance aside: a slice is not spread yet).
 * Throws SliceHalt: "interrupted" on Ctrl-C, "image failed" when a gate failed.
 */
export async function soakSlice(run: Pick<SliceRun, "environment" | "cluster" | "slice" | "targets" | "clients" | "clock" | "log" | "probe" | "signal" | "soakPollMs" | "alarms"> & { readonly soakSince?: number }): Promise<GatesResult> {
  const { environment, cluster, slice, log } = run;
  log.info(`${cluster.name}: canary: ${slice.text} on the new image; the gates judge them for ${elapsedText(slice.soakMs)}`, { env: environment.name, cluster: cluster.name, phase: "canary", soakMs: slice.soakMs });
  const gates = await runGates({
    environment,
    clients: run.clients,
    clock: run.clock,
    targets: run.targets,
    probe: run.probe,
    log,
    signal: run.signal,
    soakMs: slice.soakMs,
    slice: true,
    ...(run.soakSince !== undefined && { soakSince: run.soakSince }),
    ...(run.soakPollMs !== undefined && { soakPollMs: run.soakPollMs }),
    ...(run.alarms && { alarms: run.alarms }),
  });
  if (run.signal?.aborted) throw new SliceHalt("interrupted", `interrupted during the canary's soak (${cluster.name})`, gates);
  // An alarm in ALARM since before the wave is no verdict on the image (gates.imageFailed false).
  if (!gates.passed) throw new SliceHalt(gates.imageFailed === false ? "failed" : "image failed", `${cluster.name}: canary gate ${gates.reason}`, gates);
  log.info(`${cluster.name}: canary passed: ${slice.text}, ${elapsedText(slice.soakMs)} soaked`, { env: environment.name, cluster: cluster.name, phase: "canary", verdict: "passed" });
  return gates;
}

/** Blue-green's slice (see the top of this file). Throws SliceHalt. */
export async function proveBlueGreenSlice(run: SliceRun): Promise<GatesResult> {
  const { clients, clock, log, cluster, imageId, slice, environment } = run;
  const fields = { env: environment.name, cluster: cluster.name, phase: "canary" };
  const startedAt = clock.now();
  const deadline = startedAt + run.timeoutMs;
  const stopIfDue = (what: string) => {
    if (run.signal?.aborted) throw new SliceHalt("interrupted", `interrupted while ${what} (${cluster.name}'s canary)`);
    if (clock.now() >= deadline) throw new SliceHalt("failed", `${cluster.name}: the canary of ${imageId} did not come up within the watch timeout (${what})`);
  };
  // 1. The slice's new instances registered with ECS.
  log.info(`${cluster.name}: canary of ${imageId}: ${slice.text} of the new generation, then as many old instance(s) drained`, fields);
  for (;;) {
    const instances = await takeSnapshot(clients, cluster.ecsClusterName, { now: clock.now(), since: clock.now(), instancesOnly: true });
    await run.boots(instances);
    const ready = instances.containerInstances.filter((ci) => ci.imageId === imageId && ci.status === "ACTIVE" && ci.agentConnected).length;
    if (ready >= slice.instances) break;
    stopIfDue(`waiting for ${slice.instances - ready} new instance(s) to register with ECS`);
    await clock.sleep(REGISTRATION_POLL_MS);
  }
  // 2. As many old instances DRAINING (an interrupted run's first): ECS starts each task's
  // replacement before it stops the old one, on the new instances among others.
  let fleet = await takeSnapshot(clients, cluster.ecsClusterName, { now: clock.now(), since: startedAt });
  const batch = pickBatch(fleet.containerInstances.filter((ci) => ci.status === "ACTIVE" || ci.status === "DRAINING"), imageId, slice.instances);
  const active = batch.filter((ci) => ci.status === "ACTIVE");
  if (active.length > 0) {
    log.info(`${cluster.name}: canary: ${active.map((ci) => ci.ec2InstanceId).join(", ")} set DRAINING (the old instance serves until each task's replacement is healthy)`, { ...fields, instances: active.map((ci) => ci.ec2InstanceId) });
    await setContainerInstanceStatus(clients.ecs, cluster.ecsClusterName, active.map((ci) => ci.arn), "DRAINING");
  }
  // 3. Their tasks moved, every service steady, nothing crashing on the new image.
  for (;;) {
    const onImage = new Set(fleet.containerInstances.filter((ci) => ci.imageId === imageId).map((ci) => ci.arn));
    const crash = crashLoopOn(fleet, (arn) => onImage.has(arn), startedAt, `on ${imageId}`);
    if (crash) throw new SliceHalt("image failed", `${cluster.name}: crash loop on the canary: ${crash.reason}`);
    const why = stillMoving(fleet, batch);
    if (!why) break;
    stopIfDue(why);
    await clock.sleep(MOVE_POLL_MS);
    fleet = await takeSnapshot(clients, cluster.ecsClusterName, { now: clock.now(), since: startedAt });
    await run.boots(fleet);
  }
  // 4. The gates, for the soak.
  run.beforeSoak?.();
  const gates = await soakSlice(run);
  // 5. The new generation at the cluster's size: the drain step takes the rest.
  const group = generationAsgName(cluster.ecsClusterName, imageId);
  await clients.autoScaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, MinSize: cluster.minSize, DesiredCapacity: cluster.desiredCapacity }));
  log.info(`${cluster.name}: ${group} scaled to ${cluster.desiredCapacity} (min ${cluster.minSize}) after the canary`, fields);
  return gates;
}
