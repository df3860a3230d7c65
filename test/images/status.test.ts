/**
 * `amiroll status` against the simulated AWS: what a cluster runs and how far behind it is
 * (clusterStatus through fleetStatus), holds, warnings, the maintenance window, and the four
 * renderings (a table, TSV, JSON and the Prometheus text format).
 */
import { createLogger } from "../../scripts/core/log";
import { SIMULATED_START } from "../../scripts/commands/stack";
import { fleetStatus } from "../../scripts/commands/status";
import { takeSnapshot } from "../../scripts/fleet/snapshot";
import { describeImages, resolveReleases } from "../../scripts/images/release";
import { type ClusterStatus, clusterStatus, windowStatus } from "../../scripts/images/status";
import { type FleetStatus, TSV_COLUMNS, statusJson, statusProm, statusTable, statusTsv } from "../../scripts/images/status-report";
import { type Simulation, createSimulation } from "../../scripts/sim/scenarios";
import { type Environment } from "../../scripts/config/environments";
import { findEnvironment } from "../../scripts/config/file";
import { type Pins, readPins } from "../../scripts/config/pins";
import { ENVIRONMENTS_CONFIG, REPO_PINS_PATH, loadEnvironments, repoConfig } from "../support/repo-config";

jest.setTimeout(60_000);

const environments = loadEnvironments();
const pins = readPins(REPO_PINS_PATH, environments);
const production = findEnvironment(environments, "production");
const staging = findEnvironment(environments, "staging");
const PINNED = pins.production.apps.current.imageId;
const NINE_TUESDAY = Date.parse("2026-11-24T09:00:00Z");

/** The production world, settled on its old image, starting Tuesday 08:00 London (an hour before its window). */
const simulate = () => createSimulation({ environment: production, pins: pins.production, startAt: SIMULATED_START });

/** `amiroll status` over the simulated production world, for `envs` (default: production as configured). */
function statusOf(sim: Simulation, envs: readonly Environment[] = [production], withPins: Pins = pins): Promise<FleetStatus> {
  const access = { clients: () => sim.clients, clock: sim.clock };
  return fleetStatus({ ...repoConfig(), environments: envs, pins: withPins }, envs, access, createLogger("text", () => {}));
}

/** Environments from ENVIRONMENTS_CONFIG with `edit` applied to a copy. */
function environmentsWith(edit: (raw: any) => void): Environment[] {
  const raw = structuredClone(ENVIRONMENTS_CONFIG) as any;
  edit(raw);
  return loadEnvironments(raw);
}

/** What clusterStatus is given for production/apps, as fleetStatus gathers it. */
async function inputOf(sim: Simulation) {
  const cluster = production.clusters[0];
  const now = sim.clock.now();
  const release = (await resolveReleases(sim.clients.ssm, [cluster.amiParameter])).get(cluster.amiParameter)!;
  const fleet = await takeSnapshot(sim.clients, cluster.ecsClusterName, { now, since: now });
  const { running, pinned, latest } = sim.images.apps;
  const images = await describeImages(sim.clients.ec2, [running, pinned, latest]);
  return { environment: production, cluster, pins: pins.production.apps, release, images, fleet, now };
}

