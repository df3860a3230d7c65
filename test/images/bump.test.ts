/**
 * `amiroll bump`'s decisions against the simulated AWS: staging takes the newest image of its SSM
 * parameter, production only what staging verified, blue-green keeps its running image as
 * `retiring`, `--to` pins an exact image, rejected and mid-roll clusters are left alone, and
 * every bad answer (missing parameter, broken JSON, missing, deregistered or wrong-CPU image) is
 * one AwsAnswerError naming the cluster.
 */
import { readFileSync } from "node:fs";
import { bumpPlan } from "../../scripts/commands/bump";
import { simulatedEnvironments } from "../../scripts/commands/stack";
import { AwsAnswerError, UsageError } from "../../scripts/core/errors";
import { bumpTargets } from "../../scripts/images/bump";
import { bumpPullRequest } from "../../scripts/images/pull-request";
import type { ScenarioName, Simulation } from "../../scripts/sim/scenarios";
import { type Environment } from "../../scripts/config/environments";
import { type Pins, parsePins } from "../../scripts/config/pins";
import { REPO_PINS_FILE, REPO_PINS_PATH, loadEnvironments, repoConfig } from "../support/repo-config";

jest.setTimeout(30_000);

const environments = loadEnvironments();
const REPO_PINS = JSON.parse(readFileSync(REPO_PINS_PATH, "utf8"));
const PINNED: string = REPO_PINS.staging.apps.current.imageId;
const VERIFIED = "2026-11-23T10:00:00Z";

/** The repository's pins, edited. */
function pinsWith(edit: (raw: any) => void = () => {}): Pins {
  const raw = structuredClone(REPO_PINS);
  edit(raw);
  return parsePins(raw, environments, REPO_PINS_FILE);
}

async function plan(options: { pins?: Pins; selected?: string[]; to?: string; force?: boolean; scenario?: ScenarioName; edit?: (simulations: Map<string, Simulation>) => void } = {}) {
  const config = { ...repoConfig(), environments, pins: options.pins ?? pinsWith() };
  const simulations = await simulatedEnvironments(config, environments, { scenario: options.scenario });
  options.edit?.(simulations);
  const access = { clients: (e: Environment) => simulations.get(e.name)!.clients, clock: simulations.get("staging")!.clock };
  const images = simulations.get("staging")!.images.apps;
  return { newest: images.latest, running: images.running, result: await bumpPlan(config, access, { selected: options.selected ?? [], to: options.to, force: options.force }) };
}

