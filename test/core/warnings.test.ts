/**
 * The AWS SDK's Node-version warning never reaches the user; every other warning does (as Node
 * prints it, or as a JSON line with --log-format json). The filter runs in a child Node (the
 * built dist/, as the CLI runs it), since Node prints warnings from its own listener.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { isHiddenWarning } from "../../scripts/core/warnings";

const WARNINGS = resolve(__dirname, "../../dist/scripts/core/warnings.js");
const LOG = resolve(__dirname, "../../dist/scripts/core/log.js");
// The SDK's own call (node_modules/@aws-sdk/core, emitWarningIfUnsupportedVersion), word for word.
const SDK_WARNING =
  "NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)\\nversions published after the first week of January 2027\\nwill require node >=22. You are running node v20.0.0.";

function node(script: string) {
  const result = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, NODE_NO_WARNINGS: "" } });
  return { status: result.status, stderr: result.stderr };
}

describe("isHiddenWarning", () => {
  it("knows the SDK's warning by its message prefix, its type or an Error's name", () => {
    expect(isHiddenWarning("NodeVersionSupportWarning: The AWS SDK for JavaScript (v3) ...")).toBe(true);
    expect(isHiddenWarning("The AWS SDK for JavaScript (v3) ...", "NodeVersionSupportWarning")).toBe(true);
    expect(isHiddenWarning("The AWS SDK for JavaScript (v3) ...", { type: "NodeVersionSupportWarning" })).toBe(true);
    expect(isHiddenWarning(Object.assign(new Error("..."), { name: "NodeVersionSupportWarning" }))).toBe(true);
  });

  it("and nothing else", () => {
    expect(isHiddenWarning("x")).toBe(false);
    expect(isHiddenWarning("Buffer() is deprecated", "DeprecationWarning")).toBe(false);
    expect(isHiddenWarning("a message that mentions NodeVersionSupportWarning: later")).toBe(false);
    expect(isHiddenWarning(new Error("NodeVersionSupport"))).toBe(false);
  });
});

describe("hideWarnings, in a Node process", () => {
  it("drops the SDK's warning; another warning still prints", () => {
    const r = node(`require(${JSON.stringify(WARNINGS)}).hideWarnings(); process.emitWarning("${SDK_WARNING}"); process.emitWarning("x");`);
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain("NodeVersionSupportWarning");
    expect(r.stderr).toMatch(/\(node:\d+\) Warning: x/);
  });

  it("without it, Node prints the SDK's warning (the test would catch a filter that does nothing)", () => {
    const r = node(`process.emitWarning("${SDK_WARNING}")`);
    expect(r.stderr).toContain("NodeVersionSupportWarning");
  });

  it("logWarnings: as JSON, a warning is one warn line, and the SDK's is still dropped", () => {
    const r = node(
      `const w = require(${JSON.stringify(WARNINGS)}); const { createLogger } = require(${JSON.stringify(LOG)});` +
        `w.hideWarnings(); w.logWarnings(createLogger("json", { write: (t) => process.stderr.write(t) }));` +
        `process.emitWarning("${SDK_WARNING}"); process.emitWarning("x", "DeprecationWarning", "DEP0999");`,
    );
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ level: "warn", message: "x", warning: "DeprecationWarning", code: "DEP0999" });
  });
});
