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

/** amiroll.json for the settings: the first environment rolls by replace, the others blue-green from the one before; every one rebalances. */
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
      // Every environment: a rollout leaves no service with every task in one zone (it moves them, one at a time).
      rebalance: true,
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
        `    # With policy checks on (server: --enable-policy-checks), amiroll's guard is the policy`,
        `    # and Atlantis adds policies_passed to the apply requirements itself.`,
        `    custom_policy_check: true`,
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
# Needs on the Atlantis server: repos.yaml \`allowed_overrides: [workflow, apply_requirements,
# custom_policy_check]\` and \`allow_custom_workflows: true\` for this repo; Node.js >= 20 and
# terraform >= 1.10 on PATH; AWS credentials that can plan (and apply) each environment (amiroll
# iam-policy); GITHUB_TOKEN in the server's environment, a token that may push to the repository
# (contents: write), for \`amiroll verify --commit\`.
# The PR loop (docs/ci.md): \`atlantis apply -p ${s.environments[0]}\` applies, verifies and commits the
# verification and the promoted pin of the next environment to the PR branch; Atlantis plans that
# commit; then \`atlantis apply -p\` the next, and so on: one project per comment, in order.
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
    # The plan step already fails on a refused plan (exit 3); this shows the guard's verdict as
    # Atlantis's policy check. Atlantis reads "fail" in the output as a failed policy, so an
    # accepted plan prints one fixed line (never resource names, which could hold the word).
    policy_check:
      steps:
        - show
        - run:
            command: >-
              if verdict=$(npx amiroll guard --plan-json "$SHOWFILE" --log-format text 2>&1);
              then echo "amiroll plan guard: accepted";
              else printf 'amiroll plan guard: fail\\n%s\\n' "$verdict"; fi
            output: show
    apply:
      steps:
        # A fresh working directory may not hold the plan step's node_modules.
${setup}        # Applies exactly the plan the PR comment showed, after the plan guard checked it again.
        - run:
            command: npx amiroll apply --env "$PROJECT_NAME" --plan "$PLANFILE" --log-format text
            output: show
        # The gates on what was applied; verifiedAt (and the next environment's pin) committed
        # to the PR branch if it is still at the applied commit. Atlantis then plans that commit.
        - run:
            command: >-
              npx amiroll verify --env "$PROJECT_NAME" --promote --commit
              --repo "$BASE_REPO_OWNER/$BASE_REPO_NAME" --branch "$HEAD_BRANCH_NAME" --head "$HEAD_COMMIT"
              --log-format text
            output: show
`;
}

/** A job's first steps: the commit `ref` (an expression) names, Node.js 20 and terraform 1.11. */
const checkoutAndTools = (ref: string) => `      - uses: actions/checkout@v6
        with:
          ref: \${{ ${ref} }}
          persist-credentials: false
      - uses: actions/setup-node@v6
        with:
          node-version: 20
          cache: npm
      - uses: hashicorp/setup-terraform@v4
        with:
          terraform_version: "1.11.x"
          # amiroll reads terraform's stdout and exit code itself; the wrapper would get between.
          terraform_wrapper: false
