/**
 * The rollout's report: per wave, the outcome, the time per phase, instances replaced, tasks
 * moved, the gates and the balance, as text (the terminal) or markdown (a PR or a chat). Pure.
 *
 * Environment, cluster, image, service and zone names, reasons and gate details quote the
 * config, the pins and AWS: as text each line's parts are one line with their controls visible,
 * as markdown escaped text (core/inert.ts).
 */
import { codeLine, markdownText as md, terminalLine } from "../core/inert";
import { lostZonesText } from "../fleet/balance";
import { bootFailureText } from "../fleet/boot";
import { elapsedText } from "../fleet/report";
import type { RolloutResult, WaveReport } from "./rollout";

/** Time per phase, steps run more than once summed: `apply 6m10s, watch 4m02s`. */
function phasesText(wave: WaveReport): string {
  const totals = new Map<string, number>();
  for (const p of wave.phases) totals.set(p.step, (totals.get(p.step) ?? 0) + p.ms);
  return [...totals].map(([step, ms]) => `${step} ${elapsedText(ms)}`).join(", ") || "(no steps)";
}

/** The canary phase: `passed after 3m10s (apps: 1 instance, 2m soaked)`. */
function canaryText(wave: WaveReport): string | undefined {
  const c = wave.canary;
  return c && `${c.verdict} after ${elapsedText(c.ms)} (${c.detail})`;
}

function targetsText(wave: WaveReport): string {
  return Object.entries(wave.targets).map(([cluster, image]) => `${cluster} -> ${image} (${wave.strategies[cluster]})`).join(", ") || "(none)";
}

/** The new instances replaced because they did not boot: `i-0abc (eu-west-1b, not registered with ECS 5m10s after launch), ...`. */
function bootFailuresText(wave: WaveReport): string {
  return wave.bootFailures.map(bootFailureText).join(", ");
}

function balanceText(wave: WaveReport): string[] {
  if (!wave.balance) return [];
  return [...wave.balance].map(([cluster, report]) =>
    [
      report.imbalanced.length === 0 ? `${cluster}: every service balanced` : `${cluster}: imbalanced: ${report.imbalanced.join(", ")}`,
      ...(report.lostZones.length > 0 ? [`(zone lost: ${lostZonesText(cluster, report).slice(cluster.length + 2)})`] : []),
    ].join(" "),
  );
}

/** The report as text; `verb` names it on the first line (`amiroll verify` reports its one wave this way). */
export function rolloutText(result: RolloutResult, verb = "rollout"): string[] {
  const t = terminalLine;
  const lines = [`${verb}: ${result.outcome} after ${elapsedText(result.endedAt - result.startedAt)}`];
  for (const wave of result.waves) {
    lines.push(`${t(wave.environment)}: ${wave.outcome}${wave.reason ? ` (${t(wave.reason)})` : ""}`);
    if (wave.parallelWith?.length) lines.push(`  rolled in parallel with ${t(wave.parallelWith.join(", "))}`);
    if (wave.outcome === "not started") continue;
    lines.push(`  clusters: ${t(targetsText(wave))}`);
    lines.push(`  took ${elapsedText(wave.endedAt - wave.startedAt)}: ${t(phasesText(wave))}`);
    if (wave.canary) lines.push(`  canary: ${t(canaryText(wave)!)}`);
    lines.push(`  instances replaced: ${wave.instancesReplaced}; tasks moved: ${wave.tasksMoved}`);
    if (wave.bootFailures.length > 0) lines.push(`  did not boot, replaced: ${t(bootFailuresText(wave))}`);
    for (const gate of wave.gates) lines.push(`  gate ${t(gate.gate)}: ${gate.outcome}${gate.detail ? ` (${t(gate.detail)})` : ""}`);
    for (const line of balanceText(wave)) lines.push(`  balance ${t(line)}`);
    if (wave.pinChanges.length > 0) lines.push(`  pins changed ${wave.pinChanges.length} time(s)`);
    for (const backup of wave.backups) lines.push(`  state backed up before an apply: ${t(backup)}`);
  }
  return lines;
}

const ICON: Record<string, string> = {
  done: "✅",
  "already done": "✅",
  "rolled back": "↩️",
  failed: "❌",
  refused: "⛔",
  "guard refused": "⛔",
  interrupted: "⏸️",
  "not started": "⏭️",
  stopped: "⏹️",
};

