import { S3Backend, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { ClusterAmis } from "./ami";
import { AwsProvider } from "./aws";
import { type CapacityStrategy, EcsCluster } from "./ecs-cluster";
import { CLUSTERS_OUTPUT } from "./outputs";
import type { RefreshOptions } from "./refresh";

export { CLUSTERS_OUTPUT };

/** A cluster of an environment, as the stack needs it (amiroll/config's loaded `Cluster` is one). */
export interface ClusterSpec {
  /** The short name within its environment, e.g. `apps` (the key of its pins). */
  readonly name: string;
  /** The ECS cluster's name. */
  readonly ecsClusterName: string;
  readonly instanceType: string;
  readonly minSize: number;
  readonly maxSize: number;
  readonly desiredCapacity: number;
  readonly strategy: CapacityStrategy;
  /** The refresh strategy's batches. @default EcsCluster's */
  readonly refresh?: RefreshOptions;
  /** The canary slice's instances (replace: its canary group; blue-green: the new generation's first size). @default EcsCluster's */
  readonly canaryInstances?: number;
  /** An ECS capacity provider per generation (EcsCluster's capacityProviders). @default false */
  readonly capacityProviders?: boolean;
}

/** An environment, as the stack needs it (amiroll/config's loaded `Environment` is one). */
export interface EnvironmentSpec {
  /** The stack's name (its directory under `stacks/` of the synthesized output). */
  readonly name: string;
  readonly region: string;
  /** Terraform refuses credentials of any other account. @default any account */
  readonly accountId?: string;
  /** The S3 state backend (with S3-native locking). */
  readonly backend: { readonly bucket: string; readonly key: string; readonly region: string };
  readonly vpcId: string;
  readonly subnets: readonly { readonly id: string; readonly availabilityZone: string }[];
  /** Tags of every cluster's resources. */
  readonly tags: Readonly<Record<string, string>>;
  readonly clusters: readonly ClusterSpec[];
}

export interface EnvironmentStackProps {
  readonly environment: EnvironmentSpec;
  /** The pins of this environment's clusters, by cluster name. */
  readonly pins: Readonly<Record<string, ClusterAmis>>;
}

/** One environment: its state backend, its AWS provider, and its clusters. */
export class EnvironmentStack extends TerraformStack {
  readonly clusters: readonly EcsCluster[];

  constructor(scope: Construct, props: EnvironmentStackProps) {
    const env = props.environment;
    super(scope, env.name);

    new S3Backend(this, {
      bucket: env.backend.bucket,
      key: env.backend.key,
      region: env.backend.region,
      encrypt: true,
    });
    // S3-native state locking (terraform >= 1.10); cdktf 0.21's S3Backend has no field for it.
    this.addOverride("terraform.backend.s3.use_lockfile", true);

    new AwsProvider(this, "aws", {
      region: env.region,
      allowedAccountIds: env.accountId ? [env.accountId] : undefined,
      defaultTags: [{ tags: { "managed-by": "amiroll" } }],
    });
    // Environment tags go to the clusters, not to default_tags: ASGs propagate only their own
    // tags to instances, and a key in both places makes a perpetual diff on some resources.
    const tags = { ...env.tags, "amiroll:environment": env.name };

    this.clusters = env.clusters.map(
      (cluster) =>
        new EcsCluster(this, cluster.name, {
          clusterName: cluster.ecsClusterName,
          vpcId: env.vpcId,
          subnets: env.subnets.map((s) => ({ subnetId: s.id, availabilityZone: s.availabilityZone })),
          instanceType: cluster.instanceType,
          minSize: cluster.minSize,
          maxSize: cluster.maxSize,
          desiredCapacity: cluster.desiredCapacity,
          strategy: cluster.strategy,
          ...(cluster.refresh && { refresh: cluster.refresh }),
          ...(cluster.canaryInstances !== undefined && { canaryInstances: cluster.canaryInstances }),
          ...(cluster.capacityProviders && { capacityProviders: true }),
          amis: props.pins[cluster.name],
          tags,
        }),
    );

    new TerraformOutput(this, CLUSTERS_OUTPUT, {
      description: "amiroll: per cluster, the ECS cluster and its capacity generations",
      value: Object.fromEntries(
        env.clusters.map((cluster, i) => {
          const built = this.clusters[i];
          const pinned = props.pins[cluster.name];
          // The image's name, for PR comments: a plan then shows which release it rolls to and from.
          const imageName = (imageId: string) =>
            [pinned?.current, pinned?.retiring].find((p) => p?.imageId === imageId)?.imageName;
          return [
            cluster.name,
            {
              cluster_name: built.cluster.name,
              cluster_arn: built.cluster.arn,
              strategy: built.strategy,
              generations: built.generations.map((g) => ({
                role: g.role,
                image_id: g.imageId,
                // cdktf cannot write null into an output; a pin without a name leaves the key out.
                ...(imageName(g.imageId) !== undefined && { image_name: imageName(g.imageId) }),
                asg_name: g.capacity.autoScalingGroup.name,
              })),
            },
          ];
        }),
      ),
    });
  }
}
