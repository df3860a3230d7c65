/**
 * The test order on a machine with no jest cache (a fresh clone in CI): slowest files first, by the
 * committed weights, so that the workers finish together instead of one running the longest file
 * alone at the end.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

const SlowestFirst = require("./sequencer.js");
const weights: Record<string, number> = require("./test-weights.json");
const root = join(__dirname, "..", "..");

/** A jest Test of `path` in a context whose cache is off (as on a fresh clone: nothing recorded). */
function test(path: string, size: number) {
  const hasteFS = { getSize: () => size };
  return { path: join(root, path), context: { config: { rootDir: root, cache: false }, hasteFS } };
}

it("starts the heaviest files first by their weights, whatever their size", () => {
  const [heaviest, second] = Object.entries(weights).sort((a, b) => b[1] - a[1]).map(([path]) => path);
  const light = Object.entries(weights).find(([, s]) => s < 1)![0];
  const sorted = new SlowestFirst({}).sort([test(light, 90_000), test(second, 10), test(heaviest, 20)]);
  expect(sorted.map((t: { path: string }) => t.path)).toEqual([heaviest, second, light].map((p) => join(root, p)));
});

it("weighs only files that exist (a renamed or removed file must be re-recorded)", () => {
  expect(Object.keys(weights).filter((path) => !existsSync(join(root, path)))).toEqual([]);
});

it("gives jest the weights in milliseconds, its own unit (in seconds, slow files looked fast and jest ran a few of them in band, one after the other)", () => {
  const [heaviest, seconds] = Object.entries(weights).sort((a, b) => b[1] - a[1])[0];
  expect(new SlowestFirst({}).time(test(heaviest, 1))).toBe(seconds * 1000);
  expect(new SlowestFirst({}).time(test("test/no-such.test.ts", 1))).toBeUndefined();
});
