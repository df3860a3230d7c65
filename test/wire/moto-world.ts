/**
 * The AWS of the wire suite: moto (a public AWS emulator, python3 + moto 5) on 127.0.0.1 through
 * test/wire/seed.py, which seeds what only AWS holds (the ECS-optimized SSM parameters, AMIs with
 * exact ids, architectures and creation dates), or, with AMIROLL_E2E_REAL=1, a real AWS account
 * through a named profile (AWS_PROFILE), never in CI.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";

export const REAL = process.env.AMIROLL_E2E_REAL === "1";

/** Why the moto suite cannot run here, or undefined when it can. */
export function motoMissing(): string | undefined {
  const probe = spawnSync("python3", ["-c", "import moto.server, moto.moto_server.threaded_moto_server; print(moto.__version__)"], { encoding: "utf8" });
  if (probe.error) return "no python3 on PATH";
  if (probe.status !== 0) return "python3 has no moto (pip install 'moto[server]')";
  return undefined;
}

export interface MotoWorld {
  readonly endpoint: string;
  /** Runs one seed.py command (see there) in moto's own process. */
  seed(command: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Ends moto (ours, by its pid: it exits when its stdin closes, SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
}

export async function startMoto(): Promise<MotoWorld> {
  const child: ChildProcess = spawn("python3", [join(__dirname, "seed.py")], {
    env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: "true" },
    stdio: ["pipe", "pipe", "ignore"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const waiting: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  const early: string[] = [];
  lines.on("line", (line) => {
    const next = waiting.shift();
    if (next) next.resolve(line);
    else early.push(line);
  });
  child.once("exit", (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`seed.py exited (${code}) before it answered`));
  });
  const nextLine = (what: string) =>
    new Promise<string>((resolve, reject) => {
      if (early.length) return resolve(early.shift()!);
      if (child.exitCode !== null) return reject(new Error(`seed.py exited (${child.exitCode}) before it answered ${what}`));
      // moto takes a few seconds of CPU to start: on a busy machine, many more.
      const timer = setTimeout(() => reject(new Error(`seed.py: no answer to ${what} within 90 s`)), 90_000);
      waiting.push({
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  const { port } = JSON.parse(await nextLine("start")) as { port: number };
  let queue = Promise.resolve<unknown>(undefined);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seed: (command) => {
      const answer = queue.then(async () => {
        child.stdin!.write(`${JSON.stringify(command)}\n`);
        const out = JSON.parse(await nextLine(String(command.op))) as Record<string, unknown>;
        if (out.error) throw new Error(`seed.py ${command.op}: ${out.error}`);
        return out;
      });
      queue = answer.catch(() => undefined);
      return answer;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const stubborn = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(stubborn);
    },
  };
}
