import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { PropsError } from "../../constructs/errors";
import { EXIT, exitCodeOf } from "../../scripts/amiroll";
import { ConfigError } from "../../scripts/config/input";

const BIN = resolve(__dirname, "../../bin/amiroll.js");
// CI unset: CI=true would make the log format JSON (the default in CI), not the text asserted here.
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, CI: "" } });

describe("the amiroll command", () => {
  it("prints its version and help, exit 0", () => {
    const version = run("--version");
    expect(version.status).toBe(EXIT.ok);
    expect(version.stdout.trim()).toBe(require("../../package.json").version);
    const help = run("--help");
    expect(help.status).toBe(EXIT.ok);
    expect(help.stdout).toContain("Usage: amiroll");
  });

  it("treats no arguments, an unknown verb or an unknown option as usage errors: help on stderr, exit 2", () => {
    for (const args of [[], ["frobnicate"], ["--nope"]]) {
      const result = run(...args);
      expect([args, result.status]).toEqual([args, EXIT.badInput]);
      expect(result.stderr).toMatch(/Usage: amiroll|amiroll --help/);
    }
  });

  it("maps bad config to exit 2 with one line naming the field, anything else to exit 1", () => {
    const errors: string[] = [];
    jest.spyOn(console, "error").mockImplementation((line: string) => void errors.push(line));
    expect(exitCodeOf(new ConfigError("stacks/amis.json", "staging.apps.current.imageId", "bad"))).toBe(EXIT.badInput);
    expect(exitCodeOf(new PropsError("EcsCluster s/apps", "minSize", "5 is above maxSize 4"))).toBe(EXIT.badInput);
    expect(exitCodeOf(new Error("terraform apply failed"))).toBe(EXIT.failed);
    expect(errors).toEqual([
      "amiroll: stacks/amis.json: staging.apps.current.imageId: bad",
      "amiroll: EcsCluster s/apps: minSize: 5 is above maxSize 4",
      "amiroll: terraform apply failed",
    ]);
  });
});
