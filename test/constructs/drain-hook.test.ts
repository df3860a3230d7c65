/**
 * The DrainHook construct as EcsCluster adds it: resources, the IAM scope, the lifecycle hook
 * on every generation, option checks, and the bundled handler (deterministic, and runnable).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { unzipSync } from "fflate";
import { CloudwatchEventTarget, CloudwatchLogGroup, LambdaEventSourceMapping, LambdaFunction, LambdaPermission, SqsQueue } from "../../constructs/aws";
import { DRAIN_HOOK_TIMING, bundleDrainHandler } from "../../constructs/drain-hook";
import { PropsError } from "../../constructs/errors";
import "../support/cdktf-matchers";
import { allOf, onlyOne, synthCluster } from "../support/synth";

const AMI_A = "ami-0aaaaaaaaaaaaaaaa";
const AMI_B = "ami-0bbbbbbbbbbbbbbbb";
const ROOT = resolve(__dirname, "../..");

/**
 * The drain hook's inline policy statements, by Sid. The policy is JSON only once terraform has
 * filled in its `${...}` expressions, whose own quotes are swapped here so that it parses.
 */
function statements(json: string): Record<string, any> {
  const template: string = onlyOne(json, "aws_iam_role_policy").policy;
  const policy = JSON.parse(template.replace(/\$\{[^}]*\}/g, (expression) => expression.replace(/"/g, "'")));
  return Object.fromEntries(policy.Statement.map((s: any) => [s.Sid, s]));
}

describe("DrainHook (added by EcsCluster)", () => {
  const json = synthCluster();

  it("puts a terminating lifecycle hook on the group, with the heartbeat timeout and default result given", () => {
    expect(onlyOne(json, "aws_autoscaling_group").initial_lifecycle_hook).toEqual([
      { name: "test-apps-drain-hook", lifecycle_transition: "autoscaling:EC2_INSTANCE_TERMINATING", heartbeat_timeout: 300, default_result: "CONTINUE" },
    ]);
    const custom = synthCluster({ drainHook: { heartbeatTimeout: "10m", defaultResult: "ABANDON" } });
    expect(onlyOne(custom, "aws_autoscaling_group").initial_lifecycle_hook[0]).toMatchObject({ heartbeat_timeout: 600, default_result: "ABANDON" });
  });

  it("puts the hook on every generation of a blue-green roll, and one Lambda serves them all", () => {
    const bg = synthCluster({ strategy: "blue-green", amis: { current: { imageId: AMI_B }, retiring: { imageId: AMI_A } } });
    const groups = allOf(bg, "aws_autoscaling_group");
    expect(groups).toHaveLength(2);
    for (const group of groups) expect(group.initial_lifecycle_hook[0].name).toBe("test-apps-drain-hook");
    expect(allOf(bg, "aws_lambda_function")).toHaveLength(1);
  });

  it("lets terraform wait for the drain when it deletes a group, and keeps the hook's machinery until the groups are gone", () => {
    const group = onlyOne(json, "aws_autoscaling_group");
    // 1h max drain + 5m heartbeat + 10m margin.
    expect(group.timeouts).toEqual({ delete: "75m" });
    expect(onlyOne(synthCluster({ drainHook: { maxDrainTime: "2h" } }), "aws_autoscaling_group").timeouts).toEqual({ delete: "135m" });
    expect(group.depends_on).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^aws_lambda_function\./),
        expect.stringMatching(/^aws_iam_role_policy\./),
        expect.stringMatching(/^aws_cloudwatch_event_target\./),
        expect.stringMatching(/^aws_lambda_permission\./),
        expect.stringMatching(/^aws_lambda_event_source_mapping\./),
      ]),
    );
  });

  it("sends the record of a lifecycle event whose every invocation failed to the re-check queue (on-failure destination), with the role allowed to send it", () => {
    const config = onlyOne(json, "aws_lambda_function_event_invoke_config");
    const [fnId] = Object.keys(JSON.parse(json).resource.aws_lambda_function);
    const [queueId] = Object.entries(JSON.parse(json).resource.aws_sqs_queue as Record<string, { name: string }>).find(([, q]) => q.name.endsWith("-recheck"))!;
    expect(config).toMatchObject({
      function_name: `\${aws_lambda_function.${fnId}.function_name}`,
      maximum_retry_attempts: DRAIN_HOOK_TIMING.asyncRetryAttempts,
      destination_config: { on_failure: { destination: `\${aws_sqs_queue.${queueId}.arn}` } },
    });
    expect(config.depends_on).toEqual([expect.stringMatching(/^aws_iam_role_policy\./)]);
    expect(statements(json).Recheck).toMatchObject({ Action: expect.arrayContaining(["sqs:SendMessage"]), Resource: `\${aws_sqs_queue.${queueId}.arn}` });
    // Kept while a group drains, as the rest of the hook's machinery is.
    expect(onlyOne(json, "aws_autoscaling_group").depends_on).toContainEqual(expect.stringMatching(/^aws_lambda_function_event_invoke_config\./));
  });

  it("routes only this hook's events of this cluster's groups to the Lambda", () => {
    const rule = onlyOne(json, "aws_cloudwatch_event_rule");
    expect(JSON.parse(rule.event_pattern)).toEqual({
      source: ["aws.autoscaling"],
      "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
      detail: { LifecycleHookName: ["test-apps-drain-hook"], AutoScalingGroupName: [{ prefix: "test-apps-ami-" }] },
    });
    expect(json).toHaveResourceWithProperties(CloudwatchEventTarget, { arn: expect.stringMatching(/aws_lambda_function\..*\.arn/) });
    expect(json).toHaveResourceWithProperties(LambdaPermission, {
      action: "lambda:InvokeFunction",
      principal: "events.amazonaws.com",
      source_arn: expect.stringMatching(/aws_cloudwatch_event_rule\..*\.arn/),
    });
  });

  it("runs the bundled handler on nodejs22.x with its settings in the environment", () => {
    const fn = onlyOne(json, "aws_lambda_function");
    expect(fn).toMatchObject({ function_name: "test-apps-drain-hook", runtime: "nodejs22.x", handler: "index.handler", timeout: 60 });
    expect(fn.environment.variables).toMatchObject({
      AMIROLL_CLUSTER: "test-apps",
      AMIROLL_HOOK_NAME: "test-apps-drain-hook",
      AMIROLL_RECHECK_SECONDS: "30",
      AMIROLL_MAX_DRAIN_SECONDS: "3600",
      AMIROLL_HEARTBEAT_TIMEOUT_SECONDS: "300",
      AMIROLL_FAILED_CHECK_SECONDS: "240",
    });
    expect(fn.environment.variables.AMIROLL_RECHECK_QUEUE_URL).toMatch(/aws_sqs_queue\..*recheck.*\.url/);
    expect(fn.filename).toMatch(/^assets\/.+\/drain-hook\.zip$/);
    expect(fn.source_code_hash).toBe(bundleDrainHandler().sha256Base64);
  });

  it("re-checks through an encrypted SQS queue whose failing messages go to a dead-letter queue", () => {
    const queues = allOf(json, "aws_sqs_queue");
    const recheck = queues.find((q) => q.name === "test-apps-drain-hook-recheck")!;
    expect(recheck.sqs_managed_sse_enabled).toBe(true);
    expect(JSON.parse(recheck.redrive_policy)).toEqual({ deadLetterTargetArn: expect.stringMatching(/dead_letter_queue.*\.arn/), maxReceiveCount: 5 });
    expect(json).toHaveResourceWithProperties(SqsQueue, { name: "test-apps-drain-hook-dlq", sqs_managed_sse_enabled: true });
    expect(json).toHaveResourceWithProperties(LambdaEventSourceMapping, { function_response_types: ["ReportBatchItemFailures"] });
  });

  describe("timing: one failed check never lets the heartbeat lapse", () => {
    const timing = (cluster: ReturnType<typeof synthCluster>) => {
      const fn = onlyOne(cluster, "aws_lambda_function");
      const queue = allOf(cluster, "aws_sqs_queue").find((q) => q.name.endsWith("-recheck"))!;
      const mapping = onlyOne(cluster, "aws_lambda_event_source_mapping");
      const hook = onlyOne(cluster, "aws_autoscaling_group").initial_lifecycle_hook[0];
      return {
        lambda: fn.timeout as number,
        visibility: queue.visibility_timeout_seconds as number,
        recheck: Number(fn.environment.variables.AMIROLL_RECHECK_SECONDS),
        heartbeat: hook.heartbeat_timeout as number,
        maxReceiveCount: JSON.parse(queue.redrive_policy).maxReceiveCount as number,
        mapping,
      };
    };

    it.each([
      ["the defaults", {}],
      ["the shortest heartbeat timeout for a 1s interval", { heartbeatTimeout: "241s", recheckInterval: "1s" }],
      ["a long interval", { heartbeatTimeout: "20m", recheckInterval: "15m" }],
      ["a long heartbeat timeout", { heartbeatTimeout: "2h", maxDrainTime: "48h" }],
    ])("holds for %s: heartbeat >= recheck + visibility + 2 x Lambda timeout + delivery margin, visibility >= Lambda timeout", (_label, drainHook) => {
      const t = timing(synthCluster({ drainHook }));
      expect(t.visibility).toBeGreaterThanOrEqual(t.lambda);
      // The first check's retry comes from Lambda (1 minute after a failure), not SQS: also covered.
      expect(t.visibility).toBeGreaterThanOrEqual(DRAIN_HOOK_TIMING.asyncRetrySeconds);
      expect(t.heartbeat).toBeGreaterThanOrEqual(t.recheck + t.visibility + 2 * t.lambda + DRAIN_HOOK_TIMING.deliveryMarginSeconds);
      // A message keeps coming back for longer than a heartbeat timeout before it goes to the DLQ.
      expect(t.maxReceiveCount * t.visibility).toBeGreaterThan(t.heartbeat);
    });

    it("the defaults: 60s Lambda timeout, 90s visibility, 30s re-check, 5m heartbeat, batches of 10 without a batching window", () => {
      const t = timing(json);
      expect([t.lambda, t.visibility, t.recheck, t.heartbeat, t.maxReceiveCount]).toEqual([60, 90, 30, 300, 5]);
      expect(t.mapping).toMatchObject({ batch_size: 10, maximum_batching_window_in_seconds: 0, function_response_types: ["ReportBatchItemFailures"] });
    });

    it("keeps a failing message retrying for a whole heartbeat timeout before the dead-letter queue", () => {
      expect(timing(synthCluster({ drainHook: { heartbeatTimeout: "1h" } })).maxReceiveCount).toBe(41);
    });
  });

  it("keeps the Lambda's logs for the retention given", () => {
    expect(json).toHaveResourceWithProperties(CloudwatchLogGroup, { name: "/aws/lambda/test-apps-drain-hook", retention_in_days: 30 });
    expect(synthCluster({ drainHook: { logRetentionDays: 90 } })).toHaveResourceWithProperties(CloudwatchLogGroup, { retention_in_days: 90 });
  });

  describe("IAM: least privilege", () => {
    const s = statements(json);
    const cluster = expect.stringMatching(/^\$\{aws_ecs_cluster\.apps_cluster_[^}]+\.arn\}$/);

    it("grants only the calls the handler makes", () => {
      const actions = Object.values(s).flatMap((st: any) => st.Action).sort();
      expect(actions).toEqual([
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:RecordLifecycleActionHeartbeat",
        "ecs:DescribeContainerInstances",
        "ecs:DescribeTasks",
        "ecs:ListContainerInstances",
        "ecs:ListServices",
        "ecs:ListTasks",
        "ecs:UpdateContainerInstancesState",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
        "sqs:SendMessage",
      ]);
    });

    it("conditions every ECS action on this cluster's ARN", () => {
      expect(s.FindInstances.Resource).toEqual(cluster);
      for (const sid of ["ReadTasks", "Drain"]) expect(s[sid].Condition).toEqual({ ArnEquals: { "ecs:cluster": cluster } });
      expect(s.Drain.Resource).toMatch(/:ecs:.*:container-instance\/test-apps\/\*$/);
    });

    it("allows lifecycle actions only on this cluster's groups (name prefix and cluster tag)", () => {
      expect(s.LifecycleActions.Resource).toMatch(/:autoscaling:.*:autoScalingGroup:\*:autoScalingGroupName\/test-apps-ami-\*$/);
      expect(s.LifecycleActions.Condition).toEqual({ StringEquals: { "autoscaling:ResourceTag/amiroll:cluster": "test-apps" } });
    });

    it("puts nothing that changes anything on *", () => {
      const mutating = /^(ecs:Update|autoscaling:|sqs:(Send|Delete)|logs:)/;
      for (const st of Object.values(s) as any[]) {
        if (st.Action.some((a: string) => mutating.test(a))) expect(st.Resource).not.toBe("*");
      }
      expect(s.ReadTasks.Action.every((a: string) => /^ecs:(Describe|List)/.test(a))).toBe(true);
    });
  });

  it("can be turned off: no hook on the group, no Lambda, default delete timeout", () => {
    const off = synthCluster({ drainHook: false });
    expect(onlyOne(off, "aws_autoscaling_group").initial_lifecycle_hook).toBeUndefined();
    expect(onlyOne(off, "aws_autoscaling_group").timeouts).toBeUndefined();
    expect(off).not.toHaveResource(LambdaFunction);
    expect(allOf(off, "aws_lambda_function_event_invoke_config")).toHaveLength(0);
    expect(allOf(off, "aws_iam_role")).toHaveLength(1);
  });

  it.each([
    [{ heartbeatTimeout: "10s" }, "drainHook.heartbeatTimeout: 10s is not valid (expected whole seconds from 30s to 7200s)"],
    [{ heartbeatTimeout: "soon" }, 'drainHook.heartbeatTimeout: "soon" is not valid'],
    [{ recheckInterval: "20m" }, "drainHook.recheckInterval: 20m is not valid (expected whole seconds from 1s to 900s)"],
    [{ recheckInterval: "4m" }, "drainHook.recheckInterval: 4m is too long for heartbeatTimeout 5m"],
    [
      { recheckInterval: "2m" },
      "drainHook.recheckInterval: 2m is too long for heartbeatTimeout 5m: one failed check can leave recheckInterval + 4m between two heartbeats " +
        "(a 60s Lambda run, the 90s visibility timeout, another 60s run and 30s for delivery), so it must be at most 1m, or heartbeatTimeout at least 6m",
    ],
    [{ heartbeatTimeout: "4m", recheckInterval: "1s" }, "drainHook.heartbeatTimeout: 4m is too short: one failed check can leave recheckInterval + 4m between two heartbeats"],
    [{ heartbeatTimeout: "4m" }, "so it must be at least 4m1s"],
    [{ maxDrainTime: "9h" }, "drainHook.maxDrainTime: 9h is more than 100 heartbeat timeouts (5m)"],
    [{ maxDrainTime: "1500ms" }, "drainHook.maxDrainTime: 1500ms is not valid (expected whole seconds"],
    [{ defaultResult: "STOP" as any }, 'drainHook.defaultResult: "STOP" is not valid (expected "CONTINUE" or "ABANDON")'],
    [{ logRetentionDays: 10 }, "drainHook.logRetentionDays: 10 is not a CloudWatch Logs retention"],
  ])("refuses %j, naming the prop", (drainHook, message) => {
    expect(() => synthCluster({ drainHook })).toThrow(PropsError);
    expect(() => synthCluster({ drainHook })).toThrow(message);
  });
});

