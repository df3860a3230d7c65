/**
 * Where a roll stands, as a pure function of the world: the pins, what terraform deployed and a
 * fleet snapshot built by hand. Each case is a moment of a real roll (replace on staging,
 * blue-green on production) and the one step the driver must take next.
 */
import type { ContainerInstanceSnapshot, FleetSnapshot, GroupSnapshot, ServiceSnapshot, TaskSnapshot } from "../../scripts/fleet/snapshot";
import {
  type ClusterStep,
  type ClusterWorld,
  type DeployedGeneration,
  STEP_ORDER,
  type StepKind,
  environmentStep,
  nextClusterStep,
} from "../../scripts/rollout/state";
import { findEnvironment } from "../../scripts/config/file";
import type { ClusterPins, Pin } from "../../scripts/config/pins";
import { loadEnvironments } from "../support/repo-config";

const environments = loadEnvironments();
const staging = findEnvironment(environments, "staging").clusters[0];
const production = findEnvironment(environments, "production").clusters[0];

const OLD = "ami-0000000000000aaaa";
const NEW = "ami-0000000000000bbbb";
const OTHER = "ami-0000000000000cccc";
const PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended";

const oldPin: Pin = { imageId: OLD, imageName: "al2023-old", ssmParameter: PARAMETER, resolvedAt: "2026-10-01T08:00:00Z", verifiedAt: "2026-10-02T10:00:00Z" };
/** The target as the environment it promotes from verified it. */
const newPin: Pin = { imageId: NEW, imageName: "al2023-new", ssmParameter: PARAMETER, resolvedAt: "2026-11-09T09:12:00Z", verifiedAt: "2026-11-10T09:40:00Z" };
/** The same image as pinned here, not yet verified here. */
const newUnverified: Pin = { imageId: NEW, imageName: "al2023-new", ssmParameter: PARAMETER, resolvedAt: "2026-11-09T09:12:00Z" };
const newVerifiedHere: Pin = { ...newUnverified, verifiedAt: "2026-11-16T10:05:00Z" };

const gen = (imageId: string, imageName?: string): DeployedGeneration => ({ imageId, ...(imageName && { imageName }) });

function ci(id: string, imageId: string, status = "ACTIVE", az = "eu-west-1a"): ContainerInstanceSnapshot {
  return { arn: `arn:aws:ecs:eu-west-1:123456789012:container-instance/${id}`, ec2InstanceId: id, status, imageId, availabilityZone: az, runningTasksCount: 0, pendingTasksCount: 0, agentConnected: true };
}
function task(id: string, group: string, instance: string, lastStatus = "RUNNING"): TaskSnapshot {
  return { arn: `arn:task/${id}`, group, containerInstanceArn: `arn:aws:ecs:eu-west-1:123456789012:container-instance/${instance}`, availabilityZone: "eu-west-1a", lastStatus, desiredStatus: "RUNNING", exitCodes: [] };
}
function service(name: string, schedulingStrategy = "REPLICA"): ServiceSnapshot {
  return {
    arn: `arn:svc/${name}`, name, desiredCount: 2, runningCount: 2, pendingCount: 0, schedulingStrategy,
    deployments: [{ id: "d1", status: "PRIMARY", rolloutState: "COMPLETED", desiredCount: 2, runningCount: 2, failedTasks: 0 }],
    events: [], tags: {},
  };
}
function fleet(parts: Partial<FleetSnapshot> = {}): FleetSnapshot {
  return { at: Date.parse("2026-11-16T09:00:00Z"), clusterName: "production-apps", groups: [], containerInstances: [], services: [service("web"), service("logs", "DAEMON")], tasks: [], stoppedTasks: [], apiCalls: 0, ...parts };
}
const arn = (id: string) => `arn:aws:ecs:eu-west-1:123456789012:container-instance/${id}`;

function world(cluster: typeof staging, pins: ClusterPins, deployed: DeployedGeneration[], snapshot: FleetSnapshot = fleet()): ClusterWorld {
  return { cluster, pins, deployed, fleet: snapshot };
}