export function rolloutMarkdown(result: RolloutResult): string {
  const out = [`### amiroll rollout: ${result.outcome} ${ICON[result.outcome] ?? ""}`.trimEnd(), "", `Took ${elapsedText(result.endedAt - result.startedAt)}.`, ""];
  out.push("| Wave | Outcome | Clusters | Time | Instances replaced | Tasks moved |", "|---|---|---|---|---|---|");
  for (const wave of result.waves) {
    out.push(`| ${md(wave.environment)} | ${ICON[wave.outcome] ?? ""} ${wave.outcome} | ${md(targetsText(wave))} | ${elapsedText(wave.endedAt - wave.startedAt)} | ${wave.instancesReplaced} | ${wave.tasksMoved} |`);
  }
  for (const wave of result.waves) {
    if (wave.outcome === "not started" && !wave.reason) continue;
    out.push("", `#### ${md(wave.environment)}: ${wave.outcome}`, "");
    if (wave.reason) out.push(`> ${md(wave.reason)}`, "");
    if (wave.parallelWith?.length) out.push(`Rolled in parallel with ${md(wave.parallelWith.join(", "))}.`, "");
    if (wave.phases.length > 0) out.push(`**Phases:** ${md(phasesText(wave))}`, "");
    if (wave.canary) out.push(`**Canary:** ${wave.canary.verdict === "passed" ? "✅" : wave.canary.verdict === "failed" ? "❌" : "⏸️"} ${md(canaryText(wave)!)}`, "");
    if (wave.bootFailures.length > 0) out.push(`**Did not boot, replaced:** ${md(bootFailuresText(wave))}`, "");
    if (wave.backups.length > 0) out.push(`**State backed up before each apply:** ${wave.backups.map((b) => md(b)).join(", ")}`, "");
    if (wave.gates.length > 0) {
      out.push("| Gate | Outcome | Detail |", "|---|---|---|");
      for (const gate of wave.gates) out.push(`| ${md(gate.gate)} | ${gate.outcome === "passed" ? "✅" : gate.outcome === "failed" ? "❌" : "⏭️"} ${gate.outcome} | ${md(gate.detail)} |`);
      out.push("");
    }
    for (const line of balanceText(wave)) out.push(`- balance ${md(line)}`);
    // The pins file's lines, in a code block: each one line, so none can close the fence.
    for (const diff of wave.pinChanges) out.push("", "```diff", ...diff.map((l) => codeLine(l.startsWith("  ") ? ` ${l.slice(2)}` : `${l[0]}${l.slice(2)}`)), "```");
  }
  return `${out.join("\n").trimEnd()}\n`;
}

/** `amiroll verify`'s one wave as a result, for the rollout's formats. */
export function verifyResult(wave: WaveReport): RolloutResult {
  return { outcome: wave.outcome, waves: [wave], startedAt: wave.startedAt, endedAt: wave.endedAt };
}

/** `amiroll verify`'s report as text: the wave as the rollout reports it, then what the pins now record. */
export function verifyText(wave: WaveReport): string[] {
  const t = terminalLine;
  const lines = rolloutText(verifyResult(wave), "verify");
  if (wave.verifiedAt) lines.push(`  verified at ${wave.verifiedAt}`);
  if (wave.rejected) lines.push(`  rejected: ${t(Object.entries(wave.rejected).map(([cluster, image]) => `${cluster} ${image}`).join(", "))}`);
  return lines;
}

/**
 * The commit message for the pins change `amiroll verify` made (undefined when it changed
 * nothing): a subject naming the environment and the images verified or rejected, then the
 * evidence: when, how long each phase took, every gate with its detail (the soak's time
 * included). Plain text, each line inert (a commit message is read on terminals).
 */
export function verifyCommitMessage(wave: WaveReport): string | undefined {
  if (wave.pinChanges.length === 0) return undefined;
  const t = terminalLine;
  const env = t(wave.environment);
  const images = (record: Readonly<Record<string, string>>) => t(Object.entries(record).map(([cluster, image]) => `${cluster} ${image}`).join(", "));
  const took = `${elapsedText(wave.endedAt - wave.startedAt)} (${t(phasesText(wave))})`;
  const lines = wave.verifiedAt
    ? [`amiroll verify ${env}: ${images(wave.targets)} verified`, "", `${env}: ${t(targetsText(wave))}: verified at ${wave.verifiedAt}, after ${took}.`]
    : [
        `amiroll verify ${env}: ${images(wave.rejected ?? wave.targets)} rejected`,
        "",
        `${env}: ${t(targetsText(wave))}: ${wave.outcome} after ${took}.`,
        ...(wave.reason ? [`Reason: ${t(wave.reason)}`] : []),
      ];
  if (wave.gates.length > 0) lines.push("", "Gates:", ...wave.gates.map((g) => `- ${t(g.gate)}: ${g.outcome}${g.detail ? ` (${t(g.detail)})` : ""}`));
  for (const line of balanceText(wave)) lines.push(`Balance: ${t(line)}`);
  if (wave.bootFailures.length > 0) lines.push(`Did not boot, replaced: ${t(bootFailuresText(wave))}`);
  return `${lines.join("\n")}\n`;
}
