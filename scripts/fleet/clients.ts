/**
 * The one value through which the driver reaches AWS (DESIGN.md, "Functional core"): an SDK v3
 * client per service. Production builds them here; tests, bench and --simulate pass the sim's
 * (scripts/sim/clients.ts), which are the same classes answered by the simulated world.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ECSClient } from "@aws-sdk/client-ecs";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { Environment } from "../config/environments";
import { UsageError } from "../core/errors";
import { withAccessErrors } from "./access";

export interface AwsClients {
  readonly ecs: ECSClient;
  readonly autoScaling: AutoScalingClient;
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  /** The watched alarms (config `alarms`): DescribeAlarms only. */
  readonly cloudwatch: CloudWatchClient;
}

/** Attempts per call (the first one included) unless AMIROLL_AWS_MAX_ATTEMPTS says otherwise. */
export const DEFAULT_MAX_ATTEMPTS = 10;
export const MAX_ATTEMPTS_VARIABLE = "AMIROLL_AWS_MAX_ATTEMPTS";
const MAX_ATTEMPTS_LIMIT = 100;

export interface AwsClientsOptions {
  /** Attempts per call, retries included. @default AMIROLL_AWS_MAX_ATTEMPTS, else 10 */
  readonly maxAttempts?: number;
  /** A profile of the shared config/credentials files. @default AWS_PROFILE, else "default" */
  readonly profile?: string;
  /** Where AMIROLL_AWS_MAX_ATTEMPTS is read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** The attempts per call: the option, else the variable, else 10. A bad value is a UsageError. */
export function maxAttemptsFrom(options: AwsClientsOptions = {}): number {
  if (options.maxAttempts !== undefined) return checkAttempts(options.maxAttempts, "maxAttempts");
  const raw = (options.env ?? process.env)[MAX_ATTEMPTS_VARIABLE];
  if (raw === undefined || raw.trim() === "") return DEFAULT_MAX_ATTEMPTS;
  return checkAttempts(/^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN, MAX_ATTEMPTS_VARIABLE, raw);
}

function checkAttempts(value: number, source: string, raw: unknown = value): number {
  if (Number.isInteger(value) && value >= 1 && value <= MAX_ATTEMPTS_LIMIT) return value;
  throw new UsageError(`${source} must be a whole number from 1 to ${MAX_ATTEMPTS_LIMIT} (attempts per AWS call), not ${JSON.stringify(String(raw))}`);
}

/**
 * SDK v3 clients for an environment: its region, the standard credential chain (environment,
 * AWS_PROFILE or `profile`, SSO, web identity, container and instance roles), and adaptive
 * retry, so throttling is absorbed by the SDK (client-side rate limiting plus back-off).
 * Missing or expired credentials and an unreachable AWS fail as `AwsAccessError`s (access.ts):
 * one line naming the region and what to do. Nothing is sent until a client is used.
 */
export function createAwsClients(environment: Environment, options: AwsClientsOptions = {}): AwsClients {
  const config = {
    region: environment.region,
    maxAttempts: maxAttemptsFrom(options),
    retryMode: "adaptive",
    ...(options.profile ? { profile: options.profile } : {}),
  };
  const region = environment.region;
  return {
    ecs: withAccessErrors(withoutSdkLogging(new ECSClient(config)), region),
    autoScaling: withAccessErrors(withoutSdkLogging(new AutoScalingClient(config)), region),
    ec2: withAccessErrors(withoutSdkLogging(new EC2Client(config)), region),
    ssm: withAccessErrors(withoutSdkLogging(new SSMClient(config)), region),
    cloudwatch: withAccessErrors(withoutSdkLogging(new CloudWatchClient(config)), region),
  };
}

/**
 * Removes the SDK's logger middleware. It copies every input and output through the operation's
 * schema to mask sensitive fields before handing them to the logger, even when that logger is the
 * default no-op: at 6,000 tasks a poll cycle, about a third of the driver's CPU. The driver logs
 * through its own logger, never the SDK's. Returns the client.
 */
export function withoutSdkLogging<C extends { middlewareStack: { remove(toRemove: string): boolean } }>(client: C): C {
  client.middlewareStack.remove("loggerMiddleware");
  return client;
}
