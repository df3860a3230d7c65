import { Annotations, Token } from "cdktf";
import { Construct } from "constructs";
import {
  DataAwsPartition,
  DataAwsSsmParameter,
  EcsClusterCapacityProviders,
  EcsClusterResource,
  IamInstanceProfile,
  IamRole,
  IamRolePolicyAttachment,
  SecurityGroup,
  VpcSecurityGroupEgressRule,
  VpcSecurityGroupIngressRule,
} from "./aws";
import {
  type AmiPin,
  type ClusterAmis,
  amiIdProblem,
  architectureProblem,
  imageIdLeaf,
} from "./ami";
import { CapacityGeneration, type CapacityGenerationProps, TAG_CLUSTER, capacityProviderName } from "./capacity";
import { DrainHook, type DrainHookOptions, drainHookOptionsProblem } from "./drain-hook";
import { PropsError } from "./errors";
import { type Format, formatProblem, integerProblem, sizesProblem } from "./formats";
import { canaryAsgName, generationAsgName, generationAsgNamePrefix, refreshAsgName } from "./names";
import { type RefreshOptions, refreshOptionsProblem } from "./refresh";

export { canaryAsgName, capacityProviderName, generationAsgName, generationAsgNamePrefix, refreshAsgName };

/**
 * How a new AMI reaches the cluster.
 * - `replace`: one generation at a stable address; a new AMI plans the group as
 *   ["create","delete"] in one apply (the old instances are drained as terraform deletes them).
 *   While `amis.retiring` is pinned, the stable group keeps running that (old) image and a small
 *   canary group of `amis.current` stands beside it: the rollout proves the new image on it
 *   before any old instance is given up (docs/strategies.md).
 * - `blue-green`: one generation per AMI; a bump adds the new generation beside the old one
 *   (creates only), and a later apply retires the old one (deletes only).
 * - `refresh`: one group whose name never changes (refreshAsgName); a new AMI updates its launch
 *   template in place and the group's template version, nothing else, and the rollout then
 *   replaces the old image's instances in ECS-aware batches (`refresh` options).
 */
export type CapacityStrategy = "replace" | "blue-green" | "refresh";

export interface SubnetPlacement {
  readonly subnetId: string;
  /** The subnet's zone; lets synth check that capacity really spans several zones. */
  readonly availabilityZone?: string;
}

export interface IngressRule {
  readonly description: string;
  readonly fromPort: number;
  /** @default fromPort */
  readonly toPort?: number;
  /** @default "tcp" */
  readonly protocol?: "tcp" | "udp";
  /** Exactly one of cidrIpv4 and sourceSecurityGroupId. */
  readonly cidrIpv4?: string;
  readonly sourceSecurityGroupId?: string;
}

/** A generation as EcsCluster built it, for outputs and the driver. */
export interface GenerationInfo {
  /** `canary`: the replace strategy's small group of the new image, beside the old one while it is proven. */
  readonly role: "current" | "retiring" | "canary";
  readonly imageId: string;
  readonly asgName: string;
  readonly capacity: CapacityGeneration;
}

