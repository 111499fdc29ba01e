/** The layer batch entry point gives exactly the per-head results, for a real GPT-2 layer. */
import { expect, test } from "vitest";
import { loadKernels } from "../../src/kernels/load-node";
import type { Matrix } from "../../src/kernels/types";
import { D_HEAD, D_MODEL, gpt2Head } from "../support/gpt2";
import { randomMatrix } from "../support/matrices";

const m = (data: Float32Array): Matrix => ({ rows: D_MODEL, cols: D_HEAD, data });

for (const build of ["release", "scalar"] as const) {
  test(`${build}: all 12 heads of GPT-2 layer 3 in one call equal 12 single calls`, () => {
    const k = loadKernels(build);
    const pairs: Array<[Matrix, Matrix]> = Array.from({ length: 12 }, (_, h) => {
      const w = gpt2Head(3, h);
      return [m(w.W_Q), m(w.W_K)];
    });
    const batch = k.factoredSvdBatch(pairs);
    expect(batch).toHaveLength(12);
    batch.forEach((r, h) => {
      const single = k.factoredSvd(...pairs[h]);
      expect(Array.from(r.S)).toEqual(Array.from(single.S));
      expect(Array.from(r.U)).toEqual(Array.from(single.U));
      expect(Array.from(r.V)).toEqual(Array.from(single.V));
    });
  });
}

test("a failing head in a batch is reported with its index", () => {
  const k = loadKernels("release");
  const bad = randomMatrix(6, 2, 1);
  bad.data[3] = NaN;
  expect(() => k.factoredSvdBatch([[randomMatrix(6, 2, 2), randomMatrix(6, 2, 3)], [bad, randomMatrix(6, 2, 4)]])).toThrow(/svdFactoredBatch\[1\]/);
});

test("mixed shapes in a batch are refused", () => {
  const k = loadKernels("release");
  expect(() => k.factoredSvdBatch([[randomMatrix(6, 2, 1), randomMatrix(6, 2, 2)], [randomMatrix(5, 2, 3), randomMatrix(5, 2, 4)]])).toThrow(/batch entry 1/);
});
