/**
 * A terraform stand-in for the simulated world, with the interface the real runner has
 * (init, plan, show -json, apply, output). It diffs a synthesized stack's capacity (launch
 * templates, Auto Scaling groups with their hooks, alarms) against the world's groups, writes
 * the plan in Terraform's JSON format 1.2, and applies it the way terraform does: a new group is
 * created and waited on until its capacity is InService, then an old one is scaled to zero
 * through its lifecycle hooks and deleted. Everything else in the stack is taken as deployed
 * and unchanged (no-op), except for a cluster whose ECS cluster the world does not have: that
 * cluster was never deployed (its state is empty), so every resource of it is created, the ECS
 * cluster first, and the `amiroll_clusters` output lists it only once it is.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { CLUSTERS_OUTPUT } from "../../constructs/outputs";
import type { Environment } from "../config/environments";
import { StalePlanError, TerraformError } from "../core/errors";
import { clusterOfAddress } from "../terraform/rolls";
import type { TerraformRunner } from "../terraform/runner";
import { putClusterCapacityProviders } from "./clients";
import type { CapacityProviderStrategyItem, GroupSpec, LifecycleHookSpec, SimGroup, World } from "./world";

export interface ResourceChange {
  readonly address: string;
  readonly mode: "managed";
  readonly type: string;
  readonly name: string;
  readonly provider_name: string;
  readonly action_reason?: string;
  readonly change: {
    readonly actions: readonly string[];
    readonly before: unknown;
    readonly after: unknown;
    readonly after_unknown: unknown;
    readonly before_sensitive: unknown;
    readonly after_sensitive: unknown;
    readonly replace_paths?: readonly (readonly string[])[];
  };
}

export interface PlanJson {
  readonly format_version: "1.2";
  readonly terraform_version: string;
  readonly resource_changes: readonly ResourceChange[];
  readonly output_changes: Record<string, unknown>;
  readonly timestamp: string;
  readonly applyable: boolean;
  readonly complete: boolean;
  readonly errored: boolean;
  readonly configuration?: unknown;
}

const PROVIDER = "registry.terraform.io/hashicorp/aws";
/** A cluster's capacity-provider set (capacityProviders): planned and applied apart from the groups, with ECS's checks. */
const PROVIDER_SET = "aws_ecs_cluster_capacity_providers";

/** Points inside `apply` a test (or `AMIROLL_SIM_INTERRUPT`) can interrupt at: a new group just created, an old group's deletion begun. */
export type SimApplyPoint = "apply:created" | "apply:deleting";

const CAPACITY_TYPES = new Set(["aws_launch_template", "aws_autoscaling_group", "aws_cloudwatch_metric_alarm", "aws_ecs_capacity_provider", PROVIDER_SET]);

type StackJson = { resource?: Record<string, Record<string, any>>; output?: Record<string, { value: unknown }> };

/** One resource of a synthesized stack. */
interface StackResource {
  readonly type: string;
  readonly logical: string;
  readonly body: Record<string, any>;
}

/** Keys of a cdk.tf.json resource that are terraform meta-arguments, not attributes. */
const META = new Set(["//", "depends_on", "lifecycle", "provider", "count", "for_each"]);
const INTERPOLATION = /\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)(?:\.[a-z_]+)?/g;

/**
 * A stack body as a plan shows it: attributes that interpolate other resources are unknown
 * until apply (left out of the value, `true` in the unknown mask), meta-arguments dropped.
 */
function planValue(body: unknown): { value: unknown; unknown: unknown } {
  if (typeof body === "string" && body.includes("${")) return { value: undefined, unknown: true };
  if (Array.isArray(body)) {
    const parts = body.map(planValue);
    return { value: parts.map((p) => p.value ?? null), unknown: parts.map((p) => p.unknown) };
  }
  if (typeof body === "object" && body !== null) {
    const value: Record<string, unknown> = {};
    const unknown: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) {
      if (META.has(k)) continue;
      const part = planValue(v);
      if (part.value !== undefined) value[k] = part.value;
      if (part.unknown === true || (typeof part.unknown === "object" && Object.keys(part.unknown as object).length > 0)) unknown[k] = part.unknown;
    }
    return { value, unknown };
  }
  return { value: body, unknown: false };
}

/** A launch template id as AWS would have made it for `group` (stable per group). */
function launchTemplateIdOf(group: string): string {
  return `lt-${createHash("sha256").update(group).digest("hex").slice(0, 17)}`;
}

/**
 * What the state holds for a capacity resource of a deployed group: the stack's literal
 * attributes, and the ids and names that tie the group, its launch template and its alarm together.
 */
