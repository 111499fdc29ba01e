/**
 * @module select
 * The smallest set of terms that reaches a threshold (method §4 N_recon): sort the terms in
 * descending order, and find the smallest n with Σ_{i ≤ n} t_(i) ≥ τ·total − 1e-12·|total|, the exact
 * rule of shared/reference/make_reference.py (`np.argmax(c >= tau*total - 1e-12*abs(total)) + 1`).
 *
 * Only the positive terms are sorted: the running sum rises through the positive terms and can only
 * fall after them (zeros leave it, negatives lower it, rounding is monotone), and for τ ≤ 1 the
 * threshold is at most the sum of the positives, so it is reached inside the positive prefix or not at
 * all. When it is not reached (rounding with no negative term to spare), every positive term was
 * needed and still fell short: this returns −m, m the number of positive terms, so the caller reports
 * N_recon = m (not numpy's argmax-of-all-false 1, which would bias the statistics towards sparsity)
 * and counts the case apart. The running sum is accumulated left to right, exactly as `np.cumsum`.
 */

/**
 * N_recon of one term vector.
 * @param t - r f64 terms
 * @param total - Σ t (numpy pairwise order; see pairwise.ts), > 0
 * @param tau - threshold fraction, 0 < τ ≤ 1
 * @param sv - r f64 scratch (sorted positive values)
 * @param si - r i32 scratch, written with the indices in descending order of value when `withIndex`
 * @returns n ≥ 1, or −m (m ≥ 1 positive terms, all selected) when the threshold is never reached
 */
export function nRecon(t: usize, r: i32, total: f64, tau: f64, sv: usize, si: usize, withIndex: bool): i32 {
  // insertion sort of the positive terms, descending; r is small (d_head) and about half are positive
  let m = 0;
  for (let k = 0; k < r; k++) {
    const x = load<f64>(t + (<usize>k << 3));
    if (!(x > 0)) continue;
    let j = m;
    while (j > 0) {
      const y = load<f64>(sv + (<usize>(j - 1) << 3));
      if (y >= x) break;
      store<f64>(sv + (<usize>j << 3), y);
      if (withIndex) store<i32>(si + (<usize>j << 2), load<i32>(si + (<usize>(j - 1) << 2)));
      j--;
    }
    store<f64>(sv + (<usize>j << 3), x);
    if (withIndex) store<i32>(si + (<usize>j << 2), k);
    m++;
  }
  const thr = tau * total - 1e-12 * Math.abs(total);
  let c: f64 = 0;
  for (let i = 0; i < m; i++) {
    c += load<f64>(sv + (<usize>i << 3));
    if (c >= thr) return i + 1;
  }
  return -m;
}

/**
 * nRecon for one term vector, exported for the tests: the SAD driver can only reach the unreached
 * branch through rounding, which real inputs almost never trigger.
 */
export function sadNRecon(t: usize, r: i32, total: f64, tau: f64, work: usize): i32 {
  return nRecon(t, r, total, tau, work, work + (<usize>r << 3), true);
}
