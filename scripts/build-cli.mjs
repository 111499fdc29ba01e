#!/usr/bin/env node
/**
 * Builds what `headscope scan` runs (Node 20 cannot run TypeScript): the CLI bundle
 * build/cli/headscope.mjs (npm packages stay external, resolved from node_modules) and the worker
 * bundle build/worker/worker.mjs with the kernels' .wasm beside it, which the CLI's embedded local
 * worker (Miniflare) serves, with the kernels' .wasm and the demo page's script beside it. Builds the
 * kernels and the demo script first when they are missing or older than their sources.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const wasm = `${root}build/kernels.release.wasm`;
const demoClient = `${root}build/demo-client.js`;

/** Newest modification time under a directory. */
const newest = (dir) =>
  Math.max(...readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => statSync(`${e.parentPath}/${e.name}`).mtimeMs));

export async function buildCli({ quiet = false } = {}) {
  if (!existsSync(wasm) || newest(`${root}assembly`) > statSync(wasm).mtimeMs) {
    execFileSync(process.execPath, [`${root}node_modules/assemblyscript/bin/asc.js`, "assembly/index.ts", "--config", "assembly/asconfig.json", "--target", "release"], {
      cwd: root, stdio: quiet ? "ignore" : "inherit",
    });
  }
  if (!existsSync(demoClient) || newest(`${root}src/demo/client`) > statSync(demoClient).mtimeMs) {
    // same options as the `build:demo` npm script
    await build({
      entryPoints: [`${root}src/demo/client/main.ts`], outfile: demoClient, bundle: true, minify: true, format: "esm",
      target: "es2022", legalComments: "none", logLevel: quiet ? "silent" : "warning",
    });
  }
  await build({
    entryPoints: [`${root}src/cli/main.ts`],
    outfile: `${root}build/cli/headscope.mjs`,
    bundle: true, platform: "node", format: "esm", target: "node20", packages: "external",
    sourcemap: "linked", logLevel: quiet ? "silent" : "warning",
  });
  mkdirSync(`${root}build/worker`, { recursive: true });
  copyFileSync(wasm, `${root}build/worker/kernels.release.wasm`);
  copyFileSync(demoClient, `${root}build/worker/demo-client.js`);
  await build({
    entryPoints: [`${root}src/worker.ts`],
    outfile: `${root}build/worker/worker.mjs`,
    bundle: true, platform: "neutral", format: "esm", target: "es2022", mainFields: ["module", "main"], conditions: ["workerd", "worker", "browser"],
    logLevel: quiet ? "silent" : "warning",
    plugins: [{
      name: "wasm-beside",
      setup(b) {
        // the worker imports ../../build/kernels.release.wasm and ../../build/demo-client.js (a Text
        // module); the bundle finds their copies beside it
        b.onResolve({ filter: /\.wasm$/ }, () => ({ path: "./kernels.release.wasm", external: true }));
        b.onResolve({ filter: /demo-client\.js$/ }, () => ({ path: "./demo-client.js", external: true }));
      },
    }],
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildCli();
