/**
 * Real SDK v3 clients whose requests the world answers instead of AWS.
 *
 * A middleware stands where the HTTP call would be (inside the retry middleware, before the
 * response is parsed): it takes the Command's input, lets the world answer, and returns the
 * output, or throws an AWS-shaped error. So the driver's code, the SDK's paginators (which
 * want real client instances) and its retry logic all run for real; only back-off delays are
 * zero, since time here is virtual.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ECSClient } from "@aws-sdk/client-ecs";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import { ConfiguredRetryStrategy, retryMiddleware } from "@smithy/core/retry";
import { createHash } from "node:crypto";
import type { DrainHookSettings } from "../../constructs/drain-hook.lambda";
import { createDrainHandler } from "../../constructs/drain-hook.lambda";
import { durationSeconds } from "../../constructs/formats";
import { DRAIN_HOOK_DEFAULTS, DRAIN_HOOK_TIMING, drainHookMaxReceiveCount } from "../../constructs/names";
import { cloudwatchHandlers } from "./alarms";
import type { ApiCall, SimContainerInstance, SimGroup, SimInstance, SimService, SimTask, World } from "./world";

/** What the driver talks to: one client per service, as DESIGN.md's AwsClients. */
export interface SimAwsClients {
  readonly ecs: ECSClient;
  readonly autoScaling: AutoScalingClient;
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly sqs: SQSClient;
  readonly cloudwatch: CloudWatchClient;
}

type Handler = (input: any) => unknown;

/** An error as the SDK raises it for a service's error response. */
export function awsError(name: string, message: string, status = 400): Error {
  return Object.assign(new Error(message), { name, $fault: status >= 500 ? "server" : "client", $metadata: { httpStatusCode: status, attempts: 1 } });
}

const THROTTLING_ERROR: Record<string, string> = {
  ecs: "ThrottlingException",
  autoscaling: "Throttling",
  ec2: "RequestLimitExceeded",
  ssm: "ThrottlingException",
  sqs: "ThrottlingException",
  cloudwatch: "Throttling",
};

/** One page of `items` from a numeric next token: `max` asked for (at most `limit`), else `byDefault`. */
function page<T>(items: readonly T[], nextToken: string | undefined, max: number, limit: number, byDefault = limit) {
  const size = Math.min(max || byDefault, limit);
  const start = nextToken ? Number(nextToken) : 0;
  if (!Number.isInteger(start) || start < 0) throw awsError("InvalidParameterException", `Invalid NextToken ${nextToken}`);
  const end = start + size;
  return { items: items.slice(start, end), nextToken: end < items.length ? String(end) : undefined };
}

/** An API call as recorded, with who made it when it was the drain hook (the bench tells hook and driver apart). */
export interface SimApiCall extends ApiCall {
  readonly caller?: "drain-hook";
}

/**
 * Microtask turns the SDK's middleware took around a simulated call (measured on @aws-sdk
 * 3.1164, once a client had made its first call): from `send` to the retry middleware, inside it
 * before and after the answer (the signing middleware's), and back out to `send`'s caller. The
 * sim answers in process, so these turns were all the driver could see of that work: concurrent
 * calls, the drain hook's invocations and the driver interleave by them. The short path below
 * lets as many go by, so every interleaving, hence the event log and API calls for a seed, stays.
 */
const SDK_TURNS = { toRetry: 36, toAnswer: 19, afterAnswer: 1, afterFailure: 1, fromRetry: 6, fromRetryFailure: 6 };
/** SQS's client took one turn more on the way out (its SendMessage MD5 check stays in the stack). */
const SDK_EXTRA_TURNS_OUT: Record<string, number> = { sqs: 1 };

/** `await pass(turns)` lets `turns` (at least 1) microtask turns go by: the awaits here, and the await of its promise. */
async function pass(turns: number): Promise<void> {
  for (let i = 1; i < turns; i++) await undefined;
}

function simulate<C extends { middlewareStack: any; config: any }>(client: C, world: World, service: string, handlers: Record<string, Handler>, caller?: "drain-hook"): C {
  // Nothing reads the SDK's log of each call here (its logger is the no-op one), yet the logger
  // middleware filters every input and output through the schema: a sixth of a large sim's time.
  client.middlewareStack.remove("loggerMiddleware");
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>) => (args: unknown) => world.clock.track(next(args)),
    { step: "initialize", priority: "high", name: "amirollSimulatedTime" },
  );
  /** Where AWS would answer (where the HTTP call would be): the world's handler, or an AWS-shaped error. */
  const respond = (commandName: string) => async (args: { input: unknown }) => {
    const operation = commandName.replace(/Command$/, "");
    const throttled = world.rng.chance(world.behaviour.throttleRate);
    const call: SimApiCall = caller ? { service, operation, at: world.clock.now(), throttled, caller } : { service, operation, at: world.clock.now(), throttled };
    world.calls.push(call);
    if (throttled) throw awsError(THROTTLING_ERROR[service], "Rate exceeded");
    const handler = handlers[operation];
    if (!handler) throw awsError("UnknownOperationException", `the simulated ${service} does not implement ${operation}`);
    const output = await handler(args.input ?? {});
    return { output: { $metadata: { httpStatusCode: 200 }, ...(output as object) }, response: { statusCode: 200, headers: {} } };
  };
  // The full path: the whole stack, answered inside the retry middleware, before the response is parsed.
  client.middlewareStack.add((_next: unknown, context: { commandName: string }) => respond(context.commandName), {
    step: "deserialize",
    priority: "high",
    name: "amirollSimulatedAws",
  });
  // The short path: nothing to serialize, resolve an endpoint for, sign or parse (a third of a
  // large sim's time), so from the initialize step straight to the SDK's own retry middleware
  // (its attempts, retry quota and errors as they were) around the answer. The client's own
  // initialize-step middleware (SQS's MD5 check of SendMessage) still runs, before it. A
  // client's first calls (until one has completed) take the full path: they resolve its
  // credentials and configuration, in more turns (and, once a process, an I/O wait).
  let warm = false;
  const becameWarm = () => {
    warm = true;
  };
  const extraOut = SDK_EXTRA_TURNS_OUT[service] ?? 0;
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName: string }) => {
      const answer = respond(context.commandName);
      const retrying = retryMiddleware(client.config)(
        (async (args: { input: unknown }) => {
          await pass(SDK_TURNS.toAnswer);
          try {
            const result = await answer(args);
            await pass(SDK_TURNS.afterAnswer);
            return result;
          } catch (error) {
            await pass(SDK_TURNS.afterFailure);
            throw error;
          }
        }) as any,
        context as any,
      );
      const short = async (args: any) => {
        await pass(SDK_TURNS.toRetry);
        try {
          const result = await retrying(args);
          await pass(SDK_TURNS.fromRetry + extraOut);
          return result;
        } catch (error) {
          await pass(SDK_TURNS.fromRetryFailure + extraOut);
          throw error;
        }
      };
      return (args: unknown) => {
        if (warm) return short(args);
        const full = next(args);
        full.then(becameWarm, becameWarm);
        return full;
      };
    },
    { step: "initialize", priority: "low", name: "amirollSimulatedShortPath" },
  );
  return client;
}

