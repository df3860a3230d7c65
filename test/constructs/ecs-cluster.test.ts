import { TerraformStack, Testing } from "cdktf";
import {
  AutoscalingGroup,
  CloudwatchMetricAlarm,
  DataAwsSsmParameter,
  EcsClusterResource,
  IamRole,
  LaunchTemplate,
  SecurityGroup,
  VpcSecurityGroupEgressRule,
  VpcSecurityGroupIngressRule,
} from "../../constructs/aws";
import { EcsCluster } from "../../constructs/ecs-cluster";
import { PropsError } from "../../constructs/errors";
import "../support/cdktf-matchers";
import { BASE_PROPS, allOf, onlyOne, resources, synthCluster } from "../support/synth";

const AMI_A = "ami-0aaaaaaaaaaaaaaaa";
const AMI_B = "ami-0bbbbbbbbbbbbbbbb";

describe("EcsCluster", () => {
  const json = synthCluster();

  it("creates the ECS cluster with Container Insights on by default", () => {
    expect(json).toHaveResourceWithProperties(EcsClusterResource, {
      name: "test-apps",
      setting: [{ name: "containerInsights", value: "enabled" }],
    });
    expect(synthCluster({ containerInsights: false })).toHaveResourceWithProperties(EcsClusterResource, {
      setting: [{ name: "containerInsights", value: "disabled" }],
    });
  });

  it("gives instances a role EC2 can assume with only the ECS and Session Manager managed policies", () => {
    const role = allOf(json, "aws_iam_role").find((r) => r.name === "test-apps-ecs-instance")!;
    expect(JSON.parse(role.assume_role_policy)).toEqual({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
    });
    expect(json).toHaveResourceWithProperties(IamRole, { name: "test-apps-ecs-instance" });
    const policies = allOf(json, "aws_iam_role_policy_attachment").map((a) => a.policy_arn.replace(/^arn:\$\{[^}]+\}:/, "arn:*:"));
    expect(policies.sort()).toEqual([
      "arn:*:iam::aws:policy/AmazonSSMManagedInstanceCore",
      "arn:*:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
    ]);
    // The only inline policy is the drain hook's, on its own role.
    expect(allOf(json, "aws_iam_role_policy").map((p) => p.role)).toEqual([expect.stringMatching(/^\$\{aws_iam_role\.apps_drain_hook_role_/)]);
    expect(onlyOne(json, "aws_iam_instance_profile").role).toMatch(/^\$\{aws_iam_role\.apps_instance_role_/);
  });

  it("has a security group with no ingress unless given, and open egress", () => {
    expect(json).toHaveResourceWithProperties(SecurityGroup, { vpc_id: "vpc-0123456789abcdef0" });
    expect(allOf(json, "aws_vpc_security_group_ingress_rule")).toHaveLength(0);
    expect(json).toHaveResourceWithProperties(VpcSecurityGroupEgressRule, { ip_protocol: "-1", cidr_ipv4: "0.0.0.0/0" });
    expect(json).toHaveResourceWithProperties(VpcSecurityGroupEgressRule, { ip_protocol: "-1", cidr_ipv6: "::/0" });

    const withIngress = synthCluster({
      ingress: [{ description: "ALB to dynamic ports", fromPort: 32768, toPort: 65535, sourceSecurityGroupId: "sg-0123456789abcdef0" }],
    });
    expect(withIngress).toHaveResourceWithProperties(VpcSecurityGroupIngressRule, {
      from_port: 32768,
      to_port: 65535,
      ip_protocol: "tcp",
      referenced_security_group_id: "sg-0123456789abcdef0",
    });
  });

  it("writes user data that joins the cluster with a container stop timeout", () => {
    const lt = onlyOne(json, "aws_launch_template");
    const script = decodeUserData(lt.user_data);
    expect(script).toMatch(/^#!\/bin\/bash/);
    expect(script).toContain("ECS_CLUSTER=test-apps\n");
    expect(script).toContain("ECS_CONTAINER_STOP_TIMEOUT=2m\n");
    const custom = onlyOne(synthCluster({ containerStopTimeout: "90s", ecsConfig: { ECS_ENABLE_TASK_IAM_ROLE: "true" } }), "aws_launch_template");
    expect(decodeUserData(custom.user_data)).toContain("ECS_CONTAINER_STOP_TIMEOUT=90s\nECS_ENABLE_TASK_IAM_ROLE=true\n");
  });

  it("launches from the pinned image with IMDSv2 required, an encrypted gp3 root and detailed monitoring", () => {
    expect(json).toHaveResourceWithProperties(LaunchTemplate, {
      image_id: AMI_A,
      instance_type: "m7g.large",
      metadata_options: { http_endpoint: "enabled", http_tokens: "required", http_put_response_hop_limit: 1 },
      block_device_mappings: [
        { device_name: "/dev/xvda", ebs: { encrypted: "true", volume_type: "gp3", volume_size: 30, delete_on_termination: "true" } },
      ],
      monitoring: { enabled: true },
      lifecycle: { create_before_destroy: true },
    });
    expect(synthCluster({ metadataHopLimit: 2 })).toHaveResourceWithProperties(LaunchTemplate, {
      metadata_options: { http_endpoint: "enabled", http_tokens: "required", http_put_response_hop_limit: 2 },
    });
  });

  it("tags instances and volumes with the cluster, generation and AMI", () => {
    const lt = onlyOne(synthCluster({ tags: { team: "platform" } }), "aws_launch_template");
    const expected = {
      Name: `test-apps-${AMI_A}`,
      team: "platform",
      "amiroll:cluster": "test-apps",
      "amiroll:generation": `test-apps-${AMI_A}`,
      "amiroll:ami": AMI_A,
    };
    expect(lt.tag_specifications).toEqual([
      { resource_type: "instance", tags: expected },
      { resource_type: "volume", tags: expected },
    ]);
    const asg = onlyOne(synthCluster({ tags: { team: "platform" } }), "aws_autoscaling_group");
    expect(asg.tag).toEqual(
      Object.entries(expected).map(([key, value]) => ({ key, value, propagate_at_launch: true })),
    );
  });

  it("runs an Auto Scaling group named after its AMI over every subnet, created before the old one goes", () => {
    expect(json).toHaveResourceWithProperties(AutoscalingGroup, {
      name: `test-apps-${AMI_A}`,
      min_size: 2,
      max_size: 4,
      desired_capacity: 2,
      vpc_zone_identifier: ["subnet-0000000000000000a", "subnet-0000000000000000b"],
      health_check_grace_period: 300,
      wait_for_capacity_timeout: "10m",
      lifecycle: { create_before_destroy: true, ignore_changes: ["desired_capacity"] },
    });
    expect(synthCluster({ healthCheckGracePeriodSeconds: 120, waitForCapacityTimeout: "15m", desiredCapacity: 3 })).toHaveResourceWithProperties(
      AutoscalingGroup,
      { health_check_grace_period: 120, wait_for_capacity_timeout: "15m", desired_capacity: 3 },
    );
  });

  it("alarms when the group has fewer InService instances than its minimum", () => {
    expect(json).toHaveResourceWithProperties(CloudwatchMetricAlarm, {
      alarm_name: `test-apps-${AMI_A}-low-instances`,
      namespace: "AWS/AutoScaling",
      metric_name: "GroupInServiceInstances",
      comparison_operator: "LessThanThreshold",
      threshold: 2,
    });
    expect(onlyOne(json, "aws_autoscaling_group").enabled_metrics).toContain("GroupInServiceInstances");
  });

  describe("strategies", () => {
    it("replace: one generation at a stable address, whatever the AMI", () => {
      const a = Testing.synthScope((s) => void new EcsCluster(s, "apps", BASE_PROPS));
      const b = Testing.synthScope((s) => void new EcsCluster(s, "apps", { ...BASE_PROPS, amis: { current: { imageId: AMI_B } } }));
      expect(Object.keys(JSON.parse(a).resource.aws_autoscaling_group)).toEqual(Object.keys(JSON.parse(b).resource.aws_autoscaling_group));
      expect(onlyOne(b, "aws_autoscaling_group").name).toBe(`test-apps-${AMI_B}`);
    });

    it("blue-green: current and retiring give two generations side by side, each at an address keyed by its AMI", () => {
      const bg = synthCluster({ strategy: "blue-green", amis: { current: { imageId: AMI_B }, retiring: { imageId: AMI_A } } });
      const asgs = JSON.parse(bg).resource.aws_autoscaling_group;
      expect(Object.keys(asgs)).toHaveLength(2);
      expect(Object.keys(asgs).some((k) => k.includes(AMI_A))).toBe(true);
      expect(Object.keys(asgs).some((k) => k.includes(AMI_B))).toBe(true);
      expect(allOf(bg, "aws_launch_template").map((lt) => lt.image_id).sort()).toEqual([AMI_A, AMI_B]);
      expect(allOf(bg, "aws_cloudwatch_metric_alarm")).toHaveLength(2);
    });

    it("replace with a retiring pin: the stable group keeps the old image, a one-instance canary group of the new one stands beside it", () => {
      const plain = JSON.parse(Testing.synthScope((s) => void new EcsCluster(s, "apps", { ...BASE_PROPS, amis: { current: { imageId: AMI_A } } }))).resource.aws_autoscaling_group;
      const proving = synthCluster({ amis: { current: { imageId: AMI_B }, retiring: { imageId: AMI_A } } });
      const asgs = JSON.parse(proving).resource.aws_autoscaling_group as Record<string, { name: string; min_size: number; max_size: number; desired_capacity: number }>;
      // The stable group is the same resource as before the roll (same address, same name): nothing of it changes.
      const stable = Object.keys(plain)[0];
      expect(asgs[stable].name).toBe(`test-apps-${AMI_A}`);
      const canary = Object.entries(asgs).find(([k]) => k !== stable)!;
      expect(canary[0]).toContain(`canary_${AMI_B}`);
      expect(canary[1]).toEqual(expect.objectContaining({ name: `test-apps-${AMI_B}-canary`, min_size: 1, max_size: 1, desired_capacity: 1 }));
      expect(allOf(proving, "aws_launch_template").map((lt) => lt.image_id).sort()).toEqual([AMI_A, AMI_B]);
    });

    it("blue-green with a canary slice: the unverified new generation beside a retiring one starts at the slice's size; the alarm's threshold never changes with the pins", () => {
      const sized = (amis: object) => {
        const json = synthCluster({ strategy: "blue-green", minSize: 3, maxSize: 6, desiredCapacity: 4, canaryInstances: 1, amis } as never);
        const asgs = Object.values(JSON.parse(json).resource.aws_autoscaling_group as Record<string, { name: string; min_size: number; desired_capacity: number }>);
        const alarms = allOf(json, "aws_cloudwatch_metric_alarm").map((a) => a.threshold);
        return { groups: Object.fromEntries(asgs.map((g) => [g.name.slice(-4), [g.min_size, g.desired_capacity]])), alarms };
      };
      // Mid-roll, before verification: the new generation at 1 (min 1), the old at its size.
      expect(sized({ current: { imageId: AMI_B }, retiring: { imageId: AMI_A } })).toEqual({ groups: { bbbb: [1, 1], aaaa: [3, 4] }, alarms: [1, 1] });
      // Verified (the retire): full size; a first deploy too. The threshold stays min(minSize, slice).
      expect(sized({ current: { imageId: AMI_B, verifiedAt: "2026-11-29T05:00:00Z" } })).toEqual({ groups: { bbbb: [3, 4] }, alarms: [1] });
      expect(sized({ current: { imageId: AMI_B } })).toEqual({ groups: { bbbb: [3, 4] }, alarms: [1] });
      // Without a slice: today's sizes and threshold.
      const plain = synthCluster({ strategy: "blue-green", minSize: 3, maxSize: 6, desiredCapacity: 4, amis: { current: { imageId: AMI_B }, retiring: { imageId: AMI_A } } });
      expect(allOf(plain, "aws_autoscaling_group").map((g) => [g.min_size, g.desired_capacity])).toEqual([[3, 4], [3, 4]]);
      expect(allOf(plain, "aws_cloudwatch_metric_alarm").map((a) => a.threshold)).toEqual([3, 3]);
    });

    it("refresh: one group whose name never changes; a bump changes only the launch template's image and the group's template version", () => {
      const refresh = { strategy: "refresh" as const, refresh: { batch: 2, minHealthyPercent: 50 } };
      const a = resources(synthCluster({ ...refresh, amis: { current: { imageId: AMI_A } } }));
      const b = resources(synthCluster({ ...refresh, amis: { current: { imageId: AMI_B } } }));
      const asgA = Object.values(a.aws_autoscaling_group);
      expect(asgA).toHaveLength(1);
      expect(asgA[0].name).toBe("test-apps-ami-refresh");
      // The group refers to the template's latest version: a new image is a new version, and the group's update.
      expect(asgA[0].launch_template.version).toMatch(/^\$\{aws_launch_template\.[^}]+\.latest_version\}$/);
      // Every difference, leaf by leaf: only the image, in the launch template (its id, description and tags).
      const differences: string[] = [];
      const walk = (x: unknown, y: unknown, path: string) => {
        if (typeof x === "object" && x !== null && typeof y === "object" && y !== null) {
          for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk((x as any)[k], (y as any)[k], `${path}.${k}`);
        } else if (JSON.stringify(x) !== JSON.stringify(y)) differences.push(`${path}: ${JSON.stringify(x)} -> ${JSON.stringify(y)}`);
      };
      walk(a, b, "");
      expect(differences.length).toBeGreaterThan(0);
      for (const d of differences) expect(d).toMatch(new RegExp(`^\\.aws_launch_template\\.[^.]+\\..*${AMI_A}.* -> .*${AMI_B}`));
      expect(differences.some((d) => /\.image_id: /.test(d))).toBe(true);
      // The group and its alarm do not name the image: they do not change.
      expect(JSON.stringify(a.aws_autoscaling_group)).not.toContain(AMI_A);
      expect(JSON.stringify(a.aws_cloudwatch_metric_alarm)).not.toContain(AMI_A);
      // A retiring pin (kept by the rollout for a rollback) changes nothing: the group runs current.
      const rolling = resources(synthCluster({ ...refresh, amis: { current: { imageId: AMI_B }, retiring: { imageId: AMI_A } } }));
      expect(rolling).toEqual(b);
      // Its instances still carry the image tag, from the launch template.
      const lt = Object.values(a.aws_launch_template)[0];
      expect(lt.tag_specifications[0].tags["amiroll:ami"]).toBe(AMI_A);
    });

    it("followSsmParameter reads the image_id leaf at plan time, in clear, with a warning", () => {
      const latest = synthCluster({ amis: undefined, followSsmParameter: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended" });
      expect(latest).toHaveDataSourceWithProperties(DataAwsSsmParameter, {
        name: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id",
      });
      expect(onlyOne(latest, "aws_launch_template").image_id).toMatch(/^\$\{data\.aws_ssm_parameter\.[^}]+\.insecure_value\}$/);
      const stack = new TerraformStack(Testing.app(), "s");
      const cluster = new EcsCluster(stack, "apps", { ...BASE_PROPS, amis: undefined, followSsmParameter: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended" });
      expect(cluster.node.metadata.map((m) => `${m.type} ${m.data}`).join("\n")).toMatch(/warn.*any plan after AWS publishes a new image rolls the cluster/);
    });
  });

  describe("refuses impossible props at synth, naming the prop", () => {
    it.each([
      ["clusterName", { clusterName: "has spaces" }],
      ["vpcId", { vpcId: "vpc-xyz" }],
      ["instanceType", { instanceType: "large" }],
      ["subnets", { subnets: [] }],
      ["subnets[1].subnetId", { subnets: [BASE_PROPS.subnets[0], { subnetId: "subnet-nope" }] }],
      ["subnets", { subnets: [BASE_PROPS.subnets[0]] }],
      ["subnets", { subnets: [BASE_PROPS.subnets[0], { subnetId: "subnet-0000000000000000c", availabilityZone: "eu-west-1a" }] }],
      ["subnets", { subnets: [BASE_PROPS.subnets[0], BASE_PROPS.subnets[0]] }],
      ["minSize", { minSize: 5, maxSize: 4 }],
      ["desiredCapacity", { desiredCapacity: 9 }],
      ["maxSize", { maxSize: 2.5 }],
      ["strategy", { strategy: "rolling" as never }],
      ["amis", { amis: undefined }],
      ["amis.current.imageId", { amis: { current: { imageId: "ami-XYZ" } } }],
      ["canaryInstances", { canaryInstances: 0 }],
      ["canaryInstances", { strategy: "refresh" as const, canaryInstances: 1 }],
      ["amis.retiring.imageId", { strategy: "blue-green" as const, amis: { current: { imageId: AMI_A }, retiring: { imageId: AMI_A } } }],
      ["followSsmParameter", { amis: undefined, strategy: "blue-green" as const, followSsmParameter: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended" }],
      ["instanceType", { amis: { current: { imageId: AMI_A, ssmParameter: "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended" } } }],
      ["metadataHopLimit", { metadataHopLimit: 0 }],
      ["rootVolumeSizeGiB", { rootVolumeSizeGiB: -1 }],
      ["waitForCapacityTimeout", { waitForCapacityTimeout: "ten minutes" }],
      ["containerStopTimeout", { containerStopTimeout: "2 min" }],
      ["ecsConfig.ECS_CLUSTER", { ecsConfig: { ECS_CLUSTER: "other" } }],
      ["ecsConfig.lowercase", { ecsConfig: { lowercase: "x" } }],
      ["ingress[0]", { ingress: [{ description: "x", fromPort: 80 }] }],
      ["ingress[0].toPort", { ingress: [{ description: "x", fromPort: 443, toPort: 80, cidrIpv4: "10.0.0.0/8" }] }],
      ["ingress[0].cidrIpv4", { ingress: [{ description: "x", fromPort: 443, cidrIpv4: "10.0.0.0/33" }] }],
      ["followSsmParameter", { amis: undefined, strategy: "refresh" as const, followSsmParameter: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended" }],
      ["refresh", { refresh: { batch: 1 } }],
      ["refresh.batch", { strategy: "refresh" as const, refresh: { batch: 0 } }],
      ["refresh.batch", { strategy: "refresh" as const, refresh: { batch: "0%" as const } }],
      ["refresh.minHealthyPercent", { strategy: "refresh" as const, refresh: { minHealthyPercent: 150, maxHealthyPercent: 120 } }],
      ["refresh.minHealthyPercent", { strategy: "refresh" as const, refresh: { minHealthyPercent: 101 } }],
      ["refresh.maxHealthyPercent", { strategy: "refresh" as const, refresh: { maxHealthyPercent: 250 } }],
      ["refresh.batch", { strategy: "refresh" as const, refresh: { batch: 2, minHealthyPercent: 100, maxHealthyPercent: 100 } }],
    ])("%s", (prop, overrides) => {
      let error: unknown;
      try {
        synthCluster(overrides as never);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PropsError);
      expect((error as PropsError).prop).toBe(prop);
      expect((error as Error).message).toMatch(new RegExp(`^EcsCluster \\S+: ${prop.replace(/[[\].]/g, "\\$&")}: `));
    });

    it("allows a single zone only when asked", () => {
      expect(() => synthCluster({ subnets: [BASE_PROPS.subnets[0]], allowSingleAz: true })).not.toThrow();
    });
  });
});

function decodeUserData(value: string): string {
  return Buffer.from(value, "base64").toString("utf8");
}
