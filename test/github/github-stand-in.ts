/**
 * A small local stand-in for the GitHub REST API on 127.0.0.1: one repository (`acme/infra`) with
 * git objects (blobs, trees, commits), branches, pull requests, labels and review requests, the
 * issue comments of pull requests (what `plan --github`'s sticky comments use), the
 * endpoints amiroll's `octokitRepository` calls and their refusals as GitHub answers them (422 for
 * a ref that exists or a non-fast-forward update, 403 for a token without write access, 404 for
 * another repository, a secondary rate limit on demand). Every request is recorded.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const OWNER = "acme";
export const REPO = "infra";
/** May read and write. */
export const TOKEN = "ghs_write";
/** May read only (an Actions token with contents: read): every write is a 403. */
export const READ_ONLY_TOKEN = "ghs_read_only";

export interface StoredPull {
  number: number;
  head: string;
  base: string;
  title: string;
  body: string;
  state: "open" | "closed";
  merged: boolean;
  labels: string[];
  requestedReviewers: string[];
  requestedTeams: string[];
}

interface Commit {
  readonly tree: string;
  readonly parents: readonly string[];
  readonly message: string;
}

export class GitHubStandIn {
  readonly defaultBranch = "main";
  readonly blobs = new Map<string, string>();
  readonly trees = new Map<string, ReadonlyMap<string, string>>();
  readonly commits = new Map<string, Commit>();
  readonly refs = new Map<string, string>();
  pulls: StoredPull[] = [];
  /** Issue comments of the pull requests, oldest first; `edits` counts the PATCHes of each. */
  comments: { id: number; issue: number; body: string; edits: number }[] = [];
  private nextCommentId = 1;
  /** `METHOD /path?query`, in order. */
  readonly requests: string[] = [];
  /** `METHOD /path` answered once with a secondary rate limit (403, retry-after 1). */
  readonly secondaryLimitOnce = new Set<string>();
  /** `METHOD /path` answered once with the primary rate limit used up (403, resetting in an hour). */
  readonly primaryLimitOnce = new Set<string>();
  /** Runs once, just before a PATCH of a ref is judged (someone pushes). */
  beforeRefUpdate?: () => void;
  /**
   * POST /_control/<n> calls this: a test sets the scene of run n. What it returns (names to
   * values) the harness puts in place of `{NAME}` in that run's arguments.
   */
  onControl: (run: number) => Record<string, string> | void = () => {};
  private server?: Server;
  private counter = 0;
  url = "";

  constructor(files: Record<string, string>) {
    this.refs.set(this.defaultBranch, this.commit({ message: "initial", tree: this.tree(new Map()), parents: [] }, files));
  }

  private sha(kind: string, text: string): string {
    this.counter += 1;
    return createHash("sha1").update(`${kind} ${this.counter} ${text}`).digest("hex");
  }
  private tree(files: ReadonlyMap<string, string>): string {
    const sha = this.sha("tree", [...files].join());
    this.trees.set(sha, files);
    return sha;
  }
  private commit(commit: Commit, files: Record<string, string> = {}): string {
    let tree = commit.tree;
    if (Object.keys(files).length) {
      const entries = new Map(this.trees.get(tree));
      for (const [path, content] of Object.entries(files)) {
        const blob = this.sha("blob", content);
        this.blobs.set(blob, content);
        entries.set(path, blob);
      }
      tree = this.tree(entries);
    }
    const sha = this.sha("commit", commit.message);
    this.commits.set(sha, { ...commit, tree });
    return sha;
  }

  /** Someone pushes a commit changing `files` on `branch`; returns it. */
  push(branch: string, files: Record<string, string>, message = "someone's commit"): string {
    const parent = this.refs.get(branch)!;
    const sha = this.commit({ message, tree: this.commits.get(parent)!.tree, parents: [parent] }, files);
    this.refs.set(branch, sha);
    return sha;
  }

  fileAt(ref: string, path: string): string | undefined {
    const commit = this.commits.get(this.refs.get(ref) ?? ref);
    const blob = commit && this.trees.get(commit.tree)!.get(path);
    return blob === undefined ? undefined : this.blobs.get(blob);
  }

  /** Commit shas reachable from a branch (or a commit) by first parents, newest first. */
  history(ref: string): string[] {
    const out: string[] = [];
    for (let sha: string | undefined = this.refs.get(ref) ?? ref; sha !== undefined; sha = this.commits.get(sha)?.parents[0]) if (this.commits.has(sha)) out.push(sha);
    return out;
  }

  /** The branches and pull requests now (git objects are never deleted, so shas stay readable). */
  snapshot(): { refs: Map<string, string>; pulls: StoredPull[] } {
    return { refs: new Map(this.refs), pulls: structuredClone(this.pulls) };
  }

  message(sha: string): string {
    return this.commits.get(sha)!.message;
  }

