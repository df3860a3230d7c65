/**
 * The synthesized stacks through real terraform, offline: `init -backend=false -plugin-dir`,
 * `validate`, and `terraform test` with `mock_provider "aws"` asserting the key attributes
 * against what the environments config and the pins say. Skipped, with the reason in the test
 * name and on the console, where terraform or the provider mirror is absent.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type Environment } from "../../scripts/config/environments";
import { findEnvironment } from "../../scripts/config/file";

import { type Pins, readPins } from "../../scripts/config/pins";
import { type SharedProvider, findTerraform, startSharedProvider, terraformAsync } from "../support/terraform";
import { REPO_PINS_PATH, loadEnvironments, synthesizeRepo } from "../support/repo-config";

const setup = findTerraform();
const environments = loadEnvironments();
const pins = readPins(REPO_PINS_PATH, environments);

if (!setup.ok) console.warn(`terraform tests skipped: ${setup.reason}`);
const describeTerraform = setup.ok ? describe : describe.skip;
const suffix = setup.ok ? "" : ` (skipped: ${setup.reason})`;
// describe.skip still collects the tests (so they show as skipped, with the reason); only
// their hooks and bodies, which use `tf`, do not run.
const tf = setup as Extract<typeof setup, { ok: true }>;

/** The repository's pins, and the same mid-way through a blue-green roll of production. */
const MID_ROLL: Pins = {
  ...pins,
  production: { apps: { current: { imageId: "ami-0123456789abcdef0" }, retiring: pins.production.apps.current } },
};
/** The repository's environments with staging on the refresh strategy (one group that keeps its name). */
const REFRESHING: Environment[] = environments.map((e) =>
  e.name === "staging" ? { ...e, clusters: e.clusters.map((c) => ({ ...c, strategy: "refresh" as const, refresh: { batch: 1 } })) } : e,
);
/** Production with a canary slice of 1 instance (issue 20.2): its new generation starts at the slice's size. */
const SLICED: Environment[] = environments.map((e) =>
  e.name === "production" ? { ...e, clusters: e.clusters.map((c) => ({ ...c, canary: { instances: 1, soakMs: 120_000, text: "1 instance" }, canaryInstances: 1 })) } : e,
);
/** Production's cluster on capacity providers (issue 20.3; production is blue-green). */
const WITH_PROVIDERS: Environment[] = environments.map((e) =>
  e.name === "production" ? { ...e, clusters: e.clusters.map((c) => ({ ...c, capacityProviders: true })) } : e,
);

interface Case {
  readonly label: string;
  /** Its stack's module directory and test file's name: `cases/<slug>`, `<slug>.tftest.hcl`. */
  readonly slug: string;
  readonly env: string;
  /** The pins synthesized; `expected`, the pins its terraform test asserts (the same unless said). */
  readonly pins: Pins;
  readonly expected?: Pins;
  readonly environments?: Environment[];
  /** The test file's assertions: the generic ones (`tftest`) unless given. */
  readonly tftest?: (stack: any, module: string) => string;
  /** false where another case's stack holds the same resource types and arguments. */
  readonly validate?: false;
  /** The test should fail, with this message: the assertions bite. */
  readonly fails?: RegExp;
}

/**
 * Every stack goes through one `terraform init`, one `validate` and one `terraform test`: each
 * command decodes the provider's whole schema (about a second of CPU) whatever it checks. The
 * stacks are modules of one root (`cases/<slug>`): validate checks the root's calls of those
 * marked validated; each case's test file runs its stack as the root module (`run { module }`)
 * with a mock provider of its own. Production's one generation is the mid-roll stack's, and a
 * canary slice changes only the new generation's sizes: not validated again. Staging's stack,
 * this very one, is validated by test/terraform/runner.test.ts through TerraformCli (its real
 * init, validate and plan).
 */
