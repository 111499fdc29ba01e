/**
 * GET /openapi.json and GET /docs inside workerd: every route of the app (walked from Hono's
 * app.routes) is in the document with its method and nothing else is; the answers a real worker
 * gives (real GPT-2 heads, real local KV and R2) parse with the schemas the document was generated
 * from; the rendered reference lists every operation and has no script. The document is checked
 * against the OpenAPI 3.1 schema by test/openapi/client.test.ts (the validator compiles schemas to
 * code, which workerd does not allow).
 */
import { reset } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeEach, describe, expect, inject, test } from "vitest";
import type * as z from "zod/mini";
import { app } from "../../src/app";
import {
  DemoAnalysisSchema, ModelListSchema, ModelSummaryEntrySchema, ModelSummarySchema, ProblemAnswerSchema, SadAnswerSchema, ToyReportListSchema,
} from "../../src/openapi/answers";
import { CheckpointListSchema, CheckpointManifestSchema, CompleteUploadAnswerSchema, ScanReportSchema } from "../../src/openapi/answers";
import { openApiPath } from "../../src/openapi/document";
import { SvdAnswerSchema } from "../../src/wire/svd-result";
import { ActivationAnswerSchema } from "../../src/wire/activations";
import { StartUploadAnswerSchema, UploadPartAnswerSchema } from "../../src/wire/checkpoint";
import { ScanJobStatusSchema } from "../../src/wire/scan-job";
import { decodeFloat, encodeSafetensors, parseSafetensors } from "../../src/wire/safetensors";
import { exampleTensors, EXAMPLE } from "../../src/cli/example-model";
import { call, sha256Hex, startJob, waitForJob } from "../support/server-scan";

const TOKEN = "test-token-0123456789";
const BASE = "https://headscope.test";
const gpt2 = inject("gpt2L0H1");
const sad = inject("gpt2SadL0");
const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const post = (path: string, body: Uint8Array, auth = true) =>
  exports.default.fetch(new Request(`${BASE}${path}`, { method: "POST", body, headers: auth ? { authorization: `Bearer ${TOKEN}` } : {} }));
const get = (path: string) => exports.default.fetch(new Request(`${BASE}${path}`));

beforeEach(async () => {
  await reset();
});

/** Parses with the documented schema, and checks the answer has no top-level member the schema lacks. */
function expectDocumented(schema: z.ZodMiniObject, answer: Record<string, unknown>, what: string) {
  const r = schema.safeParse(answer);
  expect(r.success, `${what}: ${r.success ? "" : JSON.stringify(r.error.issues.slice(0, 3))}`).toBe(true);
  const documented = Object.keys(schema.shape);
  expect(Object.keys(answer).filter((k) => !documented.includes(k)), what).toEqual([]);
}