  /** Back to the default branch alone, no pull request. */
  reset(): void {
    for (const branch of [...this.refs.keys()]) if (branch !== this.defaultBranch) this.refs.delete(branch);
    this.pulls = [];
  }

  seedPull(pull: Partial<StoredPull> & { head: string }): StoredPull {
    const stored: StoredPull = { number: this.pulls.length + 1, base: this.defaultBranch, title: "t", body: "b", state: "open", merged: false, labels: [], requestedReviewers: [], requestedTeams: [], ...pull };
    this.pulls.push(stored);
    return stored;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => send(res, 500, { message: String(error) }));
    });
    await new Promise<void>((done) => this.server!.listen(0, "127.0.0.1", done));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise((done) => this.server?.close(done));
  }

  private pullJson(p: StoredPull) {
    return {
      number: p.number,
      html_url: `https://github.test/${OWNER}/${REPO}/pull/${p.number}`,
      state: p.state,
      merged: p.merged,
      merged_at: p.merged ? "2026-11-28T00:00:00Z" : null,
      title: p.title,
      body: p.body,
      head: { ref: p.head, label: `${OWNER}:${p.head}`, sha: this.refs.get(p.head) ?? "0".repeat(40) },
      base: { ref: p.base },
      labels: p.labels.map((name) => ({ name })),
    };
  }

  private commentJson(c: { id: number; issue: number; body: string }) {
    return { id: c.id, node_id: `IC_${c.id}`, body: c.body, html_url: `https://github.test/${OWNER}/${REPO}/pull/${c.issue}#issuecomment-${c.id}`, user: { login: "github-actions[bot]" } };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = req.method ?? "GET";
    const path = decodeURIComponent(url.pathname);
    const control = /^\/_control\/(\d+)$/.exec(path);
    if (control) {
      const values = this.onControl(Number(control[1]));
      return values ? send(res, 200, values) : send(res, 204);
    }
    this.requests.push(`${method} ${path}${url.search}`);
    const auth = req.headers.authorization;
    if (auth !== `token ${TOKEN}` && auth !== `token ${READ_ONLY_TOKEN}`) return send(res, 401, { message: "Bad credentials" });
    if (this.secondaryLimitOnce.delete(`${method} ${path}`)) {
      return send(res, 403, { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." }, { "retry-after": "1" });
    }
    if (this.primaryLimitOnce.delete(`${method} ${path}`)) {
      const reset = Math.floor(Date.now() / 1000) + 3600;
      return send(res, 403, { message: "API rate limit exceeded for installation ID 42." }, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) });
    }
    const base = `/repos/${OWNER}/${REPO}`;
    if (path !== base && !path.startsWith(`${base}/`)) return send(res, 404, { message: "Not Found" });
    if (method !== "GET" && auth === `token ${READ_ONLY_TOKEN}`) return send(res, 403, { message: "Resource not accessible by integration" }, { "x-accepted-github-permissions": "contents=write" });
    const rest = path.slice(base.length);
    const body = method === "GET" ? {} : await readJson(req);
    let m: RegExpExecArray | null;

    if (rest === "" && method === "GET") return send(res, 200, { full_name: `${OWNER}/${REPO}`, default_branch: this.defaultBranch });
    if ((m = /^\/git\/ref\/heads\/(.+)$/.exec(rest)) && method === "GET") {
      const sha = this.refs.get(m[1]);
      return sha ? send(res, 200, { ref: `refs/heads/${m[1]}`, object: { sha, type: "commit" } }) : send(res, 404, { message: "Not Found" });
    }
    if ((m = /^\/contents\/(.+)$/.exec(rest)) && method === "GET") {
      const content = this.fileAt(url.searchParams.get("ref") ?? this.defaultBranch, m[1]);
      if (content === undefined) return send(res, 404, { message: "Not Found" });
      return send(res, 200, { type: "file", path: m[1], encoding: "base64", content: Buffer.from(content).toString("base64") });
    }
    if ((m = /^\/git\/commits\/([0-9a-f]{40})$/.exec(rest)) && method === "GET") {
      const commit = this.commits.get(m[1]);
      return commit ? send(res, 200, { sha: m[1], tree: { sha: commit.tree }, parents: commit.parents.map((sha) => ({ sha })), message: commit.message }) : send(res, 404, { message: "Not Found" });
    }
    if (rest === "/git/blobs" && method === "POST") {
      const sha = this.sha("blob", body.content);
      this.blobs.set(sha, body.encoding === "base64" ? Buffer.from(body.content, "base64").toString("utf8") : body.content);
      return send(res, 201, { sha });
    }
    if (rest === "/git/trees" && method === "POST") {
      const entries = new Map(this.trees.get(body.base_tree) ?? []);
      for (const entry of body.tree as { path: string; sha: string }[]) entries.set(entry.path, entry.sha);
      return send(res, 201, { sha: this.tree(entries) });
    }
    if (rest === "/git/commits" && method === "POST") {
      if (!this.trees.has(body.tree) || !(body.parents as string[]).every((p) => this.commits.has(p))) return send(res, 422, { message: "Tree or parent not found" });
      const sha = this.sha("commit", body.message);
      this.commits.set(sha, { tree: body.tree, parents: body.parents, message: body.message });
      return send(res, 201, { sha });
    }
    if (rest === "/git/refs" && method === "POST") {
      const branch = String(body.ref).replace(/^refs\/heads\//, "");
      if (this.refs.has(branch)) return send(res, 422, { message: "Reference already exists" });
      this.refs.set(branch, body.sha);
      return send(res, 201, { ref: body.ref, object: { sha: body.sha } });
    }
    if ((m = /^\/git\/refs\/heads\/(.+)$/.exec(rest)) && method === "PATCH") {
      const hook = this.beforeRefUpdate;
      this.beforeRefUpdate = undefined;
      hook?.();
      const head = this.refs.get(m[1]);
      if (head === undefined) return send(res, 422, { message: "Reference does not exist" });
      let fastForward = false;
      for (let at: string | undefined = body.sha; at !== undefined; at = this.commits.get(at)?.parents[0]) if (at === head) fastForward = true;
      if (!fastForward && !body.force) return send(res, 422, { message: "Update is not a fast forward" });
      this.refs.set(m[1], body.sha);
      return send(res, 200, { ref: `refs/heads/${m[1]}`, object: { sha: body.sha } });
    }
    if (rest === "/pulls" && method === "GET") {
      const head = url.searchParams.get("head") ?? "";
      const state = url.searchParams.get("state") ?? "open";
      const found = this.pulls.filter((p) => `${OWNER}:${p.head}` === head && (state === "all" || p.state === state)).sort((a, b) => b.number - a.number);
      return send(res, 200, found.map((p) => this.pullJson(p)));
    }
    if (rest === "/pulls" && method === "POST") {
      if (!this.refs.has(body.head)) return send(res, 422, { message: "Validation Failed", errors: [{ message: `head ${body.head} does not exist` }] });
      if (this.pulls.some((p) => p.head === body.head && p.state === "open")) {
        return send(res, 422, { message: "Validation Failed", errors: [{ message: `A pull request already exists for ${OWNER}:${body.head}.` }] });
      }
      return send(res, 201, this.pullJson(this.seedPull({ head: body.head, base: body.base, title: body.title, body: body.body })));
    }
    if ((m = /^\/issues\/comments\/(\d+)$/.exec(rest))) {
      const comment = this.comments.find((c) => c.id === Number(m![1]));
      if (!comment) return send(res, 404, { message: "Not Found" });
      if (method === "PATCH") {
        comment.body = body.body;
        comment.edits += 1;
        return send(res, 200, this.commentJson(comment));
      }
      if (method === "DELETE") {
        this.comments = this.comments.filter((c) => c !== comment);
        return send(res, 204);
      }
      if (method === "GET") return send(res, 200, this.commentJson(comment));
    }
    const pull = (m = /^\/(?:pulls|issues)\/(\d+)(\/.*)?$/.exec(rest)) ? this.pulls.find((p) => p.number === Number(m![1])) : undefined;
    if (m && !pull) return send(res, 404, { message: "Not Found" });
    if (pull && m![2] === undefined && method === "GET") return send(res, 200, this.pullJson(pull));
    if (pull && m![2] === undefined && method === "PATCH") {
      if (body.title !== undefined) pull.title = body.title;
      if (body.body !== undefined) pull.body = body.body;
      return send(res, 200, this.pullJson(pull));
    }
    if (pull && m![2] === "/comments" && method === "GET") {
      return send(res, 200, this.comments.filter((c) => c.issue === pull.number).map((c) => this.commentJson(c)));
    }
    if (pull && m![2] === "/comments" && method === "POST") {
      const comment = { id: this.nextCommentId++, issue: pull.number, body: String(body.body), edits: 0 };
      this.comments.push(comment);
      return send(res, 201, this.commentJson(comment));
    }
    if (pull && m![2] === "/labels" && method === "POST") {
      for (const label of body.labels as string[]) if (!pull.labels.includes(label)) pull.labels.push(label);
      return send(res, 200, pull.labels.map((name) => ({ name })));
    }
    if (pull && m![2] === "/requested_reviewers" && method === "POST") {
      pull.requestedReviewers.push(...((body.reviewers ?? []) as string[]));
      pull.requestedTeams.push(...((body.team_reviewers ?? []) as string[]));
      return send(res, 201, this.pullJson(pull));
    }
    return send(res, 404, { message: "Not Found" });
  }

  /** Requests that changed something (not GET), in order. */
  writes(): string[] {
    return this.requests.filter((r) => !r.startsWith("GET "));
  }
}

function send(res: ServerResponse, status: number, value?: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...(value === undefined ? {} : { "content-type": "application/json; charset=utf-8" }), ...headers });
  res.end(value === undefined ? undefined : JSON.stringify(value));
}

async function readJson(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : {};
}
