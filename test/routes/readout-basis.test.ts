/**
 * A model's token readout basis inside workerd with real local R2 and KV: blobs are stored under
 * their SHA-256 after validation, the manifest only once every blob it names is there with the right
 * size, the same manifest again is 200 with nothing new; head POSTs of the model then carry readouts
 * whose scores equal a float64 computation on the stored F16 rows (values chosen exactly
 * representable), and the options readouts=0, readouts=N and readout_k are honoured. Bad blobs and
 * manifests are 4xx problems that store nothing.
 */
import { reset } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeEach, describe, expect, test } from "vitest";
import { expectProblem, storedKeys } from "../support/worker-assertions";
import { encodeSafetensors } from "../../src/wire/safetensors";

const TOKEN = "test-token-0123456789";
const BASE = "https://headscope.test";
const D = 8, VOCAB = 20, R = 3;
const BASIS = "/v1/models/tiny/readout-basis";

const req = (method: string, path: string, body?: BodyInit, token: string | null = TOKEN) =>
  exports.default.fetch(new Request(`${BASE}${path}`, { method, body, headers: token ? { authorization: `Bearer ${token}` } : {} }));

async function sha256(b: Uint8Array) {
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", b)), (x) => x.toString(16).padStart(2, "0")).join("");
}

/** F16 bits of small multiples of 1/8 (exact in binary16). */
const half = (x: number) => {
  if (x === 0) return 0;
  const s = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  const e = Math.floor(Math.log2(a));
  return s | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
};

/** rows [VOCAB, D]: entry (t, i) = ((t·7 + i·3) mod 17 − 8)/8 */
const value = (t: number, i: number, salt: number) => (((t * 7 + i * 3 + salt) % 17) - 8) / 8;
function rows(salt: number, r0: number, r1: number) {
  const h = new Uint16Array((r1 - r0) * D);
  for (let t = r0; t < r1; t++) for (let i = 0; i < D; i++) h[(t - r0) * D + i] = half(value(t, i, salt));
  return new Uint8Array(h.buffer);
}

async function putBlob(bytes: Uint8Array, format: string) {
  const h = await sha256(bytes);
  return { h, res: await req("PUT", `${BASIS}/blobs/${h}?format=${format}`, bytes) };
}

async function uploadBasis() {
  const chunk = async (salt: number) => {
    const out = [];
    for (const [r0, r1] of [[0, 12], [12, 20]]) {
      const { h, res } = await putBlob(rows(salt, r0, r1), "f16");
      expect(res.status).toBe(201);
      out.push({ sha256: h, rows: r1 - r0 });
    }
    return out;
  };
  const tokens = new TextEncoder().encode(JSON.stringify(Array.from({ length: VOCAB }, (_, t) => (t === 3 ? null : `tok${t}`))));
  const tk = await putBlob(tokens, "tokens");
  const manifest = {
    schema: "headscope.readout-basis/v1", d_model: D, vocab: VOCAB, norm: "layernorm", eps: 1e-5,
    embedding: { source: "test", dtype: "F16", chunks: await chunk(0) },
    unembedding: { source: "test", dtype: "F16", chunks: await chunk(5) },
    tokens: { source: "test", sha256: tk.h }, sha256: "a".repeat(64),
  };
  return { manifest, tokenBytes: tokens.byteLength, res: await req("PUT", BASIS, JSON.stringify(manifest)) };
}

const gauss = (seed: number, n: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 2);
const qkBody = () =>
  encodeSafetensors({
    W_Q: { dtype: "F64", shape: [D, R], data: gauss(1, D * R) }, W_K: { dtype: "F64", shape: [D, R], data: gauss(2, D * R) },
    b_Q: { dtype: "F64", shape: [R], data: gauss(3, R) }, b_K: { dtype: "F64", shape: [R], data: gauss(4, R) },
    ln_w: { dtype: "F64", shape: [D], data: Float64Array.from(gauss(5, D), (x) => 1 + x / 4) }, ln_b: { dtype: "F64", shape: [D], data: gauss(6, D) },
  });
const ovBody = () =>
  encodeSafetensors({ W_V: { dtype: "F64", shape: [D, R], data: gauss(7, D * R) }, W_O: { dtype: "F64", shape: [R, D], data: gauss(8, R * D) } });

beforeEach(async () => {
  await reset();
});

