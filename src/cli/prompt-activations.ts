/**
 * @module cli/prompt-activations
 * `scan --prompts SPEC`: prompts → token ids (model/prompts.ts, with the checkpoint's tokenizer) →
 * the forward pass (model/forward.ts) → every scanned layer's attention input, as an ActivationSource
 * (cli/sad.ts) with the IOI roles and a description of the prompts for the report.
 */
import { CheckpointError } from "./checkpoint";
import type { ArchitectureOverrides } from "./architectures";
import type { ActivationSource } from "./sad";

export interface PromptRunOptions {
  arch?: string;
  overrides?: ArchitectureOverrides;
  layers: number[];
  log: (s: string) => void;
}

export async function promptActivations(_checkpoint: string, _spec: string, _o: PromptRunOptions): Promise<ActivationSource> {
  throw new CheckpointError("--prompts needs the forward pass (issue 11 items 1–2), which this build does not have yet; use --activations FILE");
}
