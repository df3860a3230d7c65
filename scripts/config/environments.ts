import { ECS_OPTIMIZED_PARAMETERS, architectureProblem, instanceArchitecture } from "../../constructs/ami";
import { durationSeconds, sizesProblem } from "../../constructs/formats";
import { type MaintenanceWindow, parseWindow, windowProblem } from "./windows";
import type { CapacityStrategy } from "../../constructs/ecs-cluster";
import { type RefreshBatch, type RefreshOptions, refreshOptionsProblem } from "../../constructs/refresh";
import type { ClusterSpec, EnvironmentSpec } from "../../constructs/environment-stack";
import { Input } from "./input";
import { type CanaryConfig, type CanarySlice, parseCanary, resolveCanary } from "./canary";
import { type AlarmWatch, type AlarmsConfig, loadAlarms, mergeAlarms, watchesAlarms } from "./alarms";

// ---------------------------------------------------------------------------------------------
// The config as written (every field documented in docs/configuration.md).

export interface ClusterConfig {
  readonly instanceType: string;
  readonly minSize: number;
  readonly maxSize: number;
  /** @default minSize */
  readonly desiredCapacity?: number;
  /** The SSM parameter `amiroll bump` resolves. @default Amazon Linux 2023 x86_64 (or arm64 for Graviton types) */
  readonly amiParameter?: string;
  /** @default the environment's strategy */
  readonly strategy?: CapacityStrategy;
  /** Why this cluster must not be rolled now; `amiroll rollout` refuses it unless `--force`. */
  readonly hold?: string;
  /** The refresh strategy: old instances replaced at a time, a number or a percentage ("25%"). @default 1 */
  readonly batch?: RefreshBatch;
  /** The refresh strategy: the share of the group that keeps taking tasks while a batch drains. @default 100 */
  readonly minHealthyPercent?: number;
  /** The refresh strategy: how large the group may grow while a batch's new instances come up. @default 200 */
  readonly maxHealthyPercent?: number;
  /** @default the environment's bootGracePeriod */
  readonly bootGracePeriod?: string;
  /** The canary slice (docs/strategies.md). @default the environment's */
  readonly canary?: CanaryInput;
  /** An ECS capacity provider per generation (blue-green only; docs/strategies.md). @default false */
  readonly capacityProviders?: boolean;
  /** CloudWatch alarms watched while this cluster rolls (added to the environment's). */
  readonly alarms?: AlarmsConfig;
}

/** A canary slice as written: one of instances and percent (of desiredCapacity), and its soak. */
export interface CanaryInput {
  readonly instances?: number;
  readonly percent?: number;
  /** @default "2m" */
  readonly soak?: string;
}

/** An HTTP GET the rollout makes after a wave, before it promotes (docs/verbs.md, amiroll rollout's gates). */
export interface SmokeConfig {
  readonly url: string;
  /** @default 200 */
  readonly expectStatus?: number;
  /** Per attempt. @default "5s" */
  readonly timeout?: string;
  /** Extra attempts, 5 s apart, before the check fails. @default 3 */
  readonly retries?: number;
}

export interface SubnetConfig {
  readonly id: string;
  readonly availabilityZone: string;
}

export interface EnvironmentConfig {
  readonly region: string;
  /** The AWS account the environment lives in; terraform refuses any other credentials. */
  readonly accountId?: string;
  /** The environment whose verified AMI this one takes (production promotes from staging). */
  readonly promotesFrom?: string;
  readonly backend: {
    readonly bucket: string;
    /** @default "amiroll" */
    readonly keyPrefix?: string;
    /** @default the environment's region */
    readonly region?: string;
  };
  readonly vpcId: string;
  readonly subnets: readonly SubnetConfig[];
  /** @default "blue-green" when promotesFrom is set, else "replace" */
  readonly strategy?: CapacityStrategy;
  /** Default tags of every resource in the environment. @default {} */
  readonly tags?: Readonly<Record<string, string>>;
  readonly clusters: Readonly<Record<string, ClusterConfig>>;
  /** When `amiroll rollout` may change the environment, e.g. "Tue 09:00-11:00 Europe/London". @default [] (any time) */
  readonly maintenanceWindows?: readonly string[];
  /** Why the whole environment must not be rolled now; `amiroll rollout` refuses it unless `--force`. */
  readonly hold?: string;
  /** URLs that must answer after the roll before the wave passes. @default [] */
  readonly smoke?: readonly SmokeConfig[];
  /** How long services must stay steady after the roll before the wave passes. @default "5m" */
  readonly soak?: string;
  /**
   * Rebalance services across zones after the roll; the balance gate then fails if a service
   * still has every task in one zone (without it, imbalance is only reported). @default false
   */
  readonly rebalance?: boolean;
  /**
   * How long after its launch a new instance may take to register with ECS before the rollout
   * replaces it (docs/verbs.md, amiroll rollout's boot check). At least "1m". @default "5m"
   */
  readonly bootGracePeriod?: string;
  /** The canary slice of every cluster (docs/strategies.md). @default none (replace: 1 instance, "2m") */
  readonly canary?: CanaryInput;
  /** CloudWatch alarms that fail the wave when in ALARM during the watch, the soak or the canary. */
  readonly alarms?: AlarmsConfig;
}

