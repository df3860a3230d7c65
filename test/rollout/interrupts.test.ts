/**
 * Interrupts are interrupts (issue 16, item 4): Ctrl-C or SIGTERM at any point of a rollout
 * (before each step, inside a terraform plan or apply, inside a rollback) ends it "interrupted"
 * (exit 130) with nothing rolled back and nothing rejected, and the same command resumes it; a
 * rollback cut short is finished without draining anything onto the rejected image again; a
 * terraform error is "failed" (exit 1) and rejects nothing unless the image itself was shown to
 * fail. In process, a signal aborted exactly at each point, chained (each run resumes what the
 * last one left and is interrupted at the next point); then a few CLI runs that prove the same
 * across processes with `--simulate --state-dir`.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT, exitCodeOf } from "../../scripts/amiroll";
import { rolloutCommand, rolloutExitCode, rolloutOptions } from "../../scripts/commands/rollout";
import { openSimState } from "../../scripts/commands/sim-state";
import { SIMULATED_START } from "../../scripts/commands/stack";
import { TerraformError, UsageError } from "../../scripts/core/errors";
import { createLogger } from "../../scripts/core/log";
import { type EnvironmentAccess, type RolloutOptions, type RolloutResult, rollout } from "../../scripts/rollout/rollout";
import type { ScenarioName } from "../../scripts/sim/scenarios";
import type { TerraformRunner } from "../../scripts/terraform/runner";
import { REPO_CONFIG, amiroll, scratch } from "../support/cli";
import { repoConfig } from "../support/repo-config";
import { PINNED, simulatedRollout } from "../support/simulated-rollout";

jest.setTimeout(90_000);

async function simulated(options: { edit?: (config: any) => void; scenario?: ScenarioName } = {}) {
  const base = await simulatedRollout(options);
  const { world, environments, log, sim } = base;
  /** Every step each run took, as `env:step`. */
  const steps: string[][] = [];
  const run = async (extra: Partial<RolloutOptions> = {}) => {
    const taken: string[] = [];
    steps.push(taken);
    return rollout(rolloutOptions(world, environments, log, { waitForWindow: true, beforeStep: (env, step) => void taken.push(`${env}:${step}`), ...extra }));
  };
  /**
   * Ctrl-C exactly at `point` of `env`: before a step (`drain`), or inside one (`plan`,
   * `apply:created`, `rollback:pinned`, ...); the run must reach it.
   */
  const interruptedAt = async (env: string, point: string, extra: Partial<RolloutOptions> = {}) => {
    const controller = new AbortController();
    const at = (e: string, p: string) => void (e === env && p === point && controller.abort());
    world.signal = controller.signal;
    world.checkpoint = at;
    const taken: string[] = [];
    steps.push(taken);
    try {
      const result = await rollout(rolloutOptions(world, environments, log, { waitForWindow: true, beforeStep: (e, step) => (taken.push(`${e}:${step}`), at(e, step)), ...extra }));
      expect([`${env}:${point}`, controller.signal.aborted]).toEqual([`${env}:${point}`, true]);
      return result;
    } finally {
      world.signal = undefined;
      world.checkpoint = undefined;
    }
  };
  return {
    ...base,
    run,
    interruptedAt,
    steps,
    instances: (env: string, imageId: string) => [...sim(env).world.containerInstances.values()].filter((ci) => ci.imageId === imageId && ci.status !== "INACTIVE"),
  };}

type Simulated = Awaited<ReturnType<typeof simulated>>;

/** No pin of any environment records a rejected image. */
function expectNothingRejected(s: Simulated): void {
  for (const env of ["staging", "production"]) expect([env, s.pins()[env].apps.rejected]).toEqual([env, undefined]);
}

/** A run interrupted at each point in turn, each resuming what the last left; then one that finishes. */
async function chain(s: Simulated, points: readonly string[]): Promise<RolloutResult> {
  for (const point of points) {
    const [env, ...rest] = point.split(":");
    const result = await s.interruptedAt(env, rest.join(":"));
    expect([point, result.outcome, result.waves.find((w) => w.environment === env)?.outcome]).toEqual([point, "interrupted", "interrupted"]);
    expect([point, rolloutExitCode(result.outcome)]).toEqual([point, 130]);
    // An interrupt is no verdict: nothing rolled back, nothing rejected.
    expect([point, result.waves.flatMap((w) => w.phases.map((p) => p.step)).includes("rollback")]).toEqual([point, false]);
    expectNothingRejected(s);
  }
  return s.run();
}

