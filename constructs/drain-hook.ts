import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AssetType, Fn, TerraformAsset, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { buildSync, version as esbuildVersion } from "esbuild";
import { zipSync } from "fflate";
import {
  type AutoscalingGroupInitialLifecycleHook,
  CloudwatchEventRule,
  CloudwatchEventTarget,
  CloudwatchLogGroup,
  IamRole,
  IamRolePolicy,
  LambdaEventSourceMapping,
  LambdaFunction,
  LambdaFunctionEventInvokeConfig,
  LambdaPermission,
  SqsQueue,
} from "./aws";
import { PropsError } from "./errors";
import { durationSeconds, formatProblem } from "./formats";
import { DRAIN_HOOK_DEFAULTS, DRAIN_HOOK_TIMING, FAILED_CHECK_SECONDS, drainHookMaxReceiveCount, drainHookName } from "./names";

export { DRAIN_HOOK_DEFAULTS, DRAIN_HOOK_TIMING, drainHookName };

export interface DrainHookOptions {
  /**
   * How long autoscaling waits for a heartbeat before it applies `defaultResult`. Every check
   * records one first, so this only runs out when the Lambda stops working. At most 2h, and at
   * least `recheckInterval` + 4m: the most one failed check can leave between two heartbeats
   * (see DRAIN_HOOK_TIMING).
   * @default "5m"
   */
  readonly heartbeatTimeout?: string;
  /**
   * What autoscaling does when the heartbeat timeout runs out. Both let the instance terminate;
   * ABANDON also skips any other terminating hooks of the group.
   * @default "CONTINUE"
   */
  readonly defaultResult?: "CONTINUE" | "ABANDON";
  /**
   * The longest an instance is held. Then it goes with whatever still runs on it, and the
   * Lambda logs an error naming those tasks. At most 100 heartbeat timeouts and 48h (autoscaling's
   * own limits on one lifecycle action).
   * @default "1h"
   */
  readonly maxDrainTime?: string;
  /**
   * Time between two checks of a draining instance: at most 15m (SQS's longest delay) and
   * `heartbeatTimeout` - 4m (so that one failed check does not let the heartbeat lapse).
   * @default "30s"
   */
  readonly recheckInterval?: string;
  /** Days the Lambda's logs are kept (a CloudWatch Logs retention value). @default 30 */
  readonly logRetentionDays?: number;
}

export interface DrainHookProps extends DrainHookOptions {
  /** The ECS cluster whose instances are drained. */
  readonly clusterName: string;
  readonly clusterArn: string;
  /** Every Auto Scaling group the hook serves has a name starting with this. */
  readonly asgNamePrefix: string;
  /** The tag every such group carries with the cluster name as value (IAM is scoped by it). */
  readonly clusterTagKey: string;
  /** @default {} */
  readonly tags?: Readonly<Record<string, string>>;
}


/** The retention values CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
const { functionTimeoutSeconds: FUNCTION_TIMEOUT_SECONDS, visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS, batchSize: BATCH_SIZE } = DRAIN_HOOK_TIMING;
/** Autoscaling's ceiling on one lifecycle action, whatever the heartbeats. */
const MAX_LIFECYCLE_ACTION_SECONDS = 48 * 3600;
/** Margin added to the drain time for terraform's wait on a group's deletion. */
const DELETE_MARGIN_SECONDS = 10 * 60;


/** What one failed check adds up to, for messages. */
const FAILED_CHECK_RATIONALE =
  `a ${DRAIN_HOOK_TIMING.functionTimeoutSeconds}s Lambda run, the ${DRAIN_HOOK_TIMING.visibilityTimeoutSeconds}s visibility timeout, ` +
  `another ${DRAIN_HOOK_TIMING.functionTimeoutSeconds}s run and ${DRAIN_HOOK_TIMING.deliveryMarginSeconds}s for delivery`;

/** Seconds written the way the options are: "90s", "4m", "2h", "4m1s". */
function asDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [h && `${h}h`, m && `${m}m`, s && `${s}s`].filter(Boolean).join("") || "0s";
}

/**
 * The problem with drain hook options, as [prop, problem], or undefined when they fit.
 * EcsCluster reports it under `drainHook.<prop>`, DrainHook under `<prop>`.
 */
