/**
 * @module model/prompts
 * `--prompts SPEC` → token ids, for the forward pass:
 *   `ioi` or `ioi:N`  N seeded IOI prompts (model/ioi.ts; default 128), with the token positions of
 *                     IO, S1, S2 and END in each;
 *   `FILE.txt`        one prompt per line (blank lines skipped);
 *   `FILE.jsonl`      one JSON object per line, `{"text": "…"}` or `{"tokens": [ids…]}` (blank lines skipped).
 * Text prompts are tokenized without special tokens and get the beginning-of-sequence token prepended,
 * as TransformerLens does by default (prepend_bos), unless `prependBos: false` or the model has none;
 * `{"tokens"}` prompts are used exactly as given. Positions in the metadata count that BOS.
 */
import { readFileSync } from "node:fs";
import { CheckpointError } from "../cli/checkpoint";
import { ioiTexts, type IoiKind } from "./ioi";
import type { PromptTokenizer } from "./tokenizer";

export const DEFAULT_IOI_PROMPTS = 128;
export const MAX_IOI_PROMPTS = 100_000;

/** Where the names of one IOI prompt are, as token positions (BOS included). */
export interface IoiPositions {
  IO: number;
  S1: number;
  S2: number;
  END: number;
}

export interface IoiPromptMeta {
  kind: IoiKind;
  template: number;
  io: string;
  s: string;
  place: string;
  object: string;
  positions: IoiPositions;
  /** whether " IO" and " S" are single tokens (else the positions are of their first tokens) */
  single_token_names: boolean;
}

export interface PromptMeta {
  /** the spec, normalised ("ioi:128", the file path) */
  spec: string;
  kind: "ioi" | "txt" | "jsonl";
  /** seed of the ioi generator */
  seed?: number;
  /** the BOS token prepended to text prompts, or null */
  bos: number | null;
  tokenizer: string | null;
  /** per prompt: its text (null for token-id prompts) */
  texts: Array<string | null>;
  /** per prompt, for ioi */
  ioi?: IoiPromptMeta[];
}

export interface ResolvedPrompts {
  tokens: number[][];
  meta: PromptMeta;
}

export interface PromptOptions {
  /** prepend the tokenizer's BOS to text prompts (default true) */
  prependBos?: boolean;
  /** ioi generator seed (default 0) */
  seed?: number;
}

function needTokenizer(tokenizer: PromptTokenizer | undefined, what: string): PromptTokenizer {
  if (!tokenizer) {
    throw new CheckpointError(
      `${what} needs a tokenizer: put tokenizer.json beside the checkpoint (GPT-2 has one built in), or give token ids as .jsonl lines {"tokens": [...]}`,
    );
  }
  return tokenizer;
}

/** Position of the token starting at character `char` of `text`: the tokens of text[0, char) must be a prefix of the whole. */
function tokenAt(tok: PromptTokenizer, text: string, full: number[], char: number, what: string): number {
  const prefix = tok.encode(text.slice(0, char));
  if (prefix.length > full.length || prefix.some((id, i) => id !== full[i])) {
    throw new CheckpointError(`ioi: the tokenizer merges ${what} with the text before it in ${JSON.stringify(text)}; its position is undefined`);
  }
  return prefix.length;
}

/**
 * Resolves a prompt spec to token ids and metadata.
 * @throws CheckpointError for a bad spec, an unreadable file or line, or text without a tokenizer
 */
export function resolvePrompts(spec: string, tokenizer: PromptTokenizer | undefined, opts: PromptOptions = {}): ResolvedPrompts {
  const prepend = opts.prependBos !== false && tokenizer?.bos !== undefined;
  const bos = prepend ? tokenizer!.bos! : null;
  const encodeText = (text: string): number[] => {
    const ids = needTokenizer(tokenizer, "a text prompt").encode(text);
    return bos !== null && ids[0] !== bos ? [bos, ...ids] : ids;
  };
  const base = { bos, tokenizer: tokenizer?.source ?? null };

  const ioiMatch = /^ioi(?::(\d+))?$/.exec(spec);
  if (ioiMatch) {
    const n = ioiMatch[1] === undefined ? DEFAULT_IOI_PROMPTS : Number(ioiMatch[1]);
    if (!Number.isInteger(n) || n < 1 || n > MAX_IOI_PROMPTS) throw new CheckpointError(`--prompts ${spec}: N must be 1..${MAX_IOI_PROMPTS}`);
    const tok = needTokenizer(tokenizer, "--prompts ioi");
    const seed = opts.seed ?? 0;
    const texts = ioiTexts(n, seed);
    const shift = bos !== null ? 1 : 0;
    const tokens: number[][] = [];
    const ioi = texts.map((p) => {
      const ids = tok.encode(p.text);
      const pos = (char: number, what: string) => shift + tokenAt(tok, p.text, ids, char, what);
      const positions = { IO: pos(p.chars.IO, "IO"), S1: pos(p.chars.S1, "S1"), S2: pos(p.chars.S2, "S2"), END: shift + ids.length - 1 };
      tokens.push(bos !== null ? [bos, ...ids] : ids);
      const single = (name: string) => tok.encode(` ${name}`).length === 1;
      return {
        kind: p.kind, template: p.template, io: p.io, s: p.s, place: p.place, object: p.object, positions,
        single_token_names: single(p.io) && single(p.s),
      };
    });
    return { tokens, meta: { spec: `ioi:${n}`, kind: "ioi", seed, ...base, texts: texts.map((t) => t.text), ioi } };
  }

  const lines = (() => {
    if (!spec.endsWith(".txt") && !spec.endsWith(".jsonl")) {
      throw new CheckpointError(`--prompts ${JSON.stringify(spec)}: expected ioi, ioi:N, a .txt file or a .jsonl file`);
    }
    try {
      return readFileSync(spec, "utf8").split("\n").map((l) => l.replace(/\r$/, ""));
    } catch (e) {
      throw new CheckpointError(`--prompts ${spec}: ${(e as Error).message}`);
    }
  })();
  const tokens: number[][] = [];
  const texts: Array<string | null> = [];
  if (spec.endsWith(".txt")) {
    lines.forEach((line) => {
      if (line.trim() === "") return;
      texts.push(line);
      tokens.push(encodeText(line));
    });
  } else {
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      const where = `${spec} line ${i + 1}`;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new CheckpointError(`${where} is not JSON: ${(e as Error).message}`);
      }
      const o = obj as Record<string, unknown>;
      const hasText = obj !== null && typeof obj === "object" && "text" in o;
      const hasTokens = obj !== null && typeof obj === "object" && "tokens" in o;
      if (hasText === hasTokens) throw new CheckpointError(`${where}: expected exactly one of {"text": "…"} or {"tokens": [ids…]}`);
      if (hasText) {
        if (typeof o.text !== "string" || o.text === "") throw new CheckpointError(`${where}: "text" must be a non-empty string`);
        texts.push(o.text);
        tokens.push(encodeText(o.text));
      } else {
        const ids = o.tokens;
        if (!Array.isArray(ids) || ids.length === 0 || !ids.every((x) => Number.isInteger(x) && x >= 0)) {
          throw new CheckpointError(`${where}: "tokens" must be a non-empty array of non-negative integer ids`);
        }
        texts.push(null);
        tokens.push(ids as number[]);
      }
    });
  }
  if (tokens.length === 0) throw new CheckpointError(`--prompts ${spec} holds no prompts`);
  return { tokens, meta: { spec, kind: spec.endsWith(".txt") ? "txt" : "jsonl", ...base, texts } };
}
