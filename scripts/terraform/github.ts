/**
 * Sticky plan comments on a GitHub pull request (`amiroll plan --env E --github`).
 *
 * One environment's plan comment may be split into several parts (each under GitHub's 65,536
 * characters, see comment.ts); every part starts with a hidden marker line naming the environment
 * and the part. A new plan finds the comments of its environment by that marker, edits them in
 * place part by part, posts the parts that are missing and deletes the surplus of a plan that
 * shrank, so a PR shows one current plan per environment however often CI runs.
 *
 * The GitHub API is reached only through `PullRequestComments`: the tests pass an in-memory
 * fake, the CLI passes `octokitComments(context)` (@octokit/rest, loaded lazily because it is
 * ESM-only and jest on Node 20 cannot load it).
 *
 * The marker counts only as the very first line of a comment: a plan's own text (a resource
 * address, an image name) lands further down the body, so no plan can forge the marker of
 * another environment, or make amiroll take a comment for one of its parts (comment.ts also
 * escapes such text, so it never holds a raw `<!--`).
 */
import { readFileSync } from "node:fs";
import { UsageError } from "../core/errors";

/** GitHub refuses an issue comment body longer than this many characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;

/** What a marker says: the environment, and which part of how many this comment is. */
export interface StickyMarker {
  readonly env: string;
  /** 1-based. */
  readonly part: number;
  readonly parts: number;
}

const ENV_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Finds the marker at the very start of a comment body, a line of its own (a marker anywhere
 * else is text, never ours); `env`, `part` and `parts` are its capture groups 1 to 3. Not
 * global: safe to reuse.
 */
export const STICKY_MARKER_PATTERN = /^<!-- amiroll:plan env=([A-Za-z0-9][A-Za-z0-9_.-]*) part=(\d+)\/(\d+) -->(?=\r?\n|$)/;

/** The hidden marker line of one part, e.g. `<!-- amiroll:plan env=staging part=1/2 -->`. */
export function stickyMarker(env: string, part: number, parts: number): string {
  if (!ENV_NAME.test(env)) {
    throw new Error(`stickyMarker: environment name ${JSON.stringify(env)} cannot go in a marker`);
  }
  if (!Number.isInteger(parts) || parts < 1 || !Number.isInteger(part) || part < 1 || part > parts) {
    throw new Error(`stickyMarker: part ${part}/${parts} is not a part number between 1 and ${parts}`);
  }
  return `<!-- amiroll:plan env=${env} part=${part}/${parts} -->`;
}

/**
 * The marker of a comment body (its first line), or undefined for a comment that is not an
 * amiroll plan part.
 */
export function parseStickyMarker(body: string): StickyMarker | undefined {
  const match = STICKY_MARKER_PATTERN.exec(body);
  if (!match) return undefined;
  const part = Number(match[2]);
  const parts = Number(match[3]);
  if (part < 1 || part > parts) return undefined;
  return { env: match[1], part, parts };
}

/** Whether a comment body is a part of this environment's plan comment. */
export function isStickyCommentOf(body: string, env: string): boolean {
  return parseStickyMarker(body)?.env === env;
}

// ---------------------------------------------------------------------------------------------
// Where we are: the GitHub Actions environment

/** The pull request to comment on, and how to reach the API. */
export interface GitHubContext {
  readonly token: string;
  readonly owner: string;
  readonly repo: string;
  readonly pullNumber: number;
  /** e.g. `https://api.github.com`, or `https://HOST/api/v3` on GitHub Enterprise Server. */
  readonly apiUrl: string;
}

const DEFAULT_API_URL = "https://api.github.com";

/**
 * The pull request of this GitHub Actions run: token from GITHUB_TOKEN (else GH_TOKEN),
 * owner/repo from GITHUB_REPOSITORY, the PR number from the event payload at GITHUB_EVENT_PATH
 * (`pull_request.number`, or `issue.number` of an `issue_comment` on a PR), the API from
 * GITHUB_API_URL. Anything missing is a `UsageError` naming the variable, in one line.
 */
