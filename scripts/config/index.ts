/**
 * `amiroll/config`: the config's types, `defineConfig` for configs built in TypeScript, and the
 * loader every verb uses (find amiroll.json, validate it, read its pins).
 */
export {
  type AmirollConfig,
  type BackupSettings,
  type Config,
  type LoadedConfig,
  type FindOptions,
  CONFIG_FILE,
  defineConfig,
  findConfigFile,
  findEnvironment,
  loadConfig,
  parseConfig,
  readConfigFile,
} from "./file";
export type { CanaryInput, Cluster, ClusterConfig, Environment, EnvironmentConfig, EnvironmentsConfig, SmokeConfig, SubnetConfig } from "./environments";
export type { CanarySlice } from "./canary";
export { type ClusterPins, type Pin, type Pins, type Rejection, parsePins, readPins } from "./pins";
export { ConfigError } from "./input";
