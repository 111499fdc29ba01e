/** The status codes and diagnostics layout are defined twice (AssemblyScript and TypeScript): they must agree. */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import * as ts from "../../src/kernels/status";

test("assembly/shared/status.ts and src/kernels/status.ts list the same constants", () => {
  const src = readFileSync(new URL("../../assembly/shared/status.ts", import.meta.url), "utf8");
  const fromAs = Object.fromEntries(
    [...src.matchAll(/export const (\w+): i32 = (-?\d+);/g)].map((m) => [m[1], Number(m[2])]),
  );
  expect(Object.keys(fromAs).length).toBeGreaterThan(10);
  expect(fromAs).toEqual({ ...ts });
});
