/**
 * The simulator's determinism, pinned: the same seed gives the same event log (world.log) and the
 * same API-call sequence, byte for byte, as recorded before the simulator's scheduling was made
 * linear (issue 17). A change to these hashes is a change to the simulator's behaviour: it must
 * be deliberate, and the recorded values updated with the reason in the commit.
 */
import { createHash } from "node:crypto";
import { createSimulation } from "../../scripts/sim/scenarios";
import type { World } from "../../scripts/sim/world";
import { fleetEnvironment } from "../../bench/fleet";
import { simulatedRollout } from "../support/simulated-rollout";

jest.setTimeout(60_000);

/** A world's event log, API calls (service, operation, virtual time, throttled), tasks and service events, hashed. */
function fingerprint(worlds: readonly World[]): string {
  const hash = createHash("sha256");
  for (const world of worlds) {
    for (const line of world.log) hash.update(`${line}\n`);
    for (const c of world.calls) hash.update(`${c.service} ${c.operation} ${c.at} ${c.throttled}\n`);
    // Where the scheduler put every task, and what each service said: placement, not only the log.
    for (const t of world.tasks.values()) hash.update(`${t.arn} ${t.containerInstanceArn} ${t.createdAt} ${t.lastStatus} ${t.desiredStatus}\n`);
    for (const service of world.services.values()) for (const e of service.events) hash.update(`${e.createdAt} ${e.message}\n`);
    hash.update("--\n");
  }
  return hash.digest("hex").slice(0, 16);
}

describe("the simulator's determinism", () => {
  it("rolls this repository's environments (replace, then blue-green) with the recorded event log and API calls", async () => {
    const s = await simulatedRollout({ defaults: { waitForWindow: true } });
    const result = await s.run();
    expect(result.outcome).toBe("done");
    const worlds = [...s.world.simulations.values()].map((sim) => sim.world);
    expect({ lines: worlds.reduce((n, w) => n + w.log.length, 0), calls: worlds.reduce((n, w) => n + w.calls.length, 0), hash: fingerprint(worlds) }).toEqual(ROLLOUT);
  });

  it("drains and shrinks a 2-cluster fleet with spread and binpack services the same way", async () => {
    const environment = fleetEnvironment(2, 9);
    const pins = Object.fromEntries(environment.clusters.map((c) => [c.name, { current: { imageId: "ami-0123456789abcdef0" } }]));
    const services = [
      { name: "spread", desiredCount: 20 },
      { name: "packed", desiredCount: 12, placement: "binpack" as const, cpu: 512, memory: 1024 },
      { name: "agent", desiredCount: 0, schedulingStrategy: "DAEMON" as const },
    ];
    const sim = await createSimulation({ environment, pins, services, seed: 11 });
    const { world, clock } = sim;
    await clock.sleep(5 * 60_000);
    // Drain a third of each cluster's instances, then shrink each group by as many.
    for (const cluster of environment.clusters) {
      const cis = [...world.containerInstances.values()].filter((ci) => ci.clusterName === cluster.ecsClusterName).sort((a, b) => a.arn.localeCompare(b.arn));
      for (const ci of cis.slice(0, 3)) world.setContainerInstanceStatus(ci, "DRAINING");
    }
    await clock.sleep(5 * 60_000);
    for (const group of world.groups.values()) group.desired -= 3;
    await clock.sleep(10 * 60_000);
    for (const group of world.groups.values()) group.desired += 4;
    await clock.sleep(10 * 60_000);
    clock.stop();
    expect({ lines: world.log.length, calls: world.calls.length, hash: fingerprint([world]) }).toEqual(FLEET);
  });
});

/**
 * Re-recorded when the drain hook's checks were batched (issue 17 item 4: fewer hook calls, its
 * re-check messages delivered in batches) and the watch's polls became incremental (fewer
 * DescribeTasks), then when the boot check's polls through an apply stopped listing tasks and
 * services (853 calls, the same 86-line event log); fault matrix still 0 violations. Then when
 * the replace canary's polls listed only the canary's and the drained instances' tasks, described
 * incrementally (835 calls, the same 86 lines; c99a0c32bf05f847 before). Then when the watch's and
 * the canary's incremental polls stopped reading what nothing showed had changed (groups, the
 * instance and service lists, running task lists of unchanged instances, settled services within
 * their max age) and a verdict is confirmed on a full poll: 782 calls, the same 86 lines; the world draws its
 * throttling chance per call from its one RNG, so the fewer calls shift later draws (task ARNs,
 * stop times) and the log's times (2c3546723ab67300 before). Before, at 74224aa: ROLLOUT 79 lines, 984
 * calls, aa0a7aed8b7b6fd5; FLEET 89 lines, 65 calls, a9b5b7b9b629be06.
 * Merged with the makespan work (the drain hook re-checks after 5 s while an instance is due to be
 * empty, the rollout and the watch poll every 5 s while registrations or the last stops are
 * seconds away; alone it recorded ROLLOUT 91 lines, 881 calls, d1d0366ce117fa4c and this FLEET):
 * ROLLOUT 90 lines, 799 calls; FLEET 41 calls (the watch looks again sooner once every task left
 * on the old instances has been told to stop).
 * Re-recorded when the example config's staging got `rebalance: true` (issue 21 item 1): the
 * demo's staging balance gate now moves api and web out of their one zone (desired count one up
 * and back, a task at a time: DescribeServices, UpdateService and the rebalance's polls), where it
 * only reported them before: ROLLOUT 967 calls (799 before, 79fdf94af3a712ea), the same 90 lines.
 * The sim's own changes of that item (StopTask, availabilityZoneRebalancing, the optional zone
 * ties) left both hashes as they were.
 * Re-recorded once after this session's merges, each of which recorded its own: the drain hook's
 * re-checks aimed at the end of the stops and the canary's soak counted from ECS's time of the
 * proof (798 calls, 8ebbfdad0a142b1e); the canary's soak run by the gates (89 lines, 810 calls,
 * 18e68cf5e6db05c4); rebalance above. Together: 88 lines, 986 calls (a980f7785a9d6d07). FLEET
 * unchanged by all. Then the gates' soak polled incrementally, a full poll only for a crash and
 * its last look: 774 calls, the same 88 lines (the alarm gates add no call without `alarms`).
 */
const ROLLOUT = { lines: 88, calls: 774, hash: "808667d709e22423" };
const FLEET = { lines: 95, calls: 41, hash: "fcbb61a8896536eb" };
