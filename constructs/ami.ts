/**
 * AMI sources: the public SSM parameters of the ECS-optimized images, and the pin type that
 * records which image a cluster runs and where it came from.
 *
 * Each ECS-optimized parameter path `.../recommended` holds a JSON document
 * (`{"image_id": ..., "image_name": ..., "ecs_agent_version": ..., "os": ...}`); its leaf
 * `.../recommended/image_id` holds the bare AMI id.
 */

import { FORMATS } from "./formats";

export type EcsOperatingSystem = "amazon-linux-2023" | "amazon-linux-2";
export type EcsImageVariant = "standard" | "arm64" | "gpu" | "neuron" | "kernel-5.10";
export type Architecture = "x86_64" | "arm64";

const ECS_AMI_ROOT = "/aws/service/ecs/optimized-ami";

/** The variants AWS publishes for each OS (path segment after the OS, "" for standard). */
const VARIANT_SEGMENTS: Record<EcsOperatingSystem, Partial<Record<EcsImageVariant, string>>> = {
  "amazon-linux-2023": { standard: "", arm64: "arm64", gpu: "gpu", neuron: "inf" },
  "amazon-linux-2": { standard: "", arm64: "arm64", gpu: "gpu", neuron: "inf", "kernel-5.10": "kernel-5.10" },
};

/**
 * The SSM parameter path of an ECS-optimized image.
 * @param leaf `"json"` for the `.../recommended` JSON document, `"image_id"` for the bare id.
 */
export function ecsOptimizedParameter(
  os: EcsOperatingSystem = "amazon-linux-2023",
  variant: EcsImageVariant = "standard",
  leaf: "json" | "image_id" = "json",
): string {
  const segment = VARIANT_SEGMENTS[os][variant];
  if (segment === undefined) {
    throw new Error(`ecsOptimizedParameter: AWS publishes no "${variant}" variant of ${os}`);
  }
  const base = [ECS_AMI_ROOT, os, segment, "recommended"].filter(Boolean).join("/");
  return leaf === "image_id" ? `${base}/image_id` : base;
}

/** The parameters this library knows by name, for docs, config defaults and the sim. */
export const ECS_OPTIMIZED_PARAMETERS = {
  al2023: ecsOptimizedParameter("amazon-linux-2023", "standard"),
  al2023Arm64: ecsOptimizedParameter("amazon-linux-2023", "arm64"),
  al2023Gpu: ecsOptimizedParameter("amazon-linux-2023", "gpu"),
  al2023Neuron: ecsOptimizedParameter("amazon-linux-2023", "neuron"),
  al2: ecsOptimizedParameter("amazon-linux-2", "standard"),
  al2Arm64: ecsOptimizedParameter("amazon-linux-2", "arm64"),
  al2Gpu: ecsOptimizedParameter("amazon-linux-2", "gpu"),
  al2Kernel510: ecsOptimizedParameter("amazon-linux-2", "kernel-5.10"),
} as const;

/** The `/image_id` leaf of a `.../recommended` parameter (unchanged if already a leaf). */
export function imageIdLeaf(parameter: string): string {
  return parameter.endsWith("/image_id") ? parameter : `${parameter.replace(/\/+$/, "")}/image_id`;
}

/**
 * The CPU architecture an SSM parameter's images are built for, when the path says so
 * (the public ECS paths do; a parameter of your own is "unknown").
 */
export function parameterArchitecture(parameter: string): Architecture | "unknown" {
  if (!parameter.startsWith(`${ECS_AMI_ROOT}/`)) return "unknown";
  return /\/arm64\//.test(`${parameter}/`) ? "arm64" : "x86_64";
}

/** `ami-` followed by 8 (older) or 17 lower-case hex digits. */
export function isAmiId(value: unknown): value is string {
  return typeof value === "string" && FORMATS.amiId.pattern.test(value);
}

/** The problem with `value` as an AMI id, or undefined when it is one. */
export function amiIdProblem(value: unknown): string | undefined {
  if (isAmiId(value)) return undefined;
  return `${JSON.stringify(value)} is not an AMI id (expected ${FORMATS.amiId.expected})`;
}

/** One pinned image: what a generation runs, and where the id came from. */
export interface AmiPin {
  /** The AMI id, e.g. `ami-0123456789abcdef0`. */
  readonly imageId: string;
  /** The image name from the SSM JSON parameter or DescribeImages, for humans reading a diff. */
  readonly imageName?: string;
  /** The SSM parameter the id was resolved from; absent for a hand-pinned id (`bump --to`). */
  readonly ssmParameter?: string;
  /** When the id was resolved (ISO 8601). */
  readonly resolvedAt?: string;
  /**
   * When the rollout's gates passed on this image (ISO 8601; the pins file's). Only a blue-green
   * canary's sizes read it: an unverified `current` beside a `retiring` starts at the slice's size.
   */
  readonly verifiedAt?: string;
}

/**
 * The pins of one cluster: the image new capacity runs, and during a roll the image of the
 * generation being retired.
 */
export interface ClusterAmis {
  readonly current: AmiPin;
  /**
   * Present only during a roll: blue-green keeps the old generation beside the new one; replace
   * keeps running it while a canary group proves `current`; refresh only records it (the image a
   * rollback goes back to): its one group runs `current`.
   */
  readonly retiring?: AmiPin;
}

/**
 * The CPU architecture of an EC2 instance type: Graviton families carry a "g" right after
 * their generation number (m7g, c6gn, t4g, x2gd, g5g), plus the first-generation a1.
 */
export function instanceArchitecture(instanceType: string): Architecture {
  const family = instanceType.split(".")[0];
  return family === "a1" || /^[a-z]+\d+g/.test(family) ? "arm64" : "x86_64";
}

/**
 * The problem with running images from `parameter` on `instanceType`, when the parameter's path
 * tells its architecture (a Graviton type cannot boot an x86_64 image, nor the reverse).
 */
export function architectureProblem(instanceType: string, parameter: string): string | undefined {
  const imageArch = parameterArchitecture(parameter);
  const arch = instanceArchitecture(instanceType);
  if (imageArch === "unknown" || imageArch === arch) return undefined;
  return `${instanceType} is ${arch} but ${parameter} gives ${imageArch} images`;
}
