/**
 * `amiroll iam-policy`: the policies hold every action the driver's code and terraform call, on
 * the resources the config's stacks name, and nothing a role does not need.
 */
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import type { Environment } from "../../scripts/config/environments";
import {
  DRIVER_CALLS,
  MANAGED_POLICY_MAX_CHARS,
  type PolicyDocument,
  type PolicyStatement,
  ROLES,
  type Role,
  TERRAFORM_DATA_SOURCES,
  TERRAFORM_RESOURCES,
  environmentsWithoutAccount,
  iamPolicies,
  iamPolicy,
  partitionOf,
  policySize,
} from "../../scripts/iam/policy";
import { errorLines, modulesLoadedBy } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";
import { ENVIRONMENTS_CONFIG, REPO_PINS_PATH, loadEnvironments, synthesizeRepo } from "../support/repo-config";

const ROOT = resolve(__dirname, "../..");
const environments = loadEnvironments();
const policies = iamPolicies(environments);

// ---------------------------------------------------------------------------------------------
// Helpers: what a policy allows, judged the way IAM matches (globs in ARNs, condition values).

const list = (value: string | readonly string[]): readonly string[] => (typeof value === "string" ? [value] : value);
const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
const matches = (pattern: string, value: string) => glob(pattern).test(value);

/** The statements of `policy` that grant `action` on `resource` (conditions not evaluated). */
const granting = (policy: PolicyDocument, action: string, resource?: string): PolicyStatement[] =>
  policy.Statement.filter((s) => s.Action.includes(action) && (resource === undefined || list(s.Resource).some((r) => matches(r, resource))));

const actionsOf = (policy: PolicyDocument) => new Set(policy.Statement.flatMap((s) => s.Action));
/** Every value a statement's condition allows for `key`, whatever the operator. */
const conditionValues = (s: PolicyStatement, key: string): readonly string[] =>
  Object.values(s.Condition ?? {}).flatMap((keys) => (keys[key] === undefined ? [] : list(keys[key])));

const READ = /^[a-z0-9-]+:(Describe|List|Get)[A-Za-z]*$/;

// ---------------------------------------------------------------------------------------------

describe("iamPolicy: the shape of the documents", () => {
  it.each(ROLES)("%s: a valid IAM policy: Version, and every statement an Allow with a unique Sid, sorted actions and resources", (role) => {
    const policy = policies[role];
    expect(policy.Version).toBe("2012-10-17");
    expect(policy.Statement.length).toBeGreaterThan(0);
    const sids = policy.Statement.map((s) => s.Sid);
    expect(new Set(sids).size).toBe(sids.length);
    for (const s of policy.Statement) {
      expect(Object.keys(s).filter((k) => !["Sid", "Effect", "Action", "Resource", "Condition"].includes(k))).toEqual([]);
      expect(s.Sid).toMatch(/^[A-Za-z0-9]+$/);
      expect(s.Effect).toBe("Allow");
      expect(s.Action.length).toBeGreaterThan(0);
      for (const a of s.Action) expect(a).toMatch(/^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$/);
      expect([...s.Action]).toEqual([...new Set(s.Action)].sort());
      const resources = list(s.Resource);
      expect(resources.length).toBeGreaterThan(0);
      expect([...resources]).toEqual([...new Set(resources)].sort());
      for (const r of resources) expect(r === "*" || r.startsWith("arn:aws:")).toBe(true);
      if (s.Condition) {
        for (const keys of Object.values(s.Condition)) for (const values of Object.values(keys)) expect(list(values).length).toBeGreaterThan(0);
      }
    }
    // JSON round trip: nothing a file could not carry.
    expect(JSON.parse(JSON.stringify(policy))).toEqual(policy);
  });

  it("each role contains the one before: the same action on the same resources", () => {
    for (const [smaller, larger] of [["watch", "plan"], ["plan", "apply"]] as const) {
      for (const s of policies[smaller].Statement) {
        for (const action of s.Action) {
          for (const resource of list(s.Resource)) {
            const grant = granting(policies[larger], action, resource).filter((g) => JSON.stringify(g.Condition) === JSON.stringify(s.Condition));
            expect([smaller, larger, s.Sid, action, resource, grant.length > 0]).toEqual([smaller, larger, s.Sid, action, resource, true]);
          }
        }
      }
    }
  });

  it("watch only reads; plan writes nothing but its lock file; only apply changes anything", () => {
    for (const s of policies.watch.Statement) for (const a of s.Action) expect([s.Sid, a]).toEqual([s.Sid, expect.stringMatching(READ)]);
    for (const s of policies.plan.Statement) {
      for (const a of s.Action.filter((a) => !READ.test(a))) {
        expect([s.Sid, a, list(s.Resource).every((r) => r.endsWith(".tflock"))]).toEqual(["StateLocks", a, true]);
      }
    }
    expect([...actionsOf(policies.apply)].filter((a) => !READ.test(a)).length).toBeGreaterThan(40);
  });

  it("\"*\" without a condition only for reads AWS grants on \"*\" alone; writes on \"*\" carry a condition", () => {
    for (const s of policies.apply.Statement.filter((s) => s.Resource === "*")) {
      if (s.Condition === undefined) for (const a of s.Action) expect([s.Sid, a]).toEqual([s.Sid, expect.stringMatching(READ)]);
    }
    const unconditioned = policies.apply.Statement.filter((s) => s.Resource === "*" && !s.Condition).map((s) => s.Sid);
    expect(unconditioned).toEqual(["DescribeWithoutResourceLevelPermissions"]);
  });

  it("refuses an unknown role and no environments", () => {
    expect(() => iamPolicy(environments, "admin" as Role)).toThrow('"admin" is not a role');
    expect(() => iamPolicy([], "watch")).toThrow("no environments");
  });
});

