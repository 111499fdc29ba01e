/**
 * @module view/table
 * Makes a plain <table> sortable (click a header, again to reverse; aria-sort says which way),
 * filterable (a text box: every word must match; `column=value`, `column<x`, `column>x` test one
 * column, named by its header's data-key) and exportable (the visible rows as CSV). The rows stay in
 * the DOM, filtered ones hidden, so the table works without this script too.
 */
import { toCsv } from "./format";

export interface TableControls {
  /** the rows currently shown */
  visibleRows(): HTMLTableRowElement[];
  csv(): string;
  applyFilter(text: string): void;
}

const cellValue = (td: Element | undefined) => (td as HTMLElement | undefined)?.dataset.value ?? td?.textContent ?? "";

export function enhanceTable(table: HTMLTableElement, filter?: HTMLInputElement): TableControls {
  const headers = Array.from(table.tHead?.rows[0]?.cells ?? []);
  const keys = headers.map((h) => (h.dataset.key ?? h.textContent ?? "").trim().toLowerCase());
  const body = table.tBodies[0];
  const rows = () => Array.from(body.rows);
  let sortCol = -1;
  let asc = true;

  const sortBy = (col: number) => {
    asc = sortCol === col ? !asc : true;
    sortCol = col;
    const withKey = rows().map((r, i) => ({ r, i, v: cellValue(r.cells[col]) }));
    const numeric = withKey.every((x) => x.v === "" || x.v === "–" || !Number.isNaN(Number(x.v)));
    withKey.sort((a, b) => {
      let c: number;
      if (numeric) {
        const x = a.v === "" || a.v === "–" ? -Infinity : Number(a.v);
        const y = b.v === "" || b.v === "–" ? -Infinity : Number(b.v);
        c = x - y;
      } else c = a.v.localeCompare(b.v);
      return (asc ? c : -c) || a.i - b.i;
    });
    body.append(...withKey.map((x) => x.r));
    headers.forEach((h, i) => h.setAttribute("aria-sort", i === col ? (asc ? "ascending" : "descending") : "none"));
  };
  headers.forEach((h, i) => {
    h.tabIndex = 0;
    h.classList.add("sortable");
    h.title = "sort by this column (again: reverse)";
    h.addEventListener("click", () => sortBy(i));
    h.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        sortBy(i);
      }
    });
  });

  const applyFilter = (text: string) => {
    const terms = text.trim().toLowerCase().split(/\s+/).filter(Boolean).map((t) => {
      const m = /^([^=<>]+)(=|<|>)(.*)$/.exec(t);
      const col = m ? keys.indexOf(m[1]) : -1;
      return m && col >= 0 ? { col, op: m[2], value: m[3] } : { col: -1, op: "~", value: t };
    });
    for (const r of rows()) {
      const texts = Array.from(r.cells).map((c) => cellValue(c).toLowerCase());
      const all = texts.join(" ");
      const show = terms.every((t) => {
        if (t.col < 0) return all.includes(t.value);
        const v = texts[t.col] ?? "";
        if (t.op === "=") return v === t.value;
        const x = Number(v);
        const y = Number(t.value);
        return t.op === "<" ? x < y : x > y;
      });
      r.hidden = !show;
    }
  };
  filter?.addEventListener("input", () => applyFilter(filter.value));

  const visibleRows = () => rows().filter((r) => !r.hidden);
  const csv = () => toCsv([keys, ...visibleRows().map((r) => Array.from(r.cells).map((c) => cellValue(c)))]);
  return { visibleRows, csv, applyFilter };
}
