import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { UsageError } from "../../scripts/core/errors";
import {
  GITHUB_COMMENT_LIMIT,
  describeStickyResult,
  githubContextFromEnv,
  parseStickyMarker,
  postStickyComments,
  stickyMarker,
  type IssueComment,
  type PullRequestComments,
  type StickyResult,
} from "../../scripts/terraform/github";

/** Bodies of one environment's comment in `parts` parts, each with its marker line. */
const plan = (env: string, parts: number, text = "plan"): string[] =>
  Array.from({ length: parts }, (_, i) => `${stickyMarker(env, i + 1, parts)}\n### ${env} ${text} (${i + 1}/${parts})`);

interface StoredComment extends IssueComment {
  readonly author: string;
}

/** An in-memory pull request: comments by id, and every call made. */
class FakePullRequest implements PullRequestComments {
  comments: StoredComment[] = [];
  calls: string[] = [];
  private nextId = 100;

  seed(author: string, body: string): StoredComment {
    const comment = { id: this.nextId++, body, url: `https://github.test/pr/1#issuecomment-${this.nextId - 1}`, author };
    this.comments.push(comment);
    return comment;
  }
  bodies(): string[] {
    return [...this.comments].sort((a, b) => a.id - b.id).map((c) => c.body);
  }
  async list(): Promise<readonly IssueComment[]> {
    this.calls.push("list");
    return this.comments.map(({ id, body, url }) => ({ id, body, url }));
  }
  async create(body: string): Promise<IssueComment> {
    this.calls.push("create");
    const { id, url } = this.seed("github-actions[bot]", body);
    return { id, body, url };
  }
  async update(id: number, body: string): Promise<IssueComment> {
    this.calls.push(`update ${id}`);
    const index = this.comments.findIndex((c) => c.id === id);
    if (index < 0) throw new Error(`no comment ${id}`);
    this.comments[index] = { ...this.comments[index], body };
    return { id, body, url: this.comments[index].url };
  }
  async delete(id: number): Promise<void> {
    this.calls.push(`delete ${id}`);
    this.comments = this.comments.filter((c) => c.id !== id);
  }
}

const ids = (posted: readonly { id: number }[]) => posted.map((p) => p.id);

describe("sticky markers", () => {
  it("is one hidden line naming environment and part, and parses back", () => {
    expect(stickyMarker("staging", 1, 2)).toBe("<!-- amiroll:plan env=staging part=1/2 -->");
    expect(parseStickyMarker(`${stickyMarker("production", 3, 3)}\nrest`)).toEqual({
      env: "production",
      part: 3,
      parts: 3,
    });
    expect(parseStickyMarker(`${stickyMarker("production", 1, 1)}\r\nedited on the web`)).toEqual({ env: "production", part: 1, parts: 1 });
    expect(parseStickyMarker(stickyMarker("staging", 1, 1))).toEqual({ env: "staging", part: 1, parts: 1 });
    expect(parseStickyMarker("LGTM, <!-- amiroll:plan env=staging --> nope")).toBeUndefined();
    expect(parseStickyMarker("<!-- amiroll:plan env=staging part=3/2 -->")).toBeUndefined();
  });

  it("counts only as the very first line: a marker anywhere else in a body is text", () => {
    // Where a plan's own text lands (a table cell, a code span, the diff), or a human quotes one.
    expect(parseStickyMarker(`intro\n${stickyMarker("production", 3, 3)}\nrest`)).toBeUndefined();
    expect(parseStickyMarker(` ${stickyMarker("production", 1, 1)}`)).toBeUndefined();
    expect(parseStickyMarker(`${stickyMarker("production", 1, 1)} and more on the line`)).toBeUndefined();
    expect(parseStickyMarker(`${stickyMarker("staging", 1, 1)}\n| \`${stickyMarker("production", 1, 1)}\` |`)).toEqual({ env: "staging", part: 1, parts: 1 });
  });

  it("refuses what cannot be a marker", () => {
    expect(() => stickyMarker("stag ing", 1, 1)).toThrow(/environment name/);
    expect(() => stickyMarker("staging -->", 1, 1)).toThrow(/environment name/);
    expect(() => stickyMarker("staging", 0, 1)).toThrow(/part 0\/1/);
    expect(() => stickyMarker("staging", 2, 1)).toThrow(/part 2\/1/);
  });
});

