/**
 * The boot check as a pure fold over snapshots: which new instances failed to boot (InService,
 * of the target image, not registered with ECS within the grace period of their launch), when
 * they are replaced, when the failures are systematic (the image's fault: rejected), and when
 * replacing stops at the limit (the wave fails, the image stands).
 */
import { type BootCheckOptions, type BootState, SYSTEMATIC_MIN_FAILURES, bootFailureText, stepBoot, systematic } from "../../scripts/fleet/boot";
import type { ContainerInstanceSnapshot, FleetSnapshot, GroupInstance, GroupSnapshot } from "../../scripts/fleet/snapshot";

const OLD = "ami-0000000000000aaaa";
const NEW = "ami-0000000000000bbbb";
const T0 = Date.parse("2026-11-24T09:00:00Z");
const MIN = 60_000;
const GROUP = `production-apps-${NEW}`;

function ci(id: string, imageId = NEW): ContainerInstanceSnapshot {
  return { arn: `arn:ci/${id}`, ec2InstanceId: id, status: "ACTIVE", imageId, availabilityZone: "eu-west-1a", runningTasksCount: 0, pendingTasksCount: 0, agentConnected: true };
}
/** An instance of the group; `launchedAt` (and the image) as takeSnapshot gives them: only while InService and not registered. */
function instance(id: string, lifecycleState = "InService", launchedAt?: number, imageId = NEW): GroupInstance {
  return { instanceId: id, availabilityZone: "eu-west-1b", lifecycleState, ...(launchedAt !== undefined && { imageId, launchedAt }) };
}
function group(instances: GroupInstance[], extra: Partial<GroupSnapshot> = {}): GroupSnapshot {
  return { name: GROUP, desiredCapacity: 4, minSize: 4, maxSize: 8, instances, tags: {}, ...extra };
}
function snap(at: number, groups: GroupSnapshot[], containerInstances: ContainerInstanceSnapshot[] = []): FleetSnapshot {
  return { at, clusterName: "production-apps", groups, containerInstances, services: [], tasks: [], stoppedTasks: [], apiCalls: 0 };
}
const options: BootCheckOptions = { imageId: NEW, gracePeriodMs: 5 * MIN, replacementLimit: 4 };
const fold = (snapshots: FleetSnapshot[], o: BootCheckOptions = options) => snapshots.reduce<BootState | undefined>((s, x) => stepBoot(s, x, o), undefined)!;

