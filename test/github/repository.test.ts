/**
 * The GitHub write layer's logic against an in-memory repository (./fake-repository.ts): a file
 * change committed only on the head amiroll read, the branch created from the default branch,
 * one pull request per branch however often the bump runs, and every refusal as one line with
 * its exit code (UsageError: 2, GitHubRefusal: 1), nothing written before the checks and nothing
 * half committed.
 */
import { readFileSync } from "node:fs";
import { bumpPlan } from "../../scripts/commands/bump";
import { simulatedEnvironments } from "../../scripts/commands/stack";
import type { Environment } from "../../scripts/config/environments";
import { ConfigError } from "../../scripts/config/input";
import { parsePins } from "../../scripts/config/pins";
import { UsageError } from "../../scripts/core/errors";
import { bumpBranch, bumpPinsEdit, describeBumpPublished, pathInRepository, publishBump } from "../../scripts/github/bump-pull-request";
import {
  BranchMovedError,
  GitHubRefusal,
  checkRepository,
  commitFileChange,
  openOrUpdatePullRequest,
  openPullRequestOf,
  repositoryContextFromEnv,
  reviewerProblem,
  labelProblem,
} from "../../scripts/github/repository";
import type { BumpPlan } from "../../scripts/images/bump";
import { bumpPullRequest } from "../../scripts/images/pull-request";
import { REPO_PINS_FILE, REPO_PINS_PATH, loadEnvironments, repoConfig } from "../support/repo-config";
import { FakeRepository } from "./fake-repository";

jest.setTimeout(30_000);

const PINS = "stacks/amis.json";
const REPO_PINS = readFileSync(REPO_PINS_PATH, "utf8");
const environments = loadEnvironments();

/** The error a promise rejects with, checked to be one line. */
async function refusal(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!error) throw new Error("expected a rejection");
  expect(error.message).not.toContain("\n");
  return error;
}

