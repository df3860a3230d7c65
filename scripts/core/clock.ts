/**
 * Time for the driver. Production passes the wall clock; tests, bench and --simulate pass the
 * sim's VirtualClock, on which a 30-minute rollout takes as long as its computation.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const wallClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