export interface SimClientOptions {
  /** Attempts per call, as the SDK counts them. @default 8 */
  readonly maxAttempts?: number;
  /** The share of the drain hook's invocations that fail, before or after its check (seeded). @default 0 */
  readonly hookFaultRate?: number;
  /** Each of these instances' lifecycle events: so many of its (EventBridge) invocations throw, before its check. @default none */
  readonly lifecycleEventFaults?: Readonly<Record<string, number>>;
}

/**
 * The clients for a world. When `drainHooks` are given (hook name -> settings), terminating
 * lifecycle actions invoke the real drain-hook handler with these same clients, and its SQS
 * re-checks come back after their delay. Failures are retried as AWS does: a failed lifecycle
 * event by Lambda (1, then 2 minutes later, then its record goes to the re-check queue); a failed re-check message (the invocation threw, or
 * named it in `batchItemFailures`) after the queue's visibility timeout, until its receives run out.
 */
export function createSimClients(world: World, drainHooks: readonly DrainHookSettings[] = [], options: SimClientOptions = {}): SimAwsClients {
  const maxAttempts = options.maxAttempts ?? 8;
  const config = {
    region: world.region,
    credentials: { accessKeyId: "SIMULATED", secretAccessKey: "SIMULATED" },
    maxAttempts,
    retryStrategy: new ConfiguredRetryStrategy(maxAttempts, () => 0),
    // Each command class's middleware resolved once, not on every call (an SDK option).
    cacheMiddleware: true,
  };
  type Invoke = (event: unknown) => Promise<unknown>;
  const faultRate = options.hookFaultRate ?? 0;
  const maxReceiveCount = drainHookMaxReceiveCount(durationSeconds(DRAIN_HOOK_DEFAULTS.heartbeatTimeout));
  /** The handler, failing a share of its invocations: half before the check runs, half after. */
  const faulty = (invoke: Invoke): Invoke => async (event) => {
    if (!(faultRate > 0 && world.rng.chance(faultRate))) return invoke(event);
    if (world.rng.chance(0.5)) throw new Error("simulated fault: the invocation failed before its check");
    await invoke(event);
    throw new Error("simulated fault: the invocation failed after its check");
  };
  interface Message {
    readonly messageId: string;
    readonly body: string | undefined;
    readonly receives: number;
  }
  /** One invocation with a batch of re-check messages; each failed one comes back after the visibility timeout. */
  const receiveBatch = (invoke: Invoke, messages: readonly Message[]): void => {
    const event = { Records: messages.map((m) => ({ messageId: m.messageId, eventSource: "aws:sqs", body: m.body, attributes: { ApproximateReceiveCount: String(m.receives) } })) };
    const failed = invoke(event).then(
      (out) => new Set((out as { batchItemFailures?: { itemIdentifier: string }[] } | undefined)?.batchItemFailures?.map((f) => f.itemIdentifier)),
      (error) => (world.note(`drain hook invocation failed: ${error}`), new Set(messages.map((m) => m.messageId))),
    );
    void world.clock.track(
      failed.then((again) => {
        for (const m of messages) {
          if (!again.has(m.messageId)) continue;
          if (m.receives >= maxReceiveCount) {
            world.note(`drain hook re-check ${m.messageId} moved to the dead-letter queue after ${m.receives} receives`);
            continue;
          }
          world.clock.after(DRAIN_HOOK_TIMING.visibilityTimeoutSeconds * 1000, () => receive(invoke, { ...m, receives: m.receives + 1 }));
        }
      }),
    );
  };
  /**
   * A message becomes visible: as Lambda's poller, an invocation takes the messages visible at
   * that instant together, DRAIN_HOOK_TIMING.batchSize at most (no batching window).
   */
  const visible = new Map<Invoke, Message[]>();
  const receive = (invoke: Invoke, message: Message): void => {
    const queued = visible.get(invoke);
    if (queued) return void queued.push(message);
    visible.set(invoke, [message]);
    world.clock.after(0, () => {
      const batch = visible.get(invoke)!;
      visible.delete(invoke);
      for (let i = 0; i < batch.length; i += DRAIN_HOOK_TIMING.batchSize) receiveBatch(invoke, batch.slice(i, i + DRAIN_HOOK_TIMING.batchSize));
    });
  };
  /** Invocations of each instance's lifecycle event still to fail (lifecycleEventFaults). */
  const eventFaults = new Map(Object.entries(options.lifecycleEventFaults ?? {}));
  const failingEvent = (invoke: Invoke): Invoke => async (event) => {
    const instanceId = ((event as { detail?: { EC2InstanceId?: string } }).detail?.EC2InstanceId) ?? "";
    const left = eventFaults.get(instanceId) ?? 0;
    if (left <= 0) return invoke(event);
    eventFaults.set(instanceId, left - 1);
    throw new Error(`simulated fault: ${instanceId}'s lifecycle event invocation failed before its check`);
  };
  /**
   * An EventBridge invocation: Lambda retries a failed one twice, 1 then 2 minutes later; after
   * the last, it sends the invocation's record to the function's on-failure destination (the
   * DrainHook construct makes it the re-check queue), through SQS's SendMessage as AWS does.
   */
  const invokeAsync = (hook: { invoke: Invoke; queueUrl: string }, event: unknown, attempt = 1): Promise<unknown> =>
    failingEvent(hook.invoke)(event).catch((error) => {
      if (attempt > DRAIN_HOOK_TIMING.asyncRetryAttempts) {
        world.note(`drain hook invocation failed (${error}) after ${attempt} attempts; Lambda sends its record to the on-failure destination`);
        const record = {
          version: "1.0",
          timestamp: new Date(world.clock.now()).toISOString(),
          requestContext: { requestId: world.rng.hex(32), functionArn: `arn:aws:lambda:${world.region}:${world.accountId}:function:${(event as { detail: { LifecycleHookName: string } }).detail.LifecycleHookName}:$LATEST`, condition: "RetriesExhausted", approximateInvokeCount: attempt },
          requestPayload: event,
          responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
          responsePayload: { errorType: "Error", errorMessage: String(error) },
        };
        sqs.SendMessage({ QueueUrl: hook.queueUrl, MessageBody: JSON.stringify(record) });
        return undefined;
      }
      world.note(`drain hook invocation failed (${error}); Lambda retries it in ${attempt} minute(s)`);
      world.clock.after(attempt * DRAIN_HOOK_TIMING.asyncRetrySeconds * 1000, () => {
        void world.clock.track(invokeAsync(hook, event, attempt + 1).catch((e) => world.note(`drain hook failed: ${e}`)));
      });
    });
  const byQueueUrl = new Map<string, Invoke>();
  const byHookName = new Map<string, { invoke: Invoke; queueUrl: string }>();
  const ecs = ecsHandlers(world);
  const autoScaling = autoScalingHandlers(world);
  const sqs: Record<string, Handler> = {
    SendMessage: (input) => {
      const invoke = byQueueUrl.get(input.QueueUrl);
      if (!invoke) throw awsError("QueueDoesNotExist", `The specified queue does not exist: ${input.QueueUrl}`);
      const messageId = world.rng.hex(32);
      world.clock.after((input.DelaySeconds ?? 0) * 1000, () => receive(invoke, { messageId, body: input.MessageBody, receives: 1 }));
      // The SQS client checks the body's MD5 in the answer, as it would AWS's.
      return { MessageId: messageId, MD5OfMessageBody: createHash("md5").update(input.MessageBody ?? "").digest("hex") };
    },
  };
  const clients: SimAwsClients = {
    ecs: simulate(new ECSClient(config), world, "ecs", ecs),
    autoScaling: simulate(new AutoScalingClient(config), world, "autoscaling", autoScaling),
    ec2: simulate(new EC2Client(config), world, "ec2", ec2Handlers(world)),
    ssm: simulate(new SSMClient(config), world, "ssm", ssmHandlers(world)),
    sqs: simulate(new SQSClient(config), world, "sqs", sqs),
    cloudwatch: simulate(new CloudWatchClient(config), world, "cloudwatch", cloudwatchHandlers(world, awsError)),
  };
  // The drain hook's own clients (the same world and handlers): its calls are recorded as its.
  const hookClients = {
    ecs: simulate(new ECSClient(config), world, "ecs", ecs, "drain-hook"),
    autoScaling: simulate(new AutoScalingClient(config), world, "autoscaling", autoScaling, "drain-hook"),
    sqs: simulate(new SQSClient(config), world, "sqs", sqs, "drain-hook"),
  };
  for (const settings of drainHooks) {
    const handler = faulty(
      createDrainHandler({
        clients: hookClients,
        settings,
        now: () => world.clock.now(),
        log: (entry) => world.note(`drain hook ${settings.cluster}: ${entry.message}`),
      }),
    );
    byQueueUrl.set(settings.recheckQueueUrl, handler);
    byHookName.set(settings.hookName, { invoke: handler, queueUrl: settings.recheckQueueUrl });
  }
  if (drainHooks.length > 0) {
    world.lifecycleSink = async (event) => {
      const hookName = (event.detail as { LifecycleHookName?: string }).LifecycleHookName;
      const hook = byHookName.get(hookName ?? "");
      return hook && invokeAsync(hook, event);
    };
  }
  return clients;
}

