/**
 * @module demo/client/main
 * Entry point of the demo page's script (bundled by esbuild into build/demo-client.js and served by
 * the worker at /assets/demo.js). An address #model/layer/head opens that head in the explore view.
 */
import { resizeAll } from "./charts";
import { parseHeadHash } from "../../view/head-hash";
import { initExplore, openHeadRef } from "./explore";
import { initPrediction } from "./prediction";
import { initTabs } from "./tabs";
import { initToy } from "./toy";
import { initUpload } from "./upload";

// read before the tabs write their own name into the address
let wantedHead = parseHeadHash(location.hash);
const loaders: Record<string, () => void> = {
  "view-explore": () => void initExplore(wantedHead),
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
window.addEventListener("hashchange", () => {
  const ref = parseHeadHash(location.hash);
  if (!ref) return;
  wantedHead = ref;
  const wasLoaded = loaded.has("view-explore");
  const tab = document.getElementById("tab-explore");
  if (tab?.getAttribute("aria-selected") !== "true") tab?.click(); // loads the view with wantedHead the first time
  if (wasLoaded) void openHeadRef(ref);
});
