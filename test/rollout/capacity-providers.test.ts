/**
 * Blue-green with ECS capacity providers (capacityProviders) in the sim, end to end: the rollout
 * moves the services from the old generation's provider to the new one's and retires the old
 * one; a broken image rolls back onto the old provider; a Ctrl-C anywhere resumes. Zero-downtime
 * violations 0 throughout.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rolloutExitCode } from "../../scripts/commands/rollout";
import { amirollInProcess } from "../support/cli-in-process";
import { ENVIRONMENTS_CONFIG, REPO_CONFIG_PATH, REPO_PINS_PATH } from "../support/repo-config";
import type { RolloutOptions } from "../../scripts/rollout/rollout";
import type { ScenarioName } from "../../scripts/sim/scenarios";
import { PINNED, simulatedRollout } from "../support/simulated-rollout";

jest.setTimeout(60_000);

const withProviders = (c: any) => {
  c.staging.strategy = "blue-green";
  for (const env of ["staging", "production"]) c[env].clusters.apps.capacityProviders = true;
};

async function simulated(scenario: ScenarioName = "healthy") {
  const s = await simulatedRollout({ scenario, edit: withProviders, defaults: { waitForWindow: true } });
  // The sim's demo services name amiroll's provider or use the cluster default; one test adds another provider.
  const world = (env: string) => s.sim(env).world;
  const provider = (env: string, image: string) => `${env}-apps-${image}`;
  /** The cluster's provider set and default, and each replica service's providers. */
  const providers = (env: string) => {
    const cluster = world(env).clusters.get(`${env}-apps`)!;
    const services = [...world(env).services.values()].filter((sv) => sv.capacityProviderStrategy !== undefined);
    return {
      set: cluster.capacityProviders,
      default: cluster.defaultStrategy?.map((d) => d.capacityProvider),
      services: [...new Set(services.flatMap((sv) => (sv.capacityProviderStrategy === "default" ? ["(default)"] : sv.capacityProviderStrategy!.map((i) => i.capacityProvider))))].sort(),
      known: [...world(env).capacityProviders.keys()].sort(),
    };
  };
  const interruptedAt = async (env: string, point: string, extra: Partial<RolloutOptions> = {}) => {
    const controller = new AbortController();
    const at = (e: string, p: string) => void (e === env && p === point && controller.abort());
    s.world.signal = controller.signal;
    s.world.checkpoint = at;
    try {
      const result = await s.run({ beforeStep: (e, step) => at(e, step), ...extra });
      expect([`${env}:${point}`, controller.signal.aborted]).toEqual([`${env}:${point}`, true]);
      return result;
    } finally {
      s.world.signal = undefined;
      s.world.checkpoint = undefined;
    }
  };
  return { ...s, world, provider, providers, interruptedAt };
}