export function githubContextFromEnv(env: NodeJS.ProcessEnv = process.env): GitHubContext {
  const set = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const token = set("GITHUB_TOKEN") ?? set("GH_TOKEN");
  if (!token) {
    throw new UsageError("--github: GITHUB_TOKEN is not set (nor GH_TOKEN); pass the workflow's token in env");
  }
  const repository = set("GITHUB_REPOSITORY");
  if (!repository) {
    throw new UsageError("--github: GITHUB_REPOSITORY is not set (owner/repo); --github runs inside GitHub Actions");
  }
  const slash = /^([^/\s]+)\/([^/\s]+)$/.exec(repository);
  if (!slash) {
    throw new UsageError(`--github: GITHUB_REPOSITORY is ${JSON.stringify(repository)}, expected owner/repo`);
  }
  const eventPath = set("GITHUB_EVENT_PATH");
  if (!eventPath) {
    throw new UsageError("--github: GITHUB_EVENT_PATH is not set; --github runs inside GitHub Actions");
  }
  const pullNumber = pullNumberOfEvent(eventPath, set("GITHUB_EVENT_NAME"));
  const apiUrl = (set("GITHUB_API_URL") ?? DEFAULT_API_URL).replace(/\/+$/, "");
  return { token, owner: slash[1], repo: slash[2], pullNumber, apiUrl };
}

function pullNumberOfEvent(eventPath: string, eventName: string | undefined): number {
  let payload: unknown;
  try {
    payload = JSON.parse(readFileSync(eventPath, "utf8"));
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new UsageError(`--github: GITHUB_EVENT_PATH ${eventPath}: cannot read the event payload (${reason})`);
  }
  const event = (payload ?? {}) as {
    pull_request?: { number?: unknown };
    issue?: { number?: unknown; pull_request?: unknown };
    inputs?: { pr?: unknown };
  };
  // A workflow_dispatch names the pull request in its `pr` input (a string, as all inputs are):
  // amiroll's workflow plans again that way after `verify --commit`, whose push by the
  // workflow's own token starts no pull_request run.
  const dispatched = typeof event.inputs?.pr === "string" && /^[1-9]\d*$/.test(event.inputs.pr.trim()) ? Number(event.inputs.pr.trim()) : undefined;
  const number = event.pull_request?.number ?? (event.issue?.pull_request ? event.issue.number : dispatched);
  if (typeof number === "number" && Number.isInteger(number) && number > 0) return number;
  const what = eventName ? `the ${eventName} event` : "the event";
  const onIssue = event.issue !== undefined && !event.issue.pull_request ? " (it is on an issue, not a pull request)" : "";
  throw new UsageError(
    `--github: ${what} at GITHUB_EVENT_PATH has no pull request number${onIssue}; ` +
      "--github runs on pull_request or issue_comment events of a pull request, or a workflow_dispatch with a pr input",
  );
}

// ---------------------------------------------------------------------------------------------
// The comments of one pull request

/** An issue comment of the pull request, as much of it as the sticky logic needs. */
export interface IssueComment {
  readonly id: number;
  readonly body: string;
  /** The comment's page (`html_url`). */
  readonly url: string;
}

/** The issue comments of one pull request: all the GitHub API sticky comments need. */
export interface PullRequestComments {
  /** Every issue comment of the pull request, oldest first (all pages). */
  list(): Promise<readonly IssueComment[]>;
  create(body: string): Promise<IssueComment>;
  update(id: number, body: string): Promise<IssueComment>;
  /** Deleting a comment that is already gone is not an error. */
  delete(id: number): Promise<void>;
}

/** One part as it now stands on the pull request. */
export interface PostedPart {
  /** 1-based. */
  readonly part: number;
  readonly id: number;
  readonly url: string;
}

/** What `postStickyComments` did, for the CLI to print. */
export interface StickyResult {
  readonly env: string;
  /** Every part of the new comment, in order, wherever it landed. */
  readonly parts: readonly PostedPart[];
  readonly created: readonly PostedPart[];
  readonly updated: readonly PostedPart[];
  /** Parts whose comment already had exactly this body (not edited). */
  readonly unchanged: readonly PostedPart[];
  /** Old parts of this environment no longer needed. */
  readonly deleted: readonly Pick<IssueComment, "id" | "url">[];
}

/**
 * Posts one environment's plan comment, split in `bodies`, as sticky comments: the existing
 * comments of `env` (found by their marker, whoever wrote them) are edited in place in the order
 * they were posted, missing parts are created after them, surplus old parts deleted last (so the
 * PR never shows no plan at all). Comments of other environments, and comments without a
 * marker, are never touched.
 *
 * Every body must start with `stickyMarker(env, i + 1, bodies.length)` and fit GitHub's limit: a body
 * that does not is a bug of the caller (comment.ts), thrown before anything is posted.
 */
