/**
 * The CLI as people use it (bin/amiroll.js in a child process): with --log-format json (or CI)
 * every line on stderr is one JSON object, the final error included; progress off a terminal is
 * plain lines, no \r; the AWS SDK's Node-version warning never shows; no credentials or no
 * network is one line saying what to do, exit 1.
 *
 * The runs about the process (terraform, the SDK's warning, AWS unreachable, a terminal) spawn
 * the built bin; the log-format and progress cases call the CLI's main() in this process
 * (test/support/cli-in-process.ts), with the same output and exit code.
 */
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { EXIT, exitCodeOf } from "../../scripts/amiroll";
import { requestedLogFormat } from "../../scripts/commands/common";
import { GuardRefusal, UsageError } from "../../scripts/core/errors";
import { createLogger } from "../../scripts/core/log";
import { findPluginDir } from "../../scripts/terraform/plugins";
import { REPO_CONFIG, amiroll, errorLines, scratch } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";

const BIN = resolve(__dirname, "../../bin/amiroll.js");

/** Every line of `stderr`, parsed; throws (failing the test) on a line that is not one JSON object. */
function jsonLines(stderr: string): Record<string, unknown>[] {
  expect(stderr.endsWith("\n")).toBe(true);
  return stderr
    .slice(0, -1)
    .split("\n")
    .map((line) => {
      const parsed = JSON.parse(line);
      expect(parsed).toEqual(expect.objectContaining({ time: expect.any(String), level: expect.any(String), message: expect.any(String) }));
      return parsed;
    });
}

