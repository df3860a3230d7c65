/**
 * The drain hook's handler against mocked AWS clients (aws-sdk-client-mock): every path a
 * terminating instance can take, malformed input, duplicates, and throttling.
 */
import { Readable } from "node:stream";
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
  ListServicesCommand,
  ListTasksCommand,
  UpdateContainerInstancesStateCommand,
} from "@aws-sdk/client-ecs";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import {
  type DrainHookSettings,
  type LifecycleAction,
  type LogEntry,
  BACKOFF_AFTER_SECONDS,
  DEADLINE_MARGIN_MS,
  MAX_STOPS_CARRIED,
  PROMPT_RECHECK_SECONDS,
  dueToEmpty,
  stopsEndDelay,
  stopsToCarry,
  SDK_MAX_ATTEMPTS,
  heartbeatDue,
  nextCheckDelay,
  actionFromEvent,
  actionsFromRecheck,
  checkDrains,
  createDrainHandler,
  createDrainHookClients,
  settingsFromEnv,
} from "../../constructs/drain-hook.lambda";

const SETTINGS: DrainHookSettings = {
  cluster: "staging-apps",
  hookName: "staging-apps-drain-hook",
  recheckQueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/staging-apps-drain-hook-recheck",
  recheckSeconds: 30,
  maxDrainSeconds: 3600,
};
const INSTANCE_ID = "i-0123456789abcdef0";
const CONTAINER_INSTANCE = "arn:aws:ecs:eu-west-1:123456789012:container-instance/staging-apps/0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const STARTED = Date.parse("2026-11-22T10:00:00Z");

const EVENT = {
  version: "0",
  id: "5b1c2d3e-0000-4000-8000-000000000001",
  "detail-type": "EC2 Instance-terminate Lifecycle Action",
  source: "aws.autoscaling",
  account: "123456789012",
  time: "2026-11-22T10:00:00Z",
  region: "eu-west-1",
  resources: ["arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:uuid:autoScalingGroupName/staging-apps-ami-0aaaaaaaaaaaaaaaa"],
  detail: {
    LifecycleActionToken: "87654321-4321-4321-4321-210987654321",
    AutoScalingGroupName: "staging-apps-ami-0aaaaaaaaaaaaaaaa",
    LifecycleHookName: "staging-apps-drain-hook",
    EC2InstanceId: INSTANCE_ID,
    LifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
    Origin: "AutoScalingGroup",
    Destination: "EC2",
  },
};

interface FakeTask {
  readonly arn: string;
  readonly group: string;
  readonly lastStatus: string;
  readonly desiredStatus?: "RUNNING" | "STOPPED";
  /** When it was told to stop and when it stopped (ms). */
  readonly stoppingAt?: number;
  readonly stoppedAt?: number;
}

interface FakeWorld {
  /** Undefined: the EC2 instance never registered with ECS. */
  readonly instance?: { status: string; pendingTasksCount?: number; runningTasksCount?: number };
  readonly tasks?: readonly FakeTask[];
  /** Service name -> scheduling strategy. */
  readonly services?: Readonly<Record<string, "REPLICA" | "DAEMON">>;
  /** Answer of CompleteLifecycleAction / RecordLifecycleActionHeartbeat. */
  readonly actionActive?: boolean;
  /** ListTasks page size (to exercise nextToken). */
  readonly pageSize?: number;
}

const noActiveAction = () =>
  Object.assign(new Error("No active Lifecycle Action found with instance ID i-0123456789abcdef0"), { name: "ValidationError" });

/** Mocked clients answering from a small world, plus the log lines the handler wrote. */
function setup(world: FakeWorld, nowMs = STARTED + 60_000, settings: Partial<DrainHookSettings> = {}) {
  const clients = { ecs: new ECSClient({ region: "eu-west-1" }), autoScaling: new AutoScalingClient({ region: "eu-west-1" }), sqs: new SQSClient({ region: "eu-west-1" }) };
  const ecs = mockClient(clients.ecs);
  const autoScaling = mockClient(clients.autoScaling);
  const sqs = mockClient(clients.sqs);
  const tasks = world.tasks ?? [];
  const pageSize = world.pageSize ?? 100;

  ecs.on(ListContainerInstancesCommand).callsFake((input) => {
    expect(input.filter).toBe(`ec2InstanceId == ${INSTANCE_ID}`);
    return { containerInstanceArns: world.instance ? [CONTAINER_INSTANCE] : [] };
  });
  ecs.on(DescribeContainerInstancesCommand).resolves({
    containerInstances: world.instance
      ? [{ containerInstanceArn: CONTAINER_INSTANCE, ec2InstanceId: INSTANCE_ID, status: world.instance.status, pendingTasksCount: world.instance.pendingTasksCount ?? 0, runningTasksCount: world.instance.runningTasksCount ?? 0 }]
      : [],
  });
  ecs.on(UpdateContainerInstancesStateCommand).resolves({ containerInstances: [{ containerInstanceArn: CONTAINER_INSTANCE, status: "DRAINING" }], failures: [] });
  ecs.on(ListTasksCommand).callsFake((input) => {
    const matching = tasks.filter((t) => (t.desiredStatus ?? "RUNNING") === input.desiredStatus).map((t) => t.arn);
    const start = input.nextToken ? Number(input.nextToken) : 0;
    const end = start + pageSize;
    return { taskArns: matching.slice(start, end), nextToken: end < matching.length ? String(end) : undefined };
  });
  ecs.on(DescribeTasksCommand).callsFake((input) => {
    expect(input.tasks.length).toBeLessThanOrEqual(100);
    return {
      tasks: tasks
        .filter((t) => input.tasks.includes(t.arn))
        .map((t) => ({
          taskArn: t.arn,
          group: t.group,
          lastStatus: t.lastStatus,
          desiredStatus: t.desiredStatus ?? "RUNNING",
          ...(t.stoppingAt !== undefined && { stoppingAt: new Date(t.stoppingAt) }),
          ...(t.stoppedAt !== undefined && { stoppedAt: new Date(t.stoppedAt) }),
        })),
    };
  });
  ecs.on(DescribeServicesCommand).callsFake((input) => ({
    services: input.services.map((serviceName: string) => ({ serviceName, schedulingStrategy: world.services?.[serviceName] ?? "REPLICA" })),
  }));

  const lifecycle = () => (world.actionActive === false ? Promise.reject(noActiveAction()) : Promise.resolve({}));
  autoScaling.on(CompleteLifecycleActionCommand).callsFake(lifecycle);
  autoScaling.on(RecordLifecycleActionHeartbeatCommand).callsFake(lifecycle);
  sqs.on(SendMessageCommand).resolves({ MessageId: "m-1" });

  ecs.on(ListServicesCommand).callsFake((input) => {
    expect(input.schedulingStrategy).toBe("DAEMON");
    return { serviceArns: Object.entries(world.services ?? {}).filter(([, kind]) => kind === "DAEMON").map(([name]) => `arn:aws:ecs:eu-west-1:123456789012:service/staging-apps/${name}`) };
  });

  const logs: LogEntry[] = [];
  const deps = { clients, settings: { ...SETTINGS, ...settings }, now: () => nowMs, log: (entry: LogEntry) => logs.push(entry) };
  const handler = createDrainHandler(deps);
  /** One check of the action a lifecycle event or a re-check message carries (as the sweep of a batch makes it). */
  const check = async (input: unknown) => {
    const records = (input as { Records?: { body: string }[] }).Records;
    const actions = records ? records.flatMap((r) => actionsFromRecheck(r.body, SETTINGS.hookName).actions) : [(actionFromEvent(input, SETTINGS.hookName) as { action: LifecycleAction }).action];
    return (await checkDrains(actions, deps))[0];
  };
  /** The actions of the `n`th re-check message sent. */
  const sent = (n = 0) => JSON.parse(sqs.commandCalls(SendMessageCommand)[n].args[0].input.MessageBody!).actions as LifecycleAction[];
  return { handler, check, sent, ecs, autoScaling, sqs, logs, clients };
}

