/**
 * Smoke URLs in the simulated world: a URL of an environment's smoke checks answers the status
 * the check expects while every service of that environment has its desired count of healthy
 * tasks, and 503 otherwise (a broken image makes the services, and so the site, unhealthy).
 */
import type { Environment } from "../config/environments";
import type { HttpProbe } from "../rollout/smoke";
import type { World } from "./world";

export function simulatedProbe(environments: readonly { readonly environment: Environment; readonly world: World }[]): HttpProbe {
  return async (url) => {
    const owner = environments.find((e) => e.environment.smoke.some((c) => c.url === url));
    if (!owner) throw new Error(`DNS lookup failed for ${new URL(url).hostname} (not a smoke URL of the simulated environments)`);
    const { world, environment } = owner;
    const clusters = new Set(environment.clusters.map((c) => c.ecsClusterName));
    const healthy = [...world.services.values()]
      .filter((s) => clusters.has(s.clusterName) && s.schedulingStrategy === "REPLICA")
      .every((s) => [...world.tasks.values()].filter((t) => t.group === `service:${s.name}` && t.clusterName === s.clusterName && t.lastStatus === "RUNNING" && t.healthy).length >= s.desiredCount);
    return { status: healthy ? environment.smoke.find((c) => c.url === url)!.expectStatus : 503 };
  };
}
