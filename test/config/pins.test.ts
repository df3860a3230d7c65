import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../scripts/config/input";
import { type Pins, formatPins, lineDiff, parsePins, readPins, writePins } from "../../scripts/config/pins";
import { REPO_PINS_FILE, REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

const environments = loadEnvironments();
const repoPins = JSON.parse(readFileSync(REPO_PINS_PATH, "utf8"));

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
    const pins = readPins(REPO_PINS_PATH, environments);
    expect(pins.staging.apps.current.imageId).toMatch(/^ami-/);
    expect(pins.production.apps.retiring).toBeUndefined();
  });

  it("accepts a retiring generation on a blue-green cluster", () => {
    const pins = parsePins(
      pinsWith((p) => (p.production.apps.retiring = { imageId: "ami-0123456789abcdef0", resolvedAt: "2026-10-01T08:00:00+01:00" })),
      environments,
      REPO_PINS_FILE,
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
    ["retiring the current image", "production.apps.retiring.imageId", (p) => (p.production.apps.retiring = { ...p.production.apps.current })],
    ["a typo in a pin", "staging.apps.current.imageID", (p) => (p.staging.apps.current.imageID = "ami-12345678")],
    ["a bad verifiedAt on current", "staging.apps.current.verifiedAt", (p) => (p.staging.apps.current.verifiedAt = "2026-11-09 10:00")],
    ["an impossible verifiedAt", "staging.apps.current.verifiedAt", (p) => (p.staging.apps.current.verifiedAt = "2026-02-30T25:00:00Z")],
    ["a verifiedAt that is not text", "production.apps.current.verifiedAt", (p) => (p.production.apps.current.verifiedAt = true)],
    ["a bad verifiedAt on retiring", "production.apps.retiring.verifiedAt", (p) => (p.production.apps.retiring = { imageId: "ami-0123456789abcdef0", verifiedAt: "last tuesday" })],
    ["a rejected image with a bad id", "production.apps.rejected.imageId", (p) => (p.production.apps.rejected = { imageId: "ami-XYZ", reason: "smoke failed", at: "2026-11-10T09:30:00Z" })],
    ["a rejected image without an id", "production.apps.rejected.imageId", (p) => (p.production.apps.rejected = { reason: "smoke failed", at: "2026-11-10T09:30:00Z" })],
    ["a rejected image with a bad time", "staging.apps.rejected.at", (p) => (p.staging.apps.rejected = { imageId: "ami-0123456789abcdef0", reason: "smoke failed", at: "1731231000" })],
    ["a rejected image without a time", "staging.apps.rejected.at", (p) => (p.staging.apps.rejected = { imageId: "ami-0123456789abcdef0", reason: "smoke failed" })],
    ["a rejected image without a reason", "staging.apps.rejected.reason", (p) => (p.staging.apps.rejected = { imageId: "ami-0123456789abcdef0", reason: "", at: "2026-11-10T09:30:00Z" })],
    ["a typo in a rejection", "production.apps.rejected.when", (p) => (p.production.apps.rejected = { imageId: "ami-0123456789abcdef0", reason: "x", at: "2026-11-10T09:30:00Z", when: "now" })],
    ["rejected as a list", "production.apps.rejected", (p) => (p.production.apps.rejected = ["ami-0123456789abcdef0"])],
  ])("refuses %s, naming %s", (_what, field, edit) => {
    const error = errorOf(() => parsePins(pinsWith(edit), environments, REPO_PINS_FILE));
    expect(error.field).toBe(field);
    expect(error.message.startsWith(`${REPO_PINS_FILE}: ${field}: `)).toBe(true);
    expect(error.message).not.toContain("\n");
  });

  it("accepts a retiring generation on a replace cluster (the image that runs while a canary proves current)", () => {
    const pins = parsePins(pinsWith((p) => (p.staging.apps.retiring = { imageId: "ami-0123456789abcdef0" })), environments, REPO_PINS_FILE);
    expect(pins.staging.apps.retiring?.imageId).toBe("ami-0123456789abcdef0");
  });

  it("refuses a list where the environments map belongs", () => {
    expect(errorOf(() => parsePins([], environments, REPO_PINS_FILE)).message).toBe(`${REPO_PINS_FILE}: (top level): expected an object, got a list`);
  });

  it("refuses a corrupt or missing file, naming the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-pins-"));
    const corrupt = join(dir, "amis.json");
    writeFileSync(corrupt, '{"staging": {"apps": ');
    expect(errorOf(() => readPins(corrupt, environments)).message).toMatch(new RegExp(`^${corrupt}: \\(file\\): is not valid JSON`));
    expect(errorOf(() => readPins(join(dir, "nope.json"), environments)).message).toMatch(/nope\.json: \(file\): cannot be read: ENOENT/);
  });
});

