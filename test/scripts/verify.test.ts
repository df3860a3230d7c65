/**
 * `amiroll verify` as a user (or CI) runs it, in this process (test/support/cli-in-process.ts),
 * against the simulated AWS (`--simulate`: the environment's pins applied first, as the PR's
 * apply would have): verified (exit 0, the report and the commit message naming the evidence),
 * a broken image (exit 1, rejected), bad input (exit 2, one line), `--promote` and `--commit`
 * with an injected committer. The loop on one world and interrupts: test/rollout/verify.test.ts.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeTemporaryDirectories } from "../../scripts/commands/common";
import { type PinsCommitterFactory, verifyCommand } from "../../scripts/commands/verify";
import { REPO_CONFIG, errorLines, scratch } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";
import { REPO_PINS_PATH } from "../support/repo-config";
import { PINNED } from "../support/simulated-rollout";

jest.setTimeout(60_000);

const REPO_PINS = readFileSync(REPO_PINS_PATH, "utf8");

function pinsFile(name: string, edit: (raw: any) => void): string {
  const raw = JSON.parse(REPO_PINS);
  edit(raw);
  const file = join(scratch, name);
  writeFileSync(file, `${JSON.stringify(raw, null, 2)}\n`);
  return file;
}

describe("amiroll verify --simulate", () => {
  it("verifies staging: exit 0, the rollout's report, verifiedAt in the pins (a copy), 0 violations", async () => {
    const r = await amirollInProcess(["verify", "--simulate", "--env", "staging"]);
    expect([r.status, errorLines(r.stderr)]).toEqual([0, []]);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^verify: done after \d+m\d\ds$/);
    expect(lines[1]).toBe("staging: done");
    expect(r.stdout).toContain(`  clusters: apps -> ${PINNED} (replace)\n`);
    expect(r.stdout).toMatch(/^ {2}gate soak: passed \(10m00s steady, no crashes\)$/m);
    expect(r.stdout).toMatch(/^ {2}verified at 2026-11-24T\d\d:\d\d:\d\dZ$/m);
    expect(r.stdout).toMatch(/^zero-downtime violations: 0$/m);
    expect(r.stderr).toMatch(/^ +\+ +"verifiedAt": "2026-11-24T/m);
    expect(readFileSync(REPO_PINS_PATH, "utf8")).toBe(REPO_PINS);
  });

  it("a broken image on production (blue-green): exit 1, rejected, the old generation back; -o json says so", async () => {
    const r = await amirollInProcess(["verify", "--simulate", "--env", "production", "--scenario", "broken-ami", "-o", "json"]);
    expect(r.status).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^amiroll: verify rolled back: apps: crash loop on the new AMI: /)]);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ verb: "verify", environment: "production", outcome: "rolled back", rejected: { apps: PINNED }, zeroDowntimeViolations: 0 });
    expect(out.verifiedAt).toBeUndefined();
    expect(out.commitMessage.split("\n")[0]).toBe(`amiroll verify production: apps ${PINNED} rejected`);
    expect(out.pinChanges[0]).toContain('+       "rejected": {');
    expect(r.stderr).toMatch(/apps: 4 old instance\(s\) set ACTIVE again/);
  });

  it("interrupted (SIGINT before the watch of a broken image): exit 130, nothing rejected, no pin changed", async () => {
    // The signal the sim's interrupt point sends, delivered to this process's listeners (the verb's) without a real signal.
    const kill = jest.spyOn(process, "kill").mockImplementation(((_pid: number, signal: NodeJS.Signals) => process.emit(signal, signal)) as typeof process.kill);
    let r;
    let calls;
    try {
      r = await amirollInProcess(["verify", "--simulate", "--env", "production", "--scenario", "broken-ami", "-o", "json"], { AMIROLL_SIM_INTERRUPT: "production:migrate" });
    } finally {
      calls = [...kill.mock.calls];
      kill.mockRestore();
    }
    expect(calls).toEqual([[process.pid, "SIGINT"]]);
    expect(r.status).toBe(130);
    expect(errorLines(r.stderr)).toEqual(["amiroll: verify interrupted (an interrupt is no verdict on the image); run amiroll verify --env production again to continue"]);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ outcome: "interrupted", pinChanges: [], zeroDowntimeViolations: 0 });
    expect(out.rejected).toBeUndefined();
    expect(out.commitMessage).toBeUndefined();
  });

  it.each<[string, string[], Record<string, string>, RegExp]>([
    ["an unknown environment", ["--env", "qa"], {}, /^amiroll: --env: no such environment "qa" \(known: staging, production\)$/],
    ["no --env", [], {}, /^error: required option '--env <name>' not specified$/],
    ["a pins file without the environment's pin", ["--env", "production"], { AMIROLL_PINS: "no-production" }, /^amiroll: \S+no-production\.json: production: no pins for environment production$/],
    ["a bad --timeout", ["--env", "staging", "--timeout", "soon"], {}, /^amiroll: --timeout: "soon" is not a duration/],
  ])("%s: exit 2, one line, nothing simulated", async (_, args, env, message) => {
    const file = env.AMIROLL_PINS && pinsFile(`${env.AMIROLL_PINS}.json`, (raw) => delete raw.production);
    const r = await amirollInProcess(["verify", "--simulate", ...args], file ? { AMIROLL_PINS: file } : {});
    expect(r.status).toBe(2);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("amiroll:") || l.startsWith("error:"))).toEqual([expect.stringMatching(message)]);
    expect(r.stderr).not.toContain("simulated");
    expect(r.stdout).toBe("");
  });

  it("already verified: exit 0, nothing simulated, nothing written", async () => {
    const file = pinsFile("verified.json", (raw) => (raw.staging.apps.current.verifiedAt = "2026-11-20T10:00:00Z"));
    const r = await amirollInProcess(["verify", "--simulate", "--env", "staging"], { AMIROLL_PINS: file });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`verify: already done\nstaging: already done (verified: apps ${PINNED} at 2026-11-20T10:00:00Z)\n`);
    expect(r.stderr).not.toContain("simulated");
  });
});

describe("verify --promote --commit (the committer injected, as the GitHub layer will)", () => {
  it("verifies staging, pins production to the verified image, and commits the pins with the evidence as the message", async () => {
    // Production pinned to an older image: staging's verified one promotes onto it.
    const older = "ami-0a08ff49b6f772632";
    const file = pinsFile("promote.json", (raw) => (raw.production.apps.current = { imageId: older }));
    const commits: { path: string; content: string; message: string }[] = [];
    const committer: PinsCommitterFactory = (options) => ({
      commitPins: async (content, message) => (commits.push({ path: options.pinsPath, content, message }), "committed"),
    });
    const stdout: string[] = [];
    const stdoutWrite = jest.spyOn(process.stdout, "write").mockImplementation((chunk) => (stdout.push(String(chunk)), true));
    const stderrWrite = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
    const before = { pins: process.env.AMIROLL_PINS, outdir: process.env.CDKTF_OUTDIR };
    process.env.AMIROLL_PINS = file;
    process.env.CDKTF_OUTDIR = join(scratch, "cdktf.out");
    try {
      await verifyCommand({ committer }).exitOverride().parseAsync(["--config", REPO_CONFIG, "--simulate", "--env", "staging", "--promote", "--commit", "--log-format", "text"], { from: "user" });
    } finally {
      stdoutWrite.mockRestore();
      stderrWrite.mockRestore();
      for (const [key, value] of [["AMIROLL_PINS", before.pins], ["CDKTF_OUTDIR", before.outdir]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      removeTemporaryDirectories();
    }
    expect(stdout.join("")).toContain(`  promoted: production/apps -> ${PINNED}\n`);
    expect(stdout.join("")).toMatch(/^zero-downtime violations: 0$/m);
    expect(commits).toHaveLength(1);
    const [commit] = commits;
    expect(commit.path).toMatch(/promote\.json$/);
    const pins = JSON.parse(commit.content);
    expect(pins.staging.apps.current).toEqual(expect.objectContaining({ imageId: PINNED, verifiedAt: expect.any(String) }));
    expect(pins.production.apps).toEqual({ current: expect.objectContaining({ imageId: PINNED }), retiring: { imageId: older } });
    expect(commit.message.split("\n")[0]).toBe(`amiroll verify staging: apps ${PINNED} verified`);
    expect(commit.message).toMatch(/^- smoke: passed \(https:\/\/staging\.example\.com\/healthz: 200 after 1 attempt\)$/m);
    expect(commit.message).toContain(`\nPromoted: production/apps ${older} -> ${PINNED}\n`);
    // The simulated run wrote its copy, never the file it was given.
    expect(JSON.parse(readFileSync(file, "utf8")).production.apps.current).toEqual({ imageId: older });
  });

  it("verified, but production is mid-roll: exit 1, staging's verification kept (and its commit message), the promotion refused in one line", async () => {
    const file = pinsFile("mid-roll.json", (raw) => (raw.production.apps.retiring = { imageId: "ami-0a08ff49b6f772632" }));
    const r = await amirollInProcess(["verify", "--simulate", "--env", "staging", "--promote", "-o", "json"], { AMIROLL_PINS: file });
    expect(r.status).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^amiroll: verify done, but --promote: production not promoted: production\/apps: a blue-green roll is under way \(retiring ami-0a08ff49b6f772632\)/)]);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ outcome: "done", verifiedAt: expect.any(String), promotionRefused: expect.stringContaining("production not promoted"), zeroDowntimeViolations: 0 });
    expect(out.promoted).toBeUndefined();
    expect(out.commitMessage.split("\n")[0]).toBe(`amiroll verify staging: apps ${PINNED} verified`);
  });

  it("--commit checks its token, repository and branch before the simulated AWS: one line, exit 2", async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--commit", "--branch", "b"], { GITHUB_TOKEN: "", GH_TOKEN: "", GITHUB_REPOSITORY: "acme/infra" }, /^amiroll: --commit: GITHUB_TOKEN is not set/],
      [["--commit", "--branch", "b"], { GITHUB_TOKEN: "t", GITHUB_REPOSITORY: "" }, /^amiroll: --commit: no repository: pass --repo owner\/name/],
      [["--commit"], { GITHUB_TOKEN: "t", GITHUB_REPOSITORY: "acme/infra", GITHUB_HEAD_REF: "", GITHUB_API_URL: "http://127.0.0.1:9" }, /^amiroll: --commit: no branch: pass --branch/],
      [["--commit", "--branch", "b", "--head", "abc"], { GITHUB_TOKEN: "t", GITHUB_REPOSITORY: "acme/infra", GITHUB_API_URL: "http://127.0.0.1:9" }, /^amiroll: --head: "abc" is not a full commit SHA/],
      [["--commit", "--branch", "b"], { GITHUB_TOKEN: "t", GITHUB_REPOSITORY: "acme/infra", GITHUB_API_URL: "https://api.github.com" }, /^amiroll: --commit with --simulate commits simulated image ids: only to a GitHub stand-in on this machine/],
      [["--branch", "b"], {}, /^amiroll: --repo, --branch and --head go with --commit$/],
    ];
    for (const [flags, env, message] of cases) {
      const r = await amirollInProcess(["verify", "--simulate", "--env", "staging", ...flags], env);
      expect(r.status).toBe(2);
      expect(errorLines(r.stderr)).toEqual([expect.stringMatching(message)]);
      expect(r.stderr).not.toContain("(simulated, scenario");
    }
  });
});