const CASES: Case[] = [
  { label: "staging", slug: "staging", env: "staging", pins, validate: false },
  { label: "production", slug: "production", env: "production", pins, validate: false },
  { label: "production mid blue-green roll (two generations)", slug: "mid_roll", env: "production", pins: MID_ROLL },
  { label: "staging on the refresh strategy", slug: "refresh", env: "staging", pins, environments: REFRESHING },
  { label: "production mid blue-green roll with a canary slice (the new generation at 1)", slug: "canary_slice", env: "production", pins: MID_ROLL, environments: SLICED, validate: false },
  {
    label: "production mid blue-green roll on capacity providers (providers, set, default strategy)",
    slug: "capacity_providers",
    env: "production",
    pins: MID_ROLL,
    environments: WITH_PROVIDERS,
    tftest: (stack, module) => capacityTftest(stack, module, [MID_ROLL.production.apps.current.imageId, MID_ROLL.production.apps.retiring!.imageId]),
  },
  {
    // The staging stack tested against pins it does not run.
    label: "staging against pins it does not run",
    slug: "wrong_pins",
    env: "staging",
    pins,
    expected: { ...pins, staging: { apps: { current: { imageId: "ami-0123456789abcdef0" } } } },
    validate: false,
    fails: /staging\/apps must run the\s+pinned\s+images\s+ami-0123456789abcdef0/,
  },
];

describeTerraform(`terraform validate and terraform test on the synthesized stacks${suffix}`, () => {
  /** One provider for every command of this file (each would otherwise start its own). */
  let provider: SharedProvider | undefined;
  let validate: Promise<TerraformResult>;
  let test: Promise<TerraformResult>;

  beforeAll(async () => {
    provider = await startSharedProvider(tf.pluginDir);
    const root = mkdtempSync(join(tmpdir(), "amiroll-tf-"));
    mkdirSync(join(root, "cases"));
    for (const c of CASES) {
      const stackFile = synthesize(c.env, c.pins, c.environments);
      renameSync(dirname(stackFile), join(root, "cases", c.slug));
      const stack = JSON.parse(readFileSync(join(root, "cases", c.slug, "cdk.tf.json"), "utf8"));
      const module = `./cases/${c.slug}`;
      const file = c.tftest ? c.tftest(stack, module) : tftest(stack, module, findEnvironment(c.environments ?? environments, c.env), c.expected ?? c.pins);
      writeFileSync(join(root, `${c.slug}.tftest.hcl`), file);
    }
    const calls = Object.fromEntries(CASES.filter((c) => c.validate !== false).map((c) => [c.slug, { source: `./cases/${c.slug}` }]));
    writeFileSync(join(root, "main.tf.json"), JSON.stringify({ module: calls }, null, 2));
    const run = (args: string[]) => terraformAsync(tf, root, args, provider?.env);
    const init = run(["init", "-backend=false", `-plugin-dir=${tf.pluginDir}`, "-input=false"]).then((r) => {
      if (r.status !== 0) throw new Error(`terraform init failed:\n${r.output}`);
    });
    validate = init.then(() => run(["validate"]));
    test = init.then(() => run(["test"]));
    // Each is awaited by its tests; none may go unhandled meanwhile.
    for (const r of [validate, test]) r.catch(() => undefined);
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([validate, test]);
    await provider?.stop();
  });

  it.each(CASES.filter((c) => c.validate !== false))("$label: terraform validate passes", async ({ slug }) => {
    const result = await validate;
    expect(result.output).toContain("The configuration is valid");
    expect(result.output).not.toMatch(new RegExp(`Error: [^]*cases/${slug}/`));
    expect(result.status).toBe(0);
  }, 120_000);

  it.each(CASES.filter((c) => !c.fails))("$label: terraform test with a mock provider passes", async ({ slug }) => {
    const result = testOf(await test, slug);
    expect(result.runs).toEqual({ plan: "pass", ...(slug !== "capacity_providers" && { apply: "pass" }) });
    expect(result.verdict).toBe("pass");
  }, 120_000);

  it.each(CASES.filter((c) => c.fails))("$label: terraform test fails, naming the images (the assertions bite)", async ({ slug, fails }) => {
    const result = await test;
    expect(testOf(result, slug).verdict).toBe("fail");
    expect(result.output).toMatch(fails!);
    expect(result.status).not.toBe(0);
  }, 120_000);
});

