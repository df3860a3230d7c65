/**
 * Runs terraform for one synthesized stack. The driver talks to terraform only through
 * `TerraformRunner`, so `--simulate` and the tests pass the sim's stand-in instead.
 */

/** What the driver needs from terraform, real or simulated. */
export interface TerraformRunner {
  init(): Promise<void>;
  /** Plans into `planFile`; resolves whether anything would change. */
  plan(planFile: string): Promise<{ readonly changes: boolean }>;
  /** `terraform show -json planFile`, as parsed JSON (checked by plan.ts's `parsePlan`). */
  showJson(planFile: string): Promise<unknown>;
  apply(planFile: string): Promise<void>;
  /** `terraform output -json`. */
  output(): Promise<Record<string, { readonly value: unknown; readonly sensitive: boolean }>>;
}
