/**
 * An in-memory GitHub repository behind the `Repository` interface (scripts/github/repository.ts):
 * commits with their files, branches, pull requests, and every write made, so a test can check
 * the order of calls and that nothing is left half committed. Faults are injected per method
 * (`failing`) or as a push that lands between amiroll's read and its ref update (`onBeforeRefUpdate`).
 */
import { createHash } from "node:crypto";
import {
  GitHubApiError,
  type NewCommit,
  type NewPullRequest,
  type PullRequestInfo,
  type Repository,
  type RepositoryInfo,
} from "../../scripts/github/repository";

interface StoredCommit {
  readonly sha: string;
  readonly parent?: string;
  readonly message: string;
  readonly files: ReadonlyMap<string, string>;
}

type Method = Exclude<keyof Repository, "owner" | "repo">;

export class FakeRepository implements Repository {
  readonly owner = "acme";
  readonly repo = "infra";
  defaultBranch = "main";
  canPush: boolean | undefined = undefined;
  exists = true;
  readonly commits = new Map<string, StoredCommit>();
  readonly branches = new Map<string, string>();
  pulls: PullRequestInfo[] = [];
  /** Every call, e.g. `createCommit main~0`, in order. */
  readonly calls: string[] = [];
  /** Methods that answer with this status and message instead of doing their work. */
  readonly failing = new Map<Method, { status: number; message: string }>();
  /** Runs just before createBranch / moveBranch does its work (someone pushes). */
  onBeforeRefUpdate?: () => void;
  /** Runs once createCommit has made its commit (someone force-pushes meanwhile). */
  onAfterCreateCommit?: () => void;
  private counter = 0;

  constructor(files: Record<string, string> = {}) {
    const root = this.store({ message: "initial", files: new Map(Object.entries(files)) });
    this.branches.set(this.defaultBranch, root);
  }

  private store(commit: Omit<StoredCommit, "sha">): string {
    this.counter += 1;
    const sha = createHash("sha1").update(`commit ${this.counter}`).digest("hex");
    this.commits.set(sha, { sha, ...commit });
    return sha;
  }

  /** Someone else pushes a change of `path` on `branch`. */
  push(branch: string, path: string, content: string, message = "someone's commit"): string {
    const parent = this.branches.get(branch)!;
    const files = new Map(this.commits.get(parent)!.files);
    files.set(path, content);
    const sha = this.store({ parent, message, files });
    this.branches.set(branch, sha);
    return sha;
  }

  fileAt(branch: string, path: string): string | undefined {
    const head = this.branches.get(branch);
    return head === undefined ? undefined : this.commits.get(head)!.files.get(path);
  }

  /** Commits reachable from a branch, newest first. */
  history(branch: string): StoredCommit[] {
    const out: StoredCommit[] = [];
    for (let sha = this.branches.get(branch); sha !== undefined; sha = this.commits.get(sha)!.parent) out.push(this.commits.get(sha)!);
    return out;
  }

  /** Write calls only (what changed GitHub). */
  writes(): string[] {
    return this.calls.filter((c) => /^(createCommit|createBranch|moveBranch|createPullRequest|updatePullRequest|addLabels|requestReviewers)\b/.test(c));
  }

  private enter(method: Method, detail: string): void {
    this.calls.push(`${method} ${detail}`.trim());
    const failure = this.failing.get(method);
    if (failure) throw new GitHubApiError(method, failure.status, failure.message);
  }

