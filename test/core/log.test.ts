/**
 * The logger quotes AWS, terraform and files: as text, no control character of theirs reaches
 * the terminal (amiroll's own `\r` and erase-line do); as JSON, every line is valid JSON with no
 * raw control character (issue 16, item 7).
 */
import { type LogSink, createLogger } from "../../scripts/core/log";
import { ALL_HOSTILE, HOSTILE, RAW_CONTROL } from "../support/hostile";
import { visibleText } from "../support/markdown";

function terminal(isTTY: boolean, columns = 400) {
  const writes: string[] = [];
  const sink: LogSink = { write: (text) => void writes.push(text), isTTY, columns };
  return { sink, writes, text: () => writes.join("") };
}

/** What amiroll itself writes on a terminal: the progress line's return and erase-line. */
const OWN = /\r\x1b\[2K/g;

describe("the text log", () => {
  it("shows every control character of a message, a warning, an error and terraform's lines as an escape", () => {
    const out = terminal(false);
    const log = createLogger("text", out.sink);
    log.info(`image ${HOSTILE.terminal}`);
    log.warn(HOSTILE.c1);
    log.error(`staging.plan.json: ${HOSTILE.cr}`);
    log.output("terraform", `aws_instance.x: Creating...${HOSTILE.terminal}\nforged line`);
    expect(out.text()).not.toMatch(RAW_CONTROL);
    expect(out.writes).toEqual([
      "image \\x1b]0;pwned\\x07\\x1b[2J\n",
      "warning: \\x9b31mred\n",
      "amiroll: staging.plan.json: ok\\rFAKE\n",
      // A line of terraform's stays one line.
      "  terraform: aws_instance.x: Creating...\\x1b]0;pwned\\x07\\x1b[2J\\nforged line\n",
    ]);
  });

  it("keeps a message's own newlines (a pins diff), its controls visible", () => {
    const lines: string[] = [];
    createLogger("text", (line) => lines.push(line)).info(`pins:\n    -${HOSTILE.terminal}`);
    expect(lines).toEqual(["pins:\n    -\\x1b]0;pwned\\x07\\x1b[2J"]);
  });

  it("on a terminal: the progress line's \\r and erase-line are amiroll's only controls; a field stays one field", () => {
    const out = terminal(true);
    const log = createLogger("text", out.sink);
    log.progress([{ id: "apps", parts: [`apps ${HOSTILE.terminal}`, `service ${HOSTILE.fence}`, HOSTILE.c1], fields: {} }]);
    log.info(`message ${HOSTILE.cr}`);
    log.endProgress();
    const text = out.text().replace(OWN, "");
    expect(text).not.toMatch(RAW_CONTROL);
    expect(out.text().match(OWN)?.length).toBe(2);
    expect(text).toContain(`apps ${visibleText(HOSTILE.terminal)} · service ${visibleText(HOSTILE.fence)} · ${visibleText(HOSTILE.c1)}`);
  });

  it("off a terminal: progress lines are plain lines, their controls visible", () => {
    const out = terminal(false);
    const log = createLogger("text", out.sink);
    log.progress([{ id: "apps", parts: [ALL_HOSTILE, "tasks on old: 1"], fields: {} }]);
    expect(out.writes).toEqual([`${visibleText(ALL_HOSTILE)} · tasks on old: 1\n`]);
  });
});

describe("the JSON log", () => {
  it("writes one valid JSON object per line whatever a message or a field holds, with no raw control character", () => {
    const out = terminal(false);
    const log = createLogger("json", out.sink, { now: () => 0 });
    log.info(ALL_HOSTILE, { image: ALL_HOSTILE, nested: { list: [HOSTILE.c1, "\u202e"] } });
    log.warn(HOSTILE.c1);
    log.error(HOSTILE.terminal, { exitCode: 2 });
    log.output("terraform", ALL_HOSTILE);
    log.progress([{ id: "apps", parts: [ALL_HOSTILE], fields: { cluster: ALL_HOSTILE } }]);
    const text = out.text();
    expect(text).not.toMatch(RAW_CONTROL);
    expect(text).not.toContain("\u202e");
    const lines = text.trimEnd().split("\n");
    expect(lines).toHaveLength(5);
    const records = lines.map((line) => JSON.parse(line));
    expect(records[0]).toEqual({ time: "1970-01-01T00:00:00.000Z", level: "info", message: ALL_HOSTILE, image: ALL_HOSTILE, nested: { list: [HOSTILE.c1, "\u202e"] } });
    expect(records.map((r) => r.level)).toEqual(["info", "warn", "error", "output", "info"]);
    expect(records[4]).toEqual(expect.objectContaining({ event: "progress", cluster: ALL_HOSTILE }));
  });
});
