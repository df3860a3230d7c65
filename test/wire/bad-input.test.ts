/**
 * Bad input over the wire (`npm run test:wire`): amiroll's real SDK clients against moto on
 * 127.0.0.1, and against a loopback stand-in in front of moto that answers one action with
 * ThrottlingException or AccessDenied as AWS does (moto neither throttles nor, by default,
 * enforces IAM). Each failure is one line naming the call and what to do, exit 1 (2 where it is
 * the user's input), and nothing is half-written: the pins file is byte for byte as it was.
 * Skipped, with the reason printed, where python3 or moto is missing.
 */
import type { Server } from "node:http";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateClusterCommand, ECSClient } from "@aws-sdk/client-ecs";
import { amirollInProcess, type CliResult } from "../support/cli-in-process";
import { amiroll, errorLines } from "../support/cli";
import { type MotoWorld, REAL, type StandInAnswer, motoMissing, standIn, startMoto } from "./moto-world";

jest.setTimeout(120_000);

const REGION = "eu-west-1";
const PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended";
const PINNED = "ami-0c8e1f5b2a9d47e31";
const NEWER = "ami-0d9f2a6c3b8e41f57";

const skipReason = REAL ? "bad input is tested against moto only (it injects failures)" : motoMissing();
if (skipReason) console.log(`wire bad-input tests skipped: ${skipReason}`);
const wire = skipReason ? describe.skip : describe;

/** A port nothing listens on (taken, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** How the stand-in answers one action instead of moto: `service:Operation` -> AWS's error code. */
type Faults = Map<string, "ThrottlingException" | "AccessDenied">;

