/**
 * When AWS cannot be asked at all: no credentials (or expired ones), or no network to AWS; or a
 * call AWS throttled through every retry, or denied to this identity. The
 * SDK's errors for these name neither the region nor what to do ("Could not load credentials
 * from any providers", "getaddrinfo ENOTFOUND ..."); `AwsAccessError` says both in one line, and
 * the CLI prints it as it prints any failure (exit 1). No SDK import: the CLI's error mapping
 * may load this file without loading the SDK.
 */

export type AwsAccessProblem = "credentials" | "expired-credentials" | "network" | "throttled" | "denied";

/** AWS could not be asked: credentials missing, expired or refused, or AWS not reachable. */
export class AwsAccessError extends Error {
  constructor(
    readonly problem: AwsAccessProblem,
    readonly region: string,
    /** The host amiroll tried to reach (network problems). */
    readonly endpoint: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "AwsAccessError";
  }
}

const WHAT_TO_DO = {
  credentials: "set AWS_PROFILE, run aws sso login, or try --simulate",
  "expired-credentials": "run aws sso login or refresh them, set AWS_PROFILE to another profile, or try --simulate",
  network: "check the network or proxy, or try --simulate",
  throttled: "try again later, or give each call more attempts with AMIROLL_AWS_MAX_ATTEMPTS",
} as const;

/** What AWS answers when a call was throttled (after the SDK's own retries, it is final). */
const THROTTLED = new Set(["ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException", "RequestThrottled", "RequestThrottledException", "SlowDown"]);
/** What AWS answers when this identity may not make the call. */
const DENIED = new Set(["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException"]);
/** IAM's prefix for each client's actions. */
const IAM_PREFIX: Readonly<Record<string, string>> = { SSM: "ssm", EC2: "ec2", ECS: "ecs", AutoScaling: "autoscaling", SQS: "sqs", CloudWatch: "cloudwatch" };

/** Error names and codes that mean "no usable credentials". */
const NO_CREDENTIALS = new Set(["CredentialsProviderError"]);
const EXPIRED_CREDENTIALS = new Set([
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "InvalidAccessKeyId",
  "AuthFailure",
  "TokenProviderError",
]);
/** Node's socket errors (and the SDK's request timeout) that mean "AWS is not reachable from here". */
const NETWORK_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENETDOWN", "EPIPE"]);

interface ErrorLike {
  readonly name?: string;
  readonly code?: string;
  readonly message?: string;
  readonly hostname?: string;
  readonly address?: string;
  readonly port?: number;
  readonly errors?: readonly unknown[];
}

/** The socket error code of `error` (or of the first of an AggregateError's errors that has one). */
function networkCode(error: ErrorLike): string | undefined {
  if (error.code && NETWORK_CODES.has(error.code)) return error.code;
  if (error.name === "TimeoutError") return "TimeoutError";
  for (const inner of error.errors ?? []) {
    const code = inner && typeof inner === "object" ? networkCode(inner as ErrorLike) : undefined;
    if (code) return code;
  }
  return undefined;
}

/**
 * `error` as an AwsAccessError when it is a credentials or network problem met while calling AWS
 * in `region` (`endpoint`: the host the call went to, when known), else undefined.
 */
export function awsAccessError(error: unknown, where: { readonly region: string; readonly endpoint?: string; readonly call?: AwsCall }): AwsAccessError | undefined {
  if (error instanceof AwsAccessError || !error || typeof error !== "object") return undefined;
  const e = error as ErrorLike;
  const name = e.name ?? "";
  const message = (e.message ?? "").split("\n")[0].trim();
  // The call, when known, leads: "SSM GetParameters: cannot reach AWS ...".
  const call = where.call ? `${where.call.service} ${where.call.operation}: ` : "";
  if (NO_CREDENTIALS.has(name) || /^Could not load credentials/i.test(message)) {
    const generic = /^Could not load credentials from any providers/i.test(message) || message === "";
    return new AwsAccessError("credentials", where.region, undefined, `${call}no AWS credentials for ${where.region}${generic ? "" : `: ${message}`} (${WHAT_TO_DO.credentials})`, { cause: error });
  }
  if (EXPIRED_CREDENTIALS.has(name) || (e.code !== undefined && EXPIRED_CREDENTIALS.has(e.code))) {
    return new AwsAccessError("expired-credentials", where.region, undefined, `${call}the AWS credentials for ${where.region} are expired or not valid: ${message || name} (${WHAT_TO_DO["expired-credentials"]})`, {
      cause: error,
    });
  }
  const code = networkCode(e);
  if (code) {
    const endpoint = where.endpoint ?? e.hostname ?? (e.address ? `${e.address}${e.port ? `:${e.port}` : ""}` : undefined);
    const reason = message || code;
    return new AwsAccessError("network", where.region, endpoint, `${call}cannot reach AWS${endpoint ? ` (${endpoint})` : ` in ${where.region}`}: ${reason} (${WHAT_TO_DO.network})`, { cause: error });
  }
  // Throttling and a denied action are known only for a known call: they name it.
  if (where.call && THROTTLED.has(name)) {
    return new AwsAccessError("throttled", where.region, where.endpoint, `${call}AWS throttled the call in ${where.region}, through every retry (${name}${message ? `: ${message}` : ""}; ${WHAT_TO_DO.throttled})`, { cause: error });
  }
  if (where.call && DENIED.has(name)) {
    const action = `${IAM_PREFIX[where.call.service] ?? where.call.service.toLowerCase()}:${where.call.operation}`;
    return new AwsAccessError("denied", where.region, where.endpoint, `${call}this identity may not call it in ${where.region} (${name}${message ? `: ${message}` : ""}; grant ${action}: amiroll iam-policy prints the policy each role needs)`, { cause: error });
  }
  return undefined;
}

/** An SDK call, as its client and command name it: `SSM` and `GetParameters`. */
export interface AwsCall {
  readonly service: string;
  readonly operation: string;
}

/** The call of an SDK middleware context (`SSMClient`, `GetParametersCommand`), if it says. */
function callOf(context: { clientName?: string; commandName?: string } | undefined): AwsCall | undefined {
  if (!context?.clientName || !context.commandName) return undefined;
  return { service: context.clientName.replace(/Client$/, ""), operation: context.commandName.replace(/Command$/, "") };
}

/** A middleware stack as the SDK clients have it (the part used here). */
interface MiddlewareStackLike {
  add(
    middleware: (next: (args: any) => Promise<any>, context: any) => (args: any) => Promise<any>,
    options: { step: "initialize"; name: string; override?: boolean },
  ): void;
}

/**
 * Makes `client`'s credentials and network failures AwsAccessErrors naming `region` and the
 * endpoint (after the SDK's retries: the middleware wraps the whole call). Returns the client.
 */
export function withAccessErrors<C extends { middlewareStack: MiddlewareStackLike }>(client: C, region: string): C {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const url = (context as { endpointV2?: { url?: URL } } | undefined)?.endpointV2?.url;
        throw awsAccessError(error, { region, endpoint: url?.host, call: callOf(context) }) ?? error;
      }
    },
    { step: "initialize", name: "amirollAccessErrors", override: true },
  );
  return client;
}
