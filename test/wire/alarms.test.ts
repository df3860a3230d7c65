/**
 * The alarm gates' reads over the wire (`npm run test:wire`): the real CloudWatch client (its
 * protocol, serialization and paginated answers) against moto on 127.0.0.1, not the simulator's
 * in-process answers: 130 alarms made with PutMetricAlarm, read by name 100 to a call, by prefix
 * (moto answers it in one page), and in ALARM (SetAlarmState) with its reason and time; moto
 * ignores StateValue beside a prefix, and readAlarms keeps only the state it asked for anyway.
 * Skipped where moto is missing.
 */
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from "@aws-sdk/client-cloudwatch";
import { judgeAlarms, readAlarms } from "../../scripts/fleet/alarms";
import { MOTO_CREDENTIALS, type MotoWorld, motoMissing, startMoto } from "./moto-world";

jest.setTimeout(180_000);

const missing = motoMissing();
const it_ = missing ? it.skip : it;
if (missing) console.log(`test/wire/alarms.test.ts skipped: ${missing}`);

let moto: MotoWorld | undefined;
let cloudwatch: CloudWatchClient;

beforeAll(async () => {
  if (missing) return;
  moto = await startMoto();
  cloudwatch = new CloudWatchClient({ region: "eu-west-1", endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS, maxAttempts: 2 });
  for (let i = 0; i < 130; i++) {
    await cloudwatch.send(
      new PutMetricAlarmCommand({
        AlarmName: `wire-apps-${String(i).padStart(3, "0")}`,
        Namespace: "AWS/ApplicationELB",
        MetricName: "HTTPCode_Target_5XX_Count",
        Statistic: "Sum",
        Period: 60,
        EvaluationPeriods: 2,
        Threshold: 5,
        ComparisonOperator: "GreaterThanThreshold",
      }),
    );
  }
});

afterAll(async () => {
  cloudwatch?.destroy();
  await moto?.stop();
});

describe("readAlarms against moto", () => {
  it_("reads 101 names in 2 calls, and names the one CloudWatch does not know", async () => {
    const names = [...Array.from({ length: 100 }, (_, i) => `wire-apps-${String(i).padStart(3, "0")}`), "wire-apps-none"];
    const read = await readAlarms(cloudwatch, { names, prefixes: [] });
    expect(read.calls).toBe(2);
    expect(read.alarms).toHaveLength(100);
    expect(read.unknownNames).toEqual(["wire-apps-none"]);
  });

  it_("follows a prefix across pages of 100", async () => {
    const read = await readAlarms(cloudwatch, { names: [], prefixes: ["wire-apps-", "wire-other-"] });
    expect(read.alarms).toHaveLength(130);
    // AWS pages at 100 (MaxRecords); moto answers every alarm in one page: paging is the simulator's test (test/fleet/alarms.test.ts).
    expect(read.calls).toBeGreaterThanOrEqual(2);
    expect(read.emptyPrefixes).toEqual(["wire-other-"]);
  });

  it_("finds an alarm in ALARM with its reason and when, asking for that state only", async () => {
    const before = Date.now() - 1_000;
    await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: "wire-apps-007", StateValue: "ALARM", StateReason: "Threshold Crossed: 2 out of the last 2 datapoints were greater than the threshold (5.0)" }));
    const read = await readAlarms(cloudwatch, { names: [], prefixes: ["wire-apps-"] }, { state: "ALARM" });
    expect(read.alarms.map((a) => [a.name, a.state, a.reason])).toEqual([["wire-apps-007", "ALARM", "Threshold Crossed: 2 out of the last 2 datapoints were greater than the threshold (5.0)"]]);
    expect(read.alarms[0].stateSince).toBeGreaterThanOrEqual(before);
    expect(judgeAlarms(read.alarms, before)).toMatchObject({ imageFailed: true, reason: "alarm in ALARM: wire-apps-007 (Threshold Crossed: 2 out of the last 2 datapoints were greater than the threshold (5.0))" });
  });
});
