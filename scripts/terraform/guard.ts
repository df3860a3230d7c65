/**
 * The plan guard: the runbook's "expect changes to the launch template, the ASG and its alarm
 * only; carefully investigate anything else", in code. Every change of a plan gets a verdict
 * with its reason, judged against the expected shape of the roll (rolls.ts, `Shape`); the plan
 * is accepted only when every verdict is.
 *
 * Pure: a Plan in, a GuardResult out.
 */
import { ConfigError } from "../config/input";
import { jsonSafe, terminalLine, terminalSafe } from "../core/inert";
import { type Plan, type ResourceChange, SENSITIVE, UNKNOWN, actingChanges } from "./plan";
import { type ClusterRoll, SHAPES, type Shape, clusterOfAddress, clusterRolls } from "./rolls";

export interface GuardOptions {
  /** The expected shape; inferred from the plan's `amiroll_clusters` output when absent. */
  readonly expect?: Shape;
  /** Address patterns (`*` matches anything) whose changes are accepted whatever they are. */
  readonly allow?: readonly string[];
}

export interface Verdict {
  readonly address: string;
  readonly type: string;
  readonly kind: ResourceChange["kind"];
  readonly accepted: boolean;
  /** Why it is expected, or why not. */
  readonly reason: string;
  /** Accepted, but worth a reviewer's eye. */
  readonly warning?: string;
}

export interface GuardResult {
  readonly source: string;
  /**
   * The shape the plan was judged against: `create` when every cluster that changes is new,
   * else the roll of the deployed clusters (new ones beside them are in `creating`).
   */
  readonly expect: Shape;
  /** How the expectation was reached: given on the command line, or inferred per cluster. */
  readonly expectFrom: "given" | "inferred";
  /**
   * The clusters judged as first deploys: not deployed yet (absent from the state's
   * `amiroll_clusters` output), so their changes may only create what amiroll makes.
   */
  readonly creating: readonly string[];
  /** The clusters' rolls read from the plan (empty when the plan has no amiroll output). */
  readonly rolls: readonly ClusterRoll[];
  readonly accepted: boolean;
  /** One per change that does something (no-ops and data reads get none). */
  readonly verdicts: readonly Verdict[];
  /** Refusals of the plan as a whole (e.g. an expected replacement that is not there). */
  readonly problems: readonly string[];
  /** Every reason for refusal, one line each: the problems, then `address: reason`. */
  readonly reasons: readonly string[];
  readonly unchanged: number;
  /** Objects changed outside terraform (not part of the apply; shown, not judged). */
  readonly drift: number;
}

// ---------------------------------------------------------------------------------------------
// What a resource is to an AMI roll.

/**
 * Every resource type amiroll's constructs synthesize (EcsCluster with its capacity generations
 * and drain hook, EnvironmentStack): what a first deploy may create, and nothing else. A test
 * synthesizes the stacks with every optional part and checks this list against them.
 */
export const AMIROLL_RESOURCE_TYPES: ReadonlySet<string> = new Set([
  "aws_autoscaling_group",
  "aws_cloudwatch_event_rule",
  "aws_cloudwatch_event_target",
  "aws_cloudwatch_log_group",
  "aws_cloudwatch_metric_alarm",
  "aws_ecs_capacity_provider",
  "aws_ecs_cluster",
  "aws_ecs_cluster_capacity_providers",
  "aws_iam_instance_profile",
  "aws_iam_role",
  "aws_iam_role_policy",
  "aws_iam_role_policy_attachment",
  "aws_lambda_event_source_mapping",
  "aws_lambda_function",
  "aws_lambda_function_event_invoke_config",
  "aws_lambda_permission",
  "aws_launch_template",
  "aws_security_group",
  "aws_sqs_queue",
  "aws_vpc_security_group_egress_rule",
  "aws_vpc_security_group_ingress_rule",
]);

