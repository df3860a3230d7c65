import { Testing } from "cdktf";
// Types of the matchers below (declares them on jest's Matchers).
import "cdktf/lib/testing/adapters/jest";

// Adds cdktf's matchers (toHaveResourceWithProperties, toBeValidTerraform, ...).
Testing.setupJest();

// The AWS SDK's one Node-version warning, hidden as the CLI hides it: test logs show only what matters.
import { hideWarnings } from "../../scripts/core/warnings";
hideWarnings();
