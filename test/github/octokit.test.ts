/**
 * The real octokitRepository (@octokit/rest with the retry and throttling plugins) against a local
 * GitHub stand-in (./github-stand-in.ts), in one child process (./octokit-harness.ts; jest cannot
 * load the ESM-only octokit) that plays a scenario run by run: the bump's branch created with a
 * commit on the default branch's head, the pull request opened, labelled and review requested
 * through a secondary rate limit, a second run updating the same pull request and committing
 * nothing, `amiroll bump --open-pr` printing its URL, then each refusal: a token without
 * contents: write (403), a repository that does not exist (404), a branch that moved under the
 * ref update, a closed pull request; one line each, exit 1 or 2, nothing half committed.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { READ_ONLY_TOKEN, TOKEN, GitHubStandIn } from "./github-stand-in";

const ROOT = resolve(__dirname, "../..");
const PINS_PATH = "stacks/amis.json";
const REPO_PINS = readFileSync(join(ROOT, PINS_PATH), "utf8");

interface PublishOutcome {
  result?: any;
  error?: { name: string; message: string };
  exitCode?: number;
  warnings: string[];
}
interface CliOutcome {
  status: number;
  stdout: string;
  stderr: string;
}

function harness(apiUrl: string, runs: unknown[]): Promise<unknown[]> {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(GITHUB_|GH_TOKEN$|AMIROLL_)/.test(name)));
  Object.assign(env, {
    GITHUB_TOKEN: TOKEN,
    GITHUB_REPOSITORY: "acme/infra",
    GITHUB_API_URL: apiUrl,
    AMIROLL_CONFIG: join(ROOT, "stacks/amiroll.json"),
    AMIROLL_HARNESS: JSON.stringify({ runs }),
    CI: "",
    NODE_NO_WARNINGS: "1",
  });
  return new Promise((done, fail) => {
    execFile(process.execPath, ["-r", "tsx/cjs", join(__dirname, "octokit-harness.ts")], { cwd: ROOT, env, timeout: 60_000, encoding: "utf8", maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
      error ? fail(new Error(`${error.message}\n${stderr}`)) : done(JSON.parse(stdout)),
    );
  });
}

describe("octokitRepository against a local GitHub stand-in", () => {
  const github = new GitHubStandIn({ [PINS_PATH]: REPO_PINS, "README.md": "hello\n" });
  const main = github.refs.get("main")!;
  /** Where each run's requests start in github.requests. */
  const starts: number[] = [];
  /** The requests of run `n`. */
  const requestsOf = (n: number) => github.requests.slice(starts[n], starts[n + 1] ?? github.requests.length);
  /** Branches and pull requests as each run left them. */
  const after: ReturnType<GitHubStandIn["snapshot"]>[] = [];
  /** The bump's branch, as run 0 created it. */
  let bumpBranch = "";
  let outcomes: unknown[];
  let moved: { pushed: string; branch: string } | undefined;

  /** A team's checkout: its amiroll.json with pullRequests, the pins at stacks/amis.json. */
  const checkout = mkdtempSync(join(tmpdir(), "amiroll-checkout-"));
  afterAll(() => rmSync(checkout, { recursive: true, force: true }));

  beforeAll(async () => {
    const config = JSON.parse(readFileSync(join(ROOT, "stacks/amiroll.json"), "utf8"));
    delete config.$schema;
    mkdirSync(join(checkout, "stacks"));
    writeFileSync(join(checkout, "amiroll.json"), JSON.stringify({ ...config, pins: "stacks/amis.json", pullRequests: { labels: ["amiroll", "from-config"], reviewers: ["alice"] } }));
    copyFileSync(join(ROOT, PINS_PATH), join(checkout, PINS_PATH));
    const apiUrl = await github.start();
    github.onControl = (run) => {
      if (run > 0) after[run - 1] = github.snapshot();
      starts[run] = github.requests.length;
      if (run === 1) bumpBranch = [...github.refs.keys()].find((b) => b !== "main")!;
      switch (run) {
        case 0:
          github.secondaryLimitOnce.add("POST /repos/acme/infra/git/blobs");
          break;
        case 1:
          // Someone retitles the pull request: the next run puts the bump's title back.
          github.pulls[0].title = "edited by hand";
          break;
        case 4:
          github.reset();
          break;
        case 6: {
          // A branch of the bump's name with no change yet: amiroll commits on it, and someone
          // pushes between amiroll's read and its ref update.
          github.reset();
          const branch = bumpBranch;
          github.refs.set(branch, main);
          github.beforeRefUpdate = () => {
            moved = { branch, pushed: github.push(branch, { "README.md": "pushed meanwhile\n" }) };
          };
          break;
        }
        case 7:
          github.reset();
          github.refs.set(bumpBranch, main);
          github.seedPull({ head: bumpBranch, state: "closed" });
          break;
        case 10:
          github.primaryLimitOnce.add("GET /repos/acme/infra");
          break;
        case 11: {
          // The pull request of run 0, open, labelled amiroll only.
          github.reset();
          const { refs, pulls } = after[0];
          github.refs.set(bumpBranch, refs.get(bumpBranch)!);
          github.seedPull({ ...pulls[0], labels: ["amiroll"], requestedReviewers: [] });
          break;
        }
        case 9: {
          // Back to the state of run 0: the branch with the bump, its pull request open.
          github.reset();
          const { refs, pulls } = after[0];
          github.refs.set(bumpBranch, refs.get(bumpBranch)!);
          github.seedPull({ ...pulls[0] });
          break;
        }
      }
    };
    outcomes = await harness(apiUrl, [
      { publish: { labels: ["amiroll", "ami"], reviewers: ["alice", "acme/platform"] } },
      { publish: { labels: ["amiroll"] } },
      { cli: ["bump", "--simulate", "--env", "staging", "--open-pr", "--label", "amiroll"] },
      { pull: 1 },
      { publish: { token: READ_ONLY_TOKEN } },
      { publish: { repo: "acme/nope" } },
      { publish: {} },
      { publish: {} },
      { cli: ["bump", "--simulate", "--env", "staging", "--open-pr", "--repo", "acme/nope"] },
      { cli: ["bump", "--simulate", "--env", "staging", "--open-pr", "-o", "json"] },
      { publish: {} },
      { cli: ["bump", "--simulate", "--env", "staging", "--open-pr", "--label", "from-flag"], env: { AMIROLL_CONFIG: join(checkout, "amiroll.json"), GITHUB_WORKSPACE: checkout } },
    ]);
    after[outcomes.length - 1] = github.snapshot();
  }, 90_000);
  afterAll(() => github.stop());

  const publish = (run: number) => outcomes[run] as PublishOutcome;

  it("creates the branch at a commit on the default branch's head, opens the pull request, labels it, requests reviews, through a secondary rate limit", () => {
    const first = publish(0);
    expect(first.error).toBeUndefined();
    const { branch, commit, pull } = first.result;
    expect(branch).toBe(bumpBranch);
    expect(branch).toMatch(/^amiroll\/bump-staging-ami-0\w{16}$/);
    expect(commit).toMatchObject({ committed: true, createdBranch: true, parent: main });
    const { refs, pulls } = after[0];
    expect(refs.get(branch)).toBe(commit.head);
    expect(github.history(commit.head)).toEqual([commit.head, main]);
    const pins = JSON.parse(github.fileAt(commit.head, PINS_PATH)!);
    expect(pins.staging.apps.current.imageId).toBe(branch.replace("amiroll/bump-staging-", ""));
    expect(pins.production).toEqual(JSON.parse(REPO_PINS).production);
    expect(github.fileAt(commit.head, "README.md")).toBe("hello\n");
    expect(refs.get("main")).toBe(main);
    expect(github.message(commit.head)).toMatch(/^amiroll: bump staging\/apps to .+\n\n- staging\/apps \(replace\): ami-0c8e1f5b2a9d47e31 -> ami-/);

    expect(pull).toMatchObject({ action: "opened", labelsAdded: ["amiroll", "ami"], reviewersRequested: ["alice", "acme/platform"] });
    expect(pulls).toHaveLength(1);
    expect(pulls[0]).toMatchObject({ head: branch, base: "main", state: "open", labels: ["amiroll", "ami"], requestedReviewers: ["alice"], requestedTeams: ["platform"] });
    expect(pulls[0].title).toMatch(/^amiroll: bump staging\/apps to 2023\.0\.\d{8}-kernel-6\.1-arm64$/);
    expect(pulls[0].body).toMatch(/^### AMI bump\n/);
    expect(pull.pull.url).toBe("https://github.test/acme/infra/pull/1");

    // The throttling plugin waited and retried the blob GitHub refused with a secondary rate limit.
    expect(first.warnings).toEqual([expect.stringMatching(/^GitHub's secondary rate limit: POST \S+\/git\/blobs again in 1 s \(retry 1 of 3\)$/)]);
    expect(requestsOf(0).filter((r) => !r.startsWith("GET "))).toEqual([
      "POST /repos/acme/infra/git/blobs",
      "POST /repos/acme/infra/git/blobs",
      "POST /repos/acme/infra/git/trees",
      "POST /repos/acme/infra/git/commits",
      "POST /repos/acme/infra/git/refs",
      "POST /repos/acme/infra/pulls",
      "POST /repos/acme/infra/issues/1/labels",
      "POST /repos/acme/infra/pulls/1/requested_reviewers",
    ]);
  });

  it("a second run updates the same pull request (its title was edited) and commits nothing", () => {
    const second = publish(1);
    expect(second.error).toBeUndefined();
    expect(second.result.commit).toMatchObject({ committed: false });
    expect(second.result.pull).toMatchObject({ action: "updated", pull: { number: 1 }, labelsAdded: [], reviewersRequested: [] });
    expect(requestsOf(1).filter((r) => !r.startsWith("GET "))).toEqual(["PATCH /repos/acme/infra/pulls/1"]);
    expect(after[1].pulls).toEqual([expect.objectContaining({ number: 1, title: after[0].pulls[0].title, body: after[0].pulls[0].body })]);
    expect(after[1].refs).toEqual(after[0].refs);
  });

  it("amiroll bump --open-pr: exit 0, the pull request's URL on stdout, no second PR, no duplicate commit", () => {
    const cli = outcomes[2] as CliOutcome;
    expect(cli.stderr).toMatch(/acme\/infra: branch amiroll\/bump-staging-ami-\w+ already has this change \(no commit\); unchanged pull request #1/);
    expect(cli.status).toBe(0);
    expect(cli.stdout).toBe("https://github.test/acme/infra/pull/1\n");
    expect(requestsOf(2).filter((r) => !r.startsWith("GET "))).toEqual([]);
    expect(after[2]).toEqual(after[1]);
  });

  it("reads a pull request by number: its branch and head commit (what verify --commit commits to)", () => {
    const { result } = outcomes[3] as PublishOutcome;
    expect(result).toEqual({
      number: 1,
      url: "https://github.test/acme/infra/pull/1",
      state: "open",
      merged: false,
      title: after[0].pulls[0].title,
      body: after[0].pulls[0].body,
      base: "main",
      head: bumpBranch,
      headSha: after[0].refs.get(bumpBranch),
      labels: ["amiroll", "ami"],
    });
  });

  it("a token without contents: write: one line saying what to grant, exit 1, no branch", () => {
    const readOnly = publish(4);
    expect(readOnly.exitCode).toBe(1);
    expect(readOnly.error!.message).toMatch(/^cannot commit stacks\/amis\.json in acme\/infra \(GitHub answered 403 Resource not accessible by integration\): grant the token contents: write \(workflow: permissions: contents: write;/);
    expect([...after[4].refs.keys()]).toEqual(["main"]);
    expect(requestsOf(4).filter((r) => !r.startsWith("GET "))).toEqual(["POST /repos/acme/infra/git/blobs"]);
  });

  it("a repository that does not exist: one line, exit 2, nothing written", () => {
    const missing = publish(5);
    expect(missing.exitCode).toBe(2);
    expect(missing.error!.message).toMatch(/^repository acme\/nope does not exist, or the token cannot see it: check --repo or GITHUB_REPOSITORY/);
    expect(requestsOf(5)).toEqual(["GET /repos/acme/nope"]);
  });

  it("a branch that moved under the ref update (someone pushed): refused, exit 1; the branch keeps the push", () => {
    const movedRun = publish(6);
    expect(movedRun.exitCode).toBe(1);
    expect(movedRun.error!.message).toBe(`branch ${bumpBranch} moved since amiroll read it (it was at ${main.slice(0, 12)}; someone pushed): nothing was committed; run amiroll bump --open-pr again`);
    expect(after[6].refs.get(bumpBranch)).toBe(moved!.pushed);
    expect(github.history(moved!.pushed)).toEqual([moved!.pushed, main]);
    expect(github.fileAt(moved!.pushed, PINS_PATH)).toBe(REPO_PINS);
    expect(after[6].pulls).toEqual([]);
    expect(requestsOf(6).filter((r) => !r.startsWith("GET ")).at(-1)).toBe(`PATCH /repos/acme/infra/git/refs/heads/${bumpBranch}`);
  });

  it("a pull request closed meanwhile: refused before any write, exit 1", () => {
    const closed = publish(7);
    expect(closed.exitCode).toBe(1);
    expect(closed.error!.message).toBe(`pull request #1 of branch ${bumpBranch} was closed without merging (https://github.test/acme/infra/pull/1): reopen it, or delete branch ${bumpBranch} to let amiroll open a new one`);
    expect(requestsOf(7).filter((r) => !r.startsWith("GET "))).toEqual([]);
    expect(after[7].refs.get(bumpBranch)).toBe(main);
  });

  it("amiroll bump --open-pr --repo of a repository that does not exist: exit 2, one line, no octokit noise", () => {
    const cli = outcomes[8] as CliOutcome;
    expect(cli.stderr.split("\n").filter((l) => /^amiroll:|\b404\b/.test(l))).toEqual([
      "amiroll: repository acme/nope does not exist, or the token cannot see it: check --repo or GITHUB_REPOSITORY (and, for a private repository, that the token may read it)",
    ]);
    expect(cli.status).toBe(2);
    expect(cli.stdout).toBe("");
    expect(requestsOf(8)).toEqual(["GET /repos/acme/nope"]);
  });

  it("-o json: the bump's object with the pull request", () => {
    const cli = outcomes[9] as CliOutcome;
    expect(cli.status).toBe(0);
    const json = JSON.parse(cli.stdout);
    expect(json.title).toMatch(/^amiroll: bump staging\/apps to /);
    expect(json.pullRequest).toEqual({ branch: bumpBranch, action: "unchanged", number: 1, url: "https://github.test/acme/infra/pull/1" });
    expect(requestsOf(9).filter((r) => !r.startsWith("GET "))).toEqual([]);
  });

  it("labels from amiroll.json's pullRequests and from --label, the pins path from GITHUB_WORKSPACE", () => {
    const cli = outcomes[11] as CliOutcome;
    expect(cli.stderr).toMatch(/acme\/infra: branch amiroll\/bump-staging-ami-\w+ already has this change \(no commit\); unchanged pull request #1 \(labels from-config, from-flag\)/);
    expect(cli.status).toBe(0);
    expect(requestsOf(11).filter((r) => !r.startsWith("GET "))).toEqual(["POST /repos/acme/infra/issues/1/labels"]);
    expect(after[11].pulls[0].labels).toEqual(["amiroll", "from-config", "from-flag"]);
    // Reviewers are asked when a pull request is opened, not again.
    expect(after[11].pulls[0].requestedReviewers).toEqual([]);
  });

  it("a rate limit that resets in an hour is not waited for: one line, exit 1, nothing written", () => {
    const limited = publish(10);
    expect(limited.warnings).toEqual([expect.stringMatching(/^GitHub's primary rate limit: GET \/repos\/\{owner\}\/\{repo\} could go again in 36\d\d s, longer than amiroll waits \(120 s\)$/)]);
    expect(limited.exitCode).toBe(1);
    expect(limited.error!.message).toBe("cannot read the repository in acme/infra (GitHub answered 403 API rate limit exceeded for installation ID 42.): GitHub's rate limit for this token is used up; run again once it resets (nothing was half committed)");
    expect(requestsOf(10)).toEqual(["GET /repos/acme/infra"]);
  });
});
