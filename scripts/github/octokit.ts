/**
 * `Repository` (./repository.ts) over @octokit/rest, with @octokit/plugin-retry (server errors,
 * retried with a growing pause) and @octokit/plugin-throttling (GitHub's primary and secondary
 * rate limits: it waits what GitHub says, spaces writes a second apart as GitHub asks of
 * content-creating calls, and retries). All three are ESM-only: imported here, lazily, which
 * Node 20 does (also from require) but jest cannot, so the tests run this in a child process
 * (test/github/octokit-harness.ts).
 */
import type { NewCommit, NewPullRequest, PullRequestInfo, Repository, RepositoryContext } from "./repository";
import { GitHubApiError } from "./repository";

export interface OctokitRepositoryOptions {
  /** Told when GitHub's rate limit makes a call wait (one line). */
  readonly warn?: (line: string) => void;
  /**
   * Passed to @octokit/plugin-throttling over amiroll's own (tests shorten the waits with
   * `retryAfterBaseValue` and a `write` Bottleneck group of their own).
   */
  readonly throttle?: Readonly<Record<string, unknown>>;
  /** Passed to @octokit/plugin-retry (tests: `retryAfterBaseValue`). */
  readonly retry?: Readonly<Record<string, unknown>>;
}

/** How many times a call that hit a rate limit is retried before amiroll gives up (exit 1). */
const RATE_LIMIT_RETRIES = 3;
/** A rate limit that resets later than this (seconds) is not waited for: the run fails and says so. */
const RATE_LIMIT_MAX_WAIT = 120;

interface OctokitError {
  readonly status?: number;
  readonly message?: string;
  readonly response?: { readonly data?: { readonly message?: unknown; readonly errors?: readonly { readonly message?: unknown }[] } };
}

/** GitHub's own message of an octokit error: `message`, then the first of `errors`. */
function githubMessage(error: OctokitError): string {
  const data = error.response?.data;
  const parts = [typeof data?.message === "string" ? data.message : undefined, ...(data?.errors ?? []).map((e) => (typeof e.message === "string" ? e.message : undefined))];
  const said = parts.filter((p): p is string => !!p).join(": ");
  return said || (error.message ?? "").split("\n")[0];
}

