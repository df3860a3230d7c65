/**
 * `amiroll state restore` through the CLI (in this process) with the real terraform runner against
 * a stand-in terraform (test/support/fake-terraform.ts: state pull prints $FAKE_STATE, state push
 * copies over it): the diff of addresses, nothing changed without --yes, the push with it (the
 * live state backed up first), and the refusals: another environment's state, a newer serial,
 * a file that is not a state.
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { errorLines, scratch } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";
import { fakeState, fakeTerraform } from "../support/fake-terraform";

jest.setTimeout(60_000);

let env: Record<string, string>;
const calls = () => readFileSync(env.FAKE_LOG, "utf8").trim().split("\n").filter(Boolean).map((l) => l.split(" ").slice(0, 2).join(" "));
const LIVE = fakeState("lin-staging", 5, ["aws_ecs_cluster.apps", "aws_autoscaling_group.new", "aws_launch_template.new"]);
let n = 0;

/** A backup file (and, with `record`, the record beside it). */
function backup(state: string, record?: object): string {
  const file = join(scratch, `b${++n}.tfstate`);
  writeFileSync(file, state);
  if (record) writeFileSync(file.replace(/\.tfstate$/, ".json"), JSON.stringify(record));
  return file;
}

beforeAll(async () => {
  const { rollPlans } = await import("../support/sim-plans");
  env = fakeTerraform(scratch, (await rollPlans()).raw.replace);
});
beforeEach(() => {
  writeFileSync(env.FAKE_LOG, "");
  writeFileSync(env.FAKE_STATE, LIVE);
});

const OLD = fakeState("lin-staging", 3, ["aws_ecs_cluster.apps", "aws_autoscaling_group.old", "aws_launch_template.old"]);

describe("amiroll state restore", () => {
  it("without --yes: shows the diff of addresses, changes nothing, exit 2 with one line", async () => {
    const file = backup(OLD, { environment: "staging", takenAt: "2026-11-24T08:04:40.000Z", purpose: "rollout: apps: roll to ami-0b (replace)", lineage: "lin-staging", serial: 3, pinsFile: "/backups/staging/x.amis.json" });
    const r = await amirollInProcess(["state", "restore", "--env", "staging", "--from", file], env);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe(
      [
        `state restore of staging from ${file}`,
        "  backup: lineage lin-staging, serial 3, taken 2026-11-24T08:04:40.000Z before rollout: apps: roll to ami-0b (replace)",
        "  live:   serial 5",
        "what pushing it changes in terraform's record of the resources (AWS itself is not changed):",
        "  + aws_autoscaling_group.old",
        "  + aws_launch_template.old",
        "  - aws_autoscaling_group.new",
        "  - aws_launch_template.new",
        "  2 back into the state, 2 out of it, 0 changed, 1 unchanged",
        "the pins file as it was is beside the backup: /backups/staging/x.amis.json (amiroll does not write it back)",
        "",
      ].join("\n"),
    );
    expect(errorLines(r.stderr)).toEqual(["amiroll: not restored: review what it changes (above), then run again with --yes to push it"]);
    expect(calls()).toEqual(["init -input=false", "state pull"]);
    expect(readFileSync(env.FAKE_STATE, "utf8")).toBe(LIVE);
  });

  it("with --yes: the live state backed up, then the backup pushed as the serial after the live one's", async () => {
    const file = backup(OLD);
    const r = await amirollInProcess(["state", "restore", "--env", "staging", "--from", file, "--yes"], env);
    expect(r.status).toBe(0);
    expect(calls()).toEqual(["init -input=false", "state pull", "state push"]);
    const pushed = JSON.parse(readFileSync(env.FAKE_STATE, "utf8"));
    expect(pushed).toEqual({ ...JSON.parse(OLD), serial: 6 });
    const before = /the live state \(serial 5\) backed up to (\S+\.tfstate) before the restore/.exec(r.stderr)![1];
    expect(readFileSync(before, "utf8")).toBe(`${LIVE}\n`);
    expect(readdirSync(join(scratch, "backups", "staging"))).toContain(before.split("/").at(-1));
    expect(r.stdout).toContain(`restored: staging's state is the backup's, as serial 6; the state before it is backed up to ${before}`);
    expect(r.stderr).toContain("next: amiroll plan --env staging");
  });

  it("another environment's state (another lineage): refused naming both lineages, nothing pushed, even with --yes --force", async () => {
    const file = backup(fakeState("lin-production", 9, ["aws_ecs_cluster.apps"]));
    const r = await amirollInProcess(["state", "restore", "--env", "staging", "--from", file, "--yes", "--force"], env);
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([
      `amiroll: --from: ${file}: lineage lin-production is not the lineage of staging's state (lin-staging, serial 5): a backup of another environment or of another state; refused, nothing changed`,
    ]);
    expect(r.stdout).toBe("");
    expect(calls()).toEqual(["init -input=false", "state pull"]);
    expect(readFileSync(env.FAKE_STATE, "utf8")).toBe(LIVE);
  });

  it("a backup whose record names another environment: refused before terraform runs", async () => {
    const file = backup(OLD, { environment: "production", lineage: "lin-production", serial: 3 });
    const r = await amirollInProcess(["state", "restore", "--env", "staging", "--from", file, "--yes"], env);
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([`amiroll: --from: ${file}: a backup of production's state (lineage lin-production, serial 3), not of staging's: refused, nothing changed`]);
    expect(calls()).toEqual([]);
  });

  it("a backup newer than the live state: refused unless --force", async () => {
    const file = backup(fakeState("lin-staging", 8, ["aws_ecs_cluster.apps"]));
    const refused = await amirollInProcess(["state", "restore", "--env", "staging", "--from", file, "--yes"], env);
    expect(refused.status).toBe(2);
    expect(errorLines(refused.stderr)).toEqual([`amiroll: --from: ${file}: serial 8 is newer than staging's state (serial 5): the state was restored or replaced after this backup was taken; --force pushes it anyway`]);
    expect(readFileSync(env.FAKE_STATE, "utf8")).toBe(LIVE);
    const forced = await amirollInProcess(["state", "restore", "--env", "staging", "--from", file, "--yes", "--force"], env);
    expect(forced.status).toBe(0);
    expect(JSON.parse(readFileSync(env.FAKE_STATE, "utf8")).serial).toBe(6);
  });

  it("a file that is not a state, or none: exit 2 before terraform runs", async () => {
    const file = join(scratch, "plan.json");
    writeFileSync(file, '{"format_version": "1.2"}');
    const notState = await amirollInProcess(["state", "restore", "--env", "staging", "--from", file], env);
    expect(notState.status).toBe(2);
    expect(errorLines(notState.stderr)).toEqual([`amiroll: --from: ${file}: is not a terraform state of format version 4 (version missing)`]);
    const missing = await amirollInProcess(["state", "restore", "--env", "staging"], env);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("required option '--from <file>' not specified");
    expect(calls()).toEqual([]);
  });
});
