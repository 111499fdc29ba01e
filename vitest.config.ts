/**
 * Two projects: `node` (kernels, wire formats, services, CLI, browser pages — plain Node; the builds
 * they run from are made once in its global setup) and `workers` (routes and storage inside workerd
 * through @cloudflare/vitest-pool-workers, with real local R2 and KV).
 */
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/**/*.test.ts"],
          exclude: ["test/routes/**", "node_modules/**"],
          environment: "node",
          globalSetup: ["test/support/build-once.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { HEADSCOPE_TOKEN: "test-token-0123456789" } },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/routes/**/*.test.ts"],
          globalSetup: ["test/support/provide-gpt2.ts"],
          testTimeout: 60_000,
        },
      },
    ],
  },
});
