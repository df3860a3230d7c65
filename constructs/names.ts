/**
 * Names and defaults that the constructs give their resources and that the driver and the
 * simulator must find again. Their own module, so the driver can use them without loading cdktf.
 */

/** A generation's Auto Scaling group name: derived from the AMI, so a new image means a new group. */
export function generationAsgName(clusterName: string, imageId: string): string {
  return `${clusterName}-${imageId}`;
}

/** What every generation's group name of a cluster starts with (AMI ids start with "ami-"). */
export function generationAsgNamePrefix(clusterName: string): string {
  return generationAsgName(clusterName, "ami-");
}

/** The options' defaults (the simulator seeds its hooks with them too). */
export const DRAIN_HOOK_DEFAULTS = {
  heartbeatTimeout: "5m",
  defaultResult: "CONTINUE",
  maxDrainTime: "1h",
  recheckInterval: "30s",
  logRetentionDays: 30,
} as const;

/** The hook's name, and its Lambda's, role's and rule's: one per cluster. */
export function drainHookName(clusterName: string): string {
  return `${clusterName}-drain-hook`;
}
