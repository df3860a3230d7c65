/**
 * A first deploy over the wire (`npm run test:wire`): `amiroll apply --env production --expect
 * create` against moto on 127.0.0.1 (test/wire/moto-world.ts), real terraform through the
 * provider mirror, the state in a moto bucket. Its own file, with its own moto, so that jest runs
 * this apply (about a minute of terraform waiting on moto's SQS queues and ECS cluster) beside
 * moto.test.ts's. Skipped, with the reason printed, where python3, moto, terraform or the mirror
 * is missing, and against a real account (it applies).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { CreateSubnetCommand, CreateVpcCommand, EC2Client } from "@aws-sdk/client-ec2";
import { DescribeClustersCommand, ECSClient } from "@aws-sdk/client-ecs";
import { amirollInProcess } from "../support/cli-in-process";
import { findTerraform, startSharedProvider, type SharedProvider } from "../support/terraform";
import { MOTO_CREDENTIALS, type MotoWorld, REAL, motoEnv, motoMissing, startMoto } from "./moto-world";

jest.setTimeout(180_000);

const REGION = "eu-west-1";
const BUCKET = "amiroll-wire-tfstate";
const PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended";
const IMAGE = { id: "ami-0c8e1f5b2a9d47e31", name: "al2023-ami-ecs-hvm-2023.0.20261105-kernel-6.1-arm64", created: "2026-11-05T08:14:31.000Z" };

const terraform = findTerraform();
const skipReason = REAL ? "a first deploy applies: moto only" : (motoMissing() ?? (terraform.ok ? undefined : terraform.reason));
if (skipReason) console.log(`wire first-deploy test skipped: ${skipReason}`);
const wire = skipReason ? describe.skip : describe;

wire(`a first deploy of production over the wire${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  let moto: MotoWorld;
  let provider: SharedProvider | undefined;
  let dir: string;
  let env: Record<string, string>;
  let clientConfig: { region: string; endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } };

  beforeAll(async () => {
    moto = await startMoto();
    dir = mkdtempSync(join(tmpdir(), "amiroll-wire-first-"));
    clientConfig = { region: REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS };
    env = { ...motoEnv(moto.endpoint, dir), CDKTF_OUTDIR: join(dir, "cdktf.out") };
    await moto.seed({ op: "image", region: REGION, id: IMAGE.id, name: IMAGE.name, architecture: "arm64", created: IMAGE.created });
    await moto.seed({ op: "parameter", region: REGION, name: PARAMETER, value: JSON.stringify({ image_id: IMAGE.id, image_name: IMAGE.name, ecs_agent_version: "1.98.0", os: "Amazon Linux 2023", schema_version: 1 }) });
    const s3 = await fetch(`${moto.endpoint}/${BUCKET}`, { method: "PUT", body: `<CreateBucketConfiguration><LocationConstraint>${REGION}</LocationConstraint></CreateBucketConfiguration>` });
    if (!s3.ok) throw new Error(`moto: creating the state bucket: ${s3.status} ${await s3.text()}`);
    const ec2 = new EC2Client(clientConfig);
    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.81.0.0/16" }))).Vpc!.VpcId!;
    const subnets: { id: string; availabilityZone: string }[] = [];
    for (const [i, zone] of ["a", "b", "c"].entries()) {
      const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.81.${i}.0/24`, AvailabilityZone: `${REGION}${zone}` }))).Subnet!;
      subnets.push({ id: subnet.SubnetId!, availabilityZone: subnet.AvailabilityZone! });
    }
    const environment = (strategy: string, size: number) => ({
      region: REGION,
      backend: { bucket: BUCKET },
      vpcId,
      subnets,
      strategy,
      clusters: { apps: { instanceType: "m7g.large", minSize: size, maxSize: size * 2, desiredCapacity: size } },
    });
    writeFileSync(join(dir, "amiroll.json"), JSON.stringify({ environments: { staging: environment("replace", 2), production: { ...environment("blue-green", 3), promotesFrom: "staging" } } }, null, 2));
    const pin = { current: { imageId: IMAGE.id, imageName: IMAGE.name, ssmParameter: PARAMETER, resolvedAt: "2026-11-09T09:12:00Z" } };
    writeFileSync(join(dir, "amis.json"), `${JSON.stringify({ staging: { apps: pin }, production: { apps: pin } }, null, 2)}\n`);
    // Synthesized first, so that the shared provider runs in the stack's directory (the Lambda's zip is relative to it).
    const synth = await amirollInProcess(["synth", "--config", join(dir, "amiroll.json")], env);
    if (synth.status !== 0) throw new Error(synth.stderr);
    provider = await startSharedProvider(terraform.ok ? terraform.pluginDir : "", env, { cwd: join(dir, "cdktf.out", "stacks", "production") });
  }, 180_000);

  afterAll(async () => {
    await provider?.stop();
    await moto?.stop();
  });

  it("amiroll apply --expect create: the guard accepts a first deploy, terraform creates it in moto, the apply says what comes next", async () => {
    const apply = await amirollInProcess(["apply", "--env", "production", "--expect", "create", "--config", join(dir, "amiroll.json")], { ...env, ...provider?.env });
    if (apply.status !== 0) throw new Error(`${apply.stdout}\n${apply.stderr}`);
    expect(apply.stdout).toContain("plan guard: ACCEPTED (expected a first deploy of apps)");
    expect(apply.stdout).toMatch(/^Plan: \d+ to add, 0 to change, 0 to destroy\./m);
    expect(apply.stderr).toContain("first deploy of apps applied");
    const groups = await new AutoScalingClient(clientConfig).send(new DescribeAutoScalingGroupsCommand({}));
    expect(groups.AutoScalingGroups!.map((g) => [g.AutoScalingGroupName, g.DesiredCapacity, g.Instances?.length])).toEqual([[`production-apps-${IMAGE.id}`, 3, 3]]);
    const clusters = await new ECSClient(clientConfig).send(new DescribeClustersCommand({ clusters: ["production-apps"] }));
    expect(clusters.clusters!.map((c) => c.status)).toEqual(["ACTIVE"]);
  });
});
