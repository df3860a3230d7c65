/**
 * Parallel waves (issue 21, item 4): production-eu and production-us both promote from staging
 * (test/fixtures/parallel, `maxParallel` 2) and roll at once, each with its own window (the same
 * instant in London and New York), gates, terraform and resume, on one virtual clock. Compared
 * with the same config rolled one after another (maxParallel 1): the same steps per environment,
 * the two waves overlapping in virtual time, the whole rollout over sooner. One failing stops the
 * other before its next step; Ctrl-C stops both and the same command resumes each, in process and
 * across runs of the CLI (`--simulate --state-dir`, whose replay rolls the waves as the run did).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { rolloutExitCode, rolloutOptions, simulatedWorld } from "../../scripts/commands/rollout";
import { loadConfig } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { createLogger } from "../../scripts/core/log";
import { type RolloutOptions, type RolloutResult, type WaveReport, rollout } from "../../scripts/rollout/rollout";
import { errorLines, scratch } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";
import { stopAfterTest } from "../support/stop-worlds";

jest.setTimeout(60_000);

const FIXTURE = join(__dirname, "../fixtures/parallel/amiroll.json");
const PRODUCTIONS = ["production-eu", "production-us"];

async function parallelWorld() {
  const config = loadConfig({ config: FIXTURE, env: {} });
  const lines: string[] = [];
  const log = createLogger("text", (line) => lines.push(line));
  const world = stopAfterTest(await simulatedWorld(config, { log }));
  /** What happened, in order: `step env:kind @ virtual time` (beforeStep) among the log's lines. */
  const run = (extra: Partial<RolloutOptions> = {}) =>
    rollout(rolloutOptions(world, config.environments, log, { waitForWindow: true, maxParallel: config.maxParallel, beforeStep: (env, step) => void lines.push(`step ${env}:${step} @${world.clock.now()}`), ...extra }));
  const steps = (env: string, from = 0) => lines.slice(from).filter((l) => l.startsWith(`step ${env}:`)).map((l) => l.split(" ")[1].split(":")[1]);
  return {
    config,
    world,
    lines,
    run,
    steps,
    pins: () => readPins(world.pinsPath, config.environments),
    violations: () => [...world.simulations.values()].flatMap((s) => s.world.downtimeViolations()),
  };
}

const wave = (result: RolloutResult, env: string): WaveReport => result.waves.find((w) => w.environment === env)!;

describe("parallel waves: production-eu and production-us at once (maxParallel 2)", () => {
  it("take the same steps as one after another, overlapping in virtual time, and the rollout ends sooner; 0 violations", async () => {
    const serial = await parallelWorld();
    const one = await serial.run({ maxParallel: 1 });
    const parallel = await parallelWorld();
    expect(parallel.config.maxParallel).toBe(2);
    const two = await parallel.run();

    for (const [result, s] of [[one, serial], [two, parallel]] as const) {
      expect(result.waves.map((w) => [w.environment, w.outcome])).toEqual([["staging", "done"], ["production-eu", "done"], ["production-us", "done"]]);
      expect(s.violations()).toEqual([]);
      for (const env of PRODUCTIONS) expect(s.pins()[env].apps.current.verifiedAt).toEqual(expect.any(String));
    }
    // Each environment took the same steps either way.
    for (const env of ["staging", ...PRODUCTIONS]) expect([env, parallel.steps(env)]).toEqual([env, serial.steps(env)]);
    const [eu1, us1, eu2, us2] = [wave(one, "production-eu"), wave(one, "production-us"), wave(two, "production-eu"), wave(two, "production-us")];
    // One after another: us begins once eu has ended. At once: each begins before the other ends.
    expect(us1.startedAt).toBeGreaterThanOrEqual(eu1.endedAt);
    expect(us2.startedAt).toBeLessThan(eu2.endedAt);
    expect(eu2.startedAt).toBeLessThan(us2.endedAt);
    // Both waited for their own window (09:00 in London and 04:00 in New York: the same instant).
    const [firstEu, firstUs] = ["production-eu", "production-us"].map((env) => Number(parallel.lines.find((l) => l.startsWith(`step ${env}:`))!.split("@")[1]));
    expect(firstEu).toBe(Date.parse("2026-11-24T09:00:00Z"));
    expect(firstUs).toBe(firstEu);
    // Steps of the two interleave: us begins a step between two of eu's.
    const order = parallel.lines.filter((l) => /^step production-/.test(l)).map((l) => l.split(":")[0]);
    expect(order.indexOf("step production-us")).toBeLessThan(order.lastIndexOf("step production-eu"));
    // The makespan (virtual time, start to end of the rollout).
    expect(two.endedAt - two.startedAt).toBeLessThan(one.endedAt - one.startedAt);
    // The report names each wave and what it rolled beside; every line of a wave names its environment.
    expect(eu2.parallelWith).toEqual(["production-us"]);
    expect(us1.parallelWith).toBeUndefined();
    const logged = parallel.lines.filter((l) => !l.startsWith("step ") && !l.startsWith("    "));
    const during = logged.slice(logged.findIndex((l) => l.startsWith("production-eu: ")));
    expect(during.filter((l) => !/^(warning: )?production-(eu|us)[:/ ]/.test(l))).toEqual([]);
  });

  it("one failing (eu's image crash-loops: rolled back) stops the other before its next step: us ends stopped, resumable, 0 violations", async () => {
    const s = await parallelWorld();
    const pinned = s.pins()["production-eu"].apps.current.imageId;
    // The image is broken in production-eu's world only (staging verifies it; production-us would too).
    (s.world.simulations.get("production-eu")!.world.behaviour.brokenAmis as Set<string>).add(pinned);
    const result = await s.run();
    expect(result.outcome).toBe("rolled back");
    expect(rolloutExitCode(result.outcome)).toBe(1);
    const [eu, us] = [wave(result, "production-eu"), wave(result, "production-us")];
    expect(eu.outcome).toBe("rolled back");
    expect([us.outcome, us.reason]).toEqual(["stopped", expect.stringMatching(/^stopped before \w+: production-eu ended failed: /)]);
    // After eu's failure was known (its rollback begins), us began no step; the step it was in finished (its phases say so).
    const failedAt = s.lines.findIndex((l) => l.startsWith("warning: production-eu: rolling back: "));
    expect(failedAt).toBeGreaterThan(0);
    expect(s.steps("production-us", failedAt)).toEqual([]);
    expect(s.steps("production-us").length).toBeGreaterThan(0);
    expect(us.phases.length).toBeGreaterThan(0);
    expect(s.pins()["production-us"].apps.rejected).toBeUndefined();
    expect(s.pins()["production-eu"].apps.rejected).toEqual(expect.objectContaining({ imageId: pinned }));
    expect(s.violations()).toEqual([]);
  });

  it.each<[string, string, RegExp]>([
    // Before a step: eu is in its watch, us about to begin its own.
    ["production-us", "migrate", /^(drain|migrate)$/],
    // Inside terraform: eu's add apply has created the new group (terraform gets the signal, finishes, saves its state).
    ["production-eu", "apply:created", /^(apply|drain)$/],
  ])("Ctrl-C at %s:%s stops both (exit 130, nothing rejected); the same rollout again finishes each from where it was", async (at, point, resumesWith) => {
    const s = await parallelWorld();
    const controller = new AbortController();
    const stop = (env: string, reached: string) => void (env === at && reached === point && controller.abort());
    s.world.signal = controller.signal;
    s.world.checkpoint = stop;
    const cut = await s.run({
      signal: controller.signal,
      beforeStep: (env, step) => {
        s.lines.push(`step ${env}:${step} @${s.world.clock.now()}`);
        stop(env, step);
      },
    });
    s.world.signal = undefined;
    s.world.checkpoint = undefined;
    expect(controller.signal.aborted).toBe(true);
    expect(cut.outcome).toBe("interrupted");
    expect(rolloutExitCode(cut.outcome)).toBe(130);
    expect(cut.waves.map((w) => [w.environment, w.outcome])).toEqual([["staging", "done"], ["production-eu", "interrupted"], ["production-us", "interrupted"]]);
    for (const env of PRODUCTIONS) expect(s.pins()[env].apps.rejected).toBeUndefined();
    const before = s.lines.length;
    const done = await s.run();
    expect(done.waves.map((w) => [w.environment, w.outcome])).toEqual([["staging", "already done"], ["production-eu", "done"], ["production-us", "done"]]);
    for (const env of PRODUCTIONS) {
      expect(s.pins()[env].apps.current.verifiedAt).toEqual(expect.any(String));
      // Resumed: what the first run finished is not done again (its pins were written; at the watch, its add applied).
      expect([env, s.steps(env, before)[0]]).toEqual([env, expect.stringMatching(resumesWith)]);
    }
    expect(s.violations()).toEqual([]);
  });
});

