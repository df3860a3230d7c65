/**
 * `amiroll verify --commit`: the verification (and the promoted pins) committed to the pull
 * request's branch through the GitHub API, only on the commit CI applied (`--head`): if anyone
 * pushed since, nothing is committed and the run says so (exit 1). Everything it needs is
 * checked when it is made, before verify's first AWS call.
 */
import { UsageError } from "../core/errors";
import { pathInRepository } from "./bump-pull-request";
import { type RepositoryContext, commitFileChange, repositoryContextFromEnv } from "./repository";

export interface PinsCommitOptions {
  /** `--repo owner/name` (else GITHUB_REPOSITORY). */
  readonly repo?: string;
  /** `--branch` (else GITHUB_HEAD_REF, set on pull_request events). */
  readonly branch?: string;
  /** `--head`: the commit the branch must still be at (what CI checked out and applied). */
  readonly head?: string;
}

export interface PinsCommitter {
  /** Commits `content` as the pins file with `message`; says what it did, in a few words. */
  commitPins(content: string, message: string): Promise<string>;
}

const SHA = /^[0-9a-f]{40}$/;
const BRANCH = /^(?!\/)(?!.*\.\.)[A-Za-z0-9._/-]+$/;

export function githubPinsCommitter(
  options: PinsCommitOptions & { readonly pinsPath: string },
  env: NodeJS.ProcessEnv = process.env,
  warn: (line: string) => void = () => {},
  { loopbackOnly = false } = {},
): PinsCommitter {
  const context: RepositoryContext = repositoryContextFromEnv("--commit", options.repo, env);
  if (loopbackOnly && !["127.0.0.1", "localhost", "[::1]"].includes(new URL(context.apiUrl).hostname)) {
    throw new UsageError(`--commit with --simulate commits simulated image ids: only to a GitHub stand-in on this machine (GITHUB_API_URL on 127.0.0.1 or localhost, not ${context.apiUrl})`);
  }
  const branch = options.branch?.trim() || env.GITHUB_HEAD_REF?.trim();
  if (!branch) throw new UsageError("--commit: no branch: pass --branch (the pull request's head branch; GITHUB_HEAD_REF gives it on pull_request events)");
  if (!BRANCH.test(branch)) throw new UsageError(`--branch: ${JSON.stringify(branch)} is not a branch name`);
  const head = options.head?.trim();
  if (head !== undefined && !SHA.test(head)) throw new UsageError(`--head: ${JSON.stringify(head)} is not a full commit SHA (40 hex digits)`);
  const path = pathInRepository(options.pinsPath, env, "--commit");
  return {
    async commitPins(content, message) {
      const { octokitRepository } = require("./octokit") as typeof import("./octokit");
      const repo = await octokitRepository(context, { warn });
      const result = await commitFileChange(repo, {
        branch,
        path,
        edit: () => content,
        message,
        expectedHead: head,
        rerun: "plan and apply the new head, then verify again",
      });
      return result.committed ? `committed ${path} to ${branch} (${result.head.slice(0, 12)})` : `${path} on ${branch} already says this: nothing committed`;
    },
  };
}
