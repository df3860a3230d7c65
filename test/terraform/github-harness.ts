/**
 * Child-process harness for github.test.ts: posts sticky comments through the real
 * `octokitComments` (@octokit/rest is ESM-only, which jest on Node 20 cannot load, so the test
 * runs this with `node -r tsx/cjs`). The GitHub context comes from the usual GITHUB_* variables;
 * AMIROLL_HARNESS holds `{"env": ..., "bodies": [...]}`. Prints the StickyResult as JSON.
 */
import { githubContextFromEnv, octokitComments, postStickyComments } from "../../scripts/terraform/github";

async function run(): Promise<void> {
  const { env, bodies } = JSON.parse(process.env.AMIROLL_HARNESS ?? "{}") as { env: string; bodies: string[] };
  const client = await octokitComments(githubContextFromEnv());
  const result = await postStickyComments(client, env, bodies);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

run().catch((error: unknown) => {
  process.stderr.write(`harness: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
