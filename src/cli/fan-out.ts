/**
 * @module cli/fan-out
 * Runs per-head requests with bounded concurrency (p-limit), retrying what may succeed later —
 * network errors, 429, problems `rate-limited`, `storage-unavailable` and `internal`, and 5xx
 * answers that are not problems (a proxy's 502) — with exponential backoff and full jitter (and a
 * server's Retry-After when given). It switches on the problem `type` slug, never on message text.
 * Everything else (400, 409, 415, 422, `kernel-fault`) fails at once: sending it again cannot help.
 * Requests are idempotent per (model, layer, head, circuit, variant) — the worker answers an
 * identical POST with the stored result (`computed: false`) — so a retried or resumed head is never
 * computed twice. An AbortSignal stops scheduling and cancels requests in flight (Ctrl-C).
 */
import pLimit from "p-limit";
import { httpRequest, type HttpAnswer } from "./http";
import { problemSlug, type ProblemType } from "../wire/problem";
import { SvdAnswerSchema, type SvdAnswer } from "../wire/svd-result";

export const RETRYABLE: ReadonlySet<ProblemType> = new Set(["rate-limited", "storage-unavailable", "internal"]);

export interface RetryPolicy {
  /** attempts after the first */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 250, maxDelayMs: 8000 };

export interface HeadRequest {
  url: string;
  body: Uint8Array;
  /** validates a 2xx answer (default: the SVD answer schema) */
  parse?: (json: unknown) => unknown;
}

export type Outcome<A = SvdAnswer> =
  | { ok: true; answer: A; attempts: number }
  | { ok: false; type: string; status?: number; detail: string; attempts: number };

class Retryable extends Error {
  constructor(readonly type: string, readonly status: number | undefined, detail: string, readonly retryAfterMs?: number) {
    super(detail);
  }
}

class Permanent extends Error {
  constructor(readonly type: string, readonly status: number | undefined, detail: string) {
    super(detail);
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): uniform in [0, min(cap, base·2^n)]. */
export const backoffMs = (attempt: number, p: RetryPolicy, random = Math.random) =>
  random() * Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** attempt);

async function attemptOnce(req: HeadRequest, token: string, signal?: AbortSignal): Promise<SvdAnswer> {
  const parse = req.parse ?? ((j: unknown) => SvdAnswerSchema.parse(j));
  let res: HttpAnswer;
  try {
    res = await httpRequest("POST", req.url, req.body, { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" }, signal);
  } catch (e) {
    if (signal?.aborted) throw e;
    const code = (e as { code?: string }).code;
    throw new Retryable("network", undefined, `${(e as Error).message}${code && !(e as Error).message.includes(code) ? ` (${code})` : ""}`);
  }
  const text = res.text;
  if (res.status >= 200 && res.status < 300) {
    try {
      return parse(JSON.parse(text)) as SvdAnswer;
    } catch (e) {
      throw new Permanent("bad-answer", res.status, `the answer does not match its schema: ${(e as Error).message.slice(0, 300)}`);
    }
  }
  const retryAfter = Number(res.headers["retry-after"]);
  const retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
  let slug: ProblemType | undefined;
  let detail = text.slice(0, 500);
  if ((res.headers["content-type"] ?? "").includes("application/problem+json")) {
    try {
      const p = JSON.parse(text) as { type?: string; detail?: string };
      slug = typeof p.type === "string" ? problemSlug(p.type) : undefined;
      detail = p.detail ?? detail;
    } catch {
      /* not JSON after all: fall back to the status */
    }
  }
  if (slug !== undefined) {
    if (RETRYABLE.has(slug)) throw new Retryable(slug, res.status, detail, retryAfterMs);
    throw new Permanent(slug, res.status, detail);
  }
  if (res.status === 429 || res.status >= 500) throw new Retryable(`http-${res.status}`, res.status, detail, retryAfterMs);
  throw new Permanent(`http-${res.status}`, res.status, detail);
}

/** One request with retries. Never throws except on abort. */
export async function postWithRetry(
  req: HeadRequest, token: string, policy: RetryPolicy, signal?: AbortSignal,
  onRetry?: (attempt: number, why: string) => void,
): Promise<Outcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      return { ok: true, answer: await attemptOnce(req, token, signal), attempts: attempt + 1 };
    } catch (e) {
      if (signal?.aborted) throw e;
      if (e instanceof Retryable && attempt < policy.retries) {
        onRetry?.(attempt + 1, `${e.type}: ${e.message}`);
        await sleep(Math.max(e.retryAfterMs ?? 0, backoffMs(attempt, policy)), signal);
        continue;
      }
      if (e instanceof Retryable || e instanceof Permanent) {
        return { ok: false, type: e.type, status: e.status, detail: e.message, attempts: attempt + 1 };
      }
      return { ok: false, type: "client", detail: (e as Error).message, attempts: attempt + 1 };
    }
  }
}

/**
 * Runs every task with at most `concurrency` in flight; `build` makes a task's request lazily (so
 * only the layers in flight are in memory), `done` sees each outcome as it arrives.
 */
export async function fanOut<T>(
  tasks: T[],
  opts: {
    concurrency: number;
    token: string;
    policy: RetryPolicy;
    signal?: AbortSignal;
    /** the task's request, or (after a stored-result check) its outcome without any upload */
    build: (t: T) => HeadRequest | Promise<HeadRequest | { outcome: Outcome }>;
    done: (t: T, o: Outcome) => void;
    onRetry?: (t: T, attempt: number, why: string) => void;
  },
): Promise<void> {
  const limit = pLimit(opts.concurrency);
  await Promise.all(
    tasks.map((t) =>
      limit(async () => {
        if (opts.signal?.aborted) return;
        let outcome: Outcome;
        try {
          const req = await opts.build(t);
          outcome = "outcome" in req ? req.outcome : await postWithRetry(req, opts.token, opts.policy, opts.signal, (a, why) => opts.onRetry?.(t, a, why));
        } catch (e) {
          if (opts.signal?.aborted) return;
          outcome = { ok: false, type: "client", detail: (e as Error).message, attempts: 1 };
        }
        opts.done(t, outcome);
      }),
    ),
  );
}