describe("amiroll rollout --simulate --state-dir with maxParallel 2: Ctrl-C in one run, the same command in the next", () => {
  it("SIGINT before production-us's watch: exit 130, both productions interrupted; run again: the replay rebuilds both, each finishes (exit 0), 0 violations", async () => {
    const dir = join(scratch, "parallel-state");
    const args = ["rollout", "--simulate", "--wait-for-window", "--config", FIXTURE, "--state-dir", dir];
    // The signal the sim's interrupt point sends, delivered to the verb's listeners without a real signal.
    const kill = jest.spyOn(process, "kill").mockImplementation(((_pid: number, signal: NodeJS.Signals) => process.emit(signal, signal)) as typeof process.kill);
    let cut;
    try {
      cut = await amirollInProcess(args, { AMIROLL_SIM_INTERRUPT: "production-us:migrate" });
    } finally {
      kill.mockRestore();
    }
    expect([cut.status, errorLines(cut.stderr).length]).toEqual([130, 1]);
    expect(cut.stderr).toContain("rollout: staging -> production-eu + production-us (simulated");
    expect(cut.stdout).toMatch(/^production-eu: interrupted/m);
    expect(cut.stdout).toMatch(/^production-us: interrupted/m);
    const journal = JSON.parse(readFileSync(join(dir, "journal.json"), "utf8"));
    expect(journal.runs).toEqual([expect.objectContaining({ options: expect.objectContaining({ maxParallel: 2 }), outcome: "interrupted" })]);
    expect(readFileSync(join(dir, "amis.json"), "utf8")).not.toContain("rejected");

    const resumed = await amirollInProcess(args);
    expect([resumed.status, errorLines(resumed.stderr)]).toEqual([0, []]);
    expect(resumed.stderr).toContain("replayed 1 earlier run(s) of this simulated world");
    expect(resumed.stderr).not.toContain("the replay left other pins");
    expect(resumed.stdout).toMatch(/^staging: already done$/m);
    expect(resumed.stdout).toMatch(/^production-eu: done$/m);
    expect(resumed.stdout).toMatch(/^production-us: done$/m);
    expect(resumed.stdout).toMatch(/^zero-downtime violations: 0$/m);
    const pins = JSON.parse(readFileSync(join(dir, "amis.json"), "utf8"));
    for (const env of PRODUCTIONS) expect(pins[env].apps.current.verifiedAt).toEqual(expect.any(String));
  });
});