// ------------------------------------------------------------------------------------- ECS

function findCluster(world: World, cluster: string | undefined) {
  const name = (cluster ?? "default").split("/").pop()!;
  const found = world.clusters.get(name);
  if (!found) throw awsError("ClusterNotFoundException", "Cluster not found.");
  return found;
}

function byArnOrId<T extends { arn: string }>(items: Iterable<T>, ref: string): T | undefined {
  for (const item of items) if (item.arn === ref || item.arn.endsWith(`/${ref}`)) return item;
  return undefined;
}

/** A cluster's container instance by ARN (a map look-up) or by id (a scan), as byArnOrId over the cluster's. */
function containerInstanceIn(world: World, clusterName: string, ref: string): SimContainerInstance | undefined {
  const direct = world.containerInstances.get(ref);
  if (direct) return direct.clusterName === clusterName ? direct : undefined;
  return byArnOrId([...world.containerInstances.values()].filter((ci) => ci.clusterName === clusterName), ref);
}

function tooMany(list: readonly unknown[] | undefined, max: number, field: string) {
  if (!list || list.length === 0) throw awsError("InvalidParameterException", `${field} can not be blank.`);
  if (list.length > max) throw awsError("InvalidParameterException", `${field} can have at most ${max} items.`);
}

function containerInstanceView(world: World, ci: SimContainerInstance) {
  const tasks = world.tasksOnInstance(ci.arn);
  return {
    containerInstanceArn: ci.arn,
    ec2InstanceId: ci.ec2InstanceId,
    status: ci.status,
    agentConnected: ci.agentConnected,
    runningTasksCount: tasks.filter((t) => t.desiredStatus === "RUNNING" && t.lastStatus === "RUNNING").length,
    pendingTasksCount: tasks.filter((t) => t.desiredStatus === "RUNNING" && t.lastStatus === "PENDING").length,
    registeredAt: new Date(ci.registeredAt),
    registeredResources: [
      { name: "CPU", type: "INTEGER", integerValue: ci.cpu },
      { name: "MEMORY", type: "INTEGER", integerValue: ci.memory },
    ],
    attributes: [
      { name: "ecs.ami-id", value: ci.imageId },
      { name: "ecs.availability-zone", value: ci.az },
      { name: "ecs.instance-type", value: ci.instanceType },
    ],
  };
}

