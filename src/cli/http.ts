/**
 * @module cli/http
 * POST with node:http(s) and a keep-alive agent. The CLI does not use fetch for the fan-out: undici
 * added about 15 ms to every 400 KB head body against local workerd (24 ms against 8.5 ms per GPT-2
 * head, measured), which node:http with a Content-Length and TCP_NODELAY does not.
 *
 * Every request can carry a deadline (`timeoutMs`, the whole exchange: connect, send, wait, read):
 * when it passes, the socket is destroyed (the server sees the client go away) and the promise
 * rejects with DeadlineExceeded. fan-out.ts computes the deadline from the body size and the work.
 */
import http from "node:http";
import https from "node:https";

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 64 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 64 }),
};
/**
 * One connection per request, for the embedded local worker: workerd's HTTP server (KJ) closes a
 * kept-alive connection when the next request has not been read 5 s after the previous answer
 * (its pipeline timeout); a single-threaded isolate busy with other heads' SVDs for longer reads
 * nothing, and the timeout then wins over a request that arrived long before — measured as bursts of
 * ECONNRESET/EPIPE on every connection at once with 4.2 MB heads at -c 4. A new connection is only
 * accepted, and its header timer only started, when the loop is free again.
 */
const freshAgents = {
  "http:": new http.Agent({ keepAlive: false, maxSockets: 64 }),
  "https:": new https.Agent({ keepAlive: false, maxSockets: 64 }),
};

/** A request that did not finish before its deadline (shared with the worker: src/deadlines.ts). */
export { DeadlineExceeded } from "../deadlines";
import { DeadlineExceeded } from "../deadlines";

/** @throws the socket's error (ECONNREFUSED, ECONNRESET, …) or the signal's reason */
export function httpRequest(
  method: "GET" | "POST" | "PUT",
  url: string,
  body: Uint8Array | undefined,
  headers: Record<string, string>,
  signal?: AbortSignal,
  timeoutMs?: number,
  /** a new connection for this request (see freshAgents) */
  fresh = false,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const lib = u.protocol === "https:" ? https : http;
    const req = lib.request(
      u,
      {
        method,
        agent: (fresh ? freshAgents : agents)[u.protocol as "http:" | "https:"],
        headers: { ...headers, ...(body ? { "content-length": String(body.byteLength) } : {}) },
        signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
        res.on("close", () => {
          if (!res.complete) reject(Object.assign(new Error("the connection closed before the answer was complete"), { code: "ECONNRESET" }));
        });
      },
    );
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => req.destroy(new DeadlineExceeded(timeoutMs)), timeoutMs);
    req.on("close", () => clearTimeout(timer));
    req.on("error", reject);
    req.setNoDelay(true);
    req.end(body);
  });
}
