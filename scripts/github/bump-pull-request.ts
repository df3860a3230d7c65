/**
 * `amiroll bump --open-pr`: the bump's pins change committed to its own branch,
 * `amiroll/bump-<env>-<image>`, through the GitHub API, and the pull request of that branch
 * opened, or updated when it is open already, with the bump's title and body.
 *
 * Run again (a weekly schedule that finds the same image), it opens no second pull request and
 * commits nothing when the branch already pins every cluster of the bump to its image: the edit
 * is made to the branch's own pins file, so whatever else was committed there since (a
 * `verifiedAt` from `amiroll verify --commit`) stays.
 */
import { existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import type { Environment } from "../config/environments";
import { type ClusterPins, type Pins, formatPins, parsePins } from "../config/pins";
import { ConfigError } from "../config/input";
import { UsageError } from "../core/errors";
import type { BumpPlan } from "../images/bump";
import type { PullRequest } from "../images/pull-request";
import {
  type FileCommit,
  type PullRequestResult,
  type Repository,
  checkRepository,
  commitFileChange,
  explainGitHubError,
  openOrUpdatePullRequest,
  openPullRequestOf,
} from "./repository";

/** Git forbids `..`, `@{`, a trailing `.` or `.lock`, spaces and controls: keep names to safe characters. */
const refPart = (text: string) => text.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "") || "x";

/**
 * The bump's branch: `amiroll/bump-<environments>-<image>`, the environments it changes (in
 * config order, joined by `-`) and the image id it pins; a bump to several images names them by
 * a short hash of their ids (`images-1a2b3c4d`). The same bump always gets the same branch.
 */
export function bumpBranch(plan: BumpPlan, environments: readonly Environment[]): string {
  const envs = environments.map((e) => e.name).filter((name) => plan.changes.some((c) => c.environment === name));
  const images = [...new Set(plan.changes.map((c) => c.to.imageId))].sort();
  if (envs.length === 0 || images.length === 0) throw new Error("bumpBranch: a bump without changes has no branch");
  const image = images.length === 1 ? images[0] : `images-${createHash("sha256").update(images.join(",")).digest("hex").slice(0, 8)}`;
  return `amiroll/bump-${envs.map(refPart).join("-")}-${refPart(image)}`;
}

/** The commit message: the title, then one line per cluster. */
export function bumpCommitMessage(plan: BumpPlan, title: string): string {
  const lines = plan.changes.map((c) => `- ${c.environment}/${c.cluster} (${c.strategy}): ${c.from.imageId} -> ${c.to.imageId}${c.to.imageName ? ` (${c.to.imageName})` : ""}`);
  return `${title}\n\n${lines.join("\n")}\n`;
}

/**
 * The edit of the branch's pins file: each changed cluster takes the bump's pins, everything else
 * stays as the branch has it (in the branch file's formatting). A branch that already pins every
 * changed cluster to its target image is left as it is (nothing to commit). No file there: the
 * bump's pins whole.
 */
export function bumpPinsEdit(plan: BumpPlan, environments: readonly Environment[], shownAs: string): (current: string | undefined) => string {
  return (current) => {
    if (current === undefined) return formatPins(plan.pins, environments);
    let raw: unknown;
    try {
      raw = JSON.parse(current);
    } catch (error) {
      throw new ConfigError(shownAs, "(file)", `is not valid JSON (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`);
    }
    const theirs = parsePins(raw, environments, shownAs);
    if (plan.changes.every((c) => theirs[c.environment]?.[c.cluster]?.current.imageId === c.to.imageId)) return current;
    const next: Record<string, Record<string, ClusterPins>> = Object.fromEntries(Object.entries(theirs).map(([env, clusters]) => [env, { ...clusters }]));
    for (const c of plan.changes) next[c.environment][c.cluster] = plan.pins[c.environment][c.cluster];
    return formatPins(next as Pins, environments, current);
  };
}

