/**
 * @module demo/client/main
 * Entry point of the demo page's script (bundled by esbuild into build/demo-client.js and served by
 * the worker at /assets/demo.js).
 */
import { resizeAll } from "./charts";
import { initTabs } from "./tabs";
import { initUpload } from "./upload";

const loaders: Record<string, () => void> = {};
const loaded = new Set<string>();

initUpload();
initTabs((panel) => {
  if (loaded.has(panel)) return;
  loaded.add(panel);
  loaders[panel]?.();
});
window.addEventListener("resize", resizeAll);
