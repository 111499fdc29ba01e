/** @module view/format Numbers and tokens as the pages print them. */

/** 4 significant digits; scientific outside [1e-3, 1e4). */
export const fmt = (x: number) =>
  x === 0 ? "0" : !Number.isFinite(x) ? String(x) : Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3 ? x.toExponential(3) : x.toPrecision(4);

const SUP: Record<string, string> = { "-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹" };

/** Tick labels of log axes in scientific notation: 10⁻³, 2×10⁴ (1 to 999 and 0.01 to 0.1 stay plain). */
export function sci(v: number): string {
  if (!(v > 0)) return String(v);
  const e = Math.floor(Math.log10(v) + 1e-9);
  const m = v / 10 ** e;
  if (e >= -1 && e <= 2) return String(+v.toPrecision(3));
  const p = "10" + String(e).split("").map((c) => SUP[c]).join("");
  return Math.abs(m - 1) < 1e-6 ? p : `${+m.toPrecision(2)}×${p}`;
}

/**
 * A token as text with its whitespace visible: spaces as ␣, newlines ⏎, tabs ⇥, other control
 * characters as \xNN; a token without text (no tokenizer) as #id.
 */
export function visibleToken(token: string | null, id: number): string {
  if (token === null) return `#${id}`;
  if (token === "") return "∅";
  return token.replace(/ /g, "␣").replace(/\n/g, "⏎").replace(/\r/g, "␍").replace(/\t/g, "⇥")
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** CSV of rows (RFC 4180 quoting). */
export function toCsv(rows: Array<Array<string | number | boolean | null | undefined>>): string {
  const cell = (v: string | number | boolean | null | undefined) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}
