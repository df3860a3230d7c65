import { Testing } from "cdktf";
import type { ClusterAmis } from "../../constructs/ami";
import { CLUSTERS_OUTPUT } from "../../constructs/environment-stack";
import { EnvironmentStack } from "../../constructs/environment-stack";
import { type Pins, readPins } from "../../scripts/config/pins";
import { REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

const environments = loadEnvironments();
const repoPins = readPins(REPO_PINS_PATH, environments);

const PIN_A = { imageId: "ami-0aaaaaaaaaaaaaaaa", imageName: "al2023-ami-ecs-hvm-2023.0.20261001-kernel-6.1-arm64" };
const PIN_B = { imageId: "ami-0bbbbbbbbbbbbbbbb", imageName: "al2023-ami-ecs-hvm-2023.0.20261105-kernel-6.1-arm64" };

/** Synthesizes both stacks with the given pins: stack name -> parsed Terraform JSON. */
function synthAll(pins: Pins): Record<string, any> {
  const app = Testing.app();
  return Object.fromEntries(environments.map((environment) => new EnvironmentStack(app, { environment, pins: pins[environment.name] })).map((s) => [s.node.id, JSON.parse(Testing.synth(s))]));
}

function pinsOf(staging: ClusterAmis, production: ClusterAmis): Pins {
  return { staging: { apps: staging }, production: { apps: production } };
}

describe("EnvironmentStack", () => {
  const stacks = synthAll(repoPins);

  it("keeps each environment's state in its own encrypted, lock-filed S3 key", () => {
    expect(stacks.staging.terraform.backend.s3).toEqual({
      bucket: "example-amiroll-tfstate",
      key: "amiroll/staging/terraform.tfstate",
      region: "eu-west-1",
      encrypt: true,
      use_lockfile: true,
    });
    expect(stacks.production.terraform.backend.s3.key).toBe("amiroll/production/terraform.tfstate");
  });

  it("configures the AWS provider with the region and default tags, pinned to 5.100.0", () => {
    expect(stacks.staging.provider.aws[0]).toMatchObject({ region: "eu-west-1", default_tags: [{ tags: { "managed-by": "amiroll" } }] });
    expect(stacks.staging.terraform.required_providers.aws.version).toBe("5.100.0");
  });

  it("tags instances with the environment", () => {
    const lt = Object.values(stacks.production.resource.aws_launch_template)[0] as any;
    expect(lt.tag_specifications[0].tags).toMatchObject({ "amiroll:environment": "production", team: "platform" });
  });

  it("puts the drain hook on every group of both stacks, each cluster with its own Lambda", () => {
    const rolling = synthAll(pinsOf({ current: PIN_B }, { current: PIN_B, retiring: PIN_A }));
    for (const stack of [stacks.staging, stacks.production, rolling.production]) {
      const groups = Object.values(stack.resource.aws_autoscaling_group) as any[];
      const [fn] = Object.values(stack.resource.aws_lambda_function) as any[];
      for (const group of groups) {
        expect(group.initial_lifecycle_hook).toEqual([expect.objectContaining({ lifecycle_transition: "autoscaling:EC2_INSTANCE_TERMINATING", name: fn.environment.variables.AMIROLL_HOOK_NAME })]);
      }
    }
    expect(Object.keys(rolling.production.resource.aws_autoscaling_group)).toHaveLength(2);
    expect((Object.values(stacks.production.resource.aws_lambda_function) as any[]).map((f) => f.function_name)).toEqual(["production-apps-drain-hook"]);
  });

  it("outputs, per cluster, the ECS cluster and each generation's group and AMI for the driver", () => {
    const value = stacks.production.output[CLUSTERS_OUTPUT].value;
    expect(value.apps).toMatchObject({
      cluster_name: expect.stringMatching(/^\$\{aws_ecs_cluster\.[^}]+\.name\}$/),
      cluster_arn: expect.stringMatching(/^\$\{aws_ecs_cluster\.[^}]+\.arn\}$/),
      strategy: "blue-green",
      generations: [{ role: "current", image_id: repoPins.production.apps.current.imageId, asg_name: expect.stringContaining("aws_autoscaling_group.") }],
    });
  });
});

