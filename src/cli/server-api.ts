/**
 * @module cli/server-api
 * The CLI's calls to a worker's checkpoint and scan-job endpoints (JSON, or a part's bytes), retried
 * with exponential backoff and full jitter on network errors, 429 and 5xx as the fan-out does; any
 * other problem is thrown as a ServerProblem carrying its type and detail, and a 401 as TokenRejected
 * (cli/token.ts): the command stops with one message about the token.
 */
import { backoffMs, DEFAULT_RETRY, type RetryPolicy } from "./fan-out";
import { TokenRejected } from "./token";

export class ServerProblem extends Error {
  override name = "ServerProblem";
  constructor(readonly status: number, readonly type: string, detail: string, readonly body?: unknown) {
    super(detail);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ServerApi {
  constructor(readonly endpoint: string, private readonly token: string | undefined, private readonly policy: RetryPolicy = DEFAULT_RETRY) {}

  async call<T = any>(method: string, path: string, body?: unknown | Uint8Array): Promise<{ status: number; body: T }> {
    const isBytes = body instanceof Uint8Array;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${this.endpoint}${path}`, {
          method,
          headers: {
            ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
            ...(body === undefined ? {} : { "content-type": isBytes ? "application/octet-stream" : "application/json" }),
          },
          body: body === undefined ? undefined : isBytes ? body : JSON.stringify(body),
        });
      } catch (e) {
        if (attempt < this.policy.retries) {
          await sleep(backoffMs(attempt, this.policy));
          continue;
        }
        throw new ServerProblem(0, "network", `${method} ${path}: ${(e as Error).message}`);
      }
      const text = await res.text();
      let json: any;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (res.ok) return { status: res.status, body: json as T };
      if ((res.status === 429 || res.status >= 500) && attempt < this.policy.retries) {
        await sleep(backoffMs(attempt, this.policy));
        continue;
      }
      if (res.status === 401) throw new TokenRejected(this.endpoint, String(json?.detail ?? text.slice(0, 300)));
      const type = typeof json?.type === "string" ? json.type.replace(/^\/problems\//, "") : `http-${res.status}`;
      throw new ServerProblem(res.status, type, `${method} ${path}: ${json?.detail ?? text.slice(0, 300)}`, json);
    }
  }
}