const GROUP = "aws_autoscaling_group";
const LAUNCH_TEMPLATES = new Set(["aws_launch_template", "aws_launch_configuration"]);
/** Resources that belong to one group and come and go with it. */
const COMPANIONS = new Set([
  "aws_cloudwatch_metric_alarm",
  "aws_autoscaling_lifecycle_hook",
  "aws_autoscaling_policy",
  "aws_autoscaling_schedule",
  "aws_autoscaling_notification",
  // capacityProviders (blue-green only): a generation's provider comes and goes with its group.
  "aws_ecs_capacity_provider",
]);
const PROVIDER = "aws_ecs_capacity_provider";
/** The cluster's capacity-provider set and default strategy (one per cluster, updated in place by an add and a retire). */
const PROVIDER_SET = "aws_ecs_cluster_capacity_providers";

/** Shared or stateful resources, named for the refusal message. */
function protectedLabel(type: string): string | undefined {
  if (type === "aws_ecs_cluster") return "the ECS cluster";
  if (type === "aws_ecs_service") return "an ECS service";
  if (type === PROVIDER || type === PROVIDER_SET) return "the cluster's capacity providers";
  if (type.startsWith("aws_iam_")) return `IAM (${type})`;
  if (type === "aws_security_group" || type.startsWith("aws_vpc_security_group_") || type === "aws_security_group_rule") {
    return `a security group (${type})`;
  }
  return undefined;
}

type Role = "group" | "launch template" | "companion" | "other";

function roleOf(change: ResourceChange): Role {
  if (change.type === GROUP) return "group";
  if (LAUNCH_TEMPLATES.has(change.type)) return "launch template";
  if (COMPANIONS.has(change.type)) return "companion";
  return "other";
}

// ---------------------------------------------------------------------------------------------
// Which group a launch template, alarm or hook belongs to: by the configuration's references,
// else by value (a deleted resource is gone from the configuration; its before value remains).

const known = (v: unknown): v is string => typeof v === "string" && v !== "" && v !== UNKNOWN && v !== SENSITIVE;

function valuesAt(change: ResourceChange, read: (v: any) => unknown): string[] {
  return [change.before, change.after].map((v) => (v && typeof v === "object" ? read(v) : undefined)).filter(known);
}

function groupNames(group: ResourceChange): string[] {
  return valuesAt(group, (v) => v.name);
}

/** Launch template ids and names, and launch configuration names, that a group uses. */
function groupLaunchRefs(group: ResourceChange): string[] {
  // A block is a list of one in plan JSON; accept a bare object too.
  const block = (v: any) => (Array.isArray(v?.launch_template) ? v.launch_template[0] : v?.launch_template);
  return [
    ...valuesAt(group, (v) => block(v)?.id),
    ...valuesAt(group, (v) => block(v)?.name),
    ...valuesAt(group, (v) => v.launch_configuration),
  ];
}

function tiedGroups(change: ResourceChange, groups: readonly ResourceChange[], plan: Plan): ResourceChange[] {
  const role = roleOf(change);
  return groups.filter((group) => {
    if (role === "launch template") {
      if (plan.references.get(group.configAddress)?.has(change.configAddress)) return true;
      const mine = [...valuesAt(change, (v) => v.id), ...valuesAt(change, (v) => v.name)];
      return groupLaunchRefs(group).some((ref) => mine.includes(ref));
    }
    if (plan.references.get(change.configAddress)?.has(group.configAddress)) return true;
    const names = groupNames(group);
    const mine = [
      ...valuesAt(change, (v) => v.dimensions?.AutoScalingGroupName),
      ...valuesAt(change, (v) => v.autoscaling_group_name),
      ...valuesAt(change, (v) => v.group_names?.[0]),
      // A capacity provider names its group by ARN (…:autoScalingGroupName/NAME).
      ...valuesAt(change, (v) => providerBlock(v)?.auto_scaling_group_arn?.split?.("autoScalingGroupName/")[1]),
    ];
    return mine.some((name) => names.includes(name));
  });
}

function providerBlock(v: any): any {
  return Array.isArray(v?.auto_scaling_group_provider) ? v.auto_scaling_group_provider[0] : v?.auto_scaling_group_provider;
}

