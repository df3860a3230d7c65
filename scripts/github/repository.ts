/**
 * Writing to a GitHub repository through the REST API only (no git binary, no checkout needed):
 * read a file at a commit, commit a change of one file to a branch only while the branch head is
 * still the commit amiroll read, create a branch, find, open and update the pull request of a
 * branch, label it and request reviewers.
 *
 * All of it goes through `Repository`, the few calls amiroll makes: tests pass an in-memory fake
 * (test/github/fake-repository.ts), the CLI passes `octokitRepository(context)` (./octokit.ts,
 * @octokit/rest with the retry and throttling plugins, loaded lazily because it is ESM-only and
 * jest on Node 20 cannot load it).
 *
 * What GitHub refuses becomes one line saying what to do: `GitHubRefusal` (exit 1: GitHub said
 * no; grant a permission, run again) or a `UsageError` (exit 2: the input is wrong; no such
 * repository, a bad token). Every check that can be made before the first write is made before
 * it, and a commit becomes visible only through one ref update that GitHub refuses when the
 * branch moved: nothing is ever half committed (an object created before a refused ref update is
 * unreachable, and GitHub collects it).
 */
import { UsageError } from "../core/errors";

// ---------------------------------------------------------------------------------------------
// Where: the repository and the token

export interface RepositoryContext {
  readonly token: string;
  readonly owner: string;
  readonly repo: string;
  /** e.g. `https://api.github.com`, or `https://HOST/api/v3` on GitHub Enterprise Server. */
  readonly apiUrl: string;
}

const DEFAULT_API_URL = "https://api.github.com";
const OWNER_REPO = /^([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9._-]+)$/;

/**
 * The repository to write to: `repo` (`--repo owner/name`) or GITHUB_REPOSITORY, the token from
 * GITHUB_TOKEN (else GH_TOKEN), the API from GITHUB_API_URL. `flag` names the option that needs
 * them in the one-line UsageError for what is missing.
 */
export function repositoryContextFromEnv(flag: string, repo?: string, env: NodeJS.ProcessEnv = process.env): RepositoryContext {
  const set = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const repository = repo?.trim() || set("GITHUB_REPOSITORY");
  if (!repository) {
    throw new UsageError(`${flag}: no repository: pass --repo owner/name, or set GITHUB_REPOSITORY (GitHub Actions sets it)`);
  }
  const match = OWNER_REPO.exec(repository);
  if (!match || match[2] === "." || match[2] === "..") {
    throw new UsageError(`${flag}: ${repo?.trim() ? "--repo" : "GITHUB_REPOSITORY"} is ${JSON.stringify(repository)}, expected owner/name`);
  }
  const token = set("GITHUB_TOKEN") ?? set("GH_TOKEN");
  if (!token) {
    throw new UsageError(
      `${flag}: GITHUB_TOKEN is not set (nor GH_TOKEN): pass a token that may write contents and pull requests (in a workflow: env GITHUB_TOKEN: \${{ github.token }} with permissions contents: write, pull-requests: write)`,
    );
  }
  const apiUrl = (set("GITHUB_API_URL") ?? DEFAULT_API_URL).replace(/\/+$/, "");
  if (!/^https?:\/\/[^/\s]+/.test(apiUrl) || !URL.canParse(apiUrl)) {
    throw new UsageError(`${flag}: GITHUB_API_URL is ${JSON.stringify(apiUrl)}, expected an http(s) URL such as ${DEFAULT_API_URL}`);
  }
  return { token, owner: match[1], repo: match[2], apiUrl };
}

// ---------------------------------------------------------------------------------------------
// The calls

export interface RepositoryInfo {
  readonly defaultBranch: string;
  /**
   * Whether the token may push, when GitHub says (it does for user tokens; an Actions or App
   * token gets no `permissions` in the answer: undefined, and the first write tells).
   */
  readonly canPush?: boolean;
}

