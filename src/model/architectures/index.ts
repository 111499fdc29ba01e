/**
 * @module model/architectures
 * Picks the forward adapter for a checkpoint. Detection, head counts and rotary facts come from the
 * scan's own adapters (src/cli/architectures), so the forward pass and the spectra always agree on
 * what the model is.
 */
import type { Checkpoint } from "../../cli/checkpoint";
import { detectArchitecture, type ArchitectureOverrides } from "../../cli/architectures";
import { gpt2Forward } from "./gpt2";
import { gptNeoForward } from "./gpt-neo";
import { gptNeoxForward } from "./gpt-neox";
import { llamaForward } from "./llama";
import type { ForwardModel } from "./types";

export type { ForwardModel, Allocate } from "./types";

const ADAPTERS = { gpt2: gpt2Forward, "gpt-neo": gptNeoForward, "gpt-neox": gptNeoxForward, llama: llamaForward } as const;

export function forwardModel(ckpt: Checkpoint, forced?: string, overrides: ArchitectureOverrides = {}): ForwardModel {
  const arch = detectArchitecture(ckpt, forced, overrides);
  const make = ADAPTERS[arch.facts.architecture as keyof typeof ADAPTERS];
  return make(ckpt, arch.facts);
}
