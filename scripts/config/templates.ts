/**
 * The files `amiroll init` writes into a team's repository: amiroll.json from the init flags,
 * and the CI integration (atlantis.yaml or a GitHub Actions workflow) for its environments.
 * Pure text builders; this repository's own atlantis.yaml and workflow are their output too
 * (a test keeps them in step).
 */
import type { AmirollConfig } from "./file";
import type { EnvironmentConfig } from "./environments";

export interface InitSettings {
  /** The environments in promotion order: each after the first promotes from the one before. */
  readonly environments: readonly string[];
  readonly region: string;
  readonly accountId?: string;
  readonly bucket: string;
  readonly vpcId: string;
  readonly subnets: readonly { readonly id: string; readonly availabilityZone: string }[];
  readonly cluster: string;
  readonly instanceType: string;
  readonly minSize: number;
  readonly maxSize: number;
  readonly desiredCapacity: number;
  /** `$schema`, relative to amiroll.json. */
  readonly schema: string;
}

/** amiroll.json for the settings: the first environment rolls by replace, the others blue-green from the one before. */
export function initConfig(s: InitSettings): AmirollConfig {
  const environments: Record<string, EnvironmentConfig> = {};
  s.environments.forEach((name, i) => {
    environments[name] = {
      region: s.region,
      ...(s.accountId && { accountId: s.accountId }),
      ...(i > 0 && { promotesFrom: s.environments[i - 1] }),
      backend: { bucket: s.bucket },
      vpcId: s.vpcId,
      subnets: s.subnets,
      strategy: i === 0 ? "replace" : "blue-green",
      tags: { environment: name },
      clusters: { [s.cluster]: { instanceType: s.instanceType, minSize: s.minSize, maxSize: s.maxSize, desiredCapacity: s.desiredCapacity } },
      ...(i > 0 && { rebalance: true }),
    };
  });
  return { $schema: s.schema, environments };
}

export interface CiSettings {
  /** The environments in promotion order. */
  readonly environments: readonly string[];
  /** The config file, relative to the repository root (where CI runs). */
  readonly configPath: string;
  /** Paths (relative to the repository root) whose change should plan again. */
  readonly watch: readonly string[];
}

const yamlList = (items: readonly string[]) => `[${items.map((i) => JSON.stringify(i)).join(", ")}]`;

/** atlantis.yaml: one project per environment, in promotion order, running amiroll plan/apply. */
export function atlantisYaml(s: CiSettings): string {
  const projects = s.environments
    .map((env, i) =>
      [
        `  - name: ${env}`,
        `    dir: .`,
        `    workflow: amiroll`,
        `    execution_order_group: ${i + 1}`,
        ...(i > 0
          ? [
              `    # Atlantis refuses \`atlantis apply -p ${env}\` until ${s.environments[i - 1]} is applied on this PR.`,
              `    depends_on: [${s.environments[i - 1]}]`,
            ]
          : []),
        `    autoplan:`,
        `      when_modified: ${yamlList(s.watch)}`,
        `    apply_requirements: [approved, mergeable]`,
      ].join("\n"),
    )
    .join("\n");
  // Both workflows start alike: the locked dependencies, and the config's place for every verb.
  const setup = `        - run:
            command: npm ci --no-audit --no-fund
            output: hide
        - env:
            name: AMIROLL_CONFIG
            value: ${s.configPath}
`;
  return `# Atlantis repo config for amiroll (written by amiroll init --ci atlantis).
#
# The terraform here is synthesized from ${s.configPath}, so the projects do not run Atlantis's
# built-in init/plan/apply: the workflow below runs \`amiroll plan\` (synthesize, terraform plan,
# the plan guard) and \`amiroll apply\` (the guard again, then terraform apply of that plan).
# Needs on the Atlantis server: repos.yaml \`allowed_overrides: [workflow, apply_requirements]\`
# and \`allow_custom_workflows: true\` for this repo; Node.js >= 20 and terraform >= 1.10 on
# PATH; AWS credentials that can plan (and apply) each environment (amiroll iam-policy).
# Apply one project per comment, in order: \`atlantis apply -p ${s.environments[0]}\`, let it roll, then the next.
version: 3
projects:
${projects}

workflows:
  amiroll:
    plan:
      steps:
        # Each PR is a fresh clone: install the locked dependencies (amiroll among them).
${setup}        # Atlantis expects the binary plan at $PLANFILE. Plain text: the step's stdout is the comment.
        - run:
            command: >-
              npx amiroll plan --env "$PROJECT_NAME" --out "$PLANFILE" --comment "$PLANFILE.md"
              --log-format text
            output: show
    apply:
      steps:
        # A fresh working directory may not hold the plan step's node_modules.
${setup}        # Applies exactly the plan the PR comment showed, after the plan guard checked it again.
        - run:
            command: npx amiroll apply --env "$PROJECT_NAME" --plan "$PLANFILE" --log-format text
            output: show
`;
}

/** A GitHub Actions workflow: plan every environment on pull requests (sticky comments). */
export function githubWorkflow(s: CiSettings): string {
  const matrix = s.environments
    .map((env) => `          - env: ${env}\n            role: AMIROLL_${env.toUpperCase().replace(/-/g, "_")}_PLAN_ROLE_ARN`)
    .join("\n");
  return `# amiroll in GitHub Actions (written by amiroll init --ci github; use this or atlantis.yaml).
#
# pull_request -> \`amiroll plan --env E --github\` for every environment: one sticky comment per
# environment on the PR, edited in place on every push. Apply with \`amiroll rollout\` (or
# Atlantis) once the PR is approved.
#
# Repository variables (Settings > Secrets and variables > Actions > Variables):
#   AWS_REGION                          region for STS
${s.environments.map((env) => `#   AMIROLL_${env.toUpperCase().replace(/-/g, "_")}_PLAN_ROLE_ARN`.padEnd(40) + `a role with amiroll iam-policy --role plan`).join("\n")}
# No secrets: AWS credentials come from GitHub's OIDC token, GitHub's from GITHUB_TOKEN.
name: amiroll

on:
  pull_request:
    paths: ${yamlList(s.watch)}

permissions: {}

env:
  AMIROLL_CONFIG: ${s.configPath}

jobs:
  plan:
    name: plan \${{ matrix.env }}
    runs-on: ubuntu-latest
    permissions:
      contents: read
      id-token: write # the OIDC token configure-aws-credentials exchanges for the role
      pull-requests: write # the sticky plan comment
    strategy:
      fail-fast: false
      matrix:
        include:
${matrix}
    concurrency:
      group: amiroll-plan-\${{ github.event.pull_request.number }}-\${{ matrix.env }}
      cancel-in-progress: true
    steps:
      - uses: actions/checkout@v6
        with:
          persist-credentials: false
      - uses: actions/setup-node@v6
        with:
          node-version: 20
          cache: npm
      - uses: hashicorp/setup-terraform@v4
        with:
          terraform_version: "1.11.x"
          terraform_wrapper: false
      - uses: aws-actions/configure-aws-credentials@v6
        with:
          role-to-assume: \${{ vars[matrix.role] }}
          aws-region: \${{ vars.AWS_REGION }}
          role-session-name: amiroll-plan-\${{ matrix.env }}-pr\${{ github.event.pull_request.number }}
      - run: npm ci --no-audit --no-fund
      - name: amiroll plan --env \${{ matrix.env }} --github
        run: npx amiroll plan --env "$AMIROLL_ENV" --github
        env:
          AMIROLL_ENV: \${{ matrix.env }}
          GITHUB_TOKEN: \${{ github.token }}
`;
}