export interface PullRequestInfo {
  readonly number: number;
  readonly url: string;
  readonly state: "open" | "closed";
  readonly merged: boolean;
  readonly title: string;
  readonly body: string;
  /** The branch it merges into. */
  readonly base: string;
  /** Its branch (in this repository, for the pull requests amiroll writes to). */
  readonly head: string;
  /** The commit its branch pointed at when GitHub answered. */
  readonly headSha: string;
  readonly labels: readonly string[];
}

export interface NewPullRequest {
  readonly head: string;
  readonly base: string;
  readonly title: string;
  readonly body: string;
}

/** One file's new content in a commit on top of `parent`. */
export interface NewCommit {
  readonly parent: string;
  readonly path: string;
  readonly content: string;
  readonly message: string;
}

/**
 * The GitHub calls amiroll makes. An implementation throws `GitHubApiError` for any answer that
 * is not a success, except where a method says what it returns instead.
 */
export interface Repository {
  readonly owner: string;
  readonly repo: string;
  /** GET the repository (404: it does not exist, or the token cannot see it). */
  info(): Promise<RepositoryInfo>;
  /** The commit a branch points at; undefined when there is no such branch. */
  branchHead(branch: string): Promise<string | undefined>;
  /** A file's text at a commit; undefined when the file is not there. */
  readFile(path: string, commit: string): Promise<string | undefined>;
  /**
   * Creates the commit (blob, tree on the parent's, commit) and returns its sha. Moves no branch:
   * until `createBranch` or `moveBranch` points at it, nobody sees it.
   */
  createCommit(commit: NewCommit): Promise<string>;
  /** Creates `refs/heads/BRANCH` at `sha`; GitHub answers 422 when it exists. */
  createBranch(branch: string, sha: string): Promise<void>;
  /** Moves a branch to `sha`, a fast-forward only (never force); GitHub answers 422 otherwise. */
  moveBranch(branch: string, sha: string): Promise<void>;
  /** One pull request by number (404: GitHubApiError): e.g. the branch a `verify --commit` commits to. */
  pullRequest(number: number): Promise<PullRequestInfo>;
  /** The pull requests whose head is this branch of this repository, any state, newest first. */
  pullRequests(head: string): Promise<readonly PullRequestInfo[]>;
  createPullRequest(pull: NewPullRequest): Promise<PullRequestInfo>;
  updatePullRequest(number: number, change: { readonly title: string; readonly body: string }): Promise<PullRequestInfo>;
  addLabels(number: number, labels: readonly string[]): Promise<void>;
  /** Users by login, teams as `org/team-slug` (or a bare slug). */
  requestReviewers(number: number, reviewers: readonly string[]): Promise<void>;
}

/** A GitHub answer that is not a success: the call, the HTTP status and GitHub's message. */
export class GitHubApiError extends Error {
  constructor(
    /** What amiroll asked, e.g. `create a commit`. */
    readonly operation: string,
    readonly status: number,
    readonly githubMessage: string,
  ) {
    super(`${operation}: GitHub answered ${status}${githubMessage ? ` (${githubMessage})` : ""}`);
    this.name = "GitHubApiError";
  }
}

/** GitHub refused a write, or the repository is not in the state amiroll read (exit 1). One line: what to do. */
export class GitHubRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GitHubRefusal";
  }
}

/** The branch moved between amiroll's read and its ref update (someone pushed): nothing was committed. */
export class BranchMovedError extends GitHubRefusal {
  constructor(
    readonly branch: string,
    detail: string,
    rerun: string,
  ) {
    super(`branch ${branch} moved since amiroll read it (${detail}): nothing was committed; ${rerun}`);
    this.name = "BranchMovedError";
  }
}

const firstLine = (text: string) => text.split("\n")[0].trim();

/**
 * The one line for an error of a call to `repo`: a 401 is the token (exit 2), a rate limit
 * still hit after the throttling plugin's retries says so, a 403 or 404 on a write is a missing
 * permission (`permission`, exit 1); anything else passes through as exit 1 with GitHub's message.
 */