/** A smoke URL as loaded. */
export interface SmokeCheck {
  readonly url: string;
  readonly expectStatus: number;
  readonly timeoutMs: number;
  /** Extra attempts after the first. */
  readonly retries: number;
}

export type EnvironmentsConfig = Readonly<Record<string, EnvironmentConfig>>;

// ---------------------------------------------------------------------------------------------
// The config as loaded: validated, defaults filled in.

/** A cluster as loaded: what its stack needs (ClusterSpec), plus what the driver needs. */
export interface Cluster extends ClusterSpec {
  /** The SSM parameter `amiroll bump` resolves. */
  readonly amiParameter: string;
  readonly hold?: string;
  /** How long after its launch a new instance may take to register with ECS before the rollout replaces it. */
  readonly bootGracePeriodMs: number;
  /** The canary slice, when the config sets one. */
  readonly canary?: CanarySlice;
  /** The cluster's own alarms (the environment's `alarms` holds them too). */
  readonly alarms?: AlarmWatch;
}

/** An environment as loaded: what its stack needs (EnvironmentSpec), plus the rollout's settings. */
export interface Environment extends EnvironmentSpec {
  readonly promotesFrom?: string;
  readonly clusters: readonly Cluster[];
  /** Empty: the environment may be changed at any time. */
  readonly maintenanceWindows: readonly MaintenanceWindow[];
  readonly hold?: string;
  readonly smoke: readonly SmokeCheck[];
  readonly soakMs: number;
  readonly rebalance: boolean;
  /** The alarms the rollout watches (the environment's and its clusters'); absent: none. */
  readonly alarms?: AlarmWatch;
}

/** The environment's holds and its clusters', as the rollout and plan comments show them. */
export function holdsOf(environment: Environment): string[] {
  return [
    ...(environment.hold ? [`${environment.name}: ${environment.hold}`] : []),
    ...environment.clusters.filter((c) => c.hold).map((c) => `${environment.name}/${c.name}: ${c.hold}`),
  ];
}

const STRATEGIES: readonly CapacityStrategy[] = ["replace", "blue-green", "refresh"];
const REFRESH_FIELDS = ["batch", "minHealthyPercent", "maxHealthyPercent"] as const;
const NAME = /^[a-z][a-z0-9-]{0,23}$/;
const NAME_EXPECTED = "a lower-case letter, then up to 23 lower-case letters, digits or '-'";
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** bootGracePeriod: a boot and the ECS agent's registration take a minute at best. */
const DEFAULT_BOOT_GRACE_MS = 5 * 60_000;
const MIN_BOOT_GRACE_MS = 60_000;

/**
 * Validates the environments config. Throws a ConfigError naming the field at fault.
 * @param file where the config came from, for messages
 * @param field the environments' field in that file, for messages
 */
export function loadEnvironments(raw: unknown, file: string, field = ""): Environment[] {
  const root = new Input(file, field, raw);
  const environments = root.entries(NAME, NAME_EXPECTED).map(([name, input]) => loadEnvironment(name, input));
  if (environments.length === 0) root.fail("no environments are defined");
  checkPromotions(environments, root);
  return environments;
}

