/**
 * The large simulated fleet the benches roll and watch: one environment over 3 zones with
 * `clusters` clusters of `instancesPerCluster` Graviton instances each, blue-green.
 */
import type { Environment } from "../scripts/config/environments";

/** The image the benches move to. */
export const NEW_AMI = "ami-0123456789abcdef0";

const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

/** Clusters are named `fleet0`, `fleet1`, ... (ECS: `bench-fleet0`, ...), or `fleet` when there is one. */
export function fleetEnvironment(clusters: number, instancesPerCluster: number): Environment {
  return {
    name: "bench",
    region: "eu-west-1",
    backend: { bucket: "bench", key: "bench", region: "eu-west-1" },
    vpcId: "vpc-0123456789abcdef0",
    subnets: ZONES.map((az, i) => ({ id: `subnet-0000000000000000${i}`, availabilityZone: az })),
    tags: {},
    maintenanceWindows: [],
    smoke: [],
    soakMs: 0,
    rebalance: false,
    clusters: Array.from({ length: clusters }, (_, i) => {
      const name = clusters === 1 ? "fleet" : `fleet${i}`;
      return {
        name,
        ecsClusterName: `bench-${name}`,
        instanceType: "m7g.xlarge",
        minSize: instancesPerCluster,
        maxSize: 2 * instancesPerCluster,
        desiredCapacity: instancesPerCluster,
        amiParameter: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended",
        strategy: "blue-green" as const,
        bootGracePeriodMs: 300_000,
      };
    }),
  };
}
