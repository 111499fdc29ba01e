/**
 * @module services/activation-files
 * What the activation store accepts and how a SAD request reads from it: an uploaded file must be a
 * valid safetensors file whose tensors are all `layer.{l}` or a single `X`, each `[T, d]` or
 * `[B, T, d]` (all with the same d), in a float dtype, finite everywhere, optionally with `lengths`
 * I32 [B] for prompts of different lengths (right-padded) — checked whole before
 * anything is stored (then one write, through ResultStore). A SAD request that names a stored file
 * picks one tensor from it (`layer=L`, or `tensor=NAME`, or the only one). No Hono.
 */
import { InvalidRequest, MissingTensor, NonFiniteInput, ResultNotFound, ShapeMismatch, UnsupportedDtype } from "../errors";
import type { ResultStore } from "../storage/result-store";
import { ACTIVATION_LENGTHS, ACTIVATION_TENSOR, activationTensorName, type ActivationAnswer } from "../wire/activations";
import { sha256Hex } from "./sha256";
import { decodeFloat, firstNonFinite, FLOAT_DTYPES, parseSafetensors, type ParsedSafetensors, type TensorView } from "../wire/safetensors";

export interface ActivationIndex {
  tensors: Record<string, { dtype: string; shape: number[] }>;
}

const fmt = (s: number[]) => `[${s.join(", ")}]`;

/**
 * Validates an activation file and lists its tensors.
 * @throws MalformedSafetensors, InvalidRequest (names), ShapeMismatch, UnsupportedDtype, NonFiniteInput
 */
export function validateActivationFile(body: Uint8Array): { parsed: ParsedSafetensors; index: ActivationIndex } {
  const parsed = parseSafetensors(body);
  const lengths = parsed.tensors.get(ACTIVATION_LENGTHS);
  const names = [...parsed.tensors.keys()].filter((n) => n !== ACTIVATION_LENGTHS);
  if (names.length === 0) throw new MissingTensor("the activation file holds no tensor; expected layer.{l} tensors or one X", { tensor: "X" });
  for (const n of names) {
    if (!ACTIVATION_TENSOR.test(n)) {
      throw new InvalidRequest(`unexpected tensor ${n}; an activation file holds layer.{l} tensors (l = layer index) or one X`, { tensor: n });
    }
  }
  if (parsed.tensors.has("X") && names.length > 1) {
    throw new InvalidRequest("an activation file holds either one X or layer.{l} tensors, not both", { tensor: "X" });
  }
  let width: number | undefined;
  const index: ActivationIndex = { tensors: {} };
  for (const t of parsed.tensors.values()) {
    if (t.name === ACTIVATION_LENGTHS) continue;
    if (!(FLOAT_DTYPES as readonly string[]).includes(t.dtype)) {
      throw new UnsupportedDtype(`tensor ${t.name} has dtype ${t.dtype}; accepted: ${FLOAT_DTYPES.join(", ")}`, { tensor: t.name, dtype: t.dtype });
    }
    const s = t.shape;
    if ((s.length !== 2 && s.length !== 3) || s.some((x) => x < 1)) {
      throw new ShapeMismatch(`${t.name} must be [T, d] or [B, T, d] with every dimension ≥ 1, got ${fmt(s)}`, { tensor: t.name, actual: s });
    }
    const d = s[s.length - 1];
    if (width !== undefined && d !== width) {
      throw new ShapeMismatch(`${t.name} has ${d} columns, the file's other tensors ${width}`, { tensor: t.name, actual: s });
    }
    width = d;
    requireFinite(t);
    index.tensors[t.name] = { dtype: t.dtype, shape: s };
  }
  if (lengths) {
    for (const n of names) {
      const s = parsed.tensors.get(n)!.shape;
      if (s.length !== 3) throw new ShapeMismatch(`${ACTIVATION_LENGTHS} goes with [B, T, d] tensors; ${n} is ${fmt(s)}`, { tensor: n, actual: s });
      readLengths(lengths, s[0], s[1]);
    }
    index.tensors[ACTIVATION_LENGTHS] = { dtype: lengths.dtype, shape: lengths.shape };
  }
  return { parsed, index };
}

/**
 * lengths I32 [B]: prompt b holds tokens 0..lengths[b]−1, each 1 ≤ lengths[b] ≤ T.
 * @throws UnsupportedDtype, ShapeMismatch
 */
export function readLengths(t: TensorView, batch: number, tokens: number): Int32Array {
  if (t.dtype !== "I32") throw new UnsupportedDtype(`${t.name} must be I32 [B], got ${t.dtype}`, { tensor: t.name, dtype: t.dtype });
  if (t.shape.length !== 1 || t.shape[0] !== batch) {
    throw new ShapeMismatch(`${t.name} must be [${batch}] (one length per prompt), got ${fmt(t.shape)}`, { tensor: t.name, actual: t.shape });
  }
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    out[b] = dv.getInt32(4 * b, true);
    if (!(out[b] >= 1 && out[b] <= tokens)) {
      throw new ShapeMismatch(`${t.name}[${b}] = ${out[b]} is outside 1..${tokens}`, { tensor: t.name, actual: t.shape });
    }
  }
  return out;
}

function requireFinite(t: TensorView): void {
  const v = decodeFloat(t);
  const i = firstNonFinite(v);
  if (i >= 0) throw new NonFiniteInput(`${t.name} holds ${v[i]} at flat index ${i}`, { tensor: t.name, index: i });
}

/**
 * The tensor a SAD request reads from a stored activation file: `layer.{layer}` when a layer is named,
 * `tensor` when a name is given, else the file's only tensor.
 */
export function pickActivationTensor(parsed: ParsedSafetensors, id: string, sel: { layer?: number; tensor?: string }): TensorView {
  const names = [...parsed.tensors.keys()].filter((n) => n !== ACTIVATION_LENGTHS);
  if (sel.layer !== undefined && sel.tensor !== undefined) {
    throw new InvalidRequest("choose the stored tensor with layer= or tensor=, not both", { parameter: "tensor" });
  }
  const name = sel.layer !== undefined ? activationTensorName(sel.layer) : sel.tensor;
  if (name === undefined) {
    if (names.length !== 1) {
      throw new InvalidRequest(`activation file ${id} holds ${names.length} tensors (${names.join(", ")}); choose one with layer= or tensor=`, {
        parameter: "layer",
      });
    }
    return parsed.tensors.get(names[0])!;
  }
  const t = parsed.tensors.get(name);
  if (!t) {
    throw new MissingTensor(`activation file ${id} has no tensor ${name} (it holds ${names.join(", ")})`, { tensor: name });
  }
  return t;
}

/** Validates an uploaded activation file whole, then stores it under its SHA-256 (once). */
export async function storeActivations(store: ResultStore, body: Uint8Array): Promise<ActivationAnswer> {
  const { index } = validateActivationFile(body);
  const id = await sha256Hex(body);
  const stored = await store.putActivations(id, body);
  return { schema: "headscope.activations/v1", id, bytes: body.byteLength, tensors: index.tensors, stored, links: { self: `/v1/activations/${id}` } };
}

/** A stored activation file's object. @throws ResultNotFound */
export async function storedActivations(store: ResultStore, id: string): Promise<R2ObjectBody> {
  const obj = await store.getActivations(id);
  if (!obj) throw new ResultNotFound(`no activation file ${id} is stored (POST /v1/activations first)`);
  return obj;
}