describe("postStickyComments", () => {
  it("creates every part on the first run", async () => {
    const pr = new FakePullRequest();
    const result = await postStickyComments(pr, "staging", plan("staging", 2));
    expect(pr.bodies()).toEqual(plan("staging", 2));
    expect(result.created.map((p) => p.part)).toEqual([1, 2]);
    expect([result.updated, result.unchanged, result.deleted]).toEqual([[], [], []]);
    expect(result.parts.map((p) => p.url)).toEqual(pr.comments.map((c) => c.url));
    expect(pr.calls).toEqual(["list", "create", "create"]);
  });

  it("edits the same comments in place on the next run, no duplicates; leaves an identical part alone", async () => {
    const pr = new FakePullRequest();
    const first = await postStickyComments(pr, "staging", plan("staging", 2, "old"));
    const next = plan("staging", 2, "new");
    next[1] = plan("staging", 2, "old")[1];
    pr.calls = [];
    const second = await postStickyComments(pr, "staging", next);
    expect(pr.bodies()).toEqual(next);
    expect(pr.comments).toHaveLength(2);
    expect(ids(second.parts)).toEqual(ids(first.parts));
    expect(second.updated.map((p) => p.part)).toEqual([1]);
    expect(second.unchanged.map((p) => p.part)).toEqual([2]);
    expect(pr.calls).toEqual(["list", `update ${first.parts[0].id}`]);
    expect(describeStickyResult(second)).toBe(
      `staging: updated part 1/2 ${first.parts[0].url}, unchanged part 2/2 ${first.parts[1].url}`,
    );
  });

  it("never touches another environment's parts or other people's comments", async () => {
    const pr = new FakePullRequest();
    const human = pr.seed("alice", "Looks good. Plan below?");
    const quoting = pr.seed("bob", "why does staging roll? <!-- not a marker -->");
    await postStickyComments(pr, "production", plan("production", 1));
    await postStickyComments(pr, "staging", plan("staging", 3));
    const production = pr.comments.find((c) => c.body.includes("env=production"))!;
    pr.calls = [];
    await postStickyComments(pr, "staging", plan("staging", 1, "again"));
    expect(pr.comments).toContainEqual(human);
    expect(pr.comments).toContainEqual(quoting);
    expect(pr.comments).toContainEqual(production);
    expect(pr.calls.some((call) => call.endsWith(` ${production.id}`) || call.endsWith(` ${human.id}`))).toBe(false);
    expect(pr.bodies()).toEqual([human.body, quoting.body, production.body, ...plan("staging", 1, "again")]);
  });

  it("never takes a comment that quotes a marker below its first line for a part (a plan's text, a human's)", async () => {
    const pr = new FakePullRequest();
    const quoting = pr.seed("mallory", `please approve\n${stickyMarker("production", 1, 1)}`);
    // Staging's comment, whose plan text carries production's marker in a table cell.
    const [staging] = plan("staging", 1);
    const forged = `${staging}\n| \`${stickyMarker("production", 1, 1)}\` |`;
    await postStickyComments(pr, "staging", [forged]);
    pr.calls = [];
    const result = await postStickyComments(pr, "production", plan("production", 1));
    expect(result.created.map((p) => p.part)).toEqual([1]);
    expect(result.updated).toEqual([]);
    expect(result.deleted).toEqual([]);
    expect(pr.calls).toEqual(["list", "create"]);
    expect(pr.comments).toContainEqual(quoting);
    expect(pr.comments.find((c) => c.body === forged)).toBeDefined();
  });

  it("deletes the surplus parts of a plan that shrank (3 parts to 1), after updating the first", async () => {
    const pr = new FakePullRequest();
    const before = await postStickyComments(pr, "staging", plan("staging", 3));
    pr.calls = [];
    const after = await postStickyComments(pr, "staging", plan("staging", 1, "small"));
    expect(pr.bodies()).toEqual(plan("staging", 1, "small"));
    expect(ids(after.updated)).toEqual([before.parts[0].id]);
    expect(ids(after.deleted)).toEqual([before.parts[1].id, before.parts[2].id]);
    expect(pr.calls).toEqual(["list", `update ${before.parts[0].id}`, `delete ${before.parts[1].id}`, `delete ${before.parts[2].id}`]);
    expect(describeStickyResult(after)).toMatch(/^staging: updated part 1\/1 \S+, deleted 2 old parts$/);
  });

  it("creates the extra parts of a plan that grew (1 part to 3)", async () => {
    const pr = new FakePullRequest();
    const before = await postStickyComments(pr, "staging", plan("staging", 1));
    const after = await postStickyComments(pr, "staging", plan("staging", 3, "big"));
    expect(pr.bodies()).toEqual(plan("staging", 3, "big"));
    expect(ids(after.updated)).toEqual([before.parts[0].id]);
    expect(after.created.map((p) => p.part)).toEqual([2, 3]);
    expect(after.deleted).toEqual([]);
  });

  it("cleans up duplicates left by two racing runs", async () => {
    const pr = new FakePullRequest();
    pr.seed("github-actions[bot]", plan("staging", 1, "race A")[0]);
    pr.seed("github-actions[bot]", plan("staging", 1, "race B")[0]);
    const result = await postStickyComments(pr, "staging", plan("staging", 1, "now"));
    expect(pr.bodies()).toEqual(plan("staging", 1, "now"));
    expect(ids(result.deleted)).toEqual([101]);
  });

  it("refuses, before posting anything, bodies without their marker or over GitHub's limit", async () => {
    const pr = new FakePullRequest();
    await expect(postStickyComments(pr, "staging", [])).rejects.toThrow(/no comment body/);
    await expect(postStickyComments(pr, "staging", ["no marker"])).rejects.toThrow(/does not start with its marker/);
    await expect(postStickyComments(pr, "staging", plan("staging", 2).slice(0, 1))).rejects.toThrow(/part=1\/1/);
    await expect(postStickyComments(pr, "staging", plan("production", 1))).rejects.toThrow(/does not start with its marker/);
    await expect(postStickyComments(pr, "staging", [`intro\n${plan("staging", 1)[0]}`])).rejects.toThrow(/does not start with its marker/);
    const huge = `${stickyMarker("staging", 1, 1)}\n${"x".repeat(GITHUB_COMMENT_LIMIT)}`;
    await expect(postStickyComments(pr, "staging", [huge])).rejects.toThrow(/over GitHub's 65536/);
    expect(pr.calls).toEqual([]);
  });
});

describe("githubContextFromEnv", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "amiroll-gh-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const event = (name: string, payload: unknown): string => {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(payload));
    return path;
  };
  const base = () => ({
    GITHUB_TOKEN: "ghs_test",
    GITHUB_REPOSITORY: "acme/infra",
    GITHUB_EVENT_NAME: "pull_request",
    GITHUB_EVENT_PATH: event("pr", { action: "synchronize", number: 42, pull_request: { number: 42 } }),
  });
  const usageError = (env: NodeJS.ProcessEnv): UsageError => {
    try {
      githubContextFromEnv(env);
    } catch (error) {
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).not.toContain("\n");
      return error as UsageError;
    }
    throw new Error("expected a UsageError");
  };

  it("reads a pull_request event", () => {
    expect(githubContextFromEnv(base())).toEqual({
      token: "ghs_test",
      owner: "acme",
      repo: "infra",
      pullNumber: 42,
      apiUrl: "https://api.github.com",
    });
  });

  it("reads an issue_comment event on a pull request, GH_TOKEN and an Enterprise API URL", () => {
    const env = {
      ...base(),
      GITHUB_TOKEN: "",
      GH_TOKEN: "gh_other",
      GITHUB_EVENT_NAME: "issue_comment",
      GITHUB_EVENT_PATH: event("comment", {
        action: "created",
        issue: { number: 7, pull_request: { url: "https://api.github.com/repos/acme/infra/pulls/7" } },
        comment: { body: "/amiroll apply staging" },
      }),
      GITHUB_API_URL: "https://ghe.acme.test/api/v3/",
    };
    expect(githubContextFromEnv(env)).toMatchObject({ token: "gh_other", pullNumber: 7, apiUrl: "https://ghe.acme.test/api/v3" });
  });

  it("reads the pull request of a workflow_dispatch from its pr input", () => {
    const dispatch = (inputs: Record<string, unknown>) => ({ ...base(), GITHUB_EVENT_NAME: "workflow_dispatch", GITHUB_EVENT_PATH: event("dispatch", { inputs, ref: "refs/heads/amiroll/bump" }) });
    expect(githubContextFromEnv(dispatch({ pr: "12" }))).toMatchObject({ pullNumber: 12 });
    expect(usageError(dispatch({ pr: "twelve" })).message).toMatch(/the workflow_dispatch event at GITHUB_EVENT_PATH has no pull request number;.*workflow_dispatch with a pr input/);
    expect(usageError(dispatch({})).message).toMatch(/has no pull request number/);
  });

  it("names the missing variable in one line", () => {
    const { GITHUB_TOKEN: _token, ...noToken } = base();
    expect(usageError(noToken).message).toMatch(/GITHUB_TOKEN is not set \(nor GH_TOKEN\)/);
    const { GITHUB_REPOSITORY: _repo, ...noRepo } = base();
    expect(usageError(noRepo).message).toMatch(/GITHUB_REPOSITORY is not set/);
    expect(usageError({ ...base(), GITHUB_REPOSITORY: "infra" }).message).toMatch(/expected owner\/repo/);
    const { GITHUB_EVENT_PATH: _event, ...noEvent } = base();
    expect(usageError(noEvent).message).toMatch(/GITHUB_EVENT_PATH is not set/);
    expect(usageError({ ...base(), GITHUB_EVENT_PATH: join(dir, "missing.json") }).message).toMatch(
      /GITHUB_EVENT_PATH .*missing\.json: cannot read the event payload/,
    );
  });

  it("refuses events without a pull request", () => {
    const push = { ...base(), GITHUB_EVENT_NAME: "push", GITHUB_EVENT_PATH: event("push", { ref: "refs/heads/main" }) };
    expect(usageError(push).message).toMatch(/the push event at GITHUB_EVENT_PATH has no pull request number;/);
    const onIssue = {
      ...base(),
      GITHUB_EVENT_NAME: "issue_comment",
      GITHUB_EVENT_PATH: event("issue", { issue: { number: 3 }, comment: { body: "/amiroll apply staging" } }),
    };
    expect(usageError(onIssue).message).toMatch(/on an issue, not a pull request/);
  });
});

