/**
 * The canary slice, pure parts (issue 20, item 2): where a blue-green roll with a slice stands
 * (state.ts: the canary step until the new generation is scaled to the cluster's size), and the
 * report's canary phase (inert in text and markdown).
 */
import type { Cluster } from "../../scripts/config/environments";
import type { FleetSnapshot, GroupSnapshot } from "../../scripts/fleet/snapshot";
import { rolloutMarkdown, rolloutText } from "../../scripts/rollout/report";
import type { RolloutResult, WaveReport } from "../../scripts/rollout/rollout";
import { nextClusterStep, sliceUnproven } from "../../scripts/rollout/state";
import { ALL_HOSTILE, RAW_CONTROL } from "../support/hostile";
import { inspectMarkdown } from "../support/markdown";
import { loadEnvironments } from "../support/repo-config";

const OLD = "ami-0000000000000aaaa";
const NEW = "ami-0000000000000bbbb";

const production = loadEnvironments().find((e) => e.name === "production")!.clusters[0];
const sliced: Cluster = { ...production, canary: { instances: 1, soakMs: 120_000, text: "1 instance" }, canaryInstances: 1 };

function group(imageId: string, desiredCapacity: number, status?: string): GroupSnapshot {
  return { name: `production-apps-${imageId}`, desiredCapacity, minSize: Math.min(desiredCapacity, 4), maxSize: 8, instances: [], tags: {}, ...(status && { status }) };
}
function fleet(groups: GroupSnapshot[]): FleetSnapshot {
  const ci = (id: string, imageId: string) => ({ arn: `ci/${id}`, ec2InstanceId: id, status: "ACTIVE", imageId, availabilityZone: "eu-west-1a", runningTasksCount: 1, pendingTasksCount: 0, agentConnected: true });
  return {
    at: 0,
    clusterName: "production-apps",
    groups,
    containerInstances: [ci("i-old1", OLD), ci("i-old2", OLD), ci("i-old3", OLD), ci("i-old4", OLD), ci("i-new1", NEW)],
    services: [],
    tasks: [],
    stoppedTasks: [],
    apiCalls: 0,
  };
}
const pins = { current: { imageId: NEW }, retiring: { imageId: OLD } };
const deployed = [{ imageId: NEW }, { imageId: OLD }];

describe("a blue-green roll with a canary slice, as the state derives it", () => {
  it("is at the canary while the new generation wants fewer instances than the cluster; at the drain once it is scaled up", () => {
    const atSlice = fleet([group(OLD, 4), group(NEW, 1)]);
    expect(nextClusterStep({ cluster: sliced, pins, deployed, fleet: atSlice }, { imageId: NEW })).toEqual({ kind: "canary", imageId: NEW });
    const scaled = fleet([group(OLD, 4), group(NEW, 4)]);
    expect(nextClusterStep({ cluster: sliced, pins, deployed, fleet: scaled }, { imageId: NEW })).toEqual({ kind: "drain", containerInstanceArns: ["ci/i-old1", "ci/i-old2", "ci/i-old3", "ci/i-old4"] });
  });

  it("without a canary, or once verified, or for a group being deleted: no canary step (today's blue-green)", () => {
    const atSlice = fleet([group(OLD, 4), group(NEW, 1)]);
    expect(nextClusterStep({ cluster: production, pins, deployed, fleet: atSlice }, { imageId: NEW }).kind).toBe("drain");
    expect(sliceUnproven({ cluster: production, fleet: atSlice }, NEW)).toBe(false);
    expect(sliceUnproven({ cluster: sliced, fleet: fleet([group(OLD, 4), group(NEW, 1, "Delete in progress")]) }, NEW)).toBe(false);
    expect(sliceUnproven({ cluster: { ...sliced, strategy: "replace" }, fleet: atSlice }, NEW)).toBe(false);
    const verified = { current: { imageId: NEW, verifiedAt: "2026-11-29T05:00:00Z" }, retiring: { imageId: OLD } };
    expect(nextClusterStep({ cluster: sliced, pins: verified, deployed, fleet: atSlice }, { imageId: NEW }).kind).not.toBe("canary");
  });
});

describe("the report's canary phase", () => {
  const wave = (canary: WaveReport["canary"]): WaveReport => ({
    environment: "production",
    targets: { apps: NEW },
    strategies: { apps: "blue-green" },
    outcome: "rolled back",
    startedAt: 0,
    endedAt: 400_000,
    phases: [{ step: "apply", ms: 60_000 }, { step: "canary", ms: 190_000 }, { step: "rollback", ms: 60_000 }],
    instancesReplaced: 0,
    tasksMoved: 0,
    gates: [],
    pinChanges: [],
    bootFailures: [],
    backups: [],
    ...(canary && { canary }),
  });
  const result = (w: WaveReport): RolloutResult => ({ outcome: w.outcome, waves: [w], startedAt: 0, endedAt: 400_000 });

  it("is a line of its own, after the phases, with its verdict, time and what it judged", () => {
    const text = rolloutText(result(wave({ verdict: "passed", detail: "apps: 1 instance, 2m00s soaked", ms: 190_000 })));
    expect(text).toContain("  took 6m40s: apply 1m00s, canary 3m10s, rollback 1m00s");
    expect(text[text.indexOf("  took 6m40s: apply 1m00s, canary 3m10s, rollback 1m00s") + 1]).toBe("  canary: passed after 3m10s (apps: 1 instance, 2m00s soaked)");
    expect(rolloutMarkdown(result(wave({ verdict: "failed", detail: "apps: crash loop on the canary", ms: 90_000 })))).toContain("**Canary:** ❌ failed after 1m30s (apps: crash loop on the canary)");
    expect(rolloutText(result(wave(undefined))).join("\n")).not.toMatch(/^ {2}canary:/m);
  });

  it("quotes AWS's reasons inertly: one line with visible controls as text, nothing live as markdown", () => {
    const hostile = wave({ verdict: "failed", detail: `apps: canary gate smoke: ${ALL_HOSTILE}`, ms: 90_000 });
    const line = rolloutText(result(hostile)).find((l) => l.startsWith("  canary:"))!;
    expect(line).not.toMatch(RAW_CONTROL);
    const { problems } = inspectMarkdown(rolloutMarkdown(result(hostile)));
    expect(problems).toEqual([]);
  });
});
