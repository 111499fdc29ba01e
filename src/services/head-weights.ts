/**
 * @module services/head-weights
 * Turns the tensors of a request body into one head's weights, checking names, shapes and values:
 * W_Q, W_K, W_V [d_model, d_head], W_O [d_head, d_model], b_Q, b_K [d_head], ln_w, ln_b [d_model]
 * (TransformerLens orientation, method §1). Every failure names the tensor and the expected and
 * actual shapes; a tensor in the [out, in] layout of nn.Linear (the reverse of the expected shape, or
 * a reading factor wider than it is tall) is named as transposed (`transposed` extension).
 */
import { InvalidRequest, MissingTensor, NonFiniteInput, ShapeMismatch } from "../errors";
import { HEAD_TENSORS, LIMITS, type Circuit } from "../wire/head-request";
import { decodeFloat, firstNonFinite, halfValue, viewFloat, type HalfBits, type ParsedSafetensors, type TensorView } from "../wire/safetensors";

export type Vec = Float32Array | Float64Array;
/** A factor's values: floats, or half-precision bits that the kernels widen in their own memory. */
export type FactorValues = Vec | HalfBits;

export interface HeadWeights {
  circuit: Circuit;
  dModel: number;
  dHead: number;
  /** qk: W_Q; ov: W_V — [d_model, d_head] row-major */
  read: FactorValues;
  /** qk: W_K [d_model, d_head]; ov: W_O [d_head, d_model] — row-major, as sent */
  other: FactorValues;
  bQ?: Vec;
  bK?: Vec;
  lnW?: Vec;
  lnB?: Vec;
  dtypes: Record<string, string>;
}

const fmt = (s: number[]) => `[${s.join(", ")}]`;

/**
 * Checks the names of a head's tensors before anything else (variant rules included): a name the
 * circuit does not know is refused, and a missing required tensor is reported as missing.
 * @throws InvalidRequest for an unexpected name, MissingTensor naming the first required tensor absent
 */
export function checkHeadTensorNames(circuit: Circuit, names: Iterable<string>): void {
  const { required, optional } = HEAD_TENSORS[circuit];
  const known = new Set([...required, ...optional]);
  const present = new Set(names);
  for (const name of present) {
    if (!known.has(name)) {
      throw new InvalidRequest(`unexpected tensor ${name} for circuit ${circuit}; expected ${[...required, ...optional].join(", ")}`, {
        tensor: name,
      });
    }
  }
  for (const name of required) {
    if (!present.has(name)) {
      throw new MissingTensor(`circuit ${circuit} needs tensor ${name}; body has ${[...present].join(", ") || "no tensors"}`, {
        tensor: name,
      });
    }
  }
}

/** The Hugging Face / PyTorch hint for a tensor that arrived as [out, in]. */
const transposedHint = (name: string, got: number[], want: number[]) =>
  `${name} looks transposed: it is ${fmt(got)}, the [out, in] layout of PyTorch/Hugging Face nn.Linear weights; ` +
  `headscope reads TransformerLens orientation (row vectors, ${name === "W_O" ? "z W_O" : `x ${name}`}), so send ${name}.T, ${fmt(want)}`;

export function readHeadWeights(circuit: Circuit, parsed: ParsedSafetensors): HeadWeights {
  const { required } = HEAD_TENSORS[circuit];
  checkHeadTensorNames(circuit, parsed.tensors.keys());
  const [readName, otherName] = required;
  const readT = parsed.tensors.get(readName)!;
  if (readT.shape.length !== 2) {
    throw new ShapeMismatch(`${readName} must be [d_model, d_head], got ${fmt(readT.shape)}`, { tensor: readName, shape: readT.shape });
  }
  const [dModel, dHead] = readT.shape;
  if (dModel < 1 || dHead < 1) throw new ShapeMismatch(`${readName} is empty: ${fmt(readT.shape)}`, { tensor: readName, shape: readT.shape });
  // a head is narrower than the model: [a, b] with a < b is the [out, in] layout of nn.Linear
  if (dModel < dHead) {
    const other = parsed.tensors.get(otherName)!;
    const also = other.shape.length === 2 && (circuit === "qk" ? other.shape[0] < other.shape[1] : other.shape[0] > other.shape[1]);
    const transposed = also ? [readName, otherName] : [readName];
    throw new ShapeMismatch(
      `${transposedHint(readName, readT.shape, [dHead, dModel])} (read as it is, d_model ${dModel} would be smaller than d_head ${dHead})` +
        (also ? `; ${otherName} ${fmt(other.shape)} looks transposed too` : ""),
      { tensor: readName, shape: readT.shape, transposed },
    );
  }
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
  const get = <T extends FactorValues>(name: string, view: (t: TensorView) => T): T | undefined => {
    const t = parsed.tensors.get(name);
    if (!t) return undefined;
    const want = expected[name];
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      if (want.length === 2 && t.shape.length === 2 && t.shape[0] === want[1] && t.shape[1] === want[0]) {
        throw new ShapeMismatch(transposedHint(name, t.shape, want), { tensor: name, expected: want, actual: t.shape, transposed: [name] });
      }
      throw new ShapeMismatch(`${name} must be ${fmt(want)} (d_model ${dModel}, d_head ${dHead} from ${readName}), got ${fmt(t.shape)}`, {
        tensor: name, expected: want, actual: t.shape,
      });
    }
    const data = view(t);
    const i = firstNonFinite(data);
    if (i >= 0) throw new NonFiniteInput(`${name} holds ${"bits" in data ? halfValue(data, i) : data[i]} at flat index ${i}`, { tensor: name, index: i });
    dtypes[name] = t.dtype;
    return data;
  };
  // the body is the request's own and never written: views, not copies; the factors' half-precision
  // bits stay bits (the kernels widen them into their own memory), the small vectors are decoded
  const vector = (t: TensorView) => decodeFloat(t, true);
  return {
    circuit, dModel, dHead,
    read: get(readName, viewFloat)!,
    other: get(otherName, viewFloat)!,
    bQ: get("b_Q", vector), bK: get("b_K", vector), lnW: get("ln_w", vector), lnB: get("ln_b", vector),
    dtypes,
  };
}
