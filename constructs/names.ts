/**
 * Names and defaults that the constructs give their resources and that the driver and the
 * simulator must find again. Their own module, so the driver can use them without loading cdktf.
 */

/** A generation's Auto Scaling group name: derived from the AMI, so a new image means a new group. */
export function generationAsgName(clusterName: string, imageId: string): string {
  return `${clusterName}-${imageId}`;
}

/**
 * The replace strategy's canary group of `imageId`: named apart from the generation it proves
 * (which takes generationAsgName once the stable group is replaced), within the same prefix
 * (the drain hook and the IAM policies match groups by it).
 */
export function canaryAsgName(clusterName: string, imageId: string): string {
  return `${generationAsgName(clusterName, imageId)}-canary`;
}

/**
 * The refresh strategy's one group: its name stays across images (a bump updates its launch
 * template in place). Within the generations' prefix, which the drain hook and the IAM policies
 * match groups by ("refresh" is no AMI id, so it never collides with a generation's name).
 */
export function refreshAsgName(clusterName: string): string {
  return generationAsgName(clusterName, "ami-refresh");
}

/** What every generation's group name of a cluster starts with (AMI ids start with "ami-"). */
export function generationAsgNamePrefix(clusterName: string): string {
  return generationAsgName(clusterName, "ami-");
}

/** The options' defaults (the simulator seeds its hooks with them too). */
export const DRAIN_HOOK_DEFAULTS = {
  heartbeatTimeout: "5m",
  defaultResult: "CONTINUE",
  maxDrainTime: "1h",
  recheckInterval: "30s",
  logRetentionDays: 30,
} as const;

/**
 * The drain hook's fixed timing, in seconds (not options: the relation below holds for them, and
 * the options are checked against it at synth). The simulator uses the same numbers.
 *
 * One failed check (a throw, a Lambda timeout, a call still throttled after the SDK's retries)
 * must never let the lifecycle action's heartbeat lapse. Every check records a heartbeat first,
 * before anything else can fail; a check that fails comes back when the visibility timeout
 * (counted from its receipt) runs out. So the longest gap between two heartbeats, with one
 * failure, is
 *
 *     functionTimeout            the check that heartbeats may take this long to send the next message
 *   + recheckInterval            the next message's delay
 *   + visibilityTimeout          that check fails; its message is hidden this long (its run included)
 *   + functionTimeout            the retry reaches its heartbeat within one run
 *   + deliveryMargin             EventBridge, SQS and Lambda's pollers are not instant (both deliveries)
 *
 * and heartbeatTimeout >= recheckInterval + FAILED_CHECK_SECONDS (4m with these numbers) is the
 * relation checked at synth, naming the option (the defaults: 30s + 4m = 4m30s <= 5m). The first
 * check, from EventBridge, is retried by Lambda 1 minute after a failure (asyncRetry): covered
 * because asyncRetry <= visibilityTimeout. Besides: visibilityTimeout >= functionTimeout (Lambda
 * refuses an SQS event source otherwise), and not AWS's "6 x function timeout" advice, which is
 * about throughput: a visibility timeout that long (360s) is what let one failed re-check outlast
 * the 5m heartbeat. The batch size does not enter: the handler checks a batch's messages
 * concurrently, reports each failure alone (a partial batch response), and gives up on a check
 * still running 5s before the function's timeout, so one message neither delays nor fails the
 * others; an invocation that fails as a whole returns each of its messages within the same bound.
 */
export const DRAIN_HOOK_TIMING = {
  /** The Lambda's timeout. A check is a handful of calls; the handler gives up on one near it. */
  functionTimeoutSeconds: 60,
  /** The re-check queue's visibility timeout: when a failed check's message comes back. */
  visibilityTimeoutSeconds: 90,
  /** Slack for EventBridge, SQS and Lambda's pollers to deliver. */
  deliveryMarginSeconds: 30,
  /** Lambda's wait before it retries a failed asynchronous (EventBridge) invocation. */
  asyncRetrySeconds: 60,
  /**
   * Lambda's retries of a failed asynchronous invocation (its default, set explicitly): after the
   * last, the event's record goes to the re-check queue (the on-failure destination).
   */
  asyncRetryAttempts: 2,
  /**
   * Messages per invocation: the most that needs no batching window (which would delay every
   * re-check). The handler checks them concurrently, so the batch does not lengthen a run.
   */
  batchSize: 10,
} as const;

/** What one failed check adds to the gap between two heartbeats (see DRAIN_HOOK_TIMING): 4m. */
export const FAILED_CHECK_SECONDS =
  DRAIN_HOOK_TIMING.functionTimeoutSeconds +
  DRAIN_HOOK_TIMING.visibilityTimeoutSeconds +
  DRAIN_HOOK_TIMING.functionTimeoutSeconds +
  DRAIN_HOOK_TIMING.deliveryMarginSeconds;

/**
 * Receives of one re-check message before it goes to the dead-letter queue: enough to keep
 * retrying for longer than a heartbeat timeout (any retry before then may still save the
 * instance's drain), and at least 5.
 */
export function drainHookMaxReceiveCount(heartbeatTimeoutSeconds: number): number {
  return Math.max(5, Math.ceil(heartbeatTimeoutSeconds / DRAIN_HOOK_TIMING.visibilityTimeoutSeconds) + 1);
}

/** The hook's name, and its Lambda's, role's and rule's: one per cluster. */
export function drainHookName(clusterName: string): string {
  return `${clusterName}-drain-hook`;
}

/** The capacity provider of a generation's group (capacityProviders): the group's own name (unique; EcsCluster refuses cluster names ECS would refuse). */
export function capacityProviderName(asgName: string): string {
  return asgName;
}
