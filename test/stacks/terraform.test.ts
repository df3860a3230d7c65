/**
 * The synthesized stacks through real terraform, offline: `init -backend=false -plugin-dir`,
 * `validate`, and `terraform test` with `mock_provider "aws"` asserting the key attributes
 * against what the environments config and the pins say. Skipped, with the reason in the test
 * name and on the console, where terraform or the provider mirror is absent.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ENVIRONMENTS_CONFIG, type Environment, loadEnvironments } from "../../stacks/environments";
import { synthesize } from "../../stacks/main";
import { DEFAULT_PINS_PATH, type Pins, readPins } from "../../stacks/pins";
import { findTerraform, terraform } from "../support/terraform";

const setup = findTerraform();
const environments = loadEnvironments(ENVIRONMENTS_CONFIG);
const pins = readPins(DEFAULT_PINS_PATH, environments);

if (!setup.ok) console.warn(`terraform tests skipped: ${setup.reason}`);
const describeTerraform = setup.ok ? describe : describe.skip;
const suffix = setup.ok ? "" : ` (skipped: ${setup.reason})`;
// describe.skip still collects the tests (so they show as skipped, with the reason); only
// their hooks and bodies, which use `tf`, do not run.
const tf = setup as Extract<typeof setup, { ok: true }>;

describeTerraform(`terraform validate and terraform test on the synthesized stacks${suffix}`, () => {
  const stackFiles: Record<string, string> = {};

  beforeAll(() => {
    const result = synthesize({ outdir: mkdtempSync(join(tmpdir(), "amiroll-tf-")) });
    for (const stack of result.stacks) {
      stackFiles[stack.name] = stack.file;
      const init = terraform(tf, dirname(stack.file), ["init", "-backend=false", `-plugin-dir=${tf.pluginDir}`, "-input=false"]);
      if (init.status !== 0) throw new Error(`terraform init of ${stack.name} failed:\n${init.output}`);
    }
  }, 120_000);

  it.each(environments.map((e) => e.name))("%s: terraform validate passes", (name) => {
    const result = terraform(tf, dirname(stackFiles[name]), ["validate"]);
    expect(result.output).toContain("The configuration is valid");
    expect(result.status).toBe(0);
  }, 60_000);

  it.each(environments.map((e) => [e.name, e] as const))("%s: terraform test with a mock provider passes", (name, env) => {
    const dir = dirname(stackFiles[name]);
    writeFileSync(join(dir, "amiroll.tftest.hcl"), tftest(JSON.parse(readFileSync(stackFiles[name], "utf8")), env, pins));
    const result = terraform(tf, dir, ["test"]);
    expect(result.output).toMatch(/Success! 2 passed, 0 failed/);
    expect(result.status).toBe(0);
  }, 120_000);

  it("terraform test fails when the stack does not run the pinned image (the assertions bite)", () => {
    const staging = environments.find((e) => e.name === "staging")!;
    const wrongPins: Pins = { ...pins, staging: { apps: { current: { imageId: "ami-0123456789abcdef0" } } } };
    const dir = dirname(stackFiles.staging);
    writeFileSync(join(dir, "amiroll.tftest.hcl"), tftest(JSON.parse(readFileSync(stackFiles.staging, "utf8")), staging, wrongPins));
    const result = terraform(tf, dir, ["test"]);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/must run the\s+pinned image ami-0123456789abcdef0/);
  }, 120_000);
});

/**
 * A terraform test file for one synthesized stack: a plan run asserting the key attributes of
 * every launch template, group and cluster, and an apply run (mocked) asserting the outputs.
 */
function tftest(stack: any, env: Environment, allPins: Pins): string {
  const asserts: string[] = [];
  const assert = (condition: string, message: string) =>
    asserts.push(`  assert {\n    condition     = ${condition}\n    error_message = ${JSON.stringify(message)}\n  }`);
  const addresses = (type: string) => Object.keys(stack.resource[type] ?? {}).map((name) => `${type}.${name}`);

  for (const cluster of env.clusters) {
    const amis = allPins[env.name][cluster.name];
    const images = [amis.current, amis.retiring].filter((p) => p !== undefined).map((p) => p.imageId);
    const launchTemplates = addresses("aws_launch_template");
    const groups = addresses("aws_autoscaling_group");
    assert(`length([${launchTemplates.join(", ")}]) == ${images.length}`, `${env.name}: one launch template per generation`);
    launchTemplates.forEach((lt, i) => {
      assert(`${lt}.image_id == "${images[i]}"`, `${lt} must run the pinned image ${images[i]}`);
      assert(`${lt}.metadata_options[0].http_tokens == "required"`, `${lt} must require IMDSv2`);
      assert(`${lt}.block_device_mappings[0].ebs[0].encrypted == "true"`, `${lt} root volume must be encrypted`);
      assert(`${lt}.block_device_mappings[0].ebs[0].volume_type == "gp3"`, `${lt} root volume must be gp3`);
      assert(`${lt}.monitoring[0].enabled == true`, `${lt} must have detailed monitoring`);
    });
    groups.forEach((asg, i) => {
      assert(`${asg}.name == "${cluster.ecsClusterName}-${images[i]}"`, `${asg} must be named after its AMI`);
      assert(`${asg}.min_size == ${cluster.minSize} && ${asg}.max_size == ${cluster.maxSize}`, `${asg} sizes`);
      assert(`length(${asg}.vpc_zone_identifier) == ${env.subnets.length}`, `${asg} must span every subnet`);
    });
    for (const ecs of addresses("aws_ecs_cluster")) {
      assert(`${ecs}.name == "${cluster.ecsClusterName}"`, `${ecs} name`);
      assert(`one([for s in ${ecs}.setting : s.value if s.name == "containerInsights"]) == "enabled"`, `${ecs} must have Container Insights`);
    }
  }
  const planAsserts = asserts.splice(0);
  for (const cluster of env.clusters) {
    assert(`output.amiroll_clusters.${cluster.name}.cluster_name == "${cluster.ecsClusterName}"`, "output cluster_name");
    assert(`output.amiroll_clusters.${cluster.name}.generations[0].role == "current"`, "output generations[0] is current");
    assert(
      `output.amiroll_clusters.${cluster.name}.generations[0].asg_name == "${cluster.ecsClusterName}-${allPins[env.name][cluster.name].current.imageId}"`,
      "output asg_name",
    );
  }
  return `# Generated by test/stacks/terraform.test.ts for the ${env.name} stack.
mock_provider "aws" {
  # Values the provider checks the shape of; random mock strings would fail its validation.
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_iam_instance_profile" {
    defaults = { arn = "arn:aws:iam::123456789012:instance-profile/mock" }
  }
  mock_resource "aws_launch_template" {
    defaults = { id = "lt-0123456789abcdef0", latest_version = 1 }
  }
  mock_resource "aws_security_group" {
    defaults = { id = "sg-0123456789abcdef0" }
  }
}

run "plan" {
  command = plan
${planAsserts.join("\n")}
}

run "apply" {
  command = apply
${asserts.join("\n")}
}
`;
}
