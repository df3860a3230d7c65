/**
 * The alarm gates in a rollout (issue 21, item 2), against the simulated CloudWatch: an alarm that
 * goes to ALARM while the tasks move ends the watch and rolls the wave back; one in ALARM since
 * before the wave began fails it with no verdict on the image (nothing rolled back or rejected).
 * The `alarm` scenario's own cells (the canary, the soak) are in the fault matrix.
 */
import { rolloutExitCode } from "../../scripts/commands/rollout";
import { rolloutMarkdown } from "../../scripts/rollout/report";
import { HOSTILE } from "../support/hostile";
import { inspectMarkdown } from "../support/markdown";
import { PINNED, simulatedRollout } from "../support/simulated-rollout";
import { watchEnvironment } from "../../scripts/commands/watch";
import { rolloutOptions } from "../../scripts/commands/rollout";
import { verifyEnvironment } from "../../scripts/rollout/rollout";
import { simulatedRollInProgress } from "../../scripts/commands/stack";
import { createLogger } from "../../scripts/core/log";
import { findEnvironment } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { ENVIRONMENTS_CONFIG, REPO_PINS_PATH, loadEnvironments, repoConfig } from "../support/repo-config";

jest.setTimeout(60_000);

const describeAlarmsCalls = (s: Awaited<ReturnType<typeof simulatedRollout>>, env: string) => s.sim(env).world.calls.filter((c) => c.operation === "DescribeAlarms").length;

