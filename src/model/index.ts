/**
 * @module model
 * The forward pass's public surface: prompts → token ids (resolvePrompts, loadTokenizer) → every
 * layer's attention input (computeAttentionInputs, groupByLength).
 */
export { computeAttentionInputs, groupByLength, PADDING_NOTE, type AttentionInputs, type ForwardOptions, type LengthGroup } from "./forward";
export { resolvePrompts, DEFAULT_IOI_PROMPTS, type IoiPositions, type IoiPromptMeta, type PromptMeta, type PromptOptions, type ResolvedPrompts } from "./prompts";
export { loadTokenizer, gpt2Tokenizer, tokenizerFromJson, type PromptTokenizer } from "./tokenizer";
