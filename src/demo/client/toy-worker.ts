/**
 * @module demo/client/toy-worker
 * The Web Worker behind the demo page's live toy run: the same WebAssembly kernels as the server
 * (build/kernels.release.wasm, inlined as bytes by esbuild's binary loader) through the same boundary
 * (createKernels) and the same trainer (trainToy). Bundled into build/toy-worker.js,
 * served at /assets/toy-worker.js. One run per message; each measurement is posted back. The demo's
 * head page asks it for Gaussian null bands too (`{ kind: "null-band", rows, dHead }`, analysis/null-band.ts),
 * since it already holds the kernels.
 */
import wasmBytes from "../../../build/kernels.release.wasm";
import { gaussianNullBand } from "../../analysis/null-band";
import { createKernels } from "../../kernels/kernels";
import { trainToy } from "../../toy/train";
import { liveConfig, type LiveMessage, type LiveRequest, type NullBandRequest } from "./toy-protocol";

const post = (m: LiveMessage) => (self as unknown as { postMessage(m: LiveMessage): void }).postMessage(m);

let compiled: Promise<WebAssembly.Module> | undefined;

self.addEventListener("message", async (ev: MessageEvent<LiveRequest | NullBandRequest>) => {
  try {
    compiled ??= WebAssembly.compile(wasmBytes);
    const module = await compiled;
    const kernels = createKernels(module, "wasm-release");
    if ("kind" in ev.data && ev.data.kind === "null-band") {
      const { rows, dHead } = ev.data;
      post({ kind: "null-band", band: gaussianNullBand(kernels, rows, dHead) });
      return;
    }
    if ("kind" in ev.data) return;
    const cfg = liveConfig(ev.data);
    post({ kind: "started", kernels: kernels.name, simd: kernels.simd, config: cfg });
    const t0 = performance.now();
    const run = trainToy(
      cfg,
      ev.data.seed,
      kernels,
      (e) =>
        post({
          kind: "progress",
          step: e.step,
          top1CosU: e.snapshot.top1CosU,
          top1CosV: e.snapshot.top1CosV,
          alignment: e.snapshot.matchedMean,
          attendedMaxCosToOthers: e.snapshot.attendedMaxCosToOthers,
          sigmaRatio: e.snapshot.sigmaRatio,
        }),
      kernels,
    );
    post({ kind: "done", run, seconds: (performance.now() - t0) / 1000 });
  } catch (e) {
    post({ kind: "error", message: e instanceof Error ? e.message : String(e) });
  }
});
