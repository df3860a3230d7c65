/**
 * `npm run bench:sim`: the simulator at fleet scale. 600 instances, 6,000 tasks and 200
 * services (4 clusters over 3 zones) roll blue-green onto a new AMI: a new generation beside the
 * old, the old instances drained through the ECS API 10% every 3 minutes, then the old generation
 * retired through its drain hook. Prints wall time, peak memory, virtual time, API calls and
 * zero-downtime violations. Targets (under 10 s, under 500 MB) are reported, never enforced.
 */
import { DescribeServicesCommand, UpdateContainerInstancesStateCommand, paginateListContainerInstances } from "@aws-sdk/client-ecs";
import type { Environment } from "../scripts/config/environments";
import { createSimulation } from "../scripts/sim/scenarios";
import type { ServiceSpec } from "../scripts/sim/world";
import { NEW_AMI, fleetEnvironment } from "./fleet";

const TARGET_WALL_S = 10;
const TARGET_RSS_MB = 500;
const CLUSTERS = 4;
const INSTANCES_PER_CLUSTER = 150;
const SERVICES_PER_CLUSTER = 50;
const TASKS_PER_SERVICE = 30;

const environment: Environment = fleetEnvironment(CLUSTERS, INSTANCES_PER_CLUSTER);
const services: ServiceSpec[] = Array.from({ length: SERVICES_PER_CLUSTER }, (_, i) => ({ name: `svc${i}`, desiredCount: TASKS_PER_SERVICE }));

async function main(): Promise<void> {
  const started = performance.now();
  const pins = Object.fromEntries(environment.clusters.map((c) => [c.name, { current: { imageId: NEW_AMI } }]));
  const sim = await createSimulation({ environment, pins, services, seed: 7 });
  const { world, clock, clients } = sim;
  const settled = performance.now();
  const virtualStart = clock.now();
  const callsBefore = world.calls.length;
  const tasks = [...world.tasks.values()].filter((t) => t.desiredStatus === "RUNNING").length;

  // 1. Add the new generation beside the old (what the blue-green "add" apply does).
  const oldGroups = [...world.groups.values()];
  for (const old of oldGroups) world.createGroup({ ...old, name: `${old.clusterName}-${NEW_AMI}`, imageId: NEW_AMI, desiredCapacity: old.desired, minSize: old.min, maxSize: old.max });
  for (const cluster of environment.clusters) await world.waitForCapacity(`${cluster.ecsClusterName}-${NEW_AMI}`, 15 * 60_000);

  // 2. Drain the old instances through the ECS API (found by AMI), 10% every 3 minutes.
  const old: { cluster: string; arn: string }[] = [];
  for (const cluster of environment.clusters) {
    const filter = `attribute:ecs.ami-id == ${sim.images[cluster.name].running}`;
    for await (const page of paginateListContainerInstances({ client: clients.ecs }, { cluster: cluster.ecsClusterName, filter })) {
      old.push(...(page.containerInstanceArns ?? []).map((arn) => ({ cluster: cluster.ecsClusterName, arn })));
    }
  }
  const batch = Math.ceil(old.length / 10);
  for (let i = 0; i < old.length; i += batch) {
    const byCluster = new Map<string, string[]>();
    for (const ci of old.slice(i, i + batch)) byCluster.set(ci.cluster, [...(byCluster.get(ci.cluster) ?? []), ci.arn]);
    for (const [cluster, arns] of byCluster) {
      for (let j = 0; j < arns.length; j += 10) {
        await clients.ecs.send(new UpdateContainerInstancesStateCommand({ cluster, containerInstances: arns.slice(j, j + 10), status: "DRAINING" }));
      }
    }
    await clock.sleep(3 * 60_000);
  }
  // 3. Wait until no task is left on an old instance and every service is steady.
  const migrated = () => old.every((ci) => world.tasksOnInstance(ci.arn).every((t) => t.lastStatus === "STOPPED" || t.group === "service:log-router"));
  while (!migrated()) await clock.sleep(15_000);
  for (const cluster of environment.clusters) {
    for (let i = 0; i < services.length; i += 10) {
      await clients.ecs.send(new DescribeServicesCommand({ cluster: cluster.ecsClusterName, services: services.slice(i, i + 10).map((s) => s.name) }));
    }
  }
  // 4. Retire the old generation (the "retire" apply): its hook finds empty instances.
  await Promise.all(oldGroups.map((g) => world.deleteGroup(g.name)));

  const wallS = (performance.now() - started) / 1000;
  const rollWallS = (performance.now() - settled) / 1000;
  const rssMb = process.resourceUsage().maxRSS / 1024;
  const virtualMin = (clock.now() - virtualStart) / 60_000;
  const instances = [...world.instances.values()].filter((i) => i.imageId === NEW_AMI && i.state === "running").length;
  console.log(`simulated blue-green roll: ${CLUSTERS} clusters, ${old.length} old instances -> ${instances} new, ${tasks} tasks, ${world.services.size} services`);
  console.log(`  virtual time of the roll      ${virtualMin.toFixed(1)} min`);
  console.log(`  wall time (settle + roll)     ${wallS.toFixed(2)} s (roll alone ${rollWallS.toFixed(2)} s)`);
  console.log(`  peak RSS                      ${Math.round(rssMb)} MB`);
  console.log(`  API calls during the roll     ${world.calls.length - callsBefore} (drain hook included)`);
  console.log(`  zero-downtime violations      ${world.downtimeViolations().length}`);
  const meets = wallS < TARGET_WALL_S && rssMb < TARGET_RSS_MB;
  console.log(`targets: under ${TARGET_WALL_S} s and ${TARGET_RSS_MB} MB: ${meets ? "met" : "NOT met"} (${wallS.toFixed(2)} s, ${Math.round(rssMb)} MB)`);
}

main().catch((e) => {
  console.error(`bench:sim: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