describe("the boot check", () => {
  it("leaves an instance alone within its grace period, and one that registered", () => {
    const state = fold([snap(T0 + 4 * MIN, [group([instance("i-1", "InService", T0), instance("i-2")])], [ci("i-2")])]);
    expect(state.verdict).toEqual({ kind: "ok" });
    expect(state.failed).toEqual([]);
    expect(state.registered).toEqual(["i-2"]);
  });

  it("finds an InService instance of the image not registered after the grace period, and says to replace it, once", () => {
    const first = snap(T0 + 5 * MIN + 10_000, [group([instance("i-1", "InService", T0), instance("i-2"), instance("i-3"), instance("i-4")])], [ci("i-2"), ci("i-3"), ci("i-4")]);
    const state = fold([first]);
    const failure = { instanceId: "i-1", groupName: GROUP, availabilityZone: "eu-west-1b", imageId: NEW, launchedAt: T0, waitedMs: 5 * MIN + 10_000 };
    expect(state.verdict).toEqual({ kind: "replace", failures: [failure] });
    expect(state.replaced).toEqual(["i-1"]);
    expect(bootFailureText(failure)).toBe("i-1 (eu-west-1b, not registered with ECS 5m10s after launch)");
    // The next snapshot still lists it (termination takes a moment): it is not judged again.
    const again = stepBoot(state, { ...first, at: first.at + 10_000 }, options);
    expect(again.verdict).toEqual({ kind: "ok" });
    expect(again.failed).toHaveLength(1);
  });

  it("judges only InService instances of the target image, in groups not being deleted", () => {
    const late = T0 + 30 * MIN;
    const state = fold([
      snap(late, [
        group([instance("i-pending", "Pending"), instance("i-leaving", "Terminating:Wait"), instance("i-old", "InService", T0, OLD), instance("i-nolaunch", "InService")]),
        group([instance("i-deleting", "InService", T0)], { name: `${GROUP}-x`, status: "Delete in progress" }),
      ]),
    ]);
    expect(state.verdict).toEqual({ kind: "ok" });
  });

  it("a random failure among registered instances is replaced, and so is the replacement's failure: 2 of 6 is not systematic", () => {
    const s1 = fold([snap(T0 + 6 * MIN, [group([instance("i-1", "InService", T0), instance("i-2"), instance("i-3"), instance("i-4")])], [ci("i-2"), ci("i-3"), ci("i-4")])]);
    expect(s1.verdict.kind).toBe("replace");
    // The group launched i-5 for i-1, which failed too; i-6 then replaces it.
    const s2 = stepBoot(s1, snap(T0 + 12 * MIN, [group([instance("i-5", "InService", T0 + 6 * MIN), instance("i-2"), instance("i-3"), instance("i-4")])], [ci("i-2"), ci("i-3"), ci("i-4")]), options);
    expect(s2.verdict).toEqual({ kind: "replace", failures: [expect.objectContaining({ instanceId: "i-5" })] });
    expect([s2.failed.length, s2.registered.length]).toEqual([2, 3]);
    const s3 = stepBoot(s2, snap(T0 + 14 * MIN, [group([instance("i-6"), instance("i-2"), instance("i-3"), instance("i-4")])], [ci("i-2"), ci("i-3"), ci("i-4"), ci("i-6")]), options);
    expect(s3.verdict).toEqual({ kind: "ok" });
    expect(s3.registered).toEqual(["i-2", "i-3", "i-4", "i-6"]);
  });

  it("rejects the image when no instance of it boots: every one of four fails", () => {
    const state = fold([snap(T0 + 5 * MIN, [group(["i-1", "i-2", "i-3", "i-4"].map((id) => instance(id, "InService", T0)))])]);
    expect(state.verdict).toEqual({
      kind: "reject",
      reason: `4 instances of ${NEW} failed to boot (no ECS registration within 5m00s of launch: i-1, i-2, i-3, i-4), 0 registered: the image does not boot`,
    });
  });

  it("a one-instance cluster whose image does not boot: replaced twice, then rejected (before the limit of 2 is counted)", () => {
    const o = { ...options, replacementLimit: 2 };
    const one = (id: string, at: number) => snap(at + 5 * MIN, [group([instance(id, "InService", at)], { desiredCapacity: 1 })]);
    const s1 = fold([one("i-1", T0)], o);
    expect(s1.verdict.kind).toBe("replace");
    const s2 = stepBoot(s1, one("i-2", T0 + 6 * MIN), o);
    expect(s2.verdict.kind).toBe("replace");
    const s3 = stepBoot(s2, one("i-3", T0 + 12 * MIN), o);
    expect(s3.verdict).toEqual({ kind: "reject", reason: expect.stringContaining("3 instances of") });
  });

  it("gives up at the replacement limit when failures are not systematic: the wave fails, the image is not rejected", () => {
    const o = { ...options, replacementLimit: 2 };
    const registered = ["i-a", "i-b", "i-c", "i-d"];
    const failing = (ids: string[], at: number) => snap(at, [group([...ids.map((id) => instance(id, "InService", at - 5 * MIN)), ...registered.map((id) => instance(id))])], registered.map((id) => ci(id)));
    const s1 = fold([failing(["i-1", "i-2"], T0 + 5 * MIN)], o);
    expect(s1.verdict.kind).toBe("replace");
    const s2 = stepBoot(s1, failing(["i-3"], T0 + 11 * MIN), o);
    expect(s2.verdict).toEqual({
      kind: "give up",
      reason: `3 instances of ${NEW} failed to boot (i-1, i-2, i-3) and 4 registered: replacing 1 more would exceed the 2 replacements allowed (not systematic: the image is not rejected)`,
    });
  });
});

describe("the systematic rule", () => {
  it("needs at least three failures, and at least two failures for every instance that registered", () => {
    expect(SYSTEMATIC_MIN_FAILURES).toBe(3);
    expect([systematic(2, 0), systematic(3, 0), systematic(3, 1), systematic(3, 2), systematic(4, 2), systematic(4, 3), systematic(10, 5), systematic(10, 6)]).toEqual([
      false, true, true, false, true, false, true, false,
    ]);
  });

  /**
   * The rule against chance: a wave's instances fail to boot independently at `rate`; each
   * failure is replaced (up to the limit) and the replacement judged in turn. Exact, over every
   * outcome, with the verdicts stepBoot would give at each round.
   */
  function rejectionChance(instances: number, rate: number): number {
    const limit = Math.max(2, instances);
    const binomial = (n: number, k: number) => {
      let c = 1;
      for (let i = 1; i <= k; i++) c = (c * (n - i + 1)) / i;
      return c * rate ** k * (1 - rate) ** (n - k);
    };
    const round = (judging: number, failed: number, registered: number, replaced: number): number => {
      let p = 0;
      for (let k = 0; k <= judging; k++) {
        const [f, r] = [failed + k, registered + judging - k];
        if (k > 0 && systematic(f, r)) p += binomial(judging, k);
        else if (k > 0 && replaced + k <= limit) p += binomial(judging, k) * round(k, f, r, replaced + k);
      }
      return p;
    };
    return round(instances, 0, 0, 0);
  }

  it("a random 20 % boot failure rate seldom trips it (under 4 % for 1 to 6 instances, under 0.2 % from 10); a broken image always does", () => {
    for (const n of [1, 2, 3, 4, 6]) expect([n, rejectionChance(n, 0.2) < 0.04]).toEqual([n, true]);
    for (const n of [10, 20, 50]) expect([n, rejectionChance(n, 0.2) < 0.002]).toEqual([n, true]);
    for (const n of [1, 2, 3, 4, 10, 50]) expect([n, rejectionChance(n, 1)]).toEqual([n, 1]);
  });
});