describe("Ctrl-C at every point of a healthy rollout, then the same command again", () => {
  it("production (blue-green): before its pin, in its plan, in the add apply, before the drain, the watch and the gates, in the retire apply", async () => {
    const s = await simulated();
    const finished = await chain(s, ["production:pin", "production:plan", "production:apply:created", "production:drain", "production:migrate", "production:verify", "production:apply:deleting"]);
    expect(finished.waves.map((w) => w.outcome)).toEqual(["already done", "done"]);
    expect(s.groupImages("production")).toEqual([PINNED]);
    expect(s.pins().production.apps).toEqual({ current: expect.objectContaining({ imageId: PINNED, verifiedAt: expect.any(String) }) });
    expectNothingRejected(s);
    expect(s.violations()).toEqual([]);
    // Staging finished in the first run and was never repeated.
    expect(s.steps.slice(1).flat().filter((step) => step.startsWith("staging:"))).toEqual([]);
    // The add apply cut short after its group was created: the next run did not apply it again, it drained.
    expect(s.steps[3][0]).toBe("production:drain");
    expect(s.lines.join("\n")).toContain("Run amiroll rollout again: it continues from where the world is.");
  });

  it("staging (replace, proven on a canary): before its pin, in the canary's apply, before the canary, in its soak, in the replace's plan and apply, before the gates", async () => {
    const s = await simulated();
    const finished = await chain(s, ["staging:pin", "staging:apply:created", "staging:canary", "staging:canary:soak", "staging:plan", "staging:apply:deleting", "staging:verify"]);
    expect(finished.waves.map((w) => w.outcome)).toEqual(["done", "done"]);
    for (const env of ["staging", "production"]) expect(s.groupImages(env)).toEqual([PINNED]);
    expectNothingRejected(s);
    expect(s.violations()).toEqual([]);
  });
});

describe("Ctrl-C at every step of a canary slice, then the same command again (issue 20.2)", () => {
  it("staging blue-green with a slice: before its pin, in the add apply, before the canary, in its soak, before the drain of the rest, the watch and the gates, in the retire apply", async () => {
    const s = await simulated({ edit: (c) => Object.assign(c.staging, { strategy: "blue-green", canary: { instances: 1, soak: "1m" }, soak: "1m" }) });
    const finished = await chain(s, ["staging:pin", "staging:apply:created", "staging:canary", "staging:canary:soak", "staging:drain", "staging:migrate", "staging:verify", "staging:apply:deleting"]);
    expect(finished.waves.map((w) => w.outcome)).toEqual(["done", "done"]);
    // The run after the one cut short in the soak judged the slice again from its start, passed
    // it, and was interrupted before the drain of the rest, which the next run began with.
    expect(s.steps[4]).toEqual(["staging:canary", "staging:drain"]);
    expect(s.steps[5][0]).toBe("staging:drain");
    for (const env of ["staging", "production"]) expect(s.groupImages(env)).toEqual([PINNED]);
    expectNothingRejected(s);
    expect(s.violations()).toEqual([]);
  });

  it("staging refresh with a slice: before the batches, once the slice's old instance is DRAINING, in its soak, after a batch's termination, before the gates; then the same command finishes", async () => {
    const s = await simulated({ edit: (c) => Object.assign(c.staging, { strategy: "refresh", canary: { instances: 1, soak: "1m" }, soak: "1m" }) });
    const finished = await chain(s, ["staging:refresh", "staging:refresh:drained", "staging:canary:soak", "staging:refresh:terminated", "staging:verify"]);
    expect(finished.waves.map((w) => w.outcome)).toEqual(["done", "done"]);
    // The slice was judged again by each run that found no more than a slice of old instances
    // replaced: the one after its soak was cut, and (conservatively) the one after its batch was
    // terminated; never skipped.
    expect(s.lines.filter((l) => /apps: canary passed/.test(l)).length).toBe(2);
    expect(s.instances("staging", PINNED).length).toBeGreaterThan(0);
    expect(s.instanceImages("staging")).toEqual([PINNED]);
    expectNothingRejected(s);
    expect(s.violations()).toEqual([]);
  });
});

