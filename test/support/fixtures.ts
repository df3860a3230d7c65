import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Real `terraform show -json` plans, copied byte for byte into test/fixtures/plans (see its README). */
export const FIXTURES = join(__dirname, "../fixtures/plans");
export const fixture = (name: string) => join(FIXTURES, `${name}.json`);
export const fixtureJson = (name: string) => JSON.parse(readFileSync(fixture(name), "utf8"));
export const fixtureNames = () => readdirSync(FIXTURES).filter((f) => f.endsWith(".json")).map((f) => f.replace(/\.json$/, ""));

/**
 * Every sensitive value of a plan, found from the raw JSON's own masks (independently of the
 * model): resource before/after, drift, output changes, prior outputs, sensitive variables.
 * Only strings of 4 characters or more, so that an assertion that none is printed means something.
 */
export function sensitiveValues(plan: any): string[] {
  const found: unknown[] = [];
  const walk = (value: unknown, mask: unknown) => {
    if (mask === true) found.push(value);
    else if (value && typeof value === "object" && mask && typeof mask === "object") {
      for (const key of Object.keys(value)) walk((value as any)[key], (mask as any)[key]);
    }
  };
  for (const rc of [...(plan.resource_changes ?? []), ...(plan.resource_drift ?? [])]) {
    walk(rc.change.before, rc.change.before_sensitive);
    walk(rc.change.after, rc.change.after_sensitive);
  }
  for (const oc of Object.values<any>(plan.output_changes ?? {})) {
    walk(oc.before, oc.before_sensitive);
    walk(oc.after, oc.after_sensitive);
  }
  for (const o of Object.values<any>(plan.prior_state?.values?.outputs ?? {})) if (o.sensitive) found.push(o.value);
  for (const [name, v] of Object.entries<any>(plan.configuration?.root_module?.variables ?? {})) {
    if (v.sensitive) found.push(plan.variables?.[name]?.value);
  }
  const strings = found.flatMap((v) => (typeof v === "string" ? [v] : v && typeof v === "object" ? JSON.stringify(v).match(/"[^"]{4,}"/g)?.map((s) => s.slice(1, -1)) ?? [] : []));
  return [...new Set(strings.filter((s) => s.length >= 4))];
}

/** The error `f` throws (a test fails if it throws none), for asserting more than its message. */
export function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("nothing was thrown");
}
