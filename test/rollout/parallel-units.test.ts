/**
 * Parallel waves, the pure parts (scripts/rollout/parallel.ts) and `maxParallel` in the config:
 * which environments may roll at once, the pool that rolls at most maxParallel of them, the first
 * to end other than done stopping the others, the loggers that name each wave; and `maxParallel`
 * refused at config load (exit 2, one line naming the field, nothing run) when it is no integer >= 1.
 */
import Ajv from "ajv";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../scripts/config/file";
import { ConfigError } from "../../scripts/config/input";
import { createLogger } from "../../scripts/core/log";
import type { ProgressItem } from "../../scripts/core/progress";
import { depthGroups, environmentLogger, parallelRollout, wavesText } from "../../scripts/rollout/parallel";
import type { RolloutOptions, WaveOutcome, WaveReport } from "../../scripts/rollout/rollout";
import { errorLines } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";
import { thrown } from "../support/fixtures";

const FIXTURE_DIR = join(__dirname, "../fixtures/parallel");
const FIXTURE = JSON.parse(readFileSync(join(FIXTURE_DIR, "amiroll.json"), "utf8"));
const SCHEMA = JSON.parse(readFileSync(join(__dirname, "../../amiroll.schema.json"), "utf8"));

/** A project directory holding the fixture with `maxParallel` set to `value` (absent: removed). */
function project(value: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "amiroll-parallel-"));
  const config = structuredClone(FIXTURE);
  if (value === undefined) delete config.maxParallel;
  else config.maxParallel = value;
  writeFileSync(join(dir, "amiroll.json"), JSON.stringify(config, null, 2));
  copyFileSync(join(FIXTURE_DIR, "amis.json"), join(dir, "amis.json"));
  return dir;
}

/** Environments named `spec`: `a b>a c>a` is a, then b and c promoting from a. */
function environments(spec: string): any[] {
  return spec.split(" ").map((s) => {
    const [name, promotesFrom] = s.split(">");
    return { name, promotesFrom, clusters: [] };
  });
}

describe("maxParallel in amiroll.json", () => {
  it("defaults to 1; takes any integer >= 1; the schema agrees", () => {
    expect(loadConfig({ config: project(undefined), env: {} }).maxParallel).toBe(1);
    expect(loadConfig({ config: project(3), env: {} }).maxParallel).toBe(3);
    const validate = new Ajv({ allErrors: true, strict: true, strictTypes: false }).compile(SCHEMA);
    expect(validate(FIXTURE) ? [] : validate.errors).toEqual([]);
    for (const bad of [0, -1, 1.5, "2"]) expect([bad, validate({ ...FIXTURE, maxParallel: bad })]).toEqual([bad, false]);
  });

  it.each<[unknown, string]>([
    [0, "0 is not valid (expected an integer >= 1)"],
    [-2, "-2 is not valid (expected an integer >= 1)"],
    [1.5, "1.5 is not valid (expected an integer >= 1)"],
    ["2", '"2" is not valid (expected an integer >= 1)'],
    [null, "null is not valid (expected an integer >= 1)"],
  ])("refuses maxParallel %p at config load, naming the field", (value, problem) => {
    const dir = project(value);
    const error = thrown(() => loadConfig({ config: dir, cwd: dir, env: {} }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(`amiroll.json: maxParallel: ${problem}`);
  });

  it("amiroll rollout with maxParallel 0: exit 2, one line naming the field, nothing run (no simulated world, nothing on stdout)", async () => {
    const dir = project(0);
    const before = readFileSync(join(dir, "amis.json"), "utf8");
    const r = await amirollInProcess(["rollout", "--simulate", "--config", join(dir, "amiroll.json")], {}, dir);
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr.trimEnd().split("\n") }).toEqual({ status: 2, stdout: "", stderr: ["amiroll: amiroll.json: maxParallel: 0 is not valid (expected an integer >= 1)"] });
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(readFileSync(join(dir, "amis.json"), "utf8")).toBe(before);
  });
});