const OLD = "ami-0aaaaaaaaaaaaaaaa";
const NEW = "ami-0bbbbbbbbbbbbbbbb";
const BAD = "ami-0cccccccccccccccc";

describe("verification and rejection in the pins", () => {
  it("accepts verifiedAt on current and retiring, and a rejected image on the cluster", () => {
    const pins = parsePins(
      pinsWith((p) => {
        p.production.apps.current.verifiedAt = "2026-11-10T09:40:00Z";
        p.production.apps.retiring = { imageId: OLD, imageName: "al2023-old", verifiedAt: "2026-10-01T08:00:00+01:00" };
        p.production.apps.rejected = { imageId: BAD, reason: "smoke https://www.example.com/healthz answered 502", at: "2026-11-10T09:30:00.250Z" };
      }),
      environments,
      REPO_PINS_FILE,
    );
    expect(pins.production.apps.current.verifiedAt).toBe("2026-11-10T09:40:00Z");
    expect(pins.production.apps.retiring).toEqual({ imageId: OLD, imageName: "al2023-old", verifiedAt: "2026-10-01T08:00:00+01:00" });
    expect(pins.production.apps.rejected).toEqual({ imageId: BAD, reason: "smoke https://www.example.com/healthz answered 502", at: "2026-11-10T09:30:00.250Z" });
    expect(pins.staging.apps.rejected).toBeUndefined();
    expect(pins.staging.apps.current.verifiedAt).toBeUndefined();
  });

  it("accepts a rejected image on a replace cluster too", () => {
    const pins = parsePins(pinsWith((p) => (p.staging.apps.rejected = { imageId: BAD, reason: "the wave failed", at: "2026-11-10T09:30:00Z" })), environments, REPO_PINS_FILE);
    expect(pins.staging.apps.rejected?.imageId).toBe(BAD);
  });

  it("says what is wrong with a time", () => {
    expect(errorOf(() => parsePins(pinsWith((p) => (p.staging.apps.current.verifiedAt = "yesterday")), environments, REPO_PINS_FILE)).message).toBe(
      `${REPO_PINS_FILE}: staging.apps.current.verifiedAt: "yesterday" is not an ISO 8601 time such as 2026-11-02T09:00:00Z`,
    );
    expect(
      errorOf(() => parsePins(pinsWith((p) => (p.staging.apps.rejected = { imageId: BAD, reason: "r", at: "2026-13-01T00:00:00Z" })), environments, REPO_PINS_FILE)).message,
    ).toBe(`${REPO_PINS_FILE}: staging.apps.rejected.at: 2026-13-01T00:00:00Z is not a real date`);
  });
});

