// Every test file runs this (jest's setupFilesAfterEnv): keep it light. cdktf's matchers are in
// ./cdktf-matchers.ts, imported by the files that use them.

// The AWS SDK's one Node-version warning, hidden as the CLI hides it: test logs show only what matters.
import { hideWarnings } from "../../scripts/core/warnings";
hideWarnings();

// cdktf records a creation stack for every token it makes (Error.captureStackTrace on a plain
// object, read at once), and jest source-maps every frame of every stack it formats: about a
// fifth of a synthesis's CPU in tests. Here, stacks of objects that are not Errors are formatted
// plainly, first frames only; an Error's stack (what a failing test shows) still goes through jest's formatter,
// which is installed on the Node realm's Error (this file runs in the test's own realm).
const nodeRealmError = realmErrorOf(() => require("node:fs").readFileSync("/nonexistent/amiroll-setup"));
Error.prepareStackTrace = (error: unknown, frames: NodeJS.CallSite[]) => {
  const sourceMapped = nodeRealmError.prepareStackTrace;
  if ((error instanceof Error || error instanceof nodeRealmError) && sourceMapped) return sourceMapped(error as Error, frames);
  // cdktf's creation stacks (shown only in its own error messages): their first frames, which say
  // where a token was made; formatting every frame of every token cost a second per suite.
  return `${error instanceof Error ? `${error.name}: ${error.message}` : "Error"}${frames.slice(0, 5).map((frame) => `\n    at ${frame}`).join("")}`;
};

function realmErrorOf(thrower: () => unknown): ErrorConstructor {
  try {
    thrower();
  } catch (error) {
    return Object.getPrototypeOf(error).constructor as ErrorConstructor;
  }
  throw new Error("expected a throw");
}