export async function octokitRepository(context: RepositoryContext, options: OctokitRepositoryOptions = {}): Promise<Repository> {
  const [{ Octokit }, { retry }, { throttling }] = await Promise.all([import("@octokit/rest"), import("@octokit/plugin-retry"), import("@octokit/plugin-throttling")]);
  const warn = options.warn ?? (() => {});
  const Client = Octokit.plugin(retry, throttling);
  const limit = (kind: string) => (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
    if (retryCount >= RATE_LIMIT_RETRIES) return false;
    if (retryAfter > RATE_LIMIT_MAX_WAIT) {
      warn(`GitHub's ${kind} rate limit: ${request.method} ${request.url} could go again in ${retryAfter} s, longer than amiroll waits (${RATE_LIMIT_MAX_WAIT} s)`);
      return false;
    }
    warn(`GitHub's ${kind} rate limit: ${request.method} ${request.url} again in ${retryAfter} s (retry ${retryCount + 1} of ${RATE_LIMIT_RETRIES})`);
    return true;
  };
  const octokit = new Client({
    auth: context.token,
    baseUrl: context.apiUrl,
    userAgent: "amiroll",
    // Octokit would print every failed request on stderr (a 404 amiroll expects, for a branch not
    // there yet, included); amiroll reports what failed itself, in one line.
    log: { debug: () => {}, info: () => {}, warn: (message: string) => warn(message), error: () => {} },
    throttle: { onRateLimit: limit("primary"), onSecondaryRateLimit: limit("secondary"), ...options.throttle },
    ...(options.retry && { retry: options.retry }),
  });
  const where = { owner: context.owner, repo: context.repo };

  /** Runs one call; an error answer becomes a GitHubApiError naming `operation`. */
  const call = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      const e = error as OctokitError;
      if (typeof e.status === "number") throw new GitHubApiError(operation, e.status, githubMessage(e));
      throw error;
    }
  };
  /** Like `call`, with a 404 as undefined. */
  const orMissing = async <T>(operation: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call(operation, run);
    } catch (error) {
      if (error instanceof GitHubApiError && error.status === 404) return undefined;
      throw error;
    }
  };

  type PullData = {
    number: number;
    html_url: string;
    state: string;
    merged_at?: string | null;
    merged?: boolean;
    title: string;
    body?: string | null;
    base: { ref: string };
    head: { ref: string; sha: string };
    labels?: readonly ({ name?: string } | string)[];
  };
  const toPull = (data: PullData): PullRequestInfo => ({
    number: data.number,
    url: data.html_url,
    state: data.state === "open" ? "open" : "closed",
    merged: data.merged === true || !!data.merged_at,
    title: data.title,
    body: data.body ?? "",
    base: data.base.ref,
    head: data.head.ref,
    headSha: data.head.sha,
    labels: (data.labels ?? []).map((l) => (typeof l === "string" ? l : (l.name ?? ""))).filter((l) => l !== ""),
  });

  return {
    owner: context.owner,
    repo: context.repo,
    async info() {
      const { data } = await call("read the repository", () => octokit.rest.repos.get(where));
      return { defaultBranch: data.default_branch, ...(data.permissions && { canPush: data.permissions.push }) };
    },
    async branchHead(branch) {
      const answer = await orMissing(`read branch ${branch}`, () => octokit.rest.git.getRef({ ...where, ref: `heads/${branch}` }));
      return answer?.data.object.sha;
    },
    async readFile(path, commit) {
      const answer = await orMissing(`read ${path}`, () => octokit.rest.repos.getContent({ ...where, path, ref: commit }));
      if (!answer) return undefined;
      const data = answer.data as { type?: string; encoding?: string; content?: string };
      if (Array.isArray(answer.data) || data.type !== "file") throw new GitHubApiError(`read ${path}`, 200, "it is not a file");
      if (data.encoding !== "base64" || typeof data.content !== "string") throw new GitHubApiError(`read ${path}`, 200, `encoded as ${data.encoding ?? "nothing"} (a file over 1 MB?)`);
      return Buffer.from(data.content, "base64").toString("utf8");
    },
    async createCommit(commit: NewCommit) {
      const operation = `commit ${commit.path}`;
      const parent = await call(operation, () => octokit.rest.git.getCommit({ ...where, commit_sha: commit.parent }));
      const blob = await call(operation, () => octokit.rest.git.createBlob({ ...where, content: Buffer.from(commit.content, "utf8").toString("base64"), encoding: "base64" }));
      const tree = await call(operation, () =>
        octokit.rest.git.createTree({ ...where, base_tree: parent.data.tree.sha, tree: [{ path: commit.path, mode: "100644", type: "blob", sha: blob.data.sha }] }),
      );
      const created = await call(operation, () => octokit.rest.git.createCommit({ ...where, message: commit.message, tree: tree.data.sha, parents: [commit.parent] }));
      return created.data.sha;
    },
    async createBranch(branch, sha) {
      await call(`create branch ${branch}`, () => octokit.rest.git.createRef({ ...where, ref: `refs/heads/${branch}`, sha }));
    },
    async moveBranch(branch, sha) {
      await call(`update branch ${branch}`, () => octokit.rest.git.updateRef({ ...where, ref: `heads/${branch}`, sha, force: false }));
    },
    async pullRequest(number) {
      const { data } = await call(`read pull request #${number}`, () => octokit.rest.pulls.get({ ...where, pull_number: number }));
      return toPull(data as PullData);
    },
    async pullRequests(head) {
      const { data } = await call(`list the pull requests of ${head}`, () =>
        octokit.rest.pulls.list({ ...where, head: `${context.owner}:${head}`, state: "all", sort: "created", direction: "desc", per_page: 100 }),
      );
      return data.map((p) => toPull(p as PullData)).sort((a, b) => b.number - a.number);
    },
    async createPullRequest(pull: NewPullRequest) {
      const { data } = await call("open a pull request", () => octokit.rest.pulls.create({ ...where, head: pull.head, base: pull.base, title: pull.title, body: pull.body }));
      return toPull(data as PullData);
    },
    async updatePullRequest(number, change) {
      const { data } = await call(`update pull request #${number}`, () => octokit.rest.pulls.update({ ...where, pull_number: number, title: change.title, body: change.body }));
      return toPull(data as PullData);
    },
    async addLabels(number, labels) {
      await call(`label pull request #${number}`, () => octokit.rest.issues.addLabels({ ...where, issue_number: number, labels: [...labels] }));
    },
    async requestReviewers(number, reviewers) {
      const users = reviewers.filter((r) => !r.includes("/"));
      const teams = reviewers.filter((r) => r.includes("/")).map((r) => r.slice(r.indexOf("/") + 1));
      await call(`request reviewers on pull request #${number}`, () =>
        octokit.rest.pulls.requestReviewers({ ...where, pull_number: number, reviewers: users, ...(teams.length && { team_reviewers: teams }) }),
      );
    },
  };
}
