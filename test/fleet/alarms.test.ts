/**
 * The alarm gates' reading of CloudWatch (scripts/fleet/alarms.ts) against the sim's DescribeAlarms
 * (scripts/sim/alarms.ts): names 100 to a call, a prefix paged, metric and composite alarms,
 * unknown names and empty prefixes, the verdict against the wave's start, and the 30 s cadence.
 */
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { ALARM_POLL_MS, alarmCheck, alarmText, judgeAlarms, readAlarms } from "../../scripts/fleet/alarms";
import { addClusterAlarms } from "../../scripts/sim/alarms";
import { createSimClients } from "../../scripts/sim/clients";
import { VirtualClock } from "../../scripts/sim/clock";
import { Rng } from "../../scripts/sim/rng";
import { World } from "../../scripts/sim/world";

const START = Date.parse("2026-11-29T09:00:00Z");

function world(clusters: number) {
  const clock = new VirtualClock(START);
  const w = new World(clock, new Rng(1), "eu-west-1", "123456789012");
  for (let i = 0; i < clusters; i++) addClusterAlarms(w.alarms, `prod-c${String(i).padStart(3, "0")}`, START);
  const clients = createSimClients(w);
  const inputs = () => w.calls.filter((c) => c.operation === "DescribeAlarms").length;
  return { clock, world: w, cloudwatch: clients.cloudwatch, calls: inputs };
}

/** Records every DescribeAlarms input the client sends. */
function recorded(cloudwatch: CloudWatchClient) {
  const inputs: any[] = [];
  const send = cloudwatch.send.bind(cloudwatch);
  (cloudwatch as any).send = (command: any, ...rest: any[]) => {
    inputs.push(command.input);
    return send(command, ...rest);
  };
  return inputs;
}

describe("readAlarms", () => {
  it("asks for 250 names in 3 calls of at most 100, both alarm types, and names the unknown ones", async () => {
    const w = world(90); // 270 alarms
    const inputs = recorded(w.cloudwatch);
    const names = [...w.world.alarms.keys()].slice(0, 248).concat(["prod-nope", "prod-gone"]);
    const read = await readAlarms(w.cloudwatch, { names, prefixes: [] });
    expect(inputs.map((i) => i.AlarmNames.length)).toEqual([100, 100, 50]);
    expect(inputs.every((i) => i.AlarmNamePrefix === undefined && i.MaxRecords === 100 && i.AlarmTypes.join() === "MetricAlarm,CompositeAlarm")).toBe(true);
    expect(read.alarms).toHaveLength(248);
    expect(read.unknownNames).toEqual(["prod-nope", "prod-gone"]);
    expect(read.calls).toBe(3);
  });

  it("follows NextToken through a prefix's pages, and names a prefix that matches nothing", async () => {
    const w = world(80); // 240 alarms under "prod-"
    const inputs = recorded(w.cloudwatch);
    const read = await readAlarms(w.cloudwatch, { names: [], prefixes: ["prod-", "staging-"] });
    expect(inputs.map((i) => [i.AlarmNamePrefix, i.NextToken])).toEqual([["prod-", undefined], ["prod-", "100"], ["prod-", "200"], ["staging-", undefined]]);
    expect(read.alarms).toHaveLength(240);
    expect(read.emptyPrefixes).toEqual(["staging-"]);
    expect(new Set(read.alarms.map((a) => a.state))).toEqual(new Set(["OK"]));
  });

  it("asks only for alarms in ALARM when told, and then says nothing of unknown names", async () => {
    const w = world(2);
    w.world.alarms.get("prod-c001-error-rate")!.forced = { state: "ALARM", reason: "Threshold Crossed: 2 datapoints", since: START + 60_000 };
    const inputs = recorded(w.cloudwatch);
    const read = await readAlarms(w.cloudwatch, { names: ["prod-c000-error-rate", "nope"], prefixes: ["prod-c001"] }, { state: "ALARM" });
    expect(inputs.every((i) => i.StateValue === "ALARM")).toBe(true);
    expect(read.alarms).toEqual([{ name: "prod-c001-error-rate", kind: "metric", state: "ALARM", reason: "Threshold Crossed: 2 datapoints", stateSince: START + 60_000, windowMs: 120_000 }]);
    expect(read.unknownNames).toEqual([]);
  });

  it("keeps only the state it asked for, whatever the answer holds (moto ignores StateValue beside a prefix)", async () => {
    const cloudwatch = { send: async () => ({ MetricAlarms: [{ AlarmName: "a", StateValue: "OK" }, { AlarmName: "b", StateValue: "ALARM", StateReason: "r" }] }) } as unknown as CloudWatchClient;
    const read = await readAlarms(cloudwatch, { names: [], prefixes: ["p"] }, { state: "ALARM" });
    expect(read.alarms.map((a) => a.name)).toEqual(["b"]);
  });

  it("reads composite alarms too", async () => {
    const cloudwatch = { send: async () => ({ MetricAlarms: [], CompositeAlarms: [{ AlarmName: "prod-any", StateValue: "ALARM", StateReason: "child in ALARM", StateUpdatedTimestamp: new Date(START) }] }) } as unknown as CloudWatchClient;
    const read = await readAlarms(cloudwatch, { names: ["prod-any"], prefixes: [] });
    expect(read.alarms).toEqual([{ name: "prod-any", kind: "composite", state: "ALARM", reason: "child in ALARM", stateSince: START }]);
  });

  it("refuses an answer that hands back the token it was asked with (it would loop for ever)", async () => {
    const cloudwatch = { send: async (c: any) => ({ MetricAlarms: [], NextToken: c.input.NextToken ?? "t1" }) } as unknown as CloudWatchClient;
    await expect(readAlarms(cloudwatch, { names: [], prefixes: ["p"] })).rejects.toThrow("CloudWatch DescribeAlarms answered the same NextToken twice");
  });
});