/** The cluster query language, as far as the driver and the drain hook use it. */
function containerInstanceFilter(filter: string | undefined): (ci: SimContainerInstance) => boolean {
  if (!filter) return () => true;
  // `ec2InstanceId in ['i-1', 'i-2']`: the drain hook finds several instances' container instances at once.
  const among = /^\s*ec2InstanceId\s+in\s+\[([^\]]*)\]\s*$/.exec(filter);
  if (among) {
    const ids = new Set(among[1].split(",").map((id) => id.trim().replace(/^'(.*)'$/, "$1")));
    return (ci) => ids.has(ci.ec2InstanceId);
  }
  const match = /^\s*(ec2InstanceId|attribute:ecs\.ami-id|attribute:ecs\.availability-zone|attribute:ecs\.instance-type)\s*==\s*(\S+)\s*$/.exec(filter);
  if (!match) throw awsError("InvalidParameterException", `Invalid filter: ${filter}`);
  const field = { ec2InstanceId: "ec2InstanceId", "attribute:ecs.ami-id": "imageId", "attribute:ecs.availability-zone": "az", "attribute:ecs.instance-type": "instanceType" }[match[1]] as keyof SimContainerInstance;
  return (ci) => ci[field] === match[2];
}

type SimServiceEvent = SimService["events"][number];
/**
 * A service event as DescribeServices answers it, made once per event (an event never changes):
 * a service's last 100 events went into every answer, fresh, for callers that only read them.
 */
const eventViews = new WeakMap<SimServiceEvent, { id: string; createdAt: Date; message: string }>();
function eventView(e: SimServiceEvent) {
  let view = eventViews.get(e);
  if (!view) eventViews.set(e, (view = { id: e.id, createdAt: new Date(e.createdAt), message: e.message }));
  return view;
}

function serviceView(world: World, service: SimService) {
  // RUNNING and PENDING tasks per deployment ("" for all), counted in one pass.
  const counts = new Map<string, { RUNNING: number; PENDING: number }>([["", { RUNNING: 0, PENDING: 0 }]]);
  for (const t of world.liveTasksOfService(service)) {
    if (t.lastStatus !== "RUNNING" && t.lastStatus !== "PENDING") continue;
    counts.get("")![t.lastStatus]++;
    const key = t.deploymentId ?? "";
    if (key === "") continue;
    let ofDeployment = counts.get(key);
    if (!ofDeployment) counts.set(key, (ofDeployment = { RUNNING: 0, PENDING: 0 }));
    ofDeployment[t.lastStatus]++;
  }
  const count = (deploymentId: string | undefined, status: "RUNNING" | "PENDING") => counts.get(deploymentId ?? "")?.[status] ?? 0;
  return {
    serviceArn: service.arn,
    serviceName: service.name,
    clusterArn: world.clusters.get(service.clusterName)!.arn,
    status: "ACTIVE",
    desiredCount: service.desiredCount,
    runningCount: count(undefined, "RUNNING"),
    pendingCount: count(undefined, "PENDING"),
    ...(service.capacityProviderStrategy
      ? { capacityProviderStrategy: (service.capacityProviderStrategy === "default" ? world.clusters.get(service.clusterName)?.defaultStrategy ?? [] : service.capacityProviderStrategy).map((s) => ({ base: 0, weight: 0, ...s })) }
      : { launchType: "EC2" }),
    schedulingStrategy: service.schedulingStrategy,
    deploymentConfiguration: { minimumHealthyPercent: service.minimumHealthyPercent, maximumPercent: service.maximumPercent },
    placementStrategy: service.placement === "binpack" ? [{ type: "binpack", field: "cpu" }] : [{ type: "spread", field: "attribute:ecs.availability-zone" }, { type: "spread", field: "instanceId" }],
    availabilityZoneRebalancing: service.availabilityZoneRebalancing,
    deployments: service.deployments.map((d) => ({
      id: d.id,
      status: d.status,
      rolloutState: d.rolloutState,
      desiredCount: d.status === "PRIMARY" ? service.desiredCount : 0,
      runningCount: count(d.id, "RUNNING"),
      pendingCount: count(d.id, "PENDING"),
      failedTasks: d.failedTasks,
      createdAt: new Date(d.createdAt),
      updatedAt: new Date(d.updatedAt),
    })),
    events: service.events.map(eventView),
    createdAt: new Date(service.createdAt),
    tags: Object.entries(service.tags).map(([key, value]) => ({ key, value })),
  };
}

function taskView(world: World, task: SimTask) {
  const exited = task.lastStatus === "STOPPED" && task.exitCode !== undefined;
  return {
    taskArn: task.arn,
    clusterArn: world.clusters.get(task.clusterName)!.arn,
    containerInstanceArn: task.containerInstanceArn,
    availabilityZone: task.az,
    group: task.group,
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    healthStatus: task.healthy ? "HEALTHY" : "UNKNOWN",
    launchType: "EC2",
    createdAt: new Date(task.createdAt),
    startedAt: task.startedAt === undefined ? undefined : new Date(task.startedAt),
    stoppingAt: task.stoppingAt === undefined ? undefined : new Date(task.stoppingAt),
    stoppedAt: task.stoppedAt === undefined ? undefined : new Date(task.stoppedAt),
    stoppedReason: task.stoppedReason,
    stopCode: task.stoppedReason ? (task.exitCode !== undefined ? "EssentialContainerExited" : "ServiceSchedulerInitiated") : undefined,
    containers: [{ name: "app", lastStatus: task.lastStatus, exitCode: exited ? task.exitCode : undefined, healthStatus: task.healthy ? "HEALTHY" : "UNKNOWN" }],
  };
}

/**
 * UpdateService's deploymentConfiguration, checked before anything changes. The API reference
 * defines both as whole percentages of desiredCount: minimumHealthyPercent a lower limit on the
 * tasks that stay RUNNING (rounded up), maximumPercent an upper limit on those RUNNING or PENDING
 * (rounded down). It states no bounds; the sim refuses what those definitions rule out for a
 * rolling (ECS) deployment: a fraction, a negative value, a floor above 100 % or a ceiling below
 * 100 % (the service could not run its desired count). Values left out stay as they are.
 */
function validDeploymentConfiguration(input: { minimumHealthyPercent?: number; maximumPercent?: number } | undefined) {
  if (!input) return undefined;
  const { minimumHealthyPercent, maximumPercent } = input;
  for (const [name, value] of [["minimumHealthyPercent", minimumHealthyPercent], ["maximumPercent", maximumPercent]] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) throw awsError("InvalidParameterException", `deploymentConfiguration.${name} must be a non-negative integer.`);
  }
  if (minimumHealthyPercent !== undefined && minimumHealthyPercent > 100) {
    throw awsError("InvalidParameterException", "deploymentConfiguration.minimumHealthyPercent must be at most 100.");
  }
  if (maximumPercent !== undefined && maximumPercent < 100) {
    throw awsError("InvalidParameterException", "deploymentConfiguration.maximumPercent must be at least 100.");
  }
  return { minimumHealthyPercent, maximumPercent };
}

