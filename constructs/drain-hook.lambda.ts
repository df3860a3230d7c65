/**
 * The drain hook's Lambda handler: holds terminating instances (autoscaling's Terminating:Wait)
 * until ECS has moved their tasks elsewhere, then lets them go.
 *
 * Bundled with esbuild at synth (see drain-hook.ts). The SDK v3 clients come from the Lambda
 * runtime; every AWS call goes through the clients handed to `createDrainHandler`, so tests and
 * the simulated AWS run this same code against mocks.
 *
 * No invocation waits: a lifecycle event is queued on the re-check queue at once, and each
 * invocation checks every instance its SQS batch carries in one sweep (their container instances
 * described together, their tasks described together), then sends those still holding tasks back
 * in one delayed message (up to MAX_ACTIONS_PER_MESSAGE instances each). Instances whose checks
 * meet in a batch so travel together from then on, and a roll of hundreds of instances costs a
 * few calls per instance rather than a few per instance per check. A heartbeat is recorded only
 * when the last one would otherwise run out before the next check could record one, even if that
 * check fails once (constructs/names.ts, DRAIN_HOOK_TIMING); the first heartbeat due is recorded
 * before anything that can fail.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListContainerInstancesCommand,
  ListServicesCommand,
  ListTasksCommand,
  UpdateContainerInstancesStateCommand,
  type ContainerInstance,
  type DesiredStatus,
  type Task,
} from "@aws-sdk/client-ecs";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";

/** The AWS clients the handler uses (real SDK clients, mocks, or the sim's). */
export interface DrainHookClients {
  readonly ecs: Pick<ECSClient, "send">;
  readonly autoScaling: Pick<AutoScalingClient, "send">;
  readonly sqs: Pick<SQSClient, "send">;
}

export interface DrainHookSettings {
  /** The ECS cluster (name or ARN) whose instances this hook drains. */
  readonly cluster: string;
  /** The lifecycle hook's name; events of other hooks are dropped. */
  readonly hookName: string;
  /** The SQS queue that re-invokes the handler for the next check. */
  readonly recheckQueueUrl: string;
  /** Seconds between checks (the SQS delay; at most 900). */
  readonly recheckSeconds: number;
  /** After this long in Terminating:Wait the instance goes, tasks or not. */
  readonly maxDrainSeconds: number;
  /**
   * The lifecycle hook's heartbeat timeout. Unset (a function deployed before it was passed):
   * a heartbeat at every check and no backoff, as before.
   */
  readonly heartbeatTimeoutSeconds?: number;
  /**
   * The most one failed check adds between two heartbeats (names.ts FAILED_CHECK_SECONDS).
   * @default 240
   */
  readonly failedCheckSeconds?: number;
}

export interface LogEntry {
  readonly level: "info" | "warn" | "error";
  readonly message: string;
  readonly [field: string]: unknown;
}

export interface DrainHookDeps {
  readonly clients: DrainHookClients;
  readonly settings: DrainHookSettings;
  /** Milliseconds since the epoch (the sim passes its virtual clock). @default Date.now */
  readonly now?: () => number;
  /** @default one JSON object per line on stdout (CloudWatch Logs) */
  readonly log?: (entry: LogEntry) => void;
}

/** One instance's pending lifecycle action, as carried from check to check. */
export interface LifecycleAction {
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly lifecycleActionToken: string;
  readonly instanceId: string;
  /** When the instance entered Terminating:Wait (the event's time), ISO 8601. */
  readonly startedAt: string;
  /** Checks already made for this action. */
  readonly checks: number;
  /**
   * Tasks of the instance that DescribeTasks did not describe (a `MISSING` failure): they count
   * as still running, from check to check, until DescribeTasks reports them STOPPED (or the
   * maximum drain time passes).
   */
  readonly unconfirmedTasks?: readonly string[];
  /** Its container instances, verified by their ec2InstanceId at an earlier check: described directly, not listed again. */
  readonly containerInstanceArns?: readonly string[];
  /** When its heartbeat was last recorded (ISO 8601); until the first, startedAt. */
  readonly heartbeatAt?: string;
  /** The delay before this check, and the tasks that held the instance at the previous one (the backoff's memory). */
  readonly delaySeconds?: number;
  readonly remaining?: number;
  /** When a check last saw fewer tasks holding it than the check before (ISO 8601): tasks are leaving. */
  readonly leftAt?: string;
  /**
   * The tasks that held it at the previous check's listing, when that listing was a full one
   * (tasks meant to run and told to stop) of an instance already DRAINING: the next listing then
   * needs only the tasks meant to run, beside these described again. No task is placed on a
   * DRAINING instance, so a task told to stop since was one of these or is listed as meant to run.
   */
  readonly heldBy?: readonly string[];
  /**
   * How long the stops the previous checks saw took (ms, at most MAX_STOPS_CARRIED, spread over
   * their range): what an aimed re-check (stopsEndDelay) reckons with beside the sweep's own.
   */
  readonly stopsMs?: readonly number[];
}

/** A task that keeps the instance from going. */
export interface HoldingTask {
  readonly taskArn: string;
  readonly group: string;
  readonly lastStatus: string;
}

export type DrainOutcome =
  | { readonly kind: "completed"; readonly reason: "drained" | "not-registered" }
  | { readonly kind: "completed"; readonly reason: "max-drain-time"; readonly holding: readonly HoldingTask[] }
  | { readonly kind: "waiting"; readonly holding: number; readonly nextCheckSeconds: number }
  /** ECS listed container instances it did not describe: none verified to be this EC2 instance, nothing drained. */
  | { readonly kind: "unverified"; readonly listed: readonly string[]; readonly nextCheckSeconds: number }
  /** The action was already completed (a duplicate event, or a check after the end). */
  | { readonly kind: "already-completed" }
  /** A call for this instance alone failed: checked again after the re-check interval. */
  | { readonly kind: "failed"; readonly error: string; readonly nextCheckSeconds: number }
  /** A lifecycle event, queued for its first check (with whatever else the queue holds). */
  | { readonly kind: "queued" };

export type Parsed = { readonly action: LifecycleAction } | { readonly dropped: string };

const TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING";
const DETAIL_TYPE = "EC2 Instance-terminate Lifecycle Action";
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const TASK_ARN = /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task\/[A-Za-z0-9_/-]+$/;
const CONTAINER_INSTANCE_ARN = /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:container-instance\/[A-Za-z0-9_/-]+$/;
/** At most this many unconfirmed tasks ride along in a message (SQS bodies are at most 256 KiB). */
const MAX_UNCONFIRMED = 500;
/** Instances per re-check message: one DescribeContainerInstances call each, and well under 256 KiB. */
export const MAX_ACTIONS_PER_MESSAGE = 100;
/** DescribeTasks and DescribeContainerInstances take at most 100 ids, UpdateContainerInstancesState 10. */
const TASK_BATCH = 100;
const CONTAINER_INSTANCE_BATCH = 100;
const DRAIN_BATCH = 10;
/** EC2 ids per ListContainerInstances filter (`ec2InstanceId in [...]`), well within its length limit. */
const FILTER_IDS = 20;
/** Calls for single instances (heartbeats, task listings, completions) in flight at once. */
const CONCURRENCY = 10;
/** SQS's longest message delay. */
export const MAX_RECHECK_SECONDS = 900;
/** names.ts FAILED_CHECK_SECONDS with the fixed timing (the handler is bundled alone, so not imported). */
const DEFAULT_FAILED_CHECK_SECONDS = 240;
/** A drain still holding after this long, with nothing moving, is checked less often (doubling, within the heartbeat's bound). */
export const BACKOFF_AFTER_SECONDS = 300;
/**
 * The re-check delay (when shorter than the interval) of an instance due to be empty soon: its
 * count of tasks meant to run fell since its last check (tasks are leaving: the rest follow as
 * their replacements become healthy), or every task that holds it has been told to stop (it is
 * empty once they have stopped, about one stop timeout). Only while it keeps getting closer: a
 * prompt check that finds the same tasks holding goes back to the interval.
 */
export const PROMPT_RECHECK_SECONDS = 5;
/**
 * How long before the Lambda's own timeout the handler gives up on a sweep still running: it
 * reports its messages failed (they come back after the visibility timeout) rather than let the
 * invocation time out.
 */
export const DEADLINE_MARGIN_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// Parsing: everything from outside is checked; what does not fit is dropped, never retried.

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks the fields every action must have, wherever it came from. */
function checkedAction(fields: Record<string, unknown>, hookName: string, checks: number): Parsed {
  const action = {
    autoScalingGroupName: text(fields.autoScalingGroupName),
    lifecycleHookName: text(fields.lifecycleHookName),
    lifecycleActionToken: text(fields.lifecycleActionToken),
    instanceId: text(fields.instanceId),
    startedAt: text(fields.startedAt),
  };
  const missing = Object.entries(action).find(([, value]) => value === undefined);
  if (missing) return { dropped: `${missing[0]} is missing` };
  if (!INSTANCE_ID.test(action.instanceId!)) return { dropped: `instanceId ${JSON.stringify(action.instanceId)} is not an EC2 instance id` };
  if (Number.isNaN(Date.parse(action.startedAt!))) return { dropped: `startedAt ${JSON.stringify(action.startedAt)} is not a time` };
  if (action.lifecycleHookName !== hookName) {
    return { dropped: `lifecycle hook ${action.lifecycleHookName} is not this handler's (${hookName})` };
  }
  return { action: { ...(action as Omit<LifecycleAction, "checks">), checks } };
}

/** An EventBridge "EC2 Instance-terminate Lifecycle Action" event -> the action to drain. */
export function actionFromEvent(event: unknown, hookName: string): Parsed {
  if (!isRecord(event)) return { dropped: "the event is not an object" };
  if (event["detail-type"] !== DETAIL_TYPE) return { dropped: `detail-type ${JSON.stringify(event["detail-type"])} is not "${DETAIL_TYPE}"` };
  const detail = event.detail;
  if (!isRecord(detail)) return { dropped: "detail is missing" };
  if (detail.LifecycleTransition !== TERMINATING) {
    return { dropped: `LifecycleTransition ${JSON.stringify(detail.LifecycleTransition)} is not ${TERMINATING}` };
  }
  return checkedAction(
    {
      autoScalingGroupName: detail.AutoScalingGroupName,
      lifecycleHookName: detail.LifecycleHookName,
      lifecycleActionToken: detail.LifecycleActionToken,
      instanceId: detail.EC2InstanceId,
      startedAt: event.time,
    },
    hookName,
    0,
  );
}

const isCount = (value: unknown, min = 0) => typeof value === "number" && Number.isInteger(value) && value >= min;
const arnList = (value: unknown, pattern: RegExp, max: number) =>
  Array.isArray(value) && value.length <= max && value.every((arn) => typeof arn === "string" && pattern.test(arn));

