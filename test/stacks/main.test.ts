import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { synthesize } from "../../stacks/main";
import { DEFAULT_PINS_PATH } from "../../scripts/config/pins";

const ROOT = resolve(__dirname, "../..");

/** Runs the cdktf app as `npm run synth` does, with its own output dir and pins file. */
function runApp(env: Record<string, string>) {
  return spawnSync(process.execPath, ["--import", "tsx", "stacks/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
}

describe("npm run synth", () => {
  it("writes one Terraform JSON file per environment and says where", () => {
    const outdir = mkdtempSync(join(tmpdir(), "amiroll-synth-"));
    const result = synthesize({ outdir });
    expect(result.stacks.map((s) => s.name)).toEqual(["staging", "production"]);
    for (const stack of result.stacks) {
      expect(stack.file).toBe(join(outdir, "stacks", stack.name, "cdk.tf.json"));
      expect(JSON.parse(readFileSync(stack.file, "utf8")).terraform.backend.s3.key).toBe(`amiroll/${stack.name}/terraform.tfstate`);
    }
  });

  it("as a command: prints each stack's file; bad pins give one line naming the field, exit 2 and no output", () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-synth-"));
    const ok = runApp({ CDKTF_OUTDIR: join(dir, "good") });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/synthesized staging +-> .*stacks\/staging\/cdk\.tf\.json/);
    expect(ok.stdout).toMatch(/synthesized production +-> .*stacks\/production\/cdk\.tf\.json/);

    const badPins = join(dir, "amis.json");
    const pins = JSON.parse(readFileSync(DEFAULT_PINS_PATH, "utf8"));
    pins.production.apps.current.imageId = "ami-not-hex";
    writeFileSync(badPins, JSON.stringify(pins));
    const bad = runApp({ CDKTF_OUTDIR: join(dir, "bad"), AMIROLL_PINS: badPins });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split("\n")).toEqual([
      `amiroll synth: ${badPins}: production.apps.current.imageId: "ami-not-hex" is not an AMI id (expected "ami-" and 8 or 17 lower-case hex digits)`,
    ]);
    expect(existsSync(join(dir, "bad"))).toBe(false);
  });
});