describe("readout basis", () => {
  test("stored once; head POSTs carry readouts equal to float64 scores on the stored rows", async () => {
    const { manifest, res, tokenBytes } = await uploadBasis();
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ model: "tiny", vocab: VOCAB, bytes: 2 * VOCAB * D * 2 + tokenBytes, stored: true });
    const again = await req("PUT", BASIS, JSON.stringify(manifest));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ stored: false });
    const got = await req("GET", BASIS);
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ sha256: manifest.sha256, vocab: VOCAB });

    // raw_augmented: the head reads [γ∘z + β, 1]; the basis rows are z
    const head = "/v1/models/tiny/layers/0/heads/0";
    const r = await req("POST", `${head}/qk?fold_ln=false&readout_k=4`, qkBody());
    expect(r.status).toBe(201);
    const a = (await r.json()) as any;
    expect(a.variant.name).toBe("raw_augmented");
    expect(a.readouts).toMatchObject({ k: 4, vectors: R, sides: { u: { basis: "embedding" }, v: { basis: "embedding" } } });
    const vec = await (await req("GET", `${head}/qk/vectors?variant=raw_augmented`)).arrayBuffer();
    const { parseSafetensors, decodeFloat } = await import("../../src/wire/safetensors");
    const t = parseSafetensors(new Uint8Array(vec)).tensors;
    const U = decodeFloat(t.get("U")!), V = decodeFloat(t.get("V")!);
    const gamma = Float64Array.from(gauss(5, D), (x) => 1 + x / 4), beta = gauss(6, D);
    const score = (M: ArrayLike<number>, i: number, tok: number) => {
      let s = M[D * R + i];
      for (let r0 = 0; r0 < D; r0++) s += (gamma[r0] * value(tok, r0, 0) + beta[r0]) * M[r0 * R + i];
      return s;
    };
    for (const [side, M] of [["u", U], ["v", V]] as const) {
      for (const item of a.readouts.sides[side].items) {
        const all = Array.from({ length: VOCAB }, (_, tok) => score(M, item.index - 1, tok));
        const order = [...all.keys()].sort((x, y) => all[y] - all[x] || x - y);
        const tol = 1e-5 * Math.max(...all.map(Math.abs));
        expect(item.top).toHaveLength(4);
        for (const [p, x] of item.top.entries()) expect(Math.abs(x.score - all[order[p]])).toBeLessThanOrEqual(tol);
        for (const [p, x] of item.bottom.entries()) expect(Math.abs(x.score - all[order[VOCAB - 1 - p]])).toBeLessThanOrEqual(tol);
        for (const x of [...item.top, ...item.bottom]) expect(x.token).toBe(x.id === 3 ? null : `tok${x.id}`);
      }
    }

    // ov: u against the embedding, v against the unembedding; readouts=1 keeps one vector per side
    const o = (await (await req("POST", `${head}/ov?readouts=1`, ovBody())).json()) as any;
    expect(o.readouts).toMatchObject({ k: 10, vectors: 1, sides: { u: { basis: "embedding" }, v: { basis: "unembedding" } } });
    expect(o.readouts.sides.v.items[0].top).toHaveLength(10);

    // readouts=0: none, and the stored result then lacks them: asking again computes them
    const h1 = "/v1/models/tiny/layers/0/heads/1";
    const none = (await (await req("POST", `${h1}/ov?readouts=0`, ovBody())).json()) as any;
    expect(none.readouts).toBeUndefined();
    const same = await req("POST", `${h1}/ov?readouts=0`, ovBody());
    expect(same.status).toBe(200);
    const withR = await req("POST", `${h1}/ov`, ovBody());
    expect(withR.status).toBe(201);
    expect(((await withR.json()) as any).readouts.vectors).toBe(R);
    expect((await req("POST", `${h1}/ov`, ovBody())).status).toBe(200);
  });

  test("a model without a basis: readouts null", async () => {
    const a = (await (await req("POST", "/v1/models/other/layers/0/heads/0/ov", ovBody())).json()) as any;
    expect(a.readouts).toBeNull();
  });

  test("bad blobs and manifests are refused and store nothing", async () => {
    const bytes = rows(0, 0, 4);
    await expectProblem(await req("PUT", `${BASIS}/blobs/${"0".repeat(64)}?format=f16`, bytes), 400, "invalid-request");
    await expectProblem(await req("PUT", `${BASIS}/blobs/${await sha256(bytes)}?format=f16`, bytes, null), 401, "unauthorized");
    await expectProblem(await req("PUT", `${BASIS}/blobs/${await sha256(bytes)}?format=f32`, bytes), 400, "invalid-request");
    const inf = new Uint8Array(new Uint16Array([0x3c00, 0x7c00]).buffer);
    await expectProblem(await req("PUT", `${BASIS}/blobs/${await sha256(inf)}?format=f16`, inf), 422, "non-finite");
    const notTokens = new TextEncoder().encode('{"a":1}');
    await expectProblem(await req("PUT", `${BASIS}/blobs/${await sha256(notTokens)}?format=tokens`, notTokens), 400, "invalid-request");
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
    // a manifest naming a missing blob, then one whose chunk has the wrong size
    const m = {
      schema: "headscope.readout-basis/v1", d_model: D, vocab: 4, norm: "layernorm", eps: 1e-5,
      embedding: { source: "t", dtype: "F16", chunks: [{ sha256: await sha256(bytes), rows: 4 }] }, unembedding: null, tokens: null, sha256: "b".repeat(64),
    };
    await expectProblem(await req("PUT", BASIS, JSON.stringify(m)), 404, "not-found");
    expect((await putBlob(bytes, "f16")).res.status).toBe(201);
    await expectProblem(await req("PUT", BASIS, JSON.stringify({ ...m, d_model: D + 1 })), 422, "shape-mismatch");
    await expectProblem(await req("PUT", BASIS, "{not json"), 400, "invalid-request");
    await expectProblem(await req("PUT", BASIS, JSON.stringify({ ...m, vocab: 0 })), 400, "invalid-request");
    await expectProblem(await req("GET", BASIS), 404, "not-found");
    expect((await req("PUT", BASIS, JSON.stringify(m))).status).toBe(201);
  });
});
