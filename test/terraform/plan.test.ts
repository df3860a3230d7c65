/**
 * The plan model against real `terraform show -json` plans (test/fixtures/plans): every
 * one parses, counts as terraform counts it, and never lets a sensitive value through.
 */
import { join } from "node:path";
import { ConfigError } from "../../scripts/config/input";
import {
  SENSITIVE,
  UNKNOWN,
  attributeDiff,
  parsePlan,
  readPlanFile,
  summaryLine,
} from "../../scripts/terraform/plan";
import { FIXTURES, fixture, fixtureJson, fixtureNames } from "../support/fixtures";

const raw = fixtureJson;

/** terraform's own summary line for each fixture (what `terraform plan` printed for it). */
const TERRAFORM_SAYS: Record<string, string> = {
  "aws__01-create": "Plan: 6 to add, 0 to change, 0 to destroy.",
  // The launch configuration is replaced (1 add + 1 destroy); the template and both groups update.
  "aws__03-ami-bump": "Plan: 1 to add, 3 to change, 1 to destroy.",
  // Two replacements, one each way, and one update; no-ops count nothing.
  "builtin__replace-cbd-and-dbc": "Plan: 2 to add, 1 to change, 2 to destroy.",
  // The data source read is not counted.
  "equivalence__data_read.plan": "Plan: 3 to add, 0 to change, 0 to destroy.",
  "equivalence__null_provider_update.noop.plan": "No changes. Your infrastructure matches the configuration.",
  "show-json__sensitive-values": "Plan: 1 to add, 0 to change, 0 to destroy.",
  "show-json__plan-error": "Plan failed: terraform reported errors.",
};

