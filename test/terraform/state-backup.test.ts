/**
 * State backups (scripts/terraform/state-backup.ts): what a backup holds and where, how many stay,
 * the check that the directory can be written (before anything runs), reading a state and the
 * diff of its addresses; and the simulated terraform's state pull and push, with terraform's
 * lineage and serial checks.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../scripts/core/errors";
import { findEnvironment } from "../../scripts/config/file";
import { createSimulation } from "../../scripts/sim/scenarios";
import { SimTerraform } from "../../scripts/sim/terraform";
import { checkBackupDir, diffAddresses, diffLines, listBackups, parseState, readBackupRecord, saveBackup } from "../../scripts/terraform/state-backup";
import { fakeState } from "../support/fake-terraform";
import { environments, repoPins as pins, stackWith } from "../support/sim-plans";
import { thrown } from "../support/fixtures";

const tmp = () => mkdtempSync(join(tmpdir(), "amiroll-backup-"));
const settings = (dir: string, keep = 10) => ({ dir, shownAs: `backups.dir: ${dir}`, keep });
const AT = Date.parse("2026-11-24T08:00:00Z");

describe("saveBackup", () => {
  it("writes the state, the pins beside it and a record, 0600, in a git-ignored directory per environment", () => {
    const dir = join(tmp(), "backups");
    const pinsPath = join(tmp(), "amis.json");
    writeFileSync(pinsPath, '{"pins": 1}\n');
    const state = fakeState("lin-a", 12, ["aws_ecs_cluster.apps"]);
    const record = saveBackup(settings(dir), { environment: "staging", state, pinsPath, at: AT, purpose: "amiroll apply (replace)", backend: { bucket: "b", key: "amiroll/staging/terraform.tfstate", region: "eu-west-1" } })!;
    expect(record.stateFile).toBe(join(dir, "staging", "20261124T080000000Z-serial00000012.tfstate"));
    expect(readFileSync(record.stateFile, "utf8")).toBe(`${state}\n`);
    expect(readFileSync(record.pinsFile!, "utf8")).toBe('{"pins": 1}\n');
    expect(readBackupRecord(record.stateFile)).toEqual({
      environment: "staging",
      takenAt: "2026-11-24T08:00:00.000Z",
      lineage: "lin-a",
      serial: 12,
      purpose: "amiroll apply (replace)",
      stateFile: record.stateFile,
      pinsFile: join(dir, "staging", "20261124T080000000Z-serial00000012.amis.json"),
      recordFile: join(dir, "staging", "20261124T080000000Z-serial00000012.json"),
      backend: { bucket: "b", key: "amiroll/staging/terraform.tfstate", region: "eu-west-1" },
      s3VersionId: null,
    });
    for (const file of [record.stateFile, record.pinsFile!, record.recordFile]) expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, ".gitignore"), "utf8")).toMatch(/^\*$/m);
  });

  it("keeps the newest `keep` per environment, each with its pins and record; two at one instant both kept", () => {
    const dir = tmp();
    const pinsPath = join(tmp(), "amis.json");
    writeFileSync(pinsPath, "{}\n");
    for (let serial = 1; serial <= 5; serial++) saveBackup(settings(dir, 2), { environment: "staging", state: fakeState("l", serial, []), pinsPath, at: AT + serial * 60_000, purpose: "p" });
    saveBackup(settings(dir, 2), { environment: "production", state: fakeState("m", 1, []), pinsPath, at: AT, purpose: "p" });
    expect(readdirSync(join(dir, "staging")).sort()).toEqual([
      "20261124T080400000Z-serial00000004.amis.json",
      "20261124T080400000Z-serial00000004.json",
      "20261124T080400000Z-serial00000004.tfstate",
      "20261124T080500000Z-serial00000005.amis.json",
      "20261124T080500000Z-serial00000005.json",
      "20261124T080500000Z-serial00000005.tfstate",
    ]);
    expect(listBackups(join(dir, "production"))).toHaveLength(1);
    // The same instant and serial (a simulated run's virtual clock): a second name, not an overwrite.
    const again = [1, 2].map(() => saveBackup(settings(dir, 10), { environment: "qa", state: fakeState("q", 1, []), at: AT, purpose: "p" })!.stateFile);
    expect(again[0]).not.toBe(again[1]);
    expect(listBackups(join(dir, "qa"))).toEqual(again);
  });

  it("no state yet (a first deploy): nothing to back up, nothing written", () => {
    const dir = join(tmp(), "backups");
    expect(saveBackup(settings(dir), { environment: "staging", state: "", at: AT, purpose: "p" })).toBeUndefined();
    expect(existsSync(dir)).toBe(false);
  });

  // What `terraform state pull` prints for an S3 key that holds no state yet (terraform 1.11.4,
  // seen on a first deploy against moto in test/wire/first-deploy.test.ts).
  it("no state yet in a remote backend (serial 0, no lineage, no resources): nothing to back up, nothing written", () => {
    const dir = join(tmp(), "backups");
    const empty = '{\n  "version": 4,\n  "terraform_version": "1.11.4",\n  "serial": 0,\n  "lineage": "",\n  "outputs": {},\n  "resources": [],\n  "check_results": null\n}\n';
    expect(saveBackup(settings(dir), { environment: "production", state: empty, at: AT, purpose: "p" })).toBeUndefined();
    expect(existsSync(dir)).toBe(false);
    // A state with resources but no lineage is still refused, naming it.
    expect(() => saveBackup(settings(dir), { environment: "production", state: empty.replace('"resources": []', '"resources": [{}]'), at: AT, purpose: "p" })).toThrow(/no lineage/);
  });
});

describe("checkBackupDir", () => {
  it("a directory that does not exist yet but can be made is fine, and is not made by the check", () => {
    const dir = join(tmp(), "not", "yet");
    checkBackupDir(settings(dir), "staging");
    expect(existsSync(dir)).toBe(false);
  });

  it("a file standing in the way: one-line UsageError naming the setting, nothing made", () => {
    const root = tmp();
    writeFileSync(join(root, "a-file"), "");
    const error = thrown(() => checkBackupDir(settings(join(root, "a-file", "backups")), "staging"));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toBe(`backups.dir: ${join(root, "a-file", "backups")}: cannot be made: ${join(root, "a-file")} is a file, not a directory`);
    expect(readdirSync(root)).toEqual(["a-file"]);
  });
});

describe("checkBackupDir: a directory amiroll cannot write in", () => {
  // Root writes through any mode, so the mode is tried only for others; a directory nobody can
  // make anything in (Linux's /proc/self) stands in for it everywhere.
  it("a directory whose mode forbids writing (not as root): one-line UsageError naming the setting and the cause", () => {
    if (process.getuid?.() === 0) return;
    const dir = join(tmp(), "read-only");
    mkdirSync(dir, { mode: 0o555 });
    const error = thrown(() => checkBackupDir(settings(join(dir, "backups")), "staging"));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toBe(`backups.dir: ${join(dir, "backups")}: cannot be written (EACCES in ${dir}): backups of the state are taken before every apply`);
  });

  it("a directory where nothing can be made: one-line UsageError, nothing left behind", () => {
    if (!existsSync("/proc/self")) return;
    const error = thrown(() => checkBackupDir(settings("/proc/self/amiroll-backups"), "staging"));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toMatch(/^backups\.dir: \/proc\/self\/amiroll-backups: cannot be written \(E[A-Z]+ in \/proc\/self\): backups of the state are taken before every apply$/);
  });
});

describe("reading a state and the diff of its addresses", () => {
  it("refuses what is not a state, naming it", () => {
    expect(thrown(() => parseState("not json", "b.tfstate")).message).toMatch(/^b\.tfstate: is not a terraform state \(not JSON: /);
    expect(thrown(() => parseState('{"version": 3, "lineage": "l", "serial": 1}', "b.tfstate")).message).toBe("b.tfstate: is not a terraform state of format version 4 (version 3)");
    expect(thrown(() => parseState('{"version": 4, "serial": 1}', "b.tfstate")).message).toBe("b.tfstate: is not a terraform state (no lineage)");
    expect(thrown(() => parseState('{"version": 4, "lineage": "l"}', "b.tfstate")).message).toBe("b.tfstate: is not a terraform state (no serial)");
  });

  it("addresses as terraform shows them: modules, data sources, count and for_each keys", () => {
    const state = parseState(JSON.stringify({
      version: 4, lineage: "l", serial: 2,
      resources: [
        { mode: "managed", type: "aws_instance", name: "a", instances: [{ index_key: 0, attributes: {} }, { index_key: 1, attributes: {} }] },
        { module: "module.net", mode: "data", type: "aws_vpc", name: "main", instances: [{ attributes: {} }] },
        { mode: "managed", type: "aws_s3_bucket", name: "b", instances: [{ index_key: "logs", attributes: {} }] },
      ],
    }), "s");
    expect([...state.instances.keys()]).toEqual(['aws_instance.a[0]', 'aws_instance.a[1]', "module.net.data.aws_vpc.main", 'aws_s3_bucket.b["logs"]']);
  });

  it("the diff: back into the state, out of it, changed, unchanged", () => {
    const live = parseState(fakeState("l", 5, ["aws_ecs_cluster.apps", "aws_autoscaling_group.new", "aws_iam_role.r"]), "live");
    const backup = JSON.parse(fakeState("l", 4, ["aws_ecs_cluster.apps", "aws_autoscaling_group.old", "aws_iam_role.r"]));
    backup.resources[2].instances[0].attributes.id = "other";
    const diff = diffAddresses(live, parseState(JSON.stringify(backup), "backup"));
    expect(diffLines(diff)).toEqual([
      "+ aws_autoscaling_group.old",
      "- aws_autoscaling_group.new",
      "~ aws_iam_role.r",
      "1 back into the state, 1 out of it, 1 changed, 1 unchanged",
    ]);
  });
});

describe("the simulated terraform's state pull and push", () => {
  async function setup() {
    const environment = findEnvironment(environments, "staging");
    const sim = await createSimulation({ environment, pins: pins.staging });
    const tf = new SimTerraform(sim.world, environment, stackWith("staging", pins.staging.apps));
    await tf.init();
    return { sim, tf };
  }

  it("pull: the deployed resources, a lineage per environment, the serial bumped by each apply", async () => {
    const { sim, tf } = await setup();
    const before = parseState(await tf.statePull(), "pull");
    expect(before.serial).toBe(1);
    expect(before.lineage).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...before.instances.keys()].filter((a) => a.startsWith("aws_autoscaling_group."))).toHaveLength(1);
    expect([...before.instances.keys()].some((a) => a.startsWith("aws_ecs_cluster."))).toBe(true);
    await tf.plan("p");
    await tf.apply("p");
    const after = parseState(await tf.statePull(), "pull");
    expect(after).toMatchObject({ lineage: before.lineage, serial: 2 });
    // Going back to the state before the roll: the old group's resources back into the state, the new one's out.
    const diff = diffAddresses(after, before);
    const capacity = (addresses: readonly string[]) => addresses.map((a) => a.replace(/\..*$/, "")).sort();
    expect(capacity(diff.added)).toEqual(["aws_autoscaling_group", "aws_cloudwatch_metric_alarm", "aws_launch_template"]);
    expect(capacity(diff.removed)).toEqual(["aws_autoscaling_group", "aws_cloudwatch_metric_alarm", "aws_launch_template"]);
    expect(diff.added.every((a) => a.includes(sim.images.apps.running.replace(/-/g, "_")))).toBe(true);
    expect(diff.unchanged).toBeGreaterThan(5);
    // Another environment's state: another lineage.
    const production = findEnvironment(environments, "production");
    const other = new SimTerraform(sim.world, production, stackWith("production", pins.production.apps));
    expect(other.lineage).not.toBe(before.lineage);
  });

  it("push: another lineage and an older serial are refused as terraform refuses them; a newer serial goes in and pull shows it", async () => {
    const { tf } = await setup();
    const dir = tmp();
    const current = await tf.statePull();
    const facts = parseState(current, "pull");
    const file = (name: string, edit: (s: any) => void) => {
      const state = JSON.parse(current);
      edit(state);
      writeFileSync(join(dir, name), JSON.stringify(state));
      return join(dir, name);
    };
    await expect(tf.statePush(file("other.tfstate", (s) => (s.lineage = "someone-else")))).rejects.toThrow(
      `terraform state push: cannot import state with lineage "someone-else" over unrelated state with lineage "${facts.lineage}"`,
    );
    await tf.plan("p");
    await tf.apply("p");
    const old = join(dir, "old.tfstate");
    writeFileSync(old, current);
    await expect(tf.statePush(old)).rejects.toThrow(`terraform state push: cannot import state with serial ${facts.serial} over newer state with serial ${facts.serial + 1}`);
    const restored = file("restored.tfstate", (s) => (s.serial = facts.serial + 2));
    await tf.statePush(restored);
    expect(await tf.statePull()).toBe(readFileSync(restored, "utf8"));
    expect(parseState(await tf.statePull(), "pull").serial).toBe(facts.serial + 2);
  });
});
