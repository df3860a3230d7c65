/**
 * `amiroll verify`'s core (rollout.ts `verifyEnvironment`, the rollout's wave loop in verify
 * mode) against the simulated AWS, in process: the PR loop end to end on one world (bump staging,
 * apply, verify, bump production promotes, apply, verify, retire apply; then all of it again
 * changes nothing), an environment with nothing applied (refused, nothing changed), a timeout
 * (failed, no verdict: nothing rejected) and a broken image interrupted (nothing rejected) then
 * judged (rejected, the old generation serving).
 */
import { readFileSync } from "node:fs";
import { bumpPlan } from "../../scripts/commands/bump";
import { rolloutExitCode, rolloutOptions } from "../../scripts/commands/rollout";
import { type Pins, writePins } from "../../scripts/config/pins";
import { UsageError } from "../../scripts/core/errors";
import { verifyCommitMessage } from "../../scripts/rollout/report";
import { type RolloutOptions, verifyEnvironment } from "../../scripts/rollout/rollout";
import type { ScenarioName } from "../../scripts/sim/scenarios";
import { guardPlan } from "../../scripts/terraform/guard";
import { parsePlan } from "../../scripts/terraform/plan";
import { repoConfig } from "../support/repo-config";
import { PINNED, simulatedRollout } from "../support/simulated-rollout";

jest.setTimeout(60_000);

/**
 * The simulated world with the PR loop's verbs as functions on it: bump (bumpPlan and writePins,
 * as `amiroll bump`), apply (plan, guard, apply, as `amiroll apply`), verify. `pins` edits the
 * pins before anything runs.
 */
async function loop(options: { scenario?: ScenarioName; edit?: (config: any) => void; pins?: (s: Awaited<ReturnType<typeof simulatedRollout>>, pins: Pins) => Pins } = {}) {
  const s = await simulatedRollout({ scenario: options.scenario, edit: options.edit });
  if (options.pins) writePins(s.world.pinsPath, options.pins(s, s.pins()), s.environments);
  const environment = (name: string) => s.environments.find((e) => e.name === name)!;
  const config = () => ({ ...repoConfig(), environments: s.environments, pins: s.pins(), pinsPath: s.world.pinsPath });
  const access = { clients: (e: { name: string }) => s.sim(e.name).clients, clock: s.world.clock };
  return {
    ...s,
    bump: async (env?: string) => {
      const plan = await bumpPlan(config(), access, { selected: env ? [env] : [] });
      if (plan.changes.length > 0) writePins(s.world.pinsPath, plan.pins, s.environments);
      return plan;
    },
    apply: async (env: string) => {
      const stack = await s.world.access(environment(env)).stack();
      await stack.runner.init();
      const file = `${stack.directory}/test.tfplan`;
      await stack.runner.plan(file);
      const guard = guardPlan(parsePlan(await stack.runner.showJson(file), file));
      expect([env, guard.accepted, guard.reasons]).toEqual([env, true, []]);
      if (guard.verdicts.length > 0) await stack.runner.apply(file);
      return guard.verdicts.length > 0 ? guard.expect : "nothing";
    },
    verify: (env: string, extra: Partial<RolloutOptions> = {}) => verifyEnvironment(environment(env), rolloutOptions(s.world, s.environments, s.log, extra)),
    pinsText: () => readFileSync(s.world.pinsPath, "utf8"),
    writes: (env: string, from: number) => s.sim(env).world.calls.slice(from).filter((c) => !/^(Describe|List|Get)/.test(c.operation)).map((c) => c.operation),
  };
}

/** Every environment pinned to what it runs, verified there: the world before a bump PR. */
const settled = (s: Awaited<ReturnType<typeof simulatedRollout>>): Pins =>
  Object.fromEntries(s.environments.map((e) => [e.name, Object.fromEntries(e.clusters.map((c) => [c.name, { current: { imageId: s.sim(e.name).images[c.name].running, verifiedAt: "2026-11-01T09:00:00Z" } }]))])) as Pins;