/**
 * UpdateService's availabilityZoneRebalancing: ENABLED or DISABLED; ECS turns it on only for a
 * service it can rebalance, which a binpack placement strategy is not.
 */
function validAzRebalancing(service: SimService, value: unknown): "ENABLED" | "DISABLED" | undefined {
  if (value === undefined) return undefined;
  if (value !== "ENABLED" && value !== "DISABLED") throw awsError("InvalidParameterException", "availabilityZoneRebalancing must be ENABLED or DISABLED.");
  if (value === "ENABLED" && service.placement === "binpack") {
    throw awsError("InvalidParameterException", "Availability Zone rebalancing is not supported with the binpack placement strategy.");
  }
  return value;
}

function ecsHandlers(world: World): Record<string, Handler> {
  const servicesOf = (cluster: string) => [...world.services.values()].filter((s) => s.clusterName === cluster);
  /**
   * A cluster's service by ARN or name: a map look-up (services are keyed cluster/name) when the
   * reference is the service's own ARN or name, else the scan (by ARN or id, then by name).
   * Both find the same service, service names holding no "/" (ECS allows none).
   */
  const serviceIn = (clusterName: string, ref: string): SimService | undefined => {
    const direct = world.services.get(ref.startsWith("arn:") ? ref.slice(ref.indexOf(":service/") + ":service/".length) : `${clusterName}/${ref}`);
    if (direct && direct.clusterName === clusterName && (direct.arn === ref || direct.name === ref) && !direct.name.includes("/")) return direct;
    return byArnOrId(servicesOf(clusterName), ref) ?? servicesOf(clusterName).find((s) => s.name === ref);
  };
  let listed: { key: string; found: SimTask[] } | undefined;
  return {
    DescribeClusters: (input) => {
      const refs: string[] = input.clusters ?? ["default"];
      const clusters = refs.map((ref) => world.clusters.get(ref.split("/").pop()!)).filter((c) => c !== undefined);
      return {
        clusters: clusters.map((c) => ({
          clusterArn: c.arn,
          clusterName: c.name,
          status: "ACTIVE",
          registeredContainerInstancesCount: [...world.containerInstances.values()].filter((ci) => ci.clusterName === c.name && ci.status !== "INACTIVE").length,
          // A RUNNING task is one meant to run (stopping one makes it STOPPING).
          runningTasksCount: [...world.desiredRunning(c.name)].filter((t) => t.clusterName === c.name && t.lastStatus === "RUNNING").length,
          activeServicesCount: servicesOf(c.name).length,
          ...(c.capacityProviders && { capacityProviders: [...c.capacityProviders], defaultCapacityProviderStrategy: (c.defaultStrategy ?? []).map((s) => ({ base: 0, weight: 0, ...s })) }),
        })),
        failures: refs.filter((ref) => !world.clusters.has(ref.split("/").pop()!)).map((arn) => ({ arn, reason: "MISSING" })),
      };
    },
    ListContainerInstances: (input) => {
      const cluster = findCluster(world, input.cluster);
      const matches = containerInstanceFilter(input.filter);
      // The drain hook asks for one EC2 instance's: those are indexed (the same ones, in the same order).
      const ec2InstanceId = /^\s*ec2InstanceId\s*==\s*(\S+)\s*$/.exec(input.filter ?? "")?.[1];
      const source = ec2InstanceId ? world.containerInstancesOfEc2(ec2InstanceId) : [...world.containerInstances.values()];
      const found = source.filter(
        (ci) => ci.clusterName === cluster.name && (input.status ? ci.status === input.status : ci.status !== "INACTIVE") && matches(ci),
      );
      const { items, nextToken } = page(found, input.nextToken, input.maxResults, 100);
      return { containerInstanceArns: items.map((ci) => ci.arn), nextToken };
    },
    DescribeContainerInstances: (input) => {
      const cluster = findCluster(world, input.cluster);
      tooMany(input.containerInstances, 100, "containerInstances");
      const found = (input.containerInstances as string[]).map((ref) => [ref, containerInstanceIn(world, cluster.name, ref)] as const);
      return {
        containerInstances: found.filter(([, ci]) => ci).map(([, ci]) => containerInstanceView(world, ci!)),
        failures: found.filter(([, ci]) => !ci).map(([arn]) => ({ arn, reason: "MISSING" })),
      };
    },
    UpdateContainerInstancesState: (input) => {
      const cluster = findCluster(world, input.cluster);
      tooMany(input.containerInstances, 10, "containerInstances");
      if (input.status !== "ACTIVE" && input.status !== "DRAINING") throw awsError("InvalidParameterException", `Invalid status ${input.status}`);
      const updated: SimContainerInstance[] = [];
      const failures: { arn: string; reason: string }[] = [];
      for (const ref of input.containerInstances as string[]) {
        const ci = containerInstanceIn(world, cluster.name, ref);
        if (!ci || ci.status === "INACTIVE") failures.push({ arn: ref, reason: "MISSING" });
        else {
          world.setContainerInstanceStatus(ci, input.status);
          updated.push(ci);
        }
      }
      return { containerInstances: updated.map((ci) => containerInstanceView(world, ci)), failures };
    },
    ListServices: (input) => {
      const cluster = findCluster(world, input.cluster);
      const services = servicesOf(cluster.name).filter((s) => !input.schedulingStrategy || s.schedulingStrategy === input.schedulingStrategy);
      const { items, nextToken } = page(services, input.nextToken, input.maxResults, 100, 10);
      return { serviceArns: items.map((s) => s.arn), nextToken };
    },
    DescribeServices: (input) => {
      const cluster = findCluster(world, input.cluster);
      tooMany(input.services, 10, "services");
      const found = (input.services as string[]).map((ref) => [ref, serviceIn(cluster.name, ref)] as const);
      return {
        services: found.filter(([, s]) => s).map(([, s]) => serviceView(world, s!)),
        failures: found.filter(([, s]) => !s).map(([arn]) => ({ arn, reason: "MISSING" })),
      };
    },
    PutClusterCapacityProviders: (input) => {
      const cluster = findCluster(world, input.cluster);
      putClusterCapacityProviders(world, cluster.name, input.capacityProviders ?? [], input.defaultCapacityProviderStrategy ?? []);
      return { cluster: { clusterArn: cluster.arn, clusterName: cluster.name, capacityProviders: input.capacityProviders, defaultCapacityProviderStrategy: input.defaultCapacityProviderStrategy } };
    },
    UpdateService: (input) => {
      const cluster = findCluster(world, input.cluster);
      const service = servicesOf(cluster.name).find((s) => s.name === input.service || s.arn === input.service);
      if (!service) throw awsError("ServiceNotFoundException", "Service not found.");
      if (input.capacityProviderStrategy !== undefined) {
        const set = world.clusters.get(cluster.name)?.capacityProviders ?? [];
        const stray = (input.capacityProviderStrategy as { capacityProvider: string }[]).find((s) => !set.includes(s.capacityProvider));
        if (stray) throw awsError("InvalidParameterException", `The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster (${stray.capacityProvider}).`);
        if (!input.forceNewDeployment) throw awsError("InvalidParameterException", "A capacity provider strategy update requires forceNewDeployment.");
      }
      if (input.desiredCount !== undefined && (!Number.isInteger(input.desiredCount) || input.desiredCount < 0)) {
        throw awsError("InvalidParameterException", "desiredCount must be a non-negative integer.");
      }
      const deploymentConfiguration = validDeploymentConfiguration(input.deploymentConfiguration);
      const availabilityZoneRebalancing = validAzRebalancing(service, input.availabilityZoneRebalancing);
      world.updateService(service, { desiredCount: input.desiredCount, forceNewDeployment: input.forceNewDeployment, deploymentConfiguration, availabilityZoneRebalancing, capacityProviderStrategy: input.capacityProviderStrategy });
      return { service: serviceView(world, service) };
    },
    StopTask: (input) => {
      const cluster = findCluster(world, input.cluster);
      const task = typeof input.task === "string" ? (world.tasks.get(input.task) ?? byArnOrId(world.tasks.values(), input.task)) : undefined;
      if (!task || task.clusterName !== cluster.name) throw awsError("InvalidParameterException", "The referenced task was not found.");
      // The service scheduler starts its replacement on its next pass, where its placement strategy says.
      world.stopTask(task, typeof input.reason === "string" && input.reason !== "" ? input.reason : "Task stopped by user");
      return { task: taskView(world, task) };
    },
    ListTasks: (input) => {
      const cluster = findCluster(world, input.cluster);
      const desired = input.desiredStatus ?? "RUNNING";
      const hourAgo = world.clock.now() - 3_600_000;
      // Where the tasks can be (the same tasks in the same order as a scan of every task): a
      // container instance's own tasks, or the cluster's tasks meant to run.
      // Pages of one listing share it while no task changes (a paginated listing is not rescanned per page).
      const ref = input.containerInstance as string | undefined;
      const key = JSON.stringify([cluster.name, desired, input.serviceName, ref, input.family, world.clock.now(), world.taskChanges]);
      if (listed?.key === key) {
        const { items, nextToken } = page(listed.found, input.nextToken, input.maxResults, 100);
        return { taskArns: items.map((t) => t.arn), nextToken };
      }
      const source: Iterable<SimTask> = ref?.startsWith("arn:")
        ? desired === "RUNNING"
          ? world.tasksOnInstance(ref)
          : world.taskHistoryOf(ref)
        : desired === "RUNNING"
          ? world.desiredRunning(cluster.name)
          : world.tasks.values();
      const found = [...source].filter(
        (t) =>
          t.clusterName === cluster.name &&
          t.desiredStatus === desired &&
          (desired === "RUNNING" || (t.stoppedAt ?? t.stoppingAt ?? Infinity) >= hourAgo) &&
          (!input.serviceName || t.serviceName === input.serviceName.split("/").pop()) &&
          (!input.containerInstance || t.containerInstanceArn === input.containerInstance || t.containerInstanceArn.endsWith(`/${input.containerInstance}`)) &&
          (!input.family || t.group === `family:${input.family}`),
      );
      listed = { key, found };
      const { items, nextToken } = page(found, input.nextToken, input.maxResults, 100);
      return { taskArns: items.map((t) => t.arn), nextToken };
    },
    DescribeTasks: (input) => {
      const cluster = findCluster(world, input.cluster);
      tooMany(input.tasks, 100, "tasks");
      const found = (input.tasks as string[]).map((ref) => [ref, world.tasks.get(ref) ?? byArnOrId(world.tasks.values(), ref)] as const);
      return {
        tasks: found.filter(([, t]) => t && t.clusterName === cluster.name).map(([, t]) => taskView(world, t!)),
        failures: found.filter(([, t]) => !t || t.clusterName !== cluster.name).map(([arn]) => ({ arn, reason: "MISSING" })),
      };
    },
  };
}

