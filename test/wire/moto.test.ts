/**
 * amiroll over the wire (`npm run test:wire`, not part of `npm test`): the real CLI, the real AWS
 * SDK path and real terraform against moto, a public AWS emulator nobody here wrote, on
 * 127.0.0.1 (test/wire/moto-world.ts, test/wire/seed.py). The cases run in order, as a user
 * would: synth, a first deploy of staging with terraform itself, status in every format, a new
 * image published and bumped, plan and guard, apply, watch and rebalance, the drain-hook Lambda.
 * Production's first deploy is first-deploy.test.ts (its own moto, so that jest runs its apply,
 * a minute of terraform waiting on moto, beside this file's). Where moto is not AWS (docs/testing.md, "moto is not AWS"), the set-up says so and
 * does AWS's part; amiroll's own checks are never loosened.
 *
 * Skipped, with the reason printed, where python3, moto, terraform or the provider mirror is
 * missing. AMIROLL_E2E_REAL=1 with AWS_PROFILE runs the read-only part against a real account.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { CreateVpcCommand, CreateSubnetCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  CreateServiceCommand,
  DeregisterContainerInstanceCommand,
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListContainerInstancesCommand,
  ListTasksCommand,
  RegisterContainerInstanceCommand,
  RegisterTaskDefinitionCommand,
  StartTaskCommand,
  StopTaskCommand,
} from "@aws-sdk/client-ecs";
import { amirollInProcess, type CliResult } from "../support/cli-in-process";
import { findTerraform, startSharedProvider, terraformAsync, type SharedProvider } from "../support/terraform";
import { unzipSync } from "fflate";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { MOTO_CREDENTIALS, type MotoWorld, REAL, motoEnv, motoMissing, standIn, startMoto } from "./moto-world";

jest.setTimeout(180_000);

const REGION = (REAL && process.env.AMIROLL_E2E_REGION) || "eu-west-1";
const BUCKET = (REAL && process.env.AMIROLL_E2E_BUCKET) || "amiroll-wire-tfstate";
const PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended";
/** The image staging and production are first deployed on, and the one published later. */
const OLD = { id: "ami-0c8e1f5b2a9d47e31", date: "20261105", created: "2026-11-05T08:14:31.000Z" };
const NEW = { id: "ami-0d9f2a6c3b8e41f57", date: "20261120", created: "2026-11-20T07:52:10.000Z" };
const imageName = (date: string) => `al2023-ami-ecs-hvm-2023.0.${date}-kernel-6.1-arm64`;
/** The parameter's JSON value, as AWS publishes it. */
const parameterValue = (image: { id: string; date: string }) =>
  JSON.stringify({
    ecs_agent_version: image === NEW ? "1.99.1" : "1.98.0",
    ecs_runtime_version: "Docker version 25.0.8",
    image_id: image.id,
    image_name: imageName(image.date),
    image_version: `2023.0.${image.date}`,
    os: "Amazon Linux 2023",
    schema_version: 1,
    source_image_name: imageName(image.date).replace("-ecs-hvm", ""),
  });

/** terraform's JSON, after any warning it printed first (terraformAsync merges stdout and stderr). */
const jsonOf = (output: string) => output.slice(output.indexOf("{"));

const terraform = findTerraform();
/**
 * AMIROLL_E2E_REAL=1: the account of AWS_PROFILE, in AMIROLL_E2E_REGION (default eu-west-1), with
 * its state bucket AMIROLL_E2E_BUCKET and a VPC of its own (AMIROLL_E2E_VPC, AMIROLL_E2E_SUBNETS
 * as `subnet-...:zone,...`): nothing is created in it, only read and planned (the moto-only steps
 * are skipped, with the reason in their names). Never in CI.
 */