describe("a cluster never deployed: its first deploy", () => {
  const nothing = fleet({ services: [] });
  const group = (imageId: string, desiredCapacity: number): GroupSnapshot => ({ name: `production-apps-${imageId}`, desiredCapacity, minSize: desiredCapacity, maxSize: 8, instances: [], tags: {} });

  it("applies the pin as it is, replace and blue-green alike", () => {
    expect(nextClusterStep(world(staging, { current: newUnverified }, [], nothing), newUnverified)).toEqual({
      kind: "apply",
      why: `first deploy of staging-apps: nothing deployed; pinned ${NEW}`,
    });
    // Production takes staging's verified image: the same image as its pin, so no pin step.
    expect(nextClusterStep(world(production, { current: newUnverified }, [], nothing), newPin)).toEqual({
      kind: "apply",
      why: `first deploy of production-apps: nothing deployed; pinned ${NEW}`,
    });
  });

  it("pins the promoted image first, unverified and alone: a blue-green cluster keeps nothing as retiring", () => {
    expect(nextClusterStep(world(production, { current: oldPin }, [], nothing), newPin)).toStrictEqual({
      kind: "pin",
      pins: { current: newUnverified },
      why: `first deploy of production-apps on ${NEW}`,
    });
  });

  it("drops a retiring pin and a verification that cannot be this environment's", () => {
    const retiring = nextClusterStep(world(production, { current: newUnverified, retiring: oldPin }, [], nothing), newPin);
    expect(retiring).toStrictEqual({ kind: "pin", pins: { current: newUnverified }, why: `production-apps was never deployed: its first deploy keeps no retiring generation (${OLD})` });
    const verified = nextClusterStep(world(staging, { current: newVerifiedHere }, [], nothing), newVerifiedHere);
    expect(verified).toStrictEqual({ kind: "pin", pins: { current: newUnverified }, why: `staging-apps was never deployed: ${NEW} is verified here only once it runs here` });
  });

  it("once applied, waits for every instance to join the new cluster (nothing to move), then verifies", () => {
    const pins = { current: newUnverified };
    const joining = (...cis: ContainerInstanceSnapshot[]) => nextClusterStep(world(production, pins, [gen(NEW)], fleet({ services: [], groups: [group(NEW, 2)], containerInstances: cis })), newPin);
    expect(joining()).toEqual({ kind: "migrate", why: `0 of 2 instance(s) of ${NEW} registered with ECS` });
    expect(joining(ci("i-1", NEW))).toEqual({ kind: "migrate", why: `1 of 2 instance(s) of ${NEW} registered with ECS` });
    expect(joining(ci("i-1", NEW), ci("i-2", NEW, "ACTIVE", "eu-west-1b"))).toEqual({ kind: "verify" });
    // With services, part of the capacity joined is the gates' to judge (as after a replace roll),
    // but none joined is still a wait.
    const withServices = (...cis: ContainerInstanceSnapshot[]) => nextClusterStep(world(production, pins, [gen(NEW)], fleet({ groups: [group(NEW, 2)], containerInstances: cis })), newPin);
    expect(withServices(ci("i-1", NEW))).toEqual({ kind: "verify" });
    expect(withServices().kind).toBe("migrate");
    // Unless an instance the group launched has not registered yet: booting (a replacement of one
    // that did not boot, say), or InService but failed to boot; the watch waits, and its boot check
    // replaces a failed one after the grace period.
    const launched = (lifecycleState: string) => ({
      ...group(NEW, 2),
      instances: [
        { instanceId: "i-1", availabilityZone: "eu-west-1a", lifecycleState: "InService" },
        { instanceId: "i-2", availabilityZone: "eu-west-1b", lifecycleState, ...(lifecycleState === "InService" && { imageId: NEW, launchedAt: Date.parse("2026-11-16T08:40:00Z") }) },
      ],
    });
    for (const state of ["Pending", "InService"]) {
      const booting = nextClusterStep(world(production, pins, [gen(NEW)], fleet({ groups: [launched(state)], containerInstances: [ci("i-1", NEW)] })), newPin);
      expect([state, booting]).toEqual([state, { kind: "migrate", why: `1 of 2 instance(s) of ${NEW} registered with ECS (1 launched, not registered yet)` }]);
    }
    // One on its way out is not waited for.
    expect(nextClusterStep(world(production, pins, [gen(NEW)], fleet({ groups: [launched("Terminating:Wait")], containerInstances: [ci("i-1", NEW)] })), newPin)).toEqual({ kind: "verify" });
  });

  it("a refresh cluster's one group (named for no image) is waited for as well", () => {
    // Found by the fault matrix's first-deploy x refresh: the group <cluster>-ami-refresh was not
    // counted, so the gates ran before any instance had joined (every zone named lost).
    const refreshing = { ...production, strategy: "refresh" as const };
    const group: GroupSnapshot = { name: "production-apps-ami-refresh", desiredCapacity: 2, minSize: 2, maxSize: 8, instances: [], tags: {} };
    const joining = (...cis: ContainerInstanceSnapshot[]) => nextClusterStep(world(refreshing, { current: newUnverified }, [gen(NEW)], fleet({ services: [], groups: [group], containerInstances: cis })), newPin);
    expect(joining()).toEqual({ kind: "migrate", why: `0 of 2 instance(s) of ${NEW} registered with ECS` });
    expect(joining(ci("i-1", NEW))).toEqual({ kind: "migrate", why: `1 of 2 instance(s) of ${NEW} registered with ECS` });
    expect(joining(ci("i-1", NEW), ci("i-2", NEW, "ACTIVE", "eu-west-1b"))).toEqual({ kind: "verify" });
    // Only a refresh cluster's: for the others, groups are named after their image.
    expect(nextClusterStep(world(production, { current: newUnverified }, [gen(NEW)], fleet({ services: [], groups: [group] })), newPin)).toEqual({ kind: "verify" });
  });
});

