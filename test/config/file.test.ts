/**
 * amiroll.json: found like .git, named by --config or AMIROLL_CONFIG, validated with the file and
 * field at fault, paths relative to it; and its JSON Schema, which must say what the loader says.
 */
import Ajv from "ajv";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { FORMATS } from "../../constructs/formats";
import { defineConfig, findConfigFile, loadConfig, parseConfig, readConfigFile } from "../../scripts/config/file";
import { ConfigError, jsonErrorOffset } from "../../scripts/config/input";
import { UsageError } from "../../scripts/core/errors";
import { REVIEWER_PATTERN } from "../../scripts/github/repository";
import { ENVIRONMENTS_CONFIG, REPO_CONFIG_PATH, REPO_PINS_PATH } from "../support/repo-config";
import { thrown } from "../support/fixtures";

const SCHEMA = JSON.parse(readFileSync(join(__dirname, "../../amiroll.schema.json"), "utf8"));
const REPO_CONFIG = JSON.parse(readFileSync(REPO_CONFIG_PATH, "utf8"));

/** A project directory holding a copy of this repository's config and pins (`edit` changes the config). */
function project(edit: (config: any) => void = () => {}): string {
  const dir = mkdtempSync(join(tmpdir(), "amiroll-config-"));
  const config = structuredClone(REPO_CONFIG);
  edit(config);
  writeFileSync(join(dir, "amiroll.json"), JSON.stringify(config, null, 2));
  copyFileSync(REPO_PINS_PATH, join(dir, "amis.json"));
  return dir;
}

describe("finding amiroll.json", () => {
  it("walks up from the current directory, like git", () => {
    const dir = project();
    const deep = join(dir, "infra", "stacks");
    mkdirSync(deep, { recursive: true });
    expect(findConfigFile({ cwd: deep, env: {} })).toBe(join(dir, "amiroll.json"));
  });

  it("prefers --config, then AMIROLL_CONFIG; a directory means the amiroll.json in it", () => {
    const a = project();
    const b = project();
    expect(findConfigFile({ cwd: a, env: { AMIROLL_CONFIG: join(b, "amiroll.json") } })).toBe(join(b, "amiroll.json"));
    expect(findConfigFile({ cwd: a, config: b, env: { AMIROLL_CONFIG: join(a, "amiroll.json") } })).toBe(join(b, "amiroll.json"));
  });

  it("says how to get one when there is none, or when the named one does not exist", () => {
    const empty = mkdtempSync(join(tmpdir(), "amiroll-empty-"));
    const none = thrown(() => findConfigFile({ cwd: empty, env: {} }));
    expect(none).toBeInstanceOf(UsageError);
    expect(none.message).toBe(`no amiroll.json in ${empty} or any directory above it (run amiroll init to write one, or pass --config FILE)`);
    expect(thrown(() => findConfigFile({ cwd: empty, config: "nope.json", env: {} })).message).toBe("--config: nope.json does not exist");
    expect(thrown(() => findConfigFile({ cwd: empty, env: { AMIROLL_CONFIG: "x/amiroll.json" } })).message).toBe("AMIROLL_CONFIG: x/amiroll.json does not exist");
    expect(thrown(() => findConfigFile({ cwd: empty, config: ".", env: {} })).message).toBe("--config: . is a directory without amiroll.json");
  });
});

