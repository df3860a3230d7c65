import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { capacityProviderName } from "./names";
import { type AutoscalingGroupInitialLifecycleHook, AutoscalingGroup, CloudwatchMetricAlarm, EcsCapacityProvider, LaunchTemplate } from "./aws";

/** Tag keys amiroll puts on every generation's instances and volumes (the driver reads them). */
export const TAG_CLUSTER = "amiroll:cluster";
export const TAG_GENERATION = "amiroll:generation";
export const TAG_AMI = "amiroll:ami";
/** The tag ECS requires on a capacity provider's group (and its instances). */
export const TAG_ECS_MANAGED = "AmazonECSManaged";
/** Managed scaling's target: the share of the provider's instances ECS keeps in use (100 = no spare instance). */
export const CAPACITY_PROVIDER_TARGET_CAPACITY = 100;

export interface CapacityGenerationProps {
  /** The ECS cluster the instances join. */
  readonly clusterName: string;
  /** The image this generation runs (an AMI id, or a token read from SSM at plan time). */
  readonly imageId: string;
  /**
   * The Auto Scaling group's name. Derived from the AMI by EcsCluster, so that a new image
   * means a new group (created before the old one goes).
   */
  readonly asgName: string;
  readonly instanceType: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  readonly instanceProfileArn: string;
  /** Plain-text user data (base64-encoded here). */
  readonly userData: string;
  readonly minSize: number;
  readonly maxSize: number;
  /** Desired capacity at creation; afterwards left to scaling (terraform ignores it). */
  readonly desiredCapacity: number;
  /** @default 1 */
  readonly metadataHopLimit?: number;
  /** @default 30 */
  readonly rootVolumeSizeGiB?: number;
  /** @default "/dev/xvda" (the root device of the ECS-optimized Amazon Linux images) */
  readonly rootDeviceName?: string;
  /** @default 300 */
  readonly healthCheckGracePeriodSeconds?: number;
  /** @default "10m" */
  readonly waitForCapacityTimeout?: string;
  /** Actions (e.g. SNS topic ARNs) of the low-instance alarm. @default none */
  readonly alarmActions?: readonly string[];
  /** The low-instance alarm fires below this many InService instances. @default minSize */
  readonly lowInstanceThreshold?: number;
  /** Minutes the group may sit below its minimum before the alarm fires. @default 5 */
  readonly lowInstanceAlarmMinutes?: number;
  /** Tags for the launch template, its instances and volumes, and the group. @default {} */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * Lifecycle hooks created with the group (e.g. the drain hook). Part of the group itself, so
   * a hook lives exactly as long as its group: a separate hook resource would be deleted first.
   * @default none
   */
  readonly lifecycleHooks?: readonly AutoscalingGroupInitialLifecycleHook[];
  /** How long terraform waits for the group's instances to go when deleting it. @default "10m" */
  readonly deleteTimeout?: string;
  /** What the group needs to exist while it is created and deleted (e.g. the drain hook's Lambda). @default none */
  readonly dependsOn?: readonly ITerraformDependable[];
  /**
   * The group keeps its name and address across images (the refresh strategy): a new image
   * updates the launch template in place (a new version) and the group's template version, and
   * nothing else. The image then shows only on the launch template (its instances' tags
   * included), not on the group's or the alarm's tags.
   * @default false
   */
  readonly inPlaceImage?: boolean;
  /**
   * An ECS capacity provider for the group, named like the group (capacityProviderName): managed
   * scaling on (target CAPACITY_PROVIDER_TARGET_CAPACITY), managed termination protection and
   * managed draining on. The group then protects new instances from scale-in (which managed
   * termination protection needs) and carries the AmazonECSManaged tag.
   * @default false
   */
  readonly capacityProvider?: boolean;
}

export { capacityProviderName };

/**
 * One capacity generation: a launch template and an Auto Scaling group running one AMI, plus an
 * alarm when the group holds fewer InService instances than its minimum.
 *
 * Everything is create_before_destroy: when the AMI (and so the group name) changes at the same
 * construct path, terraform plans the group as ["create","delete"] and the new instances are
 * in service before the old group is deleted.
 */
export class CapacityGeneration extends Construct {
  readonly launchTemplate: LaunchTemplate;
  readonly autoScalingGroup: AutoscalingGroup;
  readonly lowInstanceAlarm: CloudwatchMetricAlarm;
  /** Present with `capacityProvider`. */
  readonly capacityProvider?: EcsCapacityProvider;

