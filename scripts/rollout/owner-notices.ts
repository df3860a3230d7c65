/**
 * The maintenance notice per owner (`amiroll rollout --notice --notice-dir DIR`, and the webhook
 * of `notices.webhook`): for each `owner` tag of the services whose tasks may be restarted, what
 * rolls that touches that owner's services, and when. Pure: built from notice.ts's facts.
 *
 * Owner tags are untrusted text (anyone who can tag a service sets one): in markdown they go
 * through core/inert.ts, in a Slack message through `slackText`, and a file name is made from
 * one by `ownerFileNames` (no path, no control character, no two owners in one file).
 */
import { createHash } from "node:crypto";
import { markdownText as md, terminalLine } from "../core/inert";
import { type NoticeInput, type WaveFacts, markdownHolds, markdownWhen, noticeFacts } from "./notice";

/** One owner's notice: markdown for a file, Slack mrkdwn for a webhook. */
export interface OwnerNotice {
  /** The `owner` tag; undefined for the services without one. */
  readonly owner: string | undefined;
  /** Its file's name (`ownerFileNames`). */
  readonly fileName: string;
  readonly markdown: string;
  /** The webhook message's text (Slack mrkdwn). */
  readonly text: string;
}

/** The notice of every owner with services in the waves, in the order of their file names. */
export function ownerNotices(input: NoticeInput): OwnerNotice[] {
  const waves = noticeFacts(input);
  const owners = new Set<string | undefined>(waves.flatMap((w) => [...w.owners.keys()]));
  const names = ownerFileNames([...owners]);
  return [...owners]
    .map((owner) => {
      const mine = waves.filter((w) => w.owners.has(owner));
      return { owner, fileName: names.get(owner)!, markdown: ownerMarkdown(owner, mine, input), text: ownerSlackText(owner, mine) };
    })
    .sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0));
}

/** The longest file name stem made from an owner tag (before a hash and `.md`). */
const MAX_STEM = 64;
/** Names Windows reserves for devices, whatever the extension. */
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;

/**
 * A file name (`<stem>.md`) per owner tag, all different even on a case-insensitive file system:
 * the stem is the tag lower-cased with every run of characters other than `a-z 0-9 . _ -` made
 * one `-`, no leading `.` or `-`, at most 64 characters. When that is not the tag itself, or two
 * owners would share it, the stem gets `-` and 12 hex digits of the tag's SHA-256, so that two tags
 * never share a file. The services without an owner tag go to `no-owner-tag.md`.
 */
export function ownerFileNames(owners: readonly (string | undefined)[]): Map<string | undefined, string> {
  const hash = (owner: string | undefined) => createHash("sha256").update(owner === undefined ? "\u0000no owner tag" : `tag:${owner}`).digest("hex").slice(0, 12);
  const stemOf = (owner: string | undefined) => {
    if (owner === undefined) return { stem: "no-owner-tag", exact: true };
    const stem = owner.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[.-]+/, "").slice(0, MAX_STEM).replace(/[.]+$/, "");
    return { stem, exact: stem === owner && stem !== "" && !RESERVED.test(stem) };
  };
  const stems = new Map(owners.map((o) => [o, stemOf(o)] as const));
  const uses = new Map<string, number>();
  for (const { stem } of stems.values()) uses.set(stem, (uses.get(stem) ?? 0) + 1);
  return new Map(
    [...stems].map(([owner, { stem, exact }]) => [owner, `${exact && uses.get(stem) === 1 ? stem : `${stem || "owner"}-${hash(owner)}`}.md`]),
  );
}

