/**
 * The one file that imports @cdktf/provider-aws.
 *
 * Deep paths only: the package's barrel loads all ~2,200 resource modules (synth ~10 s and
 * ~750 MB instead of ~2 s and ~120 MB, and every jest file pays for it). Keeping every provider
 * import here also means a move to CDK Terrain (`@cdktn/provider-aws`) is this file plus
 * package.json.
 */
export { AwsProvider } from "@cdktf/provider-aws/lib/provider";
export { AutoscalingGroup } from "@cdktf/provider-aws/lib/autoscaling-group";
export type { AutoscalingGroupInitialLifecycleHook } from "@cdktf/provider-aws/lib/autoscaling-group";
export { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
export { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
export { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
export { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
export { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
export { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
export { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
export { DataAwsSsmParameter } from "@cdktf/provider-aws/lib/data-aws-ssm-parameter";
export { EcsCapacityProvider } from "@cdktf/provider-aws/lib/ecs-capacity-provider";
export { EcsCluster as EcsClusterResource } from "@cdktf/provider-aws/lib/ecs-cluster";
export { EcsClusterCapacityProviders } from "@cdktf/provider-aws/lib/ecs-cluster-capacity-providers";
export { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
export { IamRole } from "@cdktf/provider-aws/lib/iam-role";
export { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
export { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
export { LambdaEventSourceMapping } from "@cdktf/provider-aws/lib/lambda-event-source-mapping";
export { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
export { LambdaFunctionEventInvokeConfig } from "@cdktf/provider-aws/lib/lambda-function-event-invoke-config";
export { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
export { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
export { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
export { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
export { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
export { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