/** The ECS cluster a group serves, from its `amiroll:cluster` tag (stacks made by EcsCluster). */
function clusterOfGroup(group: ResourceChange): string {
  for (const v of [group.after, group.before] as any[]) {
    const tag = (Array.isArray(v?.tag) ? v.tag : []).find((t: any) => t?.key === "amiroll:cluster");
    if (known(tag?.value)) return tag.value;
  }
  return "(untagged)";
}

// ---------------------------------------------------------------------------------------------
// Verdicts.

const SHAPE_WORDS: Record<Shape, string> = {
  create: "a first deploy",
  replace: "a replace roll",
  add: "a blue-green add",
  retire: "a blue-green retire",
  refresh: "a refresh roll",
  none: "no changes",
};

function accept(change: ResourceChange, reason: string, warning?: string): Verdict {
  return { address: change.address, type: change.type, kind: change.kind, accepted: true, reason, ...(warning && { warning }) };
}

function refuse(change: ResourceChange, reason: string): Verdict {
  return { address: change.address, type: change.type, kind: change.kind, accepted: false, reason };
}

const isReplace = (c: ResourceChange) => c.kind.startsWith("replace");
const deletesOrReplaces = (c: ResourceChange) => c.actions.includes("delete");

/** The expectation in words: `a first deploy of staging/apps`, `a replace roll, and a first deploy of web`. */
export function expectationWords(result: Pick<GuardResult, "expect" | "creating">, env?: string): string {
  const clusters = result.creating.map((c) => (env ? `${env}/${c}` : c)).join(", ");
  const first = clusters ? `a first deploy of ${clusters}` : SHAPE_WORDS.create;
  if (result.expect === "create") return first;
  return result.creating.length > 0 ? `${SHAPE_WORDS[result.expect]}, and ${first}` : SHAPE_WORDS[result.expect];
}

/** Where a change stands in a first deploy: the cluster it belongs to, and whether that can be told. */
interface Owner {
  /** False when the plan has no amiroll_clusters output: changes are judged by type alone. */
  readonly known: boolean;
  readonly cluster?: string;
  readonly creating: ReadonlySet<string>;
}

/** A first deploy: creates only, of what amiroll makes, of a cluster that is not deployed yet. */
function judgeCreate(change: ResourceChange, owner: Owner): Verdict {
  const what = protectedLabel(change.type) ?? `a ${change.type}`;
  if (change.kind !== "create") {
    const words = change.kind === "delete" ? "deleted" : describeKind(change);
    return refuse(change, `a first deploy only creates; ${what} would be ${words}`);
  }
  if (!AMIROLL_RESOURCE_TYPES.has(change.type)) {
    return refuse(change, `amiroll's constructs make no ${change.type}, so creating one is not part of a first deploy`);
  }
  if (!owner.known) {
    return accept(change, `created: amiroll's constructs make ${change.type}`, "which cluster it belongs to is not checked (the plan has no amiroll_clusters output)");
  }
  if (owner.cluster === undefined) {
    return refuse(change, "belongs to no cluster of the amiroll_clusters output, so it is not part of a first deploy");
  }
  if (!owner.creating.has(owner.cluster)) {
    return refuse(change, `belongs to cluster ${owner.cluster}, which is already deployed: a first deploy creates only clusters the state does not have yet`);
  }
  return accept(change, `part of the first deploy of cluster ${owner.cluster}`);
}