export function drainHookOptionsProblem(options: DrainHookOptions): [keyof DrainHookOptions, string] | undefined {
  const o = { ...DRAIN_HOOK_DEFAULTS, ...options };
  const seconds = (prop: "heartbeatTimeout" | "maxDrainTime" | "recheckInterval", min: number, max: number) => {
    const problem = formatProblem(o[prop], "duration");
    if (problem) return problem;
    const value = durationSeconds(o[prop]);
    if (!Number.isInteger(value) || value < min || value > max) return `${o[prop]} is not valid (expected whole seconds from ${min}s to ${max}s)`;
    return undefined;
  };
  const timing = [
    ["heartbeatTimeout", seconds("heartbeatTimeout", 30, 7200)],
    ["recheckInterval", seconds("recheckInterval", 1, 900)],
    ["maxDrainTime", seconds("maxDrainTime", 1, MAX_LIFECYCLE_ACTION_SECONDS)],
  ] as const;
  const bad = timing.find(([, problem]) => problem);
  if (bad) return [bad[0], bad[1]!];
  // The timing relation (see DRAIN_HOOK_TIMING): one failed check must not let the heartbeat lapse.
  const heartbeat = durationSeconds(o.heartbeatTimeout);
  const recheck = durationSeconds(o.recheckInterval);
  if (heartbeat - FAILED_CHECK_SECONDS < 1) {
    return [
      "heartbeatTimeout",
      `${o.heartbeatTimeout} is too short: one failed check can leave recheckInterval + ${asDuration(FAILED_CHECK_SECONDS)} between two heartbeats ` +
        `(${FAILED_CHECK_RATIONALE}), so it must be at least ${asDuration(FAILED_CHECK_SECONDS + 1)}`,
    ];
  }
  if (recheck + FAILED_CHECK_SECONDS > heartbeat) {
    return [
      "recheckInterval",
      `${o.recheckInterval} is too long for heartbeatTimeout ${o.heartbeatTimeout}: one failed check can leave recheckInterval + ` +
        `${asDuration(FAILED_CHECK_SECONDS)} between two heartbeats (${FAILED_CHECK_RATIONALE}), so it must be at most ` +
        `${asDuration(heartbeat - FAILED_CHECK_SECONDS)}, or heartbeatTimeout at least ${asDuration(recheck + FAILED_CHECK_SECONDS)}`,
    ];
  }
  if (durationSeconds(o.maxDrainTime) > 100 * heartbeat) {
    return ["maxDrainTime", `${o.maxDrainTime} is more than 100 heartbeat timeouts (${o.heartbeatTimeout}), autoscaling's limit for one instance`];
  }
  if (o.defaultResult !== "CONTINUE" && o.defaultResult !== "ABANDON") {
    return ["defaultResult", `${JSON.stringify(o.defaultResult)} is not valid (expected "CONTINUE" or "ABANDON")`];
  }
  if (!LOG_RETENTION_DAYS.includes(o.logRetentionDays)) {
    return ["logRetentionDays", `${JSON.stringify(o.logRetentionDays)} is not a CloudWatch Logs retention (one of ${LOG_RETENTION_DAYS.join(", ")})`];
  }
  return undefined;
}

/**
 * Drains ECS container instances before autoscaling terminates them: a terminating lifecycle
 * hook (added to each group through `lifecycleHook`), an EventBridge rule for its events, the
 * Lambda that drains (drain-hook.lambda.ts), an SQS queue that re-invokes it until the instance
 * is empty, its log group, and an IAM role scoped to this cluster and its groups.
 */
export class DrainHook extends Construct {
  readonly hookName: string;
  /** The `initial_lifecycle_hook` block for each generation's Auto Scaling group. */
  readonly lifecycleHook: AutoscalingGroupInitialLifecycleHook;
  /**
   * terraform's delete timeout for a group under this hook: deleting waits until every instance
   * has drained, which may take the whole maximum drain time.
   */
  readonly groupDeleteTimeout: string;
  readonly function: LambdaFunction;
  readonly role: IamRole;
  readonly recheckQueue: SqsQueue;
  /** Lambda's handling of the lifecycle events (asynchronous invocations): a record of one whose every attempt failed goes to the re-check queue. */
  readonly invokeConfig: LambdaFunctionEventInvokeConfig;
  readonly deadLetterQueue: SqsQueue;
  readonly rule: CloudwatchEventRule;
  readonly logGroup: CloudwatchLogGroup;
  /** What must exist while a group is deleted (groups depend on it, so terraform keeps it until they are gone). */
  readonly dependables: ITerraformDependable[];

