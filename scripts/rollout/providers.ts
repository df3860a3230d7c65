/**
 * The rollout's part for clusters with `capacityProviders` (blue-green only): services follow
 * the generation in service from one capacity provider to the other (fleet/providers.ts).
 *
 * - Before the blue-green drain: services naming the old generation's provider get a new
 *   deployment naming the new one (the add apply already made the new one the cluster default).
 * - Before an apply (a rollback's, a retire's, or a resumed one): every amiroll provider other
 *   than the pinned current generation's is left: the default and the services move to the
 *   current one, and the apply waits until their new deployments are done, since ECS refuses to
 *   take a provider out of the cluster while tasks run on it.
 * Both are idempotent: a run cut short (Ctrl-C) does them again and finds nothing left to move.
 */
import { DescribeServicesCommand } from "@aws-sdk/client-ecs";
import { capacityProviderName, generationAsgName, generationAsgNamePrefix } from "../../constructs/names";
import type { Cluster, Environment } from "../config/environments";
import type { Clock } from "../core/clock";
import type { Logger } from "../core/log";
import type { AwsClients } from "../fleet/clients";
import { applyMoves, providerMoves, readProviders } from "../fleet/providers";

export interface ProviderMoveOptions {
  readonly clock: Clock;
  readonly log: Logger;
  readonly watchTimeoutMs: number;
  readonly signal?: AbortSignal;
}

/** How often the wait for the services' new deployments looks. */
const DEPLOYMENT_POLL_MS = 15_000;

/**
 * Moves `cluster` onto the provider of the generation running `imageId`: its default strategy and
 * every service naming another amiroll provider of the cluster; with `wait`, until those
 * services' new deployments are done. Does nothing while that provider is not in the cluster's
 * set yet (before the add apply). Warns about services naming providers amiroll does not manage.
 */
export async function followGeneration(environment: Environment, cluster: Cluster, clients: AwsClients, imageId: string, options: ProviderMoveOptions, wait: boolean): Promise<void> {
  const { log } = options;
  const ecsCluster = cluster.ecsClusterName;
  const target = capacityProviderName(generationAsgName(ecsCluster, imageId));
  const prefix = generationAsgNamePrefix(ecsCluster);
  const managed = (provider: string) => provider.startsWith(prefix);
  const state = await readProviders(clients.ecs, ecsCluster);
  const context = { env: environment.name, cluster: cluster.name };
  const moves = providerMoves(state, new Set(state.providers.filter((p) => managed(p) && p !== target)), target, managed);
  for (const u of moves.unmanaged) {
    log.warn(`${cluster.name}: service ${u.service} names capacity provider(s) ${u.providers.join(", ")} that amiroll does not manage; it is not moved between generations`, { ...context, service: u.service });
  }
  if (!state.providers.includes(target)) return;
  if (moves.defaults) log.info(`${cluster.name}: the cluster's default capacity provider strategy now names ${target}`, context);
  if (moves.services.length > 0) {
    log.info(`${cluster.name}: ${moves.services.length} service(s) get a new deployment on capacity provider ${target}: ${moves.services.map((s) => s.name).join(", ")}`, context);
  }
  await applyMoves(clients.ecs, ecsCluster, state, moves);
  if (!wait) return;
  // Every service that names the target: those just moved, and those an earlier (cut short) run moved.
  const following = state.services.filter((s) => moves.services.some((m) => m.name === s.name) || s.strategy?.some((i) => i.capacityProvider === target)).map((s) => s.name);
  const deadline = options.clock.now() + options.watchTimeoutMs;
  for (;;) {
    const busy: string[] = [];
    for (let i = 0; i < following.length; i += 10) {
      const page = await clients.ecs.send(new DescribeServicesCommand({ cluster: ecsCluster, services: following.slice(i, i + 10) }));
      for (const s of page.services ?? []) {
        const done = (s.deployments ?? []).length === 1 && s.deployments![0].rolloutState !== "IN_PROGRESS" && s.runningCount === s.desiredCount;
        if (!done) busy.push(s.serviceName ?? "?");
      }
    }
    if (busy.length === 0) return;
    if (options.signal?.aborted) throw new Error(`interrupted while services moved to capacity provider ${target} (${busy.join(", ")})`);
    if (options.clock.now() >= deadline) throw new Error(`${cluster.name}: services did not move to capacity provider ${target} within the watch timeout: ${busy.join(", ")}`);
    await options.clock.sleep(DEPLOYMENT_POLL_MS);
  }
}
