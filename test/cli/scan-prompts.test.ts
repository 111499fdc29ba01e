/**
 * `scan --prompts` end to end through the real CLI, forward pass and local worker:
 * - a synthetic full GPT-2-layout checkpoint (GPT-2's vocabulary, so the built-in tokenizer and
 *   `ioi:N` work) → SAD of every qk head with the IOI focus (END→IO, END→S2), each layer's activations
 *   uploaded once; `--save-activations` then `--activations` (fresh worker state) gives byte-identical
 *   report.json and report.html;
 * - a GPT-NeoX fixture (partial rotary) with token-id prompts of different lengths: rotary SAD;
 * - a GPT-Neo fixture: the local layers' window reaches the firing rule.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildCli, ROOT, runCli } from "../support/cli";
import { writeCheckpoint, type RawTensor } from "../support/checkpoints";
import { gaussian, rng } from "../support/matrices";
import { readStoredState } from "../support/stored-state";
import { CHROMIUM, collectErrors, launchBrowser } from "../support/browser";
import { existsSync, mkdirSync } from "node:fs";

const tmp = mkdtempSync(join(tmpdir(), "headscope-prompts-"));
beforeAll(buildCli, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const D = 16, NH = 4, NL = 2, VOCAB = 50257, NPOS = 32, FF = 32;
const r = rng(3);
const rand = (s: number, ...shape: number[]): RawTensor => ({ shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => s * gaussian(r)) });
const ones = (n: number): RawTensor => ({ shape: [n], data: Float64Array.from({ length: n }, () => 1 + 0.1 * gaussian(r)) });

function gpt2Full(): string {
  const t: Record<string, RawTensor> = { "wte.weight": rand(0.5, VOCAB, D), "wpe.weight": rand(0.5, NPOS, D), "ln_f.weight": ones(D), "ln_f.bias": rand(0.1, D) };
  for (let l = 0; l < NL; l++) {
    Object.assign(t, {
      [`h.${l}.ln_1.weight`]: ones(D), [`h.${l}.ln_1.bias`]: rand(0.1, D),
      [`h.${l}.attn.c_attn.weight`]: rand(0.4, D, 3 * D), [`h.${l}.attn.c_attn.bias`]: rand(0.2, 3 * D),
      [`h.${l}.attn.c_proj.weight`]: rand(0.3, D, D), [`h.${l}.attn.c_proj.bias`]: rand(0.1, D),
      [`h.${l}.ln_2.weight`]: ones(D), [`h.${l}.ln_2.bias`]: rand(0.1, D),
      [`h.${l}.mlp.c_fc.weight`]: rand(0.3, D, FF), [`h.${l}.mlp.c_fc.bias`]: rand(0.1, FF),
      [`h.${l}.mlp.c_proj.weight`]: rand(0.3, FF, D), [`h.${l}.mlp.c_proj.bias`]: rand(0.1, D),
    });
  }
  return writeCheckpoint(join(tmp, "gpt2-full"), t, {
    dtype: "F32", config: { model_type: "gpt2", n_embd: D, n_head: NH, n_layer: NL, n_positions: NPOS, vocab_size: VOCAB, layer_norm_epsilon: 1e-5, activation_function: "gelu_new" },
  });
}

const base = (ckpt: string, out: string, state: string) => ["scan", ckpt, "--out", join(tmp, out), "--state", join(tmp, state), "--progress", "quiet", "--circuits", "qk"];

describe("scan --prompts", () => {
  test("ioi on a full GPT-2 layout: SAD per head with the IOI focus; --save-activations then --activations is byte-identical", async () => {
    const ckpt = gpt2Full();
    const acts = join(tmp, "ioi-acts.safetensors");
    const a = await runCli([...base(ckpt, "ioi-a", "state-a"), "--model-name", "tiny", "--prompts", "ioi:12", "--save-activations", acts]);
    expect(a.code, a.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(tmp, "ioi-a/report.json"), "utf8"));
    expect(report.scan.sad).toMatchObject({ tau: 1, batch: 12, focus: "IOI: END→IO and END→S2 of every prompt" });
    expect(report.scan.sad.prompts).toMatchObject({ spec: "ioi:12", kind: "ioi", count: 12 });
    expect(Object.keys(report.scan.sad.activations)).toEqual(["0/normalised", "1/normalised"]);
    const sads = report.entries.filter((e: any) => e.sad);
    expect(sads).toHaveLength(NL * NH);
    for (const e of sads) {
      expect(e.sad.usage_by_prompt).toHaveLength(12);
      expect(e.sad.focus.pairs_listed).toBe(24);
      expect(e.sad.focus.candidates).toBe(24);
      expect(["sparse", "not sparse", "too few pairs"]).toContain(e.sad.verdict);
      expect(e.sad.usage_by_prompt.flat().reduce((x: number, y: number) => x + y, 0)).toBe(e.sad.usage.reduce((x: number, y: number) => x + y, 0));
    }
    expect(report.sad_overview.heads).toBe(NL * NH);
    const run = JSON.parse(readFileSync(join(tmp, "ioi-a/run.json"), "utf8"));
    expect(run.activation_uploads).toEqual({ stored: NL, already_stored: 0, failed: 0 });
    expect(run.forward).toMatchObject({ prompts: 12, kernel: "wasm-release" });
    expect(run.forward.threads).toBeGreaterThanOrEqual(1);
    expect(run.forward.tokens).toBeGreaterThan(12 * 10); // IOI prompts are about 15 tokens
    expect(run.forward.seconds).toBeGreaterThan(0);
    // the store holds each layer once
    const state = await readStoredState(join(tmp, "state-a"));
    const stored = [...state.r2.keys()].filter((k) => k.startsWith("activations/"));
    expect(stored.sort()).toEqual(Object.values(report.scan.sad.activations).map((id) => `activations/v1/${id}.safetensors`).sort());

    // the same run again: nothing uploaded or computed anew
    const again = await runCli([...base(ckpt, "ioi-a", "state-a"), "--model-name", "tiny", "--prompts", "ioi:12"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(tmp, "ioi-a/run.json"), "utf8"))).toMatchObject({ computed: 0, activation_uploads: { stored: 0, already_stored: NL } });

    // from the saved file, on a fresh worker state: the same bytes
    const b = await runCli([...base(ckpt, "ioi-b", "state-b"), "--model-name", "tiny", "--activations", acts]);
    expect(b.code, b.stderr).toBe(0);
    expect(readFileSync(join(tmp, "ioi-b/report.json"))).toEqual(readFileSync(join(tmp, "ioi-a/report.json")));
    expect(readFileSync(join(tmp, "ioi-b/report.html"))).toEqual(readFileSync(join(tmp, "ioi-a/report.html")));
    expect(JSON.parse(readFileSync(join(tmp, "ioi-b/run.json"), "utf8")).computed).toBeGreaterThan(0);

    // report.html draws the SAD section offline: Fig. 9a (all pairs and IOI pairs), heatmaps, the per-head table
    if (!existsSync(CHROMIUM)) return;
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 3000 } });
      const errors = collectErrors(page);
      await page.goto(`file://${join(tmp, "ioi-a/report.html")}`);
      await page.waitForFunction(() => (globalThis as unknown as { HEADSCOPE_READY?: boolean }).HEADSCOPE_READY === true, null, { timeout: 30_000 });
      expect(errors).toEqual([]);
      for (const id of ["sad-fig9a", "sad-fig9a-focus", "sad-usage", "sad-usage-focus"]) expect(await page.locator(`#${id} svg path`).count(), id).toBeGreaterThan(2);
      expect(await page.locator("#sad-heads tbody tr").count()).toBe(NL * NH);
      const e = sads[NH + 1];
      const cells = await page.locator(`#sad-heads tr[data-layer="${e.layer}"][data-head="${e.head}"] td`).allTextContents();
      expect(cells[11]).toBe(e.sad.verdict);
      expect(cells[15]).toBe(e.sad.focus.verdict);
      await page.selectOption("#sad-head", String(NH + 1));
      expect(await page.locator("#sad-usage svg").textContent()).toContain(`L${e.layer}H${e.head}`);
      mkdirSync(join(ROOT, "artifacts"), { recursive: true });
      await page.screenshot({ path: join(ROOT, "artifacts/report-sad-ioi.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  }, 300_000);

  test("a SAD phase that gets no answer stops the scan: exit 1, every unfinished head's SAD listed as failed", async () => {
    const ckpt = gpt2Full();
    const res = await runCli([...base(ckpt, "sad-stall", "state-stall"), "--prompts", "ioi:4", "--deadline-scale", "0.2", "--retry-base-ms", "20"], {
      env: { HEADSCOPE_TEST_HOOKS: "stall:/qk/sad" },
    });
    expect(res.code, res.stderr).toBe(1);
    expect(res.stderr).toMatch(/not making progress, so the scan stops/);
    const run = JSON.parse(readFileSync(join(tmp, "sad-stall/run.json"), "utf8"));
    expect(run).toMatchObject({ computed: NL * NH, failed: NL * NH });
    const report = JSON.parse(readFileSync(join(tmp, "sad-stall/report.json"), "utf8"));
    expect(report.failures).toHaveLength(NL * NH);
    for (const f of report.failures) expect(["no-progress", "timeout"]).toContain(f.type);
    expect(report.entries.filter((e: { sad?: unknown }) => e.sad)).toHaveLength(0);
  }, 180_000);

  test("GPT-NeoX (partial rotary), token-id prompts of different lengths: rotary SAD per head", async () => {
    const ckpt = join(ROOT, "test/fixtures/forward/gpt-neox/model.safetensors");
    const prompts = join(tmp, "ids.jsonl");
    writeFileSync(prompts, [[1, 5, 9, 2, 7, 3, 11, 4, 8, 6], [3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5]].map((t) => JSON.stringify({ tokens: t })).join("\n") + "\n");
    const res = await runCli([...base(ckpt, "neox", "state-neox"), "--prompts", prompts]);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(tmp, "neox/report.json"), "utf8"));
    expect(report.scan.sad.prompt_lengths).toContain("per prompt");
    const sads = report.entries.filter((e: any) => e.sad);
    expect(sads).toHaveLength(3 * 4);
    for (const e of sads) {
      expect(e.sad.positional).toMatchObject({ rotary_dim: report.facts.rotary_dim, window: null });
      expect(e.sad.positional.offsets).toBeGreaterThan(1);
      expect(e.sad.candidates).toBe((9 * 10) / 2 + (7 * 8) / 2 + (11 * 12) / 2);
    }
  }, 300_000);

  test("GPT-Neo: local layers fire within their window", async () => {
    const ckpt = join(ROOT, "test/fixtures/forward/gpt-neo/model.safetensors");
    const prompts = join(tmp, "neo.jsonl");
    writeFileSync(prompts, [[1, 5, 9, 2, 7, 3, 11, 4, 8, 6], [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]].map((t) => JSON.stringify({ tokens: t })).join("\n") + "\n");
    const res = await runCli([...base(ckpt, "neo", "state-neo"), "--prompts", prompts]);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(tmp, "neo/report.json"), "utf8"));
    for (const e of report.entries.filter((x: any) => x.sad)) {
      if (e.layer % 2 === 1) {
        expect(e.sad.positional).toMatchObject({ rotary_dim: 0, window: 3 });
        let cand = 0;
        for (let d = 1; d < 10; d++) cand += d - Math.max(1, d - 2) + 1;
        expect(e.sad.candidates).toBe(2 * cand);
      } else {
        expect(e.sad.positional).toBeNull();
        expect(e.sad.candidates).toBe(2 * 45);
      }
    }
  }, 300_000);

  test("prompts whose activations the store cannot take are refused before the forward pass, with how many it can", async () => {
    const ckpt = gpt2Full();
    // 25,000 prompts × 32 tokens × d_model 16 in F32 is 48.8 MiB a layer; the store takes 48 MiB
    const prompts = join(tmp, "too-many.jsonl");
    const line = JSON.stringify({ tokens: Array.from({ length: NPOS }, (_, i) => i + 1) });
    writeFileSync(prompts, `${line}\n`.repeat(25_000));
    const res = await runCli([...base(ckpt, "too-many", "state-too-many"), "--variants", "folded", "--prompts", prompts]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(
      "25000 prompts of up to 32 tokens at d_model 16 are 48.8 MiB of F32 per layer; the activation store takes 48 MiB per layer: use at most 24544 such prompts (e.g. --prompts ioi:24544)",
    );
    expect(res.stderr).not.toContain("forward pass:");
    expect(existsSync(join(tmp, "too-many"))).toBe(false);
  }, 120_000);
});
