/**
 * `amiroll init`: starts amiroll in a team's repository. Writes amiroll.json from the flags (or a
 * ready example with --simulate), resolves each cluster's image from its SSM parameter (or the
 * simulator's) into amis.json, and with --ci the Atlantis or GitHub Actions file. Every flag and
 * answer is checked, and every file it would write is refused if it exists (unless --force),
 * before anything is written: exit 2 leaves the directory as it was.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { Command, Option } from "commander";
import { formatProblem } from "../../constructs/formats";
import { type Config, CONFIG_FILE, type LoadedConfig, parseConfig, readConfigFile, shownPath } from "../config/file";
import { ConfigError } from "../config/input";
import { type Pins, type Pin, formatPins } from "../config/pins";
import { atlantisYaml, githubWorkflow, initConfig, type InitSettings } from "../config/templates";
import { UsageError } from "../core/errors";
import { createLogger } from "../core/log";
import { type CommonOptions, logFormatOption, outputFileOption, stderrSink } from "./common";

interface InitCommandOptions extends CommonOptions {
  readonly environments: string;
  readonly region?: string;
  readonly accountId?: string;
  readonly bucket?: string;
  readonly vpcId?: string;
  readonly subnet: string[];
  readonly cluster: string;
  readonly instanceType: string;
  readonly minSize: string;
  readonly maxSize: string;
  readonly desired?: string;
  readonly ci?: "atlantis" | "github";
  readonly force?: boolean;
}

/** What --simulate fills in when a flag is not given: placeholder ids of the right shape. */
const EXAMPLE = {
  region: "eu-west-1",
  bucket: "example-amiroll-tfstate",
  vpcId: "vpc-0a1b2c3d4e5f60718",
  subnets: ["a", "b", "c"].map((zone, i) => ({ id: `subnet-0a1b2c3d4e5f6000${i + 1}`, availabilityZone: `eu-west-1${zone}` })),
};