type TerraformResult = { status: number; output: string; stdout: string };

/** One test file's outcome from `terraform test`'s progress lines: each run's and the file's. */
function testOf(result: TerraformResult, slug: string): { runs: Record<string, string>; verdict?: string } {
  const runs: Record<string, string> = {};
  let verdict: string | undefined;
  let current: string | undefined;
  for (const line of result.stdout.split("\n")) {
    const file = /^(\w+)\.tftest\.hcl\.\.\. (in progress|tearing down|pass|fail|skip)$/.exec(line);
    if (file) {
      current = file[1];
      if (current === slug && file[2] !== "in progress" && file[2] !== "tearing down") verdict = file[2];
      continue;
    }
    const run = /^ {2}run "(\w+)"\.\.\. (\w+)$/.exec(line);
    if (run && current === slug) runs[run[1]] = run[2];
  }
  return { runs, verdict };
}

/** The stack of environment `env` synthesized with `casePins` into a directory of its own; its file. */
function synthesize(env: string, casePins: Pins, caseEnvironments?: Environment[]): string {
  const dir = mkdtempSync(join(tmpdir(), "amiroll-tf-"));
  const pinsPath = join(dir, "amis.json");
  writeFileSync(pinsPath, JSON.stringify(casePins));
  return synthesizeRepo({ outdir: join(dir, "out"), pinsPath, environments: caseEnvironments }).stacks.find((s) => s.name === env)!.file;
}

/** A generation's group name as EcsCluster gives it (constructs/names.ts). */
function groupName(cluster: Environment["clusters"][number], imageId: string): string {
  return cluster.strategy === "refresh" ? `${cluster.ecsClusterName}-ami-refresh` : `${cluster.ecsClusterName}-${imageId}`;
}

/**
 * A terraform test file for one synthesized stack (the module at `module`): a plan run asserting
 * the key attributes of every launch template, group and cluster, and an apply run (mocked)
 * asserting the outputs.
 */
