/**
 * @module forward/attention
 * Causal multi-head attention of a batch of prompts stacked without padding: prompt b owns rows
 * offsets[b] … offsets[b+1] − 1 of the fused qkv buffer [N, (n_heads + 2·n_kv)·d_head] laid out
 * [Q heads | K heads | V heads], and its positions count from 0. A prompt's tokens only ever meet its
 * own tokens, so prompts of different lengths need no padding and nothing leaks between them.
 * Query head h reads key/value head h ÷ (n_heads / n_kv) (grouped-query attention). Scores
 * scale·q·k accumulate in float64, softmax and the weighted sum of values too; the result z
 * [N, n_heads·d_head] is f32. `window` > 0 restricts query d to keys s with d − s < window (GPT-Neo's
 * local layers); 0 is global.
 *
 * Rotary embeddings (`rotaryF32`, GPT-NeoX and Llama convention "rotate_half"): within the first
 * `rot` dimensions of every Q and K head, dimension i < rot/2 pairs with i + rot/2 and is rotated by
 * the angle (p / posScale)·base^(−2i/rot) at position p: x ← x·cos + rotate_half(x)·sin.
 */

/** f64 workspace attentionF32 needs for prompts of at most tMax tokens: one head's K and V in f64, q, p, acc. */
export function attentionWorkspace(tMax: i32, dh: i32): i32 {
  const d = (dh + 3) & ~3;
  return 2 * tMax * d + tMax + 2 * d;
}

/**
 * q·k over d (a multiple of 4) in f64, as four partial sums over c ≡ 0, 1, 2, 3 (mod 4) added as
 * (s0 + s2) + (s1 + s3): two f64x2 accumulators with SIMD, four scalars without, the same bits.
 */
// @ts-ignore: decorator
@inline
function dot4(q: usize, k: usize, d: i32): f64 {
  if (ASC_FEATURE_SIMD) {
    let a = f64x2.splat(0), b = f64x2.splat(0);
    for (let c = 0; c < d; c += 4) {
      const o = <usize>c << 3;
      a = f64x2.add(a, f64x2.mul(v128.load(q + o), v128.load(k + o)));
      b = f64x2.add(b, f64x2.mul(v128.load(q + o, 16), v128.load(k + o, 16)));
    }
    const s = f64x2.add(a, b);
    return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  }
  let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
  for (let c = 0; c < d; c += 4) {
    const o = <usize>c << 3;
    s0 += load<f64>(q + o) * load<f64>(k + o);
    s1 += load<f64>(q + o, 8) * load<f64>(k + o, 8);
    s2 += load<f64>(q + o, 16) * load<f64>(k + o, 16);
    s3 += load<f64>(q + o, 24) * load<f64>(k + o, 24);
  }
  return (s0 + s2) + (s1 + s3);
}

/** n f32 at src widened to f64 at dst. */
// @ts-ignore: decorator
@inline
function widen(src: usize, dst: usize, n: i32): void {
  for (let c = 0; c < n; c++) store<f64>(dst + (<usize>c << 3), <f64>load<f32>(src + (<usize>c << 2)));
}

