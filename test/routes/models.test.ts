/**
 * GET /v1/models/{model}/summary inside workerd with real local KV and R2: the table is built from
 * the stored summaries, sorted, deterministic (the same bytes on every request), and 404 for an
 * unknown model.
 */
import { reset } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeEach, describe, expect, inject, test } from "vitest";

const TOKEN = "test-token-0123456789";
const BASE = "https://headscope.test";
const gpt2 = inject("gpt2L0H1");
const sad = inject("gpt2SadL0");
const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const post = (path: string, body: Uint8Array) =>
  exports.default.fetch(new Request(`${BASE}${path}`, { method: "POST", body, headers: { authorization: `Bearer ${TOKEN}` } }));
const get = (path: string) => exports.default.fetch(new Request(`${BASE}${path}`));

beforeEach(async () => {
  await reset();
});

describe("model summary", () => {
  test("table of every stored head, circuit and variant, sorted, with spectra facts", async () => {
    // stored out of order on purpose: layer 3 before layer 0, ov before qk
    for (const [layer, head, circuit, q] of [
      [3, 2, "ov", ""], [0, 1, "qk", ""], [0, 1, "qk", "?fold_ln=false&bias=none"], [0, 1, "ov", ""], [0, 0, "qk", ""],
    ] as const) {
      const body = bytes(circuit === "qk" ? gpt2.qk : gpt2.ov);
      expect((await post(`/v1/models/gpt2-small/layers/${layer}/heads/${head}/${circuit}${q}`, body)).status).toBe(201);
    }
    await post("/v1/models/other-model/layers/0/heads/0/qk", bytes(gpt2.qk));

    // the models with stored results are listed, each once
    expect(await (await get("/v1/models")).json()).toEqual({ models: ["gpt2-small", "other-model"] });

    const res = await get("/v1/models/gpt2-small/summary");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const text = await res.text();
    const s = JSON.parse(text);
    expect(s).toMatchObject({ schema: "headscope.model-summary/v1", model: "gpt2-small", n_layers: 4, n_heads: 3, count: 5 });
    expect(s.variants).toEqual({ qk: ["folded_augmented", "raw"], ov: ["folded"] });
    expect(s.entries.map((e: any) => `${e.layer}.${e.head}.${e.circuit}.${e.variant}`)).toEqual([
      "0.0.qk.folded_augmented", "0.1.qk.folded_augmented", "0.1.qk.raw", "0.1.ov.folded", "3.2.ov.folded",
    ]);
    const qk = s.entries[1];
    const ref = gpt2.reference.qk.folded_augmented;
    expect(qk.top_singular_values).toHaveLength(8);
    expect(Math.abs(qk.top_singular_values[0] - ref[0]) / ref[0]).toBeLessThan(1e-5);
    expect(qk.spectral_decay.sigma2_over_sigma1).toBeCloseTo(ref[1] / ref[0], 5);
    expect(qk.spectral_decay.half_energy_rank).toBeGreaterThanOrEqual(1);
    expect(qk.spectral_decay.energy90_rank).toBeGreaterThanOrEqual(qk.spectral_decay.half_energy_rank);
    expect(qk.checks_passed).toBe(true);
    expect(qk.effective_rank).toBeGreaterThan(1);

    // deterministic: the same bytes again
    expect(await (await get("/v1/models/gpt2-small/summary")).text()).toBe(text);
  });

  test("unknown model → 404 problem; bad name → 400", async () => {
    const res = await get("/v1/models/nothing-here/summary");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(((await res.json()) as any).type).toBe("/problems/not-found");
    const bad = await get("/v1/models/-bad/summary");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).type).toBe("/problems/invalid-request");
  });

  test("SAD results stored for a qk head appear in its row, in the variant they used", async () => {
    const head = `/v1/models/gpt2-small/layers/0/heads/${sad.head}/qk`;
    expect((await post(head, bytes(sad.qkRawAugmented))).status).toBe(201); // raw_augmented SVD
    const res = await post(`${head}/sad?null_seeds=2`, bytes(sad.withWeights)); // weights, raw_augmented
    expect(res.status).toBe(201);
    const answer = (await res.json()) as any;
    const s = JSON.parse(await (await get("/v1/models/gpt2-small/summary")).text());
    expect(s.count).toBe(1);
    const e = s.entries[0];
    expect(e).toMatchObject({ layer: 0, head: sad.head, circuit: "qk", variant: "raw_augmented" });
    expect(e.sad).toHaveLength(1);
    expect(e.sad[0]).toMatchObject({
      id: answer.id, tau: 1, batch: 1, tokens: 128,
      firing_positive: sad.reference.pairs_firing_positive, n_recon_median: sad.reference.n_recon_median,
    });
  });
});