function loadEnvironment(name: string, input: Input): Environment {
  const f = input.object([
    "region", "accountId", "promotesFrom", "backend", "vpcId", "subnets", "strategy", "tags", "clusters",
    "maintenanceWindows", "hold", "smoke", "soak", "rebalance", "bootGracePeriod", "canary", "alarms",
  ]);
  const region = f.region.formatted("region");
  const accountId = f.accountId.present ? f.accountId.formatted("accountId") : undefined;
  const promotesFrom = f.promotesFrom.present ? f.promotesFrom.string() : undefined;

  const b = f.backend.object(["bucket", "keyPrefix", "region"]);
  const bucket = b.bucket.string();
  if (!BUCKET.test(bucket)) b.bucket.fail(`${JSON.stringify(bucket)} is not an S3 bucket name`);
  const keyPrefix = b.keyPrefix.present ? b.keyPrefix.string() : "amiroll";
  if (!/^[A-Za-z0-9!_.*'()-]+(?:\/[A-Za-z0-9!_.*'()-]+)*$/.test(keyPrefix)) {
    b.keyPrefix.fail(`${JSON.stringify(keyPrefix)} is not an S3 key prefix (no leading or trailing "/")`);
  }
  const backend = {
    bucket,
    key: `${keyPrefix}/${name}/terraform.tfstate`,
    region: b.region.present ? b.region.formatted("region") : region,
  };

  const vpcId = f.vpcId.formatted("vpcId");
  const subnetInputs = f.subnets.array();
  if (subnetInputs.length === 0) f.subnets.fail("at least one subnet is required");
  const subnets = subnetInputs.map((s) => {
    const sf = s.object(["id", "availabilityZone"]);
    const subnet = { id: sf.id.formatted("subnetId"), availabilityZone: sf.availabilityZone.formatted("availabilityZone") };
    if (!subnet.availabilityZone.startsWith(region)) {
      sf.availabilityZone.fail(`${subnet.availabilityZone} is not a zone of the environment's region ${region}`);
    }
    return subnet;
  });
  subnets.forEach((s, i) => {
    if (subnets.findIndex((t) => t.id === s.id) !== i) subnetInputs[i].child("id", s.id).fail(`${s.id} is listed twice`);
  });
  // An environment others promote to is production-like: one zone outage must not take it down.
  const zones = new Set(subnets.map((s) => s.availabilityZone)).size;
  if (promotesFrom !== undefined && zones < 2) {
    f.subnets.fail(`an environment that promotesFrom another needs subnets in at least 2 availability zones (has ${zones})`);
  }

  const strategy = f.strategy.present ? f.strategy.oneOf(STRATEGIES) : promotesFrom ? "blue-green" : "replace";
  const tags = f.tags.present ? f.tags.stringMap() : {};
  const clusterInputs = f.clusters.entries(NAME, NAME_EXPECTED);
  if (clusterInputs.length === 0) f.clusters.fail("at least one cluster is required");
  const bootGracePeriodMs = f.bootGracePeriod.present ? bootGracePeriod(f.bootGracePeriod) : DEFAULT_BOOT_GRACE_MS;
  const canary = f.canary.present ? parseCanary(f.canary) : undefined;
  const clusters = clusterInputs.map(([clusterName, c]) => loadCluster(name, clusterName, c, strategy, bootGracePeriodMs, canary));
  const maintenanceWindows = f.maintenanceWindows.present
    ? f.maintenanceWindows.array().map((w) => {
        const problem = windowProblem(w.string());
        if (problem) w.fail(problem);
        return parseWindow(w.value as string);
      })
    : [];
  const hold = f.hold.present ? f.hold.string() : undefined;
  const smoke = f.smoke.present ? f.smoke.array().map(loadSmokeCheck) : [];
  const soakMs = Math.round((f.soak.present ? durationSeconds(f.soak.formatted("duration")) : 300) * 1000);
  const rebalance = f.rebalance.present ? f.rebalance.boolean() : false;
  const alarms = mergeAlarms([...(f.alarms.present ? [loadAlarms(f.alarms)] : []), ...clusters.flatMap((c) => c.alarms ?? [])]);
  return {
    name, region, accountId, promotesFrom, backend, vpcId, subnets, tags, clusters,
    maintenanceWindows, ...(hold !== undefined && { hold }), smoke, soakMs, rebalance, ...(watchesAlarms(alarms) && { alarms }),
  };
}

function loadSmokeCheck(input: Input): SmokeCheck {
  const f = input.object(["url", "expectStatus", "timeout", "retries"]);
  const url = f.url.string();
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (!parsed || !["http:", "https:"].includes(parsed.protocol)) f.url.fail(`${JSON.stringify(url)} is not an http(s) URL`);
  return {
    url,
    expectStatus: f.expectStatus.present ? f.expectStatus.integer(100, 599) : 200,
    // Whole milliseconds: AbortSignal.timeout refuses 700.0000000000001 ("700ms" in seconds, times 1000).
    timeoutMs: Math.round((f.timeout.present ? durationSeconds(f.timeout.formatted("duration")) : 5) * 1000),
    retries: f.retries.present ? f.retries.integer(0, 20) : 3,
  };
}

/** A bootGracePeriod, in ms: a duration of at least a minute. */
function bootGracePeriod(input: Input): number {
  const ms = Math.round(durationSeconds(input.formatted("duration")) * 1000);
  if (ms < MIN_BOOT_GRACE_MS) input.fail(`${JSON.stringify(input.value)} is too short: an instance takes a minute or more to boot and register with ECS (at least "1m")`);
  return ms;
}

