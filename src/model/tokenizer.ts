/**
 * @module model/tokenizer
 * Text → token ids for the forward pass. A `tokenizer.json` beside the checkpoint (with its
 * `tokenizer_config.json` when present) is read by Hugging Face's pure-JavaScript
 * @huggingface/tokenizers; without one, a GPT-2 checkpoint uses GPT-2's byte-level BPE from the ranks
 * js-tiktoken ships (`gpt2`, the same 50,257 tokens); anything else has no tokenizer and takes token
 * ids (`.jsonl` with `{"tokens": […]}`). Nothing is fetched: both libraries run offline.
 * The beginning-of-sequence token is what TransformerLens prepends by default (prepend_bos): config.json's
 * bos_token_id, else tokenizer_config.json's bos_token, else GPT-2's <|endoftext|> (50256).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { Tiktoken } from "js-tiktoken/lite";
import gpt2Ranks from "js-tiktoken/ranks/gpt2";
import { CheckpointError } from "../cli/checkpoint";

export interface PromptTokenizer {
  /** what it is, for the record: the tokenizer.json path or the built-in GPT-2 BPE */
  source: string;
  /** token ids of `text`, no special tokens added */
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** the beginning-of-sequence token prepended to text prompts; undefined when the model has none */
  bos?: number;
}

export const GPT2_EOT = 50256;

/** The directory that holds a checkpoint (a file, an index or a directory). */
export function checkpointDir(path: string): string {
  const p = resolve(path);
  return existsSync(p) && statSync(p).isDirectory() ? p : dirname(p);
}

const readJson = (file: string): Record<string, unknown> => {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new CheckpointError(`${file} is not JSON: ${(e as Error).message}`);
  }
};

/** A tokenizer.json (and optional tokenizer_config.json) through @huggingface/tokenizers. */
export function tokenizerFromJson(file: string, configFile?: string, bosId?: number): PromptTokenizer {
  const config = configFile && existsSync(configFile) ? readJson(configFile) : {};
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(readJson(file), config);
  } catch (e) {
    throw new CheckpointError(`${file} could not be loaded as a tokenizer: ${(e as Error).message}`);
  }
  const bosToken = typeof config.bos_token === "string" ? config.bos_token
    : config.bos_token && typeof (config.bos_token as { content?: unknown }).content === "string" ? (config.bos_token as { content: string }).content
    : undefined;
  const bos = bosId ?? (bosToken !== undefined ? tok.token_to_id(bosToken) : undefined);
  return {
    source: file,
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => tok.decode(ids),
    bos,
  };
}

/** GPT-2's byte-level BPE (js-tiktoken's `gpt2` ranks); "<|endoftext|>" in text is the special token, as in Hugging Face's tokenizer. */
export function gpt2Tokenizer(): PromptTokenizer {
  const enc = new Tiktoken(gpt2Ranks);
  return {
    source: "GPT-2 byte-level BPE (js-tiktoken gpt2 ranks)",
    encode: (text) => enc.encode(text, "all"),
    decode: (ids) => enc.decode(ids),
    bos: GPT2_EOT,
  };
}

/**
 * The tokenizer of a checkpoint: tokenizer.json beside it, else GPT-2's for the gpt2 architecture,
 * else undefined (token-id prompts only).
 */
export function loadTokenizer(checkpoint: string, architecture: string, config?: Record<string, unknown>): PromptTokenizer | undefined {
  const dir = checkpointDir(checkpoint);
  const bosId = typeof config?.bos_token_id === "number" ? config.bos_token_id : undefined;
  if (existsSync(join(dir, "tokenizer.json"))) return tokenizerFromJson(join(dir, "tokenizer.json"), join(dir, "tokenizer_config.json"), bosId);
  if (architecture === "gpt2") return gpt2Tokenizer();
  return undefined;
}
