/**
 * Plans of this repository's stacks made by the sim's terraform: the replace, add and retire
 * rolls, as `amiroll plan --simulate` makes them.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClusterAmis } from "../../constructs/ami";
import { type Simulation, createSimulation } from "../../scripts/sim/scenarios";
import { SimTerraform } from "../../scripts/sim/terraform";
import { type Plan, parsePlan } from "../../scripts/terraform/plan";
import { findEnvironment } from "../../scripts/config/file";
import type { Environment } from "../../scripts/config/environments";
import type { RefreshOptions } from "../../constructs/refresh";

import { readPins } from "../../scripts/config/pins";
import { REPO_PINS_FILE, REPO_PINS_PATH, loadEnvironments, synthesizeRepo } from "./repo-config";

export const environments = loadEnvironments();
export const repoPins = readPins(REPO_PINS_PATH, environments, REPO_PINS_FILE);

/** The synthesized stack (cdk.tf.json) of `envName` with `amis` as its apps pin. */
export function stackWith(envName: string, amis: ClusterAmis, envs: Environment[] = environments): any {
  const dir = mkdtempSync(join(tmpdir(), "amiroll-stack-"));
  const pinsPath = join(dir, "amis.json");
  writeFileSync(pinsPath, JSON.stringify({ ...repoPins, [envName]: { apps: amis } }));
  const stack = synthesizeRepo({ outdir: join(dir, "out"), pinsPath, environments: envs }).stacks.find((s) => s.name === envName)!;
  return JSON.parse(readFileSync(stack.file, "utf8"));
}

/** A settled simulation of `envName` (on the image before its pin). */
export async function simulationOf(envName: string, envs: Environment[] = environments): Promise<Simulation> {
  return createSimulation({ environment: findEnvironment(envs, envName), pins: repoPins[envName] });
}

/** The repository's environments with every cluster of `envName` on the refresh strategy (with `options`). */
export function refreshing(envName: string, options: RefreshOptions = {}): Environment[] {
  return environments.map((e) => (e.name === envName ? { ...e, clusters: e.clusters.map((c) => ({ ...c, strategy: "refresh" as const, refresh: options })) } : e));
}

/** Plans `amis` for `envName` against `sim`; returns the raw JSON, the model, and the terraform to apply it. */
export async function simPlan(sim: Simulation, envName: string, amis: ClusterAmis, envs: Environment[] = environments) {
  const terraform = new SimTerraform(sim.world, findEnvironment(envs, envName), stackWith(envName, amis, envs));
  await terraform.init();
  await terraform.plan("tfplan");
  const raw = await terraform.showJson("tfplan");
  const plan: Plan = parsePlan(raw, `${envName}.plan.json`);
  return { raw, plan, terraform };
}

/** The three rolls of DESIGN.md on fresh worlds: staging replace, production add, then its retire. */
export async function rollPlans(): Promise<{ replace: Plan; add: Plan; retire: Plan; raw: Record<string, unknown> }> {
  const staging = await simulationOf("staging");
  const replace = await simPlan(staging, "staging", repoPins.staging.apps);
  const production = await simulationOf("production");
  const running = { imageId: production.images.apps.running };
  const add = await simPlan(production, "production", { current: repoPins.production.apps.current, retiring: running });
  await add.terraform.apply("tfplan");
  const retire = await simPlan(production, "production", { current: repoPins.production.apps.current });
  return { replace: replace.plan, add: add.plan, retire: retire.plan, raw: { replace: replace.raw, add: add.raw, retire: retire.raw } };
}
