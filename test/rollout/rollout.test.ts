/**
 * The rollout against the simulated AWS: both strategies, a broken image, windows, holds,
 * a crash at each step then a resume, throttling (Ctrl-C and terraform errors: interrupts.test.ts).
 * Each test runs staging then production in virtual time (about a second of wall time).
 */
import { readFileSync, readdirSync } from "node:fs";
import { basename } from "node:path";
import { rolloutMarkdown, rolloutText } from "../../scripts/rollout/report";
import { wavesOf } from "../../scripts/rollout/rollout";
import { parseState, readBackupRecord, restoreState } from "../../scripts/terraform/state-backup";
import type { StateVersionReader } from "../../scripts/terraform/state-version";
import type { StepKind } from "../../scripts/rollout/state";
import { loadEnvironments } from "../support/repo-config";
import { PINNED, type SimulatedRolloutOptions, simulatedRollout } from "../support/simulated-rollout";

jest.setTimeout(60_000);

/** Waits for production's window, as `npm run demo` does. */
const simulated = (options: Omit<SimulatedRolloutOptions, "defaults"> = {}) => simulatedRollout({ ...options, defaults: { waitForWindow: true } });

describe("a healthy rollout", () => {
  it("rolls staging (replace) then production (blue-green) onto the pinned image, verifies both, and leaves no old generation", async () => {
    const s = await simulated();
    const oldProduction = s.groupImages("production");
    const result = await s.run();
    expect(result.outcome).toBe("done");
    expect(result.waves.map((w) => [w.environment, w.outcome])).toEqual([["staging", "done"], ["production", "done"]]);
    for (const env of ["staging", "production"]) {
      expect(s.groupImages(env)).toEqual([PINNED]);
      expect(s.instanceImages(env)).toEqual([PINNED]);
      expect(s.pins()[env].apps.current).toEqual(expect.objectContaining({ imageId: PINNED, verifiedAt: expect.any(String) }));
      expect(s.pins()[env].apps.retiring).toBeUndefined();
    }
    expect(oldProduction).not.toEqual([PINNED]);
    expect(s.violations()).toEqual([]);
    const production = result.waves[1];
    expect(production.instancesReplaced).toBe(4);
    expect(production.tasksMoved).toBeGreaterThan(0);
    expect(production.gates.map((g) => [g.gate, g.outcome])).toEqual([["steady", "passed"], ["crash loop", "passed"], ["balance", "passed"], ["alarms", "passed"], ["soak", "passed"], ["smoke", "passed"]]);
    // Production's steps: keep the old generation as retiring, add, drain, watch, gates, retire.
    expect(production.phases.map((p) => p.step)).toEqual(["window", "pins", "apply", "drain", "watch", "gates", "pins", "apply"]);
    // The window: production waited for Tuesday 09:00 London.
    expect(s.lines.join("\n")).toContain("production: waiting for its maintenance window: opens Tue 24 Nov 2026 09:00 GMT (Europe/London)");
    expect(production.pinChanges[0].join("\n")).toContain('+       "retiring": {');
    expect(rolloutText(result)[0]).toMatch(/^rollout: done after /);
    expect(rolloutMarkdown(result)).toContain("| production | ✅ done |");
  });

  it("run again, changes nothing: every wave is already done", async () => {
    const s = await simulated();
    await s.run();
    const pinsAfter = readFileSync(s.world.pinsPath, "utf8");
    const calls = s.sim("production").world.calls.length;
    const again = await s.run();
    expect(again.waves.map((w) => w.outcome)).toEqual(["already done", "already done"]);
    expect(again.outcome).toBe("done");
    expect(readFileSync(s.world.pinsPath, "utf8")).toBe(pinsAfter);
    // Only reads: no UpdateContainerInstancesState, no group created.
    const writes = s.sim("production").world.calls.slice(calls).filter((c) => !/^(Describe|List)/.test(c.operation));
    expect(writes).toEqual([]);
  });

  it("rolls a blue-green staging too, and survives throttling without downtime", async () => {
    const s = await simulated({ edit: (c) => (c.staging.strategy = "blue-green"), scenario: "throttling" });
    const result = await s.run();
    expect(result.outcome).toBe("done");
    expect(result.waves[0].phases.map((p) => p.step)).toContain("drain");
    expect(s.groupImages("staging")).toEqual([PINNED]);
    expect(s.violations()).toEqual([]);
  });
});