// ---------------------------------------------------------------------------------------------

/** IAM's prefix for each SDK v3 client package the driver uses. */
const SERVICE_PREFIX: Record<string, string> = { ecs: "ecs", "auto-scaling": "autoscaling", ec2: "ec2", ssm: "ssm", sqs: "sqs", s3: "s3", sts: "sts", iam: "iam", lambda: "lambda", cloudwatch: "cloudwatch" };

/** Every SDK command (and paginator) the driver's code imports, as an IAM action, with the files importing it. */
function sdkCallsInScripts(): Map<string, string[]> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (relative(join(ROOT, "scripts"), path) !== "sim") walk(path);
      } else if (name.endsWith(".ts")) files.push(path);
    }
  };
  walk(join(ROOT, "scripts"));
  const calls = new Map<string, string[]>();
  for (const file of files) {
    const source = readFileSync(file, "utf8");
    for (const m of source.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*"@aws-sdk\/client-([a-z0-9-]+)"/g)) {
      const prefix = SERVICE_PREFIX[m[2]];
      if (prefix === undefined) throw new Error(`${relative(ROOT, file)} imports @aws-sdk/client-${m[2]}: add its IAM prefix to SERVICE_PREFIX`);
      for (const raw of m[1].split(",")) {
        const name = raw.trim().replace(/\s+as\s+\w+$/, "");
        if (name === "" || name.startsWith("type ")) continue;
        const operation = name.endsWith("Command") ? name.slice(0, -"Command".length) : name.startsWith("paginate") ? name.slice("paginate".length) : undefined;
        if (operation === undefined) continue;
        const action = `${prefix}:${operation}`;
        calls.set(action, [...(calls.get(action) ?? []), relative(ROOT, file)]);
      }
    }
  }
  return calls;
}

