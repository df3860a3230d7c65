/**
 * The drain hook's Lambda handler: holds a terminating instance (autoscaling's Terminating:Wait)
 * until ECS has moved its tasks elsewhere, then lets it go.
 *
 * Bundled with esbuild at synth (see drain-hook.ts). The SDK v3 clients come from the Lambda
 * runtime; every AWS call goes through the clients handed to `createDrainHandler`, so tests and
 * the simulated AWS run this same code against mocks.
 *
 * One invocation never waits: it makes one check, and when tasks remain it sends itself a delayed
 * SQS message to check again. A drain can so last hours without a Lambda running for more than a
 * few seconds. Every check records the lifecycle action's heartbeat first, before anything that
 * can fail, and the timing (constructs/names.ts, DRAIN_HOOK_TIMING) is such that one failed check
 * never lets that heartbeat lapse.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListContainerInstancesCommand,
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
  /** ECS listed container instances, none of them verified to be this EC2 instance: nothing drained. */
  | { readonly kind: "unverified"; readonly listed: readonly string[]; readonly nextCheckSeconds: number }
  /** The action was already completed (a duplicate event, or a check after the end). */
  | { readonly kind: "already-completed" };

export type Parsed = { readonly action: LifecycleAction } | { readonly dropped: string };

const TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING";
const DETAIL_TYPE = "EC2 Instance-terminate Lifecycle Action";
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const TASK_ARN = /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task\/[A-Za-z0-9_/-]+$/;
/** At most this many unconfirmed tasks ride along in a message (SQS bodies are at most 256 KiB). */
const MAX_UNCONFIRMED = 500;
/** DescribeTasks and DescribeContainerInstances take at most 100 ids, DescribeServices 10. */
const TASK_BATCH = 100;
const CONTAINER_INSTANCE_BATCH = 100;
const SERVICE_BATCH = 10;
/** SQS's longest message delay. */
export const MAX_RECHECK_SECONDS = 900;
/**
 * How long before the Lambda's own timeout the handler gives up on checks still running: it
 * reports them failed (their messages come back after the visibility timeout) rather than let
 * the whole invocation time out, which would send back the finished ones too.
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

/** The body of a re-check message (written by `scheduleRecheck`) -> the action to drain. */
export function actionFromRecheck(body: unknown, hookName: string): Parsed {
  let fields: unknown;
  try {
    fields = JSON.parse(String(body));
  } catch {
    return { dropped: "the message body is not JSON" };
  }
  if (!isRecord(fields)) return { dropped: "the message body is not an object" };
  const checks = fields.checks;
  if (typeof checks !== "number" || !Number.isInteger(checks) || checks < 0) return { dropped: "checks is not a count" };
  const unconfirmed = fields.unconfirmedTasks;
  if (
    unconfirmed !== undefined &&
    !(Array.isArray(unconfirmed) && unconfirmed.length <= MAX_UNCONFIRMED && unconfirmed.every((arn) => typeof arn === "string" && TASK_ARN.test(arn)))
  ) {
    return { dropped: "unconfirmedTasks is not a list of task ARNs" };
  }
  const parsed = checkedAction(fields, hookName, checks);
  if ("dropped" in parsed || !unconfirmed?.length) return parsed;
  return { action: { ...parsed.action, unconfirmedTasks: unconfirmed as string[] } };
}

// ---------------------------------------------------------------------------------------------
// One check.

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

type Found =
  | { readonly kind: "unregistered" }
  | { readonly kind: "verified"; readonly instances: readonly ContainerInstance[] }
  | { readonly kind: "unverified"; readonly listed: readonly { containerInstanceArn: string; ec2InstanceId?: string }[] };

/**
 * The container instances of the EC2 instance, each verified by DescribeContainerInstances to
 * carry that `ec2InstanceId`: the list call's filter alone is not trusted to drain with.
 */