function stateOf(resource: StackResource, group: SimGroup): unknown {
  const value = planValue(resource.body).value as Record<string, unknown>;
  const id = launchTemplateIdOf(group.name);
  switch (resource.type) {
    case "aws_autoscaling_group":
      // Same shapes as the stack's body where it has one, so that a diff shows only real changes.
      return {
        ...value,
        name: group.name,
        min_size: group.minSize,
        max_size: group.maxSize,
        desired_capacity: group.desiredCapacity,
        launch_template: Array.isArray(value.launch_template) || !value.launch_template
          ? [{ id, name: `${group.name}-lt`, version: "1" }]
          : { id, version: "1" },
        tag: value.tag ?? Object.entries(group.tags ?? {}).map(([key, v]) => ({ key, value: v, propagate_at_launch: true })),
      };
    case "aws_launch_template":
      return { ...value, id, name: `${group.name}-lt`, image_id: group.imageId };
    case "aws_cloudwatch_metric_alarm":
      return { ...value, alarm_name: `${group.name}-low-instances`, dimensions: { AutoScalingGroupName: group.name } };
    case "aws_ecs_capacity_provider":
      return { ...value, name: group.name, auto_scaling_group_provider: [{ ...((Array.isArray(value.auto_scaling_group_provider) ? value.auto_scaling_group_provider[0] : value.auto_scaling_group_provider) as object), auto_scaling_group_arn: group.arn }] };
    default:
      return value;
  }
}

/** A group the world started with (not applied here): its resources at addresses derived from its name. */
function deployedResources(group: string, world: World): StackResource[] {
  const logical = group.replace(/[^A-Za-z0-9]/g, "_");
  const provider = world.providerOfGroup(group);
  return [
    { type: "aws_autoscaling_group", logical: `${logical}_asg`, body: {} },
    { type: "aws_launch_template", logical: `${logical}_launch_template`, body: {} },
    { type: "aws_cloudwatch_metric_alarm", logical: `${logical}_low_instances`, body: {} },
    ...(provider ? [{ type: "aws_ecs_capacity_provider", logical: `${logical}_capacity_provider`, body: { name: provider.name, auto_scaling_group_provider: { managed_draining: provider.managedDraining ? "ENABLED" : "DISABLED" } } }] : []),
  ];
}

/** The plan's `configuration` block: every resource's expressions, with references as terraform lists them. */
function configurationOf(stack: StackJson): unknown {
  const expression = (value: unknown): unknown => {
    if (Array.isArray(value) && value.every((v) => typeof v === "object" && v !== null)) return value.map(expression);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).filter(([k]) => !META.has(k)).map(([k, v]) => [k, expression(v)]));
    }
    const references = [...JSON.stringify(value).matchAll(INTERPOLATION)].flatMap((m) => [m[0].slice(2), `${m[1]}.${m[2]}`]);
    return references.length > 0 ? { references: [...new Set(references)] } : { constant_value: value };
  };
  const resources = Object.entries(stack.resource ?? {}).flatMap(([type, byLogical]) =>
    Object.entries(byLogical).map(([logical, body]) => ({
      address: `${type}.${logical}`,
      mode: "managed",
      type,
      name: logical,
      expressions: expression(body),
    })),
  );
  return { root_module: { resources } };
}

/** One generation as the stack describes it: its group and the resources tied to it. */
interface DesiredGeneration {
  readonly address: string;
  readonly spec: GroupSpec;
  readonly body: Record<string, any>;
  readonly related: readonly StackResource[];
  readonly waitForCapacityMs: number;
  readonly deleteTimeoutMs: number;
  /** The group's capacity provider (capacityProviders), created with it. */
  readonly capacityProvider?: { readonly name: string; readonly managedDraining: boolean };
}

function durationMs(text: string | undefined, fallback: string): number {
  const match = /^(\d+)(s|m|h)$/.exec(text ?? fallback)!;
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "s" | "m" | "h"];
}

/** `${aws_launch_template.x.id}` -> ["aws_launch_template", "x"]. */
function referenced(value: unknown): [string, string] | undefined {
  const match = typeof value === "string" ? /^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.[a-z_]+\}$/.exec(value) : null;
  return match ? [match[1], match[2]] : undefined;
}