describe("a replace cluster (staging)", () => {
  it("pins the target first, without the verification it carries, keeping what runs while a canary proves it", () => {
    const step = nextClusterStep(world(staging, { current: oldPin }, [gen(OLD)], fleet({ containerInstances: [ci("i-1", OLD), ci("i-2", OLD)] })), newPin);
    expect(step).toStrictEqual({ kind: "pin", pins: { current: newUnverified, retiring: oldPin }, why: `prove ${NEW} on a canary beside ${OLD}` });
  });

  it("keeps the running image beside a bumped pin (a merged PR), so that the canary comes first", () => {
    const step = nextClusterStep(world(staging, { current: newUnverified }, [gen(OLD)], fleet({ containerInstances: [ci("i-1", OLD)] })), newPin);
    expect(step).toEqual({ kind: "pin", pins: { current: newUnverified, retiring: { imageId: OLD } }, why: `keep ${OLD} while a canary proves ${NEW}` });
  });

  it("applies the canary group, then proves the image on it", () => {
    const proving = { current: newUnverified, retiring: oldPin };
    const before = nextClusterStep(world(staging, proving, [gen(OLD)], fleet({ containerInstances: [ci("i-1", OLD)] })), newPin);
    expect(before).toEqual({ kind: "apply", why: `deployed ${OLD}; pinned ${NEW}, ${OLD}` });
    const deployed = [{ imageId: NEW, role: "canary" }, { imageId: OLD, role: "retiring" }];
    const canary = nextClusterStep(world(staging, proving, deployed, fleet({ containerInstances: [ci("i-1", OLD), ci("i-c", NEW)] })), newPin);
    expect(canary).toEqual({ kind: "canary", imageId: NEW });
  });

  it("applies the replace once the canary passed (the old image no longer pinned), not another canary", () => {
    const deployed = [{ imageId: NEW, role: "canary" }, { imageId: OLD, role: "retiring" }];
    const step = nextClusterStep(world(staging, { current: newUnverified }, deployed, fleet({ containerInstances: [ci("i-1", OLD), ci("i-c", NEW)] })), newPin);
    expect(step).toEqual({ kind: "apply", why: `deployed ${NEW}, ${OLD}; pinned ${NEW}` });
  });

  it("migrates while instances of the old image are still registered, ACTIVE or DRAINING", () => {
    const mixed = fleet({ containerInstances: [ci("i-1", OLD, "DRAINING"), ci("i-2", OLD), ci("i-3", NEW), ci("i-4", NEW)] });
    expect(nextClusterStep(world(staging, { current: newUnverified }, [gen(NEW)], mixed), newPin)).toEqual({
      kind: "migrate",
      why: "2 instance(s) of older images still registered",
    });
  });

  it("verifies once every registered instance runs the target (deregistered old ones do not count)", () => {
    const settled = fleet({ containerInstances: [ci("i-1", OLD, "INACTIVE"), ci("i-2", OLD, "DEREGISTERING"), ci("i-3", NEW), ci("i-4", NEW)] });
    expect(nextClusterStep(world(staging, { current: newUnverified }, [gen(NEW)], settled), newPin)).toEqual({ kind: "verify" });
  });

  it("is done once the pin is verified", () => {
    const settled = fleet({ containerInstances: [ci("i-3", NEW), ci("i-4", NEW)] });
    expect(nextClusterStep(world(staging, { current: newVerifiedHere }, [gen(NEW)], settled), newVerifiedHere)).toEqual({ kind: "done" });
  });
});

