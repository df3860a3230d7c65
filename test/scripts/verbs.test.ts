/**
 * The plan, guard and apply verbs as a user runs them: bin/amiroll.js in a child process, on
 * real plan fixtures (guard), on the simulated AWS (--simulate), and on real terraform's
 * failure modes. Exit codes per README: 0 done, 1 failed, 2 bad input, 3 guard refused.
 *
 * The rollout demo spawns the built bin (the smoke test of a real start); the others call the
 * CLI's main() in this process (test/support/cli-in-process.ts), with the same output and exit
 * code, without a Node start each.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { amiroll, errorLines, modulesLoadedBy, scratch } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";
import { fakeTerraform } from "../support/fake-terraform";
import { fixture, fixtureJson } from "../support/fixtures";
import { rebalanceEnvironment } from "../../scripts/commands/rebalance";
import { findEnvironment } from "../../scripts/config/file";
import { readPins } from "../../scripts/config/pins";
import { createLogger } from "../../scripts/core/log";
import { createSimulation } from "../../scripts/sim/scenarios";
import { REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

describe("amiroll guard", () => {
  it("accepts a plan of the expected shape: exit 0, a verdict per change", async () => {
    const r = await amirollInProcess(["guard", "--plan-json", fixture("aws__03-ami-bump"), "--expect", "replace"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^plan guard: ACCEPTED \(expected a replace roll\)/);
    expect(r.stdout).toContain("✓ aws_launch_configuration.legacy (replace (create before destroy))");
  });

  it("refuses a plan that is not: exit 3, the reasons on stdout", async () => {
    const r = await amirollInProcess(["guard", "--plan-json", fixture("builtin__replace-cbd-and-dbc"), "--expect", "replace"]);
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/^plan guard: REFUSED/);
    expect(r.stdout).toContain("✗ terraform_data.asg (replace (destroy before create))");
  });

  it("offline and light (a CI step on a plan file): loads neither cdktf nor the rollout nor the simulator (only its list of scenario names, for --help)", () => {
    const r = modulesLoadedBy(["guard", "--plan-json", fixture("aws__03-ami-bump"), "--expect", "replace", "-o", "markdown"], /node_modules[\\/](cdktf|@cdktf|constructs)[\\/]|dist[\\/]scripts[\\/](rollout[\\/]|sim[\\/](?!scenario-list))/);
    expect([r.code, r.heavy]).toEqual([0, []]);
    expect(r.stdout).toContain("### ✅ Plan guard: accepted");
  });

  it("prints JSON and markdown too", async () => {
    const json = await amirollInProcess(["guard", "--plan-json", fixture("aws__03-ami-bump"), "--expect", "replace", "-o", "json"]);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ accepted: true, expect: "replace", expectFrom: "given", unchanged: 2, drift: 6 });
    const markdown = await amirollInProcess(["guard", "--plan-json", fixture("aws__03-ami-bump"), "--expect", "replace", "-o", "markdown"]);
    expect(markdown.stdout).toContain("### ✅ Plan guard: accepted");
    expect(markdown.stdout).toContain("| `aws_launch_template.ecs` | update |");
  });

  it("--allow lets a named change through", async () => {
    const raw = fixtureJson("aws__03-ami-bump");
    raw.resource_changes.find((c: any) => c.address === "aws_ssm_parameter.secret").change.actions = ["update"];
    const file = join(scratch, "ssm-update.json");
    writeFileSync(file, JSON.stringify(raw));
    expect((await amirollInProcess(["guard", "--plan-json", file, "--expect", "replace"])).status).toBe(3);
    expect((await amirollInProcess(["guard", "--plan-json", file, "--expect", "replace", "--allow", "aws_ssm_parameter.*"])).status).toBe(0);
  });

  it.each([
    ["a missing file", () => "/nonexistent/plan.json", /^amiroll: \/nonexistent\/plan\.json: \(file\): cannot be read: ENOENT$/],
    ["garbled JSON", () => write("garbled.json", "{ not json"), /garbled\.json: \(file\): is not valid JSON/],
    ["an unsupported format", () => write("v2.json", JSON.stringify({ ...fixtureJson("aws__03-ami-bump"), format_version: "2.0" })), /v2\.json: format_version: "2\.0" is not supported/],
    ["an errored plan", () => fixture("show-json__plan-error"), /errored: terraform could not finish this plan/],
    ["a plan with nothing to infer the shape from", () => fixture("aws__03-ami-bump"), /pass --expect create\|replace\|add\|retire\|refresh\|none$/],
  ])("%s: one line, exit 2", async (_label, file, message) => {
    const r = await amirollInProcess(["guard", "--plan-json", file()]);
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(message)]);
    expect(r.stdout).toBe("");
  });

  it("--log-format json: its error is a JSON line too", async () => {
    const r = await amirollInProcess(["guard", "--plan-json", "/nonexistent/plan.json", "--log-format", "json"]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ level: "error", message: "/nonexistent/plan.json: (file): cannot be read: ENOENT", exitCode: 2 }),
    ]);
  });

  it("an unknown --expect is a usage error: exit 2", async () => {
    const r = await amirollInProcess(["guard", "--plan-json", fixture("aws__03-ami-bump"), "--expect", "rebuild"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("argument 'rebuild' is invalid. Allowed choices are create, replace, add, retire, refresh, none.");
  });
});

function write(name: string, text: string): string {
  const file = join(scratch, name);
  writeFileSync(file, text);
  return file;
}

describe("amiroll plan and apply --simulate", () => {
  it("plan prints staging's comment: the replace roll, accepted", async () => {
    const r = await amirollInProcess(["plan", "--env", "staging", "--simulate"]);
    expect(r.status).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("<!-- amiroll:plan env=staging part=1/1 -->");
    expect(r.stdout).toContain("**Plan: 3 to add, 0 to change, 3 to destroy.**");
    expect(r.stdout).toContain("### ✅ Plan guard: accepted");
    expect(r.stderr).toContain("Plan: 3 to add, 0 to change, 3 to destroy. Guard: accepted (expected replace)");
  });

  it("plan --comment writes the comment to a file and the verdict to stdout; JSON logs on request", async () => {
    const file = join(scratch, "production.md");
    const r = await amirollInProcess(["plan", "--env", "production", "--simulate", "--comment", file, "--log-format", "json"]);
    expect(r.status).toBe(0);
    expect(readFileSync(file, "utf8")).toMatch(/^<!-- amiroll:plan env=production part=1\/1 -->/);
    expect(r.stdout).toMatch(/^Plan: 3 to add, 0 to change, 0 to destroy\.\nplan guard: ACCEPTED \(expected a blue-green add/);
    const logs = r.stderr.trim().split("\n").map((l) => JSON.parse(l));
    expect(logs.find((l) => l.accepted !== undefined)).toMatchObject({ level: "info", accepted: true, expect: "add", summary: { add: 3, destroy: 0 } });
  });

  it("plan refused by --expect: the comment says so, exit 3", async () => {
    const r = await amirollInProcess(["plan", "--env", "staging", "--simulate", "--expect", "add"]);
    expect(r.status).toBe(3);
    expect(r.stdout).toContain("### ⛔ Plan guard: refused");
  });

  it("apply rolls staging in simulated time: exit 0", async () => {
    const r = await amirollInProcess(["apply", "--env", "staging", "--simulate"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Plan: 3 to add, 0 to change, 3 to destroy\.\nplan guard: ACCEPTED/);
    expect(r.stderr).toMatch(/applied staging in \d+\.\d simulated minutes/);
    // The simulated state is backed up before the apply, beside the simulated world (not into the config's backups.dir or AMIROLL_BACKUP_DIR).
    expect(r.stderr).toMatch(/\nstaging: state backed up to \S*\/amiroll-sim-backups-\w+\/staging\/\d{8}T\d{9}Z-serial00000001\.tfstate \(serial 1; pins beside it\)\nterraform apply /);
    // A replace roll hands over to the watch, which finds it done.
    expect(r.stdout).toMatch(/\nwatch of staging: done after 1 polls\napps: done/);
  });

  it("apply of a blue-green add does not watch: it says what comes next", async () => {
    const r = await amirollInProcess(["apply", "--env", "production", "--simulate"]);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain("watch of");
    expect(r.stderr).toContain("the old one is still ACTIVE: amiroll verify --env production drains it");
  });

  it("apply refuses what the guard refused (exit 3, nothing applied) unless --force", async () => {
    const refused = await amirollInProcess(["apply", "--env", "staging", "--simulate", "--expect", "retire"]);
    expect(refused.status).toBe(3);
    expect(refused.stderr).toContain("not applied: the plan guard refused it");
    expect(refused.stderr).not.toContain("terraform apply");
    const forced = await amirollInProcess(["apply", "--env", "staging", "--simulate", "--expect", "retire", "--force"]);
    expect(forced.status).toBe(0);
    expect(forced.stderr).toContain("--force: applying a plan the guard refused");
    expect(forced.stderr).toMatch(/applied staging/);
  });

  it.each([
    ["an unknown environment", ["plan", "--env", "qa", "--simulate"], /^amiroll: --env: no such environment "qa" \(known: staging, production\)$/],
    ["apply --plan with --simulate", ["apply", "--env", "staging", "--simulate", "--plan", "x.tfplan"], /--plan cannot be used with --simulate/],
    ["--github outside GitHub Actions", ["plan", "--env", "staging", "--simulate", "--github"], /GITHUB_TOKEN/],
    ["an unknown scenario", ["plan", "--env", "staging", "--simulate", "--scenario", "meteor"], /argument 'meteor' is invalid/],
    ["a scenario without --simulate", ["apply", "--env", "staging", "--scenario", "broken-ami"], /^amiroll: --scenario needs --simulate/],
  ])("%s: exit 2", async (_label, args, message) => {
    const r = await amirollInProcess(args);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(message);
    expect(r.stdout).toBe("");
  });
});

describe("amiroll plan and apply with terraform (a stand-in binary)", () => {
  let env: Record<string, string>;
  const calls = () => readFileSync(env.FAKE_LOG, "utf8").trim().split("\n").map((l) => l.split(" ")[0]);
  beforeAll(async () => {
    const { rollPlans } = await import("../support/sim-plans");
    const plans = await rollPlans();
    env = fakeTerraform(scratch, plans.raw.replace);
    // The saved plan the apply tests pass as --plan (apply refuses a --plan that does not exist).
    write("saved.tfplan", "");
  });
  beforeEach(() => writeFileSync(env.FAKE_LOG, ""));

  it("plan runs init, plan -out, show -json in the synthesized stack and prints the comment", async () => {
    const out = join(scratch, "plans");
    mkdirSync(out, { recursive: true });
    const r = await amirollInProcess(["plan", "--env", "staging", "--out", out], env);
    expect(r.status).toBe(0);
    expect(calls()).toEqual(["init", "plan", "show"]);
    expect(readFileSync(env.FAKE_LOG, "utf8")).toContain(`-out=${join(out, "staging.tfplan")}`);
    expect(r.stdout).toContain("### ✅ Plan guard: accepted");
    expect(r.stdout).toContain(`**Next:** apply with \`amiroll apply --env staging --plan ${join(out, "staging.tfplan")}\`.`);
    expect(r.stderr).toContain("terraform: Plan: 3 to add, 0 to change, 3 to destroy.");
  });

  it("a real plan (the CI step of every pull request) loads neither the simulator nor the EC2 client", () => {
    const out = join(scratch, "plans-light");
    mkdirSync(out, { recursive: true });
    const r = modulesLoadedBy(
      ["plan", "--env", "staging", "--out", out, "--config", "stacks/amiroll.json"],
      /node_modules[\\/]@aws-sdk[\\/]client-ec2[\\/]|dist[\\/]scripts[\\/]sim[\\/](world|clients|terraform|scenarios)\.js/,
      { ...env, CDKTF_OUTDIR: join(scratch, "cdktf-light") },
    );
    expect([r.code, r.heavy]).toEqual([0, []]);
    expect(r.stdout).toContain("### ✅ Plan guard: accepted");
  });

  it("apply --plan judges the saved plan, then applies exactly it", async () => {
    // --no-watch: the watch after a replace roll would need AWS.
    const r = await amirollInProcess(["apply", "--env", "staging", "--plan", join(scratch, "saved.tfplan"), "--no-watch"], env);
    expect(r.status).toBe(0);
    // The state is pulled and saved before the apply (the log names the backup).
    expect(calls()).toEqual(["init", "show", "state", "apply"]);
    expect(readFileSync(env.FAKE_LOG, "utf8")).toMatch(/^state pull\napply .*saved\.tfplan$/m);
    // The S3 state object's version is asked for (here of nothing: NO_AWS's endpoint refuses): a warning, the apply goes on.
    expect(r.stderr).toMatch(/staging: the version id of s3:\/\/\S+\/amiroll\/staging\/terraform\.tfstate could not be read: /);
    const backup = /staging: state backed up to (\S+\.tfstate) \(serial 3; pins beside it; S3 version not read\)/.exec(r.stderr)?.[1];
    expect(backup).toBeDefined();
    expect(readFileSync(backup!, "utf8")).toBe(`${readFileSync(env.FAKE_STATE, "utf8")}\n`);
    expect(readFileSync(backup!.replace(/\.tfstate$/, ".amis.json"), "utf8")).toBe(readFileSync(REPO_PINS_PATH, "utf8"));
  });

  it("apply of a plan the guard refuses applies nothing: exit 3", async () => {
    const r = await amirollInProcess(["apply", "--env", "staging", "--plan", join(scratch, "saved.tfplan"), "--expect", "add"], env);
    expect(r.status).toBe(3);
    expect(calls()).toEqual(["init", "show"]);
  });

  it("apply with a bad --timeout: exit 2 before terraform runs at all", async () => {
    const r = await amirollInProcess(["apply", "--env", "staging", "--plan", join(scratch, "saved.tfplan"), "--timeout", "5x"], env);
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^amiroll: --timeout: /)]);
    expect(readFileSync(env.FAKE_LOG, "utf8")).toBe("");
  });

  it("apply of a stale plan: one line saying to plan again, exit 2", async () => {
    const r = await amirollInProcess(["apply", "--env", "staging", "--plan", join(scratch, "saved.tfplan")], { ...env, FAKE_STALE: "1" });
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/saved\.tfplan: the saved plan is stale .*run amiroll plan again$/)]);
  });
});

describe("amiroll plan and apply with terraform", () => {
  it("no terraform binary: one line naming it, exit 2", async () => {
    const r = await amirollInProcess(["plan", "--env", "staging"], { AMIROLL_TERRAFORM: "/nonexistent/terraform" });
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/\/nonexistent\/terraform.*AMIROLL_TERRAFORM/)]);
  });
});

describe("amiroll watch and rebalance --simulate", () => {
  it("watch follows staging's roll to done: progress per poll, the report and the balance on stdout, exit 0", async () => {
    const r = await amirollInProcess(["watch", "--env", "staging", "--simulate"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/apps: waiting for new instances · tasks on old: \d+ · services steady: \d\/6 · old\/new per AZ: eu-west-1a 1\/0 eu-west-1b 1\/0 \(\+2 booting\) · elapsed 0s/);
    expect(r.stderr).toMatch(/apps: moving tasks · .* · ETA \d+/);
    expect(r.stdout).toMatch(/^watch of staging: done after \d+ polls\napps: done after \d+m\d\ds\n  instances replaced per AZ: eu-west-1a 1\/1, eu-west-1b 1\/1; new instances: 2; old instances still registered: \d\n  tasks moved off old instances: \d+\n  services steady: 6\/6/);
    expect(r.stdout).toMatch(/service\s+eu-west-1a\s+eu-west-1b\s+verdict/);
  });

  it("watch with --log-format json: one JSON object per line", async () => {
    const r = await amirollInProcess(["watch", "--env", "production", "--simulate", "--log-format", "json"]);
    expect(r.status).toBe(0);
    const progress = r.stderr.trim().split("\n").map((l) => JSON.parse(l)).filter((l) => l.event === "progress");
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toMatchObject({ cluster: "apps", phase: "done", tasksOnOld: 0, servicesSteady: 6, services: 6 });
  });

  it("watch of a broken AMI: exit 1, the crash loop in one line", async () => {
    const r = await amirollInProcess(["watch", "--env", "staging", "--simulate", "--scenario", "broken-ami"]);
    expect(r.status).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^amiroll: watch of staging failed: apps: crash loop on the new AMI: \d+ tasks stopped with errors/)]);
  });

  it("watch with a timeout too short: exit 1, saying where each cluster was", async () => {
    const r = await amirollInProcess(["watch", "--env", "staging", "--simulate", "--timeout", "30s"]);
    expect(r.status).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^amiroll: watch of staging failed: timed out after 30s \(apps: waiting for new instances\)$/)]);
  });

  it("rebalance of staging's bunched services moves them over its two zones: exit 0; --enable-az-rebalancing turns ECS's own on for the spread services, not the binpacked worker", async () => {
    const r = await amirollInProcess(["rebalance", "--env", "staging", "--simulate", "--scenario", "imbalanced", "--enable-az-rebalancing"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/apps: balance after\n(.*\n)*web\s+1\s+1\s+balanced/);
    expect(r.stdout).toContain(
      "apps: ECS AZ rebalancing: admin ENABLED (turned on now), api ENABLED (turned on now), search ENABLED (turned on now), web ENABLED (turned on now), worker DISABLED (does not spread over zones: never changed)\n",
    );
  });

  it("watch --rebalance of staging's imbalanced scenario ends with every spread service balanced: exit 0, each service's AZ rebalancing reported", async () => {
    const r = await amirollInProcess(["watch", "--env", "staging", "--simulate", "--scenario", "imbalanced", "--rebalance"]);
    expect(r.status).toBe(0);
    const after = r.stdout.slice(r.stdout.indexOf("apps: balance after"));
    for (const [service, a, b] of [["admin", 0, 1], ["api", 2, 1], ["search", 1, 0], ["web", 1, 1]]) expect(after).toMatch(new RegExp(`\\n${service}\\s+${a}\\s+${b}\\s+balanced\\n`));
    expect(after).toMatch(/\nworker\s+2\s+0\s+not judged \(binpack\)\n/);
    expect(after).toContain("apps: ECS AZ rebalancing: admin DISABLED, api DISABLED, search DISABLED, web DISABLED, worker DISABLED (does not spread over zones: never changed)\n");
  });

  it("a rebalance that leaves a service imbalanced says so in words (no raw outcome token), and is not ok", async () => {
    // Staging bunched in its first zone, its other zone's instance full: web cannot move.
    const environment = findEnvironment(loadEnvironments(), "staging");
    const sim = await createSimulation({ environment, pins: readPins(REPO_PINS_PATH, loadEnvironments()).staging, scenario: "imbalanced" });
    for (const ci of sim.world.containerInstances.values()) if (ci.az !== environment.subnets[0].availabilityZone) for (let i = 0; i < 8; i++) sim.world.runStandaloneTask(environment.clusters[0].ecsClusterName, "hog", ci, 24 * 3600);
    const lines: string[] = [];
    const stdout = jest.spyOn(console, "log").mockImplementation(() => {});
    try {
      const ok = await rebalanceEnvironment(sim.clients, sim.clock, environment, { log: createLogger("text", (line) => lines.push(line)) });
      expect(ok).toBe(false);
    } finally {
      stdout.mockRestore();
      sim.clock.stop();
    }
    expect(lines).toContain("warning: apps/web: still imbalanced (not enough capacity in eu-west-1b: no instance there has room for another of its tasks)");
    expect(lines.join("\n")).not.toMatch(/still-imbalanced|: failed\b/);
  });

  it("rebalance --dry-run names the imbalanced services and forces nothing", async () => {
    const r = await amirollInProcess(["rebalance", "--env", "production", "--simulate", "--scenario", "imbalanced", "--dry-run"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/apps: 3 imbalanced: api, search, web \(dry run: nothing changed\)/);
    expect(r.stdout).toMatch(/apps: balance before\nservice\s+eu-west-1a\s+eu-west-1b\s+eu-west-1c\s+verdict/);
    expect(r.stdout).not.toContain("balance after");
  });

  it.each([
    ["an unknown environment", ["watch", "--env", "qa", "--simulate"], /^amiroll: --env: no such environment "qa"/],
    ["a timeout that is not a duration", ["watch", "--env", "staging", "--simulate", "--timeout", "soon"], /^amiroll: --timeout: "soon" is not a duration such as 90s, 30m or 2h$/],
    ["rebalance of an unknown environment", ["rebalance", "--env", "qa", "--simulate"], /^amiroll: --env: no such environment "qa"/],
    ["watch --enable-az-rebalancing without --rebalance", ["watch", "--env", "staging", "--simulate", "--enable-az-rebalancing"], /^amiroll: --enable-az-rebalancing: only with --rebalance \(it is turned on after the moves\)$/],
  ])("%s: exit 2", async (_label, args, message) => {
    const r = await amirollInProcess(args);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(message);
  });
});

describe("amiroll rollout --simulate", () => {
  it("the demo: staging then production, waiting for production's window, exit 0 and the report on stdout", () => {
    const pins = readFileSync(resolve(__dirname, "../../stacks/amis.json"), "utf8");
    const r = amiroll(["rollout", "--simulate", "--wait-for-window"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("production: waiting for its maintenance window: opens Tue 24 Nov 2026 09:00 GMT (Europe/London)");
    expect(r.stderr).toMatch(/production\/apps: moving tasks · tasks on old: \d+ · services steady: \d\/6 · old\/new per AZ: /);
    expect(r.stdout).toMatch(/^rollout: done after \d+h\d\dm\nstaging: done\n  clusters: apps -> ami-\w+ \(replace\)/);
    expect(r.stdout).toMatch(/production: done\n  clusters: apps -> ami-\w+ \(blue-green\)\n  took .*: window .*, pins .*, apply .*, drain .*, watch .*, gates .*\n  instances replaced: 4; tasks moved: 16/);
    expect(r.stdout).toContain("zero-downtime violations: 0");
    expect(errorLines(r.stderr)).toEqual([]);
    // The repository's pins are never changed by a simulation.
    expect(readFileSync(resolve(__dirname, "../../stacks/amis.json"), "utf8")).toBe(pins);
  });

  it("outside production's window without --wait-for-window: staging rolls, production is refused with the next opening, exit 2", async () => {
    const r = await amirollInProcess(["rollout", "--simulate", "-o", "markdown"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toContain("| staging | ✅ done |");
    expect(r.stdout).toContain("| production | ⛔ refused |");
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^amiroll: rollout refused: production is outside its maintenance windows \(Tue 09:00-11:00 Europe\/London; Thu 09:00-11:00 Europe\/London\); the next opens Tue 24 Nov 2026 09:00 GMT \(Europe\/London\) \(in \d+ min\)/)]);
  });

  it("the state backups a simulated run lists: gone with its temporary world, which it says; kept with --state-dir", async () => {
    const backups = (stdout: string) => [...stdout.matchAll(/state backed up before an apply: (\S+\.tfstate)/g)].map((m) => m[1]);
    const temporary = await amirollInProcess(["rollout", "--simulate", "--to", "staging"]);
    expect(temporary.status).toBe(0);
    expect(backups(temporary.stdout).length).toBeGreaterThan(0);
    expect(backups(temporary.stdout).filter((file) => existsSync(file))).toEqual([]);
    expect(temporary.stderr).toContain("simulated without --state-dir: the state backups above were in the simulated world's temporary directory, removed on exit; --state-dir DIR keeps them");
    const kept = await amirollInProcess(["rollout", "--simulate", "--to", "staging", "--state-dir", join(scratch, "kept-world")]);
    expect(kept.status).toBe(0);
    expect(backups(kept.stdout).length).toBeGreaterThan(0);
    expect(backups(kept.stdout).filter((file) => !existsSync(file))).toEqual([]);
    expect(kept.stderr).not.toContain("without --state-dir");
  });

  it("--notice prints the window's notice in markdown: what, when, which owners' services", async () => {
    const r = await amirollInProcess(["rollout", "--simulate", "--notice"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("### Maintenance notice: machine image rollout");
    expect(r.stdout).toContain("**When:** Tue 24 Nov 2026 09:00 GMT (Europe/London) (window Tue 09:00-11:00 Europe/London)");
    expect(r.stdout).toMatch(/\| apps \| ami-\w+ \| ami-\w+ \(once staging has verified it\) \| blue-green \| 4 \|/);
    expect(r.stdout).toContain("| storefront | apps/web |");
    expect(r.stdout).not.toContain("rollout: done");
  });

  it.each([
    ["an unknown --from", ["rollout", "--simulate", "--from", "qa"], /^amiroll: --from: no such environment "qa" \(known: staging, production\)$/],
    ["--from after --to", ["rollout", "--simulate", "--from", "production", "--to", "staging"], /^amiroll: --from production comes after --to staging in the promotion order \(staging -> production\)$/],
    ["both window flags", ["rollout", "--ignore-window", "--wait-for-window"], /^amiroll: --ignore-window and --wait-for-window contradict each other/],
    ["a bad --timeout", ["rollout", "--simulate", "--timeout", "soon"], /^amiroll: --timeout: "soon" is not a duration/],
  ])("%s: exit 2, one line", async (_name, args, message) => {
    const r = await amirollInProcess(args);
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(message)]);
  });
});