describe("the alarm gates in a rollout", () => {
  it("an alarm that fires while the tasks move ends the watch, and the blue-green wave rolls back", async () => {
    const s = await simulatedRollout({
      edit: (c) => {
        c.staging.strategy = "blue-green";
        c.staging.alarms = { names: ["staging-apps-error-rate"] };
      },
    });
    const alarm = s.sim("staging").world.alarms.get("staging-apps-error-rate")!;
    const result = await s.run({
      ignoreWindow: true,
      beforeStep: (env, step) => {
        if (env === "staging" && step === "migrate") alarm.forced = { state: "ALARM", reason: `Threshold Crossed: 5XX at 40.0 ${HOSTILE.link} ${HOSTILE.img}`, since: s.sim("staging").clock.now() };
      },
    });
    const [staging, production] = result.waves;
    expect([staging.outcome, production.outcome, rolloutExitCode(result.outcome)]).toEqual(["rolled back", "not started", 1]);
    expect(staging.reason).toMatch(/^while the tasks moved: alarm in ALARM: staging-apps-error-rate \(Threshold Crossed: 5XX at 40\.0 /);
    expect(staging.phases.map((p) => p.step)).toEqual(["window", "pins", "apply", "drain", "watch", "rollback"]);
    expect(s.pins().staging.apps.rejected).toEqual(expect.objectContaining({ imageId: PINNED }));
    expect(s.instanceImages("staging")).not.toContain(PINNED);
    expect(s.violations()).toEqual([]);
    // The report's markdown (a PR or chat) quotes the alarm's reason, inert.
    const { problems, text } = inspectMarkdown(rolloutMarkdown(result));
    expect(problems).toEqual([]);
    expect(text).toContain("staging-apps-error-rate");
    expect(rolloutMarkdown(result)).not.toMatch(/<img/);
  });

  it("an alarm in ALARM since before the wave fails it with no verdict on the image: nothing rolled back or rejected", async () => {
    const s = await simulatedRollout({ edit: (c) => (c.staging.alarms = { prefix: "staging-apps-" }) });
    const clock = s.sim("staging").clock;
    s.sim("staging").world.alarms.get("staging-apps-cpu-high")!.forced = { state: "ALARM", reason: "Threshold Crossed: CPU at 97.0", since: clock.now() - 3_600_000 };
    const result = await s.run({ ignoreWindow: true });
    const [staging] = result.waves;
    expect([staging.outcome, rolloutExitCode(result.outcome)]).toEqual(["failed", 1]);
    expect(staging.reason).toBe(`apps: the canary of ${PINNED}: in ALARM since before the wave began (not the image's doing, so nothing is rolled back): staging-apps-cpu-high (Threshold Crossed: CPU at 97.0)`);
    expect(s.pins().staging.apps.rejected).toBeUndefined();
    expect(staging.phases.map((p) => p.step)).not.toContain("rollback");
    expect(s.violations()).toEqual([]);
    expect(describeAlarmsCalls(s, "production")).toBe(0);
  });

  it("the replace canary soaks as long as the slowest watched alarm's window, so a slow alarm still rolls it back", async () => {
    const s = await simulatedRollout({ edit: (c) => (c.staging.alarms = { names: ["staging-apps-latency-p99"] }) });
    // A 6-minute window (6 one-minute periods), firing on the new image: slower than the canary's 2-minute soak.
    const alarm = s.sim("staging").world.alarms.get("staging-apps-latency-p99")!;
    Object.assign(alarm, { evaluationPeriods: 6 });
    alarm.firesOn.add(PINNED);
    const result = await s.run({ ignoreWindow: true });
    const [staging] = result.waves;
    expect(staging.outcome).toBe("rolled back");
    // The canary's soak is the gates' (rollout/slice.ts): 6 minutes here, and the alarm fires within it.
    expect(staging.reason).toMatch(/^apps: canary gate soak: after \d+m\d\ds: alarm in ALARM: staging-apps-latency-p99 \(Threshold Crossed: 6 out of the last 6 datapoints/);
    expect(s.lines).toContain("staging: the canary soaks 6m00s: the evaluation window of staging-apps-latency-p99, the slowest alarm watched");
    expect(staging.phases.map((p) => p.step)).toEqual(["window", "pins", "apply", "canary", "rollback"]);
    expect(s.pins().staging.apps.rejected).toEqual(expect.objectContaining({ imageId: PINNED }));
    expect(s.violations()).toEqual([]);
  });

  it("verify after an apply: an alarm that fired once the new image served (before verify began) rejects the image", async () => {
    const s = await simulatedRollout({ scenario: "alarm", edit: (c) => (c.staging.alarms = { prefix: "staging-apps-" }) });
    const staging = s.environments.find((e) => e.name === "staging")!;
    // As Atlantis would: apply the bump PR's plan (a replace roll), then wait; verify runs later.
    const stack = await s.world.access(staging).stack();
    await stack.runner.init();
    await stack.runner.plan(`${stack.directory}/test.tfplan`);
    await stack.runner.apply(`${stack.directory}/test.tfplan`);
    await s.world.clock.sleep(10 * 60_000);
    const firedAt = s.sim("staging").clock.now();
    const report = await verifyEnvironment(staging, rolloutOptions(s.world, s.environments, s.log, {}));
    expect(report.outcome).toBe("failed"); // replace: no old generation to go back to
    expect(report.reason).toMatch(/^gate alarms: alarm in ALARM: staging-apps-error-rate \(Threshold Crossed: /);
    expect(report.startedAt).toBeGreaterThanOrEqual(firedAt);
    expect(s.pins().staging.apps.rejected).toEqual(expect.objectContaining({ imageId: PINNED }));
    expect(s.violations()).toEqual([]);
  });

  it("refresh: the alarm scenario's alarm stops the batches, and the wave rolls back in batches", async () => {
    const s = await simulatedRollout({
      scenario: "alarm",
      edit: (c) => {
        c.staging.strategy = "refresh";
        c.staging.alarms = { prefix: "staging-apps-" };
      },
    });
    const result = await s.run({ ignoreWindow: true });
    const [staging] = result.waves;
    expect(staging.outcome).toBe("rolled back");
    // Seen between the batches, not only at the gates after them.
    expect(staging.reason).toMatch(/^apps: during the refresh: alarm in ALARM: staging-apps-error-rate \(Threshold Crossed: /);
    expect(staging.phases.map((p) => p.step)).not.toContain("gates");
    expect(s.pins().staging.apps.rejected).toEqual(expect.objectContaining({ imageId: PINNED }));
    expect(s.instanceImages("staging")).not.toContain(PINNED);
    expect(s.violations()).toEqual([]);
  });

  it("amiroll watch (after an apply) ends on an alarm in ALARM: exit 1, the alarm's name and reason in the log", async () => {
    const raw = structuredClone(ENVIRONMENTS_CONFIG) as any;
    raw.staging.alarms = { names: ["staging-apps-error-rate"] };
    const environments = loadEnvironments(raw);
    const config = { ...repoConfig(), environments, pins: readPins(REPO_PINS_PATH, environments) };
    const staging = findEnvironment(environments, "staging");
    const lines: string[] = [];
    const log = createLogger("text", (line) => lines.push(line));
    const sim = await simulatedRollInProgress({ config, environment: staging, log, simulate: true });
    sim.world.alarms.get("staging-apps-error-rate")!.forced = { state: "ALARM", reason: "Threshold Crossed: 5XX at 40.0", since: sim.clock.now() + 1 };
    const stdout = jest.spyOn(console, "log").mockImplementation(() => {});
    try {
      await expect(watchEnvironment({ config, environment: staging, log, clients: sim.clients, clock: sim.clock, timeoutMs: 30 * 60_000, stallAfterMs: 10 * 60_000, timeoutText: "30m" })).rejects.toMatchObject({ name: "Exit", code: 1 });
      expect(stdout).toHaveBeenCalledWith("watch of staging: alarm");
    } finally {
      stdout.mockRestore();
      sim.clock.stop();
    }
    expect(lines).toContain("amiroll: watch of staging failed: alarm in ALARM: staging-apps-error-rate (Threshold Crossed: 5XX at 40.0)");
  });
});