function judgeGroup(change: ResourceChange, expect: Exclude<Shape, "create">, canaries: ReadonlySet<string>): Verdict {
  if (expect === "replace" && change.kind === "delete" && isCanary(change, canaries)) {
    return accept(change, "the canary group that proved the new image, deleted as the old group is replaced");
  }
  if (change.kind === "replace (destroy before create)") {
    return refuse(change, "replaced destroy-before-create: every instance would be terminated before a new one exists (the group needs create_before_destroy)");
  }
  switch (expect) {
    case "refresh": {
      if (change.kind !== "update") {
        return refuse(change, `a refresh keeps its group and updates only its launch template version; this group would be ${describeKind(change)}`);
      }
      const others = changedBesidesTemplateVersion(change);
      return others.length === 0
        ? accept(change, "its launch template version updated in place: the rollout replaces its instances in batches")
        : refuse(change, `a refresh updates only the group's launch template version; this update also changes ${others.join(", ")}`);
    }
    case "replace":
      if (change.kind === "replace (create before destroy)") {
        return accept(change, "replaced create-before-destroy: the new group is in service before the old one drains and goes");
      }
      if (change.kind === "update") {
        return accept(change, "updated in place", "running instances keep their old image until they are replaced");
      }
      return refuse(change, change.kind === "create"
        ? "a new group beside the old one is not a replace roll (a blue-green add is --expect add)"
        : `a group ${change.kind === "delete" ? "deleted outside a replacement (a blue-green retire is --expect retire)" : change.kind} is not part of a replace roll`);
    case "add":
      return change.kind === "create"
        ? accept(change, "the new generation, created beside the running one")
        : refuse(change, `a blue-green add only creates; this group would be ${describeKind(change)}`);
    case "retire":
      return change.kind === "delete"
        ? accept(change, "the retiring generation, drained before this apply")
        : refuse(change, `a blue-green retire only deletes; this group would be ${describeKind(change)}`);
    case "none":
      return refuse(change, `expected no changes; this group would be ${describeKind(change)}`);
  }
}

/**
 * What an update of a group changes besides its launch template's version (the template's id
 * and name must stay): top-level attributes by name. `desired_capacity` is left to scaling
 * (EcsCluster ignores its changes), so it is not counted.
 */
function changedBesidesTemplateVersion(group: ResourceChange): string[] {
  const before = (group.before ?? {}) as Record<string, unknown>;
  const after = (group.after ?? {}) as Record<string, unknown>;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const block = (v: unknown): Record<string, unknown> => ((Array.isArray(v) ? v[0] : v) ?? {}) as Record<string, unknown>;
  const changed: string[] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (key === "desired_capacity") continue;
    if (key === "launch_template") {
      const [b, a] = [block(before[key]), block(after[key])];
      for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
        if (k !== "version" && !same(b[k], a[k])) changed.push(`launch_template.${k}`);
      }
      continue;
    }
    if (!same(before[key], after[key])) changed.push(key);
  }
  return changed;
}

/** A group (being deleted) that the amiroll_clusters output lists as a canary group. */
function isCanary(group: ResourceChange, canaries: ReadonlySet<string>): boolean {
  return group.type === GROUP && groupNames(group).some((name) => canaries.has(name));
}

function describeKind(change: ResourceChange): string {
  const words: Record<string, string> = {
    create: "created",
    update: "updated in place",
    delete: "deleted",
    forget: "forgotten (left in AWS, dropped from the state)",
    "replace (create before destroy)": "replaced create-before-destroy",
    "replace (destroy before create)": "replaced destroy-before-create",
  };
  return words[change.kind] ?? change.kind;
}