export async function postStickyComments(
  client: PullRequestComments,
  env: string,
  bodies: readonly string[],
): Promise<StickyResult> {
  checkBodies(env, bodies);
  const existing = (await client.list())
    .filter((comment) => isStickyCommentOf(comment.body, env))
    .sort((a, b) => a.id - b.id);

  const parts: PostedPart[] = [];
  const created: PostedPart[] = [];
  const updated: PostedPart[] = [];
  const unchanged: PostedPart[] = [];
  for (const [index, body] of bodies.entries()) {
    const part = index + 1;
    const old = existing[index];
    if (old === undefined) {
      const comment = await client.create(body);
      const posted = { part, id: comment.id, url: comment.url };
      created.push(posted);
      parts.push(posted);
    } else if (old.body === body) {
      const posted = { part, id: old.id, url: old.url };
      unchanged.push(posted);
      parts.push(posted);
    } else {
      const comment = await client.update(old.id, body);
      const posted = { part, id: comment.id, url: comment.url };
      updated.push(posted);
      parts.push(posted);
    }
  }
  const deleted: Pick<IssueComment, "id" | "url">[] = [];
  for (const surplus of existing.slice(bodies.length)) {
    await client.delete(surplus.id);
    deleted.push({ id: surplus.id, url: surplus.url });
  }
  return { env, parts, created, updated, unchanged, deleted };
}

function checkBodies(env: string, bodies: readonly string[]): void {
  if (bodies.length === 0) {
    throw new Error(`postStickyComments(${env}): no comment body to post`);
  }
  for (const [index, body] of bodies.entries()) {
    const expected = stickyMarker(env, index + 1, bodies.length);
    const marker = parseStickyMarker(body);
    if (marker?.env !== env || marker.part !== index + 1 || marker.parts !== bodies.length) {
      throw new Error(`postStickyComments(${env}): part ${index + 1} does not start with its marker ${expected}`);
    }
    if (body.length > GITHUB_COMMENT_LIMIT) {
      throw new Error(
        `postStickyComments(${env}): part ${index + 1} has ${body.length} characters, over GitHub's ${GITHUB_COMMENT_LIMIT}`,
      );
    }
  }
}

/** One line per environment for the CLI, e.g. `staging: updated part 1/2 <url>, created part 2/2 <url>`. */
export function describeStickyResult(result: StickyResult): string {
  const total = result.parts.length;
  const verb = (posted: PostedPart): string =>
    result.created.includes(posted) ? "created" : result.updated.includes(posted) ? "updated" : "unchanged";
  const items = result.parts.map((posted) => `${verb(posted)} part ${posted.part}/${total} ${posted.url}`);
  if (result.deleted.length > 0) {
    items.push(`deleted ${result.deleted.length} old part${result.deleted.length === 1 ? "" : "s"}`);
  }
  return `${result.env}: ${items.join(", ")}`;
}

// ---------------------------------------------------------------------------------------------
// The real client

/**
 * `PullRequestComments` over @octokit/rest for the context's pull request. Octokit is imported
 * here, lazily: it is ESM-only, which Node 20 loads (also from require) but jest cannot.
 */
export async function octokitComments(context: GitHubContext): Promise<PullRequestComments> {
  const { Octokit } = await import("@octokit/rest");
  const octokit = new Octokit({ auth: context.token, baseUrl: context.apiUrl, userAgent: "amiroll" });
  const where = { owner: context.owner, repo: context.repo };
  const toComment = (data: { id: number; body?: string | null; html_url: string }): IssueComment => ({
    id: data.id,
    body: data.body ?? "",
    url: data.html_url,
  });
  return {
    async list() {
      const all = await octokit.paginate(octokit.rest.issues.listComments, {
        ...where,
        issue_number: context.pullNumber,
        per_page: 100,
      });
      return all.map(toComment);
    },
    async create(body) {
      const { data } = await octokit.rest.issues.createComment({ ...where, issue_number: context.pullNumber, body });
      return toComment(data);
    },
    async update(id, body) {
      const { data } = await octokit.rest.issues.updateComment({ ...where, comment_id: id, body });
      return toComment(data);
    },
    async delete(id) {
      try {
        await octokit.rest.issues.deleteComment({ ...where, comment_id: id });
      } catch (error) {
        // Gone already (another run deleted it between our list and this call): that is the goal.
        if ((error as { status?: unknown }).status !== 404) throw error;
      }
    },
  };
}
