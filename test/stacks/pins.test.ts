import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../stacks/config-input";
import { ENVIRONMENTS_CONFIG, loadEnvironments } from "../../stacks/environments";
import { DEFAULT_PINS_PATH, PINS_FILE, parsePins, readPins } from "../../stacks/pins";

const environments = loadEnvironments(ENVIRONMENTS_CONFIG);
const repoPins = JSON.parse(readFileSync(DEFAULT_PINS_PATH, "utf8"));

function pinsWith(edit: (p: any) => void): unknown {
  const copy = structuredClone(repoPins);
  edit(copy);
  return copy;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("the pins were accepted");
}

describe("AMI pins", () => {
  it("the repository's pins are valid and give each cluster its current image", () => {
    const pins = readPins(DEFAULT_PINS_PATH, environments);
    expect(pins.staging.apps.current.imageId).toMatch(/^ami-/);
    expect(pins.production.apps.retiring).toBeUndefined();
  });

  it("accepts a retiring generation on a blue-green cluster", () => {
    const pins = parsePins(
      pinsWith((p) => (p.production.apps.retiring = { imageId: "ami-0123456789abcdef0", resolvedAt: "2026-10-01T08:00:00+01:00" })),
      environments,
    );
    expect(pins.production.apps.retiring?.imageId).toBe("ami-0123456789abcdef0");
  });

  it.each<[string, string, (p: any) => void]>([
    ["an environment without pins", "production", (p) => delete p.production],
    ["a cluster without a pin", "staging.apps", (p) => delete p.staging.apps],
    ["a pin for an unknown environment", "qa", (p) => (p.qa = p.staging)],
    ["a pin for an unknown cluster", "staging.batch", (p) => (p.staging.batch = p.staging.apps)],
    ["no current pin", "staging.apps.current", (p) => delete p.staging.apps.current],
    ["a bad AMI id", "staging.apps.current.imageId", (p) => (p.staging.apps.current.imageId = "ami-12")],
    ["an upper-case AMI id", "production.apps.current.imageId", (p) => (p.production.apps.current.imageId = "ami-0C8E1F5B2A9D47E31")],
    ["a bad resolvedAt", "staging.apps.current.resolvedAt", (p) => (p.staging.apps.current.resolvedAt = "yesterday")],
    ["an impossible date", "staging.apps.current.resolvedAt", (p) => (p.staging.apps.current.resolvedAt = "2026-13-45T10:00:00Z")],
    ["a bad SSM parameter", "staging.apps.current.ssmParameter", (p) => (p.staging.apps.current.ssmParameter = "amazon-linux-2023")],
    ["an empty image name", "staging.apps.current.imageName", (p) => (p.staging.apps.current.imageName = "")],
    ["a retiring pin on a replace cluster", "staging.apps.retiring", (p) => (p.staging.apps.retiring = { imageId: "ami-0123456789abcdef0" })],
    ["retiring the current image", "production.apps.retiring.imageId", (p) => (p.production.apps.retiring = { ...p.production.apps.current })],
    ["a typo in a pin", "staging.apps.current.imageID", (p) => (p.staging.apps.current.imageID = "ami-12345678")],
  ])("refuses %s, naming %s", (_what, field, edit) => {
    const error = errorOf(() => parsePins(pinsWith(edit), environments));
    expect(error.field).toBe(field);
    expect(error.message.startsWith(`${PINS_FILE}: ${field}: `)).toBe(true);
    expect(error.message).not.toContain("\n");
  });

  it("refuses a list where the environments map belongs", () => {
    expect(errorOf(() => parsePins([], environments)).message).toBe(`${PINS_FILE}: (top level): expected an object, got a list`);
  });

  it("refuses a corrupt or missing file, naming the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-pins-"));
    const corrupt = join(dir, "amis.json");
    writeFileSync(corrupt, '{"staging": {"apps": ');
    expect(errorOf(() => readPins(corrupt, environments)).message).toMatch(new RegExp(`^${corrupt}: \\(file\\): is not valid JSON`));
    expect(errorOf(() => readPins(join(dir, "nope.json"), environments)).message).toMatch(/nope\.json: \(file\): cannot be read: ENOENT/);
  });
});