describe("bumping an AMI pin", () => {
  const before = synthAll(pinsOf({ current: PIN_A }, { current: PIN_A }));
  const stagingBumped = synthAll(pinsOf({ current: PIN_B }, { current: PIN_A }));

  it("changes only the staging stack", () => {
    expect(stagingBumped.production).toEqual(before.production);
    expect(stagingBumped.staging).not.toEqual(before.staging);
  });

  it("replace: the launch template takes the new image and the group keeps its address under a new name", () => {
    const ltBefore = Object.values(before.staging.resource.aws_launch_template) as any[];
    const ltAfter = Object.values(stagingBumped.staging.resource.aws_launch_template) as any[];
    expect(ltBefore.map((lt) => lt.image_id)).toEqual([PIN_A.imageId]);
    expect(ltAfter.map((lt) => lt.image_id)).toEqual([PIN_B.imageId]);

    const asgBefore = before.staging.resource.aws_autoscaling_group;
    const asgAfter = stagingBumped.staging.resource.aws_autoscaling_group;
    expect(Object.keys(asgAfter)).toEqual(Object.keys(asgBefore));
    const address = Object.keys(asgBefore)[0];
    expect(asgBefore[address].name).toBe(`staging-apps-${PIN_A.imageId}`);
    expect(asgAfter[address].name).toBe(`staging-apps-${PIN_B.imageId}`);
    expect(asgAfter[address].lifecycle.create_before_destroy).toBe(true);
  });

  it("replace: nothing but the capacity (launch template, group, alarm) changes", () => {
    const capacity = new Set(["aws_launch_template", "aws_autoscaling_group", "aws_cloudwatch_metric_alarm"]);
    for (const type of Object.keys(before.staging.resource)) {
      if (!capacity.has(type)) expect([type, stagingBumped.staging.resource[type]]).toEqual([type, before.staging.resource[type]]);
    }
  });

  it("blue-green: a retiring pin yields two generations, the old one untouched (the plan only creates)", () => {
    const rolling = synthAll(pinsOf({ current: PIN_B }, { current: PIN_B, retiring: PIN_A }));
    const asgs = rolling.production.resource.aws_autoscaling_group;
    expect(Object.values(asgs).map((a: any) => a.name).sort()).toEqual([`production-apps-${PIN_A.imageId}`, `production-apps-${PIN_B.imageId}`]);
    for (const type of Object.keys(before.production.resource)) {
      for (const [address, body] of Object.entries(before.production.resource[type])) {
        expect([type, address, rolling.production.resource[type][address]]).toEqual([type, address, body]);
      }
    }
    expect(rolling.production.output[CLUSTERS_OUTPUT].value.apps.generations.map((g: any) => [g.role, g.image_id])).toEqual([
      ["current", PIN_B.imageId],
      ["retiring", PIN_A.imageId],
    ]);
  });

  it("blue-green: dropping the retiring pin removes exactly the old generation (the plan only deletes)", () => {
    const rolling = synthAll(pinsOf({ current: PIN_B }, { current: PIN_B, retiring: PIN_A }));
    const retired = synthAll(pinsOf({ current: PIN_B }, { current: PIN_B }));
    for (const type of Object.keys(rolling.production.resource)) {
      for (const [address, body] of Object.entries(retired.production.resource[type])) {
        expect([type, address, body]).toEqual([type, address, rolling.production.resource[type][address]]);
      }
      const gone = Object.keys(rolling.production.resource[type]).filter((a) => !(a in retired.production.resource[type]));
      expect(gone.every((a) => a.includes(PIN_A.imageId))).toBe(true);
    }
    expect(Object.keys(retired.production.resource.aws_autoscaling_group)).toHaveLength(1);
  });
});
