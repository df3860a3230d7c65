/**
 * The driver's IAM: the least-privilege policy each way of running amiroll needs (docs/iam.md).
 *
 * - `watch`: what `status`, `bump` and `watch` read: ECS, Auto Scaling, the images and their SSM
 *   parameters. Read-only: safe for dashboards, cron jobs and the job that opens bump PRs.
 * - `plan`: watch's reads, terraform plan's refresh of every resource type the stacks hold, and
 *   the state: read the state object, take and release the S3 lock file (`use_lockfile`).
 * - `apply`: plan, terraform apply's creates, updates and deletes (with iam:PassRole for the
 *   instance and drain-hook roles), writing the state, and what the driver itself changes during
 *   apply, rollout and rebalance: draining container instances (and setting them ACTIVE again on
 *   a rollback), replacing a new instance that never registered with ECS (rollout's boot check),
 *   and moving services' tasks between zones (rebalance: a task stopped in the fullest zone, a desired count one up then back, or a forced deployment). Rebalance is in apply, not in
 *   watch: ecs:UpdateService cannot be narrowed to "force a new deployment" (the same permission
 *   sets desiredCount or the task definition), so a read-only role must not carry it.
 *
 * Pure: environments in, a policy document out. Every action is in one table below, with the code
 * that calls it; each table entry names the scope (resources and conditions) it is granted on.
 * Names follow the constructs (constructs/names.ts; ecs-cluster.ts, capacity.ts and drain-hook.ts
 * load cdktf, so this module must not import them); test/iam/policy.test.ts checks every name of
 * a synthesized stack against the policy.
 */
import { drainHookName, generationAsgNamePrefix } from "../../constructs/names";
import type { Environment } from "../config/environments";

export type Role = "watch" | "plan" | "apply";

/** The roles, each containing the one before. */
export const ROLES: readonly Role[] = ["watch", "plan", "apply"];

export type ConditionBlock = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;

export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow";
  readonly Action: readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: ConditionBlock;
}

export interface PolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: readonly PolicyStatement[];
}

/** What the policy needs of an environment (amiroll/config's loaded `Environment` is one). */
export type PolicyEnvironment = Pick<Environment, "name" | "region" | "accountId" | "backend" | "vpcId" | "subnets"> & {
  readonly clusters: readonly Pick<Environment["clusters"][number], "ecsClusterName" | "amiParameter">[];
};

/** IAM's limit for a customer managed policy, in characters without whitespace. */
export const MANAGED_POLICY_MAX_CHARS = 6144;

// ---------------------------------------------------------------------------------------------
// Names the constructs give what they create (constructs/names.ts where the constructs share
// them; test/iam/policy.test.ts checks every name of a synthesized stack against the policy).

/** The ECS cluster's instance role and instance profile (constructs/ecs-cluster.ts). */
const instanceRoleName = (cluster: string) => `${cluster}-ecs-instance`;
/** Every generation's Auto Scaling group, and its low-instances alarm, starts with this. */
const generationPrefix = generationAsgNamePrefix;
/** The tags the constructs put on every launch template (capacity.ts) and security group (environment-stack.ts). */
const TAG_CLUSTER = "amiroll:cluster";
const TAG_ENVIRONMENT = "amiroll:environment";
/** The managed policies attached to the instance role (ecs-cluster.ts, INSTANCE_POLICIES). */
const INSTANCE_MANAGED_POLICIES = ["service-role/AmazonEC2ContainerServiceforEC2Role", "AmazonSSMManagedInstanceCore"];
/** Services whose service-linked role the first cluster (ECS) or group (Auto Scaling) of an account creates. */
const SERVICE_LINKED_ROLES = ["autoscaling.amazonaws.com", "ecs.amazonaws.com"];

// ---------------------------------------------------------------------------------------------
// Scopes: the resources (and conditions) a group of actions is granted on. One statement each.

/** The AWS partition of a region. */
export function partitionOf(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  if (region.startsWith("us-isob-")) return "aws-iso-b";
  if (region.startsWith("us-iso-")) return "aws-iso";
  return "aws";
}

/** An ARN in `env`'s partition, region and account (`*` for an environment without accountId). */
function arn(env: PolicyEnvironment, service: string, resource: string, where: { region?: string; account?: string } = {}): string {
  return `arn:${partitionOf(env.region)}:${service}:${where.region ?? env.region}:${where.account ?? env.accountId ?? "*"}:${resource}`;
}

