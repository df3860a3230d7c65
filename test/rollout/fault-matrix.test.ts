/**
 * The fault matrix (issue 16, item 8): `amiroll rollout` of this repository's two environments,
 * both set to one strategy, against every simulated scenario that concerns a rollout, as
 * `amiroll rollout --simulate --ignore-window --scenario NAME` runs it; every cell in one plain
 * Node process (test/support/fault-matrix-child.ts: half the CPU jest's sandbox costs). Every
 * cell: zero-downtime violations 0, and its expected verdict. Then issue 20's variants (the canary
 * slice on blue-green and refresh, capacity providers on blue-green) over the faults that concern
 * them, each also judged on what its option shows. `npm run bench:faults` prints the same matrix as
 * tables (docs/faults.md).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  LEFT_OUT_SCENARIOS,
  MATRIX_CANARY,
  MATRIX_SCENARIOS,
  MATRIX_STRATEGIES,
  MATRIX_VARIANTS,
  type FaultCell,
  type MatrixScenario,
  type MatrixVariant,
  faultTable,
  verdictProblems,
} from "../../bench/fault-matrix";

/** What a cell is judged on. */
function verdict(cell: FaultCell) {
  return {
    violations: cell.violations,
    outcome: cell.outcome,
    exitCode: cell.exitCode,
    imageRejected: cell.imageRejected,
    strategies: cell.strategies,
    ...(cell.scenario === "broken-ami" && { oldCapacityServing: cell.oldCapacityServing, verdictWithin10Minutes: cell.timeToVerdictMs <= 10 * 60_000, rollback: rollbackOf(cell) }),
    ...(cell.scenario === "alarm" && {
      oldCapacityServing: cell.oldCapacityServing,
      rollback: rollbackOf(cell),
      // The alarm's name and CloudWatch's reason, in the reason and in the report.
      alarmInReason: /alarm in ALARM: staging-apps-error-rate \(Threshold Crossed: 2 out of the last 2 datapoints /.test(cell.reason ?? ""),
      alarmInReport: cell.report.some((l) => /^staging: rolled back \(.*staging-apps-error-rate \(Threshold Crossed/.test(l)),
    }),
    ...(cell.scenario === "az-outage" && { lostZoneInReport: cell.report.some((l) => /^ {2}balance apps: .*\(zone lost: eu-west-1a has no instances/.test(l)) }),
    // Only a lost zone is named lost (a first deploy's gates once ran before any refresh instance had joined: every zone "lost").
    lostZones: cell.lostZones,
  };
}

/** How the deciding wave rolled back, from the log: a generation removed, or (refresh) the launch template back and the new instances replaced in batches. */
function rollbackOf(cell: FaultCell): string | undefined {
  const log = cell.log.join("\n");
  if (/roll back: remove the new generation/.test(log) && /rolled back; the old generation serves as before/.test(log)) return "the new generation removed";
  if (/roll back: the launch template back to the old image/.test(log) && /rolled back; every instance runs the old image again/.test(log) && /\brollback \d/.test(cell.report.join("\n"))) {
    return "the launch template back, the new instances replaced in batches";
  }
  return undefined;
}

function expected(scenario: MatrixScenario, strategy: string): ReturnType<typeof verdict> {
  const done = { violations: 0, outcome: "done" as const, exitCode: 0, imageRejected: false, strategies: [strategy], lostZones: [] };
  switch (scenario) {
    case "broken-ami":
      // Found by the first wave (staging): the image is rejected, the old capacity serves, production
      // never starts. Replace and blue-green remove the new generation (the old one never left);
      // refresh has one group, so its rollback puts the old image back in the launch template and
      // replaces the first batch's new instance with one of the old image (docs/faults.md).
      return {
        violations: 0, outcome: expect.stringMatching(/^(failed|rolled back)$/), exitCode: 1, imageRejected: true, strategies: [strategy], lostZones: [], oldCapacityServing: true, verdictWithin10Minutes: true,
        rollback: strategy === "refresh" ? "the launch template back, the new instances replaced in batches" : "the new generation removed",
      };
    case "alarm":
      // The error-rate alarm fires 2 minutes after tasks run on the new image: the replace canary, the
      // refresh batches or the blue-green soak sees it; the wave rolls back (the image rejected), the
      // old capacity serves.
      return {
        violations: 0, outcome: "rolled back", exitCode: 1, imageRejected: true, strategies: [strategy], lostZones: [], oldCapacityServing: true,
        rollback: strategy === "refresh" ? "the launch template back, the new instances replaced in batches" : "the new generation removed",
        alarmInReason: true, alarmInReport: true,
      };
    case "az-outage":
      return { ...done, lostZoneInReport: true, lostZones: ["staging/apps: eu-west-1a", "production/apps: eu-west-1a"] };
    default:
      return done;
  }
}

/**
 * What a variant's cell is judged on besides its scenario's verdict. Canary: the report's `canary:`
 * line per wave that ran, the deciding wave's canary verdict and detail, and (the image failed)
 * how many old instances were ever drained. Capacity providers: which generation's provider each
 * cluster of the deciding wave uses, as ECS describes it afterwards.
 */
function variantVerdict(cell: FaultCell) {
  return {
    ...verdict(cell),
    ...(cell.canarySlice && {
      canaryLines: cell.report.filter((l) => /^ {2}canary: (passed|failed) after \d+m\d+s \(apps: /.test(l)).length,
      // The canary is its own phase in each wave's `took` line, passed or failed.
      canaryPhases: cell.report.filter((l) => /^ {2}took \d+m\d+s: .*, canary \d+m\d+s/.test(l)).length,
      canary: cell.canary?.verdict,
      canaryDetail: cell.canary?.detail,
      ...(cell.outcome !== "done" && { oldDrained: cell.oldDrained }),
    }),
    ...(cell.capacityProviders && { providers: cell.providers }),
  };
}

function expectedVariant(scenario: MatrixScenario, variant: MatrixVariant): ReturnType<typeof variantVerdict> {
  const base = expected(scenario, variant.strategy);
  const failed = scenario === "broken-ami" || scenario === "alarm";
  if (variant.canary) {
    // Good image: both waves' canary passed on the configured slice (production's is the deciding
    // wave's). Broken image or firing alarm: staging's canary failed, and of the old capacity only
    // the slice (1 instance of 2) was ever drained; without a canary, blue-green drains all of it.
    const slice = variant.strategy === "refresh" ? "apps: 1 instance (the first batch), 5m00s soaked" : "apps: 1 instance, 5m00s soaked";
    return {
      ...base,
      canaryLines: failed ? 1 : 2,
      canaryPhases: failed ? 1 : 2,
      canary: failed ? "failed" : "passed",
      canaryDetail: !failed
        ? slice
        : scenario === "alarm"
          ? expect.stringMatching(/^apps: canary gate soak: after \d+m\d+s: alarm in ALARM: staging-apps-error-rate \(Threshold Crossed: /)
          : expect.stringMatching(/^apps: crash loop (on the canary|during the refresh): \d+ tasks stopped with errors on ami-/),
      ...(failed && { oldDrained: MATRIX_CANARY.instances }),
    };
  }
  // Capacity providers: done, production's cluster, set, default and services on the new
  // generation's provider alone; rolled back, staging's on the old generation's alone.
  return { ...base, providers: failed ? { "staging/apps": "old" } : { "production/apps": "new" } };
}

/** Every cell, run once in a plain Node process (test/support/fault-matrix-child.ts), by `scenario/column` (a strategy or a variant). */
function runMatrix(): Promise<Map<string, FaultCell>> {
  const out = join(mkdtempSync(join(tmpdir(), "amiroll-matrix-")), "cells.json");
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--import", "tsx", join(__dirname, "../support/fault-matrix-child.ts"), out], { cwd: join(__dirname, "../.."), maxBuffer: 16 << 20 }, (error, _stdout, stderr) => {
      if (error) return reject(new Error(`the fault matrix's process failed: ${error.message}\n${stderr}`));
      const all = JSON.parse(readFileSync(out, "utf8")) as FaultCell[];
      resolve(new Map(all.map((c) => [`${c.scenario}/${c.variant}`, c])));
    });
  });
}

const cells: FaultCell[] = [];
let matrix: Promise<Map<string, FaultCell>>;

describe("the fault matrix: every rollout scenario x strategy", () => {
  beforeAll(() => {
    matrix = runMatrix();
    // Each cell's test awaits it; none may go unhandled meanwhile.
    matrix.catch(() => undefined);
  });

  it("covers every scenario but those of status and bump (SSM parameters and the images they name)", () => {
    expect([...LEFT_OUT_SCENARIOS].sort()).toEqual(["ami-deregistered", "ami-wrong-architecture", "ssm-malformed", "ssm-missing"]);
    expect(MATRIX_STRATEGIES).toEqual(["replace", "blue-green", "refresh"]);
    // Issue 20: the canary slice and capacity providers, each over the faults it names (plus healthy and alarm).
    expect(MATRIX_VARIANTS.map((v) => v.name)).toEqual(["blue-green+canary", "refresh+canary", "blue-green+providers"]);
    for (const v of MATRIX_VARIANTS) expect([v.name, v.scenarios]).toEqual([v.name, expect.arrayContaining(["healthy", "broken-ami", "alarm", "boot-failure", "throttling", "slow-drain", "az-outage", "imbalanced"])]);
  });

  describe.each(MATRIX_SCENARIOS.map((s) => [s]))("%s", (scenario) => {
    it.each(MATRIX_STRATEGIES.map((s) => [s]))("%s: 0 zero-downtime violations, the expected verdict", async (strategy) => {
      const cell = (await matrix).get(`${scenario}/${strategy}`)!;
      expect(cell).toBeDefined();
      cells.push(cell);
      expect(verdict(cell)).toEqual(expected(scenario, strategy));
      // The bench's judgement (its "as expected" column) agrees.
      expect(verdictProblems(cell)).toEqual([]);
    }, 180_000);
  });

  describe.each(MATRIX_VARIANTS.map((v) => [v.name, v]))("%s", (_name, variant) => {
    it.each(variant.scenarios.map((s) => [s]))("%s: 0 zero-downtime violations, the expected verdict", async (scenario) => {
      const cell = (await matrix).get(`${scenario}/${variant.name}`)!;
      expect(cell).toBeDefined();
      cells.push(cell);
      expect(variantVerdict(cell)).toEqual(expectedVariant(scenario, variant));
      expect(verdictProblems(cell)).toEqual([]);
    }, 180_000);
  });

  it("without a canary, a broken image's blue-green wave drained all of staging's old capacity (what the slice spares)", async () => {
    expect((await matrix).get("broken-ami/blue-green")!.oldDrained).toBe(2);
  }, 180_000);

  afterAll(() => {
    // The table of the cells that ran, when any missed: what `npm run bench:faults` prints.
    if (cells.some((c) => verdictProblems(c).length > 0)) console.log(faultTable(cells));
  });
});
