/** wrangler.toml is read as TOML: the repository's own file, and layouts a regular expression would misread. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { readWranglerToml } from "../../src/cli/wrangler-config";
import { PROJECT_ROOT as ROOT } from "../support/paths";

test("the repository's wrangler.toml gives the local worker its bindings", () => {
  const cfg = readWranglerToml(ROOT);
  expect(cfg.compatibilityDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  expect(cfg.bucket).toBe("headscope-results");
  expect(cfg.kvId).toMatch(/^[0-9a-f]{32}$/);
  expect(cfg.ratelimits).toEqual({ DEMO_LIMITER: { simple: { limit: 20, period: 60 } } });
});

test("inline tables, reordered keys, comments and single quotes are read as TOML", () => {
  const dir = mkdtempSync(join(tmpdir(), "headscope-toml-"));
  writeFileSync(
    join(dir, "wrangler.toml"),
    [
      "compatibility_date = '2026-04-26' # a comment with [brackets]",
      "kv_namespaces = [{ id = 'abc', binding = 'JOBS' }]",
      "[[r2_buckets]]",
      'bucket_name = "b" # ]',
      'binding = "RESULTS"',
      "[[ratelimits]]",
      "simple = { period = 10, limit = 3 }",
      'name = "L"',
    ].join("\n"),
  );
  expect(readWranglerToml(dir)).toEqual({ compatibilityDate: "2026-04-26", bucket: "b", kvId: "abc", ratelimits: { L: { simple: { limit: 3, period: 10 } } } });
  writeFileSync(join(dir, "wrangler.toml"), "name = 'x'\n");
  expect(() => readWranglerToml(dir)).toThrow(/compatibility_date not found/);
  writeFileSync(join(dir, "wrangler.toml"), "name = \n");
  expect(() => readWranglerToml(dir)).toThrow(/wrangler\.toml/);
});