interface ScopeDefinition {
  /** The statement's Sid. */
  readonly sid: string;
  /** Why the statement is as wide as it is (docs/iam.md shows these). */
  readonly why: string;
  readonly resources: (env: PolicyEnvironment) => readonly string[];
  readonly condition?: (env: PolicyEnvironment) => ConditionBlock;
}

const perCluster = (f: (cluster: PolicyEnvironment["clusters"][number], env: PolicyEnvironment) => readonly string[]) => (env: PolicyEnvironment) =>
  env.clusters.flatMap((c) => f(c, env));
const clusterArn = (env: PolicyEnvironment, cluster: string) => arn(env, "ecs", `cluster/${cluster}`);
const ec2 = (env: PolicyEnvironment, resource: string) => arn(env, "ec2", resource);
const stateBucketArn = (env: PolicyEnvironment) => `arn:${partitionOf(env.backend.region)}:s3:::${env.backend.bucket}`;

/** An SSM parameter's ARN: AWS's public parameters (`/aws/service/...`) belong to no account. */
function parameterArn(env: PolicyEnvironment, name: string): string {
  const path = name.startsWith("/") ? name : `/${name}`;
  return arn(env, "ssm", `parameter${path}`, path.startsWith("/aws/service/") ? { account: "*" } : {});
}