describe("amiroll bump: which image each cluster takes", () => {
  it("moves staging to the newest image of its SSM parameter and leaves production waiting for staging's verification", async () => {
    const { result, newest } = await plan();
    expect(result.changes.map((c) => [`${c.environment}/${c.cluster}`, c.to.imageId])).toEqual([["staging/apps", newest]]);
    const staging = result.pins.staging.apps.current;
    expect(staging).toEqual({
      imageId: newest,
      imageName: expect.stringMatching(/^al2023-ami-ecs-hvm-2023\.0\.\d{8}-kernel-6\.1-arm64$/),
      ssmParameter: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended",
      resolvedAt: expect.stringMatching(/^2026-11-24T08:\d\d:\d\dZ$/),
    });
    expect(result.changes[0].agentVersion).toBe("1.98.0");
    expect(result.pins.production).toEqual(pinsWith().production);
    expect(result.skipped).toEqual([{ environment: "production", cluster: "apps", reason: expect.stringContaining("waits for staging") }]);
  });

  it("promotes to production exactly what staging verified, keeping production's running image as retiring", async () => {
    const pins = pinsWith((raw) => (raw.staging.apps.current.verifiedAt = VERIFIED));
    const { result } = await plan({ pins, selected: ["production"] });
    expect(result.changes).toEqual([]);
    expect(result.upToDate).toEqual(["production/apps"]);
    // Same image already: nothing to do. Now make production behind staging.
    const behind = pinsWith((raw) => {
      raw.staging.apps.current.verifiedAt = VERIFIED;
      raw.production.apps.current = { imageId: "ami-0aaaaaaaaaaaaaaaa", imageName: "older" };
    });
    const { result: promoted } = await plan({ pins: behind, selected: ["production"] });
    expect(promoted.changes.map((c) => c.source.kind)).toEqual(["promoted"]);
    expect(promoted.pins.production.apps.current).toEqual(expect.objectContaining({ imageId: PINNED, ssmParameter: REPO_PINS.staging.apps.current.ssmParameter }));
    expect(promoted.pins.production.apps.current.verifiedAt).toBeUndefined();
    expect(promoted.pins.production.apps.retiring).toEqual({ imageId: "ami-0aaaaaaaaaaaaaaaa", imageName: "older" });
  });

  it("refuses production by name while staging has verified nothing, unless --force (then the newest image from SSM)", async () => {
    await expect(plan({ selected: ["production"] })).rejects.toThrow(new UsageError("production/apps: waits for staging: it has not verified its image yet (amiroll verify --env staging once its pins are applied, or amiroll rollout --to staging; --force takes the newest image from SSM anyway)"));
    const { result, newest } = await plan({ selected: ["production"], force: true });
    expect(result.pins.production.apps.current.imageId).toBe(newest);
    expect(result.pins.production.apps.retiring?.imageId).toBe(PINNED);
  });

  it("--to pins an exact image (a roll-back) in staging, with no SSM parameter: it was chosen by hand", async () => {
    const { running } = await plan();
    const { result } = await plan({ to: running });
    expect(result.changes.map((c) => [`${c.environment}/${c.cluster}`, c.source.kind])).toEqual([["staging/apps", "to"]]);
    expect(result.pins.staging.apps.current).toEqual({ imageId: running, imageName: expect.stringContaining("al2023-ami-ecs-hvm"), resolvedAt: expect.any(String) });
  });

  it("--to in production takes only what staging verified, unless --force", () => {
    const pins = pinsWith((raw) => (raw.staging.apps.current.verifiedAt = VERIFIED));
    expect(() => bumpTargets({ environments, pins, selected: ["production"], to: "ami-0bbbbbbbbbbbbbbbb" })).toThrow(
      new UsageError(`production/apps: production takes only what staging runs and verified (${PINNED}), not ami-0bbbbbbbbbbbbbbbb; --force pins it anyway (a hold-back or a roll-back)`),
    );
    expect(bumpTargets({ environments, pins, selected: ["production"], to: PINNED }).targets.map((t) => t.source)).toEqual([{ kind: "to", imageId: PINNED }]);
    expect(bumpTargets({ environments, pins, selected: ["production"], to: "ami-0bbbbbbbbbbbbbbbb", force: true }).targets.map((t) => t.source)).toEqual([{ kind: "to", imageId: "ami-0bbbbbbbbbbbbbbbb" }]);
    // Without --env, --to pins staging; production still follows staging's verified pin.
    expect(bumpTargets({ environments, pins, selected: [], to: "ami-0bbbbbbbbbbbbbbbb" }).targets.map((t) => [t.environment.name, t.source.kind])).toEqual([["staging", "to"], ["production", "promoted"]]);
  });

  it("leaves a cluster mid-roll alone, and a rejected image unless --force", async () => {
    const midRoll = pinsWith((raw) => (raw.production.apps.retiring = { imageId: "ami-0aaaaaaaaaaaaaaaa" }));
    expect(bumpTargets({ environments, pins: midRoll, selected: [] }).skipped).toEqual([
      { environment: "production", cluster: "apps", reason: expect.stringContaining("a blue-green roll is under way (retiring ami-0aaaaaaaaaaaaaaaa)") },
    ]);
    expect(() => bumpTargets({ environments, pins: midRoll, selected: ["production"], force: true })).toThrow(/under way/);
    const refreshEnvironments = environments.map((e) => (e.name === "production" ? { ...e, clusters: e.clusters.map((c) => ({ ...c, strategy: "refresh" as const })) } : e));
    expect(bumpTargets({ environments: refreshEnvironments, pins: midRoll, selected: [] }).skipped).toEqual([
      { environment: "production", cluster: "apps", reason: expect.stringContaining("a refresh roll (its batches) is under way (retiring ami-0aaaaaaaaaaaaaaaa)") },
    ]);

    const { newest } = await plan();
    const rejected = pinsWith((raw) => (raw.staging.apps.rejected = { imageId: newest, reason: "crash loop", at: "2026-11-20T10:00:00Z" }));
    const { result } = await plan({ pins: rejected });
    expect(result.changes).toEqual([]);
    expect(result.skipped.map((s) => s.reason)).toContainEqual(`${newest} was rejected here on 2026-11-20T10:00:00Z (crash loop); --force pins it anyway`);
    await expect(plan({ pins: rejected, selected: ["staging"] })).rejects.toThrow(/was rejected here/);
    const { result: forced } = await plan({ pins: rejected, force: true, selected: ["staging"] });
    expect(forced.pins.staging.apps.current.imageId).toBe(newest);
    expect(forced.pins.staging.apps.rejected).toBeUndefined();
  });
});

describe("amiroll bump: an image from SSM older than the pin", () => {
  // SSM went back (a withdrawn release): the pin stays; --to pins an older image on purpose.
  const older = (simulations: Map<string, Simulation>) => {
    const staging = simulations.get("staging")!;
    const id = staging.images.apps.latest;
    staging.world.images.set(id, { ...staging.world.images.get(id)!, creationDate: "2026-01-02T03:04:05.000Z" });
  };
  it("is skipped with the reason, and refused (exit 2) when staging is named; --to takes it", async () => {
    const { result, newest } = await plan({ edit: older });
    expect(result.changes).toEqual([]);
    expect(result.skipped).toContainEqual({
      environment: "staging",
      cluster: "apps",
      reason: expect.stringMatching(new RegExp(`^the newest image of /aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended, ${newest} \\(released 2026-01-02\\) is older than the pinned ami-0c8e1f5b2a9d47e31 \\(released 2026-\\d\\d-\\d\\d\\): not a bump \\(--to ${newest} pins it on purpose\\)$`)),
    });
    await expect(plan({ edit: older, selected: ["staging"] })).rejects.toThrow(new RegExp(`^staging/apps: the newest image of \\S+, ${newest} \\(released 2026-01-02\\) is older than the pinned`));
    const { result: chosen } = await plan({ edit: older, to: newest, selected: ["staging"] });
    expect(chosen.pins.staging.apps.current.imageId).toBe(newest);
  });
});