export class SimTerraform implements TerraformRunner {
  private initialized = false;
  private readonly plans = new Map<string, { json: PlanJson; serial: number; creates: DesiredGeneration[]; deletes: string[]; newClusters: string[]; updates: { name: string; imageId: string }[]; providerSets: ProviderSet[] }>();
  /** What each group applied here was created from, so that a later plan deletes those addresses (as state would). */
  private readonly applied = new Map<string, readonly StackResource[]>();
  /** Bumped on every apply: a plan made before it is stale. */
  private serial = 0;
  /**
   * Ctrl-C, as the real runner takes it: a command does not start once it is aborted, and an
   * apply stops where terraform would after SIGINT: the operation in flight is cut short at its
   * wait (a new group stays created, an old one goes on deleting), none starts after it, and the
   * apply fails as interrupted (`TerraformError.interrupted`).
   */
  signal?: AbortSignal;
  /**
   * Groups whose deletion an interrupted apply cut short: they stay in the state (as a resource
   * whose delete failed does), so that the next plan deletes them again and its apply waits until
   * they are gone; a group AWS has finished deleting meanwhile leaves the state with it.
   */
  private readonly deletesCutShort = new Set<string>();
  /** Called at points inside apply (tests interrupt there). */
  checkpoint?: (point: SimApplyPoint) => void;
  /** The state's serial, as `state pull` shows it: bumped by every apply (and set by a push). */
  private stateSerial = 1;
  /** A state pushed (`state push`) since the last apply: what `state pull` shows until the next apply. */
  private pushed?: { readonly text: string; readonly serial: number };

  constructor(
    private readonly world: World,
    private readonly environment: Environment,
    private stack: StackJson,
  ) {}

  /** The stack synthesized again (the pins changed): the state stays, saved plans go stale. */
  useStack(stack: StackJson): void {
    this.stack = stack;
    this.serial++;
  }

  async init(): Promise<void> {
    this.notAborted("init");
    this.initialized = true;
  }

  /** As the real runner: nothing starts once the signal has aborted. */
  private notAborted(command: string): void {
    if (this.signal?.aborted) throw new TerraformError(command, "interrupted before it started", undefined, true);
  }

