/**
 * @module services/readout-basis
 * What a readout basis upload must be (PUT …/readout-basis/blobs/{sha256} and PUT …/readout-basis):
 * each blob hashes to its address and is finite F16 rows or a JSON array of token strings; the
 * manifest is accepted only when every blob it names is stored with the size its rows and d_model
 * say, the chunks add up to the vocabulary, and the token list has one entry per row. No Hono.
 */
import { InvalidRequest, NonFiniteInput, ResultNotFound, ShapeMismatch } from "../errors";
import type { ReadoutBasisStore } from "../storage/readout-basis-store";
import type { BasisMatrix, ReadoutBasis, ReadoutBasisAnswer } from "../wire/readout-basis";
import { sha256Hex } from "./sha256";

export async function storeReadoutBlob(store: ReadoutBasisStore, model: string, sha256: string, format: "f16" | "tokens", body: Uint8Array) {
  const actual = await sha256Hex(body);
  if (actual !== sha256) throw new InvalidRequest(`the body's SHA-256 is ${actual}, not ${sha256}`, { sha256, actual });
  if (format === "f16") {
    if (body.byteLength === 0 || body.byteLength % 2) throw new ShapeMismatch(`F16 rows: ${body.byteLength} bytes`);
    const h = new Uint16Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
    for (let i = 0; i < h.length; i++) {
      if ((h[i] & 0x7c00) === 0x7c00) throw new NonFiniteInput(`F16 value ${i} is not finite`, { index: i });
    }
  } else {
    let ok = false;
    try {
      const t = JSON.parse(new TextDecoder().decode(body));
      ok = Array.isArray(t) && t.every((x) => x === null || typeof x === "string");
    } catch {
      /* not JSON */
    }
    if (!ok) throw new InvalidRequest("a tokens blob is a JSON array of strings or nulls");
  }
  const stored = await store.putBlob(model, sha256, body);
  return { sha256, bytes: body.byteLength, stored };
}

async function checkMatrix(store: ReadoutBasisStore, model: string, name: string, m: BasisMatrix, d: number, vocab: number): Promise<number> {
  let rows = 0;
  let bytes = 0;
  for (const c of m.chunks) {
    const size = await store.blobSize(model, c.sha256);
    if (size === undefined) throw new ResultNotFound(`${name} chunk ${c.sha256} is not stored (PUT …/blobs/{sha256} first)`);
    if (size !== c.rows * d * 2) throw new ShapeMismatch(`${name} chunk ${c.sha256}: ${size} bytes, not ${c.rows} × ${d} × 2`);
    rows += c.rows;
    bytes += size;
  }
  if (rows !== vocab) throw new ShapeMismatch(`${name} chunks hold ${rows} rows, the vocabulary ${vocab}`);
  return bytes;
}

/** Stores a model's basis manifest once every blob it names is in place; `stored: false` when the same basis was already stored. */
export async function storeReadoutBasis(store: ReadoutBasisStore, model: string, basis: ReadoutBasis): Promise<ReadoutBasisAnswer> {
  const previous = await store.getBasis(model);
  if (previous && previous.sha256 === basis.sha256) return { ...previous, stored: false };
  let bytes = await checkMatrix(store, model, "embedding", basis.embedding, basis.d_model, basis.vocab);
  if (basis.unembedding) bytes += await checkMatrix(store, model, "unembedding", basis.unembedding, basis.d_model, basis.vocab);
  if (basis.tokens) {
    const raw = await store.getBlob(model, basis.tokens.sha256);
    if (!raw) throw new ResultNotFound(`tokens ${basis.tokens.sha256} are not stored (PUT …/blobs/{sha256} first)`);
    const n = (JSON.parse(new TextDecoder().decode(raw)) as unknown[]).length;
    if (n !== basis.vocab) throw new ShapeMismatch(`the token list has ${n} entries, the vocabulary ${basis.vocab}`);
    bytes += raw.byteLength;
  }
  const answer: ReadoutBasisAnswer = { ...basis, model, bytes };
  await store.putBasis(model, answer);
  return { ...answer, stored: true };
}

export async function storedReadoutBasis(store: ReadoutBasisStore, model: string): Promise<ReadoutBasisAnswer> {
  const b = await store.getBasis(model);
  if (!b) throw new ResultNotFound(`no readout basis stored for ${model}`);
  return b;
}