describe("amiroll bump: bad answers from AWS are one line naming the cluster", () => {
  it.each<[ScenarioName, RegExp]>([
    ["ssm-missing", /^SSM parameter \/aws\/service\/ecs\/optimized-ami\/amazon-linux-2023\/arm64\/recommended \(staging\/apps\): does not exist/],
    ["ssm-malformed", /^SSM parameter \S+ \(staging\/apps\): value is not valid JSON/],
    ["ami-deregistered", /^SSM parameter \S+ \(staging\/apps\): ami-0[0-9a-f]{16} is deregistered, not available$/],
    ["ami-wrong-architecture", /^SSM parameter \S+ \(staging\/apps\): ami-0[0-9a-f]{16} is built for x86_64 but m7g\.large is arm64$/],
  ])("%s", async (scenario, message) => {
    const error = await plan({ scenario }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AwsAnswerError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("\n");
  });

  it("an --to image EC2 does not know, or one that is not an AMI id", async () => {
    await expect(plan({ to: "ami-0123456789abcdef0" })).rejects.toThrow("--to ami-0123456789abcdef0 (staging/apps): ami-0123456789abcdef0 does not exist (deregistered, or not shared with this account)");
    await expect(plan({ to: "ami-xyz" })).rejects.toThrow(new UsageError('--to: "ami-xyz" is not an AMI id (expected "ami-" and 8 or 17 lower-case hex digits)'));
  });
});

describe("the pull request of a bump", () => {
  it("names the clusters and the image, links the release notes and says what each plan should show", async () => {
    const pins = pinsWith((raw) => {
      raw.staging.apps.current.verifiedAt = VERIFIED;
      raw.production.apps.current = { imageId: "ami-0aaaaaaaaaaaaaaaa", imageName: "older" };
    });
    const { result, newest } = await plan({ pins });
    const pr = bumpPullRequest(result, environments);
    expect(result.changes.map((c) => c.environment)).toEqual(["staging", "production"]);
    expect(pr.title).toBe("amiroll: bump the AMI of staging/apps, production/apps");
    expect(pr.body).toContain(`| staging/apps | replace | \`${PINNED}\``);
    expect(pr.body).toContain(`\`${newest}\``);
    expect(pr.body).toContain(`| production/apps | blue-green | \`ami-0aaaaaaaaaaaaaaaa\`<br>older | \`${PINNED}\``);
    expect(pr.body).toContain(`verified in staging (${VERIFIED})`);
    expect(pr.body).toMatch(/Release notes: <https:\/\/github\.com\/aws\/amazon-ecs-ami\/releases\/tag\/\d{8}>/);
    expect(pr.body).toContain("`amiroll guard --expect replace`");
    expect(pr.body).toContain("`amiroll guard --expect add`");
    expect(pr.body).not.toContain("#### Not bumped");
  });

  it("says what a refresh cluster's plan shows: updates in place, --expect refresh, no blue-green line", async () => {
    const { result } = await plan();
    const pr = bumpPullRequest({ ...result, changes: result.changes.map((c) => ({ ...c, strategy: "refresh" as const })) }, environments);
    expect(pr.body).toContain("- **staging** (refresh: apps): each cluster's launch template is updated in place");
    expect(pr.body).toContain("`amiroll guard --expect refresh`");
    expect(pr.body).not.toContain("blue-green:");
    expect(pr.body).not.toContain("--expect add");
  });

  it("names the replace canary group's size: one instance by default, else the cluster's canary slice", async () => {
    const { result } = await plan();
    expect(bumpPullRequest(result, environments).body).toContain("proves the image on a canary group beside the old one: 1 instance)");
    const sliced = environments.map((e) => ({ ...e, clusters: e.clusters.map((c) => ({ ...c, canary: { instances: 2, soakMs: 120_000, text: "2 instances" } })) }));
    expect(bumpPullRequest(result, sliced).body).toContain("proves the image on a canary group beside the old one: 2 instances)");
  });

  it("has a one-image title when every change goes to the same image", async () => {
    const { result } = await plan();
    const pr = bumpPullRequest(result, environments);
    expect(pr.title).toMatch(/^amiroll: bump staging\/apps to 2023\.0\.\d{8}-kernel-6\.1-arm64$/);
    expect(pr.body).toContain("#### Not bumped\n\n- production/apps: waits for staging");
  });
});
