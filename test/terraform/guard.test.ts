/**
 * The plan guard on real plans it was not written for (test/fixtures/plans, and variants
 * of them with one dangerous change), and on the create, replace, add and retire plans of this
 * repository's stacks made by the sim's terraform.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClusterAmis } from "../../constructs/ami";
import { synthesizeStacks } from "../../constructs/app";
import * as aws from "../../constructs/aws";
import { type GuardOptions, type GuardResult, AMIROLL_RESOURCE_TYPES, guardPlan, guardText, inferShape } from "../../scripts/terraform/guard";
import { type Plan, parsePlan, readPlanFile } from "../../scripts/terraform/plan";
import { clusterOfAddress } from "../../scripts/terraform/rolls";
import { ConfigError } from "../../scripts/config/input";
import { findEnvironment } from "../../scripts/config/file";
import { type Simulation, createSimulation } from "../../scripts/sim/scenarios";
import { SimTerraform } from "../../scripts/sim/terraform";
import { fixture, fixtureJson } from "../support/fixtures";
import { ENVIRONMENTS_CONFIG, loadEnvironments } from "../support/repo-config";
import { environments, refreshing, repoPins, rollPlans, simPlan, simulationOf } from "../support/sim-plans";
import { synthCluster } from "../support/synth";

const refusedAddresses = (r: GuardResult) => r.verdicts.filter((v) => !v.accepted).map((v) => v.address);
const verdictOf = (r: GuardResult, address: string) => r.verdicts.find((v) => v.address === address)!;

/** aws__03-ami-bump with one resource change edited. */
function bumpWith(address: string, edit: (rc: any) => void): Plan {
  const raw = fixtureJson("aws__03-ami-bump");
  const rc = raw.resource_changes.find((c: any) => c.address === address);
  if (!rc) throw new Error(`no ${address}`);
  edit(rc);
  return parsePlan(raw, "edited aws__03-ami-bump");
}

/** aws__03-ami-bump with an extra change appended. */
function bumpPlus(extra: any): Plan {
  const raw = fixtureJson("aws__03-ami-bump");
  raw.resource_changes.push(extra);
  return parsePlan(raw, "extended aws__03-ami-bump");
}

const change = (address: string, actions: string[], before: unknown = {}, after: unknown = null) => ({
  address,
  mode: "managed",
  type: address.split(".")[0],
  name: address.split(".")[1],
  change: { actions, before, after, after_unknown: {}, before_sensitive: {}, after_sensitive: after === null ? false : {} },
});