export const SCOPES = {
  ecsClusters: {
    sid: "EcsClusters",
    why: "the config's ECS clusters, by ARN",
    resources: perCluster((c, env) => [clusterArn(env, c.ecsClusterName)]),
  },
  ecsClusterMembers: {
    sid: "EcsClusterMembers",
    why: "container instances, services and tasks have ids known only at run time: any resource, but only in the config's clusters (`ecs:cluster`)",
    resources: () => ["*"],
    condition: (env) => ({ ArnEquals: { "ecs:cluster": env.clusters.map((c) => clusterArn(env, c.ecsClusterName)) } }),
  },
  noResourceLevelPermissions: {
    sid: "DescribeWithoutResourceLevelPermissions",
    why: "AWS allows only `\"*\"` for these reads (EC2, Auto Scaling and CloudWatch `Describe*` take no resource ARNs)",
    resources: () => ["*"],
  },
  amiParameters: {
    sid: "AmiParameters",
    why: "the SSM parameters the clusters' AMIs come from (`amiParameter`); AWS's public ones have no account in their ARN",
    resources: perCluster((c, env) => [parameterArn(env, c.amiParameter)]),
  },
  ecsCapacityProviders: {
    sid: "EcsCapacityProviders",
    why: "every generation's capacity provider (capacityProviders), named like its group: `<cluster>-ami-*`",
    resources: perCluster((c, env) => [arn(env, "ecs", `capacity-provider/${generationPrefix(c.ecsClusterName)}*`)]),
  },
  autoScalingGroups: {
    sid: "AutoScalingGroups",
    why: "every generation's group of the config's clusters, present and future: `<cluster>-ami-*`",
    resources: perCluster((c, env) => [arn(env, "autoscaling", `autoScalingGroup:*:autoScalingGroupName/${generationPrefix(c.ecsClusterName)}*`)]),
  },
  createLaunchTemplates: {
    sid: "CreateLaunchTemplates",
    why: "a launch template's id is made by EC2: any template of the region (tagged `amiroll:cluster` on creation)",
    resources: (env) => [ec2(env, "launch-template/*")],
  },
  ownLaunchTemplates: {
    sid: "OwnLaunchTemplates",
    why: "launch templates are known by id: those tagged (`amiroll:cluster`) with one of the config's clusters",
    resources: (env) => [ec2(env, "launch-template/*")],
    condition: (env) => ({ StringEquals: { [`aws:ResourceTag/${TAG_CLUSTER}`]: env.clusters.map((c) => c.ecsClusterName) } }),
  },
  createSecurityGroups: {
    sid: "CreateSecurityGroups",
    why: "a security group's id is made by EC2: new groups, only in the config's VPCs",
    resources: (env) => [ec2(env, "security-group/*"), ec2(env, `vpc/${env.vpcId}`)],
  },
  ownSecurityGroups: {
    sid: "OwnSecurityGroups",
    why: "security groups are known by id: those tagged (`amiroll:environment`) with one of the config's environments",
    resources: (env) => [ec2(env, "security-group/*")],
    condition: (env) => ({ StringEquals: { [`aws:ResourceTag/${TAG_ENVIRONMENT}`]: [env.name] } }),
  },
  securityGroupRules: {
    sid: "SecurityGroupRules",
    why: "a rule's id is made by EC2 and rules carry no amiroll tag: any rule of the region (the group it belongs to is checked by `OwnSecurityGroups`)",
    resources: (env) => [ec2(env, "security-group-rule/*")],
  },
  tagOnCreate: {
    sid: "TagOnCreate",
    why: "tags in the create call itself (`ec2:CreateAction`), on resources that have no id yet",
    resources: (env) => ["security-group/*", "launch-template/*", "instance/*", "volume/*"].map((r) => ec2(env, r)),
    condition: () => ({ StringEquals: { "ec2:CreateAction": ["CreateLaunchTemplate", "CreateSecurityGroup", "RunInstances"] } }),
  },
  launchInstances: {
    sid: "LaunchInstances",
    why: "creating or updating a group checks that the caller could launch its template: new instances, volumes and interfaces, in the config's subnets, from any image",
    resources: (env) => [
      ...["instance/*", "volume/*", "network-interface/*", "security-group/*", "launch-template/*"].map((r) => ec2(env, r)),
      ...env.subnets.map((s) => ec2(env, `subnet/${s.id}`)),
      arn(env, "ec2", "image/*", { account: "" }),
    ],
  },
  iamRoles: {
    sid: "IamRoles",
    why: "the clusters' instance roles and drain-hook roles, by name",
    resources: perCluster((c, env) => [instanceRoleName(c.ecsClusterName), drainHookName(c.ecsClusterName)].map((n) => arn(env, "iam", `role/${n}`, { region: "" }))),
  },
  instanceRoleManagedPolicies: {
    sid: "InstanceRoleManagedPolicies",
    why: "only the two AWS managed policies the instance role gets (`iam:PolicyARN`)",
    resources: perCluster((c, env) => [arn(env, "iam", `role/${instanceRoleName(c.ecsClusterName)}`, { region: "" })]),
    condition: (env) => ({ ArnEquals: { "iam:PolicyARN": INSTANCE_MANAGED_POLICIES.map((p) => `arn:${partitionOf(env.region)}:iam::aws:policy/${p}`) } }),
  },
  instanceProfiles: {
    sid: "InstanceProfiles",
    why: "the clusters' instance profiles, by name",
    resources: perCluster((c, env) => [arn(env, "iam", `instance-profile/${instanceRoleName(c.ecsClusterName)}`, { region: "" })]),
  },
  serviceLinkedRoles: {
    sid: "ServiceLinkedRoles",
    why: "the first ECS cluster and Auto Scaling group of an account create their service-linked role (`iam:AWSServiceName`)",
    resources: (env) => [arn(env, "iam", "role/aws-service-role/*", { region: "" })],
    condition: () => ({ StringEquals: { "iam:AWSServiceName": SERVICE_LINKED_ROLES } }),
  },
  drainHookFunctions: {
    sid: "DrainHookFunctions",
    why: "the clusters' drain-hook functions, by name",
    resources: perCluster((c, env) => [arn(env, "lambda", `function:${drainHookName(c.ecsClusterName)}`)]),
  },
  createEventSourceMappings: {
    sid: "CreateEventSourceMappings",
    why: "a mapping's id is made by Lambda: only mappings to the drain-hook functions (`lambda:FunctionArn`)",
    resources: () => ["*"],
    condition: (env) => ({ ArnLike: { "lambda:FunctionArn": env.clusters.map((c) => arn(env, "lambda", `function:${drainHookName(c.ecsClusterName)}`)) } }),
  },
  eventSourceMappings: {
    sid: "EventSourceMappings",
    why: "mappings are known by a UUID: any mapping of the region",
    resources: (env) => [arn(env, "lambda", "event-source-mapping:*")],
  },
  drainHookQueues: {
    sid: "DrainHookQueues",
    why: "the drain hooks' recheck and dead-letter queues, by name",
    resources: perCluster((c, env) => ["recheck", "dlq"].map((q) => arn(env, "sqs", `${drainHookName(c.ecsClusterName)}-${q}`))),
  },
  drainHookRules: {
    sid: "DrainHookRules",
    why: "the drain hooks' EventBridge rules, by name",
    resources: perCluster((c, env) => [arn(env, "events", `rule/${drainHookName(c.ecsClusterName)}`)]),
  },
  drainHookLogGroups: {
    sid: "DrainHookLogGroups",
    why: "the drain hooks' log groups, by name (the group, and its streams for the actions that name them)",
    resources: perCluster((c, env) => {
      const group = arn(env, "logs", `log-group:/aws/lambda/${drainHookName(c.ecsClusterName)}`);
      return [group, `${group}:*`];
    }),
  },
  listLogGroups: {
    sid: "ListLogGroups",
    why: "`DescribeLogGroups` lists by name prefix: any log group of the region",
    resources: (env) => [arn(env, "logs", "log-group:*")],
  },
  capacityAlarms: {
    sid: "CapacityAlarms",
    why: "every generation's low-instances alarm: `<cluster>-ami-*`",
    resources: perCluster((c, env) => [arn(env, "cloudwatch", `alarm:${generationPrefix(c.ecsClusterName)}*`)]),
  },
  stateBucket: {
    sid: "StateBucket",
    why: "the state buckets, listed only at the state keys (`s3:prefix`)",
    resources: (env) => [stateBucketArn(env)],
    condition: (env) => ({ StringEquals: { "s3:prefix": [env.backend.key] } }),
  },
  stateObjects: {
    sid: "StateObjects",
    why: "each environment's state object: `<bucket>/<keyPrefix>/<env>/terraform.tfstate`",
    resources: (env) => [`${stateBucketArn(env)}/${env.backend.key}`],
  },
  stateLocks: {
    sid: "StateLocks",
    why: "each environment's S3 lock file (`use_lockfile`): the state key plus `.tflock`",
    resources: (env) => [`${stateBucketArn(env)}/${env.backend.key}.tflock`],
  },
} as const satisfies Record<string, ScopeDefinition>;

