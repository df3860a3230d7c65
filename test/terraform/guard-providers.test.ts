/**
 * The plan guard on the blue-green add and retire of a cluster with capacity providers (plans of
 * this repository's production stack with `capacityProviders`, made by the sim's terraform): the
 * providers come and go with their groups, the cluster's set is updated in place by exactly
 * them; anything else about providers is refused.
 */
import { guardPlan } from "../../scripts/terraform/guard";
import { parsePlan } from "../../scripts/terraform/plan";
import type { Environment } from "../../scripts/config/environments";
import { findEnvironment } from "../../scripts/config/file";
import { createSimulation } from "../../scripts/sim/scenarios";
import { environments, repoPins, simPlan, simulationOf } from "../support/sim-plans";

const withProviders: Environment[] = environments.map((e) =>
  e.name === "production" ? { ...e, clusters: e.clusters.map((c) => ({ ...c, capacityProviders: true })) } : e,
);

async function rolls() {
  const sim = await simulationOf("production", withProviders);
  const running = { imageId: sim.images.apps.running };
  const current = repoPins.production.apps.current;
  const add = await simPlan(sim, "production", { current, retiring: running }, withProviders);
  await add.terraform.apply("tfplan");
  const retire = await simPlan(sim, "production", { current }, withProviders);
  return { add, retire, old: `production-apps-${running.imageId}`, new: `production-apps-${current.imageId}` };
}

const SET = /^aws_ecs_cluster_capacity_providers\./;

describe("the plan guard with capacity providers", () => {
  let plans: Awaited<ReturnType<typeof rolls>>;
  beforeAll(async () => {
    plans = await rolls();
  });

  it("accepts the add: the new provider created with its group, the set gaining it (the new default)", () => {
    const result = guardPlan(plans.add.plan);
    expect([result.expect, result.accepted, result.reasons]).toEqual(["add", true, []]);
    const provider = result.verdicts.find((v) => v.type === "aws_ecs_capacity_provider")!;
    expect([provider.kind, provider.reason]).toEqual(["create", expect.stringMatching(/^part of the new generation aws_autoscaling_group\./)]);
    const set = result.verdicts.find((v) => SET.test(v.address))!;
    expect([set.kind, set.reason]).toEqual(["update", `the new generation's provider ${plans.new} added to the cluster's set (default: ${plans.new})`]);
  });

  it("accepts the retire: the old provider deleted with its group, the set losing it", () => {
    const result = guardPlan(plans.retire.plan);
    expect([result.expect, result.accepted, result.reasons]).toEqual(["retire", true, []]);
    expect(result.verdicts.find((v) => v.type === "aws_ecs_capacity_provider")).toMatchObject({ kind: "delete", reason: expect.stringMatching(/^part of the retiring generation/) });
    expect(result.verdicts.find((v) => SET.test(v.address))!.reason).toBe(`the retiring generation's provider ${plans.old} taken out of the cluster's set before it is deleted`);
  });

  /** The add plan with its set change edited. */
  const editedAdd = (edit: (after: any) => void) => {
    const raw = structuredClone(plans.add.raw) as any;
    edit(raw.resource_changes.find((c: any) => SET.test(c.address)).change.after);
    return parsePlan(raw, "edited add");
  };

  it.each([
    ["drops the old provider in the add", (after: any) => (after.capacity_providers = after.capacity_providers.filter((p: string) => !p.includes(plans.old))), /this update removes production-apps-/],
    ["adds a provider the plan does not create", (after: any) => after.capacity_providers.push("someone-elses"), /adds .*someone-elses, not a provider this plan creates/],
    ["makes a provider outside the set the default", (after: any) => (after.default_capacity_provider_strategy = [{ capacity_provider: "FARGATE", weight: 1, base: 0 }]), /its default strategy names FARGATE, which is not in the cluster's set/],
  ])("refuses an add whose set update %s", (_what, edit, reason) => {
    const result = guardPlan(editedAdd(edit));
    expect(result.accepted).toBe(false);
    expect(result.reasons.join("\n")).toMatch(reason);
  });

  it("refuses the set's delete, and a provider in a replace roll", () => {
    const raw = structuredClone(plans.retire.raw) as any;
    const set = raw.resource_changes.find((c: any) => SET.test(c.address));
    set.change.actions = ["delete"];
    set.change.after = null;
    expect(guardPlan(parsePlan(raw, "set deleted")).reasons.join("\n")).toMatch(/deletes the cluster's capacity providers: never part of an AMI roll/);
    const asReplace = guardPlan(plans.add.plan, { expect: "replace" });
    expect(asReplace.verdicts.find((v) => v.type === "aws_ecs_capacity_provider")!.reason).toMatch(/^capacity providers belong to blue-green generations only/);
  });

  it("with no roll, accepts only a set brought in line with the generations (an apply cut short)", () => {
    const raw = structuredClone(plans.retire.raw) as any;
    // The retire's set change alone, with the output unchanged: the set still names a generation that stays.
    raw.resource_changes = raw.resource_changes.filter((c: any) => SET.test(c.address) || c.change.actions[0] === "no-op");
    raw.output_changes.amiroll_clusters.after = raw.output_changes.amiroll_clusters.before;
    raw.output_changes.amiroll_clusters.actions = ["no-op"];
    const result = guardPlan(parsePlan(raw, "set only"));
    expect([result.expect, result.accepted]).toEqual(["none", false]);
    expect(result.reasons.join("\n")).toMatch(/does not bring it in line with the cluster's generations/);
  });

  it("accepts a first deploy of a providers cluster, creating the providers and the set, and applies it", async () => {
    const sim = await createSimulation({ environment: findEnvironment(withProviders, "production"), pins: repoPins.production, scenario: "first-deploy" });
    const first = await simPlan(sim, "production", repoPins.production.apps, withProviders);
    const result = guardPlan(first.plan);
    expect([result.expect, result.accepted, result.reasons]).toEqual(["create", true, []]);
    expect(result.verdicts.filter((v) => /^aws_ecs_(capacity_provider|cluster_capacity_providers)\./.test(v.address)).map((v) => [v.type, v.kind])).toEqual([
      ["aws_ecs_capacity_provider", "create"],
      ["aws_ecs_cluster_capacity_providers", "create"],
    ]);
    await first.terraform.apply("tfplan");
    const provider = `production-apps-${repoPins.production.apps.current.imageId}`;
    expect(sim.world.clusters.get("production-apps")).toMatchObject({ capacityProviders: [provider], defaultStrategy: [{ capacityProvider: provider, weight: 1, base: 0 }] });
    // The state holds the providers and the set (state pull, as a backup takes it).
    const state = JSON.parse(await first.terraform.statePull());
    const ofType = (type: string) => state.resources.filter((r: any) => r.type === type).map((r: any) => r.instances[0].attributes);
    expect(ofType("aws_ecs_capacity_provider").map((a: any) => a.name)).toEqual([provider]);
    expect(ofType("aws_ecs_cluster_capacity_providers")).toEqual([expect.objectContaining({ capacity_providers: [provider] })]);
  });
});
