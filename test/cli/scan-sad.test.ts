/**
 * `--activations`: the scan adds SAD per qk head through POST …/qk/sad. With GPT-2's layer 0 reading
 * its position embeddings (z = normalised wpe[0..127], raw augmented variant, so the CLI forms
 * x = γ∘z + β), the per-head figures equal the numpy reference (method §4, reference file
 * gpt2-small-sad-L0-positions.json), and a second run finds every SAD stored.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { runCli } from "../support/cli";
import { writeCheckpoint } from "../support/checkpoints";
import { GPT2_PATH, SAD_REFERENCE_PATH, normalisedPositions } from "../support/gpt2";

const tmp = mkdtempSync(join(tmpdir(), "headscope-sad-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("SAD of GPT-2 layer 0 on position embeddings matches the numpy reference, and resumes", async () => {
  const P = 128;
  const D = 768;
  const z = normalisedPositions(P);
  // written as F32 (what the test checkpoint writer offers); the figures still equal the float64 reference
  const acts = writeCheckpoint(join(tmp, "acts"), { "layer.0": { shape: [P, D], data: z } }, { dtype: "F32" });
  const args = ["scan", GPT2_PATH, "--out", join(tmp, "out"), "--state", join(tmp, "state"), "--model-name", "gpt2-small",
    "--layers", "0", "--circuits", "qk", "--variants", "raw_augmented", "--activations", acts, "--progress", "quiet"];
  const r = await runCli(args);
  expect(r.code, r.stderr).toBe(0);
  const report = JSON.parse(readFileSync(join(tmp, "out/report.json"), "utf8"));
  const ref = JSON.parse(readFileSync(SAD_REFERENCE_PATH, "utf8"));
  expect(report.scan.sad).toMatchObject({ tau: 1, batch: 1, tokens: P, prompts: null, focus: null, prompt_lengths: "all equal" });
  // one upload of layer 0 (raw variant: x = γ∘z + β), named by every head's request
  expect(Object.keys(report.scan.sad.activations)).toEqual(["0/affine"]);
  expect(report.scan.sad.activations["0/affine"]).toMatch(/^[0-9a-f]{64}$/);
  expect(report.sad_overview).toMatchObject({ heads: 12 });
  expect(Object.values(report.sad_overview.verdicts).reduce((a: number, b: any) => a + b, 0)).toBe(12);
  expect(report.entries).toHaveLength(12);
  for (const h of ref.heads) {
    const e = report.entries.find((x: any) => x.head === h.head);
    expect(e.sad, `head ${h.head}`).toMatchObject({ tau: 1, batch: 1, tokens: P });
    expect(e.sad.firing_positive).toBe(h.pairs_firing_positive);
    expect(e.sad.n_recon_median).toBe(h.n_recon_median);
    expect(e.sad.n_recon_p90).toBe(h.n_recon_p90);
    expect(e.sad.sparseness_median).toBeCloseTo(h.rolls_tovee_median, 4);
    expect(e.sad.verdict).toBe(h.pairs_firing_positive < 20 ? "too few pairs" : e.sad.n_recon_median <= 0.5 * e.sad.null_n_recon_median_mean ? "sparse" : "not sparse");
    expect(e.sad.usage_by_prompt).toHaveLength(1);
    expect(e.sad.usage_by_prompt[0]).toEqual(e.sad.usage);
  }
  const html = readFileSync(join(tmp, "out/report.html"), "utf8");
  expect(html).toContain('id="sad-fig9a"');
  const run1 = JSON.parse(readFileSync(join(tmp, "out/run.json"), "utf8"));
  expect(run1).toMatchObject({ tasks: 12, computed: 24, stored: 0, failed: 0 });

  const again = await runCli([...args.slice(0, -1), "plain"]);
  expect(again.code, again.stderr).toBe(0);
  // the header's count is the progress counter's total: 12 SVD + 12 SAD requests
  expect(again.stderr).toContain("→ 24 requests (12 SVD, 12 SAD)");
  expect(again.stderr).toMatch(/scan 24\/24 \(100%\)/);
  expect(again.stderr).not.toMatch(/scan \d+\/(?!24\b)\d+/);
  expect(JSON.parse(readFileSync(join(tmp, "out/run.json"), "utf8"))).toMatchObject({ computed: 0, stored: 24 });
}, 180_000);
