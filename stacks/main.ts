/**
 * This repository's cdktf app, the worked example of a team's own app (cdktf.json "app"):
 * it uses only amiroll's public API, as a team's repository would (`amiroll` and
 * `amiroll/config`). Teams that need no TypeScript run `amiroll synth` instead; both write
 * the same stacks.
 */
import { AmirollApp } from "amiroll";
import { loadConfig } from "amiroll/config";

// stacks/amiroll.json, beside this file; its pins (amis.json) and outDir are relative to it.
const config = loadConfig({ config: `${__dirname}/amiroll.json` });
const app = new AmirollApp(config);
app.synth();
for (const stack of app.synthesized) console.log(`synthesized ${stack.name} -> ${stack.file}`);
