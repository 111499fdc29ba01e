/**
 * @module toy/acceptance-html
 * toy.html's acceptance table as a real HTML table (one row per run: seed, c, each check's value
 * against its threshold, the reported figures, pass), the same cells formatAcceptance prints for the
 * terminal. Rendering only.
 */
import type { ToyReport } from "./report";

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);
const num = (x: number | null, digits = 3) => (x === null ? "—" : Number.isFinite(x) ? (Number.isInteger(x) ? String(x) : x.toFixed(digits)) : String(x));

export function acceptanceTableHtml(report: ToyReport): string {
  const checks = report.summary.checks;
  if (!checks.length) return "";
  const figureNames = report.runs[0]?.acceptance.figures?.map((f) => f.name) ?? [];
  const head = ["seed", "c", ...checks.map((c) => `${c.name} <span class="th">${esc(c.threshold)}</span>`), ...figureNames.map(esc), "pass"];
  const rows = report.runs.map((r) => {
    const cells = [
      `<td>${r.seed}</td>`, `<td>${num(r.config.anisotropy, 2)}</td>`,
      ...r.acceptance.checks.map((c) => `<td class="${c.pass ? "ok" : "fail"}" title="${esc(c.threshold)}">${num(c.value)}${c.pass ? "" : " ✗"}</td>`),
      ...(r.acceptance.figures ?? []).map((f) => `<td>${num(f.value)}</td>`),
      `<td class="${r.acceptance.pass ? "ok" : "fail"}">${r.acceptance.pass ? "yes" : "NO"}</td>`,
    ];
    return `<tr data-seed="${r.seed}">${cells.join("")}</tr>`;
  });
  const passes = checks.map((c) => `<td>${c.passes}/${report.runs.length}</td>`).join("");
  return `<table id="acceptance"><thead><tr>${head.map((h) => `<th scope="col">${h}</th>`).join("")}</tr></thead>
<tbody>${rows.join("\n")}</tbody>
<tfoot><tr><th scope="row" colspan="2">runs passing</th>${passes}${figureNames.map(() => "<td></td>").join("")}<td>${report.summary.passed}/${report.runs.length}</td></tr></tfoot></table>`;
}
