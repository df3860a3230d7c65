import { spawnSync } from "node:child_process";

/**
 * Runs `command` (output discarded) under bash, whose `times` gives its children's CPU: the wall
 * ms from spawn to exit and the CPU ms (user + system) of the command and every process it waited
 * for. Throws when it exits other than 0.
 */
export function runMeasured(command: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { wallMs: number; cpuMs: number } {
  const quoted = command.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const started = process.hrtime.bigint();
  const out = spawnSync("bash", ["-c", `${quoted} >/dev/null 2>&1; code=$?; times; exit $code`], { encoding: "utf8", ...options });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (out.status !== 0) throw new Error(`${command.join(" ")} exited ${out.status}`);
  // `times` prints the shell's own line, then its children's: "0m0.123s 0m0.045s".
  const children = out.stdout.trim().split("\n").pop()!.match(/(\d+)m([\d.]+)s/g)!;
  const cpuMs = children.reduce((sum, t) => {
    const [, m, s] = /(\d+)m([\d.]+)s/.exec(t)!;
    return sum + (Number(m) * 60 + Number(s)) * 1000;
  }, 0);
  return { wallMs, cpuMs };
}
