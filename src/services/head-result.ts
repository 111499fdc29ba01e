/**
 * @module services/head-result
 * One head's result from a safetensors body, computed at most once: the per-head endpoint
 * (`POST …/heads/{h}/{qk|ov}`) and the server-side scan's queue consumer both call this, so they
 * store under the same keys with the same idempotency — identical input (same SHA-256) returns the
 * stored summary without computing; a different input is a conflict unless `overwrite`.
 */
import { Conflict } from "../errors";
import type { Kernels } from "../kernels/types";
import type { ResultStore } from "../storage/result-store";
import type { HeadOptions, HeadPath } from "../wire/head-request";
import { parseSafetensors } from "../wire/safetensors";
import type { SvdSummary } from "../wire/svd-result";
import { decomposeHead } from "./decompose-head";
import { resolveVariantName } from "./head-factors";
import { readHeadWeights } from "./head-weights";
import { sha256Hex } from "./sha256";
import { summaryMetadata } from "./summarize-model";

export async function headResult(
  kernels: Kernels & { simd?: boolean },
  store: ResultStore,
  path: HeadPath,
  options: HeadOptions,
  body: Uint8Array,
): Promise<{ summary: SvdSummary; computed: boolean }> {
  const parsed = parseSafetensors(body);
  const variant = resolveVariantName(path.circuit, new Set(parsed.tensors.keys()), options);
  const sha256 = await sha256Hex(body);
  const previous = await store.getSummary(path, variant);
  if (previous && previous.input.sha256 === sha256) return { summary: previous, computed: false };
  if (previous && !options.overwrite) {
    throw new Conflict(
      `a result from a different input (sha256 ${previous.input.sha256}) is stored for this head and variant; ` +
        "POST with ?overwrite=true to replace it",
      { stored_sha256: previous.input.sha256, sha256 },
    );
  }
  const weights = readHeadWeights(path.circuit, parsed);
  const { summary, vectors } = decomposeHead(kernels, path, weights, options, { sha256, bytes: body.byteLength });
  await store.put(path, summary, vectors, previous, summaryMetadata(summary));
  return { summary, computed: true };
}
