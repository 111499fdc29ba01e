#!/usr/bin/env node
/**
 * Builds what `headscope scan` runs (Node 20 cannot run TypeScript): the CLI bundle
 * build/cli/headscope.mjs (npm packages stay external, resolved from node_modules) and the worker
 * bundle build/worker/worker.mjs with the kernels' .wasm beside it, which the CLI's embedded local
 * worker (Miniflare) serves, with the kernels' .wasm and the demo page's scripts (page and toy Web
 * Worker) beside it, build/forward-worker.mjs (the forward pass's worker threads) and
 * build/sample-worker.mjs (the scan's thread timing the worker's code). Builds the kernels and the demo scripts first when they are missing or older
 * than their sources.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const wasm = `${root}build/kernels.release.wasm`;
const demoClient = `${root}build/demo-client.js`;
const toyWorker = `${root}build/toy-worker.js`;
const reportClient = `${root}build/report-client.js`;

/** Newest modification time under a directory. */
const newest = (dir) =>
  Math.max(...readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => statSync(`${e.parentPath}/${e.name}`).mtimeMs));

export async function buildCli({ quiet = false } = {}) {
  if (!existsSync(wasm) || newest(`${root}assembly`) > statSync(wasm).mtimeMs) {
    execFileSync(process.execPath, [`${root}node_modules/assemblyscript/bin/asc.js`, "assembly/index.ts", "--config", "assembly/asconfig.json", "--target", "release"], {
      cwd: root, stdio: quiet ? "ignore" : "inherit",
    });
  }
  // the toy Web Worker also bundles the kernels' boundary, the trainer and the .wasm bytes
  const demoSources = Math.max(...["src/demo/client", "src/view", "src/toy", "src/kernels", "src/analysis"].map((d) => newest(`${root}${d}`)), statSync(wasm).mtimeMs);
  if (![demoClient, toyWorker, reportClient].every((f) => existsSync(f) && statSync(f).mtimeMs >= demoSources)) {
    // same options as the `build:demo` npm script
    const common = { bundle: true, minify: true, format: "esm", target: "es2022", legalComments: "none", logLevel: quiet ? "silent" : "warning" };
    await build({ entryPoints: [`${root}src/demo/client/main.ts`], outfile: demoClient, ...common });
    await build({ entryPoints: [`${root}src/demo/client/toy-worker.ts`], outfile: toyWorker, loader: { ".wasm": "binary" }, ...common });
    // report.html's script (src/view/report-page.ts), inlined by cli/report-html.ts
    await build({ entryPoints: [`${root}src/view/report-page.ts`], outfile: reportClient, ...common, format: "iife" });
  }
  await build({
    entryPoints: [`${root}src/cli/main.ts`],
    outfile: `${root}build/cli/headscope.mjs`,
    bundle: true, platform: "node", format: "esm", target: "node20", packages: "external",
    sourcemap: "linked", logLevel: quiet ? "silent" : "warning",
  });
  // the forward pass's worker threads (src/model/forward.ts starts build/forward-worker.mjs)
  await build({
    entryPoints: [`${root}src/model/forward-worker.ts`],
    outfile: `${root}build/forward-worker.mjs`,
    bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: quiet ? "silent" : "warning",
  });
  // the scan's sampling thread (src/cli/sample-costs.ts starts build/sample-worker.mjs)
  await build({
    entryPoints: [`${root}src/cli/sample-worker.ts`],
    outfile: `${root}build/sample-worker.mjs`,
    bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: quiet ? "silent" : "warning",
  });
  mkdirSync(`${root}build/worker`, { recursive: true });
  copyFileSync(wasm, `${root}build/worker/kernels.release.wasm`);
  copyFileSync(demoClient, `${root}build/worker/demo-client.js`);
  copyFileSync(toyWorker, `${root}build/worker/toy-worker.js`);
  await build({
    entryPoints: [`${root}src/worker.ts`],
    outfile: `${root}build/worker/worker.mjs`,
    bundle: true, platform: "neutral", format: "esm", target: "es2022", mainFields: ["module", "main"], conditions: ["workerd", "worker", "browser"],
    // the runtime's own modules (the ScanJob Durable Object extends cloudflare:workers' DurableObject)
    external: ["cloudflare:*"],
    logLevel: quiet ? "silent" : "warning",
    plugins: [{
      name: "wasm-beside",
      setup(b) {
        // the worker imports ../../build/kernels.release.wasm, ../../build/demo-client.js and
        // ../../build/toy-worker.js (Text modules); the bundle finds their copies beside it
        b.onResolve({ filter: /\.wasm$/ }, () => ({ path: "./kernels.release.wasm", external: true }));
        b.onResolve({ filter: /demo-client\.js$/ }, () => ({ path: "./demo-client.js", external: true }));
        b.onResolve({ filter: /toy-worker\.js$/ }, () => ({ path: "./toy-worker.js", external: true }));
      },
    }],
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildCli();