describe("the PR loop on one simulated world", () => {
  it("bump staging -> apply -> verify -> bump production promotes -> apply -> verify -> retire: every pin verified, 0 violations; all again changes nothing", async () => {
    const s = await loop({ pins: settled });
    const running = s.sim("production").images.apps.running;

    const staged = await s.bump("staging");
    const image = staged.changes[0].to.imageId;
    expect(staged.changes.map((c) => `${c.environment}/${c.cluster}`)).toEqual(["staging/apps"]);
    expect(image).not.toBe(running);
    // Production waits for staging's verification (bump named it: exit 2).
    await expect(s.bump("production")).rejects.toThrow(new UsageError(`production/apps: waits for staging: it has not verified its image yet (amiroll verify --env staging once its pins are applied, or amiroll rollout --to staging; --force takes the newest image from SSM anyway)`));

    expect(await s.apply("staging")).toBe("replace");
    const staging = await s.verify("staging");
    expect([staging.outcome, staging.reason]).toEqual(["done", undefined]);
    expect(staging.gates.map((g) => g.outcome)).toEqual(["passed", "passed", "passed", "passed", "passed", "passed"]);
    expect(s.pins().staging.apps).toEqual({ current: expect.objectContaining({ imageId: image, verifiedAt: staging.verifiedAt }) });
    expect(rolloutExitCode(staging.outcome)).toBe(0);
    // The commit message names the evidence: the image, when, the soak and every gate.
    const message = verifyCommitMessage(staging)!;
    expect(message.split("\n")[0]).toBe(`amiroll verify staging: apps ${image} verified`);
    expect(message).toContain(`verified at ${staging.verifiedAt}, after `);
    expect(message).toMatch(/^- soak: passed \(10m00s steady, no crashes\)$/m);
    expect(message.match(/^- .*: passed/gm)).toHaveLength(6);

    // The verifiedAt verify wrote promotes: production takes staging's image, keeping what runs as retiring.
    const promoted = await s.bump("production");
    expect(promoted.changes.map((c) => [c.environment, c.from.imageId, c.to.imageId, c.source.kind])).toEqual([["production", running, image, "promoted"]]);
    expect(s.pins().production.apps).toEqual({ current: expect.objectContaining({ imageId: image }), retiring: expect.objectContaining({ imageId: running }) });
    expect(s.pins().production.apps.current.verifiedAt).toBeUndefined();

    expect(await s.apply("production")).toBe("add");
    const production = await s.verify("production");
    expect(production.outcome).toBe("done");
    expect(production.phases.map((p) => p.step)).toEqual(["drain", "watch", "gates", "pins"]);
    // Verified, and on to the retire step as the rollout's would be: no retiring in the pins.
    expect(s.pins().production.apps).toEqual({ current: expect.objectContaining({ imageId: image, verifiedAt: production.verifiedAt }) });
    expect(await s.apply("production")).toBe("retire");
    for (const env of ["staging", "production"]) {
      expect(s.groupImages(env)).toEqual([image]);
      expect(s.instanceImages(env)).toEqual([image]);
      expect(s.pins()[env].apps.current).toEqual(expect.objectContaining({ imageId: image, verifiedAt: expect.any(String) }));
    }
    expect(s.violations()).toEqual([]);

    // All of it again: nothing to bump, nothing to apply, already verified; no pin, no AWS write.
    const pins = s.pinsText();
    const calls = { staging: s.sim("staging").world.calls.length, production: s.sim("production").world.calls.length };
    expect((await s.bump()).changes).toEqual([]);
    for (const env of ["staging", "production"] as const) {
      expect(await s.apply(env)).toBe("nothing");
      const again = await s.verify(env);
      expect([env, again.outcome, again.pinChanges]).toEqual([env, "already done", []]);
      expect(verifyCommitMessage(again)).toBeUndefined();
      expect(s.writes(env, calls[env])).toEqual([]);
    }
    expect(s.pinsText()).toBe(pins);
  });

  it("refuses an environment whose pins are not applied (exit 2), changing nothing", async () => {
    const s = await loop();
    const pins = s.pinsText();
    const calls = s.sim("staging").world.calls.length;
    // The world runs an older image than staging's pin: nothing of the pin is applied.
    const result = await s.verify("staging");
    expect(result.outcome).toBe("refused");
    expect(result.reason).toMatch(/^staging: nothing to verify: what is pinned is not what terraform applied \(apps: .+\); apply it first \(amiroll apply --env staging\)$/);
    expect(rolloutExitCode(result.outcome)).toBe(2);
    expect(s.pinsText()).toBe(pins);
    expect(s.writes("staging", calls)).toEqual([]);
    expect(s.violations()).toEqual([]);
  });
});

/** Production (blue-green) pinned to PINNED with what it runs as retiring, as bump writes it. */
const productionBumped = (w: Awaited<ReturnType<typeof simulatedRollout>>, pins: Pins): Pins => ({ ...pins, production: { apps: { current: pins.production.apps.current, retiring: { imageId: w.sim("production").images.apps.running } } } });

