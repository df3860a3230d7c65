/**
 * The refresh strategy against the simulated AWS: staging's group keeps its name, the apply
 * updates its launch template, and the rollout replaces the instances in batches (drain, then
 * terminate with the desired capacity decremented); a broken image rolls back in batches.
 */
import { PINNED, type SimulatedRolloutOptions, simulatedRollout } from "../support/simulated-rollout";

jest.setTimeout(60_000);

/** Staging on the refresh strategy (with `options`), rolled alone. */
const refreshing = (options: Record<string, unknown> = {}, extra: Omit<SimulatedRolloutOptions, "edit"> = {}) =>
  simulatedRollout({
    ...extra,
    edit: (c) => Object.assign(c.staging.clusters.apps, { strategy: "refresh", ...options }),
    defaults: { waitForWindow: true },
  });

const GROUP = "staging-apps-ami-refresh";
const staging = (s: { environments: readonly { name: string }[] }) => s.environments.filter((e) => e.name === "staging") as never;

describe("the refresh strategy", () => {
  it("n+1 by default: one group throughout, its launch template updated, every instance replaced one at a time, no downtime", async () => {
    const s = await refreshing();
    const world = s.sim("staging").world;
    const group = world.groups.get(GROUP)!;
    const before = { desired: group.desired, min: group.min, max: group.max };
    const desiredSeen = new Set<number>();
    const result = await s.run({ waves: staging(s), checkpoint: () => void desiredSeen.add(world.groups.get(GROUP)!.desired) });
    if (process.env.SHOW_LINES) console.log(s.lines.join("\n"));
    expect(result.waves[0].outcome).toBe("done");
    // Only the one group, never replaced: same object, now launching the new image.
    expect([...world.groups.keys()]).toEqual([GROUP]);
    expect(world.groups.get(GROUP)).toBe(group);
    expect(s.instanceImages("staging")).toEqual([PINNED]);
    expect(s.violations()).toEqual([]);
    // The plan was the refresh shape.
    expect(s.lines.join("\n")).toMatch(/staging: Plan: 0 to add, 2 to change, 0 to destroy\. Guard: accepted \(refresh\)/);
    // One old instance per batch: drained, then terminated with the desired capacity decremented;
    // then one batch more, as the group launched both new instances into one zone (a tie).
    const terminations = world.calls.filter((c) => c.operation === "TerminateInstanceInAutoScalingGroup" && !(c as { caller?: string }).caller);
    expect(terminations).toHaveLength(before.desired + 1);
    expect(s.lines.filter((l) => /batch \d+: .* set DRAINING/.test(l))).toHaveLength(before.desired + 1);
    expect(s.lines.join("\n")).toMatch(/apps: zones uneven after the batches \(eu-west-1a: 2, eu-west-1b: 0\): one more batch moves an instance out of eu-west-1a/);
    expect(s.lines.join("\n")).toMatch(/apps: batch 2: 1 old instance\(s\) terminated \(2 old replaced\)\n.*\n.*\n.*batch 3: 1 instance\(s\) terminated \(2 old replaced\)/);
    // One instance per zone at the end, as at the start.
    const zones = [...world.containerInstances.values()].filter((ci) => ci.status === "ACTIVE").map((ci) => ci.az).sort();
    expect(zones).toEqual(["eu-west-1a", "eu-west-1b"]);
    // At most one instance above the group's size (n+1), and its size and processes as they were at the end.
    expect(Math.max(...desiredSeen)).toBe(before.desired + 1);
    expect({ desired: group.desired, min: group.min, max: group.max }).toEqual(before);
    expect([...group.suspended]).toEqual([]);
    expect(result.waves[0].phases.map((p) => p.step)).toEqual(["window", "pins", "apply", "refresh", "gates", "pins"]);
    expect(s.pins().staging.apps).toEqual({ current: expect.objectContaining({ imageId: PINNED, verifiedAt: expect.any(String) }) });
  });
});
