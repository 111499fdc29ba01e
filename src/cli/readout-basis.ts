/**
 * @module cli/readout-basis
 * Builds a model's token readout basis from its checkpoint and uploads it once (wire/readout-basis.ts):
 * the embedding rows normalised as the attention norm does (LayerNorm: z = (e − mean e)/√(var e + ε);
 * RMSNorm: e/√(mean e² + ε)), the unembedding rows (lm_head / embed_out, or the embedding when tied)
 * times the final norm's γ and, after a final LayerNorm, centred over d_model, and the token strings
 * decoded one id at a time by the model's tokenizer (null without one). Both matrices go as F16 row
 * chunks of ≤ 8 MiB, content-addressed; the manifest goes last. Chunks are computed one at a time as
 * they are uploaded, so a large vocabulary never sits in memory whole.
 */
import { createHash } from "node:crypto";
import type { Architecture } from "./architectures";
import type { Checkpoint } from "./checkpoint";
import { ServerProblem, type ServerApi } from "./server-api";
import { loadTokenizer } from "../model/tokenizer";
import { ReadoutBasisAnswerSchema, type BasisMatrix, type ReadoutBasis, type ReadoutBasisAnswer } from "../wire/readout-basis";
import { toF16 } from "../wire/safetensors";

const EMBEDDING = /^(.*?)(wte|embed_in|embed_tokens)\.weight$/;
const UNEMBEDDING = ["lm_head.weight", "embed_out.weight"];
const FINAL_NORMS = ["ln_f", "final_layer_norm", "norm"];

/** Rows per chunk so a chunk is at most 8 MiB of F16. */
export const defaultChunkRows = (d: number) => Math.max(1, Math.floor((8 * 1024 * 1024) / (2 * d)));

interface MatrixPlan {
  /** the rows of chunk [r0, r1) as F16 bytes */
  rows(r0: number, r1: number): Uint8Array;
  source: string;
}

