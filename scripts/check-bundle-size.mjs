#!/usr/bin/env node
/**
 * Fails when the deploy grows past its budget (issue 10): the worker upload that
 * `wrangler deploy --dry-run --outdir build/dry-run` wrote, source maps excluded, at most 1.2 MB
 * (worker, kernels, demo scripts), and the toy model's Web Worker at most 250 kB.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const MB = 1000 * 1000;
const UPLOAD_LIMIT = 1.2 * MB;
const TOY_WORKER_LIMIT = 250 * 1000;
const dir = process.argv[2] ?? "build/dry-run";

const files = readdirSync(dir).filter((f) => !f.endsWith(".map") && f !== "README.md").map((f) => ({ f, bytes: statSync(join(dir, f)).size }));
const total = files.reduce((a, x) => a + x.bytes, 0);
const toy = files.find((x) => x.f.endsWith("toy-worker.js"));
const failures = [];
if (total > UPLOAD_LIMIT) failures.push(`worker upload is ${total} bytes, over ${UPLOAD_LIMIT}`);
if (!toy) failures.push("toy-worker.js is missing from the upload");
else if (toy.bytes > TOY_WORKER_LIMIT) failures.push(`toy Web Worker is ${toy.bytes} bytes, over ${TOY_WORKER_LIMIT}`);
if (failures.length) {
  for (const x of files) console.error(`  ${String(x.bytes).padStart(9)}  ${x.f}`);
  console.error(failures.join("\n"));
  process.exit(1);
}
