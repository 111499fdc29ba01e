/**
 * @module analysis/symmetric-eigen
 * Eigendecomposition of a real symmetric matrix: Householder tridiagonalisation and the implicit QL
 * algorithm (tred2 and tql2 of EISPACK, by way of JAMA), ported from ml-matrix 6.15's
 * EigenvalueDecomposition (MIT) with the same arithmetic in the same order, onto a Float64Array that
 * holds the eigenvector matrix transposed as ml-matrix does. ml-matrix (≈ 75 kB minified) was in the
 * worker and the toy's Web Worker for this one function.
 */

export interface SymmetricEigen {
  /** ascending */
  values: Float64Array;
  /** [n, n] row-major, row e = the unit eigenvector of values[e] */
  vectors: Float64Array;
}

/** `a` is [n, n] row-major and symmetric (only a itself is read, as given). */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  if (n === 0) return { values: new Float64Array(0), vectors: new Float64Array(0) };
  // t[r * n + c] is ml-matrix's transposed V storage: t(j, i) = V(i, j)
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tred2(n, e, d, t);
  tql2(n, e, d, t);
  // logical V(i, e) = t[e * n + i]: row e of t is eigenvector e
  return { values: d, vectors: t };
}

function hypotenuse(a: number, b: number) {
  let r = 0;
  if (Math.abs(a) > Math.abs(b)) {
    r = b / a;
    return Math.abs(a) * Math.sqrt(1 + r * r);
  }
  if (b !== 0) {
    r = a / b;
    return Math.abs(b) * Math.sqrt(1 + r * r);
  }
  return 0;
}

function tred2(n: number, e: Float64Array, d: Float64Array, V: Float64Array) {
  let f: number, g: number, h: number, i: number, j: number, k: number, hh: number, scale: number;
  const get = (r: number, c: number) => V[r * n + c];
  const set = (r: number, c: number, v: number) => { V[r * n + c] = v; };
  for (j = 0; j < n; j++) d[j] = get(j, n - 1);
  for (i = n - 1; i > 0; i--) {
    scale = 0;
    h = 0;
    for (k = 0; k < i; k++) scale = scale + Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (j = 0; j < i; j++) {
        d[j] = get(j, i - 1);
        set(j, i, 0);
        set(i, j, 0);
      }
    } else {
      for (k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      f = d[i - 1];
      g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h = h - f * g;
      d[i - 1] = f - g;
      for (j = 0; j < i; j++) e[j] = 0;
      for (j = 0; j < i; j++) {
        f = d[j];
        set(i, j, f);
        g = e[j] + get(j, j) * f;
        for (k = j + 1; k <= i - 1; k++) {
          g += get(j, k) * d[k];
          e[k] += get(j, k) * f;
        }
        e[j] = g;
      }
      f = 0;
      for (j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      hh = f / (h + h);
      for (j = 0; j < i; j++) e[j] -= hh * d[j];
      for (j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (k = j; k <= i - 1; k++) set(j, k, get(j, k) - (f * e[k] + g * d[k]));
        d[j] = get(j, i - 1);
        set(j, i, 0);
      }
    }
    d[i] = h;
  }
  for (i = 0; i < n - 1; i++) {
    set(i, n - 1, get(i, i));
    set(i, i, 1);
    h = d[i + 1];
    if (h !== 0) {
      for (k = 0; k <= i; k++) d[k] = get(i + 1, k) / h;
      for (j = 0; j <= i; j++) {
        g = 0;
        for (k = 0; k <= i; k++) g += get(i + 1, k) * get(j, k);
        for (k = 0; k <= i; k++) set(j, k, get(j, k) - g * d[k]);
      }
    }
    for (k = 0; k <= i; k++) set(i + 1, k, 0);
  }
  for (j = 0; j < n; j++) {
    d[j] = get(j, n - 1);
    set(j, n - 1, 0);
  }
  set(n - 1, n - 1, 1);
  e[0] = 0;
}

function tql2(n: number, e: Float64Array, d: Float64Array, V: Float64Array) {
  let g: number, h: number, i: number, j: number, k: number, l: number, m: number, p: number, r: number;
  let dl1: number, c: number, c2: number, c3: number, el1: number, s: number, s2: number;
  for (i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = Number.EPSILON;
  for (l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      do {
        g = d[l];
        p = (d[l + 1] - g) / (2 * e[l]);
        r = hypotenuse(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        dl1 = d[l + 1];
        h = g - d[l];
        for (i = l + 2; i < n; i++) d[i] -= h;
        f = f + h;
        p = d[m];
        c = 1;
        c2 = c;
        c3 = c;
        el1 = e[l + 1];
        s = 0;
        s2 = 0;
        for (i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = hypotenuse(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const ri = i * n;
          const ri1 = (i + 1) * n;
          for (k = 0; k < n; k++) {
            h = V[ri1 + k];
            V[ri1 + k] = s * V[ri + k] + c * h;
            V[ri + k] = c * V[ri + k] - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] = d[l] + f;
    e[l] = 0;
  }
  for (i = 0; i < n - 1; i++) {
    k = i;
    p = d[i];
    for (j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      for (j = 0; j < n; j++) {
        p = V[i * n + j];
        V[i * n + j] = V[k * n + j];
        V[k * n + j] = p;
      }
    }
  }
}
