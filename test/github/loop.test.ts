/**
 * The PR loop end to end, without GitHub (issue 19 item 6): the real CLI verbs, in one child
 * process (./octokit-harness.ts: octokit is ESM-only), against the local GitHub stand-in
 * (./github-stand-in.ts, with the issue comments `plan --github` posts), on simulated AWS:
 *
 *   scheduled `bump --open-pr` opens the PR -> `plan --github` comments for staging and production
 *   -> `verify --env staging --promote --commit` (the simulated apply, then the verify) commits
 *   staging's verifiedAt and production's promoted pin to the PR branch -> production's plan
 *   comment -> `verify --env production --commit` -> every pin on the branch verified.
 *
 * Before each run the harness "checks out" what CI would: the pins file at the branch's head (at
 * main's for the scheduled bump) written into a local checkout. The whole loop then runs again:
 * no second pull request, no new commit, no new comment. Last, a verify whose --head is no longer
 * the branch's head (someone pushed) is refused, exit 1, nothing committed. GitHub's write pacing
 * (1 s, 3 s for calls that notify) is 20 ms here.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { TOKEN, GitHubStandIn } from "./github-stand-in";

jest.setTimeout(60_000);

const ROOT = resolve(__dirname, "../..");
const PINS_PATH = "stacks/amis.json";
const REPO_PINS = readFileSync(join(ROOT, PINS_PATH), "utf8");

interface CliOutcome {
  status: number;
  stdout: string;
  stderr: string;
}

type Pins = Record<string, Record<string, { current: { imageId: string; verifiedAt?: string }; retiring?: unknown }>>;

function harness(apiUrl: string, env: Record<string, string>, runs: unknown[]): Promise<CliOutcome[]> {
  const childEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(GITHUB_|GH_TOKEN$|AMIROLL_)/.test(name)));
  Object.assign(childEnv, { GITHUB_TOKEN: TOKEN, GITHUB_REPOSITORY: "acme/infra", GITHUB_API_URL: apiUrl, AMIROLL_HARNESS: JSON.stringify({ runs, pace: 20 }), CI: "", NODE_NO_WARNINGS: "1", ...env });
  return new Promise((done, fail) => {
    execFile(process.execPath, ["-r", "tsx/cjs", join(__dirname, "octokit-harness.ts")], { cwd: ROOT, env: childEnv, timeout: 50_000, encoding: "utf8", maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
      error ? fail(new Error(`${error.message}\n${stderr}`)) : done(JSON.parse(stdout)),
    );
  });
}

/** One pass of the loop: [what, args, the ref CI checks out ("main" or the PR branch)]. */
const LOOP: [string, string[], "main" | "branch"][] = [
  ["scheduled bump", ["bump", "--simulate", "--env", "staging", "--open-pr"], "main"],
  ["staging plan", ["plan", "--simulate", "--env", "staging", "--github"], "branch"],
  ["production plan", ["plan", "--simulate", "--env", "production", "--github"], "branch"],
  ["staging verify", ["verify", "--simulate", "--env", "staging", "--promote", "--commit", "--branch", "{BRANCH}", "--head", "{HEAD}"], "branch"],
  ["production plan after the promotion", ["plan", "--simulate", "--env", "production", "--github"], "branch"],
  ["production verify", ["verify", "--simulate", "--env", "production", "--commit", "--branch", "{BRANCH}", "--head", "{HEAD}"], "branch"],
];
const PASS = LOOP.length;
/** After both passes: someone pushes, then a verify with the head it checked out. */
const MOVED = 2 * PASS;
/** Then: staging verified on the branch without the promotion (verify run without --promote); verify --promote --commit promotes and commits that. */
const LATE_PROMOTION = MOVED + 1;