describe("the plan model", () => {
  it("knows every fixture of test/fixtures/plans (a new one needs its terraform summary here)", () => {
    expect(fixtureNames().sort()).toEqual(Object.keys(TERRAFORM_SAYS).sort());
  });

  it.each(Object.entries(TERRAFORM_SAYS))("%s parses and counts as terraform does", (name, line) => {
    expect(summaryLine(readPlanFile(fixture(name)))).toBe(line);
  });

  it("keeps actions, the order of a replacement, its reason and its replace paths", () => {
    const plan = readPlanFile(fixture("builtin__replace-cbd-and-dbc"));
    const byAddress = Object.fromEntries(plan.changes.map((c) => [c.address, c]));
    expect(byAddress["terraform_data.launch_config"]).toMatchObject({
      actions: ["create", "delete"],
      kind: "replace (create before destroy)",
      actionReason: "replace_because_cannot_update",
      replacePaths: [["triggers_replace"]],
    });
    expect(byAddress["terraform_data.asg"].kind).toBe("replace (destroy before create)");
    expect(byAddress["module.svc.terraform_data.service[0]"]).toMatchObject({ kind: "no-op", configAddress: "module.svc.terraform_data.service" });
  });

  it("keeps drift apart from the changes an apply makes", () => {
    const plan = readPlanFile(fixture("aws__03-ami-bump"));
    expect(plan.drift.map((d) => d.address)).toContain("aws_ecs_cluster.this");
    expect(plan.changes.find((c) => c.address === "aws_ecs_cluster.this")!.kind).toBe("no-op");
  });

  it("masks sensitive values with their masks, including after_sensitive: false on a delete", () => {
    const plan = readPlanFile(fixture("aws__03-ami-bump"));
    const secret = plan.changes.find((c) => c.address === "aws_ssm_parameter.secret")!;
    expect((secret.before as any).value).toBe(SENSITIVE);
    expect((secret.before as any).name).toBe("/heldout/secret");
    expect(plan.priorOutputs.secret).toBe(SENSITIVE);
    const deleted = parsePlan(
      { format_version: "1.2", resource_changes: [{ address: "aws_x.y", type: "aws_x", name: "y", change: { actions: ["delete"], before: { a: "shown", b: "hidden" }, after: null, before_sensitive: { b: true }, after_sensitive: false } }] },
      "inline",
    );
    expect(deleted.changes[0].before).toEqual({ a: "shown", b: SENSITIVE });
    expect(deleted.changes[0].after).toBeNull();
    expect(deleted.summary).toMatchObject({ add: 0, destroy: 1 });
  });

  it("shows unknown values as known after apply, including attributes only after_unknown lists", () => {
    const plan = readPlanFile(fixture("aws__01-create"));
    const template = plan.changes.find((c) => c.address === "aws_launch_template.ecs")!;
    expect((template.after as any).id).toBe(UNKNOWN);
    expect((template.after as any).image_id).toBe("ami-0aae19d30bab785d3");
  });

  it("reads the configuration's references, module prefixes resolved", () => {
    const plan = readPlanFile(fixture("aws__03-ami-bump"));
    expect([...plan.references.get("aws_autoscaling_group.ecs")!]).toEqual(["aws_launch_template.ecs"]);
    expect([...plan.references.get("aws_autoscaling_group.legacy")!]).toEqual(["aws_launch_configuration.legacy"]);
  });

  it("diffs attributes, marking those that force the replacement", () => {
    const plan = readPlanFile(fixture("aws__03-ami-bump"));
    const rows = attributeDiff(plan.changes.find((c) => c.address === "aws_launch_configuration.legacy")!);
    expect(rows.find((r) => r.path === "image_id")).toEqual({
      path: "image_id",
      before: "ami-0aae19d30bab785d3",
      after: "ami-06cc69030d77088a1",
      forcesReplacement: true,
    });
    expect(rows.find((r) => r.path === "name")).toMatchObject({ after: UNKNOWN, forcesReplacement: false });
  });

  it("marks an errored plan and a no-op plan", () => {
    expect(readPlanFile(fixture("show-json__plan-error")).errored).toBe(true);
    const noop = readPlanFile(fixture("equivalence__null_provider_update.noop.plan"));
    expect([noop.errored, noop.applyable, noop.summary]).toEqual([false, false, { import: 0, add: 0, change: 0, destroy: 0, forget: 0 }]);
  });

  describe("refuses what is not a usable plan, naming the file and the field", () => {
    const base = raw("aws__03-ami-bump");
    it.each([
      ["a JSON array", [], "inline: (top level): is not a terraform plan"],
      ["no format_version", { resource_changes: [] }, "inline: format_version: missing"],
      ["format 2.0", { ...base, format_version: "2.0" }, 'inline: format_version: "2.0" is not supported (amiroll reads the plan JSON format 1.x)'],
      ["state JSON", { format_version: "1.0", values: {} }, "inline: (top level): has no resource_changes or planned_values: this is state JSON"],
      ["an unknown action", { ...base, resource_changes: [{ ...base.resource_changes[0], change: { ...base.resource_changes[0].change, actions: ["explode"] } }] }, 'inline: resource_changes[0].change.actions[0]: "explode" is not a terraform action'],
      ["a change without address", { ...base, resource_changes: [{ change: { actions: ["create"] } }] }, "inline: resource_changes[0].address: missing"],
    ])("%s", (_label, value, message) => {
      expect(() => parsePlan(value, "inline")).toThrow(ConfigError);
      expect(() => parsePlan(value, "inline")).toThrow(message);
    });

    it("a missing file and a file that is not JSON", () => {
      expect(() => readPlanFile("/nonexistent/plan.json")).toThrow("/nonexistent/plan.json: (file): cannot be read: ENOENT");
      expect(() => readPlanFile(join(FIXTURES, "README.md"))).toThrow(/README\.md: \(file\): is not valid JSON \(expected the output of terraform show -json PLANFILE\)/);
    });
  });
});

