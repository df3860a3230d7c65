/**
 * Exit 2 means nothing was changed (DESIGN.md, "CLI contract"): every flag of every verb is
 * checked before the first AWS call, simulated world or terraform command. Each case here is bad
 * input that used to be found only after terraform (or the simulator) had run, or after a file
 * was written: exit 2, one line naming the flag, nothing on stdout, and nothing ran: the stand-in
 * terraform's log is empty, no file or directory appears, and a --simulate run logs nothing
 * (no "terraform plan", no simulated world).
 *
 * Most cases run the CLI's main() in this process (test/support/cli-in-process.ts); two run the
 * built bin as a user does, as smoke tests of the same contract.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { errorLines, scratch } from "../support/cli";
import { type CliResult, amirollInProcess } from "../support/cli-in-process";
import { fakeTerraform } from "../support/fake-terraform";

jest.setTimeout(60_000);

let env: Record<string, string>;
const terraformCalls = () => readFileSync(env.FAKE_LOG, "utf8");

beforeAll(async () => {
  // A replace roll: what apply would go on to watch.
  const { rollPlans } = await import("../support/sim-plans");
  const plans = await rollPlans();
  env = fakeTerraform(scratch, plans.raw.replace);
});
beforeEach(() => writeFileSync(env.FAKE_LOG, ""));

/** Exit 2; stderr is the one error line (nothing was logged before it: nothing ran); stdout empty. */
function refused(r: CliResult, message: RegExp): void {
  expect({ status: r.status, stdout: r.stdout, stderr: r.stderr.trimEnd().split("\n") }).toEqual({ status: 2, stdout: "", stderr: [expect.stringMatching(message)] });
  expect(errorLines(r.stderr)).toHaveLength(1);
  expect(r.stderr).not.toContain("terraform plan");
}