export function attentionF32(
  nb: i32, offsets: usize, qkv: usize, ld: i32, nH: i32, nKv: i32, dh: i32, scale: f64, window: i32,
  z: usize, ldz: i32, work: usize,
): void {
  const group = nH / nKv;
  const row = <usize>ld << 2;
  const rowZ = <usize>ldz << 2;
  // d: dh rounded up to a multiple of 4, the f64 rows zero-padded, so dot4 needs no edge code
  const d = (dh + 3) & ~3;
  const rowD = <usize>d << 3;
  let tMax = 0;
  for (let b = 0; b < nb; b++) tMax = max(tMax, load<i32>(offsets + (<usize>(b + 1) << 2)) - load<i32>(offsets + (<usize>b << 2)));
  const kf = work; // [T][d] f64: the head's keys
  const vf = kf + <usize>tMax * rowD; // [T][d] f64: its values
  const qf = vf + <usize>tMax * rowD; // [d] f64
  const acc = qf + rowD; // [d] f64
  const p = acc + rowD; // [T] f64
  memory.fill(kf, 0, <usize>tMax * rowD * 2 + rowD); // the padding of every f64 row stays zero
  for (let b = 0; b < nb; b++) {
    const t0 = load<i32>(offsets + (<usize>b << 2));
    const T = load<i32>(offsets + (<usize>(b + 1) << 2)) - t0;
    const base = qkv + <usize>t0 * row;
    for (let h = 0; h < nH; h++) {
      const kv = h / group;
      const qo = <usize>(h * dh) << 2;
      if (h % group == 0) {
        // this key/value head in f64, once for all the query heads that read it
        const ko = <usize>((nH + kv) * dh) << 2;
        const vo = <usize>((nH + nKv + kv) * dh) << 2;
        for (let j = 0; j < T; j++) {
          widen(base + <usize>j * row + ko, kf + <usize>j * rowD, dh);
          widen(base + <usize>j * row + vo, vf + <usize>j * rowD, dh);
        }
      }
      for (let i = 0; i < T; i++) {
        widen(base + <usize>i * row + qo, qf, dh);
        const lo = window > 0 ? max(0, i - window + 1) : 0;
        let mx: f64 = -Infinity;
        for (let j = lo; j <= i; j++) {
          const s = dot4(qf, kf + <usize>j * rowD, d) * scale;
          store<f64>(p + (<usize>j << 3), s);
          if (s > mx) mx = s;
        }
        let sum: f64 = 0;
        for (let j = lo; j <= i; j++) {
          const e = Math.exp(load<f64>(p + (<usize>j << 3)) - mx);
          store<f64>(p + (<usize>j << 3), e);
          sum += e;
        }
        memory.fill(acc, 0, rowD);
        for (let j = lo; j <= i; j++) {
          const w = load<f64>(p + (<usize>j << 3)) / sum;
          const vp = vf + <usize>j * rowD;
          if (ASC_FEATURE_SIMD) {
            const wv = f64x2.splat(w);
            for (let c = 0; c < d; c += 2) {
              const o = <usize>c << 3;
              v128.store(acc + o, f64x2.add(v128.load(acc + o), f64x2.mul(wv, v128.load(vp + o))));
            }
          } else {
            for (let c = 0; c < d; c++) {
              const o = <usize>c << 3;
              store<f64>(acc + o, load<f64>(acc + o) + w * load<f64>(vp + o));
            }
          }
        }
        const zr = z + <usize>(t0 + i) * rowZ + (<usize>(h * dh) << 2);
        for (let c = 0; c < dh; c++) store<f32>(zr + (<usize>c << 2), <f32>load<f64>(acc + (<usize>c << 3)));
      }
    }
  }
}

/** f64 workspace rotaryF32 needs. */
export function rotaryWorkspace(rot: i32): i32 {
  return rot;
}

export function rotaryF32(
  nb: i32, offsets: usize, qkv: usize, ld: i32, nH: i32, nKv: i32, dh: i32, rot: i32, base: f64, posScale: f64,
  work: usize,
): void {
  const half = rot >> 1;
  const row = <usize>ld << 2;
  const heads = nH + nKv; // the Q heads and then the K heads are contiguous
  for (let b = 0; b < nb; b++) {
    const t0 = load<i32>(offsets + (<usize>b << 2));
    const T = load<i32>(offsets + (<usize>(b + 1) << 2)) - t0;
    for (let pos = 0; pos < T; pos++) {
      for (let i = 0; i < half; i++) {
        const angle = (<f64>pos / posScale) * Math.pow(base, -<f64>(2 * i) / <f64>rot);
        store<f64>(work + (<usize>i << 3), Math.cos(angle));
        store<f64>(work + (<usize>(half + i) << 3), Math.sin(angle));
      }
      const r = qkv + <usize>(t0 + pos) * row;
      for (let h = 0; h < heads; h++) {
        const v = r + (<usize>(h * dh) << 2);
        for (let i = 0; i < half; i++) {
          const c = load<f64>(work + (<usize>i << 3));
          const s = load<f64>(work + (<usize>(half + i) << 3));
          const a = v + (<usize>i << 2);
          const bb = v + (<usize>(i + half) << 2);
          const x1 = <f64>load<f32>(a);
          const x2 = <f64>load<f32>(bb);
          store<f32>(a, <f32>(x1 * c - x2 * s));
          store<f32>(bb, <f32>(x2 * c + x1 * s));
        }
      }
    }
  }
}
