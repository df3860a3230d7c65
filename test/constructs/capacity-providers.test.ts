import { EcsCapacityProvider, EcsClusterCapacityProviders } from "../../constructs/aws";
import { PropsError } from "../../constructs/errors";
import { loadEnvironments } from "../../scripts/config/environments";
import "../support/cdktf-matchers";
import { allOf, onlyOne, synthCluster } from "../support/synth";

const AMI_A = "ami-0aaaaaaaaaaaaaaaa";
const AMI_B = "ami-0bbbbbbbbbbbbbbbb";
const providers = { strategy: "blue-green" as const, capacityProviders: true };

describe("EcsCluster capacityProviders", () => {
  it("gives each generation's group a capacity provider with managed scaling, termination protection and draining", () => {
    const json = synthCluster(providers);
    expect(json).toHaveResourceWithProperties(EcsCapacityProvider, {
      name: `test-apps-${AMI_A}`,
      auto_scaling_group_provider: {
        auto_scaling_group_arn: expect.stringMatching(/^\$\{aws_autoscaling_group\.apps_generation_ami-0aaaaaaaaaaaaaaaa_asg_[0-9A-F]+\.arn\}$/),
        managed_scaling: { status: "ENABLED", target_capacity: 100 },
        managed_termination_protection: "ENABLED",
        managed_draining: "ENABLED",
      },
      lifecycle: { create_before_destroy: true },
    });
    const asg = onlyOne(json, "aws_autoscaling_group");
    expect(asg.protect_from_scale_in).toBe(true);
    expect(asg.tag).toContainEqual({ key: "AmazonECSManaged", value: "true", propagate_at_launch: true });
  });

  it("names the generation in service as the cluster's only provider and its default strategy", () => {
    const json = synthCluster(providers);
    const set = onlyOne(json, "aws_ecs_cluster_capacity_providers");
    expect(set.cluster_name).toMatch(/^\$\{aws_ecs_cluster\.apps_cluster_[0-9A-F]+\.name\}$/);
    expect(set.capacity_providers).toEqual([expect.stringMatching(/^\$\{aws_ecs_capacity_provider\.apps_generation_ami-0aaaaaaaaaaaaaaaa_capacity_provider_[0-9A-F]+\.name\}$/)]);
    expect(set.default_capacity_provider_strategy).toEqual([{ capacity_provider: set.capacity_providers[0], weight: 1, base: 0 }]);
  });

  it("mid blue-green roll: both providers in the set, the new one the default", () => {
    const json = synthCluster({ ...providers, amis: { current: { imageId: AMI_B }, retiring: { imageId: AMI_A } } });
    expect(allOf(json, "aws_ecs_capacity_provider").map((p) => p.name).sort()).toEqual([`test-apps-${AMI_A}`, `test-apps-${AMI_B}`]);
    const set = onlyOne(json, "aws_ecs_cluster_capacity_providers");
    expect(set.capacity_providers).toHaveLength(2);
    expect(set.default_capacity_provider_strategy).toEqual([{ capacity_provider: expect.stringContaining(`generation_${AMI_B}_capacity_provider`), weight: 1, base: 0 }]);
    expect(json).toHaveResourceWithProperties(EcsClusterCapacityProviders, {});
  });

  it("leaves out the drain hook by default (managed draining drains), and keeps it when asked", () => {
    const json = synthCluster(providers);
    expect(allOf(json, "aws_lambda_function")).toHaveLength(0);
    expect(onlyOne(json, "aws_autoscaling_group").initial_lifecycle_hook).toBeUndefined();
    const withHook = synthCluster({ ...providers, drainHook: {} });
    expect(allOf(withHook, "aws_lambda_function")).toHaveLength(1);
    expect(onlyOne(withHook, "aws_autoscaling_group").initial_lifecycle_hook).toHaveLength(1);
  });

  it("adds nothing without capacityProviders", () => {
    const json = synthCluster({ strategy: "blue-green" });
    expect(allOf(json, "aws_ecs_capacity_provider")).toHaveLength(0);
    expect(allOf(json, "aws_ecs_cluster_capacity_providers")).toHaveLength(0);
    const asg = onlyOne(json, "aws_autoscaling_group");
    expect(asg.protect_from_scale_in).toBeUndefined();
    expect(asg.tag.map((t: { key: string }) => t.key)).not.toContain("AmazonECSManaged");
  });

  it.each([
    [{ capacityProviders: true }, /capacityProviders: only the "blue-green" strategy.*strategy is "replace"/],
    [{ capacityProviders: true, strategy: "refresh" as const }, /capacityProviders: only the "blue-green" strategy.*strategy is "refresh"/],
    [{ ...providers, clusterName: "ecs-apps" }, /capacityProviders: .*"aws", "ecs" or "fargate" \(clusterName ecs-apps\)/],
    [{ ...providers, capacityProviders: "yes" as unknown as boolean }, /capacityProviders: must be true or false/],
  ])("refuses %j at synth, naming the prop", (props, message) => {
    expect(() => synthCluster(props)).toThrow(PropsError);
    expect(() => synthCluster(props)).toThrow(message);
  });
});

describe("the capacityProviders config field", () => {
  const environment = (cluster: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    staging: {
      region: "eu-west-1",
      backend: { bucket: "example-bucket" },
      vpcId: "vpc-0123456789abcdef0",
      subnets: [
        { id: "subnet-0000000000000000a", availabilityZone: "eu-west-1a" },
        { id: "subnet-0000000000000000b", availabilityZone: "eu-west-1b" },
      ],
      strategy: "blue-green",
      clusters: { apps: { instanceType: "m7g.large", minSize: 2, maxSize: 4, ...cluster } },
      ...extra,
    },
  });

  it("loads true onto the cluster, and leaves it out when absent or false", () => {
    expect(loadEnvironments(environment({ capacityProviders: true }), "amiroll.json")[0].clusters[0].capacityProviders).toBe(true);
    expect(loadEnvironments(environment({}), "amiroll.json")[0].clusters[0]).not.toHaveProperty("capacityProviders");
    expect(loadEnvironments(environment({ capacityProviders: false }), "amiroll.json")[0].clusters[0]).not.toHaveProperty("capacityProviders");
  });

  it.each([
    [{ capacityProviders: "yes" }, {}, /environments\.staging\.clusters\.apps\.capacityProviders: expected true or false/],
    [{ capacityProviders: true, strategy: "replace" }, {}, /clusters\.apps\.capacityProviders: only the "blue-green" strategy .*"replace"/],
  ])("refuses %j, naming the field", (cluster, extra, message) => {
    expect(() => loadEnvironments(environment(cluster, extra), "amiroll.json", "environments")).toThrow(message);
  });
});
