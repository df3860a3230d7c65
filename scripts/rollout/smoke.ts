/**
 * The smoke gate of `amiroll rollout`: GET each environment's smoke URLs and compare the status
 * with the one expected, retrying a few times (a task may still be warming up behind the load
 * balancer). The network goes through an `HttpProbe` and waiting through a `Clock`, so the
 * simulator can run the same loop with a fake probe in virtual time.
 */
import type { SmokeCheck } from "../config/environments";
import type { Clock } from "../core/clock";
import { formatDuration } from "../core/duration";


/**
 * One HTTP GET: resolves with the status, or rejects with an Error whose message says why in a
 * few words ("timed out after 5 s", "connection refused", "DNS lookup failed for host x").
 */
export type HttpProbe = (url: string, timeoutMs: number) => Promise<{ readonly status: number }>;

/**
 * The real probe: Node's global fetch. Redirects are not followed, so a 301 is reported as 301
 * (a check can demand it). Only the status matters, so the body is cancelled at once: an unread
 * body would hold its socket.
 */
export const fetchProbe: HttpProbe = async (url, timeoutMs) => {
  let response: Response;
  try {
    response = await fetch(url, { method: "GET", redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new Error(fetchFailure(e, url, timeoutMs));
  }
  await response.body?.cancel().catch(() => undefined);
  return { status: response.status };
};

/** Short reasons for the codes undici nests in `cause` (its own message is just "fetch failed"). */
const reasons: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connect timed out",
  UND_ERR_CONNECT_TIMEOUT: "connect timed out",
  UND_ERR_SOCKET: "connection closed by the server",
  UND_ERR_HEADERS_OVERFLOW: "response headers too large",
  CERT_HAS_EXPIRED: "TLS certificate expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "TLS certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "TLS certificate chain is self-signed",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS certificate not trusted",
  ERR_TLS_CERT_ALTNAME_INVALID: "TLS certificate does not match the host",
};

/** Shapes, not `instanceof`: fetch's errors come from Node's own realm, not a jest test's. */
interface ErrorLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly code?: unknown;
  readonly cause?: ErrorLike;
  readonly errors?: unknown;
}

function fetchFailure(e: unknown, url: string, timeoutMs: number): string {
  if (typeof e !== "object" || e === null || typeof (e as ErrorLike).message !== "string") return String(e);
  const { name, message, cause } = e as ErrorLike & { message: string };
  // AbortSignal.timeout rejects fetch with a DOMException named TimeoutError.
  if (name === "TimeoutError") return `timed out after ${formatDuration(timeoutMs)}`;
  // With several addresses to try (happy eyeballs), Node wraps one error per address in an AggregateError.
  const code = cause?.code ?? (Array.isArray(cause?.errors) ? (cause.errors[0] as ErrorLike | undefined)?.code : undefined);
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `DNS lookup failed for host ${hostOf(url)}`;
  if (typeof code === "string") return reasons[code] ?? `${code}${typeof cause?.message === "string" ? `: ${cause.message}` : ""}`;
  // e.g. "Failed to parse URL from x", or "fetch failed" with the reason ("unknown scheme") in the cause.
  return typeof cause?.message === "string" ? `${message}: ${cause.message}` : message;
}


function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

export interface SmokeResult {
  readonly url: string;
  readonly passed: boolean;
  readonly attempts: number;
  /** The last attempt's status, when it got one. */
  readonly status?: number;
  /** The last attempt's error, when it got no status. */
  readonly error?: string;
  /** e.g. "200 after 2 attempts", "503 (expected 200) after 4 attempts", "timed out after 5 s after 4 attempts". */
  readonly detail: string;
}

export interface SmokeOptions {
  readonly probe: HttpProbe;
  readonly clock: Clock;
  /** Wait between attempts of one check (default 5000). */
  readonly retryDelayMs?: number;
  /** Called after every attempt, e.g. for progress lines; attempt counts from 1. */
  readonly onAttempt?: (url: string, attempt: number, outcome: string) => void;
}

/**
 * Runs every check, one after another in order (the report reads in config order, and a small
 * service is not hit by all checks at once), retrying a failing one up to `retries` times with
 * `retryDelayMs` between attempts. A check stops at its first pass. Never throws for a failing
 * URL: the caller decides what a failed gate means.
 */
export async function runSmokeChecks(checks: readonly SmokeCheck[], options: SmokeOptions): Promise<SmokeResult[]> {
  const { probe, clock, retryDelayMs = 5000, onAttempt } = options;
  const results: SmokeResult[] = [];
  for (const check of checks) {
    // A bad retries value (negative, NaN) still gets one attempt.
    const maxAttempts = 1 + (Number.isFinite(check.retries) ? Math.max(0, Math.floor(check.retries)) : 0);
    let last: { status?: number; error?: string; outcome: string; passed: boolean } | undefined;
    let attempt = 0;
    while (attempt < maxAttempts) {
      if (attempt > 0) await clock.sleep(retryDelayMs);
      attempt++;
      last = await attemptOnce(probe, check);
      onAttempt?.(check.url, attempt, last.outcome);
      if (last.passed) break;
    }
    const { status, error, outcome, passed } = last!;
    results.push({
      url: check.url,
      passed,
      attempts: attempt,
      ...(status !== undefined ? { status } : {}),
      ...(error !== undefined ? { error } : {}),
      detail: `${outcome} after ${attempt} attempt${attempt === 1 ? "" : "s"}`,
    });
  }
  return results;
}

async function attemptOnce(probe: HttpProbe, check: SmokeCheck) {
  try {
    const { status } = await probe(check.url, check.timeoutMs);
    const passed = status === check.expectStatus;
    return { status, passed, outcome: passed ? `${status}` : `${status} (expected ${check.expectStatus})` };
  } catch (e) {
    // A probe that throws a non-Error (or an empty message) must still leave a readable reason.
    const message = (e as { message?: unknown } | null)?.message;
    const error = (typeof message === "string" ? message : String(e)) || "request failed";
    return { error, passed: false, outcome: error };
  }
}
