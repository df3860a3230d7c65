import { Testing } from "cdktf";
import type { Construct } from "constructs";
import { AwsProvider } from "../../constructs/aws";
import { EcsCluster, type EcsClusterProps } from "../../constructs/ecs-cluster";

/** Props of a valid two-zone cluster; tests override what they look at. */
export const BASE_PROPS: EcsClusterProps = {
  clusterName: "test-apps",
  vpcId: "vpc-0123456789abcdef0",
  subnets: [
    { subnetId: "subnet-0000000000000000a", availabilityZone: "eu-west-1a" },
    { subnetId: "subnet-0000000000000000b", availabilityZone: "eu-west-1b" },
  ],
  instanceType: "m7g.large",
  minSize: 2,
  maxSize: 4,
  amis: { current: { imageId: "ami-0aaaaaaaaaaaaaaaa" } },
};

/** Synthesizes one EcsCluster and returns the scope's Terraform JSON (as a string, for matchers). */
export function synthCluster(overrides: Partial<EcsClusterProps> = {}): string {
  return Testing.synthScope((scope: Construct) => {
    new AwsProvider(scope, "aws", { region: "eu-west-1" });
    new EcsCluster(scope, "apps", { ...BASE_PROPS, ...overrides });
  });
}

type Resources = Record<string, Record<string, Record<string, any>>>;

/** The resources of a synthesized JSON string, by type then logical id. */
export function resources(json: string): Resources {
  return (JSON.parse(json).resource ?? {}) as Resources;
}

/** The bodies of every resource of one type. */
export function allOf(json: string, type: string): Record<string, any>[] {
  return Object.values(resources(json)[type] ?? {});
}

/** The single resource of a type (fails the test if there is not exactly one). */
export function onlyOne(json: string, type: string): Record<string, any> {
  const found = allOf(json, type);
  if (found.length !== 1) throw new Error(`expected exactly one ${type}, found ${found.length}`);
  return found[0];
}