describe("the driver's own calls (SDK v3 commands in scripts/, the simulator aside)", () => {
  const calls = sdkCallsInScripts();

  it("finds the driver's calls", () => {
    expect(calls.get("ecs:UpdateContainerInstancesState")).toContain("scripts/fleet/drain.ts");
    expect(calls.has("autoscaling:DescribeAutoScalingGroups")).toBe(true);
    expect(calls.size).toBeGreaterThanOrEqual(10);
  });

  it("every command the code imports has its line in DRIVER_CALLS, and every line is a call the code makes", () => {
    const table = new Set(DRIVER_CALLS.map((c) => c.action));
    const missing = [...calls.keys()].filter((a) => !table.has(a)).map((a) => `${a} (${calls.get(a)!.join(", ")})`);
    expect(missing).toEqual([]);
    expect(DRIVER_CALLS.map((c) => c.action).filter((a) => !calls.has(a))).toEqual([]);
    expect(table.size).toBe(DRIVER_CALLS.length);
  });

  it("each call is in the policy of its role and of every larger one, and an apply call in no smaller one", () => {
    for (const call of DRIVER_CALLS) {
      for (const role of ROLES) {
        const inRole = actionsOf(policies[role]).has(call.action);
        const expected = ROLES.indexOf(role) >= ROLES.indexOf(call.role) || READ.test(call.action);
        expect([call.action, role, inRole]).toEqual([call.action, role, expected]);
      }
    }
    // Rebalance and the rollout's drain are apply's: a role that may only watch cannot force deployments.
    expect(DRIVER_CALLS.filter((c) => c.role === "watch").every((c) => READ.test(c.action))).toBe(true);
    expect(DRIVER_CALLS.filter((c) => c.role !== "watch").map((c) => c.action).sort()).toEqual(["autoscaling:ResumeProcesses", "autoscaling:SetDesiredCapacity", "autoscaling:SuspendProcesses", "autoscaling:TerminateInstanceInAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup", "ecs:PutClusterCapacityProviders", "ecs:StopTask", "ecs:UpdateContainerInstancesState", "ecs:UpdateService"]);
  });

  it("the fleet actions are scoped to the config's clusters", () => {
    const clusterArns = environments.flatMap((e) => e.clusters.map((c) => `arn:aws:ecs:${e.region}:*:cluster/${c.ecsClusterName}`)).sort();
    for (const action of ["ecs:UpdateService", "ecs:StopTask", "ecs:UpdateContainerInstancesState", "ecs:DescribeServices", "ecs:ListTasks"]) {
      const [s, ...more] = granting(policies.apply, action);
      expect(more).toEqual([]);
      expect(s.Resource).toBe("*");
      expect(s.Condition).toEqual({ ArnEquals: { "ecs:cluster": clusterArns } });
    }
    expect(granting(policies.watch, "ecs:ListContainerInstances")[0].Resource).toEqual(clusterArns);
    expect(granting(policies.watch, "ssm:GetParameters")[0].Resource).toBe(
      "arn:aws:ssm:eu-west-1:*:parameter/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended",
    );
  });
});

// ---------------------------------------------------------------------------------------------