  constructor(scope: Construct, id: string, props: CapacityGenerationProps) {
    super(scope, id);
    const groupTags: Record<string, string> = {
      ...props.tags,
      [TAG_CLUSTER]: props.clusterName,
      [TAG_GENERATION]: props.asgName,
      ...(!props.inPlaceImage && { [TAG_AMI]: props.imageId }),
    };
    const tags: Record<string, string> = { ...groupTags, [TAG_AMI]: props.imageId };
    const instanceTags = { Name: props.asgName, ...tags };
    const groupInstanceTags = { Name: props.asgName, ...groupTags };

    this.launchTemplate = new LaunchTemplate(this, "launch_template", {
      namePrefix: `${props.asgName}-`,
      description: `ECS capacity of ${props.clusterName} on ${props.imageId} (amiroll)`,
      imageId: props.imageId,
      instanceType: props.instanceType,
      iamInstanceProfile: { arn: props.instanceProfileArn },
      vpcSecurityGroupIds: [...props.securityGroupIds],
      userData: Buffer.from(props.userData, "utf8").toString("base64"),
      metadataOptions: {
        httpEndpoint: "enabled",
        httpTokens: "required",
        httpPutResponseHopLimit: props.metadataHopLimit ?? 1,
      },
      blockDeviceMappings: [
        {
          deviceName: props.rootDeviceName ?? "/dev/xvda",
          ebs: {
            volumeSize: props.rootVolumeSizeGiB ?? 30,
            volumeType: "gp3",
            encrypted: "true",
            deleteOnTermination: "true",
          },
        },
      ],
      monitoring: { enabled: true },
      updateDefaultVersion: true,
      tagSpecifications: [
        { resourceType: "instance", tags: instanceTags },
        { resourceType: "volume", tags: instanceTags },
      ],
      tags,
      lifecycle: { createBeforeDestroy: true },
    });

    this.autoScalingGroup = new AutoscalingGroup(this, "asg", {
      name: props.asgName,
      vpcZoneIdentifier: [...props.subnetIds],
      minSize: props.minSize,
      maxSize: props.maxSize,
      desiredCapacity: props.desiredCapacity,
      launchTemplate: { id: this.launchTemplate.id, version: `${this.launchTemplate.latestVersion}` },
      healthCheckType: "EC2",
      healthCheckGracePeriod: props.healthCheckGracePeriodSeconds ?? 300,
      waitForCapacityTimeout: props.waitForCapacityTimeout ?? "10m",
      // The alarm below reads GroupInServiceInstances; the driver reads the rest.
      enabledMetrics: ["GroupInServiceInstances", "GroupDesiredCapacity", "GroupTerminatingInstances"],
      metricsGranularity: "1Minute",
      tag: Object.entries({ ...groupInstanceTags, ...(props.capacityProvider && { [TAG_ECS_MANAGED]: "true" }) }).map(([key, value]) => ({
        key,
        value,
        propagateAtLaunch: true,
      })),
      // Managed termination protection needs every instance protected from scale-in; ECS lifts
      // the protection of an instance once it runs no task.
      protectFromScaleIn: props.capacityProvider ? true : undefined,
      initialLifecycleHook: props.lifecycleHooks ? [...props.lifecycleHooks] : undefined,
      timeouts: props.deleteTimeout ? { delete: props.deleteTimeout } : undefined,
      dependsOn: props.dependsOn ? [...props.dependsOn] : undefined,
      lifecycle: { createBeforeDestroy: true, ignoreChanges: ["desired_capacity"] },
    });

    const minutes = props.lowInstanceAlarmMinutes ?? 5;
    this.lowInstanceAlarm = new CloudwatchMetricAlarm(this, "low_instances", {
      alarmName: `${props.asgName}-low-instances`,
      alarmDescription: `${props.asgName} has fewer InService instances than its minimum (${props.lowInstanceThreshold ?? props.minSize})`,
      namespace: "AWS/AutoScaling",
      metricName: "GroupInServiceInstances",
      dimensions: { AutoScalingGroupName: this.autoScalingGroup.name },
      statistic: "Minimum",
      period: 60,
      evaluationPeriods: minutes,
      comparisonOperator: "LessThanThreshold",
      threshold: props.lowInstanceThreshold ?? props.minSize,
      treatMissingData: "missing",
      alarmActions: props.alarmActions ? [...props.alarmActions] : undefined,
      tags: groupTags,
      lifecycle: { createBeforeDestroy: true },
    });

    if (props.capacityProvider) {
      this.capacityProvider = new EcsCapacityProvider(this, "capacity_provider", {
        name: capacityProviderName(props.asgName),
        autoScalingGroupProvider: {
          autoScalingGroupArn: this.autoScalingGroup.arn,
          managedScaling: { status: "ENABLED", targetCapacity: CAPACITY_PROVIDER_TARGET_CAPACITY },
          managedTerminationProtection: "ENABLED",
          managedDraining: "ENABLED",
        },
        tags: groupTags,
        lifecycle: { createBeforeDestroy: true },
      });
    }
  }
}
