/**
 * Progress lines: the pure formatter (fields -> a line that fits a width) and the logger that
 * prints them: rewritten in place on a terminal, plain lines when they change elsewhere, JSON.
 */
import { type LogSink, createLogger } from "../../scripts/core/log";
import { type ProgressItem, displayWidth, fitLine } from "../../scripts/core/progress";

const apps = ["apps: moving tasks", "old/new per AZ: eu-west-1a 1/1 eu-west-1b 0/2", "tasks on old: 4", "services steady: 5/6", "elapsed 3m10s", "ETA 1m20s"];

describe("fitLine", () => {
  it("keeps the whole line when it fits", () => {
    const full = apps.join(" · ");
    expect(fitLine([apps], 200)).toBe(full);
    expect(fitLine([apps], displayWidth(full))).toBe(full);
  });

  it.each([
    [110, "apps: moving tasks · old/new per AZ: eu-west-1a 1/1 eu-west-1b 0/2 · tasks on old: 4 · services steady: 5/6"],
    [80, "apps: moving tasks · old/new per AZ: eu-west-1a 1/1 eu-west-1b 0/2"],
    [60, "apps: moving tasks"],
    [18, "apps: moving tasks"],
    [10, "apps: mov…"],
    [1, "…"],
    [0, ""],
  ])("drops whole fields from the right to fit %i columns, cutting only a single field", (width, line) => {
    const fitted = fitLine([apps], width);
    expect(fitted).toBe(line);
    expect(displayWidth(fitted)).toBeLessThanOrEqual(width);
  });

  it("with several items, the one with the most fields loses one first; then items go from the right", () => {
    const items = [
      ["staging/apps: moving tasks", "tasks on old: 4", "elapsed 1m"],
      ["staging/web: done", "tasks on old: 0"],
    ];
    expect(fitLine(items, 200)).toBe("staging/apps: moving tasks · tasks on old: 4 · elapsed 1m | staging/web: done · tasks on old: 0");
    expect(fitLine(items, 90)).toBe("staging/apps: moving tasks · tasks on old: 4 | staging/web: done · tasks on old: 0");
    expect(fitLine(items, 70)).toBe("staging/apps: moving tasks · tasks on old: 4 | staging/web: done");
    expect(fitLine(items, 50)).toBe("staging/apps: moving tasks | staging/web: done");
    expect(fitLine(items, 40)).toBe("staging/apps: moving tasks | …");
    expect(fitLine(items, 20)).toBe("staging/apps: movin…");
    for (const width of [100, 70, 50, 45, 30, 12, 3]) expect(displayWidth(fitLine(items, width))).toBeLessThanOrEqual(width);
  });
});

const item = (parts: string[], key = parts.slice(0, -1).join()): ProgressItem => ({ id: "apps", parts, key, fields: { cluster: "apps", tasksOnOld: Number(parts[1].split(": ")[1]) } });

/** A sink that records everything written. */
function terminal(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  const sink: LogSink = { write: (text) => void writes.push(text), isTTY, columns };
  return { sink, writes, text: () => writes.join("") };
}

describe("the logger's progress", () => {
  it("off a terminal: plain lines, no \\r, printed again only when more than the time changed (or after the heartbeat)", () => {
    let now = 0;
    const out = terminal(false, 40);
    const log = createLogger("text", out.sink, { now: () => now, heartbeatMs: 60_000 });
    log.progress([item(["apps: moving tasks", "tasks on old: 4", "elapsed 0s"])]);
    now += 15_000;
    log.progress([item(["apps: moving tasks", "tasks on old: 4", "elapsed 15s"])]); // only the time changed
    now += 15_000;
    log.progress([item(["apps: moving tasks", "tasks on old: 3", "elapsed 30s"])]);
    now += 70_000;
    log.progress([item(["apps: moving tasks", "tasks on old: 3", "elapsed 1m40s"])]); // heartbeat
    log.endProgress();
    expect(out.text()).not.toContain("\r");
    expect(out.text()).not.toContain("\x1b");
    // Not fitted to a width either: a log file keeps every field.
    expect(out.writes).toEqual([
      "apps: moving tasks · tasks on old: 4 · elapsed 0s\n",
      "apps: moving tasks · tasks on old: 3 · elapsed 30s\n",
      "apps: moving tasks · tasks on old: 3 · elapsed 1m40s\n",
    ]);
  });

  it("a function sink (tests, bench) gets each line without its newline", () => {
    const lines: string[] = [];
    const log = createLogger("text", (line) => lines.push(line));
    log.info("synthesized");
    log.progress([item(["apps: done", "tasks on old: 0", "elapsed 4m"])]);
    log.warn("careful");
    log.error("it failed");
    log.output("terraform", "Plan: 1 to add");
    expect(lines).toEqual(["synthesized", "apps: done · tasks on old: 0 · elapsed 4m", "warning: careful", "amiroll: it failed", "  terraform: Plan: 1 to add"]);
  });

  it("on a terminal: one line rewritten with \\r, fitted to the terminal's width (less one column), ended by a newline", () => {
    const out = terminal(true, 40);
    const log = createLogger("text", out.sink);
    log.progress([item(["apps: moving tasks", "tasks on old: 4", "elapsed 0s"])]);
    log.progress([item(["apps: moving tasks", "tasks on old: 3", "elapsed 15s"])]);
    log.endProgress();
    expect(out.writes).toEqual(["\r\x1b[2Kapps: moving tasks · tasks on old: 4", "\r\x1b[2Kapps: moving tasks · tasks on old: 3", "\n"]);
    for (const write of out.writes) for (const line of write.split(/[\r\n]/)) expect(displayWidth(line.replace("\x1b[2K", ""))).toBeLessThan(40);
  });

  it("on a terminal, a message while the line shows clears it, prints, and draws the line again at the new width", () => {
    const out = terminal(true, 80);
    const log = createLogger("text", out.sink);
    log.progress([item(["apps: moving tasks", "tasks on old: 4", "elapsed 0s"])]);
    (out.sink as { columns?: number }).columns = 30; // the terminal got narrower
    log.warn("a service is slow");
    log.endProgress();
    log.info("done");
    expect(out.writes).toEqual([
      "\r\x1b[2Kapps: moving tasks · tasks on old: 4 · elapsed 0s",
      "\r\x1b[2Kwarning: a service is slow\napps: moving tasks",
      "\n",
      "done\n",
    ]);
  });

  it("as JSON: an object per item and poll, even on a terminal, never a \\r", () => {
    const out = terminal(true, 20);
    const log = createLogger("json", out.sink, { now: () => Date.parse("2026-11-24T09:00:00Z") });
    log.progress([item(["apps: moving tasks", "tasks on old: 4", "elapsed 0s"])]);
    log.progress([item(["apps: moving tasks", "tasks on old: 4", "elapsed 15s"])]);
    log.endProgress();
    log.error("watch of staging failed", { exitCode: 1 });
    expect(out.text()).not.toContain("\r");
    const lines = out.text().trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { time: "2026-11-24T09:00:00.000Z", level: "info", message: "apps: moving tasks · tasks on old: 4 · elapsed 0s", event: "progress", cluster: "apps", tasksOnOld: 4 },
      { time: "2026-11-24T09:00:00.000Z", level: "info", message: "apps: moving tasks · tasks on old: 4 · elapsed 15s", event: "progress", cluster: "apps", tasksOnOld: 4 },
      { time: "2026-11-24T09:00:00.000Z", level: "error", message: "watch of staging failed", exitCode: 1 },
    ]);
  });
});