describe("Ctrl-C in a rollback, then the same command again: the rollback is finished, nothing drained onto the broken image", () => {
  const blueGreen = (c: any) => (c.staging.strategy = "blue-green");

  it("after the pins are written (old instances still DRAINING), then in the removal's apply", async () => {
    const s = await simulated({ scenario: "broken-ami", edit: blueGreen });
    const [old] = s.groupImages("staging").filter((id) => id !== PINNED);
    const oldInstances = s.instances("staging", old).map((ci) => ci.ec2InstanceId);
    const cut = await s.interruptedAt("staging", "rollback:pinned");
    expect(cut.outcome).toBe("interrupted");
    expect(cut.waves[0].reason).toMatch(/crash loop.*; the rollback was interrupted after the pins were written \(run amiroll rollout again to finish it\)$/);
    // Pins first: the image is rejected before anything else of the rollback happened.
    expect(s.pins().staging.apps).toEqual({ current: expect.objectContaining({ imageId: old }), rejected: expect.objectContaining({ imageId: PINNED }) });
    expect(s.instances("staging", old).map((ci) => ci.status)).toEqual(["DRAINING", "DRAINING"]);

    const log = s.sim("staging").world.log.length;
    const cutAgain = await s.interruptedAt("staging", "apply:deleting");
    expect(cutAgain.outcome).toBe("interrupted");
    // The old instances went ACTIVE first, then the apply began removing the broken generation.
    expect(s.steps[1]).toEqual(["staging:reactivate", "staging:apply"]);
    expect(s.instances("staging", old).map((ci) => ci.status)).toEqual(["ACTIVE", "ACTIVE"]);

    const finished = await s.run();
    expect(finished.waves.map((w) => w.outcome)).toEqual(["rolled back", "not started"]);
    expect(finished.waves[0].reason).toMatch(new RegExp(`^finished the rollback an earlier run began: ${PINNED}: apps: crash loop`));
    expect(rolloutExitCode(finished.outcome)).toBe(1);
    expect(s.groupImages("staging")).toEqual([old]);
    expect(s.instances("staging", PINNED)).toEqual([]);
    // No old instance was set DRAINING after the first run: no task was sent onto the broken image again.
    expect(s.sim("staging").world.log.slice(log).filter((l) => oldInstances.some((id) => l.endsWith(`${id} DRAINING`)))).toEqual([]);
    expect(s.sim("staging").world.log.slice(log).filter((l) => oldInstances.some((id) => l.endsWith(`${id} ACTIVE`)))).toHaveLength(2);
    expect(s.steps.slice(1).flat()).not.toContain("staging:drain");
    expect(s.violations()).toEqual([]);
  });

  it("before the watch (no verdict yet: nothing rejected), then after the old instances are ACTIVE again", async () => {
    const s = await simulated({ scenario: "broken-ami", edit: blueGreen });
    const [old] = s.groupImages("staging").filter((id) => id !== PINNED);
    const cut = await s.interruptedAt("staging", "migrate");
    expect(cut.outcome).toBe("interrupted");
    expectNothingRejected(s);

    const rollingBack = await s.interruptedAt("staging", "rollback:reactivated");
    expect(rollingBack.waves[0].reason).toMatch(/the rollback was interrupted after the old instances were set ACTIVE/);
    expect(s.instances("staging", old).map((ci) => ci.status)).toEqual(["ACTIVE", "ACTIVE"]);
    expect(s.groupImages("staging")).toEqual([old, PINNED].sort());

    const finished = await s.run();
    expect(s.steps[2]).toEqual(["staging:apply"]);
    expect(finished.waves[0].outcome).toBe("rolled back");
    expect(s.groupImages("staging")).toEqual([old]);
    expect(s.pins().staging.apps.rejected).toEqual(expect.objectContaining({ imageId: PINNED }));
    expect(s.violations()).toEqual([]);
  });

  it("replace: before the canary is judged, then in the canary's rollback after the pins are written", async () => {
    const s = await simulated({ scenario: "broken-ami" });
    const [old] = s.groupImages("staging");
    await s.interruptedAt("staging", "canary");
    expectNothingRejected(s);
    await s.interruptedAt("staging", "rollback:pinned");
    expect(s.pins().staging.apps.rejected).toEqual(expect.objectContaining({ imageId: PINNED }));
    const finished = await s.run();
    expect(finished.waves.map((w) => w.outcome)).toEqual(["rolled back", "not started"]);
    expect(s.groupImages("staging")).toEqual([old]);
    expect(s.instances("staging", old).every((ci) => ci.status === "ACTIVE")).toBe(true);
    expect(s.violations()).toEqual([]);
  });
});

