/**
 * What AWS says about images, against the simulated AWS: SSM releases resolved 10 names a call
 * (the ECS-optimized JSON document or a bare id), images described 100 ids a call with unknown
 * ids left undefined, and the pure judgements on the answers (can it run, release notes, age).
 */
import { AwsAnswerError, UsageError } from "../../scripts/core/errors";
import { usedBy } from "../../scripts/commands/status";
import { SIMULATED_START } from "../../scripts/commands/stack";
import { type ImageFacts, ageDays, describeImages, imageProblem, parseRelease, releaseNotesUrl, resolveReleases } from "../../scripts/images/release";
import { type ScenarioName, type Simulation, createSimulation } from "../../scripts/sim/scenarios";
import { findEnvironment } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

jest.setTimeout(60_000);

const environments = loadEnvironments();
const pins = readPins(REPO_PINS_PATH, environments);
const production = findEnvironment(environments, "production");
const PARAMETER = production.clusters[0].amiParameter;

const simulate = (scenario: ScenarioName = "healthy") =>
  createSimulation({ environment: production, pins: pins.production, scenario, startAt: SIMULATED_START });

/** How many calls of `operation` the world saw since `before` (throttled attempts left out). */
const callsOf = (sim: Simulation, operation: string, before: number) =>
  sim.world.calls.slice(before).filter((c) => c.operation === operation && !c.throttled).length;

/** The AwsAnswerError `run` throws (fails the test when it throws nothing or something else). */
function answerError(run: () => unknown): AwsAnswerError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(AwsAnswerError);
    return e as AwsAnswerError;
  }
  throw new Error("expected an AwsAnswerError, but nothing was thrown");
}

/** A fake but well-formed AMI id, `ami-` and 17 hex digits. */
const amiId = (n: number) => `ami-0${n.toString(16).padStart(16, "0")}`;

const DOCUMENT = {
  ecs_agent_version: "1.98.0",
  ecs_runtime_version: "Docker version 25.0.8",
  image_id: "ami-0123456789abcdef0",
  image_name: "al2023-ami-ecs-hvm-2023.0.20261122-kernel-6.1-arm64",
  image_version: "2023.0.20261122",
  os: "Amazon Linux 2023",
  schema_version: 1,
};

describe("parseRelease", () => {
  const P = "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended";

  it("reads the image id, name, agent version and OS from the ECS-optimized JSON document", () => {
    expect(parseRelease(P, JSON.stringify(DOCUMENT))).toEqual({
      parameter: P,
      imageId: "ami-0123456789abcdef0",
      imageName: "al2023-ami-ecs-hvm-2023.0.20261122-kernel-6.1-arm64",
      agentVersion: "1.98.0",
      os: "Amazon Linux 2023",
    });
  });

  it("takes a bare AMI id (an /image_id leaf or a parameter of your own), surrounding whitespace and all", () => {
    expect(parseRelease(`${P}/image_id`, " ami-0123456789abcdef0\n")).toEqual({ parameter: `${P}/image_id`, imageId: "ami-0123456789abcdef0" });
    expect(parseRelease("/golden/ami", "ami-12345678")).toEqual({ parameter: "/golden/ami", imageId: "ami-12345678" });
  });

  it("leaves out empty optional fields of the document", () => {
    expect(parseRelease(P, JSON.stringify({ image_id: "ami-0123456789abcdef0", image_name: "", os: 7 }))).toEqual({ parameter: P, imageId: "ami-0123456789abcdef0" });
  });

  it("says a truncated document is not valid JSON, naming the parameter and who reads it", () => {
    const error = answerError(() => parseRelease(P, JSON.stringify(DOCUMENT).slice(0, 60), " (production/apps)"));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.source).toBe(`SSM parameter ${P} (production/apps)`);
    expect(error.message).toContain(P);
    expect(error.message).toContain("not valid JSON");
  });

  it("rejects a document without an AMI image_id", () => {
    const missing = answerError(() => parseRelease(P, JSON.stringify({ image_name: DOCUMENT.image_name })));
    expect(missing.message).toContain(P);
    expect(missing.message).toContain("its JSON document has no image_id");
    const wrong = answerError(() => parseRelease(P, JSON.stringify({ ...DOCUMENT, image_id: "ami-XYZ" })));
    expect(wrong.message).toContain('image_id "ami-XYZ" is not an AMI id');
  });

  it("rejects a JSON array, even one holding an AMI id", () => {
    const error = answerError(() => parseRelease(P, JSON.stringify(["ami-0123456789abcdef0"])));
    expect(error.message).toContain(P);
    expect(error.message).toContain("neither an AMI id nor the ECS-optimized JSON document");
  });

  it("rejects a value that is neither an AMI id nor a JSON document, quoting it (shortened when long)", () => {
    expect(answerError(() => parseRelease(P, "latest")).message).toBe(`SSM parameter ${P}: holds neither an AMI id nor the ECS-optimized JSON document: "latest"`);
    expect(answerError(() => parseRelease(P, undefined)).message).toContain('document: ""');
    const long = answerError(() => parseRelease(P, "x".repeat(100))).message;
    expect(long).toContain(`"${"x".repeat(40)}..."`);
    expect(long).not.toContain("x".repeat(41));
  });
});

