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
 *
 * Deadlines: every attempt has one (requestDeadlineMs), from the body size and the expected work, so
 * a request that never finishes is abandoned, counted as a timeout for its task, and retried like a
 * network error. A fan-out during which no answer at all arrives for `stallAfter` deadlines stops
 * (NoProgress) instead of waiting forever. A local worker supervisor (WorkerSupervision) learns how
 * many requests are in flight and may explain a lost connection (it restarted a worker that broke
 * its CPU limit: problem `cpu-limit-exceeded`, as a deployment answers 503).
 */
import pLimit from "p-limit";
import { DeadlineExceeded, httpRequest, type HttpAnswer } from "./http";
import { problemSlug, type ProblemType } from "../wire/problem";
import { TokenRejected } from "./token";
import { SvdAnswerSchema, type SvdAnswer } from "../wire/svd-result";

export const RETRYABLE: ReadonlySet<ProblemType> = new Set(["rate-limited", "storage-unavailable", "internal"]);

export interface RetryPolicy {
  /** attempts after the first */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** per-request deadlines (default DEFAULT_DEADLINE) */
  deadline?: DeadlinePolicy;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 250, maxDelayMs: 8000 };

// the deadline policy is shared with the worker's queue consumer (src/deadlines.ts)
export { DEFAULT_DEADLINE, requestDeadlineMs, type DeadlinePolicy } from "../deadlines";
import { DEFAULT_DEADLINE, requestDeadlineMs, type DeadlinePolicy } from "../deadlines";

/** The expected work of a factored SVD lives with the plan (the worker's job consumer imports the plan, never this module's node:http). */
export { svdFlops } from "./plan";

export interface HeadRequest {
  url: string;
  body: Uint8Array;
  /** expected floating-point work on the server (for the deadline; 0 when unknown) */
  flops?: number;
  /** bytes the server reads or writes for it beyond the body (stored activations, for the deadline) */
  workBytes?: number;
  /** validates a 2xx answer (default: the SVD answer schema) */
  parse?: (json: unknown) => unknown;
}

export type Outcome<A = SvdAnswer> =
  | { ok: true; answer: A; attempts: number; timeouts: number }
  | { ok: false; type: string; status?: number; detail: string; attempts: number; timeouts: number };

/**
 * What a local worker's supervisor offers the fan-out (cli/local-worker.ts): it counts requests in
 * flight (its CPU limit scales with them) and explains a connection it broke on purpose.
 */
export interface WorkerSupervision {
  /** resolves when the worker can take requests (it may be restarting) */
  ready(): Promise<void>;
  /** a request starts; end() it when it ends (answered: an HTTP answer arrived) */
  begin(): InFlight;
  /**
   * why the worker dropped this request's connection, when it did so on purpose; `charged`: this
   * request is the likely cause (it costs a retry; the others are retried for free)
   */
  explainLoss(r: InFlight): { type: string; status: number; detail: string; charged: boolean } | undefined;
}

export interface InFlight {
  id: number;
  /** where to send the request, when the worker is a pool of processes (cli/worker-pool.ts) */
  origin?: string;
  end(answered: boolean): void;
}

/** No answer of any kind arrived for a long time: the worker cannot make progress. */
export class NoProgress extends Error {
  override name = "NoProgress";
}

class Retryable extends Error {
  constructor(
    readonly type: string, readonly status: number | undefined, detail: string, readonly retryAfterMs?: number,
    /** not charged to the retry budget (a bystander of a worker restart) */
    readonly free = false,
  ) {
    super(detail);
  }
}

/** Retries not charged to the budget, at most (so nothing can loop for ever). */
const MAX_FREE_RETRIES = 8;

class Permanent extends Error {
  constructor(readonly type: string, readonly status: number | undefined, detail: string) {
    super(detail);
  }
}

/** Waits ms, or rejects with the signal's reason when it aborts first. */
export const sleep = (ms: number, signal?: AbortSignal) =>
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

export interface AttemptContext {
  /** the deadline of this attempt, ms */
  timeoutMs?: number;
  worker?: WorkerSupervision;
  /** told whenever any HTTP answer arrives (progress, whatever its status) */
  onAnswer?: () => void;
  /** told of each attempt abandoned at its deadline, as it happens */
  onTimeout?: () => void;
  /** one connection per request (the embedded local worker: http.ts freshAgents) */
  fresh?: boolean;
}

/** The same path and query on another origin (a process of the local worker pool). */
function rebase(url: string, origin: string): string {
  const u = new URL(url);
  return origin + u.pathname + u.search;
}