function tftest(stack: any, module: string, env: Environment, allPins: Pins): string {
  const asserts: string[] = [];
  const assert = (condition: string, message: string) =>
    asserts.push(`  assert {\n    condition     = ${condition}\n    error_message = ${JSON.stringify(message)}\n  }`);
  const addresses = (type: string) => Object.keys(stack.resource[type] ?? {}).map((name) => `${type}.${name}`);

  for (const cluster of env.clusters) {
    const amis = allPins[env.name][cluster.name];
    const images = [amis.current, amis.retiring].filter((p) => p !== undefined).map((p) => p.imageId);
    const launchTemplates = addresses("aws_launch_template");
    const groups = addresses("aws_autoscaling_group");
    const hcl = (values: readonly string[]) => `[${values.map((v) => JSON.stringify(v)).join(", ")}]`;
    // Order-free: blue-green generations are keyed by AMI, and JSON key order is not a contract.
    assert(
      `length([${launchTemplates.join(", ")}]) == ${images.length} && toset([${launchTemplates.map((lt) => `${lt}.image_id`).join(", ")}]) == toset(${hcl(images)})`,
      `${env.name}/${cluster.name} must run the pinned images ${images.join(", ")}`,
    );
    assert(
      `toset([${groups.map((asg) => `${asg}.name`).join(", ")}]) == toset(${hcl(images.map((i) => groupName(cluster, i)))})`,
      `${env.name}/${cluster.name}: one Auto Scaling group per generation, named after its AMI (a refresh group: one name for every AMI)`,
    );
    for (const lt of launchTemplates) {
      assert(`${lt}.metadata_options[0].http_tokens == "required"`, `${lt} must require IMDSv2`);
      assert(`${lt}.block_device_mappings[0].ebs[0].encrypted == "true"`, `${lt} root volume must be encrypted`);
      assert(`${lt}.block_device_mappings[0].ebs[0].volume_type == "gp3"`, `${lt} root volume must be gp3`);
      assert(`${lt}.monitoring[0].enabled == true`, `${lt} must have detailed monitoring`);
    }
    // A blue-green canary slice: the unverified new generation beside a retiring one starts at the slice's size.
    const sliced = cluster.strategy === "blue-green" && cluster.canaryInstances !== undefined && amis.retiring !== undefined && amis.current.verifiedAt === undefined;
    for (const asg of groups) {
      const slice = sliced && asg.includes(amis.current.imageId);
      const minSize = slice ? Math.min(cluster.minSize, cluster.canaryInstances!) : cluster.minSize;
      assert(`${asg}.min_size == ${minSize} && ${asg}.max_size == ${cluster.maxSize}${slice ? ` && ${asg}.desired_capacity == ${cluster.canaryInstances}` : ""}`, `${asg} sizes`);
      assert(`length(${asg}.vpc_zone_identifier) == ${env.subnets.length}`, `${asg} must span every subnet`);
      assert(
        `length([for h in ${asg}.initial_lifecycle_hook : h if h.lifecycle_transition == "autoscaling:EC2_INSTANCE_TERMINATING" && h.name == "${cluster.ecsClusterName}-drain-hook"]) == 1`,
        `${asg} must carry the drain hook`,
      );
    }
    for (const fn of addresses("aws_lambda_function")) {
      assert(`${fn}.runtime == "nodejs22.x" && ${fn}.handler == "index.handler"`, `${fn} runtime and handler`);
    }
    for (const ecs of addresses("aws_ecs_cluster")) {
      assert(`${ecs}.name == "${cluster.ecsClusterName}"`, `${ecs} name`);
      assert(`one([for s in ${ecs}.setting : s.value if s.name == "containerInsights"]) == "enabled"`, `${ecs} must have Container Insights`);
    }
  }
  const planAsserts = asserts.splice(0);
  // After the (mocked) apply the ARNs are known: the drain hook's IAM scope derived from them.
  for (const policy of addresses("aws_iam_role_policy")) {
    const statement = (sid: string) => `one([for s in jsondecode(${policy}.policy).Statement : s if s.Sid == "${sid}"])`;
    const cluster = env.clusters[0];
    assert(
      `${statement("Drain")}.Resource == "arn:aws:ecs:${env.region}:123456789012:container-instance/${cluster.ecsClusterName}/*"`,
      `${policy}: draining only this cluster's container instances`,
    );
    assert(
      `${statement("LifecycleActions")}.Resource == "arn:aws:autoscaling:${env.region}:123456789012:autoScalingGroup:*:autoScalingGroupName/${cluster.ecsClusterName}-ami-*"`,
      `${policy}: lifecycle actions only on this cluster's groups`,
    );
  }
  for (const cluster of env.clusters) {
    assert(`output.amiroll_clusters.${cluster.name}.cluster_name == "${cluster.ecsClusterName}"`, "output cluster_name");
    assert(`output.amiroll_clusters.${cluster.name}.generations[0].role == "current"`, "output generations[0] is current");
    assert(
      `output.amiroll_clusters.${cluster.name}.generations[0].asg_name == "${groupName(cluster, allPins[env.name][cluster.name].current.imageId)}"`,
      "output asg_name",
    );
  }
  return `# Generated by test/stacks/terraform.test.ts for the ${env.name} stack.
mock_provider "aws" {
${mockDefaults(env.region)}
}

run "plan" {
  command = plan
  module {
    source = "${module}"
  }
${planAsserts.join("\n")}
}

run "apply" {
  command = apply
  module {
    source = "${module}"
  }
${asserts.join("\n")}
}
`;
}

/**
 * Mock values for the attributes the provider checks the shape of (ARNs, ids); terraform's
 * random mock strings would fail its validation.
 */
