/** The benches' one flag: `--NAME N`, a positive integer, else `fallback`; exit 2 with `usage` when N is not one. */
export function countFlag(argv: readonly string[], name: string, fallback: number, usage: string): number {
  const i = argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`usage: ${usage}  (N a positive integer)`);
    process.exit(2);
  }
  return n;
}