/** One action as a re-check message carries it (written by `sendRechecks`). */
function actionFromFields(fields: unknown, hookName: string): Parsed {
  if (!isRecord(fields)) return { dropped: "the action is not an object" };
  if (!isCount(fields.checks)) return { dropped: "checks is not a count" };
  const { unconfirmedTasks, containerInstanceArns, heartbeatAt, delaySeconds, remaining, heldBy, leftAt, stopsMs } = fields;
  if (unconfirmedTasks !== undefined && !arnList(unconfirmedTasks, TASK_ARN, MAX_UNCONFIRMED)) return { dropped: "unconfirmedTasks is not a list of task ARNs" };
  if (containerInstanceArns !== undefined && !arnList(containerInstanceArns, CONTAINER_INSTANCE_ARN, 10)) {
    return { dropped: "containerInstanceArns is not a list of container instance ARNs" };
  }
  if (heartbeatAt !== undefined && (typeof heartbeatAt !== "string" || Number.isNaN(Date.parse(heartbeatAt)))) return { dropped: "heartbeatAt is not a time" };
  if (leftAt !== undefined && (typeof leftAt !== "string" || Number.isNaN(Date.parse(leftAt)))) return { dropped: "leftAt is not a time" };
  if (delaySeconds !== undefined && !isCount(delaySeconds, 1)) return { dropped: "delaySeconds is not a count" };
  if (remaining !== undefined && !isCount(remaining)) return { dropped: "remaining is not a count" };
  if (heldBy !== undefined && !arnList(heldBy, TASK_ARN, MAX_UNCONFIRMED)) return { dropped: "heldBy is not a list of task ARNs" };
  if (stopsMs !== undefined && !(Array.isArray(stopsMs) && stopsMs.length <= MAX_STOPS_CARRIED && stopsMs.every((ms) => isCount(ms)))) return { dropped: "stopsMs is not a list of durations" };
  const parsed = checkedAction(fields, hookName, fields.checks as number);
  if ("dropped" in parsed) return parsed;
  const extra = { unconfirmedTasks, containerInstanceArns, heartbeatAt, delaySeconds, remaining, heldBy, leftAt, stopsMs } as Partial<LifecycleAction>;
  // An empty heldBy still says the last listing was a full one; an empty list of the others says nothing.
  const present = Object.fromEntries(Object.entries(extra).filter(([key, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0 && key !== "heldBy")));
  return { action: { ...parsed.action, ...present } };
}

/** The conditions under which Lambda gives up on an asynchronous invocation and sends its record to the on-failure destination. */
const RECORD_CONDITIONS = new Set(["RetriesExhausted", "EventAgeExceeded"]);

/**
 * Lambda's record of a lifecycle event whose every invocation failed (the on-failure destination
 * of the function's asynchronous invocations is the re-check queue): `{version, timestamp,
 * requestContext: {requestId, functionArn, condition, approximateInvokeCount}, requestPayload,
 * responseContext, responsePayload}` -> the event's action, for its first check. The event in
 * `requestPayload` is checked as strictly as one from EventBridge.
 */
export function actionFromInvocationRecord(record: Record<string, unknown>, hookName: string): { readonly action: LifecycleAction; readonly condition: string } | { readonly dropped: string } {
  const context = record.requestContext;
  if (!isRecord(context)) return { dropped: "invocation record: requestContext is not an object" };
  if (typeof context.condition !== "string" || !RECORD_CONDITIONS.has(context.condition)) {
    return { dropped: `invocation record: condition ${JSON.stringify(context.condition)} is not one of ${[...RECORD_CONDITIONS].join(", ")}` };
  }
  if (!isRecord(record.requestPayload)) return { dropped: "invocation record: requestPayload is not an object" };
  const parsed = actionFromEvent(record.requestPayload, hookName);
  if ("dropped" in parsed) return { dropped: `invocation record: ${parsed.dropped}` };
  return { action: parsed.action, condition: context.condition };
}

/**
 * The body of a re-check message -> its actions: `{"actions": [...]}`, or one action alone (the
 * form of messages sent before actions travelled together). A malformed action is dropped alone.
 */
export function actionsFromRecheck(
  body: unknown,
  hookName: string,
): { readonly actions: readonly LifecycleAction[]; readonly dropped: readonly string[]; /** Set when the body was Lambda's record of a failed lifecycle event: its condition. */ readonly recovered?: string } {
  let fields: unknown;
  try {
    fields = JSON.parse(String(body));
  } catch {
    return { actions: [], dropped: ["the message body is not JSON"] };
  }
  if (!isRecord(fields)) return { actions: [], dropped: ["the message body is not an object"] };
  if ("requestContext" in fields || "requestPayload" in fields) {
    const parsed = actionFromInvocationRecord(fields, hookName);
    return "dropped" in parsed ? { actions: [], dropped: [parsed.dropped] } : { actions: [parsed.action], dropped: [], recovered: parsed.condition };
  }
  const listed = Array.isArray(fields.actions) ? (fields.actions as unknown[]) : [fields];
  const actions: LifecycleAction[] = [];
  const dropped: string[] = [];
  for (const one of listed) {
    const parsed = actionFromFields(one, hookName);
    if ("dropped" in parsed) dropped.push(parsed.dropped);
    else actions.push(parsed.action);
  }
  return { actions, dropped };
}

/**
 * One action per lifecycle action token: a duplicate chain (a repeated event, a message sent
 * twice) merges here, keeping the most cautious of each (the earliest heartbeat, every
 * unconfirmed task, no carried container instance unless both agree).
 */
export function mergeDuplicates(actions: readonly LifecycleAction[]): LifecycleAction[] {
  const byToken = new Map<string, LifecycleAction>();
  for (const action of actions) {
    const key = `${action.instanceId} ${action.lifecycleActionToken}`;
    const seen = byToken.get(key);
    if (!seen) {
      byToken.set(key, action);
      continue;
    }
    const heartbeat = (a: LifecycleAction) => Date.parse(a.heartbeatAt ?? a.startedAt);
    const unconfirmed = [...new Set([...(seen.unconfirmedTasks ?? []), ...(action.unconfirmedTasks ?? [])])].slice(0, MAX_UNCONFIRMED);
    const sameInstances = JSON.stringify(seen.containerInstanceArns) === JSON.stringify(action.containerInstanceArns);
    byToken.set(key, {
      ...seen,
      checks: Math.max(seen.checks, action.checks),
      heartbeatAt: heartbeat(action) < heartbeat(seen) ? action.heartbeatAt : seen.heartbeatAt,
      unconfirmedTasks: unconfirmed.length > 0 ? unconfirmed : undefined,
      containerInstanceArns: sameInstances ? seen.containerInstanceArns : undefined,
      delaySeconds: undefined,
      remaining: undefined,
      heldBy: undefined,
    });
  }
  return [...byToken.values()];
}

// ---------------------------------------------------------------------------------------------
// The timing policy: pure functions of the settings and the action.

/**
 * Whether the heartbeat must be recorded now, at a check that started at `nowMs` and will send
 * the next one `nextDelaySeconds` later (0: at the start of the check, before anything can fail).
 * The next check, even failing once, records one within nextDelay + failedCheckSeconds
 * (DRAIN_HOOK_TIMING); the last one must outlast that.
 */
export function heartbeatDue(settings: DrainHookSettings, lastHeartbeatMs: number, nowMs: number, nextDelaySeconds: number): boolean {
  if (settings.heartbeatTimeoutSeconds === undefined) return lastHeartbeatMs < nowMs; // every check, as before
  const failed = settings.failedCheckSeconds ?? DEFAULT_FAILED_CHECK_SECONDS;
  return lastHeartbeatMs + settings.heartbeatTimeoutSeconds * 1000 < nowMs + (nextDelaySeconds + failed) * 1000;
}

/**
 * The delay before the next check: the re-check interval, doubled from check to check once the
 * drain has lasted BACKOFF_AFTER_SECONDS with no task leaving, up to what the heartbeat timeout
 * allows (heartbeatTimeout - failedCheckSeconds, the synth-time bound of the interval itself) and
 * SQS's 15 minutes; never past the maximum drain time; PROMPT_RECHECK_SECONDS instead when the
 * instance is due to be empty soon (`dueToEmpty`, see below).
 */
export function nextCheckDelay(settings: DrainHookSettings, action: LifecycleAction, remaining: number, elapsedSeconds: number, dueToEmpty = false): number {
  const base = Math.min(settings.recheckSeconds, MAX_RECHECK_SECONDS);
  const ceiling =
    settings.heartbeatTimeoutSeconds === undefined
      ? base
      : Math.min(MAX_RECHECK_SECONDS, Math.max(base, settings.heartbeatTimeoutSeconds - (settings.failedCheckSeconds ?? DEFAULT_FAILED_CHECK_SECONDS)));
  const stuck = elapsedSeconds >= BACKOFF_AFTER_SECONDS && action.remaining !== undefined && remaining >= action.remaining;
  const delay = stuck ? Math.min(ceiling, 2 * Math.max(base, action.delaySeconds ?? base)) : dueToEmpty ? Math.min(base, PROMPT_RECHECK_SECONDS) : base;
  return Math.max(1, Math.min(delay, settings.maxDrainSeconds - elapsedSeconds));
}

/**
 * Whether an instance is due to be empty soon, at a check (`nowMs`) that found `remaining` tasks
 * holding it: tasks left it within the last re-check interval (the rest follow as their
 * replacements become healthy, a few seconds apart), or only tasks already told to stop hold it
 * (it is empty once they have stopped) and the last check was not already a prompt one that found
 * as many. Also when tasks were last seen leaving (`leftAt`, carried to the next check).
 */
export function dueToEmpty(settings: DrainHookSettings, action: LifecycleAction, remaining: number, nowMs: number, stoppingOnly: boolean): { due: boolean; leftAt?: string } {
  const base = Math.min(settings.recheckSeconds, MAX_RECHECK_SECONDS);
  const left = action.remaining !== undefined && remaining < action.remaining;
  const leftAt = left ? new Date(nowMs).toISOString() : action.leftAt;
  const recently = leftAt !== undefined && nowMs - Date.parse(leftAt) < base * 1000;
  const closer = left || (action.delaySeconds ?? base) > PROMPT_RECHECK_SECONDS;
  return { due: recently || (stoppingOnly && closer), ...(leftAt !== undefined && { leftAt }) };
}

/** How many stop lengths a re-check message carries per action (LifecycleAction.stopsMs). */
export const MAX_STOPS_CARRIED = 16;

/** Stop lengths to carry: every one when few, else MAX_STOPS_CARRIED spread evenly over them in order (their quantiles kept). */
export function stopsToCarry(stopsMs: readonly number[]): number[] {
  const sorted = stopsMs.map((ms) => Math.max(0, Math.round(ms))).sort((a, b) => a - b);
  if (sorted.length <= MAX_STOPS_CARRIED) return sorted;
  return Array.from({ length: MAX_STOPS_CARRIED }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (MAX_STOPS_CARRIED - 1))]);
}

