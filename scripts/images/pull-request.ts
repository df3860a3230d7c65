/**
 * The pull request of a bump, pure: a title, and a markdown body that says what changes (cluster,
 * image from and to, release date, agent version, where the id came from), links the image's
 * release notes, and what the plan of each environment should show, so that a reviewer can hold
 * the Atlantis plan against it.
 *
 * Image names and ids, SSM parameters, environment and cluster names and reasons come from SSM,
 * EC2, the pins and the config: in the body each is escaped markdown text or a fenced code span,
 * in the title one line without controls (core/inert.ts).
 */
import type { Environment } from "../config/environments";
import { markdownText as md, tableCode, terminalLine } from "../core/inert";
import type { BumpPlan, ClusterBump } from "./bump";
import { releaseNotesUrl } from "./release";

export interface PullRequest {
  readonly title: string;
  readonly body: string;
}

const shortName = (name: string | undefined) => name?.replace(/^al2023-ami-ecs-hvm-|^amzn2-ami-ecs-hvm-/, "");

function sourceText(change: ClusterBump): string {
  switch (change.source.kind) {
    case "ssm":
      return `SSM ${tableCode(change.source.parameter)}`;
    case "to":
      return "pinned by hand (`--to`)";
    case "promoted":
      return `verified in ${md(change.source.from)}${change.source.pin.verifiedAt ? ` (${md(change.source.pin.verifiedAt)})` : ""}`;
  }
}

/** What `amiroll plan` should show for an environment's changes, by strategy (the guard's expectation). */
function expectedPlan(environment: Environment, changes: readonly ClusterBump[]): string {
  const replaced = changes.filter((c) => c.strategy === "replace");
  // The replace canary group's size: the cluster's canary slice, else one instance (rollout.ts sliceOf).
  const canaries = [...new Set(replaced.map((c) => environment.clusters.find((k) => k.name === c.cluster)?.canary?.text ?? "1 instance"))];
  const added = changes.filter((c) => c.strategy === "blue-green");
  const refresh = changes.filter((c) => c.strategy === "refresh");
  const lines: string[] = [];
  if (replaced.length > 0) {
    lines.push(
      `- **${md(environment.name)}** (replace: ${replaced.map((c) => md(c.cluster)).join(", ")}): each cluster's launch template and Auto Scaling group are replaced, the new ones created before the old ones are destroyed; the drain hook moves the tasks off the old instances as terraform deletes their group (\`amiroll rollout\` first proves the image on a canary group beside the old one: ${canaries.map(md).join(" / ")}). \`amiroll guard --expect replace\`.`,
    );
  }
  if (added.length > 0) {
    lines.push(
      `- **${md(environment.name)}** (blue-green: ${added.map((c) => md(c.cluster)).join(", ")}): a second generation (launch template and Auto Scaling group) is added beside the running one; nothing is destroyed or replaced. \`amiroll guard --expect add\`. The old generation is retired by a later apply, once the rollout has verified the new one.`,
    );
  }
  if (refresh.length > 0) {
    lines.push(
      `- **${md(environment.name)}** (refresh: ${refresh.map((c) => md(c.cluster)).join(", ")}): each cluster's launch template is updated in place (a new version with the new image) and its Auto Scaling group takes that version; nothing is created, replaced or destroyed, and the group keeps its name. \`amiroll guard --expect refresh\`. The running instances keep the old image until \`amiroll rollout\` replaces them in batches (new ones first, old ones drained, then terminated).`,
    );
  }
  return lines.join("\n");
}

export function bumpPullRequest(plan: BumpPlan, environments: readonly Environment[]): PullRequest {
  const { changes } = plan;
  const names = changes.map((c) => `${c.environment}/${c.cluster}`);
  const images = [...new Set(changes.map((c) => c.to.imageId))];
  // A title is one line of plain text (GitHub shows it as it is; the CLI prints it).
  const title = terminalLine(
    images.length === 1
      ? `amiroll: bump ${names.join(", ")} to ${shortName(changes[0].to.imageName) ?? images[0]}`
      : `amiroll: bump the AMI of ${names.join(", ")}`,
  );

  const body = ["### AMI bump", ""];
  body.push("| Cluster | Strategy | From | To | Released | ECS agent | Source |", "|---|---|---|---|---|---|---|");
  for (const c of changes) {
    body.push(
      `| ${md(`${c.environment}/${c.cluster}`)} | ${md(c.strategy)} | ${tableCode(c.from.imageId)}<br>${md(c.from.imageName ?? "")} | ${tableCode(c.to.imageId)}<br>${md(c.to.imageName ?? "")} | ${md(c.image.createdAt?.slice(0, 10) ?? "?")} | ${md(c.agentVersion ?? "?")} | ${sourceText(c)} |`,
    );
  }
  const notes = [...new Set(changes.map((c) => releaseNotesUrl(c.to.imageName)).filter((u): u is string => u !== undefined))];
  if (notes.length) body.push("", `Release notes: ${notes.map((n) => `<${n}>`).join(", ")}`);

  body.push("", "#### What the plan should show", "");
  for (const environment of environments) {
    const mine = changes.filter((c) => c.environment === environment.name);
    if (mine.length) body.push(expectedPlan(environment, mine));
  }
  body.push("", "Anything else in a plan (a change to the cluster, its roles or security groups, a group replaced destroy-before-create) is refused by the plan guard.");

  if (plan.skipped.length) {
    body.push("", "#### Not bumped", "");
    for (const s of plan.skipped) body.push(`- ${md(`${s.environment}/${s.cluster}`)}: ${md(s.reason)}`);
  }
  body.push(
    "",
    "#### After merge",
    "",
    "`amiroll rollout` takes the image through the environments in order, each inside its maintenance window, verifies it (services steady, zones balanced, smoke checks, soak) and records `verifiedAt` in `stacks/amis.json` before the next environment may take it.",
  );
  return { title, body: `${body.join("\n")}\n` };
}