describe("the PR loop against a local GitHub stand-in", () => {
  const github = new GitHubStandIn({ [PINS_PATH]: REPO_PINS, "README.md": "hello\n" });
  const checkout = mkdtempSync(join(tmpdir(), "amiroll-loop-"));
  afterAll(() => rmSync(checkout, { recursive: true, force: true }));

  let branch = "";
  /** The stand-in as each run left it: commit objects, the branch's history, the comments. */
  const after: { commits: number; history: string[]; comments: { id: number; body: string; edits: number }[]; pulls: number; pins?: Pins }[] = [];
  /** The head each run checked out. */
  const checkedOut: string[] = [];
  let pushed = "";
  let outcomes: CliOutcome[] = [];

  const state = () => ({
    commits: github.commits.size,
    history: branch ? github.history(branch) : [],
    comments: github.comments.map(({ id, body, edits }) => ({ id, body, edits })),
    pulls: github.pulls.length,
    pins: branch ? (JSON.parse(github.fileAt(branch, PINS_PATH)!) as Pins) : undefined,
  });

  beforeAll(async () => {
    const config = JSON.parse(readFileSync(join(ROOT, "stacks/amiroll.json"), "utf8"));
    delete config.$schema;
    mkdirSync(join(checkout, "stacks"));
    writeFileSync(join(checkout, "amiroll.json"), JSON.stringify({ ...config, pins: PINS_PATH }));
    const event = join(checkout, "event.json");
    writeFileSync(event, JSON.stringify({ action: "synchronize", pull_request: { number: 1 } }));
    const apiUrl = await github.start();
    github.onControl = (run) => {
      branch ||= [...github.refs.keys()].find((b) => b !== "main") ?? "";
      if (run > 0) after[run - 1] = state();
      if (run === MOVED) {
        // Back to the head of the first pass's staging verify (before its commit), then someone pushes.
        github.refs.set(branch, after[2].history[0]);
      }
      if (run === LATE_PROMOTION) {
        const verifiedOnly: Pins = { ...after[3].pins!, production: after[2].pins!.production };
        github.refs.set(branch, after[2].history[0]);
        github.push(branch, { [PINS_PATH]: `${JSON.stringify(verifiedOnly, null, 2)}\n` }, "staging verified, not promoted");
      }
      const ref = run >= MOVED || LOOP[run % PASS][2] === "branch" ? branch : "main";
      const head = github.refs.get(ref)!;
      // CI's checkout: the pins file at that head in the working copy.
      writeFileSync(join(checkout, PINS_PATH), github.fileAt(head, PINS_PATH)!);
      checkedOut[run] = head;
      if (run === MOVED) pushed = github.push(branch, { "README.md": "pushed meanwhile\n" });
      return { BRANCH: branch, HEAD: head };
    };
    const runs = [...LOOP, ...LOOP].map(([, cli]) => ({ cli }));
    runs.push({ cli: LOOP[3][1] }, { cli: LOOP[3][1] });
    outcomes = await harness(apiUrl, { AMIROLL_CONFIG: join(checkout, "amiroll.json"), GITHUB_WORKSPACE: checkout, GITHUB_EVENT_PATH: event, GITHUB_EVENT_NAME: "pull_request" }, runs);
    after[runs.length - 1] = state();
    await github.stop();
    // docs/ci.md's samples come from here: AMIROLL_LOOP_DUMP=FILE writes every run's output, the comments and the commits.
    if (process.env.AMIROLL_LOOP_DUMP) {
      const commits = [...after[2 * PASS - 1].history].reverse().map((sha) => ({ sha, message: github.message(sha) }));
      writeFileSync(process.env.AMIROLL_LOOP_DUMP, JSON.stringify({ branch, outcomes, comments: after[2 * PASS - 1].comments, after: after.map((a) => a.comments), commits }, null, 2));
    }
  });

  const failed = (n: number) => `${n < MOVED ? LOOP[n % PASS][0] : "after the passes"} (run ${n}) exit ${outcomes[n].status}\n${outcomes[n].stderr}`;

  it("the first pass: bump PR, plan comments, staging verified and production promoted, production verified", () => {
    for (let n = 0; n < PASS; n++) expect([n, outcomes[n].status, failed(n)]).toEqual([n, 0, failed(n)]);
    // The bump opened one pull request from its branch, one commit on main.
    expect(branch).toMatch(/^amiroll\/bump-staging-ami-\w+$/);
    expect(outcomes[0].stdout).toBe("https://github.test/acme/infra/pull/1\n");
    expect(after[0].pulls).toBe(1);
    expect(after[0].history.slice(1)).toEqual(github.history("main"));
    const bumped = after[0].pins!;
    const original = JSON.parse(REPO_PINS) as Pins;
    expect(Object.values(bumped.staging).every((pin) => pin.current.verifiedAt === undefined)).toBe(true);
    // Production waits for staging's verification: still the original pins.
    expect(bumped.production).toEqual(original.production);

    // One sticky comment per environment, created by the first plans.
    expect(after[1].comments.map((c) => c.body.split("\n")[0])).toEqual([expect.stringContaining("staging")]);
    expect(after[2].comments).toHaveLength(2);
    expect(after[2].comments[1].body.split("\n")[0]).toContain("production");

    // The staging verify committed on the head it checked out: staging verified, production promoted to staging's image.
    expect(after[3].history.slice(1)).toEqual(after[2].history);
    expect(checkedOut[3]).toBe(after[2].history[0]);
    const verified = after[3].pins!;
    for (const [cluster, pin] of Object.entries(verified.staging)) {
      expect(pin.current.imageId).toBe(bumped.staging[cluster].current.imageId);
      expect(pin.current.verifiedAt).toEqual(expect.any(String));
    }
    for (const [cluster, pin] of Object.entries(verified.production)) {
      expect(pin.current.imageId).not.toBe(original.production[cluster].current.imageId);
      expect(Object.values(verified.staging).map((p) => p.current.imageId)).toContain(pin.current.imageId);
      expect(pin.current.verifiedAt).toBeUndefined();
    }
    const message = github.message(after[3].history[0]);
    expect(message).toMatch(/staging/);
    expect(message).toMatch(/Promoted: production\//);
    expect(outcomes[3].stderr).toMatch(new RegExp(`committed stacks/amis\\.json to ${branch.replace(/\//g, "\\/")} \\(\\w{12}\\)`));

    // Production's comment edited in place with the promoted plan; staging's left alone.
    expect(after[4].comments.map((c) => c.id)).toEqual(after[2].comments.map((c) => c.id));
    expect(after[4].comments[1].body).not.toBe(after[2].comments[1].body);
    expect(after[4].comments[1].edits).toBe(1);
    expect(after[4].comments[0]).toEqual(after[2].comments[0]);

    // The production verify: one more commit, every pin on the branch verified.
    expect(after[5].history.slice(1)).toEqual(after[4].history);
    const done = after[5].pins!;
    for (const env of Object.keys(done)) for (const pin of Object.values(done[env])) expect(pin.current.verifiedAt).toEqual(expect.any(String));
    expect(done.production.apps?.current.imageId ?? Object.values(done.production)[0].current.imageId).toBe(Object.values(verified.production)[0].current.imageId);
    expect(done.staging).toEqual(verified.staging);
  });

  it("the same loop again: no second pull request, no commit, no new comment", () => {
    for (let n = PASS; n < 2 * PASS; n++) expect([n, outcomes[n].status, failed(n)]).toEqual([n, 0, failed(n)]);
    const first = after[PASS - 1];
    for (let n = PASS; n < 2 * PASS; n++) {
      expect([n, after[n].pulls, after[n].commits, after[n].history]).toEqual([n, 1, first.commits, first.history]);
      expect([n, after[n].comments.map((c) => c.id)]).toEqual([n, first.comments.map((c) => c.id)]);
    }
    expect(outcomes[PASS].stdout).toBe("https://github.test/acme/infra/pull/1\n");
    expect(outcomes[PASS + 3].stdout).toContain("already done");
    expect(outcomes[PASS + 5].stdout).toContain("already done");
  });

  it("a verify whose --head is no longer the branch's head (someone pushed) is refused: exit 1, nothing committed", () => {
    const r = outcomes[MOVED];
    expect(r.status).toBe(1);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("amiroll:"))).toEqual([expect.stringContaining(branch)]);
    // The branch is where the push left it; no commit object was even made beyond the push.
    expect(after[MOVED].history[0]).toBe(pushed);
    expect(after[MOVED].history.slice(1)).toEqual(after[2].history);
    expect(after[MOVED].commits).toBe(after[2 * PASS - 1].commits + 1);
  });

  it("staging verified earlier, production not promoted: verify --promote --commit commits the promotion", () => {
    const r = outcomes[LATE_PROMOTION];
    expect([r.status, failed(LATE_PROMOTION)]).toEqual([0, failed(LATE_PROMOTION)]);
    expect(r.stdout).toContain("already done");
    const head = after[LATE_PROMOTION].history[0];
    expect(after[LATE_PROMOTION].history[1]).toBe(checkedOut[LATE_PROMOTION]);
    expect(github.message(head)).toMatch(/^amiroll verify staging --promote: production\/apps ami-\w+\n\nstaging verified earlier \(apps ami-\w+ at [\dTZ:-]+\)\.\nPromoted: production\/apps ami-\w+ -> ami-\w+\n$/);
    const pins = after[LATE_PROMOTION].pins!;
    expect(pins.staging).toEqual(after[3].pins!.staging);
    // The same promotion as the first pass's (resolvedAt aside: the simulated clock of this run).
    const withoutResolvedAt = (p: Pins[string]) => JSON.parse(JSON.stringify(p, (key, value) => (key === "resolvedAt" ? undefined : value)));
    expect(withoutResolvedAt(pins.production)).toEqual(withoutResolvedAt(after[3].pins!.production));
  });
});