// ------------------------------------------------------------------------------ Auto Scaling

function groupView(world: World, group: SimGroup) {
  const instances = group.instanceIds.map((id) => world.instances.get(id)!);
  return {
    AutoScalingGroupName: group.name,
    AutoScalingGroupARN: group.arn,
    MinSize: group.min,
    MaxSize: group.max,
    DesiredCapacity: group.desired,
    AvailabilityZones: [...new Set(group.subnets.map((s) => s.az))],
    VPCZoneIdentifier: group.subnets.map((s) => s.subnetId).join(","),
    HealthCheckType: "EC2",
    CreatedTime: new Date(group.createdAt),
    Status: group.deleting ? "Delete in progress" : undefined,
    Instances: instances.map((i) => ({
      InstanceId: i.id,
      InstanceType: i.instanceType,
      AvailabilityZone: i.az,
      LifecycleState: i.lifecycle,
      HealthStatus: "Healthy",
      ProtectedFromScaleIn: false,
    })),
    SuspendedProcesses: [...group.suspended].map((ProcessName) => ({ ProcessName, SuspensionReason: "User suspended" })),
    Tags: Object.entries(group.tags ?? {}).map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: true, ResourceId: group.name, ResourceType: "auto-scaling-group" })),
  };
}

function findGroup(world: World, name: string | undefined): SimGroup {
  const group = name ? world.groups.get(name) : undefined;
  if (!group) throw awsError("ValidationError", `AutoScalingGroup name not found - ${name}`);
  return group;
}