describe("the OpenAPI document", () => {
  test("is OpenAPI 3.1 JSON and covers every route of the app, and only those", async () => {
    const res = await get("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const doc = (await res.json()) as any;
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.jsonSchemaDialect).toBe("https://json-schema.org/draft/2020-12/schema");

    const routes = new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`));
    const documented = new Set(Object.entries(doc.paths as Record<string, object>).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`)));
    expect(routes.size).toBeGreaterThanOrEqual(24);
    expect([...routes].filter((r) => !documented.has(r)), "routes missing from the document").toEqual([]);
    expect([...documented].filter((d) => !routes.has(d)), "documented operations that are not routes").toEqual([]);

    // path parameters are declared for every {name} of every path, and writes need the bearer token
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(item)) {
        const declared = (op.parameters ?? []).filter((p: any) => p.in === "path").map((p: any) => p.name).sort();
        expect(declared, `${method} ${path}`).toEqual(names);
        if (method !== "get" && path !== "/v1/demo/analyze") expect(op.security, `${method} ${path}`).toEqual([{ bearer: [] }]);
      }
    }
  });

  test("parameters and bodies come from the routes' schemas: enums, bounds, defaults, tensors", async () => {
    const doc = (await (await get("/openapi.json")).json()) as any;
    const head = doc.paths["/v1/models/{model}/layers/{layer}/heads/{head}/{circuit}"];
    const param = (op: any, name: string) => op.parameters.find((p: any) => p.name === name);
    expect(param(head.post, "circuit").schema.enum).toEqual(["qk", "ov"]);
    expect(param(head.post, "layer").schema).toMatchObject({ type: "integer", minimum: 0, maximum: 4095 });
    expect(param(head.post, "bias").schema.enum).toEqual(["augmented", "none"]);
    expect(param(head.post, "bias").required).toBe(false);
    expect(param(head.get, "variant").schema.enum).toEqual(["raw", "raw_augmented", "folded", "folded_augmented"]);
    expect(param(head.get, "sha256").schema.pattern).toBe("^[0-9a-f]{64}$");
    const sadPost = doc.paths["/v1/models/{model}/layers/{layer}/heads/{head}/qk/sad"].post;
    expect(param(sadPost, "null_seeds").schema).toMatchObject({ default: 8 });
    expect(param(sadPost, "tau").schema).toMatchObject({ default: 1 });
    // binary bodies: safetensors with their tensor names and shapes
    const body = head.post.requestBody.content["application/octet-stream"];
    expect(body["x-format"]).toBe("safetensors");
    expect(body["x-tensors"].filter((t: any) => t.required).map((t: any) => `${t.name} ${t.shape}`)).toEqual([
      "W_Q [d_model, d_head]", "W_K [d_model, d_head]", "W_V [d_model, d_head]", "W_O [d_head, d_model]",
    ]);
    expect(sadPost.requestBody.content["application/octet-stream"]["x-tensors"][0]).toMatchObject({ name: "X", shape: "[T, d] or [B, T, d]", required: true });
    // the SAD options and tensors that read stored activations, rotary heads and local windows
    const query = (op: any, name: string) => op.parameters.find((p: any) => p.name === name && p.in === "query");
    for (const name of ["activations", "layer", "tensor", "rotary_dim", "rotary_base", "window", "norm"]) expect(query(sadPost, name)?.required, name).toBe(false);
    expect(query(sadPost, "layer").description).toContain("activations=");
    expect(param(sadPost, "activations").schema.pattern).toBe("^[0-9a-f]{64}$");
    expect(sadPost.requestBody.content["application/octet-stream"]["x-tensors"].slice(1, 3).map((t: any) => `${t.name} ${t.shape} ${t.dtypes}`)).toEqual(["focus [F, 3] I32", "lengths [B] I32"]);
    // parameter names with digits ({sha256}), PUT parts as plain octet streams, DELETE without a body
    const part = doc.paths["/v1/checkpoints/blobs/{sha256}/uploads/{upload_id}/parts/{part}"].put;
    expect(param(part, "part").schema).toMatchObject({ type: "integer", minimum: 1, maximum: 10000 });
    expect(param(part, "sha256").schema.pattern).toBe("^[0-9a-f]{64}$");
    expect(part.requestBody.content["application/octet-stream"]["x-format"]).toBe("bytes");
    expect(part.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/v1/checkpoints/blobs/{sha256}/uploads/{upload_id}"].delete.responses["204"].content).toBeUndefined();
    expect(doc.paths["/v1/scans"].post.requestBody.content["application/json"].schema.properties.layers.default).toBe("all");
    expect(doc.paths["/v1/activations/{id}"].get["x-cache-policy"]).toContain("immutable");
    expect(doc.paths["/v1/scans/{id}"].get["x-cache-policy"]).toBe("no-store");
    const alignment = doc.paths["/v1/models/{model}/layers/{layer}/heads/{head}/{circuit}/alignment"].post;
    expect(alignment.requestBody.content["application/octet-stream"]["x-format"]).toBe("safetensors or npy");
    const vectors = doc.paths["/v1/models/{model}/layers/{layer}/heads/{head}/{circuit}/vectors"].get.responses["200"];
    expect(vectors.content["application/octet-stream"]["x-tensors"].map((t: any) => `${t.name} ${t.shape} ${t.dtypes}`)).toEqual([
      "U [rows, k] F32", "S [k] F64", "V [rows, k] F32",
    ]);
    // every problem type a route can answer is documented with the Problem schema, and 304 on GETs
    expect(Object.keys(head.post.responses).sort()).toEqual(["200", "201", "400", "401", "409", "413", "415", "422", "500", "503"]);
    expect(head.post.responses["409"].description).toContain("/problems/conflict");
    expect(head.get.responses["304"]).toBeDefined();
    expect(doc.components.schemas.Problem.properties.type.enum).toContain("/problems/not-converged");
  });

  test("real answers parse with the schemas the document was generated from", async () => {
    const svd = (await (await post("/v1/models/gpt2-small/layers/0/heads/1/qk", bytes(gpt2.qk))).json()) as any;
    expectDocumented(SvdAnswerSchema, svd, "POST head");
    expectDocumented(SvdAnswerSchema, (await (await get(svd.links.self)).json()) as any, "GET head");
    await post(`/v1/models/gpt2-small/layers/0/heads/${sad.head}/qk`, bytes(sad.qkRawAugmented)); // its summary row shows the SAD digest
    const sadAnswer = (await (await post(`/v1/models/gpt2-small/layers/0/heads/${sad.head}/qk/sad?null_seeds=1`, bytes(sad.withWeights))).json()) as any;
    expect(SadAnswerSchema.safeParse(sadAnswer).success).toBe(true);
    expectDocumented(ModelSummarySchema, (await (await get("/v1/models/gpt2-small/summary")).json()) as any, "model summary");
    const entry = ((await (await get("/v1/models/gpt2-small/summary")).json()) as any).entries.find((e: any) => e.sad);
    expectDocumented(ModelSummaryEntrySchema, entry, "summary entry with SAD");
    expectDocumented(ModelListSchema, (await (await get("/v1/models")).json()) as any, "model list");
    expectDocumented(ToyReportListSchema, (await (await get("/v1/toy/reports")).json()) as any, "toy list");
    expectDocumented(DemoAnalysisSchema, (await (await post("/v1/demo/analyze", bytes(gpt2.qk), false)).json()) as any, "demo analysis");
    for (const res of [await post("/v1/models/gpt2-small/layers/0/heads/2/qk", new Uint8Array(3)), await get("/v1/models/none/summary"), await post("/v1/models/x/layers/0/heads/0/qk", bytes(gpt2.qk), false)]) {
      const problem = (await res.json()) as any;
      expect(ProblemAnswerSchema.safeParse(problem).success, JSON.stringify(problem)).toBe(true);
    }
  });
});

