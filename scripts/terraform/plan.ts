/**
 * A typed model of `terraform show -json PLANFILE` (JSON output format 1.x), checked on the way
 * in so that the guard and the comment can trust it.
 *
 * Sensitive values never enter the model: every before/after value is masked with its
 * `*_sensitive` tree on parse (a sensitive leaf becomes SENSITIVE), and so is any other copy of
 * a sensitive string, so nothing downstream can print one by mistake. Unknown values
 * (`after_unknown`) become UNKNOWN.
 */
import { ConfigError, MAX_JSON_DEPTH, readJsonFile, valueDeeperThan } from "../config/input";

/** What a sensitive value shows as, everywhere. */
export const SENSITIVE = "(sensitive)";
/** What a value terraform learns only during apply shows as. */
export const UNKNOWN = "(known after apply)";

export type Action = "no-op" | "create" | "read" | "update" | "delete" | "forget";
const ACTIONS: readonly Action[] = ["no-op", "create", "read", "update", "delete", "forget"];

/**
 * The change to one object, in words. A replacement is either create-before-destroy
 * (`["create","delete"]`) or delete-before-create (`["delete","create"]`); the order matters
 * for a group of instances, so it is kept.
 */
export type ChangeKind =
  | "no-op"
  | "read"
  | "create"
  | "update"
  | "delete"
  | "forget"
  | "replace (create before destroy)"
  | "replace (destroy before create)";

export interface ResourceChange {
  readonly address: string;
  /** The address without instance keys (`module.a[0].x.y["k"]` -> `module.a.x.y`), as in `configuration`. */
  readonly configAddress: string;
  readonly mode: "managed" | "data";
  readonly type: string;
  readonly name: string;
  readonly actions: readonly Action[];
  readonly kind: ChangeKind;
  /** e.g. `replace_because_cannot_update`, `read_because_config_unknown`. */
  readonly actionReason?: string;
  /** Attribute paths whose change forces the replacement. */
  readonly replacePaths: readonly (readonly (string | number)[])[];
  /** Masked values: SENSITIVE and UNKNOWN in place of what cannot be shown. */
  readonly before: unknown;
  readonly after: unknown;
  /** Set when the object is a deposed one (a create-before-destroy left behind). */
  readonly deposed?: string;
  /** Set when the change imports an existing object. */
  readonly importing: boolean;
}

export interface OutputChange {
  readonly actions: readonly Action[];
  readonly before: unknown;
  readonly after: unknown;
}

export interface Summary {
  readonly import: number;
  readonly add: number;
  readonly change: number;
  readonly destroy: number;
  readonly forget: number;
}

export interface Plan {
  /** Where the plan came from, for messages. */
  readonly source: string;
  readonly formatVersion: string;
  readonly terraformVersion?: string;
  /** `resource_changes`: what applying the plan does. */
  readonly changes: readonly ResourceChange[];
  /** `resource_drift`: what changed outside terraform since the last apply (not part of the apply). */
  readonly drift: readonly ResourceChange[];
  readonly outputChanges: Readonly<Record<string, OutputChange>>;
  /** Outputs in the state the plan was made from (masked). */
  readonly priorOutputs: Readonly<Record<string, unknown>>;
  /**
   * Per resource (config address), the resources its configuration refers to
   * (`configuration`'s `references`, module prefixes resolved). Empty when the plan has none.
   */
  readonly references: ReadonlyMap<string, ReadonlySet<string>>;
  readonly errored: boolean;
  readonly applyable: boolean;
  readonly complete: boolean;
  readonly summary: Summary;
}

/**
 * Reads and parses a plan JSON file; a missing or garbled file, one over 512 MiB or nested
 * deeper than 512 levels (config/input.ts), is a ConfigError naming it.
 */
