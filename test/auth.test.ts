import { expect, test } from "vitest";
import { tokensEqual } from "../src/auth";

test("tokensEqual compares whole tokens, whatever their lengths", async () => {
  expect(await tokensEqual("abc", "abc")).toBe(true);
  expect(await tokensEqual("abc", "abd")).toBe(false);
  expect(await tokensEqual("abc", "abcd")).toBe(false);
  expect(await tokensEqual("", "abc")).toBe(false);
  expect(await tokensEqual("x".repeat(10_000), "x".repeat(10_000))).toBe(true);
});
