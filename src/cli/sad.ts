/**
 * @module cli/sad
 * SAD of every scanned qk head (method §4) through POST …/qk/sad, on the model's own attention inputs:
 * from `--prompts` (the forward pass, cli/prompt-activations.ts) or from `--activations FILE`.
 *
 * Activation files (what `--save-activations` writes and `--activations` reads) are safetensors:
 * `layer.{l}` F32 `[B, T, d_model]` (or `[T, d_model]`) per layer — the normalised residual each head
 * reads before its norm's gain (TransformerLens `ln1.hook_normalized`; RMSNorm: r/rms(r)) —, optionally
 * `lengths` I32 `[B]` (prompts right-padded to T; padding is never read), `ioi_positions` I32 `[B, 4]`
 * (IO, S1, S2, END token positions of IOI prompts), and the prompts' description as JSON in the
 * metadata key `headscope.prompts`.
 *
 * Each layer's activations are uploaded once per run to the activation store (POST /v1/activations,
 * content-addressed, so a repeated run uploads nothing new) and every head's request names them
 * (`?activations=ID&layer=L`), carrying only the head's weights (the worker computes the SVD in
 * float64 in the scan's variant). Folded variants read z as it is; raw variants read x = γ∘z + β,
 * uploaded as its own file. Rotary models send `rotary_dim`/`rotary_base` (each pair is decomposed
 * in the SVD of its Ω_Δ), GPT-Neo's local layers their `window`; IOI prompts add the END→IO and
 * END→S2 pairs as a `focus` set.
 */
import { closeSync, openSync, readSync, writeFileSync } from "node:fs";
import { encodeSafetensors, type TensorOut } from "../wire/safetensors";
import { ActivationAnswerSchema, ACTIVATION_LENGTHS, ACTIVATION_LIMITS, activationTensorName } from "../wire/activations";
import type { Architecture } from "./architectures";
import { Checkpoint, CheckpointError, readFileHeader } from "./checkpoint";
import { LayerCache } from "./architectures/layout";
import type { HeadRequest } from "./fan-out";
import { headTensors, svdFlops, type ScanTask } from "./plan";

export { sadHeadReport, type SadHeadReport } from "../analysis/sad-report";

export const activationName = activationTensorName;
export const IOI_POSITIONS = "ioi_positions";
export const PROMPTS_METADATA = "headscope.prompts";

type Floats = Float32Array | Float64Array;

/** The token vectors SAD reads, per layer, with what is known about the prompts. */
export class ActivationSource {
  private constructor(
    readonly batch: number,
    readonly tokens: number,
    readonly dModel: number,
    private readonly get: (layer: number) => Floats,
    /** per-prompt lengths, when the file or the forward pass gave them */
    readonly lengths: Int32Array | undefined,
    /** [B, 4] IO, S1, S2, END per IOI prompt */
    readonly ioi: Int32Array | undefined,
    /** what the prompts were (spec, tokenizer, …), for the report */
    readonly prompts: Record<string, unknown> | null,
    private readonly onClose: () => void = () => {},
  ) {}

  layer(l: number): Floats {
    return this.get(l);
  }

  /** lengths when prompts differ in length (only then do requests carry them) */
  get ragged(): Int32Array | undefined {
    return this.lengths && this.lengths.some((n) => n !== this.tokens) ? this.lengths : undefined;
  }

  /** IOI's END→IO and END→S2 pairs, [F, 3] rows (prompt, dest, src). */
  focus(): Int32Array | undefined {
    if (!this.ioi) return undefined;
    const out: number[] = [];
    for (let b = 0; b < this.batch; b++) {
      const [io, , s2, end] = this.ioi.subarray(4 * b, 4 * b + 4);
      out.push(b, end, io, b, end, s2);
    }
    return Int32Array.from(out);
  }