/**
 * The real octokitComments, against a local stand-in for the three GitHub endpoints, in a child
 * Node process (jest cannot load the ESM-only @octokit/rest).
 */
describe("octokitComments against a local GitHub stand-in", () => {
  const TOKEN = "ghs_local_test";
  /** Pages of this size whatever per_page says, so the client must follow Link headers. */
  const PAGE = 2;
  let server: Server;
  let apiUrl: string;
  let dir: string;
  let comments: { id: number; body: string; html_url: string }[];
  let requests: string[];
  let nextId: number;
  /** Listed, but already deleted by someone else when the DELETE arrives. */
  let ghosts: Set<number>;

  const json = (res: ServerResponse, status: number, value?: unknown) => {
    res.writeHead(status, value === undefined ? {} : { "content-type": "application/json" });
    res.end(value === undefined ? undefined : JSON.stringify(value));
  };
  const readBody = async (req: IncomingMessage): Promise<{ body: string }> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", apiUrl);
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.headers.authorization !== `token ${TOKEN}`) return json(res, 401, { message: "Bad credentials" });
    const list = /^\/repos\/acme\/infra\/issues\/42\/comments$/.exec(url.pathname);
    const one = /^\/repos\/acme\/infra\/issues\/comments\/(\d+)$/.exec(url.pathname);
    if (list && req.method === "GET") {
      const page = Number(url.searchParams.get("page") ?? "1");
      const sorted = [...comments].sort((a, b) => a.id - b.id);
      if (page * PAGE < sorted.length) {
        const next = new URL(url);
        next.searchParams.set("page", String(page + 1));
        res.setHeader("link", `<${next.href}>; rel="next"`);
      }
      return json(res, 200, sorted.slice((page - 1) * PAGE, page * PAGE));
    }
    if (list && req.method === "POST") {
      const { body } = await readBody(req);
      const comment = { id: nextId, body, html_url: `https://github.test/acme/infra/pull/42#issuecomment-${nextId}` };
      nextId += 1;
      comments.push(comment);
      return json(res, 201, comment);
    }
    const index = one ? comments.findIndex((c) => c.id === Number(one[1])) : -1;
    if (one && index < 0) return json(res, 404, { message: "Not Found" });
    if (one && req.method === "PATCH") {
      const { body } = await readBody(req);
      comments[index] = { ...comments[index], body };
      return json(res, 200, comments[index]);
    }
    if (one && req.method === "DELETE") {
      comments.splice(index, 1);
      return json(res, ghosts.has(Number(one[1])) ? 404 : 204, ghosts.has(Number(one[1])) ? { message: "Not Found" } : undefined);
    }
    return json(res, 404, { message: "Not Found" });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "amiroll-gh-"));
    server = createServer((req, res) => {
      handle(req, res).catch((error: unknown) => json(res, 500, { message: String(error) }));
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((done) => server.close(done));
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the harness (which reads GITHUB_* like the CLI) and returns its StickyResult. */
  const post = (env: string, bodies: readonly string[]): Promise<StickyResult> => {
    const eventPath = join(dir, "event.json");
    writeFileSync(eventPath, JSON.stringify({ pull_request: { number: 42 } }));
    const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !/^(GITHUB_|GH_TOKEN$)/.test(name)),
    );
    Object.assign(childEnv, {
      GITHUB_TOKEN: TOKEN,
      GITHUB_REPOSITORY: "acme/infra",
      GITHUB_EVENT_NAME: "pull_request",
      GITHUB_EVENT_PATH: eventPath,
      GITHUB_API_URL: apiUrl,
      AMIROLL_HARNESS: JSON.stringify({ env, bodies }),
    });
    const root = resolve(__dirname, "../..");
    return new Promise((done, fail) => {
      execFile(
        process.execPath,
        ["-r", "tsx/cjs", join(__dirname, "github-harness.ts")],
        { cwd: root, env: childEnv, timeout: 30_000, encoding: "utf8" },
        (error, stdout, stderr) => (error ? fail(new Error(`${error.message}\n${stderr}`)) : done(JSON.parse(stdout))),
      );
    });
  };

  it("lists every page, creates, updates in place and deletes through @octokit/rest", async () => {
    comments = [];
    requests = [];
    nextId = 1;
    ghosts = new Set();
    // Someone else's comments first, so the list spans pages; a production part stays untouched.
    for (const body of ["first!", "LGTM", plan("production", 1)[0]]) {
      comments.push({ id: nextId, body, html_url: `https://github.test/c/${nextId}` });
      nextId += 1;
    }

    const first = await post("staging", plan("staging", 3));
    expect(first.created.map((p) => p.id)).toEqual([4, 5, 6]);
    expect(first.parts[0].url).toBe("https://github.test/acme/infra/pull/42#issuecomment-4");

    requests = [];
    const second = await post("staging", plan("staging", 2, "smaller"));
    expect(second.updated.map((p) => p.id)).toEqual([4, 5]);
    expect(second.deleted.map((p) => p.id)).toEqual([6]);
    expect(comments.map((c) => c.body)).toEqual(["first!", "LGTM", plan("production", 1)[0], ...plan("staging", 2, "smaller")]);
    expect(requests).toEqual([
      "GET /repos/acme/infra/issues/42/comments?per_page=100",
      "GET /repos/acme/infra/issues/42/comments?per_page=100&page=2",
      "GET /repos/acme/infra/issues/42/comments?per_page=100&page=3",
      "PATCH /repos/acme/infra/issues/comments/4",
      "PATCH /repos/acme/infra/issues/comments/5",
      "DELETE /repos/acme/infra/issues/comments/6",
    ]);

    // Same plan again, and a stray old part another run deletes under our feet (404): fine.
    comments.push({ id: nextId, body: plan("staging", 3)[2], html_url: `https://github.test/c/${nextId}` });
    ghosts.add(nextId);
    requests = [];
    const third = await post("staging", plan("staging", 2, "smaller"));
    expect(third.unchanged.map((p) => p.id)).toEqual([4, 5]);
    expect(third.deleted.map((p) => p.id)).toEqual([nextId]);
    expect(requests.filter((r) => !r.startsWith("GET"))).toEqual([`DELETE /repos/acme/infra/issues/comments/${nextId}`]);
  }, 60_000);
});