export type ScopeName = keyof typeof SCOPES;

/** Actions grouped by the scope they are granted on. */
export type ScopedActions = Partial<Record<ScopeName, readonly string[]>>;

// ---------------------------------------------------------------------------------------------
// The driver's own calls: the SDK v3 commands of scripts/ (the simulator aside).

export interface DriverCall {
  readonly action: string;
  /** The least role that makes the call. */
  readonly role: Role;
  readonly scope: ScopeName;
  /** The code that calls it. */
  readonly calledBy: string;
}

export const DRIVER_CALLS: readonly DriverCall[] = [
  { action: "autoscaling:DescribeAutoScalingGroups", role: "watch", scope: "noResourceLevelPermissions", calledBy: "fleet/snapshot.ts takeSnapshot: the clusters' groups, by their amiroll:cluster tag" },
  { action: "ec2:DescribeInstances", role: "watch", scope: "noResourceLevelPermissions", calledBy: "fleet/snapshot.ts takeSnapshot: image and launch time of InService instances not registered with ECS (the rollout's boot check)" },
  { action: "ec2:DescribeImages", role: "watch", scope: "noResourceLevelPermissions", calledBy: "images/release.ts describeImages: pinned, running and newest images (status, bump)" },
  { action: "ecs:ListContainerInstances", role: "watch", scope: "ecsClusters", calledBy: "fleet/snapshot.ts takeSnapshot" },
  { action: "ecs:DescribeContainerInstances", role: "watch", scope: "ecsClusterMembers", calledBy: "fleet/snapshot.ts takeSnapshot" },
  { action: "ecs:ListServices", role: "watch", scope: "ecsClusterMembers", calledBy: "fleet/snapshot.ts takeSnapshot" },
  { action: "ecs:DescribeServices", role: "watch", scope: "ecsClusterMembers", calledBy: "fleet/snapshot.ts takeSnapshot; fleet/rebalance.ts (a service's deployments)" },
  { action: "ecs:ListTasks", role: "watch", scope: "ecsClusterMembers", calledBy: "fleet/snapshot.ts takeSnapshot: running tasks, and stopped ones for crash loops" },
  { action: "ecs:DescribeTasks", role: "watch", scope: "ecsClusterMembers", calledBy: "fleet/snapshot.ts takeSnapshot" },
  { action: "cloudwatch:DescribeAlarms", role: "watch", scope: "noResourceLevelPermissions", calledBy: "fleet/alarms.ts readAlarms: the watched alarms (config alarms) by name and name prefix (status, plan's warnings, the rollout's canary, watch and gates)" },
  { action: "ssm:GetParameters", role: "watch", scope: "amiParameters", calledBy: "images/release.ts resolveReleases: the newest image of each amiParameter (status, bump)" },
  { action: "ecs:UpdateContainerInstancesState", role: "apply", scope: "ecsClusterMembers", calledBy: "fleet/drain.ts via rollout/rollout.ts: drain the retiring generation (blue-green), ACTIVE again on rollback" },
  { action: "autoscaling:TerminateInstanceInAutoScalingGroup", role: "apply", scope: "autoScalingGroups", calledBy: "rollout/rollout.ts: replace a new instance that never registered with ECS (desired capacity kept, so the group launches another); rollout/refresh.ts: terminate a drained refresh batch (desired capacity decremented)" },
  { action: "autoscaling:SetDesiredCapacity", role: "apply", scope: "autoScalingGroups", calledBy: "rollout/refresh.ts: a refresh batch's new instances first (up to maxHealthyPercent)" },
  { action: "autoscaling:UpdateAutoScalingGroup", role: "apply", scope: "autoScalingGroups", calledBy: "rollout/refresh.ts: room for the refresh batches (min and max), and the group's size restored after them; rollout/slice.ts: a blue-green generation scaled to its size once its canary slice passed" },
  { action: "autoscaling:SuspendProcesses", role: "apply", scope: "autoScalingGroups", calledBy: "rollout/refresh.ts: AZRebalance, AlarmNotification and ScheduledActions suspended while the refresh batches run" },
  { action: "autoscaling:ResumeProcesses", role: "apply", scope: "autoScalingGroups", calledBy: "rollout/refresh.ts: the processes it suspended, resumed after the batches (also after a failure or Ctrl-C)" },
  { action: "ecs:UpdateService", role: "apply", scope: "ecsClusterMembers", calledBy: "fleet/rebalance.ts: move a task of a bunched service (desired count one up, then back) or force a new deployment of one stacked on an instance (rebalance, watch --rebalance, the rollout's balance gate); fleet/az-rebalancing.ts: availabilityZoneRebalancing ENABLED (rebalance --enable-az-rebalancing); fleet/providers.ts via rollout/providers.ts: a new deployment naming the generation in service's capacity provider (capacityProviders)" },
  { action: "ecs:StopTask", role: "apply", scope: "ecsClusterMembers", calledBy: "fleet/rebalance.ts: move a task of a bunched service with room above its minimum healthy count (stop one in its fullest zone; the scheduler places the replacement) (rebalance, watch --rebalance, the rollout's balance gate)" },
  { action: "ecs:DescribeClusters", role: "watch", scope: "ecsClusters", calledBy: "fleet/providers.ts: the cluster's capacity providers and default strategy (capacityProviders)" },
  { action: "ecs:PutClusterCapacityProviders", role: "apply", scope: "ecsClusters", calledBy: "fleet/providers.ts via rollout/providers.ts: a rollback switches the cluster's default strategy back to the old generation's provider, the set unchanged (capacityProviders)" },
];

