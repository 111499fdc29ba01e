import { describe, expect, test } from "vitest";
import { loadKernels } from "../../src/kernels/load-node";
import { runKernelSuite } from "./kernels.suite";

describe("SIMD build", () => {
  test("is the SIMD build", () => expect(loadKernels("release").simd).toBe(true));
  runKernelSuite(() => loadKernels("release"), { factor: 1 });
});

describe("scalar build", () => {
  test("is the scalar build", () => expect(loadKernels("scalar").simd).toBe(false));
  runKernelSuite(() => loadKernels("scalar"), { factor: 1 });
});
