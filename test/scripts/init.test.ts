/**
 * `amiroll init` as a new user runs it: in an empty directory, then synth and a simulated
 * rollout of what it wrote; bad flags and existing files leave the directory as it was.
 */
import Ajv from "ajv";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../scripts/config/file";
import { atlantisYaml } from "../../scripts/config/templates";
import { amiroll, errorLines } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";

const SCHEMA = JSON.parse(readFileSync(join(__dirname, "../../amiroll.schema.json"), "utf8"));

/** Runs amiroll in `dir`, with no AMIROLL_CONFIG: it finds (or writes) the config there. */
const inDir = (dir: string, args: string[]) => amiroll(args, { AMIROLL_CONFIG: "", CDKTF_OUTDIR: "" }, dir);
/** The same, through the CLI's main() in this process (test/support/cli-in-process.ts): only the first init stays a spawn of the built bin (the consumer test, npm run test:consumer, runs init, synth and rollout from the packed package). */
const inDirInProcess = (dir: string, args: string[]) => amirollInProcess(args, { AMIROLL_CONFIG: "", CDKTF_OUTDIR: "" }, dir);
const emptyDir = () => mkdtempSync(join(tmpdir(), "amiroll-init-"));
/** Every file under `dir`, with its text. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string, prefix: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(d, entry.name), `${prefix}${entry.name}/`);
      else files[`${prefix}${entry.name}`] = readFileSync(join(d, entry.name), "utf8");
    }
  };
  walk(dir, "");
  return files;
}

describe("amiroll init --simulate", () => {
  const dir = emptyDir();
  let first: ReturnType<typeof amiroll>;
  beforeAll(() => {
    first = inDir(dir, ["init", "--simulate", "--ci", "atlantis"]);
  });

  it("writes a config that loads and that the schema accepts, pins from the simulator's SSM, and atlantis.yaml", () => {
    expect(first.stderr).toContain("wrote amiroll.json");
    expect(first.status).toBe(0);
    expect(Object.keys(snapshot(dir)).sort()).toEqual(["amiroll.json", "amis.json", "atlantis.yaml"]);
    const raw = JSON.parse(readFileSync(join(dir, "amiroll.json"), "utf8"));
    expect(new Ajv({ strictTypes: false }).validate(SCHEMA, raw)).toBe(true);
    expect(raw.$schema).toBe("./node_modules/amiroll/amiroll.schema.json");
    const config = loadConfig({ cwd: dir, env: {} });
    expect(config.environments.map((e) => [e.name, e.promotesFrom, e.clusters[0].strategy])).toEqual([
      ["staging", undefined, "replace"],
      ["production", "staging", "blue-green"],
    ]);
    // Every environment rebalances: a rollout leaves no service with every task in one zone.
    expect(config.environments.map((e) => [e.name, e.rebalance])).toEqual([
      ["staging", true],
      ["production", true],
    ]);
    for (const env of ["staging", "production"]) {
      const pin = config.pins[env].apps.current;
      expect(pin.imageId).toMatch(/^ami-0[0-9a-f]{16}$/);
      expect(pin.imageName).toMatch(/^al2023-ami-ecs-hvm-.*-arm64$/);
      expect(pin.ssmParameter).toBe("/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended");
      expect(pin.verifiedAt).toBeUndefined();
    }
    expect(readFileSync(join(dir, "atlantis.yaml"), "utf8")).toContain('npx amiroll plan --env "$PROJECT_NAME"');
  });

  it("refuses to run again over its own files, changing nothing; --force overwrites", async () => {
    const before = snapshot(dir);
    const again = await inDirInProcess(dir, ["init", "--simulate"]);
    expect(again.status).toBe(2);
    expect(errorLines(again.stderr)).toEqual(["amiroll: amiroll.json, amis.json already exist: amiroll init writes only new files (--force overwrites them)"]);
    const ci = await inDirInProcess(dir, ["init", "--simulate", "--ci", "atlantis"]);
    expect(ci.status).toBe(2);
    expect(errorLines(ci.stderr)).toEqual(["amiroll: atlantis.yaml already exists: amiroll init writes only new files (--force overwrites it, and amiroll.json and the pins too)"]);
    expect(snapshot(dir)).toEqual(before);
    const forced = await inDirInProcess(dir, ["init", "--simulate", "--force", "--environments", "dev,prod"]);
    expect(forced.status).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(join(dir, "amiroll.json"), "utf8")).environments)).toEqual(["dev", "prod"]);
  });

  it("what it wrote synthesizes and rolls out on the simulator", async () => {
    const fresh = emptyDir();
    // A team's repository is not empty: init writes beside what is there.
    writeFileSync(join(fresh, "package.json"), "{}\n");
    expect((await inDirInProcess(fresh, ["init", "--simulate"])).status).toBe(0);
    const synth = await inDirInProcess(fresh, ["synth"]);
    expect(synth.status).toBe(0);
    expect(readdirSync(join(fresh, "cdktf.out", "stacks")).sort()).toEqual(["production", "staging"]);
    const rollout = await inDirInProcess(fresh, ["rollout", "--simulate", "--ignore-window"]);
    expect(rollout.status).toBe(0);
    expect(rollout.stdout).toContain("zero-downtime violations: 0");
  });

  it("--ci where amiroll.json exists writes only the CI file, for that config's environments", async () => {
    const fresh = emptyDir();
    expect((await inDirInProcess(fresh, ["init", "--simulate", "--environments", "dev,live"])).status).toBe(0);
    const before = snapshot(fresh);
    const r = await inDirInProcess(fresh, ["init", "--ci", "github"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("amiroll.json exists, so only the CI file was written: wrote .github/workflows/amiroll.yml");
    const after = snapshot(fresh);
    expect(Object.keys(after).sort()).toEqual([...Object.keys(before), ".github/workflows/amiroll.yml"].sort());
    for (const file of Object.keys(before)) expect(after[file]).toBe(before[file]);
    expect(after[".github/workflows/amiroll.yml"]).toContain("- env: live");
    const again = await inDirInProcess(fresh, ["init", "--ci", "github"]);
    expect(again.status).toBe(2);
    expect(errorLines(again.stderr)).toEqual([expect.stringMatching(/^amiroll: \.github\/workflows\/amiroll\.yml already exists/)]);
  });

  it("--ci github writes the workflow, with the config's environments", async () => {
    const fresh = emptyDir();
    expect((await inDirInProcess(fresh, ["init", "--simulate", "--ci", "github", "--environments", "qa,stage,live"])).status).toBe(0);
    const workflow = readFileSync(join(fresh, ".github/workflows/amiroll.yml"), "utf8");
    for (const env of ["qa", "stage", "live"]) expect(workflow).toContain(`- env: ${env}`);
    expect(workflow).toContain("AMIROLL_CONFIG: amiroll.json");
  });
});

describe("amiroll init with bad flags: one line, exit 2, nothing written", () => {
  const real = ["--region", "eu-west-1", "--vpc-id", "vpc-0a1b2c3d4e5f60718", "--bucket", "my-state", "--subnet", "subnet-0a1b2c3d4e5f60001=eu-west-1a", "--subnet", "subnet-0a1b2c3d4e5f60002=eu-west-1b"];
  it.each<[string, string[], RegExp]>([
    ["no VPC without --simulate", ["--region", "eu-west-1", "--bucket", "my-state"], /^amiroll: --vpc-id is required \(or use --simulate/],
    ["no subnet without --simulate", real.slice(0, 6), /^amiroll: --subnet is required, once per subnet/],
    ["a region that is not one", ["--simulate", "--region", "Ireland"], /^amiroll: --region: "Ireland" is not valid \(expected a region such as eu-west-1\)$/],
    ["a subnet without its zone", ["--simulate", "--subnet", "subnet-0a1b2c3d4e5f60001"], /^amiroll: --subnet: "subnet-0a1b2c3d4e5f60001" is not ID=ZONE/],
    ["a subnet id that is not one", ["--simulate", "--subnet", "sub-1=eu-west-1a"], /^amiroll: --subnet: "sub-1" is not valid/],
    ["a size that is not a number", ["--simulate", "--min-size", "two"], /^amiroll: --min-size: "two" is not a whole number$/],
    ["min above max", ["--simulate", "--min-size", "5"], /^amiroll: the flags make an invalid config \(nothing written\): environments\.staging\.clusters\.apps\.minSize: /],
    ["production in one zone", [...real.slice(0, 8)], /^amiroll: the flags make an invalid config \(nothing written\): environments\.production\.subnets: an environment that promotesFrom another needs subnets in at least 2 availability zones/],
    ["an empty environment name", ["--simulate", "--environments", "a,,b"], /^amiroll: --environments: "a,,b" must be distinct names/],
    ["an environment name with capitals", ["--simulate", "--environments", "Staging"], /^amiroll: the flags make an invalid config \(nothing written\): environments\.Staging: /],
    ["an unknown CI system", ["--simulate", "--ci", "jenkins"], /^error: option '--ci <system>' argument 'jenkins' is invalid/],
  ])("%s", async (_what, flags, message) => {
    const dir = emptyDir();
    mkdirSync(join(dir, "keep"));
    const r = await inDirInProcess(dir, ["init", ...flags]);
    expect(r.status).toBe(2);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("amiroll:") || l.startsWith("error:"))).toEqual([expect.stringMatching(message)]);
    expect(readdirSync(dir)).toEqual(["keep"]);
  });
});

describe("this repository's atlantis.yaml", () => {
  it("is what amiroll init --ci atlantis writes for stacks/amiroll.json", () => {
    const expected = atlantisYaml({ environments: ["staging", "production"], configPath: "stacks/amiroll.json", watch: ["stacks/**", "constructs/**", "scripts/**", "package*.json"] });
    expect(readFileSync(join(__dirname, "../../atlantis.yaml"), "utf8")).toBe(expected);
  });
});
