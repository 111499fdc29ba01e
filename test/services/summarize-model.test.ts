/**
 * The model table is built from the KV listing's metadata when it is there (no read per head) and
 * is the same, byte for byte, as the table built by reading every summary.
 */
import { expect, test } from "vitest";
import { loadKernels } from "../../src/kernels/load-node";
import { decomposeHead } from "../../src/services/decompose-head";
import type { HeadWeights } from "../../src/services/head-weights";
import { summarizeModel, summaryMetadata, type SummarySource } from "../../src/services/summarize-model";
import type { SvdSummary } from "../../src/wire/svd-result";
import { D_HEAD, D_MODEL, gpt2Head } from "../support/gpt2";

const kernels = loadKernels("release");
const summaries: SvdSummary[] = [];
for (const [layer, head] of [[0, 0], [0, 1], [2, 5]] as const) {
  const w = gpt2Head(layer, head);
  for (const circuit of ["qk", "ov"] as const) {
    const weights: HeadWeights = {
      circuit, dModel: D_MODEL, dHead: D_HEAD, read: circuit === "qk" ? w.W_Q : w.W_V, other: circuit === "qk" ? w.W_K : w.W_O,
      bQ: w.b_Q, bK: w.b_K, lnW: w.ln_w, lnB: w.ln_b, dtypes: {},
    };
    const path = { model: "m", layer, head, circuit };
    summaries.push(decomposeHead(kernels, path, weights, {}, { sha256: `${layer}${head}${circuit}`.padEnd(64, "0"), bytes: 1 }, "vectors").summary);
  }
}

function source(withMetadata: boolean) {
  let reads = 0;
  const where = (s: SvdSummary) => `${s.layer}/${s.head}/${s.circuit}/${s.variant.name}`;
  const byHead = new Map(summaries.map((s) => [where(s), s]));
  const src: SummarySource = {
    async listModelHeads() {
      return summaries.map((s) => ({
        path: { model: s.model, layer: s.layer, head: s.head, circuit: s.circuit },
        variant: s.variant.name,
        metadata: withMetadata ? JSON.parse(JSON.stringify(summaryMetadata(s))) : undefined,
      }));
    },
    async getSummary(p, variant) {
      reads++;
      return byHead.get(`${p.layer}/${p.head}/${p.circuit}/${variant}`);
    },
    async listModelAnalyses() {
      return [];
    },
    async getAnalysis() {
      return undefined;
    },
  };
  return { src, reads: () => reads };
}

test("rows from listing metadata equal rows from reading every summary, without a read per head", async () => {
  const listed = source(true);
  const read = source(false);
  const a = await summarizeModel(listed.src, "m");
  const b = await summarizeModel(read.src, "m");
  expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  expect(a.count).toBe(6);
  expect(listed.reads()).toBe(0);
  expect(read.reads()).toBe(6);
  // the digest fits KV's 1,024-byte metadata limit with room to spare
  for (const s of summaries) expect(JSON.stringify(summaryMetadata(s)).length).toBeLessThan(900);
});
