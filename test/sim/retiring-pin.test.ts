/**
 * A blue-green pin with `retiring` (what `amiroll bump` or `verify --promote` writes) names the
 * image that runs now: the simulated world's old generation runs that image, so the sim's plan of
 * the pins is the add the guard expects (before, it ran an unrelated older image and the plan after
 * a promotion had no known roll). A pin without `retiring` keeps the world it always had.
 */
import { findEnvironment } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { createSimulation } from "../../scripts/sim/scenarios";
import { REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

describe("createSimulation and a pin with retiring", () => {
  const environments = loadEnvironments();
  const environment = findEnvironment(environments, "production");
  const pins = readPins(REPO_PINS_PATH, environments).production;
  const cluster = environment.clusters[0].name;

  it("runs the retiring image as the old generation, its name from the pin", async () => {
    const plain = await createSimulation({ environment, pins, seed: 7 });
    const retiring = { imageId: "ami-0123456789abcdef0", imageName: "al2023-ami-ecs-hvm-2023.0.20261001-kernel-6.1-arm64" };
    const promoted = { ...pins, [cluster]: { current: { ...pins[cluster].current, imageId: "ami-0fedcba9876543210" }, retiring } };
    const sim = await createSimulation({ environment, pins: promoted, seed: 7 });
    expect(plain.images[cluster].running).not.toBe(retiring.imageId);
    expect(sim.images[cluster].running).toBe(retiring.imageId);
    expect(sim.world.images.get(retiring.imageId)?.name).toBe(retiring.imageName);
    // The same draws: what is not the retiring image is as in the world without it.
    expect(sim.images[cluster].latest).toBe(plain.images[cluster].latest);
  });
});
