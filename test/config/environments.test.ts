import { ConfigError } from "../../scripts/config/input";
import { findEnvironment } from "../../scripts/config/file";
import { parseWindow } from "../../scripts/config/windows";
import { ENVIRONMENTS_CONFIG, REPO_CONFIG_FILE, loadEnvironments } from "../support/repo-config";

/** A deep copy of the example config, changed by `edit`. */
function configWith(edit: (c: any) => void): unknown {
  const copy = structuredClone(ENVIRONMENTS_CONFIG) as any;
  edit(copy);
  return copy;
}

function errorOf(raw: unknown): ConfigError {
  try {
    loadEnvironments(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("the config was accepted");
}

describe("the example environments", () => {
  const envs = loadEnvironments();

  it("has staging (replace, 2 zones, 2 instances) and production (blue-green, 3 zones, 4 instances)", () => {
    const staging = findEnvironment(envs, "staging");
    const production = findEnvironment(envs, "production");
    expect(staging.clusters).toEqual([expect.objectContaining({ name: "apps", ecsClusterName: "staging-apps", strategy: "replace", desiredCapacity: 2 })]);
    expect(new Set(staging.subnets.map((s) => s.availabilityZone)).size).toBe(2);
    expect(production.promotesFrom).toBe("staging");
    expect(production.clusters).toEqual([expect.objectContaining({ name: "apps", strategy: "blue-green", desiredCapacity: 4 })]);
    expect(new Set(production.subnets.map((s) => s.availabilityZone)).size).toBe(3);
  });

  it("gives each environment its own state key, encrypted in the shared bucket", () => {
    expect(envs.map((e) => e.backend.key)).toEqual(["amiroll/staging/terraform.tfstate", "amiroll/production/terraform.tfstate"]);
  });

  it("defaults the AMI parameter to Amazon Linux 2023 of the instance type's architecture", () => {
    expect(findEnvironment(envs, "staging").clusters[0].amiParameter).toBe(
      "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended",
    );
    const x86 = loadEnvironments(configWith((c) => (c.staging.clusters.apps.instanceType = "m7i.large")));
    expect(x86[0].clusters[0].amiParameter).toBe("/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended");
  });

  it("defaults the strategy to blue-green where an environment promotes from another", () => {
    const envs2 = loadEnvironments(configWith((c) => {
      delete c.staging.strategy;
      delete c.production.strategy;
    }));
    expect(envs2.map((e) => e.clusters[0].strategy)).toEqual(["replace", "blue-green"]);
  });

  it("names the known environments when asked for one that does not exist", () => {
    expect(() => findEnvironment(envs, "prod")).toThrow('--env: no such environment "prod" (known: staging, production)');
  });
});

describe("every bad config is refused with the field at fault", () => {
  it.each<[string, string, (c: any) => void]>([
    ["environment name", "environments.Staging", (c) => ((c.Staging = c.staging), delete c.staging)],
    ["region", "environments.staging.region", (c) => (c.staging.region = "Ireland")],
    ["account id", "environments.staging.accountId", (c) => (c.staging.accountId = "1234")],
    ["missing backend", "environments.staging.backend", (c) => delete c.staging.backend],
    ["bucket name", "environments.staging.backend.bucket", (c) => (c.staging.backend.bucket = "Bad_Bucket")],
    ["key prefix", "environments.staging.backend.keyPrefix", (c) => (c.staging.backend.keyPrefix = "/state/")],
    ["vpc id", "environments.staging.vpcId", (c) => (c.staging.vpcId = "vpc-123")],
    ["no subnets", "environments.staging.subnets", (c) => (c.staging.subnets = [])],
    ["subnet id", "environments.staging.subnets[1].id", (c) => (c.staging.subnets[1].id = "subnet-ZZ")],
    ["zone format", "environments.staging.subnets[0].availabilityZone", (c) => (c.staging.subnets[0].availabilityZone = "a")],
    ["zone outside the region", "environments.staging.subnets[0].availabilityZone", (c) => (c.staging.subnets[0].availabilityZone = "us-east-1a")],
    ["duplicate subnet", "environments.production.subnets[2].id", (c) => (c.production.subnets[2].id = c.production.subnets[0].id)],
    ["production in one zone", "environments.production.subnets", (c) => (c.production.subnets = [c.production.subnets[0]])],
    ["strategy", "environments.staging.strategy", (c) => (c.staging.strategy = "canary")],
    ["unknown promotesFrom", "environments.production.promotesFrom", (c) => (c.production.promotesFrom = "stage")],
    ["promotion loop", "environments.staging.promotesFrom", (c) => (c.staging.promotesFrom = "production")],
    ["no clusters", "environments.staging.clusters", (c) => (c.staging.clusters = {})],
    ["cluster name", "environments.staging.clusters.Apps", (c) => (c.staging.clusters = { Apps: c.staging.clusters.apps })],
    ["instance type", "environments.staging.clusters.apps.instanceType", (c) => (c.staging.clusters.apps.instanceType = "large")],
    ["min above max", "environments.staging.clusters.apps.minSize", (c) => (c.staging.clusters.apps.minSize = 9)],
    ["desired outside min..max", "environments.staging.clusters.apps.desiredCapacity", (c) => (c.staging.clusters.apps.desiredCapacity = 7)],
    ["size not a number", "environments.production.clusters.apps.maxSize", (c) => (c.production.clusters.apps.maxSize = "8")],
    ["parameter path", "environments.staging.clusters.apps.amiParameter", (c) => (c.staging.clusters.apps.amiParameter = "amazon-linux-2023")],
    ["architecture mismatch", "environments.staging.clusters.apps.amiParameter", (c) => (c.staging.clusters.apps.amiParameter = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended")],
    ["typo in a field", "environments.staging.clusters.apps.instancetype", (c) => (c.staging.clusters.apps.instancetype = "m7g.large")],
    ["tag value", "environments.staging.tags.team", (c) => (c.staging.tags.team = 3)],
    ["ECS cluster name too long", "environments.staging.clusters.a-very-long-cluster-name-xyz", (c) => (c.staging.clusters["a-very-long-cluster-name-xyz"] = c.staging.clusters.apps)],
    ["not an object", "environments.staging", (c) => (c.staging = "eu-west-1")],
    ["maintenance windows not a list", "environments.production.maintenanceWindows", (c) => (c.production.maintenanceWindows = "Tue 09:00-11:00 Europe/London")],
    ["a maintenance window that is not text", "environments.production.maintenanceWindows[0]", (c) => (c.production.maintenanceWindows[0] = 9)],
    ["an unreadable maintenance window", "environments.production.maintenanceWindows[1]", (c) => (c.production.maintenanceWindows[1] = "Thursday mornings")],
    ["an empty environment hold", "environments.production.hold", (c) => (c.production.hold = "")],
    ["a hold that is not text", "environments.staging.hold", (c) => (c.staging.hold = true)],
    ["an empty cluster hold", "environments.production.clusters.apps.hold", (c) => (c.production.clusters.apps.hold = "")],
    ["smoke not a list", "environments.staging.smoke", (c) => (c.staging.smoke = "https://staging.example.com/healthz")],
    ["a smoke check without a url", "environments.staging.smoke[0].url", (c) => delete c.staging.smoke[0].url],
    ["a non-http smoke url", "environments.production.smoke[1].url", (c) => (c.production.smoke[1].url = "ftp://api.example.com/healthz")],
    ["a smoke url that is not a URL", "environments.staging.smoke[0].url", (c) => (c.staging.smoke[0].url = "staging.example.com/healthz")],
    ["a smoke status of 600", "environments.production.smoke[1].expectStatus", (c) => (c.production.smoke[1].expectStatus = 600)],
    ["a smoke status as text", "environments.production.smoke[1].expectStatus", (c) => (c.production.smoke[1].expectStatus = "204")],
    ["negative smoke retries", "environments.staging.smoke[0].retries", (c) => (c.staging.smoke[0].retries = -1)],
    ["a smoke timeout without a unit", "environments.staging.smoke[0].timeout", (c) => (c.staging.smoke[0].timeout = "5")],
    ["an unknown smoke field", "environments.production.smoke[0].status", (c) => (c.production.smoke[0].status = 200)],
    ["a soak that is not a duration", "environments.staging.soak", (c) => (c.staging.soak = "10 minutes")],
    ["a soak as a number", "environments.production.soak", (c) => (c.production.soak = 600)],
    ["rebalance as text", "environments.production.rebalance", (c) => (c.production.rebalance = "yes")],
    ["a boot grace period that is not a duration", "environments.production.bootGracePeriod", (c) => (c.production.bootGracePeriod = "five minutes")],
    ["a boot grace period as a number", "environments.staging.bootGracePeriod", (c) => (c.staging.bootGracePeriod = 300)],
    ["a boot grace period under a minute", "environments.production.bootGracePeriod", (c) => (c.production.bootGracePeriod = "30s")],
    ["a cluster's boot grace period under a minute", "environments.staging.clusters.apps.bootGracePeriod", (c) => (c.staging.clusters.apps.bootGracePeriod = "5s")],
  ])("%s -> %s", (_what, field, edit) => {
    const error = errorOf(configWith(edit));
    expect(error.file).toBe(REPO_CONFIG_FILE);
    expect(error.field).toBe(field);
    expect(error.message.startsWith(`${REPO_CONFIG_FILE}: ${field}: `)).toBe(true);
    expect(error.message).not.toContain("\n");
  });

  it("an empty config", () => {
    expect(errorOf({}).message).toBe(`${REPO_CONFIG_FILE}: environments: no environments are defined`);
  });
});

describe("the refresh strategy's batches", () => {
  const refresh = (fields: Record<string, unknown>) =>
    configWith((c) => Object.assign(c.production.clusters.apps, { strategy: "refresh", ...fields }));
  const apps = (raw: unknown) => findEnvironment(loadEnvironments(raw), "production").clusters[0];

  it("takes the batch as instances or a percentage, and the healthy percentages; no options is n+1", () => {
    expect(apps(refresh({}))).toEqual(expect.objectContaining({ strategy: "refresh", refresh: {} }));
    expect(apps(refresh({ batch: "50%", minHealthyPercent: 75, maxHealthyPercent: 125 })).refresh).toEqual({ batch: "50%", minHealthyPercent: 75, maxHealthyPercent: 125 });
    expect(apps(configWith((c) => (c.production.strategy = "refresh"))).strategy).toBe("refresh");
  });

  it.each<[string, string, Record<string, unknown>, RegExp]>([
    ["minHealthyPercent above maxHealthyPercent", "minHealthyPercent", { minHealthyPercent: 100, maxHealthyPercent: 90 }, /100 is above maxHealthyPercent 90/],
    ["a batch of 0", "batch", { batch: 0 }, /expected an integer >= 1/],
    ["a batch of 0%", "batch", { batch: "0%" }, /percentage/],
    ["a batch as a fraction", "batch", { batch: 0.5 }, /expected an integer >= 1/],
    ["maxHealthyPercent over 200", "maxHealthyPercent", { maxHealthyPercent: 300 }, /100\.\.200/],
    // 4 instances, none added first, 2 drained: 2 of 4 take tasks, below 75% (3).
    ["a batch that cannot keep minHealthyPercent", "batch", { batch: 2, minHealthyPercent: 75, maxHealthyPercent: 100 }, /2 leaves 2 of 4 instances taking tasks while it drains \(maxHealthyPercent 100 adds no instance first\), below minHealthyPercent 75 \(3 instances\): maxHealthyPercent 125 is the smallest that works with this batch; a batch of at most 1 works at these percentages/],
    ["a percentage batch that cannot", "batch", { batch: "100%", minHealthyPercent: 100, maxHealthyPercent: 150 }, /100% \(4 of 4 instances\) leaves 2 of 4 .* maxHealthyPercent 200 is the smallest that works/],
  ])("%s", (_what, field, fields, message) => {
    const error = errorOf(refresh(fields));
    expect(error.field).toBe(`environments.production.clusters.apps.${field}`);
    expect(error.message).toMatch(message);
  });

  it.each(["batch", "minHealthyPercent", "maxHealthyPercent"])("refuses %s on a cluster that does not refresh", (field) => {
    const error = errorOf(configWith((c) => (c.production.clusters.apps[field] = field === "batch" ? 1 : 100)));
    expect(error.field).toBe(`environments.production.clusters.apps.${field}`);
    expect(error.message).toMatch(/only the "refresh" strategy/);
  });
});

describe("the rollout settings of an environment", () => {
  const envs = loadEnvironments();
  const staging = findEnvironment(envs, "staging");
  const production = findEnvironment(envs, "production");

  it("the repository's production: two windows, rebalance, a 10 minute soak, two smoke checks (one expecting 204)", () => {
    expect(production.maintenanceWindows).toEqual([
      { text: "Tue 09:00-11:00 Europe/London", days: [2], startMinutes: 540, endMinutes: 660, timeZone: "Europe/London" },
      { text: "Thu 09:00-11:00 Europe/London", days: [4], startMinutes: 540, endMinutes: 660, timeZone: "Europe/London" },
    ]);
    expect(production.rebalance).toBe(true);
    expect(production.soakMs).toBe(600_000);
    expect(production.smoke).toEqual([
      { url: "https://www.example.com/healthz", expectStatus: 200, timeoutMs: 5000, retries: 3 },
      { url: "https://api.example.com/healthz", expectStatus: 204, timeoutMs: 5000, retries: 3 },
    ]);
    expect(production.hold).toBeUndefined();
    expect(production.clusters[0].hold).toBeUndefined();
  });

  it("the repository's staging: any time, rebalance, a 10 minute soak, one smoke check", () => {
    expect(staging.maintenanceWindows).toEqual([]);
    expect(staging.rebalance).toBe(true);
    expect(staging.soakMs).toBe(600_000);
    expect(staging.smoke).toEqual([{ url: "https://staging.example.com/healthz", expectStatus: 200, timeoutMs: 5000, retries: 3 }]);
  });

  it("defaults: no windows, no smoke checks, a 5 minute soak, no rebalance, no hold", () => {
    const [, bare] = loadEnvironments(configWith((c) => {
      delete c.production.maintenanceWindows;
      delete c.production.smoke;
      delete c.production.soak;
      delete c.production.rebalance;
    }));
    expect(bare.maintenanceWindows).toEqual([]);
    expect(bare.smoke).toEqual([]);
    expect(bare.soakMs).toBe(300_000);
    expect(bare.rebalance).toBe(false);
    expect("hold" in bare).toBe(false);
  });

  it("parses each window as the rollout's windows module does, in the order written", () => {
    const texts = ["Mon-Fri 22:00-02:00 America/New_York", "daily 00:00-24:00 UTC", "Sat,Sun 06:30-08:15 Asia/Tokyo"];
    const [, env] = loadEnvironments(configWith((c) => (c.production.maintenanceWindows = texts)));
    expect(env.maintenanceWindows).toEqual(texts.map(parseWindow));
    expect(env.maintenanceWindows.map((w) => [w.days, w.startMinutes, w.endMinutes])).toEqual([
      [[1, 2, 3, 4, 5], 1320, 120],
      [[0, 1, 2, 3, 4, 5, 6], 0, 1440],
      [[0, 6], 390, 495],
    ]);
  });

  it("an empty list of windows is any time", () => {
    const [, env] = loadEnvironments(configWith((c) => (c.production.maintenanceWindows = [])));
    expect(env.maintenanceWindows).toEqual([]);
  });

  it("a bad window names its place in the list and quotes the text", () => {
    const error = errorOf(configWith((c) => (c.production.maintenanceWindows[1] = "Thu 25:00-11:00 Europe/London")));
    expect(error.field).toBe("environments.production.maintenanceWindows[1]");
    expect(error.message).toBe(
      `${REPO_CONFIG_FILE}: environments.production.maintenanceWindows[1]: "Thu 25:00-11:00 Europe/London": 25:00 is not a time (expected 00:00-23:59)`,
    );
    expect(errorOf(configWith((c) => (c.production.maintenanceWindows[0] = "Tue 09:00-11:00 Europe/Londres"))).message).toBe(
      `${REPO_CONFIG_FILE}: environments.production.maintenanceWindows[0]: "Tue 09:00-11:00 Europe/Londres": unknown time zone "Europe/Londres"`,
    );
    expect(errorOf(configWith((c) => (c.staging.maintenanceWindows = ["Tue 09:00-09:00 UTC"]))).message).toBe(
      `${REPO_CONFIG_FILE}: environments.staging.maintenanceWindows[0]: "Tue 09:00-09:00 UTC": the window opens and closes at 09:00, so it is never open`,
    );
  });

  it("holds an environment and a cluster with the reason as written", () => {
    const [held] = loadEnvironments(configWith((c) => {
      c.staging.hold = "quarter-end freeze until 2026-12-01";
      c.staging.clusters.apps.hold = "kernel regression, see INC-4411";
    }));
    expect(held.hold).toBe("quarter-end freeze until 2026-12-01");
    expect(held.clusters[0].hold).toBe("kernel regression, see INC-4411");
  });

  it("holds a cluster without holding its environment", () => {
    const [, env] = loadEnvironments(configWith((c) => (c.production.clusters.apps.hold = "black friday")));
    expect(env.hold).toBeUndefined();
    expect(env.clusters[0].hold).toBe("black friday");
  });

  it("fills a smoke check's defaults and converts its timeout to milliseconds", () => {
    const [staging2] = loadEnvironments(configWith((c) => (c.staging.smoke = [
      { url: "http://10.0.0.5:8080/ready" },
      { url: "https://staging.example.com/old", expectStatus: 301, timeout: "90s", retries: 0 },
      { url: "https://staging.example.com/slow", timeout: "2m", retries: 20 },
      { url: "https://staging.example.com/fast", timeout: "250ms", expectStatus: 100 },
    ])));
    expect(staging2.smoke).toEqual([
      { url: "http://10.0.0.5:8080/ready", expectStatus: 200, timeoutMs: 5000, retries: 3 },
      { url: "https://staging.example.com/old", expectStatus: 301, timeoutMs: 90_000, retries: 0 },
      { url: "https://staging.example.com/slow", expectStatus: 200, timeoutMs: 120_000, retries: 20 },
      { url: "https://staging.example.com/fast", expectStatus: 100, timeoutMs: 250, retries: 3 },
    ]);
  });

  it("says what is wrong with a smoke check", () => {
    expect(errorOf(configWith((c) => (c.production.smoke[1].url = "ftp://api.example.com/healthz"))).message).toBe(
      `${REPO_CONFIG_FILE}: environments.production.smoke[1].url: "ftp://api.example.com/healthz" is not an http(s) URL`,
    );
    expect(errorOf(configWith((c) => (c.production.smoke[1].expectStatus = 600))).message).toBe(
      `${REPO_CONFIG_FILE}: environments.production.smoke[1].expectStatus: 600 is not valid (expected an integer 100..599)`,
    );
    expect(errorOf(configWith((c) => (c.staging.smoke[0].retries = -1))).message).toBe(
      `${REPO_CONFIG_FILE}: environments.staging.smoke[0].retries: -1 is not valid (expected an integer 0..20)`,
    );
    expect(errorOf(configWith((c) => (c.staging.smoke[0].retries = 21))).field).toBe("environments.staging.smoke[0].retries");
    expect(errorOf(configWith((c) => (c.production.smoke[0].expect = 200))).message).toBe(
      `${REPO_CONFIG_FILE}: environments.production.smoke[0].expect: unknown field (known: url, expectStatus, timeout, retries)`,
    );
  });

  it("reads the soak as a duration", () => {
    const soakOf = (soak: string) => loadEnvironments(configWith((c) => (c.production.soak = soak)))[1].soakMs;
    expect(soakOf("90s")).toBe(90_000);
    expect(soakOf("1h")).toBe(3_600_000);
    expect(soakOf("30m")).toBe(1_800_000);
  });

  it("refuses an unknown environment field, listing the new ones among the known", () => {
    expect(errorOf(configWith((c) => (c.production.maintenanceWindow = ["Tue 09:00-11:00 Europe/London"]))).message).toBe(
      `${REPO_CONFIG_FILE}: environments.production.maintenanceWindow: unknown field (known: region, accountId, promotesFrom, backend, vpcId, subnets, strategy, tags, clusters, maintenanceWindows, hold, smoke, soak, rebalance, bootGracePeriod, canary, alarms)`,
    );
  });

  it("reads the boot grace period: 5 minutes by default, the environment's, a cluster's own", () => {
    expect(loadEnvironments().flatMap((e) => e.clusters.map((c) => c.bootGracePeriodMs))).toEqual([300_000, 300_000]);
    const [staging, production] = loadEnvironments(
      configWith((c) => {
        c.production.bootGracePeriod = "10m";
        c.staging.bootGracePeriod = "2m";
        c.staging.clusters.apps.bootGracePeriod = "90s";
      }),
    );
    expect([staging.clusters[0].bootGracePeriodMs, production.clusters[0].bootGracePeriodMs]).toEqual([90_000, 600_000]);
    expect(loadEnvironments(configWith((c) => (c.production.bootGracePeriod = "1m")))[1].clusters[0].bootGracePeriodMs).toBe(60_000);
  });

  it("refuses a boot grace period under a minute, naming the field", () => {
    expect(errorOf(configWith((c) => (c.production.clusters.apps.bootGracePeriod = "59s"))).message).toBe(
      `${REPO_CONFIG_FILE}: environments.production.clusters.apps.bootGracePeriod: "59s" is too short: an instance takes a minute or more to boot and register with ECS (at least "1m")`,
    );
  });
});

describe("durations in milliseconds", () => {
  it("a smoke timeout of 700ms is a whole 700 ms (AbortSignal.timeout takes integers only)", () => {
    const envs = loadEnvironments(configWith((c) => (c.staging.smoke = [{ url: "https://x.example.com/", timeout: "700ms" }])));
    expect(envs[0].smoke[0].timeoutMs).toBe(700);
  });
});