/** Launch templates, alarms and hooks follow their group. */
function judgeTied(change: ResourceChange, expect: Exclude<Shape, "create">, tied: readonly ResourceChange[], canaries: ReadonlySet<string>): Verdict {
  const what = roleOf(change) === "launch template" ? "launch template" : change.type.replace(/^aws_/, "").replace(/_/g, " ");
  if (expect === "none") return refuse(change, `expected no changes; this ${what} would be ${describeKind(change)}`);
  if (tied.length === 0) {
    return refuse(change, roleOf(change) === "launch template"
      ? "used by no Auto Scaling group of this plan, so it is not part of a roll"
      : "tied to no Auto Scaling group of this plan, so it is not part of a roll");
  }
  const groups = tied.map((g) => g.address).join(", ");
  if (change.kind === "replace (destroy before create)" && roleOf(change) === "launch template") {
    return refuse(change, `replaced destroy-before-create while ${groups} uses it`);
  }
  if (change.type === PROVIDER && (expect === "replace" || expect === "refresh")) {
    return refuse(change, `capacity providers belong to blue-green generations only; this one of ${groups} would be ${describeKind(change)} in ${SHAPE_WORDS[expect]}`);
  }
  switch (expect) {
    case "refresh":
      if (roleOf(change) !== "launch template") {
        return refuse(change, `a refresh changes only the launch template and its group's template version; this ${what} of ${groups} would be ${describeKind(change)}`);
      }
      return change.kind === "update" && tied.some((g) => g.kind === "update")
        ? accept(change, `updated in place (a new version with the new image) for its group ${groups}`)
        : refuse(change, `a refresh updates the launch template in place; this one of ${groups} would be ${describeKind(change)}${change.kind === "update" ? " while its group does not take the new version" : ""}`);
    case "replace": {
      if (change.kind === "delete" && tied.every((g) => g.kind === "delete" && isCanary(g, canaries))) {
        return accept(change, `part of the canary group ${groups}, deleted as the old group is replaced`);
      }
      if (change.kind === "delete") return refuse(change, `a ${what} deleted outside a replacement is not part of a replace roll`);
      const moving = tied.some((g) => g.kind !== "no-op");
      return accept(
        change,
        `${describeKind(change)} with its group ${groups}`,
        moving ? undefined : "its group does not change: running instances keep their old image until they are replaced",
      );
    }
    case "add":
      return change.kind === "create" && tied.some((g) => g.kind === "create")
        ? accept(change, `part of the new generation ${groups}`)
        : refuse(change, `a blue-green add only creates a new generation; this ${what} of ${groups} would be ${describeKind(change)}`);
    case "retire":
      return change.kind === "delete" && tied.some((g) => g.kind === "delete")
        ? accept(change, `part of the retiring generation ${groups}`)
        : refuse(change, `a blue-green retire only deletes the old generation; this ${what} of ${groups} would be ${describeKind(change)}`);
  }
}

/**
 * The cluster's capacity-provider set in a blue-green roll: updated in place, gaining exactly
 * the providers the add creates (and its default naming one of the set), or losing exactly the
 * providers the retire deletes. Anything else is judged like any shared resource.
 */
function judgeProviderSet(change: ResourceChange, expect: Exclude<Shape, "create">, acting: readonly ResourceChange[], roll: ClusterRoll | undefined): Verdict | undefined {
  if (change.type !== PROVIDER_SET || change.kind !== "update" || (expect !== "add" && expect !== "retire" && expect !== "none")) return undefined;
  const names = (v: any): string[] | undefined => (Array.isArray(v?.capacity_providers) && v.capacity_providers.every(known) ? v.capacity_providers : undefined);
  const [before, after] = [names(change.before), names(change.after)];
  if (!before || !after) return refuse(change, "the cluster's capacity-provider set is not known at plan time, so it cannot be checked");
  const providersDoing = (kind: string) =>
    new Set(acting.filter((c) => c.type === PROVIDER && c.kind === kind).flatMap((c) => valuesAt(c, (v) => v.name)));
  const added = after.filter((n) => !before.includes(n));
  const removed = before.filter((n) => !after.includes(n));
  const defaults = (Array.isArray((change.after as any)?.default_capacity_provider_strategy) ? (change.after as any).default_capacity_provider_strategy : [])
    .map((s: any) => s?.capacity_provider);
  const strayDefault = defaults.find((d: unknown) => !known(d) || !after.includes(d as string));
  if (strayDefault !== undefined) return refuse(change, `its default strategy names ${String(strayDefault)}, which is not in the cluster's set`);
  if (expect === "none") {
    // An apply cut short after its groups and providers were made, before the set was updated:
    // the set brought in line with the generations the amiroll_clusters output lists, nothing else.
    const generations = (roll?.after ?? []).map((g) => g.asgName);
    const current = roll?.after.find((g) => g.role === "current")?.asgName;
    const matches = generations.length > 0 && generations.every((n) => n !== undefined && after.includes(n)) && after.every((n) => generations.includes(n));
    return matches && defaults.length > 0 && defaults.every((d: unknown) => d === current)
      ? accept(change, `the cluster's provider set brought in line with its generations (${after.join(", ")}; default ${current}): an apply cut short before it updated the set`)
      : refuse(change, `expected no changes; this update of the cluster's provider set (${before.join(", ")} -> ${after.join(", ")}) does not bring it in line with the cluster's generations`);
  }
  if (expect === "add") {
    const created = providersDoing("create");
    return removed.length === 0 && added.length > 0 && added.every((n) => created.has(n))
      ? accept(change, `the new generation's provider ${added.join(", ")} added to the cluster's set${defaults.length ? ` (default: ${defaults.join(", ")})` : ""}`)
      : refuse(change, `a blue-green add only adds the new generation's provider to the cluster's set; this update ${removed.length ? `removes ${removed.join(", ")}` : `adds ${added.join(", ") || "nothing"}${added.some((n) => !created.has(n)) ? ", not a provider this plan creates" : ""}`}`);
  }
  const deleted = providersDoing("delete");
  return added.length === 0 && removed.length > 0 && removed.every((n) => deleted.has(n))
    ? accept(change, `the retiring generation's provider ${removed.join(", ")} taken out of the cluster's set before it is deleted`)
    : refuse(change, `a blue-green retire only takes the retiring generation's provider out of the cluster's set; this update ${added.length ? `adds ${added.join(", ")}` : `removes ${removed.join(", ") || "nothing"}${removed.some((n) => !deleted.has(n)) ? ", not a provider this plan deletes" : ""}`}`);
}

