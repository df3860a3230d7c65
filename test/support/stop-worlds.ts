/**
 * Simulated worlds a test started, stopped when it ends: work still running in one (an old
 * instance's drain, a drain hook's re-check) would otherwise keep its virtual clock turning
 * through the rest of the worker's tests, and keep jest's worker from exiting.
 */
const started: { stop(): void }[] = [];

afterEach(() => {
  for (const world of started.splice(0)) world.stop();
});

/** `world`, to be stopped after the current test. */
export function stopAfterTest<T extends { stop(): void }>(world: T): T {
  started.push(world);
  return world;
}