/** Per resource type: what refreshes it (plan), creates and deletes it, and tags it on creation (apply). */
const LIFECYCLE: Record<string, { describe: string; create: string; delete: string; tag?: string }> = {
  aws_autoscaling_group: { describe: "autoscaling:DescribeAutoScalingGroups", create: "autoscaling:CreateAutoScalingGroup", delete: "autoscaling:DeleteAutoScalingGroup", tag: "autoscaling:CreateOrUpdateTags" },
  aws_cloudwatch_event_rule: { describe: "events:DescribeRule", create: "events:PutRule", delete: "events:DeleteRule", tag: "events:TagResource" },
  aws_cloudwatch_event_target: { describe: "events:ListTargetsByRule", create: "events:PutTargets", delete: "events:RemoveTargets" },
  aws_cloudwatch_log_group: { describe: "logs:DescribeLogGroups", create: "logs:CreateLogGroup", delete: "logs:DeleteLogGroup", tag: "logs:TagResource" },
  aws_cloudwatch_metric_alarm: { describe: "cloudwatch:DescribeAlarms", create: "cloudwatch:PutMetricAlarm", delete: "cloudwatch:DeleteAlarms", tag: "cloudwatch:TagResource" },
  aws_ecs_cluster: { describe: "ecs:DescribeClusters", create: "ecs:CreateCluster", delete: "ecs:DeleteCluster", tag: "ecs:TagResource" },
  aws_ecs_capacity_provider: { describe: "ecs:DescribeCapacityProviders", create: "ecs:CreateCapacityProvider", delete: "ecs:DeleteCapacityProvider", tag: "ecs:TagResource" },
  aws_ecs_cluster_capacity_providers: { describe: "ecs:DescribeClusters", create: "ecs:PutClusterCapacityProviders", delete: "ecs:PutClusterCapacityProviders" },
  aws_iam_instance_profile: { describe: "iam:GetInstanceProfile", create: "iam:CreateInstanceProfile", delete: "iam:DeleteInstanceProfile", tag: "iam:TagInstanceProfile" },
  aws_iam_role: { describe: "iam:GetRole", create: "iam:CreateRole", delete: "iam:DeleteRole", tag: "iam:TagRole" },
  aws_iam_role_policy: { describe: "iam:GetRolePolicy", create: "iam:PutRolePolicy", delete: "iam:DeleteRolePolicy" },
  aws_iam_role_policy_attachment: { describe: "iam:ListAttachedRolePolicies", create: "iam:AttachRolePolicy", delete: "iam:DetachRolePolicy" },
  aws_lambda_event_source_mapping: { describe: "lambda:GetEventSourceMapping", create: "lambda:CreateEventSourceMapping", delete: "lambda:DeleteEventSourceMapping", tag: "lambda:TagResource" },
  aws_lambda_function: { describe: "lambda:GetFunction", create: "lambda:CreateFunction", delete: "lambda:DeleteFunction", tag: "lambda:TagResource" },
  aws_lambda_function_event_invoke_config: { describe: "lambda:GetFunctionEventInvokeConfig", create: "lambda:PutFunctionEventInvokeConfig", delete: "lambda:DeleteFunctionEventInvokeConfig" },
  aws_lambda_permission: { describe: "lambda:GetPolicy", create: "lambda:AddPermission", delete: "lambda:RemovePermission" },
  aws_launch_template: { describe: "ec2:DescribeLaunchTemplates", create: "ec2:CreateLaunchTemplate", delete: "ec2:DeleteLaunchTemplate", tag: "ec2:CreateTags" },
  aws_security_group: { describe: "ec2:DescribeSecurityGroups", create: "ec2:CreateSecurityGroup", delete: "ec2:DeleteSecurityGroup", tag: "ec2:CreateTags" },
  aws_sqs_queue: { describe: "sqs:GetQueueAttributes", create: "sqs:CreateQueue", delete: "sqs:DeleteQueue", tag: "sqs:TagQueue" },
  aws_vpc_security_group_egress_rule: { describe: "ec2:DescribeSecurityGroupRules", create: "ec2:AuthorizeSecurityGroupEgress", delete: "ec2:RevokeSecurityGroupEgress", tag: "ec2:CreateTags" },
};

type Stack = { resource: Record<string, Record<string, Record<string, any>>>; data?: Record<string, unknown>; terraform: { backend: { s3: Record<string, any> } } };

/** This repository's stacks, production in the middle of a blue-green roll (two generations) with capacity providers. */
function synthesizedStacks(): { env: Environment; stack: Stack }[] {
  const dir = mkdtempSync(join(tmpdir(), "amiroll-iam-"));
  const pins = JSON.parse(readFileSync(REPO_PINS_PATH, "utf8"));
  pins.production.apps.retiring = { imageId: "ami-0aaaaaaaaaaaaaaaa" };
  const pinsPath = join(dir, "amis.json");
  writeFileSync(pinsPath, JSON.stringify(pins));
  const withProviders = environments.map((e) => (e.name === "production" ? { ...e, clusters: e.clusters.map((c) => ({ ...c, capacityProviders: true })) } : e));
  const { stacks } = synthesizeRepo({ outdir: join(dir, "out"), pinsPath, environments: withProviders });
  return stacks.map((s) => ({ env: environments.find((e) => e.name === s.name)!, stack: JSON.parse(readFileSync(s.file, "utf8")) }));
}

