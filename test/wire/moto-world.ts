/**
 * The AWS of the wire suite: moto (a public AWS emulator, python3 + moto 5) on 127.0.0.1 through
 * test/wire/seed.py, which seeds what only AWS holds (the ECS-optimized SSM parameters, AMIs with
 * exact ids, architectures and creation dates), or, with AMIROLL_E2E_REAL=1, a real AWS account
 * through a named profile (AWS_PROFILE), never in CI.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
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

/** moto's credentials: any pair it accepts. */
export const MOTO_CREDENTIALS = { accessKeyId: "moto", secretAccessKey: "moto" };

/**
 * What amiroll and terraform run with against moto at `endpoint`: its credentials and endpoint
 * only (no profile, no config or credentials file of this machine; `dir` holds the names that do
 * not exist). moto answers S3 on its one address: path-style (the backend's use_path_style), the
 * state bucket as AWS would have it, set for terraform's init only, not by amiroll. The provider
 * fails "unable to add custom RootCAs HTTPClient" with a CA bundle (this machine sets one for its
 * proxy) and moto's plain-HTTP endpoint: loopback needs none.
 */
export function motoEnv(endpoint: string, dir: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    AWS_PROFILE: "",
    AWS_CONFIG_FILE: join(dir, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-aws-credentials"),
    AWS_CA_BUNDLE: "",
    TF_CLI_ARGS_init: "-backend-config=use_path_style=true",
  };
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
    // seed.py answers in JSON lines; moto's own log lines (a WARNING) are not answers.
    if (!line.startsWith("{")) return;
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

/** An answer of the stand-in instead of moto's. */
export interface StandInAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * A loopback HTTP server in front of moto: every request is forwarded, except those `intercept`
 * answers (`service:Operation`, e.g. `autoscaling:CompleteLifecycleAction`, the service from the
 * request's SigV4 credential scope, the operation from `X-Amz-Target` or the query's `Action`).
 * For what moto does not do (answer an action it lacks, throttle, deny), never to change what
 * it does. `seen` lists every action, in order.
 */
export function standIn(moto: string, intercept: (action: string, body: string) => StandInAnswer | undefined): Promise<{ url: string; server: Server; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const service = /Credential=[^/]+\/\d+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization))?.[1] ?? "?";
    const target = req.headers["x-amz-target"];
    const operation = typeof target === "string" ? target.split(".").pop()! : (new URLSearchParams(body.toString("utf8")).get("Action") ?? "?");
    const action = `${service}:${operation}`;
    seen.push(action);
    const answer = intercept(action, body.toString("utf8"));
    if (answer) {
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "content-length", "connection"].includes(k)).map(([k, v]) => [k, String(v)]));
    const forwarded = await fetch(`${moto}${req.url}`, { method: req.method, headers, body: req.method === "GET" || req.method === "HEAD" ? undefined : body });
    const out = Buffer.from(await forwarded.arrayBuffer());
    res.writeHead(forwarded.status, Object.fromEntries([...forwarded.headers].filter(([k]) => !["content-length", "content-encoding", "transfer-encoding", "connection"].includes(k))));
    res.end(out);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server, seen })));
}