// ---------------------------------------------------------------------------------------------
// Terraform (hashicorp/aws 5.100) over the stacks: per resource type, what `plan` refreshes with
// (read) and what `apply` creates, updates and deletes with (write). Checked against the
// provider's sources (Create/Read/Update/Delete of each resource) and AWS's documentation of
// tag-on-create (a create call carrying tags also needs the service's tag permission).

export interface TerraformActions {
  readonly read: ScopedActions;
  readonly write: ScopedActions;
}

export const TERRAFORM_RESOURCES: Readonly<Record<string, TerraformActions>> = {
  aws_autoscaling_group: {
    read: { noResourceLevelPermissions: ["autoscaling:DescribeAutoScalingGroups"] },
    write: {
      // Created at size 0, the drain hook put, then sized (initial_lifecycle_hook); metrics enabled.
      autoScalingGroups: [
        "autoscaling:CreateAutoScalingGroup", "autoscaling:CreateOrUpdateTags", "autoscaling:DeleteAutoScalingGroup", "autoscaling:DeleteTags",
        "autoscaling:DisableMetricsCollection", "autoscaling:EnableMetricsCollection", "autoscaling:PutLifecycleHook", "autoscaling:UpdateAutoScalingGroup",
        // protect_from_scale_in (capacityProviders): the provider lifts the instances' protection before it deletes a group.
        "autoscaling:SetInstanceProtection",
      ],
      // wait_for_capacity_timeout: failed scaling activities end the wait.
      noResourceLevelPermissions: ["autoscaling:DescribeScalingActivities"],
      // A group on a launch template: the caller must be able to launch it, pass its role and tag its instances.
      launchInstances: ["ec2:RunInstances"],
      tagOnCreate: ["ec2:CreateTags"],
      iamRoles: ["iam:PassRole"],
      serviceLinkedRoles: ["iam:CreateServiceLinkedRole"],
    },
  },
  aws_cloudwatch_event_rule: {
    read: { drainHookRules: ["events:DescribeRule", "events:ListTagsForResource"] },
    write: { drainHookRules: ["events:DeleteRule", "events:PutRule", "events:TagResource", "events:UntagResource"] },
  },
  aws_cloudwatch_event_target: {
    read: { drainHookRules: ["events:ListTargetsByRule"] },
    write: { drainHookRules: ["events:PutTargets", "events:RemoveTargets"] },
  },
  aws_cloudwatch_log_group: {
    read: { listLogGroups: ["logs:DescribeLogGroups"], drainHookLogGroups: ["logs:ListTagsForResource"] },
    write: {
      drainHookLogGroups: ["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:DeleteRetentionPolicy", "logs:PutRetentionPolicy", "logs:TagResource", "logs:UntagResource"],
    },
  },
  aws_cloudwatch_metric_alarm: {
    read: { noResourceLevelPermissions: ["cloudwatch:DescribeAlarms"], capacityAlarms: ["cloudwatch:ListTagsForResource"] },
    write: { capacityAlarms: ["cloudwatch:DeleteAlarms", "cloudwatch:PutMetricAlarm", "cloudwatch:TagResource", "cloudwatch:UntagResource"] },
  },
  aws_ecs_cluster: {
    read: { ecsClusters: ["ecs:DescribeClusters"] },
    write: {
      ecsClusters: ["ecs:CreateCluster", "ecs:DeleteCluster", "ecs:TagResource", "ecs:UntagResource", "ecs:UpdateCluster"],
      serviceLinkedRoles: ["iam:CreateServiceLinkedRole"],
    },
  },
  aws_ecs_capacity_provider: {
    read: { noResourceLevelPermissions: ["ecs:DescribeCapacityProviders"] },
    write: {
      ecsCapacityProviders: ["ecs:CreateCapacityProvider", "ecs:DeleteCapacityProvider", "ecs:TagResource", "ecs:UntagResource", "ecs:UpdateCapacityProvider"],
      // ECS manages the group through its service-linked role (created on first use).
      serviceLinkedRoles: ["iam:CreateServiceLinkedRole"],
    },
  },
  aws_ecs_cluster_capacity_providers: {
    read: { ecsClusters: ["ecs:DescribeClusters"] },
    write: { ecsClusters: ["ecs:PutClusterCapacityProviders"] },
  },
  aws_iam_instance_profile: {
    read: { instanceProfiles: ["iam:GetInstanceProfile"] },
    write: {
      instanceProfiles: [
        "iam:AddRoleToInstanceProfile", "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
        "iam:TagInstanceProfile", "iam:UntagInstanceProfile",
      ],
      // Adding a role to a profile passes it.
      iamRoles: ["iam:PassRole"],
    },
  },
  aws_iam_role: {
    // The role, its inline policies and its attached ones (the provider reads all three).
    read: { iamRoles: ["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"] },
    write: {
      // Deleting a role first removes it from its instance profiles.
      iamRoles: [
        "iam:CreateRole", "iam:DeleteRole", "iam:ListInstanceProfilesForRole", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy",
        "iam:UpdateRoleDescription",
      ],
      instanceProfiles: ["iam:RemoveRoleFromInstanceProfile"],
    },
  },
  aws_iam_role_policy: {
    read: { iamRoles: ["iam:GetRolePolicy"] },
    write: { iamRoles: ["iam:DeleteRolePolicy", "iam:PutRolePolicy"] },
  },
  aws_iam_role_policy_attachment: {
    read: { iamRoles: ["iam:ListAttachedRolePolicies"] },
    write: { instanceRoleManagedPolicies: ["iam:AttachRolePolicy", "iam:DetachRolePolicy"] },
  },
  aws_lambda_event_source_mapping: {
    read: { eventSourceMappings: ["lambda:GetEventSourceMapping", "lambda:ListTags"] },
    write: {
      createEventSourceMappings: ["lambda:CreateEventSourceMapping"],
      eventSourceMappings: ["lambda:DeleteEventSourceMapping", "lambda:TagResource", "lambda:UntagResource", "lambda:UpdateEventSourceMapping"],
    },
  },
  aws_lambda_function: {
    // The function, its latest version and its code-signing config.
    read: { drainHookFunctions: ["lambda:GetFunction", "lambda:GetFunctionCodeSigningConfig", "lambda:ListVersionsByFunction"] },
    write: {
      drainHookFunctions: [
        "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunctionConfiguration", "lambda:TagResource", "lambda:UntagResource",
        "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
      ],
      // The function runs as the drain-hook role.
      iamRoles: ["iam:PassRole"],
    },
  },
  aws_lambda_function_event_invoke_config: {
    // Its asynchronous-invocation settings and on-failure destination (Lambda sends with the function's role).
    read: { drainHookFunctions: ["lambda:GetFunctionEventInvokeConfig"] },
    write: { drainHookFunctions: ["lambda:DeleteFunctionEventInvokeConfig", "lambda:PutFunctionEventInvokeConfig", "lambda:UpdateFunctionEventInvokeConfig"] },
  },
  aws_lambda_permission: {
    read: { drainHookFunctions: ["lambda:GetPolicy"] },
    write: { drainHookFunctions: ["lambda:AddPermission", "lambda:RemovePermission"] },
  },
  aws_launch_template: {
    read: { noResourceLevelPermissions: ["ec2:DescribeLaunchTemplateVersions", "ec2:DescribeLaunchTemplates"] },
    write: {
      createLaunchTemplates: ["ec2:CreateLaunchTemplate"],
      tagOnCreate: ["ec2:CreateTags"],
      ownLaunchTemplates: ["ec2:CreateLaunchTemplateVersion", "ec2:CreateTags", "ec2:DeleteLaunchTemplate", "ec2:DeleteTags", "ec2:ModifyLaunchTemplate"],
    },
  },
  aws_security_group: {
    read: { noResourceLevelPermissions: ["ec2:DescribeSecurityGroups"] },
    write: {
      createSecurityGroups: ["ec2:CreateSecurityGroup"],
      tagOnCreate: ["ec2:CreateTags"],
      // The default egress rule is revoked after creation; revoke_rules_on_delete empties the
      // group before deleting it (it has egress rules only).
      ownSecurityGroups: ["ec2:CreateTags", "ec2:DeleteSecurityGroup", "ec2:DeleteTags", "ec2:RevokeSecurityGroupEgress"],
      securityGroupRules: ["ec2:RevokeSecurityGroupEgress"],
      // Deleting a group looks for network interfaces left in it (Lambda's).
      noResourceLevelPermissions: ["ec2:DescribeNetworkInterfaces"],
    },
  },
  aws_sqs_queue: {
    read: { drainHookQueues: ["sqs:GetQueueAttributes", "sqs:ListQueueTags"] },
    write: { drainHookQueues: ["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue"] },
  },
  aws_vpc_security_group_egress_rule: {
    read: { noResourceLevelPermissions: ["ec2:DescribeSecurityGroupRules"] },
    write: {
      ownSecurityGroups: ["ec2:AuthorizeSecurityGroupEgress", "ec2:ModifySecurityGroupRules", "ec2:RevokeSecurityGroupEgress"],
      securityGroupRules: ["ec2:AuthorizeSecurityGroupEgress", "ec2:CreateTags", "ec2:DeleteTags", "ec2:ModifySecurityGroupRules", "ec2:RevokeSecurityGroupEgress"],
    },
  },
};

