/**
 * The plan guard on real plans it was not written for (test/fixtures/plans, and variants
 * of them with one dangerous change), and on the replace, add and retire plans of this
 * repository's stacks made by the sim's terraform.
 */
import { type GuardOptions, type GuardResult, guardPlan, guardText, inferShape } from "../../scripts/terraform/guard";
import { type Plan, parsePlan, readPlanFile } from "../../scripts/terraform/plan";
import { ConfigError } from "../../scripts/config/input";
import { fixture, fixtureJson } from "../support/fixtures";
import { repoPins, rollPlans, simPlan, simulationOf } from "../support/sim-plans";

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

  it("refuses to guess when clusters make different rolls, or a cluster makes none of the four", () => {
    const mixed = planOf({ a: { generations: [gen("ami-1")] }, b: { generations: [gen("ami-3")] } }, { a: { generations: [gen("ami-2")] }, b: { generations: [gen("ami-4"), gen("ami-3", "retiring")] } });
    expect(() => inferShape(mixed)).toThrow("clusters make different rolls (a: replace, b: add); roll them one at a time or pass --expect");
    const first = planOf(null, { a: { generations: [gen("ami-1")] } });
    expect(() => inferShape(first)).toThrow("output_changes.amiroll_clusters.a: no known roll: nothing is deployed yet");
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