describe("status of the simulated production environment", () => {
  let sim: Simulation;
  let status: FleetStatus;
  let apps: ClusterStatus;
  beforeAll(async () => {
    sim = await simulate();
    status = await statusOf(sim);
    apps = status.clusters[0];
  });

  it("shows one cluster, taken at the simulated clock's time", () => {
    expect(status.clusters.map((c) => `${c.environment}/${c.cluster}`)).toEqual(["production/apps"]);
    expect(status.at).toBe(sim.clock.now());
    expect(apps).toEqual(expect.objectContaining({ ecsClusterName: "production-apps", strategy: "blue-green" }));
  });

  it("shows the pin, its release date and age, and when it was resolved", () => {
    expect(sim.images.apps.pinned).toBe(PINNED);
    const image = sim.world.images.get(PINNED)!;
    expect(apps.pinned).toEqual({
      imageId: PINNED,
      name: image.name,
      releasedAt: image.creationDate,
      ageDays: expect.any(Number),
      state: "available",
      resolvedAt: "2026-11-09T09:12:00Z",
    });
    // The pin names a 2026-11-05 release; the status is taken on 2026-11-24, soon after 08:00.
    expect(image.name).toBe("al2023-ami-ecs-hvm-2023.0.20261105-kernel-6.1-arm64");
    expect(image.creationDate).toBe("2026-11-05T09:00:00.000Z");
    expect(apps.pinned.ageDays).toBeCloseTo(19, 0);
  });

  it("shows the newest image of the SSM parameter, its agent version and release notes", () => {
    const image = sim.world.images.get(sim.images.apps.latest)!;
    expect(apps.latest).toEqual({
      imageId: sim.images.apps.latest,
      name: image.name,
      releasedAt: image.creationDate,
      ageDays: expect.any(Number),
      state: "available",
      parameter: production.clusters[0].amiParameter,
      agentVersion: "1.98.0",
      // Released two days before the sim's start, Sunday 22 November.
      releaseNotes: "https://github.com/aws/amazon-ecs-ami/releases/tag/20261122",
    });
  });

  it("counts every instance on the old, unpinned image as outdated: 4 of 4", () => {
    expect(apps.instances).toEqual([
      expect.objectContaining({ imageId: sim.images.apps.running, instances: 4, draining: 0, outdated: true, role: "unpinned", state: "available" }),
    ]);
    expect(apps.total).toBe(4);
    expect(apps.outdated).toBe(4);
    expect(apps.outdatedRatio).toBe(1);
    expect(apps.holds).toEqual([]);
    expect(apps.warnings).toEqual([]);
  });

  it("says the window is closed and opens at 09:00 London on the Tuesday the sim starts", () => {
    expect(sim.clock.now()).toBeLessThan(NINE_TUESDAY);
    expect(apps.window).toEqual({ state: "closed", window: "Tue 09:00-11:00 Europe/London", opensAt: NINE_TUESDAY, timeZone: "Europe/London" });
  });

  it("asks SSM once and DescribeImages once for the environment", () => {
    const calls = sim.world.calls.filter((c) => !c.throttled);
    expect(calls.filter((c) => c.operation === "GetParameters")).toHaveLength(1);
    expect(calls.filter((c) => c.operation === "DescribeImages")).toHaveLength(1);
  });
});

describe("holds", () => {
  it("lists the environment's hold and the cluster's, each prefixed with where it applies", async () => {
    const held = environmentsWith((raw) => {
      raw.production.hold = "change freeze until 1 December";
      raw.production.clusters.apps.hold = "CPU credit investigation";
    });
    const status = await statusOf(await simulate(), [findEnvironment(held, "production")]);
    expect(status.clusters[0].holds).toEqual(["production: change freeze until 1 December", "production/apps: CPU credit investigation"]);
    expect(statusTable(status)).toContain("Holds (amiroll rollout refuses these unless --force):\n  production: change freeze until 1 December\n  production/apps: CPU credit investigation");
  });
});

