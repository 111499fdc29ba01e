/**
 * @module cli/sad
 * `--activations FILE`: sparse attention decomposition (method §4) of every scanned qk head, through
 * POST …/qk/sad. FILE is a safetensors file with one tensor per layer, `layer.{l}`, `[T, d_model]`
 * or `[B, T, d_model]`: the normalised residual each head reads before its norm's gain
 * (TransformerLens `ln1.hook_normalized`; RMSNorm: r/rms(r)). Folded variants read it as it is;
 * raw variants read x = γ∘z + β, which is formed here. The head's weights go with X, so the worker
 * computes the SVD in float64 in the same variant (for RMSNorm models, whose fold the SAD endpoint
 * does not offer, the SVD the scan just stored is used instead). The file is read like a checkpoint:
 * validated header, one layer at a time.
 */
import { encodeSafetensors, type TensorOut } from "../wire/safetensors";
import type { Architecture } from "./architectures";
import { Checkpoint, CheckpointError } from "./checkpoint";
import { LayerCache } from "./architectures/layout";
import type { HeadRequest } from "./fan-out";
import { headTensors, type ScanTask } from "./plan";

export { sadDigest, type SadDigest } from "../services/summarize-model";

export const activationName = (layer: number) => `layer.${layer}`;

export class Activations {
  private readonly layers: LayerCache<{ x: Float32Array | Float64Array; shape: number[] }>;
  private constructor(readonly ckpt: Checkpoint) {
    this.layers = new LayerCache((l) => ({ x: ckpt.read(activationName(l)), shape: ckpt.info(activationName(l)).shape }), 1);
  }

  /** Opens and checks the file against the layers to scan, before anything is sent. */
  static open(path: string, arch: Architecture, layers: number[]): Activations {
    const ckpt = Checkpoint.open(path);
    const d = arch.facts.d_model;
    for (const l of layers) {
      if (!ckpt.has(activationName(l))) {
        throw new CheckpointError(`--activations: no tensor ${activationName(l)} for layer ${l} (expected [T, ${d}] or [B, T, ${d}] per scanned layer)`);
      }
      const s = ckpt.info(activationName(l)).shape;
      if ((s.length !== 2 && s.length !== 3) || s[s.length - 1] !== d) {
        throw new CheckpointError(`--activations: ${activationName(l)} is ${JSON.stringify(s)}, expected [T, ${d}] or [B, T, ${d}]`);
      }
    }
    return new Activations(ckpt);
  }

  /** The SAD request of one qk task. */
  request(endpoint: string, arch: Architecture, task: ScanTask, tau: number): HeadRequest {
    const { x: z, shape } = this.layers.get(task.layer);
    const w = arch.head(task.layer, task.head);
    const folded = task.variant.startsWith("folded");
    let x: Float32Array | Float64Array = z;
    if (!folded && w.ln_w) {
      // raw variants read γ∘z + β
      const d = arch.facts.d_model;
      x = new Float64Array(z.length);
      for (let i = 0; i < z.length; i++) x[i] = w.ln_w[i % d] * z[i] + (w.ln_b ? w.ln_b[i % d] : 0);
    }
    const q = new URLSearchParams({ tau: String(tau), scale: String(arch.facts.attention_scale) });
    const tensors: Record<string, TensorOut> = { X: { dtype: x instanceof Float64Array ? "F64" : "F32", shape, data: x } };
    if (arch.facts.norm === "rmsnorm") {
      q.set("variant", task.variant); // the SVD the scan stored (the SAD endpoint has no norm=rmsnorm fold)
    } else {
      q.set("fold_ln", String(folded));
      q.set("bias", task.variant.endsWith("_augmented") ? "augmented" : "none");
      // the head's weights, exactly as POST …/qk gets them
      Object.assign(tensors, headTensors(arch, w, "qk", task.offset));
    }
    const url = `${endpoint}/v1/models/${encodeURIComponent(task.model)}/layers/${task.layer}/heads/${task.head}/qk/sad?${q}`;
    return { url, body: encodeSafetensors(tensors) };
  }

  close(): void {
    this.ckpt.close();
  }
}