/** The stand-in's answer for a faulted action, as AWS words it (JSON protocols: `__type`; EC2's query protocol: its XML `<Errors>`). */
function faultyAws(moto: string, faults: Faults) {
  return standIn(moto, (action): StandInAnswer | undefined => {
    const fault = faults.get(action);
    if (!fault) return undefined;
    if (action.startsWith("ec2:")) {
      const code = fault === "AccessDenied" ? "UnauthorizedOperation" : "RequestLimitExceeded";
      const message = fault === "AccessDenied" ? "You are not authorized to perform this operation." : "Request limit exceeded.";
      return { status: fault === "AccessDenied" ? 403 : 503, headers: { "content-type": "text/xml" }, body: `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>stand-in</RequestID></Response>` };
    }
    const type = fault === "AccessDenied" ? "AccessDeniedException" : "ThrottlingException";
    const message = fault === "AccessDenied" ? `User: arn:aws:sts::123456789012:assumed-role/ci/amiroll is not authorized to perform: ${action}` : "Rate exceeded";
    return { status: 400, headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": type }, body: JSON.stringify({ __type: type, message }) };
  });
}

wire(`bad input over the wire${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  let moto: MotoWorld;
  let dir: string;
  let configPath: string;
  let pinsPath: string;
  let pinsBefore: string;
  const servers: Server[] = [];
  const credentials = { AWS_ACCESS_KEY_ID: "moto", AWS_SECRET_ACCESS_KEY: "moto" };
  const noAwsFiles = () => ({ AWS_PROFILE: "", AWS_CONFIG_FILE: join(dir, "no-aws-config"), AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-aws-credentials"), AWS_CA_BUNDLE: "" });
  const cli = (args: string[], env: Record<string, string>): Promise<CliResult> =>
    amirollInProcess([...args, "--config", configPath], { CDKTF_OUTDIR: join(dir, "cdktf.out"), AMIROLL_AWS_MAX_ATTEMPTS: "2", ...noAwsFiles(), ...env });

  beforeAll(async () => {
    moto = await startMoto();
    dir = mkdtempSync(join(tmpdir(), "amiroll-wire-bad-"));
    await moto.seed({ op: "image", region: REGION, id: PINNED, name: "al2023-ami-ecs-hvm-2023.0.20261105-kernel-6.1-arm64", architecture: "arm64", created: "2026-11-05T08:14:31.000Z" });
    await moto.seed({ op: "image", region: REGION, id: NEWER, name: "al2023-ami-ecs-hvm-2023.0.20261120-kernel-6.1-arm64", architecture: "arm64", created: "2026-11-20T07:52:10.000Z" });
    await moto.seed({ op: "parameter", region: REGION, name: PARAMETER, value: JSON.stringify({ image_id: NEWER, image_name: "al2023-ami-ecs-hvm-2023.0.20261120-kernel-6.1-arm64", ecs_agent_version: "1.99.1" }) });
    await new ECSClient({ region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: "moto", secretAccessKey: "moto" } }).send(new CreateClusterCommand({ clusterName: "staging-apps" }));
    const environment = (region: string) => ({
      region,
      backend: { bucket: "amiroll-wire-tfstate" },
      vpcId: "vpc-0a1b2c3d4e5f60718",
      subnets: [
        { id: "subnet-0a1b2c3d4e5f60001", availabilityZone: `${region}a` },
        { id: "subnet-0a1b2c3d4e5f60002", availabilityZone: `${region}b` },
      ],
      clusters: { apps: { instanceType: "m7g.large", minSize: 2, maxSize: 4 } },
    });
    configPath = join(dir, "amiroll.json");
    pinsPath = join(dir, "amis.json");
    writeFileSync(configPath, JSON.stringify({ environments: { staging: environment(REGION), elsewhere: environment("us-east-2") } }, null, 2));
    const pin = { current: { imageId: PINNED, ssmParameter: PARAMETER, resolvedAt: "2026-11-09T09:12:00Z" } };
    pinsBefore = `${JSON.stringify({ staging: { apps: pin }, elsewhere: { apps: pin } }, null, 2)}\n`;
    writeFileSync(pinsPath, pinsBefore);
  }, 120_000);

  afterAll(async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
    await moto?.stop();
  });

  afterEach(() => {
    // Nothing half-written, whatever failed.
    expect(readFileSync(pinsPath, "utf8")).toBe(pinsBefore);
  });

  const withFaults = async (faults: Faults) => {
    const stand = await faultyAws(moto.endpoint, faults);
    servers.push(stand.server);
    return stand;
  };

  it("works when nothing is wrong: bump --dry-run over moto sees the newer image (the cases below differ by one fault)", async () => {
    const r = await cli(["bump", "--env", "staging", "--dry-run"], { ...credentials, AWS_ENDPOINT_URL: moto.endpoint });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(NEWER);
  });

  it("an unreachable endpoint: one line naming the call, the address and what to do, exit 1", async () => {
    const port = await closedPort();
    // The built bin in a process of its own: under jest, Node's socket error comes from another
    // realm than the SDK's `instanceof Error`, which then wraps it into a message without its code.
    const r = amiroll(["bump", "--env", "staging", "--config", configPath], { ...credentials, ...noAwsFiles(), AMIROLL_AWS_MAX_ATTEMPTS: "2", AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` });
    expect(r.status).toBe(1);
    expect(errorLines(r.stderr)).toEqual([`amiroll: SSM GetParameters: cannot reach AWS (127.0.0.1:${port}): connect ECONNREFUSED 127.0.0.1:${port} (check the network or proxy, or try --simulate)`]);
    expect(r.stdout).toBe("");
  });

  it("no credentials at all: one line naming the call and what to do, exit 1", async () => {
    const r = await cli(["status", "--env", "staging"], { AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_SESSION_TOKEN: "", AWS_EC2_METADATA_DISABLED: "true", AWS_CONTAINER_CREDENTIALS_FULL_URI: "", AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "", AWS_WEB_IDENTITY_TOKEN_FILE: "" });
    expect(r.status).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^amiroll: SSM GetParameters: no AWS credentials for eu-west-1 \(set AWS_PROFILE, run aws sso login, or try --simulate\)$/)]);
    expect(r.stdout).toBe("");
  });

  it("a call throttled through every retry: one line naming it and what to do, exit 1, the pins untouched", async () => {
    const stand = await withFaults(new Map([["ssm:GetParameters", "ThrottlingException"]]));
    const r = await cli(["bump", "--env", "staging"], { ...credentials, AWS_ENDPOINT_URL: stand.url });
    expect(r.status).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      "amiroll: SSM GetParameters: AWS throttled the call in eu-west-1, through every retry (ThrottlingException: Rate exceeded; try again later, or give each call more attempts with AMIROLL_AWS_MAX_ATTEMPTS)",
    ]);
    expect(stand.seen.filter((a) => a === "ssm:GetParameters")).toHaveLength(2); // AMIROLL_AWS_MAX_ATTEMPTS=2
    expect(r.stdout).toBe("");
  });

  it("AccessDenied on one action (EC2 DescribeImages): one line naming it and the permission to grant, exit 1, the pins untouched", async () => {
    const stand = await withFaults(new Map([["ec2:DescribeImages", "AccessDenied"]]));
    const r = await cli(["bump", "--env", "staging"], { ...credentials, AWS_ENDPOINT_URL: stand.url });
    expect(r.status).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      "amiroll: EC2 DescribeImages: this identity may not call it in eu-west-1 (UnauthorizedOperation: You are not authorized to perform this operation.; grant ec2:DescribeImages: amiroll iam-policy prints the policy each role needs)",
    ]);
    // status names the same call (it reads images too).
    const status = await cli(["status", "--env", "staging"], { ...credentials, AWS_ENDPOINT_URL: stand.url });
    expect(status.status).toBe(1);
    expect(errorLines(status.stderr)).toEqual([expect.stringMatching(/^amiroll: EC2 DescribeImages: this identity may not call it in eu-west-1 /)]);
  });

  it("a denied SSM parameter is a warning in status (the rest reported), and bump's one-line refusal", async () => {
    const stand = await withFaults(new Map([["ssm:GetParameters", "AccessDenied"]]));
    const status = await cli(["status", "--env", "staging", "-o", "prom"], { ...credentials, AWS_ENDPOINT_URL: stand.url });
    expect(status.status).toBe(0);
    expect(status.stdout).toContain('amiroll_latest_readable{env="staging",cluster="apps"} 0\n');
    expect(status.stdout).toContain('amiroll_warnings{env="staging",cluster="apps"} 1\n');
    const bump = await cli(["bump", "--env", "staging"], { ...credentials, AWS_ENDPOINT_URL: stand.url });
    expect(bump.status).toBe(1);
    expect(errorLines(bump.stderr)).toEqual([expect.stringMatching(/^amiroll: SSM GetParameters: this identity may not call it in eu-west-1 \(AccessDeniedException: .*; grant ssm:GetParameters: amiroll iam-policy prints/)]);
  });

  it("a region with no such cluster: watch says which cluster and region, exit 2 (the config names it)", async () => {
    const r = await cli(["watch", "--env", "elsewhere", "--timeout", "30s"], { ...credentials, AWS_ENDPOINT_URL: moto.endpoint });
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(errorLines(r.stderr)[0]).toMatch(/elsewhere-apps/);
    expect(errorLines(r.stderr)[0]).toMatch(/us-east-2/);
    expect(r.status).toBe(2);
  });
});
