/**
 * Durations in messages, one way everywhere: the units a user would type (`--stall-after 20s`,
 * `--timeout 1m30s`), largest first, zero parts left out.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** 3h, 2h5m, 20m, 1m30s, 20s, 1.5s, 300ms. Under a minute keeps one decimal; above it, whole seconds. */
export function formatDuration(ms: number): string {
  if (ms < SECOND) return `${Math.round(ms)}ms`;
  if (ms < MINUTE) return `${Number((ms / SECOND).toFixed(1))}s`;
  const total = Math.round(ms / SECOND);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  return `${hours ? `${hours}h` : ""}${minutes ? `${minutes}m` : ""}${seconds ? `${seconds}s` : ""}`;
}