export function explainGitHubError(error: unknown, repo: Pick<Repository, "owner" | "repo">, permission: "contents" | "pull-requests"): Error {
  if (!(error instanceof GitHubApiError)) return error instanceof Error ? error : new Error(String(error));
  const where = `${repo.owner}/${repo.repo}`;
  const said = `GitHub answered ${error.status}${error.githubMessage ? ` ${firstLine(error.githubMessage)}` : ""}`;
  if (error.status === 401) {
    return new UsageError(`GitHub refused the token (${said}): GITHUB_TOKEN is wrong or expired`);
  }
  if ((error.status === 403 || error.status === 429) && /rate limit/i.test(error.githubMessage)) {
    return new GitHubRefusal(`cannot ${error.operation} in ${where} (${said}): GitHub's rate limit for this token is used up; run again once it resets (nothing was half committed)`);
  }
  if (error.status === 403 || error.status === 404) {
    const grant =
      permission === "contents"
        ? "grant the token contents: write (workflow: permissions: contents: write; a fine-grained token: Contents read and write)"
        : "grant the token pull-requests: write (workflow: permissions: pull-requests: write; a fine-grained token: Pull requests read and write)";
    return new GitHubRefusal(`cannot ${error.operation} in ${where} (${said}): ${grant}`);
  }
  return new GitHubRefusal(`cannot ${error.operation} in ${where} (${said})`);
}

// ---------------------------------------------------------------------------------------------
// Reading the repository: checks before any write

/**
 * The repository, checked: it exists for this token (a 404 is the input's fault: exit 2), and
 * the token may push when GitHub says so.
 */