describe("resolveReleases", () => {
  let sim: Simulation;
  beforeAll(async () => {
    sim = await simulate();
  });

  it("resolves the simulated cluster's parameter to the newest release, agent version and all", async () => {
    const releases = await resolveReleases(sim.clients.ssm, [PARAMETER]);
    expect(releases.get(PARAMETER)).toEqual({
      parameter: PARAMETER,
      imageId: sim.images.apps.latest,
      imageName: sim.world.images.get(sim.images.apps.latest)!.name,
      agentVersion: "1.98.0",
      os: "Amazon Linux 2023",
    });
  });

  it("resolves 12 parameters in 2 GetParameters calls (10 names a call)", async () => {
    const names = Array.from({ length: 12 }, (_, i) => `/amiroll-test/twelve/p${i}`);
    names.forEach((name, i) => sim.world.parameters.set(name, i % 2 ? amiId(i) : JSON.stringify({ ...DOCUMENT, image_id: amiId(i) })));
    const before = sim.world.calls.length;
    const releases = await resolveReleases(sim.clients.ssm, names);
    expect(callsOf(sim, "GetParameters", before)).toBe(2);
    expect([...releases.keys()].sort()).toEqual([...names].sort());
    names.forEach((name, i) => expect(releases.get(name)?.imageId).toBe(amiId(i)));
    expect(releases.get(names[0])?.agentVersion).toBe("1.98.0");
    expect(releases.get(names[1])?.agentVersion).toBeUndefined();
  });

  it("asks for a parameter named twice only once: 10 names, each twice, are one call", async () => {
    const names = Array.from({ length: 10 }, (_, i) => `/amiroll-test/twice/p${i}`);
    names.forEach((name, i) => sim.world.parameters.set(name, amiId(100 + i)));
    const before = sim.world.calls.length;
    const releases = await resolveReleases(sim.clients.ssm, [...names, ...names]);
    expect(callsOf(sim, "GetParameters", before)).toBe(1);
    expect(releases.size).toBe(10);
  });

  it("fails on a parameter SSM does not know, naming it and the clusters that read it", async () => {
    sim.world.parameters.set("/amiroll-test/known", amiId(1));
    const error = await resolveReleases(sim.clients.ssm, ["/amiroll-test/known", "/amiroll-test/nowhere"], () => " (production/apps)").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsAnswerError);
    expect((error as Error).message).toBe("SSM parameter /amiroll-test/nowhere (production/apps): does not exist in this region (check the cluster's amiParameter)");
  });

  it("in the ssm-missing world, fails naming the cluster's parameter and production/apps", async () => {
    const missing = await simulate("ssm-missing");
    const error = await resolveReleases(missing.clients.ssm, [PARAMETER], usedBy(production)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsAnswerError);
    expect((error as Error).message).toContain(`SSM parameter ${PARAMETER} (production/apps): does not exist`);
  });

  it("in the ssm-malformed world, says the parameter's value is not valid JSON", async () => {
    const malformed = await simulate("ssm-malformed");
    const error = await resolveReleases(malformed.clients.ssm, [PARAMETER], usedBy(production)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsAnswerError);
    expect((error as Error).message).toContain(`SSM parameter ${PARAMETER} (production/apps): value is not valid JSON`);
  });
});

