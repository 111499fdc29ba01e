/**
 * A typed headscope client in a few lines: openapi-fetch with the types openapi-typescript generated
 * from the worker's OpenAPI document (examples/headscope-api.d.ts; `npm run client:types` refreshes
 * them). Posts one head's weights and reads the result and its singular vectors back.
 * Tested against a real local worker with real GPT-2 weights by test/openapi/client.test.ts.
 */
import createClient from "openapi-fetch";
import type { paths } from "./headscope-api";

export function headscope(baseUrl: string, token?: string) {
  return createClient<paths>({ baseUrl, headers: token ? { Authorization: `Bearer ${token}` } : {} });
}

/** POST a head (a safetensors file: W_Q, W_K [d_model, d_head], optional b_Q, b_K, ln_w, ln_b), then GET it and its vectors. */
export async function postAndReadHead(baseUrl: string, token: string, model: string, layer: number, head: number, safetensors: Uint8Array) {
  const api = headscope(baseUrl, token);
  const path = { model, layer, head, circuit: "qk" as const };
  const posted = await api.POST("/v1/models/{model}/layers/{layer}/heads/{head}/{circuit}", {
    params: { path },
    body: safetensors,
    bodySerializer: (body) => body as Uint8Array, // the raw bytes, not JSON
    headers: { "content-type": "application/octet-stream" },
  });
  if (posted.error) throw new Error(`${posted.error.type}: ${posted.error.detail}`);
  const { variant, input } = posted.data;

  // reads are public, and addressed by variant and input hash they never change
  const reader = headscope(baseUrl);
  const query = { variant: variant.name, sha256: input.sha256 };
  const stored = await reader.GET("/v1/models/{model}/layers/{layer}/heads/{head}/{circuit}", { params: { path, query } });
  if (stored.error) throw new Error(`${stored.error.type}: ${stored.error.detail}`);
  const vectors = await reader.GET("/v1/models/{model}/layers/{layer}/heads/{head}/{circuit}/vectors", {
    params: { path, query },
    parseAs: "arrayBuffer",
  });
  if (vectors.error) throw new Error(`${vectors.error.type}: ${vectors.error.detail}`);
  return { status: posted.response.status, summary: stored.data, vectors: new Uint8Array(vectors.data) };
}
