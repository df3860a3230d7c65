/**
 * `amiroll bump --open-pr` input checks, in this process: every flag, the token and the
 * repository are checked before the first AWS call (exit 2, one line), and a bump with nothing
 * to do makes no GitHub call at all (the API here is a closed port: any call would fail). The
 * GitHub side itself is tested in octokit.test.ts (a child process: octokit is ESM-only).
 */
import { amirollInProcess } from "../support/cli-in-process";

jest.setTimeout(30_000);

// GH_TOKEN and GITHUB_WORKSPACE emptied: a CI runner sets them.
const GITHUB = { GITHUB_TOKEN: "ghs_test", GH_TOKEN: "", GITHUB_REPOSITORY: "acme/infra", GITHUB_API_URL: "http://127.0.0.1:9", GITHUB_WORKSPACE: "" };
const errors = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("amiroll:") || l.startsWith("error:"));

describe("amiroll bump --open-pr: bad input, exit 2 before any AWS or GitHub call", () => {
  it.each([
    ["no token", ["--open-pr"], { ...GITHUB, GITHUB_TOKEN: "" }, /^amiroll: --open-pr: GITHUB_TOKEN is not set \(nor GH_TOKEN\): pass a token that may write contents and pull requests/],
    ["no repository", ["--open-pr"], { ...GITHUB, GITHUB_REPOSITORY: "" }, /^amiroll: --open-pr: no repository: pass --repo owner\/name, or set GITHUB_REPOSITORY/],
    ["a --repo that is not owner/name", ["--open-pr", "--repo", "infra"], GITHUB, /^amiroll: --open-pr: --repo is "infra", expected owner\/name$/],
    ["--open-pr with --dry-run", ["--open-pr", "--dry-run"], GITHUB, /^amiroll: --open-pr with --dry-run: a dry run writes nothing; drop one of them$/],
    ["--label without --open-pr", ["--label", "ami", "--reviewer", "alice"], GITHUB, /^amiroll: --label, --reviewer: only with --open-pr$/],
    ["--simulate to a real GitHub", ["--open-pr"], { ...GITHUB, GITHUB_API_URL: "" }, /^amiroll: --open-pr with --simulate commits simulated image ids: only to a GitHub stand-in on this machine \(GITHUB_API_URL on 127\.0\.0\.1 or localhost, not https:\/\/api\.github\.com\)$/],
    ["a reviewer that is no login", ["--open-pr", "--reviewer", "@alice"], GITHUB, /^amiroll: --reviewer: "@alice" is not a GitHub login or org\/team$/],
  ])("%s", async (_what, args, env, message) => {
    const r = await amirollInProcess(["bump", "--simulate", ...args], env);
    expect(errors(r.stderr)).toEqual([expect.stringMatching(message)]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    // Refused before the simulated AWS was even created.
    expect(r.stderr).not.toContain("simulated staging");
  });

  it("with nothing to bump does nothing: no GitHub call, no output, exit 0", async () => {
    const r = await amirollInProcess(["bump", "--simulate", "--env", "staging", "--to", "ami-0c8e1f5b2a9d47e31", "--open-pr", "--label", "ami"], GITHUB);
    expect(r.stderr).toContain("nothing to bump");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
  });

  it("a named environment that waits for its source is skipped with the reason, not refused: a scheduled run does not fail", async () => {
    const plain = await amirollInProcess(["bump", "--simulate", "--env", "production"], GITHUB);
    expect(plain.status).toBe(2);
    const r = await amirollInProcess(["bump", "--simulate", "--env", "production", "--open-pr"], GITHUB);
    expect(r.stderr).toContain("warning: production/apps not bumped: waits for staging: it has not verified its image yet");
    expect(r.stderr).toContain("nothing to bump");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
  });
});
