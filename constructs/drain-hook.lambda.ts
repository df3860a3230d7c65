/**
 * The drain hook's Lambda handler: holds a terminating instance (autoscaling's Terminating:Wait)
 * until ECS has moved its tasks elsewhere, then lets it go.
 *
 * Bundled with esbuild at synth (see drain-hook.ts). The SDK v3 clients come from the Lambda
 * runtime; every AWS call goes through the clients handed to `createDrainHandler`, so tests and
 * the simulated AWS run this same code against mocks.
 *
 * One invocation never waits: it makes one check, and when tasks remain it records a heartbeat
 * and sends itself a delayed SQS message to check again. A drain can so last hours without a
 * Lambda running for more than a few seconds.
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
  /** The action was already completed (a duplicate event, or a check after the end). */
  | { readonly kind: "already-completed" };

export type Parsed = { readonly action: LifecycleAction } | { readonly dropped: string };

const TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING";
const DETAIL_TYPE = "EC2 Instance-terminate Lifecycle Action";
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
/** DescribeTasks takes at most 100 tasks, DescribeServices 10 services. */
const TASK_BATCH = 100;
const SERVICE_BATCH = 10;
/** SQS's longest message delay. */
export const MAX_RECHECK_SECONDS = 900;

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
  return checkedAction(fields, hookName, checks);
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

async function findContainerInstance(ecs: DrainHookClients["ecs"], cluster: string, instanceId: string) {
  const send: Send = (command) => ecs.send(command);
  // Not filtered by status: the default lists every status but INACTIVE (deregistered).
  const arns = await allPages<string>(
    send,
    (nextToken) => new ListContainerInstancesCommand({ cluster, filter: `ec2InstanceId == ${instanceId}`, nextToken }),
    (page) => page.containerInstanceArns,
  );
  if (arns.length === 0) return undefined;
  const described = await ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: arns.slice(0, 1) }));
  return described.containerInstances?.[0] as ContainerInstance | undefined;
}

/**
 * The tasks that keep the instance: every task whose last status is not STOPPED (RUNNING,
 * PENDING, ACTIVATING, DEACTIVATING, STOPPING, DEPROVISIONING...), except daemon-service tasks.
 *
 * Tasks already told to stop (desired STOPPED) still count while their containers shut down:
 * that window is where the 502s of an undrained termination come from.
 */
