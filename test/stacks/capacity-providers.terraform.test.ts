/**
 * A stack with `capacityProviders` through real terraform, offline (init -plugin-dir, validate,
 * and `terraform test` with a mock provider) of a stack mid blue-green roll, with two generations.
 * Skipped, with the reason, where terraform or the provider mirror is absent.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type Environment } from "../../scripts/config/environments";
import { type Pins, readPins } from "../../scripts/config/pins";
import { type SharedProvider, findTerraform, startSharedProvider, terraformAsync } from "../support/terraform";
import { REPO_PINS_PATH, loadEnvironments, synthesizeRepo } from "../support/repo-config";

const setup = findTerraform();
if (!setup.ok) console.warn(`terraform tests skipped: ${setup.reason}`);
const describeTerraform = setup.ok ? describe : describe.skip;
const suffix = setup.ok ? "" : ` (skipped: ${setup.reason})`;
const tf = setup as Extract<typeof setup, { ok: true }>;

/** The repository's environments with production's cluster on capacity providers (production is blue-green). */
const environments: Environment[] = loadEnvironments().map((e) =>
  e.name === "production" ? { ...e, clusters: e.clusters.map((c) => ({ ...c, capacityProviders: true })) } : e,
);
const pins = readPins(REPO_PINS_PATH, environments);
const NEW_AMI = "ami-0123456789abcdef0";
/**
 * Mid-roll only: its stack holds every resource type of a one-generation stack, and each init,
 * validate or test costs seconds of CPU (a one-generation set is the constructs tests' case).
 */
const CASES: { label: string; pins: Pins; images: string[]; validate?: false }[] = [
  {
    label: "mid blue-green roll",
    pins: { ...pins, production: { apps: { current: { imageId: NEW_AMI }, retiring: pins.production.apps.current } } },
    images: [NEW_AMI, pins.production.apps.current.imageId],
  },
];

describeTerraform(`terraform validate and test of a stack with capacity providers${suffix}`, () => {
  let provider: SharedProvider | undefined;
  const results: Record<string, Promise<{ validate: Result; test: Result }>> = {};

  beforeAll(async () => {
    provider = await startSharedProvider(tf.pluginDir);
    const run = (dir: string, args: string[]) => terraformAsync(tf, dir, args, provider?.env);
    for (const c of CASES) {
      results[c.label] = (async () => {
        const stackFile = synthesize(c.pins);
        const dir = dirname(stackFile);
        const init = await run(dir, ["init", "-backend=false", `-plugin-dir=${tf.pluginDir}`, "-input=false"]);
        if (init.status !== 0) throw new Error(`terraform init failed:\n${init.output}`);
        const validate = c.validate === false ? { status: 0, output: "The configuration is valid (not validated: see the mid-roll case)" } : await run(dir, ["validate"]);
        writeFileSync(join(dir, "capacity.tftest.hcl"), tftest(JSON.parse(readFileSync(stackFile, "utf8")), c.images));
        return { validate, test: await run(dir, ["test"]) };
      })();
      results[c.label].catch(() => undefined);
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(Object.values(results));
    await provider?.stop();
  });

  it.each(CASES.filter((c) => c.validate !== false))("$label: terraform validate passes", async ({ label }) => {
    const { validate } = await results[label];
    expect(validate.output).toContain("The configuration is valid");
    expect(validate.status).toBe(0);
  }, 120_000);

  it.each(CASES)("$label: terraform test with a mock provider passes (providers, set, default strategy)", async ({ label }) => {
    const { test } = await results[label];
    expect(test.output).toMatch(/Success! 1 passed, 0 failed/);
    expect(test.status).toBe(0);
  }, 120_000);
});

type Result = { status: number; output: string };

function synthesize(casePins: Pins): string {
  const dir = mkdtempSync(join(tmpdir(), "amiroll-tf-cp-"));
  const pinsPath = join(dir, "amis.json");
  writeFileSync(pinsPath, JSON.stringify(casePins));
  return synthesizeRepo({ outdir: join(dir, "out"), pinsPath, environments }).stacks.find((s) => s.name === "production")!.file;
}

/** A plan run asserting each provider's settings, the groups' scale-in protection and the cluster's set and default. */
function tftest(stack: any, images: string[]): string {
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
${asserts.join("\n")}
}
`;
}