export function readPlanFile(path: string): Plan {
  return parsePlan(readJsonFile(path, path, "the output of terraform show -json PLANFILE"), path);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks and models parsed `terraform show -json` output. Throws ConfigError naming the field at fault. */
export function parsePlan(raw: unknown, source: string): Plan {
  const fail = (field: string, problem: string): never => {
    throw new ConfigError(source, field, problem);
  };
  if (!isObject(raw)) fail("(top level)", "is not a terraform plan (expected the JSON object of terraform show -json PLANFILE)");
  // The model walks values recursively: a plan parsed elsewhere (terraform show's output) is held
  // to the same depth as a file read by readJsonFile.
  const deep = valueDeeperThan(raw, MAX_JSON_DEPTH);
  if (deep !== undefined) fail(deep, `nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels; amiroll reads at most ${MAX_JSON_DEPTH}`);
  const plan = raw as Record<string, unknown>;
  const formatVersion = plan.format_version;
  if (typeof formatVersion !== "string") {
    fail("format_version", "missing: this is not the output of terraform show -json PLANFILE");
  }
  if (!/^1\.\d+$/.test(formatVersion as string)) {
    fail("format_version", `${JSON.stringify(formatVersion)} is not supported (amiroll reads the plan JSON format 1.x)`);
  }
  if (!("planned_values" in plan) && !("resource_changes" in plan) && plan.errored !== true) {
    fail("(top level)", "has no resource_changes or planned_values: this is state JSON, not a plan (use terraform show -json PLANFILE)");
  }
  const secrets = sensitiveStrings(plan);
  const changes = parseChanges(plan.resource_changes, "resource_changes", fail, secrets);
  const drift = parseChanges(plan.resource_drift, "resource_drift", fail, secrets);

  const outputChanges: Record<string, OutputChange> = {};
  if (plan.output_changes !== undefined) {
    if (!isObject(plan.output_changes)) fail("output_changes", "is not an object");
    for (const [name, c] of Object.entries(plan.output_changes as Record<string, unknown>)) {
      if (!isObject(c) || !Array.isArray(c.actions)) fail(`output_changes.${name}`, "is not a change object with actions");
      const change = c as Record<string, any>;
      outputChanges[name] = {
        actions: parseActions(change.actions, `output_changes.${name}.actions`, fail),
        before: mask(change.before, change.before_sensitive, false, secrets),
        after: mask(change.after, change.after_sensitive, change.after_unknown, secrets),
      };
    }
  }

  const priorOutputs: Record<string, unknown> = {};
  const outputs = (plan.prior_state as any)?.values?.outputs;
  if (isObject(outputs)) {
    for (const [name, o] of Object.entries(outputs)) {
      if (isObject(o)) priorOutputs[name] = mask(o.value, o.sensitive === true, false, secrets);
    }
  }

  return {
    source,
    formatVersion: formatVersion as string,
    terraformVersion: typeof plan.terraform_version === "string" ? plan.terraform_version : undefined,
    changes,
    drift,
    outputChanges,
    priorOutputs,
    references: configurationReferences(plan.configuration),
    errored: plan.errored === true,
    applyable: plan.applyable !== false,
    complete: plan.complete !== false,
    summary: summarize(changes),
  };
}

function parseActions(value: unknown, field: string, fail: (f: string, p: string) => never): Action[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 2) fail(field, "is not a list of one or two actions");
  for (const [i, a] of (value as unknown[]).entries()) {
    if (!ACTIONS.includes(a as Action)) fail(`${field}[${i}]`, `${JSON.stringify(a)} is not a terraform action (${ACTIONS.join(", ")})`);
  }
  return value as Action[];
}

function kindOf(actions: readonly Action[]): ChangeKind {
  if (actions.length === 2) {
    if (actions[0] === "create" && actions[1] === "delete") return "replace (create before destroy)";
    if (actions[0] === "delete" && actions[1] === "create") return "replace (destroy before create)";
  }
  return actions[0];
}

function parseChanges(value: unknown, field: string, fail: (f: string, p: string) => never, secrets: ReadonlySet<string>): ResourceChange[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(field, "is not a list");
  return (value as unknown[]).map((entry, i) => {
    const at = `${field}[${i}]`;
    if (!isObject(entry)) fail(at, "is not an object");
    const rc = entry as Record<string, any>;
    if (typeof rc.address !== "string" || rc.address === "") fail(`${at}.address`, "missing");
    if (!isObject(rc.change)) fail(`${at}.change`, `missing (${rc.address})`);
    const actions = parseActions(rc.change.actions, `${at}.change.actions`, fail);
    if (actions.length === 2 && kindOf(actions) === actions[0]) fail(`${at}.change.actions`, `${JSON.stringify(actions)} is not a replacement`);
    const type = typeof rc.type === "string" ? rc.type : rc.address.split(".").slice(-2)[0];
    return {
      address: rc.address,
      configAddress: configAddressOf(rc.address),
      mode: rc.mode === "data" ? "data" : "managed",
      type,
      name: typeof rc.name === "string" ? rc.name : rc.address.split(".").pop()!,
      actions,
      kind: kindOf(actions),
      actionReason: typeof rc.action_reason === "string" ? rc.action_reason : undefined,
      replacePaths: Array.isArray(rc.change.replace_paths) ? rc.change.replace_paths : [],
      before: mask(rc.change.before, rc.change.before_sensitive, false, secrets),
      after: mask(rc.change.after, rc.change.after_sensitive, rc.change.after_unknown, secrets),
      deposed: typeof rc.deposed === "string" ? rc.deposed : undefined,
      importing: isObject(rc.change.importing),
    };
  });
}