export async function checkRepository(repo: Repository): Promise<RepositoryInfo> {
  let info: RepositoryInfo;
  try {
    info = await repo.info();
  } catch (error) {
    if (error instanceof GitHubApiError && error.status === 404) {
      throw new UsageError(
        `repository ${repo.owner}/${repo.repo} does not exist, or the token cannot see it: check --repo or GITHUB_REPOSITORY (and, for a private repository, that the token may read it)`,
      );
    }
    throw explainGitHubError(error, repo, "contents");
  }
  if (info.canPush === false) {
    throw new GitHubRefusal(
      `the token may not push to ${repo.owner}/${repo.repo}: grant it contents: write (workflow: permissions: contents: write; a fine-grained token: Contents read and write)`,
    );
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// Committing one file

export interface FileChange {
  readonly branch: string;
  /** The file's path in the repository (forward slashes, no leading slash). */
  readonly path: string;
  /**
   * The file's new text from its text at the branch head (undefined: no such file there).
   * Returning the same text commits nothing.
   */
  readonly edit: (current: string | undefined) => string;
  readonly message: string;
  /**
   * The commit the caller read the branch at (e.g. the PR head CI checked out): anything else at
   * the branch head is refused before any write. Default: whatever the head is when read.
   */
  readonly expectedHead?: string;
  /** When the branch does not exist: create it from this branch's head (else: refused, exit 1). */
  readonly createFrom?: string;
  /** What the one-line refusal of a moved branch tells the user to do. Default: run the same command again. */
  readonly rerun?: string;
}

export interface FileCommit {
  readonly branch: string;
  /** The commit the change went on top of (the head amiroll read). */
  readonly parent: string;
  /** The new head; equal to `parent` when nothing was committed. */
  readonly head: string;
  readonly committed: boolean;
  readonly createdBranch: boolean;
}

/**
 * Commits a change of one file to a branch, only if the branch head is still the commit amiroll
 * read: reads the head, reads the file at that commit, creates blob, tree and commit on top of
 * it, then moves the branch without force (or creates it at the commit, when it is new), so
 * that GitHub refuses it if anyone pushed in between. An identical text commits nothing (and
 * creates no branch).
 */
export async function commitFileChange(repo: Repository, change: FileChange): Promise<FileCommit> {
  const rerun = change.rerun ?? "run the same command again";
  const read = async <T>(what: Promise<T>): Promise<T> => {
    try {
      return await what;
    } catch (error) {
      throw explainGitHubError(error, repo, "contents");
    }
  };
  const head = await read(repo.branchHead(change.branch));
  let parent: string;
  if (head === undefined) {
    if (change.createFrom === undefined) {
      throw new GitHubRefusal(`branch ${change.branch} does not exist in ${repo.owner}/${repo.repo} (deleted meanwhile?): nothing was committed`);
    }
    if (change.expectedHead !== undefined) {
      throw new BranchMovedError(change.branch, `it was at ${short(change.expectedHead)} and is gone now`, rerun);
    }
    const base = await read(repo.branchHead(change.createFrom));
    if (base === undefined) throw new GitHubRefusal(`branch ${change.createFrom} does not exist in ${repo.owner}/${repo.repo}: nothing was committed`);
    parent = base;
  } else {
    if (change.expectedHead !== undefined && head !== change.expectedHead) {
      throw new BranchMovedError(change.branch, `it was at ${short(change.expectedHead)}, it is at ${short(head)} now`, rerun);
    }
    parent = head;
  }
  const current = await read(repo.readFile(change.path, parent));
  const next = change.edit(current);
  if (next === current) return { branch: change.branch, parent, head: parent, committed: false, createdBranch: false };

  let commit: string;
  try {
    commit = await repo.createCommit({ parent, path: change.path, content: next, message: change.message });
  } catch (error) {
    throw explainGitHubError(error, repo, "contents");
  }
  if (head !== undefined) {
    // GitHub takes any fast-forward: a branch force-pushed back to an ancestor of `parent` since
    // the read would take our commit on top of what its pusher removed. Read it again just before.
    const now = await read(repo.branchHead(change.branch));
    if (now !== parent) throw new BranchMovedError(change.branch, now === undefined ? "it was deleted" : `it was at ${short(parent)}, it is at ${short(now)} now`, rerun);
  }
  try {
    if (head === undefined) await repo.createBranch(change.branch, commit);
    else await repo.moveBranch(change.branch, commit);
  } catch (error) {
    if (error instanceof GitHubApiError && error.status === 422) {
      throw new BranchMovedError(change.branch, head === undefined ? "someone created it meanwhile" : `it was at ${short(parent)}; someone pushed`, rerun);
    }
    throw explainGitHubError(error, repo, "contents");
  }
  return { branch: change.branch, parent, head: commit, committed: true, createdBranch: head === undefined };
}

const short = (sha: string) => sha.slice(0, 12);

// ---------------------------------------------------------------------------------------------
// The pull request of a branch

/**
 * The open pull request of `branch`, if any; refused (before any write) when the branch's newest
 * pull request was closed or merged: someone decided about it, and amiroll does not reopen that
 * decision by opening a second one.
 */
export async function openPullRequestOf(repo: Repository, branch: string, branchExists: boolean): Promise<PullRequestInfo | undefined> {
  let pulls: readonly PullRequestInfo[];
  try {
    pulls = await repo.pullRequests(branch);
  } catch (error) {
    throw explainGitHubError(error, repo, "pull-requests");
  }
  const open = pulls.find((p) => p.state === "open");
  if (open) return open;
  // A branch deleted after its pull request closed starts afresh.
  const newest = pulls[0];
  if (!newest || !branchExists) return undefined;
  if (newest.merged) {
    throw new GitHubRefusal(
      `pull request #${newest.number} of branch ${branch} was merged meanwhile (${newest.url}): run amiroll again from the updated ${newest.base}; if the change is still needed, delete branch ${branch} first`,
    );
  }
  throw new GitHubRefusal(
    `pull request #${newest.number} of branch ${branch} was closed without merging (${newest.url}): reopen it, or delete branch ${branch} to let amiroll open a new one`,
  );
}

export interface PullRequestSettings {
  readonly branch: string;
  readonly base: string;
  readonly title: string;
  readonly body: string;
  readonly labels?: readonly string[];
  /** Requested on a new pull request only (a re-request would ping them again on every run). */
  readonly reviewers?: readonly string[];
}

export interface PullRequestResult {
  readonly pull: PullRequestInfo;
  readonly action: "opened" | "updated" | "unchanged";
  readonly labelsAdded: readonly string[];
  readonly reviewersRequested: readonly string[];
  /** What GitHub refused after the pull request was there (a reviewer who is not a collaborator): warnings. */
  readonly warnings: readonly string[];
}

/**
 * Updates `existing` (title and body, when they differ) or opens the branch's pull request; adds
 * the labels it lacks; requests reviewers on a new one. A pull request opened by a racing run
 * meanwhile (GitHub: 422, one already exists) is found and updated instead.
 */
export async function openOrUpdatePullRequest(repo: Repository, settings: PullRequestSettings, existing: PullRequestInfo | undefined): Promise<PullRequestResult> {
  const write = async <T>(what: () => Promise<T>): Promise<T> => {
    try {
      return await what();
    } catch (error) {
      throw explainGitHubError(error, repo, "pull-requests");
    }
  };
  let pull = existing;
  let action: PullRequestResult["action"];
  if (pull === undefined) {
    try {
      pull = await repo.createPullRequest({ head: settings.branch, base: settings.base, title: settings.title, body: settings.body });
      action = "opened";
    } catch (error) {
      if (!(error instanceof GitHubApiError && error.status === 422)) throw explainGitHubError(error, repo, "pull-requests");
      const raced = await openPullRequestOf(repo, settings.branch, true);
      if (!raced) throw explainGitHubError(error, repo, "pull-requests");
      pull = raced;
      action = "unchanged";
    }
  } else {
    action = "unchanged";
  }
  if (action !== "opened" && (pull.title !== settings.title || pull.body !== settings.body)) {
    const number = pull.number;
    pull = await write(() => repo.updatePullRequest(number, { title: settings.title, body: settings.body }));
    action = "updated";
  }
  if (pull.state !== "open") {
    throw new GitHubRefusal(
      `pull request #${pull.number} of branch ${settings.branch} was ${pull.merged ? "merged" : "closed"} while amiroll updated it (${pull.url}): ${pull.merged ? "run amiroll again from the updated base branch" : `reopen it, or delete branch ${settings.branch} to let amiroll open a new one`}`,
    );
  }
  const warnings: string[] = [];
  const labelsAdded = (settings.labels ?? []).filter((label) => !pull!.labels.includes(label));
  if (labelsAdded.length) {
    const number = pull.number;
    await write(() => repo.addLabels(number, labelsAdded));
  }
  let reviewersRequested: string[] = [];
  if (action === "opened" && settings.reviewers?.length) {
    try {
      await repo.requestReviewers(pull.number, settings.reviewers);
      reviewersRequested = [...settings.reviewers];
    } catch (error) {
      // The pull request is open: a reviewer GitHub will not take is a warning, not a failure.
      if (!(error instanceof GitHubApiError && error.status === 422)) throw explainGitHubError(error, repo, "pull-requests");
      warnings.push(`GitHub would not request reviews from ${settings.reviewers.join(", ")} on #${pull.number} (${firstLine(error.githubMessage)}): reviewers must be collaborators (teams: org/team with access)`);
    }
  }
  return { pull, action, labelsAdded, reviewersRequested, warnings };
}

// ---------------------------------------------------------------------------------------------
// Input checks

/** A GitHub login, or `org/team-slug` (amiroll.schema.json uses the same pattern). */
export const REVIEWER_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\/[A-Za-z0-9._-]+)?$/;

/** `--reviewer`: a login, or `org/team-slug`. */
export function reviewerProblem(reviewer: string): string | undefined {
  return REVIEWER_PATTERN.test(reviewer) ? undefined : `${JSON.stringify(reviewer)} is not a GitHub login or org/team`;
}

/** `--label`: any text GitHub takes as a label name (1 to 50 characters, no line break). */
export function labelProblem(label: string): string | undefined {
  if (label.trim() === "" || label.length > 50 || /[\r\n]/.test(label)) return `${JSON.stringify(label)} is not a label name (1 to 50 characters, no line break)`;
  return undefined;
}