export interface EcsClusterProps {
  /** The ECS cluster's name; also prefixes the IAM role, security group and group names. */
  readonly clusterName: string;
  readonly vpcId: string;
  /** Where the instances run; capacity is spread over all of them. */
  readonly subnets: readonly SubnetPlacement[];
  /**
   * Accept subnets in a single zone (or a single subnet). Fine for a sandbox, never for
   * production: one zone outage takes the whole cluster.
   * @default false
   */
  readonly allowSingleAz?: boolean;
  readonly instanceType: string;
  readonly minSize: number;
  readonly maxSize: number;
  /** @default minSize */
  readonly desiredCapacity?: number;
  /** The pinned images (see stacks/amis.json). Exactly one of `amis` and `followSsmParameter`. */
  readonly amis?: ClusterAmis;
  /**
   * Read the image from this SSM parameter at every plan instead of a pin ("always latest").
   * Every plan after AWS publishes an image then rolls the cluster, so prefer pins.
   * Only with the `replace` strategy.
   */
  readonly followSsmParameter?: string;
  /** @default "replace" */
  readonly strategy?: CapacityStrategy;
  /**
   * How the rollout replaces a refresh group's instances: the batch, and the share of the group
   * that keeps taking tasks (minHealthyPercent) or may be added (maxHealthyPercent) meanwhile.
   * Only with the `refresh` strategy. @default { batch: 1, minHealthyPercent: 100, maxHealthyPercent: 200 }
   */
  readonly refresh?: RefreshOptions;
  /**
   * The canary slice. `replace`: the instances of its canary group (while `amis.retiring` is
   * pinned). `blue-green`: the new generation is created with this many instances (desired; its
   * min at most this) while `amis.retiring` is pinned and `amis.current` is not verified: the
   * rollout proves the image on them, then scales the group to its size. The low-instance alarm
   * of a blue-green cluster with a canary then watches for fewer than min(minSize, canaryInstances)
   * instances, a threshold that does not change with the pins (a retire plan deletes only).
   * @default replace: 1; blue-green: none (the new generation at its full size)
   */
  readonly canaryInstances?: number;
  /** @default true */
  readonly containerInsights?: boolean;
  /**
   * ECS_CONTAINER_STOP_TIMEOUT: how long a container gets between SIGTERM and SIGKILL
   * when its task stops (a drain stops every task).
   * @default "2m"
   */
  readonly containerStopTimeout?: string;
  /** More ECS agent settings (`ECS_*` keys) written to /etc/ecs/ecs.config. @default {} */
  readonly ecsConfig?: Readonly<Record<string, string>>;
  /** Ingress to the instances. @default none (egress is open) */
  readonly ingress?: readonly IngressRule[];
  /** IMDSv2 hop limit; 2 lets bridge-mode containers reach instance metadata. @default 1 */
  readonly metadataHopLimit?: number;
  /** @default 30 (the size of the ECS-optimized images' root snapshot) */
  readonly rootVolumeSizeGiB?: number;
  /** @default 300 */
  readonly healthCheckGracePeriodSeconds?: number;
  /** How long terraform waits for a new group's instances to be InService. @default "10m" */
  readonly waitForCapacityTimeout?: string;
  /** Actions (e.g. SNS topic ARNs) of each generation's low-instance alarm. @default none */
  readonly alarmActions?: readonly string[];
  /** Tags for everything this construct creates, instances and volumes included. @default {} */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * The drain hook on every generation's group (see DrainHook), or `false` for none: then a
   * terminating instance's tasks are stopped with it, all at once.
   * @default {} (the hook with its defaults); `false` with `capacityProviders` (managed draining drains)
   */
  readonly drainHook?: DrainHookOptions | false;
  /**
   * An ECS capacity provider per generation (named like its group: managed scaling, managed
   * termination protection and managed draining on), and the cluster's capacity-provider set
   * and default strategy naming the generations in service (aws_ecs_cluster_capacity_providers:
   * the set is this construct's alone). Only with the `blue-green` strategy: a replace roll
   * would take the old group's provider out of the cluster while its tasks still run (ECS
   * refuses), and a refresh group's provider never changes (docs/strategies.md).
   * @default false
   */
  readonly capacityProviders?: boolean;
}

const NAME = "EcsCluster";

/** Managed policies of the instance role: the ECS agent, and Session Manager instead of SSH. */
const INSTANCE_POLICIES = {
  ecs: "service-role/AmazonEC2ContainerServiceforEC2Role",
  ssm: "AmazonSSMManagedInstanceCore",
} as const;

/**
 * An ECS cluster on EC2 whose capacity is a list of generations, one per AMI: the cluster,
 * the instances' IAM role and profile, their security group, and one launch template plus
 * Auto Scaling group per generation.
 */
