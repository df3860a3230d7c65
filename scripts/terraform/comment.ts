/**
 * The plan as a pull-request comment, in the spirit of Atlantis: per environment a header, the
 * AMI roll, terraform's summary line, the guard's verdict with one row per change, the
 * attribute diff folded in `<details>`, and the next step. Each part carries a hidden marker
 * (github.ts) so CI edits one sticky comment per environment; a long plan is split into parts
 * under GitHub's limit.
 *
 * Values come from the plan model, which has already replaced sensitive ones by SENSITIVE.
 * Everything else that comes from the plan (addresses, attribute names, values, cluster and
 * image names, the guard's reasons, which quote them) is made inert here (core/inert.ts):
 * escaped as text, fenced as code, never raw markdown or HTML.
 */
import { codeLine, codeSpan, jsonSafe, markdownText, tableCode } from "../core/inert";
import { GITHUB_COMMENT_LIMIT, stickyMarker } from "./github";
import { type GuardResult, expectationWords } from "./guard";
import { type Plan, type ResourceChange, SENSITIVE, UNKNOWN, actingChanges, attributeDiff, summaryLine } from "./plan";
import type { Generation } from "./rolls";
import { type AlarmsSeen, alarmText } from "../fleet/alarms";

export interface CommentOptions {
  /** The environment (stack) the plan is for. */
  readonly env: string;
  /** How to apply this plan, e.g. `amiroll apply --env staging`; shown as the next step. */
  readonly applyCommand?: string;
  /** Holds on this environment or its clusters (shown, and they block an apply). */
  readonly holds?: readonly string[];
  /** The environment's watched CloudWatch alarms as the plan saw them (config `alarms`). */
  readonly alarms?: AlarmsSeen;
  /** Characters per comment. @default GitHub's 65,536 */
  readonly limit?: number;
}

/** A run of lines that must be wrapped the same way in every part it lands in. */
interface Block {
  readonly open?: string;
  readonly close?: string;
  readonly items: readonly string[];
}

/** The comment for one environment's plan: one body per part, each under the limit. */
export function planComment(plan: Plan, guard: GuardResult, options: CommentOptions): string[] {
  const env = options.env;
  const blocks: Block[] = [
    { items: [`## amiroll plan: ${codeSpan(env)}`, "", ...amiLines(guard), "", `**${summaryLine(plan)}**`, ""] },
    ...holdBlocks(options.holds ?? []),
    ...alarmBlocks(options.alarms),
    ...guardBlocks(guard, env),
    ...diffBlocks(plan),
    ...driftBlocks(plan),
    { items: ["", nextStep(guard, options)] },
  ];
  const heading = (part: number, parts: number) => `## amiroll plan: ${codeSpan(env)} (part ${part} of ${parts})`;
  return pack(blocks, options.limit ?? GITHUB_COMMENT_LIMIT).map((text, i, all) => {
    const body = i === 0 ? text : `${heading(i + 1, all.length)}\n\n${text}`;
    return `${stickyMarker(env, i + 1, all.length)}\n${body}`;
  });
}

// ---------------------------------------------------------------------------------------------
// Sections

/**
 * Untrusted text for a table cell, a heading or a line of prose, cut to a length that fits any
 * part: `pack` cuts an item too big for a part wherever it falls, which in a code span would
 * leave the span open and the rest of the line live. (Diff lines may be cut: they are in a code
 * block whose fence `pack` closes itself.)
 */
const CELL_LIMIT = 2_000;
function clip(text: string): string {
  return text.length <= CELL_LIMIT ? text : `${text.slice(0, CELL_LIMIT)}… (${text.length} characters)`;
}
const md = (text: string) => markdownText(clip(text));
const code = (text: string) => codeSpan(clip(text));
const cellCode = (text: string) => tableCode(clip(text));

/** One generation in a table cell: the image id as code, its name as text. */
function generationText(g: Generation): string {
  return `${cellCode(g.imageId)}${g.imageName ? ` ${md(g.imageName)}` : ""}${g.role === "retiring" || g.role === "canary" ? ` (${g.role})` : ""}`;
}