async function attemptOnce(req: HeadRequest, token: string, signal?: AbortSignal, ctx: AttemptContext = {}): Promise<SvdAnswer> {
  const parse = req.parse ?? ((j: unknown) => SvdAnswerSchema.parse(j));
  let res: HttpAnswer;
  await ctx.worker?.ready();
  if (signal?.aborted) throw signal.reason;
  const flight = ctx.worker?.begin();
  try {
    res = await httpRequest(
      "POST", flight?.origin ? rebase(req.url, flight.origin) : req.url, req.body, { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" }, signal, ctx.timeoutMs, ctx.fresh,
    );
  } catch (e) {
    flight?.end(false);
    if (signal?.aborted) throw e;
    const lost = flight && ctx.worker?.explainLoss(flight);
    if (lost) throw new Retryable(lost.type, lost.status, lost.detail, undefined, !lost.charged);
    if (e instanceof DeadlineExceeded) throw new Retryable("timeout", undefined, e.message);
    const code = (e as { code?: string }).code;
    throw new Retryable("network", undefined, `${(e as Error).message}${code && !(e as Error).message.includes(code) ? ` (${code})` : ""}`);
  }
  flight?.end(true);
  ctx.onAnswer?.();
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

/**
 * One request with retries. Never throws except on abort. `ctx.timeoutMs` overrides the deadline
 * computed from the policy (for a single request in flight).
 */
export async function postWithRetry(
  req: HeadRequest, token: string, policy: RetryPolicy, signal?: AbortSignal,
  onRetry?: (attempt: number, why: string) => void,
  ctx: AttemptContext = {},
): Promise<Outcome> {
  const timeoutMs = ctx.timeoutMs ?? requestDeadlineMs(req.body.byteLength + (req.workBytes ?? 0), req.flops ?? 0, 1, policy.deadline);
  let timeouts = 0;
  let free = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return { ok: true, answer: await attemptOnce(req, token, signal, { ...ctx, timeoutMs }), attempts: attempt + 1, timeouts };
    } catch (e) {
      if (signal?.aborted) throw e;
      if (e instanceof Retryable && e.type === "timeout") {
        timeouts++;
        ctx.onTimeout?.();
      }
      if (e instanceof Retryable && e.free && free < MAX_FREE_RETRIES) free++;
      if (e instanceof Retryable && attempt - free < policy.retries) {
        onRetry?.(attempt + 1 - free, `${e.type}: ${e.message}`);
        await sleep(Math.max(e.retryAfterMs ?? 0, backoffMs(attempt, policy)), signal);
        continue;
      }
      if (e instanceof Retryable || e instanceof Permanent) {
        return { ok: false, type: e.type, status: e.status, detail: e.message, attempts: attempt + 1, timeouts };
      }
      return { ok: false, type: "client", detail: (e as Error).message, attempts: attempt + 1, timeouts };
    }
  }
}

/**
 * Runs every task with at most `concurrency` in flight; `build` makes a task's request lazily (so
 * only the layers in flight are in memory), `done` sees each outcome as it arrives. Each attempt's
 * deadline is requestDeadlineMs(body, flops, concurrency). When no HTTP answer of any kind arrives
 * for `stallAfter` times the largest deadline handed out, the fan-out cancels what is in flight
 * and rejects with NoProgress (tasks that never finished get no outcome).
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
    /** each attempt of t abandoned at its deadline, as it happens (also when the fan-out stops later) */
    onTimeout?: (t: T) => void;
    /** the local worker's supervisor, when the endpoint is the embedded worker */
    worker?: WorkerSupervision;
    /** named in the message when the token is refused (a deployment's URL; undefined for the embedded worker) */
    endpoint?: string;
  },
): Promise<void> {
  const limit = pLimit(opts.concurrency);
  const deadline = opts.policy.deadline ?? DEFAULT_DEADLINE;
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  let lastAnswer = Date.now();
  let largestDeadline = 0;
  let stalled: NoProgress | undefined;
  /** a wrong token fails every request alike: the first 401 stops the fan-out (cli/token.ts) */
  let rejected: TokenRejected | undefined;
  const watchdog = setInterval(() => {
    const quiet = Date.now() - lastAnswer;
    if (largestDeadline > 0 && quiet > deadline.stallAfter * largestDeadline && !stalled) {
      stalled = new NoProgress(
        `no answer from the worker for ${(quiet / 1000).toFixed(0)} s (${deadline.stallAfter}× the largest request deadline, ` +
          `${(largestDeadline / 1000).toFixed(0)} s): it is not making progress, so the scan stops`,
      );
      stop.abort(stalled);
    }
  }, Math.min(1000, Math.max(50, deadline.baseMs * deadline.scale / 10)));
  try {
    await Promise.all(
      tasks.map((t) =>
        limit(async () => {
          if (signal.aborted) return;
          let outcome: Outcome;
          try {
            const req = await opts.build(t);
            if ("outcome" in req) {
              // answered without an upload (a stored result was found): progress all the same
              outcome = req.outcome;
              lastAnswer = Date.now();
            } else {
              const timeoutMs = requestDeadlineMs(req.body.byteLength + (req.workBytes ?? 0), req.flops ?? 0, opts.concurrency, deadline);
              largestDeadline = Math.max(largestDeadline, timeoutMs);
              outcome = await postWithRetry(req, opts.token, opts.policy, signal, (a, why) => opts.onRetry?.(t, a, why), {
                timeoutMs, worker: opts.worker, fresh: opts.worker !== undefined && !process.env.HEADSCOPE_LOCAL_KEEPALIVE,
                onAnswer: () => (lastAnswer = Date.now()), onTimeout: () => opts.onTimeout?.(t),
              });
            }
          } catch (e) {
            if (signal.aborted) return;
            outcome = { ok: false, type: "client", detail: (e as Error).message, attempts: 1, timeouts: 0 };
          }
          if (!outcome.ok && outcome.type === "unauthorized") {
            if (!rejected) {
              rejected = new TokenRejected(opts.endpoint, outcome.detail);
              stop.abort(rejected);
            }
            return;
          }
          if (rejected) return;
          opts.done(t, outcome);
        }),
      ),
    );
  } finally {
    clearInterval(watchdog);
  }
  if (rejected) throw rejected;
  if (stalled && !opts.signal?.aborted) throw stalled;
}
