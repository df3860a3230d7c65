/**
 * The canary slice's config (issue 20, item 2): `canary: { instances | percent, soak }` on an
 * environment or a cluster, resolved against each cluster's desiredCapacity at load; a slice of 0
 * or larger than the cluster fails there, naming the field (exit 2, one line, nothing ran).
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../scripts/config/input";
import { percentInstances } from "../../scripts/config/canary";
import { errorLines } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";
import { thrown } from "../support/fixtures";
import { ENVIRONMENTS_CONFIG, REPO_CONFIG_FILE, REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

/** The example environments with `edit` applied, loaded. */
const load = (edit: (c: any) => void) => {
  const raw = structuredClone(ENVIRONMENTS_CONFIG) as any;
  edit(raw);
  return loadEnvironments(raw);
};
const problem = (edit: (c: any) => void) => {
  const error = thrown(() => load(edit));
  expect(error).toBeInstanceOf(ConfigError);
  return error.message.slice(error.message.indexOf("environments."));
};

describe("canary: { instances | percent, soak }", () => {
  it("none by default (replace keeps its one-instance, 2-minute canary in the rollout)", () => {
    expect(load(() => {}).map((e) => e.clusters[0].canary)).toEqual([undefined, undefined]);
  });

  it("on the environment: every cluster's slice, in instances, its soak a duration (default 2 minutes)", () => {
    const [, production] = load((c) => (c.production.canary = { instances: 1 }));
    expect(production.clusters[0]).toEqual(expect.objectContaining({ canary: { instances: 1, soakMs: 120_000, text: "1 instance" }, canaryInstances: 1 }));
  });

  it("percent of the cluster's desiredCapacity, rounded down but at least 1; a cluster's own canary wins over the environment's", () => {
    const [staging, production] = load((c) => {
      c.production.canary = { percent: 50, soak: "10m" };
      c.staging.canary = { instances: 2 };
      c.staging.clusters.apps.canary = { percent: 10, soak: "90s" };
    });
    expect(production.clusters[0].canary).toEqual({ instances: 2, soakMs: 600_000, text: "50% (2 of 4 instances)" });
    expect(staging.clusters[0].canary).toEqual({ instances: 1, soakMs: 90_000, text: "10% (1 of 2 instances)" });
    expect([percentInstances(25, 4), percentInstances(1, 4), percentInstances(100, 4), percentInstances(60, 5)]).toEqual([1, 1, 4, 3]);
  });

  it("refresh: the slice is the first batch (no group of its own), checked against minHealthyPercent as a batch is", () => {
    const [staging] = load((c) => Object.assign(c.staging.clusters.apps, { strategy: "refresh", canary: { instances: 1 } }));
    expect(staging.clusters[0].canary?.instances).toBe(1);
    expect(staging.clusters[0].canaryInstances).toBeUndefined();
    expect(problem((c) => Object.assign(c.production.clusters.apps, { strategy: "refresh", maxHealthyPercent: 100, minHealthyPercent: 75, canary: { instances: 2 } }))).toBe(
      "environments.production.clusters.apps.canary.instances: cluster apps: the canary is the first batch: 2 leaves 2 of 4 instances taking tasks while it drains (maxHealthyPercent 100 adds no instance first), below minHealthyPercent 75 (3 instances): maxHealthyPercent 125 is the smallest that works with this batch; a batch of at most 1 works at these percentages",
    );
  });

  it.each<[string, (c: any) => void, string]>([
    ["a slice of 0", (c) => (c.staging.canary = { instances: 0 }), 'environments.staging.canary.instances: 0 is not valid (expected an integer >= 1)'],
    ["percent 0", (c) => (c.staging.clusters.apps.canary = { percent: 0 }), "environments.staging.clusters.apps.canary.percent: 0 is not valid (expected an integer 1..100)"],
    ["larger than the cluster (the environment's, named where it is written)", (c) => (c.production.canary = { instances: 5 }), "environments.production.canary.instances: 5 instances is larger than cluster apps (desiredCapacity 4): the canary is a slice of the cluster"],
    ["both sizes", (c) => (c.staging.canary = { instances: 1, percent: 50 }), "environments.staging.canary.percent: give either instances or percent, not both"],
    ["no size", (c) => (c.staging.canary = { soak: "1m" }), "environments.staging.canary: give the slice's size: instances (a number of instances) or percent (of the cluster's desiredCapacity)"],
    ["a soak that is no duration", (c) => (c.staging.canary = { instances: 1, soak: "2 minutes" }), 'environments.staging.canary.soak: "2 minutes" is not valid (expected a duration such as "90s" or "10m")'],
    ["a soak of 0", (c) => (c.staging.canary = { instances: 1, soak: "0s" }), 'environments.staging.canary.soak: "0s" is no soak: the gates need time to judge the slice (at least "1s")'],
    ["an unknown field", (c) => (c.staging.canary = { instance: 1 }), "environments.staging.canary.instance: unknown field (known: instances, percent, soak)"],
    ["with capacity providers (managed scaling would resize the slice)", (c) => {
      c.production.canary = { instances: 1 };
      c.production.clusters.apps.capacityProviders = true;
    }, 'environments.production.clusters.apps.capacityProviders: a canary slice sizes the new generation itself, which the capacity provider\'s managed scaling would undo: drop "canary" from the environment or capacityProviders'],
  ])("%s fails at load, naming the field", (_what, edit, message) => {
    expect(problem(edit)).toBe(message);
  });
});

describe("a bad canary on the command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "amiroll-canary-"));

  it.each<[string, string[], (c: any) => void, RegExp]>([
    ["larger than the cluster, rollout --simulate", ["rollout", "--simulate", "--ignore-window"], (c) => (c.environments.staging.clusters.apps.canary = { instances: 3 }), /^amiroll: .*canary-1\.json: environments\.staging\.clusters\.apps\.canary\.instances: 3 instances is larger than cluster apps \(desiredCapacity 2\): the canary is a slice of the cluster$/],
    ["of 0, synth", ["synth"], (c) => (c.environments.production.canary = { percent: 0 }), /^amiroll: .*canary-2\.json: environments\.production\.canary\.percent: 0 is not valid \(expected an integer 1\.\.100\)$/],
  ])("%s: exit 2, one line, nothing ran", async (_what, args, edit, message) => {
    const config = JSON.parse(readFileSync(REPO_CONFIG_FILE, "utf8"));
    delete config.$schema;
    edit(config);
    writeFileSync(join(dir, "amis.json"), readFileSync(REPO_PINS_PATH));
    const file = join(dir, `canary-${args[0] === "synth" ? 2 : 1}.json`);
    writeFileSync(file, JSON.stringify(config));
    const r = await amirollInProcess(args, { AMIROLL_CONFIG: file }, "/");
    expect({ status: r.status, stdout: r.stdout, errors: errorLines(r.stderr) }).toEqual({ status: 2, stdout: "", errors: [expect.stringMatching(message)] });
    expect(r.stderr).not.toMatch(/terraform|simulated|synthesized/);
  });
});