  async info(): Promise<RepositoryInfo> {
    this.enter("info", "");
    if (!this.exists) throw new GitHubApiError("read the repository", 404, "Not Found");
    return { defaultBranch: this.defaultBranch, ...(this.canPush !== undefined && { canPush: this.canPush }) };
  }
  async branchHead(branch: string): Promise<string | undefined> {
    this.enter("branchHead", branch);
    return this.branches.get(branch);
  }
  async readFile(path: string, commit: string): Promise<string | undefined> {
    this.enter("readFile", `${path}@${commit.slice(-4)}`);
    const stored = this.commits.get(commit);
    if (!stored) throw new GitHubApiError(`read ${path}`, 404, "No commit found for the ref");
    return stored.files.get(path);
  }
  async createCommit(commit: NewCommit): Promise<string> {
    this.enter("createCommit", `on ${commit.parent.slice(-4)}`);
    const parent = this.commits.get(commit.parent);
    if (!parent) throw new GitHubApiError("create a commit", 422, "parent not found");
    const files = new Map(parent.files);
    files.set(commit.path, commit.content);
    const sha = this.store({ parent: commit.parent, message: commit.message, files });
    this.onAfterCreateCommit?.();
    return sha;
  }
  async createBranch(branch: string, sha: string): Promise<void> {
    this.enter("createBranch", branch);
    this.onBeforeRefUpdate?.();
    if (this.branches.has(branch)) throw new GitHubApiError(`create branch ${branch}`, 422, "Reference already exists");
    this.branches.set(branch, sha);
  }
  async moveBranch(branch: string, sha: string): Promise<void> {
    this.enter("moveBranch", branch);
    this.onBeforeRefUpdate?.();
    const head = this.branches.get(branch);
    if (head === undefined) throw new GitHubApiError(`update branch ${branch}`, 422, "Reference does not exist");
    // A fast-forward only: the new commit must descend from the head.
    let descends = false;
    for (let at: string | undefined = sha; at !== undefined; at = this.commits.get(at)?.parent) if (at === head) descends = true;
    if (!descends) throw new GitHubApiError(`update branch ${branch}`, 422, "Update is not a fast forward");
    this.branches.set(branch, sha);
  }
  async pullRequest(number: number): Promise<PullRequestInfo> {
    this.enter("pullRequest", `#${number}`);
    const pull = this.pulls.find((p) => p.number === number);
    if (!pull) throw new GitHubApiError(`read pull request #${number}`, 404, "Not Found");
    return { ...pull, headSha: this.branches.get(pull.head) ?? pull.headSha };
  }
  async pullRequests(head: string): Promise<readonly PullRequestInfo[]> {
    this.enter("pullRequests", head);
    return this.pulls.filter((p) => this.heads.get(p.number) === head).map((p) => ({ ...p, headSha: this.branches.get(p.head) ?? p.headSha })).sort((a, b) => b.number - a.number);
  }
  private readonly heads = new Map<number, string>();
  async createPullRequest(pull: NewPullRequest): Promise<PullRequestInfo> {
    this.enter("createPullRequest", pull.head);
    if (this.pulls.some((p) => p.state === "open" && this.heads.get(p.number) === pull.head)) {
      throw new GitHubApiError("open a pull request", 422, `A pull request already exists for acme:${pull.head}.`);
    }
    const number = this.pulls.length + 1;
    const created: PullRequestInfo = { number, url: `https://github.test/acme/infra/pull/${number}`, state: "open", merged: false, title: pull.title, body: pull.body, base: pull.base, head: pull.head, headSha: this.branches.get(pull.head) ?? "", labels: [] };
    this.pulls.push(created);
    this.heads.set(number, pull.head);
    return created;
  }
  /** A pull request opened by someone else (or an earlier run) for `head`. */
  seedPull(head: string, change: Partial<PullRequestInfo> = {}): PullRequestInfo {
    const number = this.pulls.length + 1;
    const pull: PullRequestInfo = { number, url: `https://github.test/acme/infra/pull/${number}`, state: "open", merged: false, title: "t", body: "b", base: "main", head, headSha: this.branches.get(head) ?? "", labels: [], ...change };
    this.pulls.push(pull);
    this.heads.set(number, head);
    return pull;
  }
  setPull(number: number, change: Partial<PullRequestInfo>): void {
    this.pulls = this.pulls.map((p) => (p.number === number ? { ...p, ...change } : p));
  }
  async updatePullRequest(number: number, change: { title: string; body: string }): Promise<PullRequestInfo> {
    this.enter("updatePullRequest", `#${number}`);
    this.setPull(number, change);
    return this.pulls.find((p) => p.number === number)!;
  }
  async addLabels(number: number, labels: readonly string[]): Promise<void> {
    this.enter("addLabels", `#${number} ${labels.join(",")}`);
    const pull = this.pulls.find((p) => p.number === number)!;
    this.setPull(number, { labels: [...new Set([...pull.labels, ...labels])] });
  }
  readonly reviewRequests: string[] = [];
  async requestReviewers(number: number, reviewers: readonly string[]): Promise<void> {
    this.enter("requestReviewers", `#${number} ${reviewers.join(",")}`);
    this.reviewRequests.push(...reviewers);
  }
}