describe("judgeAlarms", () => {
  const alarm = (name: string, state: string, since?: number) => ({ name, kind: "metric" as const, state, reason: `${name} crossed`, ...(since !== undefined && { stateSince: since }) });

  it("passes when none is in ALARM", () => {
    expect(judgeAlarms([alarm("a", "OK", START), alarm("b", "INSUFFICIENT_DATA")], START)).toBeUndefined();
  });

  it("is the image's failure when an alarm went to ALARM after the wave began", () => {
    const v = judgeAlarms([alarm("old", "ALARM", START - 1), alarm("new", "ALARM", START + 5)], START)!;
    expect(v.imageFailed).toBe(true);
    expect(v.reason).toBe("alarm in ALARM: new (new crossed); in ALARM since before the wave began (not the image's doing, so nothing is rolled back): old (old crossed)");
  });

  it("is no verdict on the image when every alarm in ALARM was so before the wave began", () => {
    expect(judgeAlarms([alarm("old", "ALARM", START - 1)], START)).toMatchObject({ imageFailed: false });
  });

  it("cuts a long reason to 300 characters", () => {
    expect(alarmText({ ...alarm("a", "ALARM"), reason: "x".repeat(1000) })).toBe(`a (${"x".repeat(300)}…)`);
  });
});

describe("alarmCheck", () => {
  it("asks at most every 30 s unless told to ask now, and never without alarms to watch", async () => {
    const w = world(1);
    const check = alarmCheck({ cloudwatch: w.cloudwatch, watch: { names: ["prod-c000-error-rate"], prefixes: [] }, clock: w.clock, since: START });
    expect(await check()).toBeUndefined();
    expect(await check()).toBeUndefined();
    expect(w.calls()).toBe(1);
    w.world.alarms.get("prod-c000-error-rate")!.forced = { state: "ALARM", reason: "5XX above 5", since: START + 1 };
    expect(await check()).toBeUndefined(); // within 30 s of the last ask
    expect(await check(true)).toMatchObject({ imageFailed: true, reason: "alarm in ALARM: prod-c000-error-rate (5XX above 5)" });
    await w.clock.sleep(ALARM_POLL_MS);
    expect(await check()).toMatchObject({ imageFailed: true });
    expect(w.calls()).toBe(3);
    const none = alarmCheck({ cloudwatch: w.cloudwatch, watch: undefined, clock: w.clock, since: START });
    expect(await none(true)).toBeUndefined();
    expect(w.calls()).toBe(3);
    w.clock.stop();
  });
});

describe("the sim's error-rate alarm", () => {
  it("refuses AlarmNames with AlarmNamePrefix, and more than 100 names, as CloudWatch does", async () => {
    const w = world(1);
    const { DescribeAlarmsCommand } = await import("@aws-sdk/client-cloudwatch");
    await expect(w.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: ["a"], AlarmNamePrefix: "a" }))).rejects.toMatchObject({ name: "InvalidParameterCombination" });
    await expect(w.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: Array.from({ length: 101 }, (_, i) => `a${i}`) }))).rejects.toMatchObject({ name: "InvalidParameterValue" });
  });
});