function loadCluster(environment: string, name: string, input: Input, envStrategy: CapacityStrategy, envBootGraceMs: number, envCanary?: CanaryConfig): Cluster {
  const f = input.object(["instanceType", "minSize", "maxSize", "desiredCapacity", "amiParameter", "strategy", "hold", "bootGracePeriod", "capacityProviders", ...REFRESH_FIELDS, "canary", "alarms"]);
  const ecsClusterName = `${environment}-${name}`;
  if (ecsClusterName.length > 48) input.fail(`the ECS cluster name ${ecsClusterName} is longer than 48 characters`);
  const instanceType = f.instanceType.formatted("instanceType");
  const minSize = f.minSize.integer(0);
  const maxSize = f.maxSize.integer(1);
  const desiredCapacity = f.desiredCapacity.present ? f.desiredCapacity.integer(0) : minSize;
  const sizes = sizesProblem(minSize, maxSize, desiredCapacity);
  if (sizes) f[sizes[0]].fail(sizes[1]);
  const amiParameter = f.amiParameter.present
    ? f.amiParameter.formatted("ssmParameter")
    : instanceArchitecture(instanceType) === "arm64"
      ? ECS_OPTIMIZED_PARAMETERS.al2023Arm64
      : ECS_OPTIMIZED_PARAMETERS.al2023;
  const archProblem = architectureProblem(instanceType, amiParameter);
  if (archProblem) f.amiParameter.fail(archProblem);
  const strategy = f.strategy.present ? f.strategy.oneOf(STRATEGIES) : envStrategy;
  const hold = f.hold.present ? f.hold.string() : undefined;
  const bootGracePeriodMs = f.bootGracePeriod.present ? bootGracePeriod(f.bootGracePeriod) : envBootGraceMs;
  const refresh = strategy === "refresh" ? refreshOptions(f, desiredCapacity) : undefined;
  const alarms = f.alarms.present ? loadAlarms(f.alarms) : undefined;
  for (const field of REFRESH_FIELDS) {
    if (strategy !== "refresh" && f[field].present) f[field].fail(`only the "refresh" strategy replaces instances in batches (this cluster's strategy is "${strategy}")`);
  }
  const capacityProviders = f.capacityProviders.present && f.capacityProviders.boolean();
  if (capacityProviders && strategy !== "blue-green") f.capacityProviders.fail(`only the "blue-green" strategy moves services between capacity providers (this cluster's strategy is "${strategy}")`);
  if (capacityProviders && /^(aws|ecs|fargate)/.test(ecsClusterName)) f.capacityProviders.fail(`ECS refuses capacity provider names that start with "aws", "ecs" or "fargate", and each is named after its group (${ecsClusterName}-...)`);
  const canaryConfig = f.canary.present ? parseCanary(f.canary) : envCanary;
  // Managed scaling sizes a provider's group to its tasks: it would undo the slice's size.
  if (capacityProviders && canaryConfig) f.capacityProviders.fail(`a canary slice sizes the new generation itself, which the capacity provider's managed scaling would undo: drop "canary" ${f.canary.present ? "from this cluster" : "from the environment"} or capacityProviders`);
  const canary = canaryConfig && resolveCanary(canaryConfig, { name, strategy, desiredCapacity, refresh });
  return {
    name, ecsClusterName, instanceType, minSize, maxSize, desiredCapacity, amiParameter, strategy,
    ...(refresh && { refresh }), ...(hold !== undefined && { hold }), bootGracePeriodMs, ...(capacityProviders && { capacityProviders }), ...(alarms && { alarms }),
    // The constructs size the replace strategy's canary group and a blue-green canary's new generation.
    ...(canary && { canary, ...(strategy !== "refresh" && { canaryInstances: canary.instances }) }),
  };
}

/** A refresh cluster's batch options, checked against its size (the problem names the field at fault). */
function refreshOptions(f: Record<string, Input>, size: number): RefreshOptions {
  const options: RefreshOptions = Object.fromEntries(REFRESH_FIELDS.filter((k) => f[k].present).map((k) => [k, f[k].value]));
  const problem = refreshOptionsProblem(options, size);
  if (problem) f[problem[0]].fail(problem[1]);
  return options;
}

/** promotesFrom names another environment, and following it never loops. */
function checkPromotions(environments: Environment[], root: Input): void {
  const byName = new Map(environments.map((e) => [e.name, e]));
  for (const env of environments) {
    const field = root.child(env.name, undefined).child("promotesFrom", env.promotesFrom);
    if (env.promotesFrom === undefined) continue;
    if (!byName.has(env.promotesFrom)) {
      field.fail(`${JSON.stringify(env.promotesFrom)} is not an environment (known: ${[...byName.keys()].join(", ")})`);
    }
    const seen = new Set([env.name]);
    for (let next = byName.get(env.promotesFrom); next; next = next.promotesFrom ? byName.get(next.promotesFrom) : undefined) {
      if (seen.has(next.name)) field.fail(`promotions loop: ${[...seen, next.name].join(" <- ")}`);
      seen.add(next.name);
    }
  }
}
