#!/usr/bin/env node
// `npx headscope …`: builds the CLI bundle on first use (or when asked with HEADSCOPE_REBUILD=1), then runs it.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../build/cli/headscope.mjs", import.meta.url));
if (!existsSync(cli) || process.env.HEADSCOPE_REBUILD === "1") {
  const { buildCli } = await import("../scripts/build-cli.mjs");
  await buildCli({ quiet: true });
}
await import(cli);
