/**
 * @module demo/page
 * The demo page's HTML (hono/html): structure and text only. Styles are in styles.ts (served at
 * /assets/demo.css) and behaviour in the bundled client (src/demo/client/, served at /assets/demo.js),
 * so the page needs no inline style or script under its Content-Security-Policy. No CDN: everything
 * comes from this worker.
 */
import { html, raw } from "hono/html";
import { metricsHtml } from "../view/metrics";
import { DEMO_LIMITS } from "../wire/demo";

export function renderDemoPage() {
  const maxKb = Math.round(DEMO_LIMITS.maxBodyBytes / 1024);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>headscope — singular vectors of attention heads</title>
<link rel="icon" href="data:,">
<meta name="description" content="See how attention heads' singular vectors align with features and make attention scores sparse.">
<link rel="stylesheet" href="/assets/demo.css">
</head>
<body>
<header>
  <h1>headscope</h1>
  <p>The singular vectors of an attention head's QK matrix Ω = W<sub>Q</sub>W<sub>K</sub><sup>T</sup> align with the features a model uses; an attention score then needs only a few singular terms.</p>
</header>
<main>
  <div role="tablist" aria-label="Views">
    <button role="tab" id="tab-explore" aria-controls="view-explore" aria-selected="true">Explore a head</button>
    <button role="tab" id="tab-prediction" aria-controls="view-prediction" aria-selected="false" tabindex="-1">The prediction</button>
    <button role="tab" id="tab-toy" aria-controls="view-toy" aria-selected="false" tabindex="-1">The toy model</button>
    <button role="tab" id="tab-upload" aria-controls="view-upload" aria-selected="false" tabindex="-1">Analyze your head</button>
  </div>

  <section role="tabpanel" id="view-explore" aria-labelledby="tab-explore">
    <details class="explain" open><summary>What am I looking at?</summary>
      <p>Each cell of the heatmap is one head of a model scanned into this server: its largest singular value σ₁ (or effective rank) of the QK circuit. Click a cell (or a table row) to open that head: the full spectra of its QK circuit (which token pairs it attends between) and OV circuit (what it writes) against a Gaussian null band, its checks, its singular vectors read as tokens, SAD when stored, and downloads. The address (#model/layer/head) links to the open head. Effective rank is exp of the entropy of σ/Σσ: low means a few directions dominate. Definitions: <a href="/v1">API</a>, method §1–3.</p>
    </details>
    <div class="controls">
      <label>Model <select id="explore-model"></select></label>
      <label>Colour by <select id="explore-metric"><option value="sigma1">σ₁ (QK)</option><option value="effective_rank">effective rank (QK)</option></select></label>
      <label>Colour scale <select id="explore-scale"><option value="auto">auto</option><option value="linear">linear</option><option value="log">log</option><option value="quantile">quantile (rank)</option></select></label>
      <label>Layer <input id="explore-layer" type="number" min="0" value="0" inputmode="numeric"></label>
      <label>Head <input id="explore-head" type="number" min="0" value="0" inputmode="numeric"></label>
    </div>
    <p class="status" id="explore-status" role="status"></p>
    <div id="explore-heatmap" class="chart" role="img" aria-label="Layer by head heatmap: click a cell to open that head"></div>
    <table class="facts" id="explore-facts" aria-label="Selected head"></table>
    <section id="explore-head-page" class="head-page" aria-live="polite" aria-label="The selected head"></section>
    <details class="explain"><summary>What the numbers mean</summary>${raw(metricsHtml())}</details>
    <h2>Every head</h2>
    <div class="controls">
      <label>Filter <input id="explore-filter" type="search" placeholder="e.g. qk layer=5 checks=failed"></label>
      <a id="explore-csv" href="#" download="heads.csv">CSV of the rows shown</a>
    </div>
    <div class="table-scroll"><table class="facts sortable-table" id="explore-table" aria-label="Every head of the model"><thead><tr><th data-key="layer">layer</th><th data-key="head">head</th><th data-key="circuit">circuit</th><th data-key="variant">variant</th><th data-key="σ₁">σ₁</th><th data-key="σ₂">σ₂</th><th data-key="eff_rank">eff. rank</th><th data-key="top_energy">σ₁²/Σσ²</th><th data-key="σ₂/σ₁">σ₂/σ₁</th><th data-key="checks">checks</th></tr></thead><tbody></tbody></table></div>
  </section>

  <section role="tabpanel" id="view-prediction" aria-labelledby="tab-prediction" hidden>
    <details class="explain" open><summary>What am I looking at?</summary>
      <p>Sparse attention decomposition: the score of a query token on a key token is a sum of one term per singular vector. N<sub>recon</sub> is how many of the largest terms it takes to reach the score. If the singular vectors are the model's features, few terms suffice; in a randomly rotated basis many are needed. Shown for every head with stored SAD results (the model's own activations from <code>scan --prompts</code>, or GPT-2 small layer 0 with position-only inputs from <code>npm run demo:seed</code>): per head the histogram of N<sub>recon</sub> in the singular basis against the rotation null, a verdict, and which singular indices each prompt selects; across heads the per-head median against the null's (the paper's Fig. 9a). Rotary models decompose each pair in the SVD of its own Ω<sub>Δ</sub>. Definitions: method §4.</p>
      <p class="note" id="prediction-rule"></p>
    </details>
    <div class="controls"><label>Layer <select id="prediction-layer"></select></label> <label>Head <select id="prediction-head"></select></label></div>
    <p class="status" id="prediction-status" role="status"></p>
    <div class="grid2">
      <div id="prediction-chart" class="chart small" role="img" aria-label="N_recon histogram against the rotation null"></div>
      <div id="prediction-medians" class="chart small" role="img" aria-label="Per-head median N_recon against the rotation null (Fig. 9a)"></div>
      <div id="prediction-usage" class="chart small" role="img" aria-label="Singular index × prompt selection counts"></div>
      <div id="prediction-usage-focus" class="chart small" role="img" aria-label="Singular index × prompt selection counts on END→IO and END→S2 pairs" hidden></div>
    </div>
    <table class="facts" id="prediction-facts" aria-label="SAD summary"></table>
  </section>

  <section role="tabpanel" id="view-toy" aria-labelledby="tab-toy" hidden>
    <details class="explain" open><summary>What am I looking at?</summary>
      <p>A toy model whose features are known: an autoencoder with 20 sparse features in 10 dimensions (feature i is the column w<sub>i</sub>) and one attention head trained to attend from feature 0 in the query to feature 1 in a key. The head never sees the features, yet the top singular vectors u₁, v₁ of its Ω turn to them: |cos(w₀, u₁)| and |cos(w₁, v₁)| rise to 1 within the first couple of hundred steps, and only later do w₀ and w₁ become orthogonal to the other features (the dashed curve falls). The heatmaps show |cos| of every feature with every singular vector at the end: column k = 1 is bright only for feature 0 on the query side (u₁) and feature 1 on the key side (v₁); the other singular vectors have σ near 0 and mix the remaining features. Definitions: method §5–6.</p>
    </details>
    <h2>Published run</h2>
    <p class="status" id="toy-status" role="status"></p>
    <div class="grid2">
      <div id="toy-curves" class="chart small" role="img" aria-label="Alignment and orthogonality over training, published run"></div>
      <div id="toy-heatmap" class="chart small" role="img" aria-label="Feature by left singular vector cosine, query side"></div>
      <div id="toy-heatmap-v" class="chart small" role="img" aria-label="Feature by right singular vector cosine, key side"></div>
      <table class="facts" id="toy-facts" aria-label="Published toy run"></table>
    </div>
    <h2>Train one in your browser</h2>
    <p>The same WebAssembly kernels and trainer run in a Web Worker on your machine; nothing is sent to the server. It takes a few seconds.</p>
    <form id="toy-form" class="controls">
      <label>Seed <output id="toy-seed-value" for="toy-seed">0</output> <input id="toy-seed" type="range" min="0" max="99" step="1" value="0"></label>
      <label>Anisotropy c <output id="toy-c-value" for="toy-c">0</output> <input id="toy-c" type="range" min="0" max="1" step="0.05" value="0"></label>
      <label>Steps <input id="toy-steps" type="number" min="200" max="3000" step="100" value="2000" inputmode="numeric"></label>
      <button class="primary" id="toy-start" type="submit">Start</button>
      <button id="toy-stop" type="button" disabled>Stop</button>
    </form>
    <p class="note" id="toy-live-config"></p>
    <p class="status" id="toy-live-status" role="status" aria-live="polite"></p>
    <div class="grid2">
      <div id="toy-live-curves" class="chart small" role="img" aria-label="Alignment over training, live run"></div>
      <div id="toy-live-heatmap" class="chart small" role="img" aria-label="Feature by left singular vector cosine, live run"></div>
    </div>
    <table class="facts" id="toy-live-facts" aria-label="Live toy run"></table>
  </section>

  <section role="tabpanel" id="view-upload" aria-labelledby="tab-upload" hidden>
    <details class="explain" open><summary>What am I looking at?</summary>
      <p>Upload one head as a safetensors file (W_Q and W_K [d_model, d_head] for QK; W_V [d_model, d_head] and W_O [d_head, d_model] for OV; optionally b_Q, b_K, ln_w, ln_b). The server computes the exact SVD of the circuit from its factors and shows the spectrum. Nothing is stored. At most ${maxKb} KiB and a few requests a minute.</p>
    </details>
    <form id="upload-form" class="controls" data-max-bytes="${DEMO_LIMITS.maxBodyBytes}">
      <label>Head file (.safetensors) <input id="upload-file" type="file" accept=".safetensors,application/octet-stream" required></label>
      <label>Fold LayerNorm <select id="upload-fold"><option value="">auto</option><option value="true">yes</option><option value="false">no</option></select></label>
      <button class="primary" id="upload-submit" type="submit">Analyze</button>
    </form>
    <p class="status" id="upload-status" role="status" aria-live="polite"></p>
    <div id="upload-chart" class="chart small" role="img" aria-label="Uploaded head spectrum"></div>
    <table class="facts" id="upload-facts" aria-label="Uploaded head"></table>
  </section>
</main>
<footer>headscope · exact factored SVD in WebAssembly on Cloudflare Workers · <a href="/v1">API</a></footer>
<script type="module" src="/assets/demo.js"></script>
</body>
</html>`;
}
