/**
 * Named scenarios, and a simulated world seeded from an environment of the config: its
 * clusters, sizes and zones, with a demo set of services. The world starts as just after a
 * bump PR merged: every cluster runs an image older than its pin, and the SSM parameter
 * already holds a release newer than the pin, so rollout, status and bump all have work to do.
 * The `first-deploy` scenario starts before anything was deployed instead.
 */
import { type ClusterAmis, imageIdLeaf, instanceArchitecture } from "../../constructs/ami";
import { DRAIN_HOOK_DEFAULTS, capacityProviderName, FAILED_CHECK_SECONDS, drainHookName, generationAsgName, refreshAsgName } from "../../constructs/names";
import type { DrainHookSettings } from "../../constructs/drain-hook.lambda";
import { durationSeconds } from "../../constructs/formats";
import type { Cluster, Environment } from "../config/environments";
import { VirtualClock } from "./clock";
import { SCENARIOS, type ScenarioName } from "./scenario-list";
import { type SimAwsClients, createSimClients } from "./clients";
import { Rng } from "./rng";
import { addClusterAlarms } from "./alarms";
import { DEFAULT_BEHAVIOUR, type ServiceSpec, World, type WorldBehaviour } from "./world";

export interface Scenario {
  readonly description: string;
  /** Changes to the world's behaviour; `newAmiBroken` marks the pinned (new) image as crashing. */
  readonly behaviour?: Partial<WorldBehaviour>;
  readonly newAmiBroken?: boolean;
  /** Services start with their tasks bunched in the first zone. */
  readonly imbalanced?: boolean;
  /** The first zone has no capacity (after the world has settled). */
  readonly zoneOutage?: boolean;
  /** What is wrong with each cluster's SSM parameter (for status and bump). */
  readonly parameter?: "missing" | "malformed";
  /** What is wrong with the newest image the parameter names (for bump). */
  readonly latestImage?: "deregistered" | "wrong-architecture";
  /**
   * Nothing of the environment is deployed yet: no ECS cluster, no capacity, no services, and
   * the sim's terraform has an empty state (its first plan creates everything).
   */
  readonly neverDeployed?: boolean;
  /** The share of the drain hook's invocations that throw (before or after their check). */
  readonly hookFaultRate?: number;
  /** Each cluster's error-rate alarm fires once tasks have run on the pinned (new) image for 2 minutes (sim/alarms.ts). */
  readonly errorRateAlarm?: boolean;
}

export { SCENARIOS, type ScenarioName, isScenarioName } from "./scenario-list";

/** The demo services of every simulated cluster: desired 1 to 6, owners for notices. */
export const DEMO_SERVICES: readonly ServiceSpec[] = [
  { name: "web", desiredCount: 4, tags: { owner: "storefront" } },
  { name: "api", desiredCount: 6, tags: { owner: "platform" } },
  { name: "worker", desiredCount: 3, placement: "binpack", tags: { owner: "platform" } },
  { name: "search", desiredCount: 2, tags: { owner: "discovery" } },
  { name: "admin", desiredCount: 1, tags: { owner: "backoffice" } },
  { name: "log-router", desiredCount: 0, schedulingStrategy: "DAEMON", cpu: 128, memory: 128, tags: { owner: "platform" } },
];

/**
 * The demo services sized to a cluster: DEMO_SERVICES fill about half of 4 instances; a smaller
 * cluster (staging's 2) runs proportionally fewer tasks, as a real one would, so that there is
 * room to spread them across zones.
 */
export function demoServices(cluster: Cluster): ServiceSpec[] {
  const scale = Math.min(1, cluster.desiredCapacity / 4);
  return DEMO_SERVICES.map((s) => (s.schedulingStrategy === "DAEMON" ? s : { ...s, desiredCount: Math.max(1, Math.round(s.desiredCount * scale)) }));
}

/** The images a simulated cluster knows: what runs, what is pinned, what SSM says is newest. */
export interface ClusterImages {
  /** What the cluster runs; in a world where it was never deployed, the pin it will first run. */
  readonly running: string;
  readonly pinned: string;
  readonly latest: string;
}