/** The stops seen whose lengths an aimed re-check tries in turn (stopsEndDelay): the median, the third quartile, the longest. */
const STOP_QUANTILES = [0.5, 0.75, 1];

/**
 * The re-check delay of an instance held only by tasks told to stop, aimed at when their stops are
 * due to end: the latest of their `stoppingAt` plus how long stops took, as the sweep saw them
 * (`stoppedAt - stoppingAt` of the stopped service tasks it described). First the median of those
 * stops, then, each time that moment has passed (the check there found one still stopping), the
 * third quartile, then the longest. Undefined when it cannot be told (a holder without `stoppingAt`, no stop seen yet, or
 * every moment past: a stop slower than any seen), and the prompt re-check decides. Whole seconds
 * (SQS's DelaySeconds), at least 1, never past `maxSeconds`. A check that comes too soon costs
 * one listing of the instance; one that comes late holds a terminating instance that long.
 */
export function stopsEndDelay(stoppingAtMs: readonly (number | undefined)[], stopMs: readonly number[], nowMs: number, maxSeconds: number): number | undefined {
  if (stoppingAtMs.length === 0 || stopMs.length === 0 || stoppingAtMs.some((at) => at === undefined || !Number.isFinite(at))) return undefined;
  const last = Math.max(...(stoppingAtMs as number[]));
  const sorted = [...stopMs].sort((a, b) => a - b);
  const quantile = (q: number) => sorted[Math.ceil(q * (sorted.length - 1))];
  const due = STOP_QUANTILES.map((q) => last + quantile(q)).find((at) => at > nowMs);
  if (due === undefined) return undefined;
  return Math.max(1, Math.min(maxSeconds, Math.ceil((due - nowMs) / 1000)));
}

// ---------------------------------------------------------------------------------------------
// One sweep: every action an invocation carries, checked together.

type Send = (command: any) => Promise<any>;

