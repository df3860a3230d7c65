/**
 * The drain hook lets an instance go soon after its last task has stopped: checks come every
 * PROMPT_RECHECK_SECONDS while tasks leave, not once per re-check interval (30 s). Asserted on
 * the simulator's virtual clock (deterministic for a seed), never on wall time.
 */
import { TerminateInstanceInAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { PROMPT_RECHECK_SECONDS } from "../../constructs/drain-hook.lambda";
import { findEnvironment } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { createSimulation } from "../../scripts/sim/scenarios";
import { REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

jest.setTimeout(60_000);

describe("the drain hook's prompt re-checks", () => {
  it.each([1, 2, 3])("seed %i: a terminated instance is let go within PROMPT_RECHECK_SECONDS (+ the hook's 0.5 s) of its last service task stopping", async (seed) => {
    const environments = loadEnvironments();
    const environment = findEnvironment(environments, "production");
    const sim = await createSimulation({ environment, pins: readPins(REPO_PINS_PATH, environments)[environment.name], seed });
    const { world, clients } = sim;
    const victim = [...world.instances.values()].find((i) => i.containerInstanceArn && world.tasksOnInstance(i.containerInstanceArn).some((t) => t.serviceName && t.lastStatus === "RUNNING"))!;
    const ci = world.containerInstances.get(victim.containerInstanceArn!)!;
    const from = world.clock.now();
    await clients.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: victim.id, ShouldDecrementDesiredCapacity: false }));
    while (victim.state !== "terminated") await world.clock.sleep(1_000);
    const daemons = new Set([...world.services.values()].filter((s) => s.schedulingStrategy === "DAEMON").map((s) => s.name));
    const stops = [...world.tasks.values()]
      .filter((t) => t.containerInstanceArn === ci.arn && t.serviceName && !daemons.has(t.serviceName) && t.stoppedAt !== undefined && t.stoppedAt >= from)
      .map((t) => t.stoppedAt!);
    expect(stops.length).toBeGreaterThan(0);
    const released = world.log.filter((l) => l.includes(`${victim.id} lifecycle action`)).map((l) => Date.parse(l.slice(0, l.indexOf(" "))));
    expect(released).toHaveLength(1);
    expect(released[0] - Math.max(...stops)).toBeGreaterThanOrEqual(0);
    expect(released[0] - Math.max(...stops)).toBeLessThanOrEqual(PROMPT_RECHECK_SECONDS * 1000 + 500);
    expect(world.downtimeViolations()).toEqual([]);
  });
});
