/**
 * The S3 state object's version id, read before each apply and recorded with the backup (issue
 * 21, item 3), with an injected S3 client: what S3's answer means (versioning on, off, suspended),
 * a state object that changed since terraform's pull, a read that fails (a warning, the backup
 * still taken). Against S3 itself (moto, versioning on and off): test/wire/state-version.test.ts.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { createLogger } from "../../scripts/core/log";
import { backupBeforeApply, backupShown, readBackupRecord } from "../../scripts/terraform/state-backup";
import { type S3Like, s3StateVersionReader, versionOf } from "../../scripts/terraform/state-version";
import type { TerraformRunner } from "../../scripts/terraform/runner";
import { fakeState } from "../support/fake-terraform";

const BACKEND = { bucket: "acme-tfstate", key: "amiroll/staging/terraform.tfstate", region: "eu-west-2" };
const STATE = fakeState("lin-s", 7, ["aws_ecs_cluster.apps"]);
const PULLED = { lineage: "lin-s", serial: 7 };

/** A client answering GetObject with `answer` (or throwing it), recording what it was sent. */
function fakeS3(answer: { VersionId?: string; body?: string } | Error) {
  const sent: { region: string; input: unknown; command: string }[] = [];
  const client = (region: string): S3Like => ({
    send: async (command: any) => {
      sent.push({ region, input: command.input, command: command.constructor.name });
      if (answer instanceof Error) throw answer;
      return { VersionId: answer.VersionId, Body: { transformToString: async () => answer.body ?? STATE } };
    },
  });
  return { client, sent };
}