function amiLines(guard: GuardResult): string[] {
  const moving = guard.rolls.filter((r) => r.shape !== "none");
  if (moving.length === 0) return [guard.rolls.length > 0 ? "**AMI:** no change." : "**AMI:** not an amiroll stack (no `amiroll_clusters` output)."];
  return [
    "| Cluster | Strategy | From | To | Roll |",
    "|---|---|---|---|---|",
    ...moving.map((r) =>
      row([
        md(r.cluster),
        md(r.strategy ?? ""),
        r.before.map(generationText).join("<br>") || (r.shape === "create" ? "(not deployed)" : "(nothing)"),
        r.after.map(generationText).join("<br>") || "(nothing)",
        r.shape === "create" ? "create (first deploy)" : md(typeof r.shape === "string" ? r.shape : r.shape.unknown),
      ]),
    ),
  ];
}

function holdBlocks(holds: readonly string[]): Block[] {
  return holds.length === 0 ? [] : [{ items: [...holds.map((h) => `> [!WARNING]\n> **On hold:** ${md(h)}`), ""] }];
}

/** The watched alarms: in ALARM now (name and CloudWatch's reason), unknown names, or why they could not be read. */
function alarmBlocks(seen: AlarmsSeen | undefined): Block[] {
  if (!seen) return [];
  const head = `**Alarms watched** (${md(seen.watching)}):`;
  if (seen.error !== undefined) return [{ items: [`> [!WARNING]\n> ${head} could not be read: ${md(seen.error)}`, ""] }];
  const lines = [
    ...seen.firing.map((a) => `- ⛔ in ALARM: ${md(alarmText(a))}`),
    ...seen.unknownNames.map((n) => `- ⚠️ no such alarm: ${code(n)}`),
    ...seen.emptyPrefixes.map((p) => `- ⚠️ no alarm's name starts with ${code(p)}`),
  ];
  if (lines.length === 0) return [{ items: [`${head} ${seen.known} known, none in ALARM.`, ""] }];
  return [{ items: [`${head} ${seen.known} known${seen.firing.length > 0 ? `, ${seen.firing.length} in ALARM: the rollout fails while any is` : ""}.`, "", ...lines, ""] }];
}

function guardBlocks(guard: GuardResult, env?: string): Block[] {
  const how = guard.expectFrom === "inferred" ? "inferred from the `amiroll_clusters` output" : "given with --expect";
  const verdict = guard.accepted ? "✅ Plan guard: accepted" : "⛔ Plan guard: refused";
  const head = [`### ${verdict}`, "", `Expected ${md(expectationWords(guard, env))} (${how}).`, ""];
  const problems = guard.problems.map((p) => `- ⛔ ${md(p)}`);
  const unchanged = `_${guard.unchanged} unchanged resource${guard.unchanged === 1 ? "" : "s"} not listed._`;
  if (guard.verdicts.length === 0) return [{ items: [...head, ...problems, ...(problems.length ? [""] : []), unchanged, ""] }];
  return [
    { items: [...head, ...problems, ...(problems.length ? [""] : [])] },
    {
      open: "| Resource | Action | Verdict |\n|---|---|---|",
      close: "",
      items: guard.verdicts.map((v) =>
        row([cellCode(v.address), md(v.kind), `${v.accepted ? "✅" : "⛔"} ${md(v.reason)}${v.warning ? ` ⚠️ ${md(v.warning)}` : ""}`]),
      ),
    },
    { items: [unchanged, ""] },
  ];
}

const HEADLINES: Record<ResourceChange["kind"], string> = {
  create: "will be created",
  update: "will be updated in place",
  delete: "will be destroyed",
  "replace (create before destroy)": "must be replaced (create before destroy)",
  "replace (destroy before create)": "must be replaced (destroy before create)",
  forget: "will be removed from the state (left in AWS)",
  read: "will be read",
  "no-op": "is unchanged",
};

function diffBlocks(plan: Plan): Block[] {
  const acting = actingChanges(plan);
  if (acting.length === 0) return [];
  return [
    {
      open: `<details><summary>Attribute diff (${acting.length} resource${acting.length === 1 ? "" : "s"})</summary>\n\n\`\`\`diff`,
      close: "```\n</details>",
      items: acting.map((change) => {
        const lines = [`# ${codeLine(change.address)} ${HEADLINES[change.kind]}`];
        const sign = change.kind === "create" ? "+" : "~";
        for (const a of attributeDiff(change)) {
          const note = a.forcesReplacement ? " # forces replacement" : "";
          const path = codeLine(a.path);
          if (change.kind === "create" || a.before === null) lines.push(`+ ${path} = ${value(a.after)}`);
          else if (a.after === null) lines.push(`- ${path} = ${value(a.before)}${note}`);
          else lines.push(`${sign} ${path} = ${value(a.before)} -> ${value(a.after)}${note}`);
        }
        if (change.kind === "delete") lines.push(`- ${codeLine(change.address)}`);
        return lines.join("\n");
      }),
    },
  ];
}

