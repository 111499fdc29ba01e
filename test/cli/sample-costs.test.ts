/**
 * The scan's timing of the worker's per-head code (issue 12's profile and estimate), on the thread
 * it runs on beside the local worker's start (build/sample-worker.mjs): real GPT-2 L0H0 bodies give
 * every step's time for their circuit and size; a body the worker's code refuses gives undefined and
 * leaves the others alone. The scans' run.json (scan-vectors.test.ts) holds the same figures.
 */
import { expect, test } from "vitest";
import { sampleCostsOffThread } from "../../src/cli/sample-costs";
import { gpt2Head, headBody } from "../support/gpt2";

test("GPT-2 L0H0's QK and OV bodies are timed on the sampling thread; a refused body gives undefined", async () => {
  const head = gpt2Head(0, 0);
  const url = (c: string) => `http://x/v1/models/gpt2/layers/0/heads/0/${c}?variant=raw`;
  const out = await sampleCostsOffThread([
    { body: headBody(head, "qk"), url: url("qk"), circuit: "qk" },
    { body: new Uint8Array([1, 2, 3]), url: url("qk"), circuit: "qk" },
    { body: headBody(head, "ov"), url: url("ov"), circuit: "ov" },
  ]);
  expect(out).toHaveLength(3);
  expect(out[1]).toBeUndefined();
  for (const [i, circuit] of [[0, "qk"], [2, "ov"]] as const) {
    const c = out[i]!;
    expect(c).toMatchObject({ circuit, d_model: 768 });
    for (const step of ["parse", "fold", "svd", "encode_vectors"] as const) {
      expect(c[step]).toBeGreaterThan(0);
      expect(c[step]).toBeLessThan(5); // seconds: a warm run of a GPT-2 head takes milliseconds
    }
  }
}, 60_000);