describe("the plan guard on real plans", () => {
  const replace: GuardOptions = { expect: "replace" };

  it("accepts an AMI bump that changes only the launch template, launch configuration and their groups", () => {
    const result = guardPlan(readPlanFile(fixture("aws__03-ami-bump")), replace);
    expect(result.accepted).toBe(true);
    expect(result.verdicts.map((v) => [v.address, v.accepted])).toEqual([
      ["aws_autoscaling_group.ecs", true],
      ["aws_autoscaling_group.legacy", true],
      ["aws_launch_configuration.legacy", true],
      ["aws_launch_template.ecs", true],
    ]);
    // Groups updated in place keep their instances: accepted, but the reviewer is told.
    expect(verdictOf(result, "aws_autoscaling_group.ecs").warning).toMatch(/keep their old image/);
    expect(verdictOf(result, "aws_launch_configuration.legacy").reason).toMatch(/with its group aws_autoscaling_group.legacy/);
    expect([result.unchanged, result.drift]).toEqual([2, 6]);
  });

  it("refuses the same bump for any other expected shape, saying why", () => {
    const plan = readPlanFile(fixture("aws__03-ami-bump"));
    for (const expect_ of ["add", "retire", "none"] as const) {
      const result = guardPlan(plan, { expect: expect_ });
      expect([expect_, result.accepted]).toEqual([expect_, false]);
      expect(refusedAddresses(result)).toHaveLength(4);
    }
    expect(guardPlan(plan, { expect: "add" }).problems).toEqual(["expected a blue-green add, but the plan adds no Auto Scaling group"]);
  });

  it("always refuses a group replaced destroy-before-create", () => {
    const plan = bumpWith("aws_autoscaling_group.ecs", (rc) => {
      rc.change.actions = ["delete", "create"];
      rc.action_reason = "replace_because_cannot_update";
    });
    for (const expect_ of ["replace", "add", "retire", "none"] as const) {
      const verdict = verdictOf(guardPlan(plan, { expect: expect_ }), "aws_autoscaling_group.ecs");
      expect(verdict).toMatchObject({ accepted: false, reason: expect.stringMatching(/destroy-before-create: every instance would be terminated/) });
    }
  });

  it.each([
    ["the ECS cluster", "aws_ecs_cluster.this", /deletes the ECS cluster: never part of an AMI roll/],
    ["the SSM parameter", "aws_ssm_parameter.secret", /deletes a aws_ssm_parameter, outside the cluster's capacity/],
  ])("refuses a delete of %s", (_label, address, reason) => {
    const plan = bumpWith(address, (rc) => {
      rc.change.actions = ["delete"];
      rc.change.after = null;
      rc.change.after_sensitive = false;
    });
    const result = guardPlan(plan, replace);
    expect(result.accepted).toBe(false);
    expect(verdictOf(result, address)).toMatchObject({ accepted: false, reason: expect.stringMatching(reason) });
  });

  it.each([
    ["an IAM role", change("aws_iam_role.instances", ["delete"]), /deletes IAM \(aws_iam_role\)/],
    ["a security group", change("aws_security_group.instances", ["delete", "create"]), /replaces a security group/],
    ["an IAM policy update", change("aws_iam_role_policy.x", ["update"], {}, {}), /IAM \(aws_iam_role_policy\) would be updated in place: not part of a replace roll/],
    ["an alarm of no group", change("aws_cloudwatch_metric_alarm.cpu", ["update"], { dimensions: { AutoScalingGroupName: "someone-else" } }, { dimensions: { AutoScalingGroupName: "someone-else" } }), /tied to no Auto Scaling group/],
    ["a launch template no group uses", change("aws_launch_template.stray", ["update"], { id: "lt-0stray", name: "stray" }, { id: "lt-0stray", name: "stray" }), /used by no Auto Scaling group/],
  ])("refuses %s in a replace roll", (_label, extra, reason) => {
    const result = guardPlan(bumpPlus(extra), replace);
    expect(result.accepted).toBe(false);
    expect(verdictOf(result, extra.address)).toMatchObject({ accepted: false, reason: expect.stringMatching(reason) });
    expect(result.reasons).toContain(`${extra.address}: ${verdictOf(result, extra.address).reason}`);
  });

  it("accepts an alarm tied to a changing group by value (its dimensions name the group)", () => {
    const extra = change("aws_cloudwatch_metric_alarm.low", ["update"], { dimensions: { AutoScalingGroupName: "ecs-asg" } }, { dimensions: { AutoScalingGroupName: "ecs-asg" } });
    expect(verdictOf(guardPlan(bumpPlus(extra), replace), extra.address)).toMatchObject({ accepted: true, reason: "updated in place with its group aws_autoscaling_group.ecs" });
  });

  it("--allow accepts what a reviewer named, and says so", () => {
    const extra = change("aws_iam_role_policy.drain", ["update"], {}, {});
    const result = guardPlan(bumpPlus(extra), { expect: "replace", allow: ["aws_iam_role_policy.*"] });
    expect(result.accepted).toBe(true);
    expect(verdictOf(result, extra.address).reason).toBe("allowed by --allow aws_iam_role_policy.*");
  });

  it("refuses a first deploy as an add: the cluster and everything else is new, and two groups at once", () => {
    const result = guardPlan(readPlanFile(fixture("aws__01-create")), { expect: "add" });
    expect(refusedAddresses(result)).toEqual(["aws_ecs_cluster.this", "aws_ssm_parameter.secret"]);
    expect(result.problems[0]).toMatch(/adds 2 groups of cluster \(untagged\)/);
  });

  it("accepts a no-op plan as none and refuses it as a roll", () => {
    const plan = readPlanFile(fixture("equivalence__null_provider_update.noop.plan"));
    expect(guardPlan(plan, { expect: "none" }).accepted).toBe(true);
    expect(guardPlan(plan, replace).problems).toEqual(["expected a replace roll, but no Auto Scaling group is replaced"]);
  });

  it("refuses changes outside capacity in plans of other providers", () => {
    const result = guardPlan(readPlanFile(fixture("builtin__replace-cbd-and-dbc")), replace);
    expect(refusedAddresses(result).sort()).toEqual(["module.svc.terraform_data.uses_ami", "terraform_data.asg", "terraform_data.launch_config"]);
  });

  it("treats an errored plan, and an expectation it cannot infer, as bad input", () => {
    expect(() => guardPlan(readPlanFile(fixture("show-json__plan-error")), replace)).toThrow(/errored: terraform could not finish this plan/);
    expect(() => guardPlan(readPlanFile(fixture("aws__03-ami-bump")))).toThrow(ConfigError);
    expect(() => guardPlan(readPlanFile(fixture("aws__03-ami-bump")))).toThrow(/output_changes.amiroll_clusters: missing, so the expected shape cannot be inferred/);
  });
});

describe("inferring the expected shape from the amiroll_clusters output", () => {
  const gen = (image: string, role = "current") => ({ role, image_id: image, asg_name: `c-${image}` });
  const planOf = (before: unknown, after: unknown) =>
    parsePlan({ format_version: "1.2", resource_changes: [], output_changes: { amiroll_clusters: { actions: ["update"], before, after } } }, "inline");

  it.each([
    ["replace", { a: { generations: [gen("ami-1")] } }, { a: { generations: [gen("ami-2")] } }],
    ["add", { a: { generations: [gen("ami-1")] } }, { a: { generations: [gen("ami-2"), gen("ami-1", "retiring")] } }],
    ["retire", { a: { generations: [gen("ami-2"), gen("ami-1", "retiring")] } }, { a: { generations: [gen("ami-2")] } }],
    ["none", { a: { generations: [gen("ami-1")] }, b: { generations: [gen("ami-3")] } }, { a: { generations: [gen("ami-1")] }, b: { generations: [gen("ami-3")] } }],
    ["add", { a: { generations: [gen("ami-1")] }, b: { generations: [gen("ami-3")] } }, { a: { generations: [gen("ami-2"), gen("ami-1", "retiring")] }, b: { generations: [gen("ami-3")] } }],
  ])("%s", (shape, before, after) => {
    expect(inferShape(planOf(before, after)).shape).toBe(shape);
  });

  it("infers create for clusters the state's output does not list: the whole environment, or one beside deployed ones", () => {
    expect(inferShape(planOf(null, { a: { generations: [gen("ami-1")] }, b: { generations: [gen("ami-3")] } }))).toMatchObject({ shape: "create", creating: ["a", "b"] });
    // A new cluster beside one that does not change is a first deploy; beside one that rolls, the roll's shape with the new cluster apart.
    expect(inferShape(planOf({ a: { generations: [gen("ami-1")] } }, { a: { generations: [gen("ami-1")] }, b: { generations: [gen("ami-3")] } }))).toMatchObject({ shape: "create", creating: ["b"] });
    expect(inferShape(planOf({ a: { generations: [gen("ami-1")] } }, { a: { generations: [gen("ami-2")] }, b: { generations: [gen("ami-3")] } }))).toMatchObject({ shape: "replace", creating: ["b"] });
  });

  it("refuses to guess when clusters make different rolls, or a cluster makes none of the five", () => {
    const mixed = planOf({ a: { generations: [gen("ami-1")] }, b: { generations: [gen("ami-3")] } }, { a: { generations: [gen("ami-2")] }, b: { generations: [gen("ami-4"), gen("ami-3", "retiring")] } });
    expect(() => inferShape(mixed)).toThrow("clusters make different rolls (a: replace, b: add); roll them one at a time or pass --expect");
    const gone = planOf({ a: { generations: [gen("ami-1")] } }, {});
    expect(() => inferShape(gone)).toThrow("the cluster leaves the stack");
  });
});

describe("the plan guard on this repository's stacks (the sim's terraform)", () => {
  let plans: Awaited<ReturnType<typeof rollPlans>>;
  beforeAll(async () => {
    plans = await rollPlans();
  });

  it.each(["replace", "add", "retire"] as const)("infers %s from the amiroll_clusters output and accepts it", (shape) => {
    const result = guardPlan(plans[shape]);
    expect([result.expect, result.expectFrom, result.accepted, result.reasons]).toEqual([shape, "inferred", true, []]);
    // One group, its launch template and its alarm; everything else (cluster, IAM, hook) untouched.
    expect(result.verdicts.map((v) => v.type).sort()).toEqual(["aws_autoscaling_group", "aws_cloudwatch_metric_alarm", "aws_launch_template"]);
  });

  it("refuses each roll judged as another", () => {
    for (const shape of ["replace", "add", "retire"] as const) {
      for (const other of ["replace", "add", "retire", "none"] as const) {
        if (other === shape) continue;
        expect([shape, other, guardPlan(plans[shape], { expect: other }).accepted]).toEqual([shape, other, false]);
      }
    }
  });

  it("a blue-green cluster moved to a new image without keeping the old one as retiring is refused", async () => {
    const sim = await simulationOf("production");
    const { plan } = await simPlan(sim, "production", repoPins.production.apps);
    expect(inferShape(plan).shape).toBe("replace");
    const result = guardPlan(plan);
    expect(result.accepted).toBe(false);
    expect(result.reasons.join("\n")).toMatch(/a new group beside the old one is not a replace roll/);
    expect(result.reasons.join("\n")).toMatch(/deleted outside a replacement/);
  });

  it("a replace roll's canary: its group added beside the old one (add), then replaced with the canary deleted in the same plan (replace)", async () => {
    const sim = await simulationOf("staging");
    const running = { imageId: sim.images.apps.running };
    const add = await simPlan(sim, "staging", { current: repoPins.staging.apps.current, retiring: running });
    expect(guardPlan(add.plan)).toMatchObject({ expect: "add", accepted: true, reasons: [] });
    expect(add.plan.changes.filter((c) => c.kind === "create").map((c) => c.type).sort()).toEqual(["aws_autoscaling_group", "aws_cloudwatch_metric_alarm", "aws_launch_template"]);
    await add.terraform.apply("tfplan");

    const replace = await simPlan(sim, "staging", { current: repoPins.staging.apps.current });
    const result = guardPlan(replace.plan);
    expect([result.expect, result.accepted, result.reasons]).toEqual(["replace", true, []]);
    const deleted = result.verdicts.filter((v) => v.kind === "delete");
    expect(deleted.map((v) => v.type).sort()).toEqual(["aws_autoscaling_group", "aws_cloudwatch_metric_alarm", "aws_launch_template"]);
    expect(deleted.map((v) => v.reason).join("\n")).toMatch(/canary group/);
    expect(result.verdicts.filter((v) => v.kind === "replace (create before destroy)")).toHaveLength(3);

    // The same deletes, when the output does not list the group as a canary, are refused.
    const raw = JSON.parse(JSON.stringify(replace.raw));
    for (const g of raw.output_changes.amiroll_clusters.before.apps.generations) g.role = "retiring";
    const forged = guardPlan(parsePlan(raw, "forged.json"));
    expect(forged.accepted).toBe(false);

    // A failed proof removes the canary alone: a retire.
    const sim2 = await simulationOf("staging");
    const add2 = await simPlan(sim2, "staging", { current: repoPins.staging.apps.current, retiring: running });
    await add2.terraform.apply("tfplan");
    const back = await simPlan(sim2, "staging", { current: running });
    expect(guardPlan(back.plan)).toMatchObject({ expect: "retire", accepted: true, reasons: [] });
  });

  it("infers none when the pins match what runs", async () => {
    const sim = await simulationOf("staging");
    const { plan } = await simPlan(sim, "staging", { current: { imageId: sim.images.apps.running } });
    expect(guardPlan(plan)).toMatchObject({ expect: "none", accepted: true, verdicts: [] });
  });

  it("says in text which roll it judged and every verdict", () => {
    const text = guardText(guardPlan(plans.add));
    expect(text).toMatch(/^plan guard: ACCEPTED \(expected a blue-green add, inferred from the amiroll_clusters output\)/);
    expect(text).toMatch(/apps: ami-\w+ -> ami-\w+ \+ ami-\w+/);
    expect(text.split("\n").filter((l) => l.startsWith("  ✓"))).toHaveLength(3);
  });
});

describe("refresh rolls (the sim's terraform, staging on the refresh strategy)", () => {
  const envs = refreshing("staging");
  let sim: Simulation;
  let bump: Awaited<ReturnType<typeof simPlan>>;
  beforeAll(async () => {
    sim = await simulationOf("staging", envs);
    bump = await simPlan(sim, "staging", repoPins.staging.apps, envs);
  });

  it("infers refresh: the launch template and the group updated in place, nothing else; accepted", () => {
    const result = guardPlan(bump.plan);
    expect([result.expect, result.expectFrom, result.accepted, result.reasons]).toEqual(["refresh", "inferred", true, []]);
    expect(result.verdicts.map((v) => [v.type, v.kind]).sort()).toEqual([["aws_autoscaling_group", "update"], ["aws_launch_template", "update"]]);
    expect(result.rolls[0]).toMatchObject({ cluster: "apps", shape: "refresh", before: [{ asgName: "staging-apps-ami-refresh" }], after: [{ asgName: "staging-apps-ami-refresh" }] });
  });

  it("refuses it judged as any other shape, and other shapes judged as refresh", async () => {
    for (const other of ["replace", "add", "retire", "none"] as const) {
      expect([other, guardPlan(bump.plan, { expect: other }).accepted]).toEqual([other, other === "replace"]);
    }
    const plans = await rollPlans();
    for (const shape of ["replace", "add", "retire"] as const) expect([shape, guardPlan(plans[shape], { expect: "refresh" }).accepted]).toEqual([shape, false]);
  });

  /** The refresh plan with the group's (or another resource's) change edited. */
  const edited = (edit: (changes: any[]) => void) => {
    const raw = structuredClone(bump.raw) as any;
    edit(raw.resource_changes);
    return guardPlan(parsePlan(raw, "edited.json"));
  };
  const groupChange = (changes: any[]) => changes.find((c: any) => c.type === "aws_autoscaling_group");

  it("refuses a group update that changes more than its template version, naming what", () => {
    const result = edited((changes) => (groupChange(changes).change.after.max_size = 40));
    expect(result.accepted).toBe(false);
    expect(result.reasons.join("\n")).toMatch(/a refresh updates only the group's launch template version; this update also changes max_size/);
    const otherTemplate = edited((changes) => {
      const after = groupChange(changes).change.after;
      (Array.isArray(after.launch_template) ? after.launch_template[0] : after.launch_template).id = "lt-0other";
    });
    expect(otherTemplate.reasons.join("\n")).toMatch(/also changes launch_template\.id/);
  });

  it("refuses a replaced group or launch template, and an alarm change", () => {
    const replaced = edited((changes) => (groupChange(changes).change.actions = ["create", "delete"]));
    expect(replaced.accepted).toBe(false);
    expect(replaced.reasons.join("\n")).toMatch(/a refresh keeps its group and updates only its launch template version; this group would be replaced create-before-destroy/);
    const alarm = edited((changes) => {
      const c = changes.find((x: any) => x.type === "aws_cloudwatch_metric_alarm");
      c.change.actions = ["update"];
      c.change.after = { ...c.change.after, threshold: 9 };
    });
    expect(alarm.accepted).toBe(false);
    expect(alarm.reasons.join("\n")).toMatch(/a refresh changes only the launch template and its group's template version/);
  });

  it("refuses --expect refresh on a plan where no group takes a new template version", () => {
    const result = edited((changes) => {
      const g = groupChange(changes);
      g.change.actions = ["no-op"];
      g.change.after = g.change.before;
    });
    expect(result.accepted).toBe(false);
    expect(result.problems).toContain("expected a refresh roll, but no Auto Scaling group's launch template is updated in place");
  });

  it("after the apply, the group runs new instances from the new template while the old ones keep running; the next plan is none", async () => {
    await bump.terraform.apply("tfplan");
    const group = sim.world.groups.get("staging-apps-ami-refresh")!;
    expect(group.imageId).toBe(repoPins.staging.apps.current.imageId);
    const images = group.instanceIds.map((id) => sim.world.instances.get(id)!.imageId);
    expect(new Set(images)).toEqual(new Set([sim.images.apps.running]));
    const again = await simPlan(sim, "staging", repoPins.staging.apps, envs);
    expect(guardPlan(again.plan)).toMatchObject({ expect: "none", accepted: true, verdicts: [] });
  });
});

// ---------------------------------------------------------------------------------------------
// First deploys: environments and clusters not deployed yet.

/** A world where `envName` was never deployed, and the plan of its first deploy. */
async function firstDeployPlan(envName: string) {
  const sim = await createSimulation({ environment: findEnvironment(environments, envName), pins: repoPins[envName], scenario: "first-deploy" });
  return simPlan(sim, envName, repoPins[envName].apps);
}

/**
 * The plan of `envName` with a second cluster `web` added to the config (not deployed: the
 * world has only `apps`), `apps` pinned to `apps`.
 */
async function planWithNewCluster(sim: Simulation, envName: string, apps: ClusterAmis) {
  const raw = structuredClone(ENVIRONMENTS_CONFIG) as any;
  raw[envName].clusters.web = { ...raw[envName].clusters.apps };
  const edited = loadEnvironments(raw);
  const pins = { ...repoPins, [envName]: { apps, web: repoPins[envName].apps } };
  const [stack] = synthesizeStacks({ environments: edited, pins, outDir: join(mkdtempSync(join(tmpdir(), "amiroll-stack-")), "out"), only: [envName] });
  const terraform = new SimTerraform(sim.world, findEnvironment(edited, envName), JSON.parse(readFileSync(stack.file, "utf8")));
  await terraform.init();
  await terraform.plan("tfplan");
  const json = structuredClone(await terraform.showJson("tfplan")) as any;
  return { json, plan: parsePlan(json, `${envName}.plan.json`) };
}

describe("first deploys (create)", () => {
  it("accepts a never-deployed environment's plan without --expect: creates only, of amiroll's types, of its new clusters", async () => {
    for (const env of ["staging", "production"]) {
      const { plan } = await firstDeployPlan(env);
      const result = guardPlan(plan);
      expect([env, result.expect, result.expectFrom, result.creating, result.accepted, result.reasons]).toEqual([env, "create", "inferred", ["apps"], true, []]);
      expect(result.verdicts.every((v) => v.kind === "create" && v.reason === "part of the first deploy of cluster apps")).toBe(true);
      // Everything the stack has: the cluster, IAM, security group, drain hook, and the capacity.
      expect(new Set(result.verdicts.map((v) => v.type))).toEqual(new Set([...AMIROLL_RESOURCE_TYPES].filter((t) => !["aws_vpc_security_group_ingress_rule", "aws_ecs_capacity_provider", "aws_ecs_cluster_capacity_providers"].includes(t))));
      expect(guardText(result)).toMatch(/^plan guard: ACCEPTED \(expected a first deploy of apps, inferred from the amiroll_clusters output\)\n {2}apps: \(not deployed\) -> ami-0c8e1f5b2a9d47e31 \(first deploy\)/);
    }
  });

  it("refuses an update or a delete in a first deploy", async () => {
    const { raw } = await firstDeployPlan("staging");
    const json = structuredClone(raw) as any;
    const cluster = json.resource_changes.find((c: any) => c.type === "aws_ecs_cluster");
    cluster.change.actions = ["update"];
    cluster.change.before = cluster.change.after;
    const role = json.resource_changes.find((c: any) => c.type === "aws_iam_role");
    Object.assign(role.change, { actions: ["delete"], before: role.change.after, after: null, after_sensitive: false });
    const result = guardPlan(parsePlan(json, "edited"));
    expect([result.expect, result.accepted]).toEqual(["create", false]);
    expect(verdictOf(result, cluster.address).reason).toBe("a first deploy only creates; the ECS cluster would be updated in place");
    expect(verdictOf(result, role.address).reason).toBe("a first deploy only creates; IAM (aws_iam_role) would be deleted");
    expect(refusedAddresses(result)).toEqual([role.address, cluster.address].sort());
  });

  it("refuses a resource type amiroll's constructs do not make, even of the new cluster", async () => {
    const { raw } = await firstDeployPlan("staging");
    const json = structuredClone(raw) as any;
    json.resource_changes.push(change("aws_s3_bucket.apps_logs_0A1B2C3D", ["create"], null, { bucket: "apps-logs" }));
    const result = guardPlan(parsePlan(json, "extended"));
    expect(result.accepted).toBe(false);
    expect(result.reasons).toEqual(["aws_s3_bucket.apps_logs_0A1B2C3D: amiroll's constructs make no aws_s3_bucket, so creating one is not part of a first deploy"]);
  });

  it("a new cluster beside a deployed one: only the new cluster's creates are accepted, whatever the deployed one does", async () => {
    // Production's apps unchanged: the plan is the first deploy of web alone.
    const production = await simulationOf("production");
    const unchanged = await planWithNewCluster(production, "production", { current: { imageId: production.images.apps.running } });
    const alone = guardPlan(unchanged.plan);
    expect([alone.expect, alone.creating, alone.accepted, alone.reasons]).toEqual(["create", ["web"], true, []]);
    expect(alone.verdicts.length).toBeGreaterThan(15);
    expect(alone.verdicts.every((v) => clusterOfAddress(v.address, ["apps", "web"]) === "web")).toBe(true);

    // A create of a resource of the deployed cluster in the same plan is refused.
    const cluster = unchanged.json.resource_changes.find((c: any) => c.address.startsWith("aws_ecs_cluster.apps_"));
    Object.assign(cluster.change, { actions: ["create"], before: null, before_sensitive: false });
    const sneaked = guardPlan(parsePlan(unchanged.json, "edited"));
    expect(sneaked.accepted).toBe(false);
    expect(sneaked.reasons).toEqual([`${cluster.address}: belongs to cluster apps, which is already deployed: a first deploy creates only clusters the state does not have yet`]);

    // Staging's apps bumped in the same plan: its replace roll and web's first deploy, each judged by its own shape.
    const staging = await simulationOf("staging");
    const bumped = await planWithNewCluster(staging, "staging", repoPins.staging.apps);
    const both = guardPlan(bumped.plan);
    expect([both.expect, both.creating, both.accepted, both.reasons]).toEqual(["replace", ["web"], true, []]);
    const apps = both.verdicts.filter((v) => clusterOfAddress(v.address, ["apps", "web"]) === "apps");
    expect(apps.map((v) => [v.type, v.kind]).sort()).toEqual([
      ["aws_autoscaling_group", "replace (create before destroy)"],
      ["aws_cloudwatch_metric_alarm", "replace (create before destroy)"],
      ["aws_launch_template", "replace (create before destroy)"],
    ]);
    expect(guardText(both).split("\n")[0]).toBe("plan guard: ACCEPTED (expected a replace roll, and a first deploy of web, inferred from the amiroll_clusters output)");
    // The deployed cluster's ECS cluster created in that plan is no part of a replace roll.
    const stagingCluster = bumped.json.resource_changes.find((c: any) => c.address.startsWith("aws_ecs_cluster.apps_"));
    Object.assign(stagingCluster.change, { actions: ["create"], before: null, before_sensitive: false });
    expect(guardPlan(parsePlan(bumped.json, "edited")).reasons).toEqual([`${stagingCluster.address}: the ECS cluster would be created: not part of a replace roll, which changes only launch templates, Auto Scaling groups and their alarms and hooks`]);
  });

  it("refuses --expect create on a bump: the cluster is deployed", async () => {
    const plans = await rollPlans();
    for (const shape of ["replace", "add"] as const) {
      const result = guardPlan(plans[shape], { expect: "create" });
      expect([shape, result.accepted, result.creating]).toEqual([shape, false, []]);
      expect(result.problems).toEqual([`expected a first deploy, but every cluster of the amiroll_clusters output is already deployed (apps: ${shape})`]);
      // The add's creates are amiroll's types, but of a deployed cluster.
      for (const v of result.verdicts.filter((v) => v.kind === "create")) expect(v.reason).toMatch(/^belongs to cluster apps, which is already deployed/);
    }
  });

  it("a plan without the amiroll_clusters output: not inferred; with --expect create, only creates of amiroll's types pass", () => {
    const plan = readPlanFile(fixture("aws__01-create"));
    expect(() => guardPlan(plan)).toThrow(/output_changes.amiroll_clusters: missing, so the expected shape cannot be inferred \(not an amiroll stack\?\); pass --expect create\|replace\|add\|retire\|refresh\|none/);
    const result = guardPlan(plan, { expect: "create" });
    expect(result.accepted).toBe(false);
    // amiroll makes launch templates, never launch configurations, and no SSM parameter.
    expect(result.reasons).toEqual([
      "aws_launch_configuration.legacy: amiroll's constructs make no aws_launch_configuration, so creating one is not part of a first deploy",
      "aws_ssm_parameter.secret: amiroll's constructs make no aws_ssm_parameter, so creating one is not part of a first deploy",
    ]);
    expect(verdictOf(result, "aws_ecs_cluster.this")).toMatchObject({ accepted: true, warning: "which cluster it belongs to is not checked (the plan has no amiroll_clusters output)" });

    const raw = fixtureJson("aws__01-create");
    raw.resource_changes = raw.resource_changes.filter((c: any) => !["aws_launch_configuration.legacy", "aws_ssm_parameter.secret"].includes(c.address));
    expect(guardPlan(parsePlan(raw, "amiroll types only"), { expect: "create" })).toMatchObject({ accepted: true, expect: "create", expectFrom: "given", creating: [] });
    // And a plan that creates no group at all is no first deploy of a cluster.
    raw.resource_changes = raw.resource_changes.filter((c: any) => c.type !== "aws_autoscaling_group");
    expect(guardPlan(parsePlan(raw, "no groups"), { expect: "create" }).problems).toEqual(["expected a first deploy, but the plan creates no Auto Scaling group"]);
  });

  it("knows exactly the resource types amiroll's constructs synthesize", () => {
    const types = new Set<string>();
    const collect = (json: any) => Object.keys(json.resource ?? {}).forEach((t) => types.add(t));
    // This repository's stacks (replace and blue-green), and a cluster with every optional part.
    const out = join(mkdtempSync(join(tmpdir(), "amiroll-types-")), "out");
    for (const stack of synthesizeStacks({ environments: loadEnvironments(), pins: repoPins, outDir: out })) collect(JSON.parse(readFileSync(stack.file, "utf8")));
    collect(JSON.parse(synthCluster({ ingress: [{ description: "ALB", fromPort: 32768, toPort: 65535, sourceSecurityGroupId: "sg-0123456789abcdef0" }], alarmActions: ["arn:aws:sns:eu-west-1:123456789012:ops"] })));
    collect(JSON.parse(synthCluster({ strategy: "blue-green", capacityProviders: true })));
    expect([...types].sort()).toEqual([...AMIROLL_RESOURCE_TYPES].sort());
    // Every resource class the constructs may use (constructs/aws.ts) is in the list too.
    const classes = Object.entries(aws as Record<string, any>)
      .filter(([name, value]) => typeof value?.tfResourceType === "string" && !name.startsWith("Data") && name !== "AwsProvider")
      .map(([, value]) => value.tfResourceType as string);
    expect(classes.sort()).toEqual([...AMIROLL_RESOURCE_TYPES].sort());
  });
});
