/**
 * CloudWatch alarms in the simulated world, and DescribeAlarms as CloudWatch answers it.
 *
 * Every simulated cluster has the alarms a team would have on it: `<cluster>-error-rate` (the
 * load balancer's 5XX rate), `<cluster>-latency-p99` and `<cluster>-cpu-high`, all OK. In the
 * `alarm` scenario the error-rate alarm fires on the new image: it is in ALARM once a task has
 * run on an instance of that image for two one-minute periods (2 of 2 datapoints), for as long as
 * any task runs there, and OK again when none does (a rollback). Its state is a function of the
 * world at the moment it is asked, so the alarms add no event to the timeline: a world whose
 * rollout asks nothing of CloudWatch runs exactly as before.
 */
import type { World } from "./world";

export interface SimAlarm {
  readonly name: string;
  readonly clusterName: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly threshold: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  /** When the alarm was made (its OK state dates from then). */
  readonly createdAt: number;
  /** Tasks running on these images make the alarm fire (the `alarm` scenario's new image). */
  readonly firesOn: Set<string>;
  /** A state set from outside (tests), over what the world would say. */
  forced?: { readonly state: "OK" | "ALARM" | "INSUFFICIENT_DATA"; readonly reason: string; readonly since: number };
}

/** The alarms `createSimulation` gives each cluster; the first is the one the `alarm` scenario fires. */
export const SIM_ALARMS = [
  { suffix: "error-rate", namespace: "AWS/ApplicationELB", metricName: "HTTPCode_Target_5XX_Count", threshold: 5 },
  { suffix: "latency-p99", namespace: "AWS/ApplicationELB", metricName: "TargetResponseTime", threshold: 1.5 },
  { suffix: "cpu-high", namespace: "AWS/ECS", metricName: "CPUUtilization", threshold: 85 },
] as const;

/** Adds a cluster's alarms to the world (all OK); with `firesOn`, its error-rate alarm fires on that image. */
export function addClusterAlarms(alarms: Map<string, SimAlarm>, clusterName: string, at: number, firesOn?: string): void {
  for (const spec of SIM_ALARMS) {
    const name = `${clusterName}-${spec.suffix}`;
    alarms.set(name, {
      name,
      clusterName,
      namespace: spec.namespace,
      metricName: spec.metricName,
      threshold: spec.threshold,
      periodSeconds: 60,
      evaluationPeriods: 2,
      createdAt: at,
      firesOn: new Set(firesOn !== undefined && spec.suffix === "error-rate" ? [firesOn] : []),
    });
  }
}

/** `dd/MM/yy HH:mm:ss` in UTC, as CloudWatch writes the datapoints of a StateReason. */
function datapointTime(ms: number): string {
  const d = new Date(ms).toISOString();
  return `${d.slice(8, 10)}/${d.slice(5, 7)}/${d.slice(2, 4)} ${d.slice(11, 19)}`;
}

/** An alarm's state now: ALARM from `evaluationPeriods` periods after a task began running on an image it fires on. */
export function simAlarmState(world: World, alarm: SimAlarm): { state: string; reason: string; since: number } {
  if (alarm.forced) return { ...alarm.forced };
  const now = world.clock.now();
  const windowMs = alarm.periodSeconds * alarm.evaluationPeriods * 1000;
  let firstStart: number | undefined;
  if (alarm.firesOn.size > 0) {
    for (const task of world.tasks.values()) {
      if (task.clusterName !== alarm.clusterName || task.lastStatus !== "RUNNING" || task.startedAt === undefined) continue;
      const image = world.containerInstances.get(task.containerInstanceArn)?.imageId;
      if (image !== undefined && alarm.firesOn.has(image) && (firstStart === undefined || task.startedAt < firstStart)) firstStart = task.startedAt;
    }
  }
  if (firstStart !== undefined && now - firstStart >= windowMs) {
    const since = firstStart + windowMs;
    const points = Array.from({ length: alarm.evaluationPeriods }, (_, i) => `${(alarm.threshold * (4 + i * 1.5)).toFixed(1)} (${datapointTime(since - i * alarm.periodSeconds * 1000)})`);
    return {
      state: "ALARM",
      reason: `Threshold Crossed: ${alarm.evaluationPeriods} out of the last ${alarm.evaluationPeriods} datapoints [${points.join(", ")}] were greater than the threshold (${alarm.threshold.toFixed(1)}) (minimum ${alarm.evaluationPeriods} datapoints for OK -> ALARM transition).`,
      since,
    };
  }
  return { state: "OK", reason: `Threshold Crossed: 1 datapoint [0.0 (${datapointTime(now - (now % 60_000))})] was not greater than the threshold (${alarm.threshold.toFixed(1)}).`, since: alarm.createdAt };
}

/** An error as CloudWatch's query API raises it. */
type ErrorOf = (name: string, message: string) => Error;

/** DescribeAlarms: AlarmNames (at most 100) or AlarmNamePrefix, StateValue, AlarmTypes, MaxRecords (1-100) and NextToken. */
export function cloudwatchHandlers(world: World, awsError: ErrorOf): Record<string, (input: any) => unknown> {
  return {
    DescribeAlarms: (input: { AlarmNames?: string[]; AlarmNamePrefix?: string; StateValue?: string; AlarmTypes?: string[]; MaxRecords?: number; NextToken?: string }) => {
      if (input.AlarmNames !== undefined && input.AlarmNamePrefix !== undefined) throw awsError("InvalidParameterCombination", "AlarmNamePrefix and AlarmNames cannot be specified together.");
      if (input.AlarmNames !== undefined && input.AlarmNames.length > 100) throw awsError("InvalidParameterValue", "The collection AlarmNames must not have a size greater than 100.");
      if (input.MaxRecords !== undefined && (input.MaxRecords < 1 || input.MaxRecords > 100)) throw awsError("InvalidParameterValue", "MaxRecords must be between 1 and 100.");
      const metric = input.AlarmTypes === undefined || input.AlarmTypes.includes("MetricAlarm");
      const names = input.AlarmNames && new Set(input.AlarmNames);
      const matching = [...world.alarms.values()]
        .filter((a) => metric && (names ? names.has(a.name) : input.AlarmNamePrefix === undefined || a.name.startsWith(input.AlarmNamePrefix)))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((a) => ({ alarm: a, ...simAlarmState(world, a) }))
        .filter((a) => input.StateValue === undefined || a.state === input.StateValue);
      const size = input.MaxRecords ?? 50;
      const start = input.NextToken ? Number(input.NextToken) : 0;
      if (!Number.isInteger(start) || start < 0) throw awsError("InvalidNextToken", "The service returned an invalid next token.");
      const end = start + size;
      return {
        MetricAlarms: matching.slice(start, end).map(({ alarm, state, reason, since }) => ({
          AlarmName: alarm.name,
          AlarmArn: `arn:aws:cloudwatch:${world.region}:${world.accountId}:alarm:${alarm.name}`,
          StateValue: state,
          StateReason: reason,
          StateUpdatedTimestamp: new Date(since),
          Namespace: alarm.namespace,
          MetricName: alarm.metricName,
          Threshold: alarm.threshold,
          Period: alarm.periodSeconds,
          EvaluationPeriods: alarm.evaluationPeriods,
          ComparisonOperator: "GreaterThanThreshold",
        })),
        CompositeAlarms: [],
        ...(end < matching.length && { NextToken: String(end) }),
      };
    },
  };
}
