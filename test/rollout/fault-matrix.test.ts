/**
 * The fault matrix (issue 16, item 8): `amiroll rollout` of this repository's two environments,
 * both set to one strategy, against every simulated scenario that concerns a rollout, in
 * process as `amiroll rollout --simulate --ignore-window --scenario NAME` runs it. Every cell:
 * zero-downtime violations 0, and its expected verdict. `npm run bench:faults` prints the same
 * matrix as a table (docs/faults.md).
 */
import {
  LEFT_OUT_SCENARIOS,
  MATRIX_SCENARIOS,
  MATRIX_STRATEGIES,
  type FaultCell,
  type MatrixScenario,
  faultTable,
  runFaultCell,
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
    ...(cell.scenario === "broken-ami" && { oldCapacityServing: cell.oldCapacityServing, verdictWithin10Minutes: cell.timeToVerdictMs <= 10 * 60_000 }),
    ...(cell.scenario === "alarm" && {
      oldCapacityServing: cell.oldCapacityServing,
      // The alarm's name and CloudWatch's reason, in the reason and in the report.
      alarmInReason: /alarm in ALARM: staging-apps-error-rate \(Threshold Crossed: 2 out of the last 2 datapoints /.test(cell.reason ?? ""),
      alarmInReport: cell.report.some((l) => /^staging: rolled back \(.*staging-apps-error-rate \(Threshold Crossed/.test(l)),
    }),
    ...(cell.scenario === "az-outage" && { lostZoneInReport: cell.report.some((l) => /^ {2}balance apps: .*\(zone lost: eu-west-1a has no instances/.test(l)) }),
  };
}

function expected(scenario: MatrixScenario, strategy: string): ReturnType<typeof verdict> {
  const done = { violations: 0, outcome: "done" as const, exitCode: 0, imageRejected: false, strategies: [strategy] };
  switch (scenario) {
    case "broken-ami":
      // Found by the first wave (staging): the image is rejected, the old capacity serves, production never starts.
      return { violations: 0, outcome: expect.stringMatching(/^(failed|rolled back)$/), exitCode: 1, imageRejected: true, strategies: [strategy], oldCapacityServing: true, verdictWithin10Minutes: true };
    case "alarm":
      // The error-rate alarm fires 2 minutes after tasks run on the new image: the replace canary or
      // the blue-green soak sees it; the wave rolls back (the image rejected), the old capacity serves.
      return { violations: 0, outcome: "rolled back", exitCode: 1, imageRejected: true, strategies: [strategy], oldCapacityServing: true, alarmInReason: true, alarmInReport: true };
    case "az-outage":
      return { ...done, lostZoneInReport: true };
    default:
      return done;
  }
}

const cells: FaultCell[] = [];

describe("the fault matrix: every rollout scenario x strategy", () => {
  it("covers every scenario but those of status and bump (SSM parameters and the images they name)", () => {
    expect([...LEFT_OUT_SCENARIOS].sort()).toEqual(["ami-deregistered", "ami-wrong-architecture", "ssm-malformed", "ssm-missing"]);
    expect(MATRIX_STRATEGIES).toEqual(["replace", "blue-green"]);
  });

  describe.each(MATRIX_SCENARIOS.map((s) => [s]))("%s", (scenario) => {
    it.each(MATRIX_STRATEGIES.map((s) => [s]))("%s: 0 zero-downtime violations, the expected verdict", async (strategy) => {
      const cell = await runFaultCell(scenario, strategy);
      cells.push(cell);
      expect(verdict(cell)).toEqual(expected(scenario, strategy));
      // The bench's judgement (its "as expected" column) agrees.
      expect(verdictProblems(cell)).toEqual([]);
    });
  });

  afterAll(() => {
    // The table of the cells that ran, when any missed: what `npm run bench:faults` prints.
    if (cells.some((c) => verdictProblems(c).length > 0)) console.log(faultTable(cells));
  });
});
