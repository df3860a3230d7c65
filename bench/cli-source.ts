// The CLI from its TypeScript sources (through tsx), as bin/amiroll.js ran before dist/: bench:cli's peer.
import { main } from "../scripts/amiroll";

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
