/**
 * A zone that takes no new instances (the sim's `az-outage`: the first zone has no capacity).
 * It is AWS's fault, not the image's: the rollout finishes and rejects nothing, but the zone is
 * named, with every service left without a task there, and the balance gate never claims a
 * spread that is not there.
 */
import { stopAfterTest } from "../support/stop-worlds";
import { rolloutOptions, simulatedWorld } from "../../scripts/commands/rollout";
import { createLogger } from "../../scripts/core/log";
import { rolloutText } from "../../scripts/rollout/report";
import { rollout } from "../../scripts/rollout/rollout";
import { readPins } from "../../scripts/config/pins";
import { loadEnvironments, repoConfig } from "../support/repo-config";

jest.setTimeout(60_000);

it("names the lost zone and the services without a task there, passes without rejecting the image, 0 violations", async () => {
  const environments = loadEnvironments();
  const lines: string[] = [];
  const log = createLogger("text", (line) => lines.push(line));
  const world = stopAfterTest(await simulatedWorld({ ...repoConfig(), environments }, { scenario: "az-outage", log }));
  const result = await rollout(rolloutOptions(world, environments, log, { ignoreWindow: true }));
  expect(result.outcome).toBe("done");
  expect([...world.simulations.values()].flatMap((s) => s.world.downtimeViolations())).toEqual([]);

  for (const wave of result.waves) {
    const balance = wave.gates.find((g) => g.gate === "balance")!;
    expect([wave.environment, balance.outcome]).toEqual([wave.environment, "passed"]);
    expect(balance.detail).toMatch(/^apps: eu-west-1a has no instances \(took no new ones\): no task of admin, api, search, web, worker runs there \(a lost zone is not the image's fault: not enforced\); /);
    // Never the unqualified claim of a healthy spread.
    expect(balance.detail).not.toMatch(/spread across zones|no service in a single zone;/);
    const report = wave.balance!.get("apps")!;
    expect(report.lostZones).toEqual(["eu-west-1a"]);
    expect(report.zones).not.toContain("eu-west-1a");
  }
  expect(lines).toContainEqual("warning: staging: apps: eu-west-1a has no instances (took no new ones): no task of admin, api, search, web, worker runs there");
  expect(rolloutText(result)).toContainEqual("  balance apps: every service balanced (zone lost: eu-west-1a has no instances (took no new ones): no task of admin, api, search, web, worker runs there)");
  const pins = readPins(world.pinsPath, environments, "pins");
  for (const env of ["staging", "production"]) {
    expect(pins[env].apps.rejected).toBeUndefined();
    expect(pins[env].apps.current.verifiedAt).toEqual(expect.any(String));
  }
});