describe("--log-format json: every line on stderr is a JSON object", () => {
  it("a failing run ends with an error object carrying the exit code", async () => {
    const r = await amirollInProcess(["plan", "--env", "qa", "--simulate", "--log-format", "json"]);
    expect(r.status).toBe(EXIT.badInput);
    expect(jsonLines(r.stderr).at(-1)).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      level: "error",
      message: '--env: no such environment "qa" (known: staging, production)',
      exitCode: 2,
      error: "UsageError",
    });
  });

  it("a succeeding run", async () => {
    const r = await amirollInProcess(["status", "--simulate", "--log-format", "json"]);
    expect(r.status).toBe(EXIT.ok);
    const lines = jsonLines(r.stderr);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.level === "info")).toBe(true);
  });

  it("a watch that fails: progress objects, then the failure as the error object", async () => {
    const r = await amirollInProcess(["watch", "--env", "staging", "--simulate", "--scenario", "broken-ami", "--log-format", "json"]);
    expect(r.status).toBe(EXIT.failed);
    const lines = jsonLines(r.stderr);
    expect(lines.some((l) => l.event === "progress")).toBe(true);
    expect(lines.at(-1)).toMatchObject({ level: "error", message: expect.stringMatching(/^watch of staging failed: apps: crash loop on the new AMI/), exitCode: 1 });
  });

  it("with CI set it is the default: a usage error from commander is an error object too", async () => {
    const r = await amirollInProcess(["status", "--no-such-option"], { CI: "true" });
    expect(r.status).toBe(EXIT.badInput);
    expect(jsonLines(r.stderr)).toEqual([expect.objectContaining({ level: "error", message: "unknown option '--no-such-option'", exitCode: 2 })]);
    // --log-format text overrides CI.
    const text = await amirollInProcess(["status", "--no-such-option", "--log-format", "text"], { CI: "true" });
    expect(text.stderr).toMatch(/^error: unknown option '--no-such-option'\n/);
  });

  it("terraform's own lines are output objects (simulated terraform passes none: a fake terraform that fails)", async () => {
    const fake = join(scratch, "terraform-fails.sh");
    require("node:fs").writeFileSync(fake, "#!/bin/sh\necho 'Initializing the backend...'\necho 'Error: Failed to get existing workspaces' >&2\nexit 1\n", { mode: 0o755 });
    const r = await amirollInProcess(["plan", "--env", "staging", "--log-format", "json"], { AMIROLL_TERRAFORM: fake, AMIROLL_TF_PLUGIN_DIR: "" });
    expect(r.status).toBe(EXIT.failed);
    const lines = jsonLines(r.stderr);
    expect(lines).toContainEqual(expect.objectContaining({ level: "output", source: "terraform", message: "Initializing the backend..." }));
    // Real mode says where the provider comes from when it found a local mirror (as the tests do).
    const mirror = findPluginDir({});
    const notice = lines.find((l) => String(l.message).startsWith("using the local provider mirror"));
    if (mirror.ok) expect(notice?.message).toBe(`using the local provider mirror at ${mirror.pluginDir} (set AMIROLL_TF_PLUGIN_DIR to choose another)`);
    else expect(notice).toBeUndefined();
    expect(lines.at(-1)).toMatchObject({ level: "error", message: "terraform init: Failed to get existing workspaces", exitCode: 1, error: "TerraformError" });
  });

  it("the format is known before commander parses: the last --log-format before --, else CI", () => {
    expect(requestedLogFormat(["status"], {})).toBe("text");
    expect(requestedLogFormat(["status"], { CI: "1" })).toBe("json");
    expect(requestedLogFormat(["status", "--log-format", "json"], {})).toBe("json");
    expect(requestedLogFormat(["status", "--log-format=json", "--log-format", "text"], { CI: "1" })).toBe("text");
    expect(requestedLogFormat(["status", "--log-format", "yaml"], {})).toBe("text");
    expect(requestedLogFormat(["status", "--", "--log-format", "json"], {})).toBe("text");
  });

  it("exitCodeOf: the guard's reasons as a list in text, as a field in JSON; the exit code in every error object", () => {
    const text: string[] = [];
    const json: string[] = [];
    const refusal = new GuardRefusal(["aws_ecs_cluster.main: delete of a stateful resource", "aws_iam_role.x: replace"]);
    expect(exitCodeOf(refusal, createLogger("text", (l) => text.push(l)))).toBe(EXIT.guardRefused);
    expect(exitCodeOf(refusal, createLogger("json", (l) => json.push(l)))).toBe(EXIT.guardRefused);
    expect(exitCodeOf(new UsageError("bad"), createLogger("json", (l) => json.push(l)))).toBe(EXIT.badInput);
    expect(text).toEqual(["amiroll: the plan guard refused the plan (2 reasons):\n  - aws_ecs_cluster.main: delete of a stateful resource\n  - aws_iam_role.x: replace"]);
    expect(json.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ level: "error", message: "the plan guard refused the plan (2 reasons)", exitCode: 3, error: "GuardRefusal", reasons: refusal.reasons }),
      expect.objectContaining({ level: "error", message: "bad", exitCode: 2, error: "UsageError" }),
    ]);
  });

  it("exitCodeOf: a newline inside a reason (plan text) stays in its bullet instead of faking another", () => {
    const text: string[] = [];
    exitCodeOf(new GuardRefusal(['aws_instance.x["a\n  - all good"]: create']), createLogger("text", (l) => text.push(l)));
    expect(text.join("\n").split("\n")).toEqual(["amiroll: the plan guard refused the plan (1 reason):", '  - aws_instance.x["a\\n  - all good"]: create']);
  });
});

describe("progress on a terminal (a pseudo-terminal from script(1), 50 columns)", () => {
  const hasScript = spawnSync("script", ["--version"], { encoding: "utf8" }).status === 0;
  (hasScript ? it : it.skip)("one line rewritten with \\r, never wider than the terminal", () => {
    const command = `stty cols 50; ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} watch --env staging --simulate`;
    const r = spawnSync("script", ["-qec", command, "/dev/null"], { encoding: "utf8", env: { ...process.env, CI: "", NODE_NO_WARNINGS: "1", AMIROLL_CONFIG: REPO_CONFIG } });
    expect(r.status).toBe(EXIT.ok);
    // A pseudo-terminal carries stdout and stderr together, with \r\n line ends.
    const live = r.stdout.split("\r\n").find((l) => l.includes("\x1b[2K"))!;
    const frames = live.split("\r\x1b[2K").filter((f) => f !== "");
    expect(frames.length).toBeGreaterThan(2);
    expect(frames[0]).toMatch(/^apps: waiting for new instances/);
    for (const frame of frames) expect([...frame].length).toBeLessThanOrEqual(49);
  });
});