export interface Simulation {
  readonly clock: VirtualClock;
  readonly world: World;
  readonly clients: SimAwsClients;
  readonly environment: Environment;
  readonly scenario: ScenarioName;
  readonly images: Readonly<Record<string, ClusterImages>>;
}

export interface SimulationOptions {
  readonly environment: Environment;
  /** The environment's pins (cluster -> amis). */
  readonly pins: Readonly<Record<string, ClusterAmis>>;
  /** @default "healthy" */
  readonly scenario?: ScenarioName;
  /** @default 1 */
  readonly seed?: number;
  /** @default DEMO_SERVICES */
  readonly services?: readonly ServiceSpec[];
  /** @default 2026-11-22T09:00:00Z */
  readonly startAt?: number;
  /** Wire each cluster's drain hook Lambda (the real handler) to its groups. @default true */
  readonly drainHooks?: boolean;
  readonly accountId?: string;
  /** Share a clock with other simulated environments (a rollout over several). @default a new clock at startAt */
  readonly clock?: VirtualClock;
}

const DAY = 24 * 3600 * 1000;

/** A release of the ECS-optimized image, as its SSM parameter describes it. */
function release(rng: Rng, architecture: string, daysAgo: number, agent: string, now: number, imageId = `ami-0${rng.hex(16)}`) {
  const date = new Date(now - daysAgo * DAY);
  const stamp = date.toISOString().slice(0, 10).replace(/-/g, "");
  const name = `al2023-ami-ecs-hvm-2023.0.${stamp}-kernel-6.1-${architecture}`;
  return { imageId, name, creationDate: date.toISOString(), agent };
}

/** The pinned release as the pin names it: its name, and the date in that name as its release date. */
function pinnedRelease(r: ReturnType<typeof release>, imageName: string | undefined): ReturnType<typeof release> {
  const date = imageName && /\.(\d{4})(\d\d)(\d\d)(?:-|$)/.exec(imageName);
  if (!imageName) return r;
  return { ...r, name: imageName, ...(date && { creationDate: `${date[1]}-${date[2]}-${date[3]}T09:00:00.000Z` }) };
}

export function drainHookSettings(world: World, cluster: Cluster): DrainHookSettings {
  const name = drainHookName(cluster.ecsClusterName);
  return {
    cluster: cluster.ecsClusterName,
    hookName: name,
    recheckQueueUrl: `https://sqs.${world.region}.amazonaws.com/${world.accountId}/${name}-recheck`,
    recheckSeconds: durationSeconds(DRAIN_HOOK_DEFAULTS.recheckInterval),
    maxDrainSeconds: durationSeconds(DRAIN_HOOK_DEFAULTS.maxDrainTime),
    heartbeatTimeoutSeconds: durationSeconds(DRAIN_HOOK_DEFAULTS.heartbeatTimeout),
    failedCheckSeconds: FAILED_CHECK_SECONDS,
  };
}

/**
 * Builds the world and lets it settle (instances in service, every service steady), so the
 * simulation starts from a healthy fleet on the old image. Resolves with the ready simulation.
 */
