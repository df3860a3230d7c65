/**
 * ECS's own Availability Zone rebalancing (`availabilityZoneRebalancing` on a service, since
 * 2024; ENABLED by default for services created since mid-2025, except those that binpack):
 * read for every replica service of a cluster (DescribeServices, 10 a call) and reported beside
 * the balance, and, on request, turned on for the services that spread over zones (UpdateService
 * `availabilityZoneRebalancing: ENABLED`, which starts no deployment). A service that binpacks, or
 * does not spread over `attribute:ecs.availability-zone`, is never changed: ECS does not rebalance
 * it, and its tasks are packed on purpose.
 */
import { DescribeServicesCommand, type ECSClient, UpdateServiceCommand } from "@aws-sdk/client-ecs";
import type { BalanceReport } from "./balance";

/** ENABLED, DISABLED, or unknown (DescribeServices did not say: a service that never had it set is DISABLED to ECS). */
export type AzRebalancingSetting = "ENABLED" | "DISABLED" | "unknown";

export interface ServiceAzRebalancing {
  readonly service: string;
  readonly setting: AzRebalancingSetting;
  /** Spreads over zones (its placement strategy): the services it can be turned on for. */
  readonly spread: boolean;
  /** Set by `enableAzRebalancing`: turned on now, would be (a dry run), or why not. */
  readonly enabled?: "now" | "would" | "refused";
  readonly error?: string;
}

const message = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** Each replica service's setting, in the report's order; `unknown` for one DescribeServices did not answer. */
export async function readAzRebalancing(ecs: Pick<ECSClient, "send">, cluster: string, report: BalanceReport): Promise<ServiceAzRebalancing[]> {
  const names = report.services.map((s) => s.service);
  const settings = new Map<string, string | undefined>();
  for (let i = 0; i < names.length; i += 10) {
    const out = await ecs.send(new DescribeServicesCommand({ cluster, services: names.slice(i, i + 10) }));
    for (const s of out.services ?? []) if (s.serviceName) settings.set(s.serviceName, s.availabilityZoneRebalancing);
  }
  return report.services.map((s) => {
    const value = settings.get(s.service);
    return { service: s.service, setting: value === "ENABLED" || value === "DISABLED" ? value : value === undefined && settings.has(s.service) ? "DISABLED" : "unknown", spread: s.checks.zones };
  });
}

/**
 * Turns it on for every spread service that has it off (never a binpack one); a dry run changes
 * nothing. A refusal is reported on that service, not thrown.
 */
export async function enableAzRebalancing(
  ecs: Pick<ECSClient, "send">,
  cluster: string,
  services: readonly ServiceAzRebalancing[],
  options: { dryRun?: boolean } = {},
): Promise<ServiceAzRebalancing[]> {
  const out: ServiceAzRebalancing[] = [];
  for (const s of services) {
    if (!s.spread || s.setting === "ENABLED") {
      out.push(s);
      continue;
    }
    if (options.dryRun) {
      out.push({ ...s, enabled: "would" });
      continue;
    }
    try {
      await ecs.send(new UpdateServiceCommand({ cluster, service: s.service, availabilityZoneRebalancing: "ENABLED" }));
      out.push({ ...s, setting: "ENABLED", enabled: "now" });
    } catch (error) {
      out.push({ ...s, enabled: "refused", error: message(error) });
    }
  }
  return out;
}

/** One line per cluster: "apps: ECS AZ rebalancing: api ENABLED (turned on now), web DISABLED, worker DISABLED (binpack: never changed)". */
export function azRebalancingText(cluster: string, services: readonly ServiceAzRebalancing[]): string {
  const one = (s: ServiceAzRebalancing) => {
    const note =
      s.enabled === "now" ? " (turned on now)"
      : s.enabled === "would" ? " (would be turned on)"
      : s.enabled === "refused" ? ` (could not be turned on: ${s.error})`
      : !s.spread ? " (does not spread over zones: never changed)"
      : "";
    return `${s.service} ${s.setting}${note}`;
  };
  return `${cluster}: ECS AZ rebalancing: ${services.length === 0 ? "no replica services" : services.map(one).join(", ")}`;
}
