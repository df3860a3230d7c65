/** test/support/runtime.js's parts: what they keep must never change what a test runs. */
import { AsyncLocalStorage } from "node:async_hooks";
import vm from "node:vm";

const { cachingCompileFunction, storageTracker } = require("./worker-costs.js");

describe("the compile cache", () => {
  function recording() {
    const calls: { cachedData: boolean }[] = [];
    const compile = (code: string, params: string[], options: vm.CompileFunctionOptions) => {
      calls.push({ cachedData: options.cachedData !== undefined });
      return vm.compileFunction(code, params, options);
    };
    return { calls, compile: cachingCompileFunction(compile) };
  }

  it("compiles the same file name and source again from V8's code cache, to the same function", () => {
    const { calls, compile } = recording();
    const source = "return a + 1;";
    expect(compile(source, ["a"], { filename: "/m.js" })(1)).toBe(2);
    const again = compile(source, ["a"], { filename: "/m.js" });
    expect(again(41)).toBe(42);
    expect(again.cachedDataRejected).toBe(false);
    expect(calls).toEqual([{ cachedData: false }, { cachedData: true }]);
  });

  it("compiles a changed source anew (a file edited between two test files runs as edited)", () => {
    const { calls, compile } = recording();
    expect(compile("return 'old';", [], { filename: "/m.js" })()).toBe("old");
    expect(compile("return 'new';", [], { filename: "/m.js" })()).toBe("new");
    expect(compile("return 'other file';", [], { filename: "/n.js" })()).toBe("other file");
    expect(calls).toEqual([{ cachedData: false }, { cachedData: false }, { cachedData: false }]);
  });
});

describe("the storage tracker", () => {
  it("turns off every storage turned on so far, and only those", async () => {
    class Storage<T> extends AsyncLocalStorage<T> {}
    const storages = storageTracker(Storage.prototype);
    const run = new Storage<string>();
    const entered = new Storage<string>();
    const never = new Storage<string>();
    await run.run("a", async () => {
      entered.enterWith("b");
      await Promise.resolve();
      expect([run.getStore(), entered.getStore()]).toEqual(["a", "b"]);
      expect(storages.size).toBe(2);
      storages.disableAll();
      expect([run.getStore(), entered.getStore(), never.getStore()]).toEqual([undefined, undefined, undefined]);
      expect(storages.size).toBe(0);
    });
    // A storage turned on again works as before.
    expect(run.run("c", () => run.getStore())).toBe("c");
    expect(storages.size).toBe(1);
  });
});