/**
 * Issue 16: bad input that is huge or deep. A plan nested 5,000 levels deep gave exit 1,
 * "Maximum call stack size exceeded", naming nothing; now it is a ConfigError naming the file.
 */
describe("parsing limits", () => {
  const { mkdtempSync, writeFileSync, truncateSync } = require("node:fs") as typeof import("node:fs");
  const { tmpdir } = require("node:os") as typeof import("node:os");
  const { MAX_JSON_BYTES, MAX_JSON_DEPTH, jsonDepthOffset, jsonErrorOffset, valueDeeperThan } = require("../../scripts/config/input") as typeof import("../../scripts/config/input");
  const { deepPlanText, hostilePlanJson } = require("../support/hostile") as typeof import("../support/hostile");
  const dir = mkdtempSync(join(tmpdir(), "amiroll-limits-"));
  const thrown = (f: () => unknown): Error => {
    try {
      f();
    } catch (error) {
      return error as Error;
    }
    throw new Error("did not throw");
  };

  it("refuses a plan nested 5,000 levels deep, naming the file, the limit and where", () => {
    const path = join(dir, "deep.json");
    writeFileSync(path, deepPlanText(5_000));
    const error = thrown(() => readPlanFile(path));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: \\(file\\): nests objects and arrays deeper than 512 levels at line 1, column \\d+ \\(expected the output of terraform show -json PLANFILE\\); amiroll reads at most 512$`));
  });

  it("reads a plan right at the depth limit", () => {
    const path = join(dir, "limit.json");
    // The plan's own objects take 5 levels around the nested arrays.
    writeFileSync(path, deepPlanText(MAX_JSON_DEPTH - 5));
    expect(readPlanFile(path).changes).toHaveLength(3);
    writeFileSync(path, deepPlanText(MAX_JSON_DEPTH - 4));
    expect(thrown(() => readPlanFile(path)).message).toMatch(/deeper than 512 levels/);
  });

  it("refuses a file over 512 MiB before reading it, naming the file", () => {
    const path = join(dir, "huge.json");
    writeFileSync(path, "");
    // Sparse: the size is there, the disk space is not (and the file is never read).
    truncateSync(path, MAX_JSON_BYTES + 1);
    const error = thrown(() => readPlanFile(path));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(`${path}: (file): is 536870913 bytes (512.0 MiB), over the 512 MiB amiroll reads`);
  });

  it("holds a plan parsed elsewhere (terraform show's output) to the same depth", () => {
    const deep = hostilePlanJson("deep") as any;
    let value: unknown = [];
    for (let i = 0; i < 5_000; i++) value = [value];
    deep.resource_changes[2].change.before.deep = value;
    const error = thrown(() => parsePlan(deep, "staging.plan.json"));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe("staging.plan.json: resource_changes: nests objects and arrays deeper than 512 levels; amiroll reads at most 512");
    expect(valueDeeperThan({ a: [[1]] }, 3)).toBeUndefined();
    expect(valueDeeperThan({ a: [[[1]]] }, 3)).toBe("a");
  });

  it("finds depth and syntax errors of any depth without recursion", () => {
    const deep = `${"[".repeat(200_000)}1${"]".repeat(200_000)}`;
    expect(jsonDepthOffset(deep, 512)).toBe(512);
    // Brackets in strings, escaped quotes among them, do not count.
    expect(jsonDepthOffset('{"a": "[[[[", "b": [[1]]}', 3)).toBeUndefined();
    const text = '{"a": "\\"[[[[", "b": [[[1]]]}';
    expect(jsonDepthOffset(text, 3)).toBe(text.indexOf("[[[1") + 2);
    expect(jsonErrorOffset(deep)).toBeUndefined();
    expect(jsonErrorOffset(`${"[".repeat(200_000)}1,]`)).toBe(200_002);
    expect(jsonErrorOffset(`${'{"a":'.repeat(100_000)}1${"}".repeat(99_999)}`)).toBe(600_000);
  });
});
