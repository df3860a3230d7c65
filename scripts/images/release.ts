/**
 * What AWS says about machine images: the release an SSM parameter points at (GetParameters, 10
 * names a call; the ECS-optimized JSON document also gives the image name and agent version) and
 * the images themselves (DescribeImages, 100 ids a call: state, architecture, creation date).
 * Only the two lookups call AWS; what to make of their answers is pure.
 */
import { DescribeImagesCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { GetParametersCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { type Architecture, amiIdProblem, instanceArchitecture, isAmiId } from "../../constructs/ami";
import { AwsAnswerError } from "../core/errors";
import { AwsAccessError } from "../fleet/access";

/** The image an SSM parameter names now. */
export interface Release {
  readonly parameter: string;
  readonly imageId: string;
  /** From the JSON document (`image_name`); absent for a parameter holding a bare id. */
  readonly imageName?: string;
  readonly agentVersion?: string;
  readonly os?: string;
}

/** An image as DescribeImages reports it. */
export interface ImageFacts {
  readonly imageId: string;
  readonly name?: string;
  /** available, pending, failed, deregistered, disabled, ... */
  readonly state: string;
  readonly architecture?: string;
  /** When the image was built (ISO 8601): its release date. */
  readonly createdAt?: string;
  readonly deprecatedAt?: string;
}

/** GetParameters takes at most 10 names. */
const PARAMETERS_PER_CALL = 10;
const IMAGES_PER_CALL = 100;

const chunks = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/**
 * Resolves each parameter to the image it names, 10 parameters a call. A parameter SSM does not
 * know, or one that holds neither an AMI id nor the ECS-optimized JSON document, is an
 * AwsAnswerError naming it (and `usedBy`, e.g. the clusters that read it).
 */
export async function resolveReleases(ssm: SSMClient, parameters: readonly string[], usedBy: (parameter: string) => string = () => ""): Promise<Map<string, Release>> {
  const releases = new Map<string, Release>();
  for (const names of chunks([...new Set(parameters)], PARAMETERS_PER_CALL)) {
    const out = await ssm.send(new GetParametersCommand({ Names: names }));
    const missing = out.InvalidParameters ?? [];
    if (missing.length > 0) {
      const names = missing.map((name) => `${name}${usedBy(name)}`).join(", ");
      throw new AwsAnswerError(`SSM parameter${missing.length > 1 ? "s" : ""} ${names}`, `${missing.length > 1 ? "do" : "does"} not exist in this region (check the cluster's amiParameter)`);
    }
    for (const p of out.Parameters ?? []) {
      if (p.Name) releases.set(p.Name, parseRelease(p.Name, p.Value, usedBy(p.Name)));
    }
  }
  for (const name of parameters) {
    if (!releases.has(name)) throw new AwsAnswerError(`SSM parameter ${name}${usedBy(name)}`, "was not in GetParameters' answer");
  }
  return releases;
}

/** A parameter amiroll could not read: why, in words for a person (status warns with them). */
export interface Unreadable {
  readonly parameter: string;
  readonly unreadable: string;
}

/** What SSM answers for a parameter that status must carry on without (not a whole-call failure). */
const PER_PARAMETER_ERRORS = new Set(["AccessDeniedException", "ParameterNotFound", "ParameterVersionNotFound"]);

/**
 * As `resolveReleases`, but a parameter that cannot be read (denied to this identity, missing in
 * this region, or holding something that is not a release) is an `Unreadable` with the reason,
 * not an error, so that `status` reports every other cluster and warns about this one. A batch
 * that SSM refuses as a whole (one denied name fails GetParameters) is asked again a name at a
 * time. Anything else (no network, no credentials, throttling past the retries) still fails.
 */
export async function readReleases(ssm: SSMClient, parameters: readonly string[]): Promise<Map<string, Release | Unreadable>> {
  const out = new Map<string, Release | Unreadable>();
  const read = async (names: string[]) => {
    const answer = await ssm.send(new GetParametersCommand({ Names: names }));
    for (const name of answer.InvalidParameters ?? []) out.set(name, { parameter: name, unreadable: "does not exist in this region (check the cluster's amiParameter)" });
    for (const p of answer.Parameters ?? []) {
      if (!p.Name) continue;
      try {
        out.set(p.Name, parseRelease(p.Name, p.Value));
      } catch (e) {
        if (!(e instanceof AwsAnswerError)) throw e;
        out.set(p.Name, { parameter: p.Name, unreadable: e.problem });
      }
    }
  };
  for (const names of chunks([...new Set(parameters)], PARAMETERS_PER_CALL)) {
    try {
      await read(names);
    } catch (e) {
      if (!PER_PARAMETER_ERRORS.has(sdkName(e))) throw e;
      for (const name of names) {
        try {
          await read([name]);
        } catch (single) {
          if (!PER_PARAMETER_ERRORS.has(sdkName(single))) throw single;
          const cause = single instanceof AwsAccessError ? (single.cause as Error) : (single as Error);
          out.set(name, { parameter: name, unreadable: `GetParameters: ${cause.name}: ${firstLine(cause.message)}` });
        }
      }
    }
  }
  for (const name of parameters) if (!out.has(name)) out.set(name, { parameter: name, unreadable: "was not in GetParameters' answer" });
  return out;
}

/** The SDK's name for an error, also under the CLI's AwsAccessError (a denied call). */
const sdkName = (e: unknown) => (e instanceof AwsAccessError ? ((e.cause as Error | undefined)?.name ?? "") : ((e as Error)?.name ?? ""));

const firstLine = (text: string) => (text.split("\n")[0] ?? "").trim();

/**
 * Why the newest image of a parameter should not replace the pin because it is older than the
 * pinned image (SSM went back: a withdrawn release, or a parameter pointed at an old image), or
 * undefined. Unknown creation dates say nothing.
 */
export function olderThanPin(newest: ImageFacts | undefined, pinned: ImageFacts | undefined): string | undefined {
  if (!newest?.createdAt || !pinned?.createdAt || newest.imageId === pinned.imageId) return undefined;
  if (Date.parse(newest.createdAt) >= Date.parse(pinned.createdAt)) return undefined;
  return `${newest.imageId} (released ${newest.createdAt.slice(0, 10)}) is older than the pinned ${pinned.imageId} (released ${pinned.createdAt.slice(0, 10)})`;
}

/**
 * The release in a parameter's value: a bare AMI id (an `/image_id` leaf, or a parameter of your
 * own), or the ECS-optimized JSON document (`image_id`, `image_name`, `ecs_agent_version`, `os`).
 */
export function parseRelease(parameter: string, value: string | undefined, usedBy = ""): Release {
  const at = `SSM parameter ${parameter}${usedBy}`;
  const text = (value ?? "").trim();
  if (amiIdProblem(text) === undefined) return { parameter, imageId: text };
  if (!text.startsWith("{")) {
    throw new AwsAnswerError(at, `holds neither an AMI id nor the ECS-optimized JSON document: ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text)}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (e) {
    throw new AwsAnswerError(at, `value is not valid JSON: ${(e as Error).message}`);
  }
  // Text that starts with "{" and parses is an object.
  const fields = document as Record<string, unknown>;
  if (fields.image_id === undefined) throw new AwsAnswerError(at, "its JSON document has no image_id");
  if (!isAmiId(fields.image_id)) throw new AwsAnswerError(at, `image_id ${JSON.stringify(fields.image_id)} is not an AMI id`);
  const optional = (key: string) => (typeof fields[key] === "string" && fields[key] !== "" ? (fields[key] as string) : undefined);
  return {
    parameter,
    imageId: fields.image_id,
    ...(optional("image_name") && { imageName: optional("image_name") }),
    ...(optional("ecs_agent_version") && { agentVersion: optional("ecs_agent_version") }),
    ...(optional("os") && { os: optional("os") }),
  };
}

const NOT_FOUND = new Set(["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidAMIID.Malformed"]);

/**
 * Describes the images, 100 ids a call. An image EC2 does not know (never existed, deregistered
 * and gone, not shared) maps to undefined: EC2 fails a whole call for one such id, so the call is
 * made again without the ids its error names (or one id at a time when it names none).
 * Deprecated images are included: they still launch.
 */
export async function describeImages(ec2: EC2Client, imageIds: readonly string[]): Promise<Map<string, ImageFacts | undefined>> {
  const facts = new Map<string, ImageFacts | undefined>();
  const describe = async (ids: string[]) => {
    const out = await ec2.send(new DescribeImagesCommand({ ImageIds: ids, IncludeDeprecated: true }));
    for (const image of out.Images ?? []) {
      if (!image.ImageId) continue;
      facts.set(image.ImageId, {
        imageId: image.ImageId,
        state: image.State ?? "unknown",
        ...(image.Name && { name: image.Name }),
        ...(image.Architecture && { architecture: image.Architecture }),
        ...(image.CreationDate && { createdAt: image.CreationDate }),
        ...(image.DeprecationTime && { deprecatedAt: image.DeprecationTime }),
      });
    }
  };
  for (const batch of chunks([...new Set(imageIds)], IMAGES_PER_CALL)) {
    let ids = batch;
    while (ids.length > 0) {
      try {
        await describe(ids);
        break;
      } catch (e) {
        if (!NOT_FOUND.has((e as Error).name)) throw e;
        // One unknown id fails the whole call. EC2's message names the ids ("The image id
        // '[ami-1, ami-2]' does not exist"): ask again without them, or else one id at a time.
        const named = new Set((e as Error).message.match(/ami-[0-9a-f]+/g) ?? []);
        const rest = ids.filter((id) => !named.has(id));
        if (rest.length < ids.length) {
          ids = rest;
          continue;
        }
        for (const id of ids.length > 1 ? ids : []) {
          try {
            await describe([id]);
          } catch (single) {
            if (!NOT_FOUND.has((single as Error).name)) throw single;
          }
        }
        break;
      }
    }
  }
  for (const id of imageIds) if (!facts.has(id)) facts.set(id, undefined);
  return facts;
}

/** Why `imageId` cannot run on `instanceType`, or undefined when it can. */
export function imageProblem(imageId: string, image: ImageFacts | undefined, instanceType: string): string | undefined {
  if (!image) return `${imageId} does not exist (deregistered, or not shared with this account)`;
  if (image.state !== "available") return `${imageId} is ${image.state}, not available`;
  const needs: Architecture = instanceArchitecture(instanceType);
  if (image.architecture && image.architecture !== needs) return `${imageId} is built for ${image.architecture} but ${instanceType} is ${needs}`;
  return undefined;
}

/**
 * The release notes of an ECS-optimized image: the amazon-ecs-ami release tagged with the date
 * in its name (`al2023-ami-ecs-hvm-2023.0.20261105-kernel-6.1-arm64` -> 20261105). Undefined for
 * other images.
 */
export function releaseNotesUrl(imageName: string | undefined): string | undefined {
  const date = imageName && /-ecs-/.test(imageName) ? /\.(\d{8})(?:-|$)/.exec(imageName)?.[1] : undefined;
  return date ? `https://github.com/aws/amazon-ecs-ami/releases/tag/${date}` : undefined;
}

/** Whole days (to one decimal) from an ISO time to `now`; undefined without a time. */
export function ageDays(iso: string | undefined, now: number): number | undefined {
  if (!iso) return undefined;
  const at = Date.parse(iso);
  return Number.isNaN(at) ? undefined : Math.round(((now - at) / 86_400_000) * 10) / 10;
}