describe("terraform over the synthesized stacks", () => {
  const stacks = synthesizedStacks();
  const types = [...new Set(stacks.flatMap(({ stack }) => Object.keys(stack.resource)))].sort();
  const byType = (type: string) => stacks.flatMap(({ env, stack }) => Object.values(stack.resource[type] ?? {}).map((body) => ({ env, body })));

  it("every resource type of the stacks has its policy lines; every line is a type the stacks hold", () => {
    expect(types.filter((t) => !(t in TERRAFORM_RESOURCES))).toEqual([]);
    expect(types.filter((t) => !(t in LIFECYCLE))).toEqual([]);
    expect(Object.keys(TERRAFORM_RESOURCES).filter((t) => !types.includes(t))).toEqual([]);
    const dataSources = [...new Set(stacks.flatMap(({ stack }) => Object.keys(stack.data ?? {})))];
    expect(dataSources.filter((d) => !(d in TERRAFORM_DATA_SOURCES))).toEqual([]);
    expect(byType("aws_autoscaling_group").length).toBe(3);
  });

  it.each(Object.keys(LIFECYCLE))("%s: plan can refresh it; apply can create, tag and delete it; plan cannot", (type) => {
    const { describe: read, create, delete: remove, tag } = LIFECYCLE[type];
    expect(actionsOf(policies.plan).has(read)).toBe(true);
    for (const action of [create, remove, ...(tag ? [tag] : [])]) {
      expect([action, actionsOf(policies.apply).has(action)]).toEqual([action, true]);
      expect([action, actionsOf(policies.plan).has(action)]).toEqual([action, false]);
    }
  });

  it("every named resource is inside the statements that create, tag and delete it", () => {
    const covered = (action: string, resource: string) => expect([action, resource, granting(policies.apply, action, resource).length]).toEqual([action, resource, 1]);
    const lifecycle = (type: string, resource: string) => {
      const { create, delete: remove, tag } = LIFECYCLE[type];
      for (const action of [create, remove, ...(tag ? [tag] : [])]) covered(action, resource);
    };
    const a = (env: Environment, service: string, rest: string) => `arn:aws:${service}:${env.region}:123456789012:${rest}`;
    for (const { env, body } of byType("aws_ecs_cluster")) lifecycle("aws_ecs_cluster", a(env, "ecs", `cluster/${body.name}`));
    for (const { env, body } of byType("aws_ecs_capacity_provider")) lifecycle("aws_ecs_capacity_provider", a(env, "ecs", `capacity-provider/${body.name}`));
    expect(byType("aws_ecs_capacity_provider")).toHaveLength(2);
    for (const { env } of byType("aws_ecs_cluster_capacity_providers")) covered("ecs:PutClusterCapacityProviders", a(env, "ecs", "cluster/production-apps"));
    for (const { env, body } of byType("aws_autoscaling_group")) {
      lifecycle("aws_autoscaling_group", a(env, "autoscaling", `autoScalingGroup:0f5c1e2a-1111-2222-3333-444455556666:autoScalingGroupName/${body.name}`));
      covered("autoscaling:PutLifecycleHook", a(env, "autoscaling", `autoScalingGroup:0f5c1e2a-1111-2222-3333-444455556666:autoScalingGroupName/${body.name}`));
      // The group is created in the config's subnets.
      for (const subnet of body.vpc_zone_identifier) covered("ec2:RunInstances", a(env, "ec2", `subnet/${subnet}`));
    }
    for (const { env, body } of byType("aws_cloudwatch_metric_alarm")) lifecycle("aws_cloudwatch_metric_alarm", a(env, "cloudwatch", `alarm:${body.alarm_name}`));
    for (const { body } of byType("aws_iam_role")) {
      lifecycle("aws_iam_role", `arn:aws:iam::123456789012:role/${body.name}`);
      covered("iam:PassRole", `arn:aws:iam::123456789012:role/${body.name}`);
    }
    for (const { body } of byType("aws_iam_instance_profile")) lifecycle("aws_iam_instance_profile", `arn:aws:iam::123456789012:instance-profile/${body.name}`);
    for (const { env, body } of byType("aws_lambda_function")) {
      lifecycle("aws_lambda_function", a(env, "lambda", `function:${body.function_name}`));
      lifecycle("aws_lambda_permission", a(env, "lambda", `function:${body.function_name}`));
      lifecycle("aws_lambda_function_event_invoke_config", a(env, "lambda", `function:${body.function_name}`));
    }
    for (const { env, body } of byType("aws_sqs_queue")) lifecycle("aws_sqs_queue", a(env, "sqs", body.name));
    for (const { env, body } of byType("aws_cloudwatch_event_rule")) {
      lifecycle("aws_cloudwatch_event_rule", a(env, "events", `rule/${body.name}`));
      lifecycle("aws_cloudwatch_event_target", a(env, "events", `rule/${body.name}`));
    }
    for (const { env, body } of byType("aws_cloudwatch_log_group")) {
      lifecycle("aws_cloudwatch_log_group", a(env, "logs", `log-group:${body.name}:*`));
      covered("logs:ListTagsForResource", a(env, "logs", `log-group:${body.name}`));
    }
    for (const { env, body } of byType("aws_security_group")) covered("ec2:CreateSecurityGroup", a(env, "ec2", `vpc/${body.vpc_id}`));
  });

  it("what is known only by id is owned by tag: the stacks' tags are the ones the policy asks for", () => {
    const [ownTemplates] = policies.apply.Statement.filter((s) => s.Sid === "OwnLaunchTemplates");
    for (const { body } of byType("aws_launch_template")) expect(conditionValues(ownTemplates, "aws:ResourceTag/amiroll:cluster")).toContain(body.tags["amiroll:cluster"]);
    const [ownGroups] = policies.apply.Statement.filter((s) => s.Sid === "OwnSecurityGroups");
    for (const { body } of byType("aws_security_group")) expect(conditionValues(ownGroups, "aws:ResourceTag/amiroll:environment")).toContain(body.tags["amiroll:environment"]);
    const [managed] = policies.apply.Statement.filter((s) => s.Sid === "InstanceRoleManagedPolicies");
    for (const { body } of byType("aws_iam_role_policy_attachment")) {
      const policyArn = String(body.policy_arn).replace(/\$\{data\.aws_partition\.[^}]+\}/, "aws");
      expect(conditionValues(managed, "iam:PolicyARN")).toContain(policyArn);
    }
  });

  it("the S3 state: plan reads the state and takes the lock file; apply writes the state", () => {
    for (const { stack } of stacks) {
      const { bucket, key, use_lockfile: lockfile } = stack.terraform.backend.s3;
      expect(lockfile).toBe(true);
      const state = `arn:aws:s3:::${bucket}/${key}`;
      const [list] = granting(policies.plan, "s3:ListBucket", `arn:aws:s3:::${bucket}`);
      expect(conditionValues(list, "s3:prefix")).toContain(key);
      expect(granting(policies.plan, "s3:GetObject", state).length).toBe(1);
      expect(granting(policies.plan, "s3:PutObject", state)).toEqual([]);
      expect(granting(policies.apply, "s3:PutObject", state).length).toBe(1);
      for (const action of ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]) expect(granting(policies.plan, action, `${state}.tflock`).length).toBe(1);
      expect(granting(policies.apply, "s3:DeleteObject", state)).toEqual([]);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("scoping to the config", () => {
  it("one environment's policy names only its clusters, bucket keys, VPC and subnets", () => {
    const staging = environments.filter((e) => e.name === "staging");
    const text = JSON.stringify(iamPolicy(staging, "apply"));
    expect(text).toContain("staging-apps");
    expect(text).toContain("amiroll/staging/terraform.tfstate");
    expect(text).not.toMatch(/production/);
    expect(text).toContain(environments[0].vpcId);
    expect(text).not.toContain(environments[1].vpcId);
  });

  it("with accountId, every ARN names the account (AWS's public SSM parameters and images have none)", () => {
    const raw = structuredClone(ENVIRONMENTS_CONFIG) as any;
    for (const env of Object.values(raw) as any[]) env.accountId = "123456789012";
    const pinned = loadEnvironments(raw);
    expect(environmentsWithoutAccount(pinned)).toEqual([]);
    expect(environmentsWithoutAccount(environments)).toEqual(["staging", "production"]);
    const arns = iamPolicy(pinned, "apply").Statement.flatMap((s) => [...list(s.Resource), ...Object.values(s.Condition ?? {}).flatMap((k) => Object.values(k).flatMap(list))]).filter((r) => r.startsWith("arn:"));
    const accounts = new Set(arns.map((r) => r.split(":")[4]).filter((account) => account !== "123456789012"));
    expect([...accounts].sort()).toEqual(["", "*", "aws"]);
    expect(arns.filter((r) => r.split(":")[4] === "*").every((r) => r.includes(":parameter/aws/service/"))).toBe(true);
    expect(arns.filter((r) => r.split(":")[4] === "").every((r) => r.startsWith("arn:aws:s3:::") || r.endsWith(":image/*"))).toBe(true);
    expect(arns.filter((r) => r.split(":")[4] === "aws").every((r) => r.startsWith("arn:aws:iam::aws:policy/"))).toBe(true);
  });

  it("other partitions: China and GovCloud regions", () => {
    const raw = structuredClone(ENVIRONMENTS_CONFIG) as any;
    raw.staging.region = "cn-north-1";
    raw.staging.subnets = [{ id: "subnet-0a1b2c3d4e5f60001", availabilityZone: "cn-north-1a" }];
    const staging = loadEnvironments({ staging: raw.staging });
    const arns = iamPolicy(staging, "apply").Statement.flatMap((s) => list(s.Resource)).filter((r) => r !== "*");
    expect(arns.every((r) => r.startsWith("arn:aws-cn:"))).toBe(true);
    expect(["us-gov-west-1", "eu-west-1", "us-iso-east-1"].map(partitionOf)).toEqual(["aws-us-gov", "aws", "aws-iso"]);
  });

  it("the watch and plan policies fit a managed policy; apply fits a role's inline policies for this config", () => {
    expect(policySize(policies.watch)).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
    expect(policySize(policies.plan)).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
    expect(policySize(policies.apply)).toBeLessThanOrEqual(10240);
  });
});

// ---------------------------------------------------------------------------------------------

describe("amiroll iam-policy", () => {
  it("--role watch: the watch policy on stdout; a warning that the config has no accountId", async () => {
    const result = await amirollInProcess(["iam-policy", "--role", "watch"]);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(iamPolicy(environments, "watch"));
    expect(result.stderr.trim().split("\n")).toEqual([
      "warning: staging, production have no accountId in stacks/amiroll.json: the policy's ARNs use * for the account (set accountId to pin them)",
    ]);
  });

  it("without --role: the three policies keyed by role; --env narrows to an environment", async () => {
    const all = await amirollInProcess(["iam-policy"]);
    expect(all.status).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual(iamPolicies(environments));
    expect(all.stderr).toMatch(/warning: the apply policy is \d+ characters, more than the 6144 IAM allows a managed policy/);
    const staging = await amirollInProcess(["iam-policy", "--role", "plan", "--env", "staging"]);
    expect(staging.status).toBe(0);
    expect(JSON.parse(staging.stdout)).toEqual(iamPolicy(environments.filter((e) => e.name === "staging"), "plan"));
  });

  it("bad input is exit 2 with one line: an unknown role, an unknown environment", async () => {
    const role = await amirollInProcess(["iam-policy", "--role", "nonsense"]);
    expect(role.status).toBe(2);
    expect(role.stdout).toBe("");
    expect(role.stderr.trim().split("\n")).toEqual(['amiroll: --role: "nonsense" is not a role (expected watch, plan or apply)']);
    const env = await amirollInProcess(["iam-policy", "--role", "apply", "--env", "nope"]);
    expect(env.status).toBe(2);
    expect(errorLines(env.stderr)).toEqual(['amiroll: --env: no such environment "nope" (known: staging, production)']);
  });

  it("is a pure printout: loads neither the AWS SDK nor cdktf", () => {
    const r = modulesLoadedBy(["iam-policy", "--role", "apply", "--config", "stacks/amiroll.json"], /node_modules[\\/](@aws-sdk|cdktf|@cdktf|constructs)[\\/]/);
    expect([r.code, r.heavy]).toEqual([0, []]);
    expect(JSON.parse(r.stdout).Statement.length).toBeGreaterThan(20);
  });
});

describe("docs/iam.md", () => {
  const doc = readFileSync(join(ROOT, "docs/iam.md"), "utf8");

  it("its sample is what the code prints for this repository's watch role", () => {
    const sample = doc.slice(doc.indexOf("## Sample")).match(/```json\n([\s\S]*?)```/)![1];
    expect(JSON.parse(sample)).toEqual(iamPolicy(environments, "watch"));
  });

  it("names every statement, and every action granted on \"*\" without a condition", () => {
    for (const s of policies.apply.Statement) expect(doc).toContain(`| \`${s.Sid}\` |`);
    const [unscoped] = policies.apply.Statement.filter((s) => s.Sid === "DescribeWithoutResourceLevelPermissions");
    for (const a of unscoped.Action) expect(doc).toContain(`\`${a}\``);
  });
});