describe("a blue-green cluster (production)", () => {
  const oldOnly = fleet({ containerInstances: [ci("i-old1", OLD), ci("i-old2", OLD, "ACTIVE", "eu-west-1b")] });

  it("pins the target beside what runs, keeping the running pin (and its verification) as retiring", () => {
    expect(nextClusterStep(world(production, { current: oldPin }, [gen(OLD, "al2023-old")], oldOnly), newPin)).toStrictEqual({
      kind: "pin",
      pins: { current: newUnverified, retiring: oldPin },
      why: `add ${NEW} beside ${OLD}`,
    });
  });

  it("keeps the deployed generation as retiring, not a pin that was never deployed", () => {
    const neverDeployed: Pin = { imageId: OTHER, imageName: "al2023-other" };
    expect(nextClusterStep(world(production, { current: neverDeployed }, [gen(OLD, "al2023-old")], oldOnly), newPin)).toStrictEqual({
      kind: "pin",
      pins: { current: newUnverified, retiring: { imageId: OLD, imageName: "al2023-old" } },
      why: `add ${NEW} beside ${OLD}`,
    });
    // Without an image name in terraform's output, the retiring pin has none.
    expect(nextClusterStep(world(production, { current: neverDeployed }, [gen(OLD)], oldOnly), newPin)).toStrictEqual({
      kind: "pin",
      pins: { current: newUnverified, retiring: { imageId: OLD } },
      why: `add ${NEW} beside ${OLD}`,
    });
  });

  it("applies while the new generation is pinned but not deployed", () => {
    const step = nextClusterStep(world(production, { current: newUnverified, retiring: oldPin }, [gen(OLD)], oldOnly), newPin);
    expect(step).toEqual({ kind: "apply", why: `deployed ${OLD}; pinned ${NEW}, ${OLD}` });
  });

  it("drains exactly the old generation's ACTIVE instances once both are deployed", () => {
    const both = fleet({
      containerInstances: [ci("i-old1", OLD), ci("i-old2", OLD, "DRAINING"), ci("i-old3", OLD, "ACTIVE", "eu-west-1c"), ci("i-new1", NEW), ci("i-new2", NEW), ci("i-old4", OLD, "INACTIVE")],
      tasks: [task("w1", "service:web", "i-old1")],
    });
    const step = nextClusterStep(world(production, { current: newUnverified, retiring: oldPin }, [gen(NEW), gen(OLD)], both), newPin);
    expect(step).toEqual({ kind: "drain", containerInstanceArns: [arn("i-old1"), arn("i-old3")] });
  });

  const draining = (tasks: TaskSnapshot[]) =>
    fleet({ containerInstances: [ci("i-old1", OLD, "DRAINING"), ci("i-old2", OLD, "DRAINING"), ci("i-new1", NEW), ci("i-new2", NEW)], tasks });
  const rolling: ClusterPins = { current: newUnverified, retiring: oldPin };

  it("migrates while a drained instance still runs tasks", () => {
    const step = nextClusterStep(world(production, rolling, [gen(NEW), gen(OLD)], draining([task("w1", "service:web", "i-old2"), task("w2", "service:web", "i-new1")])), newPin);
    expect(step).toEqual({ kind: "migrate", why: "2 instance(s) of older images still registered" });
  });

  it("verifies once the drained instances are empty (they stay until the retire apply)", () => {
    expect(nextClusterStep(world(production, rolling, [gen(NEW), gen(OLD)], draining([task("w2", "service:web", "i-new1")])), newPin)).toEqual({ kind: "verify" });
  });

  it("does not wait for daemon tasks, nor for tasks already stopped, on drained instances", () => {
    const daemons = draining([task("l1", "service:logs", "i-old1"), task("l2", "service:logs", "i-old2"), task("w1", "service:web", "i-old1", "STOPPED")]);
    expect(nextClusterStep(world(production, rolling, [gen(NEW), gen(OLD)], daemons), newPin)).toEqual({ kind: "verify" });
    // A standalone task of the same family name is no daemon: it holds the migration.
    const standalone = draining([task("l1", "service:logs", "i-old1"), task("b1", "family:logs", "i-old2")]);
    expect(nextClusterStep(world(production, rolling, [gen(NEW), gen(OLD)], standalone), newPin).kind).toBe("migrate");
  });

  it("applies to retire the old generation once the new one is verified", () => {
    const step = nextClusterStep(world(production, { current: newVerifiedHere }, [gen(NEW), gen(OLD)], draining([])), newPin);
    expect(step).toEqual({ kind: "apply", why: `deployed ${NEW}, ${OLD}; pinned ${NEW}` });
  });

  it("after the retire apply, migrates until the old instances are gone, then is done", () => {
    expect(nextClusterStep(world(production, { current: newVerifiedHere }, [gen(NEW)], draining([])), newPin)).toEqual({
      kind: "migrate",
      why: "2 instance(s) of older images still registered",
    });
    const gone = fleet({ containerInstances: [ci("i-new1", NEW), ci("i-new2", NEW)] });
    expect(nextClusterStep(world(production, { current: newVerifiedHere }, [gen(NEW)], gone), newPin)).toEqual({ kind: "done" });
  });

  it("pins a second deployed generation as retiring while the current pin is unverified", () => {
    const step = nextClusterStep(world(production, { current: newUnverified }, [gen(NEW, "al2023-new"), gen(OLD, "al2023-old")], draining([])), newPin);
    expect(step).toStrictEqual({
      kind: "pin",
      pins: { current: newUnverified, retiring: { imageId: OLD, imageName: "al2023-old" } },
      why: `keep ${OLD} as retiring until ${NEW} is verified`,
    });
  });

  it("refuses a new target while a roll with a retiring generation is in progress", () => {
    const other: Pin = { imageId: OTHER, verifiedAt: "2026-11-20T09:00:00Z" };
    const step = nextClusterStep(world(production, rolling, [gen(NEW), gen(OLD)], draining([])), other);
    expect(step).toEqual({
      kind: "refuse",
      reason: `a roll from ${OLD} to ${NEW} is still in progress; finish it (or roll it back) before rolling to ${OTHER}`,
    });
  });
});

