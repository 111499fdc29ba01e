/**
 * @module demo/styles
 * The demo page's stylesheet, served at /assets/demo.css (the page's Content-Security-Policy allows
 * no inline <style>).
 */
export const DEMO_CSS = `
:root { --fg:#1b1f24; --muted:#57606a; --line:#d0d7de; --accent:#0b5fff; --bg:#fff; --panel:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header, main, footer { max-width: 1100px; margin: 0 auto; padding: 0 16px; }
header h1 { font-size: 1.6rem; margin: 20px 0 4px; }
header p { margin: 0 0 12px; color: var(--muted); }
[role=tablist] { display:flex; flex-wrap:wrap; gap:4px; border-bottom:1px solid var(--line); margin-bottom:16px; }
[role=tab] { font:inherit; padding:8px 14px; border:1px solid transparent; border-bottom:none; background:none; cursor:pointer; border-radius:6px 6px 0 0; color:var(--muted); }
[role=tab][aria-selected=true] { border-color:var(--line); background:var(--bg); color:var(--fg); font-weight:600; margin-bottom:-1px; }
[role=tab]:focus-visible, button:focus-visible, select:focus-visible, input:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
.explain { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:10px 14px; margin:0 0 14px; }
.explain summary { cursor:pointer; font-weight:600; }
.controls { display:flex; flex-wrap:wrap; gap:12px; align-items:end; margin-bottom:12px; }
.controls label { display:flex; flex-direction:column; font-size:.9rem; color:var(--muted); }
select, input, button { font:inherit; }
button.primary { background:var(--accent); color:#fff; border:none; border-radius:6px; padding:8px 14px; cursor:pointer; }
button.primary[disabled] { opacity:.5; cursor:default; }
.chart { width:100%; height:360px; }
.chart.small { height:280px; }
.grid2 { display:grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap:12px; }
@media (max-width: 760px) { .grid2 { grid-template-columns: minmax(0, 1fr); } .chart { height:300px; } }
.status { color:var(--muted); min-height:1.5em; }
.status.error { color:#b42318; }
table.facts { border-collapse:collapse; margin:8px 0; }
table.facts td, table.facts th { border:1px solid var(--line); padding:4px 8px; text-align:right; font-variant-numeric: tabular-nums; }
table.facts th { background:var(--panel); text-align:left; }
h2 { font-size:1.15rem; margin:18px 0 6px; }
.note { color:var(--muted); font-size:.9rem; }
button:not(.primary) { border:1px solid var(--line); background:var(--bg); border-radius:6px; padding:8px 14px; cursor:pointer; }
button[disabled] { opacity:.5; cursor:default; }
table.facts { max-width:100%; overflow-wrap:anywhere; }
.head-page { border:1px solid var(--line); border-radius:6px; padding:4px 12px; margin:12px 0; }
.head-page:empty { display:none; }
.head-grid { display:grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap:12px; }
@media (max-width: 760px) { .head-grid { grid-template-columns: minmax(0, 1fr); } }
.head-spectrum { height:300px; }
h3 { font-size:1.05rem; margin:10px 0 4px; } h4 { font-size:.95rem; margin:10px 0 4px; }
.ok { color:#1a7f37; } .fail { color:#b42318; font-weight:600; }
table.tokens caption { text-align:left; font-weight:600; padding-top:6px; } table.facts td.toks { text-align:left; }
.tok { display:inline-block; font:12px ui-monospace, monospace; background:var(--panel); border:1px solid var(--line); border-radius:3px; padding:0 3px; margin:1px; }
.downloads a { margin:0 4px; }
.metrics { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; font-size:.9rem; } .metrics dt { font-weight:600; } .metrics dd { margin:0; }
.table-scroll { max-height:480px; overflow:auto; }
th.sortable { cursor:pointer; user-select:none; } th[aria-sort=ascending]::after { content:" ▲"; } th[aria-sort=descending]::after { content:" ▼"; }
#explore-table tbody tr { cursor:pointer; }
footer { color:var(--muted); font-size:.85rem; margin:24px auto; }
`;