function driftBlocks(plan: Plan): Block[] {
  if (plan.drift.length === 0) return [];
  return [
    {
      items: [
        "",
        `> [!NOTE]\n> ${plan.drift.length} object${plan.drift.length === 1 ? "" : "s"} changed outside terraform since the last apply (not part of this apply; terraform will take the state as it found it):`,
        ...plan.drift.map((d) => `> - ${code(d.address)} (${d.kind})`),
      ],
    },
  ];
}

function nextStep(guard: GuardResult, options: CommentOptions): string {
  const apply = options.applyCommand ?? `amiroll apply --env ${options.env}`;
  if (!guard.accepted) {
    return `**Next:** the guard refused this plan, so it will not be applied. Fix what it names, or after a careful review apply with ${code(`${apply} --force`)}.`;
  }
  if (guard.verdicts.length === 0) return "**Next:** nothing to apply.";
  return `**Next:** apply with ${code(apply)}.${options.holds?.length ? " The environment is on hold: the apply needs `--force`." : ""}`;
}

/** The guard's verdict alone, as markdown (`amiroll guard -o markdown`). */
export function guardMarkdown(guard: GuardResult): string {
  return pack([{ items: amiLines(guard) }, { items: [""] }, ...guardBlocks(guard)], Number.MAX_SAFE_INTEGER)[0];
}

// ---------------------------------------------------------------------------------------------
// Formatting

/**
 * A value as the diff shows it: markers as they are, the rest as JSON (controls escaped, so on
 * one line), long ones cut.
 */
function value(v: unknown): string {
  if (v === SENSITIVE || v === UNKNOWN) return v;
  // Markers inside a list or map read as markers, not as quoted strings.
  const text = jsonSafe(JSON.stringify(v) ?? "null").replaceAll(`"${UNKNOWN}"`, UNKNOWN).replaceAll(`"${SENSITIVE}"`, SENSITIVE);
  // A code fence inside a value would end the diff block early.
  const safe = codeLine(text).replace(/```/g, "'''");
  return safe.length > 300 ? `${safe.slice(0, 300)}… (${safe.length} characters)` : safe;
}

/**
 * A table row of cells already made inert (`markdownText`, `tableCode`: their `|` escaped);
 * amiroll's own words need no escaping.
 */
function row(cells: readonly string[]): string {
  return `| ${cells.join(" | ")} |`;
}

/** Room kept in each part for the marker and the "part N of M" heading. */
const PART_OVERHEAD = 200;

/**
 * Packs blocks into parts under `limit` characters. A block cut between parts is closed at the
 * end of one and opened again at the start of the next (a table keeps its header, a diff its
 * fence); an item too big for any part is cut, saying so.
 */
export function pack(blocks: readonly Block[], limit: number): string[] {
  const room = limit - PART_OVERHEAD;
  const parts: string[] = [];
  let current = "";
  const add = (text: string) => (current += current === "" ? text : `\n${text}`);
  for (const block of blocks) {
    const overhead = (block.open?.length ?? 0) + (block.close?.length ?? 0) + 2;
    let opened = false;
    for (const raw of block.items) {
      const item = raw.length + overhead > room ? `${raw.slice(0, room - overhead - 60)}\n… (${raw.length - (room - overhead - 60)} characters cut)` : raw;
      const needed = item.length + 1 + (opened ? 0 : (block.open?.length ?? 0) + 1) + (block.close === undefined ? 0 : block.close.length + 1);
      if (current !== "" && current.length + needed > room) {
        if (opened && block.close !== undefined) add(block.close);
        parts.push(current);
        current = "";
        opened = false;
      }
      if (!opened && block.open !== undefined) add(block.open);
      opened = true;
      add(item);
    }
    if (opened && block.close !== undefined) add(block.close);
  }
  if (current !== "" || parts.length === 0) parts.push(current);
  return parts;
}
