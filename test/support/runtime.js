// Jest's `runtime` (jest.config.js): jest-runtime itself, less two costs that every test file of a
// worker paid again. A worker runs about fifty files one after another, each in a fresh module
// registry. `npm run bench:tests` runs the same files under jest's own runtime and this one.
//
// 1. Each file compiled the same modules anew: compiled code is now kept per worker (V8's code
//    cache, by file name and source), so a file loading @aws-sdk/client-ec2 (2 MB) no longer
//    parses it again. A changed source is compiled anew.
// 2. jest-circus makes an AsyncLocalStorage per test file and turns it on for its tests; Node 20
//    keeps every storage ever turned on and calls a hook of each for every promise made after,
//    so a worker's fiftieth file paid fifty hooks per promise. Those of the files already run
//    are turned off when the next file's runtime is made (a worker runs one file at a time).
const vm = require("node:vm");
const { AsyncLocalStorage } = require("node:async_hooks");
const JestRuntime = require("jest-runtime").default;
const { cachingCompileFunction, storageTracker } = require("./worker-costs");

// Once per worker process: node loads this module once.
vm.compileFunction = cachingCompileFunction(vm.compileFunction);
const storages = storageTracker(AsyncLocalStorage.prototype);

class Runtime extends JestRuntime {
  constructor(...args) {
    storages.disableAll();
    super(...args);
  }
}

module.exports = { __esModule: true, default: Runtime };
