/**
 * @module services/head-weights
 * Turns the tensors of a request body into one head's weights, checking names, shapes and values:
 * W_Q, W_K, W_V [d_model, d_head], W_O [d_head, d_model], b_Q, b_K [d_head], ln_w, ln_b [d_model]
 * (TransformerLens orientation, method §1). Every failure names the tensor and the expected and
 * actual shapes.
 */
import { InvalidRequest, MissingTensor, NonFiniteInput, ShapeMismatch } from "../errors";
import { HEAD_TENSORS, LIMITS, type Circuit } from "../wire/head-request";
import { decodeFloat, type ParsedSafetensors } from "../wire/safetensors";

export type Vec = Float32Array | Float64Array;

export interface HeadWeights {
  circuit: Circuit;
  dModel: number;
  dHead: number;
  /** qk: W_Q; ov: W_V — [d_model, d_head] row-major */
  read: Vec;
  /** qk: W_K [d_model, d_head]; ov: W_O [d_head, d_model] — row-major, as sent */
  other: Vec;
  bQ?: Vec;
  bK?: Vec;
  lnW?: Vec;
  lnB?: Vec;
  dtypes: Record<string, string>;
}

const fmt = (s: number[]) => `[${s.join(", ")}]`;

export function readHeadWeights(circuit: Circuit, parsed: ParsedSafetensors): HeadWeights {
  const { required, optional } = HEAD_TENSORS[circuit];
  const known = new Set([...required, ...optional]);
  for (const name of parsed.tensors.keys()) {
    if (!known.has(name)) {
      throw new InvalidRequest(`unexpected tensor ${name} for circuit ${circuit}; expected ${[...required, ...optional].join(", ")}`, {
        tensor: name,
      });
    }
  }
  for (const name of required) {
    if (!parsed.tensors.has(name)) {
      throw new MissingTensor(`circuit ${circuit} needs tensor ${name}; body has ${[...parsed.tensors.keys()].join(", ") || "no tensors"}`, {
        tensor: name,
      });
    }
  }
  const [readName, otherName] = required;
  const readT = parsed.tensors.get(readName)!;
  if (readT.shape.length !== 2) {
    throw new ShapeMismatch(`${readName} must be [d_model, d_head], got ${fmt(readT.shape)}`, { tensor: readName, shape: readT.shape });
  }
  const [dModel, dHead] = readT.shape;
  if (dModel < 1 || dHead < 1) throw new ShapeMismatch(`${readName} is empty: ${fmt(readT.shape)}`, { tensor: readName, shape: readT.shape });
  if (dModel > LIMITS.maxDModel || dHead > LIMITS.maxDHead || dModel * dHead > LIMITS.maxFactorElements) {
    throw new ShapeMismatch(
      `${readName} ${fmt(readT.shape)} exceeds the limits d_model ≤ ${LIMITS.maxDModel}, d_head ≤ ${LIMITS.maxDHead}, d_model·d_head ≤ ${LIMITS.maxFactorElements}`,
      { tensor: readName, shape: readT.shape, limits: LIMITS },
    );
  }
  const expected: Record<string, number[]> = {
    W_Q: [dModel, dHead], W_K: [dModel, dHead], W_V: [dModel, dHead], W_O: [dHead, dModel],
    b_Q: [dHead], b_K: [dHead], ln_w: [dModel], ln_b: [dModel],
  };
  const dtypes: Record<string, string> = {};
  const get = (name: string): Vec | undefined => {
    const t = parsed.tensors.get(name);
    if (!t) return undefined;
    const want = expected[name];
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new ShapeMismatch(`${name} must be ${fmt(want)} (d_model ${dModel}, d_head ${dHead} from ${readName}), got ${fmt(t.shape)}`, {
        tensor: name, expected: want, actual: t.shape,
      });
    }
    const data = decodeFloat(t);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new NonFiniteInput(`${name} holds ${data[i]} at flat index ${i}`, { tensor: name, index: i });
      }
    }
    dtypes[name] = t.dtype;
    return data;
  };
  return {
    circuit, dModel, dHead,
    read: get(readName)!,
    other: get(otherName)!,
    bQ: get("b_Q"), bK: get("b_K"), lnW: get("ln_w"), lnB: get("ln_b"),
    dtypes,
  };
}