describe("a rejected target", () => {
  const rejection = { imageId: NEW, reason: "smoke https://www.example.com/healthz answered 502", at: "2026-11-16T09:50:00Z" };
  const rolledBack: ClusterPins = { current: oldPin, rejected: rejection };
  const refusal: ClusterStep = {
    kind: "refuse",
    reason: `${NEW} was rolled back on 2026-11-16T09:50:00Z: smoke https://www.example.com/healthz answered 502 (bump to a newer image, or remove "rejected" from the pins to try it again)`,
  };

  it("is never pinned again: the cluster finishes going back to its pin, then refuses with the rejection's reason", () => {
    const bothDeployed = fleet({ containerInstances: [ci("i-old1", OLD), ci("i-new1", NEW, "DRAINING")] });
    expect(nextClusterStep(world(production, rolledBack, [gen(NEW), gen(OLD)], bothDeployed), newPin)).toEqual({ kind: "apply", why: `deployed ${NEW}, ${OLD}; pinned ${OLD}` });
    const leaving = fleet({ containerInstances: [ci("i-old1", OLD), ci("i-new1", NEW, "DRAINING")] });
    expect(nextClusterStep(world(production, rolledBack, [gen(OLD)], leaving), newPin)).toEqual({ kind: "migrate", why: `instances of ${NEW} are leaving` });
    const back = fleet({ containerInstances: [ci("i-old1", OLD), ci("i-old2", OLD)] });
    expect(nextClusterStep(world(production, rolledBack, [gen(OLD)], back), newPin)).toEqual(refusal);
  });

  it("refuses on a replace cluster back on its pin too, and on an unverified pin (no verify step)", () => {
    const back = fleet({ containerInstances: [ci("i-old1", OLD)] });
    expect(nextClusterStep(world(staging, rolledBack, [gen(OLD)], back), newPin)).toEqual(refusal);
    const unverifiedOld: Pin = { imageId: OLD, imageName: "al2023-old" };
    expect(nextClusterStep(world(production, { current: unverifiedOld, rejected: rejection }, [gen(OLD)], back), newPin)).toEqual(refusal);
  });

  it("does not hold back a roll to another image", () => {
    const rejectedOther: ClusterPins = { current: oldPin, rejected: { ...rejection, imageId: OTHER } };
    const step = nextClusterStep(world(staging, rejectedOther, [gen(OLD)], fleet({ containerInstances: [ci("i-old1", OLD)] })), newPin);
    expect(step.kind).toBe("pin");
    expect(step.kind === "pin" && step.pins.current).toStrictEqual(newUnverified);
  });
});

