/**
 * The sim's capacity providers through the real SDK clients: placement only on the instances of
 * a service's providers, managed draining of the instances a group terminates, and ECS's
 * refusals (a strategy naming a provider outside the set, a strategy change without a new
 * deployment, a provider leaving the set while tasks run on it).
 */
import { TerminateInstanceInAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeClustersCommand, DescribeServicesCommand, PutClusterCapacityProvidersCommand, UpdateServiceCommand } from "@aws-sdk/client-ecs";
import { findEnvironment } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { createSimulation } from "../../scripts/sim/scenarios";
import { fleetStatus } from "../../scripts/commands/status";
import { createLogger } from "../../scripts/core/log";
import { statusTable } from "../../scripts/images/status-report";
import { repoConfig } from "../support/repo-config";
import { REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

const environments = loadEnvironments().map((e) => (e.name === "production" ? { ...e, clusters: e.clusters.map((c) => ({ ...c, capacityProviders: true })) } : e));
const pins = readPins(REPO_PINS_PATH, environments);
const CLUSTER = "production-apps";

async function providersWorld() {
  const sim = await createSimulation({ environment: findEnvironment(environments, "production"), pins: pins.production });
  const provider = `${CLUSTER}-${sim.images.apps.running}`;
  return { sim, provider, world: sim.world, ecs: sim.clients.ecs };
}

describe("the sim's capacity providers", () => {
  it("describes the cluster's set and default, and each service's strategy (or the default's, for those that use it)", async () => {
    const { ecs, provider } = await providersWorld();
    const cluster = (await ecs.send(new DescribeClustersCommand({ clusters: [CLUSTER] }))).clusters![0];
    expect([cluster.capacityProviders, cluster.defaultCapacityProviderStrategy]).toEqual([[provider], [{ capacityProvider: provider, weight: 1, base: 0 }]]);
    const services = (await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: ["web", "api", "log-router"] }))).services!;
    expect(services.map((s) => [s.serviceName, s.capacityProviderStrategy?.map((i) => i.capacityProvider), s.launchType])).toEqual([
      ["web", [provider], undefined],
      ["api", [provider], undefined],
      ["log-router", undefined, "EC2"],
    ]);
  });

  it("places a service's tasks only on its providers' instances: none fits elsewhere", async () => {
    const { sim, world, provider } = await providersWorld();
    // A second group with its own provider, outside web's strategy.
    const original = [...world.groups.values()][0];
    world.createGroup({ ...original, name: `${CLUSTER}-other`, hooks: [] });
    world.createCapacityProvider("production-apps-other", `${CLUSTER}-other`, true);
    world.clusters.get(CLUSTER)!.capacityProviders!.push("production-apps-other");
    await sim.clock.sleep(10 * 60_000);
    const web = world.services.get(`${CLUSTER}/web`)!;
    world.updateService(web, { forceNewDeployment: true });
    await sim.clock.sleep(10 * 60_000);
    const groupOf = (t: { containerInstanceArn: string }) => world.instances.get(world.containerInstances.get(t.containerInstanceArn)!.ec2InstanceId)!.groupName;
    expect(new Set(world.liveTasksOfService(web).map(groupOf))).toEqual(new Set([original.name]));
    expect(web.capacityProviderStrategy).toEqual([{ capacityProvider: provider, weight: 1, base: 0 }]);
  });

  it("managed draining: an instance its group terminates is DRAINING until its service tasks have left, then goes; 0 violations", async () => {
    const { sim, world } = await providersWorld();
    const [instance] = [...world.instances.values()].filter((i) => i.lifecycle === "InService");
    const ci = world.containerInstances.get(instance.containerInstanceArn!)!;
    const tasks = world.tasksOnInstance(ci.arn).filter((t) => t.serviceName && world.services.get(`${CLUSTER}/${t.serviceName}`)!.schedulingStrategy === "REPLICA");
    expect(tasks.length).toBeGreaterThan(0);
    await sim.clients.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instance.id, ShouldDecrementDesiredCapacity: false }));
    expect([instance.lifecycle, ci.status]).toEqual(["Terminating:Wait", "DRAINING"]);
    while (instance.lifecycle === "Terminating:Wait") await sim.clock.sleep(5_000);
    // It went only once every replica task had stopped (their replacements running elsewhere).
    expect(tasks.map((t) => t.lastStatus)).toEqual(tasks.map(() => "STOPPED"));
    expect(world.log.filter((l) => l.includes(`${instance.id} managed draining`))).toEqual([expect.stringMatching(/managed draining done$/)]);
    await sim.clock.sleep(10 * 60_000);
    expect(world.downtimeViolations()).toEqual([]);
  });

  it("refuses what ECS refuses, naming it", async () => {
    const { ecs, provider } = await providersWorld();
    await expect(ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: "web", capacityProviderStrategy: [{ capacityProvider: "elsewhere" }], forceNewDeployment: true }))).rejects.toThrow(/not associated with the cluster \(elsewhere\)/);
    await expect(ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: "web", capacityProviderStrategy: [{ capacityProvider: provider }] }))).rejects.toThrow(/requires forceNewDeployment/);
    await expect(ecs.send(new PutClusterCapacityProvidersCommand({ cluster: CLUSTER, capacityProviders: [], defaultCapacityProviderStrategy: [] }))).rejects.toThrow(new RegExp(`${provider} is in use \\(\\d+ task\\(s\\)\\) and cannot be removed`));
  });

  it("amiroll status warns about a service whose strategy names a provider amiroll does not manage, naming it", async () => {
    const { sim, world } = await providersWorld();
    world.createCapacityProvider("team-spot", "team-spot-asg", true);
    world.clusters.get(CLUSTER)!.capacityProviders!.push("team-spot");
    world.services.get(`${CLUSTER}/admin`)!.capacityProviderStrategy = [{ capacityProvider: "team-spot", weight: 1 }];
    const production = findEnvironment(environments, "production");
    const status = await fleetStatus({ ...repoConfig(), environments: [production], pins }, [production], { clients: () => sim.clients, clock: sim.clock }, createLogger("text", () => {}));
    expect(status.clusters[0].warnings).toEqual(["service admin names capacity provider(s) team-spot that amiroll does not manage: a roll does not move it"]);
    expect(statusTable(status)).toContain("Warnings:\n  production/apps: service admin names capacity provider(s) team-spot that amiroll does not manage");
  });
});
