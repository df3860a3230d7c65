/**
 * AWS that cannot be asked: missing or expired credentials and no network become one line that
 * names the region or endpoint and says what to do (the CLI prints it, exit 1; see
 * test/scripts/cli-output.test.ts for the real SDK's errors through the CLI).
 */
import { ECSClient, ListClustersCommand } from "@aws-sdk/client-ecs";
import { AwsAccessError, awsAccessError, withAccessErrors } from "../../scripts/fleet/access";

const where = { region: "eu-west-1" };
const nodeError = (message: string, props: Record<string, unknown>) => Object.assign(new Error(message), props);
const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe("awsAccessError", () => {
  it("no credentials: one line naming the region, AWS_PROFILE, aws sso login and --simulate", () => {
    const e = awsAccessError(named("CredentialsProviderError", "Could not load credentials from any providers"), where);
    expect(e).toBeInstanceOf(AwsAccessError);
    expect(e).toMatchObject({ problem: "credentials", region: "eu-west-1", name: "AwsAccessError" });
    expect(e?.message).toBe("no AWS credentials for eu-west-1 (set AWS_PROFILE, run aws sso login, or try --simulate)");
    // A more specific reason from the SDK is kept.
    expect(awsAccessError(named("CredentialsProviderError", "Could not resolve credentials using profile: [ops] in configuration/credentials file(s)."), where)?.message).toBe(
      "no AWS credentials for eu-west-1: Could not resolve credentials using profile: [ops] in configuration/credentials file(s). (set AWS_PROFILE, run aws sso login, or try --simulate)",
    );
  });

  it.each(["ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException", "InvalidClientTokenId", "TokenProviderError"])("%s: expired or refused credentials", (name) => {
    const e = awsAccessError(named(name, "The security token included in the request is expired"), where);
    expect(e?.problem).toBe("expired-credentials");
    expect(e?.message).toBe(
      "the AWS credentials for eu-west-1 are expired or not valid: The security token included in the request is expired (run aws sso login or refresh them, set AWS_PROFILE to another profile, or try --simulate)",
    );
  });

  it.each([
    [nodeError("getaddrinfo ENOTFOUND ecs.eu-west-1.amazonaws.com", { code: "ENOTFOUND", hostname: "ecs.eu-west-1.amazonaws.com" }), "ecs.eu-west-1.amazonaws.com", "getaddrinfo ENOTFOUND ecs.eu-west-1.amazonaws.com"],
    [nodeError("getaddrinfo EAI_AGAIN ssm.eu-west-1.amazonaws.com", { code: "EAI_AGAIN", hostname: "ssm.eu-west-1.amazonaws.com" }), "ssm.eu-west-1.amazonaws.com", "getaddrinfo EAI_AGAIN ssm.eu-west-1.amazonaws.com"],
    [nodeError("connect ECONNREFUSED 10.0.0.1:3128", { code: "ECONNREFUSED", address: "10.0.0.1", port: 3128 }), "10.0.0.1:3128", "connect ECONNREFUSED 10.0.0.1:3128"],
    [named("TimeoutError", "Connection timed out after 1000 ms"), undefined, "Connection timed out after 1000 ms"],
    [Object.assign(new AggregateError([nodeError("connect ECONNREFUSED ::1:443", { code: "ECONNREFUSED" })], ""), {}), undefined, "ECONNREFUSED"],
  ])("no network (%#): cannot reach AWS, the host, the reason and what to do", (error, endpoint, reason) => {
    const e = awsAccessError(error, where);
    expect(e).toMatchObject({ problem: "network", endpoint });
    expect(e?.message).toBe(`cannot reach AWS${endpoint ? ` (${endpoint})` : " in eu-west-1"}: ${reason} (check the network or proxy, or try --simulate)`);
  });

  it("the endpoint the call went to wins over the socket's address", () => {
    const e = awsAccessError(nodeError("connect ECONNREFUSED 127.0.0.1:9", { code: "ECONNREFUSED", address: "127.0.0.1", port: 9 }), { region: "eu-west-1", endpoint: "ecs.eu-west-1.amazonaws.com" });
    expect(e?.message).toMatch(/^cannot reach AWS \(ecs\.eu-west-1\.amazonaws\.com\): connect ECONNREFUSED/);
  });

  it("with the call known: throttling through every retry and a denied action, each naming the call and what to do", () => {
    const call = { region: "eu-west-1", call: { service: "EC2", operation: "DescribeImages" } };
    const throttled = awsAccessError(named("RequestLimitExceeded", "Request limit exceeded."), call);
    expect(throttled).toMatchObject({ problem: "throttled" });
    expect(throttled?.message).toBe(
      "EC2 DescribeImages: AWS throttled the call in eu-west-1, through every retry (RequestLimitExceeded: Request limit exceeded.; try again later, or give each call more attempts with AMIROLL_AWS_MAX_ATTEMPTS)",
    );
    const denied = awsAccessError(named("UnauthorizedOperation", "You are not authorized to perform this operation."), call);
    expect(denied).toMatchObject({ problem: "denied" });
    expect(denied?.message).toBe(
      "EC2 DescribeImages: this identity may not call it in eu-west-1 (UnauthorizedOperation: You are not authorized to perform this operation.; grant ec2:DescribeImages: amiroll iam-policy prints the policy each role needs)",
    );
    expect(awsAccessError(named("AccessDeniedException", "no"), { region: "eu-west-1", call: { service: "AutoScaling", operation: "DescribeAutoScalingGroups" } })?.message).toContain("grant autoscaling:DescribeAutoScalingGroups");
    expect(awsAccessError(named("ClusterNotFoundException", "Cluster not found."), call)).toBeUndefined();
  });

  it("anything else is left alone (AWS answered)", () => {
    expect(awsAccessError(named("ClusterNotFoundException", "Cluster not found."), where)).toBeUndefined();
    expect(awsAccessError(named("ThrottlingException", "Rate exceeded"), where)).toBeUndefined();
    expect(awsAccessError(new Error("boom"), where)).toBeUndefined();
    expect(awsAccessError("a string", where)).toBeUndefined();
  });
});

describe("withAccessErrors", () => {
  it("turns an SDK client's network failure into an AwsAccessError naming the call and the endpoint, once the retries are spent", async () => {
    let attempts = 0;
    const client = withAccessErrors(
      new ECSClient({
        region: "eu-west-1",
        credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
        maxAttempts: 2,
        requestHandler: {
          handle: async () => {
            attempts++;
            throw nodeError("getaddrinfo ENOTFOUND ecs.eu-west-1.amazonaws.com", { code: "ENOTFOUND", hostname: "ecs.eu-west-1.amazonaws.com" });
          },
        },
      }),
      "eu-west-1",
    );
    const error = await client.send(new ListClustersCommand({})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsAccessError);
    expect((error as Error).message).toBe(
      "ECS ListClusters: cannot reach AWS (ecs.eu-west-1.amazonaws.com): getaddrinfo ENOTFOUND ecs.eu-west-1.amazonaws.com (check the network or proxy, or try --simulate)",
    );
    expect(attempts).toBe(2); // the SDK retried first: the middleware wraps the whole call
  });

  it("lets AWS's own answers through unchanged", async () => {
    const client = withAccessErrors(
      new ECSClient({
        region: "eu-west-1",
        credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
        maxAttempts: 1,
        requestHandler: {
          handle: async () => {
            throw named("ClusterNotFoundException", "Cluster not found.");
          },
        },
      }),
      "eu-west-1",
    );
    await expect(client.send(new ListClustersCommand({}))).rejects.toMatchObject({ name: "ClusterNotFoundException" });
  });
});
