/**
 * The named scenarios of the simulated AWS, as data: the CLI lists them in `--scenario`'s help
 * without loading the simulator (scenarios.ts builds the worlds from them).
 */
import type { Scenario } from "./scenarios";

export const SCENARIOS = {
  healthy: { description: "everything works: instances boot, tasks move, services stay healthy" },
  "broken-ami": { description: "tasks on the new AMI crash 45 s after they start", newAmiBroken: true },
  alarm: { description: "tasks run on the new AMI, but each cluster's error-rate alarm (<cluster>-error-rate) goes to ALARM 2 minutes after they start", errorRateAlarm: true },
  throttling: { description: "a quarter of all API calls are throttled (the SDK retries them)", behaviour: { throttleRate: 0.25 } },
  "slow-drain": { description: "tasks take 5 minutes to stop (long SIGTERM handling)", behaviour: { taskStopSeconds: 300 } },
  "az-outage": { description: "the first zone has no capacity for new instances", zoneOutage: true },
  imbalanced: { description: "services start with their tasks bunched in the first zone", imbalanced: true },
  "hook-faults": { description: "a quarter of the drain hook's invocations throw (Lambda and SQS retry them)", hookFaultRate: 0.25 },
  "boot-failure": { description: "a fifth of new instances never register with ECS", behaviour: { bootFailureRate: 0.2 } },
  "ssm-missing": { description: "the clusters' SSM parameters do not exist (status and bump fail, exit 2)", parameter: "missing" },
  "ssm-malformed": { description: "the clusters' SSM parameters hold broken JSON (status and bump fail, exit 2)", parameter: "malformed" },
  "ami-deregistered": { description: "the newest image the SSM parameter names has been deregistered (bump refuses it)", latestImage: "deregistered" },
  "ami-wrong-architecture": { description: "the newest image is built for the other CPU architecture (bump refuses it)", latestImage: "wrong-architecture" },
  "first-deploy": { description: "nothing is deployed yet: no ECS cluster, capacity or service, and terraform's state is empty (the first apply creates it all)", neverDeployed: true },
} as const satisfies Record<string, Scenario>;

export type ScenarioName = keyof typeof SCENARIOS;

export function isScenarioName(name: string): name is ScenarioName {
  return Object.hasOwn(SCENARIOS, name);
}