describe("the bundled handler", () => {
  it("is the same zip, byte for byte, from another process in another directory (so plans stay clean)", () => {
    const here = bundleDrainHandler(mkdtempSync(join(tmpdir(), "amiroll-bundle-")));
    const script = `const { bundleDrainHandler } = require(${JSON.stringify(join(ROOT, "constructs/drain-hook.ts"))});
process.stdout.write(JSON.stringify(bundleDrainHandler(${JSON.stringify(mkdtempSync(join(tmpdir(), "amiroll-bundle-")))})));`;
    const there = JSON.parse(
      execFileSync(process.execPath, ["--require", require.resolve("tsx/cjs"), "-e", script], { cwd: tmpdir(), encoding: "utf8" }),
    );
    expect(there.sha256Base64).toBe(here.sha256Base64);
    expect(readFileSync(there.file).equals(readFileSync(here.file))).toBe(true);
    expect(createHash("sha256").update(readFileSync(here.file)).digest("base64")).toBe(here.sha256Base64);
  }, 30_000);

  it("is built once per handler source: another process finds it in the user's cache and gets the same file", () => {
    const outDir = mkdtempSync(join(tmpdir(), "amiroll-bundle-"));
    const first = bundleDrainHandler(outDir);
    const cache = dirname(dirname(first.file));
    expect(basename(cache)).toBe(`amiroll-cache-${process.getuid!()}`);
    expect(statSync(cache).mode & 0o777).toBe(0o700);
    const built = statSync(first.file).mtimeMs;
    const again = bundleDrainHandler(outDir);
    expect(again).toEqual(first);
    // Read, not rebuilt and rewritten.
    expect(statSync(again.file).mtimeMs).toBe(built);
  });

  it("never uses a zip someone else could have put there: a cache directory others can write, or a symlink, is passed over", () => {
    const legit = bundleDrainHandler(mkdtempSync(join(tmpdir(), "amiroll-bundle-")));
    const legitZip = readFileSync(legit.file);
    const evil = Buffer.from("not the drain hook");
    for (const plant of ["shared", "symlink"] as const) {
      const outDir = mkdtempSync(join(tmpdir(), "amiroll-bundle-"));
      const cache = join(outDir, `amiroll-cache-${process.getuid!()}`);
      const planted = plant === "shared" ? cache : mkdtempSync(join(tmpdir(), "amiroll-planted-"));
      if (plant === "symlink") symlinkSync(planted, cache);
      else mkdirSync(cache);
      chmodSync(planted, plant === "shared" ? 0o777 : 0o700);
      // Under the names this and earlier versions of amiroll would look for.
      for (const name of [basename(dirname(legit.file)), `amiroll-drain-hook-${legit.sha256Hex.slice(0, 16)}`]) {
        for (const at of [planted, outDir]) {
          mkdirSync(join(at, name), { recursive: true });
          writeFileSync(join(at, name, "drain-hook.zip"), evil);
        }
      }
      const bundle = bundleDrainHandler(outDir);
      expect(readFileSync(bundle.file).equals(legitZip)).toBe(true);
      expect(bundle.sha256Hex).toBe(legit.sha256Hex);
    }
  });

  it("is index.js exporting a handler that runs where the SDK is provided (as in the Lambda runtime)", async () => {
    const { file } = bundleDrainHandler();
    const files = unzipSync(readFileSync(file));
    expect(Object.keys(files)).toEqual(["index.js"]);
    const code = Buffer.from(files["index.js"]).toString("utf8");
    expect(code).toMatch(/require\("@aws-sdk\/client-ecs"\)/);
    // Inside the repository so that require("@aws-sdk/...") finds node_modules, like the runtime's.
    const dir = join(ROOT, "node_modules", ".cache", "amiroll-test-bundle");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "index.js"), code);
    const saved = { ...process.env };
    Object.assign(process.env, {
      AMIROLL_CLUSTER: "test-apps",
      AMIROLL_HOOK_NAME: "test-apps-drain-hook",
      AMIROLL_RECHECK_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
      AMIROLL_RECHECK_SECONDS: "30",
      AMIROLL_MAX_DRAIN_SECONDS: "3600",
      AWS_REGION: "eu-west-1",
    });
    const log = jest.spyOn(console, "log").mockImplementation(() => {});
    try {
      const bundled = require(join(dir, "index.js"));
      await expect(bundled.handler({ "detail-type": "Something else" })).resolves.toBeUndefined();
      expect(JSON.parse(log.mock.calls[0][0])).toMatchObject({ level: "warn", message: "dropped a malformed lifecycle event" });
    } finally {
      log.mockRestore();
      process.env = saved;
    }
  });
});