/** Every page of a list call, following nextToken. */
async function allPages<T>(send: Send, makeCommand: (nextToken?: string) => unknown, items: (page: any) => T[] | undefined) {
  const found: T[] = [];
  let nextToken: string | undefined;
  do {
    const page = await send(makeCommand(nextToken));
    found.push(...(items(page) ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return found;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

/** `work` on every item, CONCURRENCY at a time (calls for single instances: heartbeats, listings, completions). */
async function eachLimited<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}

/** A timestamp of an SDK answer (a Date; a string or epoch seconds from a hand-made one), in ms. */
function time(value: unknown): number | undefined {
  const ms = value instanceof Date ? value.getTime() : typeof value === "string" ? Date.parse(value) : typeof value === "number" ? value * 1000 : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

function serviceOf(task: Task): string | undefined {
  return task.group?.startsWith("service:") ? task.group.slice("service:".length) : undefined;
}

/**
 * The names of the cluster's DAEMON services, from ListServices (schedulingStrategy DAEMON): a
 * service ARN ends with its name (`.../service/<cluster>/<name>`, or `.../service/<name>` in the
 * old format). No DescribeServices: the hook's role does not need it.
 */
async function daemonServiceNames(send: Send, cluster: string): Promise<Set<string>> {
  const arns = await allPages<string>(send, (nextToken) => new ListServicesCommand({ cluster, schedulingStrategy: "DAEMON", nextToken }), (page) => page.serviceArns);
  return new Set(arns.map((arn) => arn.slice(arn.lastIndexOf("/") + 1)));
}

/**
 * True when autoscaling says there is nothing left to hold: the action was completed, timed out
 * or abandoned ("No active Lifecycle Action found"), or its group was deleted ("AutoScalingGroup
 * name not found"). The chain of checks then ends quietly.
 */
export function isActionGone(error: unknown): boolean {
  const { name, message } = (error ?? {}) as { name?: string; message?: string };
  return name === "ValidationError" && /no active lifecycle action|autoscaling ?group name not found/i.test(message ?? "");
}

function lifecycleParams(action: LifecycleAction) {
  return {
    AutoScalingGroupName: action.autoScalingGroupName,
    LifecycleHookName: action.lifecycleHookName,
    LifecycleActionToken: action.lifecycleActionToken,
    InstanceId: action.instanceId,
  };
}

/** One action during a sweep. */
interface Check {
  readonly action: LifecycleAction;
  readonly about: Record<string, unknown>;
  readonly elapsedSeconds: number;
  readonly overdue: boolean;
  /** When its heartbeat was last recorded (ms). */
  heartbeatAt: number;
  /** Its container instances, verified by ec2InstanceId. */
  instances?: ContainerInstance[];
  /** Decided: complete it with this outcome. */
  completeWith?: DrainOutcome & { kind: "completed" };
  /** Decided: check again, with what to carry. */
  wait?: { outcome: DrainOutcome; remaining?: number; unconfirmed: readonly string[]; heldBy?: readonly string[]; leftAt?: string };
  /** The end of its check (set last). */
  outcome?: DrainOutcome;
}

/**
 * Checks every action given, together: records the heartbeats due, finds their container
 * instances (verified by ec2InstanceId), drains those still ACTIVE, lets go those no task holds
 * (or past the maximum drain time), and sends the others back to the re-check queue, together.
 *
 * What holds an instance (`holding`): every task whose last status is not STOPPED (RUNNING,
 * PENDING, ACTIVATING, DEACTIVATING, STOPPING, DEPROVISIONING...), except daemon-service tasks,
 * plus a task DescribeTasks does not describe (carried from check to check), plus a pending task
 * the instance reports before it is listed. An instance is let go only on a listing of its tasks
 * made in the same check; it is listed only once DescribeContainerInstances' counts leave room
 * for it to be empty (no more tasks than the cluster has daemon services), so that an instance
 * whose tasks are still there costs no listing.
 *
 * A call for one instance that fails (a heartbeat, its listing, its completion) ends that
 * instance's check alone: it is checked again after the re-check interval. A call for several
 * (describing, draining, sending the next message) failing throws: the invocation's messages
 * come back after the queue's visibility timeout.
 */
export async function checkDrains(actions: readonly LifecycleAction[], deps: DrainHookDeps): Promise<DrainOutcome[]> {
  const { clients, settings } = deps;
  const { cluster } = settings;
  const log = deps.log ?? logJson;
  const now = (deps.now ?? Date.now)();
  const send: Send = (command) => clients.ecs.send(command);
  const checks: Check[] = actions.map((action) => {
    const elapsedSeconds = Math.max(0, Math.round((now - Date.parse(action.startedAt)) / 1000));
    return {
      action,
      elapsedSeconds,
      overdue: elapsedSeconds >= settings.maxDrainSeconds,
      heartbeatAt: Date.parse(action.heartbeatAt ?? action.startedAt),
      about: { instanceId: action.instanceId, autoScalingGroupName: action.autoScalingGroupName, checks: action.checks, elapsedSeconds },
    };
  });
  const undecided = () => checks.filter((c) => !c.outcome && !c.completeWith && !c.wait);
  /** A call for this instance alone failed: its check ends; a lifecycle action no longer waiting ends its chain quietly. */
  const failed = (c: Check, error: unknown) => {
    if (isActionGone(error)) {
      log({ level: "info", message: "lifecycle action no longer waiting: stopping checks", reason: (error as Error).message, ...c.about });
      c.outcome = { kind: "already-completed" };
      return;
    }
    const nextCheckSeconds = Math.max(1, Math.min(settings.recheckSeconds, MAX_RECHECK_SECONDS, settings.maxDrainSeconds - c.elapsedSeconds));
    log({ level: "error", message: "check failed for this instance; checking it again", error: String(error), nextCheckSeconds, ...c.about });
    c.completeWith = undefined;
    c.wait = { outcome: { kind: "failed", error: String(error), nextCheckSeconds }, remaining: c.action.remaining, unconfirmed: c.action.unconfirmedTasks ?? [] };
  };
  const heartbeat = async (c: Check) => {
    await clients.autoScaling.send(new RecordLifecycleActionHeartbeatCommand(lifecycleParams(c.action)));
    c.heartbeatAt = now;
  };

  // 1. The heartbeats due now, before anything that can fail (DRAIN_HOOK_TIMING).
  await eachLimited(checks, async (c) => {
    if (!heartbeatDue(settings, c.heartbeatAt, now, 0)) return;
    try {
      await heartbeat(c);
    } catch (error) {
      failed(c, error);
    }
  });

  // 2. Their container instances: those carried described directly; the others listed by EC2 id
  // and described, and only one that carries the instance's ec2InstanceId taken (the list
  // call's filter alone is not trusted to drain with: an AWS that ignores it lists every one).
  const described = new Map<string, ContainerInstance>();
  const notDescribed = new Set<string>();
  const describe = async (arns: readonly string[]) => {
    const fresh = [...new Set(arns)].filter((arn) => !described.has(arn) && !notDescribed.has(arn));
    for (const batch of chunks(fresh, CONTAINER_INSTANCE_BATCH)) {
      const out = await send(new DescribeContainerInstancesCommand({ cluster, containerInstances: batch }));
      for (const ci of (out.containerInstances ?? []) as ContainerInstance[]) if (ci.containerInstanceArn) described.set(ci.containerInstanceArn, ci);
      for (const arn of batch) if (!described.has(arn)) notDescribed.add(arn);
    }
  };
  const isOf = (c: Check, ci: ContainerInstance | undefined): ci is ContainerInstance =>
    ci !== undefined && ci.ec2InstanceId === c.action.instanceId && ci.status !== "INACTIVE";
  await describe(undecided().flatMap((c) => c.action.containerInstanceArns ?? []));
  for (const c of undecided()) {
    const carried = (c.action.containerInstanceArns ?? []).map((arn) => described.get(arn));
    if (carried.length > 0 && carried.every((ci) => isOf(c, ci))) c.instances = carried as ContainerInstance[];
  }
  for (const group of chunks(undecided().filter((c) => !c.instances), FILTER_IDS)) {
    const ids = [...new Set(group.map((c) => c.action.instanceId))];
    const filter = ids.length === 1 ? `ec2InstanceId == ${ids[0]}` : `ec2InstanceId in [${ids.map((id) => `'${id}'`).join(", ")}]`;
    // Not filtered by status: the default lists every status but INACTIVE (deregistered).
    const arns = await allPages<string>(send, (nextToken) => new ListContainerInstancesCommand({ cluster, filter, nextToken }), (page) => page.containerInstanceArns);
    await describe(arns);
    for (const c of group) {
      const mine = arns.map((arn) => described.get(arn)).filter((ci): ci is ContainerInstance => isOf(c, ci));
      if (mine.length > 0) {
        c.instances = mine;
      } else if (arns.some((arn) => notDescribed.has(arn))) {
        // Listed but not described: it may be this instance; nothing is drained on a guess.
        const listed = arns.map((arn) => ({ containerInstanceArn: arn, ec2InstanceId: described.get(arn)?.ec2InstanceId }));
        if (c.overdue) {
          log({ level: "error", message: "MAX DRAIN TIME REACHED: terminating an instance ECS never verified as registered", listed, ...c.about });
          c.completeWith = { kind: "completed", reason: "max-drain-time", holding: [] };
        } else {
          const nextCheckSeconds = nextCheckDelay(settings, c.action, c.action.remaining ?? 0, c.elapsedSeconds);
          log({ level: "error", message: "ECS listed container instances it did not describe: draining nothing, checking again", listed, nextCheckSeconds, ...c.about });
          c.wait = { outcome: { kind: "unverified", listed: arns, nextCheckSeconds }, remaining: c.action.remaining, unconfirmed: c.action.unconfirmedTasks ?? [] };
        }
      } else {
        // Nothing listed, or only other instances (an AWS that ignored the filter): not in the cluster.
        log({ level: "info", message: "instance is not registered with ECS: letting it go", cluster, ...(arns.length > 0 && { listedOthers: arns.length }), ...c.about });
        c.completeWith = { kind: "completed", reason: "not-registered" };
      }
    }
  }
  const found = undecided().filter((c) => c.instances);

  // 3. Those still ACTIVE set DRAINING (ten per call), so ECS starts moving their tasks.
  const active = found.flatMap((c) => c.instances!.filter((ci) => ci.status === "ACTIVE").map((ci) => ({ c, arn: ci.containerInstanceArn! })));
  for (const batch of chunks(active, DRAIN_BATCH)) {
    const updated = await send(new UpdateContainerInstancesStateCommand({ cluster, containerInstances: batch.map((b) => b.arn), status: "DRAINING" }));
    for (const { c, arn } of batch) {
      const failure = (updated.failures ?? []).find((f: { arn?: string }) => f.arn === arn);
      if (failure) log({ level: "warn", message: "ECS refused to drain the instance; checking again later", reason: failure.reason, detail: failure.detail, ...c.about });
      else log({ level: "info", message: "set the container instance DRAINING", containerInstance: arn, ...c.about });
    }
  }

  // 4. Which to list: DescribeContainerInstances counts the tasks meant to run on each (daemon
  // tasks included, tasks already told to stop not); more than the cluster has daemon services
  // means some are still there, and the listing can wait.
  const counted = (c: Check) => c.instances!.reduce((n, ci) => n + (ci.runningTasksCount ?? 0) + (ci.pendingTasksCount ?? 0), 0);
  // The cluster's daemon services, listed once per sweep and only when needed.
  let daemonNames: Promise<Set<string>> | undefined;
  const daemonServicesInCluster = () => (daemonNames ??= daemonServiceNames(send, cluster));
  const toList: Check[] = [];
  for (const c of found) {
    const n = counted(c);
    if (n === 0 || c.overdue || (c.action.unconfirmedTasks?.length ?? 0) > 0 || n <= (await daemonServicesInCluster()).size) toList.push(c);
    else {
      const soon = dueToEmpty(settings, c.action, n, now, false);
      const nextCheckSeconds = nextCheckDelay(settings, c.action, n, c.elapsedSeconds, soon.due);
      log({ level: "info", message: `waiting for ${n} task(s) to leave`, counted: n, nextCheckSeconds, ...c.about });
      c.wait = { outcome: { kind: "waiting", holding: n, nextCheckSeconds }, remaining: n, unconfirmed: c.action.unconfirmedTasks ?? [], leftAt: soon.leftAt };
    }
  }

  // 5. The listed instances' tasks: each container instance's tasks meant to run and told to
  // stop (two ListTasks; only the first after a full listing of the DRAINING instance, whose
  // holding tasks are carried), and those carried unconfirmed, described together.
  const listed = new Map<Check, string[]>();
  /** Listings of both statuses made of instances DRAINING before this check: their holders may be carried. */
  const full = new Set<Check>();
  await eachLimited(toList, async (c) => {
    try {
      const arns: string[] = [...(c.action.heldBy ?? [])];
      const statuses: DesiredStatus[] = c.action.heldBy && c.action.heldBy.length <= MAX_UNCONFIRMED ? ["RUNNING"] : ["RUNNING", "STOPPED"];
      if (statuses.length === 2 && c.instances!.every((ci) => ci.status === "DRAINING")) full.add(c);
      for (const ci of c.instances!) {
        for (const desiredStatus of statuses) {
          arns.push(
            ...(await allPages<string>(
              send,
              (nextToken) => new ListTasksCommand({ cluster, containerInstance: ci.containerInstanceArn, desiredStatus, nextToken }),
              (page) => page.taskArns,
            )),
          );
        }
      }
      listed.set(c, [...new Set([...arns, ...(c.action.unconfirmedTasks ?? [])])]);
    } catch (error) {
      failed(c, error);
    }
  });
  const tasks = new Map<string, Task>();
  const failures = new Map<string, string>();
  for (const batch of chunks([...new Set([...listed.values()].flat())], TASK_BATCH)) {
    const out = await send(new DescribeTasksCommand({ cluster, tasks: batch }));
    for (const task of (out.tasks ?? []) as Task[]) if (task.taskArn) tasks.set(task.taskArn, task);
    for (const failure of out.failures ?? []) if (failure.arn) failures.set(failure.arn, failure.reason ?? "failed");
  }
  // Which of the services of the tasks still there are daemons (their tasks never hold an instance).
  const daemons = [...tasks.values()].some((task) => task.lastStatus !== "STOPPED" && serviceOf(task)) ? await daemonServicesInCluster() : new Set<string>();

  // How long the stops this sweep saw took (service tasks, daemons aside): when stopping tasks are due to be gone.
  const stopsSeen = [...tasks.values()].flatMap((task) => {
    const [from, to] = [time(task.stoppingAt), time(task.stoppedAt)];
    return task.lastStatus === "STOPPED" && serviceOf(task) && !daemons.has(serviceOf(task)!) && from !== undefined && to !== undefined && to >= from ? [to - from] : [];
  });

  // 6. Decided: let go those no task holds (or overdue), wait for the others.
  for (const [c, arns] of listed) {
    if (c.wait) continue; // its listing failed
    const containerInstance = c.instances!.length === 1 ? c.instances![0].containerInstanceArn : c.instances!.map((ci) => ci.containerInstanceArn);
    const unconfirmed = arns.filter((arn) => !tasks.has(arn));
    const holding: HoldingTask[] = [
      ...arns
        .map((arn) => tasks.get(arn))
        .filter((task): task is Task => task !== undefined && task.lastStatus !== "STOPPED" && !daemons.has(serviceOf(task) ?? ""))
        .map((task) => ({ taskArn: task.taskArn ?? "", group: task.group ?? "", lastStatus: task.lastStatus ?? "" })),
      ...unconfirmed.map((arn) => ({ taskArn: arn, group: "", lastStatus: failures.get(arn) ?? "NOT DESCRIBED" })),
    ];
    if (unconfirmed.length > 0) {
      log({
        level: "warn",
        message: `${unconfirmed.length} task(s) not described by DescribeTasks: counted as still running until it reports them STOPPED`,
        tasks: holding.filter((task) => unconfirmed.includes(task.taskArn)).map((task) => `${task.taskArn} ${task.lastStatus}`),
        containerInstance,
        ...c.about,
      });
    }
    // A task being placed right now may not be listed yet; the instance's own count sees it.
    const pending = c.instances!.reduce((sum, ci) => sum + (ci.pendingTasksCount ?? 0), 0);
    const remaining = holding.length > 0 ? holding.length : pending;
    if (remaining === 0) {
      log({ level: "info", message: "drained: letting the instance go", containerInstance, ...c.about });
      c.completeWith = { kind: "completed", reason: "drained" };
    } else if (c.overdue) {
      log({
        level: "error",
        message: `MAX DRAIN TIME REACHED: terminating with ${remaining} task(s) still on the instance`,
        maxDrainSeconds: settings.maxDrainSeconds,
        tasks: holding.map((task) => `${task.group || "(no group)"} ${task.taskArn} ${task.lastStatus}`),
        containerInstance,
        ...c.about,
      });
      c.completeWith = { kind: "completed", reason: "max-drain-time", holding };
    } else {
      // Held only by tasks told to stop: empty once they have stopped.
      const stopping = unconfirmed.length === 0 && holding.length > 0 && holding.every((t) => tasks.get(t.taskArn)?.desiredStatus === "STOPPED");
      const soon = dueToEmpty(settings, c.action, remaining, now, stopping);
      // Held by stopping tasks alone: checked again when their stops are due to end (stopsEndDelay).
      const aimed = stopping ? stopsEndDelay(holding.map((t) => time(tasks.get(t.taskArn)?.stoppingAt)), [...stopsSeen, ...(c.action.stopsMs ?? [])], now, Math.min(settings.recheckSeconds, MAX_RECHECK_SECONDS, Math.max(1, settings.maxDrainSeconds - c.elapsedSeconds))) : undefined;
      const nextCheckSeconds = aimed ?? nextCheckDelay(settings, c.action, remaining, c.elapsedSeconds, soon.due);
      log({ level: "info", message: `waiting for ${remaining} task(s) to leave`, groups: [...new Set(holding.map((task) => task.group))], nextCheckSeconds, containerInstance, ...c.about });
      // Carried when this listing or the one it continues was a full listing of the DRAINING instance.
      const carry = (full.has(c) || c.action.heldBy !== undefined) && holding.length <= MAX_UNCONFIRMED;
      c.wait = { outcome: { kind: "waiting", holding: remaining, nextCheckSeconds }, remaining, unconfirmed, heldBy: carry ? holding.map((t) => t.taskArn) : undefined, leftAt: soon.leftAt };
    }
  }

  // 7. The completions, each alone.
  await eachLimited(
    checks.filter((c) => c.completeWith && !c.outcome),
    async (c) => {
      try {
        await clients.autoScaling.send(new CompleteLifecycleActionCommand({ ...lifecycleParams(c.action), LifecycleActionResult: "CONTINUE" }));
        c.outcome = c.completeWith;
      } catch (error) {
        failed(c, error);
      }
    },
  );

  // 8. The others: a heartbeat now if the last would not outlast the next check (failing once),
  // then back to the queue together, grouped by delay.
  const waiting = checks.filter((c) => c.wait && !c.outcome);
  await eachLimited(waiting, async (c) => {
    const delay = nextSeconds(c.wait!.outcome);
    if (!heartbeatDue(settings, c.heartbeatAt, now, delay)) return;
    try {
      await heartbeat(c);
    } catch (error) {
      if (isActionGone(error)) failed(c, error);
      else log({ level: "error", message: "heartbeat failed; checking again", error: String(error), ...c.about });
    }
  });
  const next = checks
    .filter((c) => c.wait && !c.outcome)
    .map((c) => {
      const delaySeconds = nextSeconds(c.wait!.outcome);
      const unconfirmed = c.wait!.unconfirmed.slice(0, MAX_UNCONFIRMED);
      const action: LifecycleAction = {
        ...c.action,
        checks: c.action.checks + 1,
        // Left out of the message when empty or unknown (JSON drops undefined).
        unconfirmedTasks: unconfirmed.length > 0 ? unconfirmed : undefined,
        containerInstanceArns: c.instances?.map((ci) => ci.containerInstanceArn!) ?? c.action.containerInstanceArns,
        heartbeatAt: new Date(c.heartbeatAt).toISOString(),
        delaySeconds,
        remaining: c.wait!.remaining,
        heldBy: c.wait!.heldBy,
        leftAt: c.wait!.leftAt ?? c.action.leftAt,
        stopsMs: stopsSeen.length > 0 || c.action.stopsMs ? stopsToCarry([...stopsSeen, ...(c.action.stopsMs ?? [])]) : undefined,
      };
      c.outcome = c.wait!.outcome;
      return action;
    });
  await sendRechecks(clients.sqs, settings.recheckQueueUrl, next);
  return checks.map((c) => c.outcome!);
}

function nextSeconds(outcome: DrainOutcome): number {
  return "nextCheckSeconds" in outcome ? outcome.nextCheckSeconds : 1;
}

/** Largest message body written (SQS's limit is 256 KiB). */
const MAX_BODY_CHARS = 200_000;

/** The actions back to the queue: one message per delay, at most MAX_ACTIONS_PER_MESSAGE (and MAX_BODY_CHARS) each. */
async function sendRechecks(sqs: DrainHookClients["sqs"], queueUrl: string, actions: readonly LifecycleAction[]): Promise<void> {
  const byDelay = new Map<number, LifecycleAction[]>();
  for (const action of actions) {
    const delay = action.delaySeconds ?? 1;
    byDelay.set(delay, [...(byDelay.get(delay) ?? []), action]);
  }
  for (const [delay, group] of byDelay) {
    let batch: string[] = [];
    let chars = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `{"actions":[${batch.join(",")}]}`, DelaySeconds: delay }));
      batch = [];
      chars = 0;
    };
    for (const action of group) {
      const body = JSON.stringify(action);
      if (batch.length >= MAX_ACTIONS_PER_MESSAGE || chars + body.length > MAX_BODY_CHARS) await flush();
      batch.push(body);
      chars += body.length + 1;
    }
    await flush();
  }
}