/** Wraps each environment's terraform runner (tests inject terraform's failures here). */
function withRunner(s: Simulated, wrap: (env: string, runner: TerraformRunner) => TerraformRunner): Partial<RolloutOptions> {
  return {
    access: (environment) => {
      const access = s.world.access(environment);
      return {
        clients: access.clients,
        stack: async () => {
          const stack = await access.stack();
          return { ...stack, runner: wrap(environment.name, stack.runner) };
        },
      } satisfies EnvironmentAccess;
    },
  };
}

/** A runner whose apply throws `error` the first time `when` holds. */
function failingApply(runner: TerraformRunner, error: Error, when: () => boolean, state: { failed: boolean }): TerraformRunner {
  return {
    init: () => runner.init(),
    plan: (file) => runner.plan(file),
    showJson: (file) => runner.showJson(file),
    output: () => runner.output(),
    statePull: () => runner.statePull(),
    statePush: (file) => runner.statePush(file),
    apply: async (file) => {
      if (!state.failed && when()) {
        state.failed = true;
        throw error;
      }
      return runner.apply(file);
    },
  };
}

describe("a terraform error is no verdict on the image", () => {
  it("a failing apply is failed (exit 1): nothing rolled back, nothing rejected; the same command then finishes", async () => {
    const s = await simulated();
    const state = { failed: false };
    const error = new TerraformError("apply", "creating Auto Scaling Group (production-apps-x): operation error Auto Scaling: CreateAutoScalingGroup, api error ServiceUnavailable", 1);
    const failed = await s.run(withRunner(s, (env, runner) => (env === "production" ? failingApply(runner, error, () => true, state) : runner)));
    expect(failed.waves.map((w) => w.outcome)).toEqual(["done", "failed"]);
    expect(rolloutExitCode(failed.outcome)).toBe(1);
    expect(failed.waves[1].reason).toBe(error.message);
    expect(failed.waves[1].phases.map((p) => p.step)).not.toContain("rollback");
    expectNothingRejected(s);
    expect(s.lines.join("\n")).toContain("no verdict on the image, so nothing is rolled back and nothing rejected");
    // The roll stays where it was: production keeps its old generation pinned as retiring.
    expect(s.pins().production.apps.retiring).toBeDefined();
    const resumed = await s.run();
    expect(resumed.waves.map((w) => w.outcome)).toEqual(["already done", "done"]);
    expect(s.violations()).toEqual([]);
  });

  it("terraform stopped by the signal (the real runner's interrupted error) is interrupted, even where the signal is not the rollout's", async () => {
    const s = await simulated();
    const state = { failed: false };
    const stopped = new TerraformError("apply", "interrupted (terraform stopped after SIGINT)", undefined, true);
    const result = await s.run(withRunner(s, (env, runner) => (env === "production" ? failingApply(runner, stopped, () => true, state) : runner)));
    expect(result.waves.map((w) => w.outcome)).toEqual(["done", "interrupted"]);
    expectNothingRejected(s);
    // The CLI's mapping of the same error from plan or apply (the verbs): 130, not 1.
    expect(exitCodeOf(stopped, createLogger("text", () => undefined))).toBe(EXIT.interrupted);
    expect(exitCodeOf(new TerraformError("apply", "timed out after 3h (terraform stopped after SIGINT)"), createLogger("text", () => undefined))).toBe(EXIT.failed);
  });

  it("a rollback whose apply fails is failed, with the image already rejected; the next run finishes the rollback", async () => {
    const s = await simulated({ scenario: "broken-ami", edit: (c) => (c.staging.strategy = "blue-green") });
    const [old] = s.groupImages("staging").filter((id) => id !== PINNED);
    const state = { failed: false };
    const error = new TerraformError("apply", "deleting Auto Scaling Group: ValidationError: ScalingActivityInProgress", 1);
    const rejected = () => s.pins().staging.apps.rejected !== undefined;
    const failed = await s.run(withRunner(s, (_env, runner) => failingApply(runner, error, rejected, state)));
    expect(failed.waves[0].outcome).toBe("failed");
    expect(failed.waves[0].reason).toMatch(/; the rollback did not finish: terraform apply: deleting Auto Scaling Group/);
    expect(s.instances("staging", old).map((ci) => ci.status)).toEqual(["ACTIVE", "ACTIVE"]);
    const finished = await s.run();
    expect(finished.waves[0].outcome).toBe("rolled back");
    expect(s.groupImages("staging")).toEqual([old]);
    expect(s.violations()).toEqual([]);
  });
});

