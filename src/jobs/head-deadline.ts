/**
 * @module jobs/head-deadline
 * The queue consumer's deadline for one head of a server-side scan, by the policy every request of
 * the CLI has (src/deadlines.ts), so a head whose work never ends (a read that never answers, a
 * stuck computation that yields) cannot hold its batch, and with it the queue, for ever: past the
 * deadline the consumer stops waiting and the message is retried with backoff, then dead-lettered
 * and recorded failed (consumer.ts).
 *
 * The work of one head: the body the consumer builds (two F32 factors of `rows × d_head`), the ranged
 * reads behind it — at most one of the layer's shared `d_model × d_model` matrices (`o_proj`, a fused
 * QKV's share), read once per consumer, counted at 4 bytes a value — and the factored SVD's flops,
 * with the batch's heads in flight together (CONSUMER_CONCURRENCY) on one isolate. A GPT-2 small
 * head gets ≈ 24 s, a Llama-3-8B head ≈ 6 min: floors to catch work that never ends, not to time it.
 */
import { DEFAULT_DEADLINE, requestDeadlineMs } from "../deadlines";
import { svdFlops } from "../cli/plan";

/** heads of one batch in flight together (consumer.ts) */
export const CONSUMER_CONCURRENCY = 4;

export function headDeadlineMs(facts: { d_model: number; d_head: number }, augmented: boolean, scale: number): number {
  const rows = facts.d_model + (augmented ? 1 : 0);
  const bytes = 2 * rows * facts.d_head * 4 + 4 * facts.d_model * facts.d_model;
  return requestDeadlineMs(bytes, svdFlops(rows, facts.d_head), CONSUMER_CONCURRENCY, { ...DEFAULT_DEADLINE, scale });
}

/** SCAN_DEADLINE_SCALE, a positive number (default 1). */
export function deadlineScale(env: { SCAN_DEADLINE_SCALE?: string }): number {
  const x = Number(env.SCAN_DEADLINE_SCALE ?? 1);
  return Number.isFinite(x) && x > 0 ? x : 1;
}