export function initCommand(): Command {
  const repeat = (value: string, previous: string[]) => [...previous, value];
  return new Command("init")
    .description("write amiroll.json and amis.json (the clusters' current images) into this directory, and optionally the CI file")
    .option("--environments <names>", "the environments in promotion order, comma-separated (each promotes from the one before)", "staging,production")
    .option("--region <region>", "the AWS region (with --simulate: eu-west-1)")
    .option("--account-id <id>", "the AWS account; terraform then refuses other credentials")
    .option("--bucket <name>", "the S3 bucket of terraform's state (with --simulate: a placeholder)")
    .option("--vpc-id <id>", "the VPC of the clusters (with --simulate: a placeholder)")
    .addOption(new Option("--subnet <id=zone>", "a subnet and its availability zone, e.g. subnet-0abc...=eu-west-1a (repeat; 2 zones or more when an environment promotes from another)").argParser(repeat).default([]))
    .option("--cluster <name>", "the cluster's short name (the ECS cluster is <environment>-<name>)", "apps")
    .option("--instance-type <type>", "the EC2 instance type (Graviton types get the arm64 image)", "m7g.large")
    .option("--min-size <n>", "the Auto Scaling group's minimum", "2")
    .option("--max-size <n>", "the Auto Scaling group's maximum", "4")
    .option("--desired <n>", "the Auto Scaling group's desired capacity (default: min size)")
    .addOption(new Option("--ci <system>", "also write the CI integration: atlantis.yaml or .github/workflows/amiroll.yml (where amiroll.json exists already: only that file, for its environments)").choices(["atlantis", "github"]))
    .option("--force", "overwrite files that exist")
    .option("--config <file>", `where to write the config (default: ./${CONFIG_FILE})`)
    .option("--simulate", "a ready example on the simulated AWS: placeholder ids, images from the simulator")
    .addOption(logFormatOption())
    .action(async (options: InitCommandOptions) => {
      const log = createLogger(options.logFormat, stderrSink);
      const configPath = resolve(options.config ?? CONFIG_FILE);
      const configFlag = options.config === undefined ? "the config" : "--config";
      if (options.ci && !options.force && existsSync(configPath) && !statSync(configPath).isDirectory()) {
        // A repository amiroll already runs in: add only the CI file, for the config it has.
        const existing = readConfigFile(configPath);
        const ci = ciFile(options.ci, dirname(configPath), existing, existing.environments.map((e) => e.name));
        if (existsSync(ci.path)) throw new UsageError(`${shownPath(ci.path)} already exists: amiroll init writes only new files (--force overwrites it, and amiroll.json and the pins too)`);
        outputFileOption("--ci", shownPath(ci.path), { createDirectory: true });
        mkdirSync(dirname(ci.path), { recursive: true });
        writeFileSync(ci.path, ci.text);
        log.info(`${existing.shownAs} exists, so only the CI file was written: wrote ${shownPath(ci.path)}`, { file: ci.path });
        return;
      }
      // Where the config goes, before the flags make it: not a directory, and no file in the way of its directory.
      outputFileOption(configFlag, options.config ?? CONFIG_FILE, { createDirectory: true });
      const settings = initSettings(options);
      const files = new Map<string, string>();
      let config: Config;
      try {
        const raw = initConfig(settings);
        const loaded = parseConfig(raw, configPath, { env: {} });
        config = { ...loaded, pins: {} };
        files.set(configPath, `${JSON.stringify(raw, null, 2)}\n`);
      } catch (e) {
        // The flags made a config the loader refuses: say which field, and that nothing was written.
        if (e instanceof ConfigError) throw new UsageError(`the flags make an invalid config (nothing written): ${e.field}: ${e.message.slice(e.message.indexOf(`${e.field}: `) + e.field.length + 2)}`);
        throw e;
      }
      files.set(config.pinsPath, "");
      const ci = options.ci && ciFile(options.ci, dirname(configPath), config, settings.environments);
      if (ci) files.set(ci.path, ci.text);
      const existing = [...files.keys()].filter((path) => existsSync(path));
      if (existing.length > 0 && !options.force) {
        throw new UsageError(`${existing.map((p) => shownPath(p)).join(", ")} already exist${existing.length === 1 ? "s" : ""}: amiroll init writes only new files (--force overwrites them)`);
      }
      // Every file can be written (none is a directory, none has a file in the way), checked before the images are looked up.
      for (const path of files.keys()) outputFileOption(path === ci?.path ? "--ci" : configFlag, shownPath(path), { createDirectory: true });

      const pins = await resolvePins(config, options, log);
      files.set(config.pinsPath, formatPins(pins, config.environments));
      for (const [path, text] of files) {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, text);
        log.info(`wrote ${shownPath(path)}`, { file: path });
      }
      const flag = options.config ? ` --config ${shownPath(configPath)}` : "";
      log.info(
        options.simulate
          ? `next: amiroll synth${flag}, then amiroll rollout${flag} --simulate --ignore-window (the images exist only in the simulator)`
          : `next: create the state bucket ${settings.bucket} (versioned, encrypted), give CI the roles of amiroll iam-policy, then amiroll plan${flag} --env ${settings.environments[0]} and amiroll rollout${flag}`,
      );
    });
}