/** Data sources of the stacks and what reading them calls (aws_partition is computed by the provider). */
export const TERRAFORM_DATA_SOURCES: Readonly<Record<string, ScopedActions>> = {
  aws_partition: {},
};

/**
 * The S3 backend with `use_lockfile` (terraform's documented permissions): plan reads the state
 * and takes the lock (writes, then deletes, `<key>.tflock`); apply also writes the state.
 * Listing is at the state key only. The provider's sts:GetCallerIdentity needs no permission.
 */
export const TERRAFORM_STATE: Readonly<Record<"plan" | "apply", ScopedActions>> = {
  plan: {
    stateBucket: ["s3:ListBucket"],
    stateObjects: ["s3:GetObject"],
    stateLocks: ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
  },
  apply: { stateObjects: ["s3:PutObject"] },
};

// ---------------------------------------------------------------------------------------------
// The policies.

/** Every action a role is granted, by scope. */
export function roleActions(role: Role): Map<ScopeName, Set<string>> {
  const grants = new Map<ScopeName, Set<string>>();
  const add = (scoped: ScopedActions) => {
    for (const [scope, actions] of Object.entries(scoped) as [ScopeName, readonly string[]][]) {
      const set = grants.get(scope) ?? new Set<string>();
      actions.forEach((a) => set.add(a));
      grants.set(scope, set);
    }
  };
  const upTo = ROLES.indexOf(role);
  for (const call of DRIVER_CALLS) if (ROLES.indexOf(call.role) <= upTo) add({ [call.scope]: [call.action] });
  if (upTo >= ROLES.indexOf("plan")) {
    Object.values(TERRAFORM_RESOURCES).forEach((r) => add(r.read));
    Object.values(TERRAFORM_DATA_SOURCES).forEach(add);
    add(TERRAFORM_STATE.plan);
  }
  if (upTo >= ROLES.indexOf("apply")) {
    Object.values(TERRAFORM_RESOURCES).forEach((r) => add(r.write));
    add(TERRAFORM_STATE.apply);
  }
  return grants;
}

