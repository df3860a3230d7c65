/**
 * Simulated worlds a test started, stopped when it ends (their directories removed): work still running in one (an old
 * instance's drain, a drain hook's re-check) would otherwise keep its virtual clock turning
 * through the rest of the worker's tests, and keep jest's worker from exiting.
 */
import { rmSync } from "node:fs";

type Stoppable = { stop(): void; readonly directory?: string };
const started: Stoppable[] = [];

afterEach(() => {
  for (const world of started.splice(0)) {
    world.stop();
    // Its pins copy and synthesized stacks, which the process's exit would remove.
    if (world.directory) rmSync(world.directory, { recursive: true, force: true });
  }
});

/** `world`, to be stopped (and its directory removed) after the current test. */
export function stopAfterTest<T extends Stoppable>(world: T): T {
  started.push(world);
  return world;
}