describe("formatPins", () => {
  const repoText = readFileSync(REPO_PINS_PATH, "utf8");

  it("writes the repository's pins file back byte for byte", () => {
    expect(formatPins(readPins(REPO_PINS_PATH, environments), environments)).toBe(repoText);
  });

  it("round-trips a file with every field", () => {
    const full = pinsWith((p) => {
      p.production.apps.current.verifiedAt = "2026-11-10T09:40:00Z";
      p.production.apps.retiring = { imageId: OLD, imageName: "al2023-old", ssmParameter: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended", resolvedAt: "2026-10-01T08:00:00Z", verifiedAt: "2026-10-02T08:00:00Z" };
      p.staging.apps.rejected = { imageId: BAD, reason: "the wave failed", at: "2026-11-10T09:30:00Z" };
    });
    const text = formatPins(parsePins(full, environments, REPO_PINS_FILE), environments);
    expect(JSON.parse(text)).toEqual(full);
    expect(formatPins(parsePins(JSON.parse(text), environments, REPO_PINS_FILE), environments)).toBe(text);
    expect(text.endsWith("}\n")).toBe(true);
  });

  it("orders environments and clusters as the config does, current before retiring before rejected, imageId first", () => {
    const shuffled: Pins = {
      production: {
        apps: {
          rejected: { imageId: BAD, reason: "the wave failed", at: "2026-11-10T09:30:00Z" },
          retiring: { verifiedAt: "2026-10-02T08:00:00Z", resolvedAt: "2026-10-01T08:00:00Z", imageName: "al2023-old", imageId: OLD },
          current: { resolvedAt: "2026-11-09T09:12:00Z", imageId: NEW },
        },
      },
      staging: {
        apps: { current: { verifiedAt: "2026-11-09T11:00:00Z", resolvedAt: "2026-11-09T09:12:00Z", ssmParameter: "/aws/x", imageName: "al2023-new", imageId: NEW } },
      },
    };
    expect(formatPins(shuffled, environments)).toBe(
      [
        "{",
        '  "staging": {',
        '    "apps": {',
        '      "current": {',
        `        "imageId": "${NEW}",`,
        '        "imageName": "al2023-new",',
        '        "ssmParameter": "/aws/x",',
        '        "resolvedAt": "2026-11-09T09:12:00Z",',
        '        "verifiedAt": "2026-11-09T11:00:00Z"',
        "      }",
        "    }",
        "  },",
        '  "production": {',
        '    "apps": {',
        '      "current": {',
        `        "imageId": "${NEW}",`,
        '        "resolvedAt": "2026-11-09T09:12:00Z"',
        "      },",
        '      "retiring": {',
        `        "imageId": "${OLD}",`,
        '        "imageName": "al2023-old",',
        '        "resolvedAt": "2026-10-01T08:00:00Z",',
        '        "verifiedAt": "2026-10-02T08:00:00Z"',
        "      },",
        '      "rejected": {',
        `        "imageId": "${BAD}",`,
        '        "reason": "the wave failed",',
        '        "at": "2026-11-10T09:30:00Z"',
        "      }",
        "    }",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
  });
});

describe("writePins", () => {
  it("writes a file readPins reads back, in formatPins' text, leaving no temporary file", () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-pins-"));
    const path = join(dir, "amis.json");
    writeFileSync(path, "old contents");
    const pins = parsePins(
      pinsWith((p) => {
        p.production.apps.current = { imageId: NEW, imageName: "al2023-new", resolvedAt: "2026-11-16T09:00:00Z" };
        p.production.apps.retiring = { ...repoPins.production.apps.current, verifiedAt: "2026-11-10T09:40:00Z" };
      }),
      environments,
      REPO_PINS_FILE,
    );
    writePins(path, pins, environments);
    expect(readPins(path, environments)).toEqual(pins);
    expect(readFileSync(path, "utf8")).toBe(formatPins(pins, environments));
    expect(readdirSync(dir)).toEqual(["amis.json"]);
  });
});

describe("formatPins keeps the file's formatting", () => {
  const pins = readPins(REPO_PINS_PATH, environments);
  const withStagingImage = (imageId: string): Pins => ({ ...pins, staging: { apps: { current: { ...pins.staging.apps.current, imageId } } } });
  // The repository's pins by hand: 4 spaces, production first, resolvedAt before imageId.
  const reordered = (p: Pins) => ({
    production: { apps: { current: { resolvedAt: p.production.apps.current.resolvedAt, imageId: p.production.apps.current.imageId, imageName: p.production.apps.current.imageName, ssmParameter: p.production.apps.current.ssmParameter } } },
    staging: { apps: { current: { resolvedAt: p.staging.apps.current.resolvedAt, imageId: p.staging.apps.current.imageId, imageName: p.staging.apps.current.imageName, ssmParameter: p.staging.apps.current.ssmParameter } } },
  });
  const handFile = `${JSON.stringify(reordered(pins), null, 4)}\n`;

  it("changes only the changed line of a reordered, 4-space file", () => {
    const after = formatPins(withStagingImage(NEW), environments, handFile);
    expect(after).toBe(`${JSON.stringify(reordered(withStagingImage(NEW)), null, 4)}\n`);
    const before = handFile.split("\n");
    const lines = after.split("\n");
    expect(lines).toHaveLength(before.length);
    const changed = lines.flatMap((line, i) => (line === before[i] ? [] : [i]));
    expect(changed).toHaveLength(1);
    expect(before[changed[0]]).toBe(`                "imageId": "${pins.staging.apps.current.imageId}",`);
    expect(lines[changed[0]]).toBe(`                "imageId": "${NEW}",`);
    expect(lineDiff(handFile, after).filter((l) => !l.startsWith(" "))).toEqual([
      `-                 "imageId": "${pins.staging.apps.current.imageId}",`,
      `+                 "imageId": "${NEW}",`,
    ]);
  });

  it("writes the file back unchanged when the pins are the same", () => {
    expect(formatPins(pins, environments, handFile)).toBe(handFile);
  });

  it("keeps tab indentation", () => {
    const tabbed = JSON.stringify(JSON.parse(formatPins(pins, environments)), null, "\t");
    const after = formatPins(withStagingImage(NEW), environments, tabbed);
    expect(after).toBe(JSON.stringify(JSON.parse(formatPins(withStagingImage(NEW), environments)), null, "\t"));
    expect(after.split("\n")[1]).toBe('\t"staging": {');
  });

  it("keeps CRLF line endings", () => {
    const crlf = formatPins(pins, environments).replace(/\n/g, "\r\n");
    const after = formatPins(withStagingImage(NEW), environments, crlf);
    expect(after).toBe(formatPins(withStagingImage(NEW), environments).replace(/\n/g, "\r\n"));
    expect(after.endsWith("}\r\n")).toBe(true);
    expect(after.replace(/\r\n/g, "")).not.toContain("\n");
  });

  it("keeps a missing trailing newline, and adds none", () => {
    const bare = formatPins(pins, environments).trimEnd();
    const after = formatPins(withStagingImage(NEW), environments, bare);
    expect(after).toBe(formatPins(withStagingImage(NEW), environments).trimEnd());
    expect(after.endsWith("}")).toBe(true);
    expect(formatPins(pins, environments, `${bare}\r\n`).endsWith("}\r\n")).toBe(true);
  });

  it("puts keys new to the file after its own, in the canonical order, and drops keys the pins no longer have", () => {
    const like = JSON.stringify(
      { production: { apps: { current: { resolvedAt: "2026-11-09T09:12:00Z", imageId: OLD } } }, staging: { apps: { current: { imageId: OLD, imageName: "old" } } } },
      null,
      4,
    );
    const next: Pins = {
      staging: { apps: { current: { imageId: NEW } } },
      production: {
        apps: {
          current: { verifiedAt: "2026-11-10T09:40:00Z", imageName: "al2023-new", imageId: NEW, resolvedAt: "2026-11-09T09:12:00Z" },
          retiring: { verifiedAt: "2026-10-02T08:00:00Z", imageId: OLD },
        },
      },
    };
    expect(formatPins(next, environments, like)).toBe(
      [
        "{",
        '    "production": {',
        '        "apps": {',
        '            "current": {',
        '                "resolvedAt": "2026-11-09T09:12:00Z",',
        `                "imageId": "${NEW}",`,
        '                "imageName": "al2023-new",',
        '                "verifiedAt": "2026-11-10T09:40:00Z"',
        "            },",
        '            "retiring": {',
        `                "imageId": "${OLD}",`,
        '                "verifiedAt": "2026-10-02T08:00:00Z"',
        "            }",
        "        }",
        "    },",
        '    "staging": {',
        '        "apps": {',
        '            "current": {',
        `                "imageId": "${NEW}"`,
        "            }",
        "        }",
        "    }",
        "}",
      ].join("\n"),
    );
  });

  it.each([
    ["not JSON", '{"staging": {"apps": '],
    ["empty", ""],
    ["a list", "[\n    1\n]"],
    ["a string", '"    text"\r\n'],
    ["null", "null"],
  ])("falls back to the canonical form when the file is %s", (_what, like) => {
    expect(formatPins(withStagingImage(NEW), environments, like)).toBe(formatPins(withStagingImage(NEW), environments));
  });

  it("indents 2 spaces when the file has no indented line", () => {
    const after = formatPins(withStagingImage(NEW), environments, JSON.stringify(reordered(pins)));
    expect(after).toBe(JSON.stringify(reordered(withStagingImage(NEW)), null, 2));
  });

  it("writePins keeps an existing file's 4-space indentation and order", () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-pins-"));
    const path = join(dir, "amis.json");
    writeFileSync(path, handFile);
    writePins(path, withStagingImage(NEW), environments);
    expect(readFileSync(path, "utf8")).toBe(`${JSON.stringify(reordered(withStagingImage(NEW)), null, 4)}\n`);
    expect(readPins(path, environments)).toEqual(withStagingImage(NEW));
    expect(readdirSync(dir)).toEqual(["amis.json"]);
  });

  it("writePins writes the canonical form where there is no file yet", () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-pins-"));
    const path = join(dir, "amis.json");
    writePins(path, pins, environments);
    expect(readFileSync(path, "utf8")).toBe(formatPins(pins, environments));
  });
});

