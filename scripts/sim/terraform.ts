/**
 * A terraform stand-in for the simulated world, with the interface the real runner has
 * (init, plan, show -json, apply, output). It diffs a synthesized stack's capacity (launch
 * templates, Auto Scaling groups with their hooks, alarms) against the world's groups, writes
 * the plan in Terraform's JSON format 1.2, and applies it the way terraform does: a new group is
 * created and waited on until its capacity is InService, then an old one is scaled to zero
 * through its lifecycle hooks and deleted. Everything else in the stack is taken as deployed
 * and unchanged (no-op).
 */
import type { Environment } from "../../stacks/environments";
import type { TerraformRunner } from "../terraform/runner";
import type { GroupSpec, LifecycleHookSpec, World } from "./world";

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
}

const PROVIDER = "registry.terraform.io/hashicorp/aws";
const CAPACITY_TYPES = new Set(["aws_launch_template", "aws_autoscaling_group", "aws_cloudwatch_metric_alarm"]);

type StackJson = { resource?: Record<string, Record<string, any>>; output?: Record<string, { value: unknown }> };

/** One generation as the stack describes it: its group and the resources tied to it. */
interface DesiredGeneration {
  readonly address: string;
  readonly spec: GroupSpec;
  readonly body: Record<string, any>;
  readonly related: readonly { type: string; logical: string; body: Record<string, any> }[];
  readonly waitForCapacityMs: number;
  readonly deleteTimeoutMs: number;
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
  private readonly plans = new Map<string, { json: PlanJson; serial: number; creates: DesiredGeneration[]; deletes: string[] }>();
  /** Bumped on every apply: a plan made before it is stale. */
  private serial = 0;

  constructor(
    private readonly world: World,
    private readonly environment: Environment,
    private readonly stack: StackJson,
  ) {}

  async init(): Promise<void> {
    this.initialized = true;
  }

  private needInit(): void {
    if (!this.initialized) throw new Error("terraform: run init first (Backend initialization required)");
  }

