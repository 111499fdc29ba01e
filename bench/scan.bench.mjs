#!/usr/bin/env node
/**
 * `npm run bench:scan`: the full GPT-2 small scan (144 heads × QK and OV, default variants) through
 * the local worker, from command start to report written, on fresh storage (everything computed),
 * then once more on the same storage (everything already stored: the resume path), against numpy in
 * the same run computing the same 288 spectra dense per head (the published way) and factored.
 * Reports wall times, and the peak resident memory of the CLI and of the worker (workerd) process.
 * Expects `node scripts/build-cli.mjs` to have run (the npm script does it).
 */
import { execFileSync, spawn } from "node:child_process";
import { guardedCommand } from "../scripts/runtime/guard.mjs";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const denseAt = args.indexOf("--dense-heads");
/** --dense-heads N times numpy dense on the first N heads only and extrapolates (for a loaded machine); default all */
const denseHeads = denseAt >= 0 ? Number(args.splice(denseAt, 2)[1]) : 0;
const model = args[0] ?? join(root, "../shared/models/gpt2-small-attn.safetensors");
const tmp = mkdtempSync(join(tmpdir(), "headscope-bench-"));
const mb = (b) => (b / 2 ** 20).toFixed(0) + " MB";

function scan(out, state) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // guarded: the CLI (and so its workerd) never outlives this benchmark (scripts/runtime/guard.mjs)
    const child = spawn(...guardedCommand(root, process.execPath, [join(root, "build/cli/headscope.mjs"), "scan", model, "--out", out, "--state", state, "--progress", "quiet"]), {
      stdio: ["ignore", "inherit", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (c) => (err += c));
    child.on("close", (code) => {
      const wall = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`scan exited ${code}:\n${err}`));
      resolve({ wall, run: JSON.parse(readFileSync(join(out, "run.json"), "utf8")), report: JSON.parse(readFileSync(join(out, "report.json"), "utf8")) });
    });
  });
}

try {
  const state = join(tmp, "state");
  const fresh = await scan(join(tmp, "fresh"), state);
  const again = await scan(join(tmp, "again"), state);
  const entries = fresh.report.entries;
  const load = () => loadavg().map((x) => x.toFixed(1)).join(" ");
  console.log(`GPT-2 small scan, ${entries.length} spectra (qk folded_augmented, ov folded); load average ${load()}`);
  console.log(`  headscope scan, fresh storage (all computed):   ${fresh.wall.toFixed(2)} s  (${fresh.run.computed} computed)`);
  console.log(`  headscope scan, same storage (all stored):      ${again.wall.toFixed(2)} s  (${again.run.stored} already stored)`);
  console.log(`  peak RSS: CLI ${mb(fresh.run.peak_rss_bytes.cli)}, worker (workerd) ${fresh.run.peak_rss_bytes.worker ? mb(fresh.run.peak_rss_bytes.worker) : "n/a"}`);
  let py;
  try {
    // one BLAS thread unless told otherwise: on a shared 2-core machine OpenBLAS's threads thrash
    // (measured: factored 29 s with the default threads against 0.7 s with one, dense 199 s against 28 s)
    const env = { ...process.env, OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? "1" };
    py = JSON.parse(execFileSync("python3", [join(root, "bench/scan_numpy.py"), model, String(denseHeads)], { encoding: "utf8", maxBuffer: 1 << 26, env }));
  } catch (e) {
    console.error(`numpy baseline unavailable: ${e.message.split("\n")[0]}`);
  }
  if (py) {
    // same heads in the same order (layer, head, qk then ov)
    let worst = 0;
    entries.forEach((e, i) => (worst = Math.max(worst, Math.abs(e.singular_values[0] - py.factored.sigma1[i]) / py.factored.sigma1[i])));
    const extrapolated = py.dense.heads < py.heads ? ` (timed on ${py.dense.heads} heads, scaled to ${py.heads})` : "";
    console.log(`  numpy (OPENBLAS_NUM_THREADS=${py.threads})`);
    console.log(`  numpy ${py.numpy} dense SVD of the 768×768 / 769×769 products:   ${py.dense.seconds.toFixed(2)} s${extrapolated}; load average ${load()}`);
    console.log(`  numpy ${py.numpy} factored (QR + core SVD):                     ${py.factored.seconds.toFixed(2)} s  (+${py.read_and_fold_seconds.toFixed(2)} s read and fold)`);
    console.log(`  σ₁ headscope vs numpy factored: max relative difference ${worst.toExponential(2)}`);
    console.log(`  headscope end to end vs numpy dense compute alone: ${(py.dense.seconds / fresh.wall).toFixed(1)}× faster`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
