/**
 * The S3 version id of an environment's state object, read before an apply and recorded with the
 * state backup (issue 21, item 3): with versioning on the state bucket, that version is the
 * state as it was, kept by S3 itself, whatever happens to the backup directory.
 *
 * `terraform state pull` does not say which version it read, so the object is read again
 * (GetObject, which needs only what terraform's own read needs: s3:GetObject) and its lineage
 * and serial compared with the pulled state's: the version id is recorded only when the object
 * is that state. No version id in S3's answer means versioning is off (or suspended: moto gives
 * none then); the version id "null" means the object was written while versioning was off or
 * suspended. Either way a later write replaces it. Reading it never stops an apply: a failure is recorded and logged as such.
 */
import { terminalLine } from "../core/inert";

/** What an environment's backend is (environments.ts: the bucket, the key, the bucket's region). */
export interface S3Backend {
  readonly bucket: string;
  readonly key: string;
  readonly region: string;
}

/** The state object's version, as the backup's record and the logs tell it. */
export interface StateObjectVersion {
  /** The version id; null when there is none to name (versioning off, a changed object, a failed read). */
  readonly versionId: string | null;
  /** What S3 said, in one line: `S3 version 3sL4kqtJ...`, `versioning is off on bucket B: ...`. */
  readonly note: string;
  /** The same in a few words, for the report beside the backup's file. */
  readonly short: string;
  /** True when the read failed or the object was not the pulled state (a warning, not a stop). */
  readonly problem?: boolean;
}

/** Reads the state object's version for a state pulled with this lineage and serial. */
export type StateVersionReader = (backend: S3Backend, pulled: { readonly lineage: string; readonly serial: number }) => Promise<StateObjectVersion>;

/** What the reader needs of an S3 client: GetObject's answer. */
export interface S3Like {
  send(command: unknown): Promise<{ VersionId?: string; Body?: { transformToString(): Promise<string> } }>;
}

/**
 * A reader through SDK v3's S3 client (one per region, made on first use, the standard credential
 * chain and AWS_ENDPOINT_URL as the other clients), or through `client` when one is given (tests).
 */
export function s3StateVersionReader(options: { client?: (region: string) => S3Like | Promise<S3Like>; maxAttempts?: number } = {}): StateVersionReader {
  const clients = new Map<string, Promise<S3Like>>();
  const clientFor = (region: string): Promise<S3Like> => {
    let client = clients.get(region);
    if (!client) {
      client = options.client
        ? Promise.resolve(options.client(region))
        : import("@aws-sdk/client-s3").then(({ S3Client }) => {
            const s3 = new S3Client({ region, maxAttempts: options.maxAttempts ?? 3 });
            // As fleet/clients.ts's withoutSdkLogging: amiroll logs through its own logger.
            s3.middlewareStack.remove("loggerMiddleware");
            return s3 as unknown as S3Like;
          });
      clients.set(region, client);
    }
    return client;
  };
  return async (backend, pulled) => {
    const where = `s3://${backend.bucket}/${backend.key}`;
    let answer: Awaited<ReturnType<S3Like["send"]>>;
    let body: string;
    try {
      const { GetObjectCommand } = await import("@aws-sdk/client-s3");
      answer = await (await clientFor(backend.region)).send(new GetObjectCommand({ Bucket: backend.bucket, Key: backend.key }));
      body = (await answer.Body?.transformToString()) ?? "";
    } catch (error) {
      const e = error as Error & { $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : "";
      // The SDK wraps a network error ("AWS SDK error wrapper for Error: connect ECONNREFUSED ..."): its own words are enough.
      const message = String(e.message).replace(/^AWS SDK error wrapper for (?:\w*Error: )?/, "");
      const why = `${e.name && e.name !== "Error" ? `${e.name}${status}: ` : ""}${oneLine(message)}`;
      return { versionId: null, note: `the version id of ${where} could not be read: ${why}`, short: "S3 version not read", problem: true };
    }
    return versionOf(answer.VersionId, body, pulled, backend);
  };
}

/** What S3's answer for the state object says of its version, given the state terraform pulled. */
export function versionOf(versionId: string | undefined, body: string, pulled: { lineage: string; serial: number }, backend: S3Backend): StateObjectVersion {
  const where = `s3://${backend.bucket}/${backend.key}`;
  let read: { lineage?: unknown; serial?: unknown } = {};
  try {
    read = JSON.parse(body);
  } catch {
    // Compared below: not the pulled state.
  }
  if (read?.lineage !== pulled.lineage || read?.serial !== pulled.serial) {
    const was = typeof read?.serial === "number" ? `serial ${read.serial}${read.lineage === pulled.lineage ? "" : ", another lineage"}` : "not a state";
    return { versionId: null, note: `${where} changed between terraform's pull and amiroll's read (${was}, not serial ${pulled.serial}): its version id is not recorded`, short: "S3 version not recorded: the object changed", problem: true };
  }
  if (versionId === undefined || versionId === "") {
    // S3 gives none when versioning was never on; moto (and, by some accounts, S3) none for a suspended bucket's "null" version either.
    return { versionId: null, note: `versioning is off or suspended on bucket ${backend.bucket} (S3 gave no version id): S3 keeps this state only until the next write, and this backup`, short: "no S3 version: versioning off or suspended" };
  }
  if (versionId === "null") {
    return { versionId: null, note: `${where} was written while versioning was off or suspended on bucket ${backend.bucket} (S3's version id "null"): the next write replaces it`, short: 'S3 version "null": versioning off or suspended' };
  }
  return { versionId, note: `S3 version ${versionId}`, short: `S3 version ${versionId}` };
}

const oneLine = (text: string) => terminalLine(String(text).replace(/\s+/g, " ").trim().slice(0, 300));