  /** `work`, or "interrupted" as soon as the signal aborts (the work itself goes on in the world). */
  private async untilInterrupted<T>(work: Promise<T>): Promise<T | "interrupted"> {
    const signal = this.signal;
    if (!signal) return work;
    if (signal.aborted) return "interrupted";
    let onAbort!: () => void;
    const aborted = new Promise<"interrupted">((resolve) => signal.addEventListener("abort", (onAbort = () => resolve("interrupted")), { once: true }));
    try {
      return await Promise.race([work, aborted]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  private needInit(): void {
    if (!this.initialized) throw new Error("terraform: run init first (Backend initialization required)");
  }

  private clusterNames(): Set<string> {
    return new Set(this.environment.clusters.map((c) => c.ecsClusterName));
  }

  /** The environment's clusters terraform has deployed: those whose ECS cluster exists (the state is the world). */
  private deployedClusterConfigs(): Environment["clusters"] {
    return this.environment.clusters.filter((c) => this.world.clusters.has(c.ecsClusterName));
  }

  /** A group terraform's state holds: every one not being deleted, and those whose deletion an interrupted apply cut short. */
  private inState(group: SimGroup): boolean {
    return !group.deleting || this.deletesCutShort.has(group.name);
  }

  /** The cluster (config name) a resource of the stack belongs to, by its address (as the guard reads it). */
  private clusterOf(address: string): Environment["clusters"][number] | undefined {
    const name = clusterOfAddress(address, this.environment.clusters.map((c) => c.name));
    return this.environment.clusters.find((c) => c.name === name);
  }

  private desired(): DesiredGeneration[] {
    const resources = this.stack.resource ?? {};
    const zoneOf = new Map(this.environment.subnets.map((s) => [s.id, s.availabilityZone]));
    return Object.entries(resources.aws_autoscaling_group ?? {}).map(([logical, asg]) => {
      const ltRef = referenced(asg.launch_template?.id);
      const lt = ltRef ? resources[ltRef[0]]?.[ltRef[1]] : undefined;
      if (!lt) throw new Error(`terraform: aws_autoscaling_group.${logical} has no launch template in the stack`);
      const tags = Object.fromEntries((asg.tag ?? []).map((t: { key: string; value: string }) => [t.key, t.value]));
      const hooks: LifecycleHookSpec[] = (asg.initial_lifecycle_hook ?? []).map((h: any) => ({
        name: h.name,
        transition: h.lifecycle_transition,
        heartbeatTimeoutSeconds: h.heartbeat_timeout ?? 3600,
        defaultResult: h.default_result ?? "ABANDON",
      }));
      const related = Object.entries(resources.aws_cloudwatch_metric_alarm ?? {})
        .filter(([, alarm]) => referenced(alarm.dimensions?.AutoScalingGroupName)?.[1] === logical)
        .map(([alarmLogical, body]) => ({ type: "aws_cloudwatch_metric_alarm", logical: alarmLogical, body }));
      const provider = Object.entries(resources.aws_ecs_capacity_provider ?? {}).find(([, p]) => referenced(p.auto_scaling_group_provider?.auto_scaling_group_arn)?.[1] === logical);
      if (provider) related.push({ type: "aws_ecs_capacity_provider", logical: provider[0], body: provider[1] });
      return {
        ...(provider && { capacityProvider: { name: provider[1].name, managedDraining: provider[1].auto_scaling_group_provider?.managed_draining === "ENABLED" } }),
        address: `aws_autoscaling_group.${logical}`,
        body: asg,
        related: [{ type: ltRef![0], logical: ltRef![1], body: lt }, ...related],
        waitForCapacityMs: durationMs(asg.wait_for_capacity_timeout, "10m"),
        deleteTimeoutMs: durationMs(asg.timeouts?.delete, "10m"),
        spec: {
          name: asg.name,
          clusterName: tags["amiroll:cluster"],
          imageId: lt.image_id,
          instanceType: lt.instance_type,
          subnets: (asg.vpc_zone_identifier as string[]).map((id) => ({ subnetId: id, az: zoneOf.get(id) ?? `${this.environment.region}a` })),
          minSize: asg.min_size,
          maxSize: asg.max_size,
          desiredCapacity: asg.desired_capacity ?? asg.min_size,
          hooks,
          tags,
        },
      };
    });
  }

  async plan(planFile: string): Promise<{ changes: boolean }> {
    this.notAborted("plan");
    this.needInit();
    const desired = this.desired();
    const deployed = [...this.world.groups.values()].filter((g) => this.clusterNames().has(g.tags?.["amiroll:cluster"] ?? "") && this.inState(g));
    const desiredNames = new Set(desired.map((d) => d.spec.name));
    const changes: ResourceChange[] = [];
    const creates: DesiredGeneration[] = [];
    const deletes = deployed.filter((g) => !desiredNames.has(g.name)).map((g) => g.name);
    // A stable address whose group name changed is a replacement (create_before_destroy).
    const replaced = new Map<string, string>();
    for (const generation of desired) {
      if (desiredNames.has(generation.spec.name) && this.world.groups.has(generation.spec.name)) continue;
      creates.push(generation);
      // A canary group that goes in the same apply is deleted beside the replacement, not replaced.
      const leaving = deployed.filter((g) => g.clusterName === generation.spec.clusterName && deletes.includes(g.name) && !isCanaryGroup(g.name));
      const oneForOne = desired.filter((d) => d.spec.clusterName === generation.spec.clusterName).length === 1 && leaving.length === 1;
      if (oneForOne && this.isStableAddress(generation)) replaced.set(generation.address, leaving[0].name);
    }
    // A group that keeps its name but not its image (the refresh strategy): its launch template is
    // updated in place (a new default version) and so is the group's template version.
    const updates: { name: string; imageId: string }[] = [];
    for (const generation of desired) {
      const isCreate = creates.includes(generation);
      const previous = replaced.get(generation.address);
      const existing = isCreate ? undefined : this.world.groups.get(generation.spec.name);
      const updated = existing !== undefined && existing.imageId !== generation.spec.imageId;
      if (updated) updates.push({ name: generation.spec.name, imageId: generation.spec.imageId });
      const resourcesOf = [{ type: "aws_autoscaling_group", logical: generation.address.split(".")[1], body: generation.body }, ...generation.related];
      for (const r of resourcesOf) {
        const address = `${r.type}.${r.logical}`;
        const group = this.world.groups.get(isCreate ? (previous ?? "") : generation.spec.name);
        const current = group ? stateOf(r, group) : planValue(r.body).value;
        if (updated && r.type === "aws_launch_template") changes.push(inPlaceUpdate(address, current, { ...(current as object), ...(planValue(r.body).value as object), id: (current as any).id, name: (current as any).name }, {}));
        else if (updated && r.type === "aws_autoscaling_group") {
          const before = current as Record<string, any>;
          const block = Array.isArray(before.launch_template) ? before.launch_template[0] : before.launch_template;
          const { version: _version, ...kept } = block;
          const after = { ...before, launch_template: Array.isArray(before.launch_template) ? [kept] : kept };
          changes.push(inPlaceUpdate(address, before, after, { launch_template: Array.isArray(before.launch_template) ? [{ version: true }] : { version: true } }));
        } else if (!isCreate) changes.push(change(address, ["no-op"], current, current));
        else if (previous) changes.push(change(address, ["create", "delete"], current, r.body, r.type === "aws_launch_template" ? [["image_id"]] : [["name"]]));
        else changes.push(change(address, ["create"], null, r.body));
      }
    }
    for (const name of deletes) {
      if ([...replaced.values()].includes(name)) continue;
      for (const r of this.applied.get(name) ?? deployedResources(name, this.world)) {
        changes.push(change(`${r.type}.${r.logical}`, ["delete"], stateOf(r, this.world.groups.get(name)!), null));
      }
    }
    // Each cluster's capacity-provider set (capacityProviders): updated in place when the generations change.
    const providerSets: ProviderSet[] = [];
    for (const set of this.providerSets()) {
      const cluster = this.world.clusters.get(set.clusterName);
      const after = providerSetValue(set);
      if (!cluster?.capacityProviders) {
        changes.push(change(set.address, ["create"], null, after));
        providerSets.push(set);
        continue;
      }
      const before = providerSetValue({ ...set, providers: cluster.capacityProviders, defaults: cluster.defaultStrategy ?? [] });
      const same = JSON.stringify(before) === JSON.stringify(after);
      changes.push(same ? change(set.address, ["no-op"], before, before) : inPlaceUpdate(set.address, before, after, {}));
      if (!same) providerSets.push(set);
    }
    const deployedClusters = new Set(this.deployedClusterConfigs().map((c) => c.name));
    const newClusters = new Set<string>();
    for (const [type, byLogical] of Object.entries(this.stack.resource ?? {})) {
      if (CAPACITY_TYPES.has(type)) continue;
      for (const [logical, body] of Object.entries(byLogical)) {
        const address = `${type}.${logical}`;
        const cluster = this.clusterOf(address);
        if (cluster && !deployedClusters.has(cluster.name)) {
          // Not in the state yet: the first deploy creates it.
          changes.push(change(address, ["create"], null, body));
          if (type === "aws_ecs_cluster") newClusters.add(cluster.ecsClusterName);
          continue;
        }
        const current = planValue(body).value;
        changes.push(change(address, ["no-op"], current, current));
      }
    }
    changes.sort((a, b) => a.address.localeCompare(b.address));
    const any = changes.some((c) => c.change.actions[0] !== "no-op");
    const json: PlanJson = {
      format_version: "1.2",
      terraform_version: "1.11.4",
      resource_changes: changes,
      output_changes: { [CLUSTERS_OUTPUT]: this.clustersOutputChange() },
      configuration: configurationOf(this.stack),
      timestamp: new Date(this.world.clock.now()).toISOString(),
      applyable: any,
      complete: true,
      errored: false,
    };
    this.plans.set(planFile, { json, serial: this.serial, creates, deletes, newClusters: [...newClusters], updates, providerSets });
    return { changes: any };
  }

  /** The stack's capacity-provider sets, their references resolved (provider names are literals of the stack). */
  private providerSets(): ProviderSet[] {
    return Object.entries(this.stack.resource?.[PROVIDER_SET] ?? {}).map(([logical, body]) => ({
      address: `${PROVIDER_SET}.${logical}`,
      clusterName: String(this.resolve(body.cluster_name)),
      providers: (body.capacity_providers ?? []).map((p: unknown) => String(this.resolve(p))),
      defaults: (body.default_capacity_provider_strategy ?? []).map((d: any) => ({ capacityProvider: String(this.resolve(d.capacity_provider)), weight: d.weight, base: d.base })),
    }));
  }

  /**
   * ECS refuses to delete a capacity provider that a service's strategy names (the cluster's
   * default included, for services that use it): terraform's delete then fails.
   */
  private checkProviderUnused(name: string): void {
    for (const service of this.world.services.values()) {
      const strategy = service.capacityProviderStrategy === "default" ? this.world.clusters.get(service.clusterName)?.defaultStrategy : service.capacityProviderStrategy;
      if (strategy?.some((s) => s.capacityProvider === name)) {
        throw new Error(`terraform: deleting aws_ecs_capacity_provider ${name}: ResourceInUseException: the capacity provider is used by service ${service.name}`);
      }
    }
  }

  /**
   * The replace strategy keeps one group at a construct path without the AMI in it (EcsCluster's
   * "capacity"); blue-green paths are keyed by AMI ("generation_<ami>"), so never replaced.
   */
  private isStableAddress(generation: DesiredGeneration): boolean {
    return !/_generation_ami-/.test(generation.address) && !generation.address.includes(generation.spec.imageId);
  }

  async showJson(planFile: string): Promise<PlanJson> {
    this.notAborted("show");
    const saved = this.plans.get(planFile);
    if (!saved) throw new Error(`terraform: ${planFile} is not a saved plan`);
    return saved.json;
  }

  async apply(planFile: string): Promise<void> {
    this.notAborted("apply");
    this.needInit();
    const saved = this.plans.get(planFile);
    if (!saved) throw new Error(`terraform: ${planFile} is not a saved plan`);
    if (saved.serial !== this.serial) throw new StalePlanError("apply");
    this.serial++;
    this.stateSerial = (this.pushed?.serial ?? this.stateSerial) + 1;
    this.pushed = undefined;
    const interrupted = () => new TerraformError("apply", "interrupted (terraform stopped after SIGINT)", undefined, true);
    // A first deploy: the ECS cluster exists before the instances that join it (the groups
    // depend on the drain hook, which refers to the cluster).
    for (const name of saved.newClusters) this.world.createCluster(name);
    // In-place updates first (terraform walks them beside the creates; they take no time).
    for (const update of saved.updates) {
      if (this.signal?.aborted) throw interrupted();
      this.world.updateLaunchTemplateImage(update.name, update.imageId);
    }
    // create_before_destroy: every new group is in service before any old one goes.
    for (const generation of saved.creates) {
      if (this.signal?.aborted) throw interrupted();
      this.world.createGroup(generation.spec);
      if (generation.capacityProvider) this.world.createCapacityProvider(generation.capacityProvider.name, generation.spec.name, generation.capacityProvider.managedDraining);
      this.applied.set(generation.spec.name, [
        { type: "aws_autoscaling_group", logical: generation.address.split(".")[1], body: generation.body },
        ...generation.related,
      ]);
      this.checkpoint?.("apply:created");
      const ready = await this.untilInterrupted(this.world.waitForCapacity(generation.spec.name, generation.waitForCapacityMs));
      if (ready === "interrupted") throw interrupted();
      if (!ready) throw new Error(`terraform: waiting for capacity of ${generation.spec.name}: timeout after ${generation.waitForCapacityMs / 60_000}m`);
    }
    // The cluster's provider set is updated after the new providers exist and before the old go
    // (terraform's order for an update that a delete's dependents make).
    for (const set of saved.providerSets) {
      if (this.signal?.aborted) throw interrupted();
      try {
        putClusterCapacityProviders(this.world, set.clusterName, set.providers, set.defaults);
      } catch (error) {
        throw new Error(`terraform: updating ${set.address}: ${(error as Error).name}: ${(error as Error).message}`);
      }
    }
    // A provider goes before its group, once no service names it.
    for (const name of saved.deletes) {
      const provider = this.world.providerOfGroup(name);
      if (!provider) continue;
      this.checkProviderUnused(provider.name);
      this.world.capacityProviders.delete(provider.name);
      this.world.note(`capacity provider ${provider.name} deleted`);
    }
    // Groups that do not depend on each other are deleted in parallel, as terraform walks its
    // graph (a replace's old group and the canary group it proved go together).
    if (saved.deletes.length === 0) return;
    if (this.signal?.aborted) throw interrupted();
    const gone = new Set<string>();
    const deletions = saved.deletes.map(async (name) => {
      const timeout = this.desired().find((d) => d.spec.clusterName === this.world.groups.get(name)?.clusterName)?.deleteTimeoutMs ?? 600_000;
      const deleted = this.world.deleteGroup(name).then(() => void gone.add(name));
      const outcome = await Promise.race([deleted.then(() => "deleted"), this.world.clock.sleep(timeout).then(() => "timeout")]);
      if (outcome === "timeout") throw new Error(`terraform: deleting ${name}: timeout after ${timeout / 60_000}m waiting for its instances to terminate`);
    });
    this.checkpoint?.("apply:deleting");
    const outcome = await this.untilInterrupted(Promise.allSettled(deletions));
    for (const name of saved.deletes) {
      if (gone.has(name)) this.deletesCutShort.delete(name);
      else this.deletesCutShort.add(name);
    }
    if (outcome === "interrupted") throw interrupted();
    const failed = outcome.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /**
   * The plan's change to `amiroll_clusters`: before, what the world runs (null when nothing is
   * deployed: the output is not in the state yet); after, what the stack declares (references
   * resolved against the stack, as terraform would know them at plan time; a new cluster's ARN
   * is known only after apply).
   */
  private clustersOutputChange(): { actions: string[]; before: unknown; after: unknown; after_unknown: unknown; before_sensitive: boolean; after_sensitive: boolean } {
    const before = this.deployedClusterConfigs().length > 0 ? this.deployedClusters() : null;
    const declared = (this.stack.output?.[CLUSTERS_OUTPUT]?.value ?? {}) as Record<string, any>;
    const unknownArns = Object.fromEntries(Object.keys(declared).filter((c) => !(before ?? {})[c]).map((c) => [c, { cluster_arn: true }]));
    const after = Object.fromEntries(
      Object.entries(declared).map(([cluster, entry]) => {
        const deployed = (before as Record<string, any> | null)?.[cluster];
        return [cluster, {
          cluster_name: deployed?.cluster_name ?? this.environment.clusters.find((c) => c.name === cluster)?.ecsClusterName,
          cluster_arn: deployed?.cluster_arn,
          strategy: entry.strategy,
          generations: (entry.generations as any[]).map((g) => ({ ...g, asg_name: this.resolve(g.asg_name) })),
        }];
      }),
    );
    const same = JSON.stringify(before) === JSON.stringify(after);
    const actions = before === null ? ["create"] : [same ? "no-op" : "update"];
    const afterUnknown = Object.keys(unknownArns).length > 0 ? unknownArns : false;
    return { actions, before, after, after_unknown: afterUnknown, before_sensitive: false, after_sensitive: false };
  }

  /** `${type.logical.attribute}` of a literal attribute of the stack, else the value itself. */
  private resolve(value: unknown): unknown {
    const ref = typeof value === "string" ? /^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}$/.exec(value) : null;
    if (!ref) return value;
    const attribute = this.stack.resource?.[ref[1]]?.[ref[2]]?.[ref[3]];
    return typeof attribute === "string" && !attribute.includes("${") ? attribute : null;
  }

  /**
   * The state's lineage: one per environment's state (its backend key), the same in every run,
   * so that a backup of one simulated run is of the same state as the next run's.
   */
  get lineage(): string {
    const hex = createHash("sha256").update(`amiroll-sim:${this.environment.backend.key}`).digest("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  /**
   * `terraform state pull`: the state (format 4) of what plan takes as deployed: each group in the
   * state with its launch template and alarm, at the stack's addresses for the groups it declares;
   * the other resources of the deployed clusters as the stack declares them. "" before the first
   * deploy (the backend holds no state). After a push, the pushed state, until the next apply.
   * (The sim's plan reads the world, not this text: a pushed state changes what pull shows, not
   * what the next plan does.)
   */
  async statePull(): Promise<string> {
    this.notAborted("state pull");
    if (this.pushed) return this.pushed.text;
    const deployedClusters = new Set(this.deployedClusterConfigs().map((c) => c.name));
    if (deployedClusters.size === 0) return "";
    const desired = this.desired();
    const resources: { type: string; name: string; attributes: unknown }[] = [];
    const groups = [...this.world.groups.values()].filter((g) => this.clusterNames().has(g.tags?.["amiroll:cluster"] ?? "") && this.inState(g));
    for (const group of groups) {
      const generation = desired.find((d) => d.spec.name === group.name);
      const of = generation
        ? [{ type: "aws_autoscaling_group", logical: generation.address.split(".")[1], body: generation.body }, ...generation.related]
        : (this.applied.get(group.name) ?? deployedResources(group.name, this.world));
      for (const r of of) resources.push({ type: r.type, name: r.logical, attributes: stateOf(r, group) });
    }
    for (const [type, byLogical] of Object.entries(this.stack.resource ?? {})) {
      if (CAPACITY_TYPES.has(type)) continue;
      for (const [logical, body] of Object.entries(byLogical)) {
        const cluster = this.clusterOf(`${type}.${logical}`);
        if (cluster && !deployedClusters.has(cluster.name)) continue;
        resources.push({ type, name: logical, attributes: planValue(body).value });
      }
    }
    // The clusters' capacity-provider sets, as ECS has them.
    for (const set of this.providerSets()) {
      const cluster = this.world.clusters.get(set.clusterName);
      if (!cluster?.capacityProviders) continue;
      resources.push({ type: PROVIDER_SET, name: set.address.split(".")[1], attributes: providerSetValue({ ...set, providers: cluster.capacityProviders, defaults: cluster.defaultStrategy ?? [] }) });
    }
    resources.sort((a, b) => `${a.type}.${a.name}`.localeCompare(`${b.type}.${b.name}`));
    const state = {
      version: 4,
      terraform_version: "1.11.4",
      serial: this.stateSerial,
      lineage: this.lineage,
      outputs: { [CLUSTERS_OUTPUT]: { value: this.deployedClusters(), type: "dynamic" } },
      resources: resources.map((r) => ({
        mode: "managed",
        type: r.type,
        name: r.name,
        provider: `provider["${PROVIDER}"]`,
        instances: [{ schema_version: 0, attributes: r.attributes }],
      })),
      check_results: null,
    };
    return JSON.stringify(state, null, 2);
  }

  /**
   * `terraform state push FILE` (an absolute path), with terraform's checks: another lineage, a
   * lower serial, or the same serial with other content is refused.
   */
  async statePush(file: string): Promise<void> {
    this.notAborted("state push");
    let pushed: { lineage?: unknown; serial?: unknown };
    let text: string;
    try {
      text = readFileSync(file, "utf8");
      pushed = JSON.parse(text);
    } catch (error) {
      throw new TerraformError("state push", `Failed to load state: ${(error as Error).message}`, 1);
    }
    const current = await this.statePull();
    if (current !== "") {
      const existing = JSON.parse(current) as { lineage: string; serial: number };
      if (pushed.lineage !== existing.lineage) {
        throw new TerraformError("state push", `cannot import state with lineage ${JSON.stringify(pushed.lineage)} over unrelated state with lineage ${JSON.stringify(existing.lineage)}`, 1);
      }
      if (typeof pushed.serial !== "number" || existing.serial > pushed.serial) {
        throw new TerraformError("state push", `cannot import state with serial ${pushed.serial} over newer state with serial ${existing.serial}`, 1);
      }
      if (existing.serial === pushed.serial && current !== text) {
        throw new TerraformError("state push", `cannot overwrite existing state with serial ${existing.serial} with a different state that has the same serial`, 1);
      }
    }
    this.pushed = { text, serial: pushed.serial as number };
    this.stateSerial = pushed.serial as number;
    // Saved plans were made against the state before it.
    this.serial++;
  }

  /** `amiroll_clusters` as deployed: each cluster's generations, newest first; no output before the first deploy. */
  async output(): Promise<Record<string, { value: unknown; sensitive: boolean }>> {
    this.notAborted("output");
    if (this.deployedClusterConfigs().length === 0) return {};
    return { [CLUSTERS_OUTPUT]: { value: this.deployedClusters(), sensitive: false } };
  }

  /** The deployed clusters' entries of the output (a cluster never deployed has none). */
  private deployedClusters(): Record<string, unknown> {
    const declared = (this.stack.output?.[CLUSTERS_OUTPUT]?.value ?? {}) as Record<string, { strategy?: string }>;
    const value: Record<string, unknown> = {};
    for (const cluster of this.deployedClusterConfigs()) {
      const groups = [...this.world.groups.values()]
        .filter((g) => g.clusterName === cluster.ecsClusterName && this.inState(g))
        .sort((a, b) => b.createdAt - a.createdAt || a.name.localeCompare(b.name));
      // As EcsCluster names them: a canary group beside the stable one, which then runs the retiring image.
      const proving = groups.some((g) => isCanaryGroup(g.name));
      const stable = groups.filter((g) => !isCanaryGroup(g.name));
      value[cluster.name] = {
        cluster_name: cluster.ecsClusterName,
        cluster_arn: this.world.clusters.get(cluster.ecsClusterName)?.arn,
        strategy: declared[cluster.name]?.strategy ?? cluster.strategy,
        generations: groups.map((g) => ({
          role: isCanaryGroup(g.name) ? "canary" : !proving && g === stable[0] ? "current" : "retiring",
          image_id: g.imageId,
          image_name: this.world.images.get(g.imageId)?.name ?? null,
          asg_name: g.name,
        })),
      };
    }
    return value;
  }
}

/** The replace strategy's canary group (constructs/names.ts canaryAsgName). */
function isCanaryGroup(name: string): boolean {
  return name.endsWith("-canary");
}

/** An update in place: `after` as terraform plans it, with `unknown` marking what only the apply will know. */
function inPlaceUpdate(address: string, before: unknown, after: unknown, unknown: unknown): ResourceChange {
  const [type, name] = address.split(".");
  return {
    address,
    mode: "managed",
    type,
    name,
    provider_name: PROVIDER,
    change: { actions: ["update"], before, after, after_unknown: unknown, before_sensitive: {}, after_sensitive: {} },
  };
}

function change(address: string, actions: string[], before: unknown, afterBody: unknown, replacePaths?: string[][]): ResourceChange {
  const [type, name] = address.split(".");
  // A new object's references to other resources are known only after apply.
  const planned = afterBody === null || actions[0] === "no-op" ? { value: afterBody, unknown: {} } : planValue(afterBody);
  const after = planned.value;
  return {
    address,
    mode: "managed",
    type,
    name,
    provider_name: PROVIDER,
    action_reason: replacePaths ? "replace_because_cannot_update" : undefined,
    change: {
      actions,
      before,
      after,
      after_unknown: after === null ? {} : actions[0] === "no-op" ? {} : { ...(planned.unknown as object), arn: true, id: true },
      before_sensitive: before === null ? false : {},
      after_sensitive: after === null ? false : {},
      replace_paths: replacePaths,
    },
  };
}

/** A cluster's capacity-provider set as the stack declares it. */
interface ProviderSet {
  readonly address: string;
  readonly clusterName: string;
  readonly providers: readonly string[];
  readonly defaults: readonly CapacityProviderStrategyItem[];
}

/** aws_ecs_cluster_capacity_providers as a plan shows it. */
function providerSetValue(set: ProviderSet): Record<string, unknown> {
  return {
    cluster_name: set.clusterName,
    capacity_providers: [...set.providers],
    default_capacity_provider_strategy: set.defaults.map((d) => ({ base: d.base ?? 0, capacity_provider: d.capacityProvider, weight: d.weight ?? 0 })),
  };
}