describe("a broken image", () => {
  it("finds it on staging's canary (replace) within minutes of the apply, rolls back with the old capacity serving, and leaves production untouched", async () => {
    const s = await simulated({ scenario: "broken-ami" });
    const productionPins = s.pins().production;
    const productionImages = s.groupImages("production");
    const oldImages = s.groupImages("staging");
    const result = await s.run({ watchTimeoutMs: 30 * 60_000 });
    expect(result.outcome).toBe("rolled back");
    expect(result.waves.map((w) => w.outcome)).toEqual(["rolled back", "not started"]);
    expect(result.waves[0].reason).toMatch(/^apps: crash loop on the canary: \d+ tasks stopped with errors on ami-\w+ .*Essential container in task exited/);
    // The old group never went: every old instance registered and ACTIVE, the canary group gone.
    expect(s.groupImages("staging")).toEqual(oldImages);
    const old = [...s.sim("staging").world.containerInstances.values()].filter((ci) => ci.imageId === oldImages[0] && ci.status !== "INACTIVE");
    expect(old.map((ci) => ci.status)).toEqual(["ACTIVE", "ACTIVE"]);
    expect(s.pins().staging.apps).toEqual({
      current: expect.objectContaining({ imageId: oldImages[0] }),
      rejected: expect.objectContaining({ imageId: PINNED, reason: result.waves[0].reason }),
    });
    expect(s.violations()).toEqual([]);
    // The verdict: from the start of the first apply to the rollback, well within 10 minutes.
    const phases = result.waves[0].phases;
    const offset = (step: string) => phases.slice(0, phases.findIndex((p) => p.step === step)).reduce((ms, p) => ms + p.ms, 0);
    expect(offset("rollback") - offset("apply")).toBeLessThan(10 * 60_000);
    expect(s.pins().production).toEqual(productionPins);
    expect(s.groupImages("production")).toEqual(productionImages);
  });

  it("rolls a blue-green staging back: old instances serve again, the new generation is gone, no downtime, and the image is not retried", async () => {
    const s = await simulated({ scenario: "broken-ami", edit: (c) => (c.staging.strategy = "blue-green") });
    const oldImages = s.groupImages("staging");
    const productionImages = s.groupImages("production");
    const result = await s.run();
    expect(result.waves.map((w) => w.outcome)).toEqual(["rolled back", "not started"]);
    expect(result.outcome).toBe("rolled back");
    expect(s.groupImages("staging")).toEqual(oldImages);
    const old = [...s.sim("staging").world.containerInstances.values()].filter((ci) => ci.imageId === oldImages[0]);
    expect(old.every((ci) => ci.status === "ACTIVE")).toBe(true);
    expect(s.pins().staging.apps).toEqual(expect.objectContaining({ current: expect.objectContaining({ imageId: oldImages[0] }), rejected: expect.objectContaining({ imageId: PINNED }) }));
    expect(s.groupImages("production")).toEqual(productionImages);
    expect(s.violations()).toEqual([]);
    expect(result.waves[0].phases.map((p) => p.step)).toContain("rollback");

    // Run again: the broken image is never rolled again, anywhere; staging re-verifies the image
    // it runs, and production (pinned to the broken image by the bump) stays on what it runs.
    const again = await s.run();
    expect(again.outcome).toBe("done");
    expect(s.groupImages("staging")).toEqual(oldImages);
    expect(s.groupImages("production")).toEqual(productionImages);
    expect(s.pins().production.apps.current.imageId).toBe(productionImages[0]);
    expect(s.violations()).toEqual([]);
  });
});