  constructor(scope: Construct, id: string, props: DrainHookProps) {
    super(scope, id);
    const problem = drainHookOptionsProblem(props);
    if (problem) throw new PropsError(`DrainHook ${this.node.path}`, ...problem);
    const o = { ...DRAIN_HOOK_DEFAULTS, ...props };
    const tags = { ...props.tags };
    const name = drainHookName(props.clusterName);
    const heartbeatSeconds = durationSeconds(o.heartbeatTimeout);
    const maxDrainSeconds = durationSeconds(o.maxDrainTime);
    this.hookName = name;
    this.lifecycleHook = {
      name,
      lifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
      heartbeatTimeout: heartbeatSeconds,
      defaultResult: o.defaultResult,
    };
    this.groupDeleteTimeout = `${Math.ceil((maxDrainSeconds + heartbeatSeconds + DELETE_MARGIN_SECONDS) / 60)}m`;

    // arn:<partition>:ecs:<region>:<account>:cluster/<name>: the scope of every IAM statement.
    const arnField = (i: number) => Fn.element(Fn.split(":", props.clusterArn), i);
    const [partition, region, account] = [arnField(1), arnField(3), arnField(4)];

    this.deadLetterQueue = new SqsQueue(this, "dead_letter_queue", {
      name: `${name}-dlq`,
      messageRetentionSeconds: 14 * 24 * 3600,
      sqsManagedSseEnabled: true,
      tags,
    });
    this.recheckQueue = new SqsQueue(this, "recheck_queue", {
      name: `${name}-recheck`,
      // A failed check comes back after this: short enough that the heartbeat outlasts it
      // (DRAIN_HOOK_TIMING), at least the function's timeout (Lambda's rule for an SQS source).
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
      sqsManagedSseEnabled: true,
      // A check that keeps failing goes aside once the heartbeat has lapsed anyway, instead of
      // looping forever.
      redrivePolicy: JSON.stringify({ deadLetterTargetArn: this.deadLetterQueue.arn, maxReceiveCount: drainHookMaxReceiveCount(heartbeatSeconds) }),
      tags,
    });

    this.logGroup = new CloudwatchLogGroup(this, "log_group", {
      name: `/aws/lambda/${name}`,
      retentionInDays: o.logRetentionDays,
      tags,
    });

    this.role = new IamRole(this, "role", {
      name,
      description: `drain hook of ECS cluster ${props.clusterName} (amiroll)`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
      tags,
    });
    const inCluster = { ArnEquals: { "ecs:cluster": props.clusterArn } };
    const policy = new IamRolePolicy(this, "policy", {
      name: "drain",
      role: this.role.name,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Sid: "FindInstances", Effect: "Allow", Action: ["ecs:ListContainerInstances"], Resource: props.clusterArn },
          {
            // Reads whose resources are ids only known at run time; still only in this cluster.
            Sid: "ReadTasks",
            Effect: "Allow",
            Action: ["ecs:DescribeContainerInstances", "ecs:ListTasks", "ecs:DescribeTasks", "ecs:ListServices"],
            Resource: "*",
            Condition: inCluster,
          },
          {
            Sid: "Drain",
            Effect: "Allow",
            Action: ["ecs:UpdateContainerInstancesState"],
            Resource: `arn:${partition}:ecs:${region}:${account}:container-instance/${props.clusterName}/*`,
            Condition: inCluster,
          },
          {
            // Every generation's group, present and future: a name pattern plus the cluster tag,
            // so a group being deleted is still covered after its successor replaced it.
            Sid: "LifecycleActions",
            Effect: "Allow",
            Action: ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"],
            Resource: `arn:${partition}:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/${props.asgNamePrefix}*`,
            Condition: { StringEquals: { [`autoscaling:ResourceTag/${props.clusterTagKey}`]: props.clusterName } },
          },
          {
            Sid: "Recheck",
            Effect: "Allow",
            Action: ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            Resource: this.recheckQueue.arn,
          },
          {
            Sid: "Logs",
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: `${this.logGroup.arn}:*`,
          },
        ],
      }),
    });

    const bundle = drainHandlerBundle();
    const asset = new TerraformAsset(this, "code", { path: bundle.file, type: AssetType.FILE, assetHash: bundle.sha256Hex });
    this.function = new LambdaFunction(this, "function", {
      functionName: name,
      description: `Drains ECS instances of ${props.clusterName} before autoscaling terminates them (amiroll)`,
      role: this.role.arn,
      runtime: "nodejs22.x",
      architectures: ["arm64"],
      handler: "index.handler",
      filename: asset.path,
      sourceCodeHash: bundle.sha256Base64,
      memorySize: 256,
      timeout: FUNCTION_TIMEOUT_SECONDS,
      environment: {
        variables: {
          AMIROLL_CLUSTER: props.clusterName,
          AMIROLL_HOOK_NAME: name,
          AMIROLL_RECHECK_QUEUE_URL: this.recheckQueue.url,
          AMIROLL_RECHECK_SECONDS: String(durationSeconds(o.recheckInterval)),
          AMIROLL_MAX_DRAIN_SECONDS: String(maxDrainSeconds),
          // The heartbeat policy: a heartbeat only when the last would not outlast the next check.
          AMIROLL_HEARTBEAT_TIMEOUT_SECONDS: String(heartbeatSeconds),
          AMIROLL_FAILED_CHECK_SECONDS: String(FAILED_CHECK_SECONDS),
        },
      },
      tags,
      // The log group first (else Lambda creates one that never expires); the policy first
      // (else the first invocation may run without permissions).
      dependsOn: [this.logGroup, policy],
    });

    const recheck = new LambdaEventSourceMapping(this, "recheck", {
      eventSourceArn: this.recheckQueue.arn,
      functionName: this.function.arn,
      // Up to 10 messages, no batching window (it would delay every re-check); the handler checks
      // them concurrently and reports each failed one alone (partial batch response), so one
      // message's failure neither delays nor retries the others.
      batchSize: BATCH_SIZE,
      maximumBatchingWindowInSeconds: 0,
      functionResponseTypes: ["ReportBatchItemFailures"],
      // Creating the mapping checks that the role may read the queue.
      dependsOn: [policy],
    });

    // An EventBridge event whose invocation fails three times (the first and Lambda's two retries)
    // would otherwise be dropped, and its instance left to its heartbeat timeout with its tasks.
    // Its record (the event as requestPayload) goes to the re-check queue instead, which checks the
    // instance as its first check would have. Lambda sends it with the function's role (Recheck).
    this.invokeConfig = new LambdaFunctionEventInvokeConfig(this, "invoke_config", {
      functionName: this.function.functionName,
      maximumRetryAttempts: DRAIN_HOOK_TIMING.asyncRetryAttempts,
      destinationConfig: { onFailure: { destination: this.recheckQueue.arn } },
      // Lambda checks that the role may send to the destination.
      dependsOn: [policy],
    });

    this.rule = new CloudwatchEventRule(this, "rule", {
      name,
      description: `Terminating lifecycle actions of ${props.clusterName}'s Auto Scaling groups (amiroll)`,
      eventPattern: JSON.stringify({
        source: ["aws.autoscaling"],
        "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
        detail: {
          LifecycleHookName: [name],
          AutoScalingGroupName: [{ prefix: props.asgNamePrefix }],
        },
      }),
      tags,
    });
    const target = new CloudwatchEventTarget(this, "target", {
      rule: this.rule.name,
      arn: this.function.arn,
    });
    const permission = new LambdaPermission(this, "permission", {
      statementId: "AllowLifecycleEvents",
      action: "lambda:InvokeFunction",
      functionName: this.function.functionName,
      principal: "events.amazonaws.com",
      sourceArn: this.rule.arn,
    });
    this.dependables = [this.function, policy, recheck, this.invokeConfig, target, permission];
  }
}

