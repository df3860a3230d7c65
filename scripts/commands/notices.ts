/**
 * `amiroll rollout --notice`'s delivery to owners: `--notice-dir DIR` writes each owner's notice
 * to `DIR/<owner>.md`; with `notices.webhook` configured, each is posted there with `--send`, and
 * without it the messages that would be posted are printed (a dry run). A failed post is
 * reported on stderr, one line per owner, and does not fail the command.
 */
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../core/errors";
import { jsonSafe, terminalLine } from "../core/inert";
import type { Logger } from "../core/log";
import type { LoadedConfig } from "../config/file";
import { shownPath } from "../config/file";
import { postNotices, webhookBody } from "../rollout/notice-webhook";
import { NO_OWNER } from "../rollout/notice";
import type { OwnerNotice } from "../rollout/owner-notices";

/** Checks the notice flags before anything runs: exit 2, one line, nothing changed. */
export function checkNoticeOptions(options: { notice?: boolean; noticeDir?: string; send?: boolean }, config: LoadedConfig): void {
  if (!options.notice) {
    if (options.noticeDir !== undefined) throw new UsageError("--notice-dir needs --notice (it writes the notice per owner; it does not roll)");
    if (options.send) throw new UsageError("--send needs --notice (it posts the notice per owner; it does not roll)");
  }
  if (options.send && !config.notices) throw new UsageError(`--send: ${config.shownAs} has no notices.webhook (and AMIROLL_NOTICE_WEBHOOK is not set): nowhere to post`);
  if (options.noticeDir !== undefined) {
    let isDirectory: boolean | undefined;
    try {
      isDirectory = statSync(options.noticeDir).isDirectory();
    } catch {
      // Made when the notices are written.
    }
    if (isDirectory === false) throw new UsageError(`--notice-dir: ${options.noticeDir} is a file, not a directory`);
  }
}

const ownerName = (notice: OwnerNotice) => (notice.owner === undefined ? NO_OWNER : terminalLine(JSON.stringify(notice.owner)));

/** Writes and posts (or shows) the owners' notices as the flags and the config say. */
export async function deliverOwnerNotices(
  notices: readonly OwnerNotice[],
  options: { dir?: string; webhook?: LoadedConfig["notices"]; send: boolean; log: Logger; signal?: AbortSignal; fetch?: typeof fetch },
): Promise<void> {
  const { log } = options;
  if (options.dir !== undefined) {
    mkdirSync(options.dir, { recursive: true });
    for (const notice of notices) writeFileSync(join(options.dir, notice.fileName), notice.markdown);
    log.info(`notices: ${notices.length} owner notice(s) written to ${shownPath(options.dir)}: ${notices.map((n) => n.fileName).join(", ")}`, { dir: options.dir, files: notices.map((n) => n.fileName) });
  }
  if (!options.webhook) return;
  if (!options.send) {
    for (const notice of notices) {
      log.info(`notices: dry run, would post for owner ${ownerName(notice)} to ${options.webhook.shownAs}: ${jsonSafe(webhookBody(notice))}`, { owner: notice.owner ?? null, body: webhookBody(notice) });
    }
    log.info(`notices: dry run: nothing posted; --send posts the ${notices.length} message(s)`);
    return;
  }
  const results = await postNotices(options.webhook.webhook, notices, { signal: options.signal, fetch: options.fetch });
  for (const [i, result] of results.entries()) {
    const line = `notices: owner ${ownerName(notices[i])}: ${result.detail}`;
    if (result.ok) log.info(line, { owner: result.owner ?? null, posted: true });
    else log.warn(line, { owner: result.owner ?? null, posted: false });
  }
  const failed = results.filter((r) => !r.ok).length;
  if (failed > 0) log.warn(`notices: ${failed} of ${results.length} post(s) to ${options.webhook.shownAs} failed (reported above; the command does not fail for it)`, { failed, posted: results.length - failed });
  else log.info(`notices: ${results.length} posted to ${options.webhook.shownAs}`, { posted: results.length });
}