describe("windows and holds", () => {
  it("refuses production outside its window, saying when the next opens; staging still rolls", async () => {
    const s = await simulated();
    const result = await s.run({ waitForWindow: false });
    expect(result.waves.map((w) => w.outcome)).toEqual(["done", "refused"]);
    expect(result.waves[1].reason).toContain("the next opens Tue 24 Nov 2026 09:00 GMT (Europe/London)");
    expect(s.pins().production.apps.retiring).toBeUndefined();
    expect(s.pins().production.apps.current.verifiedAt).toBeUndefined();
    // In the window, the same command continues with production only.
    const later = await s.run({ ignoreWindow: true, waitForWindow: false });
    expect(later.waves.map((w) => w.outcome)).toEqual(["already done", "done"]);
  });

  it("refuses an environment on hold unless --force, and names the reason", async () => {
    const s = await simulated({ edit: (c) => (c.production.clusters.apps.hold = "black friday freeze") });
    const held = await s.run();
    expect(held.waves[1].outcome).toBe("refused");
    expect(held.waves[1].reason).toContain("on hold: production/apps: black friday freeze (--force rolls it anyway)");
    const forced = await s.run({ force: true });
    expect(forced.waves[1].outcome).toBe("done");
  });

  it("never starts production while staging is unverified", async () => {
    const s = await simulated();
    const result = await s.run({ waves: wavesOf(loadEnvironments(), "production") });
    expect(result.outcome).toBe("refused");
    expect(result.waves[0].reason).toContain("staging/apps has not verified");
    expect(s.pins().production.apps.retiring).toBeUndefined();
  });
});

describe("resume after a crash", () => {
  const crashPoints: [string, StepKind][] = [
    ["staging", "apply"],
    ["staging", "verify"],
    ["production", "pin"],
    ["production", "apply"],
    ["production", "drain"],
    ["production", "migrate"],
    ["production", "verify"],
  ];
  it.each(crashPoints)("a crash before %s's %s step, then the same command again, converges", async (env, step) => {
    const s = await simulated();
    let crashed = false;
    const crash = (e: string, k: StepKind) => {
      if (!crashed && e === env && k === step) {
        crashed = true;
        throw new Error("simulated crash");
      }
    };
    await expect(s.run({ beforeStep: crash })).rejects.toThrow("simulated crash");
    const stepsAfter: string[] = [];
    const resumed = await s.run({ beforeStep: (e, k) => void stepsAfter.push(`${e}:${k}`) });
    expect(resumed.outcome).toBe("done");
    for (const e of ["staging", "production"]) {
      expect(s.groupImages(e)).toEqual([PINNED]);
      expect(s.pins()[e].apps.current.verifiedAt).toBeDefined();
    }
    // A finished wave is not repeated.
    if (env === "production") expect(stepsAfter.filter((x) => x.startsWith("staging"))).toEqual([]);
    expect(s.violations()).toEqual([]);
  });
});

