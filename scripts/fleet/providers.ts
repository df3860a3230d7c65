/**
 * ECS capacity providers (a blue-green cluster with `capacityProviders`): which provider each
 * service's tasks may use, and moving services from one generation's provider to another's.
 *
 * Terraform owns the cluster's provider set (aws_ecs_cluster_capacity_providers): a blue-green
 * add puts the new generation's provider in it and makes it the default, a retire takes the old
 * one out. Between the two, the driver moves what terraform does not: services whose strategy
 * names the old provider get a new deployment naming the new one (ECS takes a strategy change
 * only with forceNewDeployment), and a rollback switches the cluster's default back (for services
 * that use it) and moves the services back before the apply that removes the new provider (ECS
 * refuses to take a provider out of the set while tasks run on its instances, and to delete one a
 * service names).
 *
 * The pure part (providerMoves) decides; readProviders and applyMoves talk to ECS.
 */
import {
  type CapacityProviderStrategyItem,
  DescribeClustersCommand,
  DescribeServicesCommand,
  type ECSClient,
  ListServicesCommand,
  PutClusterCapacityProvidersCommand,
  UpdateServiceCommand,
} from "@aws-sdk/client-ecs";

type Ecs = Pick<ECSClient, "send">;

export interface StrategyItem {
  readonly capacityProvider: string;
  readonly weight?: number;
  readonly base?: number;
}

/** A cluster's providers as ECS describes them. */
export interface ClusterProviders {
  readonly providers: readonly string[];
  readonly defaults: readonly StrategyItem[];
  /** Replica and daemon services; `strategy` undefined for a launch-type service. */
  readonly services: readonly { readonly name: string; readonly strategy?: readonly StrategyItem[] }[];
}

export interface ProviderMoves {
  /** The cluster's new default strategy, when the current one names a leaving provider. */
  readonly defaults?: readonly StrategyItem[];
  /** Services to update (with forceNewDeployment), and the strategy each gets. */
  readonly services: readonly { readonly name: string; readonly strategy: readonly StrategyItem[] }[];
  /** Services whose strategy names a provider amiroll does not manage: left alone, and warned about. */
  readonly unmanaged: readonly { readonly service: string; readonly providers: readonly string[] }[];
}

/**
 * What moves a cluster off the `leaving` providers onto `target`: each strategy naming a leaving
 * provider gets `target` in its place (weights and bases kept; one entry per provider). `managed`
 * tells amiroll's providers from others (a service naming another is reported, not touched).
 */
export function providerMoves(state: ClusterProviders, leaving: ReadonlySet<string>, target: string, managed: (provider: string) => boolean): ProviderMoves {
  const remap = (strategy: readonly StrategyItem[]): StrategyItem[] => {
    const out: StrategyItem[] = [];
    for (const item of strategy) {
      const capacityProvider = leaving.has(item.capacityProvider) ? target : item.capacityProvider;
      if (!out.some((o) => o.capacityProvider === capacityProvider)) out.push({ ...item, capacityProvider });
    }
    return out;
  };
  const names = (strategy: readonly StrategyItem[]) => strategy.some((s) => leaving.has(s.capacityProvider));
  const services = state.services.filter((s) => s.strategy && names(s.strategy)).map((s) => ({ name: s.name, strategy: remap(s.strategy!) }));
  const unmanaged = state.services
    .map((s) => ({ service: s.name, providers: (s.strategy ?? []).map((i) => i.capacityProvider).filter((p) => !managed(p)) }))
    .filter((u) => u.providers.length > 0);
  return { ...(names(state.defaults) && { defaults: remap(state.defaults) }), services, unmanaged };
}

/** The cluster's capacity-provider set alone. */
export async function clusterProviderSet(ecs: Ecs, cluster: string): Promise<string[]> {
  const described = await ecs.send(new DescribeClustersCommand({ clusters: [cluster] }));
  return described.clusters?.[0]?.capacityProviders ?? [];
}

/** The cluster's provider set, default strategy and every service's strategy. */
export async function readProviders(ecs: Ecs, cluster: string): Promise<ClusterProviders> {
  const described = await ecs.send(new DescribeClustersCommand({ clusters: [cluster] }));
  const found = described.clusters?.[0];
  if (!found) throw new Error(`ECS has no cluster ${cluster}`);
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ecs.send(new ListServicesCommand({ cluster, nextToken, maxResults: 100 }));
    arns.push(...(page.serviceArns ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  const services: { name: string; strategy?: StrategyItem[] }[] = [];
  for (let i = 0; i < arns.length; i += 10) {
    const page = await ecs.send(new DescribeServicesCommand({ cluster, services: arns.slice(i, i + 10) }));
    for (const s of page.services ?? []) {
      const strategy = s.capacityProviderStrategy?.length ? s.capacityProviderStrategy.map(item) : undefined;
      services.push({ name: s.serviceName ?? s.serviceArn ?? "(unnamed)", ...(strategy && { strategy }) });
    }
  }
  return { providers: found.capacityProviders ?? [], defaults: (found.defaultCapacityProviderStrategy ?? []).map(item), services };
}

function item(s: CapacityProviderStrategyItem): StrategyItem {
  return { capacityProvider: s.capacityProvider ?? "", ...(s.weight !== undefined && { weight: s.weight }), ...(s.base !== undefined && { base: s.base }) };
}

/** Applies `moves`: the default first (the set unchanged), then a new deployment per service. */
export async function applyMoves(ecs: Ecs, cluster: string, state: ClusterProviders, moves: ProviderMoves): Promise<void> {
  if (moves.defaults) {
    await ecs.send(new PutClusterCapacityProvidersCommand({ cluster, capacityProviders: [...state.providers], defaultCapacityProviderStrategy: [...moves.defaults] }));
  }
  for (const service of moves.services) {
    await ecs.send(new UpdateServiceCommand({ cluster, service: service.name, capacityProviderStrategy: [...service.strategy], forceNewDeployment: true }));
  }
}
