/**
 * `TerraformCli`, the real terraform runner, against a fake terraform: a bash script that records
 * its argv and environment and behaves per FAKE_MODE. The runner runs in this process, except in
 * the tests that signal it as a terminal would: there it runs in a plain Node child
 * (test/support/runner-harness.js, on the built dist/) in its own process group.
 * Then, where terraform and the provider mirror exist, the same runner on a synthesized stack:
 * init, validate and a real offline plan (STS answered by a local stand-in).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { AWS_PROVIDER_VERSION, findPluginDir, providerPlatform } from "../../scripts/terraform/plugins";
import { TerraformCli, errorSummary } from "../../scripts/terraform/runner";
import { synthesizeRepo } from "../support/repo-config";
import { type SharedProvider, findTerraform, startSharedProvider } from "../support/terraform";

const ROOT = resolve(__dirname, "../..");
const HARNESS = join(ROOT, "test/support/runner-harness.js");

/** The fake terraform. Records `call<TAB>args...` and `env<TAB>...` per run in calls.log, signals in signals.log. */
const FAKE_TERRAFORM = String.raw`#!/usr/bin/env bash
dir="$(dirname "$0")"
{ printf 'call'; printf '\t%s' "$@"; printf '\n'
  printf 'env\tTF_IN_AUTOMATION=%s\tTF_INPUT=%s\tCHECKPOINT_DISABLE=%s\tFAKE_EXTRA=%s\tPWD=%s\n' \
    "$TF_IN_AUTOMATION" "$TF_INPUT" "$CHECKPOINT_DISABLE" "$FAKE_EXTRA" "$PWD"; } >> "$dir/calls.log"
cli_warning() {
  printf '%s\n' 'There are some problems with the CLI configuration:' '╷' '│ Warning: Unable to open CLI configuration file' '│' \
    '│ The CLI configuration file at "/root/.terraformrc" does not exist.' '╵' '' >&2
}
# Sleeps until signalled: "sleep" stops on SIGINT after cleaning up, "ignore-int" only on SIGTERM.
sleeper() {
  trap 'echo INT >> "$dir/signals.log"; echo "Interrupt received."; echo "Stopping operation...";
        sleep 0.2; echo "cleanup done" >> "$dir/signals.log"; kill $pid 2>/dev/null; exit 1' INT
  [ "$1" = ignore-int ] && trap 'echo INT >> "$dir/signals.log"; echo "Interrupt received."' INT
  trap 'echo TERM >> "$dir/signals.log"; kill $pid 2>/dev/null; exit 143' TERM
  echo "working"
  for _ in 1 2 3 4; do sleep 5 & pid=$!; wait $pid; done # bounded, should a test leave it behind
  exit 1
}
case "$FAKE_MODE:$1" in
  sleep:*) sleeper sleep ;;
  ignore-int:*) sleeper ignore-int ;;
  error:*)
    cli_warning
    printf '%s\n' '╷' '│ Error: Invalid reference' '│' '│   on cdk.tf.json line 12:' '│   12:   "image_id": "aws_instance"' '│' \
      '│ A reference to a resource type must be followed by at least one attribute access.' '╵' >&2
    exit 1 ;;
  no-error-line:*) printf 'something odd\nfinal words\n\n' >&2; exit 1 ;;
  stale:apply)
    printf '\nError: Saved plan is stale\n\nThe given plan file can no longer be applied because the state was changed by\nanother operation after the plan was created.\n' >&2
    exit 1 ;;
  bad-json:show) echo "this is not json"; exit 0 ;;
  *:init) cli_warning; echo "Initializing the backend..."; echo "Terraform has been successfully initialized!" ;;
  *:validate) echo "Success! The configuration is valid." ;;
  *:plan) echo "Plan: 1 to add, 0 to change, 0 to destroy."; [ -n "$FAKE_PLAN_EXIT" ] && exit "$FAKE_PLAN_EXIT"; exit 2 ;;
  *:show) echo '{"format_version":"1.2","resource_changes":[]}' ;;
  *:apply) echo "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." ;;
  *:output) echo '{"cluster":{"sensitive":false,"type":"string","value":"apps"}}' ;;
  *:state)
    case "$2" in
      pull) printf '%s\n' '{"version":4,"serial":7,"lineage":"lin-1","resources":[]}' ;;
      push) echo "pushed $3" ;;
    esac ;;
  *) echo "fake terraform: unknown command $1" >&2; exit 1 ;;
esac
`;

