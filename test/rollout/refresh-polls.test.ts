/**
 * The refresh strategy's polls: incremental while a batch drains, but the verdict that ends the
 * drain (then the batch is terminated) rests on a full poll (`isFullView`), never on answers an
 * incremental poll reused or on the task counts it judged from.
 */
import type * as Snapshot from "../../scripts/fleet/snapshot";
import { simulatedRollout } from "../support/simulated-rollout";

jest.setTimeout(60_000);

/** What each poll (other than the instances-only ones) was, and each batch's termination, in order. */
const mockEvents: string[] = [];
jest.mock("../../scripts/fleet/snapshot", () => {
  const actual = jest.requireActual<typeof Snapshot>("../../scripts/fleet/snapshot");
  return {
    ...actual,
    takeSnapshot: async (...args: Parameters<typeof Snapshot.takeSnapshot>) => {
      const fleet = await actual.takeSnapshot(...args);
      if (!args[2].instancesOnly) mockEvents.push(actual.isFullView(fleet) ? "full" : "incremental");
      return fleet;
    },
  };
});

it("refresh: each batch is terminated after a full poll that lists its tasks, the drain's other polls incremental", async () => {
  const s = await simulatedRollout({
    edit: (c) => Object.assign(c.staging.clusters.apps, { strategy: "refresh" }),
    defaults: { waitForWindow: true },
  });
  const events = mockEvents;
  const result = await s.run({ waves: s.environments.filter((e) => e.name === "staging") as never, checkpoint: (_env, point) => void (point === "refresh:terminated" && events.push("terminated")) });
  expect(result.waves[0].outcome).toBe("done");
  expect(s.violations()).toEqual([]);
  const terminated = events.flatMap((e, i) => (e === "terminated" ? [i] : []));
  expect(terminated.length).toBeGreaterThan(0);
  // The poll each termination rests on: a full one.
  expect(terminated.map((i) => events[i - 1])).toEqual(terminated.map(() => "full"));
  // ... while the drains were followed on incremental polls.
  expect(events.filter((e) => e === "incremental").length).toBeGreaterThan(terminated.length);
});