describe("reading amiroll.json", () => {
  it("resolves pins and outDir against the config file, wherever the command runs", () => {
    const dir = project((c) => ((c.pins = "pins/amis.json"), (c.outDir = "build/stacks")));
    const config = readConfigFile(join(dir, "amiroll.json"), { cwd: tmpdir(), env: {} });
    expect(config.pinsPath).toBe(join(dir, "pins/amis.json"));
    expect(config.outDir).toBe(join(dir, "build/stacks"));
    expect(config.environments.map((e) => e.name)).toEqual(["staging", "production"]);
    const defaults = readConfigFile(join(project(), "amiroll.json"), { env: {} });
    expect(relative(join(defaults.path, ".."), defaults.pinsPath)).toBe("amis.json");
    expect(relative(join(defaults.path, ".."), defaults.outDir)).toBe("cdktf.out");
  });

  it("backups: dir relative to the config file (default .amiroll/backups), keep 1-1000 (default 10); AMIROLL_BACKUP_DIR wins", () => {
    const dir = project((c) => (c.backups = { dir: "state-backups", keep: 3 }));
    expect(readConfigFile(join(dir, "amiroll.json"), { cwd: "/", env: {} }).backups).toEqual({ dir: join(dir, "state-backups"), shownAs: `backups.dir: ${join(dir, "state-backups").slice(1)}`, keep: 3 });
    const defaults = project();
    expect(readConfigFile(join(defaults, "amiroll.json"), { cwd: defaults, env: {} }).backups).toEqual({ dir: join(defaults, ".amiroll/backups"), shownAs: "backups.dir: .amiroll/backups", keep: 10 });
    expect(readConfigFile(join(dir, "amiroll.json"), { cwd: dir, env: { AMIROLL_BACKUP_DIR: "/var/backups/amiroll" } }).backups).toEqual({ dir: "/var/backups/amiroll", shownAs: "AMIROLL_BACKUP_DIR: /var/backups/amiroll", keep: 3 });
  });

  it("ignores $schema, even one pointing nowhere", () => {
    const dir = project((c) => (c.$schema = "./no/such/schema.json"));
    expect(loadConfig({ config: dir, env: {} }).environments).toHaveLength(2);
  });

  it.each<[string, (c: any) => void, string]>([
    ["pins outside the directory", (c) => (c.pins = "../amis.json"), 'pins: "../amis.json" is outside the config file\'s directory'],
    ["an absolute pins path", (c) => (c.pins = "/etc/amis.json"), 'pins: "/etc/amis.json" is outside the config file\'s directory'],
    ["outDir outside the directory", (c) => (c.outDir = "../../out"), 'outDir: "../../out" is outside the config file\'s directory'],
    ["outDir as the directory itself", (c) => (c.outDir = "."), 'outDir: "." is the config file\'s own directory'],
    ["an unknown top-level field", (c) => (c.environment = {}), "environment: unknown field (known: $schema, pins, outDir, environments, pullRequests, backups, maxParallel, notices)"],
    ["no environments", (c) => delete c.environments, "environments: the environments are missing"],
    ["a bad environment field", (c) => (c.environments.staging.vpcId = "vpc-1"), 'environments.staging.vpcId: "vpc-1" is not valid'],
    ["$schema that is not text", (c) => (c.$schema = 7), "$schema: expected a non-empty string, got number 7"],
    ["pullRequests that is a list", (c) => (c.pullRequests = []), "pullRequests: expected an object, got"],
    ["an unknown pullRequests field", (c) => (c.pullRequests = { label: ["x"] }), "pullRequests.label: unknown field (known: labels, reviewers)"],
    ["a label that is empty", (c) => (c.pullRequests = { labels: ["ami", ""] }), "pullRequests.labels[1]: expected a non-empty string"],
    ["a reviewer that is no login", (c) => (c.pullRequests = { reviewers: ["@alice"] }), 'pullRequests.reviewers[0]: "@alice" is not a GitHub login or org/team'],
    ["backups.keep of 0", (c) => (c.backups = { keep: 0 }), "backups.keep: "],
    ["backups.keep that is not a whole number", (c) => (c.backups = { keep: 2.5 }), "backups.keep: "],
    ["backups.keep over 1000", (c) => (c.backups = { keep: 1001 }), "backups.keep: "],
    ["backups.dir outside the directory", (c) => (c.backups = { dir: "../backups" }), 'backups.dir: "../backups" is outside the config file\'s directory'],
    ["an unknown backups field", (c) => (c.backups = { directory: "b" }), "backups.directory: unknown field (known: dir, keep)"],
  ])("refuses %s, naming the file and field", (_what, edit, message) => {
    const dir = project(edit);
    const error = thrown(() => loadConfig({ config: dir, cwd: dir, env: {} }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message.startsWith(`amiroll.json: ${message}`)).toBe(true);
    expect(error.message).not.toContain("\n");
  });

  it("reads pullRequests (labels and reviewers of bump --open-pr); none when absent", () => {
    const dir = project((c) => (c.pullRequests = { labels: ["amiroll", "ami bump"], reviewers: ["alice", "acme/platform"] }));
    expect(loadConfig({ config: dir, cwd: dir, env: {} }).pullRequests).toEqual({ labels: ["amiroll", "ami bump"], reviewers: ["alice", "acme/platform"] });
    expect(loadConfig({ config: project((c) => (c.pullRequests = {})), env: {} }).pullRequests).toEqual({ labels: [], reviewers: [] });
    expect(loadConfig({ config: project(), env: {} }).pullRequests).toBeUndefined();
  });

  it("names the line and column of a syntax error", () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-config-"));
    writeFileSync(join(dir, "amiroll.json"), '{\n  "environments": {\n    "staging": {},\n  }\n}\n');
    const error = thrown(() => loadConfig({ config: dir, cwd: dir, env: {} }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/^amiroll\.json: \(file\): is not valid JSON \(expected an amiroll config object\) at line 4, column 3: /);
  });

  it("finds the first bad character of any JSON, agreeing with JSON.parse on what is valid", () => {
    const cases: [string, number | undefined][] = [
      ['{"a": [1, {"b": null}], "c": -1.5e3, "d": "\\u00e9\\n"}', undefined],
      ['{"a": }', 6],
      ['{"a": 1,}', 8],
      ["[1, 2", 5],
      ["", 0],
      ['{"a": tru}', 9],
      ['{"a": 1} x', 9],
      ["[01]", 2],
      ['"\u0001"', 1],
      ["\uFEFF{}", 0],
    ];
    for (const [text, offset] of cases) {
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      expect([text, jsonErrorOffset(text), valid]).toEqual([text, offset, offset === undefined]);
    }
  });

  it("refuses a config over the size any JSON amiroll reads may have, before reading it", () => {
    const dir = mkdtempSync(join(tmpdir(), "amiroll-config-"));
    // Sparse: 513 MiB on paper, nothing on disk.
    writeFileSync(join(dir, "amiroll.json"), "");
    truncateSync(join(dir, "amiroll.json"), 513 * 1024 * 1024);
    const error = thrown(() => loadConfig({ config: dir, cwd: dir, env: {} }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/^amiroll\.json: \(file\): is \d+ bytes \(513\.0 MiB\), over the 512 MiB amiroll reads$/);
  });

  it("names an unreadable config file and a missing pins file", () => {
    const dir = project();
    chmodSync(join(dir, "amiroll.json"), 0o000);
    if (process.getuid?.() !== 0) {
      expect(thrown(() => loadConfig({ config: dir, cwd: dir, env: {} })).message).toBe("amiroll.json: (file): cannot be read: EACCES");
    }
    chmodSync(join(dir, "amiroll.json"), 0o644);
    const noPins = project((c) => (c.pins = "elsewhere.json"));
    expect(thrown(() => loadConfig({ config: noPins, cwd: noPins, env: {} })).message).toBe(
      "elsewhere.json: (file): does not exist (the pins named by amiroll.json; amiroll init or amiroll bump writes it)",
    );
  });

  it("defineConfig types a config written in TypeScript and parseConfig takes it", () => {
    const config = defineConfig({ environments: ENVIRONMENTS_CONFIG });
    const loaded = parseConfig(config, "/repo/amiroll.json", { env: {} });
    expect(loaded.pinsPath).toBe("/repo/amis.json");
  });
});

describe("amiroll.schema.json", () => {
  const validate = new Ajv({ allErrors: true, strict: true, strictTypes: false }).compile(SCHEMA);

  it("accepts this repository's config", () => {
    expect(validate(REPO_CONFIG) ? [] : validate.errors).toEqual([]);
    expect(validate({ ...REPO_CONFIG, backups: { dir: "b", keep: 5 } }) ? [] : validate.errors).toEqual([]);
    expect(validate({ ...REPO_CONFIG, backups: { keep: 0 } })).toBe(false);
  });

  it("accepts pullRequests, and refuses a reviewer that is no login, as the loader does", () => {
    const config = { ...structuredClone(REPO_CONFIG), pullRequests: { labels: ["ami bump"], reviewers: ["alice", "acme/platform"] } };
    expect(validate(config) ? [] : validate.errors).toEqual([]);
    expect(validate({ ...config, pullRequests: { reviewers: ["@alice"] } })).toBe(false);
    expect(validate({ ...config, pullRequests: { labels: [" "] } })).toBe(false);
  });

  it("accepts alarms on an environment and a cluster, and refuses the malformed ones the loader refuses", () => {
    const config = structuredClone(REPO_CONFIG);
    config.environments.staging.alarms = { names: ["staging-5xx"], prefix: "staging-apps-" };
    config.environments.staging.clusters.apps.alarms = { prefix: "staging-apps-queue" };
    expect(validate(config) ? [] : validate.errors).toEqual([]);
    for (const alarms of [{}, { names: [] }, { names: ["a", "a"] }, { names: [""] }, { prefix: "x".repeat(256) }, { prefix: "a " }, { tags: {} }]) {
      expect(validate({ ...config, environments: { ...config.environments, staging: { ...config.environments.staging, alarms } } })).toBe(false);
    }
  });

  it("accepts a canary slice of instances or percent, and refuses one of 0, of both or of neither, as the loader does", () => {
    const withCanary = (canary: unknown, at: "environment" | "cluster" = "environment") => {
      const config = structuredClone(REPO_CONFIG) as any;
      if (at === "environment") config.environments.production.canary = canary;
      else config.environments.production.clusters.apps.canary = canary;
      return config;
    };
    for (const ok of [withCanary({ instances: 1 }), withCanary({ percent: 25, soak: "5m" }, "cluster")]) expect(validate(ok) ? [] : validate.errors).toEqual([]);
    for (const bad of [{ instances: 0 }, { percent: 0 }, { instances: 1, percent: 10 }, { soak: "1m" }, { instances: 1, soak: "2 min" }]) expect([bad, validate(withCanary(bad))]).toEqual([bad, false]);
  });

  it("refuses what the loader refuses: a typo, a missing field, a bad id", () => {
    for (const edit of [(c: any) => (c.environments.staging.vpcid = "x"), (c: any) => delete c.environments.staging.region, (c: any) => (c.environments.staging.subnets[0].id = "subnet-1")]) {
      const config = structuredClone(REPO_CONFIG);
      edit(config);
      expect(validate(config)).toBe(false);
    }
  });

  /** The fields the loader knows at a place, read from its "unknown field (known: ...)" refusal. */
  function loaderFields(edit: (c: any) => void): string[] {
    const config = structuredClone(REPO_CONFIG);
    edit(config);
    const message = thrown(() => parseConfig(config, "/repo/amiroll.json", { env: {} })).message;
    return /unknown field \(known: ([^)]*)\)/.exec(message)![1].split(", ").sort();
  }
  const keys = (o: any) => Object.keys(o.properties).sort();

  it("names exactly the fields the loader accepts, at every level", () => {
    expect(keys(SCHEMA)).toEqual(loaderFields((c) => (c.zzz = 1)));
    expect(keys(SCHEMA.definitions.environment)).toEqual(loaderFields((c) => (c.environments.staging.zzz = 1)));
    expect(keys(SCHEMA.definitions.environment.properties.backend)).toEqual(loaderFields((c) => (c.environments.staging.backend.zzz = 1)));
    expect(keys(SCHEMA.definitions.environment.properties.subnets.items)).toEqual(loaderFields((c) => (c.environments.staging.subnets[0].zzz = 1)));
    expect(keys(SCHEMA.definitions.cluster)).toEqual(loaderFields((c) => (c.environments.staging.clusters.apps.zzz = 1)));
    expect(keys(SCHEMA.definitions.smoke)).toEqual(loaderFields((c) => (c.environments.staging.smoke[0].zzz = 1)));
    expect(keys(SCHEMA.definitions.alarms)).toEqual(loaderFields((c) => (c.environments.staging.alarms = { zzz: 1 })));
    expect(keys(SCHEMA.definitions.canary)).toEqual(loaderFields((c) => (c.environments.staging.canary = { instances: 1, zzz: 1 })));
    expect(keys(SCHEMA.properties.pullRequests)).toEqual(loaderFields((c) => (c.pullRequests = { zzz: 1 })));
    expect(keys(SCHEMA.properties.backups)).toEqual(loaderFields((c) => (c.backups = { zzz: 1 })));
    expect(keys(SCHEMA.properties.notices)).toEqual(loaderFields((c) => (c.notices = { zzz: 1 })));
  });

  it("uses the loader's own patterns for AWS ids", () => {
    const env = SCHEMA.definitions.environment.properties;
    expect(env.region.pattern).toBe(FORMATS.region.pattern.source);
    expect(env.vpcId.pattern).toBe(FORMATS.vpcId.pattern.source);
    expect(env.subnets.items.properties.id.pattern).toBe(FORMATS.subnetId.pattern.source);
    expect(SCHEMA.definitions.cluster.properties.instanceType.pattern).toBe(FORMATS.instanceType.pattern.source);
    expect(SCHEMA.definitions.duration.pattern).toBe(FORMATS.duration.pattern.source);
    expect(SCHEMA.properties.pullRequests.properties.reviewers.items.pattern).toBe(REVIEWER_PATTERN.source);
  });
});
