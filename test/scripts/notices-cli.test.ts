/**
 * `amiroll rollout --notice` delivering to owners (issue 21, item 5), as a user runs it on the
 * simulated AWS: `--notice-dir DIR` writes one file per owner tag; with a webhook configured it
 * prints what it would post, and posts with `--send` (here to a server on 127.0.0.1: fetch is
 * redirected there from the https URL the config must hold); bad flags are exit 2 in one line.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { errorLines, scratch } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";

const HOOK = "https://hooks.example.test/services/T000/B000/SECRET";

describe("amiroll rollout --notice, per owner", () => {
  let server: Server;
  let base: string;
  const received: { url: string; body: any }[] = [];
  let status = 200;
  const realFetch = globalThis.fetch;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ url: req.url!, body: JSON.parse(body) });
        res.writeHead(status).end(status === 200 ? "ok" : "invalid_token");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The webhook must be https in the config; the test's fetch takes its posts to the local server.
    globalThis.fetch = ((url: string | URL, init?: RequestInit) => realFetch(String(url).replace("https://hooks.example.test", base), init)) as typeof fetch;
  });
  afterAll(async () => {
    globalThis.fetch = realFetch;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    received.length = 0;
    status = 200;
  });

  it("--notice-dir writes one markdown file per owner tag, and the notice still goes to stdout", async () => {
    const dir = join(mkdtempSync(join(scratch, "notices-")), "out");
    const r = await amirollInProcess(["rollout", "--simulate", "--notice", "--notice-dir", dir]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("### Maintenance notice: machine image rollout");
    const files = readdirSync(dir).sort();
    expect(files).toContain("storefront.md");
    expect(r.stderr).toContain(`notice(s) written to ${dir}: `);
    const storefront = readFileSync(join(dir, "storefront.md"), "utf8");
    expect(storefront).toMatch(/^### Maintenance notice: machine image rollout, for services owned by storefront\n/);
    expect(storefront).toMatch(/\| apps \| ami-\w+ \| replace \| web \|/);
    expect(errorLines(r.stderr)).toEqual([]);
  });

  it("with a webhook and without --send: prints what it would post, posts nothing", async () => {
    const r = await amirollInProcess(["rollout", "--simulate", "--notice"], { AMIROLL_NOTICE_WEBHOOK: HOOK });
    expect(r.status).toBe(0);
    expect(received).toEqual([]);
    expect(r.stderr).toMatch(/notices: dry run, would post for owner "storefront" to AMIROLL_NOTICE_WEBHOOK \(hooks\.example\.test\): \{"text":"\*Maintenance notice: machine image rollout\*, for services owned by storefront\\n/);
    expect(r.stderr).toContain("notices: dry run: nothing posted; --send posts the");
    expect(r.stderr).not.toContain("SECRET");
  });

  it("--send posts one {text} message per owner; a failed post is reported and the command still exits 0", async () => {
    const ok = await amirollInProcess(["rollout", "--simulate", "--notice", "--send"], { AMIROLL_NOTICE_WEBHOOK: HOOK });
    expect(ok.status).toBe(0);
    expect(received.length).toBeGreaterThan(0);
    expect(received.every((m) => m.url === "/services/T000/B000/SECRET" && Object.keys(m.body).join() === "text")).toBe(true);
    expect(received.map((m) => m.body.text)).toContainEqual(expect.stringMatching(/^\*Maintenance notice: machine image rollout\*, for services owned by storefront\n/));
    expect(ok.stderr).toMatch(/notices: owner "storefront": posted to hooks\.example\.test \(HTTP 200\)/);
    expect(ok.stderr).toMatch(/notices: \d+ posted to AMIROLL_NOTICE_WEBHOOK \(hooks\.example\.test\)/);

    status = 403;
    received.length = 0;
    const failed = await amirollInProcess(["rollout", "--simulate", "--notice", "--send"], { AMIROLL_NOTICE_WEBHOOK: HOOK });
    expect(failed.status).toBe(0);
    expect(failed.stderr).toMatch(/notices: owner "storefront": posting to hooks\.example\.test failed: HTTP 403 Forbidden: invalid_token/);
    expect(failed.stderr).toMatch(new RegExp(`notices: ${received.length} of ${received.length} post\\(s\\) to AMIROLL_NOTICE_WEBHOOK \\(hooks\\.example\\.test\\) failed`));
    expect(failed.stderr).not.toContain("SECRET");
  });

  it.each([
    ["--send without a webhook", ["rollout", "--simulate", "--notice", "--send"], {}, /^amiroll: --send: .*amiroll\.json has no notices\.webhook \(and AMIROLL_NOTICE_WEBHOOK is not set\): nowhere to post$/],
    ["--send without --notice", ["rollout", "--simulate", "--send"], { AMIROLL_NOTICE_WEBHOOK: HOOK }, /^amiroll: --send needs --notice/],
    ["--notice-dir without --notice", ["rollout", "--simulate", "--notice-dir", "x"], {}, /^amiroll: --notice-dir needs --notice/],
    ["--notice-dir naming a file", ["rollout", "--simulate", "--notice", "--notice-dir", "FILE"], {}, /^amiroll: --notice-dir: .* is a file, not a directory$/],
    ["an http webhook", ["rollout", "--simulate", "--notice", "--send"], { AMIROLL_NOTICE_WEBHOOK: "http://hooks.example.test/SECRET" }, /^amiroll: AMIROLL_NOTICE_WEBHOOK: is not an https URL/],
  ])("%s: exit 2, one line, nothing posted", async (_what, args, env, message) => {
    const file = join(scratch, "notice-dir-is-a-file");
    writeFileSync(file, "");
    const r = await amirollInProcess(args.map((a) => (a === "FILE" ? file : a)), env as Record<string, string>);
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(message)]);
    expect(r.stdout).toBe("");
    expect(received).toEqual([]);
  });
});