describe("progress off a terminal", () => {
  it("plain lines, no \\r and no escape codes, each printed when it changed", async () => {
    const r = await amirollInProcess(["watch", "--env", "staging", "--simulate"]);
    expect(r.status).toBe(EXIT.ok);
    expect(r.stderr).not.toMatch(/[\r\x1b]/);
    const progress = r.stderr.split("\n").filter((l) => l.startsWith("apps: "));
    expect(progress.length).toBeGreaterThan(1);
    // Consecutive lines differ in more than the time.
    const steady = progress.map((l) => l.replace(/ · elapsed .*$/, ""));
    for (let i = 1; i < steady.length; i++) expect(steady[i]).not.toBe(steady[i - 1]);
  });
});

describe("the AWS SDK's Node-version warning", () => {
  it("never reaches the user (warnings on: NODE_NO_WARNINGS unset)", () => {
    const r = amiroll(["status", "--simulate"], { NODE_NO_WARNINGS: "" });
    expect(r.status).toBe(EXIT.ok);
    expect(r.stderr).not.toContain("NodeVersionSupportWarning");
    expect(r.stderr).not.toContain("Warning:");
  });
});

/** No credentials anywhere the SDK looks: no variables, no files, no instance metadata. */
const NO_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: "",
  AWS_SECRET_ACCESS_KEY: "",
  AWS_SESSION_TOKEN: "",
  AWS_PROFILE: "",
  AWS_DEFAULT_PROFILE: "",
  AWS_CONFIG_FILE: "/nonexistent/amiroll-test/config",
  AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/amiroll-test/credentials",
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "",
  AWS_CONTAINER_CREDENTIALS_FULL_URI: "",
  AWS_WEB_IDENTITY_TOKEN_FILE: "",
  AWS_ENDPOINT_URL: "",
  // One attempt per call: the SDK would retry network errors with back-off.
  AWS_MAX_ATTEMPTS: "1",
  AMIROLL_AWS_MAX_ATTEMPTS: "1",
};

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const { port } = server.address() as { port: number };
  await new Promise<void>((res) => server.close(() => res()));
  return port;
}

describe("AWS that cannot be asked (real mode, no --simulate)", () => {
  it("no credentials: one line naming the call, the region and what to do, exit 1", async () => {
    const r = await amirollInProcess(["status"], NO_CREDENTIALS);
    expect(r.status).toBe(EXIT.failed);
    expect(errorLines(r.stderr)).toEqual(["amiroll: SSM GetParameters: no AWS credentials for eu-west-1 (set AWS_PROFILE, run aws sso login, or try --simulate)"]);
  });

  // A child process: under jest, the SDK wraps the Node realm's socket error ("AWS SDK error
  // wrapper for ...", it is not an Error of the test's realm), which a real run never sees.
  it("no network: one line naming the call, the endpoint and what to do, exit 1", async () => {
    const port = await closedPort();
    const r = amiroll(["status"], { ...NO_CREDENTIALS, AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "example", AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` });
    expect(r.status).toBe(EXIT.failed);
    expect(errorLines(r.stderr)).toEqual([`amiroll: SSM GetParameters: cannot reach AWS (127.0.0.1:${port}): connect ECONNREFUSED 127.0.0.1:${port} (check the network or proxy, or try --simulate)`]);
  });

  it("as JSON too", async () => {
    const r = await amirollInProcess(["status", "--log-format", "json"], NO_CREDENTIALS);
    expect(r.status).toBe(EXIT.failed);
    expect(jsonLines(r.stderr).at(-1)).toMatchObject({ level: "error", message: expect.stringMatching(/^SSM GetParameters: no AWS credentials for eu-west-1/), exitCode: 1, error: "AwsAccessError" });
  });
});
