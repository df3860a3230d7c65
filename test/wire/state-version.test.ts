/**
 * The S3 state object's version id over the wire (`npm run test:wire`, issue 21, item 3):
 * amiroll's reader (the SDK's S3 client, endpoint and credentials from the environment as in a
 * real run) against moto's S3 on 127.0.0.1, on a bucket with versioning on, one never versioned,
 * and one suspended; then backupBeforeApply records the version id the object has. The state
 * objects are written as terraform's S3 backend writes them (the state's JSON at the key); the
 * pull itself is a stand-in (real terraform against moto: first-deploy.test.ts). Skipped, with
 * the reason printed, where python3 or moto is missing, and against a real account.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createLogger } from "../../scripts/core/log";
import { backupBeforeApply, readBackupRecord } from "../../scripts/terraform/state-backup";
import { s3StateVersionReader } from "../../scripts/terraform/state-version";
import type { TerraformRunner } from "../../scripts/terraform/runner";
import { fakeState } from "../support/fake-terraform";
import { MOTO_CREDENTIALS, type MotoWorld, REAL, motoEnv, motoMissing, startMoto } from "./moto-world";

jest.setTimeout(120_000);

const REGION = "eu-west-1";
const KEY = "amiroll/staging/terraform.tfstate";

const skipReason = REAL ? "it writes state objects: moto only" : motoMissing();
if (skipReason) console.log(`wire state-version tests skipped: ${skipReason}`);
const wire = skipReason ? describe.skip : describe;

wire(`the S3 state object's version id over the wire${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  let moto: MotoWorld;
  let s3: S3Client;
  const saved = { ...process.env };

  beforeAll(async () => {
    moto = await startMoto();
    // The reader makes its client as a real run does: from the environment (AWS_ENDPOINT_URL to moto).
    Object.assign(process.env, motoEnv(moto.endpoint, mkdtempSync(join(tmpdir(), "amiroll-wire-version-"))));
    s3 = new S3Client({ region: REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS, forcePathStyle: true });
  }, 120_000);

  afterAll(async () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await moto?.stop();
  });

  /** A state bucket with `versioning`, and the states written to its key in order; the version ids S3 gave them. */
  async function bucket(name: string, versioning: "on" | "off" | "suspended", serials: number[]): Promise<(string | undefined)[]> {
    await s3.send(new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: { LocationConstraint: REGION } }));
    if (versioning !== "off") await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: "Enabled" } }));
    const ids: (string | undefined)[] = [];
    for (const [i, serial] of serials.entries()) {
      // Suspended after the first write: the later ones are S3's "null" version.
      if (versioning === "suspended" && i === 1) await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: "Suspended" } }));
      ids.push((await s3.send(new PutObjectCommand({ Bucket: name, Key: KEY, Body: fakeState("lin-wire", serial, ["aws_ecs_cluster.apps"]) }))).VersionId);
    }
    return ids;
  }

  it("versioning on: the id of the version that is the pulled state, recorded in the backup with the log naming it", async () => {
    const ids = await bucket("amiroll-wire-versioned", "on", [1, 2]);
    expect(ids.every((id) => typeof id === "string" && id !== "null")).toBe(true);
    const backend = { bucket: "amiroll-wire-versioned", key: KEY, region: REGION };
    const read = s3StateVersionReader();
    expect(await read(backend, { lineage: "lin-wire", serial: 2 })).toEqual({ versionId: ids[1], note: `S3 version ${ids[1]}`, short: `S3 version ${ids[1]}` });
    // The object is no longer the state terraform pulled (written since): no id recorded.
    expect(await read(backend, { lineage: "lin-wire", serial: 1 })).toMatchObject({ versionId: null, problem: true });

    const lines: string[] = [];
    const runner = { statePull: async () => fakeState("lin-wire", 2, ["aws_ecs_cluster.apps"]) } as unknown as TerraformRunner;
    const settings = { dir: mkdtempSync(join(tmpdir(), "amiroll-wire-backups-")), shownAs: "backups.dir: b", keep: 10 };
    const record = (await backupBeforeApply(settings, { environment: "staging", runner, at: Date.parse("2026-11-24T08:00:00Z"), purpose: "wire", backend, stateVersion: read, log: createLogger("text", (l) => lines.push(l)) }))!;
    expect(readBackupRecord(record.stateFile)).toMatchObject({ s3VersionId: ids[1], s3Version: `S3 version ${ids[1]}`, backend });
    expect(lines).toContainEqual(`staging: state backed up to ${record.stateFile} (serial 2; pins beside it; S3 version ${ids[1]})`);
  });

  it("versioning never on: no version id, said so", async () => {
    const ids = await bucket("amiroll-wire-unversioned", "off", [3]);
    expect(ids).toEqual([undefined]);
    expect(await s3StateVersionReader()({ bucket: "amiroll-wire-unversioned", key: KEY, region: REGION }, { lineage: "lin-wire", serial: 3 })).toMatchObject({
      versionId: null,
      short: "no S3 version: versioning off or suspended",
    });
  });

  it("written while versioning was suspended: no version id to record, said so", async () => {
    const ids = await bucket("amiroll-wire-suspended", "suspended", [4, 5]);
    // S3 stores the "null" version; moto answers the PUT, and the GET, without a version id (S3 may say "null": versionOf's tests).
    expect(ids[1] ?? "null").toBe("null");
    expect(await s3StateVersionReader()({ bucket: "amiroll-wire-suspended", key: KEY, region: REGION }, { lineage: "lin-wire", serial: 5 })).toMatchObject({
      versionId: null,
      short: expect.stringMatching(/^(no S3 version|S3 version "null"): versioning off or suspended$/),
    });
  });

  it("no such bucket: not read, one line naming the object and S3's answer", async () => {
    const version = await s3StateVersionReader()({ bucket: "amiroll-wire-missing", key: KEY, region: REGION }, { lineage: "lin-wire", serial: 1 });
    expect(version).toMatchObject({ versionId: null, problem: true, short: "S3 version not read" });
    expect(version.note).toMatch(/^the version id of s3:\/\/amiroll-wire-missing\/amiroll\/staging\/terraform\.tfstate could not be read: NoSuchBucket \(HTTP 404\): /);
  });
});