async function findContainerInstances(ecs: DrainHookClients["ecs"], cluster: string, instanceId: string): Promise<Found> {
  const send: Send = (command) => ecs.send(command);
  // Not filtered by status: the default lists every status but INACTIVE (deregistered).
  const arns = await allPages<string>(
    send,
    (nextToken) => new ListContainerInstancesCommand({ cluster, filter: `ec2InstanceId == ${instanceId}`, nextToken }),
    (page) => page.containerInstanceArns,
  );
  if (arns.length === 0) return { kind: "unregistered" };
  const described: ContainerInstance[] = [];
  for (const batch of chunks(arns, CONTAINER_INSTANCE_BATCH)) {
    const out = await ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: batch }));
    described.push(...(out.containerInstances ?? []));
  }
  const instances = described.filter((ci) => ci.ec2InstanceId === instanceId && ci.containerInstanceArn && arns.includes(ci.containerInstanceArn));
  if (instances.length > 0) return { kind: "verified", instances };
  return {
    kind: "unverified",
    listed: arns.map((arn) => ({ containerInstanceArn: arn, ec2InstanceId: described.find((ci) => ci.containerInstanceArn === arn)?.ec2InstanceId })),
  };
}

/** What holds the instance: the tasks, and those DescribeTasks did not describe (counted in). */
export interface HoldingCount {
  readonly holding: readonly HoldingTask[];
  /** ARNs of tasks not described this time (`MISSING`...): carried to the next check. */
  readonly unconfirmed: readonly string[];
}

/**
 * The tasks that keep the instance: every task whose last status is not STOPPED (RUNNING,
 * PENDING, ACTIVATING, DEACTIVATING, STOPPING, DEPROVISIONING...), except daemon-service tasks.
 *
 * Tasks already told to stop (desired STOPPED) still count while their containers shut down:
 * that window is where the 502s of an undrained termination come from. So does a task that
 * DescribeTasks does not describe (a `MISSING` failure, or left out): it may still run, and only
 * DescribeTasks saying STOPPED lets it go. `carried` are such tasks from earlier checks; they are
 * described again even when no longer listed.
 */
export async function holdingTasks(
  ecs: DrainHookClients["ecs"],
  cluster: string,
  containerInstances: readonly string[],
  carried: readonly string[] = [],
): Promise<HoldingCount> {
  const send: Send = (command) => ecs.send(command);
  const listed: string[] = [];
  for (const containerInstance of containerInstances) {
    for (const desiredStatus of ["RUNNING", "STOPPED"] as DesiredStatus[]) {
      listed.push(
        ...(await allPages<string>(
          send,
          (nextToken) => new ListTasksCommand({ cluster, containerInstance, desiredStatus, nextToken }),
          (page) => page.taskArns,
        )),
      );
    }
  }
  const arns = [...new Set([...listed, ...carried])];
  const tasks: Task[] = [];
  const failures = new Map<string, string>();
  for (const batch of chunks(arns, TASK_BATCH)) {
    const described = await ecs.send(new DescribeTasksCommand({ cluster, tasks: batch }));
    tasks.push(...(described.tasks ?? []));
    for (const failure of described.failures ?? []) if (failure.arn) failures.set(failure.arn, failure.reason ?? "failed");
  }
  const describedArns = new Set(tasks.map((task) => task.taskArn));
  const unconfirmed = arns.filter((arn) => !describedArns.has(arn));
  const live = tasks.filter((task) => task.lastStatus !== "STOPPED");
  const daemons = await daemonServices(ecs, cluster, live);
  return {
    holding: [
      ...live
        .filter((task) => !daemons.has(serviceOf(task) ?? ""))
        .map((task) => ({ taskArn: task.taskArn ?? "", group: task.group ?? "", lastStatus: task.lastStatus ?? "" })),
      ...unconfirmed.map((arn) => ({ taskArn: arn, group: "", lastStatus: failures.get(arn) ?? "NOT DESCRIBED" })),
    ],
    unconfirmed,
  };
}

function serviceOf(task: Task): string | undefined {
  return task.group?.startsWith("service:") ? task.group.slice("service:".length) : undefined;
}

