// Every test file runs this (jest's setupFilesAfterEnv): keep it light. cdktf's matchers are in
// ./cdktf-matchers.ts, imported by the files that use them.

// The AWS SDK's one Node-version warning, hidden as the CLI hides it: test logs show only what matters.
import { hideWarnings } from "../../scripts/core/warnings";
hideWarnings();