describe("lineDiff", () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);

  it("is empty for identical texts", () => {
    expect(lineDiff("a\nb\nc\n", "a\nb\nc\n")).toEqual([]);
    expect(lineDiff("", "")).toEqual([]);
  });

  it("shows a changed line with 2 lines of context either side, the removed line first", () => {
    const before = lines(9);
    const after = [...before];
    after[4] = "LINE 5";
    expect(lineDiff(before.join("\n"), after.join("\n"))).toEqual(["  line 3", "  line 4", "- line 5", "+ LINE 5", "  line 6", "  line 7"]);
  });

  it("puts every removed line of a block before the added ones", () => {
    expect(lineDiff("keep\nold 1\nold 2\nend", "keep\nnew 1\nnew 2\nnew 3\nend")).toEqual([
      "  keep",
      "- old 1",
      "- old 2",
      "+ new 1",
      "+ new 2",
      "+ new 3",
      "  end",
    ]);
  });

  it("separates distant hunks with '  ...' and keeps near ones together", () => {
    const before = lines(20);
    const distant = [...before];
    distant[2] = "changed 3";
    distant[16] = "changed 17";
    expect(lineDiff(before.join("\n"), distant.join("\n"))).toEqual([
      "  line 1", "  line 2", "- line 3", "+ changed 3", "  line 4", "  line 5",
      "  ...",
      "  line 15", "  line 16", "- line 17", "+ changed 17", "  line 18", "  line 19",
    ]);
    // Four unchanged lines between two changes: the contexts meet, no gap.
    const near = [...before];
    near[2] = "changed 3";
    near[7] = "changed 8";
    expect(lineDiff(before.join("\n"), near.join("\n"))).toEqual([
      "  line 1", "  line 2", "- line 3", "+ changed 3", "  line 4", "  line 5", "  line 6", "  line 7", "- line 8", "+ changed 8", "  line 9", "  line 10",
    ]);
  });

  it("shows added and removed lines alone", () => {
    expect(lineDiff("a\nb\nc\nd\ne\nf", "a\nb\nc\nX\nd\ne\nf")).toEqual(["  b", "  c", "+ X", "  d", "  e"]);
    expect(lineDiff("a\nb\nc\nd\ne\nf", "a\nb\nd\ne\nf")).toEqual(["  a", "  b", "- c", "  d", "  e"]);
  });

  it("shows a verification written into the repository's pins file", () => {
    const pins = readPins(REPO_PINS_PATH, environments);
    const verified: Pins = { ...pins, staging: { apps: { current: { ...pins.staging.apps.current, verifiedAt: "2026-11-10T09:40:00Z" } } } };
    expect(lineDiff(formatPins(pins, environments), formatPins(verified, environments))).toEqual([
      '          "imageName": "al2023-ami-ecs-hvm-2023.0.20261105-kernel-6.1-arm64",',
      '          "ssmParameter": "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended",',
      '-         "resolvedAt": "2026-11-09T09:12:00Z"',
      '+         "resolvedAt": "2026-11-09T09:12:00Z",',
      '+         "verifiedAt": "2026-11-10T09:40:00Z"',
      "        }",
      "      }",
    ]);
  });
});