describe("commitFileChange", () => {
  const change = (edit: (text: string | undefined) => string, extra: object = {}) => ({ branch: "amiroll/x", path: PINS, edit, message: "m", createFrom: "main", ...extra });

  it("creates the branch at a commit on the default branch's head, holding the new file", async () => {
    const repo = new FakeRepository({ [PINS]: "old\n" });
    const base = repo.branches.get("main")!;
    const result = await commitFileChange(repo, change((t) => `${t}new\n`));
    expect(result).toMatchObject({ committed: true, createdBranch: true, parent: base });
    expect(repo.fileAt("amiroll/x", PINS)).toBe("old\nnew\n");
    expect(repo.history("amiroll/x").map((c) => c.sha)).toEqual([result.head, base]);
    expect(repo.branches.get("main")).toBe(base);
    // The branch appears only at the commit: no moment with a branch that has no change.
    expect(repo.writes()).toEqual([`createCommit on ${base.slice(-4)}`, "createBranch amiroll/x"]);
  });

  it("commits nothing, and creates no branch, for an identical text", async () => {
    const repo = new FakeRepository({ [PINS]: "same\n" });
    const result = await commitFileChange(repo, change((t) => t!));
    expect(result.committed).toBe(false);
    expect(repo.branches.has("amiroll/x")).toBe(false);
    expect(repo.writes()).toEqual([]);
  });

  it("commits on the branch head it read, a fast-forward", async () => {
    const repo = new FakeRepository({ [PINS]: "a\n" });
    await commitFileChange(repo, change(() => "b\n"));
    const head = repo.branches.get("amiroll/x")!;
    const second = await commitFileChange(repo, change(() => "c\n"));
    expect(second).toMatchObject({ committed: true, createdBranch: false, parent: head });
    expect(repo.history("amiroll/x")[1].sha).toBe(head);
  });

  it("refuses a branch that moved since amiroll read it, before any write (expectedHead)", async () => {
    const repo = new FakeRepository({ [PINS]: "a\n" });
    const read = repo.branches.get("main")!;
    const now = repo.push("main", PINS, "someone\n");
    const error = await refusal(commitFileChange(repo, { branch: "main", path: PINS, edit: () => "mine\n", message: "m", expectedHead: read, rerun: "run amiroll verify --commit again" }));
    expect(error).toBeInstanceOf(BranchMovedError);
    expect(error.message).toBe(`branch main moved since amiroll read it (it was at ${read.slice(0, 12)}, it is at ${now.slice(0, 12)} now): nothing was committed; run amiroll verify --commit again`);
    expect(repo.writes()).toEqual([]);
  });

  it("refuses a push that lands between its read and its ref update: the branch keeps the pusher's commit, ours is unreachable", async () => {
    const repo = new FakeRepository({ [PINS]: "a\n" });
    await commitFileChange(repo, change(() => "b\n"));
    let pushed = "";
    repo.onBeforeRefUpdate = () => {
      repo.onBeforeRefUpdate = undefined;
      pushed = repo.push("amiroll/x", "README.md", "hello\n");
    };
    const error = await refusal(commitFileChange(repo, change(() => "c\n")));
    expect(error).toBeInstanceOf(BranchMovedError);
    expect(error.message).toMatch(/someone pushed\): nothing was committed; run the same command again$/);
    expect(repo.branches.get("amiroll/x")).toBe(pushed);
    expect(repo.fileAt("amiroll/x", PINS)).toBe("b\n");
  });

  it("refuses a branch force-pushed back to an older commit meanwhile (a fast-forward GitHub would take)", async () => {
    const repo = new FakeRepository({ [PINS]: "a\n" });
    const old = repo.branches.get("main")!;
    await commitFileChange(repo, change(() => "b\n"));
    const read = repo.branches.get("amiroll/x")!;
    repo.onAfterCreateCommit = () => {
      repo.onAfterCreateCommit = undefined;
      repo.branches.set("amiroll/x", old);
    };
    const error = await refusal(commitFileChange(repo, change(() => "c\n")));
    expect(error.message).toBe(`branch amiroll/x moved since amiroll read it (it was at ${read.slice(0, 12)}, it is at ${old.slice(0, 12)} now): nothing was committed; run the same command again`);
    expect(repo.branches.get("amiroll/x")).toBe(old);
    expect(repo.writes().at(-1)).toMatch(/^createCommit/);
  });

  it("refuses a branch someone else created meanwhile", async () => {
    const repo = new FakeRepository({ [PINS]: "a\n" });
    repo.onBeforeRefUpdate = () => {
      repo.onBeforeRefUpdate = undefined;
      repo.branches.set("amiroll/x", repo.branches.get("main")!);
    };
    const error = await refusal(commitFileChange(repo, change(() => "b\n")));
    expect(error.message).toMatch(/^branch amiroll\/x moved since amiroll read it \(someone created it meanwhile\): nothing was committed/);
    expect(repo.fileAt("amiroll/x", PINS)).toBe("a\n");
  });

  it("says which permission to grant when GitHub refuses the write (403 or 404), exit 1", async () => {
    for (const status of [403, 404]) {
      const repo = new FakeRepository({ [PINS]: "a\n" });
      repo.failing.set("createCommit", { status, message: "Resource not accessible by integration" });
      const error = await refusal(commitFileChange(repo, change(() => "b\n")));
      expect(error).toBeInstanceOf(GitHubRefusal);
      expect(error).not.toBeInstanceOf(UsageError);
      expect(error.message).toBe(
        `cannot createCommit in acme/infra (GitHub answered ${status} Resource not accessible by integration): grant the token contents: write (workflow: permissions: contents: write; a fine-grained token: Contents read and write)`,
      );
      expect(repo.branches.has("amiroll/x")).toBe(false);
    }
  });

  it("commits to a pull request's branch only at the head CI checked out (how verify --commit uses it)", async () => {
    const repo = new FakeRepository({ [PINS]: "a\n" });
    repo.branches.set("amiroll/x", repo.branches.get("main")!);
    const pull = await repo.pullRequest(repo.seedPull("amiroll/x").number);
    const checkedOut = pull.headSha;
    const ok = await commitFileChange(repo, { branch: pull.head, path: PINS, edit: () => "verified\n", message: "verify", expectedHead: checkedOut });
    expect(ok).toMatchObject({ committed: true, parent: checkedOut });
    // A second verify from the same (now old) checkout is refused before any write.
    repo.calls.length = 0;
    const error = await refusal(commitFileChange(repo, { branch: pull.head, path: PINS, edit: () => "again\n", message: "verify", expectedHead: checkedOut }));
    expect(error).toBeInstanceOf(BranchMovedError);
    expect(repo.writes()).toEqual([]);
    expect((await repo.pullRequest(pull.number)).headSha).toBe(ok.head);
  });

  it("a rate limit still hit after the retries says so, not that a permission is missing", async () => {
    const repo = new FakeRepository({ [PINS]: "a\n" });
    repo.failing.set("createCommit", { status: 403, message: "API rate limit exceeded for installation ID 42." });
    const error = await refusal(commitFileChange(repo, change(() => "b\n")));
    expect(error).toBeInstanceOf(GitHubRefusal);
    expect(error.message).toBe("cannot createCommit in acme/infra (GitHub answered 403 API rate limit exceeded for installation ID 42.): GitHub's rate limit for this token is used up; run again once it resets (nothing was half committed)");
  });

  it("a bad token is the input's fault (401: UsageError, exit 2)", async () => {
    const repo = new FakeRepository({ [PINS]: "a\n" });
    repo.failing.set("branchHead", { status: 401, message: "Bad credentials" });
    const error = await refusal(commitFileChange(repo, change(() => "b\n")));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toBe("GitHub refused the token (GitHub answered 401 Bad credentials): GITHUB_TOKEN is wrong or expired");
  });
});

