// What test/support/runtime.js takes out of a jest worker's cost per test file; no side effects
// here, so that test/support/runtime.test.ts can load it in a test's sandbox.

/** `compile` (vm.compileFunction) reusing V8's code cache of the same file name and source. */
function cachingCompileFunction(compile, cache = new Map()) {
  return function compileFunction(code, params, options) {
    const key = options && options.filename;
    const cached = key === undefined ? undefined : cache.get(key);
    if (cached && cached.code === code) {
      const fn = compile.call(this, code, params, { ...options, cachedData: cached.data });
      if (!fn.cachedDataRejected) return fn;
    }
    const fn = compile.call(this, code, params, { ...options, produceCachedData: true });
    if (key !== undefined && fn.cachedData) cache.set(key, { code, data: fn.cachedData });
    return fn;
  };
}

/**
 * Records every storage of `prototype` (AsyncLocalStorage's, or a subclass's) that is turned on
 * (`run`, `enterWith`), so that `disableAll()` can turn them off again.
 */
function storageTracker(prototype) {
  const turnedOn = new Set();
  for (const method of ["run", "enterWith"]) {
    const original = prototype[method];
    prototype[method] = function (...args) {
      turnedOn.add(this);
      return original.apply(this, args);
    };
  }
  return {
    disableAll() {
      for (const storage of turnedOn) storage.disable();
      turnedOn.clear();
    },
    get size() {
      return turnedOn.size;
    },
  };
}

module.exports = { cachingCompileFunction, storageTracker };