export interface DrainHandlerBundle {
  /** The zip Lambda runs (index.js at its root). */
  readonly file: string;
  /** SHA-256 of the zip: base64 for `source_code_hash`, hex for the asset's folder. */
  readonly sha256Base64: string;
  readonly sha256Hex: string;
}

/** Fixed time stamp in the zip, so the same code always gives the same bytes and hash. */
const ZIP_MTIME = new Date("1980-01-01T00:00:00Z");
/**
 * The handler's TypeScript source. The package ships it beside dist/ (constructs/), so the zip is
 * built from the same file whether this module runs from source (tests, tsx) or from dist/:
 * one stack, one hash, whichever way it is synthesized.
 */
const HANDLER_SOURCES = [path.join(__dirname, "drain-hook.lambda.ts"), path.join(__dirname, "..", "..", "constructs", "drain-hook.lambda.ts")];

/** How the handler is bundled (its entry point and working directory aside). */
const BUNDLE_OPTIONS = { bundle: true, platform: "node", target: "node22", format: "cjs", external: ["@aws-sdk/*"] } as const;
/** fflate's compression level for the zip. */
const ZIP_LEVEL = 9;

/**
 * Bundles drain-hook.lambda.ts with esbuild into a deterministic zip: same code, same bytes,
 * whatever the time or working directory. The SDK v3 clients are left to the Lambda runtime.
 *
 * The zip is kept in this user's cache directory under `outDir` (default the system's temporary
 * directory), by what it is built from (the handler's source, esbuild's version, the options), so
 * a process whose handler source is unchanged reuses it instead of running esbuild again.
 */