const task = (n: number, group: string, lastStatus = "RUNNING", desiredStatus: FakeTask["desiredStatus"] = "RUNNING"): FakeTask => ({
  arn: `arn:aws:ecs:eu-west-1:123456789012:task/staging-apps/${String(n).padStart(32, "0")}`,
  group,
  lastStatus,
  desiredStatus,
});

const recheckMessage = (action: Partial<LifecycleAction> = {}, messageId = "msg-1") => ({
  messageId,
  eventSource: "aws:sqs",
  body: JSON.stringify({
    autoScalingGroupName: EVENT.detail.AutoScalingGroupName,
    lifecycleHookName: EVENT.detail.LifecycleHookName,
    lifecycleActionToken: EVENT.detail.LifecycleActionToken,
    instanceId: INSTANCE_ID,
    startedAt: EVENT.time,
    checks: 1,
    ...action,
  }),
});

describe("drain hook handler", () => {
  it("lets an instance that never joined ECS go at once", async () => {
    const { check, ecs, autoScaling, sqs } = setup({ instance: undefined });
    await expect(check(EVENT)).resolves.toEqual({ kind: "completed", reason: "not-registered" });
    expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)[0].args[0].input).toEqual({
      AutoScalingGroupName: EVENT.detail.AutoScalingGroupName,
      LifecycleHookName: EVENT.detail.LifecycleHookName,
      LifecycleActionToken: EVENT.detail.LifecycleActionToken,
      InstanceId: INSTANCE_ID,
      LifecycleActionResult: "CONTINUE",
    });
    expect(ecs.commandCalls(UpdateContainerInstancesStateCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it("sets an ACTIVE instance DRAINING, records a heartbeat and schedules the next check while tasks remain", async () => {
    const { check, sent, ecs, autoScaling, sqs, logs } = setup({ instance: { status: "ACTIVE" }, tasks: [task(1, "service:web"), task(2, "service:web")] });
    await expect(check(EVENT)).resolves.toEqual({ kind: "waiting", holding: 2, nextCheckSeconds: 30 });

    expect(ecs.commandCalls(UpdateContainerInstancesStateCommand)[0].args[0].input).toEqual({
      cluster: "staging-apps",
      containerInstances: [CONTAINER_INSTANCE],
      status: "DRAINING",
    });
    expect(autoScaling.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
    expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
    const message = sqs.commandCalls(SendMessageCommand)[0].args[0].input;
    expect(message.QueueUrl).toBe(SETTINGS.recheckQueueUrl);
    expect(message.DelaySeconds).toBe(30);
    expect(sent()).toEqual([expect.objectContaining({ instanceId: INSTANCE_ID, startedAt: EVENT.time, checks: 1, containerInstanceArns: [CONTAINER_INSTANCE] })]);
    expect(logs.map((l) => l.message)).toContain("waiting for 2 task(s) to leave");
  });

  it("lets a DRAINING instance with no tasks left go, without draining it again", async () => {
    const { check, ecs, autoScaling, sqs } = setup({ instance: { status: "DRAINING" }, tasks: [task(1, "service:web", "STOPPED", "STOPPED")] });
    await expect(check(EVENT)).resolves.toEqual({ kind: "completed", reason: "drained" });
    expect(ecs.commandCalls(UpdateContainerInstancesStateCommand)).toHaveLength(0);
    expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it.each(["RUNNING", "PENDING", "ACTIVATING", "DEACTIVATING", "STOPPING", "DEPROVISIONING"])(
    "a task whose last status is %s holds the instance, even when already told to stop",
    async (lastStatus) => {
      const { check, autoScaling } = setup({ instance: { status: "DRAINING" }, tasks: [task(1, "service:web", lastStatus, "STOPPED")] });
      await expect(check(EVENT)).resolves.toMatchObject({ kind: "waiting", holding: 1 });
      expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
    },
  );

  it("does not wait for daemon-service tasks (one per instance by design)", async () => {
    const { check, ecs } = setup({
      instance: { status: "DRAINING" },
      tasks: [task(1, "service:log-router"), task(2, "service:node-exporter")],
      services: { "log-router": "DAEMON", "node-exporter": "DAEMON" },
    });
    await expect(check(EVENT)).resolves.toEqual({ kind: "completed", reason: "drained" });
    // Found by listing the cluster's daemon services (once), not by describing the tasks' services.
    expect(ecs.commandCalls(ListServicesCommand).map((c) => [c.args[0].input.cluster, c.args[0].input.schedulingStrategy])).toEqual([["staging-apps", "DAEMON"]]);
    expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(0);
  });

  it("takes a daemon service's name from the end of its ARN, in the old ARN format too", async () => {
    const { check, ecs } = setup({ instance: { status: "DRAINING" }, tasks: [task(1, "service:log-router"), task(2, "service:web")] });
    ecs.on(ListServicesCommand).resolves({ serviceArns: ["arn:aws:ecs:eu-west-1:123456789012:service/log-router"] });
    await expect(check(EVENT)).resolves.toMatchObject({ kind: "waiting", holding: 1 });
    ecs.on(ListServicesCommand).resolves({ serviceArns: ["arn:aws:ecs:eu-west-1:123456789012:service/staging-apps/web", "arn:aws:ecs:eu-west-1:123456789012:service/staging-apps/log-router"] });
    await expect(check(EVENT)).resolves.toEqual({ kind: "completed", reason: "drained" });
  });

  it("waits for replica-service and standalone tasks beside a daemon", async () => {
    const { check } = setup({
      instance: { status: "DRAINING" },
      tasks: [task(1, "service:log-router"), task(2, "service:web"), task(3, "family:nightly-report")],
      services: { "log-router": "DAEMON" },
    });
    await expect(check(EVENT)).resolves.toMatchObject({ kind: "waiting", holding: 2 });
  });

  it("waits while the instance reports a pending task not listed yet", async () => {
    const { check } = setup({ instance: { status: "DRAINING", pendingTasksCount: 1 }, tasks: [] });
    await expect(check(EVENT)).resolves.toMatchObject({ kind: "waiting", holding: 1 });
  });

  it("after the maximum drain time lets the instance go anyway and logs an error naming the tasks", async () => {
    const { handler, autoScaling, sqs, logs } = setup(
      { instance: { status: "DRAINING" }, tasks: [task(1, "family:nightly-report")] },
      STARTED + SETTINGS.maxDrainSeconds * 1000,
    );
    await expect(handler(recheckMessageEvent({ checks: 120 }))).resolves.toEqual({ batchItemFailures: [] });
    expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)[0].args[0].input.LifecycleActionResult).toBe("CONTINUE");
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    const loud = logs.find((l) => l.level === "error")!;
    expect(loud.message).toMatch(/MAX DRAIN TIME REACHED.*1 task/);
    expect(String(loud.tasks)).toContain("family:nightly-report");
  });

  it("schedules the last check at the maximum drain time rather than past it", async () => {
    const { check, sqs } = setup({ instance: { status: "DRAINING" }, tasks: [task(1, "service:web")] }, STARTED + (SETTINGS.maxDrainSeconds - 10) * 1000);
    await check(EVENT);
    expect(sqs.commandCalls(SendMessageCommand)[0].args[0].input.DelaySeconds).toBe(10);
  });

  it("continues from an SQS re-check message, counting checks", async () => {
    const { handler, sent } = setup({ instance: { status: "DRAINING" }, tasks: [task(1, "service:web")] });
    await expect(handler(recheckMessageEvent({ checks: 4 }))).resolves.toEqual({ batchItemFailures: [] });
    expect(sent()[0].checks).toBe(5);
  });

  it("is idempotent: a duplicate event after the action completed changes nothing and stops", async () => {
    const { check, ecs, sqs, logs } = setup({ instance: { status: "DRAINING" }, tasks: [], actionActive: false });
    await expect(check(EVENT)).resolves.toEqual({ kind: "already-completed" });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(ecs.commandCalls(UpdateContainerInstancesStateCommand)).toHaveLength(0);
    expect(logs.map((l) => l.message)).toContain("lifecycle action no longer waiting: stopping checks");
  });

  it("stops re-checking when the action is no longer waiting (completed elsewhere, timed out, group gone)", async () => {
    const { handler, sqs } = setup({ instance: { status: "DRAINING" }, tasks: [task(1, "service:web")], actionActive: false });
    await expect(handler(recheckMessageEvent())).resolves.toEqual({ batchItemFailures: [] });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it("a late re-check for an instance already gone just stops (out of order)", async () => {
    const { handler, autoScaling, sqs } = setup({ instance: undefined, actionActive: false });
    await expect(handler(recheckMessageEvent({ checks: 9 }))).resolves.toEqual({ batchItemFailures: [] });
    expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it("keeps checking when ECS refuses to drain the instance", async () => {
    const world = setup({ instance: { status: "ACTIVE" }, tasks: [task(1, "service:web")] });
    world.ecs.on(UpdateContainerInstancesStateCommand).resolves({ failures: [{ arn: CONTAINER_INSTANCE, reason: "MISSING" }] });
    await expect(world.check(EVENT)).resolves.toMatchObject({ kind: "waiting" });
    expect(world.logs.find((l) => l.level === "warn")?.reason).toBe("MISSING");
  });

  it("reads every page of tasks and describes them 100 at a time", async () => {
    const tasks = Array.from({ length: 250 }, (_, i) => task(i, "service:web", "STOPPED", "STOPPED"));
    const { check, ecs } = setup({ instance: { status: "DRAINING" }, tasks: [...tasks, task(999, "service:web")], pageSize: 40 });
    await expect(check(EVENT)).resolves.toMatchObject({ kind: "waiting", holding: 1 });
    expect(ecs.commandCalls(DescribeTasksCommand).map((c) => c.args[0].input.tasks!.length)).toEqual([100, 100, 51]);
  });

  describe("malformed input is logged and dropped, never retried", () => {
    const { detail } = EVENT;
    it.each([
      ["not an object", "hello"],
      ["another detail-type", { ...EVENT, "detail-type": "EC2 Instance Launch Successful" }],
      ["a launching transition", { ...EVENT, detail: { ...detail, LifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING" } }],
      ["no token", { ...EVENT, detail: { ...detail, LifecycleActionToken: undefined } }],
      ["a bad instance id", { ...EVENT, detail: { ...detail, EC2InstanceId: "i-x; rm -rf" } }],
      ["another hook's event", { ...EVENT, detail: { ...detail, LifecycleHookName: "someone-elses-hook" } }],
      ["no time", { ...EVENT, time: "yesterday" }],
    ])("an event with %s", async (_label, event) => {
      const { handler, ecs, autoScaling, logs } = setup({ instance: { status: "ACTIVE" } });
      await expect(handler(event)).resolves.toBeUndefined();
      expect(ecs.calls()).toHaveLength(0);
      expect(autoScaling.calls()).toHaveLength(0);
      expect(logs).toEqual([expect.objectContaining({ level: "warn", message: "dropped a malformed lifecycle event" })]);
    });

    it("a bad SQS message is dropped while the good ones in its batch are checked", async () => {
      const { handler, autoScaling, logs } = setup({ instance: { status: "DRAINING" }, tasks: [] });
      const event = {
        Records: [
          { messageId: "bad-json", eventSource: "aws:sqs", body: "{not json" },
          { ...recheckMessage({ checks: -1 }, "bad-checks") },
          recheckMessage({}, "good"),
        ],
      };
      await expect(handler(event)).resolves.toEqual({ batchItemFailures: [] });
      expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
      expect(logs.filter((l) => l.message === "dropped a malformed re-check message").map((l) => l.messageId)).toEqual(["bad-json", "bad-checks"]);
    });
  });

  it("reports every message of a batch back to SQS when a call made for all of them fails (none is lost)", async () => {
    const { handler, ecs, logs } = setup({ instance: { status: "DRAINING" }, tasks: [] });
    ecs.on(ListContainerInstancesCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
    const event = { Records: [recheckMessage({}, "first"), recheckMessage({}, "second")] };
    await expect(handler(event)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: "first" }, { itemIdentifier: "second" }] });
    expect(logs.find((l) => l.level === "error")).toMatchObject({ message: "check failed; SQS will deliver its messages again", messageIds: ["first", "second"] });
  });

  it("a call for one instance failing (its completion) fails its check alone: checked again after the interval, the batch done", async () => {
    const { handler, autoScaling, sent } = setup({ instance: { status: "DRAINING" }, tasks: [] });
    autoScaling.on(CompleteLifecycleActionCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "Throttling" }));
    await expect(handler(recheckMessageEvent())).resolves.toEqual({ batchItemFailures: [] });
    expect(sent()).toEqual([expect.objectContaining({ instanceId: INSTANCE_ID, checks: 2, delaySeconds: 30 })]);
  });

  it("queues a lifecycle event for its first check, in the message form re-checks take", async () => {
    const { handler, ecs, autoScaling, sqs, sent } = setup({ instance: { status: "ACTIVE" } });
    await expect(handler(EVENT)).resolves.toEqual({ kind: "queued" });
    expect(ecs.calls()).toHaveLength(0);
    expect(autoScaling.calls()).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)[0].args[0].input).toMatchObject({ QueueUrl: SETTINGS.recheckQueueUrl, DelaySeconds: 0 });
    expect(sent()).toEqual([(actionFromEvent(EVENT, SETTINGS.hookName) as { action: LifecycleAction }).action]);
  });

  it("an AWS error queueing a lifecycle event fails the invocation so Lambda retries it", async () => {
    const { handler, sqs } = setup({ instance: { status: "ACTIVE" } });
    sqs.on(SendMessageCommand).rejects(Object.assign(new Error("Service unavailable"), { name: "ServerException" }));
    await expect(handler(EVENT)).rejects.toThrow("Service unavailable");
  });
});

describe("drain hook timing and identity", () => {
  const OTHER_INSTANCE = "i-0fedcba9876543210";
  const OTHER_CONTAINER_INSTANCE = "arn:aws:ecs:eu-west-1:123456789012:container-instance/staging-apps/ffffffffffffffffffffffffffffffff";
  const throttled = () => Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
  const groupGone = () =>
    Object.assign(new Error("AutoScalingGroup name not found - staging-apps-ami-0aaaaaaaaaaaaaaaa"), { name: "ValidationError" });

  describe("the heartbeat comes first", () => {
    it("records a heartbeat before any ECS call, so a check that then fails has still kept the instance waiting", async () => {
      const { handler, ecs, autoScaling } = setup({ instance: { status: "ACTIVE" }, tasks: [task(1, "service:web")] });
      ecs.on(ListContainerInstancesCommand).rejects(throttled());
      await expect(handler(recheckMessageEvent())).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: "msg-1" }] });
      expect(autoScaling.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
    });

    it("also on the first check, from the lifecycle event", async () => {
      const { check, ecs, autoScaling } = setup({ instance: { status: "ACTIVE" } });
      ecs.on(ListContainerInstancesCommand).rejects(throttled());
      await expect(check(EVENT)).rejects.toThrow("Rate exceeded");
      expect(autoScaling.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
    });
  });

  describe("a deleted group or a finished action ends the chain quietly (no throw, no retry, no DLQ)", () => {
    it.each([
      ["the group was deleted", groupGone],
      ["the action was completed or timed out", noActiveAction],
    ])("on a re-check when %s", async (_label, error) => {
      const { handler, ecs, autoScaling, sqs, logs } = setup({ instance: { status: "DRAINING" }, tasks: [task(1, "service:web")] });
      autoScaling.on(RecordLifecycleActionHeartbeatCommand).rejects(error());
      await expect(handler(recheckMessageEvent())).resolves.toEqual({ batchItemFailures: [] });
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
      expect(ecs.calls()).toHaveLength(0);
      expect(logs.filter((l) => l.level !== "info")).toEqual([]);
    });

    it("on the lifecycle event when the group was deleted", async () => {
      const { check, autoScaling } = setup({ instance: { status: "ACTIVE" } });
      autoScaling.on(RecordLifecycleActionHeartbeatCommand).rejects(groupGone());
      await expect(check(EVENT)).resolves.toEqual({ kind: "already-completed" });
    });

    it("when the group goes between the heartbeat and CompleteLifecycleAction", async () => {
      const { handler, autoScaling } = setup({ instance: { status: "DRAINING" }, tasks: [] });
      autoScaling.on(CompleteLifecycleActionCommand).rejects(groupGone());
      await expect(handler(recheckMessageEvent())).resolves.toEqual({ batchItemFailures: [] });
    });

    it("another autoscaling error still fails the check, which is made again after the interval (it may pass next time)", async () => {
      const { handler, ecs, autoScaling, sent } = setup({ instance: { status: "DRAINING" }, tasks: [] });
      autoScaling.on(RecordLifecycleActionHeartbeatCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "Throttling" }));
      await expect(handler(recheckMessageEvent())).resolves.toEqual({ batchItemFailures: [] });
      expect(ecs.calls()).toHaveLength(0);
      expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
      expect(sent()).toEqual([expect.objectContaining({ instanceId: INSTANCE_ID, delaySeconds: 30 })]);
    });
  });

  describe("the container instance is verified to be the terminating EC2 instance before it is drained", () => {
    it("an AWS that ignores the filter (moto) and lists only other instances' container instances: drains none of them, lets the instance go as not in the cluster", async () => {
      const { check, ecs, autoScaling, sqs } = setup({ instance: { status: "ACTIVE" }, tasks: [task(1, "service:web")] });
      ecs.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [OTHER_CONTAINER_INSTANCE] });
      ecs.on(DescribeContainerInstancesCommand).resolves({
        containerInstances: [{ containerInstanceArn: OTHER_CONTAINER_INSTANCE, ec2InstanceId: OTHER_INSTANCE, status: "ACTIVE", runningTasksCount: 1 }],
      });
      await expect(check(EVENT)).resolves.toEqual({ kind: "completed", reason: "not-registered" });
      expect(ecs.commandCalls(UpdateContainerInstancesStateCommand)).toHaveLength(0);
      expect(ecs.commandCalls(ListTasksCommand)).toHaveLength(0);
      expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)[0].args[0].input.InstanceId).toBe(INSTANCE_ID);
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    });

    it("a carried container instance that no longer carries the instance's ec2InstanceId is found again by listing, never drained", async () => {
      const { check, ecs } = setup({ instance: { status: "DRAINING" }, tasks: [] });
      ecs.on(DescribeContainerInstancesCommand).callsFake((input) => ({
        containerInstances: input.containerInstances.includes(OTHER_CONTAINER_INSTANCE)
          ? [{ containerInstanceArn: OTHER_CONTAINER_INSTANCE, ec2InstanceId: OTHER_INSTANCE, status: "ACTIVE" }]
          : [{ containerInstanceArn: CONTAINER_INSTANCE, ec2InstanceId: INSTANCE_ID, status: "DRAINING" }],
      }));
      await expect(check(recheckMessageEvent({ containerInstanceArns: [OTHER_CONTAINER_INSTANCE] }))).resolves.toEqual({ kind: "completed", reason: "drained" });
      expect(ecs.commandCalls(ListContainerInstancesCommand)).toHaveLength(1);
      expect(ecs.commandCalls(UpdateContainerInstancesStateCommand)).toHaveLength(0);
      expect(ecs.commandCalls(ListTasksCommand).every((c) => c.args[0].input.containerInstance === CONTAINER_INSTANCE)).toBe(true);
    });

    it("drains nothing when DescribeContainerInstances does not describe the listed one", async () => {
      const { check, ecs } = setup({ instance: { status: "ACTIVE" }, tasks: [] });
      ecs.on(DescribeContainerInstancesCommand).resolves({ containerInstances: [], failures: [{ arn: CONTAINER_INSTANCE, reason: "MISSING" }] });
      await expect(check(EVENT)).resolves.toMatchObject({ kind: "unverified" });
      expect(ecs.commandCalls(UpdateContainerInstancesStateCommand)).toHaveLength(0);
    });

    it("of several listed, drains only the one whose ec2InstanceId matches", async () => {
      const { check, ecs } = setup({ instance: { status: "ACTIVE" }, tasks: [task(1, "service:web")] });
      ecs.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [OTHER_CONTAINER_INSTANCE, CONTAINER_INSTANCE] });
      ecs.on(DescribeContainerInstancesCommand).callsFake((input) => ({
        containerInstances: [
          { containerInstanceArn: OTHER_CONTAINER_INSTANCE, ec2InstanceId: OTHER_INSTANCE, status: "ACTIVE" },
          { containerInstanceArn: CONTAINER_INSTANCE, ec2InstanceId: INSTANCE_ID, status: "ACTIVE" },
        ].filter((ci) => input.containerInstances.includes(ci.containerInstanceArn)),
      }));
      await expect(check(EVENT)).resolves.toMatchObject({ kind: "waiting", holding: 1 });
      expect(ecs.commandCalls(UpdateContainerInstancesStateCommand).map((c) => c.args[0].input.containerInstances)).toEqual([[CONTAINER_INSTANCE]]);
      expect(ecs.commandCalls(ListTasksCommand).every((c) => c.args[0].input.containerInstance === CONTAINER_INSTANCE)).toBe(true);
    });

    it("lets the instance go at the maximum drain time even when it was never verified", async () => {
      const { handler, ecs, autoScaling } = setup({ instance: { status: "ACTIVE" } }, STARTED + SETTINGS.maxDrainSeconds * 1000);
      ecs.on(DescribeContainerInstancesCommand).resolves({ containerInstances: [], failures: [{ arn: CONTAINER_INSTANCE, reason: "MISSING" }] });
      await handler(recheckMessageEvent({ checks: 120 }));
      expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
      expect(ecs.commandCalls(UpdateContainerInstancesStateCommand)).toHaveLength(0);
    });
  });

  describe("tasks DescribeTasks does not describe (MISSING) count as still there", () => {
    const missing = task(7, "service:web");
    const describeWithout = (world: ReturnType<typeof setup>, missingArns: string[], stopped: string[] = []) =>
      world.ecs.on(DescribeTasksCommand).callsFake((input) => ({
        tasks: input.tasks
          .filter((arn: string) => !missingArns.includes(arn))
          .map((arn: string) => ({ taskArn: arn, group: "service:web", lastStatus: stopped.includes(arn) ? "STOPPED" : "RUNNING" })),
        failures: input.tasks.filter((arn: string) => missingArns.includes(arn)).map((arn: string) => ({ arn, reason: "MISSING" })),
      }));

    it("holds the instance for a listed task DescribeTasks reports MISSING, and carries it to the next check", async () => {
      const world = setup({ instance: { status: "DRAINING" }, tasks: [missing] });
      describeWithout(world, [missing.arn]);
      await expect(world.check(EVENT)).resolves.toMatchObject({ kind: "waiting", holding: 1 });
      expect(world.autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
      expect(world.sent()[0].unconfirmedTasks).toEqual([missing.arn]);
      expect(world.logs.find((l) => l.level === "warn")?.message).toMatch(/1 task\(s\) not described/);
    });

    it("keeps holding for a carried task no longer listed until DescribeTasks says it stopped", async () => {
      const still = setup({ instance: { status: "DRAINING" }, tasks: [] });
      describeWithout(still, [missing.arn]);
      await expect(still.handler(recheckMessageEvent({ unconfirmedTasks: [missing.arn] }))).resolves.toEqual({ batchItemFailures: [] });
      expect(still.autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
      expect(still.ecs.commandCalls(DescribeTasksCommand)[0].args[0].input.tasks).toEqual([missing.arn]);
      expect(still.sent()[0].unconfirmedTasks).toEqual([missing.arn]);

      const stopped = setup({ instance: { status: "DRAINING" }, tasks: [] });
      describeWithout(stopped, [], [missing.arn]);
      await stopped.check(recheckMessageEvent({ unconfirmedTasks: [missing.arn] }));
      expect(stopped.autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
    });

    it("lets the instance go at the maximum drain time, naming the unconfirmed task", async () => {
      const world = setup({ instance: { status: "DRAINING" }, tasks: [missing] }, STARTED + SETTINGS.maxDrainSeconds * 1000);
      describeWithout(world, [missing.arn]);
      await world.handler(recheckMessageEvent({ checks: 120, unconfirmedTasks: [missing.arn] }));
      expect(world.autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
      expect(String(world.logs.find((l) => l.level === "error")?.tasks)).toContain(`${missing.arn} MISSING`);
    });

    it("drops a re-check message whose unconfirmedTasks is not a list of task ARNs", async () => {
      const { handler, autoScaling, logs } = setup({ instance: { status: "DRAINING" }, tasks: [] });
      await handler(recheckMessageEvent({ unconfirmedTasks: "arn" as any }));
      expect(autoScaling.calls()).toHaveLength(0);
      expect(logs[0]).toMatchObject({ level: "warn", reason: "unconfirmedTasks is not a list of task ARNs" });
    });
  });

  describe("a batch is checked as one", () => {
    it("checks the instances of a batch in one sweep: one DescribeContainerInstances, no listing while their counts show tasks, one message back", async () => {
      const world = setup({ instance: { status: "DRAINING" }, tasks: [] });
      world.ecs.on(DescribeContainerInstancesCommand).callsFake((input) => ({
        containerInstances: [
          { containerInstanceArn: CONTAINER_INSTANCE, ec2InstanceId: INSTANCE_ID, status: "DRAINING", runningTasksCount: 4, pendingTasksCount: 0 },
          { containerInstanceArn: OTHER_CONTAINER_INSTANCE, ec2InstanceId: OTHER_INSTANCE, status: "DRAINING", runningTasksCount: 2, pendingTasksCount: 1 },
        ].filter((ci) => input.containerInstances.includes(ci.containerInstanceArn)),
      }));
      const other = { instanceId: OTHER_INSTANCE, lifecycleActionToken: "11111111-2222-3333-4444-555555555555", containerInstanceArns: [OTHER_CONTAINER_INSTANCE] };
      const event = { Records: [recheckMessage({ containerInstanceArns: [CONTAINER_INSTANCE] }, "one"), recheckMessage(other, "two")] };
      await expect(world.handler(event)).resolves.toEqual({ batchItemFailures: [] });
      expect(world.ecs.commandCalls(DescribeContainerInstancesCommand)).toHaveLength(1);
      expect(world.ecs.commandCalls(ListContainerInstancesCommand)).toHaveLength(0);
      expect(world.ecs.commandCalls(ListTasksCommand)).toHaveLength(0);
      expect(world.sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
      expect(world.sent().map((a) => [a.instanceId, a.remaining])).toEqual([[INSTANCE_ID, 4], [OTHER_INSTANCE, 3]]);
    });

    it("merges duplicate chains of one lifecycle action that meet in a batch (one heartbeat, one check)", async () => {
      const world = setup({ instance: { status: "DRAINING" }, tasks: [task(1, "service:web")] });
      const event = { Records: [recheckMessage({ checks: 3 }, "one"), recheckMessage({ checks: 5 }, "two")] };
      await expect(world.handler(event)).resolves.toEqual({ batchItemFailures: [] });
      expect(world.autoScaling.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
      expect(world.sent()).toEqual([expect.objectContaining({ instanceId: INSTANCE_ID, checks: 6 })]);
    });

    it("gives up on a sweep still running near the Lambda's timeout: its messages come back", async () => {
      const world = setup({ instance: { status: "DRAINING" }, tasks: [] });
      let aborted = false;
      world.ecs.on(ListContainerInstancesCommand).callsFakeOnce(
        () =>
          new Promise((_resolve, reject) => {
            // The handler passes an abort signal with each command; a hung call ends when it fires.
            const signal = (world.ecs.send.lastCall.args as unknown[])[1] as { abortSignal?: AbortSignal } | undefined;
            signal?.abortSignal?.addEventListener("abort", () => {
              aborted = true;
              reject(new Error("Request aborted"));
            });
          }),
      );
      const context = { getRemainingTimeInMillis: () => DEADLINE_MARGIN_MS + 50 };
      const event = { Records: [recheckMessage({}, "hung"), recheckMessage({ instanceId: OTHER_INSTANCE, lifecycleActionToken: "t-2" }, "other")] };
      await expect(world.handler(event, context)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: "hung" }, { itemIdentifier: "other" }] });
      expect(aborted).toBe(true);
      expect(world.logs.find((l) => l.level === "error")?.error).toMatch(/given up/);
    }, 3_000);

    it("fails a lifecycle event still being queued near the timeout, so that Lambda retries it", async () => {
      const world = setup({ instance: { status: "DRAINING" }, tasks: [] });
      world.sqs.on(SendMessageCommand).callsFake(() => new Promise(() => {}));
      await expect(world.handler(EVENT, { getRemainingTimeInMillis: () => DEADLINE_MARGIN_MS + 20 })).rejects.toThrow(/given up/);
    }, 3_000);
  });
});

describe("drain hook: fewer calls, the same guarantees", () => {
  /** The defaults: heartbeat timeout 5m, one failed check adds at most 4m. */
  const TIMED = { heartbeatTimeoutSeconds: 300, failedCheckSeconds: 240 };
  const ago = (seconds: number, nowMs: number) => new Date(nowMs - seconds * 1000).toISOString();

  describe("heartbeats only as often as the heartbeat timeout needs", () => {
    const settings = { ...SETTINGS, ...TIMED };
    it("records one when the last would not outlast the next check failing once (delay + 4m)", () => {
      const now = STARTED + 1_000_000;
      expect(heartbeatDue(settings, now - 60_000, now, 0)).toBe(false); // 60 s + 4m = 5m: still covered
      expect(heartbeatDue(settings, now - 61_000, now, 0)).toBe(true);
      expect(heartbeatDue(settings, now - 30_000, now, 30)).toBe(false);
      expect(heartbeatDue(settings, now - 31_000, now, 30)).toBe(true);
      // Without the timeout (a function deployed before it was passed): every check, once.
      expect(heartbeatDue(SETTINGS, now - 1, now, 0)).toBe(true);
      expect(heartbeatDue(SETTINGS, now, now, 30)).toBe(false);
    });

    it("the first check of a new action records none; the message carries when the last was recorded", async () => {
      const { check, autoScaling, sent } = setup({ instance: { status: "ACTIVE", runningTasksCount: 3 } }, STARTED + 1_000, TIMED);
      await expect(check(EVENT)).resolves.toMatchObject({ kind: "waiting", holding: 3 });
      expect(autoScaling.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(0);
      expect(Date.parse(sent()[0].heartbeatAt!)).toBe(Date.parse(EVENT.time));
    });

    it("a check whose last heartbeat is 40 s old records one before sending the next check 30 s later", async () => {
      const now = STARTED + 100_000;
      const { check, autoScaling, sqs, sent } = setup({ instance: { status: "DRAINING", runningTasksCount: 3 } }, now, TIMED);
      await check(recheckMessageEvent({ heartbeatAt: ago(40, now), containerInstanceArns: [CONTAINER_INSTANCE] }));
      expect(autoScaling.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
      expect(autoScaling.send.calledBefore(sqs.send)).toBe(true);
      expect(sent()[0].heartbeatAt).toBe(new Date(now).toISOString());
    });

    it("a check whose last heartbeat is 70 s old records one first, before any ECS call", async () => {
      const now = STARTED + 100_000;
      const { check, ecs, autoScaling } = setup({ instance: { status: "DRAINING", runningTasksCount: 3 } }, now, TIMED);
      ecs.on(DescribeContainerInstancesCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
      await expect(check(recheckMessageEvent({ heartbeatAt: ago(70, now), containerInstanceArns: [CONTAINER_INSTANCE] }))).rejects.toThrow("Rate exceeded");
      expect(autoScaling.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
    });

    it("a check whose last heartbeat is 20 s old records none", async () => {
      const now = STARTED + 100_000;
      const { check, autoScaling } = setup({ instance: { status: "DRAINING", runningTasksCount: 3 } }, now, TIMED);
      await check(recheckMessageEvent({ heartbeatAt: ago(20, now), containerInstanceArns: [CONTAINER_INSTANCE] }));
      expect(autoScaling.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(0);
    });
  });

  describe("re-checks back off while nothing moves", () => {
    const settings = { ...SETTINGS, ...TIMED };
    const action = (delaySeconds: number, remaining: number) => ({ ...(actionFromEvent(EVENT, SETTINGS.hookName) as { action: LifecycleAction }).action, delaySeconds, remaining });
    it("keeps the interval while the drain is young or tasks leave, doubles it (up to heartbeatTimeout - 4m) once stuck", () => {
      expect(nextCheckDelay(settings, action(30, 2), 2, 120)).toBe(30);
      expect(nextCheckDelay(settings, action(30, 3), 2, BACKOFF_AFTER_SECONDS + 10)).toBe(30);
      expect(nextCheckDelay(settings, action(30, 2), 2, BACKOFF_AFTER_SECONDS + 10)).toBe(60);
      expect(nextCheckDelay(settings, action(60, 2), 2, BACKOFF_AFTER_SECONDS + 70)).toBe(60);
      expect(nextCheckDelay({ ...settings, heartbeatTimeoutSeconds: 900 }, action(240, 1), 1, 1000)).toBe(480);
      expect(nextCheckDelay({ ...settings, heartbeatTimeoutSeconds: 900 }, action(480, 1), 1, SETTINGS.maxDrainSeconds - 100)).toBe(100);
      // Without the heartbeat timeout: the interval always.
      expect(nextCheckDelay(SETTINGS, action(30, 2), 2, 1000)).toBe(30);
    });
  });

  describe("re-checks come promptly when an instance is due to be empty", () => {
    const action = (over: Partial<LifecycleAction> = {}) => ({ ...(actionFromEvent(EVENT, SETTINGS.hookName) as { action: LifecycleAction }).action, ...over });
    const at = (seconds: number) => STARTED + seconds * 1000;

    it("dueToEmpty: tasks left within the last interval, or only tasks told to stop hold it (not again after a prompt check that found as many)", () => {
      // First check: nothing to compare with.
      expect(dueToEmpty(SETTINGS, action(), 11, at(0), false)).toEqual({ due: false });
      // The count fell since the last check: due, and when is carried.
      expect(dueToEmpty(SETTINGS, action({ remaining: 11, delaySeconds: 30 }), 3, at(60), false)).toEqual({ due: true, leftAt: new Date(at(60)).toISOString() });
      // Nothing left since, but tasks left 20 s ago (within the 30 s interval): still due; 30 s ago: not.
      const left = new Date(at(60)).toISOString();
      expect(dueToEmpty(SETTINGS, action({ remaining: 3, delaySeconds: 5, leftAt: left }), 3, at(80), false)).toEqual({ due: true, leftAt: left });
      expect(dueToEmpty(SETTINGS, action({ remaining: 3, delaySeconds: 5, leftAt: left }), 3, at(90), false)).toEqual({ due: false, leftAt: left });
      // Held only by tasks told to stop: due after an interval's check, not after a prompt one that found as many.
      expect(dueToEmpty(SETTINGS, action({ remaining: 2, delaySeconds: 30 }), 2, at(200), true).due).toBe(true);
      expect(dueToEmpty(SETTINGS, action({ remaining: 2, delaySeconds: 5 }), 2, at(200), true).due).toBe(false);
      expect(dueToEmpty(SETTINGS, action({ remaining: 2, delaySeconds: 5 }), 1, at(200), true).due).toBe(true);
    });

    it("nextCheckDelay: PROMPT_RECHECK_SECONDS when due (never longer than the interval), the backoff when stuck", () => {
      expect(nextCheckDelay(SETTINGS, action({ remaining: 3, delaySeconds: 30 }), 2, 120, true)).toBe(PROMPT_RECHECK_SECONDS);
      expect(nextCheckDelay({ ...SETTINGS, recheckSeconds: 3 }, action({ remaining: 3, delaySeconds: 3 }), 2, 120, true)).toBe(3);
      expect(nextCheckDelay({ ...SETTINGS, ...TIMED }, action({ remaining: 2, delaySeconds: 5 }), 2, BACKOFF_AFTER_SECONDS + 10, true)).toBe(60);
    });

    it("a listing that finds only a task told to stop holding the instance checks again after PROMPT_RECHECK_SECONDS, not the interval", async () => {
      const { check, sent } = setup({ instance: { status: "DRAINING", runningTasksCount: 0 }, tasks: [task(2, "service:web", "STOPPING", "STOPPED")] });
      await expect(check(recheckMessageEvent({ containerInstanceArns: [CONTAINER_INSTANCE], remaining: 4, delaySeconds: 30 }))).resolves.toEqual({ kind: "waiting", holding: 1, nextCheckSeconds: PROMPT_RECHECK_SECONDS });
      expect(sent()[0]).toMatchObject({ delaySeconds: PROMPT_RECHECK_SECONDS, remaining: 1 });
      // A task still meant to run holds it too: the interval (nothing left since the last check).
      const running = setup({ instance: { status: "DRAINING", runningTasksCount: 0 }, tasks: [task(2, "service:web", "STOPPING", "STOPPED"), task(3, "service:api", "PENDING")] });
      await expect(running.check(recheckMessageEvent({ containerInstanceArns: [CONTAINER_INSTANCE], remaining: 2, delaySeconds: 30 }))).resolves.toMatchObject({ nextCheckSeconds: 30 });
    });

    it("a count that fell since the last check (no listing yet) checks again promptly, and carries when tasks left", async () => {
      const now = STARTED + 100_000;
      const { check, sent, ecs } = setup({ instance: { status: "DRAINING", runningTasksCount: 4 } }, now);
      await expect(check(recheckMessageEvent({ containerInstanceArns: [CONTAINER_INSTANCE], remaining: 9, delaySeconds: 30 }))).resolves.toEqual({ kind: "waiting", holding: 4, nextCheckSeconds: PROMPT_RECHECK_SECONDS });
      expect(ecs.commandCalls(ListTasksCommand)).toHaveLength(0);
      expect(sent()[0]).toMatchObject({ remaining: 4, leftAt: new Date(now).toISOString() });
      // The same count a whole interval after the last leave: back to the interval.
      const later = setup({ instance: { status: "DRAINING", runningTasksCount: 4 } }, now + 30_000);
      await expect(later.check(recheckMessageEvent({ containerInstanceArns: [CONTAINER_INSTANCE], remaining: 4, delaySeconds: 5, leftAt: new Date(now).toISOString() }))).resolves.toMatchObject({ nextCheckSeconds: 30 });
    });

    it("stopsEndDelay: aimed at the last holder's stoppingAt plus the median stop seen, then the third quartile, then the longest; undefined when it cannot tell", () => {
      const stops = [8_000, 9_000, 10_000, 11_000, 12_000];
      // Told to stop at 100 s: the median stop ends it at 110 s, the third quartile at 111 s, the longest at 112 s.
      expect(stopsEndDelay([at(95), at(100)], stops, at(103.5), 30)).toBe(7);
      expect(stopsEndDelay([at(100)], stops, at(110.5), 30)).toBe(1);
      expect(stopsEndDelay([at(100)], stops, at(111.5), 30)).toBe(1);
      // Slower than every stop seen, no stop seen, a holder whose stop time is unknown: the prompt re-check decides.
      expect(stopsEndDelay([at(100)], stops, at(112.5), 30)).toBeUndefined();
      expect(stopsEndDelay([at(100)], [], at(103), 30)).toBeUndefined();
      expect(stopsEndDelay([at(100), undefined], stops, at(103), 30)).toBeUndefined();
      // Never past the interval (or the maximum drain time the caller passes).
      expect(stopsEndDelay([at(100)], [120_000], at(101), 30)).toBe(30);
    });

    it("stopsToCarry: every stop when few, else MAX_STOPS_CARRIED spread over them in order", () => {
      expect(stopsToCarry([9_000.4, 8_000])).toEqual([8_000, 9_000]);
      const many = Array.from({ length: 100 }, (_, i) => 1_000 * (i + 1));
      const carried = stopsToCarry(many);
      expect(carried).toHaveLength(MAX_STOPS_CARRIED);
      expect([carried[0], carried[MAX_STOPS_CARRIED - 1]]).toEqual([1_000, 100_000]);
      expect(actionsFromRecheck(recheckMessage({ stopsMs: [1.5] } as Partial<LifecycleAction>).body, SETTINGS.hookName).dropped).toEqual(["stopsMs is not a list of durations"]);
    });

    it("an instance held only by a task told to stop is checked again when its stop is due to end, by the stops the sweep saw, and carries them", async () => {
      const now = at(103.5);
      const held = [task(1, "service:web", "STOPPED", "STOPPED"), task(2, "service:web", "RUNNING", "STOPPED")].map((t, i) =>
        i === 0 ? { ...t, stoppingAt: at(80), stoppedAt: at(90) } : { ...t, stoppingAt: at(100) },
      );
      const { check, sent } = setup({ instance: { status: "DRAINING", runningTasksCount: 0 }, tasks: held }, now);
      // The one stop seen took 10 s: the held task's is due at 110 s, 6.5 s from now (whole seconds: 7), not PROMPT_RECHECK_SECONDS.
      await expect(check(recheckMessageEvent({ containerInstanceArns: [CONTAINER_INSTANCE], remaining: 4, delaySeconds: 30 }))).resolves.toEqual({ kind: "waiting", holding: 1, nextCheckSeconds: 7 });
      expect(sent()[0]).toMatchObject({ delaySeconds: 7, stopsMs: [10_000] });
      // Carried stops count too: with a 12 s stop carried, a check at 110.5 s that still finds it stopping looks again at 112 s.
      const later = setup({ instance: { status: "DRAINING", runningTasksCount: 0 }, tasks: held }, at(110.5));
      await expect(later.check(recheckMessageEvent({ containerInstanceArns: [CONTAINER_INSTANCE], remaining: 1, delaySeconds: 7, stopsMs: [12_000] }))).resolves.toMatchObject({ nextCheckSeconds: 2 });
    });

    it("drops a re-check whose leftAt is not a time", () => {
      const { actions, dropped } = actionsFromRecheck(recheckMessage({ leftAt: "soon" } as Partial<LifecycleAction>).body, SETTINGS.hookName);
      expect([actions, dropped]).toEqual([[], ["leftAt is not a time"]]);
    });
  });

  describe("an instance is let go only on a listing of its tasks made in the same check", () => {
    it("does not list an instance whose counts show more tasks than the cluster has daemon services", async () => {
      const { check, ecs, autoScaling } = setup({ instance: { status: "DRAINING", runningTasksCount: 2 }, tasks: [task(1, "service:web", "STOPPED", "STOPPED")], services: { agent: "DAEMON" } });
      await expect(check(EVENT)).resolves.toMatchObject({ kind: "waiting", holding: 2 });
      expect(ecs.commandCalls(ListTasksCommand)).toHaveLength(0);
      expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
    });

    it("lists one whose count no daemon service can exceed, and still waits for a task being stopped there", async () => {
      const { check, ecs, sent } = setup(
        { instance: { status: "DRAINING", runningTasksCount: 1 }, tasks: [task(1, "service:agent"), task(2, "service:web", "RUNNING", "STOPPED")], services: { agent: "DAEMON" } },
      );
      await expect(check(EVENT)).resolves.toMatchObject({ kind: "waiting", holding: 1 });
      expect(ecs.commandCalls(ListTasksCommand).map((c) => c.args[0].input.desiredStatus)).toEqual(["RUNNING", "STOPPED"]);
      expect(sent()[0].heldBy).toEqual([task(2, "").arn]);
    });

    it("after a full listing of the DRAINING instance, lists only tasks meant to run and describes those that held again: one told to stop since still holds", async () => {
      const stopping = task(2, "service:web", "STOPPING", "STOPPED");
      const { check, ecs, autoScaling } = setup({ instance: { status: "DRAINING" }, tasks: [stopping] });
      await expect(check(recheckMessageEvent({ heldBy: [stopping.arn], containerInstanceArns: [CONTAINER_INSTANCE] }))).resolves.toMatchObject({ kind: "waiting", holding: 1 });
      expect(ecs.commandCalls(ListTasksCommand).map((c) => c.args[0].input.desiredStatus)).toEqual(["RUNNING"]);
      expect(ecs.commandCalls(DescribeTasksCommand)[0].args[0].input.tasks).toEqual([stopping.arn]);
      expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
    });

    it("no listing of a DRAINING instance is full on the check that set it DRAINING: nothing is carried from it", async () => {
      const { check, sent } = setup({ instance: { status: "ACTIVE" }, tasks: [task(2, "service:web", "STOPPING", "STOPPED")] });
      await expect(check(EVENT)).resolves.toMatchObject({ kind: "waiting", holding: 1 });
      expect(sent()[0].heldBy).toBeUndefined();
    });
  });
});

describe("drain hook handler on real SDK clients", () => {
  it("uses adaptive retry with several attempts", async () => {
    const clients = createDrainHookClients();
    for (const client of [clients.ecs, clients.autoScaling, clients.sqs] as any[]) {
      expect(await client.config.maxAttempts()).toBe(SDK_MAX_ATTEMPTS);
      expect((await client.config.retryStrategy()).mode).toBe("adaptive");
    }
  });

  it("rides out throttling: the SDK retries and the drain completes", async () => {
    // ECS answers ThrottlingException twice, then the real answers; the SDK's retry does the rest.
    let throttled = 0;
    const calls: string[] = [];
    const requestHandler = {
      handle: async (request: { headers: Record<string, string>; body?: string }) => {
        const target = request.headers["x-amz-target"] ?? "";
        calls.push(target);
        if (target.endsWith("ListContainerInstances") && throttled < 2) {
          throttled++;
          return { response: json(400, { __type: "ThrottlingException", message: "Rate exceeded" }) };
        }
        if (target.endsWith("ListContainerInstances")) return { response: json(200, { containerInstanceArns: [] }) };
        throw new Error(`unexpected call ${target}`);
      },
    };
    const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
    const base = { region: "eu-west-1", credentials, requestHandler, retryMode: "adaptive", maxAttempts: SDK_MAX_ATTEMPTS };
    const autoScaling = new AutoScalingClient({ region: "eu-west-1", credentials });
    mockClient(autoScaling).on(CompleteLifecycleActionCommand).resolves({});
    const action = (actionFromEvent(EVENT, SETTINGS.hookName) as { action: LifecycleAction }).action;
    // The SDK's back-off and the adaptive rate limiter wait on timers and the clock: both faked
    // and run forward here, so that the test takes no real seconds (it took 4).
    jest.useFakeTimers();
    try {
      let settled = false;
      const outcomes = checkDrains([action], {
        clients: { ecs: new ECSClient(base), autoScaling, sqs: new SQSClient({ region: "eu-west-1", credentials }) },
        settings: SETTINGS,
        log: () => {},
      }).finally(() => (settled = true));
      for (let waited = 0; !settled && waited < 60_000; waited += 250) await jest.advanceTimersByTimeAsync(250);
      await expect(outcomes).resolves.toEqual([{ kind: "completed", reason: "not-registered" }]);
    } finally {
      jest.useRealTimers();
    }
    expect(calls.filter((c) => c.endsWith("ListContainerInstances"))).toHaveLength(3);
  }, 30_000);
});

describe("drain hook settings and parsing", () => {
  it("reads its settings from the environment the construct sets, and names a missing one", () => {
    const env = {
      AMIROLL_CLUSTER: "staging-apps",
      AMIROLL_HOOK_NAME: "staging-apps-drain-hook",
      AMIROLL_RECHECK_QUEUE_URL: SETTINGS.recheckQueueUrl,
      AMIROLL_RECHECK_SECONDS: "30",
      AMIROLL_MAX_DRAIN_SECONDS: "3600",
    };
    expect(settingsFromEnv(env)).toEqual(SETTINGS);
    expect(() => settingsFromEnv({ ...env, AMIROLL_RECHECK_QUEUE_URL: undefined })).toThrow("AMIROLL_RECHECK_QUEUE_URL is not set");
    expect(() => settingsFromEnv({ ...env, AMIROLL_MAX_DRAIN_SECONDS: "1h" })).toThrow("AMIROLL_MAX_DRAIN_SECONDS=1h is not a whole number");
  });

  it("takes the action's start from the event's time", () => {
    expect(actionFromEvent(EVENT, SETTINGS.hookName)).toEqual({
      action: {
        autoScalingGroupName: EVENT.detail.AutoScalingGroupName,
        lifecycleHookName: EVENT.detail.LifecycleHookName,
        lifecycleActionToken: EVENT.detail.LifecycleActionToken,
        instanceId: INSTANCE_ID,
        startedAt: EVENT.time,
        checks: 0,
      },
    });
  });
});

function recheckMessageEvent(action: Partial<LifecycleAction> = {}) {
  return { Records: [recheckMessage(action)] };
}

/** An HTTP response as the SDK's request handler returns it. */
function json(statusCode: number, body: unknown) {
  return {
    statusCode,
    headers: { "content-type": "application/x-amz-json-1.1" },
    body: Readable.from([Buffer.from(JSON.stringify(body))]),
  };
}

describe("drain hook: Lambda's record of a lifecycle event whose every invocation failed (on-failure destination)", () => {
  /** The record Lambda sends to the re-check queue after the last retry, as an SQS message. */
  const invocationRecord = (fields: Record<string, unknown> = {}, messageId = "record-1") => ({
    messageId,
    eventSource: "aws:sqs",
    body: JSON.stringify({
      version: "1.0",
      timestamp: "2026-11-22T10:03:00.000Z",
      requestContext: {
        requestId: "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
        functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:staging-apps-drain-hook:$LATEST",
        condition: "RetriesExhausted",
        approximateInvokeCount: 3,
      },
      requestPayload: EVENT,
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      responsePayload: { errorType: "Error", errorMessage: "boom" },
      ...fields,
    }),
  });

  it("is the event's action, for its first check", () => {
    const parsed = actionsFromRecheck(invocationRecord().body, SETTINGS.hookName);
    expect(parsed).toEqual({ actions: [(actionFromEvent(EVENT, SETTINGS.hookName) as { action: LifecycleAction }).action], dropped: [], recovered: "RetriesExhausted" });
    expect(parsed.actions[0]).toMatchObject({ instanceId: INSTANCE_ID, startedAt: EVENT.time, checks: 0 });
  });

  it("is checked like any re-check: the instance is drained, its heartbeat recorded, and the record logged", async () => {
    const { handler, sent, ecs, autoScaling, logs } = setup({ instance: { status: "ACTIVE" }, tasks: [task(1, "service:web")] });
    await expect(handler({ Records: [invocationRecord()] })).resolves.toEqual({ batchItemFailures: [] });
    expect(ecs.commandCalls(UpdateContainerInstancesStateCommand)).toHaveLength(1);
    expect(autoScaling.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
    expect(sent()).toEqual([expect.objectContaining({ instanceId: INSTANCE_ID, checks: 1 })]);
    expect(logs).toContainEqual(expect.objectContaining({ level: "warn", message: expect.stringContaining("RetriesExhausted"), instanceId: INSTANCE_ID, messageId: "record-1" }));
  });

  it.each([
    ["no requestContext", { requestContext: undefined }, "invocation record: requestContext is not an object"],
    ["an unknown condition", { requestContext: { condition: "Whatever" } }, 'invocation record: condition "Whatever" is not one of RetriesExhausted, EventAgeExceeded'],
    ["no requestPayload", { requestPayload: undefined }, "invocation record: requestPayload is not an object"],
    ["a payload that is a string", { requestPayload: JSON.stringify(EVENT) }, "invocation record: requestPayload is not an object"],
    ["another hook's event", { requestPayload: { ...EVENT, detail: { ...EVENT.detail, LifecycleHookName: "someone-elses-hook" } } }, "invocation record: lifecycle hook someone-elses-hook is not this handler's (staging-apps-drain-hook)"],
    ["a bad instance id", { requestPayload: { ...EVENT, detail: { ...EVENT.detail, EC2InstanceId: "i-x; rm -rf" } } }, 'invocation record: instanceId "i-x; rm -rf" is not an EC2 instance id'],
    ["a launching transition", { requestPayload: { ...EVENT, detail: { ...EVENT.detail, LifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING" } } }, 'invocation record: LifecycleTransition "autoscaling:EC2_INSTANCE_LAUNCHING" is not autoscaling:EC2_INSTANCE_TERMINATING'],
  ])("with %s is logged and dropped, never retried, and the good messages of its batch are checked", async (_label, fields, reason) => {
    const { handler, ecs, autoScaling, logs } = setup({ instance: { status: "DRAINING" }, tasks: [] });
    await expect(handler({ Records: [invocationRecord(fields, "bad-record"), recheckMessage({}, "good")] })).resolves.toEqual({ batchItemFailures: [] });
    expect(ecs.commandCalls(UpdateContainerInstancesStateCommand)).toHaveLength(0);
    expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
    expect(logs.filter((l) => l.message === "dropped a malformed re-check message")).toEqual([expect.objectContaining({ level: "warn", reason, messageId: "bad-record" })]);
  });
});
