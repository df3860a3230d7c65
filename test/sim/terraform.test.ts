/**
 * The terraform stand-in against the simulated world, on the stacks this repository synthesizes:
 * plan JSON in Terraform's shape, and applies that behave like terraform's.
 */
import type { ClusterAmis } from "../../constructs/ami";
import { type Simulation, createSimulation } from "../../scripts/sim/scenarios";
import { StalePlanError } from "../../scripts/core/errors";
import { type PlanJson, SimTerraform } from "../../scripts/sim/terraform";
import { findEnvironment } from "../../scripts/config/file";
import { environments, repoPins as pins, stackWith } from "../support/sim-plans";

async function setup(envName: string, amis?: (sim: Simulation) => ClusterAmis) {
  const environment = findEnvironment(environments, envName);
  const sim = await createSimulation({ environment, pins: pins[envName] });
  const terraform = (stackAmis: ClusterAmis) => new SimTerraform(sim.world, environment, stackWith(envName, stackAmis));
  return { sim, terraform, amis: amis?.(sim) ?? pins[envName].apps };
}

/** Non-no-op changes as "address actions" lines, for readable assertions. */
const changed = (plan: PlanJson) =>
  plan.resource_changes.filter((c) => c.change.actions[0] !== "no-op").map((c) => `${c.type} ${c.change.actions.join(",")}`).sort();

async function planned(tf: SimTerraform, file = "tfplan"): Promise<PlanJson> {
  await tf.init();
  await tf.plan(file);
  return tf.showJson(file);
}

describe("terraform stand-in", () => {
  it("replace: plans the capacity as create-before-destroy and leaves the rest alone", async () => {
    const { terraform, amis } = await setup("staging");
    const plan = await planned(terraform(amis));
    expect(plan).toMatchObject({ format_version: "1.2", applyable: true, complete: true, errored: false });
    expect(changed(plan)).toEqual([
      "aws_autoscaling_group create,delete",
      "aws_cloudwatch_metric_alarm create,delete",
      "aws_launch_template create,delete",
    ]);
    const asg = plan.resource_changes.find((c) => c.type === "aws_autoscaling_group")!;
    expect(asg.action_reason).toBe("replace_because_cannot_update");
    expect(plan.resource_changes.filter((c) => c.type === "aws_lambda_function").map((c) => c.change.actions)).toEqual([["no-op"]]);
  });

  it("replace: applies like terraform: the new group in service first, the old drained by its hook, then deleted", async () => {
    const { sim, terraform, amis } = await setup("staging");
    const tf = terraform(amis);
    await planned(tf);
    await tf.apply("tfplan");
    const groups = [...sim.world.groups.values()];
    expect(groups.map((g) => g.imageId)).toEqual([amis.current.imageId]);
    expect(sim.world.log.some((line) => line.includes("drain hook staging-apps: drained"))).toBe(true);
    expect(sim.world.downtimeViolations()).toEqual([]);
    expect((await tf.output()).amiroll_clusters.value).toMatchObject({
      apps: { strategy: "replace", generations: [{ role: "current", image_id: amis.current.imageId, asg_name: `staging-apps-${amis.current.imageId}` }] },
    });
    expect(await tf.plan("again")).toEqual({ changes: false });
  });

  it("blue-green: adding a generation plans creates only; retiring the old one plans deletes only", async () => {
    const { sim, terraform } = await setup("production");
    const current = pins.production.apps.current;
    const running = { imageId: sim.images.apps.running };
    const add = terraform({ current, retiring: running });
    expect(changed(await planned(add))).toEqual(["aws_autoscaling_group create", "aws_cloudwatch_metric_alarm create", "aws_launch_template create"]);
    await add.apply("tfplan");
    expect([...sim.world.groups.values()].map((g) => g.imageId).sort()).toEqual([current.imageId, running.imageId].sort());
    expect(((await add.output()).amiroll_clusters.value as any).apps.generations.map((g: any) => [g.role, g.image_id])).toEqual([
      ["current", current.imageId],
      ["retiring", running.imageId],
    ]);

    const retire = terraform({ current });
    expect(changed(await planned(retire))).toEqual(["aws_autoscaling_group delete", "aws_cloudwatch_metric_alarm delete", "aws_launch_template delete"]);
    const deleted = (await retire.showJson("tfplan")).resource_changes.find((c) => c.change.actions[0] === "delete")!;
    expect(deleted.change).toMatchObject({ after: null, after_sensitive: false });
    await retire.apply("tfplan");
    expect([...sim.world.groups.values()].map((g) => g.imageId)).toEqual([current.imageId]);
    expect(sim.world.downtimeViolations()).toEqual([]);
  });

  it("refuses to plan before init, and to apply a plan made before the last apply (stale)", async () => {
    const { terraform, amis } = await setup("staging");
    const tf = terraform(amis);
    await expect(tf.plan("p")).rejects.toThrow("run init first");
    await tf.init();
    await tf.plan("first");
    await tf.plan("second");
    await tf.apply("first");
    await expect(tf.apply("second")).rejects.toThrow(StalePlanError);
    await expect(tf.showJson("missing")).rejects.toThrow("missing is not a saved plan");
  });
});
