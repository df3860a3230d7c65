import { join } from "node:path";
import { type AmiPin, type ClusterAmis, amiIdProblem } from "../constructs/ami";
import { Input, readJsonFile } from "./config-input";
import type { Environment } from "./environments";

/** The pins file of this repository, relative to its root. */
export const PINS_FILE = "stacks/amis.json";
export const DEFAULT_PINS_PATH = join(__dirname, "amis.json");

/** Pins per environment, then per cluster: `pins[env][cluster]`. */
export type Pins = Readonly<Record<string, Readonly<Record<string, ClusterAmis>>>>;

/**
 * Validates pins against the environments: every cluster has a pin, no pin names a cluster that
 * does not exist, `retiring` only where the cluster's strategy is blue-green. Throws a
 * ConfigError naming the field at fault.
 */
export function parsePins(raw: unknown, environments: readonly Environment[], file: string = PINS_FILE): Pins {
  const root = new Input(file, "", raw);
  const byEnv = root.object(environments.map((e) => e.name));
  const pins: Record<string, Record<string, ClusterAmis>> = {};
  for (const env of environments) {
    const envInput = byEnv[env.name];
    if (!envInput.present) envInput.fail(`no pins for environment ${env.name}`);
    const byCluster = envInput.object(env.clusters.map((c) => c.name));
    pins[env.name] = {};
    for (const cluster of env.clusters) {
      const input = byCluster[cluster.name];
      if (!input.present) input.fail(`no pin for cluster ${cluster.name} (run amiroll bump --env ${env.name})`);
      const f = input.object(["current", "retiring"]);
      const current = parsePin(f.current);
      const retiring = f.retiring.present ? parsePin(f.retiring) : undefined;
      if (retiring && cluster.strategy !== "blue-green") {
        f.retiring.fail(`only a blue-green cluster keeps a retiring generation (${env.name}/${cluster.name} is ${cluster.strategy})`);
      }
      if (retiring && retiring.imageId === current.imageId) {
        f.retiring.child("imageId", retiring.imageId).fail(`is the same image as current (${current.imageId})`);
      }
      pins[env.name][cluster.name] = retiring ? { current, retiring } : { current };
    }
  }
  return pins;
}

function parsePin(input: Input): AmiPin {
  const f = input.object(["imageId", "imageName", "ssmParameter", "resolvedAt"]);
  const problem = amiIdProblem(f.imageId.value);
  if (problem) f.imageId.fail(problem);
  const resolvedAt = f.resolvedAt.present ? f.resolvedAt.string() : undefined;
  if (resolvedAt !== undefined && !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(resolvedAt)) {
    f.resolvedAt.fail(`${JSON.stringify(resolvedAt)} is not an ISO 8601 time such as 2026-11-02T09:00:00Z`);
  }
  if (resolvedAt !== undefined && Number.isNaN(Date.parse(resolvedAt))) f.resolvedAt.fail(`${resolvedAt} is not a real date`);
  return {
    imageId: f.imageId.value as string,
    ...(f.imageName.present && { imageName: f.imageName.string() }),
    ...(f.ssmParameter.present && { ssmParameter: f.ssmParameter.formatted("ssmParameter") }),
    ...(resolvedAt !== undefined && { resolvedAt }),
  };
}

/** Reads and validates a pins file; a missing or non-JSON file is a ConfigError too. */
export function readPins(path: string, environments: readonly Environment[], shownAs: string = path): Pins {
  return parsePins(readJsonFile(path, shownAs), environments, shownAs);
}