describe("checkRepository", () => {
  it("a repository that does not exist is the input's fault: exit 2, one line", async () => {
    const repo = new FakeRepository();
    repo.exists = false;
    const error = await refusal(checkRepository(repo));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toMatch(/^repository acme\/infra does not exist, or the token cannot see it: check --repo or GITHUB_REPOSITORY/);
  });

  it("refuses a token GitHub says may not push, before any write", async () => {
    const repo = new FakeRepository();
    repo.canPush = false;
    const error = await refusal(checkRepository(repo));
    expect(error).toBeInstanceOf(GitHubRefusal);
    expect(error.message).toMatch(/^the token may not push to acme\/infra: grant it contents: write/);
  });
});

describe("the pull request of a branch", () => {
  const settings = { branch: "amiroll/x", base: "main", title: "T", body: "B", labels: ["amiroll", "ami"], reviewers: ["alice", "acme/platform"] };

  it("opens one, labels it and requests reviews; the next run changes nothing", async () => {
    const repo = new FakeRepository();
    const first = await openOrUpdatePullRequest(repo, settings, await openPullRequestOf(repo, "amiroll/x", true));
    expect(first).toMatchObject({ action: "opened", labelsAdded: ["amiroll", "ami"], reviewersRequested: ["alice", "acme/platform"], warnings: [] });
    repo.calls.length = 0;
    const second = await openOrUpdatePullRequest(repo, settings, await openPullRequestOf(repo, "amiroll/x", true));
    expect(second).toMatchObject({ action: "unchanged", labelsAdded: [], reviewersRequested: [] });
    expect(second.pull.number).toBe(first.pull.number);
    expect(repo.writes()).toEqual([]);
    expect(repo.pulls).toHaveLength(1);
  });

  it("updates title and body of the open one, adds only missing labels, re-requests no review", async () => {
    const repo = new FakeRepository();
    repo.seedPull("amiroll/x", { labels: ["amiroll"] });
    const result = await openOrUpdatePullRequest(repo, { ...settings, body: "new body" }, await openPullRequestOf(repo, "amiroll/x", true));
    expect(result.action).toBe("updated");
    expect(repo.pulls[0]).toMatchObject({ title: "T", body: "new body", labels: ["amiroll", "ami"] });
    expect(repo.writes()).toEqual(["updatePullRequest #1", "addLabels #1 ami"]);
  });

  it("refuses, before any write, a branch whose pull request was closed or merged", async () => {
    const closed = new FakeRepository();
    closed.seedPull("amiroll/x", { state: "closed" });
    const error = await refusal(openPullRequestOf(closed, "amiroll/x", true));
    expect(error).toBeInstanceOf(GitHubRefusal);
    expect(error.message).toBe("pull request #1 of branch amiroll/x was closed without merging (https://github.test/acme/infra/pull/1): reopen it, or delete branch amiroll/x to let amiroll open a new one");
    const merged = new FakeRepository();
    merged.seedPull("amiroll/x", { state: "closed", merged: true });
    expect((await refusal(openPullRequestOf(merged, "amiroll/x", true))).message).toMatch(/^pull request #1 of branch amiroll\/x was merged meanwhile .*: run amiroll again from the updated main; if the change is still needed, delete branch amiroll\/x first$/);
    // The branch was deleted after: a new start.
    expect(await openPullRequestOf(closed, "amiroll/x", false)).toBeUndefined();
  });

  it("refuses a pull request closed while amiroll updated it", async () => {
    const repo = new FakeRepository();
    const pull = repo.seedPull("amiroll/x");
    const found = await openPullRequestOf(repo, "amiroll/x", true);
    repo.setPull(pull.number, { state: "closed" });
    const error = await refusal(openOrUpdatePullRequest(repo, settings, found));
    expect(error.message).toMatch(/^pull request #1 of branch amiroll\/x was closed while amiroll updated it/);
  });

  it("takes over a pull request a racing run opened (422) instead of failing", async () => {
    const repo = new FakeRepository();
    repo.seedPull("amiroll/x", { title: "T", body: "B", labels: ["amiroll", "ami"] });
    const result = await openOrUpdatePullRequest(repo, settings, undefined);
    expect(result).toMatchObject({ action: "unchanged", pull: { number: 1 } });
    expect(repo.pulls).toHaveLength(1);
  });

  it("a reviewer GitHub will not take is a warning: the pull request is open", async () => {
    const repo = new FakeRepository();
    repo.failing.set("requestReviewers", { status: 422, message: "Reviews may only be requested from collaborators." });
    const result = await openOrUpdatePullRequest(repo, settings, undefined);
    expect(result.action).toBe("opened");
    expect(result.warnings).toEqual([expect.stringMatching(/^GitHub would not request reviews from alice, acme\/platform on #1 \(Reviews may only be requested from collaborators\.\)/)]);
  });

  it("names pull-requests: write when GitHub refuses to open it", async () => {
    const repo = new FakeRepository();
    repo.failing.set("createPullRequest", { status: 403, message: "Resource not accessible by integration" });
    const error = await refusal(openOrUpdatePullRequest(repo, settings, undefined));
    expect(error.message).toMatch(/: grant the token pull-requests: write \(workflow: permissions: pull-requests: write;/);
  });
});

describe("input checks", () => {
  it("reads the repository and token from --repo or GITHUB_*, one line for what is missing", () => {
    expect(repositoryContextFromEnv("--open-pr", undefined, { GITHUB_TOKEN: "t", GITHUB_REPOSITORY: "acme/infra" })).toEqual({ token: "t", owner: "acme", repo: "infra", apiUrl: "https://api.github.com" });
    expect(repositoryContextFromEnv("--open-pr", "o/r.x", { GH_TOKEN: "g", GITHUB_REPOSITORY: "acme/infra", GITHUB_API_URL: "https://ghe.test/api/v3/" })).toEqual({ token: "g", owner: "o", repo: "r.x", apiUrl: "https://ghe.test/api/v3" });
    const fail = (repo: string | undefined, env: NodeJS.ProcessEnv) => {
      try {
        repositoryContextFromEnv("--open-pr", repo, env);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error("expected a UsageError");
    };
    expect(fail(undefined, { GITHUB_REPOSITORY: "acme/infra" })).toMatch(/^--open-pr: GITHUB_TOKEN is not set \(nor GH_TOKEN\): pass a token that may write contents and pull requests/);
    expect(fail(undefined, { GITHUB_TOKEN: "t" })).toMatch(/^--open-pr: no repository: pass --repo owner\/name, or set GITHUB_REPOSITORY/);
    expect(fail("acme", { GITHUB_TOKEN: "t" })).toBe('--open-pr: --repo is "acme", expected owner/name');
    expect(fail(undefined, { GITHUB_TOKEN: "t", GITHUB_REPOSITORY: "a/b/c" })).toBe('--open-pr: GITHUB_REPOSITORY is "a/b/c", expected owner/name');
    expect(fail(undefined, { GITHUB_TOKEN: "t", GITHUB_REPOSITORY: "a/b", GITHUB_API_URL: "api.github.com" })).toBe('--open-pr: GITHUB_API_URL is "api.github.com", expected an http(s) URL such as https://api.github.com');
  });

  it("checks labels and reviewers", () => {
    expect(reviewerProblem("alice")).toBeUndefined();
    expect(reviewerProblem("acme/platform-team")).toBeUndefined();
    expect(reviewerProblem("@alice")).toMatch(/not a GitHub login/);
    expect(labelProblem("ami bump")).toBeUndefined();
    expect(labelProblem("")).toMatch(/not a label name/);
    expect(labelProblem("x".repeat(51))).toMatch(/not a label name/);
  });

  it("finds the pins file's place in the repository from GITHUB_WORKSPACE, else from .git", () => {
    expect(pathInRepository("/w/repo/infra/amis.json", { GITHUB_WORKSPACE: "/w/repo" })).toBe("infra/amis.json");
    expect(pathInRepository(REPO_PINS_PATH, {})).toBe(REPO_PINS_FILE);
    expect(() => pathInRepository("/nowhere/amis.json", { GITHUB_WORKSPACE: "/w/repo" })).toThrow(/cannot tell where \/nowhere\/amis\.json sits in the repository/);
  });
});

describe("publishBump", () => {
  let plan: BumpPlan;
  let newest: string;
  beforeAll(async () => {
    const config = repoConfig();
    const simulations = await simulatedEnvironments(config, environments, {});
    const access = { clients: (e: Environment) => simulations.get(e.name)!.clients, clock: simulations.get("staging")!.clock };
    newest = simulations.get("staging")!.images.apps.latest;
    plan = await bumpPlan(config, access, { selected: [] });
  });
  const publication = (overrides: Partial<BumpPlan> = {}) => {
    const p = { ...plan, ...overrides };
    return { plan: p, pullRequest: bumpPullRequest(p, environments), environments, pinsPath: PINS, labels: ["amiroll"], reviewers: ["alice"] };
  };

  it("names the branch after the environment and the image", () => {
    expect(bumpBranch(plan, environments)).toBe(`amiroll/bump-staging-${newest}`);
    const two = { ...plan, changes: [plan.changes[0], { ...plan.changes[0], environment: "production", to: { ...plan.changes[0].to, imageId: "ami-0123456789abcdef0" } }] };
    expect(bumpBranch(two, environments)).toMatch(/^amiroll\/bump-staging-production-images-[0-9a-f]{8}$/);
  });

  it("commits the pins change to a new branch and opens the pull request with the bump's title and body; run again: no second PR, no commit", async () => {
    const repo = new FakeRepository({ [PINS]: REPO_PINS, "README.md": "hi\n" });
    const main = repo.branches.get("main")!;
    const first = await publishBump(repo, publication());
    const branch = `amiroll/bump-staging-${newest}`;
    expect(first.branch).toBe(branch);
    expect(first.commit).toMatchObject({ committed: true, createdBranch: true, parent: main });
    expect(first.pull).toMatchObject({ action: "opened", labelsAdded: ["amiroll"], reviewersRequested: ["alice"] });
    const pins = parsePins(JSON.parse(repo.fileAt(branch, PINS)!), environments, PINS);
    expect(pins.staging.apps.current.imageId).toBe(newest);
    expect(pins.production).toEqual(parsePins(JSON.parse(REPO_PINS), environments, PINS).production);
    expect(repo.fileAt(branch, "README.md")).toBe("hi\n");
    expect(repo.pulls).toEqual([expect.objectContaining({ title: publication().pullRequest.title, body: publication().pullRequest.body, base: "main", state: "open" })]);
    expect(repo.history(branch)[0].message).toMatch(new RegExp(`^amiroll: bump staging/apps to .*\\n\\n- staging/apps \\(replace\\): ami-0c8e1f5b2a9d47e31 -> ${newest} \\(al2023-ami-ecs-hvm-`));
    expect(describeBumpPublished(first)).toMatch(new RegExp(`^committed \\w{12} to new branch ${branch}; opened pull request #1 \\(labels amiroll; review requested from alice\\)$`));

    // A later run the same week: a new resolvedAt, the same image. Nothing to write.
    repo.calls.length = 0;
    const again = { ...plan, pins: { ...plan.pins, staging: { apps: { ...plan.pins.staging.apps, current: { ...plan.pins.staging.apps.current, resolvedAt: "2026-12-01T00:00:00Z" } } } } };
    const second = await publishBump(repo, publication(again));
    expect(second.commit?.committed).toBe(false);
    expect(second.pull?.action).toBe("unchanged");
    expect(repo.writes()).toEqual([]);
    expect(repo.history(branch)).toHaveLength(2);
    expect(describeBumpPublished(second)).toBe(`branch ${branch} already has this change (no commit); unchanged pull request #1`);
  });

  it("keeps what was committed on the branch since (a verifiedAt) and edits only the bumped clusters", async () => {
    const repo = new FakeRepository({ [PINS]: REPO_PINS });
    const first = await publishBump(repo, publication());
    const verified = JSON.parse(repo.fileAt(first.branch, PINS)!);
    verified.staging.apps.current.verifiedAt = "2026-11-25T10:00:00Z";
    repo.push(first.branch, PINS, `${JSON.stringify(verified, null, 2)}\n`, "verify");
    expect(bumpPinsEdit(plan, environments, "x")(repo.fileAt(first.branch, PINS))).toBe(repo.fileAt(first.branch, PINS));
    const second = await publishBump(repo, publication());
    expect(second.commit?.committed).toBe(false);
    expect(JSON.parse(repo.fileAt(first.branch, PINS)!).staging.apps.current.verifiedAt).toBe("2026-11-25T10:00:00Z");
  });

  it("does nothing when the default branch already has the change: no branch, no pull request", async () => {
    const repo = new FakeRepository({ [PINS]: bumpPinsEdit(plan, environments, "x")(REPO_PINS) });
    const result = await publishBump(repo, publication());
    expect(result).toEqual({ branch: `amiroll/bump-staging-${newest}` });
    expect(repo.writes()).toEqual([]);
    expect(repo.branches.size).toBe(1);
  });

  it("re-opens nothing a person closed, and writes nothing: one line", async () => {
    const repo = new FakeRepository({ [PINS]: REPO_PINS });
    const first = await publishBump(repo, publication());
    repo.setPull(first.pull!.pull.number, { state: "closed" });
    repo.calls.length = 0;
    const error = await refusal(publishBump(repo, publication()));
    expect(error.message).toMatch(/^pull request #1 of branch amiroll\/bump-staging-ami-\w+ was closed without merging/);
    expect(repo.writes()).toEqual([]);
  });

  it("refuses a branch pins file that is not JSON, naming it (exit 2), before committing", async () => {
    const repo = new FakeRepository({ [PINS]: REPO_PINS });
    const first = await publishBump(repo, publication());
    repo.push(first.branch, PINS, "{ broken");
    repo.calls.length = 0;
    const error = await refusal(publishBump(repo, publication()));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(new RegExp(`^stacks/amis\\.json on branch ${first.branch}: \\(file\\): is not valid JSON`));
    expect(repo.writes()).toEqual([]);
  });

  it("opens the pull request an earlier run could not (the branch is there, the PR is not)", async () => {
    const repo = new FakeRepository({ [PINS]: REPO_PINS });
    repo.failing.set("createPullRequest", { status: 403, message: "Resource not accessible by integration" });
    const error = await refusal(publishBump(repo, publication()));
    expect(error.message).toMatch(/grant the token pull-requests: write/);
    repo.failing.clear();
    const retry = await publishBump(repo, publication());
    expect(retry.commit?.committed).toBe(false);
    expect(retry.pull?.action).toBe("opened");
    expect(repo.history(retry.branch)).toHaveLength(2);
  });
});
