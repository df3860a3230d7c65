import { ConfigError } from "../../stacks/config-input";
import {
  ENVIRONMENTS_CONFIG,
  ENVIRONMENTS_FILE,
  findEnvironment,
  loadEnvironments,
} from "../../stacks/environments";

/** A deep copy of the example config, changed by `edit`. */
function configWith(edit: (c: any) => void): unknown {
  const copy = structuredClone(ENVIRONMENTS_CONFIG) as any;
  edit(copy);
  return copy;
}

function errorOf(raw: unknown): ConfigError {
  try {
    loadEnvironments(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("the config was accepted");
}

describe("the example environments", () => {
  const envs = loadEnvironments(ENVIRONMENTS_CONFIG);

  it("has staging (replace, 2 zones, 2 instances) and production (blue-green, 3 zones, 4 instances)", () => {
    const staging = findEnvironment(envs, "staging");
    const production = findEnvironment(envs, "production");
    expect(staging.clusters).toEqual([expect.objectContaining({ name: "apps", ecsClusterName: "staging-apps", strategy: "replace", desiredCapacity: 2 })]);
    expect(new Set(staging.subnets.map((s) => s.availabilityZone)).size).toBe(2);
    expect(production.promotesFrom).toBe("staging");
    expect(production.clusters).toEqual([expect.objectContaining({ name: "apps", strategy: "blue-green", desiredCapacity: 4 })]);
    expect(new Set(production.subnets.map((s) => s.availabilityZone)).size).toBe(3);
  });

  it("gives each environment its own state key, encrypted in the shared bucket", () => {
    expect(envs.map((e) => e.backend.key)).toEqual(["amiroll/staging/terraform.tfstate", "amiroll/production/terraform.tfstate"]);
  });

  it("defaults the AMI parameter to Amazon Linux 2023 of the instance type's architecture", () => {
    expect(findEnvironment(envs, "staging").clusters[0].amiParameter).toBe(
      "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended",
    );
    const x86 = loadEnvironments(configWith((c) => (c.staging.clusters.apps.instanceType = "m7i.large")));
    expect(x86[0].clusters[0].amiParameter).toBe("/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended");
  });

  it("defaults the strategy to blue-green where an environment promotes from another", () => {
    const envs2 = loadEnvironments(configWith((c) => {
      delete c.staging.strategy;
      delete c.production.strategy;
    }));
    expect(envs2.map((e) => e.clusters[0].strategy)).toEqual(["replace", "blue-green"]);
  });

  it("names the known environments when asked for one that does not exist", () => {
    expect(() => findEnvironment(envs, "prod")).toThrow("prod: no such environment (known: staging, production)");
  });
});

describe("every bad config is refused with the field at fault", () => {
  it.each<[string, string, (c: any) => void]>([
    ["environment name", "Staging", (c) => ((c.Staging = c.staging), delete c.staging)],
    ["region", "staging.region", (c) => (c.staging.region = "Ireland")],
    ["account id", "staging.accountId", (c) => (c.staging.accountId = "1234")],
    ["missing backend", "staging.backend", (c) => delete c.staging.backend],
    ["bucket name", "staging.backend.bucket", (c) => (c.staging.backend.bucket = "Bad_Bucket")],
    ["key prefix", "staging.backend.keyPrefix", (c) => (c.staging.backend.keyPrefix = "/state/")],
    ["vpc id", "staging.vpcId", (c) => (c.staging.vpcId = "vpc-123")],
    ["no subnets", "staging.subnets", (c) => (c.staging.subnets = [])],
    ["subnet id", "staging.subnets[1].id", (c) => (c.staging.subnets[1].id = "subnet-ZZ")],
    ["zone format", "staging.subnets[0].availabilityZone", (c) => (c.staging.subnets[0].availabilityZone = "a")],
    ["zone outside the region", "staging.subnets[0].availabilityZone", (c) => (c.staging.subnets[0].availabilityZone = "us-east-1a")],
    ["duplicate subnet", "production.subnets[2].id", (c) => (c.production.subnets[2].id = c.production.subnets[0].id)],
    ["production in one zone", "production.subnets", (c) => (c.production.subnets = [c.production.subnets[0]])],
    ["strategy", "staging.strategy", (c) => (c.staging.strategy = "canary")],
    ["unknown promotesFrom", "production.promotesFrom", (c) => (c.production.promotesFrom = "stage")],
    ["promotion loop", "staging.promotesFrom", (c) => (c.staging.promotesFrom = "production")],
    ["no clusters", "staging.clusters", (c) => (c.staging.clusters = {})],
    ["cluster name", "staging.clusters.Apps", (c) => (c.staging.clusters = { Apps: c.staging.clusters.apps })],
    ["instance type", "staging.clusters.apps.instanceType", (c) => (c.staging.clusters.apps.instanceType = "large")],
    ["min above max", "staging.clusters.apps.minSize", (c) => (c.staging.clusters.apps.minSize = 9)],
    ["desired outside min..max", "staging.clusters.apps.desiredCapacity", (c) => (c.staging.clusters.apps.desiredCapacity = 7)],
    ["size not a number", "production.clusters.apps.maxSize", (c) => (c.production.clusters.apps.maxSize = "8")],
    ["parameter path", "staging.clusters.apps.amiParameter", (c) => (c.staging.clusters.apps.amiParameter = "amazon-linux-2023")],
    ["architecture mismatch", "staging.clusters.apps.amiParameter", (c) => (c.staging.clusters.apps.amiParameter = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended")],
    ["typo in a field", "staging.clusters.apps.instancetype", (c) => (c.staging.clusters.apps.instancetype = "m7g.large")],
    ["tag value", "staging.tags.team", (c) => (c.staging.tags.team = 3)],
    ["ECS cluster name too long", "staging.clusters.a-very-long-cluster-name-xyz", (c) => (c.staging.clusters["a-very-long-cluster-name-xyz"] = c.staging.clusters.apps)],
    ["not an object", "staging", (c) => (c.staging = "eu-west-1")],
  ])("%s -> %s", (_what, field, edit) => {
    const error = errorOf(configWith(edit));
    expect(error.file).toBe(ENVIRONMENTS_FILE);
    expect(error.field).toBe(field);
    expect(error.message.startsWith(`${ENVIRONMENTS_FILE}: ${field}: `)).toBe(true);
    expect(error.message).not.toContain("\n");
  });

  it("an empty config", () => {
    expect(errorOf({}).message).toBe(`${ENVIRONMENTS_FILE}: (top level): no environments are defined`);
  });
});