/** A basis ready to upload: what it is (and its identity), its chunks computed on demand. */
export interface BuiltBasis {
  /** the manifest without its chunk lists (filled in as the chunks are computed) */
  facts: Omit<ReadoutBasis, "embedding" | "unembedding" | "tokens"> & { embedding: string; unembedding: string | null };
  vocab: number;
  chunkRows: number;
  embedding: MatrixPlan;
  unembedding?: MatrixPlan;
  tokens?: { source: string; bytes: Uint8Array };
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** F16 bits as little-endian bytes. */
const bytesOf = (h: Uint16Array): Uint8Array => new Uint8Array(h.buffer, h.byteOffset, h.byteLength);

/**
 * The checkpoint's token embedding (read from its header only), or why it has none a basis can use:
 * none at all, or one whose width is not d_model.
 */
export function tokenEmbedding(ckpt: Checkpoint, d: number): { name: string; vocab: number } | { none: string } {
  const name = ckpt.names().find((n) => EMBEDDING.test(n) && !/\.(h|layers|layer)\.\d+\./.test(n));
  if (!name) return { none: "the checkpoint has no token embedding (wte, embed_in or embed_tokens)" };
  const [vocab, width] = ckpt.info(name).shape;
  if (width !== d) return { none: `${name} is [${vocab}, ${width}], not [vocab, ${d}]` };
  return { name, vocab };
}

/**
 * The basis of a checkpoint, or a reason why there is none (no token embedding, or one whose width
 * is not d_model). Its identity (`facts.sha256`) hashes the tensors it is built from, the way it is
 * built and the token strings, so a scan compares it with the stored one before computing anything.
 */
export function buildReadoutBasis(ckpt: Checkpoint, arch: Architecture, checkpointPath: string, chunkRows?: number): BuiltBasis | { none: string } {
  const f = arch.facts;
  const d = f.d_model;
  const emb = tokenEmbedding(ckpt, d);
  if ("none" in emb) return emb;
  const { name: embName, vocab } = emb;
  const prefix = EMBEDDING.exec(embName)![1];
  const eps = f.norm_eps ?? (f.norm === "rmsnorm" ? 1e-6 : 1e-5);
  const rms = f.norm === "rmsnorm";
  const hash = createHash("sha256");
  const per = chunkRows ?? defaultChunkRows(d);
  // a chunk of source rows, decoded as readRows decodes them, into one buffer reused chunk after
  // chunk (fresh 16 MB arrays per chunk cost more in page faults than the read itself); F64 rows
  // stay F64, as readRows gives them
  const scratch = new Float32Array(per * d);
  const sourceRows = (name: string, r0: number, r1: number): Float32Array | Float64Array => {
    if (ckpt.info(name).dtype === "F64" || r1 - r0 > per) return ckpt.readRows(name, r0, r1);
    ckpt.readRowsInto(name, r0, r1, scratch, 0);
    return scratch.subarray(0, (r1 - r0) * d);
  };
  const embedding: MatrixPlan = {
    source: `${embName}, ${rms ? "RMS-normalised" : "LayerNorm-normalised"} rows (ε = ${eps})`,
    rows(r0, r1) {
      const e = sourceRows(embName, r0, r1);
      const z = new Uint16Array(e.length); // F16 straight from each value (toF16 rounds to float32 first)
      for (let t = 0; t < r1 - r0; t++) {
        let mean = 0;
        if (!rms) {
          for (let i = 0; i < d; i++) mean += e[t * d + i];
          mean /= d;
        }
        let sq = 0;
        for (let i = 0; i < d; i++) {
          const c = e[t * d + i] - mean;
          sq += c * c;
        }
        const inv = 1 / Math.sqrt(sq / d + eps);
        for (let i = 0; i < d; i++) z[t * d + i] = toF16((e[t * d + i] - mean) * inv);
      }
      return bytesOf(z);
    },
  };
  // the unembedding: its own tensor, or the embedding when tied (the config says so, or says nothing)
  let unName = UNEMBEDDING.find((n) => ckpt.has(n));
  let tied = false;
  if (!unName && ckpt.config?.tie_word_embeddings !== false) {
    unName = embName;
    tied = true;
  }
  let unembedding: MatrixPlan | undefined;
  const sources = [embName];
  if (unName && ckpt.info(unName).shape[0] === vocab && ckpt.info(unName).shape[1] === d) {
    const normName = FINAL_NORMS.map((n) => `${prefix}${n}.weight`).find((n) => ckpt.has(n));
    const gamma = normName ? ckpt.read(normName) : undefined;
    if (gamma) hash.update(new Uint8Array(Float64Array.from(gamma).buffer));
    if (!tied) sources.push(unName);
    const centre = !rms;
    const src = unName;
    unembedding = {
      source: `${src}${tied ? " (tied)" : ""}${gamma ? ` × ${normName}` : ""}${centre ? ", centred over d_model" : ""}`,
      rows(r0, r1) {
        const w = sourceRows(src, r0, r1);
        const out = new Uint16Array(w.length);
        const x = new Float64Array(d);
        for (let t = 0; t < r1 - r0; t++) {
          let mean = 0;
          for (let i = 0; i < d; i++) mean += x[i] = w[t * d + i] * (gamma ? gamma[i] : 1);
          mean = centre ? mean / d : 0;
          for (let i = 0; i < d; i++) out[t * d + i] = toF16(x[i] - mean);
        }
        return bytesOf(out);
      },
    };
  }
  // identity: the source tensors' values, read a chunk at a time
  for (const name of sources) {
    for (let r0 = 0; r0 < vocab; r0 += per) {
      const v = sourceRows(name, r0, Math.min(vocab, r0 + per));
      hash.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
  }
  let tokens: BuiltBasis["tokens"];
  const tok = loadTokenizer(checkpointPath, f.architecture, ckpt.config);
  if (tok) {
    const list = Array.from({ length: vocab }, (_, id) => {
      try {
        return tok.decode([id]);
      } catch {
        return null;
      }
    });
    tokens = { source: tok.source, bytes: new TextEncoder().encode(JSON.stringify(list)) };
    hash.update(tokens.bytes);
  }
  const described = {
    schema: "headscope.readout-basis/v1" as const, d_model: d, vocab, norm: f.norm, eps,
    embedding: embedding.source, unembedding: unembedding?.source ?? null, tokens: tokens?.source ?? null, chunk_rows: per, f16: "round to nearest even from float32",
  };
  hash.update(JSON.stringify(described));
  const { schema, norm } = described;
  return {
    facts: { schema, d_model: d, vocab, norm, eps, embedding: embedding.source, unembedding: unembedding?.source ?? null, sha256: hash.digest("hex") },
    vocab, chunkRows: per, embedding, unembedding, tokens,
  };
}

/**
 * Uploads a basis unless the same one is stored (one GET); returns the stored manifest and whether
 * this call stored it. The calls go through the CLI's one retrying caller (server-api.ts): each has
 * the deadline of a request of its size (scaled by --deadline-scale) and is retried like the heads'
 * requests (network errors, deadlines, 429 and 5xx, full-jitter backoff); a 401 stops the scan with
 * the one message about the token. The blobs are content-addressed and the manifest is the same
 * bytes, so a repeated PUT changes nothing.
 */
export async function uploadReadoutBasis(
  api: ServerApi, model: string, built: BuiltBasis,
): Promise<{ answer: ReadoutBasisAnswer; uploaded: boolean; bytesSent: number }> {
  const path = `/v1/models/${encodeURIComponent(model)}/readout-basis`;
  try {
    const a = ReadoutBasisAnswerSchema.parse((await api.call("GET", path)).body);
    if (a.sha256 === built.facts.sha256) return { answer: a, uploaded: false, bytesSent: 0 };
  } catch (e) {
    if (!(e instanceof ServerProblem && e.status === 404)) throw e; // none stored yet
  }
  let bytesSent = 0;
  const put = async (bytes: Uint8Array, format: "f16" | "tokens") => {
    const h = sha(bytes);
    await api.call("PUT", `${path}/blobs/${h}?format=${format}`, bytes);
    bytesSent += bytes.byteLength;
    return h;
  };
  /** A matrix's chunks, each built while the one before it is sent and stored (one PUT in flight). */
  const upload = async (m: MatrixPlan): Promise<BasisMatrix> => {
    const chunks: BasisMatrix["chunks"] = [];
    let sending: Promise<void> = Promise.resolve();
    try {
      for (let r0 = 0; r0 < built.vocab; r0 += built.chunkRows) {
        const r1 = Math.min(built.vocab, r0 + built.chunkRows);
        const bytes = m.rows(r0, r1);
        await sending;
        const at = chunks.length;
        chunks.push({ sha256: "", rows: r1 - r0 });
        sending = put(bytes, "f16").then((h) => void (chunks[at].sha256 = h));
      }
      await sending;
    } catch (e) {
      await sending.catch(() => undefined); // nothing left running when this throws
      throw e;
    }
    return { source: m.source, dtype: "F16", chunks };
  };
  const { embedding: _e, unembedding: _u, ...facts } = built.facts;
  const basis: ReadoutBasis = {
    ...facts,
    embedding: await upload(built.embedding),
    unembedding: built.unembedding ? await upload(built.unembedding) : null,
    tokens: built.tokens ? { source: built.tokens.source, sha256: await put(built.tokens.bytes, "tokens") } : null,
  };
  const r = await api.call("PUT", path, basis);
  return { answer: ReadoutBasisAnswerSchema.parse(r.body), uploaded: true, bytesSent };
}