  /** Opens and checks an activation file against the layers to scan, before anything is sent. */
  static openFile(path: string, arch: Architecture, layers: number[]): ActivationSource {
    const ckpt = Checkpoint.open(path);
    const d = arch.facts.d_model;
    let shape: number[] | undefined;
    for (const l of layers) {
      if (!ckpt.has(activationName(l))) {
        throw new CheckpointError(`--activations: no tensor ${activationName(l)} for layer ${l} (expected [T, ${d}] or [B, T, ${d}] per scanned layer)`);
      }
      const s = ckpt.info(activationName(l)).shape;
      if ((s.length !== 2 && s.length !== 3) || s[s.length - 1] !== d) {
        throw new CheckpointError(`--activations: ${activationName(l)} is ${JSON.stringify(s)}, expected [T, ${d}] or [B, T, ${d}]`);
      }
      const bt = s.length === 3 ? s : [1, ...s];
      if (shape && (shape[0] !== bt[0] || shape[1] !== bt[1])) {
        throw new CheckpointError(`--activations: ${activationName(l)} is ${JSON.stringify(s)}, other layers ${JSON.stringify(shape)}`);
      }
      shape = bt;
    }
    const [B, T] = shape!;
    const file = ckpt.files[0];
    const header = readFileHeader(file);
    const ints = (name: string, want: number[]): Int32Array | undefined => {
      const e = header.entries.find((x) => x.name === name);
      if (!e) return undefined;
      if (e.dtype !== "I32" || e.shape.length !== want.length || e.shape.some((x, i) => x !== want[i])) {
        throw new CheckpointError(`--activations: ${name} must be I32 ${JSON.stringify(want)}, got ${e.dtype} ${JSON.stringify(e.shape)}`);
      }
      const bytes = new Uint8Array(e.end - e.begin);
      const fd = openSync(file, "r");
      try {
        readSync(fd, bytes, 0, bytes.byteLength, header.dataStart + e.begin);
      } finally {
        closeSync(fd);
      }
      return new Int32Array(bytes.buffer.slice(0));
    };
    const lengths = ints(ACTIVATION_LENGTHS, [B]);
    if (lengths?.some((n) => n < 1 || n > T)) throw new CheckpointError(`--activations: ${ACTIVATION_LENGTHS} must lie in 1..${T}`);
    const ioi = ints(IOI_POSITIONS, [B, 4]);
    if (ioi) {
      for (let b = 0; b < B; b++) {
        const len = lengths ? lengths[b] : T;
        if (ioi.subarray(4 * b, 4 * b + 4).some((p) => p < 0 || p >= len)) throw new CheckpointError(`--activations: ${IOI_POSITIONS} of prompt ${b} lie outside its ${len} tokens`);
      }
    }
    let prompts: Record<string, unknown> | null = null;
    const meta = header.metadata[PROMPTS_METADATA];
    if (meta !== undefined) {
      try {
        prompts = JSON.parse(meta);
      } catch {
        throw new CheckpointError(`--activations: metadata ${PROMPTS_METADATA} is not JSON`);
      }
    }
    const cache = new LayerCache((l) => ckpt.read(activationName(l)), 1);
    return new ActivationSource(B, T, d, (l) => cache.get(l), lengths, ioi, prompts, () => ckpt.close());
  }

  /** The forward pass's attention inputs ([B, T, d] F32 per layer, right-padded) and its prompts. */
  static fromForward(
    r: { layers: number[]; activations: Float32Array[]; batch: number; tokens: number; dModel: number; lengths: number[] },
    ioi: Int32Array | undefined,
    prompts: Record<string, unknown>,
  ): ActivationSource {
    const byLayer = new Map(r.layers.map((l, i) => [l, r.activations[i]]));
    return new ActivationSource(r.batch, r.tokens, r.dModel, (l) => {
      const x = byLayer.get(l);
      if (!x) throw new CheckpointError(`the forward pass did not return layer ${l}`);
      return x;
    }, Int32Array.from(r.lengths), ioi, prompts);
  }

  /** `--save-activations FILE`: the format `--activations` reads (F32 layers, lengths, IOI positions, prompts). */
  save(path: string, layers: number[]): void {
    const tensors: Record<string, TensorOut> = {};
    for (const l of layers) tensors[activationName(l)] = { dtype: "F32", shape: [this.batch, this.tokens, this.dModel], data: Float32Array.from(this.layer(l)) };
    tensors[ACTIVATION_LENGTHS] = { dtype: "I32", shape: [this.batch], data: this.lengths ?? new Int32Array(this.batch).fill(this.tokens) };
    if (this.ioi) tensors[IOI_POSITIONS] = { dtype: "I32", shape: [this.batch, 4], data: this.ioi };
    writeFileSync(path, encodeSafetensors(tensors, this.prompts ? { [PROMPTS_METADATA]: JSON.stringify(this.prompts) } : undefined));
  }

  close(): void {
    this.onClose();
  }
}

/** Which token vectors a variant reads: z as it is (folded), or x = γ∘z + β (raw, with a norm gain). */
export type ActivationForm = "normalised" | "affine";
export const formOf = (arch: Architecture, task: ScanTask): ActivationForm =>
  task.variant.startsWith("folded") || !arch.head(task.layer, task.head).ln_w ? "normalised" : "affine";

export interface ActivationUpload {
  layer: number;
  form: ActivationForm;
}
export const uploadKey = (u: ActivationUpload) => `${u.layer}/${u.form}`;

/** Bytes one upload's header and lengths may take besides the layer's values. */
const UPLOAD_OVERHEAD = 64 * 1024;

/**
 * Refuses activations the store cannot take (one file per layer), before a forward pass computes
 * them: `batch` prompts of up to `tokens` tokens of width dModel in F32 (normalised) or F64 (affine).
 */