/** The names of the DAEMON services among the tasks' services. */
async function daemonServices(ecs: DrainHookClients["ecs"], cluster: string, tasks: readonly Task[]): Promise<Set<string>> {
  const names = [...new Set(tasks.map(serviceOf).filter((name): name is string => name !== undefined))];
  const daemons = new Set<string>();
  for (const batch of chunks(names, SERVICE_BATCH)) {
    const described = await ecs.send(new DescribeServicesCommand({ cluster, services: batch }));
    for (const service of described.services ?? []) {
      if (service.schedulingStrategy === "DAEMON" && service.serviceName) daemons.add(service.serviceName);
    }
  }
  return daemons;
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

/**
 * One check of one terminating instance: records the heartbeat, drains the instance if it is
 * still ACTIVE (once verified to be it), then lets it go when no task holds it (or the maximum
 * drain time has passed), else schedules the next check.
 */
export async function checkDrain(action: LifecycleAction, deps: DrainHookDeps): Promise<DrainOutcome> {
  const { clients, settings } = deps;
  const log = deps.log ?? logJson;
  const now = (deps.now ?? Date.now)();
  const elapsedSeconds = Math.max(0, Math.round((now - Date.parse(action.startedAt)) / 1000));
  const about = { instanceId: action.instanceId, autoScalingGroupName: action.autoScalingGroupName, checks: action.checks, elapsedSeconds };
  const gone = (error: unknown): DrainOutcome => {
    if (!isActionGone(error)) throw error;
    log({ level: "info", message: "lifecycle action no longer waiting: stopping checks", reason: (error as Error).message, ...about });
    return { kind: "already-completed" };
  };

  // First, before anything that can fail: a check that fails after this has still kept the
  // instance waiting for a whole heartbeat timeout, which outlasts its retry (DRAIN_HOOK_TIMING).
  try {
    await clients.autoScaling.send(new RecordLifecycleActionHeartbeatCommand(lifecycleParams(action)));
  } catch (error) {
    return gone(error);
  }

  const complete = async (outcome: DrainOutcome & { kind: "completed" }): Promise<DrainOutcome> => {
    try {
      await clients.autoScaling.send(new CompleteLifecycleActionCommand({ ...lifecycleParams(action), LifecycleActionResult: "CONTINUE" }));
    } catch (error) {
      return gone(error);
    }
    return outcome;
  };
  const overdue = elapsedSeconds >= settings.maxDrainSeconds;
  // Check again after the interval, or at the maximum drain time if that comes first.
  const nextCheckSeconds = Math.max(1, Math.min(settings.recheckSeconds, settings.maxDrainSeconds - elapsedSeconds));
  const recheck = async (unconfirmedTasks: readonly string[] = []) => {
    // Without unconfirmed tasks the field is left out of the message (JSON drops undefined).
    const next: LifecycleAction = {
      ...action,
      checks: action.checks + 1,
      unconfirmedTasks: unconfirmedTasks.length > 0 ? unconfirmedTasks.slice(0, MAX_UNCONFIRMED) : undefined,
    };
    await clients.sqs.send(
      new SendMessageCommand({ QueueUrl: settings.recheckQueueUrl, MessageBody: JSON.stringify(next), DelaySeconds: nextCheckSeconds }),
    );
  };

  const found = await findContainerInstances(clients.ecs, settings.cluster, action.instanceId);
  if (found.kind === "unregistered") {
    log({ level: "info", message: "instance is not registered with ECS: letting it go", cluster: settings.cluster, ...about });
    return complete({ kind: "completed", reason: "not-registered" });
  }
  if (found.kind === "unverified") {
    const listed = found.listed.map((ci) => ci.containerInstanceArn);
    if (overdue) {
      log({ level: "error", message: "MAX DRAIN TIME REACHED: terminating an instance ECS never verified as registered", listed: found.listed, ...about });
      return complete({ kind: "completed", reason: "max-drain-time", holding: [] });
    }
    await recheck(action.unconfirmedTasks);
    log({
      level: "error",
      message: "ECS listed container instances that are not the terminating instance: draining nothing, checking again",
      listed: found.listed,
      nextCheckSeconds,
      ...about,
    });
    return { kind: "unverified", listed, nextCheckSeconds };
  }
  const containerInstances = found.instances.map((ci) => ci.containerInstanceArn!);
  const containerInstance = containerInstances.length === 1 ? containerInstances[0] : containerInstances;

  for (const instance of found.instances) {
    if (instance.status !== "ACTIVE") continue;
    const updated = await clients.ecs.send(
      new UpdateContainerInstancesStateCommand({ cluster: settings.cluster, containerInstances: [instance.containerInstanceArn!], status: "DRAINING" }),
    );
    const failure = updated.failures?.[0];
    if (failure) log({ level: "warn", message: "ECS refused to drain the instance; checking again later", reason: failure.reason, detail: failure.detail, ...about });
    else log({ level: "info", message: "set the container instance DRAINING", containerInstance: instance.containerInstanceArn, ...about });
  }

  const { holding, unconfirmed } = await holdingTasks(clients.ecs, settings.cluster, containerInstances, action.unconfirmedTasks);
  if (unconfirmed.length > 0) {
    log({
      level: "warn",
      message: `${unconfirmed.length} task(s) not described by DescribeTasks: counted as still running until it reports them STOPPED`,
      tasks: holding.filter((task) => unconfirmed.includes(task.taskArn)).map((task) => `${task.taskArn} ${task.lastStatus}`),
      containerInstance,
      ...about,
    });
  }
  // A task being placed right now may not be listed yet; the instance's own count sees it.
  const pending = found.instances.reduce((sum, ci) => sum + (ci.pendingTasksCount ?? 0), 0);
  const remaining = holding.length > 0 ? holding.length : pending;
  if (remaining === 0) {
    log({ level: "info", message: "drained: letting the instance go", containerInstance, ...about });
    return complete({ kind: "completed", reason: "drained" });
  }
  if (overdue) {
    log({
      level: "error",
      message: `MAX DRAIN TIME REACHED: terminating with ${remaining} task(s) still on the instance`,
      maxDrainSeconds: settings.maxDrainSeconds,
      tasks: holding.map((task) => `${task.group || "(no group)"} ${task.taskArn} ${task.lastStatus}`),
      containerInstance,
      ...about,
    });
    return complete({ kind: "completed", reason: "max-drain-time", holding });
  }

  await recheck(unconfirmed);
  log({
    level: "info",
    message: `waiting for ${remaining} task(s) to leave`,
    groups: [...new Set(holding.map((task) => task.group))],
    nextCheckSeconds,
    containerInstance,
    ...about,
  });
  return { kind: "waiting", holding: remaining, nextCheckSeconds };
}

// ---------------------------------------------------------------------------------------------
// The handler: EventBridge events start a drain, SQS messages continue it.

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
 * One check, given up (aborted, and failed) when it is still running `budgetMs` from now, so
 * that a hung or endlessly retried call fails only its own check, never the whole invocation.
 */
async function checkWithin(action: LifecycleAction, deps: DrainHookDeps, budgetMs: number | undefined): Promise<DrainOutcome> {
  if (budgetMs === undefined) return checkDrain(action, deps);
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
    return await Promise.race([checkDrain(action, { ...deps, clients: abortable(deps.clients, controller.signal) }), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The handler for both triggers. A malformed event or message is logged and dropped (never
 * retried). The messages of an SQS batch are checked concurrently, and each failed one is
 * reported alone (`batchItemFailures`, the event source mapping's `ReportBatchItemFailures`): it
 * comes back after the visibility timeout, the others are done, and none waits for another.
 * A check that fails after the SDK's own retries, or is still running near the Lambda's timeout,
 * fails: an SQS message comes back (and after `maxReceiveCount` receives goes to the DLQ); a
 * lifecycle event fails the invocation, and Lambda retries it (twice).
 */
export function createDrainHandler(deps: DrainHookDeps) {
  const log = deps.log ?? logJson;
  const hookName = deps.settings.hookName;
  return async (event: unknown, context?: LambdaContext): Promise<BatchResponse | DrainOutcome | undefined> => {
    const budgetMs = context ? context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS : undefined;
    const records = sqsRecords(event);
    if (records) {
      const failed = await Promise.all(
        records.map(async (record) => {
          const parsed = actionFromRecheck(record.body, hookName);
          if ("dropped" in parsed) {
            log({ level: "warn", message: "dropped a malformed re-check message", reason: parsed.dropped, messageId: record.messageId });
            return undefined;
          }
          try {
            await checkWithin(parsed.action, deps, budgetMs);
            return undefined;
          } catch (error) {
            log({ level: "error", message: "check failed; SQS will deliver it again", error: String(error), messageId: record.messageId });
            return record.messageId;
          }
        }),
      );
      return { batchItemFailures: failed.filter((id): id is string => id !== undefined).map((itemIdentifier) => ({ itemIdentifier })) };
    }
    const parsed = actionFromEvent(event, hookName);
    if ("dropped" in parsed) {
      log({ level: "warn", message: "dropped a malformed lifecycle event", reason: parsed.dropped });
      return undefined;
    }
    return checkWithin(parsed.action, deps, budgetMs);
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
  return {
    cluster: need("AMIROLL_CLUSTER"),
    hookName: need("AMIROLL_HOOK_NAME"),
    recheckQueueUrl: need("AMIROLL_RECHECK_QUEUE_URL"),
    recheckSeconds: Math.min(seconds("AMIROLL_RECHECK_SECONDS"), MAX_RECHECK_SECONDS),
    maxDrainSeconds: seconds("AMIROLL_MAX_DRAIN_SECONDS"),
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