describe("which environments roll at once", () => {
  it("the maintenance notice (rollout --notice) says which roll at once", async () => {
    const r = await amirollInProcess(["rollout", "--simulate", "--notice", "--config", join(FIXTURE_DIR, "amiroll.json")]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Environments, in order: staging → production-eu + production-us (those joined by + roll at once, at most 2 at a time).");
    expect(r.stdout).toMatch(/^#### production-us$/m);
  });


  it("groups the waves by promotion depth, in order", () => {
    const envs = environments("staging eu>staging us>staging dr>eu");
    expect(depthGroups(envs, envs).map((g) => g.map((e) => e.name))).toEqual([["staging"], ["eu", "us"], ["dr"]]);
    expect(depthGroups(envs, envs.slice(1, 3)).map((g) => g.map((e) => e.name))).toEqual([["eu", "us"]]);
    expect(wavesText(envs, envs, 2)).toBe("staging -> eu + us -> dr");
    expect(wavesText(envs, envs, 1)).toBe("staging -> eu -> us -> dr");
  });
});

/** A fake wave: `plan[env]` is its outcome after `steps` steps, each a turn of the event loop; it checks its siblings before each step, as runWave does. */
function fakeWaves(plan: Record<string, { steps: number; outcome: WaveOutcome }>) {
  const events: string[] = [];
  let running = 0;
  let most = 0;
  const empty = (environment: { name: string }, at: number, outcome: WaveOutcome, reason?: string): WaveReport =>
    ({ environment: environment.name, targets: {}, strategies: {}, outcome, reason, startedAt: at, endedAt: at, phases: [], instancesReplaced: 0, tasksMoved: 0, gates: [], pinChanges: [], bootFailures: [], backups: [] });
  const run = async (environment: { name: string }, options: RolloutOptions): Promise<WaveReport> => {
    const env = environment.name;
    running++;
    most = Math.max(most, running);
    events.push(`start ${env}`);
    try {
      for (let step = 0; step < plan[env].steps; step++) {
        const halted = options.siblings?.halted();
        if (halted) {
          events.push(`stopped ${env}`);
          return empty(environment, 0, "stopped", `stopped before step ${step}: ${halted}`);
        }
        events.push(`step ${env} ${step}`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const { outcome } = plan[env];
      if (outcome !== "done") {
        events.push(`ended ${env}`);
        options.siblings?.ended(env, outcome, "it broke");
      }
      return empty(environment, 0, outcome);
    } finally {
      running--;
    }
  };
  return { events, most: () => most, runner: { run, empty } };
}

function options(envs: any[], maxParallel: number): RolloutOptions {
  return { environments: envs, waves: envs, maxParallel, clock: { now: () => 0, sleep: async () => undefined }, log: createLogger("text", () => undefined) } as unknown as RolloutOptions;
}

describe("the parallel rollout", () => {
  const envs = environments("staging a>staging b>staging c>staging last>a");

  it("rolls at most maxParallel of a depth at once, the next as one ends; the next depth once all are done", async () => {
    const fake = fakeWaves({ staging: { steps: 1, outcome: "done" }, a: { steps: 3, outcome: "done" }, b: { steps: 1, outcome: "done" }, c: { steps: 1, outcome: "done" }, last: { steps: 1, outcome: "done" } });
    const result = await parallelRollout(options(envs, 2), fake.runner);
    expect(result.outcome).toBe("done");
    expect(fake.most()).toBe(2);
    // c waits for b (the first to end), not for a; last waits for all three.
    expect(fake.events.indexOf("start c")).toBeLessThan(fake.events.indexOf("step a 2"));
    expect(fake.events.indexOf("start c")).toBeGreaterThan(fake.events.indexOf("step b 0"));
    expect(fake.events.indexOf("start last")).toBeGreaterThan(Math.max(...["step a 2", "step b 0", "step c 0"].map((e) => fake.events.indexOf(e))));
    expect(result.waves.map((w) => [w.environment, w.parallelWith])).toEqual([["staging", undefined], ["a", ["b", "c"]], ["b", ["a", "c"]], ["c", ["a", "b"]], ["last", undefined]]);
  });

  it("the first to end other than done stops the others before their next step; those not begun and the next depth do not start; its outcome is the rollout's", async () => {
    const fake = fakeWaves({ staging: { steps: 1, outcome: "done" }, a: { steps: 5, outcome: "done" }, b: { steps: 2, outcome: "failed" }, c: { steps: 1, outcome: "done" }, last: { steps: 1, outcome: "done" } });
    const result = await parallelRollout(options(envs, 2), fake.runner);
    expect(result.outcome).toBe("failed");
    expect(result.waves.map((w) => [w.environment, w.outcome])).toEqual([["staging", "done"], ["a", "stopped"], ["b", "failed"], ["c", "not started"], ["last", "not started"]]);
    expect(result.waves[1].reason).toMatch(/^stopped before step \d: b ended failed: it broke$/);
    expect(result.waves[3].reason).toBe("b ended failed: it broke");
    expect(fake.events).not.toContain("start c");
    // Once b ended, a began no step (the one under way finished), then stopped.
    const after = fake.events.slice(fake.events.indexOf("ended b"));
    expect(after.filter((e) => e.startsWith("step "))).toEqual([]);
    expect(after).toContain("stopped a");
    expect(fake.events.filter((e) => e.startsWith("step a")).length).toBeGreaterThan(1);
  });
});

describe("what the waves say", () => {
  it("names the environment in each line (unless the line does), and says whose terraform's lines are", () => {
    const lines: string[] = [];
    const log = environmentLogger(createLogger("text", (l) => lines.push(l)), "production-eu");
    log.info("apps: 3 old instance(s) set DRAINING");
    log.info("production-eu: terraform plan (add)");
    log.info("production-eu is outside its maintenance windows");
    log.warn("production-euro: not this one");
    log.output("terraform", "Apply complete!");
    expect(lines).toEqual([
      "production-eu: apps: 3 old instance(s) set DRAINING",
      "production-eu: terraform plan (add)",
      "production-eu is outside its maintenance windows",
      "warning: production-eu: production-euro: not this one",
      "  terraform production-eu: Apply complete!",
    ]);
    const json: string[] = [];
    environmentLogger(createLogger("json", (l) => json.push(l)), "production-us").info("apps: done", { cluster: "apps" });
    expect(JSON.parse(json[0])).toMatchObject({ message: "production-us: apps: done", env: "production-us", cluster: "apps" });
  });

  it("on a terminal, one live line holds every wave's clusters; a wave whose watch is over leaves it", async () => {
    const written: string[] = [];
    const sink = { isTTY: true, columns: 200, write: (t: string) => void written.push(t) };
    const envs = environments("staging eu>staging us>staging");
    const item = (env: string, text: string): ProgressItem => ({ id: `${env}/apps`, parts: [`${env}/apps`, text], fields: {} });
    const runner = {
      empty: () => ({}) as WaveReport,
      run: async (environment: { name: string }, o: RolloutOptions) => {
        if (environment.name === "staging") return { outcome: "done" } as WaveReport;
        o.log.progress([item(environment.name, "moving")]);
        await new Promise((resolve) => setImmediate(resolve));
        if (environment.name === "eu") o.log.endProgress();
        else {
          await new Promise((resolve) => setImmediate(resolve));
          o.log.progress([item(environment.name, "done")]);
          o.log.endProgress();
        }
        return { outcome: "done" } as WaveReport;
      },
    };
    await parallelRollout({ ...options(envs, 2), log: createLogger("text", sink) }, runner);
    const shown = written.map((w) => w.replace("\r\x1b[2K", ""));
    expect(shown).toEqual(["eu/apps · moving", "eu/apps · moving | us/apps · moving", "us/apps · moving", "us/apps · done", "\n"]);
  });
});