/**
 * Replaces what may not be shown: where the sensitive mask is `true` the value becomes
 * SENSITIVE, where the unknown mask is `true` it becomes UNKNOWN. A mask of `false` (as on a
 * deleted object's `after_sensitive`) hides nothing. Masks mirror the value's shape.
 */
export function mask(value: unknown, sensitive: unknown, unknown: unknown, secrets: ReadonlySet<string> = NO_SECRETS): unknown {
  if (sensitive === true) return SENSITIVE;
  if (unknown === true) return UNKNOWN;
  if (typeof value === "string" && secrets.has(value)) return SENSITIVE;
  const s = (key: string | number) => (isObject(sensitive) || Array.isArray(sensitive) ? (sensitive as any)[key] : undefined);
  const u = (key: string | number) => (isObject(unknown) || Array.isArray(unknown) ? (unknown as any)[key] : undefined);
  if (Array.isArray(value)) {
    const masked = value.map((v, i) => mask(v, s(i), u(i), secrets));
    // An unknown mask may be longer than the known list (elements only apply will know).
    if (Array.isArray(unknown)) for (let i = value.length; i < unknown.length; i++) if (unknown[i] === true) masked.push(UNKNOWN);
    return masked;
  }
  if (isObject(value)) {
    const masked: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) masked[k] = mask(v, s(k), u(k), secrets);
    // Attributes absent from `after` but unknown (computed ones) are listed by after_unknown only.
    if (isObject(unknown)) for (const [k, flag] of Object.entries(unknown)) if (flag === true && !(k in masked)) masked[k] = UNKNOWN;
    return masked;
  }
  if ((value === null || value === undefined) && isObject(unknown)) return mask({}, sensitive, unknown, secrets);
  return value;
}

const NO_SECRETS: ReadonlySet<string> = new Set();

/**
 * Every string the plan marks sensitive somewhere. A secret often shows up again unmarked (a
 * `terraform_data`'s output mirrors its sensitive input; an attribute is derived from a secret),
 * so the model masks each of these strings wherever it appears. Very short strings are left
 * out: masking every "1" or "on" would hide more than it protects.
 */
function sensitiveStrings(plan: Record<string, any>): Set<string> {
  const found = new Set<string>();
  const walk = (value: unknown, sensitive: unknown) => {
    if (sensitive === true) {
      const leaves = typeof value === "string" ? [value] : JSON.stringify(value ?? null).match(/"(?:[^"\\]|\\.)*"/g)?.map((q) => JSON.parse(q) as string) ?? [];
      for (const leaf of leaves) if (leaf.length >= 3) found.add(leaf);
    } else if ((isObject(value) || Array.isArray(value)) && (isObject(sensitive) || Array.isArray(sensitive))) {
      for (const [k, v] of Object.entries(value)) walk(v, (sensitive as any)[k]);
    }
  };
  for (const list of [plan.resource_changes, plan.resource_drift]) {
    for (const rc of Array.isArray(list) ? list : []) {
      walk(rc?.change?.before, rc?.change?.before_sensitive);
      walk(rc?.change?.after, rc?.change?.after_sensitive);
    }
  }
  for (const oc of Object.values<any>(isObject(plan.output_changes) ? plan.output_changes : {})) {
    walk(oc?.before, oc?.before_sensitive);
    walk(oc?.after, oc?.after_sensitive);
  }
  for (const o of Object.values<any>(isObject(plan.prior_state?.values?.outputs) ? plan.prior_state.values.outputs : {})) {
    walk(o?.value, o?.sensitive === true);
  }
  return found;
}

/** `module.a[0].aws_x.y["k"]` -> `module.a.aws_x.y`. */
export function configAddressOf(address: string): string {
  return address.replace(/\[(?:"(?:[^"\\]|\\.)*"|\d+)\]/g, "");
}

/**
 * The `configuration` block's references per resource: `aws_launch_template.lt.id` inside
 * module `a` becomes `module.a.aws_launch_template.lt`. Variables, locals and the like are dropped.
 */
function configurationReferences(configuration: unknown): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  const walkModule = (module: any, prefix: string) => {
    if (!isObject(module)) return;
    for (const resource of Array.isArray(module.resources) ? module.resources : []) {
      if (!isObject(resource) || typeof resource.address !== "string") continue;
      const refs = new Set<string>();
      collectReferences(resource.expressions, (ref) => {
        const target = resourceOfReference(ref);
        if (target) refs.add(prefix + target);
      });
      result.set(prefix + resource.address, refs);
    }
    for (const [name, call] of Object.entries(isObject(module.module_calls) ? module.module_calls : {})) {
      walkModule((call as any)?.module, `${prefix}module.${name}.`);
    }
  };
  walkModule((configuration as any)?.root_module, "");
  return result;
}