describe("no verdict on the image", () => {
  it("a watch timeout is failed (exit 1) with nothing rejected; verify again continues and verifies", async () => {
    const s = await loop({ pins: productionBumped });
    expect(await s.apply("production")).toBe("add");
    const pins = s.pinsText();
    const timedOut = await s.verify("production", { watchTimeoutMs: 20_000 });
    expect([timedOut.outcome, rolloutExitCode(timedOut.outcome)]).toEqual(["failed", 1]);
    expect(timedOut.reason).toMatch(/ the (watch )?timeout/);
    expect(timedOut.rejected).toBeUndefined();
    expect(s.pinsText()).toBe(pins);
    expect(s.lines.join("\n")).toContain("no verdict on the image, so nothing is rolled back and nothing rejected; once the cause is fixed, run amiroll verify --env production again");
    const again = await s.verify("production");
    expect(again.outcome).toBe("done");
    expect(s.pins().production.apps).toEqual({ current: expect.objectContaining({ imageId: PINNED, verifiedAt: again.verifiedAt }) });
    expect(s.violations()).toEqual([]);
  });
});

describe("a broken image", () => {
  it("replace: a gate fails after the apply: exit 1, the image rejected in place (no old generation to go back to); production does not take it", async () => {
    const s = await loop({ pins: settled });
    const image = (await s.bump("staging")).changes[0].to.imageId;
    expect(await s.apply("staging")).toBe("replace");
    // The site answers 503 on the new image: the smoke gate fails.
    const failed = await s.verify("staging", { probe: async () => ({ status: 503 }) });
    expect([failed.outcome, rolloutExitCode(failed.outcome)]).toEqual(["failed", 1]);
    expect(failed.reason).toMatch(/^gate smoke: https:\/\/staging\.example\.com\/healthz: 503 \(expected 200\) after \d+ attempts$/);
    expect(failed.rejected).toEqual({ apps: image });
    expect(s.pins().staging.apps).toEqual({ current: expect.objectContaining({ imageId: image }), rejected: { imageId: image, reason: failed.reason, at: expect.any(String) } });
    expect(s.pins().staging.apps.current.verifiedAt).toBeUndefined();
    expect(s.lines.join("\n")).toContain(`staging: apps: ${image} rejected; no old generation is kept (strategy replace), so nothing can be rolled back: bump to another image (amiroll bump --env staging --to AMI_ID)`);
    await expect(s.bump("production")).rejects.toThrow(/^production\/apps: waits for staging/);
    // Verify again: the image stays rejected (refused, nothing changed).
    const again = await s.verify("staging");
    expect([again.outcome, again.pinChanges]).toEqual(["refused", []]);
    expect(s.violations()).toEqual([]);
  });

  it("interrupted before the watch: 130, nothing rejected; again: rejected (exit 1), the old generation serving, 0 violations", async () => {
    // Production (blue-green) pinned to the broken image with what it runs as retiring, applied.
    const s = await loop({ scenario: "broken-ami", pins: productionBumped });
    const old = s.sim("production").images.apps.running;
    expect(await s.apply("production")).toBe("add");
    const pins = s.pinsText();

    const controller = new AbortController();
    s.world.signal = controller.signal;
    const cut = await s.verify("production", { signal: controller.signal, beforeStep: (_env, step) => void (step === "migrate" && controller.abort()) });
    s.world.signal = undefined;
    expect([cut.outcome, rolloutExitCode(cut.outcome)]).toEqual(["interrupted", 130]);
    expect(cut.phases.map((p) => p.step)).not.toContain("rollback");
    expect(s.pinsText()).toBe(pins);
    expect(s.lines.join("\n")).toContain("Run amiroll verify --env production again: it continues from where the world is.");

    const judged = await s.verify("production");
    expect([judged.outcome, rolloutExitCode(judged.outcome)]).toEqual(["rolled back", 1]);
    expect(judged.reason).toMatch(/^apps: crash loop on the new AMI: /);
    expect(judged.rejected).toEqual({ apps: PINNED });
    expect(s.pins().production.apps).toEqual({ current: expect.objectContaining({ imageId: old }), rejected: expect.objectContaining({ imageId: PINNED, reason: judged.reason }) });
    // No terraform: both generations still deployed; the old one serves (ACTIVE), the rejected one is drained.
    expect(s.groupImages("production")).toEqual([old, PINNED].sort());
    const statuses = (imageId: string) => [...new Set([...s.sim("production").world.containerInstances.values()].filter((ci) => ci.imageId === imageId && ci.status !== "INACTIVE").map((ci) => ci.status))];
    expect(statuses(old)).toEqual(["ACTIVE"]);
    expect(statuses(PINNED)).toEqual(["DRAINING"]);
    expect(verifyCommitMessage(judged)!.split("\n")[0]).toBe(`amiroll verify production: apps ${PINNED} rejected`);
    // The next apply removes the rejected generation.
    expect(await s.apply("production")).toBe("retire");
    expect(s.groupImages("production")).toEqual([old]);
    expect(s.violations()).toEqual([]);
  });
});
