/**
 * Posting the owners' notices to the webhook of `notices.webhook` (Slack's incoming webhooks
 * take `{"text": ...}`): one message per owner, each POST with a timeout. A failed post is
 * reported (one line naming the owner and the webhook's host, never its path: a webhook URL's
 * path is its secret) and the others are still tried; it never throws.
 */
import { terminalLine } from "../core/inert";
import type { OwnerNotice } from "./owner-notices";

/** How long one POST may take. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** The JSON body posted for a notice: Slack's simplest message. */
export function webhookBody(notice: OwnerNotice): string {
  return JSON.stringify({ text: notice.text });
}

export interface PostResult {
  readonly owner: string | undefined;
  readonly ok: boolean;
  /** One line: `posted (HTTP 200)` or why it failed. */
  readonly detail: string;
}

/** What a webhook said, for a message: its status and the start of its body (Slack says `invalid_payload`, `no_service`, ...). */
async function answerOf(response: Response): Promise<string> {
  let body = "";
  try {
    body = (await response.text()).trim().slice(0, 200);
  } catch {
    // The status says enough.
  }
  return `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}${body ? `: ${body}` : ""}`;
}

/**
 * POSTs each notice's body to `webhook`, one after the other. `fetch` is Node's unless a test
 * gives another. Never throws: each result says whether that owner's post was taken (2xx).
 */
export async function postNotices(
  webhook: string,
  notices: readonly OwnerNotice[],
  options: { fetch?: typeof fetch; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<PostResult[]> {
  const host = new URL(webhook).host;
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const results: PostResult[] = [];
  for (const notice of notices) {
    if (options.signal?.aborted) {
      results.push({ owner: notice.owner, ok: false, detail: `not posted to ${host}: interrupted` });
      continue;
    }
    // The timeout covers the whole exchange, the answer's body included; Ctrl-C ends it too.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const interrupt = () => controller.abort();
    options.signal?.addEventListener("abort", interrupt, { once: true });
    let result: PostResult;
    try {
      const response = await (options.fetch ?? globalThis.fetch)(webhook, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8" },
        body: webhookBody(notice),
        signal: controller.signal,
        redirect: "error",
      });
      const answer = await answerOf(response);
      if (timedOut) throw new Error("timed out");
      result = response.ok
        ? { owner: notice.owner, ok: true, detail: `posted to ${host} (HTTP ${response.status})` }
        : { owner: notice.owner, ok: false, detail: `posting to ${host} failed: ${terminalLine(answer)}` };
    } catch (error) {
      const e = error as Error & { cause?: { code?: string; message?: string } };
      const why = timedOut ? `no answer within ${timeoutMs / 1000} s` : options.signal?.aborted ? "interrupted" : `${e.cause?.code ?? e.cause?.message ?? e.message}`;
      result = { owner: notice.owner, ok: false, detail: `posting to ${host} failed: ${terminalLine(why)}` };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", interrupt);
    }
    results.push(result);
  }
  return results;
}