type Line =
  | { log: string; stream: "stdout" | "stderr" }
  | { step: string; value: unknown }
  | { step: string; error: { name: string; message: string; command?: string; reason?: string; exitCode: number | null; interrupted: boolean | null } };

interface HarnessRun {
  readonly child: ChildProcess;
  /** Resolves when the harness printed a log line matching, with the lines so far. */
  logged(pattern: RegExp): Promise<void>;
  readonly done: Promise<{ lines: Line[]; code: number | null; stderr: string }>;
}

/** Harnesses started and not yet reaped (killed after each test, should one hang). */
const started = new Set<ChildProcess>();
afterEach(() => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
  }
  started.clear();
});

/** Starts the harness (in its own process group, so a group SIGINT reaches it and not jest). */
function startHarness(input: object, env: NodeJS.ProcessEnv = {}): HarnessRun {
  const child = spawn(process.execPath, [HARNESS, JSON.stringify(input)], {
    cwd: ROOT,
    env: { ...process.env, AMIROLL_TERRAFORM: undefined, AMIROLL_TF_PLUGIN_DIR: undefined, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.add(child);
  const lines: Line[] = [];
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  let buffered = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = JSON.parse(buffered.slice(0, newline)) as Line;
      buffered = buffered.slice(newline + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if ("log" in line && w.pattern.test(line.log)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const done = new Promise<{ lines: Line[]; code: number | null; stderr: string }>((res) =>
    child.on("close", (code) => res({ lines, code, stderr })),
  );
  return {
    child,
    logged: (pattern) =>
      lines.some((l) => "log" in l && pattern.test(l.log)) ? Promise.resolve() : new Promise((res) => waiters.push({ pattern, resolve: res })),
    done,
  };
}

/**
 * What the harness does (runner-harness.js), in this process: runs `input.steps` on a
 * `TerraformCli` with `input.options`, AMIROLL_TERRAFORM and AMIROLL_TF_PLUGIN_DIR unset unless
 * `env` sets them, and returns the lines the harness would print.
 */
async function runHarness(input: { options: object; steps: unknown[][]; abortFirst?: boolean }, env: NodeJS.ProcessEnv = {}) {
  const overrides: NodeJS.ProcessEnv = { AMIROLL_TERRAFORM: undefined, AMIROLL_TF_PLUGIN_DIR: undefined, ...env };
  const saved = Object.fromEntries(Object.keys(overrides).map((key) => [key, process.env[key]]));
  const setEnv = (values: NodeJS.ProcessEnv) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  const lines: Line[] = [];
  setEnv(overrides);
  try {
    const controller = new AbortController();
    if (input.abortFirst) controller.abort();
    const cli = new TerraformCli({ ...(input.options as { workingDirectory: string }), signal: controller.signal, log: (log, stream) => lines.push({ log, stream }) });
    for (const [method, ...args] of input.steps) {
      try {
        const value = await (cli as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method as string](...args);
        lines.push({ step: method as string, value: value ?? null });
      } catch (e) {
        const error = e as Error & { command?: string; reason?: string; exitCode?: number; interrupted?: boolean };
        lines.push({ step: method as string, error: { name: error.name, message: error.message, command: error.command, reason: error.reason, exitCode: error.exitCode ?? null, interrupted: error.interrupted ?? null } });
        break;
      }
    }
  } finally {
    setEnv(saved);
  }
  return { lines, code: 0 };
}

const steps = (lines: Line[]) => lines.filter((l): l is Exclude<Line, { log: string }> => "step" in l);
const logs = (lines: Line[]) => lines.filter((l): l is Extract<Line, { log: string }> => "log" in l);
const failure = (lines: Line[]) => {
  const last = steps(lines).at(-1);
  if (!last || !("error" in last)) throw new Error(`expected the last step to fail: ${JSON.stringify(lines)}`);
  return last.error;
};

describe("TerraformCli against a fake terraform", () => {
  let dir: string;
  let fake: string;
  let stack: string;
  const calls = () =>
    readFileSync(join(dir, "calls.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split("\t"));
  const signals = () => (existsSync(join(dir, "signals.log")) ? readFileSync(join(dir, "signals.log"), "utf8").trim().split("\n") : []);
  const options = (env: Record<string, string> = {}, more: object = {}) => ({ binary: fake, workingDirectory: stack, env, ...more });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "amiroll-runner-"));
    fake = join(dir, "terraform");
    writeFileSync(fake, FAKE_TERRAFORM);
    chmodSync(fake, 0o755);
    stack = join(dir, "stack");
    mkdirSync(stack);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("runs each command with the exact arguments, no prompts, no colour, automation env, in the stack dir", async () => {
    const { lines } = await runHarness({
      options: options(
        { FAKE_EXTRA: "passed", TF_INPUT: "1" },
        { pluginDir: "/opt/plugins", backendConfig: { bucket: "state-bucket", key: "amiroll/staging.tfstate" } },
      ),
      steps: [["init"], ["validate"], ["plan", "p.tfplan"], ["showJson", "p.tfplan"], ["apply", "p.tfplan"], ["output"]],
    });
    expect(steps(lines)).toEqual([
      { step: "init", value: null },
      { step: "validate", value: null },
      { step: "plan", value: { changes: true } },
      { step: "showJson", value: { format_version: "1.2", resource_changes: [] } },
      { step: "apply", value: null },
      { step: "output", value: { cluster: { sensitive: false, type: "string", value: "apps" } } },
    ]);
    const recorded = calls();
    expect(recorded.filter(([kind]) => kind === "call").map(([, ...args]) => args)).toEqual([
      ["init", "-input=false", "-no-color", "-backend-config=bucket=state-bucket", "-backend-config=key=amiroll/staging.tfstate", "-plugin-dir=/opt/plugins"],
      ["validate", "-no-color"],
      ["plan", "-input=false", "-no-color", "-out=p.tfplan", "-detailed-exitcode"],
      ["show", "-json", "-no-color", "p.tfplan"],
      ["apply", "-input=false", "-no-color", "p.tfplan"], // a saved plan is applied without a prompt
      ["output", "-json", "-no-color"],
    ]);
    for (const [, ...env] of recorded.filter(([kind]) => kind === "env")) {
      // The automation variables win over the caller's env; the caller's extras pass.
      expect(env).toEqual(["TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1", "FAKE_EXTRA=passed", `PWD=${stack}`]);
    }
  }, 15_000);

  it("init -backend=false; binary and plugin dir default to AMIROLL_TERRAFORM and AMIROLL_TF_PLUGIN_DIR; plan exit 0 is no changes", async () => {
    const { lines } = await runHarness(
      {
        options: { workingDirectory: stack, backend: false, backendConfig: { bucket: "ignored" }, env: { FAKE_PLAN_EXIT: "0" } },
        steps: [["init"], ["plan", "/abs/p.tfplan"]],
      },
      { AMIROLL_TERRAFORM: fake, AMIROLL_TF_PLUGIN_DIR: "/mirror" },
    );
    expect(steps(lines)).toEqual([
      { step: "init", value: null },
      { step: "plan", value: { changes: false } },
    ]);
    expect(calls().filter(([kind]) => kind === "call")[0].slice(1)).toEqual(["init", "-input=false", "-no-color", "-backend=false", "-plugin-dir=/mirror"]);
  }, 15_000);

  it("streams every line with its stream, in order within each; the JSON of show and output is not logged", async () => {
    const { lines } = await runHarness({ options: options(), steps: [["init"], ["showJson", "p.tfplan"], ["output"]] });
    const logged = logs(lines);
    // (Between stdout and stderr the order is the pipes', not terraform's.)
    expect(logged.filter((l) => l.stream === "stderr").slice(0, 3)).toEqual([
      { log: "There are some problems with the CLI configuration:", stream: "stderr" },
      { log: "╷", stream: "stderr" },
      { log: "│ Warning: Unable to open CLI configuration file", stream: "stderr" },
    ]);
    expect(logged.filter((l) => l.stream === "stdout")).toEqual([
      { log: "Initializing the backend...", stream: "stdout" },
      { log: "Terraform has been successfully initialized!", stream: "stdout" },
    ]);
    // Each line comes before the step's result.
    expect(lines.findIndex((l) => "log" in l && l.log.startsWith("Terraform has been"))).toBeLessThan(lines.findIndex((l) => "step" in l));
  }, 15_000);

  it("state pull returns the state (not logged: it is the state); state push FILE, never -force; errors name `terraform state push`", async () => {
    const { lines } = await runHarness({ options: options(), steps: [["statePull"], ["statePush", "backups/b.tfstate"]] });
    expect(steps(lines)).toEqual([
      { step: "statePull", value: '{"version":4,"serial":7,"lineage":"lin-1","resources":[]}' },
      { step: "statePush", value: null },
    ]);
    expect(calls().filter(([kind]) => kind === "call").map(([, ...args]) => args)).toEqual([
      ["state", "pull"],
      ["state", "push", "backups/b.tfstate"],
    ]);
    expect(logs(lines).map((l) => l.log)).toEqual(["pushed backups/b.tfstate"]);
    const failed = await runHarness({ options: options({ FAKE_MODE: "error" }), steps: [["statePush", "b.tfstate"]] });
    expect(failure(failed.lines)).toMatchObject({ name: "TerraformError", message: "terraform state push: Invalid reference", command: "state push", exitCode: 1 });
  }, 15_000);

  it("a failing command is a TerraformError with terraform's one-line Error summary (box and warnings skipped)", async () => {
    const { lines } = await runHarness({ options: options({ FAKE_MODE: "error" }), steps: [["plan", "p.tfplan"]] });
    expect(failure(lines)).toEqual({
      name: "TerraformError",
      message: "terraform plan: Invalid reference",
      command: "plan",
      reason: "Invalid reference",
      exitCode: 1,
      interrupted: false,
    });
  }, 15_000);

  it("without an Error line, the reason is the last non-empty stderr line", async () => {
    const { lines } = await runHarness({ options: options({ FAKE_MODE: "no-error-line" }), steps: [["apply", "p.tfplan"]] });
    expect(failure(lines)).toMatchObject({ name: "TerraformError", command: "apply", reason: "final words", exitCode: 1 });
  }, 15_000);

  it("a stale saved plan is a StalePlanError", async () => {
    const { lines } = await runHarness({ options: options({ FAKE_MODE: "stale" }), steps: [["apply", "p.tfplan"]] });
    expect(failure(lines)).toMatchObject({ name: "StalePlanError", command: "apply", message: expect.stringMatching(/^terraform apply: the saved plan is stale/) });
  }, 15_000);

  it("output that is not JSON is a TerraformError naming the command", async () => {
    const { lines } = await runHarness({ options: options({ FAKE_MODE: "bad-json" }), steps: [["showJson", "p.tfplan"]] });
    expect(failure(lines)).toMatchObject({ name: "TerraformError", command: "show", reason: expect.stringMatching(/^printed no valid JSON/) });
  }, 15_000);

  it("a missing or non-executable binary, or a missing working directory, is a one-line UsageError", async () => {
    const notExecutable = join(dir, "not-executable");
    writeFileSync(notExecutable, "#!/bin/sh\n");
    const results = await Promise.all([
      runHarness({ options: { binary: "amiroll-no-such-terraform", workingDirectory: stack }, steps: [["init"]] }),
      runHarness({ options: { binary: notExecutable, workingDirectory: stack }, steps: [["init"]] }),
      runHarness({ options: { binary: fake, workingDirectory: join(dir, "nowhere") }, steps: [["init"]] }),
    ]);
    const [missing, denied, noDir] = results.map(({ lines }) => failure(lines));
    expect(missing).toMatchObject({ name: "UsageError", message: expect.stringMatching(/"amiroll-no-such-terraform" \(not found\).*AMIROLL_TERRAFORM/) });
    expect(denied).toMatchObject({ name: "UsageError", message: expect.stringContaining("(not executable)") });
    expect(noDir).toMatchObject({ name: "UsageError", message: expect.stringContaining(`${join(dir, "nowhere")} does not exist`) });
    for (const e of [missing, denied, noDir]) expect(e.message).not.toContain("\n");
  }, 15_000);

  it("a timeout interrupts terraform with SIGINT, lets it clean up, and fails with 'timed out after'", async () => {
    const started = Date.now();
    const { lines } = await runHarness({ options: options({ FAKE_MODE: "sleep" }, { timeouts: { plan: 400 } }), steps: [["plan", "p.tfplan"]] });
    expect(failure(lines)).toEqual({
      name: "TerraformError",
      message: "terraform plan: timed out after 400ms (terraform stopped after SIGINT)",
      command: "plan",
      reason: "timed out after 400ms (terraform stopped after SIGINT)",
      exitCode: null,
      // A timeout is terraform's failure, not an interruption.
      interrupted: false,
    });
    expect(signals()).toEqual(["INT", "cleanup done"]);
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 15_000);

  it("Ctrl-C (SIGINT to amiroll's process group) reaches terraform once, forwarded; it stops gracefully, never killed", async () => {
    const run = startHarness({ options: options({ FAKE_MODE: "sleep" }), steps: [["apply", "p.tfplan"]] });
    await run.logged(/^working$/); // streamed while terraform runs
    process.kill(-run.child.pid!, "SIGINT"); // what a terminal does: the whole foreground group
    const { lines, code } = await run.done;
    expect(code).toBe(0);
    // The caller's signal: an interruption (the rollout ends "interrupted", exit 130), not a failure.
    expect(failure(lines)).toMatchObject({ name: "TerraformError", command: "apply", reason: "interrupted (terraform stopped after SIGINT)", exitCode: null, interrupted: true });
    // Exactly one SIGINT (terraform runs in its own group: a second would make it stop at once),
    // the cleanup ran, no SIGTERM.
    expect(signals()).toEqual(["INT", "cleanup done"]);
    expect(logs(lines).map((l) => l.log)).toEqual(expect.arrayContaining(["Interrupt received.", "Stopping operation..."]));
  }, 15_000);

  it("a terraform that ignores SIGINT gets SIGTERM only after the grace period", async () => {
    const run = startHarness({ options: options({ FAKE_MODE: "ignore-int" }, { interruptGrace: { plan: 500 } }), steps: [["plan", "p.tfplan"]] });
    await run.logged(/^working$/);
    const interrupted = Date.now();
    run.child.kill("SIGINT");
    const { lines } = await run.done;
    expect(Date.now() - interrupted).toBeGreaterThanOrEqual(500);
    expect(failure(lines)).toMatchObject({ reason: "interrupted (terraform did not stop within 500ms of SIGINT and was sent SIGTERM)" });
    expect(signals()).toEqual(["INT", "TERM"]);
  }, 15_000);

  it("an already aborted signal runs nothing", async () => {
    const { lines } = await runHarness({ options: options(), steps: [["init"]], abortFirst: true });
    expect(failure(lines)).toMatchObject({ name: "TerraformError", reason: "interrupted before it started", interrupted: true });
    expect(existsSync(join(dir, "calls.log"))).toBe(false);
  }, 15_000);
});

describe("errorSummary", () => {
  it("takes the first Error line, without terraform's box or the Error: prefix", () => {
    const stderr = ["╷", "│ Warning: Deprecated", "╵", "", "╷", "│ Error: No valid credential sources found", "│", "│ Please see ...", "╵", "Error: second"].join("\n");
    expect(errorSummary(stderr)).toBe("No valid credential sources found");
    expect(errorSummary("\nError: Saved plan is stale\n\ndetails\n")).toBe("Saved plan is stale");
  });

  it("falls back to the last non-empty line, and to nothing for blank stderr", () => {
    expect(errorSummary("one\n│ two\n\n")).toBe("two");
    expect(errorSummary(" \n\n")).toBeUndefined();
  });
});

describe("findPluginDir", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "amiroll-plugins-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const mirror = (name: string, host = "registry.terraform.io") => {
    const folder = join(root, name, host, "hashicorp", "aws", AWS_PROVIDER_VERSION, providerPlatform());
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, `terraform-provider-aws_v${AWS_PROVIDER_VERSION}_x5`), "");
    return join(root, name);
  };

  it("takes AMIROLL_TF_PLUGIN_DIR when it holds the provider, and says so when it does not", () => {
    const good = mirror("good");
    expect(findPluginDir({ AMIROLL_TF_PLUGIN_DIR: good }, [])).toEqual({ ok: true, pluginDir: good });
    expect(findPluginDir({ AMIROLL_TF_PLUGIN_DIR: join(root, "empty") }, [good])).toEqual({
      ok: false,
      reason: `AMIROLL_TF_PLUGIN_DIR=${join(root, "empty")} holds no hashicorp/aws ${AWS_PROVIDER_VERSION} for ${providerPlatform()}`,
    });
  });

  it("else the first candidate holding it (OpenTofu's registry host too), else why none", () => {
    const tofu = mirror("tofu", "registry.opentofu.org");
    expect(findPluginDir({}, [join(root, "none"), tofu])).toEqual({ ok: true, pluginDir: tofu });
    expect(findPluginDir({}, [join(root, "none")])).toEqual({
      ok: false,
      reason: `no hashicorp/aws ${AWS_PROVIDER_VERSION} mirror in ${join(root, "none")}; set AMIROLL_TF_PLUGIN_DIR`,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Real terraform, offline: the stack declares an s3 backend and the provider asks STS who it
// is when it is configured; a local backend override and a local STS stand-in
// (AWS_ENDPOINT_URL_STS) make a real plan of the synthesized stack possible with no account.
// ---------------------------------------------------------------------------------------------

const setup = findTerraform();
if (!setup.ok) console.warn(`real terraform runner tests skipped: ${setup.reason}`);
const describeTerraform = setup.ok ? describe : describe.skip;
const suffix = setup.ok ? "" : ` (skipped: ${setup.reason})`;

describeTerraform(`TerraformCli with real terraform on a synthesized stack, offline${suffix}`, () => {
  const tf = setup as Extract<typeof setup, { ok: true }>;
  let outdir: string;
  let stackDirs: Record<string, string>;
  let sts: Server;
  let stsUrl: string;
  /** What the STS stand-in answers: the caller's identity, or a rejection of the credentials. */
  let stsMode: "identity" | "invalid-token" = "identity";
  /**
   * The first test's provider, shared by its five commands and started with the credentials
   * below. The second starts its own: a provider that once got an identity keeps it, so a
   * rejection needs a fresh one.
   */
  let provider: SharedProvider | undefined;

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), "amiroll-runner-tf-"));
    stackDirs = Object.fromEntries(synthesizeRepo({ outdir }).stacks.map((s) => [s.name, s.directory]));
    sts = createServer((req, res) => {
      req.resume().on("end", () => {
        if (stsMode === "identity") {
          res.writeHead(200, { "content-type": "text/xml" }).end(
            `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
              `<Arn>arn:aws:iam::123456789012:user/amiroll-test</Arn><UserId>AIDAAMIROLLTEST</UserId><Account>123456789012</Account>` +
              `</GetCallerIdentityResult><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
          );
        } else {
          res.writeHead(403, { "content-type": "text/xml" }).end(
            `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>` +
              `<Message>The security token included in the request is invalid.</Message></Error><RequestId>00000000-0000-0000-0000-000000000001</RequestId></ErrorResponse>`,
          );
        }
      });
    });
    await new Promise<void>((res) => sts.listen(0, "127.0.0.1", res));
    stsUrl = `http://127.0.0.1:${(sts.address() as AddressInfo).port}`;
    provider = await startSharedProvider(tf.pluginDir, awsEnv());
  }, 90_000);
  afterAll(async () => {
    await provider?.stop();
    await new Promise((res) => sts?.close(res));
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  const awsEnv = () => ({
    AWS_ACCESS_KEY_ID: "AKIAAMIROLLTEST",
    AWS_SECRET_ACCESS_KEY: "amiroll-test",
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_MAX_ATTEMPTS: "1",
    AWS_ENDPOINT_URL_STS: stsUrl,
  });
  /** What the first test's terraform runs with: the credentials, and the provider to attach to. */
  const terraformEnv = () => ({ ...awsEnv(), ...provider?.env });

  it("init (local backend, -plugin-dir), validate, plan (changes), show -json and output on the staging stack", async () => {
    const stack = stackDirs.staging;
    writeFileSync(join(stack, "amiroll_local_backend_override.tf.json"), JSON.stringify({ terraform: { backend: { local: {} } } }));
    stsMode = "identity";
    const { lines } = await runHarness(
      {
        options: { binary: tf.terraform, workingDirectory: stack, pluginDir: tf.pluginDir, env: terraformEnv() },
        steps: [["init"], ["validate"], ["plan", "amiroll.tfplan"], ["showJson", "amiroll.tfplan"], ["output"]],
      },
      {},
    );
    const results = steps(lines);
    expect(results.map((s) => ("error" in s ? `${s.step}: ${s.error.message}` : s.step))).toEqual(["init", "validate", "plan", "showJson", "output"]);
    expect(results[2]).toEqual({ step: "plan", value: { changes: true } });
    const plan = (results[3] as { value: { format_version: string; resource_changes: { type: string; change: { actions: string[] } }[] } }).value;
    expect(plan.format_version).toMatch(/^1\./);
    // A first plan of the stack, against empty local state: everything is created.
    expect(new Set(plan.resource_changes.flatMap((c) => c.change.actions))).toEqual(new Set(["create"]));
    expect(plan.resource_changes.map((c) => c.type)).toEqual(expect.arrayContaining(["aws_autoscaling_group", "aws_launch_template", "aws_ecs_cluster"]));
    expect(results[4]).toEqual({ step: "output", value: {} }); // nothing applied, no outputs in state
    expect(logs(lines).map((l) => l.log)).toEqual(expect.arrayContaining(["Terraform has been successfully initialized!", "Success! The configuration is valid."]));
  }, 60_000);

  it("a plan the provider cannot make (credentials rejected) fails with terraform's one-line summary", async () => {
    const stack = stackDirs.production;
    writeFileSync(join(stack, "amiroll_local_backend_override.tf.json"), JSON.stringify({ terraform: { backend: { local: {} } } }));
    stsMode = "invalid-token";
    // A provider of its own, fresh, shared by its init and plan.
    const own = await startSharedProvider(tf.pluginDir, awsEnv());
    const { lines } = await runHarness({
      options: { binary: tf.terraform, workingDirectory: stack, pluginDir: tf.pluginDir, env: { ...awsEnv(), ...own?.env } },
      steps: [["init"], ["plan", "amiroll.tfplan"]],
    }).finally(() => own?.stop());
    const error = failure(lines);
    expect(error).toMatchObject({ name: "TerraformError", command: "plan", exitCode: 1 });
    expect(error.reason).toMatch(/^Retrieving AWS account details: .*InvalidClientTokenId: The security token included in the request is invalid\.?$/);
    expect(error.reason).not.toContain("\n");
  }, 60_000);
});