describe("describeImages", () => {
  let sim: Simulation;
  beforeAll(async () => {
    sim = await simulate();
  });

  const addImages = (count: number, from: number) => {
    const ids = Array.from({ length: count }, (_, i) => amiId(from + i));
    for (const id of ids) {
      sim.world.images.set(id, { imageId: id, name: `custom-${id}`, architecture: "x86_64", creationDate: "2026-10-01T00:00:00.000Z", state: "available" });
    }
    return ids;
  };

  it("describes known images: state, architecture, release date and name", async () => {
    const { running, pinned, latest } = sim.images.apps;
    const facts = await describeImages(sim.clients.ec2, [running, pinned, latest]);
    for (const id of [running, pinned, latest]) {
      const image = sim.world.images.get(id)!;
      expect(facts.get(id)).toEqual({ imageId: id, state: "available", architecture: "arm64", createdAt: image.creationDate, name: image.name });
    }
    // The running image is 60 days older than the start, the newest 2.
    expect(Date.parse(facts.get(running)!.createdAt!)).toBeLessThan(Date.parse(facts.get(latest)!.createdAt!));
  });

  it("maps an id EC2 does not know to undefined and still describes the others of its batch", async () => {
    const { running, latest } = sim.images.apps;
    const unknown = amiId(0xdead);
    const before = sim.world.calls.length;
    const facts = await describeImages(sim.clients.ec2, [running, unknown, latest]);
    expect(facts.has(unknown)).toBe(true);
    expect(facts.get(unknown)).toBeUndefined();
    expect(facts.get(running)?.state).toBe("available");
    expect(facts.get(latest)?.state).toBe("available");
    // The batch failed for the one id its error names; then the others were asked again.
    expect(callsOf(sim, "DescribeImages", before)).toBe(2);
  });

  it("maps a single unknown id to undefined with one call", async () => {
    const before = sim.world.calls.length;
    const facts = await describeImages(sim.clients.ec2, [amiId(0xbeef)]);
    expect([...facts]).toEqual([[amiId(0xbeef), undefined]]);
    expect(callsOf(sim, "DescribeImages", before)).toBe(1);
  });

  it("describes 150 known images in 2 calls (100 ids a call)", async () => {
    const ids = addImages(150, 0x1000);
    const before = sim.world.calls.length;
    const facts = await describeImages(sim.clients.ec2, ids);
    expect(callsOf(sim, "DescribeImages", before)).toBe(2);
    expect(facts.size).toBe(150);
    expect(ids.every((id) => facts.get(id)?.name === `custom-${id}`)).toBe(true);
  });

  it("still describes a deregistered image (the ami-deregistered world's newest), as deregistered", async () => {
    const deregistered = await simulate("ami-deregistered");
    const latest = deregistered.images.apps.latest;
    const facts = await describeImages(deregistered.clients.ec2, [latest]);
    expect(facts.get(latest)?.state).toBe("deregistered");
    expect(imageProblem(latest, facts.get(latest), "m7g.large")).toBe(`${latest} is deregistered, not available`);
  });

  it("reports the other architecture of the ami-wrong-architecture world's newest image", async () => {
    const wrong = await simulate("ami-wrong-architecture");
    const latest = wrong.images.apps.latest;
    const facts = await describeImages(wrong.clients.ec2, [latest]);
    expect(facts.get(latest)?.architecture).toBe("x86_64");
    expect(imageProblem(latest, facts.get(latest), "m7g.large")).toBe(`${latest} is built for x86_64 but m7g.large is arm64`);
  });
});

describe("imageProblem", () => {
  const ID = "ami-0123456789abcdef0";
  const image = (facts: Partial<ImageFacts>): ImageFacts => ({ imageId: ID, state: "available", architecture: "x86_64", ...facts });

  it("says a missing image does not exist", () => {
    expect(imageProblem(ID, undefined, "m7g.large")).toBe(`${ID} does not exist (deregistered, or not shared with this account)`);
  });

  it("says a deregistered image is not available", () => {
    expect(imageProblem(ID, image({ state: "deregistered" }), "c7i.large")).toBe(`${ID} is deregistered, not available`);
  });

  it("refuses an x86_64 image on a Graviton type (m7g.large)", () => {
    expect(imageProblem(ID, image({ architecture: "x86_64" }), "m7g.large")).toBe(`${ID} is built for x86_64 but m7g.large is arm64`);
  });

  it("refuses an arm64 image on an x86_64 type (c7i.large)", () => {
    expect(imageProblem(ID, image({ architecture: "arm64" }), "c7i.large")).toBe(`${ID} is built for arm64 but c7i.large is x86_64`);
  });

  it("finds nothing wrong with an available image of the right architecture", () => {
    expect(imageProblem(ID, image({ architecture: "arm64" }), "m7g.large")).toBeUndefined();
    expect(imageProblem(ID, image({ architecture: "x86_64" }), "c7i.large")).toBeUndefined();
  });
});

describe("releaseNotesUrl", () => {
  it.each([
    ["al2023-ami-ecs-hvm-2023.0.20261105-kernel-6.1-arm64", "20261105"],
    ["amzn2-ami-ecs-hvm-2.0.20250129-x86_64-ebs", "20250129"],
  ])("links %s to the amazon-ecs-ami release of its date", (name, date) => {
    expect(releaseNotesUrl(name)).toBe(`https://github.com/aws/amazon-ecs-ami/releases/tag/${date}`);
  });

  it.each([["my-golden-image-2026.11.05"], ["al2023-ami-2023.6.20241010.0-kernel-6.1-x86_64"], [""], [undefined]])("has no link for %p", (name) => {
    expect(releaseNotesUrl(name)).toBeUndefined();
  });
});

describe("ageDays", () => {
  const now = Date.parse("2026-11-24T08:00:00Z");

  it("counts days since a time, to one decimal", () => {
    expect(ageDays("2026-11-10T08:00:00Z", now)).toBe(14);
    expect(ageDays("2026-11-22T20:00:00.000Z", now)).toBe(1.5);
    expect(ageDays("2026-11-24T07:00:00Z", now)).toBe(0);
  });

  it("is undefined without a time or with one that does not parse", () => {
    expect(ageDays(undefined, now)).toBeUndefined();
    expect(ageDays("", now)).toBeUndefined();
    expect(ageDays("yesterday", now)).toBeUndefined();
  });
});