export async function holdingTasks(ecs: DrainHookClients["ecs"], cluster: string, containerInstance: string): Promise<HoldingTask[]> {
  const send: Send = (command) => ecs.send(command);
  const list = (desiredStatus: DesiredStatus) =>
    allPages<string>(
      send,
      (nextToken) => new ListTasksCommand({ cluster, containerInstance, desiredStatus, nextToken }),
      (page) => page.taskArns,
    );
  const arns = [...new Set([...(await list("RUNNING")), ...(await list("STOPPED"))])];
  const tasks: Task[] = [];
  for (const batch of chunks(arns, TASK_BATCH)) {
    const described = await ecs.send(new DescribeTasksCommand({ cluster, tasks: batch }));
    tasks.push(...(described.tasks ?? []));
  }
  const live = tasks.filter((task) => task.lastStatus !== "STOPPED");
  const daemons = await daemonServices(ecs, cluster, live);
  return live
    .filter((task) => !daemons.has(serviceOf(task) ?? ""))
    .map((task) => ({ taskArn: task.taskArn ?? "", group: task.group ?? "", lastStatus: task.lastStatus ?? "" }));
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

/** True when autoscaling says the action is no longer waiting (completed, timed out, group gone). */
function isNoActiveAction(error: unknown): boolean {
  const { name, message } = (error ?? {}) as { name?: string; message?: string };
  return name === "ValidationError" && /no active lifecycle action/i.test(message ?? "");
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
 * One check of one terminating instance: drains it if it is still ACTIVE, then lets it go when no
 * task holds it (or the maximum drain time has passed), else schedules the next check.
 */
export async function checkDrain(action: LifecycleAction, deps: DrainHookDeps): Promise<DrainOutcome> {
  const { clients, settings } = deps;
  const log = deps.log ?? logJson;
  const now = (deps.now ?? Date.now)();
  const elapsedSeconds = Math.max(0, Math.round((now - Date.parse(action.startedAt)) / 1000));
  const about = { instanceId: action.instanceId, autoScalingGroupName: action.autoScalingGroupName, checks: action.checks, elapsedSeconds };

  const complete = async (outcome: DrainOutcome & { kind: "completed" }): Promise<DrainOutcome> => {
    try {
      await clients.autoScaling.send(new CompleteLifecycleActionCommand({ ...lifecycleParams(action), LifecycleActionResult: "CONTINUE" }));
    } catch (error) {
      if (!isNoActiveAction(error)) throw error;
      log({ level: "info", message: "lifecycle action already completed", ...about });
      return { kind: "already-completed" };
    }
    return outcome;
  };

  const instance = await findContainerInstance(clients.ecs, settings.cluster, action.instanceId);
  if (!instance?.containerInstanceArn) {
    log({ level: "info", message: "instance is not registered with ECS: letting it go", cluster: settings.cluster, ...about });
    return complete({ kind: "completed", reason: "not-registered" });
  }
  const containerInstance = instance.containerInstanceArn;

  if (instance.status === "ACTIVE") {
    const updated = await clients.ecs.send(
      new UpdateContainerInstancesStateCommand({ cluster: settings.cluster, containerInstances: [containerInstance], status: "DRAINING" }),
    );
    const failure = updated.failures?.[0];
    if (failure) log({ level: "warn", message: "ECS refused to drain the instance; checking again later", reason: failure.reason, detail: failure.detail, ...about });
    else log({ level: "info", message: "set the container instance DRAINING", containerInstance, ...about });
  }

  const holding = await holdingTasks(clients.ecs, settings.cluster, containerInstance);
  // A task being placed right now may not be listed yet; the instance's own count sees it.
  const remaining = holding.length > 0 ? holding.length : (instance.pendingTasksCount ?? 0);
  if (remaining === 0) {
    log({ level: "info", message: "drained: letting the instance go", containerInstance, ...about });
    return complete({ kind: "completed", reason: "drained" });
  }
  if (elapsedSeconds >= settings.maxDrainSeconds) {
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

  try {
    await clients.autoScaling.send(new RecordLifecycleActionHeartbeatCommand(lifecycleParams(action)));
  } catch (error) {
    if (!isNoActiveAction(error)) throw error;
    log({ level: "info", message: "lifecycle action no longer waiting: stopping checks", ...about });
    return { kind: "already-completed" };
  }
  // Check again after the interval, or at the maximum drain time if that comes first.
  const nextCheckSeconds = Math.max(1, Math.min(settings.recheckSeconds, settings.maxDrainSeconds - elapsedSeconds));
  const next: LifecycleAction = { ...action, checks: action.checks + 1 };
  await clients.sqs.send(
    new SendMessageCommand({ QueueUrl: settings.recheckQueueUrl, MessageBody: JSON.stringify(next), DelaySeconds: nextCheckSeconds }),
  );
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

/**
 * The handler for both triggers. A malformed event or message is logged and dropped (never
 * retried). An AWS error after the SDK's own retries fails the invocation (EventBridge: Lambda
 * retries it; SQS: only that message comes back, and after 5 receives it goes to the DLQ).
 */
export function createDrainHandler(deps: DrainHookDeps) {
  const log = deps.log ?? logJson;
  const hookName = deps.settings.hookName;
  return async (event: unknown): Promise<BatchResponse | DrainOutcome | undefined> => {
    const records = sqsRecords(event);
    if (records) {
      const batchItemFailures: { itemIdentifier: string }[] = [];
      for (const record of records) {
        const parsed = actionFromRecheck(record.body, hookName);
        if ("dropped" in parsed) {
          log({ level: "warn", message: "dropped a malformed re-check message", reason: parsed.dropped, messageId: record.messageId });
          continue;
        }
        try {
          await checkDrain(parsed.action, deps);
        } catch (error) {
          log({ level: "error", message: "check failed; SQS will deliver it again", error: String(error), messageId: record.messageId });
          batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      }
      return { batchItemFailures };
    }
    const parsed = actionFromEvent(event, hookName);
    if ("dropped" in parsed) {
      log({ level: "warn", message: "dropped a malformed lifecycle event", reason: parsed.dropped });
      return undefined;
    }
    return checkDrain(parsed.action, deps);
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
export async function handler(event: unknown) {
  lambdaHandler ??= createDrainHandler({ clients: createDrainHookClients(), settings: settingsFromEnv(process.env) });
  return lambdaHandler(event);
}
