/**
 * @module demo/client/main
 * Entry point of the demo page's script (bundled by esbuild into build/demo-client.js and served by
 * the worker at /assets/demo.js).
 */
import { resizeAll } from "./charts";
import { initExplore } from "./explore";
import { initPrediction } from "./prediction";
import { initTabs } from "./tabs";
import { initToy } from "./toy";
import { initUpload } from "./upload";

const loaders: Record<string, () => void> = {
  "view-explore": () => void initExplore(),
  "view-prediction": () => void initPrediction(),
  "view-toy": () => initToy(),
};
const loaded = new Set<string>();

initUpload();
initTabs((panel) => {
  if (loaded.has(panel)) return;
  loaded.add(panel);
  loaders[panel]?.();
});
window.addEventListener("resize", resizeAll);
