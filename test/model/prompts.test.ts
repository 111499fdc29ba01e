/**
 * `--prompts` specs: the seeded IOI generator (BABA/ABBA, IO/S1/S2/END token positions checked by
 * decoding the tokens at them with GPT-2's tokenizer), .txt and .jsonl files, BOS handling, and the
 * errors a bad spec or line gets.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { ABBA_TEMPLATES, BABA_TEMPLATES, IOI_NAMES, IOI_OBJECTS, IOI_PLACES } from "../../src/model/ioi";
import { resolvePrompts } from "../../src/model/prompts";
import { gpt2Tokenizer } from "../../src/model/tokenizer";

const tok = gpt2Tokenizer();
const tmp = mkdtempSync(join(tmpdir(), "headscope-prompts-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

describe("ioi", () => {
  const { tokens, meta } = resolvePrompts("ioi:64", tok);

  test("ABBA templates swap the first clause's names", () => {
    expect(ABBA_TEMPLATES[0]).toBe("Then, [A] and [B] went to the [PLACE]. [B] gave a [OBJECT] to [A]");
    expect(ABBA_TEMPLATES[13]).toBe("The [PLACE] [A] and [B] went to had a [OBJECT]. [B] gave it to [A]");
    expect(BABA_TEMPLATES).toHaveLength(15);
  });

  test("names, places and objects are single GPT-2 tokens after a space", () => {
    for (const w of [...IOI_NAMES, ...IOI_PLACES, ...IOI_OBJECTS]) expect(tok.encode(` ${w}`), w).toHaveLength(1);
    expect(IOI_NAMES).toHaveLength(99);
  });

  test("the tokens at IO, S1, S2 and END are the names and ' to'; BOS first; BABA and ABBA alternate", () => {
    expect(meta.kind).toBe("ioi");
    expect(meta.spec).toBe("ioi:64");
    expect(meta.bos).toBe(50256);
    expect(tokens).toHaveLength(64);
    meta.ioi!.forEach((p, b) => {
      const ids = tokens[b];
      expect(ids[0]).toBe(50256);
      expect(tok.decode(ids.slice(1))).toBe(meta.texts[b]);
      expect(tok.decode([ids[p.positions.IO]])).toBe(` ${p.io}`);
      expect(tok.decode([ids[p.positions.S1]])).toBe(` ${p.s}`);
      expect(tok.decode([ids[p.positions.S2]])).toBe(` ${p.s}`);
      expect(p.positions.END).toBe(ids.length - 1);
      expect(tok.decode([ids[p.positions.END]])).toBe(" to");
      expect(p.io).not.toBe(p.s);
      expect(p.kind).toBe(b % 2 === 0 ? "BABA" : "ABBA");
      expect(p.positions.S1 < p.positions.S2).toBe(true);
      expect(p.kind === "BABA" ? p.positions.S1 < p.positions.IO : p.positions.IO < p.positions.S1).toBe(true);
      expect(p.single_token_names).toBe(true);
    });
    // every template family is used, and prompts differ
    expect(new Set(meta.ioi!.map((p) => `${p.kind}${p.template}`)).size).toBeGreaterThan(15);
    expect(new Set(meta.texts).size).toBeGreaterThan(60);
  });

  test("seeded: the same seed gives the same prompts, another seed others; default N is 128", () => {
    expect(resolvePrompts("ioi:64", tok).tokens).toEqual(tokens);
    expect(resolvePrompts("ioi:64", tok, { seed: 1 }).tokens).not.toEqual(tokens);
    expect(resolvePrompts("ioi", tok).tokens).toHaveLength(128);
    const noBos = resolvePrompts("ioi:4", tok, { prependBos: false });
    expect(noBos.meta.bos).toBeNull();
    expect(noBos.tokens[0]).toEqual(tokens[0].slice(1));
    expect(noBos.meta.ioi![0].positions.IO).toBe(meta.ioi![0].positions.IO - 1);
  });
});

describe("files", () => {
  test(".txt: one prompt per line, blank lines skipped, BOS prepended", () => {
    const r = resolvePrompts(file("p.txt", "Hello world\n\nhello world\r\n"), tok);
    expect(r.tokens).toEqual([[50256, 15496, 995], [50256, 31373, 995]]);
    expect(r.meta.texts).toEqual(["Hello world", "hello world"]);
    expect(r.meta.kind).toBe("txt");
  });

  test(".jsonl: text or tokens per line; token ids are used as given and need no tokenizer", () => {
    const p = file("p.jsonl", '{"text": "Hello world"}\n{"tokens": [1, 2, 3]}\n\n');
    expect(resolvePrompts(p, tok).tokens).toEqual([[50256, 15496, 995], [1, 2, 3]]);
    expect(resolvePrompts(file("ids.jsonl", '{"tokens": [5]}\n'), undefined).tokens).toEqual([[5]]);
    expect(() => resolvePrompts(p, undefined)).toThrow(/needs a tokenizer: put tokenizer.json beside the checkpoint/);
  });

  test("bad specs and lines are named", () => {
    expect(() => resolvePrompts("prompts.csv", tok)).toThrow(/expected ioi, ioi:N, a .txt file or a .jsonl file/);
    expect(() => resolvePrompts("ioi:0", tok)).toThrow(/N must be 1/);
    expect(() => resolvePrompts(join(tmp, "missing.txt"), tok)).toThrow(/ENOENT/);
    expect(() => resolvePrompts(file("e.txt", "\n\n"), tok)).toThrow(/holds no prompts/);
    expect(() => resolvePrompts(file("a.jsonl", '{"text": "a"}\nnot json\n'), tok)).toThrow(/a.jsonl line 2 is not JSON/);
    expect(() => resolvePrompts(file("b.jsonl", '{"text": "a", "tokens": [1]}\n'), tok)).toThrow(/line 1: expected exactly one of/);
    expect(() => resolvePrompts(file("c.jsonl", '{"tokens": [1, -2]}\n'), tok)).toThrow(/line 1: "tokens" must be a non-empty array/);
    expect(() => resolvePrompts(file("d.jsonl", '{"text": ""}\n'), tok)).toThrow(/line 1: "text" must be a non-empty string/);
    expect(() => resolvePrompts("ioi:3", undefined)).toThrow(/--prompts ioi needs a tokenizer/);
  });
});
