/**
 * @module cli/stored-check
 * Asks the worker whether a head's result is already stored for exactly this input before uploading
 * it: the CLI hashes the body it would send (SHA-256, the same hash the worker keys results by) and
 * reads the stored summary (`GET …/{qk|ov}?variant=V`, a public read of one KV value). A summary
 * whose `input.sha256` and vectors format match is the answer the POST would give (`computed:
 * false`), so the body is never sent. Anything else — nothing stored, another input, another vectors
 * format, an error — falls through to the POST, which keeps every guarantee (idempotent write, 409
 * on a different input, retries): the check can only save work, never change an outcome.
 */
import { SvdAnswerSchema, type SvdAnswer } from "../wire/svd-result";
import { httpRequest } from "./http";

/** The stored answer for this input, or undefined when the body has to be uploaded. */
export async function storedAnswer(
  url: string, sha256: string, accepts: (a: SvdAnswer) => boolean, signal?: AbortSignal,
  /** the read's deadline (src/deadlines.ts); one that passes falls through to the POST */
  timeoutMs?: number,
): Promise<SvdAnswer | undefined> {
  let res;
  try {
    res = await httpRequest("GET", url, undefined, { accept: "application/json" }, signal, timeoutMs);
  } catch (e) {
    if (signal?.aborted) throw e;
    return undefined; // the POST's retries deal with an unreachable worker
  }
  if (res.status !== 200) return undefined;
  let answer: SvdAnswer;
  try {
    answer = SvdAnswerSchema.parse(JSON.parse(res.text));
  } catch {
    return undefined;
  }
  return answer.input.sha256 === sha256 && accepts(answer) ? { ...answer, computed: false } : undefined;
}