/** A fresh directory under the scratch one. */
function dir(name: string): string {
  const path = join(scratch, name);
  mkdirSync(path, { recursive: true });
  return path;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("amiroll plan: --out and --comment are checked before terraform runs", () => {
  it("--comment in a directory that does not exist: exit 2 before terraform init, nothing written", async () => {
    const comment = join(scratch, "no-such-dir", "c.md");
    const r = await amirollInProcess(["plan", "--env", "staging", "--comment", comment], env);
    refused(r, new RegExp(`^amiroll: --comment: ${escape(comment)}: its directory does not exist$`));
    expect(terraformCalls()).toBe("");
    expect(existsSync(join(scratch, "no-such-dir"))).toBe(false);
  });

  it("--comment in a directory that does not exist, --simulate: no simulated plan either", async () => {
    const comment = join(scratch, "no-such-dir", "c.md");
    const r = await amirollInProcess(["plan", "--env", "staging", "--simulate", "--comment", comment]);
    refused(r, /^amiroll: --comment: .*c\.md: its directory does not exist$/);
    expect(existsSync(join(scratch, "no-such-dir"))).toBe(false);
  });

  it("--comment naming a directory: exit 2 before terraform init", async () => {
    const comments = dir("comments");
    const r = await amirollInProcess(["plan", "--env", "staging", "--comment", comments], env);
    refused(r, new RegExp(`^amiroll: --comment: ${escape(comments)}: is a directory, not a file$`));
    expect(terraformCalls()).toBe("");
    expect(readdirSync(comments)).toEqual([]);
  });

  it("--comment under a file, --simulate: exit 2 before the simulated plan", async () => {
    const file = join(scratch, "a-file");
    writeFileSync(file, "");
    const r = await amirollInProcess(["plan", "--env", "staging", "--simulate", "--comment", join(file, "c.md")]);
    refused(r, new RegExp(`^amiroll: --comment: ${escape(join(file, "c.md"))}: ${escape(file)} is not a directory$`));
  });

  it("--out in a directory that does not exist: exit 2 before terraform init, no directory made", async () => {
    const out = join(scratch, "no-such-plans", "staging.tfplan");
    const r = await amirollInProcess(["plan", "--env", "staging", "--out", out], env);
    refused(r, new RegExp(`^amiroll: --out: ${escape(out)}: its directory does not exist$`));
    expect(terraformCalls()).toBe("");
    expect(existsSync(join(scratch, "no-such-plans"))).toBe(false);
  });

  it("--out under a file: exit 2 before terraform init", async () => {
    const file = join(scratch, "b-file");
    writeFileSync(file, "");
    const r = await amirollInProcess(["plan", "--env", "staging", "--out", join(file, "staging.tfplan")], env);
    refused(r, new RegExp(`^amiroll: --out: ${escape(join(file, "staging.tfplan"))}: ${escape(file)} is not a directory$`));
    expect(terraformCalls()).toBe("");
  });

  it("--out DIR/ (a directory, by its slash) that does not exist: exit 2, no plan file written in its place", async () => {
    const out = `${join(scratch, "plans-to-be")}/`;
    const r = await amirollInProcess(["plan", "--env", "staging", "--out", out], env);
    refused(r, new RegExp(`^amiroll: --out: ${escape(out)}: no such directory$`));
    expect(terraformCalls()).toBe("");
    expect(existsSync(join(scratch, "plans-to-be"))).toBe(false);
  });
});

describe("amiroll apply: every input before terraform runs", () => {
  it("--plan that does not exist: exit 2 before terraform init", async () => {
    const missing = join(scratch, "no-such.tfplan");
    const r = await amirollInProcess(["apply", "--env", "staging", "--plan", missing, "--no-watch"], env);
    refused(r, new RegExp(`^amiroll: --plan: ${escape(missing)}: does not exist$`));
    expect(terraformCalls()).toBe("");
  });

  it("--plan naming a directory: exit 2 before terraform init", async () => {
    const plans = dir("saved-plans");
    const r = await amirollInProcess(["apply", "--env", "staging", "--plan", plans, "--no-watch"], env);
    refused(r, new RegExp(`^amiroll: --plan: ${escape(plans)}: is a directory, not a file$`));
    expect(terraformCalls()).toBe("");
  });

  it("--timeout 0s: exit 2 before the simulated plan", async () => {
    refused(await amirollInProcess(["apply", "--env", "staging", "--simulate", "--timeout", "0s"]), /^amiroll: --timeout: "0s" must be more than zero \(a duration such as 90s, 30m or 2h\)$/);
  });

  it("a bad AMIROLL_AWS_MAX_ATTEMPTS (the watch after the apply): exit 2 before terraform init, not after the apply", async () => {
    const r = await amirollInProcess(["apply", "--env", "staging"], { ...env, AMIROLL_AWS_MAX_ATTEMPTS: "0" });
    refused(r, /^amiroll: AMIROLL_AWS_MAX_ATTEMPTS must be a whole number from 1 to 100/);
    expect(terraformCalls()).toBe("");
  });
});

describe("a backup directory that cannot be written: exit 2 before any terraform command", () => {
  // Root writes anywhere a mode allows nothing: a file standing where the directory goes is what stops anyone.
  const blocked = () => {
    const file = join(scratch, "backups-blocked");
    writeFileSync(file, "");
    return { file, dir: join(file, "backups") };
  };

  it.each([
    ["apply", ["apply", "--env", "staging", "--no-watch"]],
    ["rollout", ["rollout", "--to", "staging", "--ignore-window"]],
    ["state restore", ["state", "restore", "--env", "staging", "--from", "STATE"]],
  ])("%s", async (_verb, args) => {
    const { file, dir: backups } = blocked();
    const state = join(scratch, "some.tfstate");
    writeFileSync(state, readFileSync(env.FAKE_STATE));
    const r = await amirollInProcess(args.map((a) => (a === "STATE" ? state : a)), { ...env, AMIROLL_BACKUP_DIR: backups });
    refused(r, new RegExp(`^amiroll: AMIROLL_BACKUP_DIR: ${escape(backups)}: cannot be made: ${escape(file)} is a file, not a directory$`));
    expect(terraformCalls()).toBe("");
  });
});

describe("amiroll watch and rollout: durations of zero", () => {
  it.each([
    ["watch --stall-after 0s", ["watch", "--env", "staging", "--simulate", "--stall-after", "0s"], /^amiroll: --stall-after: "0s" /],
    ["watch --timeout 0m", ["watch", "--env", "staging", "--simulate", "--timeout", "0m"], /^amiroll: --timeout: "0m" /],
    ["rollout --timeout 0s", ["rollout", "--simulate", "--ignore-window", "--timeout", "0s"], /^amiroll: --timeout: "0s" /],
    ["rollout --stall-after 0ms", ["rollout", "--simulate", "--ignore-window", "--stall-after", "0ms"], /^amiroll: --stall-after: "0ms" /],
  ])("%s: exit 2 before the simulated world is made", async (_name, args, message) => {
    refused(await amirollInProcess(args), message);
  });
});

describe("amiroll bump", () => {
  it("--to that is not an AMI id, --simulate: exit 2 before the simulated world is made", async () => {
    refused(await amirollInProcess(["bump", "--simulate", "--to", "ami-nope"]), /^amiroll: --to: .*is not an AMI id/);
  });
});

describe("amiroll init", () => {
  it("--config naming a directory, with --force: exit 2 before the images are looked up, nothing written", async () => {
    const cwd = dir("init-here");
    mkdirSync(join(cwd, "conf"));
    const r = await amirollInProcess(["init", "--simulate", "--force", "--config", "conf"], {}, cwd);
    refused(r, /^amiroll: --config: conf: is a directory, not a file$/);
    expect(readdirSync(cwd)).toEqual(["conf"]);
    expect(readdirSync(join(cwd, "conf"))).toEqual([]);
  });

  it("--config under a file: exit 2 before the images are looked up, nothing written", async () => {
    const cwd = dir("init-there");
    writeFileSync(join(cwd, "notes"), "");
    const r = await amirollInProcess(["init", "--simulate", "--config", "notes/amiroll.json"], {}, cwd);
    refused(r, /^amiroll: --config: notes\/amiroll\.json: .*notes is not a directory$/);
    expect(readdirSync(cwd)).toEqual(["notes"]);
  });
});