const sorted = (values: Iterable<string>) => [...new Set(values)].sort();
const oneOrMany = (values: readonly string[]): string | readonly string[] => (values.length === 1 ? values[0] : values);

/** The conditions of all environments for one scope: values of the same operator and key are merged. */
function mergeConditions(blocks: readonly ConditionBlock[]): ConditionBlock | undefined {
  if (blocks.length === 0) return undefined;
  const merged: Record<string, Record<string, string[]>> = {};
  for (const block of blocks) {
    for (const [operator, keys] of Object.entries(block)) {
      for (const [key, value] of Object.entries(keys)) {
        ((merged[operator] ??= {})[key] ??= []).push(...(typeof value === "string" ? [value] : value));
      }
    }
  }
  return Object.fromEntries(
    Object.entries(merged).map(([operator, keys]) => [operator, Object.fromEntries(Object.entries(keys).map(([key, values]) => [key, oneOrMany(sorted(values))]))]),
  );
}

/**
 * The least-privilege policy `role` needs over `environments` (one statement per scope, in the
 * order of SCOPES; actions, resources and condition values sorted and without duplicates).
 */
export function iamPolicy(environments: readonly PolicyEnvironment[], role: Role): PolicyDocument {
  if (!ROLES.includes(role)) throw new Error(`iamPolicy: ${JSON.stringify(role)} is not a role (expected ${ROLES.join(", ")})`);
  if (environments.length === 0) throw new Error("iamPolicy: no environments");
  const grants = roleActions(role);
  const statements: PolicyStatement[] = [];
  for (const [name, scope] of Object.entries(SCOPES) as [ScopeName, ScopeDefinition][]) {
    const actions = grants.get(name);
    if (!actions || actions.size === 0) continue;
    const resources = sorted(environments.flatMap((env) => scope.resources(env)));
    const condition = scope.condition ? mergeConditions(environments.map((env) => scope.condition!(env))) : undefined;
    statements.push({
      Sid: scope.sid,
      Effect: "Allow",
      Action: sorted(actions),
      Resource: resources.includes("*") ? "*" : oneOrMany(resources),
      ...(condition && { Condition: condition }),
    });
  }
  return { Version: "2012-10-17", Statement: statements };
}

/** Every role's policy, keyed by role (what `amiroll iam-policy` prints without --role). */
export function iamPolicies(environments: readonly PolicyEnvironment[]): Record<Role, PolicyDocument> {
  return Object.fromEntries(ROLES.map((role) => [role, iamPolicy(environments, role)])) as Record<Role, PolicyDocument>;
}

/** The environments whose ARNs use `*` for the account (no accountId in the config). */
export function environmentsWithoutAccount(environments: readonly PolicyEnvironment[]): string[] {
  return environments.filter((e) => e.accountId === undefined).map((e) => e.name);
}

/** A policy's size as IAM counts it against MANAGED_POLICY_MAX_CHARS (JSON without whitespace). */
export function policySize(policy: PolicyDocument): number {
  return JSON.stringify(policy).length;
}

/** Why each statement is as wide as it is, by Sid (for docs/iam.md). */
export function statementReasons(): Record<string, string> {
  return Object.fromEntries(Object.values(SCOPES).map((s: ScopeDefinition) => [s.sid, s.why]));
}
