/**
 * The shapes of AWS identifiers and values that construct props and the environments config
 * both check. One place, so that a config that loads also synthesizes.
 */

const HEX_ID = (prefix: string) => new RegExp(`^${prefix}-(?:[0-9a-f]{8}|[0-9a-f]{17})$`);

export const FORMATS = {
  amiId: { pattern: /^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, expected: '"ami-" and 8 or 17 lower-case hex digits' },
  vpcId: { pattern: HEX_ID("vpc"), expected: '"vpc-" and 8 or 17 hex digits' },
  subnetId: { pattern: HEX_ID("subnet"), expected: '"subnet-" and 8 or 17 hex digits' },
  securityGroupId: { pattern: HEX_ID("sg"), expected: '"sg-" and 8 or 17 hex digits' },
  region: { pattern: /^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+$/, expected: "a region such as eu-west-1" },
  availabilityZone: { pattern: /^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+[a-z]$/, expected: "a zone such as eu-west-1a" },
  instanceType: { pattern: /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/, expected: "an EC2 instance type such as m7g.large" },
  clusterName: {
    pattern: /^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/,
    expected: "1-48 letters, digits, '-' or '_' (it prefixes IAM and Auto Scaling names)",
  },
  /** A Go-style duration as the ECS agent and terraform's timeouts read it. */
  duration: { pattern: /^\d+(?:ms|s|m|h)$/, expected: 'a duration such as "90s" or "10m"' },
  cidrIpv4: {
    pattern: /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\/(?:3[0-2]|[12]?\d)$/,
    expected: "an IPv4 CIDR block such as 10.0.0.0/16",
  },
  ssmParameter: { pattern: /^\/[A-Za-z0-9_.\-/]+$/, expected: 'an SSM parameter path starting with "/"' },
  accountId: { pattern: /^\d{12}$/, expected: "12 digits" },
} as const;

export type Format = keyof typeof FORMATS;

/** The problem with `value` as a `format`, or undefined when it fits. */
export function formatProblem(value: unknown, format: Format): string | undefined {
  const { pattern, expected } = FORMATS[format];
  if (typeof value === "string" && pattern.test(value)) return undefined;
  return `${JSON.stringify(value)} is not valid (expected ${expected})`;
}

/** The problem with `value` as an integer in [min, max], or undefined when it fits. */
export function integerProblem(value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): string | undefined {
  if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return undefined;
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}..${max}`;
  return `${JSON.stringify(value)} is not valid (expected an integer ${range})`;
}

/**
 * How group sizes relate: minSize <= desiredCapacity <= maxSize (desired defaults to min).
 * Returns the field at fault and the problem, or undefined when they fit.
 */
export function sizesProblem(
  minSize: number,
  maxSize: number,
  desiredCapacity?: number,
): ["minSize" | "desiredCapacity", string] | undefined {
  if (minSize > maxSize) return ["minSize", `${minSize} is above maxSize ${maxSize}`];
  const desired = desiredCapacity ?? minSize;
  if (desired < minSize || desired > maxSize) {
    return ["desiredCapacity", `${desired} is outside minSize..maxSize (${minSize}..${maxSize})`];
  }
  return undefined;
}

const SECONDS_PER_UNIT = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;

/** A duration (FORMATS.duration, e.g. "90s", "10m", "1h") in seconds. */
export function durationSeconds(duration: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(duration);
  if (!match) throw new Error(`${JSON.stringify(duration)} is not a duration`);
  return Number(match[1]) * SECONDS_PER_UNIT[match[2] as keyof typeof SECONDS_PER_UNIT];
}
