/**
 * bench:rollout's world, shared with bench:calls: environment `bench`, one cluster `fleet` of n
 * m7g.xlarge over 3 zones, with services enough for about TASKS_PER_INSTANCE tasks per instance,
 * settled.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { CapacityStrategy } from "../constructs/ecs-cluster";
import { capacityProviderName } from "../constructs/names";
import { type EnvironmentsConfig, loadEnvironments } from "../scripts/config/environments";
import type { Config } from "../scripts/config/file";
import { parsePins } from "../scripts/config/pins";
import { createLogger } from "../scripts/core/log";
import { simulatedWorld } from "../scripts/commands/rollout";
import type { Simulation } from "../scripts/sim/scenarios";
import type { ServiceSpec } from "../scripts/sim/world";

/** The image every case rolls to (the pin); the sim starts every cluster on an older one. */
export const NEW_AMI = "ami-0123456789abcdef0";
/** Extra services: TASKS_PER_SERVICE tasks each, about TASKS_PER_INSTANCE per instance in all. */
export const TASKS_PER_INSTANCE = 10;
export const TASKS_PER_SERVICE = 30;
/**
 * The refresh strategy's batch in these worlds: a tenth of the group (at least one), as many new
 * instances launched first (maxHealthyPercent 200, minHealthyPercent 100, the defaults): n+1 at 6
 * instances (the default), 6 at a time at 60, 60 at 600. The same step as the instance refresh at
 * MinHealthyPercentage 90 beside it, but launching before draining.
 */
export const REFRESH_BATCH = "10%";

// ---------------------------------------------------------------------------------------------
// One world: environment `bench`, cluster `fleet` of n m7g.xlarge over 3 zones, settled.

/**
 * A strategy's option a bench case sets on top (issue 20): `canary`, the canary slice BENCH_CANARY
 * on the environment; `providers`, capacityProviders on the cluster (blue-green only).
 */
export type BenchVariant = "canary" | "providers";

/**
 * The canary variants' slice: a tenth of the cluster (1 instance at 6, 6 at 60, 60 at 600; refresh's
 * first batch is then the slice), soaked as long as replace's default canary (2 minutes).
 */
export const BENCH_CANARY = { percent: 10, soak: "2m" } as const;

export function benchConfig(strategy: CapacityStrategy, n: number, variant?: BenchVariant) {
  const raw: EnvironmentsConfig = {
    bench: {
      region: "eu-west-1",
      backend: { bucket: "example-amiroll-tfstate" },
      vpcId: "vpc-0123456789abcdef0",
      subnets: ["a", "b", "c"].map((zone, i) => ({ id: `subnet-0000000000000000${i + 1}`, availabilityZone: `eu-west-1${zone}` })),
      strategy,
      clusters: {
        fleet: { instanceType: "m7g.xlarge", minSize: n, maxSize: 2 * n, desiredCapacity: n, ...(strategy === "refresh" && { batch: REFRESH_BATCH }), ...(variant === "providers" && { capacityProviders: true }) },
      },
      soak: "0s",
      ...(variant === "canary" && { canary: { ...BENCH_CANARY } }),
    },
  };
  const environments = loadEnvironments(raw, "bench/rollout.ts");
  const pinsRaw = { bench: { fleet: { current: { imageId: NEW_AMI } } } };
  const pins = parsePins(pinsRaw, environments, "bench pins");
  const dir = mkdtempSync(join(tmpdir(), "amiroll-bench-rollout-"));
  const pinsPath = join(dir, "amis.json");
  writeFileSync(pinsPath, JSON.stringify(pinsRaw, null, 2));
  const config: Config = { path: join(dir, "amiroll.json"), shownAs: "bench/rollout.ts", environments, pins, pinsPath, pinsShownAs: pinsPath, outDir: join(dir, "cdktf.out"), backups: { dir: join(dir, "backups"), shownAs: join(dir, "backups"), keep: 10 } };
  return config;
}

/**
 * The simulated world of one case (built by the rollout's own simulatedWorld, healthy
 * scenario), plus enough services for about TASKS_PER_INSTANCE tasks per instance, settled: every
 * service has reached a steady state before anything is rolled.
 */
export async function buildWorld(strategy: CapacityStrategy, n: number, variant?: BenchVariant) {
  const started = performance.now();
  const config = benchConfig(strategy, n, variant);
  const log = createLogger("text", () => {});
  const world = await simulatedWorld(config, { log });
  const sim: Simulation = world.simulations.get("bench")!;
  const cluster = config.environments[0].clusters[0];
  const services = Math.max(1, Math.round((n * TASKS_PER_INSTANCE) / TASKS_PER_SERVICE));
  // With capacity providers, as the sim's demo services: every other one names the generation's provider, the others use the cluster's default.
  const provider = variant === "providers" ? capacityProviderName([...sim.world.groups.values()][0].name) : undefined;
  for (let i = 0; i < services; i++) {
    const spec: ServiceSpec = {
      name: `svc${i}`,
      desiredCount: TASKS_PER_SERVICE,
      tags: { owner: "bench" },
      ...(provider && { capacityProviderStrategy: i % 2 === 0 ? [{ capacityProvider: provider, weight: 1, base: 0 }] : "default" }),
    };
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
