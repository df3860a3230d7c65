/**
 * stacks/: this repository's own environments, the worked example. Its cdktf app (main.ts, public
 * API only) and `amiroll synth` write the same stacks from stacks/amiroll.json.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { amirollInProcess } from "../support/cli-in-process";
import { REPO_PINS_PATH, synthesizeRepo } from "../support/repo-config";

const ROOT = resolve(__dirname, "../..");

describe("the worked example (stacks/)", () => {
  it("main.ts imports nothing but the package's public entries", () => {
    const imports = [...readFileSync(join(ROOT, "stacks/main.ts"), "utf8").matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
    expect(imports).toEqual(["amiroll", "amiroll/config"]);
  });

  it("main.ts (a team's own cdktf app) and amiroll synth write the same stacks", async () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-synth-"));
    const app = spawnSync(process.execPath, ["--import", "tsx", "stacks/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, CDKTF_OUTDIR: join(dir, "app") },
      encoding: "utf8",
    });
    expect(app.stderr).toBe("");
    expect(app.status).toBe(0);
    const verb = await amirollInProcess(["synth"], { CDKTF_OUTDIR: join(dir, "verb") });
    expect(verb.status).toBe(0);
    expect(verb.stderr).toMatch(/synthesized staging -> .*verb\/stacks\/staging\/cdk\.tf\.json/);
    expect(verb.stderr).toMatch(/synthesized production -> .*verb\/stacks\/production\/cdk\.tf\.json/);
    const library = synthesizeRepo({ outdir: join(dir, "library") });
    for (const env of ["staging", "production"]) {
      const read = (which: string) => readFileSync(join(dir, which, "stacks", env, "cdk.tf.json"), "utf8");
      expect(read("app")).toBe(read("verb"));
      expect(read("library")).toBe(read("verb"));
      expect(JSON.parse(read("verb")).terraform.backend.s3.key).toBe(`amiroll/${env}/terraform.tfstate`);
    }
    expect(library.stacks.map((s) => s.name)).toEqual(["staging", "production"]);
  });

  it("synth with bad pins: one line naming the file and field, exit 2, nothing written", async () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-synth-"));
    const badPins = join(dir, "amis.json");
    const pins = JSON.parse(readFileSync(REPO_PINS_PATH, "utf8"));
    pins.production.apps.current.imageId = "ami-not-hex";
    writeFileSync(badPins, JSON.stringify(pins));
    const bad = await amirollInProcess(["synth"], { CDKTF_OUTDIR: join(dir, "out"), AMIROLL_PINS: badPins });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split("\n")).toEqual([
      `amiroll: ${badPins}: production.apps.current.imageId: "ami-not-hex" is not an AMI id (expected "ami-" and 8 or 17 lower-case hex digits)`,
    ]);
    expect(existsSync(join(dir, "out"))).toBe(false);
  });

  it("synth into an outDir that is a file: exit 2 naming the config's outDir, nothing written", async () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-synth-"));
    writeFileSync(join(dir, "out"), "not a directory");
    const bad = await amirollInProcess(["synth"], { CDKTF_OUTDIR: join(dir, "out") });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe(`amiroll: stacks/amiroll.json: outDir: ${join(dir, "out")} is a file, not a directory`);
    expect(readFileSync(join(dir, "out"), "utf8")).toBe("not a directory");
  });
});