/** The init flags, checked one by one (each error names its flag). */
function initSettings(options: InitCommandOptions): InitSettings {
  const simulate = !!options.simulate;
  const need = (flag: string, value: string | undefined, example: string | undefined): string => {
    const v = value ?? (simulate ? example : undefined);
    if (v === undefined) throw new UsageError(`${flag} is required (or use --simulate for an example on the simulated AWS)`);
    return v;
  };
  const check = (flag: string, value: string, format: Parameters<typeof formatProblem>[1]) => {
    const problem = formatProblem(value, format);
    if (problem) throw new UsageError(`${flag}: ${problem}`);
    return value;
  };
  const fail = (message: string): never => {
    throw new UsageError(message);
  };
  const integer = (flag: string, value: string) => {
    if (!/^\d+$/.test(value)) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a whole number`);
    return Number(value);
  };
  const environments = options.environments.split(",").map((e) => e.trim());
  if (environments.some((e) => e === "") || new Set(environments).size !== environments.length) {
    throw new UsageError(`--environments: ${JSON.stringify(options.environments)} must be distinct names separated by commas`);
  }
  const region = check("--region", need("--region", options.region, EXAMPLE.region), "region");
  const accountId = options.accountId && check("--account-id", options.accountId, "accountId");
  const bucket = need("--bucket", options.bucket, EXAMPLE.bucket);
  const vpcId = check("--vpc-id", need("--vpc-id", options.vpcId, EXAMPLE.vpcId), "vpcId");
  const subnets = options.subnet.length
    ? options.subnet.map((s) => {
        const [id, zone, extra] = s.split("=");
        if (!zone || extra !== undefined) throw new UsageError(`--subnet: ${JSON.stringify(s)} is not ID=ZONE (e.g. subnet-0a1b2c3d4e5f60001=${region}a)`);
        return { id: check("--subnet", id, "subnetId"), availabilityZone: check("--subnet", zone, "availabilityZone") };
      })
    : simulate
      ? EXAMPLE.subnets.map((s) => ({ ...s, availabilityZone: `${region}${s.availabilityZone.slice(-1)}` }))
      : fail("--subnet is required, once per subnet (or use --simulate for an example on the simulated AWS)");
  const minSize = integer("--min-size", options.minSize);
  return {
    environments,
    region,
    ...(accountId && { accountId }),
    bucket,
    vpcId,
    subnets,
    cluster: options.cluster,
    instanceType: check("--instance-type", options.instanceType, "instanceType"),
    minSize,
    maxSize: integer("--max-size", options.maxSize),
    desiredCapacity: options.desired === undefined ? minSize : integer("--desired", options.desired),
    // Where npm installs amiroll beside this config (for editors' completion; amiroll ignores it).
    schema: "./node_modules/amiroll/amiroll.schema.json",
  };
}

/** Each cluster's current image from its SSM parameter, checked as bump checks it. */
async function resolvePins(config: Config, options: InitCommandOptions, log: ReturnType<typeof createLogger>): Promise<Pins> {
  // Loaded here, after every flag was checked: the SDK (or the simulator) is what takes time to load.
  const { describeImages, imageProblem, resolveReleases } = await import("../images/release");
  const { awsAccess } = await import("./stack");
  const { usedBy } = await import("./status");
  // The simulator builds its worlds from pins; any placeholder will do, the SSM answer is the simulator's own.
  const placeholder = Object.fromEntries(config.environments.map((e) => [e.name, Object.fromEntries(e.clusters.map((c) => [c.name, { current: { imageId: "ami-00000000000000000" } }]))]));
  const access = await awsAccess({ ...config, pins: placeholder }, config.environments, { simulate: options.simulate, log });
  const now = new Date(access.clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
  const pins: Record<string, Record<string, { current: Pin }>> = {};
  for (const environment of config.environments) {
    const clients = access.clients(environment);
    const parameters = environment.clusters.map((c) => c.amiParameter);
    const releases = await resolveReleases(clients.ssm, parameters, usedBy(environment));
    const images = await describeImages(clients.ec2, [...releases.values()].map((r) => r.imageId));
    pins[environment.name] = {};
    for (const cluster of environment.clusters) {
      const release = releases.get(cluster.amiParameter)!;
      const problem = imageProblem(release.imageId, images.get(release.imageId), cluster.instanceType);
      if (problem) throw new UsageError(`${environment.name}/${cluster.name}: the newest image of ${cluster.amiParameter}: ${problem}`);
      pins[environment.name][cluster.name] = {
        current: { imageId: release.imageId, ...(release.imageName && { imageName: release.imageName }), ssmParameter: cluster.amiParameter, resolvedAt: now },
      };
      log.info(`${environment.name}/${cluster.name}: ${release.imageId}${release.imageName ? ` (${release.imageName})` : ""} from ${cluster.amiParameter}`);
    }
  }
  return pins;
}

function ciFile(system: "atlantis" | "github", root: string, config: LoadedConfig, environments: readonly string[]): { path: string; text: string } {
  const settings = { environments, configPath: CONFIG_FILE, watch: [CONFIG_FILE, relative(root, config.pinsPath), "package.json", "package-lock.json"] };
  return system === "atlantis"
    ? { path: join(root, "atlantis.yaml"), text: atlantisYaml(settings) }
    : { path: join(root, ".github", "workflows", "amiroll.yml"), text: githubWorkflow(settings) };
}