function noActiveAction(instanceId: string) {
  return awsError("ValidationError", `No active Lifecycle Action found with instance ID ${instanceId}`);
}

function lifecycleInstance(world: World, input: any): SimInstance {
  const group = findGroup(world, input.AutoScalingGroupName);
  const instance = world.instances.get(input.InstanceId);
  const action = instance?.action;
  if (!instance || instance.groupName !== group.name || !action || action.hookName !== input.LifecycleHookName) throw noActiveAction(input.InstanceId);
  if (input.LifecycleActionToken && input.LifecycleActionToken !== action.token) throw noActiveAction(input.InstanceId);
  return instance;
}

const PROCESSES = ["Launch", "Terminate", "AddToLoadBalancer", "AlarmNotification", "AZRebalance", "HealthCheck", "InstanceRefresh", "ReplaceUnhealthy", "ScheduledActions"];

function autoScalingHandlers(world: World): Record<string, Handler> {
  return {
    DescribeAutoScalingGroups: (input) => {
      let groups = [...world.groups.values()];
      if (input.AutoScalingGroupNames?.length) groups = groups.filter((g) => input.AutoScalingGroupNames.includes(g.name));
      for (const filter of input.Filters ?? []) {
        const key = /^tag:(.+)$/.exec(filter.Name ?? "")?.[1];
        if (!key) throw awsError("ValidationError", `Filter ${filter.Name} is not supported`);
        groups = groups.filter((g) => filter.Values.includes(g.tags?.[key]));
      }
      const { items, nextToken } = page(groups, input.NextToken, input.MaxRecords, 100, 50);
      return { AutoScalingGroups: items.map((g) => groupView(world, g)), NextToken: nextToken };
    },
    DescribeAutoScalingInstances: (input) => {
      const all = [...world.instances.values()].filter((i) => i.state !== "terminated" && world.groups.has(i.groupName));
      const wanted = input.InstanceIds?.length ? all.filter((i) => input.InstanceIds.includes(i.id)) : all;
      const { items, nextToken } = page(wanted, input.NextToken, input.MaxRecords, 50);
      return {
        AutoScalingInstances: items.map((i) => ({
          InstanceId: i.id,
          AutoScalingGroupName: i.groupName,
          AvailabilityZone: i.az,
          LifecycleState: i.lifecycle,
          HealthStatus: "HEALTHY",
          InstanceType: i.instanceType,
          ProtectedFromScaleIn: false,
        })),
        NextToken: nextToken,
      };
    },
    DescribeLifecycleHooks: (input) => {
      const group = findGroup(world, input.AutoScalingGroupName);
      return {
        LifecycleHooks: group.hooks.map((h) => ({
          LifecycleHookName: h.name,
          AutoScalingGroupName: group.name,
          LifecycleTransition: h.transition,
          HeartbeatTimeout: h.heartbeatTimeoutSeconds,
          GlobalTimeout: Math.min(100 * h.heartbeatTimeoutSeconds, 172800),
          DefaultResult: h.defaultResult,
        })),
      };
    },
    SuspendProcesses: (input) => {
      const group = findGroup(world, input.AutoScalingGroupName);
      for (const p of input.ScalingProcesses?.length ? input.ScalingProcesses : PROCESSES) group.suspended.add(p);
      return {};
    },
    ResumeProcesses: (input) => {
      const group = findGroup(world, input.AutoScalingGroupName);
      for (const p of input.ScalingProcesses?.length ? input.ScalingProcesses : PROCESSES) group.suspended.delete(p);
      return {};
    },
    SetDesiredCapacity: (input) => {
      const group = findGroup(world, input.AutoScalingGroupName);
      if (input.DesiredCapacity < group.min || input.DesiredCapacity > group.max) {
        throw awsError("ValidationError", `New SetDesiredCapacity value ${input.DesiredCapacity} is outside of the min size ${group.min} and max size ${group.max}.`);
      }
      group.desired = input.DesiredCapacity;
      return {};
    },
    UpdateAutoScalingGroup: (input) => {
      const group = findGroup(world, input.AutoScalingGroupName);
      const min = input.MinSize ?? group.min;
      const max = input.MaxSize ?? group.max;
      const desired = input.DesiredCapacity ?? Math.min(Math.max(group.desired, min), max);
      if (min > max || desired < min || desired > max) throw awsError("ValidationError", "Desired capacity must be between the min and max size.");
      Object.assign(group, { min, max, desired });
      return {};
    },
    TerminateInstanceInAutoScalingGroup: (input) => {
      const instance = world.instances.get(input.InstanceId);
      const group = instance ? world.groups.get(instance.groupName) : undefined;
      if (!instance || !group || instance.state === "terminated") throw awsError("ValidationError", `Instance Id not found - ${input.InstanceId}`);
      if (input.ShouldDecrementDesiredCapacity) {
        if (group.desired - 1 < group.min) throw awsError("ValidationError", "Currently, desiredSize equals minSize. Terminating instance without replacement will violate group's min size constraint.");
        group.desired--;
      }
      world.beginTermination(instance);
      return { Activity: { ActivityId: world.rng.hex(32), AutoScalingGroupName: group.name, StatusCode: "InProgress", Description: `Terminating EC2 instance: ${instance.id}` } };
    },
    CompleteLifecycleAction: (input) => {
      world.completeLifecycleAction(lifecycleInstance(world, input), input.LifecycleActionResult);
      return {};
    },
    RecordLifecycleActionHeartbeat: (input) => {
      const instance = lifecycleInstance(world, input);
      const hook = world.groups.get(instance.groupName)!.hooks.find((h) => h.name === instance.action!.hookName)!;
      instance.action!.expiresAt = world.clock.now() + hook.heartbeatTimeoutSeconds * 1000;
      return {};
    },
    StartInstanceRefresh: (input) => {
      const group = findGroup(world, input.AutoScalingGroupName);
      if (group.refreshes.some((r) => r.status === "Pending" || r.status === "InProgress")) {
        throw awsError("InstanceRefreshInProgressFault", `An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.`);
      }
      const refresh = world.startInstanceRefresh(group, input.Preferences?.MinHealthyPercentage ?? 90);
      return { InstanceRefreshId: refresh.id };
    },
    DescribeInstanceRefreshes: (input) => {
      const group = findGroup(world, input.AutoScalingGroupName);
      return {
        InstanceRefreshes: group.refreshes.map((r) => ({
          InstanceRefreshId: r.id,
          AutoScalingGroupName: group.name,
          Status: r.status,
          StartTime: new Date(r.startedAt),
          EndTime: r.endedAt === undefined ? undefined : new Date(r.endedAt),
          PercentageComplete: world.percentComplete(r),
          InstancesToUpdate: r.toReplace.size,
        })),
      };
    },
    CancelInstanceRefresh: (input) => {
      const group = findGroup(world, input.AutoScalingGroupName);
      const active = group.refreshes.find((r) => r.status === "Pending" || r.status === "InProgress");
      if (!active) throw awsError("ActiveInstanceRefreshNotFoundFault", "No in progress or pending Instance Refresh found.");
      active.status = "Cancelled";
      active.endedAt = world.clock.now();
      return { InstanceRefreshId: active.id };
    },
  };
}