describe("environmentStep", () => {
  const step: Record<StepKind, ClusterStep> = {
    reactivate: { kind: "reactivate", containerInstanceArns: [arn("i-old1")] },
    refuse: { kind: "refuse", reason: "held" },
    pin: { kind: "pin", pins: { current: newUnverified }, why: "roll" },
    apply: { kind: "apply", why: "deployed" },
    canary: { kind: "canary", imageId: NEW },
    refresh: { kind: "refresh", imageId: NEW, instances: 1 },
    drain: { kind: "drain", containerInstanceArns: [arn("i-old1")] },
    migrate: { kind: "migrate", why: "moving" },
    verify: { kind: "verify" },
    done: { kind: "done" },
  };

  it("orders the steps reactivate < refuse < pin < apply < canary < refresh < drain < migrate < verify < done", () => {
    expect(STEP_ORDER).toEqual(["reactivate", "refuse", "pin", "apply", "canary", "refresh", "drain", "migrate", "verify", "done"]);
  });

  const pairs = STEP_ORDER.flatMap((first, i) => STEP_ORDER.slice(i + 1).map((later) => [first, later] as const));
  it.each(pairs)("takes %s over %s, in either order", (first, later) => {
    expect(environmentStep([step[later], step[first]])).toBe(first);
    expect(environmentStep([step[first], step[later]])).toBe(first);
  });

  it("takes the earliest of several clusters, and done for none", () => {
    expect(environmentStep([step.done, step.verify, step.migrate, step.verify])).toBe("migrate");
    expect(environmentStep([step.done, step.done])).toBe("done");
    expect(environmentStep([])).toBe("done");
  });
});
