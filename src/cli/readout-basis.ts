/**
 * @module cli/readout-basis
 * Builds a model's token readout basis from its checkpoint and uploads it once (wire/readout-basis.ts):
 * the embedding rows normalised as the attention norm does (LayerNorm: z = (e − mean e)/√(var e + ε);
 * RMSNorm: e/√(mean e² + ε)), the unembedding rows (lm_head / embed_out, or the embedding when tied)
 * times the final norm's γ and, after a final LayerNorm, centred over d_model, and the token strings
 * decoded one id at a time by the model's tokenizer (null without one). Both matrices go as F16 row
 * chunks of ≤ 8 MiB, content-addressed; the manifest goes last. Chunks are computed again for the
 * upload rather than held, so a large vocabulary never sits in memory whole.
 */
import { createHash } from "node:crypto";
import type { Architecture } from "./architectures";
import type { Checkpoint } from "./checkpoint";
import { httpRequest } from "./http";
import { loadTokenizer } from "../model/tokenizer";
import { toF16 } from "../wire/safetensors";
import { ReadoutBasisAnswerSchema, type BasisMatrix, type ReadoutBasis, type ReadoutBasisAnswer } from "../wire/readout-basis";

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

export interface BuiltBasis {
  basis: ReadoutBasis;
  /** every blob's bytes, computed again on demand */
  blobs: Array<{ sha256: string; format: "f16" | "tokens"; bytes: () => Uint8Array }>;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function f16Rows(rows: Float64Array, cols: number): Uint8Array {
  const out = new Uint8Array(rows.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < rows.length; i++) dv.setUint16(2 * i, toF16(rows[i]), true);
  void cols;
  return out;
}

/**
 * The basis of a checkpoint, or a reason why there is none (no token embedding, or one whose width
 * is not d_model).
 */
export function buildReadoutBasis(ckpt: Checkpoint, arch: Architecture, checkpointPath: string, chunkRows?: number): BuiltBasis | { none: string } {
  const f = arch.facts;
  const d = f.d_model;
  const names = ckpt.names();
  const embName = names.find((n) => EMBEDDING.test(n) && !/\.(h|layers|layer)\.\d+\./.test(n));
  if (!embName) return { none: "the checkpoint has no token embedding (wte, embed_in or embed_tokens)" };
  const prefix = EMBEDDING.exec(embName)![1];
  const [vocab, width] = ckpt.info(embName).shape;
  if (width !== d) return { none: `${embName} is [${vocab}, ${width}], not [vocab, ${d}]` };
  const eps = f.norm_eps ?? (f.norm === "rmsnorm" ? 1e-6 : 1e-5);
  const rms = f.norm === "rmsnorm";
  const embedding: MatrixPlan = {
    source: `${embName}, ${rms ? "RMS-normalised" : "LayerNorm-normalised"} rows (ε = ${eps})`,
    rows(r0, r1) {
      const e = ckpt.readRows(embName, r0, r1);
      const z = new Float64Array(e.length);
      for (let t = 0; t < r1 - r0; t++) {
        let mean = 0;
        if (!rms) {
          for (let i = 0; i < d; i++) mean += e[t * d + i];
          mean /= d;
        }
        let sq = 0;
        for (let i = 0; i < d; i++) sq += (e[t * d + i] - mean) ** 2;
        const inv = 1 / Math.sqrt(sq / d + eps);
        for (let i = 0; i < d; i++) z[t * d + i] = (e[t * d + i] - mean) * inv;
      }
      return f16Rows(z, d);
    },
  };
  // the unembedding: its own tensor, or the embedding when tied (the config says so, or says nothing)
  let unName = UNEMBEDDING.find((n) => ckpt.has(n));
  const tiedAllowed = ckpt.config?.tie_word_embeddings !== false;
  let tied = false;
  if (!unName && tiedAllowed) {
    unName = embName;
    tied = true;
  }
  let unembedding: MatrixPlan | undefined;
  if (unName && ckpt.info(unName).shape[0] === vocab && ckpt.info(unName).shape[1] === d) {
    const normName = FINAL_NORMS.map((n) => `${prefix}${n}.weight`).find((n) => ckpt.has(n));
    const gamma = normName ? ckpt.read(normName) : undefined;
    const centre = !rms;
    const src = unName;
    unembedding = {
      source: `${src}${tied ? " (tied)" : ""}${gamma ? ` × ${normName}` : ""}${centre ? ", centred over d_model" : ""}`,
      rows(r0, r1) {
        const w = ckpt.readRows(src, r0, r1);
        const out = new Float64Array(w.length);
        for (let t = 0; t < r1 - r0; t++) {
          let mean = 0;
          for (let i = 0; i < d; i++) {
            const x = w[t * d + i] * (gamma ? gamma[i] : 1);
            out[t * d + i] = x;
            mean += x;
          }
          mean /= d;
          if (centre) for (let i = 0; i < d; i++) out[t * d + i] -= mean;
        }
        return f16Rows(out, d);
      },
    };
  }
  const per = chunkRows ?? defaultChunkRows(d);
  const blobs: BuiltBasis["blobs"] = [];
  const chunksOf = (m: MatrixPlan): BasisMatrix => {
    const chunks: BasisMatrix["chunks"] = [];
    for (let r0 = 0; r0 < vocab; r0 += per) {
      const r1 = Math.min(vocab, r0 + per);
      const h = sha(m.rows(r0, r1));
      chunks.push({ sha256: h, rows: r1 - r0 });
      blobs.push({ sha256: h, format: "f16", bytes: () => m.rows(r0, r1) });
    }
    return { source: m.source, dtype: "F16", chunks };
  };
  const emb = chunksOf(embedding);
  const un = unembedding ? chunksOf(unembedding) : null;
  let tokens: ReadoutBasis["tokens"] = null;
  const tok = loadTokenizer(checkpointPath, f.architecture, ckpt.config);
  if (tok) {
    const list = Array.from({ length: vocab }, (_, id) => {
      try {
        return tok.decode([id]);
      } catch {
        return null;
      }
    });
    const bytes = new TextEncoder().encode(JSON.stringify(list));
    const h = sha(bytes);
    tokens = { source: tok.source, sha256: h };
    blobs.push({ sha256: h, format: "tokens", bytes: () => bytes });
  }
  const body = { schema: "headscope.readout-basis/v1" as const, d_model: d, vocab, norm: f.norm, eps, embedding: emb, unembedding: un, tokens };
  return { basis: { ...body, sha256: sha(new TextEncoder().encode(JSON.stringify(body))) }, blobs };
}

/** Uploads a basis unless the same one is stored; returns the stored manifest and whether this call stored it. */
export async function uploadReadoutBasis(endpoint: string, token: string, model: string, built: BuiltBasis): Promise<{ answer: ReadoutBasisAnswer; uploaded: boolean; bytesSent: number }> {
  const url = `${endpoint}/v1/models/${encodeURIComponent(model)}/readout-basis`;
  const auth = { authorization: `Bearer ${token}` };
  const have = await httpRequest("GET", url, undefined, {}, undefined, 60_000, true);
  if (have.status === 200) {
    const a = ReadoutBasisAnswerSchema.parse(JSON.parse(have.text));
    if (a.sha256 === built.basis.sha256) return { answer: a, uploaded: false, bytesSent: 0 };
  }
  let bytesSent = 0;
  for (const b of built.blobs) {
    const bytes = b.bytes();
    const r = await httpRequest("PUT", `${url}/blobs/${b.sha256}?format=${b.format}`, bytes, { ...auth, "content-type": "application/octet-stream" }, undefined, 300_000, true);
    if (r.status !== 200 && r.status !== 201) throw new Error(`PUT readout blob ${b.sha256}: ${r.status} ${r.text.slice(0, 300)}`);
    bytesSent += bytes.byteLength;
  }
  const body = new TextEncoder().encode(JSON.stringify(built.basis));
  const r = await httpRequest("PUT", url, body, { ...auth, "content-type": "application/json" }, undefined, 300_000, true);
  if (r.status !== 200 && r.status !== 201) throw new Error(`PUT readout basis: ${r.status} ${r.text.slice(0, 300)}`);
  return { answer: ReadoutBasisAnswerSchema.parse(JSON.parse(r.text)), uploaded: true, bytesSent };
}
