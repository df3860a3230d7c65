/**
 * The `alarms` field of an environment and a cluster (scripts/config/alarms.ts): names and a
 * prefix, merged per environment; every malformed one refused at load with the field named, and by
 * the CLI with exit 2, one line, before anything runs.
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../scripts/config/input";
import { ENVIRONMENTS_CONFIG, REPO_CONFIG_FILE, REPO_CONFIG_PATH, REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";
import { errorLines, scratch } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";

function configWith(edit: (c: any) => void): unknown {
  const copy = structuredClone(ENVIRONMENTS_CONFIG) as any;
  edit(copy);
  return copy;
}

function problem(edit: (c: any) => void): string {
  try {
    loadEnvironments(configWith(edit));
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error("the config was accepted");
}

describe("alarms as loaded", () => {
  it("watches nothing when no environment or cluster names alarms", () => {
    expect(loadEnvironments().map((e) => e.alarms)).toEqual([undefined, undefined]);
  });

  it("merges the environment's names and prefix with its clusters', each once", () => {
    const [staging] = loadEnvironments(
      configWith((c) => {
        c.staging.alarms = { names: ["staging-api-5xx", "staging-web-5xx"], prefix: "staging-apps-" };
        c.staging.clusters.apps.alarms = { names: ["staging-web-5xx", "staging-apps-queue-depth"], prefix: "staging-batch-" };
      }),
    );
    expect(staging.alarms).toEqual({ names: ["staging-api-5xx", "staging-web-5xx", "staging-apps-queue-depth"], prefixes: ["staging-apps-", "staging-batch-"] });
    expect(staging.clusters[0].alarms).toEqual({ names: ["staging-web-5xx", "staging-apps-queue-depth"], prefixes: ["staging-batch-"] });
  });

  it("takes a prefix alone", () => {
    expect(loadEnvironments(configWith((c) => (c.production.alarms = { prefix: "prod-" })))[1].alarms).toEqual({ names: [], prefixes: ["prod-"] });
  });
});

describe("a malformed alarms field is refused, naming the field", () => {
  const at = `${REPO_CONFIG_FILE}: environments.staging`;
  it.each<[string, (c: any) => void, string]>([
    ["not an object", (c) => (c.staging.alarms = ["a"]), `${at}.alarms: expected an object, got a list`],
    ["empty", (c) => (c.staging.alarms = {}), `${at}.alarms: expected names (a list of alarm names) or prefix (an alarm name prefix), or both`],
    ["a typo", (c) => (c.staging.alarms = { name: ["a"] }), `${at}.alarms.name: unknown field (known: names, prefix)`],
    ["tags (not a selector)", (c) => (c.staging.alarms = { tags: { team: "a" } }), `${at}.alarms.tags: unknown field (known: names, prefix)`],
    ["names not a list", (c) => (c.staging.alarms = { names: "a" }), `${at}.alarms.names: expected a list, got string "a"`],
    ["an empty list", (c) => (c.staging.alarms = { names: [] }), `${at}.alarms.names: the list is empty (leave names out to watch by prefix only)`],
    ["an empty name", (c) => (c.staging.alarms = { names: ["a", ""] }), `${at}.alarms.names[1]: expected a non-empty string, got string ""`],
    ["a number", (c) => (c.staging.alarms = { names: [5] }), `${at}.alarms.names[0]: expected a non-empty string, got number 5`],
    ["a name twice", (c) => (c.staging.alarms = { names: ["a", "b", "a"] }), `${at}.alarms.names[2]: "a" is listed twice (first at names[0])`],
    ["a name over 255 characters", (c) => (c.staging.alarms = { names: ["x".repeat(256)] }), `${at}.alarms.names[0]: the alarm name is 256 characters long; CloudWatch allows at most 255`],
    ["a control character", (c) => (c.staging.alarms = { names: ["a\u001b[2Jb"] }), `${at}.alarms.names[0]: the alarm name holds a control or invisible character ("a\\u001b[2Jb")`],
    ["white space around", (c) => (c.staging.alarms = { prefix: "prod- " }), `${at}.alarms.prefix: the prefix "prod- " starts or ends with white space`],
    ["a cluster's", (c) => (c.staging.clusters.apps.alarms = { prefix: 7 }), `${at}.clusters.apps.alarms.prefix: expected a non-empty string, got number 7`],
  ])("%s", (_, edit, message) => {
    expect(problem(edit)).toBe(message);
  });
});

describe("amiroll with a malformed alarms field", () => {
  it("exits 2 with one line naming the field, before any simulated world or AWS call", async () => {
    const dir = join(scratch, "bad-alarms");
    mkdirSync(dir, { recursive: true });
    const config = JSON.parse(JSON.stringify(require(REPO_CONFIG_PATH)));
    config.$schema = undefined;
    config.environments.production.clusters.apps.alarms = { names: ["prod-5xx", "prod-5xx"] };
    writeFileSync(join(dir, "amiroll.json"), JSON.stringify(config));
    copyFileSync(REPO_PINS_PATH, join(dir, "amis.json"));
    for (const args of [["status", "--simulate"], ["rollout", "--simulate", "--ignore-window"], ["plan", "--env", "production", "--simulate"]]) {
      const r = await amirollInProcess([...args, "--config", join(dir, "amiroll.json")]);
      expect({ status: r.status, stdout: r.stdout, stderr: r.stderr.trimEnd().split("\n") }).toEqual({
        status: 2,
        stdout: "",
        stderr: [expect.stringMatching(/^amiroll: .*amiroll\.json: environments\.production\.clusters\.apps\.alarms\.names\[1\]: "prod-5xx" is listed twice \(first at names\[0\]\)$/)],
      });
      expect(errorLines(r.stderr)).toHaveLength(1);
    }
  });
});
