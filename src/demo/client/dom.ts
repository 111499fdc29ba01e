/** @module demo/client/dom Small DOM helpers shared by the views. */

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no element #${id}`);
  return el as T;
};

export function setStatus(id: string, text: string, error = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", error);
}

/** Fills a two-column facts table. */
export function setFacts(id: string, rows: Array<[string, string | number]>) {
  const table = $(id);
  table.replaceChildren(
    ...rows.map(([k, v]) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.textContent = k;
      const td = document.createElement("td");
      td.textContent = typeof v === "number" ? fmt(v) : v;
      tr.append(th, td);
      return tr;
    }),
  );
}

export const fmt = (v: number) => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5 ? v.toFixed(4) : v.toExponential(3));

/** Fetches JSON; problem+json errors become Error(detail). */
export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error((body as { detail?: string }).detail ?? `${res.status} ${res.statusText}`), { status: res.status });
  return body as T;
}