  private clusterNames(): Set<string> {
    return new Set(this.environment.clusters.map((c) => c.ecsClusterName));
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
      return {
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
    this.needInit();
    const desired = this.desired();
    const deployed = [...this.world.groups.values()].filter((g) => this.clusterNames().has(g.tags?.["amiroll:cluster"] ?? "") && !g.deleting);
    const desiredNames = new Set(desired.map((d) => d.spec.name));
    const changes: ResourceChange[] = [];
    const creates: DesiredGeneration[] = [];
    const deletes = deployed.filter((g) => !desiredNames.has(g.name)).map((g) => g.name);
    // A stable address whose group name changed is a replacement (create_before_destroy).
    const replaced = new Map<string, string>();
    for (const generation of desired) {
      if (desiredNames.has(generation.spec.name) && this.world.groups.has(generation.spec.name)) continue;
      creates.push(generation);
      const leaving = deployed.filter((g) => g.clusterName === generation.spec.clusterName && deletes.includes(g.name));
      const oneForOne = desired.filter((d) => d.spec.clusterName === generation.spec.clusterName).length === 1 && leaving.length === 1;
      if (oneForOne && this.isStableAddress(generation)) replaced.set(generation.address, leaving[0].name);
    }
    for (const generation of desired) {
      const isCreate = creates.includes(generation);
      const previous = replaced.get(generation.address);
      const resourcesOf = [{ type: "aws_autoscaling_group", logical: generation.address.split(".")[1], body: generation.body }, ...generation.related];
      for (const r of resourcesOf) {
        const address = `${r.type}.${r.logical}`;
        if (!isCreate) changes.push(change(address, ["no-op"], r.body, r.body));
        else if (previous) changes.push(change(address, ["create", "delete"], { ...r.body, name: previous }, r.body, r.type === "aws_launch_template" ? [["name_prefix"]] : [["name"]]));
        else changes.push(change(address, ["create"], null, r.body));
      }
    }
    for (const name of deletes) {
      if ([...replaced.values()].includes(name)) continue;
      const logical = name.replace(/[^A-Za-z0-9]/g, "_");
      for (const [type, suffix] of [["aws_autoscaling_group", "asg"], ["aws_launch_template", "launch_template"], ["aws_cloudwatch_metric_alarm", "low_instances"]]) {
        changes.push(change(`${type}.${logical}_${suffix}`, ["delete"], { name }, null));
      }
    }
    for (const [type, byLogical] of Object.entries(this.stack.resource ?? {})) {
      if (CAPACITY_TYPES.has(type)) continue;
      for (const [logical, body] of Object.entries(byLogical)) changes.push(change(`${type}.${logical}`, ["no-op"], body, body));
    }
    changes.sort((a, b) => a.address.localeCompare(b.address));
    const any = changes.some((c) => c.change.actions[0] !== "no-op");
    const json: PlanJson = {
      format_version: "1.2",
      terraform_version: "1.11.4",
      resource_changes: changes,
      output_changes: {},
      timestamp: new Date(this.world.clock.now()).toISOString(),
      applyable: any,
      complete: true,
      errored: false,
    };
    this.plans.set(planFile, { json, serial: this.serial, creates, deletes });
    return { changes: any };
  }

  /**
   * The replace strategy keeps one group at a construct path without the AMI in it (EcsCluster's
   * "capacity"); blue-green paths are keyed by AMI ("generation_<ami>"), so never replaced.
   */
  private isStableAddress(generation: DesiredGeneration): boolean {
    return !/_generation_ami-/.test(generation.address) && !generation.address.includes(generation.spec.imageId);
  }

  async showJson(planFile: string): Promise<PlanJson> {
    const saved = this.plans.get(planFile);
    if (!saved) throw new Error(`terraform: ${planFile} is not a saved plan`);
    return saved.json;
  }

  async apply(planFile: string): Promise<void> {
    this.needInit();
    const saved = this.plans.get(planFile);
    if (!saved) throw new Error(`terraform: ${planFile} is not a saved plan`);
    if (saved.serial !== this.serial) throw new Error("terraform: Saved plan is stale (the state changed since it was made)");
    this.serial++;
    // create_before_destroy: every new group is in service before any old one goes.
    for (const generation of saved.creates) {
      this.world.createGroup(generation.spec);
      const ready = await this.world.waitForCapacity(generation.spec.name, generation.waitForCapacityMs);
      if (!ready) throw new Error(`terraform: waiting for capacity of ${generation.spec.name}: timeout after ${generation.waitForCapacityMs / 60_000}m`);
    }
    for (const name of saved.deletes) {
      const timeout = this.desired().find((d) => d.spec.clusterName === this.world.groups.get(name)?.clusterName)?.deleteTimeoutMs ?? 600_000;
      const deleted = this.world.deleteGroup(name);
      const outcome = await Promise.race([deleted.then(() => "deleted"), this.world.clock.sleep(timeout).then(() => "timeout")]);
      if (outcome === "timeout") throw new Error(`terraform: deleting ${name}: timeout after ${timeout / 60_000}m waiting for its instances to terminate`);
    }
  }

  /** `amiroll_clusters` as deployed: each cluster's generations, newest first. */
  async output(): Promise<Record<string, { value: unknown; sensitive: boolean }>> {
    const outputs = this.stack.output ?? {};
    const declared = (outputs.amiroll_clusters?.value ?? {}) as Record<string, { strategy?: string }>;
    const value: Record<string, unknown> = {};
    for (const cluster of this.environment.clusters) {
      const groups = [...this.world.groups.values()]
        .filter((g) => g.clusterName === cluster.ecsClusterName && !g.deleting)
        .sort((a, b) => b.createdAt - a.createdAt || a.name.localeCompare(b.name));
      value[cluster.name] = {
        cluster_name: cluster.ecsClusterName,
        cluster_arn: this.world.clusters.get(cluster.ecsClusterName)?.arn,
        strategy: declared[cluster.name]?.strategy ?? cluster.strategy,
        generations: groups.map((g, i) => ({ role: i === 0 ? "current" : "retiring", image_id: g.imageId, asg_name: g.name })),
      };
    }
    return { amiroll_clusters: { value, sensitive: false } };
  }
}

function change(address: string, actions: string[], before: unknown, after: unknown, replacePaths?: string[][]): ResourceChange {
  const [type, name] = address.split(".");
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
      after_unknown: after === null ? {} : actions[0] === "no-op" ? {} : { arn: true, id: true },
      before_sensitive: before === null ? false : {},
      after_sensitive: after === null ? false : {},
      replace_paths: replacePaths,
    },
  };
}