describe("after instances move", () => {
  it("counts 2 of 4 outdated when half the instances run the newest image, and a DRAINING one as draining", async () => {
    const sim = await simulate();
    const input = await inputOf(sim);
    const { running, latest } = sim.images.apps;
    expect(input.fleet.containerInstances).toHaveLength(4);
    const [a, b, c, d] = input.fleet.containerInstances;
    const moved = { ...input.fleet, containerInstances: [{ ...a, imageId: latest }, { ...b, imageId: latest }, { ...c, status: "DRAINING" }, d] };
    const status = clusterStatus({ ...input, fleet: moved });
    expect(status.total).toBe(4);
    expect(status.outdated).toBe(2);
    expect(status.outdatedRatio).toBe(0.5);
    expect(status.instances.map((i) => [i.imageId, i.instances, i.draining, i.outdated])).toEqual(
      [[latest, 2, 0, false], [running, 2, 1, true]].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    expect(statusTable({ at: input.now, clusters: [status] })).toContain(`2 on ${running} (1 draining)`);
  });

  it("leaves out instances that are neither ACTIVE nor DRAINING, and calls the pinned image pinned", async () => {
    const sim = await simulate();
    const input = await inputOf(sim);
    const [a, b, c, d] = input.fleet.containerInstances;
    const fleet = { ...input.fleet, containerInstances: [{ ...a, imageId: PINNED }, b, c, { ...d, status: "INACTIVE" }] };
    const status = clusterStatus({ ...input, fleet });
    expect(status.total).toBe(3);
    expect(status.instances).toEqual([
      expect.objectContaining({ imageId: sim.images.apps.running, instances: 2, role: "unpinned", outdated: true }),
      expect.objectContaining({ imageId: PINNED, instances: 1, role: "pinned", outdated: true }),
    ]);
  });
});

describe("warnings", () => {
  it("warns that the pinned image is deregistered and nothing new can launch from it", async () => {
    const sim = await simulate();
    sim.world.images.get(PINNED)!.state = "deregistered";
    const apps = (await statusOf(sim)).clusters[0];
    expect(apps.pinned.state).toBe("deregistered");
    expect(apps.warnings).toEqual([`the pinned image ${PINNED} is deregistered: new instances cannot launch from it`]);
    expect(statusTable({ at: sim.clock.now(), clusters: [apps] })).toContain(`Warnings:\n  production/apps: the pinned image ${PINNED} is deregistered`);
  });

  it("calls a pinned image EC2 no longer knows missing", async () => {
    const sim = await simulate();
    sim.world.images.delete(PINNED);
    const apps = (await statusOf(sim)).clusters[0];
    expect(apps.pinned).toEqual(expect.objectContaining({ imageId: PINNED, state: "missing", name: pins.production.apps.current.imageName }));
    expect(apps.warnings).toEqual([`the pinned image ${PINNED} is missing: new instances cannot launch from it`]);
  });

  it("says a cluster without a fleet is not deployed yet, with no instances", async () => {
    const sim = await simulate();
    const status = clusterStatus({ ...(await inputOf(sim)), fleet: undefined });
    expect(status.warnings).toEqual(["ECS cluster production-apps not found: not deployed yet"]);
    expect(status).toEqual(expect.objectContaining({ instances: [], total: 0, outdated: 0, outdatedRatio: 0 }));
  });

  it("shows a configured cluster that ECS does not have (yet) beside the deployed one", async () => {
    const withBatch = findEnvironment(environmentsWith((raw) => (raw.production.clusters.batch = { instanceType: "m7g.large", minSize: 0, maxSize: 2 })), "production");
    const batchPins: Pins = { ...pins, production: { ...pins.production, batch: pins.production.apps } };
    const status = await statusOf(await simulate(), [withBatch], batchPins);
    expect(status.clusters.map((c) => [c.cluster, c.total, c.warnings])).toEqual([
      ["apps", 4, []],
      ["batch", 0, ["ECS cluster production-batch not found: not deployed yet"]],
    ]);
    expect(statusTable(status)).toMatch(/^production\s+batch\s.*\snone\s+-\s+-\s/m);
  });

  // Status warns whenever bump would refuse the newest image, with bump's own words for why.
  it.each([
    ["ami-wrong-architecture", /^the newest image of \S+: (ami-0\w{16}) is built for x86_64 but m7g\.large is arm64: amiroll bump refuses it$/],
    ["ami-deregistered", /^the newest image of \S+: (ami-0\w{16}) is deregistered, not available: amiroll bump refuses it$/],
  ] as const)("warns when bump would refuse the newest image (%s), in the table and the JSON", async (scenario, warning) => {
    const sim = await createSimulation({ environment: production, pins: pins.production, startAt: SIMULATED_START, scenario });
    const status = await statusOf(sim);
    const apps = status.clusters[0];
    expect(apps.warnings).toEqual([expect.stringMatching(warning)]);
    expect(warning.exec(apps.warnings[0])![1]).toBe(apps.latest!.imageId);
    expect(statusTable(status)).toContain(`Warnings:\n  production/apps: ${apps.warnings[0]}`);
    expect(JSON.parse(statusJson(status)).clusters[0].warnings).toEqual(apps.warnings);
    expect(statusProm(status)).toContain('amiroll_warnings{env="production",cluster="apps"} 1\n');
  });

  it("warns when the newest image is older than the pin (SSM went back), in the table, JSON and Prometheus", async () => {
    const sim = await simulate();
    const latest = sim.images.apps.latest;
    sim.world.images.set(latest, { ...sim.world.images.get(latest)!, creationDate: "2026-01-02T03:04:05.000Z" });
    const status = await statusOf(sim);
    const apps = status.clusters[0];
    const warning = `the newest image of ${apps.latest!.parameter}: ${latest} (released 2026-01-02) is older than the pinned ${PINNED} (released ${sim.world.images.get(PINNED)!.creationDate.slice(0, 10)}): amiroll bump refuses it`;
    expect(apps.warnings).toEqual([warning]);
    expect(statusTable(status)).toContain(`Warnings:\n  production/apps: ${warning}`);
    expect(JSON.parse(statusJson(status)).clusters[0].warnings).toEqual([warning]);
    expect(statusProm(status)).toContain('amiroll_warnings{env="production",cluster="apps"} 1\n');
  });

  // A parameter status cannot read is a warning on its cluster; the rest is still reported.
  it.each([
    ["denied to this identity", "AccessDeniedException", /^SSM parameter \S+ cannot be read: GetParameters: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role\/watch is not authorized to perform: ssm:GetParameters on resource: \S+: the newest image is unknown and amiroll bump cannot pin one$/],
    ["missing in the region", "missing", /^SSM parameter \S+ cannot be read: does not exist in this region \(check the cluster's amiParameter\): the newest image is unknown and amiroll bump cannot pin one$/],
  ] as const)("warns when the parameter cannot be read (%s), in the table, JSON and Prometheus", async (_, kind, warning) => {
    const sim = await simulate();
    const parameter = production.clusters[0].amiParameter;
    let clients = sim.clients;
    if (kind === "missing") sim.world.parameters.delete(parameter);
    else {
      const denied = Object.assign(new Error(`User: arn:aws:sts::123456789012:assumed-role/watch is not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:eu-west-1::parameter${parameter}`), { name: kind });
      clients = { ...sim.clients, ssm: { send: async () => Promise.reject(denied) } as unknown as typeof sim.clients.ssm };
    }
    const status = await fleetStatus({ ...repoConfig(), environments: [production], pins }, [production], { clients: () => clients, clock: sim.clock }, createLogger("text", () => {}));
    const apps = status.clusters[0];
    expect(apps.latest).toBeUndefined();
    expect(apps.warnings).toEqual([expect.stringMatching(warning)]);
    expect(apps).toMatchObject({ total: 4, outdated: 4 }); // against the pin: the instances run an older image
    expect(statusTable(status)).toMatch(/^production\s+apps\s+ami-0\w{16}\s+\d+d\s+\? \(unreadable\)\s+\?\s+\?\s+4 on /m);
    expect(statusTable(status)).toContain(`Warnings:\n  production/apps: ${apps.warnings[0]}`);
    const json = JSON.parse(statusJson(status)).clusters[0];
    expect(json.latest).toBeUndefined();
    expect(json.warnings).toEqual(apps.warnings);
    const prom = statusProm(status);
    expect(prom).toContain('amiroll_latest_readable{env="production",cluster="apps"} 0\n');
    expect(prom).toContain('amiroll_warnings{env="production",cluster="apps"} 1\n');
    expect(prom).not.toContain("amiroll_pin_outdated{");
    expect(statusTsv(status).split("\n")[1].split("\t")).toHaveLength(TSV_COLUMNS.length);
  });

  it("warns when the newest image is the one a blue-green roll rejected", async () => {
    const sim = await simulate();
    const input = await inputOf(sim);
    const rejected = { imageId: sim.images.apps.latest, reason: "crash loop gate failed", at: "2026-11-23T10:00:00Z" };
    const status = clusterStatus({ ...input, pins: { ...input.pins, rejected } });
    expect(status.warnings).toEqual([`the newest image ${sim.images.apps.latest} was rejected on 2026-11-23T10:00:00Z (crash loop gate failed)`]);
  });
});

describe("windowStatus", () => {
  it("says any time for an environment without windows (staging)", () => {
    expect(windowStatus(staging, SIMULATED_START)).toEqual({ state: "any time" });
  });

  it("says open, and when it closes, inside a window", () => {
    expect(windowStatus(production, Date.parse("2026-11-26T10:15:00Z"))).toEqual({
      state: "open",
      window: "Thu 09:00-11:00 Europe/London",
      closesAt: Date.parse("2026-11-26T11:00:00Z"),
      timeZone: "Europe/London",
    });
  });

  it("after Tuesday's window closes, says closed until Thursday 09:00", () => {
    expect(windowStatus(production, Date.parse("2026-11-24T11:00:00Z"))).toEqual({
      state: "closed",
      window: "Thu 09:00-11:00 Europe/London",
      opensAt: Date.parse("2026-11-26T09:00:00Z"),
      timeZone: "Europe/London",
    });
  });

  it("is open in the simulated world once its clock passes 09:00 Tuesday", async () => {
    const sim = await simulate();
    await sim.clock.sleep(NINE_TUESDAY + 30 * 60_000 - sim.clock.now());
    const apps = (await statusOf(sim)).clusters[0];
    expect(apps.window).toEqual(expect.objectContaining({ state: "open", closesAt: Date.parse("2026-11-24T11:00:00Z") }));
  });
});

describe("renderings", () => {
  let sim: Simulation;
  let status: FleetStatus;
  beforeAll(async () => {
    sim = await simulate();
    status = await statusOf(sim);
  });

  describe("statusTable", () => {
    it("has the header, one row per cluster and an Images section naming each image", () => {
      const lines = statusTable(status).split("\n");
      expect(lines[0].split(/\s{2,}/)).toEqual(["ENVIRONMENT", "CLUSTER", "PINNED", "PIN AGE", "LATEST", "RELEASED", "AGENT", "INSTANCES", "OUTDATED", "HOLD", "NEXT WINDOW"]);
      const rows = lines.slice(1, lines.indexOf(""));
      expect(rows).toHaveLength(1);
      const { running, latest } = sim.images.apps;
      expect(rows[0]).toMatch(new RegExp(`^production\\s+apps\\s+${PINNED}\\s+19d\\s+${latest}\\s+2026-11-22\\s+1\\.98\\.0\\s+4 on ${running}\\s+4/4 100%\\s+-\\s+Tue 24 Nov 2026 09:00 GMT \\(Europe/London\\) \\(in \\d+ min\\)$`));
      const images = lines.slice(lines.indexOf("Images:") + 1);
      for (const id of [PINNED, latest, running]) {
        expect(images).toContainEqual(`  ${id}  ${sim.world.images.get(id)!.name}  released ${sim.world.images.get(id)!.creationDate.slice(0, 10)}  available`);
      }
      expect(lines).toContain("  https://github.com/aws/amazon-ecs-ami/releases/tag/20261122");
    });
  });

  describe("statusTsv", () => {
    it("starts with the column names and gives every row as many fields", () => {
      const lines = statusTsv(status).trimEnd().split("\n");
      expect(lines[0]).toBe(TSV_COLUMNS.join("\t"));
      expect(lines).toHaveLength(2);
      for (const line of lines) expect(line.split("\t")).toHaveLength(TSV_COLUMNS.length);
    });

    it("gives values a script can parse", () => {
      const [header, row] = statusTsv(status).trimEnd().split("\n").map((l) => l.split("\t"));
      const record = Object.fromEntries(header.map((h, i) => [h, row[i]]));
      expect(record).toEqual(
        expect.objectContaining({
          environment: "production",
          cluster: "apps",
          strategy: "blue-green",
          pinned_ami: PINNED,
          pin_verified_at: "",
          latest_ami: sim.images.apps.latest,
          agent_version: "1.98.0",
          instances: "4",
          outdated: "4",
          outdated_ratio: "1",
          instances_by_ami: `${sim.images.apps.running}=4`,
          holds: "",
          window: "closed",
          window_changes_at: "2026-11-24T09:00:00.000Z",
        }),
      );
      expect(record.pin_age_days).toMatch(/^\d+(\.\d)?$/);
      expect(Number(record.pin_age_days)).toBeCloseTo(19, 0);
      expect(Number.isNaN(Date.parse(record.latest_released))).toBe(false);
    });

    it("turns tabs and newlines in a hold into spaces, so a row stays one line", () => {
      const held = { ...status, clusters: [{ ...status.clusters[0], holds: ["production: wait\tfor\nthe \"audit\""] }] };
      const lines = statusTsv(held).trimEnd().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[1].split("\t")).toHaveLength(TSV_COLUMNS.length);
      expect(lines[1]).toContain('production: wait for the "audit"');
    });
  });

  describe("statusJson", () => {
    it("parses back with the times as ISO strings", () => {
      const parsed = JSON.parse(statusJson(status));
      expect(parsed.at).toBe(new Date(status.at).toISOString());
      expect(parsed.clusters).toHaveLength(1);
      expect(parsed.clusters[0].window).toEqual({ state: "closed", window: "Tue 09:00-11:00 Europe/London", opensAt: "2026-11-24T09:00:00.000Z", timeZone: "Europe/London" });
      expect(parsed.clusters[0].pinned.imageId).toBe(PINNED);
      expect(parsed.clusters[0].latest.agentVersion).toBe("1.98.0");
      expect(parsed.clusters[0].outdatedRatio).toBe(1);
    });

    it("gives an open window's closing time as an ISO string", () => {
      const open = { ...status, clusters: [{ ...status.clusters[0], window: windowStatus(production, Date.parse("2026-11-24T10:00:00Z")) }] };
      expect(JSON.parse(statusJson(open)).clusters[0].window.closesAt).toBe("2026-11-24T11:00:00.000Z");
    });
  });

  describe("statusProm", () => {
    const SAMPLE = /^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? -?[0-9.e+]+$/;
    const lines = (text: string) => text.trimEnd().split("\n");

    it("writes only comments and samples in the exposition format", () => {
      const text = statusProm(status);
      expect(text.endsWith("\n")).toBe(true);
      for (const line of lines(text)) {
        if (line.startsWith("#")) expect(line).toMatch(/^# (HELP [a-z_]+ \S.*|TYPE [a-z_]+ gauge)$/);
        else expect(line).toMatch(SAMPLE);
      }
    });

    it("gives each metric its HELP and TYPE gauge before its samples, and its samples together", () => {
      const seen: string[] = [];
      let current: { name: string; help: boolean; type: boolean } | undefined;
      for (const line of lines(statusProm(status))) {
        const help = /^# HELP ([a-z_]+) /.exec(line);
        const type = /^# TYPE ([a-z_]+) gauge$/.exec(line);
        if (help) {
          expect(seen).not.toContain(help[1]);
          seen.push(help[1]);
          current = { name: help[1], help: true, type: false };
        } else if (type) {
          expect(type[1]).toBe(current?.name);
          current!.type = true;
        } else {
          const name = /^[a-z_]+/.exec(line)![0];
          expect(current).toEqual({ name, help: true, type: true });
        }
      }
      expect(seen).toEqual(expect.arrayContaining(["amiroll_instances", "amiroll_outdated_ratio", "amiroll_pin_age_days", "amiroll_window_open", "amiroll_next_window_timestamp_seconds"]));
    });

    it("has the instances per AMI, the ratio, and the next window", () => {
      const all = lines(statusProm(status));
      expect(all).toContain(`amiroll_instances{env="production",cluster="apps",ami="${sim.images.apps.running}",outdated="true"} 4`);
      expect(all).toContain('amiroll_outdated_instances{env="production",cluster="apps"} 4');
      expect(all).toContain('amiroll_outdated_ratio{env="production",cluster="apps"} 1');
      expect(all).toContain('amiroll_pin_outdated{env="production",cluster="apps"} 1');
      expect(all).toContain('amiroll_pin_verified{env="production",cluster="apps"} 0');
      expect(all).toContain('amiroll_hold{env="production",cluster="apps"} 0');
      expect(all).toContain('amiroll_warnings{env="production",cluster="apps"} 0');
      expect(all).toContain('amiroll_window_open{env="production"} 0');
      expect(all).toContain(`amiroll_next_window_timestamp_seconds{env="production"} ${NINE_TUESDAY / 1000}`);
      expect(all).toContain(`amiroll_status_timestamp_seconds ${status.at / 1000}`);
    });

    it("keeps a hold reason with a double quote and a newline out of the output: one line per sample or comment", () => {
      const held = { ...status, clusters: [{ ...status.clusters[0], holds: ['production: "freeze"\nuntil December'] }] };
      const text = statusProm(held);
      // 13 metrics with one sample each (one image, one environment, a closed window): HELP, TYPE, sample.
      expect(lines(text)).toHaveLength(13 * 3);
      expect(text).not.toContain("freeze");
      expect(lines(text)).toContain('amiroll_hold{env="production",cluster="apps"} 1');
      for (const line of lines(text)) if (!line.startsWith("#")) expect(line).toMatch(SAMPLE);
    });

    it("says the window is open, without a next window, for an environment that has none", () => {
      const anyTime = { ...status, clusters: [{ ...status.clusters[0], environment: "staging", window: windowStatus(staging, status.at) }] };
      const all = lines(statusProm(anyTime));
      expect(all).toContain('amiroll_window_open{env="staging"} 1');
      expect(all.some((l) => l.includes("amiroll_next_window_timestamp_seconds"))).toBe(false);
    });
  });
});