function ownerMarkdown(owner: string | undefined, waves: readonly WaveFacts[], input: NoticeInput): string {
  const who = owner === undefined ? `services without an \`owner\` tag` : `services owned by ${md(owner)}`;
  const out = [`### Maintenance notice: machine image rollout, for ${who}`, ""];
  out.push(`Environments, in order: ${input.waves.map((w) => md(w.name)).join(" → ")}. Each is verified (services steady, zones balanced, smoke checks, soak) before the next starts.`, "");
  out.push("The tasks of the services below may be restarted: moved to new instances, replacements first, no planned downtime.", "");
  for (const wave of waves) {
    const services = wave.owners.get(owner)!;
    const clusters = new Set(services.map((s) => s.slice(0, s.indexOf("/"))));
    out.push(`#### ${md(wave.environment)}`, "", `**When:** ${markdownWhen(wave.when)}`, "");
    if (wave.holds.length > 0) out.push(`> [!WARNING]`, `> **On hold** (not rolled without --force): ${markdownHolds(wave.holds)}`, "");
    out.push("| Cluster | Rolls to | Strategy | Services |", "|---|---|---|---|");
    for (const c of wave.clusters.filter((c) => clusters.has(c.name))) {
      const target = c.onceVerifiedBy === undefined ? md(c.target) : `${md(c.target)} (once ${md(c.onceVerifiedBy)} has verified it)`;
      const mine = services.filter((s) => s.startsWith(`${c.name}/`)).map((s) => md(s.slice(c.name.length + 1)));
      out.push(`| ${md(c.name)} | ${target} | ${md(c.strategy)} | ${mine.join(", ")} |`);
    }
    out.push("");
  }
  return `${out.join("\n").trimEnd()}\n`;
}

/**
 * Untrusted text in a Slack mrkdwn message: one line (controls made visible, as on a terminal),
 * `&`, `<` and `>` as `&amp;`, `&lt;` and `&gt;` (Slack's own escaping: no link, mention,
 * `<!channel>` or date token can be made), and `://` and `www.` broken by a zero-width space so
 * that Slack does not turn a URL in the text into a link. Slack has no escape for its emphasis
 * characters (`*`, `_`, `~`, `` ` ``): they may style the text, never make it do anything.
 */
export function slackText(text: string): string {
  return terminalLine(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/:\/\//g, ":\u200b//")
    .replace(/(^|[^\p{L}\p{N}])www\./giu, "$1www\u200b.");
}

/** Slack cuts a message's text at 40,000 characters; amiroll's stay under it. */
export const MAX_SLACK_TEXT = 39_000;

function slackWhen(when: WaveFacts["when"]): string {
  switch (when.kind) {
    case "any time":
      return "any time (no maintenance window configured)";
    case "open now":
      return `now, in the window ${slackText(when.window)} (closes ${slackText(when.closes)})`;
    case "next":
      return `${slackText(when.opens)} (window ${slackText(when.window)})`;
  }
}

function ownerSlackText(owner: string | undefined, waves: readonly WaveFacts[]): string {
  const who = owner === undefined ? "services without an owner tag" : `services owned by ${slackText(owner)}`;
  const out = [`*Maintenance notice: machine image rollout*, for ${who}`, "Their tasks may be restarted: moved to new instances, replacements first, no planned downtime."];
  for (const wave of waves) {
    const services = wave.owners.get(owner)!;
    out.push("", `*${slackText(wave.environment)}*: ${slackWhen(wave.when)}`);
    if (wave.holds.length > 0) {
      out.push(`On hold (not rolled without --force): ${wave.holds.map((h) => (h.what === undefined ? `the environment: ${slackText(h.reason)}` : `${slackText(h.what)}: ${slackText(h.reason)}`)).join("; ")}`);
    }
    for (const c of wave.clusters) {
      const mine = services.filter((s) => s.startsWith(`${c.name}/`)).map((s) => slackText(s.slice(c.name.length + 1)));
      if (mine.length === 0) continue;
      const target = c.onceVerifiedBy === undefined ? slackText(c.target) : `${slackText(c.target)} (once ${slackText(c.onceVerifiedBy)} has verified it)`;
      out.push(`• ${slackText(c.name)} → ${target} (${slackText(c.strategy)}): ${mine.join(", ")}`);
    }
  }
  const text = out.join("\n");
  return text.length <= MAX_SLACK_TEXT ? text : `${text.slice(0, MAX_SLACK_TEXT)}\n… (cut: the full notice is amiroll rollout --notice)`;
}