function collectReferences(node: unknown, found: (ref: string) => void): void {
  if (Array.isArray(node)) node.forEach((n) => collectReferences(n, found));
  else if (isObject(node)) {
    if (Array.isArray(node.references)) node.references.forEach((r) => typeof r === "string" && found(r));
    for (const [k, v] of Object.entries(node)) if (k !== "references") collectReferences(v, found);
  }
}

/** `aws_launch_template.lt.id` -> `aws_launch_template.lt`; `data.x.y.z` -> `data.x.y`; `var.x` -> undefined. */
function resourceOfReference(ref: string): string | undefined {
  const parts = ref.replace(/\[[^\]]*\]/g, "").split(".");
  if (["var", "local", "module", "path", "terraform", "count", "each", "self"].includes(parts[0])) return undefined;
  if (parts[0] === "data") return parts.length >= 3 ? parts.slice(0, 3).join(".") : undefined;
  return parts.length >= 2 ? parts.slice(0, 2).join(".") : undefined;
}

/**
 * Counts as terraform's `Plan: X to add, Y to change, Z to destroy.` line does: a replacement
 * is one add and one destroy; reads and no-ops count nothing; imports and forgets have their own.
 */
export function summarize(changes: readonly ResourceChange[]): Summary {
  let add = 0, change = 0, destroy = 0, imports = 0, forget = 0;
  for (const c of changes) {
    if (c.mode !== "managed") continue;
    if (c.importing) imports++;
    if (c.actions.includes("create")) add++;
    if (c.actions.includes("delete")) destroy++;
    if (c.kind === "update") change++;
    if (c.kind === "forget") forget++;
  }
  return { import: imports, add, change, destroy, forget };
}

/** terraform's own summary line, e.g. `Plan: 2 to add, 0 to change, 2 to destroy.` */
export function summaryLine(plan: Plan): string {
  const s = plan.summary;
  if (plan.errored) return "Plan failed: terraform reported errors.";
  if (s.import + s.add + s.change + s.destroy + s.forget === 0) {
    return "No changes. Your infrastructure matches the configuration.";
  }
  const parts = [
    ...(s.import > 0 ? [`${s.import} to import`] : []),
    `${s.add} to add`,
    `${s.change} to change`,
    `${s.destroy} to destroy`,
    ...(s.forget > 0 ? [`${s.forget} to forget`] : []),
  ];
  return `Plan: ${parts.join(", ")}.`;
}

/** Changes that do something (everything but no-op and data reads). */
export function actingChanges(plan: Plan): ResourceChange[] {
  return plan.changes.filter((c) => c.mode === "managed" && c.kind !== "no-op" && c.kind !== "read");
}

/** One attribute that differs, for the diff in the comment. */
export interface AttributeDiff {
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
  /** The attribute is one of the change's replace_paths. */
  readonly forcesReplacement: boolean;
}

const ABSENT = Symbol("absent");

/**
 * The attributes that differ between before and after, flattened to paths like
 * `launch_template[0].version`. A create lists its non-null attributes, a delete nothing
 * (the whole object goes).
 */
export function attributeDiff(change: ResourceChange): AttributeDiff[] {
  if (change.kind === "delete" || change.kind === "no-op" || change.kind === "forget") return [];
  const before = new Map<string, unknown>();
  const after = new Map<string, unknown>();
  flatten(change.before, "", before);
  flatten(change.after, "", after);
  const replaces = new Set(change.replacePaths.map((p) => pathText(p)));
  const rows: AttributeDiff[] = [];
  for (const path of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const b = before.has(path) ? before.get(path) : ABSENT;
    const a = after.has(path) ? after.get(path) : ABSENT;
    if (JSON.stringify(b) === JSON.stringify(a)) continue;
    if ((b === ABSENT || b === null) && (a === ABSENT || a === null)) continue;
    const forcesReplacement = [...replaces].some((r) => path === r || path.startsWith(`${r}.`) || path.startsWith(`${r}[`));
    rows.push({ path, before: b === ABSENT ? null : b, after: a === ABSENT ? null : a, forcesReplacement });
  }
  return rows;
}

function pathText(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

function flatten(value: unknown, path: string, into: Map<string, unknown>): void {
  if (Array.isArray(value) && value.some((v) => isObject(v) || Array.isArray(v))) {
    value.forEach((v, i) => flatten(v, `${path}[${i}]`, into));
  } else if (isObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0 && path) into.set(path, value);
    for (const k of keys) flatten(value[k], path ? `${path}.${k}` : k, into);
  } else if (path) {
    into.set(path, value);
  }
}