describe("state backups before every apply", () => {
  it("each wave's applies are preceded by a backup of the state and the pins as they were, and the S3 object's version, named in the log and the report", async () => {
    const s = await simulated();
    // What the S3 backend's state object would say: a version id per state (S3 itself is tested in test/terraform/state-version.test.ts and against moto).
    const asked: string[] = [];
    const stateVersion: StateVersionReader = async (backend, pulled) => {
      asked.push(`${backend.bucket}/${backend.key} ${pulled.serial}`);
      return { versionId: `v-${pulled.serial}`, note: `S3 version v-${pulled.serial}`, short: `S3 version v-${pulled.serial}` };
    };
    const result = await s.run({ stateVersion });
    const [staging, production] = result.waves;
    // Staging (replace): the canary's apply, then the replace; production (blue-green): the add, then the retire.
    expect(staging.backups).toHaveLength(2);
    expect(production.backups).toHaveLength(2);
    const log = s.lines.join("\n");
    expect(asked).toHaveLength(4);
    for (const [env, shown] of [["staging", staging.backups], ["production", production.backups]] as const) {
      for (const line of shown) {
        // The report names the file and its S3 version: `FILE (S3 version v-N)`.
        expect(line).toMatch(/^\S+-serial0*\d+\.tfstate \(S3 version v-\d+\)$/);
        const [, file, serial, version] = /^(\S+-serial0*(\d+)\.tfstate) \(S3 version v-(\d+)\)$/.exec(line)!;
        expect(version).toBe(serial);
        expect(file.startsWith(`${s.world.backups!.dir}/${env}/`)).toBe(true);
        // Named before the apply it precedes.
        const named = log.indexOf(`${env}: state backed up to ${file} (serial ${serial}; pins beside it; S3 version v-${serial})`);
        expect(named).toBeGreaterThan(-1);
        expect(log.indexOf(`${env}: terraform apply`, named)).toBeGreaterThan(named);
        expect(rolloutText(result)).toContainEqual(`  state backed up before an apply: ${line}`);
      }
    }
    const fileOf = (line: string) => line.split(" ")[0];
    const record = (line: string) => JSON.parse(readFileSync(fileOf(line).replace(/\.tfstate$/, ".json"), "utf8"));
    const pinsOf = (line: string) => JSON.parse(readFileSync(fileOf(line).replace(/\.tfstate$/, ".amis.json"), "utf8"));
    // The state the retire started from is the one the add left: same lineage, one serial on.
    const [add, retire] = production.backups.map(record);
    expect(add).toMatchObject({ s3VersionId: `v-${add.serial}`, s3Version: `S3 version v-${add.serial}`, backend: { key: "amiroll/production/terraform.tfstate" } });
    expect(retire).toMatchObject({ environment: "production", lineage: add.lineage, serial: add.serial + 1, s3VersionId: `v-${add.serial + 1}` });
    expect(add.purpose).toMatch(/^rollout: .*\(add\)$/);
    expect(retire.purpose).toMatch(/^rollout: .*\(retire\)$/);
    // The pins beside each: before the add, the old image kept as retiring; before the retire, verified and no longer kept.
    expect(pinsOf(production.backups[0]).production.apps.retiring).toBeDefined();
    expect(pinsOf(production.backups[1]).production.apps).toEqual(expect.not.objectContaining({ retiring: expect.anything() }));
    expect(pinsOf(production.backups[1]).production.apps.current.verifiedAt).toEqual(expect.any(String));
    expect(s.violations()).toEqual([]);
  });

  it("a backup restores: its resources back into the state, as the serial after the live one's; another environment's is refused", async () => {
    const s = await simulated();
    const result = await s.run();
    const [staging, production] = result.waves;
    const runner = (await s.world.access(s.environments[1]).stack()).runner;
    const file = production.backups[0];
    const options = { environment: "production", runner, shown: `--from: ${file}`, record: readBackupRecord(file), force: false, backups: s.world.backups!, at: 0, scratch: s.world.directory, log: s.log };
    // Another environment's backup: refused, whatever the flags.
    await expect(restoreState({ ...options, backupText: readFileSync(staging.backups[0], "utf8"), yes: true, force: true })).rejects.toThrow(/is not the lineage of production's state/);
    const live = parseState(await runner.statePull(), "live");
    const restored = await restoreState({ ...options, backupText: readFileSync(file, "utf8"), yes: true });
    expect(restored.outcome).toBe("pushed");
    // Before the add, the state held the old generation only: it comes back; the new one leaves terraform's record.
    expect(restored.diff.added.length).toBeGreaterThan(0);
    expect(restored.diff.removed.length).toBe(restored.diff.added.length);
    const now = parseState(await runner.statePull(), "now");
    expect(now).toEqual({ ...parseState(readFileSync(file, "utf8"), "backup"), serial: live.serial + 1 });
    expect(parseState(readFileSync(restored.before!.stateFile, "utf8"), "before")).toEqual(live);
  });

  it("keeps only the newest `keep` per environment", async () => {
    const s = await simulated();
    const result = await s.run({ backups: { ...s.world.backups!, keep: 1 } });
    expect(result.waves[1].backups).toHaveLength(2);
    expect(readdirSync(`${s.world.backups!.dir}/production`).filter((f) => f.endsWith(".tfstate"))).toEqual([basename(result.waves[1].backups[1])]);
  });
});