export class EcsCluster extends Construct {
  readonly cluster: EcsClusterResource;
  readonly instanceRole: IamRole;
  readonly instanceProfile: IamInstanceProfile;
  readonly securityGroup: SecurityGroup;
  readonly generations: readonly GenerationInfo[];
  readonly strategy: CapacityStrategy;
  /** Undefined when `drainHook: false` (the default with `capacityProviders`). */
  readonly drainHook?: DrainHook;
  /** The cluster's capacity-provider set and default strategy; present with `capacityProviders`. */
  readonly clusterCapacityProviders?: EcsClusterCapacityProviders;

  constructor(scope: Construct, id: string, props: EcsClusterProps) {
    super(scope, id);
    validateProps(this.node.path, props);
    this.strategy = props.strategy ?? "replace";
    const tags = { ...props.tags };
    const name = props.clusterName;

    this.cluster = new EcsClusterResource(this, "cluster", {
      name,
      setting: [{ name: "containerInsights", value: props.containerInsights === false ? "disabled" : "enabled" }],
      tags,
    });

    const partition = new DataAwsPartition(this, "partition");
    this.instanceRole = new IamRole(this, "instance_role", {
      name: `${name}-ecs-instance`,
      description: `ECS container instances of ${name} (amiroll)`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
      tags,
    });
    Object.entries(INSTANCE_POLICIES).forEach(([key, policy]) => {
      new IamRolePolicyAttachment(this, `instance_policy_${key}`, {
        role: this.instanceRole.name,
        policyArn: `arn:${partition.partition}:iam::aws:policy/${policy}`,
      });
    });
    this.instanceProfile = new IamInstanceProfile(this, "instance_profile", {
      name: `${name}-ecs-instance`,
      role: this.instanceRole.name,
      tags,
    });

    this.securityGroup = new SecurityGroup(this, "instances_sg", {
      namePrefix: `${name}-instances-`,
      description: `ECS container instances of ${name} (amiroll)`,
      vpcId: props.vpcId,
      revokeRulesOnDelete: true,
      tags: { Name: `${name}-instances`, ...tags },
      lifecycle: { createBeforeDestroy: true },
    });
    const egress = { securityGroupId: this.securityGroup.id, description: "all outbound (image pulls, ECS and SSM endpoints)", ipProtocol: "-1" };
    new VpcSecurityGroupEgressRule(this, "egress_ipv4", { ...egress, cidrIpv4: "0.0.0.0/0" });
    new VpcSecurityGroupEgressRule(this, "egress_ipv6", { ...egress, cidrIpv6: "::/0" });
    (props.ingress ?? []).forEach((rule, i) => {
      new VpcSecurityGroupIngressRule(this, `ingress_${i}`, {
        securityGroupId: this.securityGroup.id,
        description: rule.description,
        ipProtocol: rule.protocol ?? "tcp",
        fromPort: rule.fromPort,
        toPort: rule.toPort ?? rule.fromPort,
        cidrIpv4: rule.cidrIpv4,
        referencedSecurityGroupId: rule.sourceSecurityGroupId,
      });
    });

    const drainHook = props.drainHook ?? (props.capacityProviders ? false : {});
    if (drainHook !== false) {
      this.drainHook = new DrainHook(this, "drain_hook", {
        ...drainHook,
        clusterName: name,
        clusterArn: this.cluster.arn,
        asgNamePrefix: generationAsgNamePrefix(name),
        clusterTagKey: TAG_CLUSTER,
        tags,
      });
    }

    const common: Omit<CapacityGenerationProps, "imageId" | "asgName"> = {
      clusterName: name,
      instanceType: props.instanceType,
      subnetIds: props.subnets.map((s) => s.subnetId),
      securityGroupIds: [this.securityGroup.id],
      instanceProfileArn: this.instanceProfile.arn,
      userData: userData(name, props.containerStopTimeout ?? "2m", props.ecsConfig ?? {}),
      minSize: props.minSize,
      maxSize: props.maxSize,
      desiredCapacity: props.desiredCapacity ?? props.minSize,
      metadataHopLimit: props.metadataHopLimit,
      rootVolumeSizeGiB: props.rootVolumeSizeGiB,
      healthCheckGracePeriodSeconds: props.healthCheckGracePeriodSeconds,
      waitForCapacityTimeout: props.waitForCapacityTimeout,
      alarmActions: props.alarmActions,
      tags,
      lifecycleHooks: this.drainHook && [this.drainHook.lifecycleHook],
      deleteTimeout: this.drainHook?.groupDeleteTimeout,
      dependsOn: this.drainHook?.dependables,
      capacityProvider: props.capacityProviders,
    };
    // A blue-green canary: the new generation starts at the slice's size until the image is verified.
    const blueGreenCanary = this.strategy === "blue-green" && props.canaryInstances !== undefined;
    const slicing = props.amis?.retiring !== undefined && props.amis.current.verifiedAt === undefined;
    const generation = (constructId: string, role: GenerationInfo["role"], imageId: string): GenerationInfo => {
      const inPlaceImage = this.strategy === "refresh";
      const asgName = role === "canary" ? canaryAsgName(name, imageId) : inPlaceImage ? refreshAsgName(name) : generationAsgName(name, imageId);
      const size = props.canaryInstances ?? 1;
      const sizes = role === "canary" ? { minSize: size, maxSize: size, desiredCapacity: size } : blueGreenCanary && role === "current" && slicing ? { minSize: Math.min(common.minSize, size), desiredCapacity: size } : {};
      const alarm = blueGreenCanary ? { lowInstanceThreshold: Math.min(common.minSize, size) } : {};
      const capacity = new CapacityGeneration(this, constructId, { ...common, ...sizes, ...alarm, imageId, asgName, inPlaceImage });
      return { role, imageId, asgName, capacity };
    };

    if (props.followSsmParameter) {
      Annotations.of(this).addWarning(
        `${NAME} ${this.node.path}: followSsmParameter reads the image at every plan, so any plan after AWS publishes a new image rolls the cluster; pin AMIs to review bumps`,
      );
      const parameter = new DataAwsSsmParameter(this, "image_parameter", {
        name: imageIdLeaf(props.followSsmParameter),
      });
      // insecure_value: the public image id is not a secret, and `value` would hide it in plans.
      this.generations = [generation("capacity", "current", parameter.insecureValue)];
    } else {
      const amis = props.amis!;
      this.generations =
        this.strategy === "refresh"
          ? // A stable group: a new AMI is a new launch template version, the instances are replaced by the rollout.
            [generation("capacity", "current", amis.current.imageId)]
          : this.strategy === "replace"
          ? amis.retiring
            ? // Proving amis.current: the stable group keeps the old image, a canary runs the new one.
              [generation("capacity", "retiring", amis.retiring.imageId), generation(`canary_${amis.current.imageId}`, "canary", amis.current.imageId)]
            : // A stable address: a new AMI replaces the group in place (create before delete).
              [generation("capacity", "current", amis.current.imageId)]
          : // One address per AMI: a bump adds a generation, a retire removes one.
            [amis.current, amis.retiring]
              .filter((pin): pin is AmiPin => pin !== undefined)
              .map((pin, i) => generation(`generation_${pin.imageId}`, i === 0 ? "current" : "retiring", pin.imageId));
    }

    if (props.capacityProviders) {
      // One resource owns the whole set: every generation in service, the current one the default
      // (a blue-green add weights the new generation in; the retire then drops the old provider
      // from the set before its group and provider are deleted, since terraform deletes after updates).
      const current = this.generations.find((g) => g.role === "current")!;
      this.clusterCapacityProviders = new EcsClusterCapacityProviders(this, "capacity_providers", {
        clusterName: this.cluster.name,
        capacityProviders: this.generations.map((g) => g.capacity.capacityProvider!.name),
        defaultCapacityProviderStrategy: [{ capacityProvider: current.capacity.capacityProvider!.name, weight: 1, base: 0 }],
      });
    }
  }
}

