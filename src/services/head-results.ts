/**
 * @module services/head-results
 * Stored head results (POST and GET …/heads/{head}/{qk|ov}): the content address (SHA-256 of the
 * body), the re-post policy (identical input: the stored result, not computed again), the conflict
 * policy (a different input for the same head and variant: 409 unless `overwrite`), and which variant
 * a GET without `?variant=` means. Storage goes through ResultStore; never imports Hono.
 */
import { Conflict, ResultNotFound, SeveralVariantsStored } from "../errors";
import type { Kernels } from "../kernels/types";
import type { ReadoutBasisStore } from "../storage/readout-basis-store";
import type { ResultStore } from "../storage/result-store";
import type { HeadOptions, HeadPath, VariantName } from "../wire/head-request";
import { parseSafetensors } from "../wire/safetensors";
import type { SvdSummary } from "../wire/svd-result";
import { decomposeHead } from "./decompose-head";
import { DEFAULT_READOUTS, headReadouts, type ReadoutAsk } from "./head-readouts";
import { resolveVariantName } from "./head-factors";
import { readHeadWeights } from "./head-weights";
import { sha256Hex } from "./sha256";
import { summaryMetadata } from "./summarize-model";

/** How a stored summary keeps its vectors, in the POST option's terms (`vectors=f32|f16|none`). */
export const vectorsPolicyOf = (s: SvdSummary): "f32" | "f16" | "none" => (s.vectors === null ? "none" : s.vectors.dtype.U === "F16" ? "f16" : "f32");

const where = (p: HeadPath) => `${p.model} layer ${p.layer} head ${p.head} ${p.circuit}`;

/**
 * The variant a request without `?variant=` means: the only one stored. `undefined` when none is
 * stored (the caller decides whether that is a 404 or a request for weights).
 * @throws SeveralVariantsStored when more than one is stored
 */
export async function onlyStoredVariant(store: Pick<ResultStore, "listVariants">, path: HeadPath): Promise<VariantName | undefined> {
  const stored = await store.listVariants(path);
  if (stored.length > 1) throw new SeveralVariantsStored(stored);
  return stored[0];
}

/** The stored summary a GET addresses (the variant asked for, or the only one stored). */
export async function storedHead(store: ResultStore, path: HeadPath, asked: VariantName | undefined, sha256?: string): Promise<SvdSummary> {
  const variant = asked ?? (await onlyStoredVariant(store, path));
  if (!variant) throw new ResultNotFound(`no result stored for ${where(path)}`);
  const summary = await store.getSummary(path, variant);
  if (!summary) throw new ResultNotFound(`no ${variant} result stored for ${where(path)}`);
  // addressed by input hash too: the answer at such a URL never changes (http/cache.ts)
  if (sha256 && summary.input.sha256 !== sha256) throw new ResultNotFound(`no ${variant} result of input ${sha256} stored for ${where(path)}`);
  return summary;
}

/** The stored U, S, V of a head, with the summary that describes them. */
export async function storedVectors(store: ResultStore, path: HeadPath, asked: VariantName | undefined, sha256?: string) {
  const summary = await storedHead(store, path, asked, sha256);
  if (summary.vectors === null) {
    throw new ResultNotFound(`the ${summary.variant.name} result of ${where(path)} was stored without vectors (vectors=none)`);
  }
  const object = await store.getObject(summary.vectors.key);
  if (!object) throw new ResultNotFound(`vectors ${summary.vectors.key} are missing`);
  return { summary, body: object.body };
}

/**
 * Whether a stored result already answers a request's readouts: not asked (0), or the same N and k,
 * or nothing to add (no basis stored for the model).
 */
async function readoutsAnswered(previous: SvdSummary, ask: ReadoutAsk, basisStore: ReadoutBasisStore): Promise<boolean> {
  if (ask.vectors === 0) return true;
  const r = previous.readouts;
  const basis = await basisStore.getBasis(previous.model);
  if (!basis || basis.d_model !== previous.d_model) return true;
  if (!r) return false;
  const R = previous.singular_values.length;
  return r.vectors === (ask.vectors === "all" ? R : Math.min(ask.vectors, R)) && r.k === Math.min(ask.k, basis.vocab);
}

/**
 * Computes and stores one head's SVD from a safetensors body, or returns the stored result when the
 * identical body was stored before (`computed: false`; computed again when the stored one lacks the
 * readouts asked for and the model's readout basis is stored). With a readout basis, the summary
 * carries the token readouts of the leading `readouts` singular vectors (services/head-readouts.ts).
 * @throws Conflict when a different input is stored for this head and variant and `overwrite` is not set
 */
export async function postHead(
  store: ResultStore,
  kernels: Kernels,
  path: HeadPath,
  body: Uint8Array,
  options: HeadOptions,
  basisStore: ReadoutBasisStore,
): Promise<{ summary: SvdSummary; computed: boolean }> {
  const parsed = parseSafetensors(body);
  const variant = resolveVariantName(path.circuit, new Set(parsed.tensors.keys()), options);
  const sha256 = await sha256Hex(body);
  const previous = await store.getSummary(path, variant);
  const policy = options.vectors ?? "f32";
  const ask: ReadoutAsk = { vectors: options.readouts ?? DEFAULT_READOUTS.vectors, k: options.readout_k ?? DEFAULT_READOUTS.k };
  if (previous && previous.input.sha256 === sha256) {
    if (vectorsPolicyOf(previous) === policy) {
      if (await readoutsAnswered(previous, ask, basisStore)) return { summary: previous, computed: false };
    } else if (!options.overwrite) {
      throw new Conflict(
        `this input's result is stored with vectors=${vectorsPolicyOf(previous)}, not ${policy}; POST with ?overwrite=true to replace it`,
        { stored_sha256: previous.input.sha256, sha256, stored_vectors: vectorsPolicyOf(previous), vectors: policy },
      );
    }
  }
  if (previous && previous.input.sha256 !== sha256 && !options.overwrite) {
    throw new Conflict(
      `a result from a different input (sha256 ${previous.input.sha256}) is stored for this head and variant; ` +
        "POST with ?overwrite=true to replace it",
      { stored_sha256: previous.input.sha256, sha256 },
    );
  }
  const weights = readHeadWeights(path.circuit, parsed);
  const input = { sha256, bytes: body.byteLength };
  const key = store.vectorsKey(path, variant, sha256, policy === "f16" ? "F16" : "F32");
  const { summary, vectors, svd } = decomposeHead(kernels, path, weights, options, input, key);
  if (ask.vectors !== 0) summary.readouts = await headReadouts(basisStore, kernels, path.model, path.circuit, summary.variant, weights, svd, ask);
  await store.put(path, summary, vectors, previous, summaryMetadata(summary));
  return { summary, computed: true };
}
