/**
 * @module analysis/hungarian
 * Optimal one-to-one assignment of the rows of a score matrix to its columns, maximising the total:
 * the Jonker–Volgenant shortest augmenting path algorithm for rectangular problems (Crouse 2016, "On
 * implementing 2D rectangular assignment algorithms"), ported from npm `linear-sum-assignment` 1.0.9
 * (MIT) step for step (same arithmetic, same order, so the same assignment, ties included) onto a
 * row-major Float64Array. The package pulled ml-matrix (≈ 75 kB minified) into the worker and the
 * toy's Web Worker for this one function.
 */

/** rowAssignments[r] = the column matched to row r, or −1 (when there are more rows than columns). */
export function linearSumAssignmentMax(score: Float64Array, nRows: number, nCols: number): Int32Array {
  // the package transposes so that there are at least as many rows as columns
  const flip = nCols > nRows;
  const rows = flip ? nCols : nRows;
  const cols = flip ? nRows : nCols;
  let max = -Infinity;
  for (let i = 0; i < score.length; i++) if (score[i] > max) max = score[i];
  // cost = −(score − max): minimising it maximises the score
  const cost = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) cost[r * cols + c] = -((flip ? score[c * nCols + r] : score[r * nCols + c]) - max);
  }
  const rowAssign = new Float64Array(rows).fill(-1);
  const colAssign = new Float64Array(cols).fill(-1);
  const dualCol = new Float64Array(cols);
  const dualRow = new Float64Array(rows);
  for (let start = 0; start < cols; start++) {
    const { sink, pred } = shortestPath(cost, rows, cols, start, dualCol, dualRow, rowAssign, colAssign);
    if (sink === -1) break; // infeasible (cannot happen with finite scores)
    let j = sink;
    for (let i = pred[j]; ; i = pred[j]) {
      rowAssign[j] = i;
      const h = colAssign[i];
      colAssign[i] = j;
      j = h;
      if (i === start) break;
    }
  }
  const out = new Int32Array(nRows).fill(-1);
  if (flip) for (let c = 0; c < cols; c++) out[c] = colAssign[c];
  else for (let r = 0; r < rows; r++) out[r] = rowAssign[r];
  return out;
}

function shortestPath(
  cost: Float64Array, nRows: number, nCols: number, start: number,
  dualCol: Float64Array, dualRow: Float64Array, rowAssign: Float64Array, colAssign: Float64Array,
) {
  const pred = new Float64Array(nRows);
  const scannedCols = new Uint8Array(nCols);
  const scannedRows = new Uint8Array(nRows);
  const toScan = Array.from({ length: nRows }, (_, i) => i);
  const spc = new Array<number>(nRows).fill(Infinity);
  let sink = -1;
  let delta = 0;
  let col = start;
  while (sink === -1) {
    scannedCols[col] = 1;
    let minVal = Infinity;
    let closest = -1;
    for (let s = 0; s < toScan.length; s++) {
      const r = toScan[s];
      const reduced = delta + cost[r * nCols + col] - dualCol[col] - dualRow[r];
      if (reduced < spc[r]) {
        pred[r] = col;
        spc[r] = reduced;
      }
      if (spc[r] < minVal) {
        minVal = spc[r];
        closest = s;
      }
    }
    if (!Number.isFinite(minVal)) return { sink, pred };
    const row = toScan[closest];
    scannedRows[row] = 1;
    toScan.splice(closest, 1);
    delta = spc[row];
    if (rowAssign[row] === -1) sink = row;
    else col = rowAssign[row];
  }
  dualCol[start] += delta;
  for (let c = 0; c < nCols; c++) if (scannedCols[c] && c !== start) dualCol[c] += delta - spc[colAssign[c]];
  for (let r = 0; r < nRows; r++) if (scannedRows[r]) dualRow[r] -= delta - spc[r];
  return { sink, pred };
}