/** The instance user data: join the cluster, and give containers time to stop cleanly. */
function userData(clusterName: string, stopTimeout: string, extra: Readonly<Record<string, string>>): string {
  const settings = { ECS_CLUSTER: clusterName, ECS_CONTAINER_STOP_TIMEOUT: stopTimeout, ...extra };
  return [
    "#!/bin/bash",
    "# Written by amiroll: join this instance to its ECS cluster.",
    "cat >> /etc/ecs/ecs.config <<'ECS_CONFIG'",
    ...Object.entries(settings).map(([key, value]) => `${key}=${value}`),
    "ECS_CONFIG",
    "",
  ].join("\n");
}

/** Fails synth with a message naming the prop for every combination that cannot work. */
function validateProps(path: string, props: EcsClusterProps): void {
  const fail = (prop: string, problem: string): never => {
    throw new PropsError(`${NAME} ${path}`, prop, problem);
  };
  const check = (prop: string, problem: string | undefined) => problem && fail(prop, problem);
  // Tokens (values known only at plan time) are left to AWS.
  const format = (prop: string, value: unknown, f: Format) =>
    !Token.isUnresolved(value) && check(prop, formatProblem(value, f));

  format("clusterName", props.clusterName, "clusterName");
  format("vpcId", props.vpcId, "vpcId");
  format("instanceType", props.instanceType, "instanceType");

  if (props.subnets.length === 0) fail("subnets", "at least one subnet is required");
  props.subnets.forEach((s, i) => {
    format(`subnets[${i}].subnetId`, s.subnetId, "subnetId");
    if (s.availabilityZone !== undefined) format(`subnets[${i}].availabilityZone`, s.availabilityZone, "availabilityZone");
  });
  const ids = props.subnets.map((s) => s.subnetId);
  const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
  if (duplicate) fail("subnets", `${duplicate} is listed twice`);
  if (!props.allowSingleAz) {
    const zones = new Set(props.subnets.map((s) => s.availabilityZone ?? s.subnetId));
    if (props.subnets.length < 2 || zones.size < 2) {
      fail("subnets", "capacity must span at least 2 availability zones (set allowSingleAz for a sandbox)");
    }
  }

  check("minSize", integerProblem(props.minSize, 0));
  check("maxSize", integerProblem(props.maxSize, 1));
  if (props.desiredCapacity !== undefined) check("desiredCapacity", integerProblem(props.desiredCapacity, 0));
  const sizes = sizesProblem(props.minSize, props.maxSize, props.desiredCapacity);
  if (sizes) fail(...sizes);

  const strategy = props.strategy ?? "replace";
  if (strategy !== "replace" && strategy !== "blue-green" && strategy !== "refresh") {
    fail("strategy", `${JSON.stringify(strategy)} is not a strategy (expected "replace", "blue-green" or "refresh")`);
  }
  if ((props.amis === undefined) === (props.followSsmParameter === undefined)) {
    fail("amis", "give exactly one of amis (pinned images) and followSsmParameter");
  }
  if (props.followSsmParameter !== undefined) {
    format("followSsmParameter", props.followSsmParameter, "ssmParameter");
    if (strategy === "refresh") {
      fail("followSsmParameter", 'cannot be used with strategy "refresh": a plan would change the launch template whenever AWS publishes an image, and only the rollout replaces a refresh group\'s instances; pin AMIs (amis)');
    }
    if (strategy !== "replace") fail("followSsmParameter", 'needs strategy "replace" (blue-green generations are keyed by pinned AMI ids)');
  }
  if (props.amis) {
    const { current, retiring } = props.amis;
    check("amis.current.imageId", amiIdProblem(current?.imageId));
    if (retiring) {
      check("amis.retiring.imageId", amiIdProblem(retiring.imageId));
      if (retiring.imageId === current.imageId) fail("amis.retiring.imageId", `is the same image as amis.current (${current.imageId})`);
    }
  }
  const parameter = props.followSsmParameter ?? props.amis?.current.ssmParameter;
  if (parameter && !Token.isUnresolved(props.instanceType)) check("instanceType", architectureProblem(props.instanceType, parameter));

  if (props.capacityProviders !== undefined && typeof props.capacityProviders !== "boolean") {
    fail("capacityProviders", "must be true or false");
  }
  if (props.capacityProviders) {
    if (strategy !== "blue-green") {
      fail("capacityProviders", `only the "blue-green" strategy moves services between capacity providers (strategy is "${strategy}"): a replace roll would take the old group's provider out of the cluster while its tasks run, which ECS refuses`);
    }
    if (/^(aws|ecs|fargate)/i.test(props.clusterName)) {
      fail("capacityProviders", `a capacity provider is named after its group, and ECS refuses names that start with "aws", "ecs" or "fargate" (clusterName ${props.clusterName})`);
    }
  }
  if (props.drainHook) {
    const problem = drainHookOptionsProblem(props.drainHook);
    if (problem) fail(`drainHook.${problem[0]}`, problem[1]);
  }
  if (props.refresh !== undefined && strategy !== "refresh") {
    fail("refresh", `only the "refresh" strategy replaces instances in batches (strategy is "${strategy}")`);
  }
  if (strategy === "refresh") {
    const problem = refreshOptionsProblem(props.refresh ?? {}, props.desiredCapacity ?? props.minSize);
    if (problem) fail(`refresh.${problem[0]}`, problem[1]);
  }
  if (props.canaryInstances !== undefined) {
    check("canaryInstances", integerProblem(props.canaryInstances, 1, props.maxSize));
    if (strategy === "refresh") fail("canaryInstances", 'the "refresh" strategy\'s canary is its first batch (the rollout\'s), not a group');
  }
  if (props.metadataHopLimit !== undefined) check("metadataHopLimit", integerProblem(props.metadataHopLimit, 1, 64));
  if (props.rootVolumeSizeGiB !== undefined) check("rootVolumeSizeGiB", integerProblem(props.rootVolumeSizeGiB, 1, 16384));
  if (props.healthCheckGracePeriodSeconds !== undefined) {
    check("healthCheckGracePeriodSeconds", integerProblem(props.healthCheckGracePeriodSeconds, 0));
  }
  if (props.waitForCapacityTimeout !== undefined) format("waitForCapacityTimeout", props.waitForCapacityTimeout, "duration");
  if (props.containerStopTimeout !== undefined) format("containerStopTimeout", props.containerStopTimeout, "duration");
  for (const [key, value] of Object.entries(props.ecsConfig ?? {})) {
    if (!/^ECS_[A-Z0-9_]+$/.test(key)) fail(`ecsConfig.${key}`, "is not an ECS agent setting (ECS_ and upper-case letters)");
    if (key === "ECS_CLUSTER") fail(`ecsConfig.${key}`, "is set from clusterName");
    if (/[\r\n]/.test(value)) fail(`ecsConfig.${key}`, "must be one line");
  }
  (props.ingress ?? []).forEach((rule, i) => {
    const at = `ingress[${i}]`;
    check(`${at}.fromPort`, integerProblem(rule.fromPort, 0, 65535));
    if (rule.toPort !== undefined) {
      check(`${at}.toPort`, integerProblem(rule.toPort, rule.fromPort, 65535));
    }
    if ((rule.cidrIpv4 === undefined) === (rule.sourceSecurityGroupId === undefined)) {
      fail(at, "give exactly one of cidrIpv4 and sourceSecurityGroupId");
    }
    if (rule.cidrIpv4 !== undefined) format(`${at}.cidrIpv4`, rule.cidrIpv4, "cidrIpv4");
    if (rule.sourceSecurityGroupId !== undefined) format(`${at}.sourceSecurityGroupId`, rule.sourceSecurityGroupId, "securityGroupId");
  });
}
