/**
 * `amiroll status` shows the watched alarms in ALARM per environment (issue 21, item 2): the
 * table, JSON and the Prometheus text format, against the simulated CloudWatch; their reasons inert.
 */
import { createLogger } from "../../scripts/core/log";
import { SIMULATED_START } from "../../scripts/commands/stack";
import { fleetStatus } from "../../scripts/commands/status";
import { statusJson, statusProm, statusTable } from "../../scripts/images/status-report";
import { createSimulation } from "../../scripts/sim/scenarios";
import { findEnvironment } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { ENVIRONMENTS_CONFIG, REPO_PINS_PATH, loadEnvironments, repoConfig } from "../support/repo-config";
import { HOSTILE, RAW_CONTROL } from "../support/hostile";

jest.setTimeout(60_000);

describe("amiroll status: the watched alarms", () => {
  it("lists per environment the alarms in ALARM with their reason, the unknown names, and none where none fires", async () => {
    const raw = structuredClone(ENVIRONMENTS_CONFIG) as any;
    raw.production.alarms = { names: ["production-apps-error-rate", "production-apps-typo"], prefix: "production-apps-cpu" };
    const envs = loadEnvironments(raw);
    const production = findEnvironment(envs, "production");
    const pins = readPins(REPO_PINS_PATH, envs);
    const sim = await createSimulation({ environment: production, pins: pins.production, startAt: SIMULATED_START });
    const access = { clients: () => sim.clients, clock: sim.clock };
    const status = () => fleetStatus({ ...repoConfig(), environments: [production], pins }, [production], access, createLogger("text", () => {}));

    const quiet = await status();
    expect(quiet.alarms).toEqual([expect.objectContaining({ environment: "production", known: 2, firing: [], unknownNames: ["production-apps-typo"], emptyPrefixes: [] })]);
    expect(statusTable(quiet)).toContain("  production: none in ALARM of 2 watched (2 alarm names and the prefix \"production-apps-cpu\")\n    no such alarm: production-apps-typo\n");

    const since = sim.clock.now() - 120_000;
    sim.world.alarms.get("production-apps-error-rate")!.forced = { state: "ALARM", reason: `Threshold Crossed: 5XX ${HOSTILE.terminal}`, since };
    const firing = await status();
    const table = statusTable(firing);
    expect(table).toContain(`    ALARM production-apps-error-rate (Threshold Crossed: 5XX \\x1b]0;pwned\\x07\\x1b[2J) since ${new Date(since).toISOString()}\n`);
    expect(table).not.toMatch(RAW_CONTROL);
    const json = JSON.parse(statusJson(firing));
    expect(json.alarms[0].firing).toEqual([{ name: "production-apps-error-rate", kind: "metric", state: "ALARM", reason: `Threshold Crossed: 5XX ${HOSTILE.terminal}`, stateSince: new Date(since).toISOString(), windowMs: 120_000 }]);
    expect(statusJson(firing)).not.toMatch(RAW_CONTROL);
    const prom = statusProm(firing);
    expect(prom).toContain('amiroll_alarms_in_alarm{env="production"} 1\n');
    expect(prom).toContain('amiroll_alarms_readable{env="production"} 1\n');
    sim.clock.stop();
  });

  it("says so when the alarms cannot be read, and goes on with the rest of the report", async () => {
    const raw = structuredClone(ENVIRONMENTS_CONFIG) as any;
    raw.staging.alarms = { prefix: "staging-" };
    const envs = loadEnvironments(raw);
    const staging = findEnvironment(envs, "staging");
    const pins = readPins(REPO_PINS_PATH, envs);
    const sim = await createSimulation({ environment: staging, pins: pins.staging, startAt: SIMULATED_START });
    const denied = Object.assign(new Error("CloudWatch DescribeAlarms: this identity may not call it in eu-west-1 (AccessDenied; grant cloudwatch:DescribeAlarms)"), { name: "AwsAccessError" });
    const clients = { ...sim.clients, cloudwatch: { send: async () => Promise.reject(denied) } as unknown as typeof sim.clients.cloudwatch };
    const status = await fleetStatus({ ...repoConfig(), environments: [staging], pins }, [staging], { clients: () => clients, clock: sim.clock }, createLogger("text", () => {}));
    expect(status.clusters).toHaveLength(1);
    expect(statusTable(status)).toContain('  staging: could not be read (the prefix "staging-"): CloudWatch DescribeAlarms: this identity may not call it');
    expect(statusProm(status)).toContain('amiroll_alarms_readable{env="staging"} 0\n');
    expect(statusProm(status)).not.toContain("amiroll_alarms_in_alarm{");
    sim.clock.stop();
  });
});