/** A lifecycle event's action, queued for its first check (checked with whatever else the queue then holds). */
async function queueFirstCheck(sqs: DrainHookClients["sqs"], queueUrl: string, action: LifecycleAction): Promise<void> {
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ actions: [action] }), DelaySeconds: 0 }));
}

// ---------------------------------------------------------------------------------------------
// The handler: EventBridge events are queued, SQS messages are checked.

interface SqsRecord {
  readonly messageId: string;
  readonly body: string;
}

function sqsRecords(event: unknown): SqsRecord[] | undefined {
  if (!isRecord(event) || !Array.isArray(event.Records)) return undefined;
  return event.Records.filter((record): record is SqsRecord => isRecord(record) && record.eventSource === "aws:sqs");
}

export interface BatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

/** What the handler reads of Lambda's context object. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/** The same clients, each call carrying `signal` (the SDK aborts the request when it fires). */
function abortable(clients: DrainHookClients, signal: AbortSignal): DrainHookClients {
  const wrap = <C extends { send: (...args: any[]) => Promise<any> }>(client: C): C =>
    ({ send: (command: unknown, options?: object) => client.send(command, { ...options, abortSignal: signal }) }) as unknown as C;
  return { ecs: wrap(clients.ecs), autoScaling: wrap(clients.autoScaling), sqs: wrap(clients.sqs) };
}

