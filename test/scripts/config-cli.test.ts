/**
 * Every verb finds its config the same way, and a config that cannot be used is one line naming
 * the file (and field), exit 2, before any AWS call or terraform command.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_CONFIG, errorLines } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";
import { REPO_PINS_PATH } from "../support/repo-config";

const dir = mkdtempSync(join(tmpdir(), "amiroll-config-cli-"));
const write = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

/** This repository's config, with production's bootGracePeriod set to `value`, beside its pins. */
function withBootGrace(name: string, value: string): string {
  const config = JSON.parse(readFileSync(REPO_CONFIG, "utf8"));
  config.environments.production.bootGracePeriod = value;
  writeFileSync(join(dir, "amis.json"), readFileSync(REPO_PINS_PATH));
  return write(name, JSON.stringify(config));
}

describe("the config of every verb", () => {
  it("is found upward from the current directory, so a verb runs from a subdirectory", async () => {
    const project = mkdtempSync(join(tmpdir(), "amiroll-project-"));
    writeFileSync(join(project, "amiroll.json"), readFileSync(REPO_CONFIG));
    writeFileSync(join(project, "amis.json"), readFileSync(REPO_PINS_PATH));
    mkdirSync(join(project, "infra/deep"), { recursive: true });
    const r = await amirollInProcess(["synth", "--env", "staging"], { AMIROLL_CONFIG: "", CDKTF_OUTDIR: "" }, join(project, "infra/deep"));
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("synthesized staging -> ");
    expect(readFileSync(join(project, "cdktf.out/stacks/staging/cdk.tf.json"), "utf8")).toContain("staging-apps");
  });

  it.each<[string, string[], Record<string, string>, RegExp]>([
    ["no config anywhere", ["status", "--simulate"], { AMIROLL_CONFIG: "" }, /^amiroll: no amiroll\.json in \/ or any directory above it \(run amiroll init to write one, or pass --config FILE\)$/],
    ["--config naming nothing", ["plan", "--env", "staging", "--config", "/nonexistent/amiroll.json"], {}, /^amiroll: --config: \/nonexistent\/amiroll\.json does not exist$/],
    ["AMIROLL_CONFIG naming nothing", ["bump", "--simulate"], { AMIROLL_CONFIG: "/nonexistent/amiroll.json" }, /^amiroll: AMIROLL_CONFIG: \/nonexistent\/amiroll\.json does not exist$/],
    ["JSON that does not parse", ["rollout", "--simulate"], { AMIROLL_CONFIG: write("broken.json", '{"environments": {\n  "staging": }\n}') }, /^amiroll: .*broken\.json: \(file\): is not valid JSON \(expected an amiroll config object\) at line 2, column 14: /],
    ["the pins file given as the config", ["status", "--simulate"], { AMIROLL_CONFIG: REPO_PINS_PATH }, /^amiroll: .*stacks\/amis\.json: staging: unknown field \(known: \$schema, pins, outDir, environments, pullRequests, backups, maxParallel, notices\)$/],
    ["a field at fault", ["watch", "--env", "staging", "--simulate"], { AMIROLL_CONFIG: write("bad-field.json", JSON.stringify({ environments: { staging: { region: "Ireland" } } })) }, /^amiroll: .*bad-field\.json: environments\.staging\.region: "Ireland" is not valid \(expected a region such as eu-west-1\)$/],
    [
      "a boot grace period under a minute (rollout --simulate: before the simulated world is made)",
      ["rollout", "--simulate", "--ignore-window"],
      { AMIROLL_CONFIG: withBootGrace("bad-grace.json", "20s") },
      /^amiroll: .*bad-grace\.json: environments\.production\.bootGracePeriod: "20s" is too short: an instance takes a minute or more to boot and register with ECS \(at least "1m"\)$/,
    ],
    [
      "a boot grace period that is not a duration",
      ["rollout", "--simulate", "--ignore-window"],
      { AMIROLL_CONFIG: withBootGrace("bad-grace-text.json", "5 minutes") },
      /^amiroll: .*bad-grace-text\.json: environments\.production\.bootGracePeriod: "5 minutes" is not valid \(expected a duration such as "90s" or "10m"\)$/,
    ],
  ])("%s: one line, exit 2", async (_what, args, env, message) => {
    // In this process (test/support/cli-in-process.ts): the synth case above spawns the built bin.
    const r = await amirollInProcess(args, env, "/");
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(message)]);
    expect(r.stdout).toBe("");
  });
});
