/**
 * `amiroll iam-policy [--role watch|plan|apply] [--env NAME]...`: prints the least-privilege IAM
 * policy (JSON) the driver needs for a role, scoped to the config's clusters and state buckets
 * (scripts/iam/policy.ts; docs/iam.md). Without --role: every role's policy, keyed by role.
 * A pure printout: no AWS call, and neither the AWS SDK nor cdktf is loaded.
 * Exit 2 on an unknown role or environment, or a bad config.
 */
import { Command } from "commander";
import { UsageError } from "../core/errors";
import { createLogger } from "../core/log";
import { MANAGED_POLICY_MAX_CHARS, type PolicyDocument, ROLES, type Role, environmentsWithoutAccount, iamPolicies, iamPolicy, policySize } from "../iam/policy";
import { type CommonOptions, envOption, loadConfig, selectEnvironments, stderrSink, withCommonOptions } from "./common";

interface IamPolicyCommandOptions extends CommonOptions {
  readonly role?: string;
  readonly env: string[];
}

const ROLE_LIST = `${ROLES.slice(0, -1).join(", ")} or ${ROLES[ROLES.length - 1]}`;

export function iamPolicyCommand(): Command {
  const command = new Command("iam-policy")
    .description(
      "print the least-privilege IAM policy (JSON) the driver needs: watch (status, bump, watch), plan (terraform plan), apply (terraform apply, rollout, rebalance); each role includes the one before (no AWS call)",
    )
    // Checked in the action, not with commander's choices: a wrong role is one line, exit 2.
    .option("--role <role>", `${ROLE_LIST} (default: all three, keyed by role)`)
    .addOption(envOption("only this environment's clusters and state"));
  return withCommonOptions(command).action((options: IamPolicyCommandOptions) => {
    const role = options.role;
    if (role !== undefined && !(ROLES as readonly string[]).includes(role)) {
      throw new UsageError(`--role: ${JSON.stringify(role)} is not a role (expected ${ROLE_LIST})`);
    }
    const log = createLogger(options.logFormat, stderrSink);
    const config = loadConfig(options);
    const environments = selectEnvironments(config, options.env);

    const anyAccount = environmentsWithoutAccount(environments);
    if (anyAccount.length > 0) {
      log.warn(
        `${anyAccount.join(", ")} ${anyAccount.length === 1 ? "has" : "have"} no accountId in ${config.shownAs}: the policy's ARNs use * for the account (set accountId to pin them)`,
        { environments: anyAccount },
      );
    }
    const policies: Partial<Record<Role, PolicyDocument>> = role === undefined ? iamPolicies(environments) : { [role]: iamPolicy(environments, role as Role) };
    for (const [name, policy] of Object.entries(policies)) {
      const size = policySize(policy);
      if (size > MANAGED_POLICY_MAX_CHARS) {
        log.warn(
          `the ${name} policy is ${size} characters, more than the ${MANAGED_POLICY_MAX_CHARS} IAM allows a managed policy: attach it as an inline policy (up to 10240 a role), or print one per environment with --env`,
          { role: name, size },
        );
      }
    }
    process.stdout.write(`${JSON.stringify(role === undefined ? policies : policies[role as Role], null, 2)}\n`);
  });
}
