/**
 * Posting the owners' notices (issue 21, item 5) through Node's fetch to a local HTTP server on
 * 127.0.0.1 (the https requirement is the config's, tested in test/config/notices.test.ts):
 * one JSON `{"text"}` per owner, and a failed post (non-2xx, no answer, no server) reported in
 * one line naming the webhook's host, never its path, without stopping the other posts.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { postNotices } from "../../scripts/rollout/notice-webhook";
import type { OwnerNotice } from "../../scripts/rollout/owner-notices";

interface Received {
  method: string;
  url: string;
  contentType: string;
  body: string;
}

/** A server on 127.0.0.1 answering each request with `answer(request number)`. */
async function webhookServer(answer: (n: number, res: ServerResponse) => void): Promise<{ server: Server; base: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push({ method: req.method!, url: req.url!, contentType: String(req.headers["content-type"]), body });
      answer(received.length, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

const stop = (server: Server) => new Promise<void>((resolve) => {
  server.closeAllConnections();
  server.close(() => resolve());
});

const notice = (owner: string | undefined, text: string): OwnerNotice => ({ owner, fileName: `${owner}.md`, markdown: "", text });
const notices = [notice("payments", "*Maintenance* &lt;x&gt;\nline two"), notice("storefront", "second"), notice(undefined, "third")];

describe("postNotices", () => {
  it("posts one {text} JSON per owner to the webhook, in order", async () => {
    const { server, base, received } = await webhookServer((_n, res) => res.writeHead(200).end("ok"));
    try {
      const results = await postNotices(`${base}/services/T000/B000/SECRET`, notices);
      expect(results.map((r) => [r.owner, r.ok, r.detail])).toEqual([
        ["payments", true, expect.stringMatching(/^posted to 127\.0\.0\.1:\d+ \(HTTP 200\)$/)],
        ["storefront", true, expect.any(String)],
        [undefined, true, expect.any(String)],
      ]);
      expect(received.map((r) => [r.method, r.url, r.contentType])).toEqual(Array(3).fill(["POST", "/services/T000/B000/SECRET", "application/json; charset=utf-8"]));
      expect(received.map((r) => JSON.parse(r.body))).toEqual([{ text: "*Maintenance* &lt;x&gt;\nline two" }, { text: "second" }, { text: "third" }]);
    } finally {
      await stop(server);
    }
  });

  it("a non-2xx answer: that owner's post failed, naming the host and what the webhook said, never the path; the others are still posted", async () => {
    const { server, base, received } = await webhookServer((n, res) => (n === 1 ? res.writeHead(404, "Not Found").end("no_service\x1b[2J") : res.writeHead(200).end()));
    try {
      const results = await postNotices(`${base}/services/T000/B000/SECRET`, notices);
      const host = new URL(base).host;
      expect(results[0]).toEqual({ owner: "payments", ok: false, detail: `posting to ${host} failed: HTTP 404 Not Found: no_service\\x1b[2J` });
      expect(results.slice(1).map((r) => r.ok)).toEqual([true, true]);
      expect(received).toHaveLength(3);
      for (const r of results) expect(r.detail).not.toContain("SECRET");
    } finally {
      await stop(server);
    }
  });

  it("no answer within the timeout: failed, saying so", async () => {
    // The first request is never answered; the rest are.
    const { server, base } = await webhookServer((n, res) => (n === 1 ? undefined : res.writeHead(204).end()));
    try {
      const results = await postNotices(`${base}/hook`, notices.slice(0, 2), { timeoutMs: 300 });
      expect(results.map((r) => [r.ok, r.detail])).toEqual([
        [false, `posting to ${new URL(base).host} failed: no answer within 0.3 s`],
        [true, `posting to ${new URL(base).host} (HTTP 204)`.replace("posting", "posted")],
      ]);
    } finally {
      await stop(server);
    }
  });

  it("no server: failed with the network's reason", async () => {
    const { server, base } = await webhookServer((_n, res) => res.end());
    await stop(server);
    const results = await postNotices(`${base}/hook`, notices.slice(0, 1));
    expect(results).toEqual([{ owner: "payments", ok: false, detail: `posting to ${new URL(base).host} failed: ECONNREFUSED` }]);
  });

  it("a redirect is not followed (it could lead the notice and the secret path elsewhere)", async () => {
    const { server, base, received } = await webhookServer((_n, res) => res.writeHead(302, { location: "http://127.0.0.1:9/elsewhere" }).end());
    try {
      const results = await postNotices(`${base}/hook`, notices.slice(0, 1));
      expect(results[0].ok).toBe(false);
      expect(results[0].detail).toMatch(/^posting to 127\.0\.0\.1:\d+ failed: /);
      expect(received).toHaveLength(1);
    } finally {
      await stop(server);
    }
  });
});

describe("postNotices interrupted", () => {
  it("Ctrl-C during a post ends it, and the owners after it are not posted", async () => {
    const controller = new AbortController();
    // The first request is never answered: it is interrupted instead.
    const { server, base, received } = await webhookServer(() => controller.abort());
    try {
      const results = await postNotices(`${base}/hook`, notices, { signal: controller.signal, timeoutMs: 60_000 });
      const host = new URL(base).host;
      expect(results.map((r) => r.detail)).toEqual([`posting to ${host} failed: interrupted`, `not posted to ${host}: interrupted`, `not posted to ${host}: interrupted`]);
      expect(received).toHaveLength(1);
    } finally {
      await stop(server);
    }
  });
});
