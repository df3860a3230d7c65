/**
 * `amiroll status` and `amiroll bump` as a user runs them, against the simulated AWS: each output
 * format, the pins file rewritten in its own formatting, and every kind of bad input ending in
 * one line on stderr, exit 2 and the pins file untouched.
 *
 * Two cases spawn the built bin; the others call the CLI's main() in this process
 * (test/support/cli-in-process.ts), with the same output and exit code.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TSV_COLUMNS } from "../../scripts/images/status-report";
import { errorLines, scratch } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";
import { REPO_PINS_PATH } from "../support/repo-config";

jest.setTimeout(60_000);

const REPO_PINS = readFileSync(REPO_PINS_PATH, "utf8");

/** A copy of the repository's pins, reformatted by `format`, for a test to change. */
function pinsCopy(name: string, format: (raw: any) => string = (raw) => JSON.stringify(raw, null, 2) + "\n", edit: (raw: any) => void = () => {}): string {
  const raw = JSON.parse(REPO_PINS);
  edit(raw);
  const file = join(scratch, name);
  writeFileSync(file, format(raw));
  return file;
}

describe("amiroll status --simulate", () => {
  it("prints a table: per cluster the pin, the newest image, instances by image, outdated share, holds, next window", async () => {
    const r = await amirollInProcess(["status", "--simulate"]);
    expect(r.status).toBe(0);
    const [header, staging, production] = r.stdout.split("\n");
    expect(header.split(/\s{2,}/)).toEqual(["ENVIRONMENT", "CLUSTER", "PINNED", "PIN AGE", "LATEST", "RELEASED", "AGENT", "INSTANCES", "OUTDATED", "HOLD", "NEXT WINDOW"]);
    expect(staging).toMatch(/^staging\s+apps\s+ami-0c8e1f5b2a9d47e31\s+\d+d\s+ami-0\w{16}\s+2026-11-\d\d\s+1\.98\.0\s+2 on ami-0\w{16}\s+2\/2 100%\s+-\s+any time$/);
    expect(production).toMatch(/^production\s+apps\s+.*4\/4 100%\s+-\s+Tue 24 Nov 2026 09:00 GMT \(Europe\/London\) \(in \d+ min\)$/);
    expect(r.stdout).toContain("Release notes of the latest images:\n  https://github.com/aws/amazon-ecs-ami/releases/tag/");
  });

  it("prints TSV for scripts, JSON, and Prometheus metrics for --env production only", async () => {
    const tsv = await amirollInProcess(["status", "--simulate", "--env", "production", "-o", "tsv"]);
    expect(tsv.status).toBe(0);
    const lines = tsv.stdout.trimEnd().split("\n").map((l) => l.split("\t"));
    expect(lines[0]).toEqual([...TSV_COLUMNS]);
    expect(lines).toHaveLength(2);
    const row = Object.fromEntries(TSV_COLUMNS.map((c, i) => [c, lines[1][i]]));
    expect(row).toMatchObject({ environment: "production", cluster: "apps", strategy: "blue-green", instances: "4", outdated: "4", outdated_ratio: "1", window: "closed", window_changes_at: "2026-11-24T09:00:00.000Z" });

    const json = JSON.parse((await amirollInProcess(["status", "--simulate", "--env", "production", "-o", "json"])).stdout);
    expect(json.clusters).toHaveLength(1);
    expect(json.clusters[0]).toMatchObject({ environment: "production", total: 4, outdated: 4, window: { state: "closed", opensAt: "2026-11-24T09:00:00.000Z" } });

    const prom = await amirollInProcess(["status", "--simulate", "--env", "production", "-o", "prom"]);
    expect(prom.stdout).toMatch(/^amiroll_instances\{env="production",cluster="apps",ami="ami-0\w{16}",outdated="true"\} 4$/m);
    expect(prom.stdout).toContain('amiroll_outdated_ratio{env="production",cluster="apps"} 1\n');
    expect(prom.stdout).toMatch(/^amiroll_pin_age_days\{env="production",cluster="apps",ami="ami-0c8e1f5b2a9d47e31"\} \d+(\.\d)?$/m);
    expect(prom.stdout).not.toContain('env="staging"');
  });

  it("warns, and still reports, when the newest image is deregistered", async () => {
    const r = await amirollInProcess(["status", "--simulate", "--env", "staging", "--scenario", "ami-deregistered"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\nWarnings:\n  staging\/apps: the newest image of \S+: ami-0\w{16} is deregistered, not available: amiroll bump refuses it\n/);
  });

  // An unreadable parameter is a warning on its cluster (issue 18): a textfile collector still
  // gets every other figure, and amiroll_warnings says something needs a person.
  it.each([
    ["ssm-missing", /\nWarnings:\n  staging\/apps: SSM parameter \S+ cannot be read: does not exist in this region \(check the cluster's amiParameter\): the newest image is unknown and amiroll bump cannot pin one\n/],
    ["ssm-malformed", /\nWarnings:\n  staging\/apps: SSM parameter \S+ cannot be read: value is not valid JSON: .*: the newest image is unknown and amiroll bump cannot pin one\n/],
  ])("warns, and still reports, when the parameter cannot be read (%s)", async (scenario, warning) => {
    const r = await amirollInProcess(["status", "--simulate", "--env", "staging", "--scenario", scenario]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^staging\s+apps\s+ami-0\w{16}\s+\d+d\s+\? \(unreadable\)\s/m);
    expect(r.stdout).toMatch(warning);
  });

  it.each([
    [["status", "--env", "qa"], /^amiroll: --env: no such environment "qa" \(known: staging, production\)$/],
    [["status", "-o", "csv"], /^error: option '-o, --output <format>' argument 'csv' is invalid/],
  ])("%j: one line, exit 2", async (args, message) => {
    const r = await amirollInProcess(args);
    expect(r.status).toBe(2);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("amiroll:") || l.startsWith("error:"))).toEqual([expect.stringMatching(message)]);
  });
});

describe("amiroll bump --simulate", () => {
  it("rewrites the pins in their own formatting, and prints the PR title and body", async () => {
    // Four spaces and production first: bump must keep both.
    const file = pinsCopy("four-spaces.json", (raw) => JSON.stringify({ production: raw.production, staging: raw.staging }, null, 4) + "\n");
    const before = readFileSync(file, "utf8").split("\n");
    const r = await amirollInProcess(["bump", "--simulate"], { AMIROLL_PINS: file });
    expect(r.status).toBe(0);
    const after = readFileSync(file, "utf8").split("\n");
    expect(after).toHaveLength(before.length);
    const changed = after.map((line, i) => [before[i], line]).filter(([a, b]) => a !== b);
    // staging's imageId, imageName and resolvedAt; nothing else, in four spaces.
    expect(changed).toHaveLength(3);
    expect(changed.map(([, b]) => b)).toEqual([
      expect.stringMatching(/^ {16}"imageId": "ami-0\w{16}",$/),
      expect.stringMatching(/^ {16}"imageName": "al2023-ami-ecs-hvm-2023\.0\.\d{8}-kernel-6\.1-arm64",$/),
      expect.stringMatching(/^ {16}"resolvedAt": "2026-11-24T08:\d\d:\d\dZ"$/),
    ]);
    expect(after.findIndex((l) => l.includes('"staging"'))).toBeGreaterThan(after.findIndex((l) => l.includes('"production"')));
    expect(r.stdout).toMatch(/^amiroll: bump staging\/apps to 2023\.0\.\d{8}-kernel-6\.1-arm64\n\n### AMI bump\n/);
    expect(r.stderr).toContain("warning: production/apps not bumped: waits for staging");
    expect(readFileSync(REPO_PINS_PATH, "utf8")).toBe(REPO_PINS);
  });

  it("--dry-run prints the change and the PR but writes nothing; -o json has the title, body and changes", async () => {
    const file = pinsCopy("dry-run.json");
    const before = readFileSync(file, "utf8");
    const r = await amirollInProcess(["bump", "--simulate", "--dry-run", "-o", "json"], { AMIROLL_PINS: file });
    expect(r.status).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(before);
    expect(r.stderr).toMatch(/dry run: \S+dry-run\.json would change:\n/);
    expect(r.stderr).toMatch(/^ +- +"imageId": "ami-0c8e1f5b2a9d47e31",$/m);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ title: expect.stringContaining("staging/apps"), changes: [{ environment: "staging", cluster: "apps" }], skipped: [{ environment: "production" }] });
    expect(out.pinsFile).toBeUndefined();
  });

  it("without AMIROLL_PINS a simulated bump writes a copy, never the repository's amis.json", async () => {
    const r = await amirollInProcess(["bump", "--simulate"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/amis\.json \(a simulated copy; stacks\/amis\.json is unchanged; the copy is removed on exit/);
    expect(readFileSync(REPO_PINS_PATH, "utf8")).toBe(REPO_PINS);
  });

  // A scheduled job opens a pull request only when stdout is not empty, whatever the format.
  it.each([[[]], [["-o", "markdown"]], [["-o", "json"]]])("says so, prints nothing on stdout and exits 0 when there is nothing to bump (%j)", async (format) => {
    const file = pinsCopy("up-to-date.json");
    const r = await amirollInProcess(["bump", "--simulate", "--env", "staging", "--to", "ami-0c8e1f5b2a9d47e31", ...format], { AMIROLL_PINS: file });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("nothing to bump: the pins file is unchanged");
  });

  // Every row has all four cells: jest passes `done` in place of a missing last one.
  const intact = undefined;
  it.each<[string, string[], RegExp, ((raw: any) => string) | undefined]>([
    ["an unknown SSM parameter", ["--scenario", "ssm-missing"], /^amiroll: SSM parameter \/aws\/service\/ecs\/optimized-ami\/amazon-linux-2023\/arm64\/recommended \(staging\/apps\): does not exist/, intact],
    ["malformed SSM JSON", ["--scenario", "ssm-malformed"], /^amiroll: SSM parameter \S+ \(staging\/apps\): value is not valid JSON/, intact],
    ["a deregistered AMI", ["--scenario", "ami-deregistered"], /^amiroll: SSM parameter \S+ \(staging\/apps\): ami-0\w{16} is deregistered, not available$/, intact],
    ["an architecture mismatch", ["--scenario", "ami-wrong-architecture"], /^amiroll: SSM parameter \S+ \(staging\/apps\): ami-0\w{16} is built for x86_64 but m7g\.large is arm64$/, intact],
    ["a missing --to AMI", ["--to", "ami-0123456789abcdef0"], /^amiroll: --to ami-0123456789abcdef0 \(staging\/apps\): ami-0123456789abcdef0 does not exist/, intact],
    ["an --to that is not an AMI id", ["--to", "ami-XYZ"], /^amiroll: --to: "ami-XYZ" is not an AMI id/, intact],
    ["production while staging has verified nothing", ["--env", "production"], /^amiroll: production\/apps: waits for staging/, intact],
    ["an unknown --env", ["--env", "qa"], /^amiroll: --env: no such environment "qa" \(known: staging, production\)$/, intact],
    ["a corrupt pins file", [], /^amiroll: \S+corrupt\.json: \(file\): is not valid JSON/, (raw) => JSON.stringify(raw).slice(0, 80)],
    ["a pins file with a bad AMI id", [], /^amiroll: \S+corrupt\.json: staging\.apps\.current\.imageId: "ami-nope" is not an AMI id/, (raw) => JSON.stringify({ ...raw, staging: { apps: { current: { imageId: "ami-nope" } } } })],
  ])("%s: one line, exit 2, the pins file untouched", async (_, args, message, corrupt) => {
    const file = pinsCopy("corrupt.json", corrupt);
    const before = readFileSync(file, "utf8");
    const r = await amirollInProcess(["bump", "--simulate", ...args], { AMIROLL_PINS: file });
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(message)]);
    expect(r.stdout).toBe("");
    expect(readFileSync(file, "utf8")).toBe(before);
  });
});