/**
 * Where a file of this checkout sits in the repository (forward slashes): relative to
 * GITHUB_WORKSPACE when the file is inside it (GitHub Actions), else to the nearest directory
 * above it that holds `.git`. A UsageError when neither says.
 */
export function pathInRepository(file: string, env: NodeJS.ProcessEnv = process.env, flag = "--open-pr"): string {
  const absolute = resolve(file);
  const inside = (root: string) => {
    const rel = relative(root, absolute);
    return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel.split(sep).join("/") : undefined;
  };
  const workspace = env.GITHUB_WORKSPACE?.trim();
  if (workspace) {
    const rel = inside(resolve(workspace));
    if (rel) return rel;
  }
  for (let dir = dirname(absolute); ; dir = dirname(dir)) {
    if (existsSync(resolve(dir, ".git"))) return inside(dir)!;
    if (dirname(dir) === dir) break;
  }
  throw new UsageError(
    `${flag}: cannot tell where ${file} sits in the repository (no .git above it, and it is not inside GITHUB_WORKSPACE): run amiroll in a checkout of the repository`,
  );
}

export interface BumpPublication {
  readonly plan: BumpPlan;
  readonly pullRequest: PullRequest;
  readonly environments: readonly Environment[];
  /** The pins file's path in the repository. */
  readonly pinsPath: string;
  readonly labels?: readonly string[];
  readonly reviewers?: readonly string[];
}

export interface BumpPublished {
  readonly branch: string;
  /** Undefined when the default branch already has the change: no branch, no pull request. */
  readonly commit?: FileCommit;
  readonly pull?: PullRequestResult;
}

/**
 * Publishes a bump: checks the repository and the branch's pull requests (nothing written yet),
 * commits the pins change to the bump's branch (creating it from the default branch), then opens
 * or updates its pull request. A bump with no changes is a caller's bug (it has no branch).
 */
export async function publishBump(repo: Repository, publication: BumpPublication): Promise<BumpPublished> {
  const { plan, pullRequest, environments, pinsPath } = publication;
  const branch = bumpBranch(plan, environments);
  const info = await checkRepository(repo);
  let head: string | undefined;
  try {
    head = await repo.branchHead(branch);
  } catch (error) {
    throw explainGitHubError(error, repo, "contents");
  }
  const existing = await openPullRequestOf(repo, branch, head !== undefined);
  const commit = await commitFileChange(repo, {
    branch,
    path: pinsPath,
    edit: bumpPinsEdit(plan, environments, `${pinsPath} on branch ${branch}`),
    message: bumpCommitMessage(plan, pullRequest.title),
    createFrom: info.defaultBranch,
    ...(head !== undefined && { expectedHead: head }),
    rerun: "run amiroll bump --open-pr again",
  });
  if (!commit.committed && head === undefined) return { branch };
  const pull = await openOrUpdatePullRequest(
    repo,
    { branch, base: existing?.base ?? info.defaultBranch, title: pullRequest.title, body: pullRequest.body, labels: publication.labels, reviewers: publication.reviewers },
    existing,
  );
  return { branch, commit, pull };
}

/** One line for the log: what happened to the branch and the pull request. */
export function describeBumpPublished(published: BumpPublished, defaultBranch = "the default branch"): string {
  if (!published.commit || !published.pull) return `${defaultBranch} already has this change: no branch, no pull request`;
  const { commit, pull } = published;
  const what = commit.committed ? `committed ${commit.head.slice(0, 12)} to ${commit.createdBranch ? "new branch" : "branch"} ${published.branch}` : `branch ${published.branch} already has this change (no commit)`;
  const extras = [
    ...(pull.labelsAdded.length ? [`labels ${pull.labelsAdded.join(", ")}`] : []),
    ...(pull.reviewersRequested.length ? [`review requested from ${pull.reviewersRequested.join(", ")}`] : []),
  ];
  return `${what}; ${pull.action} pull request #${pull.pull.number}${extras.length ? ` (${extras.join("; ")})` : ""}`;
}
