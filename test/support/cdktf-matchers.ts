/**
 * cdktf's jest matchers (toHaveResourceWithProperties, toBeValidTerraform, ...), for the files
 * that use them: `import "../support/cdktf-matchers";`. Not in setup.ts, which every test file
 * runs: loading cdktf costs each file about 0.6 s.
 */
import { Testing } from "cdktf";
// Types of the matchers below (declares them on jest's Matchers).
import "cdktf/lib/testing/adapters/jest";

Testing.setupJest();