export async function createSimulation(options: SimulationOptions): Promise<Simulation> {
  const scenarioName = options.scenario ?? "healthy";
  const scenario: Scenario = SCENARIOS[scenarioName];
  const start = options.startAt ?? Date.parse("2026-11-22T09:00:00Z");
  const clock = options.clock ?? new VirtualClock(start);
  const rng = new Rng(options.seed ?? 1);
  const env = options.environment;
  const images: Record<string, ClusterImages> = {};
  const brokenAmis = new Set<string>();
  const zonesWithoutCapacity = new Set<string>();
  const behaviour: WorldBehaviour = { ...DEFAULT_BEHAVIOUR, ...scenario.behaviour, brokenAmis, zonesWithoutCapacity };
  // The scenario's API faults start once the fleet has settled.
  const world = new World(clock, rng, env.region, options.accountId ?? env.accountId ?? "123456789012", { ...behaviour, throttleRate: 0 });

  for (const cluster of env.clusters) {
    const pin = options.pins[cluster.name];
    if (!pin) throw new Error(`simulation: no pin for ${env.name}.${cluster.name}`);
    const architecture = instanceArchitecture(cluster.instanceType);
    // A blue-green pin with `retiring` (bump or verify --promote wrote it) names what runs now: the
    // old generation is that image (the same draws from rng either way: the timeline of a pin
    // without `retiring` is unchanged).
    const generated = release(rng, architecture, 60, "1.96.0", start);
    const old = pin.retiring ? pinnedRelease({ ...generated, imageId: pin.retiring.imageId }, pin.retiring.imageName) : generated;
    const pinned = pinnedRelease(release(rng, architecture, 14, "1.97.0", start, pin.current.imageId), pin.current.imageName);
    const latest = release(rng, architecture, 2, "1.98.0", start);
    for (const r of [old, pinned, latest]) {
      world.images.set(r.imageId, { imageId: r.imageId, name: r.name, architecture, creationDate: r.creationDate, state: "available" });
    }
    if (scenario.latestImage === "deregistered") world.images.get(latest.imageId)!.state = "deregistered";
    if (scenario.latestImage === "wrong-architecture") {
      world.images.set(latest.imageId, { ...world.images.get(latest.imageId)!, architecture: architecture === "arm64" ? "x86_64" : "arm64" });
    }
    const document = JSON.stringify({
      ecs_agent_version: latest.agent,
      ecs_runtime_version: "Docker version 25.0.8",
      image_id: latest.imageId,
      image_name: latest.name,
      image_version: latest.name.split(".")[2]?.split("-")[0] ?? "",
      os: "Amazon Linux 2023",
      schema_version: 1,
      source_image_name: latest.name.replace("-ecs-hvm", ""),
    });
    const parameter = cluster.amiParameter.replace(/\/image_id$/, "");
    if (scenario.parameter !== "missing") world.parameters.set(parameter, scenario.parameter === "malformed" ? document.slice(0, 60) : document);
    if (scenario.parameter !== "missing") {
      world.parameters.set(imageIdLeaf(parameter), latest.imageId);
      world.parameters.set(`${parameter}/image_name`, latest.name);
      world.parameters.set(`${parameter}/ecs_agent_version`, latest.agent);
    }
    // Never deployed: nothing runs yet, and the first deploy brings the pin (a bump before it
    // would have nothing to replace), so the pin stands in for what runs.
    images[cluster.name] = { running: scenario.neverDeployed ? pinned.imageId : old.imageId, pinned: pinned.imageId, latest: latest.imageId };
    if (scenario.newAmiBroken) brokenAmis.add(pinned.imageId);
    // The cluster's CloudWatch alarms (OK; the alarm scenario's error-rate alarm fires on the pin).
    addClusterAlarms(world.alarms, cluster.ecsClusterName, start, scenario.errorRateAlarm ? pinned.imageId : undefined);

    // The ECS cluster and its capacity are the sim's terraform's to create on the first apply.
    if (scenario.neverDeployed) continue;
    world.createCluster(cluster.ecsClusterName);
    const hook = drainHookSettings(world, cluster);
    const groupName = cluster.strategy === "refresh" ? refreshAsgName(cluster.ecsClusterName) : generationAsgName(cluster.ecsClusterName, old.imageId);
    world.createGroup({
      // As EcsCluster names it: a refresh group keeps one name whatever its image.
      name: groupName,
      clusterName: cluster.ecsClusterName,
      imageId: old.imageId,
      instanceType: cluster.instanceType,
      subnets: env.subnets.map((s) => ({ subnetId: s.id, az: s.availabilityZone })),
      minSize: cluster.minSize,
      maxSize: cluster.maxSize,
      desiredCapacity: cluster.desiredCapacity,
      // capacityProviders: managed draining drains, and EcsCluster makes no drain hook by default.
      hooks: options.drainHooks === false || cluster.capacityProviders ? [] : [{ name: hook.hookName, transition: "autoscaling:EC2_INSTANCE_TERMINATING", heartbeatTimeoutSeconds: durationSeconds(DRAIN_HOOK_DEFAULTS.heartbeatTimeout), defaultResult: DRAIN_HOOK_DEFAULTS.defaultResult }],
      tags: { "amiroll:cluster": cluster.ecsClusterName, "amiroll:environment": env.name },
    });
    if (cluster.capacityProviders) deployProviders(world, cluster.ecsClusterName, groupName);
  }
  world.start();

  // Let instances boot and register; an imbalanced fleet gets its services before the other
  // zones' instances have joined.
  const firstZone = env.subnets[0].availabilityZone;
  const registered = (all: boolean) =>
    [...world.instances.values()].every((i) => (all || i.az === firstZone ? i.containerInstanceArn !== undefined : true));
  while (!registered(!scenario.imbalanced)) await clock.sleep(5_000);
  if (scenario.imbalanced) {
    for (const ci of world.containerInstances.values()) if (ci.az !== firstZone) ci.agentConnected = false;
  }
  // A never-deployed environment has no services either, and gets none: services are deployed
  // onto a cluster after it exists (by their own pipelines, not by amiroll), so a first deploy
  // is judged with none, as a brand-new cluster really is (the gates pass on zero services,
  // the watch only waits for the new instances to register).
  if (!scenario.neverDeployed) {
    for (const cluster of env.clusters) {
      for (const spec of options.services ?? demoServices(cluster)) world.createService(cluster.ecsClusterName, cluster.capacityProviders ? withProviderStrategy(spec, generationAsgName(cluster.ecsClusterName, images[cluster.name].running)) : spec);
    }
  }
  const steady = () => [...world.services.values()].every((s) => s.deployments.length === 1 && s.deployments[0].rolloutState === "COMPLETED");
  // Bounded: bunched into one zone's instances, some services may never fit (a small cluster),
  // and the world must still start; they settle once the other zones' agents connect.
  const settleBy = clock.now() + 15 * 60_000;
  while (!steady() && clock.now() < settleBy) await clock.sleep(5_000);
  if (scenario.imbalanced) {
    while (!registered(true)) await clock.sleep(5_000);
    for (const ci of world.containerInstances.values()) ci.agentConnected = true;
  }
  if (scenario.zoneOutage) zonesWithoutCapacity.add(firstZone);
  world.behaviour = behaviour;
  world.note(`settled: scenario ${scenarioName}`);

  const clients = createSimClients(world, options.drainHooks === false ? [] : env.clusters.map((c) => drainHookSettings(world, c)), {
    hookFaultRate: scenario.hookFaultRate,
  });
  return { clock, world, clients, environment: env, scenario: scenarioName, images };
}

/** A capacityProviders cluster as EcsCluster deploys it: its group's provider (managed draining on), the cluster's set and default naming it. */
function deployProviders(world: World, clusterName: string, groupName: string): void {
  const provider = world.createCapacityProvider(capacityProviderName(groupName), groupName, true);
  const cluster = world.clusters.get(clusterName)!;
  cluster.capacityProviders = [provider.name];
  cluster.defaultStrategy = [{ capacityProvider: provider.name, weight: 1, base: 0 }];
}

/**
 * The demo services of a capacityProviders cluster: replica services alternately name the
 * generation's provider and use the cluster's default strategy; a daemon runs everywhere.
 */
export function withProviderStrategy(spec: ServiceSpec, groupName: string): ServiceSpec {
  if (spec.schedulingStrategy === "DAEMON" || spec.capacityProviderStrategy) return spec;
  const explicit = DEMO_SERVICES.findIndex((s) => s.name === spec.name) % 2 === 0;
  return { ...spec, capacityProviderStrategy: explicit ? [{ capacityProvider: capacityProviderName(groupName), weight: 1, base: 0 }] : "default" };
}