describe("versionOf: what S3's answer says", () => {
  it.each([
    ["versioning on", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", { versionId: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", short: "S3 version 3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY" }],
    ["versioning never on (no version id)", undefined, { versionId: null, short: "no S3 version: versioning off or suspended", note: expect.stringMatching(/^versioning is off or suspended on bucket acme-tfstate \(S3 gave no version id\)/) }],
    ["written while suspended (\"null\")", "null", { versionId: null, short: 'S3 version "null": versioning off or suspended', note: expect.stringMatching(/versioning was off or suspended on bucket acme-tfstate \(S3's version id "null"\)/) }],
  ])("%s", (_what, versionId, expected) => {
    const version = versionOf(versionId, STATE, PULLED, BACKEND);
    expect(version).toMatchObject(expected);
    expect(version.problem).toBeUndefined();
  });

  it("an object that is not the pulled state (written since the pull, or not a state): no version id recorded, a problem", () => {
    expect(versionOf("v2", fakeState("lin-s", 8, []), PULLED, BACKEND)).toEqual({
      versionId: null,
      note: "s3://acme-tfstate/amiroll/staging/terraform.tfstate changed between terraform's pull and amiroll's read (serial 8, not serial 7): its version id is not recorded",
      short: "S3 version not recorded: the object changed",
      problem: true,
    });
    expect(versionOf("v2", fakeState("other", 7, []), PULLED, BACKEND).note).toContain("(serial 7, another lineage, not serial 7)");
    expect(versionOf("v2", "garbage", PULLED, BACKEND)).toMatchObject({ versionId: null, problem: true, note: expect.stringContaining("(not a state, not serial 7)") });
  });
});

describe("s3StateVersionReader", () => {
  it("GetObject of the backend's bucket and key, in the backend's region; one client per region", async () => {
    const s3 = fakeS3({ VersionId: "v-7" });
    const made: string[] = [];
    const read = s3StateVersionReader({ client: (region) => (made.push(region), s3.client(region)) });
    expect(await read(BACKEND, PULLED)).toEqual({ versionId: "v-7", note: "S3 version v-7", short: "S3 version v-7" });
    await read(BACKEND, PULLED);
    expect(made).toEqual(["eu-west-2"]);
    expect(s3.sent).toEqual([
      { region: "eu-west-2", command: GetObjectCommand.name, input: { Bucket: "acme-tfstate", Key: "amiroll/staging/terraform.tfstate" } },
      { region: "eu-west-2", command: GetObjectCommand.name, input: { Bucket: "acme-tfstate", Key: "amiroll/staging/terraform.tfstate" } },
    ]);
  });

  it("a read that fails (denied, network): null, a problem naming the object and what S3 said, in one line", async () => {
    const denied = Object.assign(new Error("User: arn:aws:iam::1:user/ci is not authorized\nto perform: s3:GetObject\x1b[2J"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
    const version = await s3StateVersionReader({ client: fakeS3(denied).client })(BACKEND, PULLED);
    expect(version).toEqual({
      versionId: null,
      note: "the version id of s3://acme-tfstate/amiroll/staging/terraform.tfstate could not be read: AccessDenied (HTTP 403): User: arn:aws:iam::1:user/ci is not authorized to perform: s3:GetObject\\x1b[2J",
      short: "S3 version not read",
      problem: true,
    });
    const network = new Error("AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:1");
    expect((await s3StateVersionReader({ client: fakeS3(network).client })(BACKEND, PULLED)).note).toMatch(/could not be read: connect ECONNREFUSED 127\.0\.0\.1:1$/);
  });
});

describe("backupBeforeApply with the S3 version", () => {
  const runner = (state: string) => ({ statePull: async () => state }) as unknown as TerraformRunner;
  const settings = () => ({ dir: mkdtempSync(join(tmpdir(), "amiroll-version-")), shownAs: "backups.dir: b", keep: 10 });
  const logged = () => {
    const lines: string[] = [];
    return { lines, log: createLogger("text", (line) => lines.push(line)) };
  };

  it("records the version id in the backup's record and names it in the log", async () => {
    const { lines, log } = logged();
    const s3 = fakeS3({ VersionId: "v-7" });
    const record = (await backupBeforeApply(settings(), { environment: "staging", runner: runner(STATE), at: 0, purpose: "p", backend: BACKEND, stateVersion: s3StateVersionReader({ client: s3.client }), log }))!;
    expect(readBackupRecord(record.stateFile)).toMatchObject({ s3VersionId: "v-7", s3Version: "S3 version v-7", backend: BACKEND, serial: 7 });
    expect(lines.join("\n")).toContain(`staging: state backed up to ${record.stateFile} (serial 7; pins beside it; S3 version v-7)`);
    expect(backupShown(record, record.version)).toBe(`${record.stateFile} (S3 version v-7)`);
  });

  it("versioning off: recorded as such, said in the log, no warning", async () => {
    const { lines, log } = logged();
    const record = (await backupBeforeApply(settings(), { environment: "staging", runner: runner(STATE), at: 0, purpose: "p", backend: BACKEND, stateVersion: s3StateVersionReader({ client: fakeS3({}).client }), log }))!;
    expect(readBackupRecord(record.stateFile)).toMatchObject({ s3VersionId: null, s3Version: expect.stringMatching(/^versioning is off or suspended on bucket acme-tfstate/) });
    expect(lines.join("\n")).toMatch(/serial 7; pins beside it; versioning is off or suspended on bucket acme-tfstate/);
    expect(lines.filter((l) => l.startsWith("warning:"))).toEqual([]);
  });

  it("a failed read: a warning, and the backup is still taken", async () => {
    const { lines, log } = logged();
    const denied = Object.assign(new Error("Access Denied"), { name: "AccessDenied" });
    const record = (await backupBeforeApply(settings(), { environment: "staging", runner: runner(STATE), at: 0, purpose: "p", backend: BACKEND, stateVersion: s3StateVersionReader({ client: fakeS3(denied).client }), log }))!;
    expect(readFileSync(record.stateFile, "utf8")).toBe(`${STATE}\n`);
    expect(readBackupRecord(record.stateFile)).toMatchObject({ s3VersionId: null, s3Version: expect.stringContaining("could not be read: AccessDenied: Access Denied") });
    expect(lines).toContainEqual(expect.stringMatching(/^warning: staging: the version id of s3:\/\/acme-tfstate\/amiroll\/staging\/terraform\.tfstate could not be read: AccessDenied: Access Denied$/));
    expect(lines.join("\n")).toContain("(serial 7; pins beside it; S3 version not read)");
  });

  it("no state yet (a first deploy): S3 is not asked", async () => {
    const { log } = logged();
    const s3 = fakeS3({ VersionId: "v" });
    expect(await backupBeforeApply(settings(), { environment: "staging", runner: runner(""), at: 0, purpose: "p", backend: BACKEND, stateVersion: s3StateVersionReader({ client: s3.client }), log })).toBeUndefined();
    expect(s3.sent).toEqual([]);
  });
});
