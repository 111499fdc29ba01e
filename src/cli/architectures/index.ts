/**
 * @module cli/architectures
 * Re-exports the adapters and picks one: from `--arch`, else from the tensor names (each adapter's
 * signature tensor), cross-checked against config.json's model_type when there is one.
 */
import { CheckpointError } from "../checkpoint-error";
import type { TensorSource as Checkpoint } from "../tensor-source";
import { GPT_NEO_PATTERN, gptNeo } from "./gpt-neo";
import { GPT_NEOX_PATTERN, gptNeox } from "./gpt-neox";
import { GPT2_PATTERN, gpt2 } from "./gpt2";
import { LLAMA_PATTERN, llama } from "./llama";
import type { Architecture, ArchitectureOverrides } from "./types";

export type { Architecture, ArchitectureFacts, ArchitectureOverrides, CircuitTensors, HalfBits, HeadTensors, Weights } from "./types";
export { floatsOf, reuseOutputs, rotateKeyRows } from "./layout";

const ADAPTERS = {
  gpt2: { pattern: GPT2_PATTERN, make: gpt2, modelTypes: ["gpt2"] },
  "gpt-neo": { pattern: GPT_NEO_PATTERN, make: gptNeo, modelTypes: ["gpt_neo"] },
  "gpt-neox": { pattern: GPT_NEOX_PATTERN, make: gptNeox, modelTypes: ["gpt_neox"] },
  llama: { pattern: LLAMA_PATTERN, make: llama, modelTypes: ["llama", "mistral", "qwen2"] },
} as const;
export type ArchitectureName = keyof typeof ADAPTERS;
export const ARCHITECTURES = Object.keys(ADAPTERS) as ArchitectureName[];

export function detectArchitecture(ckpt: Checkpoint, forced?: string, overrides: ArchitectureOverrides = {}): Architecture {
  if (forced !== undefined && !(forced in ADAPTERS)) {
    throw new CheckpointError(`unknown architecture ${JSON.stringify(forced)}; known: ${ARCHITECTURES.join(", ")}`);
  }
  const names = ckpt.names();
  const candidates = (forced ? [forced as ArchitectureName] : ARCHITECTURES).flatMap((a) => {
    const hit = names.map((n) => ADAPTERS[a].pattern.exec(n)).find((m) => m);
    return hit ? [{ a, prefix: hit[1] }] : [];
  });
  if (candidates.length === 0) {
    const sample = names.slice(0, 5).join(", ");
    throw new CheckpointError(
      forced
        ? `the checkpoint has no ${forced} attention tensors (e.g. ${ADAPTERS[forced as ArchitectureName].pattern.source}); it holds ${sample}…`
        : `unknown architecture: no attention tensors of ${ARCHITECTURES.join(", ")} found (the checkpoint holds ${sample}${names.length > 5 ? ", …" : ""}); pass --arch if the names are unusual`,
    );
  }
  if (candidates.length > 1) throw new CheckpointError(`ambiguous architecture (${candidates.map((c) => c.a).join(", ")}): pass --arch`);
  const { a, prefix } = candidates[0];
  const modelType = ckpt.config?.model_type;
  if (typeof modelType === "string" && !forced && !(ADAPTERS[a].modelTypes as readonly string[]).includes(modelType)) {
    throw new CheckpointError(`tensor names look like ${a} but config.json says model_type ${modelType}: pass --arch to choose`);
  }
  return ADAPTERS[a].make(ckpt, prefix, overrides);
}
