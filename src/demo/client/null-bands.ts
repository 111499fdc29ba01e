/**
 * @module demo/client/null-bands
 * Gaussian null bands for the head page, computed in this browser by the toy's Web Worker (it holds
 * the WebAssembly kernels): one band per factor shape, asked for once and kept.
 */
import type { NullBand } from "../../analysis/null-band";
import { nullBandKey } from "../../analysis/null-band";
import type { LiveMessage, NullBandRequest } from "./toy-protocol";

let worker: Worker | undefined;
const bands = new Map<string, Promise<NullBand>>();

export function nullBand(rows: number, dHead: number): Promise<NullBand> {
  const key = nullBandKey(rows, dHead);
  let p = bands.get(key);
  if (!p) {
    worker ??= new Worker("/assets/toy-worker.js", { type: "module", name: "headscope-null-band" });
    const w = worker;
    // one request at a time per worker: chain after the previous one
    const previous = [...bands.values()].at(-1) ?? Promise.resolve();
    p = previous.catch(() => undefined).then(
      () =>
        new Promise<NullBand>((resolve, reject) => {
          const onMessage = (ev: MessageEvent<LiveMessage>) => {
            if (ev.data.kind === "null-band" && ev.data.band.rows === rows && ev.data.band.d_head === dHead) {
              w.removeEventListener("message", onMessage);
              resolve(ev.data.band);
            } else if (ev.data.kind === "error") {
              w.removeEventListener("message", onMessage);
              reject(new Error(ev.data.message));
            }
          };
          w.addEventListener("message", onMessage);
          w.postMessage({ kind: "null-band", rows, dHead } satisfies NullBandRequest);
        }),
    );
    bands.set(key, p);
  }
  return p;
}
