/**
 * The drain hook's ECS calls against moto (`python3 -m moto.server`, loopback only), an AWS
 * emulator that ignores ListContainerInstances' filter: it lists every container instance of the
 * cluster. The hook must still drain only the terminating instance's container instance, and let
 * an instance that never joined the cluster go (issue 18). Autoscaling and SQS are mocked (the
 * lifecycle action is not what is tested here). Skipped when moto is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { AutoScalingClient, CompleteLifecycleActionCommand } from "@aws-sdk/client-auto-scaling";
import { CreateClusterCommand, DescribeContainerInstancesCommand, ECSClient, ListContainerInstancesCommand, RegisterContainerInstanceCommand } from "@aws-sdk/client-ecs";
import { EC2Client, RunInstancesCommand } from "@aws-sdk/client-ec2";
import { SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { type LifecycleAction, checkDrains } from "../../constructs/drain-hook.lambda";

const hasMoto = spawnSync("python3", ["-c", "import moto.server"]).status === 0;
const REGION = "eu-west-1";
const CLUSTER = "moto-apps";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

(hasMoto ? describe : describe.skip)("drain hook against moto (a ListContainerInstances that ignores its filter)", () => {
  let moto: ChildProcess;
  let config: object;
  const ids: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    moto = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    // moto takes a few seconds of CPU to start: on a busy machine, many more.
    for (const deadline = Date.now() + 60_000; ; ) {
      try {
        await fetch(`http://127.0.0.1:${port}/moto-api/`);
        break;
      } catch {
        if (moto.exitCode !== null || Date.now() > deadline) throw new Error(`moto did not answer on 127.0.0.1:${port} within 60 s (exit code ${moto.exitCode})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    config = { region: REGION, endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: "moto", secretAccessKey: "moto" } };
    const ecs = new ECSClient(config);
    await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
    const run = await new EC2Client(config).send(new RunInstancesCommand({ ImageId: "ami-12c6146b", MinCount: 3, MaxCount: 3 }));
    ids.push(...run.Instances!.map((i) => i.InstanceId!));
    // The first two join the cluster; the third never does.
    for (const instanceId of ids.slice(0, 2)) {
      const document = JSON.stringify({ instanceId, region: REGION, availabilityZone: `${REGION}a` });
      await ecs.send(new RegisterContainerInstanceCommand({ cluster: CLUSTER, instanceIdentityDocument: document }));
    }
  }, 90_000);

  // Waits for moto (ours, by its pid) to be gone: a child still exiting keeps jest's worker alive.
  afterAll(async () => {
    if (!moto || moto.exitCode !== null || moto.signalCode !== null) return;
    const exited = new Promise((resolve) => moto!.once("exit", resolve));
    moto.kill();
    const stubborn = setTimeout(() => moto?.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(stubborn);
  });

  const action = (instanceId: string): LifecycleAction => ({
    autoScalingGroupName: `${CLUSTER}-ami-0123456789abcdef0`,
    lifecycleHookName: `${CLUSTER}-drain-hook`,
    lifecycleActionToken: `token-${instanceId}`,
    instanceId,
    startedAt: new Date().toISOString(),
    checks: 0,
  });
  const check = async (instanceId: string) => {
    const autoScaling = new AutoScalingClient({ region: REGION });
    const lifecycle = mockClient(autoScaling);
    lifecycle.on(CompleteLifecycleActionCommand).resolves({});
    const sqs = new SQSClient({ region: REGION });
    mockClient(sqs);
    const settings = { cluster: CLUSTER, hookName: `${CLUSTER}-drain-hook`, recheckQueueUrl: "https://sqs.example/q", recheckSeconds: 30, maxDrainSeconds: 3600 };
    const [outcome] = await checkDrains([action(instanceId)], { clients: { ecs: new ECSClient(config), autoScaling, sqs }, settings, log: () => {} });
    return { outcome, completed: lifecycle.commandCalls(CompleteLifecycleActionCommand).map((c) => c.args[0].input.InstanceId) };
  };
  const statuses = async () => {
    const ecs = new ECSClient(config);
    const arns = (await ecs.send(new ListContainerInstancesCommand({ cluster: CLUSTER }))).containerInstanceArns!;
    const described = await ecs.send(new DescribeContainerInstancesCommand({ cluster: CLUSTER, containerInstances: arns }));
    return Object.fromEntries(described.containerInstances!.map((ci) => [ci.ec2InstanceId!, ci.status]));
  };

  it("moto lists every container instance whatever the filter (what the hook must not trust)", async () => {
    const listed = await new ECSClient(config).send(new ListContainerInstancesCommand({ cluster: CLUSTER, filter: `ec2InstanceId == ${ids[1]}` }));
    expect(listed.containerInstanceArns).toHaveLength(2);
  });

  it("an instance that never joined the cluster goes at once, and no other instance is drained", async () => {
    await expect(check(ids[2])).resolves.toEqual({ outcome: { kind: "completed", reason: "not-registered" }, completed: [ids[2]] });
    expect(await statuses()).toEqual({ [ids[0]]: "ACTIVE", [ids[1]]: "ACTIVE" });
  });

  it("drains the terminating instance's own container instance, not the first one listed", async () => {
    const { outcome } = await check(ids[1]);
    expect(outcome).toEqual({ kind: "completed", reason: "drained" }); // no tasks on it
    expect(await statuses()).toEqual({ [ids[0]]: "ACTIVE", [ids[1]]: "DRAINING" });
  });
});