/**
 * `work`, given up (aborted, and failed) when it is still running `budgetMs` from now, so that a
 * hung or endlessly retried call fails the invocation's messages before the Lambda's timeout.
 */
async function within<T>(deps: DrainHookDeps, budgetMs: number | undefined, work: (deps: DrainHookDeps) => Promise<T>): Promise<T> {
  if (budgetMs === undefined) return work(deps);
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`check given up ${Math.max(0, budgetMs)} ms into the run, ${DEADLINE_MARGIN_MS} ms before the Lambda's timeout`);
      controller.abort(error);
      reject(error);
    }, Math.max(0, budgetMs));
  });
  try {
    return await Promise.race([work({ ...deps, clients: abortable(deps.clients, controller.signal) }), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The handler for both triggers. A malformed event, message or action is logged and dropped
 * (never retried). A lifecycle event is queued for its first check (a failure to queue fails the
 * invocation, and Lambda retries it, twice, then sends its record to the re-check queue, the
 * function's on-failure destination: `actionFromInvocationRecord`). The actions of an SQS batch are checked in one
 * sweep (`checkDrains`; duplicates merged); when the sweep fails (a call for several instances
 * failing after the SDK's retries, or still running near the Lambda's timeout), every message
 * that carried an action is reported failed (`batchItemFailures`) and comes back after the
 * visibility timeout (after `maxReceiveCount` receives, to the DLQ).
 */
export function createDrainHandler(deps: DrainHookDeps) {
  const log = deps.log ?? logJson;
  const { hookName, recheckQueueUrl } = deps.settings;
  return async (event: unknown, context?: LambdaContext): Promise<BatchResponse | DrainOutcome | undefined> => {
    const budgetMs = context ? context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS : undefined;
    const records = sqsRecords(event);
    if (records) {
      const actions: LifecycleAction[] = [];
      const carrying: string[] = [];
      for (const record of records) {
        const parsed = actionsFromRecheck(record.body, hookName);
        for (const reason of parsed.dropped) log({ level: "warn", message: "dropped a malformed re-check message", reason, messageId: record.messageId });
        if (parsed.recovered) {
          for (const action of parsed.actions) {
            log({ level: "warn", message: `lifecycle event's invocations failed (${parsed.recovered}): checking it from Lambda's record`, instanceId: action.instanceId, autoScalingGroupName: action.autoScalingGroupName, messageId: record.messageId });
          }
        }
        if (parsed.actions.length === 0) continue;
        actions.push(...parsed.actions);
        carrying.push(record.messageId);
      }
      if (actions.length === 0) return { batchItemFailures: [] };
      try {
        await within(deps, budgetMs, (d) => checkDrains(mergeDuplicates(actions), d));
        return { batchItemFailures: [] };
      } catch (error) {
        log({ level: "error", message: "check failed; SQS will deliver its messages again", error: String(error), messageIds: carrying, instances: actions.length });
        return { batchItemFailures: carrying.map((itemIdentifier) => ({ itemIdentifier })) };
      }
    }
    const parsed = actionFromEvent(event, hookName);
    if ("dropped" in parsed) {
      log({ level: "warn", message: "dropped a malformed lifecycle event", reason: parsed.dropped });
      return undefined;
    }
    await within(deps, budgetMs, (d) => queueFirstCheck(d.clients.sqs, recheckQueueUrl, parsed.action));
    log({ level: "info", message: "queued for its first check", instanceId: parsed.action.instanceId, autoScalingGroupName: parsed.action.autoScalingGroupName });
    return { kind: "queued" };
  };
}

function logJson(entry: LogEntry): void {
  console.log(JSON.stringify(entry));
}

/** The settings from the function's environment (set by the DrainHook construct). */
export function settingsFromEnv(env: NodeJS.ProcessEnv): DrainHookSettings {
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`drain hook: environment variable ${name} is not set`);
    return value;
  };
  const seconds = (name: string) => {
    const value = Number(need(name));
    if (!Number.isInteger(value) || value < 1) throw new Error(`drain hook: ${name}=${env[name]} is not a whole number of seconds`);
    return value;
  };
  const optional = (name: string) => (env[name] === undefined || env[name] === "" ? undefined : seconds(name));
  return {
    cluster: need("AMIROLL_CLUSTER"),
    hookName: need("AMIROLL_HOOK_NAME"),
    recheckQueueUrl: need("AMIROLL_RECHECK_QUEUE_URL"),
    recheckSeconds: Math.min(seconds("AMIROLL_RECHECK_SECONDS"), MAX_RECHECK_SECONDS),
    maxDrainSeconds: seconds("AMIROLL_MAX_DRAIN_SECONDS"),
    heartbeatTimeoutSeconds: optional("AMIROLL_HEARTBEAT_TIMEOUT_SECONDS"),
    failedCheckSeconds: optional("AMIROLL_FAILED_CHECK_SECONDS"),
  };
}

/** How many attempts each call gets; adaptive mode also slows down when AWS throttles. */
export const SDK_MAX_ATTEMPTS = 8;

/** The real clients, with adaptive retry so throttling is absorbed rather than failing a check. */
export function createDrainHookClients(): DrainHookClients {
  const config = { retryMode: "adaptive", maxAttempts: SDK_MAX_ATTEMPTS };
  return { ecs: new ECSClient(config), autoScaling: new AutoScalingClient(config), sqs: new SQSClient(config) };
}

let lambdaHandler: ReturnType<typeof createDrainHandler> | undefined;

/** The Lambda entry point (`index.handler`); clients and settings are made on first use. */
export async function handler(event: unknown, context?: LambdaContext) {
  lambdaHandler ??= createDrainHandler({ clients: createDrainHookClients(), settings: settingsFromEnv(process.env) });
  return lambdaHandler(event, context);
}