// ------------------------------------------------------------------------------ EC2 and SSM

function ec2Handlers(world: World): Record<string, Handler> {
  return {
    DescribeInstances: (input) => {
      let instances = [...world.instances.values()];
      if (input.InstanceIds?.length) {
        const missing = (input.InstanceIds as string[]).filter((id) => !world.instances.has(id));
        if (missing.length) throw awsError("InvalidInstanceID.NotFound", `The instance IDs '${missing.join(", ")}' do not exist`);
        instances = instances.filter((i) => input.InstanceIds.includes(i.id));
      }
      for (const filter of input.Filters ?? []) {
        const value = (i: SimInstance): string | undefined =>
          filter.Name === "tag:aws:autoscaling:groupName" ? i.groupName : filter.Name === "instance-state-name" ? i.state : filter.Name === "image-id" ? i.imageId : filter.Name === "instance-id" ? i.id : undefined;
        if (!["tag:aws:autoscaling:groupName", "instance-state-name", "image-id", "instance-id"].includes(filter.Name)) throw awsError("InvalidParameterValue", `The filter '${filter.Name}' is invalid`);
        instances = instances.filter((i) => filter.Values.includes(value(i)));
      }
      const { items, nextToken } = page(instances, input.NextToken, input.MaxResults, 1000);
      return {
        Reservations: items.map((i) => ({
          ReservationId: `r-${i.id.slice(2)}`,
          Instances: [
            {
              InstanceId: i.id,
              ImageId: i.imageId,
              InstanceType: i.instanceType,
              State: { Name: i.state },
              Placement: { AvailabilityZone: i.az },
              SubnetId: i.subnetId,
              LaunchTime: new Date(i.launchedAt),
              Tags: [{ Key: "aws:autoscaling:groupName", Value: i.groupName }],
            },
          ],
        })),
        NextToken: nextToken,
      };
    },
    DescribeImages: (input) => {
      const ids: string[] = input.ImageIds ?? [...world.images.keys()];
      const missing = ids.filter((id) => !world.images.has(id));
      if (missing.length) throw awsError("InvalidAMIID.NotFound", `The image id '[${missing.join(", ")}]' does not exist`);
      return {
        Images: ids.map((id) => world.images.get(id)!).map((image) => ({
          ImageId: image.imageId,
          Name: image.name,
          State: image.state,
          Architecture: image.architecture,
          CreationDate: image.creationDate,
          OwnerId: "591542846629",
        })),
      };
    },
  };
}

function ssmHandlers(world: World): Record<string, Handler> {
  const view = (name: string) => ({
    Name: name,
    Type: "String",
    Value: world.parameters.get(name),
    Version: 1,
    DataType: name.endsWith("/image_id") ? "aws:ec2:image" : "text",
    ARN: `arn:aws:ssm:${world.region}::parameter${name}`,
  });
  return {
    GetParameter: (input) => {
      if (!world.parameters.has(input.Name)) throw awsError("ParameterNotFound", `Parameter ${input.Name} not found.`);
      return { Parameter: view(input.Name) };
    },
    GetParameters: (input) => {
      const names: string[] = input.Names ?? [];
      if (names.length === 0 || names.length > 10) throw awsError("ValidationException", "Names must hold 1 to 10 names.");
      return { Parameters: names.filter((n) => world.parameters.has(n)).map(view), InvalidParameters: names.filter((n) => !world.parameters.has(n)) };
    },
    GetParametersByPath: (input) => {
      const path = String(input.Path ?? "").replace(/\/$/, "");
      const names = [...world.parameters.keys()]
        .filter((n) => n.startsWith(`${path}/`) && (input.Recursive || !n.slice(path.length + 1).includes("/")))
        .sort();
      const { items, nextToken } = page(names, input.NextToken, input.MaxResults, 10);
      return { Parameters: items.map(view), NextToken: nextToken };
    },
  };
}

/**
 * PutClusterCapacityProviders (and terraform's aws_ecs_cluster_capacity_providers), with ECS's
 * checks: every provider exists, the default strategy names only providers of the set, and a
 * provider leaves the set only once no task runs on its instances.
 */
export function putClusterCapacityProviders(world: World, clusterName: string, providers: readonly string[], defaultStrategy: readonly { capacityProvider: string; weight?: number; base?: number }[]): void {
  const cluster = world.clusters.get(clusterName);
  if (!cluster) throw awsError("ClusterNotFoundException", "Cluster not found.");
  const missing = providers.find((p) => !world.capacityProviders.has(p));
  if (missing) throw awsError("InvalidParameterException", `The specified capacity provider ${missing} does not exist.`);
  const stray = defaultStrategy.find((s) => !providers.includes(s.capacityProvider));
  if (stray) throw awsError("InvalidParameterException", `The default capacity provider strategy names ${stray.capacityProvider}, which is not associated with the cluster.`);
  for (const leaving of (cluster.capacityProviders ?? []).filter((p) => !providers.includes(p))) {
    const tasks = world.tasksOnProvider(leaving);
    if (tasks > 0) throw awsError("ResourceInUseException", `The specified capacity provider ${leaving} is in use (${tasks} task(s)) and cannot be removed.`);
  }
  cluster.capacityProviders = [...providers];
  cluster.defaultStrategy = defaultStrategy.map((s) => ({ ...s }));
  world.note(`cluster ${clusterName} capacity providers: ${providers.join(", ") || "(none)"}; default ${cluster.defaultStrategy.map((s) => s.capacityProvider).join(", ") || "(none)"}`);
}