describe("amiroll rollout --simulate --state-dir: Ctrl-C in one process, the same command in the next", () => {
  const rolloutArgs = (dir: string, ...more: string[]) => ["rollout", "--simulate", "--ignore-window", "--state-dir", dir, ...more];
  const journal = (dir: string) => JSON.parse(readFileSync(join(dir, "journal.json"), "utf8"));

  it("SIGINT inside production's add apply: exit 130, nothing rejected; run again: staging already done, production done, 0 violations", () => {
    const dir = join(scratch, "state-healthy");
    const cut = amiroll(rolloutArgs(dir), { AMIROLL_SIM_INTERRUPT: "production:apply:created" });
    expect([cut.status, cut.stderr.split("\n").filter((l) => l.startsWith("amiroll:"))]).toEqual([
      130,
      [`amiroll: rollout interrupted (an interrupt is no verdict on the image); run the same command again to continue from where the world is (the simulated world is kept in ${dir})`],
    ]);
    expect(cut.stdout).toMatch(/^staging: done$/m);
    expect(cut.stdout).toMatch(/^production: interrupted/m);
    expect(journal(dir).runs).toEqual([expect.objectContaining({ interrupted: { at: expect.any(String), event: expect.any(Number) }, outcome: "interrupted" })]);
    expect(readFileSync(join(dir, "amis.json"), "utf8")).not.toContain("rejected");

    const resumed = amiroll(rolloutArgs(dir));
    expect([resumed.status, resumed.stderr.split("\n").filter((l) => l.startsWith("amiroll:"))]).toEqual([0, []]);
    expect(resumed.stderr).toContain("replayed 1 earlier run(s) of this simulated world");
    // The replay rebuilt the world the first process left: the same pins.
    expect(resumed.stderr).not.toContain("the replay left other pins");
    expect(resumed.stdout).toMatch(/^staging: already done$/m);
    expect(resumed.stdout).toMatch(/^production: done$/m);
    expect(resumed.stdout).toMatch(/^zero-downtime violations: 0$/m);
    const pins = JSON.parse(readFileSync(join(dir, "amis.json"), "utf8"));
    expect(pins.production.apps.current).toEqual(expect.objectContaining({ imageId: PINNED, verifiedAt: expect.any(String) }));
    expect(journal(dir).runs.map((r: any) => r.outcome)).toEqual(["interrupted", "done"]);
    // The state backups stay with the world; the replay made staging's states again but did not back them up twice.
    const backups = (env: string) => readdirSync(join(dir, "backups", env)).filter((f) => f.endsWith(".tfstate"));
    expect(backups("staging")).toHaveLength(2);
    expect(backups("production").length).toBeGreaterThanOrEqual(2);
    expect([...backups("staging"), ...backups("production")].filter((f) => f.includes("_"))).toEqual([]);
  });

  it("SIGTERM in a rollback after its pins are written: exit 130; run again: the rollback is finished (exit 1), no task drained onto the broken image", () => {
    const dir = join(scratch, "state-broken");
    const cut = amiroll(rolloutArgs(dir, "--scenario", "broken-ami"), { AMIROLL_SIM_INTERRUPT: "staging:rollback:pinned", AMIROLL_SIM_INTERRUPT_SIGNAL: "SIGTERM" });
    expect(cut.status).toBe(130);
    expect(cut.stderr).toContain("sending SIGTERM to this process");
    expect(JSON.parse(readFileSync(join(dir, "amis.json"), "utf8")).staging.apps.rejected).toEqual(expect.objectContaining({ imageId: PINNED }));

    // The same command (its scenario is the state directory's).
    const resumed = amiroll(rolloutArgs(dir));
    expect(resumed.status).toBe(1);
    expect(resumed.stdout).toMatch(/^staging: rolled back \(finished the rollback an earlier run began: /m);
    expect(resumed.stdout).toMatch(/^zero-downtime violations: 0$/m);
    const live = resumed.stderr.slice(resumed.stderr.indexOf("rollout: staging -> production"));
    expect(live).not.toMatch(/set DRAINING/);
  });

  it("without --state-dir, an interrupted run removes every temporary directory it made and says how to keep the world", () => {
    const tmp = join(scratch, "tmp");
    mkdirSync(tmp, { recursive: true });
    const cut = amiroll(["rollout", "--simulate", "--ignore-window"], { AMIROLL_SIM_INTERRUPT: "staging:apply", TMPDIR: tmp });
    expect(cut.status).toBe(130);
    expect(cut.stderr).toContain("(simulated without --state-dir: this world ends with this process; --state-dir DIR keeps it for the next run)");
    // (amiroll-cache-<uid> holds the drain hook's bundle, a cache every synth of this user shares.)
    expect(readdirSync(tmp).filter((name) => name !== `amiroll-cache-${process.getuid!()}`)).toEqual([]);
  });
});

describe("--state-dir and AMIROLL_SIM_INTERRUPT are checked before anything runs (exit 2)", () => {
  const run = (args: string[]) => rolloutCommand().exitOverride().parseAsync(["--config", REPO_CONFIG, ...args], { from: "user" });

  it("--state-dir needs --simulate; a file, or a directory that is no state directory, is refused", async () => {
    await expect(run(["--state-dir", join(scratch, "x")])).rejects.toThrow(new UsageError("--state-dir needs --simulate (it keeps the simulated world between runs)"));
    const file = join(scratch, "a-file");
    writeFileSync(file, "");
    await expect(run(["--simulate", "--state-dir", file])).rejects.toThrow(`--state-dir: ${file}: is a file, not a directory`);
    const other = join(scratch, "other");
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, "notes.txt"), "");
    await expect(run(["--simulate", "--state-dir", other])).rejects.toThrow(/is not empty and has no journal\.json/);
    expect(readdirSync(other)).toEqual(["notes.txt"]);
  });

  it("a state directory of another scenario or config is refused", async () => {
    const dir = join(scratch, "state-healthy-only");
    const config = repoConfig();
    openSimState(dir, config, { seed: 1, startAt: SIMULATED_START });
    await expect(run(["--simulate", "--scenario", "broken-ami", "--state-dir", dir])).rejects.toThrow(/runs the scenario healthy, not broken-ami; drop --scenario, or use a new directory$/);
    const edited = { ...config, environments: config.environments.map((e) => ({ ...e, clusters: e.clusters.map((c) => ({ ...c, desiredCapacity: c.desiredCapacity + 1 })) })) };
    expect(() => openSimState(dir, edited, { seed: 1, startAt: SIMULATED_START })).toThrow(/made from another amiroll\.json or amis\.json; use a new directory$/);
  });

  it("AMIROLL_SIM_INTERRUPT names an environment and a point", async () => {
    process.env.AMIROLL_SIM_INTERRUPT = "production:somewhere";
    try {
      await expect(run(["--simulate"])).rejects.toThrow(/^AMIROLL_SIM_INTERRUPT: production:somewhere: not ENV:POINT with ENV one of staging, production and POINT one of reactivate, pin, apply, canary, refresh, drain, migrate, verify, plan, rollback:pinned, rollback:reactivated, apply:created, apply:deleting, refresh:drained, refresh:terminated, canary:soak$/);
    } finally {
      delete process.env.AMIROLL_SIM_INTERRUPT;
    }
  });
});