function mockDefaults(region: string): string {
  const account = "123456789012";
  const arn = (service: string, resource: string, inRegion = true) => `arn:aws:${service}:${inRegion ? region : ""}:${account}:${resource}`;
  const defaults: Record<string, Record<string, string | number>> = {
    "data aws_partition": { partition: "aws" },
    aws_iam_instance_profile: { arn: arn("iam", "instance-profile/mock", false) },
    aws_iam_role: { arn: arn("iam", "role/mock", false) },
    aws_launch_template: { id: "lt-0123456789abcdef0", latest_version: 1 },
    aws_security_group: { id: "sg-0123456789abcdef0" },
    aws_ecs_cluster: { arn: arn("ecs", "cluster/mock") },
    aws_sqs_queue: { arn: arn("sqs", "mock"), url: `https://sqs.${region}.amazonaws.com/${account}/mock` },
    aws_cloudwatch_log_group: { arn: arn("logs", "log-group:mock") },
    aws_lambda_function: { arn: arn("lambda", "function:mock") },
    aws_cloudwatch_event_rule: { arn: arn("events", "rule/mock") },
  };
  return Object.entries(defaults)
    .map(([key, values]) => {
      const [kind, type] = key.startsWith("data ") ? ["mock_data", key.slice(5)] : ["mock_resource", key];
      const body = Object.entries(values).map(([name, value]) => `${name} = ${JSON.stringify(value)}`).join(", ");
      return `  ${kind} "${type}" {\n    defaults = { ${body} }\n  }`;
    })
    .join("\n");
}

/**
 * The capacity-providers case's test file (the module at `module`, generations of `images`): a plan
 * run asserting each provider's settings, the groups' scale-in protection and the cluster's set and
 * default.
 */
function capacityTftest(stack: any, module: string, images: string[]): string {
  const asserts: string[] = [];
  const assert = (condition: string, message: string) =>
    asserts.push(`  assert {\n    condition     = ${condition}\n    error_message = ${JSON.stringify(message)}\n  }`);
  const addresses = (type: string) => Object.keys(stack.resource[type] ?? {}).map((name) => `${type}.${name}`);
  const names = images.map((i) => `production-apps-${i}`);
  const providers = addresses("aws_ecs_capacity_provider");
  assert(`toset([${providers.map((p) => `${p}.name`).join(", ")}]) == toset(${JSON.stringify(names)})`, "one provider per generation, named like its group");
  for (const p of providers) {
    const asg = `${p}.auto_scaling_group_provider[0]`;
    assert(`${asg}.managed_draining == "ENABLED" && ${asg}.managed_termination_protection == "ENABLED"`, `${p}: managed draining and termination protection`);
    assert(`${asg}.managed_scaling[0].status == "ENABLED" && ${asg}.managed_scaling[0].target_capacity == 100`, `${p}: managed scaling`);
  }
  for (const g of addresses("aws_autoscaling_group")) {
    assert(`${g}.protect_from_scale_in == true`, `${g} protects its instances from scale-in`);
    assert(`length([for t in ${g}.tag : t if t.key == "AmazonECSManaged"]) == 1`, `${g} carries AmazonECSManaged`);
  }
  const [set] = addresses("aws_ecs_cluster_capacity_providers");
  assert(`toset(${set}.capacity_providers) == toset(${JSON.stringify(names)})`, "the cluster's set names every generation in service");
  assert(`one(${set}.default_capacity_provider_strategy).capacity_provider == ${JSON.stringify(names[0])}`, "the current generation is the default");
  return `mock_provider "aws" {
  mock_resource "aws_iam_instance_profile" {
    defaults = { arn = "arn:aws:iam::123456789012:instance-profile/mock" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_launch_template" {
    defaults = { id = "lt-0123456789abcdef0", latest_version = 1 }
  }
  mock_resource "aws_autoscaling_group" {
    defaults = { arn = "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:mock:autoScalingGroupName/mock" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

run "plan" {
  command = plan
  module {
    source = "${module}"
  }
${asserts.join("\n")}
}
`;
}
