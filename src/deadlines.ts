/**
 * @module deadlines
 * One deadline policy for every request and every unit of work that could otherwise wait for ever:
 * the CLI's per-head POSTs (cli/fan-out.ts), its calls to the checkpoint and job endpoints
 * (cli/server-api.ts: uploads, job creation, polls), the SAD and activation fan-outs of `--prompts`
 * runs, and the server-side scan's queue consumer (jobs/consumer.ts). Shared by the CLI and the
 * worker, so it imports nothing.
 *
 *   deadline = scale · (baseMs + inFlight · (bytes / bytesPerSecond + flops / flopsPerSecond))
 *
 * `bytes / bytesPerSecond` covers sending, parsing, hashing and storing the body, `flops /
 * flopsPerSecond` the computation; both rates are floors about 20× below what a loaded 2-core
 * machine sustains with local workerd (a Llama-8B head, 4.2 MB and 0.6 GFLOP, takes 1–3 s there).
 * `inFlight` (the concurrency) multiplies them because a worker isolate is single-threaded: a
 * request may wait behind every other one in flight. `baseMs` covers connection set-up and storage
 * latency. A GPT-2 small head (0.4 MB, 35 MFLOP) gets 10 + 4·1.1 ≈ 14 s at -c 4; a Llama-8B head
 * (4.2 MB, 0.62 GFLOP) 10 + 4·16.6 ≈ 76 s. `scale` is `--deadline-scale` (and the worker's
 * `SCAN_DEADLINE_SCALE` for its consumers).
 */
export interface DeadlinePolicy {
  baseMs: number;
  bytesPerSecond: number;
  flopsPerSecond: number;
  scale: number;
  /** give up waiting (a fan-out, a job being followed) when nothing moved for this many times the largest deadline */
  stallAfter: number;
}

export const DEFAULT_DEADLINE: DeadlinePolicy = { baseMs: 10_000, bytesPerSecond: 1e6, flopsPerSecond: 50e6, scale: 1, stallAfter: 3 };

export function requestDeadlineMs(bytes: number, flops: number, inFlight: number, p: DeadlinePolicy = DEFAULT_DEADLINE): number {
  return Math.ceil(p.scale * (p.baseMs + Math.max(1, inFlight) * 1000 * (bytes / p.bytesPerSecond + flops / p.flopsPerSecond)));
}

/** Work that did not finish before its deadline (a request, or a queue consumer's head). */
export class DeadlineExceeded extends Error {
  override name = "DeadlineExceeded";
  readonly code = "ETIMEDOUT";
  /** @param what what did not happen in time, e.g. "no answer within the request's deadline" */
  constructor(readonly timeoutMs: number, what = "no answer within the request's deadline") {
    super(`${what} of ${(timeoutMs / 1000).toFixed(1)} s`);
  }
}

/**
 * `work` or DeadlineExceeded, whichever comes first. The work itself is not cancelled (a promise
 * cannot be): the caller stops waiting for it, and what it would have stored is idempotent.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what?: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(ms, what)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
