/**
 * Issue 16, item 7, as a user meets it: `amiroll guard` on a plan full of hostile text prints
 * nothing that draws on the terminal (-o text), nothing live (-o markdown), valid JSON (-o json,
 * --log-format json); a plan nested too deep or too big is exit 2 naming the file.
 *
 * The -o text case and the deep plan (a stack depth of the real process) spawn the built bin; the
 * others call the CLI's main() in this process (test/support/cli-in-process.ts).
 */
import { truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_JSON_BYTES } from "../../scripts/config/input";
import { errorLines, scratch } from "../support/cli";
import { amirollInProcess } from "../support/cli-in-process";
import { HOSTILE, deepPlanText, hostilePlanJson } from "../support/hostile";
import { inspectMarkdown } from "../support/markdown";

jest.setTimeout(60_000);

const C0_C1 = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

const hostile = join(scratch, "hostile.json");
writeFileSync(hostile, JSON.stringify(hostilePlanJson()));

describe("amiroll guard on a plan full of hostile text", () => {
  it("-o text: the terminal gets escapes, never ESC, BEL, CR or U+009B (stdout and stderr)", async () => {
    const r = await amirollInProcess(["guard", "--plan-json", hostile]);
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/^plan guard: REFUSED/);
    expect(r.stdout).not.toMatch(C0_C1);
    expect(r.stderr).not.toMatch(C0_C1);
    expect(r.stdout).toContain("\\x1b]0;pwned\\x07\\x1b[2J");
    expect(r.stdout).toContain("\\x9b31mred");
  });

  it("-o markdown: no raw HTML, link, comment marker or broken table", async () => {
    const r = await amirollInProcess(["guard", "--plan-json", hostile, "-o", "markdown"]);
    expect(r.status).toBe(3);
    expect(inspectMarkdown(r.stdout.trimEnd()).problems).toEqual([]);
    expect(r.stdout).not.toMatch(/<!--|<img|<script|<\/details>/);
    expect(r.stdout).not.toMatch(C0_C1);
  });

  it("-o json: valid JSON that keeps the plan's text exactly, with no raw control character (C1 included)", async () => {
    const r = await amirollInProcess(["guard", "--plan-json", hostile, "-o", "json"]);
    expect(r.status).toBe(3);
    expect(r.stdout).not.toMatch(C0_C1);
    const result = JSON.parse(r.stdout);
    expect(result.verdicts.map((v: { address: string }) => v.address).join()).toContain(HOSTILE.terminal);
  });

});

describe("an error that quotes the file's text", () => {
  const bad = join(scratch, "bad-version.json");
  // JSON.stringify in the message escapes the C0 controls, not U+009B or DEL.
  writeFileSync(bad, JSON.stringify({ ...hostilePlanJson(), format_version: `2.0${HOSTILE.c1}\u007f${HOSTILE.terminal}` }));

  it("as text: one line, no control character", async () => {
    const r = await amirollInProcess(["guard", "--plan-json", bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toMatch(C0_C1);
    expect(errorLines(r.stderr)).toEqual([expect.stringContaining(`${bad}: format_version: "2.0\\x9b31mred\\x7f\\u001b]0;pwned\\u0007\\u001b[2J" is not supported`)]);
  });

  it("--log-format json: one valid JSON object, the text exact, no raw control character", async () => {
    const r = await amirollInProcess(["guard", "--plan-json", bad, "--log-format", "json"]);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toMatch(C0_C1);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0]);
    expect(record).toEqual(expect.objectContaining({ level: "error", exitCode: 2, error: "ConfigError" }));
    expect(record.message).toContain(`"2.0${HOSTILE.c1}\u007f\\u001b]0;pwned`);
  });
});

describe("amiroll guard on a plan too deep or too big", () => {
  it("a plan nested 5,000 levels deep: exit 2, one line naming the file (was exit 1, a stack overflow)", async () => {
    const deep = join(scratch, "deep.json");
    writeFileSync(deep, deepPlanText(5_000));
    const r = await amirollInProcess(["guard", "--plan-json", deep]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(new RegExp(`^amiroll: ${deep.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: \\(file\\): nests objects and arrays deeper than 512 levels at line 1, column \\d+`)),
    ]);
    expect(r.stderr).not.toMatch(/call stack/);
  });

  it("a file over 512 MiB: exit 2 naming the file, before reading it", async () => {
    const huge = join(scratch, "huge.json");
    writeFileSync(huge, "");
    truncateSync(huge, MAX_JSON_BYTES + 1);
    const r = await amirollInProcess(["guard", "--plan-json", huge]);
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([`amiroll: ${huge}: (file): is 536870913 bytes (512.0 MiB), over the 512 MiB amiroll reads`]);
  });
});
