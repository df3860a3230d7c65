/**
 * The smoke gate: the real fetch probe against a local HTTP server (statuses, redirects not
 * followed, timeouts, refused connections), and the retry loop with a fake clock and probe.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Clock } from "../../scripts/core/clock";
import type { SmokeCheck } from "../../scripts/config/environments";
import { type HttpProbe, fetchProbe, runSmokeChecks } from "../../scripts/rollout/smoke";

/** A clock that records sleeps and jumps instead of waiting. */
function fakeClock() {
  let time = 0;
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => time,
    sleep: async (ms) => {
      sleeps.push(ms);
      time += ms;
    },
  };
  return { clock, sleeps };
}

const check = (url: string, over: Partial<SmokeCheck> = {}): SmokeCheck => ({
  url,
  expectStatus: 200,
  timeoutMs: 2000,
  retries: 0,
  ...over,
});

describe("smoke checks over real HTTP", () => {
  let server: http.Server;
  let base: string;
  /** Requests seen per path, for the handler that fails before it answers. */
  const hits = new Map<string, number>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const path = req.url ?? "/";
      const hit = (hits.get(path) ?? 0) + 1;
      hits.set(path, hit);
      if (path === "/ok") res.end("fine");
      else if (path === "/down") res.writeHead(503).end("down");
      else if (path === "/moved") res.writeHead(301, { location: "/ok" }).end();
      else if (path === "/hang") return; // never answers
      else if (path === "/stream") res.writeHead(200).write("a body that never ends"); // headers, then nothing
      else if (path.startsWith("/flaky")) res.writeHead(hit <= 2 ? 503 : 200).end();
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    // The hanging and streaming handlers leave connections open: close won't wait for them.
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("passes when the status is the expected one", async () => {
    const { clock, sleeps } = fakeClock();
    const [result] = await runSmokeChecks([check(`${base}/ok`, { retries: 3 })], { probe: fetchProbe, clock });
    expect(result).toEqual({ url: `${base}/ok`, passed: true, attempts: 1, status: 200, detail: "200 after 1 attempt" });
    expect(sleeps).toEqual([]);
  });

  it("fails on another status, naming both", async () => {
    const { clock } = fakeClock();
    const [result] = await runSmokeChecks([check(`${base}/down`)], { probe: fetchProbe, clock });
    expect(result).toMatchObject({ passed: false, attempts: 1, status: 503, detail: "503 (expected 200) after 1 attempt" });
    expect(result.error).toBeUndefined();
  });

  it("reports a 301 as 301 (the redirect is not followed)", async () => {
    const { clock } = fakeClock();
    const results = await runSmokeChecks([check(`${base}/moved`, { expectStatus: 301 }), check(`${base}/moved`)], { probe: fetchProbe, clock });
    expect(results.map((r) => [r.passed, r.status])).toEqual([
      [true, 301],
      [false, 301],
    ]);
  });

  it("does not wait for the body: a response that never ends still reports its status", async () => {
    const started = Date.now();
    await expect(fetchProbe(`${base}/stream`, 5000)).resolves.toEqual({ status: 200 });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("times out on a server that never answers", async () => {
    const { clock } = fakeClock();
    const started = Date.now();
    const [result] = await runSmokeChecks([check(`${base}/hang`, { timeoutMs: 200 })], { probe: fetchProbe, clock });
    expect(result).toEqual({
      url: `${base}/hang`,
      passed: false,
      attempts: 1,
      error: "timed out after 200ms",
      detail: "timed out after 200ms after 1 attempt",
    });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("says connection refused for a port nobody listens on", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const { clock } = fakeClock();
    const [result] = await runSmokeChecks([check(`http://127.0.0.1:${port}/`)], { probe: fetchProbe, clock });
    expect(result).toMatchObject({ passed: false, attempts: 1, error: "connection refused", detail: "connection refused after 1 attempt" });
    expect(result.status).toBeUndefined();
  });

  it("retries a failing URL and passes once it answers, waiting through the clock", async () => {
    const { clock, sleeps } = fakeClock();
    const [result] = await runSmokeChecks([check(`${base}/flaky-a`, { retries: 5 })], { probe: fetchProbe, clock });
    expect(result).toMatchObject({ passed: true, attempts: 3, status: 200, detail: "200 after 3 attempts" });
    expect(hits.get("/flaky-a")).toBe(3); // stopped at the first pass
    expect(sleeps).toEqual([5000, 5000]); // the default delay, between attempts only
  });

  it("gives up after retries + 1 attempts with the last outcome", async () => {
    const { clock, sleeps } = fakeClock();
    const started = Date.now();
    const [result] = await runSmokeChecks([check(`${base}/down`, { retries: 3 })], { probe: fetchProbe, clock, retryDelayMs: 1234 });
    expect(result).toMatchObject({ passed: false, attempts: 4, status: 503, detail: "503 (expected 200) after 4 attempts" });
    expect(sleeps).toEqual([1234, 1234, 1234]);
    expect(Date.now() - started).toBeLessThan(1234); // the fake clock did the waiting
  });
});

describe("smoke checks with a fake probe", () => {
  it("runs checks one after another in order and reports every attempt", async () => {
    const { clock, sleeps } = fakeClock();
    const calls: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const answers: Record<string, (number | Error)[]> = {
      "http://a/": [200],
      "http://b/": [new Error("connection refused"), 204],
      "http://c/": [500, 500],
    };
    const probe: HttpProbe = async (url, timeoutMs) => {
      calls.push(`${url} ${timeoutMs}`);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      const answer = answers[url].shift()!;
      if (answer instanceof Error) throw answer;
      return { status: answer };
    };
    const attempts: string[] = [];
    const results = await runSmokeChecks(
      [check("http://a/"), check("http://b/", { expectStatus: 204, retries: 2, timeoutMs: 300 }), check("http://c/", { retries: 1 })],
      { probe, clock, retryDelayMs: 10, onAttempt: (url, attempt, outcome) => attempts.push(`${url} #${attempt}: ${outcome}`) },
    );

    expect(calls).toEqual(["http://a/ 2000", "http://b/ 300", "http://b/ 300", "http://c/ 2000", "http://c/ 2000"]);
    expect(maxInFlight).toBe(1);
    expect(attempts).toEqual([
      "http://a/ #1: 200",
      "http://b/ #1: connection refused",
      "http://b/ #2: 204",
      "http://c/ #1: 500 (expected 200)",
      "http://c/ #2: 500 (expected 200)",
    ]);
    expect(results.map((r) => r.detail)).toEqual(["200 after 1 attempt", "204 after 2 attempts", "500 (expected 200) after 2 attempts"]);
    expect(results.map((r) => r.passed)).toEqual([true, true, false]);
    expect(sleeps).toEqual([10, 10]);
  });

  it("never throws for a failing URL, even when the probe throws a non-Error", async () => {
    const { clock } = fakeClock();
    const probe: HttpProbe = async () => {
      throw "boom"; // eslint-disable-line no-throw-literal
    };
    const [result] = await runSmokeChecks([check("http://x/", { retries: 1 })], { probe, clock });
    expect(result).toEqual({ url: "http://x/", passed: false, attempts: 2, error: "boom", detail: "boom after 2 attempts" });
  });
});