const REAL_NEEDS = ["AWS_PROFILE", "AMIROLL_E2E_BUCKET", "AMIROLL_E2E_VPC", "AMIROLL_E2E_SUBNETS"];
const missing = REAL
  ? process.env.CI
    ? "AMIROLL_E2E_REAL=1 is never run in CI"
    : REAL_NEEDS.some((v) => !process.env[v])
      ? `AMIROLL_E2E_REAL=1 needs ${REAL_NEEDS.filter((v) => !process.env[v]).join(", ")}`
      : undefined
  : motoMissing();
const skipReason = missing ?? (terraform.ok ? undefined : terraform.reason);
if (skipReason) console.log(`wire tests skipped: ${skipReason}`);
const wire = skipReason ? describe.skip : describe;
/** Steps that need moto's seeding or the agent stand-in: not run against a real account. */
const motoOnly = REAL ? (name: string, fn?: jest.ProvidesCallback) => it.skip(`${name} (moto only: it seeds images or applies)`, fn) : it;

wire(`amiroll over the wire against ${REAL ? `a real AWS account (profile ${process.env.AWS_PROFILE})` : "moto"}${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  let moto: MotoWorld | undefined;
  let provider: SharedProvider | undefined;
  const servers: Server[] = [];
  let dir: string;
  let configPath: string;
  let pinsPath: string;
  let env: Record<string, string>;
  let clientConfig: { region: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string } };
  const subnets: { id: string; availabilityZone: string }[] = [];
  let vpcId: string;
  const pluginDir = terraform.ok ? terraform.pluginDir : "";

  const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => amirollInProcess([...args, "--config", configPath], { CDKTF_OUTDIR: join(dir, "cdktf.out"), ...env, ...provider?.env, ...extra });
  const stackDir = (environment: string) => join(dir, "cdktf.out", "stacks", environment);
  const tf = (environment: string, args: string[]) => terraformAsync({ terraform: terraform.ok ? terraform.terraform : "terraform" }, stackDir(environment), args, { ...env, ...provider?.env });

  /**
   * Stands in for the ECS container agent and the ECS service scheduler, which moto does not run:
   * registers each InService instance of a cluster's groups as a container instance (with the
   * `ecs.ami-id` and `ecs.availability-zone` attributes the agent reports), starts a service's
   * tasks on them, moves them to the instances of a new image and deregisters the old instances
   * (what ECS does when a drained instance terminates).
   */
  const agent = {
    ecs: () => new ECSClient(clientConfig),
    async containerInstances(cluster: string) {
      const arns = (await this.ecs().send(new ListContainerInstancesCommand({ cluster }))).containerInstanceArns ?? [];
      if (arns.length === 0) return [];
      return (await this.ecs().send(new DescribeContainerInstancesCommand({ cluster, containerInstances: arns }))).containerInstances ?? [];
    },
    async join(cluster: string, imageId: string) {
      const groups = await new AutoScalingClient(clientConfig).send(new DescribeAutoScalingGroupsCommand({}));
      const registered = new Set((await this.containerInstances(cluster)).map((ci) => ci.ec2InstanceId));
      for (const group of groups.AutoScalingGroups ?? []) {
        if (!group.Tags?.some((t) => t.Value === cluster)) continue;
        for (const instance of group.Instances ?? []) {
          if (instance.LifecycleState !== "InService" || registered.has(instance.InstanceId)) continue;
          const document = JSON.stringify({ instanceId: instance.InstanceId, region: REGION, availabilityZone: instance.AvailabilityZone, imageId });
          await this.ecs().send(
            new RegisterContainerInstanceCommand({
              cluster,
              instanceIdentityDocument: document,
              attributes: [
                { name: "ecs.ami-id", value: imageId },
                { name: "ecs.availability-zone", value: instance.AvailabilityZone! },
              ],
            }),
          );
        }
      }
    },
    async runService(cluster: string, service: string, count: number) {
      const family = `${cluster}-${service}`;
      await this.ecs().send(new RegisterTaskDefinitionCommand({ family, containerDefinitions: [{ name: service, image: "public.ecr.aws/nginx/nginx:stable", memory: 128, essential: true }] }));
      await this.ecs().send(new CreateServiceCommand({ cluster, serviceName: service, taskDefinition: family, desiredCount: count, launchType: "EC2", placementStrategy: [{ type: "spread", field: "attribute:ecs.availability-zone" }] }));
      const instances = (await this.containerInstances(cluster)).filter((ci) => ci.status === "ACTIVE");
      await this.ecs().send(new StartTaskCommand({ cluster, taskDefinition: family, group: `service:${service}`, startedBy: "ecs-svc/stand-in", containerInstances: instances.slice(0, count).map((ci) => ci.containerInstanceArn!) }));
      await moto!.seed({ op: "service-steady", region: REGION, cluster, service });
    },
    /** The scheduler replacing a draining instance's tasks: started on `to`, stopped on `from`. */
    async drainTo(cluster: string, service: string, from: string, to: string) {
      // By desired status: moto moves a task's lastStatus along (RUNNING, DEACTIVATING, ... STOPPED)
      // each time it is described, whether or not it was stopped.
      const arns = (await this.ecs().send(new ListTasksCommand({ cluster, containerInstance: from, desiredStatus: "RUNNING" }))).taskArns ?? [];
      const tasks = arns.length ? ((await this.ecs().send(new DescribeTasksCommand({ cluster, tasks: arns }))).tasks ?? []) : [];
      const mine = tasks.filter((t) => t.containerInstanceArn === from);
      if (mine.length) await this.ecs().send(new StartTaskCommand({ cluster, taskDefinition: `${cluster}-${service}`, group: `service:${service}`, startedBy: "ecs-svc/stand-in", containerInstances: mine.map(() => to) }));
      for (const task of mine) await this.ecs().send(new StopTaskCommand({ cluster, task: task.taskArn!, reason: "Task stopped by the scheduler: its container instance is DRAINING (agent stand-in)" }));
    },
    async moveTasks(cluster: string, service: string, imageId: string) {
      const instances = await this.containerInstances(cluster);
      const image = (ci: (typeof instances)[number]) => ci.attributes?.find((a) => a.name === "ecs.ami-id")?.value;
      const fresh = instances.filter((ci) => image(ci) === imageId);
      const old = instances.filter((ci) => image(ci) !== imageId);
      const family = `${cluster}-${service}`;
      await this.ecs().send(new StartTaskCommand({ cluster, taskDefinition: family, group: `service:${service}`, startedBy: "ecs-svc/stand-in", containerInstances: fresh.map((ci) => ci.containerInstanceArn!) }));
      const running = (await this.ecs().send(new ListTasksCommand({ cluster }))).taskArns ?? [];
      const oldArns = new Set(old.map((ci) => ci.containerInstanceArn));
      const tasks = running.length ? ((await this.ecs().send(new DescribeTasksCommand({ cluster, tasks: running }))).tasks ?? []) : [];
      for (const task of tasks) if (oldArns.has(task.containerInstanceArn)) await this.ecs().send(new StopTaskCommand({ cluster, task: task.taskArn!, reason: "drained (agent stand-in)" }));
      for (const ci of old) await this.ecs().send(new DeregisterContainerInstanceCommand({ cluster, containerInstance: ci.containerInstanceArn!, force: true }));
    },
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "amiroll-wire-"));
    if (REAL) {
      env = { AWS_PROFILE: process.env.AWS_PROFILE!, AMIROLL_TF_PLUGIN_DIR: pluginDir, AWS_ENDPOINT_URL: "" };
      clientConfig = { region: REGION };
      vpcId = process.env.AMIROLL_E2E_VPC!;
      for (const pair of process.env.AMIROLL_E2E_SUBNETS!.split(",")) {
        const [id, availabilityZone] = pair.split(":");
        subnets.push({ id, availabilityZone });
      }
    } else {
      moto = await startMoto();
      env = motoEnv(moto.endpoint, dir);
      clientConfig = { region: REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS };
      // What only AWS has: the public ECS-optimized images and their parameter.
      await moto.seed({ op: "image", region: REGION, id: OLD.id, name: imageName(OLD.date), architecture: "arm64", created: OLD.created });
      await moto.seed({ op: "parameter", region: REGION, name: PARAMETER, value: parameterValue(OLD) });
      const s3 = await fetch(`${moto.endpoint}/${BUCKET}`, {
        method: "PUT",
        body: `<CreateBucketConfiguration><LocationConstraint>${REGION}</LocationConstraint></CreateBucketConfiguration>`,
      });
      if (!s3.ok) throw new Error(`moto: creating the state bucket: ${s3.status} ${await s3.text()}`);
    }
    if (!REAL) {
      const ec2 = new EC2Client(clientConfig);
      vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.80.0.0/16" }))).Vpc!.VpcId!;
      for (const [i, zone] of ["a", "b", "c"].entries()) {
        const subnet = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.80.${i}.0/24`, AvailabilityZone: `${REGION}${zone}` }));
        subnets.push({ id: subnet.Subnet!.SubnetId!, availabilityZone: subnet.Subnet!.AvailabilityZone! });
      }
    }
    const environment = (name: string, strategy: string, size: number) => ({
      region: REGION,
      backend: { bucket: BUCKET },
      vpcId,
      subnets,
      strategy,
      tags: { team: "platform", environment: name },
      clusters: { apps: { instanceType: "m7g.large", minSize: size, maxSize: size * 2, desiredCapacity: size } },
    });
    configPath = join(dir, "amiroll.json");
    pinsPath = join(dir, "amis.json");
    writeFileSync(
      configPath,
      JSON.stringify({ outDir: "cdktf.out", environments: { staging: environment("staging", "replace", 2), production: { ...environment("production", "blue-green", 3), promotesFrom: "staging" } } }, null, 2),
    );
    // Against a real account the pin is the parameter's image now (bump then has nothing to do).
    const real = REAL ? JSON.parse((await new SSMClient(clientConfig).send(new GetParameterCommand({ Name: PARAMETER }))).Parameter!.Value!) : undefined;
    const pin = real
      ? { imageId: real.image_id, imageName: real.image_name, ssmParameter: PARAMETER, resolvedAt: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") }
      : { imageId: OLD.id, imageName: imageName(OLD.date), ssmParameter: PARAMETER, resolvedAt: "2026-11-09T09:12:00Z" };
    writeFileSync(pinsPath, `${JSON.stringify({ staging: { apps: { current: pin } }, production: { apps: { current: pin } } }, null, 2)}\n`);
  }, 180_000);

  afterAll(async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
    await provider?.stop();
    await moto?.stop();
  });

  it("amiroll synth writes both stacks from the config moto's network is in", async () => {
    const r = await cli(["synth"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`synthesized staging -> ${join(stackDir("staging"), "cdk.tf.json")}`);
    const staging = JSON.parse(readFileSync(join(stackDir("staging"), "cdk.tf.json"), "utf8"));
    expect(staging.terraform.backend.s3).toMatchObject({ bucket: BUCKET, key: "amiroll/staging/terraform.tfstate", use_lockfile: true });
    expect(JSON.stringify(staging.resource.aws_autoscaling_group)).toContain(subnets[2].id);
    // One provider process for every terraform command of the file (test/support/terraform.ts),
    // in a stack's directory: the Lambda's zip is a path relative to it (the same in both stacks).
    if (!REAL) provider = await startSharedProvider(pluginDir, env, { cwd: stackDir("staging") });
  });

  (REAL ? it : it.skip)("against a real account (AMIROLL_E2E_REAL=1 only): terraform init -plugin-dir and a plan of staging (nothing applied)", async () => {
    const init = await tf("staging", ["init", "-input=false", `-plugin-dir=${pluginDir}`]);
    expect(init.output).toContain("Terraform has been successfully initialized");
    const plan = await tf("staging", ["plan", "-input=false", "-detailed-exitcode", "-out=real.tfplan"]);
    expect([0, 2]).toContain(plan.status);
  });

  motoOnly("terraform init -plugin-dir and apply create staging in moto, its state in the moto bucket", async () => {
    const init = await tf("staging", ["init", "-input=false", `-plugin-dir=${pluginDir}`]);
    expect(init.output).toContain("Terraform has been successfully initialized");
    const apply = await tf("staging", ["apply", "-input=false", "-auto-approve"]);
    if (apply.status !== 0) throw new Error(apply.output);
    expect(apply.output).toMatch(/Apply complete! Resources: \d+ added, 0 changed, 0 destroyed/);
    // The state is in the moto bucket (terraform reads it back through the S3 backend).
    const pulled = await tf("staging", ["state", "pull"]);
    expect(JSON.parse(jsonOf(pulled.output)).resources.map((r: { type: string }) => r.type)).toContain("aws_autoscaling_group");
  });

  motoOnly("the agent stand-in registers staging's instances and runs a service on them", async () => {
    await agent.join("staging-apps", OLD.id);
    await agent.runService("staging-apps", "api", 2);
    expect(await agent.containerInstances("staging-apps")).toHaveLength(2);
  });

  (REAL ? it : it.skip)("against a real account (AMIROLL_E2E_REAL=1 only): amiroll status in every format, and bump --dry-run with nothing to bump", async () => {
    const table = await cli(["status"]);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/^staging\s+apps\s+ami-\w+\s+\d+d\s+= pinned\s/m);
    const json = JSON.parse((await cli(["status", "-o", "json"])).stdout);
    expect(json.clusters.map((c: { environment: string }) => c.environment)).toEqual(["staging", "production"]);
    expect((await cli(["status", "-o", "prom"])).stdout).toContain('amiroll_pin_outdated{env="staging",cluster="apps"} 0\n');
    const bump = await cli(["bump", "--dry-run"]);
    expect(bump.status).toBe(0);
    expect(bump.stdout).toBe("");
  });

  motoOnly("amiroll status: table, JSON and Prometheus, read through the SDK from moto", async () => {
    const table = await cli(["status"]);
    expect(table.status).toBe(0);
    const [, staging, production] = table.stdout.split("\n");
    expect(staging).toMatch(new RegExp(`^staging\\s+apps\\s+${OLD.id}\\s+\\d+d\\s+= pinned\\s+2026-11-05\\s+1\\.98\\.0\\s+2 on ${OLD.id}\\s+0/2 0%`));
    expect(production).toMatch(/^production\s+apps\s+.*none\s+-/);
    expect(table.stdout).toContain("production/apps: ECS cluster production-apps not found: not deployed yet");
    const json = JSON.parse((await cli(["status", "-o", "json"])).stdout);
    expect(json.clusters[0]).toMatchObject({ environment: "staging", total: 2, outdated: 0, warnings: [], latest: { imageId: OLD.id, name: imageName(OLD.date), releasedAt: OLD.created, agentVersion: "1.98.0" } });
    const prom = (await cli(["status", "-o", "prom"])).stdout;
    expect(prom).toContain(`amiroll_instances{env="staging",cluster="apps",ami="${OLD.id}",outdated="false"} 2\n`);
    expect(prom).toContain('amiroll_pin_outdated{env="staging",cluster="apps"} 0\n');
  });

  motoOnly("a new image published: status shows it, bump pins it for staging", async () => {
    await moto!.seed({ op: "image", region: REGION, id: NEW.id, name: imageName(NEW.date), architecture: "arm64", created: NEW.created });
    await moto!.seed({ op: "parameter", region: REGION, name: PARAMETER, value: parameterValue(NEW) });
    const json = JSON.parse((await cli(["status", "--env", "staging", "-o", "json"])).stdout);
    expect(json.clusters[0]).toMatchObject({ outdated: 2, latest: { imageId: NEW.id, agentVersion: "1.99.1" }, warnings: [] });
    const bump = await cli(["bump", "--env", "staging"]);
    expect(bump.status).toBe(0);
    expect(bump.stdout).toContain(NEW.id);
    expect(JSON.parse(readFileSync(pinsPath, "utf8")).staging.apps.current).toMatchObject({ imageId: NEW.id, imageName: imageName(NEW.date), ssmParameter: PARAMETER });
    // Production promotes from staging: it waits until staging verified the image.
    expect(JSON.parse(readFileSync(pinsPath, "utf8")).production.apps.current.imageId).toBe(OLD.id);
  });

  motoOnly("amiroll plan (real terraform against moto): only the launch template, ASG and alarm, replaced create-before-destroy; guard agrees on its JSON", async () => {
    const planFile = join(dir, "staging.tfplan");
    const plan = await cli(["plan", "--env", "staging", "--out", planFile]);
    if (plan.status !== 0) throw new Error(`${plan.stdout}\n${plan.stderr}`);
    const shown = await tf("staging", ["show", "-json", planFile]);
    const changes = JSON.parse(jsonOf(shown.output)).resource_changes.filter((c: any) => !c.change.actions.includes("no-op") && !c.change.actions.includes("read"));
    expect(changes.map((c: any) => [c.type, c.change.actions]).sort()).toEqual([
      ["aws_autoscaling_group", ["create", "delete"]],
      ["aws_cloudwatch_metric_alarm", ["create", "delete"]],
      ["aws_launch_template", ["create", "delete"]],
    ]);
    const planJson = join(dir, "staging-plan.json");
    writeFileSync(planJson, jsonOf(shown.output));
    // guard is offline: it reads the plan file only (no --config).
    const guard = await amirollInProcess(["guard", "--plan-json", planJson, "-o", "json"], env);
    expect(guard.status).toBe(0);
    expect(JSON.parse(guard.stdout)).toMatchObject({ accepted: true, expect: "replace" });
  });

  motoOnly("amiroll apply rolls staging onto the new image (moto ignores the drain hook: the agent stand-in drains)", async () => {
    const apply = await cli(["apply", "--env", "staging", "--no-watch"]);
    if (apply.status !== 0) throw new Error(`${apply.stdout}\n${apply.stderr}`);
    const groups = await new AutoScalingClient(clientConfig).send(new DescribeAutoScalingGroupsCommand({}));
    expect(groups.AutoScalingGroups!.map((g) => g.AutoScalingGroupName)).toEqual([`staging-apps-${NEW.id}`]);
  });

  motoOnly("amiroll watch sees the tasks move to the new instances; rebalance --dry-run reads the spread", async () => {
    // What ECS and its agent do while terraform deletes the old group: the new instances
    // register, the scheduler starts the service's tasks on them, the old ones go.
    await agent.join("staging-apps", NEW.id);
    await agent.moveTasks("staging-apps", "api", NEW.id);
    const watch = await cli(["watch", "--env", "staging", "--timeout", "2m", "--stall-after", "1m"]);
    if (watch.status !== 0) throw new Error(`${watch.stdout}\n${watch.stderr}`);
    expect(watch.stdout).toMatch(/^watch of staging: done after \d+ polls/);
    const rebalance = await cli(["rebalance", "--env", "staging", "--dry-run"]);
    expect(rebalance.status).toBe(0);
    expect(rebalance.stdout).toContain("apps:");
    const status = JSON.parse((await cli(["status", "--env", "staging", "-o", "json"])).stdout);
    expect(status.clusters[0]).toMatchObject({ total: 2, outdated: 0, pinned: { imageId: NEW.id } });
  });

  motoOnly("the bundled drain-hook Lambda (synth's own asset) drains the terminating instance and completes its lifecycle action once its tasks are gone", async () => {
    // The zip synth wrote for staging, unpacked; run by Node as Lambda runs index.handler, with
    // the function's environment as the stack sets it (the queue URL resolved in moto).
    const stack = JSON.parse(readFileSync(join(stackDir("staging"), "cdk.tf.json"), "utf8"));
    const fn: any = Object.values(stack.resource.aws_lambda_function)[0];
    const zipPath = join(stackDir("staging"), fn.filename);
    const lambdaDir = mkdtempSync(join(tmpdir(), "amiroll-wire-lambda-"));
    writeFileSync(join(lambdaDir, "index.js"), unzipSync(readFileSync(zipPath))["index.js"]);
    const sqs = new SQSClient(clientConfig);
    const queueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: "staging-apps-drain-hook-recheck" }))).QueueUrl!;
    // The re-check interval is a deployment setting (DrainHook's recheckInterval, 30 s here): 1 s,
    // so that the test does not wait 30 s for each check. Nothing else is changed.
    const functionEnv: Record<string, string> = { ...fn.environment.variables, AMIROLL_RECHECK_QUEUE_URL: queueUrl, AMIROLL_RECHECK_SECONDS: "1" };
    const logs: string[] = [];
    // moto has no CompleteLifecycleAction or RecordLifecycleActionHeartbeat: the stand-in answers
    // them as Auto Scaling does (empty) and records them; everything else goes to moto.
    const lifecycle: { action: string; body: URLSearchParams }[] = [];
    const aws = await standIn(moto!.endpoint, (action, body) => {
      if (action !== "autoscaling:CompleteLifecycleAction" && action !== "autoscaling:RecordLifecycleActionHeartbeat") return undefined;
      lifecycle.push({ action, body: new URLSearchParams(body) });
      const operation = action.split(":")[1];
      return { status: 200, headers: { "content-type": "text/xml" }, body: `<${operation}Response xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><${operation}Result/><ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></${operation}Response>` };
    });
    servers.push(aws.server);
    const invoke = (event: unknown) =>
      new Promise<any>((resolve, reject) => {
        const run = `require(${JSON.stringify(join(lambdaDir, "index.js"))}).handler(${JSON.stringify(event)}, { getRemainingTimeInMillis: () => 60000 }).then((r) => console.log("RESULT " + JSON.stringify(r ?? null)), (e) => { console.error(e); process.exit(1); })`;
        // The Lambda runtime provides the SDK; here it is the repository's (NODE_PATH).
        const child = spawn(process.execPath, ["-e", run], {
          env: { ...process.env, ...env, ...functionEnv, AWS_ENDPOINT_URL: aws.url, AWS_REGION: REGION, NODE_PATH: join(__dirname, "..", "..", "node_modules") },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
        child.stderr.setEncoding("utf8").on("data", (c: string) => (out += c));
        child.on("close", (code) => {
          logs.push(out);
          const result = /^RESULT (.*)$/m.exec(out);
          if (code === 0 && result) resolve(JSON.parse(result[1]));
          else reject(new Error(`the handler exited ${code}:\n${out}`));
        });
      });
    /** What Lambda's SQS trigger does: a batch of the queue's messages, deleted when handled. */
    const deliver = async () => {
      const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 20 }));
      const messages = received.Messages ?? [];
      if (messages.length === 0) return undefined;
      const result = await invoke({ Records: messages.map((m) => ({ eventSource: "aws:sqs", messageId: m.MessageId, body: m.Body })) });
      // Lambda deletes what the batch handled; a reported failure comes back after the visibility timeout.
      const failed = new Set((result?.batchItemFailures ?? []).map((f: { itemIdentifier: string }) => f.itemIdentifier));
      for (const m of messages) if (!failed.has(m.MessageId)) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
      return result;
    };

    const instances = await agent.containerInstances("staging-apps");
    const [leaving, staying] = instances;
    expect(instances).toHaveLength(2);
    expect(leaving.runningTasksCount).toBeGreaterThan(0);
    const group = `staging-apps-${NEW.id}`;
    // Auto Scaling's event as EventBridge delivers it.
    const event = {
      "detail-type": "EC2 Instance-terminate Lifecycle Action",
      source: "aws.autoscaling",
      time: new Date().toISOString(),
      region: REGION,
      detail: { LifecycleActionToken: "3f2c1a9e-wire-token", AutoScalingGroupName: group, LifecycleHookName: functionEnv.AMIROLL_HOOK_NAME, EC2InstanceId: leaving.ec2InstanceId, LifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING" },
    };
    expect(await invoke(event)).toEqual({ kind: "queued" });
    await deliver();
    const statusOf = async () => Object.fromEntries((await agent.containerInstances("staging-apps")).map((ci) => [ci.ec2InstanceId, ci.status]));
    // The terminating instance's own container instance, not the first one ListContainerInstances gives.
    expect(await statusOf()).toEqual({ [leaving.ec2InstanceId!]: "DRAINING", [staying.ec2InstanceId!]: "ACTIVE" });
    expect(lifecycle.filter((l) => l.action === "autoscaling:CompleteLifecycleAction")).toEqual([]);

    // The service scheduler (the agent stand-in) replaces the task on the other instance.
    await agent.drainTo("staging-apps", "api", leaving.containerInstanceArn!, staying.containerInstanceArn!);
    for (let round = 0; round < 5 && !lifecycle.some((l) => l.action === "autoscaling:CompleteLifecycleAction"); round++) await deliver();
    const completed = lifecycle.filter((l) => l.action === "autoscaling:CompleteLifecycleAction").map((l) => Object.fromEntries(l.body));
    if (completed.length !== 1) throw new Error(`no CompleteLifecycleAction; the handler said:\n${logs.join("\n---\n")}`);
    expect(completed).toEqual([
      expect.objectContaining({ AutoScalingGroupName: group, LifecycleHookName: functionEnv.AMIROLL_HOOK_NAME, LifecycleActionToken: "3f2c1a9e-wire-token", InstanceId: leaving.ec2InstanceId, LifecycleActionResult: "CONTINUE" }),
    ]);
  });


  motoOnly("SSM going back to an older image: status warns in every format, bump refuses it and writes nothing", async () => {
    const older = { id: "ami-0e1a2b3c4d5e6f708", date: "20261001", created: "2026-10-01T06:00:00.000Z" };
    await moto!.seed({ op: "image", region: REGION, id: older.id, name: imageName(older.date), architecture: "arm64", created: older.created });
    await moto!.seed({ op: "parameter", region: REGION, name: PARAMETER, value: parameterValue(older) });
    const warning = `the newest image of ${PARAMETER}: ${older.id} (released 2026-10-01) is older than the pinned ${NEW.id} (released 2026-11-20): amiroll bump refuses it`;
    const table = await cli(["status", "--env", "staging"]);
    expect(table.stdout).toContain(`Warnings:\n  staging/apps: ${warning}\n`);
    expect(JSON.parse((await cli(["status", "--env", "staging", "-o", "json"])).stdout).clusters[0].warnings).toEqual([warning]);
    expect((await cli(["status", "--env", "staging", "-o", "prom"])).stdout).toContain('amiroll_warnings{env="staging",cluster="apps"} 1\n');
    const pins = readFileSync(pinsPath, "utf8");
    const bump = await cli(["bump", "--env", "staging"]);
    expect(bump.status).toBe(2);
    expect(bump.stderr).toContain(`amiroll: staging/apps: the newest image of ${PARAMETER}, ${older.id} (released 2026-10-01) is older than the pinned ${NEW.id}`);
    expect(bump.stdout).toBe("");
    expect(readFileSync(pinsPath, "utf8")).toBe(pins);
  });
});