export function bundleDrainHandler(outDir = os.tmpdir()): DrainHandlerBundle {
  const source = HANDLER_SOURCES.find(fs.existsSync);
  if (!source) throw new Error(`drain hook: the handler source is missing (looked for ${HANDLER_SOURCES.join(", ")})`);
  const sourceText = fs.readFileSync(source);
  const builtFrom = createHash("sha256").update(JSON.stringify({ esbuild: esbuildVersion, BUNDLE_OPTIONS, ZIP_LEVEL })).update(sourceText).digest("hex");
  const cache = privateCacheDirectory(outDir) ?? fs.mkdtempSync(path.join(outDir, "amiroll-drain-hook-"));
  const dir = path.join(cache, `drain-hook-${builtFrom.slice(0, 16)}`);
  const file = path.join(dir, "drain-hook.zip");
  let zip: Uint8Array;
  if (fs.existsSync(file)) {
    zip = fs.readFileSync(file);
  } else {
    const built = buildSync({
      ...BUNDLE_OPTIONS,
      external: [...BUNDLE_OPTIONS.external],
      entryPoints: [source],
      write: false,
      // Paths in the bundle's comments are relative to the package root, not to wherever synth runs.
      absWorkingDir: path.dirname(path.dirname(source)),
      logLevel: "silent",
    });
    zip = zipSync({ "index.js": [built.outputFiles[0].contents, { mtime: ZIP_MTIME, level: ZIP_LEVEL }] });
    // Written aside then renamed, so a parallel synth never reads half a zip.
    fs.mkdirSync(dir, { recursive: true });
    const partial = `${file}.${process.pid}.partial`;
    fs.writeFileSync(partial, zip);
    fs.renameSync(partial, file);
  }
  const digest = createHash("sha256").update(zip).digest();
  return { file, sha256Base64: digest.toString("base64"), sha256Hex: digest.toString("hex") };
}

/**
 * `amiroll-cache-UID` under `base`, a directory only this user can write, made if need be; else
 * undefined. The temporary directory is shared: a zip another user planted there under a name
 * amiroll would look for would be deployed as the drain hook, so a directory that is not ours
 * alone (a symlink, another owner, group or world access) is never used. Not on Windows (no uid).
 */
function privateCacheDirectory(base: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const dir = path.join(base, `amiroll-cache-${uid}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") return undefined;
  }
  const stat = fs.lstatSync(dir);
  return stat.isDirectory() && stat.uid === uid && (stat.mode & 0o077) === 0 ? dir : undefined;
}

let bundled: DrainHandlerBundle | undefined;

/** The bundle, built once per process (every cluster of every stack shares it). */
export function drainHandlerBundle(): DrainHandlerBundle {
  bundled ??= bundleDrainHandler();
  return bundled;
}
