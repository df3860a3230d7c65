/**
 * synthesizeStacks: a synthesis of the same environments and pins is written again from the
 * process's recent ones instead of being made anew, and must be the very same files.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { synthesizeStacks } from "../../constructs/app";
import { readPins } from "../../scripts/config/pins";
import { REPO_PINS_FILE, REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

const environments = loadEnvironments();
const pins = readPins(REPO_PINS_PATH, environments, REPO_PINS_FILE);
const root = mkdtempSync(join(tmpdir(), "amiroll-app-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every file under `dir`, by its path relative to it. */
function tree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(at, entry.name));
      else files[relative(dir, join(at, entry.name))] = readFileSync(join(at, entry.name)).toString("base64");
    }
  };
  walk(dir);
  return files;
}

describe("synthesizeStacks, again with the same input", () => {
  it("writes the same files into another outDir, and says where, as the first synthesis did", () => {
    const first = synthesizeStacks({ environments, pins, outDir: join(root, "first") });
    const again = synthesizeStacks({ environments, pins, outDir: join(root, "again") });
    expect(again).toEqual(first.map((s) => ({ name: s.name, directory: s.directory.replace("/first/", "/again/"), file: s.file.replace("/first/", "/again/") })));
    const written = tree(join(root, "again"));
    expect(Object.keys(written)).toEqual(expect.arrayContaining(["manifest.json", "stacks/staging/cdk.tf.json", "stacks/production/cdk.tf.json"]));
    expect(Object.keys(written).some((path) => path.endsWith("drain-hook.zip"))).toBe(true);
    expect(written).toEqual(tree(join(root, "first")));
  });

  it("only some environments, or other pins: a stack of its own input, not the last one's", () => {
    synthesizeStacks({ environments, pins, outDir: join(root, "all") });
    const [staging] = synthesizeStacks({ environments, pins, outDir: join(root, "staging"), only: ["staging"] });
    expect(Object.keys(tree(join(root, "staging"))).filter((p) => p.endsWith("cdk.tf.json"))).toEqual(["stacks/staging/cdk.tf.json"]);
    expect(readFileSync(staging.file, "utf8")).toBe(readFileSync(join(root, "all/stacks/staging/cdk.tf.json"), "utf8"));

    const bumped = { ...pins, staging: { apps: { current: { imageId: "ami-0123456789abcdef0" } } } };
    const [other] = synthesizeStacks({ environments, pins: bumped, outDir: join(root, "bumped"), only: ["staging"] });
    expect(readFileSync(other.file, "utf8")).toContain("ami-0123456789abcdef0");
    expect(readFileSync(other.file, "utf8")).not.toBe(readFileSync(staging.file, "utf8"));
  });
});
