/**
 * A lifecycle event whose every invocation fails (the first and Lambda's two retries) is not
 * lost: Lambda sends its record to the function's on-failure destination, the re-check queue
 * (DrainHook's invoke config), and the hook checks the instance from there. Before, the event was
 * dropped, the instance's heartbeat lapsed and it was terminated with its tasks.
 */
import { TerminateInstanceInAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { findEnvironment } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { createSimClients } from "../../scripts/sim/clients";
import { createSimulation, drainHookSettings } from "../../scripts/sim/scenarios";
import { REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

jest.setTimeout(60_000);

describe("the drain hook's on-failure destination", () => {
  it("an instance whose lifecycle event fails all three invocations is still drained by the hook, with no downtime", async () => {
    const environments = loadEnvironments();
    const environment = findEnvironment(environments, "production");
    const { world } = await createSimulation({ environment, pins: readPins(REPO_PINS_PATH, environments)[environment.name], seed: 1 });
    const running = (arn: string) => world.tasksOnInstance(arn).filter((t) => t.serviceName && t.lastStatus === "RUNNING" && world.services.get(t.serviceName)?.schedulingStrategy !== "DAEMON");
    const victim = [...world.instances.values()].find((i) => i.containerInstanceArn && running(i.containerInstanceArn).length > 0)!;
    expect(victim).toBeDefined();
    // The same world's clients, with every invocation of the victim's lifecycle event failing.
    const clients = createSimClients(world, environment.clusters.map((c) => drainHookSettings(world, c)), { lifecycleEventFaults: { [victim.id]: 3 } });
    const until = world.clock.now() + 30 * 60_000;
    await clients.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: victim.id, ShouldDecrementDesiredCapacity: false }));
    while (victim.state !== "terminated" && world.clock.now() < until) await world.clock.sleep(1_000);

    expect(victim.state).toBe("terminated");
    const notes = world.log;
    expect(notes.filter((n) => n.includes("drain hook invocation failed") && n.includes(victim.id))).toHaveLength(3);
    expect(notes.some((n) => n.includes("checking it from Lambda's record"))).toBe(true);
    // Let go by the hook once drained, not by its heartbeat running out.
    expect(notes.filter((n) => n.includes(`${victim.id} heartbeat timeout`))).toEqual([]);
    expect(notes.filter((n) => n.includes(`${victim.id} lifecycle action`))).toEqual([expect.stringContaining(`${victim.id} lifecycle action CONTINUE`)]);
    expect(running(victim.containerInstanceArn!)).toEqual([]);
    expect(world.downtimeViolations()).toEqual([]);
  });
});