describe("answers of the activation store, checkpoints and scan jobs", () => {
  test("parse with the documented schemas, from a real upload, registration and server-side scan", async () => {
    // an activation file: the X of a real GPT-2 SAD body
    const x = parseSafetensors(bytes(sad.withWeights)).tensors.get("X")!;
    const file = encodeSafetensors({ X: { dtype: "F32", shape: x.shape, data: Float32Array.from(decodeFloat(x)) } });
    const stored = await call("POST", "/v1/activations", file.slice());
    expect(stored.status).toBe(201);
    expectDocumented(ActivationAnswerSchema, (await stored.json()) as any, "POST activations");

    // one shard through every upload step, by hand (start, part, complete), then the manifest
    const shard = encodeSafetensors(exampleTensors(), { format: "pt" });
    const sha = await sha256Hex(shard);
    const start = (await (await call("POST", `/v1/checkpoints/blobs/${sha}/uploads`)).json()) as any;
    expect(StartUploadAnswerSchema.safeParse(start).success, JSON.stringify(start)).toBe(true);
    const part = (await (await call("PUT", `/v1/checkpoints/blobs/${sha}/uploads/${start.upload_id}/parts/1`, shard.slice(), { "content-length": String(shard.length) })).json()) as any;
    expectDocumented(UploadPartAnswerSchema, part, "PUT part");
    const done = (await (await call("POST", `/v1/checkpoints/blobs/${sha}/uploads/${start.upload_id}/complete`, JSON.stringify({ parts: [part] }))).json()) as any;
    expectDocumented(CompleteUploadAnswerSchema, done, "complete");
    expect(StartUploadAnswerSchema.safeParse((await (await call("POST", `/v1/checkpoints/blobs/${sha}/uploads`)).json()) as any).success).toBe(true);
    const config = { model_type: "gpt2", n_layer: EXAMPLE.layers, n_head: EXAMPLE.heads, n_embd: EXAMPLE.dModel, layer_norm_epsilon: 1e-5 };
    const registered = (await (await call("POST", "/v1/checkpoints", JSON.stringify({ name: "example-tiny-gpt2", files: [{ name: "model.safetensors", sha256: sha, bytes: shard.length }], config }))).json()) as any;
    expectDocumented(CheckpointManifestSchema, registered, "POST checkpoints");
    const manifest = await call("GET", `/v1/checkpoints/${registered.id}`);
    expect(manifest.headers.get("cache-control")).toContain("immutable");
    expectDocumented(CheckpointManifestSchema, (await manifest.json()) as any, "GET checkpoint");
    expectDocumented(CheckpointListSchema, (await (await call("GET", "/v1/checkpoints")).json()) as any, "GET checkpoints");

    // a one-head scan job: its status (never cached) and its report
    const { status, body: job } = await startJob({ checkpoint: registered.id, layers: "0", heads: "0", circuits: "qk" });
    expect(status).toBe(201);
    expectDocumented(ScanJobStatusSchema, job, "POST scans");
    const finished = await waitForJob(job.id);
    expectDocumented(ScanJobStatusSchema, finished, "GET scan");
    expect((await call("GET", `/v1/scans/${job.id}`)).headers.get("cache-control")).toBe("no-store");
    const report = (await (await call("GET", `/v1/scans/${job.id}/report`)).json()) as any;
    expect(ScanReportSchema.safeParse(report).success, JSON.stringify(report).slice(0, 300)).toBe(true);
    expect(report.entries).toHaveLength(1);
    expectDocumented(ScanJobStatusSchema, (await (await call("DELETE", `/v1/scans/${job.id}`)).json()) as any, "DELETE scan");
  });
});

describe("the rendered reference at /docs", () => {
  test("lists every operation with its parameters, bodies and problems, and has no script", async () => {
    const doc = (await (await get("/openapi.json")).json()) as any;
    const res = await get("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    const page = await res.text();
    const ops = Object.values(doc.paths as Record<string, Record<string, any>>).flatMap((item) => Object.values(item));
    for (const op of ops) expect(page, op.operationId).toContain(`id="${op.operationId}"`);
    expect(page).not.toMatch(/<script\b|<style\b|\son[a-z]+=/i);
    expect(page).toContain("<code>W_O</code>");
    expect(page).toContain("/problems/conflict");
    expect(page).toContain('href="/assets/docs.css"');
    expect((await get("/assets/docs.css")).headers.get("content-type")).toBe("text/css; charset=utf-8");
  });
});
