/**
 * @module cli/server-api
 * The CLI's calls to a worker's checkpoint and scan-job endpoints (JSON, or a part's bytes), retried
 * with exponential backoff and full jitter on network errors, 429, 5xx and passed deadlines, as the
 * fan-out does; any other problem is thrown as a ServerProblem carrying its type and detail, and a
 * 401 as TokenRejected (cli/token.ts): the command stops with one message about the token.
 *
 * Every call has a deadline (src/deadlines.ts) from its body and the work it asks of the worker
 * (`work.bytes`: e.g. completing an upload re-reads the whole shard to verify its SHA-256), at
 * concurrency 1: the whole exchange, answer included, must end within it or the call is abandoned
 * and retried. `timeouts` counts the abandoned attempts (run.json). The calls are safe to repeat:
 * parts are PUT by number, registration and uploads are content-addressed, and a job created twice
 * (its first answer lost) only stores nothing new, since head results are content-addressed too.
 */
import { DEFAULT_DEADLINE, DeadlineExceeded, requestDeadlineMs, type DeadlinePolicy } from "../deadlines";
import { backoffMs, DEFAULT_RETRY, sleep, type RetryPolicy, type WorkerSupervision } from "./fan-out";
import { TokenRejected } from "./token";

export class ServerProblem extends Error {
  override name = "ServerProblem";
  constructor(readonly status: number, readonly type: string, detail: string, readonly body?: unknown) {
    super(detail);
  }
}

/** What a call asks of the worker beyond its body, for its deadline. */
export interface CallWork {
  /** bytes the worker reads or writes for it (default 0) */
  bytes?: number;
  flops?: number;
}

export class ServerApi {
  /** attempts abandoned at their deadline so far */
  timeouts = 0;
  private readonly deadline: DeadlinePolicy;

  constructor(
    readonly endpoint: string, private readonly token: string | undefined, private readonly policy: RetryPolicy = DEFAULT_RETRY,
    /**
     * the embedded local worker's CPU-limit supervisor (cpu-limit.ts): each call is a request in
     * flight, and each answer shows the isolate is not stuck — without them a long server-side scan,
     * whose heads run in the worker's own queue consumer, would read as CPU burnt with no answer
     */
    private readonly worker?: WorkerSupervision,
    private readonly hooks: {
      /** stops the calls (and their backoff) at once */
      signal?: AbortSignal;
      /** told of each retry: the call, the retry's number, why */
      onRetry?: (call: string, attempt: number, why: string) => void;
    } = {},
  ) {
    this.deadline = policy.deadline ?? DEFAULT_DEADLINE;
  }

  /** The deadline of one attempt of a call, ms. */
  deadlineMs(bodyBytes: number, work: CallWork = {}): number {
    return requestDeadlineMs(bodyBytes + (work.bytes ?? 0), work.flops ?? 0, 1, this.deadline);
  }

  async call<T = any>(method: string, path: string, body?: unknown | Uint8Array, work: CallWork = {}): Promise<{ status: number; body: T }> {
    const isBytes = body instanceof Uint8Array;
    const payload: Uint8Array | string | undefined = body === undefined ? undefined : isBytes ? body : JSON.stringify(body);
    const timeoutMs = this.deadlineMs(payload === undefined ? 0 : typeof payload === "string" ? Buffer.byteLength(payload) : payload.byteLength, work);
    for (let attempt = 0; ; attempt++) {
      // the deadline covers the whole exchange: connect, send, wait, and read the answer
      await this.worker?.ready();
      const flight = this.worker?.begin();
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new DeadlineExceeded(timeoutMs)), timeoutMs);
      const signal = this.hooks.signal ? AbortSignal.any([this.hooks.signal, abort.signal]) : abort.signal;
      let status: number;
      let ok: boolean;
      let text: string;
      try {
        const res = await fetch(`${this.endpoint}${path}`, {
          method,
          headers: {
            ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
            ...(body === undefined ? {} : { "content-type": isBytes ? "application/octet-stream" : "application/json" }),
          },
          body: payload as BodyInit | undefined,
          signal,
        });
        text = await res.text();
        status = res.status;
        ok = res.ok;
        flight?.end(true);
      } catch (e) {
        flight?.end(false);
        if (this.hooks.signal?.aborted) throw e;
        // lost to a restart of the local worker for its CPU limit: retried like a deployment's 503
        const lost = flight && this.worker?.explainLoss(flight);
        const timedOut = abort.signal.aborted && !lost;
        if (timedOut) this.timeouts++;
        if (attempt < this.policy.retries) {
          const why = lost ? lost.detail : timedOut ? (abort.signal.reason as Error).message : (e as Error).message;
          this.hooks.onRetry?.(`${method} ${path}`, attempt + 1, why);
          await sleep(backoffMs(attempt, this.policy), this.hooks.signal);
          continue;
        }
        throw lost
          ? new ServerProblem(lost.status, lost.type, `${method} ${path}: ${lost.detail}`)
          : timedOut
            ? new ServerProblem(0, "timeout", `${method} ${path}: ${(abort.signal.reason as Error).message}, ${attempt + 1} attempt(s)`)
            : new ServerProblem(0, "network", `${method} ${path}: ${(e as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
      let json: any;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (ok) return { status, body: json as T };
      if ((status === 429 || status >= 500) && attempt < this.policy.retries) {
        this.hooks.onRetry?.(`${method} ${path}`, attempt + 1, `${status} ${String(json?.detail ?? text.slice(0, 200))}`);
        await sleep(backoffMs(attempt, this.policy), this.hooks.signal);
        continue;
      }
      if (status === 401) throw new TokenRejected(this.endpoint, String(json?.detail ?? text.slice(0, 300)));
      const type = typeof json?.type === "string" ? json.type.replace(/^\/problems\//, "") : `http-${status}`;
      throw new ServerProblem(status, type, `${method} ${path}: ${json?.detail ?? text.slice(0, 300)}`, json);
    }
  }
}
