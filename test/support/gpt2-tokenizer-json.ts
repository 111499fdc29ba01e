/**
 * Builds GPT-2's tokenizer.json (Hugging Face `tokenizers` format: byte-level BPE, vocab and merges)
 * from the ranks js-tiktoken ships, so the tokenizer.json path can be tested against GPT-2's
 * published ids without a download. Each merge is recovered as BPE does it: a token of rank r is the
 * merge of the two parts that byte-pair encoding of its bytes with ranks < r ends with.
 */
import gpt2Ranks from "js-tiktoken/ranks/gpt2";

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256 + n. */
function byteToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const map: string[] = new Array(256);
  bs.forEach((b) => (map[b] = String.fromCodePoint(b)));
  let n = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCodePoint(256 + n++);
  return map;
}

export function gpt2TokenizerJson(): Record<string, unknown> {
  const ranks = new Map<string, number>(); // latin1 string of the bytes → rank
  const tokens: string[] = [];
  for (const line of gpt2Ranks.bpe_ranks.split("\n")) {
    if (!line) continue;
    const [, offset, ...toks] = line.split(" ");
    toks.forEach((t, i) => {
      const key = Buffer.from(t, "base64").toString("latin1");
      ranks.set(key, Number(offset) + i);
      tokens[Number(offset) + i] = key;
    });
  }
  const u = byteToUnicode();
  const show = (latin1: string) => [...latin1].map((c) => u[c.charCodeAt(0)]).join("");
  const vocab: Record<string, number> = {};
  tokens.forEach((t, r) => (vocab[show(t)] = r));
  vocab["<|endoftext|>"] = 50256;
  const merges: string[] = [];
  tokens.forEach((t, r) => {
    if (t.length < 2) return;
    let parts = [...t];
    while (parts.length > 2) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const rk = ranks.get(parts[i] + parts[i + 1]);
        if (rk !== undefined && rk < r && rk < bestRank) {
          bestRank = rk;
          best = i;
        }
      }
      if (best < 0) throw new Error(`token ${r} cannot be built from lower ranks`);
      parts = [...parts.slice(0, best), parts[best] + parts[best + 1], ...parts.slice(best + 2)];
    }
    merges.push(`${show(parts[0])} ${show(parts[1])}`);
  });
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0", truncation: null, padding: null,
    added_tokens: [{ id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null, pre_tokenizer: byteLevel, post_processor: { ...byteLevel, trim_offsets: false }, decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}