describe("blue-green with capacity providers", () => {
  it("healthy: every service follows the new generation's provider, the old provider leaves with its group; 0 violations", async () => {
    const s = await simulated();
    const [old] = s.groupImages("staging");
    expect(s.providers("staging")).toEqual({ set: [s.provider("staging", old)], default: [s.provider("staging", old)], services: ["(default)", s.provider("staging", old)], known: [s.provider("staging", old)] });
    const result = await s.run();
    expect(result.waves.map((w) => w.outcome)).toEqual(["done", "done"]);
    for (const env of ["staging", "production"]) {
      const image = s.pins()[env].apps.current.imageId;
      expect(s.groupImages(env)).toEqual([image]);
      const mine = s.provider(env, image);
      // Services that use the cluster's default follow it (the add apply switched it).
      expect([env, s.providers(env)]).toEqual([env, { set: [mine], default: [mine], services: ["(default)", mine], known: [mine] }]);
    }
    expect(s.lines.join("\n")).toMatch(/apps: 3 service\(s\) get a new deployment on capacity provider staging-apps-ami-[0-9a-f]+: web, worker, admin/);
    expect(s.violations()).toEqual([]);
  });

  it("a provider amiroll does not manage in the set: the rollout names the service using it, the guard refuses the plan that would drop it", async () => {
    const s = await simulated();
    const world = s.world("staging");
    world.createCapacityProvider("team-spot", "team-spot-asg", true);
    const cluster = world.clusters.get("staging-apps")!;
    cluster.capacityProviders = [...cluster.capacityProviders!, "team-spot"];
    world.services.get("staging-apps/admin")!.capacityProviderStrategy = [{ capacityProvider: "team-spot", weight: 1 }];
    const [old] = s.groupImages("staging");
    const result = await s.run();
    // Terraform owns the whole set (aws_ecs_cluster_capacity_providers): its plan would take team-spot out.
    expect(result.waves.map((w) => w.outcome)).toEqual(["guard refused", "not started"]);
    expect(result.waves[0].reason).toMatch(/aws_ecs_cluster_capacity_providers\..*: a blue-green add only adds the new generation's provider to the cluster's set; this update removes team-spot/);
    expect(s.groupImages("staging")).toEqual([old]);
    expect(s.lines.filter((l) => l.includes("team-spot"))[0]).toMatch(/apps: service admin names capacity provider\(s\) team-spot that amiroll does not manage; it is not moved between generations/);
    expect(world.services.get("staging-apps/admin")!.capacityProviderStrategy).toEqual([{ capacityProvider: "team-spot", weight: 1 }]);
    expect(s.violations()).toEqual([]);
  });

  it("broken image: rolled back onto the old provider (default and services), the new provider and group removed; 0 violations", async () => {
    const s = await simulated("broken-ami");
    const [old] = s.groupImages("staging");
    const result = await s.run();
    expect(result.waves.map((w) => w.outcome)).toEqual(["rolled back", "not started"]);
    expect(rolloutExitCode(result.outcome)).toBe(1);
    expect(s.pins().staging.apps.rejected).toEqual(expect.objectContaining({ imageId: PINNED }));
    expect(s.groupImages("staging")).toEqual([old]);
    const mine = s.provider("staging", old);
    expect(s.providers("staging")).toEqual({ set: [mine], default: [mine], services: [mine], known: [mine] });
    expect(s.lines.join("\n")).toMatch(/the cluster's default capacity provider strategy now names staging-apps-ami-/);
    expect(s.violations()).toEqual([]);
  });

  it("Ctrl-C before the watch, then in the rollback after the old instances are ACTIVE: the next runs finish it", async () => {
    const s = await simulated("broken-ami");
    const [old] = s.groupImages("staging");
    expect((await s.interruptedAt("staging", "migrate")).outcome).toBe("interrupted");
    expect(s.pins().staging.apps.rejected).toBeUndefined();
    expect((await s.interruptedAt("staging", "rollback:reactivated")).outcome).toBe("interrupted");
    expect(s.groupImages("staging")).toEqual([old, PINNED].sort());
    const finished = await s.run();
    expect(finished.waves[0].outcome).toBe("rolled back");
    expect(s.groupImages("staging")).toEqual([old]);
    expect(s.providers("staging").set).toEqual([s.provider("staging", old)]);
    expect(s.violations()).toEqual([]);
  });

  it("Ctrl-C at every step (before the pin, in the plan, in the add's apply, before the drain, the watch and the gates, before and in the retire's apply): resumed to the end", async () => {
    const s = await simulated();
    for (const point of ["pin", "plan", "apply:created", "drain", "migrate", "verify", "apply", "apply:deleting"]) {
      const cut = await s.interruptedAt("staging", point);
      expect([point, cut.outcome, cut.waves[0].reason]).toEqual([point, "interrupted", expect.anything()]);
      // An interrupt is no verdict: nothing rejected, nothing rolled back onto the old provider.
      expect([point, s.pins().staging.apps.rejected]).toEqual([point, undefined]);
      expect([point, cut.waves[0].phases.some((p) => p.step === "rollback")]).toEqual([point, false]);
    }
    const finished = await s.run();
    expect([finished.waves.map((w) => w.outcome), finished.waves[0].reason]).toEqual([["done", "done"], undefined]);
    const mine = s.provider("staging", PINNED);
    expect(s.providers("staging")).toEqual({ set: [mine], default: [mine], services: ["(default)", mine], known: [mine] });
    expect(s.violations()).toEqual([]);
  });

  it("amiroll watch --simulate follows a providers cluster's add to done (the services follow the new provider first)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-cp-"));
    const { $schema: _schema, ...config } = JSON.parse(readFileSync(REPO_CONFIG_PATH, "utf8"));
    config.environments = structuredClone(ENVIRONMENTS_CONFIG);
    withProviders(config.environments);
    writeFileSync(join(dir, "amiroll.json"), JSON.stringify(config));
    copyFileSync(REPO_PINS_PATH, join(dir, "amis.json"));
    const r = await amirollInProcess(["watch", "--env", "production", "--simulate", "--config", join(dir, "amiroll.json")]);
    expect([r.status, r.stderr.match(/^amiroll: .*/m)?.[0]]).toEqual([0, undefined]);
    expect(r.stdout).toMatch(/^watch of production: done after \d+ polls\napps: done after/);
    expect(r.stderr).toMatch(/apps: 3 service\(s\) get a new deployment on capacity provider production-apps-ami-[0-9a-f]+: web, worker, admin/);
  });

  it("bad input: capacityProviders on a replace cluster is one line naming the field, exit 2, before any AWS call or terraform", async () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-cp-"));
    const { $schema: _schema, ...config } = JSON.parse(readFileSync(REPO_CONFIG_PATH, "utf8"));
    config.environments = structuredClone(ENVIRONMENTS_CONFIG);
    config.environments.staging.clusters.apps.capacityProviders = true;
    writeFileSync(join(dir, "amiroll.json"), JSON.stringify(config));
    copyFileSync(REPO_PINS_PATH, join(dir, "amis.json"));
    const r = await amirollInProcess(["rollout", "--simulate", "--config", join(dir, "amiroll.json")]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("amiroll:"))).toEqual([
      expect.stringMatching(/^amiroll: .*amiroll\.json: environments\.staging\.clusters\.apps\.capacityProviders: only the "blue-green" strategy moves services between capacity providers \(this cluster's strategy is "replace"\)$/),
    ]);
    expect(r.stdout).toBe("");
  });
});
