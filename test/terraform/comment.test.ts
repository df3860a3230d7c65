/**
 * The PR comment: what a reviewer reads (snapshots of real and simulated plans), how it splits
 * under GitHub's limit, and that no sensitive value of any fixture reaches it or any other output.
 */
import { STICKY_MARKER_PATTERN, parseStickyMarker } from "../../scripts/terraform/github";
import { planComment, guardMarkdown } from "../../scripts/terraform/comment";
import { guardJson, guardPlan, guardText } from "../../scripts/terraform/guard";
import { parsePlan, readPlanFile } from "../../scripts/terraform/plan";
import { SHAPES } from "../../scripts/terraform/rolls";
import { fixture, fixtureJson, fixtureNames, sensitiveValues } from "../support/fixtures";
import { createSimulation } from "../../scripts/sim/scenarios";
import { findEnvironment } from "../../scripts/config/file";
import { environments, repoPins, rollPlans, simPlan } from "../support/sim-plans";
import { ALL_HOSTILE, HOSTILE, RAW_CONTROL, hostilePlanJson } from "../support/hostile";
import { inspectMarkdown, visibleText } from "../support/markdown";

describe("the plan comment", () => {
  let plans: Awaited<ReturnType<typeof rollPlans>>;
  beforeAll(async () => {
    plans = await rollPlans();
  });

  it("staging's replace roll, as the PR shows it", () => {
    const [body, ...more] = planComment(plans.replace, guardPlan(plans.replace), { env: "staging" });
    expect(more).toEqual([]);
    expect(body).toMatchSnapshot();
    expect(body.split("\n")[0]).toBe("<!-- amiroll:plan env=staging part=1/1 -->");
    expect(body).toContain("**Plan: 3 to add, 0 to change, 3 to destroy.**");
    expect(body).toMatch(/\| apps \| replace \| `ami-\w+` al2023-ami-ecs-hvm-[^|]+ \| `ami-0c8e1f5b2a9d47e31` al2023-ami-ecs-hvm-2023\.0\.20261105-kernel-6\.1-arm64 \| replace \|/);
    expect(body).toContain("### ✅ Plan guard: accepted");
    expect(body).toMatch(/<details><summary>Attribute diff \(3 resources\)<\/summary>/);
    expect(body).toMatch(/~ name = "staging-apps-ami-\w+" -> "staging-apps-ami-0c8e1f5b2a9d47e31" # forces replacement/);
    expect(body).toContain("**Next:** apply with `amiroll apply --env staging`.");
  });

  it("production's blue-green add and retire", () => {
    const add = planComment(plans.add, guardPlan(plans.add), { env: "production", applyCommand: "atlantis apply -p production" });
    expect(add[0]).toMatchSnapshot();
    expect(add[0]).toMatch(/\(retiring\) \| add \|/);
    expect(add[0]).toContain("**Next:** apply with `atlantis apply -p production`.");
    const retire = planComment(plans.retire, guardPlan(plans.retire), { env: "production" });
    expect(retire[0]).toContain("**Plan: 0 to add, 0 to change, 3 to destroy.**");
    expect(retire[0]).toMatch(/# aws_autoscaling_group\.\S+ will be destroyed/);
  });

  it("a first deploy of staging, as the PR shows it", async () => {
    const sim = await createSimulation({ environment: findEnvironment(environments, "staging"), pins: repoPins.staging, scenario: "first-deploy" });
    const { plan } = await simPlan(sim, "staging", repoPins.staging.apps);
    const guard = guardPlan(plan);
    const [body, ...more] = planComment(plan, guard, { env: "staging" });
    expect(more).toEqual([]);
    // Up to the attribute diff (which holds the drain hook's code hash, among 21 resources).
    expect(body.slice(0, body.indexOf("<details>"))).toMatchSnapshot();
    expect(body).toMatch(/\| apps \| replace \| \(not deployed\) \| `ami-0c8e1f5b2a9d47e31` al2023-ami-ecs-hvm-2023\.0\.20261105-kernel-6\.1-arm64 \| create \(first deploy\) \|/);
    expect(body).toContain("**Plan: 22 to add, 0 to change, 0 to destroy.**");
    expect(body).toContain("### ✅ Plan guard: accepted\n\nExpected a first deploy of staging/apps (inferred from the `amiroll_clusters` output).");
    expect(body).toMatch(/\| `aws_ecs_cluster\.apps_cluster_\w+` \| create \| ✅ part of the first deploy of cluster apps \|/);
    expect(body).toContain('+ name = "staging-apps"');
    expect(body).toContain("**Next:** apply with `amiroll apply --env staging`.");
    expect(guardMarkdown(guard)).toContain("Expected a first deploy of apps (inferred from the `amiroll_clusters` output).");
  });

  it("a refused plan says why, per resource, and how to apply it anyway", () => {
    const plan = readPlanFile(fixture("builtin__replace-cbd-and-dbc"));
    const [body] = planComment(plan, guardPlan(plan, { expect: "replace" }), { env: "staging", holds: ["staging frozen for the audit | until Friday"] });
    expect(body).toMatchSnapshot();
    expect(body).toContain("### ⛔ Plan guard: refused");
    expect(body).toContain("- ⛔ expected a replace roll, but no Auto Scaling group is replaced");
    expect(body).toContain("| `terraform_data.asg` | replace (destroy before create) | ⛔ replaces a terraform_data, outside the cluster's capacity |");
    expect(body).toContain("**On hold:** staging frozen for the audit \\| until Friday");
    expect(body).toContain("apply with `amiroll apply --env staging --force`");
  });

  it("shows drift apart, as not part of the apply", () => {
    const plan = readPlanFile(fixture("aws__03-ami-bump"));
    const [body] = planComment(plan, guardPlan(plan, { expect: "replace" }), { env: "staging" });
    expect(body).toMatchSnapshot();
    expect(body).toMatch(/6 objects changed outside terraform since the last apply \(not part of this apply/);
  });

  it("splits a long plan into marked parts under the limit, each table and diff closed and reopened", () => {
    const plan = readPlanFile(fixture("aws__03-ami-bump"));
    const limit = 1_500;
    const parts = planComment(plan, guardPlan(plan, { expect: "replace" }), { env: "staging", limit });
    expect(parts.length).toBeGreaterThan(2);
    parts.forEach((part, i) => {
      expect(part.length).toBeLessThanOrEqual(limit);
      expect(parseStickyMarker(part)).toEqual({ env: "staging", part: i + 1, parts: parts.length });
      expect((part.match(/```/g) ?? []).length % 2).toBe(0);
      expect((part.match(/<details>/g) ?? []).length).toBe((part.match(/<\/details>/g) ?? []).length);
      if (i > 0) expect(part).toContain(`## amiroll plan: \`staging\` (part ${i + 1} of ${parts.length})`);
    });
    // Nothing is lost: every diff line of the single comment is in one of the parts.
    const [whole] = planComment(plan, guardPlan(plan, { expect: "replace" }), { env: "staging" });
    const diffLines = whole.split("\n").filter((l) => /^[~+-] /.test(l));
    const joined = parts.join("\n");
    for (const line of diffLines) expect(joined).toContain(line);
  });

  it("cuts one resource too big for any part, and says so", () => {
    const raw = fixtureJson("aws__03-ami-bump");
    const template = raw.resource_changes.find((c: any) => c.address === "aws_launch_template.ecs");
    template.change.after.user_data = "x".repeat(100);
    template.change.after.tags = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`tag${i}`, `value-${i}`]));
    const plan = (require("../../scripts/terraform/plan") as typeof import("../../scripts/terraform/plan")).parsePlan(raw, "big");
    const parts = planComment(plan, guardPlan(plan, { expect: "replace" }), { env: "staging", limit: 4_000 });
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(4_000);
    expect(parts.join("\n")).toMatch(/… \(\d+ characters cut\)/);
  });
});

describe("sensitive values", () => {
  it.each(fixtureNames().filter((n) => sensitiveValues(fixtureJson(n)).length > 0))("of %s appear in no output", (name) => {
    const secrets = sensitiveValues(fixtureJson(name));
    const plan = readPlanFile(fixture(name));
    const outputs: string[] = [];
    for (const expect_ of SHAPES) {
      const result = guardPlan(plan, { expect: expect_ });
      outputs.push(guardText(result), JSON.stringify(result), guardMarkdown(result), ...planComment(plan, result, { env: "staging" }));
      outputs.push(...planComment(plan, result, { env: "staging", limit: 2_000 }));
    }
    outputs.push(JSON.stringify(plan));
    for (const secret of secrets) for (const text of outputs) expect(text.includes(secret) ? `${secret} leaked` : "").toBe("");
    // The values are really in the plans (the assertion above is not vacuous), masked as (sensitive).
    expect(outputs.some((t) => t.includes("(sensitive)"))).toBe(true);
  });

  it("covers the fixtures that hold secrets", () => {
    expect(fixtureNames().filter((n) => sensitiveValues(fixtureJson(n)).length > 0).sort()).toEqual([
      "aws__01-create",
      "aws__03-ami-bump",
      "builtin__replace-cbd-and-dbc",
      "show-json__sensitive-values",
    ]);
  });
});

it("the marker pattern finds the marker of every part", () => {
  expect(STICKY_MARKER_PATTERN.test("<!-- amiroll:plan env=production part=2/3 -->")).toBe(true);
});

/**
 * Issue 16, item 7: a plan's own text (resource keys, attribute names, values, image names) is
 * inert in the PR comment, `guard -o markdown`, `-o text` and `-o json`.
 */
describe("untrusted text from the plan is inert", () => {
  const plan = parsePlan(hostilePlanJson(), "hostile.json");
  const guard = guardPlan(plan);
  const key = `aws_launch_template.apps_lt["${ALL_HOSTILE}"]`;

  it("the plan really carries the hostile text (the assertions below are not vacuous)", () => {
    expect(plan.changes.map((c) => c.address)).toContain(key);
    expect(guard.rolls[0].after[0].imageName).toContain(HOSTILE.details);
    expect(guard.accepted).toBe(false);
    expect(guard.verdicts.find((v) => v.address === key)?.accepted).toBe(true);
  });

  it("a resource key with backticks renders no image, no live link and no second marker in the PR comment", () => {
    const [body, ...more] = planComment(plan, guard, { env: "staging" });
    expect(more).toEqual([]);
    const { problems, text } = inspectMarkdown(body);
    expect(problems).toEqual([]);
    // The sticky marker: staging's own, once, first; production's cannot be forged.
    expect(parseStickyMarker(body)).toEqual({ env: "staging", part: 1, parts: 1 });
    expect(body.split("<!--")).toHaveLength(2);
    // No tag of the plan's in the source at all (in the diff it would show as code anyway).
    expect(body).not.toMatch(/<img|<script|<\/details>.*<\/details>/s);
    // Still readable: the key as terraform printed it, in the verdict table and in the diff.
    expect(text).toContain(`| ${visibleText(key)} | replace (create before destroy) | ✅`);
    expect(text).toContain(`# ${visibleText(key)} must be replaced (create before destroy)`);
  });

  it("an image_name with </details><script> leaves the comment's own <details> whole", () => {
    const [body] = planComment(plan, guard, { env: "staging" });
    expect(body.match(/<details>/g)).toHaveLength(1);
    expect(body.match(/<\/details>/g)).toHaveLength(1);
    expect(body.indexOf("</details>")).toBeGreaterThan(body.indexOf("```diff"));
    const { text } = inspectMarkdown(body);
    expect(text).toContain(`al2023-ami-ecs ${HOSTILE.details}`);
  });

  it("every part of a split comment is inert, and reopens its own table and fence", () => {
    const parts = planComment(plan, guard, { env: "staging", limit: 1_500 });
    expect(parts.length).toBeGreaterThan(2);
    parts.forEach((part, i) => {
      expect([i, inspectMarkdown(part).problems]).toEqual([i, []]);
      expect(parseStickyMarker(part)).toEqual({ env: "staging", part: i + 1, parts: parts.length });
    });
  });

  it("a key too long for any part is cut where it stays inert (no code span left open)", () => {
    const long = `${"k".repeat(70_000)} ${ALL_HOSTILE}`;
    const big = parsePlan(hostilePlanJson(long), "big.json");
    const parts = planComment(big, guardPlan(big), { env: "staging" });
    expect(parts.length).toBeGreaterThan(1);
    parts.forEach((part, i) => {
      expect(part.length).toBeLessThanOrEqual(65_536);
      expect([i, inspectMarkdown(part).problems]).toEqual([i, []]);
    });
    expect(parts.join("\n")).toMatch(/k… \(70\d{3} characters\)/);
  });

  it("a hold reason and the environment's apply command are text too", () => {
    const [body] = planComment(plan, guard, { env: "staging", holds: [ALL_HOSTILE], applyCommand: `atlantis apply ${HOSTILE.backtick}` });
    const { problems, text } = inspectMarkdown(body);
    expect(problems).toEqual([]);
    expect(text).toContain(`**On hold:** ${visibleText(ALL_HOSTILE)}`);
    expect(text).toContain(`atlantis apply ${HOSTILE.backtick} --force`);
  });

  it("guard -o markdown is inert too", () => {
    const { problems, text } = inspectMarkdown(guardMarkdown(guard));
    expect(problems).toEqual([]);
    expect(text).toContain(visibleText(key));
  });

  it("guard -o text shows control characters as escapes and keeps one line per verdict", () => {
    const text = guardText(guard);
    expect(text).not.toMatch(RAW_CONTROL);
    expect(text).not.toContain("\x1b]0;");
    expect(text).toContain("\\x1b]0;pwned\\x07\\x1b[2J");
    expect(text).toContain("\\x9b31mred");
    const lines = text.split("\n");
    // The verdict, the roll, three changes, the count: a newline in a key forges no line.
    expect(lines).toHaveLength(6);
    expect(lines.filter((l) => /^ {2}[✓✗] /.test(l))).toHaveLength(3);
    expect(lines[3]).toContain(visibleText(key));
  });

  it("guard -o json is valid JSON of the very same result, with no raw control character", () => {
    const json = guardJson(guard);
    expect(json).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(guard)));
  });
});