export function checkUploadSize(batch: number, tokens: number, dModel: number, forms: Set<ActivationForm>): void {
  const per = forms.has("affine") ? 8 : 4;
  const limit = ACTIVATION_LIMITS.maxBodyBytes - UPLOAD_OVERHEAD;
  if (batch * tokens * dModel * per <= limit) return;
  const most = Math.floor(limit / (tokens * dModel * per));
  throw new CheckpointError(
    `${batch} prompts of up to ${tokens} tokens at d_model ${dModel} are ${((batch * tokens * dModel * per) / 2 ** 20).toFixed(1)} MiB of ` +
    `${per === 8 ? "F64 (a raw variant's γ∘z + β)" : "F32"} per layer; the activation store takes ${ACTIVATION_LIMITS.maxBodyBytes / 2 ** 20} MiB ` +
    `per layer: use at most ${most} such prompts${most > 0 ? ` (e.g. --prompts ioi:${most})` : ""}`,
  );
}

/** The body of one upload: `layer.{l}` (and `lengths` for ragged prompts). */
export function uploadBody(src: ActivationSource, arch: Architecture, u: ActivationUpload): HeadRequest["body"] {
  const z = src.layer(u.layer);
  let x: Floats = z;
  if (u.form === "affine") {
    const w = arch.head(u.layer, 0); // the norm is per layer
    const d = src.dModel;
    x = new Float64Array(z.length);
    for (let i = 0; i < z.length; i++) x[i] = w.ln_w![i % d] * z[i] + (w.ln_b ? w.ln_b[i % d] : 0);
  }
  const tensors: Record<string, TensorOut> = {
    [activationName(u.layer)]: { dtype: x instanceof Float64Array ? "F64" : "F32", shape: [src.batch, src.tokens, src.dModel], data: x },
  };
  const ragged = src.ragged;
  if (ragged) tensors[ACTIVATION_LENGTHS] = { dtype: "I32", shape: [src.batch], data: ragged };
  const body = encodeSafetensors(tensors);
  if (body.byteLength > ACTIVATION_LIMITS.maxBodyBytes) {
    throw new CheckpointError(
      `layer ${u.layer}'s activations are ${body.byteLength} bytes; the activation store takes at most ${ACTIVATION_LIMITS.maxBodyBytes} per file (use fewer prompts)`,
    );
  }
  return body;
}

export const uploadRequest = (endpoint: string, src: ActivationSource, arch: Architecture, u: ActivationUpload): HeadRequest => ({
  url: `${endpoint}/v1/activations`,
  body: uploadBody(src, arch, u),
  parse: (j) => ActivationAnswerSchema.parse(j),
});

/** The worker's null: seeded rotations of the basis (wire/analysis-request.ts null_seeds default). */
const NULL_SEEDS = 8;

/**
 * What one SAD request asks of the worker, for its deadline (src/deadlines.ts): it reads the layer's
 * stored activations (B·T·d_model F32), projects every token on the head's factors (4·B·T·d_model·d_head),
 * scores every query–key pair (2·B·T²·d_head) and decomposes the firing ones for the head and each null
 * seed (bounded by the same again per seed), after the head's SVD — and with rotary embeddings one SVD
 * per offset that occurs (at most T).
 */
export function sadWork(arch: Architecture, shape: { batch: number; tokens: number }): { flops: number; workBytes: number } {
  const { d_model: d, d_head: k, rotary_dim } = arch.facts;
  const { batch: b, tokens: t } = shape;
  const svds = 1 + (rotary_dim > 0 ? t : 0);
  const flops = svds * svdFlops(d + 1, k) + 4 * b * t * d * k + (1 + NULL_SEEDS) * 2 * b * t * t * k;
  return { flops, workBytes: 4 * b * t * d };
}

/** The SAD request of one qk task, naming the uploaded activations. */
export function sadRequest(
  endpoint: string, arch: Architecture, task: ScanTask,
  o: { tau: number; activationsId: string; window: number; focus?: Int32Array; shape: { batch: number; tokens: number } },
): HeadRequest {
  const f = arch.facts;
  const q = new URLSearchParams({
    tau: String(o.tau), scale: String(f.attention_scale), activations: o.activationsId, layer: String(task.layer),
    fold_ln: String(task.variant.startsWith("folded")), bias: task.variant.endsWith("_augmented") ? "augmented" : "none",
  });
  if (f.norm === "rmsnorm") q.set("norm", "rmsnorm");
  if (f.rotary_dim > 0) {
    q.set("rotary_dim", String(f.rotary_dim));
    q.set("rotary_base", String(f.rotary_base ?? 10000));
  }
  if (o.window > 0) q.set("window", String(o.window));
  const tensors: Record<string, TensorOut> = headTensors(arch, arch.head(task.layer, task.head), "qk", 0);
  if (o.focus) tensors.focus = { dtype: "I32", shape: [o.focus.length / 3, 3], data: o.focus };
  const url = `${endpoint}/v1/models/${encodeURIComponent(task.model)}/layers/${task.layer}/heads/${task.head}/qk/sad?${q}`;
  return { url, body: encodeSafetensors(tensors), ...sadWork(arch, o.shape) };
}
