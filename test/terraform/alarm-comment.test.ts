/**
 * The watched alarms in the plan's PR comment and at plan time (issue 21, item 2): alarms in ALARM
 * with their name and CloudWatch's reason, unknown names and empty prefixes warned about, all of
 * it inert; and `amiroll plan` warning about an unknown alarm name on stderr.
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { planComment } from "../../scripts/terraform/comment";
import { guardPlan } from "../../scripts/terraform/guard";
import { type AlarmsSeen, alarmWarnings } from "../../scripts/fleet/alarms";
import { rollPlans } from "../support/sim-plans";
import { ALL_HOSTILE } from "../support/hostile";
import { inspectMarkdown, visibleText } from "../support/markdown";
import { REPO_CONFIG_PATH, REPO_PINS_PATH } from "../support/repo-config";
import { scratch } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";
import { fakeTerraform } from "../support/fake-terraform";
import { readFileSync } from "node:fs";

jest.setTimeout(60_000);

const SEEN: AlarmsSeen = {
  watching: 'the prefix "staging-"',
  firing: [{ name: "staging-apps-error-rate", kind: "metric", state: "ALARM", reason: `Threshold Crossed: ${ALL_HOSTILE}`, stateSince: 0 }],
  known: 3,
  unknownNames: [`staging-${ALL_HOSTILE}`],
  emptyPrefixes: [],
};

describe("the plan comment's alarms", () => {
  let plans: Awaited<ReturnType<typeof rollPlans>>;
  beforeAll(async () => {
    plans = await rollPlans();
  });

  it("names an alarm in ALARM with its reason, and an unknown name, inert", () => {
    const [body, ...more] = planComment(plans.replace, guardPlan(plans.replace), { env: "staging", alarms: SEEN });
    expect(more).toEqual([]);
    const { problems, text } = inspectMarkdown(body);
    expect(problems).toEqual([]);
    expect(body).not.toMatch(/<img|<script/);
    expect(body.split("<!--")).toHaveLength(2);
    expect(text).toContain("**Alarms watched** (the prefix \"staging-\"): 3 known, 1 in ALARM: the rollout fails while any is.");
    expect(text).toContain(`⛔ in ALARM: staging-apps-error-rate (Threshold Crossed: ${visibleText(ALL_HOSTILE)})`);
    expect(text).toContain("⚠️ no such alarm: staging-");
  });

  it("says none is in ALARM, or why the alarms could not be read", () => {
    const quiet = planComment(plans.replace, guardPlan(plans.replace), { env: "staging", alarms: { ...SEEN, firing: [], unknownNames: [] } })[0];
    expect(quiet).toContain('**Alarms watched** (the prefix "staging-"): 3 known, none in ALARM.');
    const denied = planComment(plans.replace, guardPlan(plans.replace), { env: "staging", alarms: { ...SEEN, firing: [], unknownNames: [], error: "CloudWatch DescribeAlarms: this identity may not call it" } })[0];
    expect(denied).toContain("could not be read: CloudWatch DescribeAlarms: this identity may not call it");
    expect(planComment(plans.replace, guardPlan(plans.replace), { env: "staging" })[0]).not.toContain("Alarms watched");
  });

  it("warns of each unknown name, empty prefix and alarm in ALARM", () => {
    expect(alarmWarnings("staging", { ...SEEN, firing: [], unknownNames: ["a", "b"], emptyPrefixes: ["p-"] })).toEqual([
      'staging: alarms: CloudWatch knows no alarm named "a", "b" (a typo, or not made yet: the rollout cannot watch them)',
      'staging: alarms: no alarm\'s name starts with "p-"',
    ]);
  });
});

describe("amiroll plan --simulate with alarms", () => {
  it("warns at plan time of a name CloudWatch does not know, and shows the alarms in the comment", async () => {
    const dir = join(scratch, "plan-alarms");
    mkdirSync(dir, { recursive: true });
    const config = JSON.parse(JSON.stringify(require(REPO_CONFIG_PATH)));
    delete config.$schema;
    config.environments.staging.alarms = { names: ["staging-apps-error-rate", "staging-apps-eror-rate"] };
    writeFileSync(join(dir, "amiroll.json"), JSON.stringify(config));
    copyFileSync(REPO_PINS_PATH, join(dir, "amis.json"));
    const r = await amirollInProcess(["plan", "--env", "staging", "--simulate", "--config", join(dir, "amiroll.json")]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('warning: staging: alarms: CloudWatch knows no alarm named "staging-apps-eror-rate" (a typo, or not made yet: the rollout cannot watch it)');
    expect(r.stdout).toContain("**Alarms watched** (2 alarm names): 1 known.");
    expect(r.stdout).toContain("- ⚠️ no such alarm: `staging-apps-eror-rate`");
  });

  it("a bad AMIROLL_AWS_MAX_ATTEMPTS with alarms to read: exit 2, one line, before terraform runs", async () => {
    const dir = join(scratch, "plan-alarms-attempts");
    mkdirSync(dir, { recursive: true });
    const config = JSON.parse(JSON.stringify(require(REPO_CONFIG_PATH)));
    delete config.$schema;
    config.environments.staging.alarms = { prefix: "staging-" };
    writeFileSync(join(dir, "amiroll.json"), JSON.stringify(config));
    copyFileSync(REPO_PINS_PATH, join(dir, "amis.json"));
    const env = fakeTerraform(dir, (await rollPlans()).raw.replace);
    const r = await amirollInProcess(["plan", "--env", "staging", "--config", join(dir, "amiroll.json")], { ...env, AMIROLL_AWS_MAX_ATTEMPTS: "0" });
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr.trimEnd().split("\n") }).toEqual({ status: 2, stdout: "", stderr: ['amiroll: AMIROLL_AWS_MAX_ATTEMPTS must be a whole number from 1 to 100 (attempts per AWS call), not "0"'] });
    expect(readFileSync(env.FAKE_LOG, "utf8")).toBe("");
  });
});
