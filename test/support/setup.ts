import { Testing } from "cdktf";
// Types of the matchers below (declares them on jest's Matchers).
import "cdktf/lib/testing/adapters/jest";

// Adds cdktf's matchers (toHaveResourceWithProperties, toBeValidTerraform, ...).
Testing.setupJest();
