/**
 * A stand-in terraform for the verbs' real path (AMIROLL_TERRAFORM): init and plan succeed (plan
 * says "changes"), show -json prints $FAKE_PLAN_JSON, apply succeeds or, with FAKE_STALE, fails
 * as terraform does on a stale plan; state pull prints $FAKE_STATE (nothing when it does not
 * exist: no state yet), state push FILE copies FILE there. Every call is logged to $FAKE_LOG, so a
 * test can tell whether terraform ran at all.
 */
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const SCRIPT = `#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
case "$1" in
  init) echo "Terraform has been successfully initialized!" ;;
  plan) for a in "$@"; do case "$a" in -out=*) : > "\${a#-out=}" ;; esac; done; echo "Plan: 3 to add, 0 to change, 3 to destroy."; exit 2 ;;
  show) cat "$FAKE_PLAN_JSON" ;;
  apply)
    if [ -n "$FAKE_STALE" ]; then
      printf '\\n│ Error: Saved plan is stale\\n│\\n│ The given plan file can no longer be applied because the state was changed\\n│ by another operation after the plan was created.\\n' >&2
      exit 1
    fi
    echo "Apply complete! Resources: 3 added, 0 changed, 3 destroyed." ;;
  state)
    case "$2" in
      pull) [ -f "$FAKE_STATE" ] && cat "$FAKE_STATE"; exit 0 ;;
      push) cp "$3" "$FAKE_STATE" ;;
      *) echo "unexpected: $*" >&2; exit 1 ;;
    esac ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
`;

/** A state as `terraform state pull` prints it: `addresses` (type.name) one instance each. */
export function fakeState(lineage: string, serial: number, addresses: readonly string[]): string {
  const resources = addresses.map((address) => {
    const [type, name] = address.split(".");
    return { mode: "managed", type, name, provider: 'provider["registry.terraform.io/hashicorp/aws"]', instances: [{ schema_version: 0, attributes: { id: `${name}-id` } }] };
  });
  return JSON.stringify({ version: 4, terraform_version: "1.11.4", serial, lineage, outputs: {}, resources, check_results: null }, null, 2);
}

/**
 * AWS for the verbs' real path beside the stand-in: credentials that are no one's, no config file of
 * this machine, and an endpoint on 127.0.0.1 where nothing listens. What the verbs ask of AWS on
 * that path (the S3 state object's version before an apply) is refused at once, on loopback,
 * never sent to AWS.
 */
export const NO_AWS = {
  AWS_ENDPOINT_URL: "http://127.0.0.1:1",
  AWS_ACCESS_KEY_ID: "fake",
  AWS_SECRET_ACCESS_KEY: "fake",
  AWS_PROFILE: "",
  AWS_CONFIG_FILE: "/nonexistent/aws-config",
  AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
};

/**
 * Writes the stand-in into `dir`; returns the env that points amiroll at it (and at NO_AWS), its
 * plan JSON being `planJson`, its state (FAKE_STATE) a small one of lineage "fake-lineage", serial 3.
 */
export function fakeTerraform(dir: string, planJson: unknown): { AMIROLL_TERRAFORM: string; FAKE_PLAN_JSON: string; FAKE_LOG: string; FAKE_STATE: string } & typeof NO_AWS {
  const bin = join(dir, "terraform");
  writeFileSync(bin, SCRIPT);
  chmodSync(bin, 0o755);
  const plan = join(dir, "fake-plan.json");
  writeFileSync(plan, JSON.stringify(planJson));
  const log = join(dir, "calls.log");
  writeFileSync(log, "");
  const state = join(dir, "fake-state.json");
  writeFileSync(state, fakeState("fake-lineage", 3, ["aws_ecs_cluster.apps", "aws_autoscaling_group.capacity"]));
  return { AMIROLL_TERRAFORM: bin, FAKE_PLAN_JSON: plan, FAKE_LOG: log, FAKE_STATE: state, ...NO_AWS };
}