function judgeOther(change: ResourceChange, expect: Exclude<Shape, "create">): Verdict {
  const label = protectedLabel(change.type);
  if (deletesOrReplaces(change)) {
    const verb = isReplace(change) ? "replaces" : "deletes";
    return refuse(change, label ? `${verb} ${label}: never part of an AMI roll` : `${verb} a ${change.type}, outside the cluster's capacity`);
  }
  if (expect === "none") return refuse(change, `expected no changes; this ${change.type} would be ${describeKind(change)}`);
  return refuse(change, `${label ?? change.type} would be ${describeKind(change)}: not part of ${SHAPE_WORDS[expect]}, which changes only launch templates, Auto Scaling groups and their alarms and hooks`);
}

function allowedBy(address: string, patterns: readonly string[]): string | undefined {
  return patterns.find((p) => new RegExp(`^${p.split("*").map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(address));
}

// ---------------------------------------------------------------------------------------------

/**
 * The shape a plan should have, from its `amiroll_clusters` output: every deployed cluster that
 * changes must make the same roll; clusters not deployed yet are first deploys (`creating`),
 * judged apart, and when nothing else changes the shape is `create`. Throws a ConfigError
 * (exit 2) when it cannot be told.
 */
export function inferShape(plan: Plan): { shape: Shape; rolls: ClusterRoll[]; creating: string[] } {
  const rolls = clusterRolls(plan);
  const pass = `pass --expect ${SHAPES.join("|")}`;
  if (!rolls) throw new ConfigError(plan.source, "output_changes.amiroll_clusters", `missing, so the expected shape cannot be inferred (not an amiroll stack?); ${pass}`);
  const unknown = rolls.find((r) => typeof r.shape !== "string");
  if (unknown) {
    throw new ConfigError(plan.source, `output_changes.amiroll_clusters.${unknown.cluster}`, `no known roll: ${(unknown.shape as { unknown: string }).unknown}; ${pass}`);
  }
  const creating = rolls.filter((r) => r.shape === "create").map((r) => r.cluster);
  const moving = [...new Set(rolls.map((r) => r.shape as Shape).filter((s) => s !== "none" && s !== "create"))];
  if (moving.length > 1) {
    const each = rolls.filter((r) => r.shape !== "create").map((r) => `${r.cluster}: ${r.shape}`).join(", ");
    throw new ConfigError(plan.source, "output_changes.amiroll_clusters", `clusters make different rolls (${each}); roll them one at a time or ${pass}`);
  }
  return { shape: moving[0] ?? (creating.length > 0 ? "create" : "none"), rolls, creating };
}

/** Judges every change of `plan` against the expected shape. Throws ConfigError on an errored plan. */
export function guardPlan(plan: Plan, options: GuardOptions = {}): GuardResult {
  if (plan.errored) {
    throw new ConfigError(plan.source, "errored", "terraform could not finish this plan (errored: true); fix the errors it printed and plan again");
  }
  if (options.expect !== undefined && !SHAPES.includes(options.expect)) {
    throw new ConfigError("--expect", options.expect, `is not a shape (${SHAPES.join(", ")})`);
  }
  const inferred = options.expect === undefined ? inferShape(plan) : undefined;
  const expect = options.expect ?? inferred!.shape;
  const found = inferred?.rolls ?? clusterRolls(plan);
  const rolls = found ?? [];
  const allow = options.allow ?? [];
  // First deploys: the new clusters, when inferred or when --expect create says so (a given
  // roll shape judges every change by that shape, new clusters' too).
  const creating = new Set(options.expect === undefined || expect === "create" ? rolls.filter((r) => r.shape === "create").map((r) => r.cluster) : []);
  const clusters = rolls.map((r) => r.cluster);
  const ownerOf = (change: ResourceChange): Owner => ({ known: found !== undefined, cluster: clusterOfAddress(change.address, clusters), creating });
  /** Judged as a first deploy: everything under --expect create, else what belongs to a new cluster. */
  const firstDeploy = (change: ResourceChange) => expect === "create" || creating.has(ownerOf(change).cluster ?? "");

  const acting = actingChanges(plan);
  const groups = plan.changes.filter((c) => c.mode === "managed" && c.type === GROUP);
  // The canary groups a replace roll removes (or a retire: a failed proof, or a replace cut short
  // by Ctrl-C that left its old group and the canary to delete), by name, as the amiroll_clusters output lists them.
  const canaries = new Set(rolls.filter((r) => r.shape === "replace" || r.shape === "retire").flatMap((r) => r.before.filter((g) => g.role === "canary" && g.asgName).map((g) => g.asgName!)));
  const verdicts = acting.map((change) => {
    const pattern = allowedBy(change.address, allow);
    if (pattern) return accept(change, `allowed by --allow ${pattern}`, "not judged: a reviewer allowed it explicitly");
    if (firstDeploy(change)) return judgeCreate(change, ownerOf(change));
    const roll = expect as Exclude<Shape, "create">;
    const role = roleOf(change);
    if (role === "group") return judgeGroup(change, roll, canaries);
    if (role === "other") return judgeProviderSet(change, roll, acting, rolls.find((r) => r.cluster === ownerOf(change).cluster)) ?? judgeOther(change, roll);
    return judgeTied(change, roll, tiedGroups(change, groups, plan), canaries);
  });

  const problems: string[] = [];
  if (!plan.complete) problems.push("the plan is incomplete (complete: false): terraform deferred some changes; plan again once they can be known");
  if (expect === "create") {
    if (found !== undefined && creating.size === 0) {
      problems.push(`expected a first deploy, but every cluster of the amiroll_clusters output is already deployed (${rolls.map((r) => `${r.cluster}: ${typeof r.shape === "string" ? r.shape : "no known roll"}`).join(", ")})`);
    }
    if (found === undefined && !acting.some((c) => c.type === GROUP && c.kind === "create")) {
      problems.push("expected a first deploy, but the plan creates no Auto Scaling group");
    }
  }
  for (const cluster of creating) {
    if (!acting.some((c) => c.type === GROUP && c.kind === "create" && ownerOf(c).cluster === cluster)) {
      problems.push(`the first deploy of ${cluster} creates no Auto Scaling group for it`);
    }
  }
  // The roll of the deployed clusters is judged on their groups alone.
  const groupsDoing = (kinds: readonly string[]) => acting.filter((c) => c.type === GROUP && kinds.includes(c.kind) && !firstDeploy(c));
  if (expect === "replace" && groupsDoing(["replace (create before destroy)", "update"]).length === 0) {
    problems.push("expected a replace roll, but no Auto Scaling group is replaced");
  }
  if (expect === "refresh") {
    const updatedTemplates = acting.filter((c) => roleOf(c) === "launch template" && c.kind === "update" && !firstDeploy(c));
    if (groupsDoing(["update"]).length === 0 || updatedTemplates.length === 0) {
      problems.push("expected a refresh roll, but no Auto Scaling group's launch template is updated in place");
    }
  }
  for (const [shape, kind, verb] of [["add", "create", "adds"], ["retire", "delete", "retires"]] as const) {
    if (expect !== shape) continue;
    const moved = groupsDoing([kind]);
    if (moved.length === 0) problems.push(`expected a blue-green ${shape}, but the plan ${verb} no Auto Scaling group`);
    const perCluster = new Map<string, string[]>();
    // A canary group deleted beside the generation does not count as another one.
    for (const g of moved.filter((m) => !isCanary(m, canaries))) perCluster.set(clusterOfGroup(g), [...(perCluster.get(clusterOfGroup(g)) ?? []), g.address]);
    for (const [cluster, addresses] of perCluster) {
      if (addresses.length > 1) problems.push(`${verb} ${addresses.length} groups of cluster ${cluster} (${addresses.join(", ")}); ${SHAPE_WORDS[shape]} moves one generation`);
    }
  }

  const reasons = [...problems, ...verdicts.filter((v) => !v.accepted).map((v) => `${v.address}: ${v.reason}`)];
  return {
    source: plan.source,
    expect,
    expectFrom: options.expect === undefined ? "inferred" : "given",
    creating: [...creating],
    rolls,
    accepted: reasons.length === 0,
    verdicts,
    problems,
    reasons,
    unchanged: plan.changes.filter((c) => c.kind === "no-op").length,
    drift: plan.drift.length,
  };
}

/**
 * The guard's result for a terminal: the verdict, then one line per change. Text from the plan
 * (cluster names, image ids, addresses, and the reasons that quote them) has its control
 * characters shown as escapes, a newline among them, so no plan can draw on the terminal or
 * forge a line of the verdict.
 */
export function guardText(result: GuardResult): string {
  const t = terminalLine;
  const lines = [
    `plan guard: ${result.accepted ? "ACCEPTED" : "REFUSED"} (expected ${t(expectationWords(result))}${result.expectFrom === "inferred" ? ", inferred from the amiroll_clusters output" : ""})`,
  ];
  for (const r of result.rolls) {
    if (r.shape === "none") continue;
    const before = r.before.map((g) => t(g.imageId)).join(" + ") || (r.shape === "create" ? "(not deployed)" : "(nothing)");
    lines.push(`  ${t(r.cluster)}: ${before} -> ${r.after.map((g) => t(g.imageId)).join(" + ") || "(nothing)"}${r.shape === "create" ? " (first deploy)" : ""}`);
  }
  for (const p of result.problems) lines.push(`  ✗ ${t(p)}`);
  for (const v of result.verdicts) {
    lines.push(`  ${v.accepted ? "✓" : "✗"} ${t(v.address)} (${t(v.kind)}): ${t(v.reason)}${v.warning ? ` [note: ${t(v.warning)}]` : ""}`);
  }
  lines.push(`  ${result.verdicts.length} change${result.verdicts.length === 1 ? "" : "s"} judged, ${result.unchanged} unchanged${result.drift ? `, ${result.drift} changed outside terraform (not part of this apply)` : ""}`);
  // Every field above is already one safe line; this catches any that a later edit forgets.
  return terminalSafe(lines.join("\n"));
}

/**
 * The guard's result as JSON (`amiroll guard -o json`): valid JSON whatever the plan holds, and
 * safe on a terminal (JSON.stringify leaves DEL and the C1 controls raw; they are escaped).
 */
export function guardJson(result: GuardResult): string {
  return jsonSafe(JSON.stringify(result, null, 2));
}