`;

/** The repository variable holding an environment's role ARN for `kind` (plan or apply). */
export const roleVariable = (env: string, kind: "plan" | "apply") => `AMIROLL_${env.toUpperCase().replace(/[-.]/g, "_")}_${kind.toUpperCase()}_ROLE_ARN`;

/**
 * A GitHub Actions workflow for the whole PR loop (docs/ci.md): plan every environment on pull
 * requests (sticky comments, the binary plan kept as an artifact named by environment and head
 * commit); `/amiroll apply ENV` checks the commenter and the PR, then applies exactly that plan
 * in the ENV GitHub environment, verifies it, commits the verification (and the promotion of the
 * next environment) to the PR branch and plans again.
 */
export function githubWorkflow(s: CiSettings): string {
  const matrix = s.environments.map((env) => `          - env: ${env}\n            role: ${roleVariable(env, "plan")}`).join("\n");
  const envCases = s.environments.join(" | ");
  const variables = s.environments.flatMap((env) => [
    `#   ${roleVariable(env, "plan").padEnd(40)}a role with amiroll iam-policy --role plan (read-only, state lock)`,
    `#   ${roleVariable(env, "apply").padEnd(40)}a role with amiroll iam-policy --role apply; trust it only for`,
    `#   ${"".padEnd(40)}repo:OWNER/REPO:environment:${env}`,
  ]);
  return `# amiroll in GitHub Actions (written by amiroll init --ci github; use this or atlantis.yaml).
#
# The PR loop (docs/ci.md):
#   pull_request       -> plan every environment: one sticky comment each, and the binary plan kept
#                         as the artifact amiroll-plan-ENV-HEADSHA (a new push plans anew; an older
#                         commit's plan is never applied).
#   "/amiroll apply ENV" on the PR (write access) -> check: the command, the commenter's permission,
#                         the PR (open, not a fork), the plan of its head commit; then, in the ENV
#                         GitHub environment (its required reviewers approve here, after the check):
#                         apply exactly that plan (the guard checks it again), verify ENV, commit
#                         the verification (and the next environment's promoted pin) to the PR
#                         branch, and plan again (a push by the workflow's token starts no run, so
#                         the workflow dispatches itself with the PR's number).
#   "/amiroll verify ENV" -> the same check and job without the apply: verify ENV again (after a
#                         verify that timed out, say) and commit its verdict.
#   workflow_dispatch  -> plan the PR named by its pr input.
#
# Repository variables (Settings > Secrets and variables > Actions > Variables):
#   AWS_REGION                              region for STS (each stack sets its own provider region)
${variables.join("\n")}
# and one GitHub environment per amiroll environment (its protection rules gate the apply).
# No secrets: AWS credentials come from GitHub's OIDC token, GitHub's from GITHUB_TOKEN.
name: amiroll

on:
  pull_request:
    paths: ${yamlList(s.watch)}
  issue_comment:
    types: [created]
  workflow_dispatch:
    inputs:
      pr:
        description: the pull request to plan again
        required: true

# Nothing by default; each job asks for what it needs.
permissions: {}

env:
  AMIROLL_CONFIG: ${s.configPath}

jobs:
  plan:
    if: github.event_name == 'pull_request' || github.event_name == 'workflow_dispatch'
    name: plan \${{ matrix.env }}
    runs-on: ubuntu-latest
    permissions:
      contents: read
      id-token: write # the OIDC token configure-aws-credentials exchanges for the role
      pull-requests: write # the sticky plan comment
    strategy:
      fail-fast: false # a broken plan of one environment must not hide the others'
      matrix:
        include:
${matrix}
    # A new push supersedes the plan of the previous one (per PR and environment).
    concurrency:
      group: amiroll-plan-\${{ github.event.pull_request.number || inputs.pr }}-\${{ matrix.env }}
      cancel-in-progress: true
    steps:
      - name: Resolve the PR head
        id: pr
        env:
          GH_TOKEN: \${{ github.token }}
          REPO: \${{ github.repository }}
          PR_NUMBER: \${{ github.event.pull_request.number || inputs.pr }}
        run: |
          case "$PR_NUMBER" in '' | *[!0-9]*) echo "::error::pr must be a pull request number, not '$PR_NUMBER'"; exit 1 ;; esac
          pr=$(gh api "repos/$REPO/pulls/$PR_NUMBER")
          if [ "$(jq -r .state <<<"$pr")" != open ]; then echo "::error::PR #$PR_NUMBER is not open"; exit 1; fi
          echo "sha=$(jq -r .head.sha <<<"$pr")" >> "$GITHUB_OUTPUT"
${checkoutAndTools("steps.pr.outputs.sha")}      # Forks get no OIDC token on pull_request, so their PRs cannot plan here: by design.
      - uses: aws-actions/configure-aws-credentials@v6
        with:
          role-to-assume: \${{ vars[matrix.role] }}
          aws-region: \${{ vars.AWS_REGION }}
          role-session-name: amiroll-plan-\${{ matrix.env }}
      - run: npm ci --no-audit --no-fund
      # Exit 3 when the guard refuses: no artifact then, so nothing can apply that plan.
      - name: amiroll plan --env \${{ matrix.env }} --github
        run: npx amiroll plan --env "$AMIROLL_ENV" --github --out "amiroll-$AMIROLL_ENV.tfplan"
        env:
          AMIROLL_ENV: \${{ matrix.env }}
          GITHUB_TOKEN: \${{ github.token }}
      - uses: actions/upload-artifact@v6
        with:
          name: amiroll-plan-\${{ matrix.env }}-\${{ steps.pr.outputs.sha }}
          path: amiroll-\${{ matrix.env }}.tfplan
          if-no-files-found: error
          retention-days: 7

  check:
    # Cheap filter before a runner starts: a comment on a PR, starting with the command, by an
    # owner, org member or collaborator. author_association is not a permission (an org member
    # may have read access only), so a step asks the API for the real one. No environment here:
    # its reviewers are asked only once the command and the commenter have been checked.
    if: >-
      github.event_name == 'issue_comment' &&
      github.event.issue.pull_request &&
      (startsWith(github.event.comment.body, '/amiroll apply ') || startsWith(github.event.comment.body, '/amiroll verify ')) &&
      contains(fromJSON('["OWNER", "MEMBER", "COLLABORATOR"]'), github.event.comment.author_association)
    runs-on: ubuntu-latest
    permissions:
      actions: read # the plan artifact
      pull-requests: write # the refusal comment
      issues: write # reactions on the command comment
    outputs:
      verb: \${{ steps.command.outputs.verb }}
      env: \${{ steps.command.outputs.env }}
      role: \${{ steps.command.outputs.role }}
      sha: \${{ steps.pr.outputs.sha }}
      branch: \${{ steps.pr.outputs.branch }}
      plan-run: \${{ steps.plan.outputs.run }}
    env:
      GH_TOKEN: \${{ github.token }}
      REPO: \${{ github.repository }}
      PR_NUMBER: \${{ github.event.issue.number }}
      COMMENT_ID: \${{ github.event.comment.id }}
      COMMENTER: \${{ github.event.comment.user.login }}
    steps:
      - name: Check the command and the commenter's permission (admin, maintain or write)
        id: command
        env:
          # Passed through env, never spliced into the script: the body is anyone's text.
          BODY: \${{ github.event.comment.body }}
        run: |
          first_line=$(printf '%s\\n' "$BODY" | head -n 1 | tr -d '\\r' | sed 's/[[:space:]]*$//')
          case "$first_line" in
            "/amiroll apply "*) verb=apply env=\${first_line#/amiroll apply } ;;
            "/amiroll verify "*) verb=verify env=\${first_line#/amiroll verify } ;;
            *) env= ;;
          esac
          case "$env" in
            ${envCases}) ;;
            *)
              echo "refusal=the command must be exactly \\\`/amiroll apply ENV\\\` or \\\`/amiroll verify ENV\\\` on its first line, ENV one of: ${s.environments.join(", ")}" >> "$GITHUB_OUTPUT"
              exit 1
              ;;
          esac
          permission=$(gh api "repos/$REPO/collaborators/$COMMENTER/permission" --jq .permission) || permission=no
          case "$permission" in
            admin | maintain | write) ;;
            *)
              echo "refusal=@$COMMENTER has $permission access; $verb $env needs write access" >> "$GITHUB_OUTPUT"
              exit 1
              ;;
          esac
          echo "verb=$verb" >> "$GITHUB_OUTPUT"
          echo "env=$env" >> "$GITHUB_OUTPUT"
          echo "role=AMIROLL_$(printf '%s' "$env" | tr 'a-z.-' 'A-Z__')_APPLY_ROLE_ARN" >> "$GITHUB_OUTPUT"
          gh api -X POST "repos/$REPO/issues/comments/$COMMENT_ID/reactions" -f content=eyes --silent
      - name: Resolve the PR head (open, from this repository)
        id: pr
        run: |
          pr=$(gh api "repos/$REPO/pulls/$PR_NUMBER")
          state=$(jq -r .state <<<"$pr")
          head_repo=$(jq -r .head.repo.full_name <<<"$pr")
          if [ "$state" != open ]; then
            echo "refusal=PR #$PR_NUMBER is $state" >> "$GITHUB_OUTPUT"
            exit 1
          fi
          # A fork's head is code nobody with write access pushed: never run it with the apply role.
          if [ "$head_repo" != "$REPO" ]; then
            echo "refusal=PR #$PR_NUMBER comes from the fork $head_repo; push the branch to $REPO to apply it" >> "$GITHUB_OUTPUT"
            exit 1
          fi
          echo "sha=$(jq -r .head.sha <<<"$pr")" >> "$GITHUB_OUTPUT"
          echo "branch=$(jq -r .head.ref <<<"$pr")" >> "$GITHUB_OUTPUT"
      - name: Find the plan of that commit
        id: plan
        if: steps.command.outputs.verb == 'apply'
        env:
          NAME: amiroll-plan-\${{ steps.command.outputs.env }}-\${{ steps.pr.outputs.sha }}
        run: |
          run=$(gh api "repos/$REPO/actions/artifacts?name=$NAME&per_page=1" --jq '.artifacts[] | select(.expired | not) | .workflow_run.id')
          if [ -z "$run" ]; then
            echo "refusal=no plan of the PR's head commit for this environment (the plan job failed, the guard refused it, or it is still running); push or wait for the plan, then comment again" >> "$GITHUB_OUTPUT"
            exit 1
          fi
          echo "run=$run" >> "$GITHUB_OUTPUT"
      - name: Report the refusal on the PR
        if: failure()
        env:
          REFUSAL: \${{ steps.command.outputs.refusal || steps.pr.outputs.refusal || steps.plan.outputs.refusal }}
        run: |
          gh api "repos/$REPO/issues/$PR_NUMBER/comments" -f body="**amiroll**: refused the command: \${REFUSAL:-see the run}." --silent
          gh api -X POST "repos/$REPO/issues/comments/$COMMENT_ID/reactions" -f content=-1 --silent

  apply:
    needs: check
    name: \${{ needs.check.outputs.verb }} \${{ needs.check.outputs.env }}
    runs-on: ubuntu-latest
    # Environment protection rules (required reviewers, branches) apply, and the OIDC subject
    # becomes repo:OWNER/REPO:environment:ENV, which the apply role's trust policy requires.
    environment: \${{ needs.check.outputs.env }}
    permissions:
      actions: write # the plan artifact; dispatching the plan again
      contents: write # verify --commit on the PR branch
      id-token: write
      pull-requests: write # the result comment
      issues: write # reactions on the command comment
    # One apply per environment at a time across all PRs, and never cancelled half-way.
    concurrency:
      group: amiroll-apply-\${{ needs.check.outputs.env }}
      cancel-in-progress: false
    env:
      GH_TOKEN: \${{ github.token }}
      GITHUB_TOKEN: \${{ github.token }}
      REPO: \${{ github.repository }}
      PR_NUMBER: \${{ github.event.issue.number }}
      COMMENT_ID: \${{ github.event.comment.id }}
      AMIROLL_ENV: \${{ needs.check.outputs.env }}
      SHA: \${{ needs.check.outputs.sha }}
      BRANCH: \${{ needs.check.outputs.branch }}
    steps:
      # The exact commit checked above, not whatever the branch points to by now.
${checkoutAndTools("needs.check.outputs.sha")}      - uses: aws-actions/configure-aws-credentials@v6
        with:
          role-to-assume: \${{ vars[needs.check.outputs.role] }}
          aws-region: \${{ vars.AWS_REGION }}
          role-session-name: amiroll-apply-\${{ needs.check.outputs.env }}
      - run: npm ci --no-audit --no-fund
      # The plan the PR comment showed, from the plan job of this very commit.
      - uses: actions/download-artifact@v7
        if: needs.check.outputs.verb == 'apply'
        with:
          name: amiroll-plan-\${{ needs.check.outputs.env }}-\${{ needs.check.outputs.sha }}
          run-id: \${{ needs.check.outputs.plan-run }}
          github-token: \${{ github.token }}
      # The guard judges the plan again (exit 3, nothing applied, if it refuses), terraform
      # refuses a plan whose state has moved on (stale), and the watch follows the tasks.
      - name: amiroll apply --env \${{ needs.check.outputs.env }}
        id: apply
        if: needs.check.outputs.verb == 'apply'
        run: npx amiroll apply --env "$AMIROLL_ENV" --plan "amiroll-$AMIROLL_ENV.tfplan"
      # Gates on the applied environment; verifiedAt (and the next environment's pin) committed
      # to the PR branch only if the branch is still at the applied commit. \`/amiroll verify ENV\`
      # runs only this (after a verify that timed out, say: the apply is done, its plan stale).
      - name: amiroll verify --env \${{ needs.check.outputs.env }} --commit
        id: verify
        run: npx amiroll verify --env "$AMIROLL_ENV" --promote --commit --branch "$BRANCH" --head "$SHA"
      # Also after a failed verify: a rejection is committed too, and its plan removes the rejected generation.
      - name: Plan the PR again (its new commit)
        if: always() && (steps.apply.outcome == 'success' || needs.check.outputs.verb == 'verify')
        run: |
          head=$(gh api "repos/$REPO/pulls/$PR_NUMBER" --jq .head.sha)
          if [ "$head" != "$SHA" ]; then gh workflow run amiroll.yml --ref "$BRANCH" -f pr="$PR_NUMBER"; fi
      - name: Report the result on the PR
        if: always()
        env:
          VERB: \${{ needs.check.outputs.verb }}
          APPLY: \${{ steps.apply.outcome }}
          VERIFY: \${{ steps.verify.outcome }}
          RUN_URL: \${{ github.server_url }}/\${{ github.repository }}/actions/runs/\${{ github.run_id }}
        run: |
          marker="<!-- amiroll:result env=$AMIROLL_ENV -->"
          # Earlier results for this environment are outdated now: hide them.
          gh api --paginate "repos/$REPO/issues/$PR_NUMBER/comments" --jq ".[] | select(.body | startswith(\\"$marker\\")) | .node_id" |
            while read -r node; do
              gh api graphql -f query='mutation($id: ID!) { minimizeComment(input: {subjectId: $id, classifier: OUTDATED}) { clientMutationId } }' -f id="$node" --silent || true
            done
          if [ "$VERB" = verify ]; then
            if [ "$VERIFY" = success ]; then what="verified at \${SHA:0:12}; the verification is committed to this PR"; reaction=rocket; else what="not verified at \${SHA:0:12}: the verification failed or was stopped"; reaction=-1; fi
            body="$marker"$'\\n'"**amiroll**: $AMIROLL_ENV $what ([run]($RUN_URL))."
          elif [ "$APPLY" = success ] && [ "$VERIFY" = success ]; then
            body="$marker"$'\\n'"**amiroll**: $AMIROLL_ENV applied at \${SHA:0:12} and verified; the verification is committed to this PR ([run]($RUN_URL))."
            reaction=rocket
          elif [ "$APPLY" = success ]; then
            body="$marker"$'\\n'"**amiroll**: $AMIROLL_ENV applied at \${SHA:0:12}, but its verification failed or was stopped ([run]($RUN_URL))."
            reaction=-1
          else
            body="$marker"$'\\n'"**amiroll**: applying $AMIROLL_ENV at \${SHA:0:12} failed or was stopped ([run]($RUN_URL))."
            reaction=-1
          fi
          gh api "repos/$REPO/issues/$PR_NUMBER/comments" -f body="$body" --silent
          gh api -X POST "repos/$REPO/issues/comments/$COMMENT_ID/reactions" -f content="$reaction" --silent
`;
}
