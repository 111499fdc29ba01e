/**
 * Tokenizers of the forward pass: GPT-2's built-in byte-level BPE gives GPT-2's published ids, and a
 * tokenizer.json beside a checkpoint (GPT-2's, rebuilt from the shipped ranks) round-trips text and
 * agrees with it id for id, through @huggingface/tokenizers.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { gpt2Tokenizer, loadTokenizer, type PromptTokenizer } from "../../src/model/tokenizer";
import { gpt2TokenizerJson } from "../support/gpt2-tokenizer-json";

const tmp = mkdtempSync(join(tmpdir(), "headscope-tokenizer-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// published GPT-2 ids (the tokenizer of `gpt2` on the Hugging Face hub)
const PUBLISHED: Array<[string, number[]]> = [
  ["Hello world", [15496, 995]],
  ["hello world", [31373, 995]],
  ["Hello, world!", [15496, 11, 995, 0]],
  [" the", [262]],
  [" John", [1757]],
  [" Mary", [5335]],
  ["<|endoftext|>", [50256]],
];

const SAMPLES = [
  "Hello world", "When Mary and John went to the store, John gave a drink to",
  "  two  spaces,\ttabs\nand newlines\n\n", "naïve café — ünïcödé ✓ 東京 🙂", "it's, we'll, they'd; don't!", "1234567 3.14159 x^2",
];

test("GPT-2's byte-level BPE gives the published ids", () => {
  const tok = gpt2Tokenizer();
  for (const [text, ids] of PUBLISHED) expect(tok.encode(text), text).toEqual(ids);
  expect(tok.bos).toBe(50256);
  for (const s of SAMPLES) expect(tok.decode(tok.encode(s))).toBe(s);
});

let fromJson: PromptTokenizer;
beforeAll(() => {
  const dir = join(tmp, "model");
  mkdirSync(dir);
  writeFileSync(join(dir, "model.safetensors"), "");
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(gpt2TokenizerJson()));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ bos_token: "<|endoftext|>" }));
  fromJson = loadTokenizer(join(dir, "model.safetensors"), "gpt-neox")!;
}, 60_000);

test("tokenizer.json beside the checkpoint: same ids as GPT-2, text round-trips, BOS from tokenizer_config.json", () => {
  expect(fromJson.source).toMatch(/tokenizer\.json$/);
  expect(fromJson.bos).toBe(50256);
  const builtIn = gpt2Tokenizer();
  for (const [text, ids] of PUBLISHED) expect(fromJson.encode(text), text).toEqual(ids);
  for (const s of SAMPLES) {
    expect(fromJson.encode(s), s).toEqual(builtIn.encode(s));
    expect(fromJson.decode(fromJson.encode(s))).toBe(s);
  }
});

test("no tokenizer.json: GPT-2 has its own, other architectures have none", () => {
  const dir = join(tmp, "bare");
  mkdirSync(dir);
  expect(loadTokenizer(join(dir, "model.safetensors"), "gpt2")!.source).toMatch(/GPT-2 byte-level BPE/);
  expect(loadTokenizer(join(dir, "model.safetensors"), "llama")).toBeUndefined();
  // config.json's bos_token_id wins over tokenizer_config.json
  const withJson = join(tmp, "model");
  expect(loadTokenizer(withJson, "gpt-neox", { bos_token_id: 0 })!.bos).toBe(0);
});
