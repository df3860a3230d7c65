/**
 * amiroll as a team installs it: `npm pack`, the tarball installed into an empty project (npm's
 * cache makes this offline), then the library, the config entry and the CLI used from there.
 * Run by `npm run test:consumer` (pack + install take ~35 s, too long for npm test's budget);
 * .ci/run runs it after npm test.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
let project: string;

/** Runs a command in the consumer project, as its user would (no AMIROLL_CONFIG, no CI). */
function run(command: string, args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: "", AMIROLL_CONFIG: "", AMIROLL_PINS: "", CDKTF_OUTDIR: "" };
  const result = spawnSync(command, args, { cwd: project, encoding: "utf8", env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  const packs = mkdtempSync(join(tmpdir(), "amiroll-pack-"));
  // prepare builds dist/ first, as for a git dependency.
  execFileSync(NPM, ["pack", "--pack-destination", packs, "--silent"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  const tarball = join(packs, readdirSync(packs).find((f) => f.endsWith(".tgz"))!);
  project = mkdtempSync(join(tmpdir(), "amiroll-consumer-"));
  writeFileSync(join(project, "package.json"), `${JSON.stringify({ name: "platform-infra", version: "1.0.0", private: true }, null, 2)}\n`);
  execFileSync(NPM, ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], { cwd: project, stdio: ["ignore", "ignore", "inherit"] });
}, 300_000);

describe("the packed package, installed in an empty project", () => {
  it("ships the built library and CLI, not the sources, tests or benches", () => {
    const installed = join(project, "node_modules/amiroll");
    expect(readdirSync(installed).sort()).toEqual(["LICENSE", "README.md", "amiroll.schema.json", "bin", "constructs", "dist", "docs", "package.json"].filter((f) => existsSync(join(installed, f))).sort());
    for (const absent of ["test", "bench", "scripts", "stacks", ".github", "tsconfig.json", "dist/.tsbuildinfo"]) expect([absent, existsSync(join(installed, absent))]).toEqual([absent, false]);
    expect(readdirSync(join(installed, "constructs"))).toEqual(["drain-hook.lambda.ts"]);
    expect(existsSync(join(installed, "dist/constructs/index.d.ts"))).toBe(true);
    // tsx is for this repository's tests and benches only.
    expect(existsSync(join(project, "node_modules/tsx"))).toBe(false);
  });

  it("amiroll --help runs from dist/ without tsx", () => {
    const help = run(process.execPath, ["node_modules/.bin/amiroll", "--help"]);
    expect(help.stderr).toBe("");
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Usage: amiroll");
  });

  it('require("amiroll") synthesizes an EcsCluster, and "amiroll/config" loads a config', () => {
    writeFileSync(
      join(project, "app.js"),
      `const { App, TerraformStack } = require("cdktf");
const { AwsProvider } = require("@cdktf/provider-aws/lib/provider");
const { EcsCluster } = require("amiroll");
const app = new App({ outdir: "out" });
const stack = new TerraformStack(app, "mine");
new AwsProvider(stack, "aws", { region: "eu-west-1" });
new EcsCluster(stack, "apps", {
  clusterName: "mine-apps", vpcId: "vpc-0123456789abcdef0", instanceType: "m7g.large", minSize: 2, maxSize: 4,
  subnets: [{ subnetId: "subnet-0000000000000000a", availabilityZone: "eu-west-1a" }, { subnetId: "subnet-0000000000000000b", availabilityZone: "eu-west-1b" }],
  amis: { current: { imageId: "ami-0aaaaaaaaaaaaaaaa" } },
});
app.synth();
`,
    );
    writeFileSync(
      join(project, "config.js"),
      `const { defineConfig, parseConfig } = require("amiroll/config");
try {
  parseConfig(defineConfig({ environments: {} }), __dirname + "/amiroll.json", { env: {} });
} catch (e) {
  console.log(e.name + ": " + e.message);
}
`,
    );
    const synth = run(process.execPath, ["app.js"]);
    expect(synth.stderr).toBe("");
    expect(synth.status).toBe(0);
    expect(run(process.execPath, ["config.js"]).stdout.trim()).toBe("ConfigError: amiroll.json: environments: no environments are defined");
    const stack = JSON.parse(readFileSync(join(project, "out/stacks/mine/cdk.tf.json"), "utf8"));
    expect(Object.keys(stack.resource.aws_autoscaling_group)).toHaveLength(1);
    expect(Object.values<any>(stack.resource.aws_launch_template)[0].image_id).toBe("ami-0aaaaaaaaaaaaaaaa");
  });

  it("npx amiroll init --simulate, synth and rollout --simulate --ignore-window succeed", () => {
    const init = run(NPM, ["exec", "--", "amiroll", "init", "--simulate"]);
    expect(init.stderr).toContain("wrote amiroll.json");
    expect(init.status).toBe(0);
    const synth = run(NPM, ["exec", "--", "amiroll", "synth"]);
    expect(synth.status).toBe(0);
    expect(existsSync(join(project, "cdktf.out/stacks/production/cdk.tf.json"))).toBe(true);
    const rollout = run(NPM, ["exec", "--", "amiroll", "rollout", "--simulate", "--ignore-window"]);
    expect(rollout.status).toBe(0);
    expect(rollout.stdout).toContain("zero-downtime violations: 0");
    // Everything it wrote is beside the config, nothing inside node_modules.
    expect(readdirSync(join(project, "node_modules/amiroll")).includes("amis.json")).toBe(false);
  });
});
